/*
 * common.c - what several subcommands share: finding free sandbox slots and
 * the language directory.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"

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
