/*
 * 01-forkbomb: attack class "fork bomb" (research note section 6, row 1).
 *
 * "count" (default): the parent forks children that sleep forever until
 * fork fails, prints forks=N and the errno, and exits 0. With --procs 16,
 * N must be at most 16 and the children must be gone after the run.
 * "recursive": every process forks forever (the classic bomb); the run must
 * end at the wall limit with nothing left behind.
 */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "recursive") == 0) {
        for (;;)
            fork();
    }
    int forks = 0, fails = 0, last = 0;
    for (int i = 0; i < 100000 && fails < 50; i++) {
        pid_t p = fork();
        if (p == 0) {
            for (;;)
                pause();
        }
        if (p < 0) {
            fails++;
            last = errno;
            continue;
        }
        forks++;
    }
    printf("forks=%d last_errno=%s\n", forks, last ? strerrorname_np(last) : "none");
    return 0;
}
