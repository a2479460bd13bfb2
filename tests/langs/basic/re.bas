error "runtime error"
