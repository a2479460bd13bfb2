/*
 * 05-sleeper: attack class "sleep / blocking to abuse wall time" (row 4).
 *
 * "main" (default): sleeps 10 s. "tree": forks a child that sleeps 10 s and
 * waits for it, so the wall limit must kill the whole tree, not only main.
 */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "tree") == 0) {
        pid_t p = fork();
        if (p == 0) {
            sleep(10);
            _exit(0);
        }
        waitpid(p, NULL, 0);
        return 0;
    }
    sleep(10);
    return 0;
}
