using System;
using System.Collections.Generic;

class Program
{
    static void Main()
    {
        // 1 GiB in 1 MiB blocks, each written so that it is really used.
        var blocks = new List<byte[]>();
        for (int i = 0; i < 1024; i++) {
            var b = new byte[1 << 20];
            for (int j = 0; j < b.Length; j += 4096)
                b[j] = (byte)i;
            blocks.Add(b);
        }
        Console.WriteLine(blocks.Count);
    }
}
