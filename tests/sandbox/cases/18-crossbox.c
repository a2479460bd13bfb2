/*
 * 18-crossbox: attack class "cross-box side channels" (row 19).
 *
 * "pair ME OTHER SECONDS": run in two boxes at once. Binds the abstract
 * unix socket @verdict-pair-ME, lists /proc and tries to SIGKILL every pid
 * it sees but itself, and for SECONDS keeps trying to connect to
 * @verdict-pair-OTHER (bound by the other box) and looking for foreign pids
 * in /proc. Exits 0 only if it never saw a process but itself (and its
 * init) and never connected.
 * "locks": flock and every fcntl lock, lease and notify must fail with
 * EPERM, on a shared read-only file (/usr/bin/true) and on a box file;
 * keyctl/add_key/request_key and io_uring_setup must fail too.
 * "locks-allowed": with --allow-locks, flock and F_SETLK on a box file work.
 * "ipc-create" / "ipc-check": run in turn on the same slot. The first
 * creates SysV shm, msg and sem objects (key 0x56440001), a POSIX message
 * queue and files in /dev/shm, /tmp and /box; the second must find none of
 * them (fresh IPC namespace and tmpfs per run).
 */
#include "common.h"
#include <linux/io_uring.h>
#include <mqueue.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/un.h>

#define KEY 0x56440001

static socklen_t abstract(struct sockaddr_un *sa, const char *name)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    size_t n = (size_t)snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "verdict-pair-%s", name);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int scan_proc(int kill_them)
{
    int foreign = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        int pid = atoi(de->d_name);
        if (pid == getpid())
            continue;
        if (kill_them) {
            int rc = kill(pid, SIGKILL);
            printf("kill %d: %s\n", pid, rc ? strerrorname_np(errno) : "delivered");
        }
        if (pid != 1) {
            printf("FOREIGN pid %d\n", pid);
            foreign++;
        }
    }
    if (d)
        closedir(d);
    return foreign;
}

static int pair(const char *me, const char *other, double seconds)
{
    struct sockaddr_un sa;
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    socklen_t len = abstract(&sa, me);
    if (bind(l, (struct sockaddr *)&sa, len) != 0 || listen(l, 8) != 0) {
        printf("bind @verdict-pair-%s: %s\n", me, strerrorname_np(errno));
        return 3;
    }
    printf("bound @verdict-pair-%s pid=%d uid=%d\n", me, (int)getpid(), (int)getuid());
    int foreign = scan_proc(1), connected = 0, accepted = 0;
    long end = vd_now_ms(CLOCK_MONOTONIC) + (long)(seconds * 1000);
    while (vd_now_ms(CLOCK_MONOTONIC) < end) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        len = abstract(&sa, other);
        if (connect(c, (struct sockaddr *)&sa, len) == 0) {
            connected++;
        }
        close(c);
        int a = accept(l, NULL, NULL);
        if (a >= 0) {
            accepted++;
            close(a);
        }
        foreign += scan_proc(0);
        usleep(50000);
    }
    printf("foreign=%d connected=%d accepted=%d\n", foreign, connected, accepted);
    return (foreign || connected || accepted) ? 1 : 0;
}

