// 1 GiB in 1 MiB blocks, each filled so that it is really used.
const blocks = [];
for (let i = 0; i < 1024; i++) blocks.push(Buffer.alloc(1 << 20, i));
console.log(blocks.length);
