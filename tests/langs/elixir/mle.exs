# 1 GiB in 1 MiB binaries, each distinct and fully written.
blocks = for i <- 1..1024, do: :binary.copy(<<rem(i, 256)>>, 1_048_576)
IO.puts(length(blocks))
