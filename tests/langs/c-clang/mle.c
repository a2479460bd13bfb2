#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 1 GiB in 1 MiB blocks, each written so that it is really used (and read
 * back at the end, so that no compiler can drop the allocations). */
static char *blocks[1024];

int main(void)
{
    for (int i = 0; i < 1024; i++) {
        blocks[i] = malloc(1 << 20);
        if (!blocks[i])
            return 3;
        memset(blocks[i], i, 1 << 20);
    }
    long sum = 0;
    for (int i = 0; i < 1024; i++)
        sum += blocks[i][i];
    printf("%ld\n", sum);
    return 0;
}
