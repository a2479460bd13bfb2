/*
 * test_sandbox.c - src/sandbox/sandbox.c: the pool, boxes and runs.
 *
 * These run real boxes (root). The hostile programs, one per attack class,
 * live in tests/sandbox/; here: the library's contract.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "sbtest.h"

TEST_IMPL(sandbox_run_captures_output)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    sbtest_run(box, (const char *const[]){"sh", "-c", "echo out; echo err >&2", NULL}, &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "OK");
    ASSERT_STR_EQ(vd_buf_str(&res.out), "out\n");
    ASSERT_STR_EQ(vd_buf_str(&res.err), "err\n");
    ASSERT_EQ(res.exit_code, 0);
    ASSERT_EQ(res.mode, vd_sandbox_get_mode(sb));
    ASSERT_GT(res.wall_us, 0);
    /* The same box runs again, with the same result. */
    sbtest_run(box, (const char *const[]){"sh", "-c", "echo again", NULL}, &res);
    ASSERT_STR_EQ(vd_buf_str(&res.out), "again\n");
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

TEST_IMPL(sandbox_stdin_from_fd)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_run_spec spec;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    int raw = memfd_create("raw", MFD_CLOEXEC), fd;
    ASSERT(raw >= 0);
    ASSERT_EQ(write(raw, "5 7\n", 4), 4);
    ASSERT_EQ(lseek(raw, 0, SEEK_SET), 0);
    /* A plain memfd is mode 0777: the program could write into it through
     * /proc/self/fd/0, so the library wants it sealed. */
    vd_run_spec_init(&spec);
    spec.argv = (const char *const[]){"true", NULL};
    spec.stdin_fd = raw;
    vd_run_result_init(&res);
    ASSERT_ERR(vd_box_run(box, &spec, &res), VD_EUNSAFE);
    ASSERT_OK(vd_sandbox_sealed_input(raw, 1024, &fd));
    close(raw);
    spec.argv = (const char *const[]){"sh", "-c", "read a b; echo $((a + b))", NULL};
    spec.stdin_fd = fd;
    ASSERT_OK(vd_box_run(box, &spec, &res));
    ASSERT_STR_EQ(vd_buf_str(&res.out), "12\n");
    close(fd);
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

TEST_IMPL(sandbox_exit_codes_and_exec_failure)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    sbtest_run(box, (const char *const[]){"sh", "-c", "exit 3", NULL}, &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "RE");
    ASSERT_EQ(res.exit_code, 3);
    ASSERT_STR_CONTAINS(res.message, "code 3");
    sbtest_run(box, (const char *const[]){"sh", "-c", "kill -SEGV $$", NULL}, &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "RE");
    ASSERT_EQ(res.signal, 11);
    /* A program that cannot start is the program's failure, not ours. */
    sbtest_run(box, (const char *const[]){"/box/missing", NULL}, &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "RE");
    ASSERT_STR_CONTAINS(res.message, "cannot execute");
    sbtest_run(box, (const char *const[]){"no-such-program-anywhere", NULL}, &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "RE");
    /* A bad spec is the caller's mistake. */
    struct vd_run_spec spec;
    vd_run_spec_init(&spec);
    ASSERT_ERR(vd_box_run(box, &spec, &res), VD_EINVAL);
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

TEST_IMPL(sandbox_limits_give_verdicts)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_run_spec spec;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);

    vd_run_spec_init(&spec);
    spec.argv = (const char *const[]){"sh", "-c", "while :; do :; done", NULL};
    spec.limits.cpu_ms = 300;
    spec.limits.wall_ms = 5000;
    ASSERT_OK(vd_box_run(box, &spec, &res));
    ASSERT_STR_EQ(vd_run_status_name(res.status), "TLE");
    ASSERT_GE(res.cpu_us, 300000);

    spec.argv = (const char *const[]){"sleep", "10", NULL};
    spec.limits.cpu_ms = 1000;
    spec.limits.wall_ms = 300;
    ASSERT_OK(vd_box_run(box, &spec, &res));
    ASSERT_STR_EQ(vd_run_status_name(res.status), "TLE");
    ASSERT_LT(res.wall_us, 3000000);
    ASSERT_STR_CONTAINS(res.message, "wall");

    spec.argv = (const char *const[]){"yes", NULL};
    spec.limits.wall_ms = 5000;
    spec.limits.output_kb = 16;
    ASSERT_OK(vd_box_run(box, &spec, &res));
    ASSERT_STR_EQ(vd_run_status_name(res.status), "OLE");
    ASSERT(res.output_truncated);
    ASSERT_UINT_EQ(res.out.len, 16 * 1024);

    /* exec: the writer itself must be the main process, whose death by
     * SIGXFSZ the record reports. */
    spec.argv =
        (const char *const[]){"sh", "-c", "exec head -c 1000000 /dev/zero > /box/big", NULL};
    spec.limits.output_kb = 64;
    spec.limits.fsize_kb = 100;
    ASSERT_OK(vd_box_run(box, &spec, &res));
    ASSERT_STR_EQ(vd_run_status_name(res.status), "OLE");
    ASSERT_STR_CONTAINS(res.message, "file size");

    sbtest_done(sb, box, &res);
    return TEST_OK;
}

