/*
 * 06-outflood: attack class "output flood" (row 5).
 *
 * Writes 'x' lines forever to stdout ("stdout", default) or stderr
 * ("stderr"). The output cap must end it as OLE with output_truncated and
 * no more than the cap reaching the host.
 */
#include "common.h"

int main(int argc, char **argv)
{
    int fd = (argc > 1 && strcmp(argv[1], "stderr") == 0) ? 2 : 1;
    static char line[4096];
    memset(line, 'x', sizeof line);
    line[sizeof line - 1] = '\n';
    for (;;)
        if (write(fd, line, sizeof line) < 0 && errno != EINTR)
            return 3;
}
