object Main {
  def main(args: Array[String]): Unit = {
    val a = new Array[Int](1)
    println(a(2))
  }
}
