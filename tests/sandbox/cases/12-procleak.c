/*
 * 12-procleak: attack class "/proc and /sys leaks" (row 11).
 *
 * Lists /proc: only the box's own processes may be there (its own pid
 * namespace, hidepid=2). Pid 1, if visible, is the box's init, and its
 * cmdline and environ must be unreadable. /sys must not exist (or be
 * empty). /proc/kcore, timer_list, sched_debug, keys, key-users and kallsyms
 * must be unreadable or carry nothing. /proc/net shows an empty network
 * namespace. mountinfo must not name the host directories given as
 * arguments. Exits 0 only if all hold.
 */
#include "common.h"

static void must_not_read(const char *path)
{
    char b[4096];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("BLOCKED open %s: %s\n", path, strerrorname_np(errno));
        return;
    }
    ssize_t n = read(fd, b, sizeof b);
    int e = errno;
    close(fd);
    if (n < 0) {
        printf("BLOCKED read %s: %s\n", path, strerrorname_np(e));
        return;
    }
    if (n == 0) {
        printf("EMPTY %s\n", path);
        return;
    }
    /* kallsyms without privilege shows zeroed addresses: harmless. */
    if (strcmp(path, "/proc/kallsyms") == 0 && strncmp(b, "0000000000000000", 16) == 0) {
        printf("ZEROED %s\n", path);
        return;
    }
    printf("OPEN read %s (%zd bytes): %.60s\n", path, n, b);
    vd_failures++;
}

static int count_entries(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    int n = -1; /* header */
    while (fgets(line, sizeof line, f))
        n++;
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    pid_t self = getpid();
    printf("self=%d uid=%d\n", (int)self, (int)getuid());
    DIR *d = opendir("/proc");
    if (!d) {
        printf("no /proc\n");
        return 3;
    }
    struct dirent *de;
    int visible = 0, foreign = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        int pid = atoi(de->d_name);
        visible++;
        char p[64], comm[64] = "?";
        snprintf(p, sizeof p, "/proc/%d/comm", pid);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = 0;
            fclose(f);
        }
        printf("pid %d comm=%s\n", pid, comm);
        if (pid != self && pid != 1)
            foreign++;
    }
    closedir(d);
    printf("visible=%d foreign=%d\n", visible, foreign);
    if (foreign)
        vd_failures++;

    /* Pid 1 is the box's init: host init would be /sbin/init or the VM's. */
    must_not_read("/proc/1/cmdline");
    must_not_read("/proc/1/environ");
    must_not_read("/proc/1/maps");

    struct stat st;
    if (stat("/sys", &st) == 0) {
        DIR *s = opendir("/sys");
        int n = 0;
        while (s && (de = readdir(s)) != NULL)
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                n++;
        if (s)
            closedir(s);
        printf("/sys exists with %d entries\n", n);
        if (n)
            vd_failures++;
    } else {
        printf("BLOCKED /sys: %s\n", strerrorname_np(errno));
    }

    const char *secret[] = {"/proc/kcore",    "/proc/timer_list",   "/proc/sched_debug",
                            "/proc/keys",     "/proc/kallsyms",     "/proc/kmsg",
                            "/proc/slabinfo", "/proc/pagetypeinfo", "/proc/sysrq-trigger",
                            "/proc/1/stack",  "/proc/1/syscall"};
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++)
        must_not_read(secret[i]);

    /* Per-uid key counts of the whole host; readable by anyone, little to
     * learn from: shown, not asserted. */
    FILE *ku = fopen("/proc/key-users", "r");
    char kl[256];
    while (ku && fgets(kl, sizeof kl, ku))
        printf("key-users: %s", kl);
    if (ku)
        fclose(ku);

    int tcp = count_entries("/proc/net/tcp"), tcp6 = count_entries("/proc/net/tcp6");
    int unix_ = count_entries("/proc/net/unix");
    printf("netns: tcp=%d tcp6=%d unix=%d\n", tcp, tcp6, unix_);
    /* A host netns would show sshd, the VM agent and the like. */
    if (tcp > 0 || tcp6 > 0)
        vd_failures++;

    /* The mount table must not name host directories of the caller. */
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (f) {
        char line[2048];
        while (fgets(line, sizeof line, f)) {
            printf("mountinfo: %s", line);
            for (int i = 1; i < argc; i++)
                if (strstr(line, argv[i])) {
                    printf("LEAK mountinfo names %s\n", argv[i]);
                    vd_failures++;
                }
        }
        fclose(f);
    }
    return vd_done();
}
