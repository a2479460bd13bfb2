/*
 * sandbox.h - run untrusted programs in an isolated, limited and measured box.
 *
 * A struct vd_sandbox is a pool of slots. Each slot owns, for the life of the
 * pool, a uid/gid that nothing else on the host uses, an empty network
 * namespace made once, and (when cgroups are usable) a cgroup reused for every
 * run. A pooled slot also keeps a long-lived box init: pid 1 of its own pid,
 * mount, ipc and uts namespaces, with the minimal root already pivoted into.
 * A run then costs one fork inside the box, a fresh IPC namespace, a tmpfs
 * reset and a few cgroup writes. A "fresh" box builds all of that for one run
 * and throws it away, for callers who want nothing shared with an earlier run.
 *
 * Use:
 *     vd_sandbox_open(&cfg, &sb, &eb);            once, before threads start
 *     vd_box_acquire(sb, 0, -1, &box, &eb);       take a slot (blocks)
 *     vd_box_put_file(box, "a.c", src, n, 0644, &eb);
 *     vd_box_run(box, &spec, &res);               as often as needed
 *     vd_box_read_file(box, "a.out", cap, &buf, &eb);
 *     vd_box_release(box);                        slot back to the pool
 *     vd_sandbox_close(sb);
 *
 * Threads: different boxes may be used from different threads at once; one
 * box is used by one thread at a time, except vd_box_cancel(), which any
 * thread may call. The process that opens the pool should not be setuid and
 * must be root (namespaces, cgroups and uid switches need it).
 *
 * Host-side safety: every file the supervisor touches inside a box is opened
 * relative to a directory fd of the box's /box with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV, never by a
 * path a program could have planted a link in.
 *
 * Errors: int functions return 0 or a negative VD_E* / -errno code, and put a
 * sentence in the struct vd_errbuf when one is given. vd_box_run() returns 0
 * whenever it filled in the result, including status VD_RUN_IE: "the sandbox
 * failed" is a result to report, kept apart from "the program failed".
 */
#ifndef VD_SANDBOX_H
#define VD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include "vd/buf.h"
#include "vd/err.h"

/* How limits are enforced and measured. Detected at open; every result says
 * which one measured it. */
enum vd_sandbox_mode {
    VD_SANDBOX_AUTO = 0,    /* config only: detect */
    VD_SANDBOX_CGROUP2 = 1, /* delegated v2 subtree, clone3(CLONE_INTO_CGROUP) */
    VD_SANDBOX_CGROUP1 = 2, /* pre-created per-slot v1 cgroups, reused */
    VD_SANDBOX_NONE = 3,    /* rlimits + rusage, distinct uid per slot */
};
const char *vd_sandbox_mode_name(enum vd_sandbox_mode m); /* "cgroup2", "cgroup1", "none" */
int vd_sandbox_mode_parse(const char *s, enum vd_sandbox_mode *out) VD_MUST_CHECK;

enum vd_run_status {
    VD_RUN_OK = 0,  /* exited 0 within every limit */
    VD_RUN_TLE = 1, /* CPU or wall time limit */
    VD_RUN_MLE = 2, /* memory limit */
    VD_RUN_OLE = 3, /* output cap or file-size limit */
    VD_RUN_RE = 4,  /* non-zero exit or fatal signal */
    VD_RUN_IE = 5,  /* the sandbox itself failed; not the program's fault */
};
const char *vd_run_status_name(enum vd_run_status s); /* "OK", "TLE", ... */

#define VD_SANDBOX_MAX_SLOTS 256
#define VD_SANDBOX_MAX_BINDS 64

