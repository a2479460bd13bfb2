error("runtime error")
