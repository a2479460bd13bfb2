void main () {
    var parts = stdin.read_line ().strip ().split_set (" \t");
    int64 a = int64.parse (parts[0]), b = int64.parse (parts[parts.length - 1]);
    print ("%lld\n", a + b);
}