struct vd_sandbox_config {
    int slots;                 /* boxes in the pool; default: online CPUs */
    unsigned first_uid;        /* slot i runs as first_uid + i */
    unsigned first_gid;        /* slot i runs as first_gid + i */
    enum vd_sandbox_mode mode; /* AUTO: v2, else v1, else none */
    int require_cgroup;        /* refuse to open in mode none */
    int prefork;               /* start every slot's box init at open */
    /* cgroup v2: a delegated directory we may write (default: a "verdict"
     * child of our own cgroup). cgroup v1: the path under each controller's
     * mount (default: our own cgroup in that controller + "/verdict"). */
    const char *cgroup_root;
    const char *run_dir; /* host dir for the boxes' mount points */
    /* Read-only, nosuid, nodev binds into every box: "SRC" or "SRC:DST",
     * NULL-terminated; NULL means the defaults (/usr /bin /lib /lib64
     * /lib32 /etc/alternatives /etc/ld.so.cache /etc/java-*). A source that
     * is a symlink becomes the same symlink in the box. A missing source is
     * skipped. */
    const char *const *binds;
    const char *const *extra_binds; /* added to binds (or to the defaults) */
    uint64_t box_size_kb;           /* tmpfs /box */
    uint64_t box_inodes;
    uint64_t tmp_size_kb; /* tmpfs /tmp and /dev/shm, each */
    uint64_t tmp_inodes;
};
void vd_sandbox_config_defaults(struct vd_sandbox_config *c);

struct vd_sandbox_limits {
    uint32_t cpu_ms;    /* CPU time of the whole process tree; 0 = none */
    uint32_t wall_ms;   /* 0 = none (a run still ends when its main exits) */
    uint64_t memory_kb; /* 0 = none */
    uint32_t procs;     /* processes + threads alive at once */
    uint64_t output_kb; /* cap on each captured stream; passing it is OLE */
    uint64_t fsize_kb;  /* largest file the program may write; 0 = none */
    uint64_t stack_kb;  /* 0 = unlimited (still bounded by memory) */
    uint32_t nofile;    /* open files per process */
};
void vd_sandbox_limits_defaults(struct vd_sandbox_limits *l);

#define VD_RUN_ALLOW_LOCKS 1u      /* let flock/fcntl locks through the filter */
#define VD_RUN_NO_ADDRESS_LIMIT 2u /* mode none: no RLIMIT_AS (JVM, Go, .NET reserve) */

struct vd_run_spec {
    const char *const *argv; /* argv[0] is looked up on PATH inside the box */
    const char *const *envp; /* NULL: PATH, HOME=/box, TMPDIR=/tmp, LANG=C.UTF-8 */
    const char *cwd;         /* inside the box; NULL: /box */
    struct vd_sandbox_limits limits;
    /* Host fd the program reads (the caller keeps it); -1: /dev/null. A
     * pipe, or a file the slot uid cannot write: the program can reopen a
     * file through /proc/self/fd/0, so a file writable by others is refused
     * (VD_EUNSAFE); vd_sandbox_sealed_input() makes a safe copy. */
    int stdin_fd;
    int stdout_fd; /* -1: capture into result.out; else copy there, capped */
    int stderr_fd; /* -1: capture into result.err; else copy there, capped */
    unsigned flags;
};
void vd_run_spec_init(struct vd_run_spec *s); /* defaults, fds -1 */

/* A copy of what src_fd reads (to its end) in a sealed memfd, at offset 0,
 * for spec.stdin_fd: the program sees no host path and can write nothing
 * through /proc/self/fd/0. *out is the new fd (close-on-exec, the caller's).
 * Fails with VD_ETOOBIG past cap bytes. */
int vd_sandbox_sealed_input(int src_fd, size_t cap, int *out) VD_MUST_CHECK;

/* The same from memory: len bytes of data in a sealed, read-only memfd. */
int vd_sandbox_sealed_data(const void *data, size_t len, int *out) VD_MUST_CHECK;

/* The environment a program gets when spec.envp is NULL. */
extern const char *const vd_sandbox_default_env[];

struct vd_run_result {
    enum vd_run_status status;
    enum vd_sandbox_mode mode;
    int exit_code;   /* -1 when killed by a signal */
    int signal;      /* 0 when it exited */
    uint64_t cpu_us; /* user+system of every process of the run */
    uint64_t wall_us;
    uint64_t memory_kb; /* cgroup peak, or the largest maxrss in mode none */
    int oom_killed;
    int output_truncated;      /* a stream passed its cap */
    int cancelled;             /* vd_box_cancel() ended it */
    const char *memory_source; /* "cgroup" or "maxrss" (static storage) */
    char message[256];         /* why, in one sentence */
    struct vd_buf out;         /* captured stdout when spec.stdout_fd < 0 */
    struct vd_buf err;         /* captured stderr when spec.stderr_fd < 0 */
};
void vd_run_result_init(struct vd_run_result *r);
void vd_run_result_free(struct vd_run_result *r);

