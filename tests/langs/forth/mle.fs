\ 1 GiB in 1 MiB blocks, each written so that it is really used.
: grow  1024 0 do 1048576 allocate throw 1048576 i fill loop ;
grow .( allocated) cr
