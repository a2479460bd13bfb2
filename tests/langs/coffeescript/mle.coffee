blocks = []
blocks.push Buffer.alloc(1 << 20, i) for i in [0...1024] # 1 GiB
console.log blocks.length