static void locks(const char *path)
{
    char what[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("open %s: %s\n", path, strerrorname_np(errno));
        vd_failures++;
        return;
    }
    struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
#define TRY(nm, call)                                      \
    do {                                                   \
        errno = 0;                                         \
        long rc_ = (call);                                 \
        int e_ = errno;                                    \
        snprintf(what, sizeof what, "%s on %s", nm, path); \
        vd_expect_errno_e(what, rc_, e_, EPERM);           \
    } while (0)
    TRY("flock LOCK_SH", flock(fd, LOCK_SH | LOCK_NB));
    TRY("F_SETLK", fcntl(fd, F_SETLK, &fl));
    TRY("F_SETLKW", fcntl(fd, F_SETLKW, &fl));
    TRY("F_OFD_SETLK", fcntl(fd, F_OFD_SETLK, &fl));
    TRY("F_OFD_SETLKW", fcntl(fd, F_OFD_SETLKW, &fl));
    TRY("F_SETLEASE", fcntl(fd, F_SETLEASE, F_RDLCK));
    close(fd);
    fd = open("/box", O_RDONLY | O_DIRECTORY);
    TRY("F_NOTIFY", fcntl(fd, F_NOTIFY, DN_MODIFY));
    close(fd);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "pair") == 0 && argc > 4)
        return pair(argv[2], argv[3], atof(argv[4]));

    if (strcmp(mode, "locks") == 0) {
        locks("/usr/bin/true");
        int fd = open("/box/lockme", O_RDWR | O_CREAT, 0644);
        close(fd);
        locks("/box/lockme");
        vd_expect_errno("add_key", syscall(SYS_add_key, "user", "vd", "x", 1, -3), errno, EPERM);
        vd_expect_errno("keyctl", syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 1), errno, EPERM);
        vd_expect_errno("request_key", syscall(SYS_request_key, "user", "vd", NULL, 0), errno,
                        EPERM);
        struct io_uring_params p;
        memset(&p, 0, sizeof p);
        vd_expect_errno("io_uring_setup", syscall(SYS_io_uring_setup, 4, &p), errno, EPERM);
        return vd_done();
    }
    if (strcmp(mode, "locks-allowed") == 0) {
        int fd = open("/box/lockme", O_RDWR | O_CREAT, 0644);
        struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
        int a = flock(fd, LOCK_EX | LOCK_NB);
        printf("flock: %s\n", a ? strerrorname_np(errno) : "locked");
        int b = fcntl(fd, F_SETLK, &fl);
        printf("F_SETLK: %s\n", b ? strerrorname_np(errno) : "locked");
        return (a || b) ? 1 : 0;
    }
    if (strcmp(mode, "ipc-create") == 0) {
        int bad = 0;
        int shm = shmget(KEY, 4096, IPC_CREAT | 0666);
        int msg = msgget(KEY, IPC_CREAT | 0666);
        int sem = semget(KEY, 1, IPC_CREAT | 0666);
        mqd_t mq = mq_open("/verdict-xrun", O_CREAT | O_RDWR, 0666, NULL);
        printf("shm=%d msg=%d sem=%d mq=%d\n", shm, msg, sem, (int)mq);
        if (mq == (mqd_t)-1)
            printf("mq_open: %s\n", strerrorname_np(errno));
        bad |= shm < 0 || msg < 0 || sem < 0;
        const char *files[] = {"/dev/shm/verdict-xrun", "/tmp/verdict-xrun", "/box/verdict-xrun"};
        for (int i = 0; i < 3; i++) {
            int fd = open(files[i], O_WRONLY | O_CREAT, 0644);
            if (fd < 0) {
                printf("create %s: %s\n", files[i], strerrorname_np(errno));
                bad = 1;
            }
            close(fd);
        }
        printf("created=%s\n", bad ? "no" : "yes");
        return bad;
    }
    if (strcmp(mode, "ipc-check") == 0) {
        vd_expect_fail("shmget old key", shmget(KEY, 0, 0), errno);
        vd_expect_fail("msgget old key", msgget(KEY, 0), errno);
        vd_expect_fail("semget old key", semget(KEY, 0, 0), errno);
        mqd_t mq = mq_open("/verdict-xrun", O_RDWR);
        int mqe = errno;
        vd_expect_fail_e("mq_open old queue", mq == (mqd_t)-1 ? -1 : 0, mqe);
        struct stat st;
        const char *files[] = {"/dev/shm/verdict-xrun", "/tmp/verdict-xrun", "/box/verdict-xrun"};
        for (int i = 0; i < 3; i++) {
            char what[64];
            snprintf(what, sizeof what, "stat %s", files[i]);
            vd_expect_fail(what, stat(files[i], &st), errno);
        }
        return vd_done();
    }
    printf("usage: pair ME OTHER SECONDS | locks | locks-allowed | ipc-create | ipc-check\n");
    return 64;
}