TEST_IMPL(sandbox_release_wipes_the_box)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    struct vd_buf b;
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    ASSERT_OK(vd_box_put_file(box, "a.txt", "x", 1, 0644, &eb));
    sbtest_run(
        box,
        (const char *const[]){"sh", "-c", "echo t > /tmp/t; echo s > /dev/shm/s; cat a.txt", NULL},
        &res);
    ASSERT_STR_EQ(vd_buf_str(&res.out), "x");
    vd_box_release(box);

    /* The next holder of the same (only) slot finds nothing. */
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_buf_init(&b, 1024);
    ASSERT_ERR(vd_box_read_file(box, "a.txt", 1024, &b, &eb), -ENOENT);
    sbtest_run(box, (const char *const[]){"sh", "-c", "ls -A /box /tmp /dev/shm", NULL}, &res);
    ASSERT_STR_EQ(vd_buf_str(&res.out), "/box:\n\n/dev/shm:\n\n/tmp:\n");

    /* vd_box_reset does the same without giving the slot up. */
    ASSERT_OK(vd_box_put_file(box, "b.txt", "y", 1, 0644, &eb));
    ASSERT_OK(vd_box_reset(box, &eb));
    ASSERT_ERR(vd_box_read_file(box, "b.txt", 1024, &b, &eb), -ENOENT);
    vd_buf_free(&b);
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

struct cancel_arg {
    struct vd_box *box;
};

static void *cancel_later(void *p)
{
    struct cancel_arg *a = p;
    usleep(200000);
    vd_box_cancel(a->box);
    return NULL;
}

TEST_IMPL(sandbox_cancel_from_another_thread)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    pthread_t t;
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    /* A cancel while nothing runs is forgotten, not applied to the next run. */
    vd_box_cancel(box);
    struct cancel_arg a = {box};
    ASSERT_EQ(pthread_create(&t, NULL, cancel_later, &a), 0);
    sbtest_run(box, (const char *const[]){"sleep", "20", NULL}, &res);
    pthread_join(t, NULL);
    ASSERT(res.cancelled);
    ASSERT_LT(res.wall_us, 5000000);
    sbtest_run(box, (const char *const[]){"true", NULL}, &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "OK");
    ASSERT(!res.cancelled);
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

TEST_IMPL(sandbox_fresh_box)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, VD_BOX_FRESH, -1, &box, &eb));
    vd_run_result_init(&res);
    sbtest_run(box, (const char *const[]){"sh", "-c", "echo fresh; id -u", NULL}, &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "OK");
    char want[64];
    snprintf(want, sizeof(want), "fresh\n%u\n", SBTEST_FIRST_UID);
    ASSERT_STR_EQ(vd_buf_str(&res.out), want);
    vd_box_release(box);
    /* The slot is free again and its pooled box still works. */
    ASSERT_OK(vd_box_acquire(sb, 0, 1000, &box, &eb));
    sbtest_run(box, (const char *const[]){"true", NULL}, &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "OK");
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

TEST_IMPL(sandbox_acquire_times_out_when_full)
{
    struct vd_sandbox *sb;
    struct vd_box *box, *second;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    ASSERT_ERR(vd_box_acquire(sb, 0, 50, &second, &eb), VD_ENOSLOT);
    vd_box_release(box);
    ASSERT_OK(vd_box_acquire(sb, 0, 50, &second, &eb));
    vd_box_release(second);
    vd_sandbox_close(sb);
    return TEST_OK;
}

/* Counts host processes owned by uid (the slot's): the host-side view of
 * "nothing of the run is left". */
static int count_uid(unsigned uid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    char path[300], line[256];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof(line), f))
            if (strncmp(line, "Uid:", 4) == 0 && (unsigned)strtoul(line + 4, NULL, 10) == uid)
                n++;
        fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

