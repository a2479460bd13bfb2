/*
 * err.h - error codes shared by every module.
 *
 * A function that can fail returns int: 0 on success, a negative value on
 * failure. System errors are -errno; verdict's own codes sit below the errno
 * range (errno values stay under 4096). One X-macro table produces the
 * constants, vd_strerror() and vd_errname().
 *
 * Where the text of a failure matters (sandbox set-up, configuration,
 * request validation) the caller also passes a struct vd_errbuf, which the
 * callee fills with one human sentence.
 */
#ifndef VD_ERR_H
#define VD_ERR_H

#include <stddef.h>

#if defined(__GNUC__)
#define VD_MUST_CHECK __attribute__((warn_unused_result))
#define VD_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define VD_NORETURN __attribute__((noreturn))
#else
#define VD_MUST_CHECK
#define VD_PRINTF(a, b)
#define VD_NORETURN
#endif

/* name, value, message */
#define VD_ERR_MAP(XX)                                                \
    XX(VD_ETOOBIG, -5001, "value exceeds its configured cap")         \
    XX(VD_EBADJSON, -5002, "malformed JSON")                          \
    XX(VD_EINVAL, -5003, "invalid argument")                          \
    XX(VD_ENOSLOT, -5004, "no sandbox slot available")                \
    XX(VD_ESANDBOX, -5005, "sandbox internal failure")                \
    XX(VD_EPROTO, -5006, "protocol error between supervisor and box") \
    XX(VD_ENOCGROUP, -5007, "cgroups are required but not usable")    \
    XX(VD_EUNSAFE, -5008, "refused an unsafe path")                   \
    XX(VD_ETIMEDOUT, -5009, "timed out")                              \
    XX(VD_ENOTFOUND, -5010, "not found")                              \
    XX(VD_EAUTH, -5011, "refused: not authenticated or not allowed")

enum vd_err {
#define XX(name, val, msg) name = (val),
    VD_ERR_MAP(XX)
#undef XX
};

/* Text for any code: ours, or -errno. Never NULL; static storage. */
const char *vd_strerror(int err);
/* Symbolic name ("VD_ETOOBIG", "ENOENT"); static storage. */
const char *vd_errname(int err);

/* A caller-owned buffer for one sentence about a failure. */
#define VD_ERRBUF_SIZE 256
struct vd_errbuf {
    char msg[VD_ERRBUF_SIZE];
};

/* Formats into eb (NULL eb is allowed and ignored). Returns rc unchanged so
 * that `return vd_errf(eb, rc, "...")` reads naturally. A message already
 * present is kept: the first, innermost failure is the one that explains. */
int vd_errf(struct vd_errbuf *eb, int rc, const char *fmt, ...) VD_PRINTF(3, 4);

/* Assertion for programmer mistakes only, never for input. */
#define VD_ASSERT(cond)                                \
    do {                                               \
        if (!(cond))                                   \
            vd_assert_fail(#cond, __FILE__, __LINE__); \
    } while (0)
VD_NORETURN void vd_assert_fail(const char *what, const char *file, int line);

#endif /* VD_ERR_H */
