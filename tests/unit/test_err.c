/*
 * test_err.c - src/common/err.c: code names and texts, vd_errf, VD_ASSERT.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "vd/err.h"

TEST_IMPL(err_names_ours)
{
    /* Spelled out rather than derived from VD_ERR_MAP, so that a broken
     * table cannot test itself into passing. */
    ASSERT_STR_EQ(vd_errname(VD_ETOOBIG), "VD_ETOOBIG");
    ASSERT_STR_EQ(vd_strerror(VD_ETOOBIG), "value exceeds its configured cap");
    ASSERT_STR_EQ(vd_errname(VD_EBADJSON), "VD_EBADJSON");
    ASSERT_STR_EQ(vd_strerror(VD_EBADJSON), "malformed JSON");
    ASSERT_STR_EQ(vd_errname(VD_EINVAL), "VD_EINVAL");
    ASSERT_STR_EQ(vd_errname(VD_ESANDBOX), "VD_ESANDBOX");
    ASSERT_STR_EQ(vd_strerror(VD_ENOSLOT), "no sandbox slot available");
    ASSERT_STR_EQ(vd_errname(VD_ENOTFOUND), "VD_ENOTFOUND");
    ASSERT_STR_EQ(vd_strerror(VD_ENOTFOUND), "not found");
    ASSERT_EQ(VD_ETOOBIG, -5001);
    return TEST_OK;
}

TEST_IMPL(err_names_errno)
{
    ASSERT_STR_EQ(vd_errname(-ENOENT), "ENOENT");
    ASSERT_STR_EQ(vd_strerror(-ENOENT), "No such file or directory");
    ASSERT_STR_EQ(vd_errname(-ENOMEM), "ENOMEM");
    ASSERT_STR_EQ(vd_strerror(-ENOMEM), "Cannot allocate memory");
    ASSERT_STR_EQ(vd_errname(-EPERM), "EPERM");
    ASSERT_STR_EQ(vd_errname(-EAGAIN), "EAGAIN");
    return TEST_OK;
}

TEST_IMPL(err_unknown_and_zero)
{
    ASSERT_STR_EQ(vd_errname(0), "OK");
    ASSERT_STR_EQ(vd_strerror(0), "success");
    /* Holes in either range, positive values, extremes: never NULL. */
    ASSERT_STR_EQ(vd_errname(-4000), "UNKNOWN");
    ASSERT_STR_EQ(vd_strerror(-4000), "unknown error");
    ASSERT_STR_EQ(vd_errname(-4999), "UNKNOWN");
    ASSERT_STR_EQ(vd_errname(-6000), "UNKNOWN");
    ASSERT_STR_EQ(vd_errname(ENOENT), "UNKNOWN"); /* errno must be negated */
    ASSERT_STR_EQ(vd_strerror(-2147483647 - 1), "unknown error");
    ASSERT_STR_EQ(vd_strerror(2147483647), "unknown error");
    return TEST_OK;
}

TEST_IMPL(err_codes_below_errno_range)
{
    static const int codes[] = {
#define XX(name, val, msg) name,
        VD_ERR_MAP(XX)
#undef XX
    };
    size_t n = sizeof(codes) / sizeof(codes[0]);

    ASSERT_GE(n, 10);
    for (size_t i = 0; i < n; i++) {
        /* Below -4095, so never mistaken for -errno. */
        ASSERT_LT(codes[i], -4095);
        ASSERT_STR_NE(vd_errname(codes[i]), "UNKNOWN");
        ASSERT_STR_NE(vd_strerror(codes[i]), "unknown error");
        for (size_t j = i + 1; j < n; j++)
            ASSERT_NE(codes[i], codes[j]);
    }
    return TEST_OK;
}

TEST_IMPL(err_errf_keeps_first)
{
    struct vd_errbuf eb = {{0}};
    int rc;

    rc = vd_errf(&eb, -ENOENT, "open %s: %s", "/box/a.c", vd_strerror(-ENOENT));
    ASSERT_ERR(rc, -ENOENT);
    ASSERT_STR_EQ(eb.msg, "open /box/a.c: No such file or directory");

    rc = vd_errf(&eb, VD_ESANDBOX, "could not set up the box");
    ASSERT_ERR(rc, VD_ESANDBOX);
    ASSERT_STR_EQ(eb.msg, "open /box/a.c: No such file or directory");

    eb.msg[0] = '\0';
    (void)vd_errf(&eb, VD_ESANDBOX, "second %d", 2);
    ASSERT_STR_EQ(eb.msg, "second 2");
    return TEST_OK;
}

TEST_IMPL(err_errf_null_and_truncation)
{
    struct vd_errbuf eb = {{0}};
    char big[VD_ERRBUF_SIZE * 2];

    errno = EACCES;
    ASSERT_ERR(vd_errf(NULL, VD_EINVAL, "ignored %s", "x"), VD_EINVAL);
    ASSERT_EQ(errno, EACCES);

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ASSERT_ERR(vd_errf(&eb, -EIO, "%s", big), -EIO);
    ASSERT_EQ(errno, EACCES); /* vd_errf leaves errno alone */
    ASSERT_UINT_EQ(strlen(eb.msg), VD_ERRBUF_SIZE - 1);
    ASSERT_EQ(eb.msg[VD_ERRBUF_SIZE - 2], 'x');
    return TEST_OK;
}

static void fail_an_assert(void *arg)
{
    int one = *(int *)arg;

    VD_ASSERT(one == 2);
}

TEST_IMPL(err_assert_aborts_with_message)
{
    char out[1024];
    int st, one = 1;

    ASSERT_OK(harness_fork_capture(fail_an_assert, &one, out, sizeof(out), &st));
    ASSERT(WIFSIGNALED(st));
    ASSERT_EQ(WTERMSIG(st), SIGABRT);
    ASSERT_STR_CONTAINS(out, "assertion failed: one == 2");
    ASSERT_STR_CONTAINS(out, "test_err.c:");
    return TEST_OK;
}
