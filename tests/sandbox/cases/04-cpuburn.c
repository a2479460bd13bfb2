/*
 * 04-cpuburn: attack class "CPU burn / infinite loop" (row 3).
 *
 * "forever" (default): spins; --time 0.5 must end it as TLE.
 * "exact MS": spins until the process has used MS of CPU time, then exits
 * 0 (the CPU accounting accuracy test).
 */
#include "common.h"

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "exact") == 0) {
        long ms = atol(argv[2]);
        volatile unsigned long x = 0;
        while (vd_now_ms(CLOCK_PROCESS_CPUTIME_ID) < ms)
            for (int i = 0; i < 10000; i++)
                x += i;
        printf("burned %ld ms\n", vd_now_ms(CLOCK_PROCESS_CPUTIME_ID));
        return 0;
    }
    volatile unsigned long x = 0;
    for (;;)
        x++;
}
