/*
 * test_alloc.c - src/common/alloc.c: the allocation-failure switch and the
 * abort-on-failure family.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "harness.h"
#include "vd/alloc.h"

/* 4 EiB: no machine has it, yet it is a "sane" size to valgrind and ASan,
 * which report values with the top bit set as likely bugs. */
#define HUGE_SIZE ((size_t)1 << 62)

TEST_IMPL(alloc_fail_switch_first)
{
    void *p, *q;

    vd_alloc_fail_after(1);
    errno = 0;
    p = vd_try_malloc(16);
    ASSERT_NULL(p);
    ASSERT_EQ(errno, ENOMEM);
    /* One shot: the next call is served again. */
    q = vd_try_malloc(16);
    ASSERT_NOT_NULL(q);
    vd_free(q);
    return TEST_OK;
}

TEST_IMPL(alloc_fail_switch_nth_only)
{
    void *p[6];

    vd_alloc_fail_after(3);
    for (int i = 0; i < 6; i++)
        p[i] = vd_try_malloc(8);
    ASSERT_NOT_NULL(p[0]);
    ASSERT_NOT_NULL(p[1]);
    ASSERT_NULL(p[2]);
    ASSERT_NOT_NULL(p[3]);
    ASSERT_NOT_NULL(p[4]);
    ASSERT_NOT_NULL(p[5]);
    for (int i = 0; i < 6; i++)
        vd_free(p[i]);
    return TEST_OK;
}

TEST_IMPL(alloc_fail_switch_disarm)
{
    void *p;

    vd_alloc_fail_after(2);
    vd_alloc_fail_after(0);
    for (int i = 0; i < 4; i++) {
        p = vd_try_malloc(8);
        ASSERT_NOT_NULL(p);
        vd_free(p);
    }
    vd_alloc_fail_after(-5); /* negative disarms too */
    p = vd_try_malloc(8);
    ASSERT_NOT_NULL(p);
    vd_free(p);
    return TEST_OK;
}

TEST_IMPL(alloc_fail_switch_all_try_calls)
{
    void *p;

    /* calloc and realloc count and fail like malloc. */
    vd_alloc_fail_after(2);
    p = vd_try_calloc(4, 4);
    ASSERT_NOT_NULL(p);
    ASSERT_NULL(vd_try_calloc(4, 4));
    vd_free(p);

    p = vd_try_malloc(4);
    ASSERT_NOT_NULL(p);
    vd_alloc_fail_after(1);
    ASSERT_NULL(vd_try_realloc(p, 64));
    vd_free(p);
    return TEST_OK;
}

TEST_IMPL(alloc_x_ignores_switch)
{
    void *a, *b, *c;
    char *d;

    vd_alloc_fail_after(1);
    a = vd_xmalloc(8);
    b = vd_xcalloc(2, 8);
    a = vd_xrealloc(a, 64);
    d = vd_xstrdup("s");
    /* None of those consumed the armed failure: it is still pending. */
    c = vd_try_malloc(8);
    ASSERT_NULL(c);
    vd_free(a);
    vd_free(b);
    vd_free(d);
    return TEST_OK;
}

TEST_IMPL(alloc_try_realloc_failure_keeps_block)
{
    char *p = vd_try_malloc(6), *q;

    ASSERT_NOT_NULL(p);
    memcpy(p, "hello", 6);
    vd_alloc_fail_after(1);
    q = vd_try_realloc(p, 1 << 20);
    ASSERT_NULL(q);
    /* realloc semantics: the old block is intact and still ours. */
    ASSERT_STR_EQ(p, "hello");
    q = vd_try_realloc(p, 1 << 20);
    ASSERT_NOT_NULL(q);
    ASSERT_STR_EQ(q, "hello");
    vd_free(q);
    return TEST_OK;
}

TEST_IMPL(alloc_zero_sizes_and_overflow)
{
    unsigned char *z;
    void *p;

    /* Size 0 never looks like out-of-memory. */
    p = vd_try_malloc(0);
    ASSERT_NOT_NULL(p);
    p = vd_try_realloc(p, 0);
    ASSERT_NOT_NULL(p);
    vd_free(p);
    p = vd_try_calloc(0, 8);
    ASSERT_NOT_NULL(p);
    vd_free(p);
    p = vd_xmalloc(0);
    ASSERT_NOT_NULL(p);
    vd_free(p);

    z = vd_try_calloc(64, 16);
    ASSERT_NOT_NULL(z);
    for (int i = 0; i < 64 * 16; i++)
        ASSERT_EQ(z[i], 0);
    vd_free(z);

    /* nmemb * size wraps: must fail, not hand out a short block. */
    ASSERT_NULL(vd_try_calloc(SIZE_MAX / 2, 3));
    ASSERT_NULL(vd_try_malloc(HUGE_SIZE));
    vd_free(NULL);
    return TEST_OK;
}

TEST_IMPL(alloc_xstrdup_copies)
{
    char src[] = "verdict";
    char *d = vd_xstrdup(src);

    ASSERT_PTR_NE(d, src);
    ASSERT_STR_EQ(d, "verdict");
    src[0] = 'V';
    ASSERT_STR_EQ(d, "verdict");
    vd_free(d);
    d = vd_xstrdup("");
    ASSERT_STR_EQ(d, "");
    vd_free(d);
    return TEST_OK;
}

static void x_too_big(void *arg)
{
    void *p = vd_xmalloc(*(size_t *)arg);

    vd_free(p); /* not reached */
}

TEST_IMPL(alloc_x_aborts_when_out_of_memory)
{
    char out[1024];
    size_t huge = HUGE_SIZE;
    int st;

    ASSERT_OK(harness_fork_capture(x_too_big, &huge, out, sizeof(out), &st));
    ASSERT(WIFSIGNALED(st));
    ASSERT_EQ(WTERMSIG(st), SIGABRT);
    ASSERT_STR_CONTAINS(out, "verdict: out of memory in vd_xmalloc(");
    return TEST_OK;
}
