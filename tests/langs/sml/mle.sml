(* 1 GiB in 1 MiB blocks, each written so that it is really used. *)
val blocks = List.tabulate (1024, fn i => Word8Array.array (1048576, Word8.fromInt (i mod 256)));
val () = print (Int.toString (length blocks) ^ "\n");
