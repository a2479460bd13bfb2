/*
 * harness.h - what a unit test file includes.
 *
 * A test is a function defined with TEST_IMPL(name) and registered with one
 * line in test-list.h. It returns TEST_OK, or leaves early through
 * RETURN_SKIP(reason) when the machine lacks something it needs. The runner
 * runs it in a child process of its own, so an ASSERT failure ends only that
 * test: the failing assertion writes "file:line: what failed: both sides" to
 * the runner and the child exits with status 1.
 *
 * The comparison macros evaluate each argument exactly once and print both
 * sides, so a failure report says what the values were, not only that they
 * differed (libuv's ASSERT_EQ):
 *
 *     ASSERT(cond)
 *     ASSERT_EQ(a, b)  ASSERT_NE  ASSERT_LT  ASSERT_LE  ASSERT_GT  ASSERT_GE
 *                      signed integers (compared as intmax_t)
 *     ASSERT_INT_EQ(a, b)     the same as ASSERT_EQ
 *     ASSERT_UINT_EQ(a, b)    unsigned integers and sizes (uintmax_t)
 *     ASSERT_PTR_EQ(a, b)  ASSERT_PTR_NE(a, b)  ASSERT_NULL(p)  ASSERT_NOT_NULL(p)
 *     ASSERT_STR_EQ(a, b)  ASSERT_STR_NE(a, b)   C strings (NULL allowed)
 *     ASSERT_STR_CONTAINS(haystack, needle)
 *     ASSERT_MEM_EQ(a, b, n)  prints the first differing offset
 *     ASSERT_OK(expr)         expr == 0, else prints the code and its name
 *     ASSERT_ERR(expr, code)  expr == code (a VD_E* or -errno), by name
 *     FAIL(fmt, ...)          fail with a message
 *     RETURN_SKIP(fmt, ...)   skip with a reason (printf-style)
 */
#ifndef VD_TEST_HARNESS_H
#define VD_TEST_HARNESS_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vd/err.h"

#define TEST_OK 0
#define TEST_SKIP 77

/* Declares and defines the test function; the declaration keeps
 * -Wmissing-prototypes quiet without a header per test file. */
#define TEST_IMPL(name)    \
    int test_##name(void); \
    int test_##name(void)

/* Implemented in runner.c. */
VD_NORETURN void harness_fail(const char *file, int line, const char *fmt, ...) VD_PRINTF(3, 4);
void harness_skip(const char *fmt, ...) VD_PRINTF(1, 2);
/* Sleeps ms milliseconds, whatever signals arrive; the monotonic clock in
 * milliseconds, for measuring waits. */
void harness_sleep_ms(int ms);
int64_t harness_mono_ms(void);
/* The test Redis server (VERDICT_TEST_REDIS_URL) on database db, into buf;
 * NULL when there is none (the caller skips, saying so). Each test file
 * has a database of its own, which it may flush. */
const char *harness_redis_url(char *buf, size_t cap, int db);
long harness_mem_diff(const void *a, const void *b, size_t n); /* first differing offset or -1 */

/*
 * Runs fn(arg) in a forked child with the log fd and stderr pointed at a
 * pipe, collects what the child wrote into out (NUL-terminated, truncated to
 * outsize - 1) and its wait status into *status. For testing code that
 * aborts or exits. The child gets no core dump. Returns 0 or -errno.
 */
int harness_fork_capture(void (*fn)(void *), void *arg, char *out, size_t outsize, int *status);

#define FAIL(...) harness_fail(__FILE__, __LINE__, __VA_ARGS__)

#define RETURN_SKIP(...)           \
    do {                           \
        harness_skip(__VA_ARGS__); \
        return TEST_SKIP;          \
    } while (0)

