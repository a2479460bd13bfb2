/*
 * buf.h - a growable byte buffer with a cap fixed at init (curl's dynbuf).
 *
 * The content is always NUL-terminated (the NUL is not counted in len), so
 * text can be handed to C string functions. When an append would pass the
 * cap the buffer frees itself and returns VD_ETOOBIG, so a caller can never
 * forget to notice the overflow and keep going with half the data.
 *
 * Ownership: caller-owned struct; vd_buf_free() releases the memory and
 * leaves an empty buffer with the same cap; vd_buf_take() hands the memory
 * over to the caller.
 */
#ifndef VD_BUF_H
#define VD_BUF_H

#include <stddef.h>
#include "vd/err.h"

struct vd_buf {
    char *data; /* NULL while empty */
    size_t len;
    size_t alloc;
    size_t cap; /* len never exceeds cap */
};

void vd_buf_init(struct vd_buf *b, size_t cap);
void vd_buf_free(struct vd_buf *b);
void vd_buf_reset(struct vd_buf *b); /* len = 0, memory kept */

int vd_buf_add(struct vd_buf *b, const void *p, size_t n) VD_MUST_CHECK;
int vd_buf_adds(struct vd_buf *b, const char *s) VD_MUST_CHECK;
int vd_buf_printf(struct vd_buf *b, const char *fmt, ...) VD_PRINTF(2, 3) VD_MUST_CHECK;

/* Appends at most what fits under the cap and returns how many bytes were
 * dropped (0 when everything fit). For output capture, where the overflow
 * is a result to report, not an error. Returns -ENOMEM on allocation
 * failure. */
long vd_buf_add_capped(struct vd_buf *b, const void *p, size_t n) VD_MUST_CHECK;

/* Appends the whole file at path. VD_ETOOBIG when it passes the cap (the
 * buffer frees itself, as for any append), -errno when it cannot be read. */
int vd_buf_read_file(struct vd_buf *b, const char *path) VD_MUST_CHECK;

/* Gives the memory (NUL-terminated, never NULL) to the caller; *len gets
 * the length if len is not NULL. The buffer is left empty. NULL if out of
 * memory. */
char *vd_buf_take(struct vd_buf *b, size_t *len);

static inline const char *vd_buf_str(const struct vd_buf *b)
{
    return b->data ? b->data : "";
}

#endif /* VD_BUF_H */
