(error "runtime error")
