#include <stdio.h>

int main(void)
{
    volatile int *p = NULL;
    *p = 42; /* SIGSEGV */
    return 0;
}
