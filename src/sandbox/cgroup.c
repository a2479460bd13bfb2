/*
 * cgroup.c - per-slot cgroups: limits, CPU and memory measurement.
 *
 * Theory of operation. Detection at open, in this order unless the caller
 * asks for one mode:
 *   cgroup2  a cgroup2 hierarchy (/sys/fs/cgroup, or /sys/fs/cgroup/unified
 *            on a hybrid host) where we can make a "verdict" directory with
 *            the memory and pids controllers enabled. When our own cgroup
 *            holds processes, the "no internal processes" rule forbids
 *            enabling controllers below it, so the supervisor first moves
 *            itself into a "supervisor" leaf (as isolate's cg-keeper and
 *            go-sandbox's nesting do). Programs are born in their slot's
 *            cgroup by clone3(CLONE_INTO_CGROUP): no attach, no race.
 *   cgroup1  memory, cpuacct and pids hierarchies; per slot one cgroup in
 *            each, made once and reused. The program attaches itself by
 *            writing "0" to the three cgroup.procs files before exec.
 *   none     rlimits and rusage only (the caller does that part).
 *
 * Reused cgroups keep counters between runs, so each run starts from a
 * baseline: v1 resets max_usage_in_bytes and cpuacct.usage; v2 resets
 * memory.peak through our fd (kernel 6.12+) and subtracts the cpu.stat
 * usage_usec read at the start. Page cache charged to the slot by an
 * earlier run stays in memory.current, so the reported peak is the peak
 * minus the usage at the start of the run: what this run added.
 *
 * An explicitly requested cgroup2 mode also works where the hierarchy lacks
 * the memory or pids controller (like the hybrid machines this was written
 * on): CPU accounting, cgroup.kill and CLONE_INTO_CGROUP still work, and the
 * missing parts fall back to rlimits; the result names the memory source.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "sandbox-int.h"

static const char *const v1_ctl[3] = {"memory", "cpuacct", "pids"};

/* snprintf for paths: a truncated path must never be used, so it becomes
 * an empty string, which every open and mkdir refuses. */
VD_PRINTF(3, 4) static void pathf(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(dst, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n)
        dst[0] = '\0';
}

static int read_small(int fd, char *buf, size_t cap)
{
    ssize_t k = pread(fd, buf, cap - 1, 0);
    if (k < 0)
        return -errno;
    buf[k] = '\0';
    return 0;
}

static int read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = read_small(fd, buf, cap);
    close(fd);
    return rc;
}

static int write_fd(int fd, const char *s)
{
    ssize_t len = (ssize_t)strlen(s);
    return pwrite(fd, s, (size_t)len, 0) == len ? 0 : -errno;
}

static int write_path(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = write_fd(fd, s);
    close(fd);
    return rc;
}

