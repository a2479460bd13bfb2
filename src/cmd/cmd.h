/*
 * cmd.h - the subcommands of the single `verdict` binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand)
 * and returns the process exit status.
 */
#ifndef VD_CMD_H
#define VD_CMD_H

#include "vd/sandbox.h"

int vd_cmd_box(int argc, char **argv);
int vd_cmd_run(int argc, char **argv);
int vd_cmd_langs(int argc, char **argv);
int vd_cmd_serve(int argc, char **argv);
int vd_cmd_worker(int argc, char **argv);

/* Opens cfg's pool on the first free uid range from 60000 (each slot holds
 * a lock, so several verdict processes can run side by side), or exactly at
 * 60000 + slot when slot >= 0. */
int vd_cmd_open_sandbox(struct vd_sandbox_config *cfg, int slot, struct vd_sandbox **out,
                        struct vd_errbuf *eb);

/* The language directory: the option, else $VERDICT_LANGS, else langs/
 * next to the binary's parent (a build tree), else
 * /usr/share/verdict/langs. Static storage. */
const char *vd_cmd_langs_dir(const char *opt);

#endif /* VD_CMD_H */
