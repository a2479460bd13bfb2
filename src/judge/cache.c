/*
 * cache.c - the compile cache: compiled files kept by what made them.
 *
 * Theory of operation. The key is the SHA-256 of the language id, the
 * toolchain version, the compile command and the source, so a new compiler
 * or new flags never reuse an old binary. An entry is a directory
 * <dir>/<key>/ holding files/ (everything the compile left in /box) and
 * output (what the compiler printed). An entry is built under a temporary
 * name and renamed into place, so a reader never sees half an entry and two
 * judges compiling the same source at once simply keep the first.
 *
 * Safety against the box: files are copied out of the box by
 * vd_box_export(), which follows no link and creates only regular files and
 * directories with names read from the box's own directories, into a
 * directory the box never sees. The cache directory must belong to root
 * and be writable by no one else.
 *
 * Bounded: after each store, while the entries' total size is over the
 * cap, the least recently used entry (by the mtime a lookup refreshes) is
 * renamed away and deleted by an fd walk that follows nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "judge-int.h"
#include "vd/alloc.h"

#define CACHE_MAX_FILES 10000

struct vd__cache {
    char *dir;
    uint64_t max_bytes;
    pthread_mutex_t mu; /* serializes trimming */
    unsigned seq;
};

int vd__cache_open(const char *dir, uint64_t max_bytes, struct vd__cache **out,
                   struct vd_errbuf *eb)
{
    struct stat st;
    *out = NULL;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return vd_errf(eb, -errno, "cache directory %s: %s", dir, strerror(errno));
    if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
        return vd_errf(eb, VD_EUNSAFE,
                       "cache directory %s must be ours and writable by no one else", dir);
    struct vd__cache *c = vd_xcalloc(1, sizeof(*c));
    c->dir = vd_xstrdup(dir);
    c->max_bytes = max_bytes;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void vd__cache_close(struct vd__cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    vd_free(c->dir);
    vd_free(c);
}

void vd__cache_key(const struct vd_lang *l, const char *src, size_t len,
                   char key[VD__CACHE_KEY_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    /* Every field ends with a NUL, so no two field lists hash alike. */
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, "verdict-compile-v1", 19);
    EVP_DigestUpdate(ctx, l->id, strlen(l->id) + 1);
    EVP_DigestUpdate(ctx, l->version, strlen(l->version) + 1);
    for (size_t i = 0; l->compile && l->compile[i]; i++)
        EVP_DigestUpdate(ctx, l->compile[i], strlen(l->compile[i]) + 1);
    for (size_t i = 0; l->env[i]; i++)
        EVP_DigestUpdate(ctx, l->env[i], strlen(l->env[i]) + 1);
    EVP_DigestUpdate(ctx, "", 1);
    EVP_DigestUpdate(ctx, src, len);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 32; i++) {
        key[2 * i] = hex[md[i] >> 4];
        key[2 * i + 1] = hex[md[i] & 15];
    }
    key[VD__CACHE_KEY_LEN] = '\0';
}

static int read_small_file(const char *path, struct vd_buf *out)
{
    char buf[8192];
    ssize_t k;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while ((k = read(fd, buf, sizeof(buf))) > 0)
        if (vd_buf_add_capped(out, buf, (size_t)k) < 0)
            break;
    close(fd);
    return 0;
}

int vd__cache_get(struct vd__cache *c, const char *key, char *files, size_t cap,
                  struct vd_buf *output)
{
    char path[4096];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", c->dir, key);
    if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return VD_ENOTFOUND;
    utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW); /* just used */
    if (output) {
        char out[4200];
        snprintf(out, sizeof(out), "%s/output", path);
        (void)read_small_file(out, output);
    }
    snprintf(files, cap, "%s/files", path);
    return 0;
}

/* Deletes a tree of ours: an fd walk that follows no link. */
static void remove_tree_at(int parent, const char *name, int depth)
{
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0 && depth < 64) {
        DIR *d = fdopendir(fd);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (e->d_type == DT_DIR)
                remove_tree_at(dirfd(d), e->d_name, depth + 1);
            else
                unlinkat(dirfd(d), e->d_name, 0);
        }
        if (d)
            closedir(d);
        else
            close(fd);
    }
    unlinkat(parent, name, AT_REMOVEDIR);
}

