// 1 GiB in 1 MiB blocks, each written so that it is really used.
void main () {
    var blocks = new GenericArray<uint8[]> ();
    for (int i = 0; i < 1024; i++) {
        var b = new uint8[1 << 20];
        Memory.set (b, i & 255, b.length);
        blocks.add ((owned) b);
    }
    print ("%u\n", blocks.length);
}
