/*
 * boxfs.c - the supervisor's reads and writes inside a box's /box.
 *
 * Theory of operation: the supervisor runs as root in the host mount
 * namespace, and /box belongs to the program, which may have left symlinks,
 * FIFOs or hard links there for the supervisor to trip on (Judge0
 * CVE-2024-28185 and -28189, go-judge #176). So no path into a box is ever
 * resolved by the host the ordinary way. Every open goes through openat2()
 * on an O_PATH fd of the box's /box, received from the box init, with
 * RESOLVE_BENEATH (no escape by ".." or absolute links), RESOLVE_NO_SYMLINKS
 * (no symlink anywhere in the path, not only the last component),
 * RESOLVE_NO_MAGICLINKS (no /proc/self/fd tricks) and RESOLVE_NO_XDEV (no
 * crossing into another mount). Opens are O_NONBLOCK so a FIFO cannot hang
 * the supervisor, and the result must be a regular file or a directory.
 * Ownership goes to the slot uid through the fd we created (fchown), never
 * by path, and never recursively.
 *
 * All of this runs only while no process of the box is alive (before a run
 * or after it was reaped), so nothing can swap a path between two calls.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox-int.h"

#define RESOLVE_BOX \
    (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
#define COPY_MAX_DEPTH 32

int vd__box_openat(int box_fd, const char *name, int flags, unsigned mode)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BOX;
    long fd = syscall(SYS_openat2, box_fd, name, &how, sizeof(how));
    return fd < 0 ? -errno : (int)fd;
}

static int check_name(const char *name, struct vd_errbuf *eb)
{
    if (!name || !*name || name[0] == '/' || strlen(name) >= 1024)
        return vd_errf(eb, VD_EINVAL, "bad file name in the box: \"%s\"", name ? name : "");
    return 0;
}

/* Splits name into its parent (opened O_PATH beneath the box) and the last
 * component, for the *at() calls that create things. */
static int open_parent(int box_fd, const char *name, const char **base)
{
    char parent[1024];
    const char *slash = strrchr(name, '/');
    if (!slash) {
        *base = name;
        return vd__box_openat(box_fd, ".", O_PATH | O_DIRECTORY, 0);
    }
    size_t n = (size_t)(slash - name);
    memcpy(parent, name, n);
    parent[n] = '\0';
    *base = slash + 1;
    return vd__box_openat(box_fd, parent, O_PATH | O_DIRECTORY, 0);
}

static int unsafe(struct vd_errbuf *eb, int rc, const char *name)
{
    if (rc == -ELOOP || rc == -EXDEV || rc == -ENXIO)
        return vd_errf(eb, VD_EUNSAFE, "refused to follow \"%s\" in the box (link, FIFO or escape)",
                       name);
    if (rc == -ENOSYS)
        return vd_errf(eb, rc, "the kernel lacks openat2 (Linux 5.6+ is required)");
    return vd_errf(eb, rc, "\"%s\" in the box: %s", name, strerror(-rc));
}

int vd__sandbox_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Creates (or truncates) a regular file and gives it to the slot uid. */
static int create_file(struct vd_box *box, const char *name, unsigned mode, struct vd_errbuf *eb)
{
    struct stat st;
    int fd = vd__box_openat(box->box_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK, 0600);
    if (fd < 0)
        return unsafe(eb, fd, name);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return vd_errf(eb, VD_EUNSAFE, "\"%s\" in the box is not a regular file", name);
    }
    if (fchown(fd, box->slot->uid, box->slot->gid) < 0 || fchmod(fd, mode & 07777) < 0) {
        int rc = -errno;
        close(fd);
        return vd_errf(eb, rc, "chown/chmod \"%s\": %s", name, strerror(-rc));
    }
    return fd;
}

int vd_box_put_file(struct vd_box *box, const char *name, const void *data, size_t len,
                    unsigned mode, struct vd_errbuf *eb)
{
    int rc = check_name(name, eb);
    if (rc < 0)
        return rc;
    int fd = create_file(box, name, mode, eb);
    if (fd < 0)
        return fd;
    rc = vd__sandbox_write_all(fd, data, len);
    close(fd);
    if (rc < 0)
        return vd_errf(eb, rc, "writing \"%s\" into the box: %s", name, strerror(-rc));
    return 0;
}

