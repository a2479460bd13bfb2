/*
 * 24-env: attack class "clean environment" (the supervisor's environment
 * is a secret too; see the fd and /proc rows).
 *
 * Prints its environment. Only PATH, HOME=/box, TMPDIR=/tmp, LANG=C.UTF-8
 * and the variables named as arguments (what run.sh passed with --env,
 * as K=V) may be there; /proc/self/environ must say the same. The
 * constructor in common.h already looks for VD_SECRET_CANARY. Exits 0 only
 * if all hold.
 */
#include "common.h"

int main(int argc, char **argv)
{
    int path = 0;
    for (char **e = environ; *e; e++) {
        printf("env %s\n", *e);
        if (strncmp(*e, "PATH=", 5) == 0) {
            path = 1;
            continue;
        }
        int ok = strcmp(*e, "HOME=/box") == 0 || strcmp(*e, "TMPDIR=/tmp") == 0 ||
                 strcmp(*e, "LANG=C.UTF-8") == 0;
        for (int i = 1; i < argc; i++)
            ok |= strcmp(*e, argv[i]) == 0;
        if (!ok) {
            printf("UNEXPECTED %s\n", *e);
            vd_failures++;
        }
    }
    const char *want[] = {"HOME=/box", "TMPDIR=/tmp", "LANG=C.UTF-8"};
    for (int i = 0; i < 3; i++) {
        int found = 0;
        for (char **e = environ; *e; e++)
            found |= strcmp(*e, want[i]) == 0;
        if (!found)
            vd_fail("missing %s", want[i]);
    }
    for (int i = 1; i < argc; i++) {
        int found = 0;
        for (char **e = environ; *e; e++)
            found |= strcmp(*e, argv[i]) == 0;
        if (!found)
            vd_fail("missing --env %s", argv[i]);
    }
    if (!path)
        vd_fail("%s", "missing PATH");
    /* The kernel's copy, in case libc's environ was edited. */
    char buf[8192];
    int fd = open("/proc/self/environ", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
    if (fd >= 0)
        close(fd);
    int count = 0;
    for (ssize_t i = 0; i < n; i++)
        count += buf[i] == 0;
    int envc = 0;
    for (char **e = environ; *e; e++)
        envc++;
    printf("environ=%d /proc/self/environ=%d\n", envc, count);
    if (count != envc)
        vd_failures++;
    return vd_done();
}
