/*
 * test_boxfs.c - src/sandbox/boxfs.c: the host side never follows what a
 * program planted in /box (links, FIFOs, escapes), the attack class behind
 * Judge0's 2024 CVEs and go-judge #176.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "sbtest.h"

static void in_box(struct vd_box *box, const char *script)
{
    struct vd_run_result res;
    vd_run_result_init(&res);
    sbtest_run(box, (const char *const[]){"sh", "-c", script, NULL}, &res);
    if (res.status != VD_RUN_OK)
        FAIL("in-box script failed: %s: %s", res.message, vd_buf_str(&res.err));
    vd_run_result_free(&res);
}

TEST_IMPL(boxfs_put_and_read_back)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_errbuf eb = {""};
    struct vd_buf b;
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    ASSERT_OK(vd_box_mkdir(box, "sub", &eb));
    ASSERT_OK(vd_box_put_file(box, "sub/in.txt", "hello\n", 6, 0644, &eb));
    /* The program owns what we put there, and can change it. */
    in_box(box, "test -O sub/in.txt && tr a-z A-Z < sub/in.txt > sub/out.txt");
    vd_buf_init(&b, 1024);
    ASSERT_OK(vd_box_read_file(box, "sub/out.txt", 1024, &b, &eb));
    ASSERT_STR_EQ(vd_buf_str(&b), "HELLO\n");
    /* Over the cap: refused, not cut. */
    vd_buf_reset(&b);
    ASSERT_ERR(vd_box_read_file(box, "sub/out.txt", 3, &b, &eb), VD_ETOOBIG);
    vd_buf_free(&b);
    sbtest_done(sb, box, NULL);
    return TEST_OK;
}

TEST_IMPL(boxfs_refuses_planted_symlinks)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_errbuf eb = {""};
    struct vd_buf b;
    char victim[] = "/tmp/vd-victim-XXXXXX";
    char script[256];
    SBTEST_OPEN(sb, 1);
    int fd = mkstemp(victim);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "host secret\n", 12), 12);
    close(fd);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    /* The links point at host paths: if the supervisor followed them in the
     * host namespace it would read or overwrite the victim. */
    snprintf(script, sizeof(script), "ln -s %s out && ln -s /tmp dir && ln -s /etc etc", victim);
    in_box(box, script);
    vd_buf_init(&b, 4096);
    ASSERT_ERR(vd_box_read_file(box, "out", 4096, &b, &eb), VD_EUNSAFE);
    ASSERT_ERR(vd_box_read_file(box, "etc/passwd", 4096, &b, &eb), VD_EUNSAFE);
    ASSERT_ERR(vd_box_put_file(box, "out", "pwned", 5, 0644, &eb), VD_EUNSAFE);
    /* Refused (ENOTDIR: the parent is a link), and nothing on the host. */
    ASSERT_LT(vd_box_mkdir(box, "dir/vd-planted-sub", &eb), 0);
    ASSERT_LT(access("/tmp/vd-planted-sub", F_OK), 0);
    ASSERT_EQ(b.len, 0);
    /* The host file is untouched. */
    FILE *f = fopen(victim, "r");
    char line[64] = "";
    ASSERT_NOT_NULL(f);
    ASSERT_NOT_NULL(fgets(line, sizeof(line), f));
    fclose(f);
    ASSERT_STR_EQ(line, "host secret\n");
    struct stat st;
    ASSERT_OK(stat(victim, &st));
    ASSERT_EQ(st.st_uid, 0);
    unlink(victim);
    vd_buf_free(&b);
    sbtest_done(sb, box, NULL);
    return TEST_OK;
}

TEST_IMPL(boxfs_fifo_does_not_hang)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_errbuf eb = {""};
    struct vd_buf b;
    struct timespec t0, t1;
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    in_box(box, "mkfifo f");
    vd_buf_init(&b, 4096);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ASSERT_ERR(vd_box_read_file(box, "f", 4096, &b, &eb), VD_EUNSAFE);
    ASSERT_ERR(vd_box_put_file(box, "f", "x", 1, 0644, &eb), VD_EUNSAFE);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ASSERT_LT(t1.tv_sec - t0.tv_sec, 2);
    vd_buf_free(&b);
    sbtest_done(sb, box, NULL);
    return TEST_OK;
}

TEST_IMPL(boxfs_rejects_names_leaving_the_box)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_errbuf eb = {""};
    struct vd_buf b;
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_buf_init(&b, 4096);
    ASSERT_ERR(vd_box_read_file(box, "/etc/passwd", 4096, &b, &eb), VD_EINVAL);
    ASSERT_ERR(vd_box_read_file(box, "../etc/passwd", 4096, &b, &eb), VD_EUNSAFE);
    ASSERT_ERR(vd_box_read_file(box, "", 4096, &b, &eb), VD_EINVAL);
    ASSERT_ERR(vd_box_put_file(box, "../x", "x", 1, 0644, &eb), VD_EUNSAFE);
    ASSERT_ERR(vd_box_read_file(box, ".", 4096, &b, &eb), VD_EUNSAFE);
    vd_buf_free(&b);
    sbtest_done(sb, box, NULL);
    return TEST_OK;
}

TEST_IMPL(boxfs_copy_dir)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_errbuf eb = {""};
    struct vd_run_result res;
    char dir[] = "/tmp/vd-copy-XXXXXX", p[256];
    SBTEST_OPEN(sb, 1);
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/sub", dir);
    ASSERT_OK(mkdir(p, 0755));
    snprintf(p, sizeof(p), "%s/sub/a.txt", dir);
    FILE *f = fopen(p, "w");
    ASSERT_NOT_NULL(f);
    fputs("A\n", f);
    fclose(f);
    ASSERT_OK(chmod(p, 0640));
    snprintf(p, sizeof(p), "%s/link", dir);
    ASSERT_OK(symlink("sub/a.txt", p));
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    ASSERT_OK(vd_box_copy_dir(box, dir, &eb));
    vd_run_result_init(&res);
    sbtest_run(box,
               (const char *const[]){
                   "sh", "-c", "cat sub/a.txt link; stat -c %a sub/a.txt; readlink link", NULL},
               &res);
    ASSERT_STR_EQ(vd_buf_str(&res.out), "A\nA\n640\nsub/a.txt\n");
    sbtest_done(sb, box, &res);
    snprintf(p, sizeof(p), "rm -rf %s", dir);
    ASSERT_EQ(system(p), 0);
    return TEST_OK;
}