TEST_IMPL(sandbox_daemons_die_with_the_run)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    sbtest_run(box,
               (const char *const[]){"sh", "-c", "(setsid sleep 100 &) ; sleep 100 & exit 0", NULL},
               &res);
    ASSERT_STR_EQ(vd_run_status_name(res.status), "OK");
    ASSERT_LT(res.wall_us, 2000000);
    ASSERT_EQ(count_uid(SBTEST_FIRST_UID), 0);
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

TEST_IMPL(sandbox_environment_is_clean)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    setenv("VD_SECRET_CANARY", "s3cr3t-canary", 1);
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    sbtest_run(
        box, (const char *const[]){"sh", "-c", "env | sort; cat /proc/*/environ 2>/dev/null", NULL},
        &res);
    ASSERT(strstr(vd_buf_str(&res.out), "s3cr3t-canary") == NULL);
    ASSERT_STR_CONTAINS(vd_buf_str(&res.out), "HOME=/box\n");
    ASSERT_STR_CONTAINS(vd_buf_str(&res.out), "PATH=/usr/local/bin:/usr/bin:/bin\n");
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

struct par_arg {
    struct vd_sandbox *sb;
    char out[256];
    int ok;
};

static void *par_run(void *p)
{
    struct par_arg *a = p;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    if (vd_box_acquire(a->sb, 0, -1, &box, &eb) < 0)
        return NULL;
    vd_run_result_init(&res);
    struct vd_run_spec spec;
    vd_run_spec_init(&spec);
    /* Each program sees its own uid and only its own processes. */
    spec.argv =
        (const char *const[]){"sh", "-c", "sleep 0.3; id -u; ls /proc | grep -c '^[0-9]'", NULL};
    if (vd_box_run(box, &spec, &res) == 0 && res.status == VD_RUN_OK) {
        snprintf(a->out, sizeof(a->out), "%s", vd_buf_str(&res.out));
        a->ok = 1;
    }
    vd_run_result_free(&res);
    vd_box_release(box);
    return NULL;
}

TEST_IMPL(sandbox_two_boxes_at_once)
{
    struct vd_sandbox *sb;
    pthread_t t[2];
    struct par_arg a[2];
    SBTEST_OPEN(sb, 2);
    for (int i = 0; i < 2; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].sb = sb;
        ASSERT_EQ(pthread_create(&t[i], NULL, par_run, &a[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    ASSERT(a[0].ok && a[1].ok);
    ASSERT_STR_NE(a[0].out, a[1].out); /* different uids */
    /* Two visible pids each: sh and ls (grep counts after ls is gone or
     * not, so accept 2 or 3); never the other box's. */
    for (int i = 0; i < 2; i++) {
        const char *nl = strchr(a[i].out, '\n');
        ASSERT_NOT_NULL(nl);
        long n = strtol(nl + 1, NULL, 10);
        ASSERT_LE(n, 3);
    }
    vd_sandbox_close(sb);
    return TEST_OK;
}

TEST_IMPL(sandbox_stdin_cannot_write_host_file)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_run_spec spec;
    struct vd_errbuf eb = {""};
    char path[] = "/tmp/vd-stdin-XXXXXX", line[64] = "";
    SBTEST_OPEN(sb, 1);
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "input\n", 6), 6);
    ASSERT_OK(fchmod(fd, 0666));
    ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    vd_run_spec_init(&spec);
    /* Reopening fd 0 for writing would reach the host file. */
    spec.argv = (const char *const[]){"sh", "-c", "cat; echo PWNED >> /proc/self/fd/0", NULL};
    spec.stdin_fd = fd;
    ASSERT_ERR(vd_box_run(box, &spec, &res), VD_EUNSAFE);
    /* A sealed copy is accepted, reads the same, and cannot be written. */
    int sealed;
    ASSERT_OK(vd_sandbox_sealed_input(fd, 1024, &sealed));
    spec.stdin_fd = sealed;
    ASSERT_OK(vd_box_run(box, &spec, &res));
    ASSERT_STR_EQ(vd_buf_str(&res.out), "input\n");
    ASSERT_STR_EQ(vd_run_status_name(res.status), "RE"); /* the append failed */
    close(sealed);
    FILE *f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    ASSERT_NOT_NULL(fgets(line, sizeof(line), f));
    ASSERT(fgets(line + 6, sizeof(line) - 6, f) == NULL);
    fclose(f);
    ASSERT_STR_EQ(line, "input\n");
    /* Over the cap: refused. */
    ASSERT_EQ(lseek(fd, 0, SEEK_SET), 0);
    ASSERT_ERR(vd_sandbox_sealed_input(fd, 3, &sealed), VD_ETOOBIG);
    close(fd);
    unlink(path);
    sbtest_done(sb, box, &res);
    return TEST_OK;
}
