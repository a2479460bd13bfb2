/*
 * init.c - the box init: pid 1 of a box, and the program it forks per run.
 *
 * Theory of operation. vd__init_spawn() (supervisor side) clone3()s a child
 * with new pid, mount, ipc and uts namespaces; the child joins the slot's
 * network namespace (made once per slot, never per run: creating one costs
 * about a millisecond and is serialized in the kernel), builds the root
 * (mounts.c), and reports READY with an O_PATH fd of /box. It then serves
 * one request at a time on its socket:
 *
 *   RESET  new tmpfs on /box, /tmp, /dev/shm; answers with a new /box fd.
 *   RUN    clone3()s the program (straight into the slot's cgroup on v2),
 *          which attaches itself to the v1 cgroups, takes a fresh IPC
 *          namespace, sets up fds, locks itself down and execs. The init
 *          waits on the program's pidfd and on the socket; a KILL message
 *          kills every process of the box. When the main process ends, all
 *          others are killed too (orphans and daemons never outlive a run),
 *          everything is reaped, and DONE carries the wait status and the
 *          rusage of every reaped process of this run.
 *
 * As pid 1 of its namespace the init is the reaper of every orphan, so
 * kill(-1, SIGKILL) followed by waitpid() until ECHILD leaves no process of
 * the run behind, and RUSAGE_CHILDREN includes the orphans' CPU time.
 *
 * The init dies with its supervisor (PDEATHSIG, and EOF on the socket), and
 * the kernel then kills everything in its pid namespace.
 *
 * The init is a clone of a possibly multi-threaded supervisor: no heap, no
 * stdio, no locks here (see sandbox-int.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox-int.h"
#include "vd/clock.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

#define MAX_ARGS 4096

/* The init's own state; static because the init must not allocate. */
static char req_buf[VD__MSG_MAX];
static const char *req_argv[MAX_ARGS + 1];
static const char *req_envp[MAX_ARGS + 1];
static char path_buf[4096];

static pid_t clone3_fork(uint64_t flags, int *pidfd, int cgroup_fd)
{
    struct clone_args ca;
    memset(&ca, 0, sizeof(ca));
    ca.flags = flags | CLONE_PIDFD;
    ca.pidfd = (uint64_t)(uintptr_t)pidfd;
    /* With CLONE_PARENT the child inherits our exit signal (SIGCHLD), and
     * clone3 insists on 0 here. */
    ca.exit_signal = (flags & CLONE_PARENT) ? 0 : SIGCHLD;
    if (cgroup_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)cgroup_fd;
    }
    return (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
}

static uint64_t tv_us(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000u + (uint64_t)tv->tv_usec;
}

/* Whether a mapped file may be left out of the program's child. Between
 * clone and exec the child runs only our own code and libc's system call
 * wrappers, so the libraries verdict links for its server side can go. The
 * list names them; anything else stays: libc and the loader, glibc's other
 * parts, and any library that may interpose libc's functions (a
 * sanitizer's runtime, an LD_PRELOAD), which the child does call. */
static int child_can_lose(const char *path)
{
    static const char *const servers_only[] = {
        "libmicrohttpd.", "libgnutls.",      "libsqlite3.", "libcrypto.",    "libssl.",
        "libjansson.",    "libcurl.",        "libsodium.",  "libnettle.",    "libhogweed.",
        "libgmp.",        "libp11-kit.",     "libidn2.",    "libunistring.", "libtasn1.",
        "libffi.",        "libbrotli",       "libnghttp2.", "librtmp.",      "libssh2.",
        "libpsl.",        "libgssapi_krb5.", "libkrb5.",    "libk5crypto.",  "libkrb5support.",
        "libcom_err.",    "libkeyutils.",    "libldap",     "liblber",       "libsasl2.",
        "libzstd.",       "libz.",           "libpq.",      "libhiredis.",   NULL};
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; servers_only[i]; i++)
        if (strncmp(base, servers_only[i], strlen(servers_only[i])) == 0)
            return 1;
    return 0;
}

/* Marks the mappings of the libraries the program's child never uses
 * MADV_DONTFORK, once per box init. Each run clones the init, and the
 * clone copies (then exec discards) the page tables of every mapping: in
 * the server that is libmicrohttpd and its TLS stack, SQLite, OpenSSL,
 * jansson, ... about a hundred mappings that no run needs. Best effort:
 * a mapping left as it is only costs time. Reads /proc/self/maps with
 * read(2) into a static buffer: the init must not allocate. */
