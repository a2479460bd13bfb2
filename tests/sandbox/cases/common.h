/*
 * common.h - shared by every hostile program of the sandbox suite.
 *
 * Each case is a small static program that run.sh copies into /box and runs
 * through `verdict box`. Before main() a constructor probes the host harm
 * that every case must be unable to do, so each case checks it for free:
 *   - the supervisor's environment is not visible: VD_SECRET_CANARY (which
 *     run.sh exports) is searched for in environ and in every readable
 *     /proc/PID/environ, and "CANARY-LEAK" is printed on stderr if found;
 *   - files the program creates stay in the box: verdict-escape-NAME is
 *     created in /tmp, /box, /dev/shm and / here (the first three must land
 *     in the box's tmpfs, the last must fail), and run.sh checks that none
 *     of them exists on the host.
 * The probe closes every fd it opens, so cases that list their fds see only
 * what the sandbox gave them.
 *
 * The helpers print one line per attempt; a case exits 0 only when every
 * attempt was blocked, so run.sh can assert status OK and read the lines.
 */
#ifndef VD_SANDBOX_CASE_COMMON_H
#define VD_SANDBOX_CASE_COMMON_H

#define VD_UNUSED __attribute__((unused))

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
extern char *program_invocation_short_name;

static int vd_failures; /* attempts that were not blocked */

/* An attempt that had to fail. rc < 0 means it failed (errno says how). */
VD_UNUSED static void vd_expect_fail_e(const char *what, long rc, int err)
{
    if (rc < 0) {
        printf("BLOCKED %s: %s\n", what, strerrorname_np(err) ? strerrorname_np(err) : "?");
    } else {
        printf("OPEN %s (rc=%ld)\n", what, rc);
        vd_failures++;
    }
    fflush(stdout);
}

/* Like vd_expect_fail_e, but the errno is part of the contract too. */
VD_UNUSED static void vd_expect_errno_e(const char *what, long rc, int err, int want)
{
    if (rc < 0 && err == want) {
        printf("BLOCKED %s: %s\n", what, strerrorname_np(err));
    } else if (rc < 0) {
        printf("WRONG-ERRNO %s: %s, want %s\n", what, strerrorname_np(err), strerrorname_np(want));
        vd_failures++;
    } else {
        printf("OPEN %s (rc=%ld)\n", what, rc);
        vd_failures++;
    }
    fflush(stdout);
}

/*
 * vd_expect_fail(what, CALL, errno) and vd_expect_errno(what, CALL, errno,
 * WANT) evaluate CALL first and only then read errno: as plain function
 * arguments, the order would be unspecified and errno could be stale. The
 * third argument is there for the reader; the macro reads errno itself.
 * CALL may also be the variable a call just stored its result in.
 */
#define vd_expect_fail(what, call, errno_after) \
    do {                                        \
        long rc_ = (long)(call);                \
        int e_ = errno;                         \
        vd_expect_fail_e(what, rc_, e_);        \
    } while (0)
#define vd_expect_errno(what, call, errno_after, want) \
    do {                                               \
        long rc_ = (long)(call);                       \
        int e_ = errno;                                \
        vd_expect_errno_e(what, rc_, e_, want);        \
    } while (0)

VD_UNUSED static void vd_fail(const char *fmt, const char *arg)
{
    printf("FAIL-INSIDE ");
    printf(fmt, arg);
    printf("\n");
    fflush(stdout);
    vd_failures++;
}

VD_UNUSED static int vd_done(void)
{
    printf("failures=%d\n", vd_failures);
    fflush(stdout);
    return vd_failures ? 1 : 0;
}

VD_UNUSED static long vd_now_ms(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int vd_has_canary(const char *buf, size_t n)
{
    return memmem(buf, n, "VD_SECRET_CANARY", 16) != NULL ||
           memmem(buf, n, "vd-canary-", 10) != NULL;
}

/* glibc passes argc, argv and envp to constructors. A "probe-*" first
 * argument means run.sh runs the program on the host, outside any box, to
 * learn what the kernel supports: no markers then. */
__attribute__((constructor)) static void vd_probe(int argc, char **argv, char **envp)
{
    char path[512];
    static char buf[1 << 16];

    (void)envp;
    if (argc > 1 && strncmp(argv[1], "probe-", 6) == 0)
        return;

    for (char **e = environ; e && *e; e++)
        if (vd_has_canary(*e, strlen(*e)))
            fprintf(stderr, "CANARY-LEAK environ\n");

    DIR *d = opendir("/proc");
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] < '0' || de->d_name[0] > '9')
                continue;
            snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0)
                continue;
            ssize_t n = read(fd, buf, sizeof buf);
            close(fd);
            if (n > 0 && vd_has_canary(buf, (size_t)n))
                fprintf(stderr, "CANARY-LEAK %s\n", path);
        }
        closedir(d);
    }

    /* These must land in the box's own tmpfs; run.sh looks on the host. */
    const char *dirs[] = {"/tmp", "/box", "/dev/shm", "/"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(path, sizeof path, "%s/verdict-escape-%s", strcmp(dirs[i], "/") ? dirs[i] : "",
                 program_invocation_short_name);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
    }
}

#endif
