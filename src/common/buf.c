/*
 * buf.c - growable byte buffer with a hard cap (curl's dynbuf).
 *
 * Theory of operation: a struct vd_buf starts empty (data NULL) and grows by
 * doubling from 32 bytes, so n appends cost O(log n) reallocations. The cap
 * is fixed at init and bounds len; the allocation never exceeds cap + 1
 * (room for the terminating NUL), so a buffer capped at 64 KiB can never
 * hold more than 64 KiB + 1 bytes whatever the input claims.
 *
 * Every failed append (the cap would be passed, or memory ran out) frees the
 * buffer and leaves it empty with its cap intact. A caller that forgets to
 * check cannot go on with half a request or half a file and treat it as
 * whole: the next use sees an empty buffer. vd_buf_add_capped() is the one
 * exception, for captured program output, where hitting the cap is a result
 * (output limit exceeded) and the first cap bytes are worth keeping.
 *
 * Memory comes from vd_try_realloc(), because buffer sizes follow input:
 * running out is an error to return, not a reason to abort, and the
 * allocation-failure switch reaches these paths in tests. This module does
 * not log; callers decide what a failure means. Not thread-safe: a buffer
 * has one owner at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vd/alloc.h"
#include "vd/buf.h"
#include "vd/err.h"

#define MIN_ALLOC 32

/*
 * Makes room for n more bytes plus the NUL. The caller has checked that
 * len + n <= cap. Frees the buffer and returns -ENOMEM on failure.
 */
static int grow(struct vd_buf *b, size_t n)
{
    size_t need, a;
    char *p;

    if (b->len + n == SIZE_MAX) { /* only possible with cap SIZE_MAX */
        vd_buf_free(b);
        return -ENOMEM;
    }
    need = b->len + n + 1;
    if (need <= b->alloc)
        return 0;
    a = b->alloc ? b->alloc : MIN_ALLOC;
    while (a < need) {
        if (a > SIZE_MAX / 2) {
            a = need;
            break;
        }
        a *= 2;
    }
    /* Doubling must not reserve memory the cap forbids us ever to use. */
    if (b->cap < SIZE_MAX && a > b->cap + 1)
        a = b->cap + 1;
    p = vd_try_realloc(b->data, a);
    if (!p) {
        vd_buf_free(b);
        return -ENOMEM;
    }
    b->data = p;
    b->alloc = a;
    return 0;
}

/* Prepares an empty buffer that will never hold more than cap bytes. */
void vd_buf_init(struct vd_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

/* Releases the memory; the buffer stays usable, empty, with the same cap. */
void vd_buf_free(struct vd_buf *b)
{
    vd_free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

/* Empties the buffer but keeps its memory for the next round of appends. */
void vd_buf_reset(struct vd_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

/*
 * Appends n bytes. Returns 0, VD_ETOOBIG when len would pass the cap, or
 * -ENOMEM; on either failure the buffer has been freed (see the top).
 */
int vd_buf_add(struct vd_buf *b, const void *p, size_t n)
{
    int rc;

    /* len <= cap always holds, so cap - len cannot wrap. */
    if (n > b->cap - b->len) {
        vd_buf_free(b);
        return VD_ETOOBIG;
    }
    if (n == 0)
        return 0;
    VD_ASSERT(p != NULL);
    rc = grow(b, n);
    if (rc < 0)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Appends a C string without its NUL; same results as vd_buf_add(). */
int vd_buf_adds(struct vd_buf *b, const char *s)
{
    return vd_buf_add(b, s, strlen(s));
}

/*
 * Appends printf-formatted text. Returns 0, VD_ETOOBIG, -ENOMEM, or the
 * -errno of a formatting error (EOVERFLOW, EILSEQ); on any failure the
 * buffer has been freed.
 */
int vd_buf_printf(struct vd_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n, rc = 0;

    /* First try to format straight into the spare room, which is the
     * common case once a buffer has grown: one pass, no extra copy.
     * Since alloc <= cap + 1, text that fits the room also fits the cap. */
    if (b->data && b->alloc > b->len + 1) {
        size_t room = b->alloc - b->len;

        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, room, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        b->data[b->len] = '\0'; /* undo the partial write */
    }

    errno = 0;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        rc = errno ? -errno : VD_EINVAL;
        vd_buf_free(b);
        goto out;
    }
    if ((size_t)n > b->cap - b->len) {
        vd_buf_free(b);
        rc = VD_ETOOBIG;
        goto out;
    }
    if (n == 0)
        goto out;
    rc = grow(b, (size_t)n);
    if (rc < 0)
        goto out;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    if (n < 0) { /* the same format failing the second time: be safe */
        rc = VD_EINVAL;
        vd_buf_free(b);
        goto out;
    }
    b->len += (size_t)n;
out:
    return rc;
}

/*
 * Appends as much of p as the cap allows and returns the number of bytes
 * dropped (0 when all fit), or -ENOMEM (buffer freed). Hitting the cap is
 * not an error here: the kept prefix stays.
 */
long vd_buf_add_capped(struct vd_buf *b, const void *p, size_t n)
{
    size_t room = b->cap - b->len;
    size_t take = n < room ? n : room;
    size_t dropped = n - take;
    int rc;

    if (take > 0) {
        VD_ASSERT(p != NULL);
        rc = grow(b, take);
        if (rc < 0)
            return rc;
        memcpy(b->data + b->len, p, take);
        b->len += take;
        b->data[b->len] = '\0';
    }
    return dropped > LONG_MAX ? LONG_MAX : (long)dropped;
}

/*
 * Hands the content to the caller, who frees it with vd_free(). The result
 * is NUL-terminated and never NULL for an empty buffer ("" is allocated);
 * NULL means out of memory, and then the buffer is unchanged. On success the
 * buffer is left empty, with the same cap.
 */
char *vd_buf_take(struct vd_buf *b, size_t *len)
{
    char *p = b->data;

    if (!p) {
        p = vd_try_malloc(1);
        if (!p) {
            if (len)
                *len = 0;
            return NULL;
        }
        p[0] = '\0';
    }
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return p;
}

int vd_buf_read_file(struct vd_buf *b, const char *path)
{
    char chunk[65536];
    ssize_t k;
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while ((k = read(fd, chunk, sizeof(chunk))) != 0) {
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = -errno;
            break;
        }
        if ((rc = vd_buf_add(b, chunk, (size_t)k)) < 0)
            break;
    }
    close(fd);
    return rc;
}
