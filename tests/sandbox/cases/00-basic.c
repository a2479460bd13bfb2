/*
 * 00-basic: not an attack; the controls every other case leans on.
 *
 * "exit N": exits N. "echo ARGS...": prints its arguments, one a line.
 * "cat": copies stdin to stdout. "ran": prints RAN (used to prove a run
 * that had to be refused did not happen). "signal N": raises signal N.
 */
#include "common.h"

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "exit") == 0 && argc > 2)
        return atoi(argv[2]);
    if (strcmp(mode, "echo") == 0) {
        for (int i = 2; i < argc; i++)
            printf("%s\n", argv[i]);
        return 0;
    }
    if (strcmp(mode, "cat") == 0) {
        char b[4096];
        ssize_t n;
        while ((n = read(0, b, sizeof b)) > 0)
            if (write(1, b, (size_t)n) != n)
                return 1;
        return n < 0 ? 1 : 0;
    }
    if (strcmp(mode, "ran") == 0) {
        printf("RAN\n");
        return 0;
    }
    if (strcmp(mode, "signal") == 0 && argc > 2) {
        signal(atoi(argv[2]), SIG_DFL);
        raise(atoi(argv[2]));
        return 0;
    }
    return 64;
}