static uint64_t tree_size(int parent, const char *name, int depth)
{
    uint64_t total = 0;
    int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        total += (uint64_t)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode) && depth < 64)
            total += tree_size(dirfd(d), e->d_name, depth + 1);
    }
    closedir(d);
    return total;
}

struct entry {
    char name[VD__CACHE_KEY_LEN + 1];
    struct timespec used;
    uint64_t size;
};

static int by_age(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

/* Removes least recently used entries until the total fits the cap. */
static void trim(struct vd__cache *c)
{
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    struct dirent *e;
    struct entry *v = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (strlen(e->d_name) != VD__CACHE_KEY_LEN ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            v = vd_xrealloc(v, cap * sizeof(*v));
        }
        memcpy(v[n].name, e->d_name, VD__CACHE_KEY_LEN + 1); /* its length was checked */
        v[n].used = st.st_mtim;
        v[n].size = tree_size(dirfd(d), e->d_name, 0);
        total += v[n].size;
        n++;
    }
    qsort(v, n, sizeof(*v), by_age);
    for (size_t i = 0; i < n && total > c->max_bytes; i++) {
        char doomed[128];
        snprintf(doomed, sizeof(doomed), "del-%s-%d", v[i].name, (int)getpid());
        /* Renamed first: a concurrent lookup either finds the whole entry
         * or nothing. */
        if (renameat(dirfd(d), v[i].name, dirfd(d), doomed) == 0) {
            remove_tree_at(dirfd(d), doomed, 0);
            total -= v[i].size;
        }
    }
    vd_free(v);
    closedir(d);
}

int vd__cache_put(struct vd__cache *c, const char *key, struct vd_box *box, const char *output,
                  size_t output_len, char *files, size_t cap, struct vd_errbuf *eb)
{
    char tmp[4096], path[4200], final[4096];
    int rc, fd;

    pthread_mutex_lock(&c->mu);
    unsigned seq = ++c->seq;
    pthread_mutex_unlock(&c->mu);
    snprintf(tmp, sizeof(tmp), "%s/tmp-%s-%d-%u", c->dir, key, (int)getpid(), seq);
    snprintf(final, sizeof(final), "%s/%s", c->dir, key);
    snprintf(path, sizeof(path), "%s/files", tmp);
    if (mkdir(tmp, 0700) < 0 || mkdir(path, 0755) < 0) {
        rc = vd_errf(eb, -errno, "cache entry %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if ((rc = vd_box_export(box, path, VD_JUDGE_ARTIFACTS_MAX, CACHE_MAX_FILES, eb)) < 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/output", tmp);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, output, output_len) != (ssize_t)output_len) {
        rc = vd_errf(eb, -errno, "cache entry output: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    close(fd);
    /* The dir holds files the box uid must read: 0755 on the way down. */
    chmod(tmp, 0755);
    if (rename(tmp, final) < 0) {
        /* Someone stored the same key first: theirs is as good. */
        if (errno != ENOTEMPTY && errno != EEXIST) {
            rc = vd_errf(eb, -errno, "cache entry %s: %s", final, strerror(errno));
            goto fail;
        }
        int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            remove_tree_at(dfd, strrchr(tmp, '/') + 1, 0);
            close(dfd);
        }
    }
    pthread_mutex_lock(&c->mu);
    trim(c);
    pthread_mutex_unlock(&c->mu);
    snprintf(files, cap, "%s/files", final);
    if (access(files, F_OK) < 0) /* trimmed at once: the cap is below one entry */
        return vd_errf(eb, VD_ETOOBIG, "compiled files exceed the cache's size cap");
    return 0;
fail : {
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        remove_tree_at(dfd, strrchr(tmp, '/') + 1, 0);
        close(dfd);
    }
}
    return rc;
}
