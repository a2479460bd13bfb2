/*
 * 07-diskfill: attack class "disk fill / inode exhaustion" (row 6) and the
 * file-size half of row 5.
 *
 * "box" / "tmp" / "shm": writes a file in /box, /tmp or /dev/shm in 1 MiB
 * steps until a write fails; prints the size and errno and exits 0 when it
 * was ENOSPC (the tmpfs size cap), 2 when 8 GiB went through.
 * "inodes": creates empty files in /box/i until one fails; exits 0 on
 * ENOSPC (the tmpfs nr_inodes cap), 2 after a million.
 * "fsize": writes 1 MiB to /box/big; with --fsize 100 SIGXFSZ must end it
 * (OLE).
 */
#include "common.h"

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "box";
    static char chunk[1 << 20];
    memset(chunk, 'd', sizeof chunk);

    if (strcmp(mode, "inodes") == 0) {
        char p[64];
        mkdir("/box/i", 0755);
        for (long i = 0; i < 1000000; i++) {
            snprintf(p, sizeof p, "/box/i/%ld", i);
            int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
            if (fd < 0) {
                printf("created %ld files, then %s\n", i, strerrorname_np(errno));
                return errno == ENOSPC ? 0 : 1;
            }
            close(fd);
        }
        printf("NO-LIMIT created a million files\n");
        return 2;
    }
    if (strcmp(mode, "fsize") == 0) {
        int fd = open("/box/big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0)
            return 3;
        for (int i = 0; i < 256; i++)
            if (write(fd, chunk, 4096) < 0) {
                printf("write failed: %s\n", strerrorname_np(errno));
                return 1;
            }
        printf("NO-LIMIT wrote 1 MiB\n");
        return 0;
    }
    /* Names run.sh looks for on the host afterwards. */
    const char *path = strcmp(mode, "tmp") == 0   ? "/tmp/verdict-escape-fill"
                       : strcmp(mode, "shm") == 0 ? "/dev/shm/verdict-fill"
                                                  : "/box/verdict-fill";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("open %s: %s\n", path, strerrorname_np(errno));
        return 3;
    }
    long kib = 0;
    for (long i = 0; i < 8192; i++) {
        ssize_t n = write(fd, chunk, sizeof chunk);
        if (n > 0)
            kib += n / 1024;
        if (n != (ssize_t)sizeof chunk) {
            int e = n < 0 ? errno : 0;
            if (n >= 0) { /* short write: the next one says why */
                n = write(fd, chunk, sizeof chunk);
                e = n < 0 ? errno : 0;
            }
            printf("%s full after %ld KiB: %s\n", path, kib, e ? strerrorname_np(e) : "short");
            return e == ENOSPC ? 0 : 1;
        }
    }
    printf("NO-LIMIT wrote %ld KiB to %s\n", kib, path);
    return 2;
}