#define ASSERT(cond)                          \
    do {                                      \
        if (!(cond))                          \
            FAIL("ASSERT(%s) failed", #cond); \
    } while (0)

/*
 * The text of each argument is taken (#a) by the macro the test calls, and
 * passed down: stringified one level lower, `errno` would print as its
 * expansion, (*__errno_location ()).
 */
#define HARNESS_CMP_(name, a, op, b, sa, sb, type, pri)                                            \
    do {                                                                                           \
        type harness_a_ = (type)(a);                                                               \
        type harness_b_ = (type)(b);                                                               \
        if (!(harness_a_ op harness_b_))                                                           \
            FAIL("%s(%s, %s) failed: %s = %" pri ", %s = %" pri, name, sa, sb, sa, harness_a_, sb, \
                 harness_b_);                                                                      \
    } while (0)

#define ASSERT_EQ(a, b) HARNESS_CMP_("ASSERT_EQ", a, ==, b, #a, #b, intmax_t, PRIdMAX)
#define ASSERT_NE(a, b) HARNESS_CMP_("ASSERT_NE", a, !=, b, #a, #b, intmax_t, PRIdMAX)
#define ASSERT_LT(a, b) HARNESS_CMP_("ASSERT_LT", a, <, b, #a, #b, intmax_t, PRIdMAX)
#define ASSERT_LE(a, b) HARNESS_CMP_("ASSERT_LE", a, <=, b, #a, #b, intmax_t, PRIdMAX)
#define ASSERT_GT(a, b) HARNESS_CMP_("ASSERT_GT", a, >, b, #a, #b, intmax_t, PRIdMAX)
#define ASSERT_GE(a, b) HARNESS_CMP_("ASSERT_GE", a, >=, b, #a, #b, intmax_t, PRIdMAX)
#define ASSERT_INT_EQ(a, b) HARNESS_CMP_("ASSERT_INT_EQ", a, ==, b, #a, #b, intmax_t, PRIdMAX)
#define ASSERT_UINT_EQ(a, b) HARNESS_CMP_("ASSERT_UINT_EQ", a, ==, b, #a, #b, uintmax_t, PRIuMAX)
#define ASSERT_UINT_LE(a, b) HARNESS_CMP_("ASSERT_UINT_LE", a, <=, b, #a, #b, uintmax_t, PRIuMAX)

#define HARNESS_PTR_(name, a, op, b, sa, sb)                                              \
    do {                                                                                  \
        const void *harness_a_ = (const void *)(a);                                       \
        const void *harness_b_ = (const void *)(b);                                       \
        if (!(harness_a_ op harness_b_))                                                  \
            FAIL("%s(%s, %s) failed: %s = %p, %s = %p", name, sa, sb, sa, harness_a_, sb, \
                 harness_b_);                                                             \
    } while (0)

#define ASSERT_PTR_EQ(a, b) HARNESS_PTR_("ASSERT_PTR_EQ", a, ==, b, #a, #b)
#define ASSERT_PTR_NE(a, b) HARNESS_PTR_("ASSERT_PTR_NE", a, !=, b, #a, #b)

#define ASSERT_NULL(p)                                                   \
    do {                                                                 \
        const void *harness_p_ = (const void *)(p);                      \
        if (harness_p_ != NULL)                                          \
            FAIL("ASSERT_NULL(%s) failed: %s = %p", #p, #p, harness_p_); \
    } while (0)

#define ASSERT_NOT_NULL(p)                                         \
    do {                                                           \
        if ((const void *)(p) == NULL)                             \
            FAIL("ASSERT_NOT_NULL(%s) failed: %s = NULL", #p, #p); \
    } while (0)

#define HARNESS_STR_(name, a, want_equal, b, sa, sb)                                          \
    do {                                                                                      \
        const char *harness_a_ = (a);                                                         \
        const char *harness_b_ = (b);                                                         \
        int harness_eq_ = (harness_a_ && harness_b_) ? strcmp(harness_a_, harness_b_) == 0    \
                                                     : harness_a_ == harness_b_;              \
        if (harness_eq_ != (want_equal))                                                      \
            FAIL("%s(%s, %s) failed: %s = \"%s\", %s = \"%s\"", name, sa, sb, sa,             \
                 harness_a_ ? harness_a_ : "(null)", sb, harness_b_ ? harness_b_ : "(null)"); \
    } while (0)

#define ASSERT_STR_EQ(a, b) HARNESS_STR_("ASSERT_STR_EQ", a, 1, b, #a, #b)
#define ASSERT_STR_NE(a, b) HARNESS_STR_("ASSERT_STR_NE", a, 0, b, #a, #b)

#define ASSERT_STR_CONTAINS(h, n)                                                             \
    do {                                                                                      \
        const char *harness_h_ = (h);                                                         \
        const char *harness_n_ = (n);                                                         \
        if (!harness_h_ || !harness_n_ || !strstr(harness_h_, harness_n_))                    \
            FAIL("ASSERT_STR_CONTAINS(%s, %s) failed: %s = \"%s\", %s = \"%s\"", #h, #n, #h,  \
                 harness_h_ ? harness_h_ : "(null)", #n, harness_n_ ? harness_n_ : "(null)"); \
    } while (0)

#define ASSERT_MEM_EQ(a, b, n)                                                                   \
    do {                                                                                         \
        long harness_off_ = harness_mem_diff((a), (b), (n));                                     \
        if (harness_off_ >= 0)                                                                   \
            FAIL("ASSERT_MEM_EQ(%s, %s, %s) failed: first difference at offset %ld", #a, #b, #n, \
                 harness_off_);                                                                  \
    } while (0)

#define HARNESS_ERR_(name, a, b, sa, sb)                                                          \
    do {                                                                                          \
        long harness_a_ = (long)(a);                                                              \
        long harness_b_ = (long)(b);                                                              \
        if (harness_a_ != harness_b_)                                                             \
            FAIL("%s(%s, %s) failed: %s = %ld (%s), %s = %ld (%s)", name, sa, sb, sa, harness_a_, \
                 vd_errname((int)harness_a_), sb, harness_b_, vd_errname((int)harness_b_));       \
    } while (0)

#define ASSERT_ERR(expr, code) HARNESS_ERR_("ASSERT_ERR", expr, code, #expr, #code)
#define ASSERT_OK(expr) HARNESS_ERR_("ASSERT_OK", expr, 0, #expr, "0")

#endif /* VD_TEST_HARNESS_H */
