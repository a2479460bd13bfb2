local ffi = require("ffi")
-- 1 GiB in 1 MiB blocks outside the GC heap, each written.
local blocks = {}
for i = 1, 1024 do
  blocks[i] = ffi.new("uint8_t[?]", 1048576)
  ffi.fill(blocks[i], 1048576, i % 256)
end
print(#blocks)
