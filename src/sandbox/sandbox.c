/*
 * sandbox.c - the pool of boxes and the supervisor's side of a run.
 *
 * Theory of operation. vd_sandbox_open() checks that we are root, picks the
 * control mode (cgroup.c), builds the seccomp filters once (seccomp.c), and
 * prepares every slot: its uid/gid, a lock file that keeps two verdict
 * processes from sharing a uid, its empty network namespace (made once and
 * bind-mounted under run_dir, like `ip netns add`, so later processes reuse
 * it), its cgroup, and, with prefork, its box init (init.c).
 *
 * A run (vd_box_run) is driven from the caller's thread: it sets the cgroup
 * limits and baselines, hands the init the argv, the environment and three
 * fds (stdin, and the write ends of two pipes), then polls the pipes, the
 * control socket, the cancel eventfd and a timer. The timer enforces the
 * wall limit and samples the cgroup's CPU counter at an interval that
 * shrinks as the CPU limit nears (so a program is stopped within a few ms
 * of its limit without costing anything to a program that ends quickly).
 * Output past its cap is drained and dropped so the program can never block
 * on a full pipe; the run is killed and marked OLE. When the init reports
 * DONE, every process of the run is already dead and reaped.
 *
 * Status precedence: the sandbox's own failure (IE), then the reason we
 * killed it (TLE, OLE, cancel), then the OOM killer (MLE), then SIGXFSZ
 * (OLE), CPU or wall past its limit (TLE), then a signal or a non-zero exit
 * (RE), else OK.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox-int.h"
#include "vd/clock.h"
#include "vd/alloc.h"

struct vd_sandbox {
    struct vd_sandbox_config cfg; /* strings owned by the pool */
    char *run_dir, *cgroup_root;
    char **binds, **extra_binds;
    char root_dir[512];
    struct vd__cg cg;
    struct vd__filter filter, filter_locks;
    int cap_last;
    sigset_t ignored; /* dispositions the box init must reset */
    long ncpu;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int nslots;
    struct vd__slot *slots;
    /* Fresh box inits already sent SIGKILL, waiting to be reaped: their
     * programs are dead by then, so the slot is free before the init's
     * exit (and its mount namespace teardown) has finished. Under mu. */
    int dying[VD_SANDBOX_MAX_SLOTS];
    int ndying;
};

const char *const vd_sandbox_default_env[] = {
    "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/box", "TMPDIR=/tmp", "LANG=C.UTF-8", NULL,
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* ---- slots ---------------------------------------------------------------- */

/* The slot's empty network namespace: made once per host and uid, kept
 * bind-mounted at run_dir/net-UID. Making one per run would cost about a
 * millisecond and is serialized kernel-wide; one per slot (rather than one
 * shared) keeps abstract unix sockets, which live in the netns, from
 * becoming a channel between boxes. */
static int slot_netns(struct vd_sandbox *sb, unsigned uid, int *out, struct vd_errbuf *eb)
{
    char path[600], nspath[64];
    struct statfs sf;
    int p[2] = {-1, -1}, fd, rc = 0;
    pid_t pid;
    char c;

    snprintf(path, sizeof(path), "%s/net-%u", sb->run_dir, uid);
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd >= 0 && fstatfs(fd, &sf) == 0 && sf.f_type == NSFS_MAGIC) {
        *out = fd;
        return 0;
    }
    close_fd(&fd);
    if (pipe2(p, O_CLOEXEC) < 0)
        return vd_errf(eb, -errno, "pipe: %s", strerror(errno));
    pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNET) < 0 || write(p[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close_fd(&p[1]);
    if (pid < 0 || read(p[0], &c, 1) != 1) {
        rc = vd_errf(eb, -ECHILD, "could not make a network namespace (unshare CLONE_NEWNET)");
        goto out;
    }
    snprintf(nspath, sizeof(nspath), "/proc/%d/ns/net", (int)pid);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        close_fd(&fd);
        /* Best effort: without the bind it still works, only not reused. */
        (void)mount(nspath, path, NULL, MS_BIND, NULL);
    }
    *out = open(nspath, O_RDONLY | O_CLOEXEC);
    if (*out < 0)
        rc = vd_errf(eb, -errno, "open %s: %s", nspath, strerror(errno));
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    close_fd(&p[0]);
    return rc;
}

static void destroy_init(int *sock, int *pidfd, int *box_fd)
{
    close_fd(sock); /* EOF: the init exits by itself */
    if (*pidfd >= 0) {
        syscall(SYS_pidfd_send_signal, *pidfd, SIGKILL, NULL, 0);
        waitid(P_PIDFD, (id_t)*pidfd, NULL, WEXITED);
    }
    close_fd(pidfd);
    close_fd(box_fd);
}

static void reap_dying(struct vd_sandbox *sb, int block);

static int spawn_slot_init(struct vd__slot *s, struct vd_errbuf *eb)
{
    return vd__init_spawn(&s->params, &s->sock, &s->pidfd, &s->pid, &s->box_fd, eb);
}

