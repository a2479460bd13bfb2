# Doubles a string until it is 1 GiB.
BEGIN { s = "x"; for (i = 0; i < 30; i++) s = s s; print length(s) }
