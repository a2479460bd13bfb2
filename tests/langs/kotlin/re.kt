fun main() {
    val a = IntArray(1)
    println(a[2]) // ArrayIndexOutOfBoundsException
}
