/*
 * 17-tiocsti: attack class "ioctl(TIOCSTI) / terminal injection" (row 17).
 *
 * TIOCSTI on fds 0, 1 and 2 must fail with EPERM (the filter), whatever
 * they are; none of them may be a terminal; /dev/tty, /dev/console and
 * /dev/ptmx must not open; the program must not have a controlling
 * terminal. Exits 0 only if all hold.
 */
#include "common.h"
#include <sys/ioctl.h>
#include <termios.h>

int main(void)
{
    char c = 'x';
    for (int fd = 0; fd <= 2; fd++) {
        char what[64];
        snprintf(what, sizeof what, "TIOCSTI fd %d", fd);
        long rc = ioctl(fd, TIOCSTI, &c);
        vd_expect_errno(what, rc, errno, EPERM);
        if (isatty(fd)) {
            printf("fd %d IS A TTY\n", fd);
            vd_failures++;
        }
    }
    const char *devs[] = {"/dev/tty",  "/dev/console", "/dev/ptmx", "/dev/pts/0",
                          "/dev/tty0", "/dev/ttyS0",   "/dev/vcs"};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
        int fd = open(devs[i], O_RDWR | O_NOCTTY);
        int e = errno;
        char what[64];
        snprintf(what, sizeof what, "open %s", devs[i]);
        if (fd >= 0) {
            long rc = ioctl(fd, TIOCSTI, &c);
            printf("TIOCSTI on %s rc=%ld\n", devs[i], rc);
            close(fd);
        }
        vd_expect_fail_e(what, fd, e);
    }
    pid_t sid = getsid(0), pgid = getpgid(0);
    printf("pid=%d sid=%d pgid=%d tcgetsid(0)=%d\n", (int)getpid(), (int)sid, (int)pgid,
           (int)tcgetsid(0));
    return vd_done();
}