static void slot_close(struct vd__slot *s)
{
    int none = -1;
    destroy_init(&s->sock, &s->pidfd, &s->box_fd);
    destroy_init(&s->forker_sock, &s->forker_pidfd, &none);
    vd__cg_slot_close(&s->cg);
    close_fd(&s->net_fd);
    close_fd(&s->lock_fd);
}

static int slot_open(struct vd_sandbox *sb, int i, struct vd_errbuf *eb)
{
    struct vd__slot *s = &sb->slots[i];
    char path[600];
    struct passwd *pw;
    int rc;

    s->index = i;
    s->uid = sb->cfg.first_uid + (unsigned)i;
    s->gid = sb->cfg.first_gid + (unsigned)i;
    /* A uid somebody owns would let the box touch their files, and let
     * them signal or trace the box. */
    if ((pw = getpwuid(s->uid)) != NULL)
        return vd_errf(eb, VD_EINVAL,
                       "uid %u belongs to the account \"%s\": choose another first_uid", s->uid,
                       pw->pw_name);
    snprintf(path, sizeof(path), "%s/slot-%u.lock", sb->run_dir, s->uid);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lock_fd < 0)
        return vd_errf(eb, -errno, "open %s: %s", path, strerror(errno));
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0)
        return vd_errf(eb, errno == EWOULDBLOCK ? -EBUSY : -errno,
                       "slot uid %u is in use by another verdict process", s->uid);
    if ((rc = slot_netns(sb, s->uid, &s->net_fd, eb)) < 0)
        return rc;
    if ((rc = vd__cg_slot_open(&sb->cg, s->uid, &s->cg, eb)) < 0)
        return rc;
    s->params.uid = s->uid;
    s->params.gid = s->gid;
    s->params.cfg = &sb->cfg;
    s->params.root_dir = sb->root_dir;
    s->params.net_fd = s->net_fd;
    s->params.cg = &s->cg;
    s->params.filter = &sb->filter;
    s->params.filter_locks = &sb->filter_locks;
    s->params.cap_last = sb->cap_last;
    s->params.ignored = sb->ignored;
    s->params.forker_sock = -1;
    if (s->cg.mode == VD_SANDBOX_CGROUP1) {
        if ((rc = vd__forker_start(&s->params, &s->forker_sock, &s->forker_pidfd, eb)) < 0)
            return rc;
        s->params.forker_sock = s->forker_sock;
    }
    if (sb->cfg.prefork)
        return spawn_slot_init(s, eb);
    return 0;
}

static int read_cap_last(void)
{
    char buf[16] = "";
    int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t k = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (k > 0)
            return (int)strtol(buf, NULL, 10);
    }
    return 63; /* drop every possible one; EINVAL past the last is ignored */
}

/* run_dir holds lock files and namespace mounts: it must be ours alone. */
static int check_run_dir(const char *dir, struct vd_errbuf *eb)
{
    struct stat st;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return vd_errf(eb, -errno, "mkdir %s: %s", dir, strerror(errno));
    if (lstat(dir, &st) < 0)
        return vd_errf(eb, -errno, "stat %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
        return vd_errf(eb, VD_EUNSAFE,
                       "%s must be a directory owned by root and writable by no one else", dir);
    return 0;
}

/* Deep copy of a NULL-terminated list of bind specs; NULL stays NULL. */
static int copy_list(const char *const *in, char ***out, struct vd_errbuf *eb)
{
    int n = 0;
    *out = NULL;
    if (!in)
        return 0;
    while (in[n])
        n++;
    if (n > VD_SANDBOX_MAX_BINDS)
        return vd_errf(eb, VD_EINVAL, "at most %d binds", VD_SANDBOX_MAX_BINDS);
    *out = vd_xcalloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++)
        (*out)[i] = vd_xstrdup(in[i]);
    return 0;
}

static void free_list(char **l)
{
    for (int i = 0; l && l[i]; i++)
        vd_free(l[i]);
    vd_free(l);
}

int vd_sandbox_open(const struct vd_sandbox_config *cfg, struct vd_sandbox **out,
                    struct vd_errbuf *eb)
{
    struct vd_sandbox *sb = NULL;
    int rc = 0;

    *out = NULL;
    if (geteuid() != 0)
        return vd_errf(eb, -EPERM, "the sandbox needs root (namespaces, cgroups, uid switches)");
    if (cfg->slots < 1 || cfg->slots > VD_SANDBOX_MAX_SLOTS)
        return vd_errf(eb, VD_EINVAL, "slots must be 1..%d", VD_SANDBOX_MAX_SLOTS);
    if (cfg->first_uid == 0 || cfg->first_gid == 0 ||
        cfg->first_uid > 0xfffffff0u - (unsigned)cfg->slots ||
        cfg->first_gid > 0xfffffff0u - (unsigned)cfg->slots)
        return vd_errf(eb, VD_EINVAL,
                       "first_uid and first_gid must be non-zero and leave room for the slots");
    if (!cfg->box_size_kb || !cfg->box_inodes || !cfg->tmp_size_kb || !cfg->tmp_inodes)
        return vd_errf(eb, VD_EINVAL, "tmpfs sizes and inode counts must be non-zero");

