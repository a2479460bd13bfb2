# 1 GiB in 1 MiB buffers, each written so that it is really used.
my @blocks;
for ^1024 -> $i {
    my $b = buf8.allocate(1024 * 1024);
    loop (my $j = 0; $j < 1024 * 1024; $j += 4096) { $b[$j] = $i % 256 }
    @blocks.push: $b;
}
say @blocks.elems;
