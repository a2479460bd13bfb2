# 1 GiB in 1 MiB raw vectors, each written so that it is really used.
blocks <- list()
for (i in 1:1024) blocks[[i]] <- rep(as.raw(i %% 256), 1048576)
cat(length(blocks), "\n")
