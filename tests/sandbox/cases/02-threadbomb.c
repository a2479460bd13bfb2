/*
 * 02-threadbomb: attack class "threads" (row 14) and the thread half of
 * row 1.
 *
 * "count" (default): creates sleeping threads until pthread_create fails,
 * prints threads=N, exits 0. With --procs 16, N must stay under 16 (threads
 * count as tasks). Also shows glibc's clone3 -> clone fallback works, since
 * the filter answers clone3 with ENOSYS.
 * "burn": two threads burn CPU forever; CPU time of all threads must add up
 * so --time 0.5 gives TLE with cpu_ms >= 500 after about 250 ms of wall.
 */
#include "common.h"
#include <pthread.h>

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void *burner(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    for (;;)
        x++;
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    if (argc > 1 && strcmp(argv[1], "burn") == 0) {
        pthread_t t;
        for (int i = 0; i < 2; i++)
            if (pthread_create(&t, &a, burner, NULL) != 0) {
                printf("pthread_create failed\n");
                return 3;
            }
        burner(NULL);
    }
    int n = 0, err = 0;
    for (int i = 0; i < 100000; i++) {
        pthread_t t;
        err = pthread_create(&t, &a, sleeper, NULL);
        if (err != 0)
            break;
        n++;
    }
    printf("threads=%d last_errno=%s\n", n, err ? strerrorname_np(err) : "none");
    fflush(stdout);
    _exit(0);
}
