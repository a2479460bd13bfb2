/*
 * test_harness.c - the assertion macros report what the values were.
 *
 * Each failing assertion runs in a forked child (harness_fork_capture), whose
 * report comes back through a pipe; the test then checks the report's text.
 * This keeps the macros honest: a test that "passes" because ASSERT_EQ
 * compared nothing would be worse than no test.
 */
#include <errno.h>
#include <sys/wait.h>

#include "harness.h"

static void eq_fails(void *arg)
{
    int x = 3, y = 4;

    (void)arg;
    ASSERT_EQ(x, y);
}

static void eq_passes(void *arg)
{
    long big = -5001;

    (void)arg;
    ASSERT_EQ(big, VD_ETOOBIG);
    ASSERT_UINT_EQ(sizeof(int), 4);
}

static void str_fails(void *arg)
{
    const char *got = "hello";

    (void)arg;
    ASSERT_STR_EQ(got, "world");
}

static void str_null_fails(void *arg)
{
    const char *got = NULL;

    (void)arg;
    ASSERT_STR_EQ(got, "x");
}

static void err_fails(void *arg)
{
    int rc = -ENOENT;

    (void)arg;
    ASSERT_ERR(rc, VD_ETOOBIG);
}

TEST_IMPL(harness_assert_eq_prints_both_sides)
{
    char out[1024];
    int st;

    ASSERT_OK(harness_fork_capture(eq_fails, NULL, out, sizeof(out), &st));
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 1);
    ASSERT_STR_CONTAINS(out, "test_harness.c:");
    ASSERT_STR_CONTAINS(out, "ASSERT_EQ(x, y) failed: x = 3, y = 4");

    ASSERT_OK(harness_fork_capture(eq_passes, NULL, out, sizeof(out), &st));
    ASSERT(WIFEXITED(st));
    ASSERT_EQ(WEXITSTATUS(st), 0);
    ASSERT_STR_EQ(out, "");
    return TEST_OK;
}

TEST_IMPL(harness_assert_str_eq_prints_both_sides)
{
    char out[1024];
    int st;

    ASSERT_OK(harness_fork_capture(str_fails, NULL, out, sizeof(out), &st));
    ASSERT_EQ(WEXITSTATUS(st), 1);
    ASSERT_STR_CONTAINS(out, "got = \"hello\", \"world\" = \"world\"");

    ASSERT_OK(harness_fork_capture(str_null_fails, NULL, out, sizeof(out), &st));
    ASSERT_EQ(WEXITSTATUS(st), 1);
    ASSERT_STR_CONTAINS(out, "got = \"(null)\"");
    return TEST_OK;
}

TEST_IMPL(harness_assert_err_prints_names)
{
    char out[1024];
    int st;

    ASSERT_OK(harness_fork_capture(err_fails, NULL, out, sizeof(out), &st));
    ASSERT_EQ(WEXITSTATUS(st), 1);
    ASSERT_STR_CONTAINS(out, "rc = -2 (ENOENT)");
    ASSERT_STR_CONTAINS(out, "VD_ETOOBIG = -5001 (VD_ETOOBIG)");
    return TEST_OK;
}
