/*
 * seccomp.c - the syscall filter every program in a box runs under.
 *
 * Theory of operation: the filter is a deny-list on a default-allow policy,
 * layered on the namespaces, the uid switch and the dropped capabilities.
 * Most of what it denies would already fail for an unprivileged uid; the
 * list is there for the kernel surface an unprivileged process still has
 * (user namespaces, io_uring, bpf, userfaultfd, keyrings) and for the
 * channels namespaces do not cover (file locks on shared read-only inodes,
 * keyrings, non-unix sockets). A deny-list keeps every language runtime
 * working; an allow-list per language may come later.
 *
 * The filter is built once, in the supervisor, by libseccomp and exported as
 * raw BPF into memory: the program then loads it with one prctl() between
 * fork and exec, with no allocation and no libseccomp call in the child.
 *
 * Foreign ABIs: the filter is for x86_64 only and libseccomp turns a call
 * with another AUDIT_ARCH (i386 through int 0x80) or with the x32 bit set
 * into the bad-arch action, which we make KILL_PROCESS. Without it a 32-bit
 * syscall would skip every rule below (attack class 21 of the research note).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox-int.h"
#include "vd/alloc.h"

/* Denied with EPERM: each line names what it blocks. */
static const char *const deny_eperm[] = {
    /* Re-arranging the filesystem view or entering other namespaces. */
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "move_mount",
    "fsopen",
    "fsmount",
    "fsconfig",
    "fspick",
    "open_tree",
    "mount_setattr",
    /* Reading or steering other processes (ptrace, their memory, fds). */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "process_madvise",
    "kcmp",
    "pidfd_getfd",
    /* Keyrings are not namespaced: a cross-box channel and a leak. */
    "keyctl",
    "add_key",
    "request_key",
    /* Large kernel attack surface an unprivileged process still reaches. */
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "modify_ldt",
    "lookup_dcookie",
    /* Whole-machine operations (need capabilities; denied for clarity). */
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "clock_settime",
    "clock_adjtime",
    "settimeofday",
    "adjtimex",
    "syslog",
    "vhangup",
    "iopl",
    "ioperm",
    "sethostname",
    "setdomainname",
    /* File handles bypass path permission checks; fanotify watches mounts. */
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
};

/* clone() flags that create namespaces: user namespaces in particular are
 * open to unprivileged processes and expose much of the kernel. */
static const unsigned long ns_flags[] = {
    CLONE_NEWNS,   CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET,
    CLONE_NEWIPC,  CLONE_NEWUTS,  CLONE_NEWCGROUP,
#ifdef CLONE_NEWTIME
    CLONE_NEWTIME,
#endif
};

/* fcntl commands that take or watch a lock: on a shared read-only inode
 * (anything under /usr) a lock is visible to every box at once. */
static const int lock_cmds[] = {F_SETLK, F_SETLKW, F_OFD_SETLK, F_OFD_SETLKW, F_SETLEASE, F_NOTIFY};

/* One argument comparison, every field set (the SCMP_A* macros leave
 * datum_b to the compiler, which clang warns about). */
static struct scmp_arg_cmp cmp(unsigned arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
    struct scmp_arg_cmp c = {.arg = arg, .op = op, .datum_a = a, .datum_b = b};
    return c;
}

/*
 * personality(): only the values Docker's default profile allows (PER_LINUX,
 * PER_LINUX32, UNAME26, both, and the 0xffffffff query); any other flag
 * (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ADDR_COMPAT_LAYOUT...) gets EPERM:
 * they weaken the program's own hardening and have no use in a judge.
 * libseccomp compares an argument once per rule, so this "all but these"
 * rule is a few raw BPF instructions in front of its program. Every jump is
 * forward and lands at the first instruction of libseccomp's program, which
 * reloads what it needs; other architectures fall through to its bad-arch
 * kill. The kernel reads the argument as an unsigned int: the low 32 bits.
 */
#define ARG0_LO offsetof(struct seccomp_data, args[0])
static const struct sock_filter personality_prefix[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 9),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 0, 7),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LO),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x0, 5, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x8, 4, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x20000, 3, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x20008, 2, 0),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffu, 1, 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
};
#define PREFIX_LEN (sizeof(personality_prefix) / sizeof(personality_prefix[0]))

static int add(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned n,
               const struct scmp_arg_cmp *args)
{
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR)
        return 0; /* unknown to this libseccomp: nothing to deny */
    return seccomp_rule_add_array(ctx, action, nr, n, args);
}

