/*
 * mounts.c - the box's root filesystem, built inside the box init.
 *
 * Theory of operation: the init runs in a new mount namespace. It makes all
 * mounts private (nothing it does propagates to the host), mounts a small
 * tmpfs on an empty host directory as the new root, binds the toolchain
 * directories into it read-only, nosuid and nodev, writes a few /etc files,
 * builds a minimal /dev, mounts a /proc of the box's own pid namespace with
 * hidepid=2, and pivot_roots into it, detaching the old root entirely
 * (pivot_root, not chroot: a chroot can be left by a process with a
 * directory fd outside it). The root tmpfs is then made read-only. /box,
 * /tmp and /dev/shm are separate size- and inode-capped tmpfs mounts owned
 * by the slot uid, replaced by vd__mounts_reset() before each use so that
 * nothing a run wrote survives into the next one.
 *
 * Runs in the init: no heap, no locks (see sandbox-int.h). Paths are built in
 * fixed buffers and a step that does not fit fails with ENAMETOOLONG.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sandbox-int.h"

/* Used when the configuration names no binds. On a merged-/usr system /bin,
 * /lib, /lib64 and /sbin are symlinks and become the same symlinks. */
static const char *const default_binds[] = {
    "/usr",
    "/bin",
    "/lib",
    "/lib64",
    "/lib32",
    "/libx32",
    "/sbin",
    "/etc/alternatives", /* Debian's links to java, javac, ... */
    "/etc/ld.so.cache",  /* fast library lookup */
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/java-17-openjdk", /* the JDK's config files are links into /etc */
    "/etc/localtime",
    NULL,
};

/* /proc files that describe the whole host rather than the box. */
static const char *const proc_masked[] = {
    "kcore",         "key-users", "keys",       "timer_list", "sched_debug", "sysrq-trigger",
    "latency_stats", "kallsyms",  "kpagecount", "kpageflags", "vmallocinfo", "slabinfo",
};

static int fail(char *what, size_t n, const char *step, const char *path)
{
    int e = errno ? errno : EINVAL;
    snprintf(what, n, "%s %s", step, path ? path : "");
    return -e;
}

static int join3(char *dst, size_t n, const char *a, const char *b, const char *c)
{
    int k = snprintf(dst, n, "%s%s%s", a, b, c);
    if (k < 0 || (size_t)k >= n) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

static int join(char *dst, size_t n, const char *a, const char *b)
{
    return join3(dst, n, a, b, "");
}

/* mkdir -p for a path inside the new root; the first `skip` bytes (the
 * root itself) exist already and are not walked again. */
static int mkdirs(const char *path, size_t skip, mode_t mode)
{
    char buf[512];
    size_t len = strlen(path);
    if (len >= sizeof(buf) || skip > len) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + (skip ? skip : 1); *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -1;
    return 0;
}

static int parent_dirs(const char *path, size_t skip)
{
    char buf[512];
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash - path) : 0;
    if (len == 0)
        return 0;
    if (len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len);
    buf[len] = '\0';
    return mkdirs(buf, skip, 0755);
}

/* A read-only, nosuid, nodev bind of src at root+dst, or the same symlink
 * when src is one. A bind needs a second mount call to apply the flags: the
 * kernel ignores MS_RDONLY on the first. */
static int bind_one(const char *root, const char *src, const char *dst, char *what, size_t n)
{
    char target[512], link[512];
    struct stat st;

    if (lstat(src, &st) < 0)
        return 0; /* not on this host: skip */
    if (join(target, sizeof(target), root, dst) < 0 || parent_dirs(target, strlen(root)) < 0)
        return fail(what, n, "prepare", dst);
    if (S_ISLNK(st.st_mode)) {
        ssize_t k = readlink(src, link, sizeof(link) - 1);
        if (k < 0)
            return fail(what, n, "readlink", src);
        link[k] = '\0';
        if (symlink(link, target) < 0 && errno != EEXIST)
            return fail(what, n, "symlink", dst);
        return 0;
    }
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(target, 0755) < 0 && errno != EEXIST)
            return fail(what, n, "mkdir", dst);
    } else {
        int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0)
            return fail(what, n, "create", dst);
        close(fd);
    }
    /* MS_REC: a toolchain dir may hold submounts. The remount below makes
     * only the top read-only, but the tree is root-owned and the box uid
     * has no capability to write into it regardless. */
    if (mount(src, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        return fail(what, n, "bind", src);
    /* Read-only: writing outside /box (class 9). nosuid: setuid binaries
     * (class 16). nodev: device nodes in a bound tree. */
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) <
        0)
        return fail(what, n, "remount ro", dst);
    return 0;
}

