/*
 * alloc.c - the one place verdict calls malloc, calloc, realloc and free.
 *
 * Theory of operation: two families sit over the C allocator.
 *
 *   vd_x*     small fixed-size objects (a handle, a job, a config string).
 *             Failure means the machine is out of memory for bookkeeping and
 *             nothing useful can follow, so they print one line and abort,
 *             and callers need no error path for them.
 *   vd_try_*  input-sized buffers (request bodies, captured output, files
 *             read from a box). Their size is chosen by someone else, so
 *             failure is an ordinary error: they return NULL and the caller
 *             returns -ENOMEM.
 *
 * Because every allocation funnels through here, a test can make the n-th
 * vd_try_* call fail (vd_alloc_fail_after) and walk each -ENOMEM path, as
 * curl's torture mode and libuv's loop_init_oom do. The switch is one
 * atomic counter, so it works when tests use threads; only vd_try_* consult
 * it, because vd_x* failures abort by design and have no path to test.
 *
 * A size of 0 is rounded up to 1 everywhere: malloc(0) may legally return
 * NULL, which callers would mistake for out-of-memory, and realloc(p, 0)
 * frees p in glibc but is undefined in C23.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd/alloc.h"
#include "vd/log.h"

/* 0: disarmed. n > 0: the n-th vd_try_* call from now fails. */
static atomic_long fail_countdown;

static VD_NORETURN void out_of_memory(const char *what, size_t n)
{
    char msg[128];

    /* No stdio buffering and no allocation: we are out of memory. */
    if (snprintf(msg, sizeof(msg), "verdict: out of memory in %s(%zu)", what, n) < 0)
        vd_log_raw("verdict: out of memory");
    else
        vd_log_raw(msg);
    abort();
}

/*
 * Returns 1 when the failure switch says this call must fail. The
 * compare-and-swap loop makes exactly one caller see the count reach zero,
 * even with several threads allocating at once.
 */
static int injected_failure(void)
{
    long n = atomic_load_explicit(&fail_countdown, memory_order_relaxed);

    while (n > 0) {
        if (atomic_compare_exchange_weak(&fail_countdown, &n, n - 1))
            return n == 1;
    }
    return 0;
}

/* Arms (n >= 1) or disarms (n <= 0) the failure switch; see the top. */
void vd_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n > 0 ? n : 0);
}

/* Returns n bytes (uninitialised) or aborts. Free with vd_free(). */
void *vd_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (!p)
        out_of_memory("vd_xmalloc", n);
    return p;
}

/* Returns nmemb * size zeroed bytes or aborts, also on overflow. */
void *vd_xcalloc(size_t nmemb, size_t size)
{
    void *p;

    if (nmemb == 0 || size == 0)
        nmemb = size = 1;
    p = calloc(nmemb, size); /* calloc checks nmemb * size for overflow */
    if (!p) {
        size_t total;

        if (__builtin_mul_overflow(nmemb, size, &total))
            total = SIZE_MAX;
        out_of_memory("vd_xcalloc", total);
    }
    return p;
}

/* Resizes p (NULL: allocates) or aborts. */
void *vd_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (!q)
        out_of_memory("vd_xrealloc", n);
    return q;
}

/* Returns a copy of s that the caller frees with vd_free(), or aborts. */
char *vd_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = vd_xmalloc(n);

    memcpy(d, s, n);
    return d;
}

/* Returns n bytes, or NULL (errno ENOMEM) when out of memory. */
void *vd_try_malloc(size_t n)
{
    if (injected_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(n ? n : 1);
}

/* Returns nmemb * size zeroed bytes, or NULL when out of memory or when
 * the product overflows. */
void *vd_try_calloc(size_t nmemb, size_t size)
{
    if (injected_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    if (nmemb == 0 || size == 0)
        nmemb = size = 1;
    return calloc(nmemb, size);
}

/* Like realloc: on failure p is untouched and still the caller's. */
void *vd_try_realloc(void *p, size_t n)
{
    if (injected_failure()) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, n ? n : 1);
}

/* Releases memory from any vd_x* or vd_try_* call; NULL is a no-op. */
void vd_free(void *p)
{
    free(p);
}