/*
 * Builds the filter. allow_locks leaves flock() and the fcntl lock commands
 * alone, for tools that cannot work without them. On success f->prog owns a
 * heap array (free with vd__seccomp_free).
 */
int vd__seccomp_build(int allow_locks, struct vd__filter *f, struct vd_errbuf *eb)
{
    scmp_filter_ctx ctx = NULL;
    int rc = 0, mfd = -1;
    struct stat st;
    struct scmp_arg_cmp a;

    memset(f, 0, sizeof(*f));
    ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        rc = vd_errf(eb, -ENOMEM, "seccomp_init failed");
        goto out;
    }
    /* Foreign ABIs (i386, x32) die: see the top of this file. */
    rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
    if (rc < 0)
        goto fail;

    for (size_t i = 0; i < sizeof(deny_eperm) / sizeof(deny_eperm[0]); i++) {
        rc = add(ctx, SCMP_ACT_ERRNO(EPERM), deny_eperm[i], 0, NULL);
        if (rc < 0)
            goto fail;
    }
    for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
        a = cmp(0, SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]);
        rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "clone", 1, &a);
        if (rc < 0)
            goto fail;
    }
    /* clone3 passes its flags in memory, which BPF cannot read: ENOSYS makes
     * glibc and every runtime fall back to clone(), which the rules above
     * can inspect. */
    rc = add(ctx, SCMP_ACT_ERRNO(ENOSYS), "clone3", 0, NULL);
    if (rc < 0)
        goto fail;
    /* Only unix sockets: the netns is empty anyway; this is the second wall
     * (AF_VSOCK, AF_NETLINK, raw packet sockets reach host-wide objects). */
    a = cmp(0, SCMP_CMP_NE, AF_UNIX, 0);
    if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "socket", 1, &a)) < 0 ||
        (rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "socketpair", 1, &a)) < 0)
        goto fail;
    /* Typing into a terminal's input queue (TIOCSTI) and console control
     * (TIOCLINUX); there is no tty in a box, this covers inherited ones. */
    a = cmp(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI);
    if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", 1, &a)) < 0)
        goto fail;
    a = cmp(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX);
    if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "ioctl", 1, &a)) < 0)
        goto fail;
    if (!allow_locks) {
        if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "flock", 0, NULL)) < 0)
            goto fail;
        for (size_t i = 0; i < sizeof(lock_cmds) / sizeof(lock_cmds[0]); i++) {
            a = cmp(1, SCMP_CMP_EQ, (scmp_datum_t)lock_cmds[i], 0);
            if ((rc = add(ctx, SCMP_ACT_ERRNO(EPERM), "fcntl", 1, &a)) < 0)
                goto fail;
        }
    }
    /* personality() is handled by the prefix below. */

    /* Export the BPF into memory so the child only needs prctl(). */
    mfd = memfd_create("vd-seccomp", MFD_CLOEXEC);
    if (mfd < 0) {
        rc = vd_errf(eb, -errno, "memfd_create: %s", strerror(errno));
        goto out;
    }
    rc = seccomp_export_bpf(ctx, mfd);
    if (rc < 0)
        goto fail;
    if (fstat(mfd, &st) < 0 || st.st_size <= 0 ||
        st.st_size % (off_t)sizeof(struct sock_filter) != 0) {
        rc = vd_errf(eb, -EINVAL, "seccomp export produced %lld bytes", (long long)st.st_size);
        goto out;
    }
    size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
    if (n + PREFIX_LEN > 0xffff) {
        rc = vd_errf(eb, VD_ETOOBIG, "seccomp filter of %zu instructions", n);
        goto out;
    }
    f->prog.len = (unsigned short)(n + PREFIX_LEN);
    f->prog.filter = vd_xmalloc((n + PREFIX_LEN) * sizeof(struct sock_filter));
    memcpy(f->prog.filter, personality_prefix, sizeof(personality_prefix));
    if (pread(mfd, f->prog.filter + PREFIX_LEN, (size_t)st.st_size, 0) != st.st_size) {
        rc = vd_errf(eb, -EIO, "reading the exported seccomp filter failed");
        goto out;
    }
    rc = 0;
    goto out;
fail:
    rc = vd_errf(eb, rc, "building the seccomp filter: %s", strerror(-rc));
out:
    if (rc < 0)
        vd__seccomp_free(f);
    if (mfd >= 0)
        close(mfd);
    if (ctx)
        seccomp_release(ctx);
    return rc;
}

void vd__seccomp_free(struct vd__filter *f)
{
    vd_free(f->prog.filter);
    f->prog.filter = NULL;
    f->prog.len = 0;
}
