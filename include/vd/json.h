/*
 * json.h - thin helpers over jansson.
 */
#ifndef VD_JSON_H
#define VD_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "vd/buf.h"
#include "vd/err.h"

/* A JSON string of n bytes of any content: invalid UTF-8 becomes U+FFFD, so
 * a program's binary output never makes the document invalid. NULL when out
 * of memory. */
json_t *vd_json_string_lossy(const char *s, size_t n);

/* Appends the compact serialization of v to out (v is not consumed). */
int vd_json_dump(const json_t *v, struct vd_buf *out) VD_MUST_CHECK;

#endif /* VD_JSON_H */
