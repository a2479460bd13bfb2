val () = raise Fail "runtime error";
