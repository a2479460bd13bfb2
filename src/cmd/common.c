/*
 * common.c - what several subcommands share: finding free sandbox slots and
 * the language directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "vd/auth.h"
#include "vd/config.h"
#include "vd/log.h"

#define FIRST_UID 60000u
#define SLOT_SCAN 256

int vd_cmd_open_sandbox(struct vd_sandbox_config *cfg, int slot, struct vd_sandbox **out,
                        struct vd_errbuf *eb)
{
    int rc = VD_ENOSLOT;
    int from = slot >= 0 ? slot : 0, to = slot >= 0 ? slot + 1 : SLOT_SCAN;
    for (int k = from; k < to; k++) {
        eb->msg[0] = '\0';
        cfg->first_uid = cfg->first_gid = FIRST_UID + (unsigned)k;
        rc = vd_sandbox_open(cfg, out, eb);
        if (rc != -EBUSY)
            return rc;
    }
    if (!eb->msg[0])
        snprintf(eb->msg, sizeof(eb->msg), "no free sandbox slot");
    return rc;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *vd_cmd_langs_dir(const char *opt)
{
    static char path[PATH_MAX];
    const char *env = getenv("VERDICT_LANGS");
    if (opt)
        return opt;
    if (env && *env)
        return env;
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 16);
    if (n > 0) {
        path[n] = '\0';
        char *slash = strrchr(path, '/');
        if (slash) {
            *slash = '\0';
            slash = strrchr(path, '/');
            if (slash) {
                snprintf(slash, sizeof(path) - (size_t)(slash - path), "/langs");
                if (is_dir(path))
                    return path;
            }
        }
    }
    return "/usr/share/verdict/langs";
}

int vd_cmd_db_dir(const char *url, char *out, size_t cap)
{
    const char *p = url;
    if (strncmp(p, "sqlite://", 9) == 0)
        p += 9;
    else if (strncmp(p, "sqlite:", 7) == 0)
        p += 7;
    else if (strstr(p, "://"))
        return VD_EINVAL;
    const char *slash = strrchr(p, '/');
    if (!slash || slash == p || (size_t)(slash - p) >= cap)
        return VD_EINVAL;
    memcpy(out, p, (size_t)(slash - p));
    out[slash - p] = '\0';
    return 0;
}

void vd_cmd_make_parents(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
        return;
    char *last = strrchr(p, '/');
    for (char *q = p + 1; last && q < last; q++)
        if (*q == '/') {
            *q = '\0';
            (void)mkdir(p, 0755);
            *q = '/';
        }
    if (last && last != p) {
        *last = '\0';
        (void)mkdir(p, 0755);
    }
}

void vd_cmd_make_db_dir(const char *url)
{
    char path[PATH_MAX];
    if (vd_cmd_db_dir(url, path, sizeof(path)) < 0)
        return;
    vd_cmd_make_parents(path);
    (void)mkdir(path, 0750);
}

/* Reads the whole secret file, or makes one: 32 random bytes as hex, mode
 * 0600, created exclusively so two processes starting at once agree. */
static int secret_file(const char *path, unsigned char *out, size_t cap, size_t *len,
                       struct vd_errbuf *eb)
{
    char hex[65];
    for (int tries = 0; tries < 2; tries++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            struct stat st;
            ssize_t k = -1;
            if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) == 0)
                k = read(fd, out, cap);
            else
                errno = EPERM;
            int e = errno;
            close(fd);
            if (k < 0)
                return vd_errf(eb, -e,
                               "secret file %s: %s (it must be a regular file only its "
                               "owner may read)",
                               path, strerror(e));
            while (k > 0 && (out[k - 1] == '\n' || out[k - 1] == '\r'))
                k--;
            if ((size_t)k < VD_AUTH_MASTER_MIN)
                return vd_errf(eb, VD_EINVAL, "secret file %s: fewer than %d bytes", path,
                               VD_AUTH_MASTER_MIN);
            *len = (size_t)k;
            return 0;
        }
        if (errno != ENOENT)
            return vd_errf(eb, -errno, "secret file %s: %s", path, strerror(errno));
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                continue; /* another process made it first: read that one */
            return vd_errf(eb, -errno, "cannot create the secret file %s: %s", path,
                           strerror(errno));
        }
        vd_auth_random_hex(hex, 32);
        hex[64] = '\n';
        ssize_t w = write(fd, hex, 65);
        int e = errno;
        if (close(fd) < 0 || w != 65) {
            unlink(path);
            return vd_errf(eb, -e, "cannot write the secret file %s", path);
        }
    }
    return vd_errf(eb, VD_EINVAL, "secret file %s: cannot be read", path);
}

int vd_cmd_master_secret(const struct vd_config *c, unsigned char *out, size_t cap, size_t *len,
                         struct vd_errbuf *eb)
{
    char path[PATH_MAX];
    if (c->api_secret[0]) {
        size_t n = strlen(c->api_secret);
        if (n < VD_AUTH_MASTER_MIN || n > cap)
            return vd_errf(eb, VD_EINVAL, "api_secret must be %d to %zu bytes long",
                           VD_AUTH_MASTER_MIN, cap);
        memcpy(out, c->api_secret, n);
        *len = n;
        return 0;
    }
    if (c->secret_file[0]) {
        snprintf(path, sizeof(path), "%s", c->secret_file);
    } else {
        char dir[PATH_MAX - 8];
        if (vd_cmd_db_dir(c->database_url, dir, sizeof(dir)) < 0) {
            /* Not a SQLite file (PostgreSQL): the host's state directory.
             * Nodes on other hosts would each make their own secret, and
             * keys and tokens made on one would fail on the others. */
            snprintf(dir, sizeof(dir), "/var/lib/verdict");
            vd_cmd_make_parents(dir);
            (void)mkdir(dir, 0750);
            vd_log(VD_LOG_WARN, "secret",
                   "api_secret is not set: the master secret is %s/secret on this host; "
                   "API nodes on several hosts must share one API_SECRET",
                   dir);
        }
        snprintf(path, sizeof(path), "%s/secret", dir);
    }
    return secret_file(path, out, cap, len, eb);
}

/* url with the password of its user-info part replaced by "***", for logs:
 * "postgres://u:pw@h/db" becomes "postgres://u:***@h/db". */
const char *vd_cmd_redact(const char *url, char *out, size_t cap)
{
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon)
        snprintf(out, cap, "%s", url);
    else
        snprintf(out, cap, "%.*s***%s", (int)(colon + 1 - url), url, at);
    return out;
}
