/*
 * json.c - thin helpers over jansson.
 *
 * jansson refuses strings that are not valid UTF-8, while a program's output
 * may be anything: vd_json_string_lossy() replaces each invalid sequence by
 * U+FFFD, the way browsers decode, so a record is always valid JSON.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vd/alloc.h"
#include "vd/json.h"

/* Length of the valid UTF-8 sequence at s (max n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are invalid. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

json_t *vd_json_string_lossy(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, o = 0;
    /* Each invalid byte grows to three (EF BF BD). */
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *buf = vd_try_malloc(3 * n + 1);
    if (!buf)
        return NULL;
    while (i < n) {
        size_t k = utf8_len(p + i, n - i);
        /* NUL is valid UTF-8 but jansson's length-aware call keeps it. */
        if (k == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, p + i, k);
            o += k;
            i += k;
        }
    }
    json_t *j = json_stringn(buf, o);
    vd_free(buf);
    return j;
}

int vd_json_dump(const json_t *v, struct vd_buf *out)
{
    size_t need = json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (need == 0)
        return VD_EBADJSON;
    char *tmp = vd_try_malloc(need);
    if (!tmp)
        return -ENOMEM;
    json_dumpb(v, tmp, need, JSON_COMPACT | JSON_ENCODE_ANY);
    int rc = vd_buf_add(out, tmp, need);
    vd_free(tmp);
    return rc;
}
