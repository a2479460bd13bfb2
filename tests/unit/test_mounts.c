/*
 * test_mounts.c - src/sandbox/mounts.c: the box's root, and resets that
 * leave nothing of a run behind, including when a tmpfs is reused because
 * it looks untouched.
 */
#include "sbtest.h"

static const char *in_box(struct vd_box *box, struct vd_run_result *res, const char *script)
{
    sbtest_run(box, (const char *const[]){"sh", "-c", script, NULL}, res);
    return vd_buf_str(&res->out);
}

TEST_IMPL(mounts_reset_forgets_every_trace)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    /* Traces that leave the inode count at one: a mode, an xattr (tmpfs
     * keeps user.*), a file made and removed. */
    in_box(box, &res,
           /* one trace per tmpfs, so that each check is tested alone */
           "chmod 700 /box; touch /dev/shm/x; rm /dev/shm/x;"
           "python3 -c 'import os; os.setxattr(\"/tmp\", \"user.leak\", b\"secret\")'");
    ASSERT_STR_EQ(vd_run_status_name(res.status), "OK");
    ASSERT_OK(vd_box_reset(box, &eb));
    ASSERT_STR_EQ(in_box(box, &res,
                         "stat -c '%a %U' /box /tmp /dev/shm;"
                         "python3 -c 'import os; print(os.listxattr(\"/tmp\"))'"),
                  "755 box\n1777 box\n1777 box\n[]\n");
    /* An untouched box stays usable across resets. */
    ASSERT_OK(vd_box_reset(box, &eb));
    ASSERT_OK(vd_box_reset(box, &eb));
    ASSERT_OK(vd_box_put_file(box, "f", "x", 1, 0644, &eb));
    ASSERT_STR_EQ(in_box(box, &res, "cat f; echo; ls -A /tmp /dev/shm"), "x\n/dev/shm:\n\n/tmp:\n");
    sbtest_done(sb, box, &res);
    return TEST_OK;
}

TEST_IMPL(mounts_root_is_minimal_and_read_only)
{
    struct vd_sandbox *sb;
    struct vd_box *box;
    struct vd_run_result res;
    struct vd_errbuf eb = {""};
    SBTEST_OPEN(sb, 1);
    ASSERT_OK(vd_box_acquire(sb, 0, -1, &box, &eb));
    vd_run_result_init(&res);
    ASSERT_STR_EQ(in_box(box, &res, "ls /; ls /dev"),
                  "bin\nbox\ndev\netc\nlib\nlib32\nlib64\nproc\nsbin\ntmp\nusr\n"
                  "fd\nfull\nnull\nrandom\nshm\nstderr\nstdin\nstdout\nurandom\nzero\n");
    /* Nothing outside /box, /tmp and /dev/shm can be written. */
    ASSERT_STR_EQ(
        in_box(box, &res,
               "for d in / /etc /usr /dev /proc/sys; do touch $d/x 2>/dev/null && echo $d; done;"
               "id -un; cat /etc/hostname"),
        "box\nverdict\n");
    /* /proc shows the box's processes only (the init, pid 1, is root and
     * hidden); /sys is absent. */
    ASSERT_STR_EQ(
        in_box(box, &res,
               "test -e /proc/1 || echo noinit; stat -c %U /proc/[0-9]* 2>/dev/null | sort -u;"
               "test -e /sys || echo nosys"),
        "noinit\nbox\nnosys\n");
    sbtest_done(sb, box, &res);
    return TEST_OK;
}
