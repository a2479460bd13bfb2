fun loop (n : int) : int = loop (n + 1);
val _ = loop 0;
