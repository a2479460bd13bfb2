/*
 * 20-orphans: attack class "evading time accounting with orphans or
 * daemons" (row 22).
 *
 * "burn" (default): double-forks a daemon (setsid, renamed, SIGTERM and
 * SIGHUP ignored) that burns CPU forever; main sleeps 300 ms so the daemon
 * burns about that much, then exits 0 at once. The run must end when main
 * exits (OK, short wall time), the daemon must be killed, and its CPU must
 * count (cpu_ms >= ~250).
 * "holdpipe": the daemon keeps stdout and stderr open and sleeps 60 s;
 * the supervisor must not wait for EOF on the pipes.
 */
#include "common.h"
#include <sys/prctl.h>

int main(int argc, char **argv)
{
    int hold = argc > 1 && strcmp(argv[1], "holdpipe") == 0;
    pid_t p = fork();
    if (p == 0) {
        if (fork() != 0)
            _exit(0);
        setsid();
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        prctl(PR_SET_NAME, "kworker/0:1");
        if (hold) {
            printf("daemon holding the pipes\n");
            fflush(stdout);
            sleep(60);
            _exit(0);
        }
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        volatile unsigned long x = 0;
        for (;;)
            x++;
    }
    waitpid(p, NULL, 0);
    if (!hold)
        usleep(300000);
    printf("main exits\n");
    return 0;
}
