sub main {
    print "unbalanced\n";
