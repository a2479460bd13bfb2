/*
 * sandbox-int.h - what the files of src/sandbox share, and nothing else does.
 *
 * Processes:
 *   supervisor  the caller of vd_box_run() (a worker thread); polls cgroup
 *               counters, reads the program's output, enforces wall time.
 *   box init    pid 1 of the box's pid, mount, ipc and uts namespaces; made
 *               by clone3 from the supervisor; builds the root once, then
 *               per run forks the program, reaps the whole tree and reports.
 *   program     forked by the init; locks itself down and execs.
 *
 * The supervisor and the init talk over a SOCK_SEQPACKET socketpair: one
 * message per datagram, fds passed with SCM_RIGHTS. The init is created from
 * a possibly multi-threaded process by a raw clone3, so its code never
 * allocates from the heap nor takes a lock (another thread may have held the
 * malloc lock at the moment of the clone): static buffers only.
 */
#ifndef VD_SANDBOX_INT_H
#define VD_SANDBOX_INT_H

#include <linux/filter.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "vd/sandbox.h"

/* ---- Protocol ---------------------------------------------------------- */

#define VD__MSG_MAX (128 * 1024) /* argv + envp + cwd of one run */

enum vd__msg_type {
    VD__MSG_READY = 1,    /* init -> sup: root built; fd: /box */
    VD__MSG_RESET = 2,    /* sup -> init: fresh /box /tmp /dev/shm */
    VD__MSG_RESET_OK = 3, /* init -> sup; fd: /box */
    VD__MSG_RUN = 4,      /* sup -> init; fds: stdin, stdout, stderr */
    VD__MSG_KILL = 5,     /* sup -> init: kill the run's processes now */
    VD__MSG_DONE = 6,     /* init -> sup: run over, everything reaped */
    VD__MSG_FAIL = 7,     /* init -> sup: the box itself failed */
    VD__MSG_SPAWN = 8,    /* sup -> forker: clone a box init */
    VD__MSG_SPAWNED = 9,  /* forker -> sup; fds: the init's socket and pidfd */
};

/* Where the program's own set-up failed, reported through the error pipe. */
enum vd__stage {
    VD__STAGE_NONE = 0,
    VD__STAGE_IPC,
    VD__STAGE_FDS,
    VD__STAGE_CWD,
    VD__STAGE_RLIMIT,
    VD__STAGE_CAPS,
    VD__STAGE_CREDS,
    VD__STAGE_SECCOMP,
    VD__STAGE_EXEC,
    VD__STAGE_FORK,
};

struct vd__msg_hdr {
    uint32_t type;
    uint32_t len; /* bytes after the header */
};

/* The rlimits the program gets; computed by the supervisor from the run's
 * limits and the mode, applied by the program before exec. */
struct vd__rlimits {
    uint64_t cpu_s; /* 0 = unlimited */
    uint64_t as;    /* bytes, 0 = unlimited */
    uint64_t fsize; /* bytes, 0 = unlimited */
    uint64_t stack; /* bytes, 0 = unlimited */
    uint64_t nofile;
    uint64_t nproc;
};

struct vd__msg_run {
    struct vd__msg_hdr h;
    struct vd__rlimits rl;
    uint32_t flags; /* VD_RUN_* */
    uint32_t argc;
    uint32_t envc;
    /* then argc + envc + 1 (cwd) NUL-terminated strings */
};

struct vd__msg_done {
    struct vd__msg_hdr h;
    int32_t stage;   /* VD__STAGE_NONE when exec succeeded */
    int32_t err;     /* errno of the failed stage */
    int32_t status;  /* wait status of the main process */
    uint64_t cpu_us; /* rusage of every reaped process of the run */
    uint64_t maxrss_kb;
    uint64_t wall_us;     /* fork to the end of the main process */
    uint64_t init_cpu_us; /* the init's own CPU meanwhile (it shares the v1 cgroup) */
};

struct vd__msg_spawned {
    struct vd__msg_hdr h;
    int32_t pid; /* host pid of the new init */
};

struct vd__msg_fail {
    struct vd__msg_hdr h;
    int32_t err;
    char what[200];
};

int vd__msg_send(int sock, const void *msg, size_t len, const int *fds, int nfds) VD_MUST_CHECK;
/* Receives one message into buf (cap bytes); fds received go to fds[] (up to
 * *nfds, which is updated); extra fds are closed. Returns the length. */
ssize_t vd__msg_recv(int sock, void *buf, size_t cap, int *fds, int *nfds);

/* ---- cgroups (cgroup.c) --------------------------------------------------- */

struct vd__cg {
    enum vd_sandbox_mode mode;
    char v2_base[1024];    /* cgroup2: directory holding the slots */
    char v1_base[3][1024]; /* cgroup1: memory, cpuacct, pids parents */
};

struct vd__cg_slot {
    enum vd_sandbox_mode mode;
    char path[3][1100]; /* v2: [0] only; v1: memory, cpuacct, pids */
    int dir_fd;         /* v2: for CLONE_INTO_CGROUP */
    int procs_fd[3];    /* v1: cgroup.procs per controller, for "0" */
    int mem_max_fd;     /* v2 memory.max / v1 memory.limit_in_bytes */
    int memsw_max_fd;   /* v2 memory.swap.max / v1 memory.memsw.limit_in_bytes */
    int mem_peak_fd;    /* v2 memory.peak / v1 memory.max_usage_in_bytes */
    int mem_cur_fd;     /* memory.current / memory.usage_in_bytes */
    int mem_events_fd;  /* v2 memory.events / v1 memory.oom_control */
    int cpu_fd;         /* v2 cpu.stat / v1 cpuacct.usage */
    int pids_max_fd;
    int pids_cur_fd;
    int failcnt_fd; /* v1: memory.failcnt */ /* v1: pids.current, for what is there before a run */
    int kill_fd;                             /* v2 cgroup.kill, -1 when absent */
    /* Per-run baselines. */
    uint64_t cpu_base_us;
    uint64_t mem_base;
    uint64_t oom_base;
    uint64_t hits_base; /* times the usage hit the limit, at the start */
};

