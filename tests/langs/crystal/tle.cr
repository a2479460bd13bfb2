n = 0_u64
loop do
  n &+= 1
  puts n if n == 0
end
