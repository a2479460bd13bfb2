/*
 * 11-symlinks: attack class "symlink / hardlink tricks against the host
 * side" (row 10).
 *
 * run.sh puts symlinks in the --dir it copies in: shadow -> /etc/shadow,
 * up -> /, rel -> ../../../../../etc/shadow. They must arrive as symlinks
 * (not as copies of what they point to on the host) and must not lead to
 * host files from inside the box.
 *
 * Then the program plants traps for whatever the host does with /box after
 * the run (reset, cleanup, copy-out): links to a host victim directory
 * (argv[1]), to /etc and /etc/shadow, a directory nobody may enter, a FIFO
 * and a dangling link. run.sh checks that the victim and /etc/shadow are
 * untouched afterwards and that the record was still written.
 */
#include "common.h"

int main(int argc, char **argv)
{
    const char *links[] = {"/box/shadow", "/box/up", "/box/rel"};
    for (size_t i = 0; i < 3; i++) {
        struct stat st;
        if (lstat(links[i], &st) != 0) {
            printf("missing %s: %s\n", links[i], strerrorname_np(errno));
            vd_failures++;
        } else if (!S_ISLNK(st.st_mode)) {
            printf("NOT-A-SYMLINK %s (the host followed it while copying)\n", links[i]);
            vd_failures++;
        } else {
            char t[256] = "";
            readlink(links[i], t, sizeof t - 1);
            printf("symlink %s -> %s\n", links[i], t);
        }
    }
    const char *reads[] = {"/box/shadow", "/box/up/etc/shadow", "/box/rel", "/box/up/root"};
    for (size_t i = 0; i < 4; i++) {
        int fd = open(reads[i], O_RDONLY);
        char what[128];
        snprintf(what, sizeof what, "read %s", reads[i]);
        vd_expect_fail(what, fd, errno);
        if (fd >= 0)
            close(fd);
    }

    /* Traps for the host side. */
    if (argc > 1) {
        char p[512];
        symlink(argv[1], "/box/victim");
        snprintf(p, sizeof p, "%s/keep", argv[1]);
        symlink(p, "/box/victim-file");
    }
    symlink("/etc", "/box/etc");
    symlink("/etc/shadow", "/box/out");
    symlink("/etc/shadow", "/box/a.out");
    symlink("/nonexistent/verdict-escape-dangling", "/box/dangling");
    mkfifo("/box/fifo", 0644);
    mkdir("/box/locked", 0755);
    int fd = open("/box/locked/file", O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
    symlink("/etc/shadow", "/box/locked/link");
    chmod("/box/locked", 0);
    mkdir("/tmp/d", 0755);
    symlink("/etc", "/tmp/d/etc");
    printf("traps planted\n");
    return vd_done();
}