static void shed_libraries(void)
{
    static char maps[1 << 16];
    size_t len = 0;
    ssize_t k;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    while (len < sizeof(maps) - 1 && (k = read(fd, maps + len, sizeof(maps) - 1 - len)) > 0)
        len += (size_t)k;
    close(fd);
    if (len == sizeof(maps) - 1)
        return; /* cut short: a half-read line could name the wrong range */
    maps[len] = '\0';
    for (char *line = maps, *nl; *line; line = nl + 1) {
        char *e, *f;
        nl = strchr(line, '\n');
        if (!nl)
            break;
        *nl = '\0';
        /* "start-end perms offset dev inode   path" (proc(5)) */
        unsigned long start = strtoul(line, &e, 16);
        if (*e != '-')
            continue;
        unsigned long end = strtoul(e + 1, &f, 16);
        for (int field = 0; field < 4 && *f; field++) {
            while (*f == ' ')
                f++;
            while (*f && *f != ' ')
                f++;
        }
        while (*f == ' ')
            f++;
        if (*f != '/' || end <= start || !child_can_lose(f))
            continue;
        (void)madvise((void *)start, end - start, MADV_DONTFORK);
    }
}

/* Closes every fd except those in keep[] (at most 8, any order). */
static void close_all_except(const int *keep, int n)
{
    int k[8], m = 0;
    for (int i = 0; i < n && m < 8; i++)
        if (keep[i] >= 0)
            k[m++] = keep[i];
    for (int i = 1; i < m; i++) /* insertion sort: m is tiny */
        for (int j = i; j > 0 && k[j - 1] > k[j]; j--) {
            int t = k[j];
            k[j] = k[j - 1];
            k[j - 1] = t;
        }
    unsigned lo = 3;
    for (int i = 0; i < m; i++) {
        if ((unsigned)k[i] > lo)
            syscall(SYS_close_range, lo, (unsigned)k[i] - 1, 0);
        if ((unsigned)k[i] + 1 > lo)
            lo = (unsigned)k[i] + 1;
    }
    syscall(SYS_close_range, lo, ~0u, 0);
}

/* Stdio of the supervisor is not ours to write to. */
static void stdio_to_devnull(void)
{
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
        close(devnull);
    }
}

/* Best effort: lowering needs CAP_SYS_RESOURCE, which some hosts withhold
 * even from root; raising needs nothing. */
static void set_oom_score_adj(const char *v)
{
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        (void)!write(fd, v, strlen(v));
        close(fd);
    }
}

static void send_fail(int sock, int err, const char *what)
{
    struct vd__msg_fail m;
    memset(&m, 0, sizeof(m));
    m.h.type = VD__MSG_FAIL;
    m.h.len = sizeof(m) - sizeof(m.h);
    m.err = err;
    snprintf(m.what, sizeof(m.what), "%s", what);
    (void)!vd__msg_send(sock, &m, sizeof(m), NULL, 0);
}

