blocks = []
for i in range(1024):  # 1 GiB in 1 MiB blocks, each a fresh, written object
    blocks.append(bytearray(b"x" * (1 << 20)))
print(len(blocks))