static int read_u64(int fd, uint64_t *out)
{
    char buf[64];
    int rc = read_small(fd, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    if (strncmp(buf, "max", 3) == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    *out = strtoull(buf, NULL, 10);
    return 0;
}

/* Value of "key N" in a flat keyed file (cpu.stat, memory.events). */
static int read_key(int fd, const char *key, uint64_t *out)
{
    char buf[2048];
    size_t klen = strlen(key);
    int rc = read_small(fd, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    for (char *line = buf; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            *out = strtoull(line + klen + 1, NULL, 10);
            return 0;
        }
    }
    *out = 0;
    return -ENOENT;
}

/* Our own cgroup path in the hierarchy that has `ctl` (NULL: the v2 one). */
static int own_cgroup(const char *ctl, char *out, size_t cap)
{
    char buf[4096];
    int rc = read_file("/proc/self/cgroup", buf, sizeof(buf));
    if (rc < 0)
        return rc;
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        const char *list = c1 + 1, *path = c2 + 1;
        int match = 0;
        if (!ctl) {
            match = *list == '\0' && strncmp(line, "0:", 2) == 0;
        } else {
            size_t n = strlen(ctl);
            for (const char *p = list; (p = strstr(p, ctl)) != NULL; p += n)
                if ((p == list || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
                    match = 1;
        }
        if (match) {
            pathf(out, cap, "%s", strcmp(path, "/") == 0 ? "" : path);
            return 0;
        }
    }
    return -ENOENT;
}

static int has_word(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; (p = strstr(p, w)) != NULL; p += n)
        if ((p == list || isspace((unsigned char)p[-1])) &&
            (p[n] == '\0' || isspace((unsigned char)p[n])))
            return 1;
    return 0;
}

/* Enables the controllers we use in dir's subtree_control, where offered. */
static int enable_controllers(const char *dir)
{
    static const char *const ctl[] = {"memory", "pids", "cpu"};
    char path[600], avail[512], want[64] = "";
    size_t n = 0;
    int rc;
    pathf(path, sizeof(path), "%s/cgroup.controllers", dir);
    if ((rc = read_file(path, avail, sizeof(avail))) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++)
        if (has_word(avail, ctl[i]))
            n += (size_t)snprintf(want + n, sizeof(want) - n, "+%s ", ctl[i]);
    if (n == 0)
        return 0;
    pathf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
    return write_path(path, want);
}

static int detect_v2(const char *root, int explicit_mode, struct vd__cg *cg, struct vd_errbuf *eb)
{
    struct statfs sf;
    const char *mnt = NULL;
    char own[400], parent[1024], avail[512];
    int rc;

    if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
        mnt = "/sys/fs/cgroup";
    else if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
        mnt = "/sys/fs/cgroup/unified";
    if (!mnt)
        return vd_errf(eb, VD_ENOCGROUP, "no cgroup2 hierarchy is mounted");
    if (root) {
        pathf(cg->v2_base, sizeof(cg->v2_base), "%s", root);
        if (mkdir(root, 0755) < 0 && errno != EEXIST)
            return vd_errf(eb, -errno, "mkdir %s: %s", root, strerror(errno));
    } else {
        if ((rc = own_cgroup(NULL, own, sizeof(own))) < 0)
            return vd_errf(eb, rc, "cannot find our own cgroup2 path");
        pathf(parent, sizeof(parent), "%s%s", mnt, own);
        pathf(cg->v2_base, sizeof(cg->v2_base), "%s/verdict", parent);
        if (mkdir(cg->v2_base, 0755) < 0 && errno != EEXIST)
            return vd_errf(eb, -errno, "mkdir %s: %s", cg->v2_base, strerror(errno));
        rc = enable_controllers(parent);
        if (rc == -EBUSY) {
            /* Processes in our cgroup (us): move into a leaf first. */
            char leaf[600];
            pathf(leaf, sizeof(leaf), "%s/supervisor", parent);
            if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
                return vd_errf(eb, -errno, "mkdir %s: %s", leaf, strerror(errno));
            pathf(leaf, sizeof(leaf), "%s/supervisor/cgroup.procs", parent);
            if ((rc = write_path(leaf, "0")) < 0)
                return vd_errf(eb, rc, "moving the supervisor into %s: %s", leaf, strerror(-rc));
            rc = enable_controllers(parent);
        }
        if (rc < 0)
            return vd_errf(eb, rc, "enabling controllers in %s: %s", parent, strerror(-rc));
    }
    if ((rc = enable_controllers(cg->v2_base)) < 0)
        return vd_errf(eb, rc, "enabling controllers in %s: %s", cg->v2_base, strerror(-rc));
    pathf(parent, sizeof(parent), "%s/cgroup.controllers", cg->v2_base);
    if ((rc = read_file(parent, avail, sizeof(avail))) < 0)
        return vd_errf(eb, rc, "reading %s: %s", parent, strerror(-rc));
    if (!explicit_mode && !(has_word(avail, "memory") && has_word(avail, "pids")))
        return vd_errf(eb, VD_ENOCGROUP,
                       "the cgroup2 hierarchy at %s offers no memory and pids controllers",
                       cg->v2_base);
    cg->mode = VD_SANDBOX_CGROUP2;
    return 0;
}

static int detect_v1(const char *root, struct vd__cg *cg, struct vd_errbuf *eb)
{
    char own[400], probe[700];
    int rc;
    for (int i = 0; i < 3; i++) {
        pathf(probe, sizeof(probe), "/sys/fs/cgroup/%s/cgroup.procs", v1_ctl[i]);
        if (access(probe, W_OK) < 0)
            return vd_errf(eb, VD_ENOCGROUP, "no writable cgroup v1 %s hierarchy", v1_ctl[i]);
        if (root) {
            pathf(cg->v1_base[i], sizeof(cg->v1_base[i]), "/sys/fs/cgroup/%s/%s", v1_ctl[i], root);
        } else {
            if ((rc = own_cgroup(v1_ctl[i], own, sizeof(own))) < 0)
                return vd_errf(eb, rc, "cannot find our own %s cgroup", v1_ctl[i]);
            pathf(cg->v1_base[i], sizeof(cg->v1_base[i]), "/sys/fs/cgroup/%s%s/verdict", v1_ctl[i],
                  own);
        }
        if (mkdir(cg->v1_base[i], 0755) < 0 && errno != EEXIST)
            return vd_errf(eb, -errno, "mkdir %s: %s", cg->v1_base[i], strerror(errno));
    }
    cg->mode = VD_SANDBOX_CGROUP1;
    return 0;
}

int vd__cg_detect(enum vd_sandbox_mode want, const char *root, struct vd__cg *cg,
                  struct vd_errbuf *eb)
{
    struct vd_errbuf e2;
    int rc;

    memset(cg, 0, sizeof(*cg));
    e2.msg[0] = '\0';
    if (want == VD_SANDBOX_NONE) {
        cg->mode = VD_SANDBOX_NONE;
        return 0;
    }
    if (want == VD_SANDBOX_AUTO || want == VD_SANDBOX_CGROUP2) {
        rc = detect_v2(root, want == VD_SANDBOX_CGROUP2, cg, want == VD_SANDBOX_CGROUP2 ? eb : &e2);
        if (rc == 0 || want == VD_SANDBOX_CGROUP2)
            return rc;
    }
    rc = detect_v1(root, cg, want == VD_SANDBOX_CGROUP1 ? eb : &e2);
    if (rc == 0 || want == VD_SANDBOX_CGROUP1)
        return rc;
    cg->mode = VD_SANDBOX_NONE;
    return 0;
}

static int open_in(const char *dir, const char *file, int flags, int optional, int *out)
{
    char path[700];
    pathf(path, sizeof(path), "%s/%s", dir, file);
    *out = open(path, flags | O_CLOEXEC);
    if (*out < 0 && !(optional && errno == ENOENT))
        return -errno;
    return 0;
}

/* Kills what a crashed earlier supervisor may have left in a slot cgroup. */
static void kill_leftovers(const char *dir)
{
    char path[700], buf[4096];
    pathf(path, sizeof(path), "%s/cgroup.procs", dir);
    for (int round = 0; round < 50; round++) {
        if (read_file(path, buf, sizeof(buf)) < 0 || buf[0] == '\0')
            return;
        for (char *p = strtok(buf, "\n"); p; p = strtok(NULL, "\n"))
            kill((pid_t)strtol(p, NULL, 10), SIGKILL);
        usleep(2000);
    }
}

int vd__cg_slot_open(const struct vd__cg *cg, unsigned uid, struct vd__cg_slot *s,
                     struct vd_errbuf *eb)
{
    int rc = 0;
    const int RW = O_RDWR;

    memset(s, 0, sizeof(*s));
    s->mode = cg->mode;
    s->dir_fd = s->mem_max_fd = s->memsw_max_fd = s->mem_peak_fd = s->mem_cur_fd = -1;
    s->mem_events_fd = s->cpu_fd = s->pids_max_fd = s->pids_cur_fd = s->kill_fd = -1;
    s->failcnt_fd = -1;
    for (int i = 0; i < 3; i++)
        s->procs_fd[i] = -1;
    if (cg->mode == VD_SANDBOX_NONE)
        return 0;

    if (cg->mode == VD_SANDBOX_CGROUP2) {
        const char *d = s->path[0];
        pathf(s->path[0], sizeof(s->path[0]), "%s/slot-%u", cg->v2_base, uid);
        if (mkdir(d, 0755) < 0 && errno != EEXIST) {
            rc = vd_errf(eb, -errno, "mkdir %s: %s", d, strerror(errno));
            goto out;
        }
        kill_leftovers(d);
        s->dir_fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dir_fd < 0 || (rc = open_in(d, "cpu.stat", O_RDONLY, 0, &s->cpu_fd)) < 0 ||
            (rc = open_in(d, "cgroup.kill", O_WRONLY, 1, &s->kill_fd)) < 0 ||
            (rc = open_in(d, "memory.max", RW, 1, &s->mem_max_fd)) < 0 ||
            (rc = open_in(d, "memory.swap.max", RW, 1, &s->memsw_max_fd)) < 0 ||
            (rc = open_in(d, "memory.peak", RW, 1, &s->mem_peak_fd)) < 0 ||
            (rc = open_in(d, "memory.current", O_RDONLY, 1, &s->mem_cur_fd)) < 0 ||
            (rc = open_in(d, "memory.events", O_RDONLY, 1, &s->mem_events_fd)) < 0 ||
            (rc = open_in(d, "pids.max", RW, 1, &s->pids_max_fd)) < 0) {
            rc = vd_errf(eb, rc ? rc : -errno, "opening the files of %s: %s", d,
                         strerror(rc ? -rc : errno));
            goto out;
        }
        return 0;
    }

    for (int i = 0; i < 3; i++) {
        pathf(s->path[i], sizeof(s->path[i]), "%s/slot-%u", cg->v1_base[i], uid);
        if (mkdir(s->path[i], 0755) < 0 && errno != EEXIST) {
            rc = vd_errf(eb, -errno, "mkdir %s: %s", s->path[i], strerror(errno));
            goto out;
        }
        kill_leftovers(s->path[i]);
        if ((rc = open_in(s->path[i], "cgroup.procs", O_WRONLY, 0, &s->procs_fd[i])) < 0) {
            rc = vd_errf(eb, rc, "opening %s/cgroup.procs: %s", s->path[i], strerror(-rc));
            goto out;
        }
    }
    if ((rc = open_in(s->path[0], "memory.limit_in_bytes", RW, 0, &s->mem_max_fd)) < 0 ||
        (rc = open_in(s->path[0], "memory.memsw.limit_in_bytes", RW, 1, &s->memsw_max_fd)) < 0 ||
        (rc = open_in(s->path[0], "memory.max_usage_in_bytes", RW, 0, &s->mem_peak_fd)) < 0 ||
        (rc = open_in(s->path[0], "memory.usage_in_bytes", O_RDONLY, 0, &s->mem_cur_fd)) < 0 ||
        (rc = open_in(s->path[0], "memory.oom_control", O_RDONLY, 0, &s->mem_events_fd)) < 0 ||
        (rc = open_in(s->path[0], "memory.failcnt", O_RDONLY, 1, &s->failcnt_fd)) < 0 ||
        (rc = open_in(s->path[1], "cpuacct.usage", RW, 0, &s->cpu_fd)) < 0 ||
        (rc = open_in(s->path[2], "pids.max", RW, 0, &s->pids_max_fd)) < 0 ||
        (rc = open_in(s->path[2], "pids.current", O_RDONLY, 0, &s->pids_cur_fd)) < 0) {
        rc = vd_errf(eb, rc, "opening the cgroup v1 files of slot %u: %s", uid, strerror(-rc));
        goto out;
    }
    return 0;
out:
    vd__cg_slot_close(s);
    return rc;
}

void vd__cg_slot_close(struct vd__cg_slot *s)
{
    int *fds[] = {&s->dir_fd,      &s->mem_max_fd,    &s->memsw_max_fd, &s->mem_peak_fd,
                  &s->mem_cur_fd,  &s->mem_events_fd, &s->cpu_fd,       &s->pids_max_fd,
                  &s->kill_fd,     &s->procs_fd[0],   &s->procs_fd[1],  &s->procs_fd[2],
                  &s->pids_cur_fd, &s->failcnt_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
    /* The directories stay: they are reused by the next pool on this host,
     * and rmdir would fail anyway while a process lingers. */
}

/* v1 refuses a memory limit above memsw, and memsw below the memory limit:
 * the order of the two writes depends on the direction of the change. */
static int set_mem_limit(struct vd__cg_slot *s, const char *v)
{
    int rc;
    if (s->mode == VD_SANDBOX_CGROUP2) {
        if ((rc = write_fd(s->mem_max_fd, v)) < 0)
            return rc;
        /* No swap: memory would otherwise spill past the limit and the
         * timing of the run would depend on the disk. */
        return s->memsw_max_fd >= 0 ? write_fd(s->memsw_max_fd, "0") : 0;
    }
    if (s->memsw_max_fd < 0)
        return write_fd(s->mem_max_fd, v);
    rc = write_fd(s->mem_max_fd, v);
    if (rc == -EINVAL) {
        if ((rc = write_fd(s->memsw_max_fd, v)) < 0)
            return rc;
        return write_fd(s->mem_max_fd, v);
    }
    if (rc < 0)
        return rc;
    return write_fd(s->memsw_max_fd, v);
}

static int oom_count(struct vd__cg_slot *s, uint64_t *n)
{
    *n = 0;
    if (s->mem_events_fd < 0)
        return 0;
    int rc = read_key(s->mem_events_fd, "oom_kill", n);
    return rc == -ENOENT ? 0 : rc;
}

/* How often the cgroup's usage hit its limit (v1 memory.failcnt, v2 the
 * "max" count of memory.events). */
static int limit_hits(struct vd__cg_slot *s, uint64_t *n)
{
    int rc;
    *n = 0;
    if (s->mode == VD_SANDBOX_CGROUP1)
        return s->failcnt_fd >= 0 ? read_u64(s->failcnt_fd, n) : 0;
    if (s->mem_events_fd < 0)
        return 0;
    rc = read_key(s->mem_events_fd, "max", n);
    return rc == -ENOENT ? 0 : rc;
}

int vd__cg_begin(struct vd__cg_slot *s, const struct vd_sandbox_limits *l, struct vd_errbuf *eb)
{
    char v[32];
    int rc;

    if (s->mode == VD_SANDBOX_NONE)
        return 0;
    if (s->mem_max_fd >= 0) {
        if (l->memory_kb)
            snprintf(v, sizeof(v), "%" PRIu64, l->memory_kb * 1024);
        else
            snprintf(v, sizeof(v), "%s", s->mode == VD_SANDBOX_CGROUP2 ? "max" : "-1");
        if ((rc = set_mem_limit(s, v)) < 0)
            return vd_errf(eb, rc, "setting the memory limit: %s", strerror(-rc));
        /* Peak since now. v2 needs 6.12+; older kernels report the peak
         * since the slot was made, which is still an upper bound. */
        (void)write_fd(s->mem_peak_fd, s->mode == VD_SANDBOX_CGROUP2 ? "reset" : "0");
        if ((rc = read_u64(s->mem_cur_fd, &s->mem_base)) < 0)
            return vd_errf(eb, rc, "reading memory usage: %s", strerror(-rc));
        if ((rc = oom_count(s, &s->oom_base)) < 0 || (rc = limit_hits(s, &s->hits_base)) < 0)
            return vd_errf(eb, rc, "reading the OOM counters: %s", strerror(-rc));
    }
    if (s->pids_max_fd >= 0) {
        /* On v1 the slot's forker and box inits are members too (see
         * vd__forker_start): what is there before the run is not the
         * program's. */
        uint64_t there = 0;
        if (s->mode == VD_SANDBOX_CGROUP1 && s->pids_cur_fd >= 0 &&
            (rc = read_u64(s->pids_cur_fd, &there)) < 0)
            return vd_errf(eb, rc, "reading pids.current: %s", strerror(-rc));
        if (l->procs)
            snprintf(v, sizeof(v), "%" PRIu64, (uint64_t)l->procs + there);
        else
            snprintf(v, sizeof(v), "max");
        if ((rc = write_fd(s->pids_max_fd, v)) < 0)
            return vd_errf(eb, rc, "setting pids.max: %s", strerror(-rc));
    }
    if (s->mode == VD_SANDBOX_CGROUP1) {
        if ((rc = write_fd(s->cpu_fd, "0")) < 0)
            return vd_errf(eb, rc, "resetting cpuacct.usage: %s", strerror(-rc));
        s->cpu_base_us = 0;
    } else if ((rc = read_key(s->cpu_fd, "usage_usec", &s->cpu_base_us)) < 0) {
        return vd_errf(eb, rc, "reading cpu.stat: %s", strerror(-rc));
    }
    return 0;
}

int vd__cg_cpu_us(struct vd__cg_slot *s, uint64_t *out)
{
    uint64_t v = 0;
    int rc;
    if (s->mode == VD_SANDBOX_CGROUP1) {
        rc = read_u64(s->cpu_fd, &v); /* nanoseconds */
        v /= 1000;
    } else {
        rc = read_key(s->cpu_fd, "usage_usec", &v);
    }
    if (rc < 0)
        return rc;
    *out = v > s->cpu_base_us ? v - s->cpu_base_us : 0;
    return 0;
}

int vd__cg_end(struct vd__cg_slot *s, uint64_t *cpu_us, uint64_t *mem_kb, int *oom, int *limit_hit)
{
    uint64_t peak = 0, n = 0, hits = 0;
    int rc;

    *mem_kb = 0;
    *oom = 0;
    *limit_hit = 0;
    if ((rc = vd__cg_cpu_us(s, cpu_us)) < 0)
        return rc;
    if (s->mem_peak_fd < 0)
        return 0;
    if ((rc = read_u64(s->mem_peak_fd, &peak)) < 0 || (rc = oom_count(s, &n)) < 0 ||
        (rc = limit_hits(s, &hits)) < 0)
        return rc;
    *mem_kb = (peak > s->mem_base ? peak - s->mem_base : 0) / 1024;
    *oom = n > s->oom_base;
    *limit_hit = hits > s->hits_base;
    return 0;
}

int vd__cg_kill(struct vd__cg_slot *s)
{
    if (s->kill_fd < 0)
        return -ENOTSUP;
    return write_fd(s->kill_fd, "1");
}