static int send_box_fd(int sock, uint32_t type)
{
    struct vd__msg_hdr h = {.type = type, .len = 0};
    int fd = open("/box", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = vd__msg_send(sock, &h, sizeof(h), &fd, 1);
    close(fd);
    return rc;
}

/* PATH search inside the box, with the run's own PATH (execvpe would use
 * the init's environment, which is the supervisor's). */
static int exec_program(const char *const *argv, const char *const *envp)
{
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    int saved = ENOENT;

    if (strchr(argv[0], '/')) {
        execve(argv[0], (char *const *)argv, (char *const *)envp);
        return -errno;
    }
    for (int i = 0; envp[i]; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0)
            path = envp[i] + 5;
    for (const char *p = path; *p;) {
        const char *end = strchr(p, ':');
        size_t dlen = end ? (size_t)(end - p) : strlen(p);
        int k = snprintf(path_buf, sizeof(path_buf), "%.*s/%s", (int)dlen, p, argv[0]);
        if (dlen > 0 && k > 0 && (size_t)k < sizeof(path_buf)) {
            execve(path_buf, (char *const *)argv, (char *const *)envp);
            if (errno == EACCES)
                saved = EACCES;
            else if (errno != ENOENT && errno != ENOTDIR)
                return -errno;
        }
        p += dlen;
        if (*p == ':')
            p++;
    }
    return -saved;
}

/* The program: runs in the forked child, never returns. fds[] holds stdin
 * (or -1), stdout and stderr as received by the init. */
static void program_main(const struct vd__box_params *p, const struct vd__msg_run *m,
                         const char *cwd, const int *fds, int errfd)
{
    int stage = VD__STAGE_IPC, rc = 0;
    int32_t rep[2];

    /* A fresh IPC namespace per run: SysV and POSIX queues, semaphores and
     * shared memory of an earlier run are gone (class 19). */
    if (unshare(CLONE_NEWIPC) < 0) {
        rc = -errno;
        goto fail;
    }
    /* New session, no controlling terminal: nothing to TIOCSTI into. */
    setsid();
    /* The first victim of an OOM in the slot's cgroup is always a program
     * process (inherited by its children), never the box init. */
    set_oom_score_adj("1000");

    stage = VD__STAGE_CWD;
    if (chdir(cwd) < 0) {
        rc = -errno;
        goto fail;
    }
    stage = VD__STAGE_FDS;
    if (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0) {
        rc = -errno;
        goto fail;
    }
    if (errfd != 3) {
        if (dup3(errfd, 3, O_CLOEXEC) < 0) {
            rc = -errno;
            goto fail;
        }
        errfd = 3;
    }
    /* Nothing of the init or the supervisor stays open (class 23); fd 3 is
     * close-on-exec and vanishes when exec succeeds. */
    syscall(SYS_close_range, 4u, ~0u, 0);

    if ((rc = vd__lockdown(p, &m->rl, m->flags, &stage)) < 0)
        goto fail;
    stage = VD__STAGE_EXEC;
    rc = exec_program(req_argv, req_envp);
fail:
    rep[0] = stage;
    rep[1] = -rc;
    (void)!write(errfd, rep, sizeof(rep));
    _exit(127);
}

/* Kills every process of the box but the init and reaps them all. */
static void kill_and_reap(void)
{
    kill(-1, SIGKILL);
    for (;;) {
        pid_t r = waitpid(-1, NULL, __WALL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
    }
}

/* Parses a RUN request into req_argv/req_envp; returns cwd or NULL. */
static const char *parse_run(const struct vd__msg_run *m, size_t len)
{
    const char *s = (const char *)(m + 1), *end = req_buf + len;
    if (len < sizeof(*m) || m->argc == 0 || m->argc > MAX_ARGS || m->envc > MAX_ARGS)
        return NULL;
    for (uint32_t i = 0; i < m->argc + m->envc + 1; i++) {
        const char *z = memchr(s, '\0', (size_t)(end - s));
        if (!z)
            return NULL;
        if (i < m->argc)
            req_argv[i] = s;
        else if (i < m->argc + m->envc)
            req_envp[i - m->argc] = s;
        else
            return s; /* cwd */
        s = z + 1;
    }
    return NULL;
}

static void serve_run(const struct vd__box_params *p, int sock, size_t len, int *fds, int nfds)
{
    const struct vd__msg_run *m = (const struct vd__msg_run *)req_buf;
    struct vd__msg_done d;
    struct rusage before, after, self0, self1, ru;
    int ep[2] = {-1, -1}, pidfd = -1, status = 0;
    int32_t rep[2] = {0, 0};
    uint64_t t0, t1;
    pid_t pid;
    const char *cwd = parse_run(m, len);

    memset(&d, 0, sizeof(d));
    d.h.type = VD__MSG_DONE;
    d.h.len = sizeof(d) - sizeof(d.h);
    if (!cwd || nfds != 3) {
        d.stage = VD__STAGE_FORK;
        d.err = EPROTO;
        goto reply;
    }
    req_argv[m->argc] = NULL;
    req_envp[m->envc] = NULL;
    if (pipe2(ep, O_CLOEXEC) < 0) {
        d.stage = VD__STAGE_FORK;
        d.err = errno;
        goto reply;
    }
    getrusage(RUSAGE_CHILDREN, &before);
    getrusage(RUSAGE_SELF, &self0);
    t0 = vd_clock_us();
    pid = clone3_fork(0, &pidfd, p->cg && p->cg->mode == VD_SANDBOX_CGROUP2 ? p->cg->dir_fd : -1);
    if (pid == 0) {
        close(ep[0]);
        program_main(p, m, cwd, fds, ep[1]);
    }
    close(ep[1]);
    ep[1] = -1;
    if (pid < 0) {
        d.stage = VD__STAGE_FORK;
        d.err = errno;
        goto reply;
    }
    /* Our copies of the program's stdio must go, or the supervisor would
     * never see EOF on the output pipes. */
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }

    for (;;) {
        struct pollfd pf[2] = {{.fd = pidfd, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents)
            break;
        if (pf[1].revents) {
            struct vd__msg_hdr h;
            ssize_t k = vd__msg_recv(sock, &h, sizeof(h), NULL, NULL);
            if (k == 0 || (k < 0 && k != -EMSGSIZE)) /* supervisor gone: nobody wants this run */
                _exit(0);
            if (h.type == VD__MSG_KILL) {
                kill(-1, SIGKILL);
            }
        }
    }
    while (wait4(pid, &status, __WALL, &ru) < 0 && errno == EINTR)
        ;
    t1 = vd_clock_us();
    kill_and_reap();
    getrusage(RUSAGE_CHILDREN, &after);
    getrusage(RUSAGE_SELF, &self1);
    d.init_cpu_us = (tv_us(&self1.ru_utime) + tv_us(&self1.ru_stime)) -
                    (tv_us(&self0.ru_utime) + tv_us(&self0.ru_stime));
    d.status = status;
    d.wall_us = t1 - t0;
    d.cpu_us = (tv_us(&after.ru_utime) + tv_us(&after.ru_stime)) -
               (tv_us(&before.ru_utime) + tv_us(&before.ru_stime));
    d.maxrss_kb = (uint64_t)ru.ru_maxrss;
    if (read(ep[0], rep, sizeof(rep)) == (ssize_t)sizeof(rep)) {
        d.stage = rep[0];
        d.err = rep[1];
    }
reply:
    for (int i = 0; i < nfds; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (pidfd >= 0)
        close(pidfd);
    if (ep[0] >= 0)
        close(ep[0]);
    if (vd__msg_send(sock, &d, sizeof(d), NULL, 0) < 0)
        _exit(0);
}

VD_NORETURN static void init_main(const struct vd__box_params *p, int sock, int join)
{
    char what[200];
    int keep[8], nk = 0, rc;
    sigset_t all;

    /* Die with the supervisor: a box must never outlive the judge. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "vd-box-init");
    /* A clean signal state for the program: exec resets handlers but keeps
     * ignored signals ignored, and keeps the mask, so a supervisor that
     * ignores SIGPIPE must not pass that on. Handlers need nothing: the
     * init never returns into supervisor code, and exec drops them. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sigismember(&p->ignored, sig) == 1)
            signal(sig, SIG_DFL);
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);

    stdio_to_devnull();
    keep[nk++] = sock;
    if (p->cg && p->cg->mode == VD_SANDBOX_CGROUP2)
        keep[nk++] = p->cg->dir_fd;
    keep[nk++] = p->net_fd;
    if (join)
        for (int i = 0; i < 3; i++)
            keep[nk++] = p->cg->procs_fd[i];
    close_all_except(keep, nk);
    shed_libraries();

    if (setns(p->net_fd, CLONE_NEWNET) < 0) {
        send_fail(sock, errno, "join the slot's network namespace");
        _exit(1);
    }
    close(p->net_fd);
    if (sethostname("verdict", 7) < 0) {
        send_fail(sock, errno, "sethostname");
        _exit(1);
    }
    rc = vd__mounts_build(p, what, sizeof(what));
    if (rc < 0) {
        send_fail(sock, -rc, what);
        _exit(1);
    }
    /* cgroup v1 without a forker (see vd__forker_start): the init joins
     * the slot's cgroups once, and every program is born in them by fork. Moving a process between
     * cgroups waits for an RCU grace period whenever none happened recently (3 to 20 ms on an idle
     * host), which a per-run attach would pay on every run. The init's own CPU during a run is
     * subtracted by the supervisor, pids.max counts it, and the OOM killer must never choose it. */
    if (join) {
        /* Best effort: lowering needs CAP_SYS_RESOURCE, which some hosts
         * withhold even from root. The programs raise theirs to 1000,
         * which needs nothing, so the OOM killer picks them first anyway. */
        set_oom_score_adj("-1000");
        for (int i = 0; i < 3; i++) {
            if (write(p->cg->procs_fd[i], "0", 1) != 1) {
                send_fail(sock, errno, "joining the slot's cgroup v1");
                _exit(1);
            }
            close(p->cg->procs_fd[i]);
        }
    }
    umask(022);
    if (send_box_fd(sock, VD__MSG_READY) < 0)
        _exit(1);

    for (;;) {
        int fds[3] = {-1, -1, -1}, nfds = 3;
        ssize_t k = vd__msg_recv(sock, req_buf, sizeof(req_buf), fds, &nfds);
        const struct vd__msg_hdr *h = (const struct vd__msg_hdr *)req_buf;
        if (k < (ssize_t)sizeof(*h)) {
            if (k == 0 || (k < 0 && k != -EMSGSIZE))
                _exit(0); /* supervisor gone */
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            send_fail(sock, EPROTO, "malformed request");
            continue;
        }
        switch (h->type) {
        case VD__MSG_RESET:
            kill_and_reap();
            rc = vd__mounts_reset(p, what, sizeof(what));
            if (rc < 0)
                send_fail(sock, -rc, what);
            else if (send_box_fd(sock, VD__MSG_RESET_OK) < 0)
                _exit(1);
            break;
        case VD__MSG_RUN:
            serve_run(p, sock, (size_t)k, fds, nfds);
            break;
        case VD__MSG_KILL:
            break; /* arrived after the run ended: nothing to kill */
        default:
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            send_fail(sock, EPROTO, "unknown request");
        }
    }
}

#define BOX_NS_FLAGS (CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)

/* The forker's loop: one box init per SPAWN request. Heap-free, like the
 * init (it is a clone of the supervisor too). */
VD_NORETURN static void forker_main(const struct vd__box_params *p, int sock)
{
    int keep[2] = {sock, p->net_fd};
    int sz = VD__MSG_MAX * 2;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    prctl(PR_SET_NAME, "vd-forker");
    stdio_to_devnull();
    /* The one migration of the slot; see vd__forker_start. */
    set_oom_score_adj("-1000");
    for (int i = 0; i < 3; i++)
        if (write(p->cg->procs_fd[i], "0", 1) != 1) {
            send_fail(sock, errno, "joining the slot's cgroup v1");
            _exit(1);
        }
    close_all_except(keep, 2);
    struct vd__msg_hdr ready = {.type = VD__MSG_READY, .len = 0};
    if (vd__msg_send(sock, &ready, sizeof(ready), NULL, 0) < 0)
        _exit(1);
    for (;;) {
        struct vd__msg_hdr h;
        int sv[2], pidfd = -1;
        ssize_t k = vd__msg_recv(sock, &h, sizeof(h), NULL, NULL);
        if (k == 0 || (k < 0 && k != -EMSGSIZE))
            _exit(0); /* the supervisor is gone */
        if (k != (ssize_t)sizeof(h) || h.type != VD__MSG_SPAWN) {
            send_fail(sock, EPROTO, "unknown request to the forker");
            continue;
        }
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
            send_fail(sock, errno, "socketpair");
            continue;
        }
        (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
        (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
        /* CLONE_PARENT: the init is the supervisor's child, born in our
         * cgroups. */
        pid_t pid = clone3_fork(BOX_NS_FLAGS | CLONE_PARENT, &pidfd, -1);
        if (pid == 0) {
            close(sock);
            close(sv[0]);
            init_main(p, sv[1], 0);
        }
        if (pid < 0) {
            send_fail(sock, errno, "clone3 of the box init");
        } else {
            struct vd__msg_spawned m = {.h = {.type = VD__MSG_SPAWNED, .len = sizeof(int32_t)},
                                        .pid = pid};
            int fds[2] = {sv[0], pidfd};
            if (vd__msg_send(sock, &m, sizeof(m), fds, 2) < 0)
                _exit(1);
            close(pidfd);
        }
        close(sv[0]);
        close(sv[1]);
    }
}

int vd__forker_start(const struct vd__box_params *p, int *sock_out, int *pidfd_out,
                     struct vd_errbuf *eb)
{
    int sv[2], pidfd = -1, rc;
    union {
        struct vd__msg_hdr h;
        struct vd__msg_fail f;
    } m;

    *sock_out = *pidfd_out = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return vd_errf(eb, -errno, "socketpair: %s", strerror(errno));
    pid_t pid = clone3_fork(0, &pidfd, -1);
    if (pid < 0) {
        rc = vd_errf(eb, -errno, "clone3 of the forker: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        return rc;
    }
    if (pid == 0) {
        close(sv[0]);
        forker_main(p, sv[1]);
    }
    close(sv[1]);
    ssize_t k = vd__msg_recv(sv[0], &m, sizeof(m), NULL, NULL);
    if (k == (ssize_t)sizeof(m.h) && m.h.type == VD__MSG_READY) {
        *sock_out = sv[0];
        *pidfd_out = pidfd;
        return 0;
    }
    if (k >= (ssize_t)sizeof(m.f) && m.h.type == VD__MSG_FAIL)
        rc = vd_errf(eb, -m.f.err, "forker: %s: %s", m.f.what, strerror(m.f.err));
    else
        rc = vd_errf(eb, VD_EPROTO, "the forker exited during set-up");
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    waitid(P_PIDFD, (id_t)pidfd, NULL, WEXITED);
    close(pidfd);
    close(sv[0]);
    return rc;
}

/* Asks the slot's forker for a box init; 0 with its socket and pidfd. */
static int forker_spawn(int forker, int *sock, int *pidfd, pid_t *pid)
{
    struct vd__msg_hdr h = {.type = VD__MSG_SPAWN, .len = 0};
    union {
        struct vd__msg_spawned s;
        struct vd__msg_fail f;
    } m;
    int fds[2] = {-1, -1}, nfds = 2;
    int rc = vd__msg_send(forker, &h, sizeof(h), NULL, 0);
    if (rc < 0)
        return rc;
    ssize_t k = vd__msg_recv(forker, &m, sizeof(m), fds, &nfds);
    if (k == (ssize_t)sizeof(m.s) && m.s.h.type == VD__MSG_SPAWNED && nfds == 2) {
        *sock = fds[0];
        *pidfd = fds[1];
        *pid = m.s.pid;
        return 0;
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    return VD_EPROTO;
}

int vd__init_spawn(const struct vd__box_params *p, int *sock_out, int *pidfd_out, pid_t *pid_out,
                   int *box_fd_out, struct vd_errbuf *eb)
{
    int sv[2] = {-1, -1}, pidfd = -1, fds[1] = {-1}, nfds = 1, rc;
    int sz = VD__MSG_MAX * 2;
    struct pollfd pf;
    pid_t pid;
    union {
        struct vd__msg_hdr h;
        struct vd__msg_fail f;
    } m;

    *sock_out = *pidfd_out = *box_fd_out = -1;
    if (p->forker_sock >= 0 && forker_spawn(p->forker_sock, &sv[0], &pidfd, &pid) == 0)
        goto started;
    /* No forker (cgroup2, none), or it failed: clone the init here; on v1
     * it then joins the slot's cgroups itself. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return vd_errf(eb, -errno, "socketpair: %s", strerror(errno));
    /* A run request can be 128 KiB; the default buffer is smaller. */
    (void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
    (void)setsockopt(sv[1], SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));

    pid = clone3_fork(BOX_NS_FLAGS, &pidfd, -1);
    if (pid < 0) {
        rc = vd_errf(eb, -errno, "clone3 of the box init: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        close(sv[0]);
        init_main(p, sv[1], p->cg && p->cg->mode == VD_SANDBOX_CGROUP1);
    }
    close(sv[1]);
    sv[1] = -1;
started:
    pf.fd = sv[0];
    pf.events = POLLIN;
    rc = poll(&pf, 1, 10000);
    if (rc <= 0) {
        rc = vd_errf(eb, rc == 0 ? VD_ETIMEDOUT : -errno, "the box init did not start");
        goto kill;
    }
    ssize_t k = vd__msg_recv(sv[0], &m, sizeof(m), fds, &nfds);
    if (k >= (ssize_t)sizeof(m.h) && m.h.type == VD__MSG_READY && nfds == 1) {
        *sock_out = sv[0];
        *pidfd_out = pidfd;
        *pid_out = pid;
        *box_fd_out = fds[0];
        return 0;
    }
    if (k >= (ssize_t)sizeof(m.f) && m.h.type == VD__MSG_FAIL)
        rc = vd_errf(eb, -m.f.err, "box set-up failed: %s: %s", m.f.what, strerror(m.f.err));
    else
        rc = vd_errf(eb, VD_EPROTO, "the box init exited during set-up");
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
kill:
    syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
    waitid(P_PIDFD, (id_t)pidfd, NULL, WEXITED);
out:
    if (pidfd >= 0)
        close(pidfd);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return rc;
}
