/*
 * 10-writeout: attack class "writing outside the box" (row 9).
 *
 * Tries to create, modify, rename, chmod and remove files in every
 * read-only part of the box (/usr, /bin, /lib, /etc, /, /proc/sys,
 * /proc/sysrq-trigger, /dev), to mknod a device, and to remount. Each must
 * fail (EROFS, EACCES or EPERM). Writes into /box and /tmp must work. The
 * created names start with verdict-escape so run.sh can look on the host.
 * Exits 0 only if every forbidden attempt failed.
 */
#include "common.h"
#include <sys/mount.h>
#include <sys/sysmacros.h>

static void try_create(const char *path)
{
    char what[300];
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    snprintf(what, sizeof what, "create %s", path);
    vd_expect_fail(what, fd, errno);
    if (fd >= 0)
        close(fd);
}

static void try_write(const char *path)
{
    char what[300];
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    int e = errno;
    long rc = fd;
    if (fd >= 0) {
        rc = write(fd, "0", 1);
        e = errno;
        close(fd);
    }
    snprintf(what, sizeof what, "write %s", path);
    vd_expect_fail_e(what, rc, e);
}

int main(void)
{
    const char *creates[] = {"/verdict-escape-root",        "/usr/verdict-escape-usr",
                             "/usr/bin/verdict-escape-bin", "/bin/verdict-escape-bin2",
                             "/lib/verdict-escape-lib",     "/lib64/verdict-escape-lib64",
                             "/etc/verdict-escape-etc",     "/etc/alternatives/verdict-escape-alt",
                             "/proc/verdict-escape-proc",   "/dev/verdict-escape-dev",
                             "/proc/sys/verdict-escape-sys"};
    for (size_t i = 0; i < sizeof creates / sizeof *creates; i++)
        try_create(creates[i]);
    const char *writes[] = {"/usr/bin/true",
                            "/etc/passwd",
                            "/etc/group",
                            "/etc/ld.so.cache",
                            "/proc/sys/kernel/hostname",
                            "/proc/sys/vm/drop_caches",
                            "/proc/sysrq-trigger",
                            "/proc/1/oom_score_adj"};
    for (size_t i = 0; i < sizeof writes / sizeof *writes; i++)
        try_write(writes[i]);

    vd_expect_fail("unlink /usr/bin/true", unlink("/usr/bin/true"), errno);
    vd_expect_fail("rename /usr/bin/true", rename("/usr/bin/true", "/usr/bin/verdict-escape-mv"),
                   errno);
    vd_expect_fail("chmod /usr/bin/true", chmod("/usr/bin/true", 04777), errno);
    vd_expect_fail("chown /box", chown("/box", 0, 0), errno);
    vd_expect_fail("truncate /usr/bin/true", truncate("/usr/bin/true", 0), errno);
    vd_expect_fail("mkdir /usr/verdict-escape-dir", mkdir("/usr/verdict-escape-dir", 0755), errno);
    vd_expect_fail("symlink /etc/verdict-escape-ln", symlink("/box", "/etc/verdict-escape-ln"),
                   errno);
    vd_expect_fail("mknod /box/verdict-null",
                   mknod("/box/verdict-null", S_IFCHR | 0666, makedev(1, 3)), errno);
    vd_expect_fail("mknod /box/verdict-vda",
                   mknod("/box/verdict-vda", S_IFBLK | 0666, makedev(254, 0)), errno);
    vd_expect_errno("mount remount / rw", mount(NULL, "/", NULL, MS_REMOUNT, NULL), errno, EPERM);
    vd_expect_errno("mount remount /usr rw", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL),
                    errno, EPERM);
    vd_expect_errno("umount /usr", umount2("/usr", MNT_DETACH), errno, EPERM);
    vd_expect_errno("chroot /box", chroot("/box"), errno, EPERM);
    vd_expect_fail("sethostname", sethostname("pwned", 5), errno);

    /* The writable places work. */
    int ok = 1;
    const char *wr[] = {"/box/w", "/tmp/w", "/dev/shm/w"};
    for (size_t i = 0; i < 3; i++) {
        int fd = open(wr[i], O_WRONLY | O_CREAT, 0644);
        if (fd < 0 || write(fd, "x", 1) != 1) {
            printf("cannot write %s: %s\n", wr[i], strerrorname_np(errno));
            ok = 0;
        }
        if (fd >= 0)
            close(fd);
    }
    if (!ok)
        vd_failures++;
    return vd_done();
}
