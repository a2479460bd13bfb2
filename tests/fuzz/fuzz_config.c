/*
 * fuzz_config.c - the config file reader on arbitrary bytes: it must load
 * or refuse with a sentence that names the line, never crash, and a loaded
 * config must be printable.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vd_config c;
    struct vd_errbuf eb = {""};
    char path[64];
    if (size > 65536)
        return 0;
    int fd = memfd_create("fuzz-config", MFD_CLOEXEC);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    vd_config_defaults(&c);
    int rc = vd_config_load_file(&c, path, &eb);
    if (rc < 0 && !eb.msg[0])
        abort();
    if (rc == 0) {
        FILE *devnull = fopen("/dev/null", "w");
        if (!devnull)
            abort();
        vd_config_dump(&c, devnull);
        fclose(devnull);
    }
    close(fd);
    return 0;
}
