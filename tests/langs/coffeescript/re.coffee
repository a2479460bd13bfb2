null.x = 1
