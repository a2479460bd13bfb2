/*
 * 21-fdleak: attack class "fd leaks from the supervisor" (row 23).
 *
 * Lists /proc/self/fd: only 0, 1 and 2 may be open (plus the directory fd
 * of the listing itself). Prints where each points. fd 0 must not reopen
 * for writing through /proc/self/fd/0 (when --stdin is a host file, that
 * would write the host file). Exits 0 only if all hold.
 */
#include "common.h"

int main(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        printf("cannot list /proc/self/fd: %s\n", strerrorname_np(errno));
        return 3;
    }
    int self = dirfd(d), extra = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        int fd = atoi(de->d_name);
        if (fd == self)
            continue;
        char p[64], t[512] = "";
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(p, t, sizeof t - 1);
        if (n > 0)
            t[n] = 0;
        printf("fd %d -> %s\n", fd, t);
        if (fd > 2) {
            printf("LEAKED fd %d\n", fd);
            extra++;
        }
    }
    closedir(d);
    vd_failures += extra;

    int w = open("/proc/self/fd/0", O_WRONLY | O_APPEND);
    struct stat st;
    if (w >= 0 && fstat(w, &st) == 0 && S_ISCHR(st.st_mode)) {
        printf("stdin is a device (/dev/null): reopening it is harmless\n");
        close(w);
    } else {
        vd_expect_fail("reopen stdin for writing", w, errno);
        if (w >= 0) {
            if (write(w, "PWNED\n", 6) < 0)
                printf("write: %s\n", strerrorname_np(errno));
            close(w);
        }
    }
    /* Reading stdin is fine: it is the program's input. */
    char buf[256];
    ssize_t n = read(0, buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = 0;
        printf("stdin: %s", buf);
    }
    return vd_done();
}
