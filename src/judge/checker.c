/*
 * checker.c - does a program's output answer the test?
 *
 * Theory of operation: the default compares whitespace-separated tokens, as
 * the ICPC/Kattis default validator does, so a missing final newline or an
 * extra space never turns a correct answer into WA. "exact" compares bytes;
 * "nocase" compares tokens ignoring ASCII case; "float" accepts two tokens
 * that both parse completely as finite numbers when they differ by at most
 * the absolute or the relative tolerance (either suffices, as in Kattis),
 * and otherwise compares them as text. A program checker runs in the box
 * (judge.c); this file only parses its spec.
 *
 * The comparison walks both buffers once, without copying, and reports the
 * first difference: which token (or byte) and what each side had.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vd/judge.h"

static const char *const verdict_names[] = {"OK",  "AC", "WA", "TLE", "MLE",
                                            "OLE", "RE", "CE", "IE",  "SKIPPED"};

const char *vd_verdict_name(enum vd_verdict v)
{
    return (unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0]) ? verdict_names[v] : "?";
}

static int parse_eps(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int vd_checker_parse(const char *spec, struct vd_checker *out, struct vd_errbuf *eb)
{
    memset(out, 0, sizeof(*out));
    if (!spec || !*spec || strcmp(spec, "tokens") == 0) {
        out->kind = VD_CHECK_TOKENS;
        return 0;
    }
    if (strcmp(spec, "exact") == 0) {
        out->kind = VD_CHECK_EXACT;
        return 0;
    }
    if (strcmp(spec, "nocase") == 0 || strcmp(spec, "case-insensitive") == 0) {
        out->kind = VD_CHECK_NOCASE;
        return 0;
    }
    if (strncmp(spec, "float:", 6) == 0) {
        const char *p = spec + 6;
        char buf[128];
        out->kind = VD_CHECK_FLOAT;
        if (strlen(p) >= sizeof(buf))
            return vd_errf(eb, VD_EINVAL, "checker \"%s\": too long", spec);
        if (strchr(p, '=') == NULL) {
            if (parse_eps(p, &out->abs_eps) < 0)
                return vd_errf(eb, VD_EINVAL, "checker \"%s\": float:EPS wants a number >= 0",
                               spec);
            out->rel_eps = out->abs_eps;
            return 0;
        }
        snprintf(buf, sizeof(buf), "%s", p);
        for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv;
             kv = strtok_r(NULL, ",", &save)) {
            if (strncmp(kv, "abs=", 4) == 0 && parse_eps(kv + 4, &out->abs_eps) == 0)
                continue;
            if (strncmp(kv, "rel=", 4) == 0 && parse_eps(kv + 4, &out->rel_eps) == 0)
                continue;
            return vd_errf(eb, VD_EINVAL, "checker \"%s\": expected abs=EPS and/or rel=EPS", spec);
        }
        return 0;
    }
    /* Anything else is a checker program on the host. */
    struct stat st;
    if (strlen(spec) >= sizeof(out->program))
        return vd_errf(eb, VD_EINVAL, "checker path too long");
    if (stat(spec, &st) < 0 || !S_ISREG(st.st_mode) || access(spec, X_OK) < 0)
        return vd_errf(
            eb, VD_EINVAL,
            "checker \"%s\": not tokens, exact, nocase, float:EPS, nor an executable file", spec);
    out->kind = VD_CHECK_PROGRAM;
    snprintf(out->program, sizeof(out->program), "%s", spec);
    return 0;
}

struct cursor {
    const char *p, *end;
};

/* The next token, or 0 at the end. */
static int next_token(struct cursor *c, const char **tok, size_t *len)
{
    while (c->p < c->end && isspace((unsigned char)*c->p))
        c->p++;
    if (c->p >= c->end)
        return 0;
    *tok = c->p;
    while (c->p < c->end && !isspace((unsigned char)*c->p))
        c->p++;
    *len = (size_t)(c->p - *tok);
    return 1;
}

/* A token that is wholly a finite number. */
static int as_number(const char *t, size_t len, double *out)
{
    char buf[128], *end;
    if (len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, t, len);
    buf[len] = '\0';
    errno = 0;
    *out = strtod(buf, &end);
    return *end == '\0' && errno != ERANGE && isfinite(*out) && !strpbrk(buf, "xXpP");
}

static int tokens_equal(const struct vd_checker *c, const char *a, size_t alen, const char *b,
                        size_t blen)
{
    if (c->kind == VD_CHECK_FLOAT) {
        double x, y;
        if (as_number(a, alen, &x) && as_number(b, blen, &y)) {
            double d = fabs(x - y);
            return d <= c->abs_eps || d <= c->rel_eps * fabs(y);
        }
    }
    if (alen != blen)
        return 0;
    return c->kind == VD_CHECK_NOCASE ? strncasecmp(a, b, alen) == 0 : memcmp(a, b, alen) == 0;
}

static void show(char *dst, size_t cap, const char *t, size_t len)
{
    if (!t) {
        snprintf(dst, cap, "end of output");
        return;
    }
    snprintf(dst, cap, "\"%.*s%s\"", (int)(len > 40 ? 40 : len), t, len > 40 ? "..." : "");
}

int vd_checker_compare(const struct vd_checker *c, const char *out, size_t out_len, const char *ans,
                       size_t ans_len, char *msg, size_t msg_cap)
{
    if (msg_cap)
        msg[0] = '\0';
    if (c->kind == VD_CHECK_EXACT) {
        size_t n = out_len < ans_len ? out_len : ans_len, i = 0;
        while (i < n && out[i] == ans[i])
            i++;
        if (i == n && out_len == ans_len)
            return 1;
        snprintf(msg, msg_cap, "byte %zu differs (output has %zu bytes, answer %zu)", i, out_len,
                 ans_len);
        return 0;
    }
    struct cursor o = {out, out + out_len}, a = {ans, ans + ans_len};
    for (size_t n = 1;; n++) {
        const char *ot = NULL, *at = NULL;
        size_t ol = 0, al = 0;
        int ho = next_token(&o, &ot, &ol), ha = next_token(&a, &at, &al);
        if (!ho && !ha)
            return 1;
        if (ho && ha && tokens_equal(c, ot, ol, at, al))
            continue;
        char sa[64], sb[64];
        show(sa, sizeof(sa), ho ? ot : NULL, ol);
        show(sb, sizeof(sb), ha ? at : NULL, al);
        snprintf(msg, msg_cap, "token %zu: output has %s, answer has %s", n, sa, sb);
        return 0;
    }
}
