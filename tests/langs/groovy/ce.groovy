int x = 1
x.
