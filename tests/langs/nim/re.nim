raise newException(ValueError, "runtime error")