/* The record of a run as one JSON object (status, exit_code, signal, cpu_ms,
 * wall_ms, memory_kb, mode, message, ...), appended to out. */
int vd_run_result_json(const struct vd_run_result *r, struct vd_buf *out) VD_MUST_CHECK;

struct vd_sandbox; /* the pool; opaque */
struct vd_box;     /* one slot while a caller holds it; opaque */

int vd_sandbox_open(const struct vd_sandbox_config *cfg, struct vd_sandbox **out,
                    struct vd_errbuf *eb) VD_MUST_CHECK;
void vd_sandbox_close(struct vd_sandbox *sb); /* NULL is a no-op */
enum vd_sandbox_mode vd_sandbox_get_mode(const struct vd_sandbox *sb);
int vd_sandbox_slots(const struct vd_sandbox *sb);

#define VD_BOX_FRESH 1u /* new namespaces and mount tree for this hold only */

/* Takes a free slot, waiting up to timeout_ms (-1: forever; VD_ENOSLOT when
 * none came). The box starts with an empty /box, /tmp and /dev/shm. */
int vd_box_acquire(struct vd_sandbox *sb, unsigned flags, int timeout_ms, struct vd_box **out,
                   struct vd_errbuf *eb) VD_MUST_CHECK;
/* Kills anything left, forgets the files, returns the slot. NULL: no-op. */
void vd_box_release(struct vd_box *box);
/* Empties /box, /tmp and /dev/shm again. */
int vd_box_reset(struct vd_box *box, struct vd_errbuf *eb) VD_MUST_CHECK;

/* Files in /box. name is relative to /box, may hold '/' for subdirectories
 * that exist already, and never resolves through a symlink or "..". */
int vd_box_put_file(struct vd_box *box, const char *name, const void *data, size_t len,
                    unsigned mode, struct vd_errbuf *eb) VD_MUST_CHECK;
int vd_box_mkdir(struct vd_box *box, const char *name, struct vd_errbuf *eb) VD_MUST_CHECK;
/* Copies a host directory tree (regular files, directories, symlinks as
 * links) into /box. host_dir is trusted: it comes from our caller. */
int vd_box_copy_dir(struct vd_box *box, const char *host_dir, struct vd_errbuf *eb) VD_MUST_CHECK;
/* Reads a regular file of /box, at most cap bytes (VD_ETOOBIG past it).
 * A symlink, a FIFO, a device or a path leaving /box gives VD_EUNSAFE. */
int vd_box_read_file(struct vd_box *box, const char *name, size_t cap, struct vd_buf *out,
                     struct vd_errbuf *eb) VD_MUST_CHECK;

/* Copies every regular file and directory of /box into host_dir (an empty
 * directory of the caller's), at most max_bytes and max_files in all
 * (VD_ETOOBIG past them). Links, FIFOs, devices and sockets are skipped and
 * never followed; names come from the box's own directories. */
int vd_box_export(struct vd_box *box, const char *host_dir, uint64_t max_bytes, size_t max_files,
                  struct vd_errbuf *eb) VD_MUST_CHECK;

/* Runs one program. Returns 0 with res filled in (res must have been
 * initialised with vd_run_result_init; its buffers are reused), or a
 * negative code for a caller mistake (bad spec). */
int vd_box_run(struct vd_box *box, const struct vd_run_spec *spec, struct vd_run_result *res)
    VD_MUST_CHECK;
/* Ends the current run of box at once (its processes are killed); safe from
 * any thread; a no-op when nothing runs. The run's result says cancelled. */
void vd_box_cancel(struct vd_box *box);

#endif /* VD_SANDBOX_H */
