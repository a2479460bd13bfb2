/*
 * 19-abi: attack class "foreign syscall ABIs" (row 21).
 *
 * A filter written for x86_64 numbers means nothing for the i386 table
 * (int 0x80) or the x32 bit; both must kill the process with SIGSYS
 * before the call runs.
 * "int80": i386 getpid (20) through int 0x80; then i386 socket via
 * socketcall would follow, so reaching the printf is a failure.
 * "x32": getpid with the x32 bit (0x40000000 | 39).
 * "probe-int80" / "probe-x32": for run.sh on the host, outside any box:
 * say whether this kernel runs those ABIs at all.
 */
#include "common.h"

static long int80(long nr)
{
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(nr) : "memory");
    return ret;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "int80";
    if (strcmp(mode, "int80") == 0 || strcmp(mode, "probe-int80") == 0) {
        long r = int80(20);
        printf("int 0x80 getpid returned %ld (pid %d)\n", r, (int)getpid());
        return strcmp(mode, "probe-int80") == 0 ? 0 : 1;
    }
    if (strcmp(mode, "x32") == 0 || strcmp(mode, "probe-x32") == 0) {
        long r = syscall(0x40000000L | SYS_getpid);
        printf("x32 getpid returned %ld errno=%s\n", r, r < 0 ? strerrorname_np(errno) : "0");
        return strcmp(mode, "probe-x32") == 0 ? 0 : 1;
    }
    return 64;
}
