error("runtime error");
