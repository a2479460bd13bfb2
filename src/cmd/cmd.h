/*
 * cmd.h - the subcommands of the single `verdict` binary.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand)
 * and returns the process exit status.
 */
#ifndef VD_CMD_H
#define VD_CMD_H

int vd_cmd_box(int argc, char **argv);

#endif /* VD_CMD_H */
