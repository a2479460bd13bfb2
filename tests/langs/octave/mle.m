% 1 GiB in 1 MiB blocks, each written so that it is really used.
blocks = cell(1, 1024);
for i = 1:1024
  blocks{i} = repmat(uint8(mod(i, 256)), 1, 1048576);
end
printf("%d\n", numel(blocks));
