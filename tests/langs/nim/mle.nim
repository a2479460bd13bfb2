# 1 GiB in 1 MiB blocks, each written so that it is really used.
var blocks: seq[string]
for i in 0 ..< 1024:
  blocks.add(newString(1 shl 20))
  for j in countup(0, (1 shl 20) - 1, 4096):
    blocks[^1][j] = char(65 + i mod 26)
echo blocks.len
