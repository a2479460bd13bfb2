void main () {
    int x = "not an int";
    print ("%d\n", x);
}
