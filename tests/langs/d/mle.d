import std.stdio;

// 1 GiB in 1 MiB blocks, each written so that it is really used.
void main()
{
    ubyte[][] blocks;
    foreach (i; 0 .. 1024)
    {
        auto b = new ubyte[1 << 20];
        b[] = cast(ubyte) i;
        blocks ~= b;
    }
    writeln(blocks.length);
}
