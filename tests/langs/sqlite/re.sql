SELECT abs(-9223372036854775807 - 1); -- integer overflow: an error, and -bail stops
