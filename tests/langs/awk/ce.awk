BEGIN { print "unbalanced"
