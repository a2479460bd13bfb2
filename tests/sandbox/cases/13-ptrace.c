/*
 * 13-ptrace: attack class "ptrace / process_vm_* against other processes"
 * (row 12).
 *
 * PTRACE_TRACEME, PTRACE_ATTACH and PTRACE_SEIZE (to its own child and to
 * pid 1), process_vm_readv and process_vm_writev must all fail with EPERM
 * (the filter denies them outright). /proc/1/mem must not open. Exits 0
 * only if all failed.
 */
#include "common.h"
#include <sys/ptrace.h>
#include <sys/uio.h>

int main(void)
{
    long rc = ptrace(PTRACE_TRACEME, 0, NULL, NULL);
    vd_expect_errno("PTRACE_TRACEME", rc, errno, EPERM);

    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    rc = ptrace(PTRACE_ATTACH, child, NULL, NULL);
    vd_expect_errno("PTRACE_ATTACH child", rc, errno, EPERM);
    rc = ptrace(PTRACE_SEIZE, child, NULL, NULL);
    vd_expect_errno("PTRACE_SEIZE child", rc, errno, EPERM);
    rc = ptrace(PTRACE_ATTACH, 1, NULL, NULL);
    vd_expect_errno("PTRACE_ATTACH 1", rc, errno, EPERM);

    static char secret[64] = "inside the child";
    char buf[64];
    struct iovec local = {buf, sizeof buf}, remote = {secret, sizeof secret};
    rc = process_vm_readv(child, &local, 1, &remote, 1, 0);
    vd_expect_errno("process_vm_readv child", rc, errno, EPERM);
    rc = process_vm_writev(child, &local, 1, &remote, 1, 0);
    vd_expect_errno("process_vm_writev child", rc, errno, EPERM);
    rc = process_vm_readv(1, &local, 1, &remote, 1, 0);
    vd_expect_errno("process_vm_readv 1", rc, errno, EPERM);

    int fd = open("/proc/1/mem", O_RDONLY);
    vd_expect_fail("open /proc/1/mem", fd, errno);
    if (fd >= 0)
        close(fd);

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return vd_done();
}