int vd_box_mkdir(struct vd_box *box, const char *name, struct vd_errbuf *eb)
{
    const char *base;
    int rc = check_name(name, eb);
    if (rc < 0)
        return rc;
    int pfd = open_parent(box->box_fd, name, &base);
    if (pfd < 0)
        return unsafe(eb, pfd, name);
    if (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST)
        rc = vd_errf(eb, -errno, "mkdir \"%s\" in the box: %s", name, strerror(errno));
    else if (fchownat(pfd, base, box->slot->uid, box->slot->gid, AT_SYMLINK_NOFOLLOW) < 0)
        rc = vd_errf(eb, -errno, "chown \"%s\" in the box: %s", name, strerror(errno));
    close(pfd);
    return rc;
}

static int copy_tree(struct vd_box *box, int host_dir, char *rel, size_t rlen, int depth,
                     struct vd_errbuf *eb)
{
    DIR *d = NULL;
    struct dirent *e;
    int rc = 0;

    if (depth > COPY_MAX_DEPTH)
        return vd_errf(eb, VD_ETOOBIG, "directory tree deeper than %d levels", COPY_MAX_DEPTH);
    int dfd = dup(host_dir);
    if (dfd < 0 || !(d = fdopendir(dfd))) {
        rc = vd_errf(eb, -errno, "reading a host directory: %s", strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t nlen = strlen(e->d_name);
        if (rlen + nlen + 2 >= 1024) {
            rc = vd_errf(eb, VD_ETOOBIG, "path too long under %s", rel);
            break;
        }
        if (rlen)
            rel[rlen] = '/';
        memcpy(rel + rlen + (rlen ? 1 : 0), e->d_name, nlen + 1);
        size_t clen = rlen + (rlen ? 1 : 0) + nlen;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            rc = vd_errf(eb, -errno, "stat %s: %s", rel, strerror(errno));
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                rc = vd_errf(eb, -errno, "open %s: %s", rel, strerror(errno));
                break;
            }
            rc = vd_box_mkdir(box, rel, eb);
            if (rc == 0)
                rc = copy_tree(box, sub, rel, clen, depth + 1, eb);
            close(sub);
        } else if (S_ISREG(st.st_mode)) {
            int in = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            int out = in < 0 ? -1 : create_file(box, rel, st.st_mode, eb);
            if (in < 0) {
                rc = vd_errf(eb, -errno, "open %s: %s", rel, strerror(errno));
            } else if (out < 0) {
                rc = out;
            } else {
                char buf[65536];
                ssize_t k;
                while ((k = read(in, buf, sizeof(buf))) > 0)
                    if ((rc = vd__sandbox_write_all(out, buf, (size_t)k)) < 0)
                        break;
                if (k < 0)
                    rc = -errno;
                if (rc < 0)
                    rc = vd_errf(eb, rc, "copying %s into the box: %s", rel, strerror(-rc));
            }
            if (in >= 0)
                close(in);
            if (out >= 0)
                close(out);
        } else if (S_ISLNK(st.st_mode)) {
            /* Copied as a link: the program may follow it inside the box,
             * where it can only reach what the box shows anyway. */
            char target[1024];
            const char *base;
            ssize_t k = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
            int pfd = k < 0 ? -1 : open_parent(box->box_fd, rel, &base);
            if (k < 0 || pfd < 0) {
                rc = vd_errf(eb, k < 0 ? -errno : pfd, "copying link %s", rel);
            } else {
                target[k] = '\0';
                if (symlinkat(target, pfd, base) < 0 ||
                    fchownat(pfd, base, box->slot->uid, box->slot->gid, AT_SYMLINK_NOFOLLOW) < 0)
                    rc = vd_errf(eb, -errno, "link %s in the box: %s", rel, strerror(errno));
            }
            if (pfd >= 0)
                close(pfd);
        }
        /* Devices, FIFOs and sockets are not copied. */
        rel[rlen] = '\0';
        if (rc < 0)
            break;
    }
    closedir(d);
    return rc;
}

