/*
 * alloc.h - the only way verdict allocates memory.
 *
 * vd_x* calls abort on failure and serve small fixed-size objects, whose
 * absence leaves nothing sensible to do. vd_try_* calls return NULL and are
 * for input-sized buffers, whose callers turn NULL into -ENOMEM.
 *
 * The allocation-failure switch (vd_alloc_fail_after) makes the n-th vd_try_*
 * call from now on fail, so tests can walk every error path.
 */
#ifndef VD_ALLOC_H
#define VD_ALLOC_H

#include <stddef.h>

void *vd_xmalloc(size_t n);
void *vd_xcalloc(size_t nmemb, size_t size);
void *vd_xrealloc(void *p, size_t n);
char *vd_xstrdup(const char *s);

void *vd_try_malloc(size_t n);
void *vd_try_calloc(size_t nmemb, size_t size);
void *vd_try_realloc(void *p, size_t n);

void vd_free(void *p);

/* Test hook: the n-th vd_try_* call from now fails (n >= 1); 0 disarms. */
void vd_alloc_fail_after(long n);

#endif /* VD_ALLOC_H */
