fun main() {
    // 1 GiB in 1 MiB blocks, each written so that it is really used.
    val blocks = ArrayList<ByteArray>()
    for (i in 0 until 1024) {
        val b = ByteArray(1 shl 20)
        b.fill(i.toByte())
        blocks.add(b)
    }
    println(blocks.size)
}
