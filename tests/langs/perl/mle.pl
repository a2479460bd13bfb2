my @blocks;
push @blocks, "x" x (1 << 20) for 1 .. 1024; # 1 GiB in 1 MiB strings
print scalar(@blocks), "\n";
