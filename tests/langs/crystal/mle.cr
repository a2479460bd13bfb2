# 1 GiB in 1 MiB blocks, each written so that it is really used.
blocks = [] of Bytes
1024.times do |i|
  b = Bytes.new(1 << 20, (i % 256).to_u8)
  blocks << b
end
puts blocks.size
