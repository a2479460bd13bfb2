: fail  1 0 / ;
fail
