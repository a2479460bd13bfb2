/*
 * main.c - entry point of `verdict`: picks the subcommand.
 *
 * Subcommands arrive with their issues; only the ones that exist are listed,
 * so `verdict --help` never promises what the binary cannot do.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "vd/log.h"

#define VD_VERSION "0.1.0"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
    {"serve", vd_cmd_serve, "serve the HTTP API, with workers in the same process (root)"},
    {"worker", vd_cmd_worker, "run workers only, on the queue of a shared store (root)"},
    {"admin", vd_cmd_admin, "API keys and users: create, list, revoke (in the store)"},
    {"run", vd_cmd_run,
     "judge a source file locally: compile once, run every test, give a verdict"},
    {"langs", vd_cmd_langs, "list the languages, their versions, and which are installed"},
    {"box", vd_cmd_box, "run one program in the sandbox and write its record (like isolate --run)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: verdict COMMAND [OPTIONS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\n`verdict COMMAND --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("verdict %s\n", VD_VERSION);
        return 0;
    }
    vd_log_set_role("cli");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "verdict: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return 2;
}
