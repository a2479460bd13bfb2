die "runtime error";
