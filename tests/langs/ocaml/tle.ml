let rec loop n = loop (n + 1)
let () = print_int (loop 0)
