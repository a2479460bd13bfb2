(* 1 GiB in 1 MiB blocks, each written so that it is really used. *)
let () =
  let blocks = ref [] in
  for i = 1 to 1024 do
    blocks := Bytes.make (1 lsl 20) (Char.chr (i mod 256)) :: !blocks
  done;
  Printf.printf "%d\n" (List.length !blocks)
