/*
 * 22-kobjects: attack class "kernel-object DoS" (row 24).
 *
 * Opens eventfd, memfd, inotify, epoll, timerfd, signalfd, pipe and unix
 * socketpair objects in a loop until the call fails: each flood must stop
 * at --nofile (passed as argv[1]) with EMFILE. Then namespace and other
 * privileged kernel interfaces must be refused: unshare of every namespace,
 * clone with CLONE_NEWNS / CLONE_NEWUSER (EPERM), clone3 (ENOSYS, so libc
 * falls back to clone), setns, userfaultfd, bpf, perf_event_open, kcmp,
 * pidfd_getfd, the new mount API. Exits 0 only if all hold.
 * "personality": changing the personality must fail (EPERM); querying it
 * must work.
 */
#include "common.h"
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

static long nofile;

static int open_one(int kind, int *second)
{
    int p[2];
    sigset_t ss;
    *second = -1;
    switch (kind) {
    case 0:
        return eventfd(0, 0);
    case 1:
        return memfd_create("flood", 0);
    case 2:
        return inotify_init1(0);
    case 3:
        return epoll_create1(0);
    case 4:
        return timerfd_create(CLOCK_MONOTONIC, 0);
    case 5:
        sigemptyset(&ss);
        sigaddset(&ss, SIGUSR1);
        return signalfd(-1, &ss, 0);
    case 6:
        if (pipe(p) != 0)
            return -1;
        *second = p[1];
        return p[0];
    default:
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, p) != 0)
            return -1;
        *second = p[1];
        return p[0];
    }
}

static void flood(int kind, const char *name)
{
    static int fds[1 << 17];
    int n = 0, err = 0;
    while (n < (int)(sizeof fds / sizeof *fds) - 2) {
        int second;
        int fd = open_one(kind, &second);
        if (fd < 0) {
            err = errno;
            break;
        }
        fds[n++] = fd;
        if (second >= 0)
            fds[n++] = second;
    }
    printf("%s: %d fds, then %s\n", name, n, err ? strerrorname_np(err) : "no failure");
    if (err != EMFILE || (nofile && n > nofile)) {
        printf("UNBOUNDED %s\n", name);
        vd_failures++;
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "personality") == 0) {
        /* Changing the execution domain: READ_IMPLIES_EXEC makes every
         * readable mapping executable, ADDR_NO_RANDOMIZE turns ASLR off
         * for what the program execs next. Querying (0xffffffff) stays. */
        long cur = syscall(SYS_personality, 0xffffffffUL);
        printf("personality query: %#lx\n", cur);
        if (cur < 0)
            vd_failures++;
        vd_expect_errno("personality(READ_IMPLIES_EXEC)",
                        syscall(SYS_personality, READ_IMPLIES_EXEC), errno, EPERM);
        vd_expect_errno("personality(ADDR_NO_RANDOMIZE)",
                        syscall(SYS_personality, ADDR_NO_RANDOMIZE), errno, EPERM);
        return vd_done();
    }
    nofile = argc > 1 ? atol(argv[1]) : 0;
    const char *names[] = {"eventfd", "memfd",    "inotify", "epoll",
                           "timerfd", "signalfd", "pipe",    "socketpair"};
    for (int k = 0; k < 8; k++)
        flood(k, names[k]);

    struct {
        const char *name;
        int flag;
    } ns[] = {{"CLONE_NEWUSER", CLONE_NEWUSER},     {"CLONE_NEWNS", CLONE_NEWNS},
              {"CLONE_NEWNET", CLONE_NEWNET},       {"CLONE_NEWPID", CLONE_NEWPID},
              {"CLONE_NEWIPC", CLONE_NEWIPC},       {"CLONE_NEWUTS", CLONE_NEWUTS},
              {"CLONE_NEWCGROUP", CLONE_NEWCGROUP}, {"CLONE_NEWTIME", CLONE_NEWTIME}};
    char what[64];
    for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
        snprintf(what, sizeof what, "unshare(%s)", ns[i].name);
        vd_expect_errno(what, unshare(ns[i].flag), errno, EPERM);
    }
    long rc = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    if (rc == 0)
        _exit(0);
    vd_expect_errno("clone(CLONE_NEWNS)", rc, errno, EPERM);
    rc = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (rc == 0)
        _exit(0);
    vd_expect_errno("clone(CLONE_NEWUSER)", rc, errno, EPERM);
    struct clone_args ca = {.flags = CLONE_NEWUSER, .exit_signal = SIGCHLD};
    rc = syscall(SYS_clone3, &ca, sizeof ca);
    if (rc == 0)
        _exit(0);
    vd_expect_errno("clone3(CLONE_NEWUSER)", rc, errno, ENOSYS);
    struct clone_args plain = {.exit_signal = SIGCHLD};
    rc = syscall(SYS_clone3, &plain, sizeof plain);
    if (rc == 0)
        _exit(0);
    if (rc > 0)
        waitpid((pid_t)rc, NULL, 0);
    vd_expect_errno("clone3(plain)", rc, errno, ENOSYS);

    int nsfd = open("/proc/self/ns/net", O_RDONLY);
    vd_expect_errno("setns", syscall(SYS_setns, nsfd, 0), errno, EPERM);
    close(nsfd);
    vd_expect_errno("userfaultfd", syscall(SYS_userfaultfd, 0), errno, EPERM);
    vd_expect_errno("bpf", syscall(SYS_bpf, 0, NULL, 0), errno, EPERM);
    vd_expect_errno("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), errno,
                    EPERM);
    vd_expect_errno("kcmp", syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0), errno, EPERM);
    vd_expect_errno("pidfd_getfd", syscall(SYS_pidfd_getfd, 0, 0, 0), errno, EPERM);
    vd_expect_errno("fsopen", syscall(SYS_fsopen, "tmpfs", 0), errno, EPERM);
    vd_expect_errno("open_tree", syscall(SYS_open_tree, AT_FDCWD, "/box", 1 /* CLONE */), errno,
                    EPERM);
    vd_expect_errno("mount_setattr", syscall(SYS_mount_setattr, AT_FDCWD, "/", 0, NULL, 0), errno,
                    EPERM);
    vd_expect_errno("acct", syscall(SYS_acct, NULL), errno, EPERM);
    vd_expect_errno("swapoff", syscall(SYS_swapoff, "/box"), errno, EPERM);
    vd_expect_errno("syslog", syscall(SYS_syslog, 3, NULL, 0), errno, EPERM);
    vd_expect_errno("iopl", syscall(SYS_iopl, 3), errno, EPERM);
    /* modify_ldt returns an unsigned int: cast back to see an error. */
    vd_expect_errno("modify_ldt", (int)syscall(SYS_modify_ldt, 1, NULL, 0), errno, EPERM);
    vd_expect_errno("init_module", syscall(SYS_init_module, NULL, 0, ""), errno, EPERM);
    vd_expect_errno("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0), errno, EPERM);
    vd_expect_errno("reboot", syscall(SYS_reboot, 0, 0, 0, NULL), errno, EPERM);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    vd_expect_errno("clock_settime", syscall(SYS_clock_settime, CLOCK_REALTIME, &ts), errno, EPERM);
    return vd_done();
}
