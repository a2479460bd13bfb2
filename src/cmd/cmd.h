/*
 * cmd.h - the subcommands of the single `verdict` binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand)
 * and returns the process exit status.
 */
#ifndef VD_CMD_H
#define VD_CMD_H

#include <stddef.h>

#include "vd/sandbox.h"

int vd_cmd_box(int argc, char **argv);
int vd_cmd_run(int argc, char **argv);
int vd_cmd_langs(int argc, char **argv);
int vd_cmd_serve(int argc, char **argv);
int vd_cmd_worker(int argc, char **argv);
int vd_cmd_admin(int argc, char **argv);

/* Opens cfg's pool on the first free uid range from 60000 (each slot holds
 * a lock, so several verdict processes can run side by side), or exactly at
 * 60000 + slot when slot >= 0. */
int vd_cmd_open_sandbox(struct vd_sandbox_config *cfg, int slot, struct vd_sandbox **out,
                        struct vd_errbuf *eb);

/* The language directory: the option, else $VERDICT_LANGS, else langs/
 * next to the binary's parent (a build tree), else
 * /usr/share/verdict/langs. Static storage. */
const char *vd_cmd_langs_dir(const char *opt);

/* The directory of a SQLite database URL ("sqlite:/var/lib/x.db" gives
 * /var/lib); VD_EINVAL for another kind of URL. */
int vd_cmd_db_dir(const char *url, char *out, size_t cap);
/* Makes every missing directory above path (0755), not path itself. */
void vd_cmd_make_parents(const char *path);
/* mkdir -p of that directory (nothing for other URLs). */
void vd_cmd_make_db_dir(const char *url);
/* url without its password, into out (for logs); returns out. */
const char *vd_cmd_redact(const char *url, char *out, size_t cap);

/* The master secret: api_secret, else the secret file (made on first use,
 * 32 random bytes in hex, mode 0600). */
struct vd_config;
int vd_cmd_master_secret(const struct vd_config *c, unsigned char *out, size_t cap, size_t *len,
                         struct vd_errbuf *eb);

#endif /* VD_CMD_H */
