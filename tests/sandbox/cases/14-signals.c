/*
 * 14-signals: attack class "signals to other processes or to the judge"
 * (row 13).
 *
 * "all" (default): kill(-1, SIGKILL) (every process it may signal), then
 * kill(1, SIGKILL) (the box init), then kill of each host pid given as an
 * argument (run.sh passes a host victim and its own pid): none may reach
 * outside the box; the program survives, prints what happened and exits 0,
 * and the supervisor still writes its record.
 * "group": kill(0, SIGKILL) kills its own process group, itself included:
 * the record says RE with signal 9.
 */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "group") == 0) {
        printf("killing my group\n");
        fflush(stdout);
        kill(0, SIGKILL);
        sleep(5);
        return 0;
    }
    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    long rc = kill(-1, SIGKILL);
    printf("kill(-1) rc=%ld errno=%s\n", rc, rc ? strerrorname_np(errno) : "0");
    int st = 0;
    waitpid(child, &st, 0);
    printf("own child %s\n", WIFSIGNALED(st) ? "was killed (fine: it is ours)" : "survived");
    rc = kill(1, SIGKILL);
    printf("kill(1) rc=%ld errno=%s\n", rc, rc ? strerrorname_np(errno) : "0");
    rc = kill(1, SIGTERM);
    printf("kill(1,TERM) rc=%ld errno=%s\n", rc, rc ? strerrorname_np(errno) : "0");
    for (int i = 1; i < argc; i++) {
        char what[64];
        snprintf(what, sizeof what, "kill host pid %s", argv[i]);
        /* The pid may exist in the box's namespace as something else; */
        /* only our own processes could be hit then, which is harmless. */
        rc = kill(atoi(argv[i]), SIGKILL);
        printf("%s: rc=%ld %s\n", what, rc, rc ? strerrorname_np(errno) : "");
    }
    /* getppid() is 0 when the parent is outside our pid namespace, and
     * kill(0) would hit our own group; only a real parent pid is tried. */
    pid_t pp = getppid();
    if (pp > 1) {
        rc = kill(pp, SIGKILL);
        printf("kill(ppid=%d) rc=%ld errno=%s\n", (int)pp, rc, rc ? strerrorname_np(errno) : "0");
    }
    usleep(100000);
    printf("still alive\n");
    return 0;
}
