/*
 * router.c - method and path to handler, for the API's route table.
 *
 * Theory of operation. A linear walk over a short static table: each
 * pattern is compared segment by segment with the path, "{name}" taking
 * one non-empty segment (copied out, capped). A path that matches some
 * pattern with another method is a 405 with the Allow list, not a 404, so
 * a client learns it used the wrong verb. A path some parameter-free
 * pattern names is decided by those alone, so "/submissions/batch" is never
 * read as the id "batch". Nothing is decoded: our ids are
 * plain ASCII, and a percent-encoded path simply matches nothing.
 */
#include <stdio.h>
#include <string.h>

#include "vd/http.h"

/* Whether path matches pattern; the {param} segment goes to param. */
static int match(const char *pattern, const char *path, char param[VD_HTTP_PARAM_MAX])
{
    const char *p = pattern, *s = path;
    size_t plen = strlen(path);

    /* "/x/" is "/x"; "/" stays "/". */
    if (plen > 1 && path[plen - 1] == '/')
        plen--;
    const char *end = path + plen;
    while (*p && s < end) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pe = strchr(p, '/'), *se = memchr(s, '/', (size_t)(end - s));
        size_t pn = pe ? (size_t)(pe - p) : strlen(p);
        size_t sn = se ? (size_t)(se - s) : (size_t)(end - s);
        if (pn > 1 && p[0] == '{' && p[pn - 1] == '}') {
            if (sn == 0 || sn >= VD_HTTP_PARAM_MAX)
                return 0;
            memcpy(param, s, sn);
            param[sn] = '\0';
        } else if (pn != sn || memcmp(p, s, pn) != 0) {
            return 0;
        }
        p += pn;
        s += sn;
    }
    return !*p && s == end;
}

int vd_http_route_find(const struct vd_http_route *routes, const char *method, const char *path,
                       const struct vd_http_route **out, char param[VD_HTTP_PARAM_MAX], char *allow,
                       size_t allow_cap)
{
    char scratch[VD_HTTP_PARAM_MAX] = "";
    int path_known = 0;
    size_t alen = 0;

    *out = NULL;
    param[0] = '\0';
    if (allow_cap)
        allow[0] = '\0';
    if (strcmp(method, "HEAD") == 0)
        method = "GET";
    /* A path that a pattern without parameters names (".../batch") is not
     * also an id: the literal routes alone decide it. */
    int literal = 0;
    for (const struct vd_http_route *r = routes; r->method && !literal; r++)
        literal = !strchr(r->pattern, '{') && match(r->pattern, path, scratch);
    for (const struct vd_http_route *r = routes; r->method; r++) {
        scratch[0] = '\0';
        if ((literal && strchr(r->pattern, '{')) || !match(r->pattern, path, scratch))
            continue;
        if (strcmp(r->method, method) == 0) {
            *out = r;
            memcpy(param, scratch, sizeof(scratch));
            return 0;
        }
        path_known = 1;
        int n = snprintf(allow + alen, allow_cap - alen, "%s%s", alen ? ", " : "", r->method);
        if (n > 0 && (size_t)n < allow_cap - alen)
            alen += (size_t)n;
    }
    return path_known ? VD_EINVAL : VD_ENOTFOUND;
}
