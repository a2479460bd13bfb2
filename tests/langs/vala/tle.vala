void main () {
    uint64 n = 0;
    while (true) {
        n++;
        if (n == 0) print ("wrap\n");
    }
}
