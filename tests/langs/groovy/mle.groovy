// 1 GiB in 1 MiB blocks, each written so that it is really used.
def blocks = []
for (int i = 0; i < 1024; i++) {
    byte[] b = new byte[1 << 20]
    java.util.Arrays.fill(b, (byte) i)
    blocks << b
}
println blocks.size()