int vd__cg_detect(enum vd_sandbox_mode want, const char *root, struct vd__cg *cg,
                  struct vd_errbuf *eb) VD_MUST_CHECK;
int vd__cg_slot_open(const struct vd__cg *cg, unsigned uid, struct vd__cg_slot *s,
                     struct vd_errbuf *eb) VD_MUST_CHECK;
void vd__cg_slot_close(struct vd__cg_slot *s);
/* Sets the run's limits and takes the baselines. */
int vd__cg_begin(struct vd__cg_slot *s, const struct vd_sandbox_limits *l, struct vd_errbuf *eb)
    VD_MUST_CHECK;
/* CPU of the run so far, in microseconds. */
int vd__cg_cpu_us(struct vd__cg_slot *s, uint64_t *out) VD_MUST_CHECK;
/* After the run: CPU, peak memory, whether the OOM killer struck. */
/* After the run: CPU, peak memory, whether the OOM killer struck, and
 * whether the usage hit the limit at all. */
int vd__cg_end(struct vd__cg_slot *s, uint64_t *cpu_us, uint64_t *mem_kb, int *oom, int *limit_hit)
    VD_MUST_CHECK;
/* Kills every process of the slot's cgroup (v2 cgroup.kill); -ENOTSUP on v1. */
int vd__cg_kill(struct vd__cg_slot *s);

/* ---- seccomp (seccomp.c) ------------------------------------------------- */

struct vd__filter {
    struct sock_fprog prog; /* heap, built once at open */
};
int vd__seccomp_build(int allow_locks, struct vd__filter *f, struct vd_errbuf *eb) VD_MUST_CHECK;
void vd__seccomp_free(struct vd__filter *f);

/* ---- the box init (init.c, mounts.c, lockdown.c) ------------------------- */

/* Everything the init and the program need, fixed when the box is made. */
struct vd__box_params {
    unsigned uid, gid;
    const struct vd_sandbox_config *cfg;
    const char *root_dir; /* empty host dir, the new root's mount point */
    int net_fd;           /* the slot's network namespace */
    const struct vd__cg_slot *cg;
    const struct vd__filter *filter;       /* default */
    const struct vd__filter *filter_locks; /* VD_RUN_ALLOW_LOCKS */
    int cap_last;                          /* /proc/sys/kernel/cap_last_cap */
    sigset_t ignored;                      /* signals the supervisor ignores */
    int forker_sock;                       /* the slot's forker (cgroup1), or -1 */
};

/* Creates a box init. On success *sock is the supervisor's end of the
 * control socket, *pidfd a pidfd of the init, *pid its host pid, and *box_fd
 * an O_PATH fd of the box's /box. */
int vd__init_spawn(const struct vd__box_params *p, int *sock, int *pidfd, pid_t *pid, int *box_fd,
                   struct vd_errbuf *eb) VD_MUST_CHECK;

/* cgroup v1 only: starts the slot's forker, a process in the host's
 * namespaces that joins the slot's cgroups once and then clones every box
 * init of the slot (with CLONE_PARENT, so they are the supervisor's
 * children), so that no process ever migrates per box or per run. */
int vd__forker_start(const struct vd__box_params *p, int *sock, int *pidfd, struct vd_errbuf *eb)
    VD_MUST_CHECK;

/* Inside the init (mounts.c): builds the root and pivots into it; returns 0
 * or -errno with what[] naming the step. No heap. */
int vd__mounts_build(const struct vd__box_params *p, char *what, size_t whatlen);
/* Inside the init: new tmpfs on /box, /tmp and /dev/shm. */
int vd__mounts_reset(const struct vd__box_params *p, char *what, size_t whatlen);

/* Inside the program, after fork (lockdown.c): rlimits, credentials,
 * capabilities, no_new_privs, seccomp. Returns 0 or -errno and sets *stage. */
int vd__lockdown(const struct vd__box_params *p, const struct vd__rlimits *rl, unsigned flags,
                 int *stage);

/* ---- the pool (sandbox.c) ------------------------------------------------ */

struct vd__slot {
    int index;
    unsigned uid, gid;
    int lock_fd;
    int net_fd;
    struct vd__cg_slot cg;
    struct vd__box_params params;
    /* The pooled init; -1 when not running. */
    int sock;
    int pidfd;
    pid_t pid;
    int box_fd;
    int forker_sock; /* cgroup1: see vd__forker_start; -1 otherwise */
    int forker_pidfd;
    int in_use;
};

struct vd_box {
    struct vd_sandbox *sb;
    struct vd__slot *slot;
    int fresh;
    int sock, pidfd, box_fd; /* the slot's, or the fresh init's */
    pid_t pid;
    int cancel_fd; /* eventfd; vd_box_cancel() writes it */
    int broken;    /* the init failed: replace it at release */
};

/* ---- files in /box (boxfs.c) ---------------------------------------------- */

/* Writes all of p, retrying short writes and EINTR; 0 or -errno. */
int vd__sandbox_write_all(int fd, const char *p, size_t len);

/* openat2 beneath the box dir with every resolve restriction. */
int vd__box_openat(int box_fd, const char *name, int flags, unsigned mode);

#endif /* VD_SANDBOX_INT_H */
