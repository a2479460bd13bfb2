/*
 * 03-membomb: attack class "memory bomb" (row 2).
 *
 * "heap" (default): allocates and touches 512 MiB in 1 MiB steps. With
 * --mem 64 and a cgroup the kernel OOM-kills it (MLE); with RLIMIT_AS
 * (mode none) malloc fails and it exits 3 (MLE or RE).
 * "shm": writes a file in /dev/shm (tmpfs, charged to the box's memory)
 * until a write fails: MLE, or ENOSPC/ENOMEM seen and exit 0; never the
 * host's /dev/shm.
 * "exact MIB": touches exactly MIB MiB, holds it 300 ms, exits 0 (the
 * memory accounting accuracy test).
 */
#include "common.h"
#include <sys/mman.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "heap";
    if (strcmp(mode, "shm") == 0) {
        int fd = open("/dev/shm/verdict-shm-bomb", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            printf("open /dev/shm: %s\n", strerrorname_np(errno));
            return 3;
        }
        static char chunk[1 << 20];
        memset(chunk, 'm', sizeof chunk);
        long mib = 0;
        for (; mib < 4096; mib++) {
            if (write(fd, chunk, sizeof chunk) != (ssize_t)sizeof chunk) {
                printf("shm write stopped after %ld MiB: %s\n", mib, strerrorname_np(errno));
                return 0;
            }
        }
        printf("NO-LIMIT wrote %ld MiB to /dev/shm\n", mib);
        return 2;
    }
    if (strcmp(mode, "exact") == 0) {
        size_t n = (size_t)atol(argv[2]) << 20;
        char *p = malloc(n);
        if (!p) {
            printf("malloc failed\n");
            return 3;
        }
        memset(p, 1, n);
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
        printf("touched %zu bytes\n", n);
        return 0;
    }
    long mib = 0;
    for (; mib < 512; mib++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("malloc failed after %ld MiB\n", mib);
            return 3;
        }
        memset(p, 1, 1 << 20);
    }
    printf("NO-LIMIT touched %ld MiB\n", mib);
    return 0;
}
