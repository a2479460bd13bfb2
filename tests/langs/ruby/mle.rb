blocks = []
1024.times { |i| blocks << ("x" * (1 << 20)) } # 1 GiB in 1 MiB strings
puts blocks.size
