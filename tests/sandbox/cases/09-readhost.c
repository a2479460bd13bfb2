/*
 * 09-readhost: attack class "reading host files" (row 8).
 *
 * Tries to read or list host paths that must not be in the box (or must be
 * unreadable): /etc/shadow, /root, /work, /home, /var, /proc/1/environ,
 * /proc/1/root, and the host paths given as arguments (run.sh passes its
 * own directory and the test's temp dir). Prints the host name and
 * /etc/hostname the box has (run.sh compares them with the host's). Also tries the "Shocker"
 * escape, open_by_handle_at, which the filter must refuse. Exits 0 only if every attempt failed.
 */
#include "common.h"
#include <sys/utsname.h>

static void try_read(const char *path)
{
    char what[600];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (fd >= 0) {
        char b[64];
        struct stat st;
        fstat(fd, &st);
        ssize_t n = S_ISDIR(st.st_mode) ? 0 : read(fd, b, sizeof b);
        if (S_ISDIR(st.st_mode)) {
            /* An empty directory (a mount point of the box) leaks nothing. */
            DIR *d = fdopendir(fd);
            int entries = 0;
            struct dirent *de;
            while (d && (de = readdir(d)) != NULL)
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                    entries++;
            if (d)
                closedir(d);
            else
                close(fd);
            snprintf(what, sizeof what, "list %s (%d entries)", path, entries);
            if (entries == 0) {
                printf("EMPTY %s\n", what);
                return;
            }
            vd_expect_fail_e(what, 0, 0);
            return;
        }
        close(fd);
        snprintf(what, sizeof what, "read %s", path);
        if (n <= 0) {
            printf("EMPTY %s\n", what);
            return;
        }
        vd_expect_fail_e(what, n, 0);
        return;
    }
    snprintf(what, sizeof what, "open %s", path);
    vd_expect_fail_e(what, -1, e);
}

int main(int argc, char **argv)
{
    const char *paths[] = {"/etc/shadow",
                           "/etc/gshadow",
                           "/etc/sudoers",
                           "/etc/ssh",
                           "/root",
                           "/root/.bashrc",
                           "/work",
                           "/home",
                           "/var",
                           "/var/log",
                           "/srv",
                           "/opt",
                           "/run",
                           "/proc/1/environ",
                           "/proc/1/cmdline",
                           "/proc/1/root/etc/shadow",
                           "/proc/1/cwd",
                           "/proc/1/mem",
                           "/sys",
                           "/sys/kernel",
                           "/dev/vda",
                           "/dev/mem",
                           "/boot"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        try_read(paths[i]);
    for (int i = 1; i < argc; i++)
        try_read(argv[i]);

    /* /etc/passwd is a generated one: no host account beyond the box's. */
    FILE *f = fopen("/etc/passwd", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            printf("passwd: %s", line);
        fclose(f);
    }

    /* The box has its own host name and /etc/hostname; run.sh checks
     * that neither is the host's. */
    struct utsname u;
    if (uname(&u) == 0)
        printf("nodename: %s\n", u.nodename);
    f = fopen("/etc/hostname", "r");
    if (f) {
        char line[256] = "";
        if (fgets(line, sizeof line, f))
            printf("etc-hostname: %s", line);
        fclose(f);
    }

    /* Shocker: open a host inode by handle, bypassing the mount tree. */
    struct {
        struct file_handle fh;
        unsigned char data[128];
    } h = {.fh.handle_bytes = 128};
    int mnt;
    long rc = syscall(SYS_name_to_handle_at, AT_FDCWD, "/usr", &h.fh, &mnt, 0);
    printf("name_to_handle_at rc=%ld\n", rc);
    /* A handle for inode 2 (a filesystem root) of the /usr mount. */
    int usr = open("/usr", O_RDONLY | O_DIRECTORY);
    rc = syscall(SYS_open_by_handle_at, usr, &h.fh, O_RDONLY);
    vd_expect_errno("open_by_handle_at", rc, errno, EPERM);
    close(usr);
    return vd_done();
}
