/*
 * err.c - names and messages for error codes, the errbuf helper, assertions.
 *
 * Theory of operation: every fallible function returns 0 or a negative code.
 * Codes in [-4095, -1] are -errno and are described by glibc
 * (strerrordesc_np/strerrorname_np, glibc 2.32+, which, unlike strerror(),
 * never depend on the locale and never write to a shared buffer, so they
 * are thread-safe). Codes below that range are verdict's own and come from
 * the VD_ERR_MAP table in err.h, so a new code needs one line there and
 * nothing here.
 *
 * Everything here is pure lookup or formatting into caller memory: it runs
 * in any process (API server, worker, sandbox child before exec) and takes
 * no lock. vd_assert_fail() is the exception: it ends the process.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd/err.h"
#include "vd/log.h"

/* Linux errno values stay far below this; the kernel reserves -4095..-1 for
 * error returns, which is why our own codes start at -5001. */
#define ERRNO_MAX 4095

/* Returns the text for any code. Never NULL; the string is static. */
const char *vd_strerror(int err)
{
    const char *s;

    switch (err) {
#define XX(name, val, msg) \
    case name:             \
        return msg;
        VD_ERR_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err == 0)
        return "success";
    if (err < 0 && err >= -ERRNO_MAX) {
        s = strerrordesc_np(-err);
        if (s)
            return s;
    }
    return "unknown error";
}

/* Returns the symbolic name ("VD_ETOOBIG", "ENOENT"). Never NULL; static. */
const char *vd_errname(int err)
{
    const char *s;

    switch (err) {
#define XX(name, val, msg) \
    case name:             \
        return #name;
        VD_ERR_MAP(XX)
#undef XX
    default:
        break;
    }
    if (err == 0)
        return "OK";
    if (err < 0 && err >= -ERRNO_MAX) {
        s = strerrorname_np(-err);
        if (s)
            return s;
    }
    return "UNKNOWN";
}

/*
 * Formats one sentence into eb unless eb already holds one, and returns rc.
 * The first message wins because failures propagate outwards: the innermost
 * caller knows the path, the syscall and the errno, while an outer caller
 * that adds "could not set up the box" would only hide that. eb may be NULL.
 * The buffer must start zeroed (struct vd_errbuf eb = {0}).
 */
int vd_errf(struct vd_errbuf *eb, int rc, const char *fmt, ...)
{
    va_list ap;
    int saved = errno; /* callers often still need errno after reporting */

    if (!eb || eb->msg[0] != '\0')
        return rc;
    va_start(ap, fmt);
    /* vsnprintf truncates and always terminates: a long path or a hostile
     * file name can shorten the message but never overflow it. */
    if (vsnprintf(eb->msg, sizeof(eb->msg), fmt, ap) < 0)
        eb->msg[0] = '\0';
    va_end(ap);
    errno = saved;
    return rc;
}

/*
 * Reports a broken invariant and aborts. The message goes through
 * vd_log_raw(), which only calls write(2), because an assertion may fire in
 * a sandbox child between fork and exec, where stdio and malloc locks may be
 * held by threads that no longer exist. abort() leaves a core dump, which is
 * what a programmer mistake deserves.
 */
void vd_assert_fail(const char *what, const char *file, int line)
{
    char msg[512];

    /* snprintf with only %s and %d does not allocate in glibc. */
    if (snprintf(msg, sizeof(msg), "verdict: assertion failed: %s (%s:%d)", what, file, line) < 0)
        vd_log_raw("verdict: assertion failed");
    else
        vd_log_raw(msg);
    abort();
}