    sb = vd_xcalloc(1, sizeof(*sb));
    sb->cfg = *cfg;
    sb->run_dir = vd_xstrdup(cfg->run_dir ? cfg->run_dir : "/run/verdict");
    sb->cfg.run_dir = sb->run_dir;
    if (cfg->cgroup_root) {
        sb->cgroup_root = vd_xstrdup(cfg->cgroup_root);
        sb->cfg.cgroup_root = sb->cgroup_root;
    }
    if ((rc = copy_list(cfg->binds, &sb->binds, eb)) < 0 ||
        (rc = copy_list(cfg->extra_binds, &sb->extra_binds, eb)) < 0)
        goto out;
    sb->cfg.binds = (const char *const *)sb->binds;
    sb->cfg.extra_binds = (const char *const *)sb->extra_binds;
    pthread_mutex_init(&sb->mu, NULL);
    pthread_cond_init(&sb->cv, NULL);
    sb->ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (sb->ncpu < 1)
        sb->ncpu = 1;
    sb->cap_last = read_cap_last();
    sigemptyset(&sb->ignored);
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            sigaddset(&sb->ignored, sig);
    }

    if ((rc = check_run_dir(sb->run_dir, eb)) < 0)
        goto out;
    snprintf(sb->root_dir, sizeof(sb->root_dir), "%s/root", sb->run_dir);
    if (mkdir(sb->root_dir, 0755) < 0 && errno != EEXIST) {
        rc = vd_errf(eb, -errno, "mkdir %s: %s", sb->root_dir, strerror(errno));
        goto out;
    }
    if ((rc = vd__cg_detect(cfg->mode, sb->cgroup_root, &sb->cg, eb)) < 0)
        goto out;
    if (sb->cg.mode == VD_SANDBOX_NONE && cfg->require_cgroup) {
        rc = vd_errf(
            eb, VD_ENOCGROUP,
            "cgroups are required (require_cgroup) but neither cgroup2 nor cgroup1 is usable here");
        goto out;
    }
    if ((rc = vd__seccomp_build(0, &sb->filter, eb)) < 0 ||
        (rc = vd__seccomp_build(1, &sb->filter_locks, eb)) < 0)
        goto out;

    sb->slots = vd_xcalloc((size_t)cfg->slots, sizeof(*sb->slots));
    for (int i = 0; i < cfg->slots; i++) {
        struct vd__slot *s = &sb->slots[i];
        s->lock_fd = s->net_fd = s->sock = s->pidfd = s->box_fd = -1;
        s->forker_sock = s->forker_pidfd = -1;
    }
    sb->nslots = cfg->slots;
    for (int i = 0; i < cfg->slots; i++)
        if ((rc = slot_open(sb, i, eb)) < 0)
            goto out;
    *out = sb;
    return 0;
out:
    vd_sandbox_close(sb);
    return rc;
}

void vd_sandbox_close(struct vd_sandbox *sb)
{
    if (!sb)
        return;
    for (int i = 0; i < sb->nslots; i++)
        slot_close(&sb->slots[i]);
    reap_dying(sb, 1);
    vd_free(sb->slots);
    vd__seccomp_free(&sb->filter);
    vd__seccomp_free(&sb->filter_locks);
    free_list(sb->binds);
    free_list(sb->extra_binds);
    vd_free(sb->run_dir);
    vd_free(sb->cgroup_root);
    pthread_mutex_destroy(&sb->mu);
    pthread_cond_destroy(&sb->cv);
    vd_free(sb);
}

enum vd_sandbox_mode vd_sandbox_get_mode(const struct vd_sandbox *sb)
{
    return sb->cg.mode;
}

int vd_sandbox_slots(const struct vd_sandbox *sb)
{
    return sb->nslots;
}

/* ---- boxes ---------------------------------------------------------------- */

/* Frees the hold and gives its slot back to the pool. */
static void box_free(struct vd_box *box)
{
    struct vd_sandbox *sb = box->sb;
    struct vd__slot *s = box->slot;
    close_fd(&box->cancel_fd);
    vd_free(box);
    pthread_mutex_lock(&sb->mu);
    s->in_use = 0;
    pthread_cond_signal(&sb->cv);
    pthread_mutex_unlock(&sb->mu);
}

int vd_box_acquire(struct vd_sandbox *sb, unsigned flags, int timeout_ms, struct vd_box **out,
                   struct vd_errbuf *eb)
{
    struct vd__slot *s = NULL;
    struct timespec dl;
    int rc = 0;

    *out = NULL;
    vd_clock_deadline(CLOCK_REALTIME, timeout_ms >= 0 ? timeout_ms : 0, &dl);
    if (timeout_ms >= 0) {
    }
    pthread_mutex_lock(&sb->mu);
    for (;;) {
        for (int i = 0; i < sb->nslots && !s; i++)
            if (!sb->slots[i].in_use)
                s = &sb->slots[i];
        if (s)
            break;
        if (timeout_ms < 0)
            pthread_cond_wait(&sb->cv, &sb->mu);
        else if (pthread_cond_timedwait(&sb->cv, &sb->mu, &dl) == ETIMEDOUT)
            break;
    }
    if (s)
        s->in_use = 1;
    pthread_mutex_unlock(&sb->mu);
    if (!s)
        return vd_errf(eb, VD_ENOSLOT, "no sandbox slot became free within %d ms", timeout_ms);

