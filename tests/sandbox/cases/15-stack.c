/*
 * 15-stack: attack class "huge stack / recursion" (row 15).
 *
 * "forever" (default): recurses without end; --stack 8192 must stop it with
 * SIGSEGV (RE), not take the host or the sandbox down.
 * "deep MIB": recurses until MIB MiB of stack are in use, then exits 0; with
 * --stack larger than that it must succeed (the limit is really applied,
 * not left at the 8 MiB default).
 */
#include "common.h"

static long target;

__attribute__((noinline)) static long recurse(long depth, volatile char *prev)
{
    volatile char frame[1024];
    frame[0] = (char)depth;
    frame[1023] = prev ? prev[0] : 0;
    if (target && depth * 1100 >= target)
        return depth;
    return recurse(depth + 1, frame) + frame[1023];
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "deep") == 0)
        target = atol(argv[2]) << 20;
    long d = recurse(0, NULL);
    printf("depth=%ld\n", d);
    return 0;
}