int vd_box_copy_dir(struct vd_box *box, const char *host_dir, struct vd_errbuf *eb)
{
    char rel[1024] = "";
    int fd = open(host_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return vd_errf(eb, -errno, "open %s: %s", host_dir, strerror(errno));
    int rc = copy_tree(box, fd, rel, 0, 0, eb);
    close(fd);
    return rc;
}

int vd_box_read_file(struct vd_box *box, const char *name, size_t cap, struct vd_buf *out,
                     struct vd_errbuf *eb)
{
    struct stat st;
    char buf[65536];
    ssize_t k;
    int rc = check_name(name, eb);
    if (rc < 0)
        return rc;
    int fd = vd__box_openat(box->box_fd, name, O_RDONLY | O_NONBLOCK, 0);
    if (fd < 0)
        return unsafe(eb, fd, name);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = vd_errf(eb, VD_EUNSAFE, "\"%s\" in the box is not a regular file", name);
        goto out;
    }
    if ((uint64_t)st.st_size > cap) {
        rc = vd_errf(eb, VD_ETOOBIG, "\"%s\" is %lld bytes, over the cap of %zu", name,
                     (long long)st.st_size, cap);
        goto out;
    }
    while ((k = read(fd, buf, sizeof(buf))) != 0) {
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = vd_errf(eb, -errno, "reading \"%s\": %s", name, strerror(errno));
            goto out;
        }
        if ((rc = vd_buf_add(out, buf, (size_t)k)) < 0) {
            rc = vd_errf(eb, rc, "\"%s\" does not fit the buffer", name);
            goto out;
        }
    }
out:
    close(fd);
    return rc;
}

struct export
{
    uint64_t bytes, max_bytes;
    size_t files, max_files;
};

/* Copies the directory `from` (an fd inside the box, reached without
 * following anything) into the host directory `to`. */
static int export_tree(int from, int to, struct export *x, int depth, struct vd_errbuf *eb)
{
    DIR *d;
    struct dirent *e;
    int rc = 0;

    if (depth > COPY_MAX_DEPTH)
        return vd_errf(eb, VD_ETOOBIG, "the box's tree is deeper than %d levels", COPY_MAX_DEPTH);
    int dfd = dup(from);
    if (dfd < 0 || !(d = fdopendir(dfd))) {
        rc = vd_errf(eb, -errno, "reading a box directory: %s", strerror(errno));
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    while ((e = readdir(d)) != NULL && rc == 0) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* nothing runs in the box: it cannot vanish, but never mind */
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
            continue;
        if (++x->files > x->max_files) {
            rc = vd_errf(eb, VD_ETOOBIG, "more than %zu files in the box", x->max_files);
            break;
        }
        /* One component at a time from a directory we already hold, with
         * O_NOFOLLOW: a link anywhere is refused, not followed. */
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            int hsub = -1;
            if (sub < 0 || (mkdirat(to, e->d_name, 0755) < 0 && errno != EEXIST) ||
                (hsub = openat(to, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                rc = vd_errf(eb, -errno, "exporting directory %s: %s", e->d_name, strerror(errno));
            else
                rc = export_tree(sub, hsub, x, depth + 1, eb);
            if (sub >= 0)
                close(sub);
            if (hsub >= 0)
                close(hsub);
            continue;
        }
        x->bytes += (uint64_t)st.st_size;
        if (x->bytes > x->max_bytes) {
            rc = vd_errf(eb, VD_ETOOBIG, "the box holds more than %llu bytes",
                         (unsigned long long)x->max_bytes);
            break;
        }
        int in = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        int out = in < 0
                      ? -1
                      : openat(to, e->d_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                               st.st_mode & 0755);
        if (in < 0 || out < 0) {
            rc = vd_errf(eb, -errno, "exporting %s: %s", e->d_name, strerror(errno));
        } else {
            char buf[65536];
            ssize_t k;
            uint64_t left = (uint64_t)st.st_size;
            /* At most the size seen: nothing writes to it, but a cap is a cap. */
            while (left > 0 && (k = read(in, buf, left < sizeof(buf) ? left : sizeof(buf))) > 0) {
                if ((rc = vd__sandbox_write_all(out, buf, (size_t)k)) < 0)
                    break;
                left -= (uint64_t)k;
            }
            if (rc < 0)
                rc = vd_errf(eb, rc, "exporting %s: %s", e->d_name, strerror(-rc));
        }
        if (in >= 0)
            close(in);
        if (out >= 0)
            close(out);
    }
    closedir(d);
    return rc;
}

int vd_box_export(struct vd_box *box, const char *host_dir, uint64_t max_bytes, size_t max_files,
                  struct vd_errbuf *eb)
{
    struct export x = {0, max_bytes, 0, max_files};
    int from = vd__box_openat(box->box_fd, ".", O_RDONLY | O_DIRECTORY, 0);
    if (from < 0)
        return unsafe(eb, from, "/box");
    int to = open(host_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (to < 0) {
        close(from);
        return vd_errf(eb, -errno, "open %s: %s", host_dir, strerror(errno));
    }
    int rc = export_tree(from, to, &x, 0, eb);
    close(from);
    close(to);
    return rc;
}
