local blocks = {}
for i = 1, 1024 do -- 1 GiB in 1 MiB strings, each different
  blocks[i] = string.rep(string.char(i % 256), (1 << 20) - 8) .. string.format("%08d", i)
end
print(#blocks)
