/*
 * test_seccomp.c - src/sandbox/seccomp.c: the filter denies what it says,
 * allows what runtimes need, and kills foreign ABIs. Loaded in a forked
 * child (no root needed: no_new_privs suffices).
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/seccomp.h>
#include <unistd.h>

#include "sbtest.h"
#include "../../src/sandbox/sandbox-int.h"

TEST_IMPL(seccomp_filters_build)
{
    SBTEST_SKIP_UNDER_VALGRIND();
    struct vd__filter f, fl;
    struct vd_errbuf eb = {""};
    ASSERT_OK(vd__seccomp_build(0, &f, &eb));
    ASSERT_OK(vd__seccomp_build(1, &fl, &eb));
    ASSERT_GT(f.prog.len, 20);
    /* The lock rules are really left out of the second one. */
    ASSERT_LT(fl.prog.len, f.prog.len);
    vd__seccomp_free(&f);
    vd__seccomp_free(&fl);
    ASSERT_NULL(f.prog.filter);
    return TEST_OK;
}

/* Exit code bit i set = check i failed. */
static int probe(int allow_locks)
{
    struct vd__filter f;
    struct vd_errbuf eb = {""};
    int bad = 0, fd;
    if (vd__seccomp_build(allow_locks, &f, &eb) < 0)
        return 255;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f.prog) < 0)
        return 254;
    if (!(unshare(CLONE_NEWUSER) < 0 && errno == EPERM))
        bad |= 1;
    if (!(socket(AF_INET, SOCK_STREAM, 0) < 0 && errno == EPERM))
        bad |= 2;
    if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
        bad |= 4;
    if (!(syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS))
        bad |= 8;
    if (!(syscall(SYS_ptrace, 0, 0, 0, 0) < 0 && errno == EPERM))
        bad |= 16;
    int lock = flock(fd, LOCK_EX);
    if (allow_locks ? lock != 0 : !(lock < 0 && errno == EPERM))
        bad |= 32;
    if (!(syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, 0, 0, 0) < 0 && errno == EPERM))
        bad |= 64;
    if (getpid() <= 0)
        bad |= 128;
    return bad;
}

static int run_probe(int allow_locks)
{
    int st;
    pid_t p = fork();
    if (p == 0)
        _exit(probe(allow_locks));
    waitpid(p, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

TEST_IMPL(seccomp_denies_and_allows)
{
    SBTEST_SKIP_UNDER_VALGRIND();
    ASSERT_EQ(run_probe(0), 0);
    ASSERT_EQ(run_probe(1), 0);
    return TEST_OK;
}

/* i386 int 0x80 from 64-bit code and an x32 syscall number: either would
 * skip every rule, so both must kill the process with SIGSYS. */
static void foreign(int x32)
{
    struct vd__filter f;
    struct vd_errbuf eb = {""};
    if (vd__seccomp_build(0, &f, &eb) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f.prog) < 0)
        _exit(3);
    if (x32) {
        syscall(0x40000000 | 39); /* x32 getpid */
    } else {
        long ret;
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory"); /* i386 getpid */
    }
    _exit(0);
}

TEST_IMPL(seccomp_kills_foreign_abis)
{
    SBTEST_SKIP_UNDER_VALGRIND();
    for (int x32 = 0; x32 < 2; x32++) {
        int st;
        pid_t p = fork();
        if (p == 0)
            foreign(x32);
        waitpid(p, &st, 0);
        ASSERT(WIFSIGNALED(st));
        ASSERT_EQ(WTERMSIG(st), SIGSYS);
    }
    return TEST_OK;
}

/* personality: the query and the plain values pass, flags do not. Exit code
 * bit i set = check i failed. */
static int personality_probe(void)
{
    struct vd__filter f;
    struct vd_errbuf eb = {""};
    int bad = 0;
    if (vd__seccomp_build(0, &f, &eb) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &f.prog) < 0)
        return 255;
    if (syscall(SYS_personality, 0xffffffffUL) < 0)
        bad |= 1;
    if (syscall(SYS_personality, 0x0UL) < 0 || syscall(SYS_personality, 0x8UL) < 0)
        bad |= 2;
    if (!(syscall(SYS_personality, 0x0400000UL) < 0 && errno == EPERM)) /* READ_IMPLIES_EXEC */
        bad |= 4;
    if (!(syscall(SYS_personality, 0x0040000UL) < 0 && errno == EPERM)) /* ADDR_NO_RANDOMIZE */
        bad |= 8;
    /* The prefix falls through to libseccomp's rules for everything else. */
    if (!(unshare(CLONE_NEWUSER) < 0 && errno == EPERM))
        bad |= 16;
    return bad;
}

TEST_IMPL(seccomp_personality_flags)
{
    SBTEST_SKIP_UNDER_VALGRIND();
    int st;
    pid_t p = fork();
    if (p == 0)
        _exit(personality_probe());
    waitpid(p, &st, 0);
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
    return TEST_OK;
}