static int write_file(const char *root, const char *name, const char *text)
{
    char path[512];
    if (join(path, sizeof(path), root, name) < 0)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t k = write(fd, text, len);
    close(fd);
    return k == (ssize_t)len ? 0 : -1;
}

/* A minimal /dev: the five harmless character devices as fresh nodes of this
 * box (fresh inodes: no lock or other state shared with another box), the
 * usual links, and the /dev/shm mount point. No tty, no block device. */
static int build_dev(const char *root, char *what, size_t n)
{
    static const struct {
        const char *name;
        unsigned minor;
    } devs[] = {{"null", 3}, {"zero", 5}, {"full", 7}, {"random", 8}, {"urandom", 9}};
    static const struct {
        const char *name, *target;
    } links[] = {{"fd", "/proc/self/fd"},
                 {"stdin", "/proc/self/fd/0"},
                 {"stdout", "/proc/self/fd/1"},
                 {"stderr", "/proc/self/fd/2"}};
    char dev[512], p[512];

    if (join(dev, sizeof(dev), root, "/dev") < 0 || mkdir(dev, 0755) < 0)
        return fail(what, n, "mkdir", "/dev");
    /* noexec, nosuid; devices allowed since this is where they live. */
    if (mount("vd-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,nr_inodes=32,mode=755") < 0)
        return fail(what, n, "mount", "/dev");
    for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
        if (join3(p, sizeof(p), dev, "/", devs[i].name) < 0 ||
            mknod(p, S_IFCHR | 0666, makedev(1, devs[i].minor)) < 0 || chmod(p, 0666) < 0)
            return fail(what, n, "mknod", devs[i].name);
    }
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        if (join3(p, sizeof(p), dev, "/", links[i].name) < 0 || symlink(links[i].target, p) < 0)
            return fail(what, n, "symlink", links[i].name);
    }
    if (join(p, sizeof(p), dev, "/shm") < 0 || mkdir(p, 0755) < 0)
        return fail(what, n, "mkdir", "/dev/shm");
    return 0;
}

/* /proc of the box's pid namespace. hidepid=2: processes of other uids
 * (the init, which is root) are invisible, so /proc/1 shows nothing of the
 * supervisor (class 11). Host-wide files are covered with /dev/null. */
static int build_proc(const char *root, char *what, size_t n)
{
    char proc[512], p[512], null[512];
    if (join(proc, sizeof(proc), root, "/proc") < 0 || mkdir(proc, 0555) < 0)
        return fail(what, n, "mkdir", "/proc");
    if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0)
        return fail(what, n, "mount", "/proc");
    if (join(null, sizeof(null), root, "/dev/null") < 0)
        return fail(what, n, "path", "/dev/null");
    for (size_t i = 0; i < sizeof(proc_masked) / sizeof(proc_masked[0]); i++) {
        if (join3(p, sizeof(p), proc, "/", proc_masked[i]) < 0)
            return fail(what, n, "path", proc_masked[i]);
        /* Files only root may read stay as they are: the box uid cannot
         * open them, and each bind costs time in every fresh box. */
        struct stat st;
        if (stat(p, &st) < 0 || !(st.st_mode & S_IROTH))
            continue;
        if (mount(null, p, NULL, MS_BIND, NULL) < 0)
            return fail(what, n, "mask", proc_masked[i]);
    }
    return 0;
}

