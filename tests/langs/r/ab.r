x <- scan(file("stdin"), what = numeric(), quiet = TRUE)
cat(x[1] + x[2], "\n", sep = "")
