object Main {
  def main(args: Array[String]): Unit = {
    // 1 GiB in 1 MiB blocks, each written so that it is really used.
    val blocks = new scala.collection.mutable.ArrayBuffer[Array[Byte]]
    for (i <- 0 until 1024) {
      val b = new Array[Byte](1 << 20)
      java.util.Arrays.fill(b, i.toByte)
      blocks += b
    }
    println(blocks.size)
  }
}
