/*
 * judge-int.h - what the files of src/judge share.
 */
#ifndef VD_JUDGE_INT_H
#define VD_JUDGE_INT_H

#include <pthread.h>

#include "vd/judge.h"

#define VD__CACHE_KEY_LEN 64 /* hex SHA-256 */

struct vd__cache;

/* Opens (making it if needed) a cache directory that only root may write. */
int vd__cache_open(const char *dir, uint64_t max_bytes, struct vd__cache **out,
                   struct vd_errbuf *eb) VD_MUST_CHECK;
void vd__cache_close(struct vd__cache *c);

/* The key of a compilation: language, toolchain version, compile command,
 * source. */
void vd__cache_key(const struct vd_lang *l, const char *src, size_t len,
                   char key[VD__CACHE_KEY_LEN + 1]);

/* 0 and the entry's files directory (and compiler output) when present;
 * VD_ENOTFOUND otherwise. Marks the entry as just used. */
int vd__cache_get(struct vd__cache *c, const char *key, char *files, size_t cap,
                  struct vd_buf *output) VD_MUST_CHECK;

/* Stores what the box's /box holds under key, with the compiler output,
 * and gives the entry's files directory. */
int vd__cache_put(struct vd__cache *c, const char *key, struct vd_box *box, const char *output,
                  size_t output_len, char *files, size_t cap, struct vd_errbuf *eb) VD_MUST_CHECK;

#endif /* VD_JUDGE_INT_H */