int vd__mounts_build(const struct vd__box_params *p, char *what, size_t n)
{
    const char *root = p->root_dir;
    const char *const *binds = p->cfg->binds ? p->cfg->binds : default_binds;
    char path[512], src[512], text[512];

    /* Private first: no mount or unmount of ours may reach the host, and
     * none of the host's later mounts may appear in the box. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(what, n, "make-private", "/");
    if (mount("vd-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=256,mode=755") < 0)
        return fail(what, n, "mount root tmpfs", root);

    for (size_t i = 0, j = 0; binds[i] || (p->cfg->extra_binds && p->cfg->extra_binds[j]);) {
        const char *b = binds[i] ? binds[i++] : p->cfg->extra_binds[j++];
        const char *colon = strchr(b, ':');
        const char *dst = colon ? colon + 1 : b;
        size_t slen = colon ? (size_t)(colon - b) : strlen(b);
        if (slen == 0 || slen >= sizeof(src))
            return fail(what, n, "bad bind", b);
        memcpy(src, b, slen);
        src[slen] = '\0';
        if (src[0] != '/' || dst[0] != '/') {
            errno = EINVAL;
            return fail(what, n, "bind paths must be absolute:", b);
        }
        int rc = bind_one(root, src, dst, what, n);
        if (rc < 0)
            return rc;
    }

    /* /etc/passwd and /etc/group name the box uid, so that tools asking "who
     * am I" (getpwuid) get an answer instead of failing. */
    if (join(path, sizeof(path), root, "/etc") < 0 || mkdirs(path, strlen(root), 0755) < 0)
        return fail(what, n, "mkdir", "/etc");
    snprintf(text, sizeof(text),
             "root:x:0:0:root:/:/usr/sbin/nologin\nbox:x:%u:%u:box:/box:/usr/sbin/nologin\n"
             "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
             p->uid, p->gid);
    if (write_file(root, "/etc/passwd", text) < 0)
        return fail(what, n, "write", "/etc/passwd");
    snprintf(text, sizeof(text), "root:x:0:\nbox:x:%u:\nnogroup:x:65534:\n", p->gid);
    if (write_file(root, "/etc/group", text) < 0 ||
        write_file(root, "/etc/hosts", "127.0.0.1 localhost\n::1 localhost\n") < 0 ||
        write_file(root, "/etc/hostname", "verdict\n") < 0)
        return fail(what, n, "write", "/etc");

    static const char *const dirs[] = {"/box", "/tmp"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (join(path, sizeof(path), root, dirs[i]) < 0 || mkdir(path, 0755) < 0)
            return fail(what, n, "mkdir", dirs[i]);
    int rc = build_dev(root, what, n);
    if (rc < 0)
        return rc;
    if ((rc = build_proc(root, what, n)) < 0)
        return rc;

    /* pivot_root(".", ".") stacks the old root under the new one; detaching
     * it leaves no path back to the host tree. */
    if (chdir(root) < 0)
        return fail(what, n, "chdir", root);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return fail(what, n, "pivot_root", root);
    if (umount2(".", MNT_DETACH) < 0)
        return fail(what, n, "detach old root", NULL);
    if (chdir("/") < 0)
        return fail(what, n, "chdir", "/");
    /* The skeleton is finished: nothing may change it any more. */
    if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) < 0)
        return fail(what, n, "remount ro", "/");
    return vd__mounts_reset(p, what, n);
}

/*
 * Whether dir is our tmpfs exactly as mounted: nothing in it but its root
 * (inodes in use), the root's mode and owner as made, and no extended
 * attribute (tmpfs keeps user.* xattrs, which would carry data to the next
 * run). No process of the box is alive when this runs, so a file deleted
 * but still open cannot exist. Such a tmpfs is indistinguishable from a new
 * one, and remounting it would only cost time: most runs write no file.
 */
static int pristine(const char *dir, unsigned mode, const struct vd__box_params *p)
{
    struct statfs sf;
    struct stat st, root;
    char xattrs[8];
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int ok = fd >= 0 && fstatfs(fd, &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
             sf.f_files - sf.f_ffree == 1 && fstat(fd, &st) == 0 && stat("/", &root) == 0 &&
             st.st_dev != root.st_dev && /* mounted, not the root's own dir */
             (st.st_mode & 07777) == mode && st.st_uid == p->uid && st.st_gid == p->gid &&
             flistxattr(fd, xattrs, sizeof(xattrs)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* One capped tmpfs owned by the box uid: disk fill and inode exhaustion stop
 * at its size and nr_inodes (class 6); its pages are charged to the memory
 * cgroup of the writer, so they count towards the run's memory too. */
static int fresh_tmpfs(const char *dir, uint64_t size_kb, uint64_t inodes, unsigned mode,
                       const struct vd__box_params *p, char *what, size_t n)
{
    char opts[160];
    if (pristine(dir, mode, p))
        return 0;
    if (umount2(dir, MNT_DETACH) < 0 && errno != EINVAL)
        return fail(what, n, "umount", dir);
    snprintf(opts, sizeof(opts), "size=%lluk,nr_inodes=%llu,mode=%o,uid=%u,gid=%u",
             (unsigned long long)size_kb, (unsigned long long)inodes, mode, p->uid, p->gid);
    /* nosuid, nodev: a setuid file or a device node the program makes there
     * means nothing. exec stays allowed: compiled programs run from /box. */
    if (mount("vd-box", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return fail(what, n, "mount tmpfs", dir);
    return 0;
}

int vd__mounts_reset(const struct vd__box_params *p, char *what, size_t n)
{
    const struct vd_sandbox_config *c = p->cfg;
    int rc;
    if ((rc = fresh_tmpfs("/box", c->box_size_kb, c->box_inodes, 0755, p, what, n)) < 0 ||
        (rc = fresh_tmpfs("/tmp", c->tmp_size_kb, c->tmp_inodes, 01777, p, what, n)) < 0 ||
        (rc = fresh_tmpfs("/dev/shm", c->tmp_size_kb, c->tmp_inodes, 01777, p, what, n)) < 0)
        return rc;
    return 0;
}
