val line = valOf (TextIO.inputLine TextIO.stdIn);
val [a, b] = map (valOf o LargeInt.fromString) (String.tokens Char.isSpace line);
val () = print (LargeInt.toString (a + b) ^ "\n");