    struct vd_box *box = vd_xcalloc(1, sizeof(*box));
    box->sb = sb;
    box->slot = s;
    box->sock = box->pidfd = box->box_fd = -1;
    box->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (box->cancel_fd < 0) {
        rc = vd_errf(eb, -errno, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if (flags & VD_BOX_FRESH) {
        box->fresh = 1;
        rc = vd__init_spawn(&s->params, &box->sock, &box->pidfd, &box->pid, &box->box_fd, eb);
    } else {
        if (s->sock < 0)
            rc = spawn_slot_init(s, eb);
        box->sock = s->sock;
        box->pidfd = s->pidfd;
        box->pid = s->pid;
        box->box_fd = s->box_fd;
    }
    if (rc < 0)
        goto fail;
    *out = box;
    return 0;
fail:
    box_free(box);
    return rc;
}

int vd_box_reset(struct vd_box *box, struct vd_errbuf *eb)
{
    struct vd__msg_hdr h = {.type = VD__MSG_RESET, .len = 0};
    union {
        struct vd__msg_hdr h;
        struct vd__msg_fail f;
    } m;
    int fds[1] = {-1}, nfds = 1, rc;

    if (box->broken)
        return vd_errf(eb, VD_ESANDBOX, "the box failed earlier and cannot be reset");
    if ((rc = vd__msg_send(box->sock, &h, sizeof(h), NULL, 0)) < 0)
        goto broken;
    ssize_t k = vd__msg_recv(box->sock, &m, sizeof(m), fds, &nfds);
    if (k >= (ssize_t)sizeof(m.h) && m.h.type == VD__MSG_RESET_OK && nfds == 1) {
        close_fd(&box->box_fd);
        box->box_fd = fds[0];
        return 0;
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (k >= (ssize_t)sizeof(m.f) && m.h.type == VD__MSG_FAIL) {
        box->broken = 1;
        return vd_errf(eb, VD_ESANDBOX, "box reset failed: %s: %s", m.f.what, strerror(m.f.err));
    }
    rc = k < 0 ? (int)k : VD_EPROTO;
broken:
    box->broken = 1;
    return vd_errf(eb, VD_ESANDBOX, "box reset failed: %s", vd_strerror(rc));
}

/* Reaps the dying inits that have exited; with block, all of them. Under
 * sb->mu (or single-threaded at close). */
static void reap_dying(struct vd_sandbox *sb, int block)
{
    for (int i = 0; i < sb->ndying;) {
        siginfo_t si;
        memset(&si, 0, sizeof(si));
        if (waitid(P_PIDFD, (id_t)sb->dying[i], &si, WEXITED | (block ? 0 : WNOHANG)) < 0 ||
            si.si_pid != 0) {
            close(sb->dying[i]);
            sb->dying[i] = sb->dying[--sb->ndying];
        } else {
            i++;
        }
    }
}

/* Kills a fresh box's init without waiting for it to go. */
static void retire_init(struct vd_sandbox *sb, int *sock, int *pidfd, int *box_fd)
{
    close_fd(sock);
    close_fd(box_fd);
    if (*pidfd < 0)
        return;
    syscall(SYS_pidfd_send_signal, *pidfd, SIGKILL, NULL, 0);
    pthread_mutex_lock(&sb->mu);
    reap_dying(sb, 0);
    if (sb->ndying < VD_SANDBOX_MAX_SLOTS) {
        sb->dying[sb->ndying++] = *pidfd;
        *pidfd = -1;
    }
    pthread_mutex_unlock(&sb->mu);
    if (*pidfd >= 0) /* no room left: wait here */
        destroy_init(sock, pidfd, box_fd);
}

void vd_box_release(struct vd_box *box)
{
    if (!box)
        return;
    struct vd_sandbox *sb = box->sb;
    struct vd__slot *s = box->slot;
    if (box->fresh) {
        retire_init(sb, &box->sock, &box->pidfd, &box->box_fd);
    } else {
        /* Empty the box now, off the next caller's path; a box that cannot
         * be emptied is replaced. */
        if (!box->broken && vd_box_reset(box, NULL) < 0)
            box->broken = 1;
        s->box_fd = box->box_fd;
        if (box->broken)
            destroy_init(&s->sock, &s->pidfd, &s->box_fd);
    }
    box_free(box);
}

void vd_box_cancel(struct vd_box *box)
{
    uint64_t one = 1;
    if (box && box->cancel_fd >= 0)
        (void)!write(box->cancel_fd, &one, sizeof(one));
}

/* ---- one run --------------------------------------------------------------- */

enum kill_reason {
    KILL_NONE = 0,
    KILL_CPU,
    KILL_WALL,
    KILL_OUTPUT,
    KILL_CANCEL
};

struct run_state {
    struct vd_box *box;
    const struct vd_run_spec *spec;
    struct vd_run_result *res;
    enum kill_reason reason;
    uint64_t cap;        /* bytes per stream */
    uint64_t written[2]; /* bytes copied to a sink fd */
};

static void kill_run(struct run_state *st, enum kill_reason why)
{
    struct vd__msg_hdr h = {.type = VD__MSG_KILL, .len = 0};
    if (st->reason != KILL_NONE)
        return;
    st->reason = why;
    /* On v2 the cgroup dies at once, without waiting for the init. */
    if (st->box->slot->cg.mode == VD_SANDBOX_CGROUP2)
        (void)vd__cg_kill(&st->box->slot->cg);
    /* A failed send means the init is gone; the poll loop sees that. */
    (void)!vd__msg_send(st->box->sock, &h, sizeof(h), NULL, 0);
}

/* Moves what is readable from one output pipe to its buffer or sink fd.
 * Past the cap bytes are read and dropped (the program must never block on
 * a full pipe), and the run is killed as OLE. Returns 0 at EOF, 1 when more
 * may come. */
static int pump(struct run_state *st, int i, int fd)
{
    char buf[65536];
    struct vd_buf *b = i == 0 ? &st->res->out : &st->res->err;
    int sink = i == 0 ? st->spec->stdout_fd : st->spec->stderr_fd;
    for (;;) {
        ssize_t k = read(fd, buf, sizeof(buf));
        if (k == 0)
            return 0;
        if (k < 0)
            return errno == EAGAIN || errno == EINTR ? 1 : 0;
        size_t keep = (size_t)k, dropped = 0;
        if (sink >= 0) {
            uint64_t room = st->cap - st->written[i];
            if (keep > room) {
                dropped = keep - (size_t)room;
                keep = (size_t)room;
            }
            for (size_t off = 0; off < keep;) {
                ssize_t w = write(sink, buf + off, keep - off);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w <= 0)
                    break; /* the caller's sink failed: keep draining */
                off += (size_t)w;
            }
            st->written[i] += keep;
        } else {
            long d = vd_buf_add_capped(b, buf, keep);
            dropped = d > 0 ? (size_t)d : 0;
        }
        if (dropped) {
            st->res->output_truncated = 1;
            kill_run(st, KILL_OUTPUT);
        }
    }
}

static int build_run_msg(const struct vd_run_spec *spec, const struct vd__rlimits *rl,
                         struct vd_buf *m)
{
    struct vd__msg_run r;
    const char *const *envp = spec->envp ? spec->envp : vd_sandbox_default_env;
    int rc;

    memset(&r, 0, sizeof(r));
    r.h.type = VD__MSG_RUN;
    r.rl = *rl;
    r.flags = spec->flags;
    while (spec->argv[r.argc])
        r.argc++;
    while (envp[r.envc])
        r.envc++;
    if ((rc = vd_buf_add(m, &r, sizeof(r))) < 0)
        return rc;
    for (uint32_t i = 0; i < r.argc; i++)
        if ((rc = vd_buf_add(m, spec->argv[i], strlen(spec->argv[i]) + 1)) < 0)
            return rc;
    for (uint32_t i = 0; i < r.envc; i++)
        if ((rc = vd_buf_add(m, envp[i], strlen(envp[i]) + 1)) < 0)
            return rc;
    const char *cwd = spec->cwd ? spec->cwd : "/box";
    if ((rc = vd_buf_add(m, cwd, strlen(cwd) + 1)) < 0)
        return rc;
    ((struct vd__msg_run *)m->data)->h.len = (uint32_t)(m->len - sizeof(struct vd__msg_hdr));
    return 0;
}

static const char *stage_name(int stage)
{
    static const char *const names[] = {
        [VD__STAGE_NONE] = "none",         [VD__STAGE_IPC] = "ipc namespace",
        [VD__STAGE_FDS] = "fds",           [VD__STAGE_CWD] = "chdir",
        [VD__STAGE_RLIMIT] = "rlimits",    [VD__STAGE_CAPS] = "capabilities",
        [VD__STAGE_CREDS] = "credentials", [VD__STAGE_SECCOMP] = "seccomp",
        [VD__STAGE_EXEC] = "exec",         [VD__STAGE_FORK] = "fork"};
    return stage >= 0 && (size_t)stage < sizeof(names) / sizeof(names[0]) ? names[stage] : "?";
}

/* A run that would be TLE, but whose cgroup hit its memory limit while the
 * program itself held at least half of it: see decide(). The half keeps a
 * small CPU-bound program from being blamed for stale page cache pressing
 * on the limit. */
static int thrashed(const struct run_state *st, int have_cg_mem, int limit_hit, uint64_t mem_kb,
                    const struct vd__msg_done *d, uint64_t cpu_us, int sig)
{
    const struct vd_sandbox_limits *l = &st->spec->limits;
    int tle = st->reason == KILL_CPU || st->reason == KILL_WALL || sig == SIGXCPU ||
              (l->cpu_ms && cpu_us > (uint64_t)l->cpu_ms * 1000) ||
              (l->wall_ms && d->wall_us > (uint64_t)l->wall_ms * 1000);
    return tle && st->reason != KILL_OUTPUT && have_cg_mem && limit_hit && l->memory_kb &&
           mem_kb * 2 >= l->memory_kb;
}

static void decide(struct run_state *st, const struct vd__msg_done *d, uint64_t cpu_us,
                   uint64_t mem_kb, int have_cg_mem, int oom, int limit_hit)
{
    struct vd_run_result *r = st->res;
    const struct vd_sandbox_limits *l = &st->spec->limits;
    int sig = WIFSIGNALED(d->status) ? WTERMSIG(d->status) : 0;

    r->exit_code = WIFEXITED(d->status) ? WEXITSTATUS(d->status) : -1;
    r->signal = sig;
    r->cpu_us = cpu_us;
    r->wall_us = d->wall_us;
    r->memory_kb = have_cg_mem ? mem_kb : d->maxrss_kb;
    r->memory_source = have_cg_mem ? "cgroup" : "maxrss";
    r->oom_killed = oom;

    if (d->stage != VD__STAGE_NONE) {
        int e = d->err;
        if (d->stage == VD__STAGE_EXEC &&
            (e == ENOENT || e == EACCES || e == ENOEXEC || e == ENOTDIR || e == ELOOP ||
             e == ETXTBSY || e == ENAMETOOLONG || e == E2BIG)) {
            /* The program could not start: its problem, not the box's. */
            r->status = VD_RUN_RE;
            snprintf(r->message, sizeof(r->message), "cannot execute %s: %s", st->spec->argv[0],
                     strerror(e));
        } else {
            r->status = VD_RUN_IE;
            snprintf(r->message, sizeof(r->message), "sandbox set-up failed at %s: %s",
                     stage_name(d->stage), strerror(e));
        }
        return;
    }
    if (st->reason == KILL_CANCEL) {
        r->status = VD_RUN_IE;
        r->cancelled = 1;
        snprintf(r->message, sizeof(r->message), "cancelled");
    } else if (thrashed(st, have_cg_mem, limit_hit, mem_kb, d, cpu_us, sig)) {
        /* Out of time because out of memory: at its limit, the cgroup kept
         * evicting the runtime's own code pages (charged to it when first
         * read) and the program refaulted them until its time ran out,
         * without the OOM killer ever striking. The limit was memory. */
        r->status = VD_RUN_MLE;
        snprintf(r->message, sizeof(r->message),
                 "memory limit of %llu KiB exceeded (reclaim at the limit used up the time)",
                 (unsigned long long)l->memory_kb);
    } else if (st->reason == KILL_CPU ||
               (l->cpu_ms && cpu_us > (uint64_t)l->cpu_ms * 1000 && st->reason != KILL_OUTPUT) ||
               (sig == SIGXCPU)) {
        r->status = VD_RUN_TLE;
        snprintf(r->message, sizeof(r->message), "CPU time limit of %u ms exceeded", l->cpu_ms);
    } else if (st->reason == KILL_WALL || (l->wall_ms && d->wall_us > (uint64_t)l->wall_ms * 1000 &&
                                           st->reason != KILL_OUTPUT)) {
        r->status = VD_RUN_TLE;
        snprintf(r->message, sizeof(r->message), "wall time limit of %u ms exceeded", l->wall_ms);
    } else if (st->reason == KILL_OUTPUT) {
        r->status = VD_RUN_OLE;
        snprintf(r->message, sizeof(r->message), "output limit of %llu KiB exceeded",
                 (unsigned long long)l->output_kb);
    } else if (oom || (!have_cg_mem && l->memory_kb && d->maxrss_kb > l->memory_kb)) {
        r->status = VD_RUN_MLE;
        snprintf(r->message, sizeof(r->message), "memory limit of %llu KiB exceeded%s",
                 (unsigned long long)l->memory_kb, oom ? " (OOM killer)" : "");
    } else if (sig == SIGXFSZ) {
        r->status = VD_RUN_OLE;
        snprintf(r->message, sizeof(r->message), "file size limit of %llu KiB exceeded",
                 (unsigned long long)l->fsize_kb);
    } else if (sig) {
        r->status = VD_RUN_RE;
        snprintf(r->message, sizeof(r->message), "killed by signal %d (%s)%s", sig, strsignal(sig),
                 sig == SIGSYS ? ": forbidden system call or ABI" : "");
    } else if (r->exit_code != 0) {
        r->status = VD_RUN_RE;
        snprintf(r->message, sizeof(r->message), "exited with code %d", r->exit_code);
    } else {
        r->status = VD_RUN_OK;
        snprintf(r->message, sizeof(r->message), "exited normally");
    }
}

static void internal_error(struct vd_run_result *r, int rc, const char *what)
{
    r->status = VD_RUN_IE;
    snprintf(r->message, sizeof(r->message), "%s: %s", what, vd_strerror(rc));
}

/* Seals a memfd we filled: read-only mode (a reopen for writing fails with
 * EACCES before the seal would), no write, no resize, no more seals. */
static int seal(int fd)
{
    if (fchmod(fd, 0444) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0 ||
        lseek(fd, 0, SEEK_SET) < 0)
        return -errno;
    return 0;
}

int vd_sandbox_sealed_data(const void *data, size_t len, int *out)
{
    const char *p = data;
    int rc = 0;
    int fd = memfd_create("stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    *out = -1;
    if (fd < 0)
        return -errno;
    rc = vd__sandbox_write_all(fd, p, len);
    if (rc == 0)
        rc = seal(fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

int vd_sandbox_sealed_input(int src_fd, size_t cap, int *out)
{
    char buf[65536];
    size_t total = 0;
    ssize_t k;
    int rc = 0;
    int fd = memfd_create("stdin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    *out = -1;
    if (fd < 0)
        return -errno;
    while ((k = read(src_fd, buf, sizeof(buf))) != 0) {
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            goto out;
        }
        total += (size_t)k;
        if (total > cap) {
            rc = VD_ETOOBIG;
            goto out;
        }
        if ((rc = vd__sandbox_write_all(fd, buf, (size_t)k)) < 0)
            goto out;
    }
    if ((rc = seal(fd)) < 0)
        goto out;
    *out = fd;
    return 0;
out:
    close(fd);
    return rc;
}

/* A stdin the program could reopen for writing through /proc/self/fd/0
 * would let it change a host file: a regular file writable by anyone but
 * its owner, or owned by the slot, unless sealed against writes. */
static int stdin_is_safe(int fd, const struct vd__slot *s)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return 0;
    if (!S_ISREG(st.st_mode))
        return 1;
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals >= 0 && (seals & F_SEAL_WRITE))
        return 1;
    return !(st.st_mode & (S_IWOTH | S_IWGRP)) && st.st_uid != s->uid;
}

int vd_box_run(struct vd_box *box, const struct vd_run_spec *spec, struct vd_run_result *res)
{
    struct vd_sandbox *sb = box->sb;
    struct vd__cg_slot *cg = &box->slot->cg;
    const struct vd_sandbox_limits *l = &spec->limits;
    struct run_state st;
    struct vd__rlimits rl;
    struct vd_buf msg;
    struct vd_errbuf eb;
    union {
        struct vd__msg_done d;
        struct vd__msg_fail f;
    } reply;
    int out[2] = {-1, -1}, err[2] = {-1, -1}, devnull = -1, rc, done = 0;
    uint64_t t0, cpu_us = 0, mem_kb = 0, next_cpu = 0;
    int oom = 0, limit_hit = 0;

    if (!spec->argv || !spec->argv[0] || !spec->argv[0][0])
        return VD_EINVAL;
    if (spec->stdin_fd >= 0 && !stdin_is_safe(spec->stdin_fd, box->slot))
        return VD_EUNSAFE;
    memset(&st, 0, sizeof(st));
    st.box = box;
    st.spec = spec;
    st.res = res;
    st.cap = l->output_kb ? l->output_kb * 1024 : UINT64_MAX / 2;
    vd_buf_free(&res->out);
    vd_buf_free(&res->err);
    {
        struct vd_buf o = res->out, e = res->err;
        memset(res, 0, sizeof(*res));
        res->out = o;
        res->err = e;
    }
    vd_buf_init(&res->out, (size_t)st.cap);
    vd_buf_init(&res->err, (size_t)st.cap);
    res->mode = cg->mode;
    res->memory_source = "none";
    eb.msg[0] = '\0';

    vd_buf_init(&msg, VD__MSG_MAX);
    memset(&rl, 0, sizeof(rl));
    /* In cgroup modes the supervisor's polling enforces CPU time and the
     * rlimit is a backstop a second later; in mode none it is the limit. */
    rl.cpu_s = l->cpu_ms ? (l->cpu_ms + 999) / 1000 + (cg->mode == VD_SANDBOX_NONE ? 0 : 1) : 0;
    /* Without a memory cgroup, RLIMIT_AS bounds the damage at twice the
     * limit (address space is more than memory: runtimes reserve); the
     * verdict then comes from the peak RSS. */
    if (cg->mem_max_fd < 0 && l->memory_kb && !(spec->flags & VD_RUN_NO_ADDRESS_LIMIT))
        rl.as = l->memory_kb * 1024 * 2;
    rl.fsize = l->fsize_kb * 1024;
    rl.stack = l->stack_kb * 1024;
    rl.nofile = l->nofile ? l->nofile : 64;
    rl.nproc = l->procs;
    if ((rc = build_run_msg(spec, &rl, &msg)) < 0) {
        vd_buf_free(&msg);
        return rc == VD_ETOOBIG ? VD_ETOOBIG : rc;
    }
    if (box->broken) {
        internal_error(res, VD_ESANDBOX, "the box failed earlier");
        goto out;
    }
    {
        uint64_t junk;
        (void)!read(box->cancel_fd, &junk, sizeof(junk)); /* a cancel meant for an earlier run */
    }
    if ((rc = vd__cg_begin(cg, l, &eb)) < 0) {
        internal_error(res, rc, eb.msg);
        goto out;
    }
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
        fcntl(out[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(err[0], F_SETFL, O_NONBLOCK) < 0) {
        internal_error(res, -errno, "pipe");
        goto out;
    }
    int in_fd = spec->stdin_fd;
    if (in_fd < 0) {
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        in_fd = devnull;
    }
    int fds[3] = {in_fd, out[1], err[1]};
    t0 = vd_clock_us();
    if ((rc = vd__msg_send(box->sock, msg.data, msg.len, fds, 3)) < 0) {
        box->broken = 1;
        internal_error(res, rc, "sending the run to the box");
        goto out;
    }
    close_fd(&out[1]);
    close_fd(&err[1]);
    close_fd(&devnull);
    if (l->cpu_ms && cg->mode != VD_SANDBOX_NONE)
        next_cpu = t0 + (uint64_t)l->cpu_ms * 1000 / (uint64_t)sb->ncpu;

    while (!done) {
        struct pollfd pf[5] = {
            {.fd = box->sock, .events = POLLIN},  {.fd = out[0], .events = POLLIN},
            {.fd = err[0], .events = POLLIN},     {.fd = box->cancel_fd, .events = POLLIN},
            {.fd = box->pidfd, .events = POLLIN},
        };
        uint64_t now = vd_clock_us(), wake = UINT64_MAX;
        if (l->wall_ms && st.reason == KILL_NONE)
            wake = t0 + (uint64_t)l->wall_ms * 1000;
        if (next_cpu && st.reason == KILL_NONE && next_cpu < wake)
            wake = next_cpu;
        int timeout = wake == UINT64_MAX ? -1 : wake <= now ? 0 : (int)((wake - now + 999) / 1000);
        if (poll(pf, 5, timeout) < 0 && errno != EINTR) {
            internal_error(res, -errno, "poll");
            kill_run(&st, KILL_CANCEL);
            box->broken = 1;
            goto out;
        }
        if (pf[1].revents && !pump(&st, 0, out[0]))
            close_fd(&out[0]);
        if (pf[2].revents && !pump(&st, 1, err[0]))
            close_fd(&err[0]);
        if (pf[3].revents) {
            uint64_t v;
            (void)!read(box->cancel_fd, &v, sizeof(v));
            kill_run(&st, KILL_CANCEL);
        }
        if (pf[0].revents) {
            ssize_t k = vd__msg_recv(box->sock, &reply, sizeof(reply), NULL, NULL);
            if (k == (ssize_t)sizeof(reply.d) && reply.d.h.type == VD__MSG_DONE) {
                done = 1;
                break;
            }
            box->broken = 1;
            if (k >= (ssize_t)sizeof(reply.f) && reply.f.h.type == VD__MSG_FAIL)
                snprintf(eb.msg, sizeof(eb.msg), "box: %s: %s", reply.f.what,
                         strerror(reply.f.err));
            internal_error(res, k < 0 ? (int)k : VD_EPROTO, eb.msg[0] ? eb.msg : "box init");
            goto out;
        }
        if (pf[4].revents) {
            box->broken = 1;
            internal_error(res, VD_ESANDBOX, "the box init died");
            goto out;
        }
        now = vd_clock_us();
        if (l->wall_ms && now >= t0 + (uint64_t)l->wall_ms * 1000)
            kill_run(&st, KILL_WALL);
        if (next_cpu && now >= next_cpu && st.reason == KILL_NONE) {
            if (vd__cg_cpu_us(cg, &cpu_us) == 0 && cpu_us >= (uint64_t)l->cpu_ms * 1000) {
                kill_run(&st, KILL_CPU);
            } else {
                /* CPU can accrue ncpu times faster than wall time. */
                uint64_t left = (uint64_t)l->cpu_ms * 1000 - cpu_us,
                         step = left / (uint64_t)sb->ncpu;
                step = step < 1000 ? 1000 : step > 50000 ? 50000 : step;
                next_cpu = now + step;
            }
        }
    }
    /* Every process is dead: the pipes reach EOF at once. The bound only
     * guards against a bug, not against the program. */
    for (int i = 0; i < 200 && (out[0] >= 0 || err[0] >= 0); i++) {
        struct pollfd pf[2] = {{.fd = out[0], .events = POLLIN}, {.fd = err[0], .events = POLLIN}};
        if (poll(pf, 2, 10) < 0 && errno != EINTR)
            break;
        if (pf[0].revents && !pump(&st, 0, out[0]))
            close_fd(&out[0]);
        if (pf[1].revents && !pump(&st, 1, err[0]))
            close_fd(&err[0]);
    }
    if (cg->mode != VD_SANDBOX_NONE) {
        if ((rc = vd__cg_end(cg, &cpu_us, &mem_kb, &oom, &limit_hit)) < 0) {
            internal_error(res, rc, "reading the cgroup counters");
            goto out;
        }
        /* On v1 the init lives in the slot's cgroup (see init.c). */
        if (cg->mode == VD_SANDBOX_CGROUP1)
            cpu_us = cpu_us > reply.d.init_cpu_us ? cpu_us - reply.d.init_cpu_us : 0;
    } else {
        cpu_us = reply.d.cpu_us;
    }
    decide(&st, &reply.d, cpu_us, mem_kb, cg->mem_peak_fd >= 0, oom, limit_hit);
out:
    close_fd(&out[0]);
    close_fd(&out[1]);
    close_fd(&err[0]);
    close_fd(&err[1]);
    close_fd(&devnull);
    vd_buf_free(&msg);
    return 0;
}
