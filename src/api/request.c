/*
 * request.c - decode and check a submission request (include/vd/api.h).
 *
 * Theory of operation: the body is parsed by jansson (duplicate keys
 * refused, NUL allowed inside strings: source code is bytes), then every
 * key is taken by name from a table of accepted names and aliases; a key
 * the table does not know is refused, so a misspelt limit cannot silently
 * run with the default. Each check names the field it refused, with the
 * status the API returns: 400 for malformed JSON or a wrong type, 413 for
 * a size over a cap, 422 for a value the server cannot honour (an unknown
 * language, a limit over the language's maximum). The same parser reads
 * the canonical form back in the worker.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vd/alloc.h"
#include "vd/api.h"
#include "vd/json.h"
#include "vd/judge.h"

#define METADATA_MAX 16384
#define URL_MAX 2048

VD_PRINTF(5, 6)
static int refuse(struct vd_api_error *e, int status, const char *code, const char *field,
                  const char *fmt, ...)
{
    va_list ap;
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return VD_EINVAL;
}

/* The first of names present in o (and which one). */
static json_t *take(json_t *o, const char *const *names, const char **which)
{
    for (size_t i = 0; names[i]; i++) {
        json_t *v = json_object_get(o, names[i]);
        if (v) {
            *which = names[i];
            return v;
        }
    }
    return NULL;
}

static int is_known(const char *key, const char *const *const *sets)
{
    for (size_t s = 0; sets[s]; s++)
        for (size_t i = 0; sets[s][i]; i++)
            if (strcmp(key, sets[s][i]) == 0)
                return 1;
    return 0;
}

static const char *const k_language[] = {"language", "language_id", "lang", NULL};
static const char *const k_source[] = {"source_code", "code", "source", NULL};
static const char *const k_stdin[] = {"stdin", "stdin_data", "input", NULL};
static const char *const k_tests[] = {"tests", "testcases", "test_cases", NULL};
static const char *const k_checker[] = {"checker", NULL};
static const char *const k_limits[] = {"limits", NULL};
static const char *const k_stop[] = {"stop_on_failure", NULL};
static const char *const k_callback[] = {"callback_url", NULL};
static const char *const k_metadata[] = {"metadata", NULL};
static const char *const k_execute[] = {"execute", NULL};
static const char *const k_time[] = {"time_limit_sec", NULL};
static const char *const k_wall[] = {"timeout_seconds", NULL};
static const char *const k_memory[] = {"memory_limit_mb", "max_memory_mb", NULL};
static const char *const *const k_all[] = {k_language, k_source, k_stdin,    k_tests,    k_checker,
                                           k_limits,   k_stop,   k_callback, k_metadata, k_execute,
                                           k_time,     k_wall,   k_memory,   NULL};

static const char *const t_name[] = {"name", NULL};
static const char *const t_input[] = {"input", "stdin", NULL};
static const char *const t_expected[] = {"expected_output", "expected", "output", NULL};
static const char *const *const t_all[] = {t_name, t_input, t_expected, NULL};

/* A string field into a fresh copy (NUL-terminated, length kept). */
static int get_string(json_t *v, const char *field, size_t cap, char **out, size_t *len,
                      struct vd_api_error *e)
{
    if (!json_is_string(v))
        return refuse(e, 400, "wrong_type", field, "%s must be a string", field);
    size_t n = json_string_length(v);
    if (n > cap)
        return refuse(e, 413, "too_large", field, "%s is %zu bytes, over the limit of %zu", field,
                      n, cap);
    *out = vd_xmalloc(n + 1);
    memcpy(*out, json_string_value(v), n + 1);
    if (len)
        *len = n;
    return 0;
}

/* A positive whole number (seconds may be fractional: scale > 1). */
static int get_limit(json_t *v, const char *field, double scale, uint64_t *out,
                     struct vd_api_error *e)
{
    double x;
    if (json_is_integer(v))
        x = (double)json_integer_value(v);
    else if (json_is_real(v) && scale > 1)
        x = json_real_value(v);
    else
        return refuse(e, 400, "wrong_type", field, "%s must be a %s", field,
                      scale > 1 ? "number of seconds" : "whole number");
    x *= scale;
    if (!(x >= 1) || x > 1e12 || !isfinite(x))
        return refuse(e, 422, "out_of_range", field, "%s must be positive", field);
    *out = (uint64_t)(x + 0.5);
    return 0;
}

static int parse_limits(json_t *root, json_t *lim, const struct vd_lang *l,
                        struct vd_lang_limits *out, struct vd_api_error *e)
{
    static const char *const known[] = {"cpu_ms",    "wall_ms",   "memory_mb",
                                        "processes", "output_kb", NULL};
    const char *which;
    uint64_t v;
    int rc;

    memset(out, 0, sizeof(*out));
    if (lim) {
        const char *k;
        json_t *x;
        if (!json_is_object(lim))
            return refuse(e, 400, "wrong_type", "limits", "limits must be an object");
        json_object_foreach(lim, k, x)
        {
            size_t i = 0;
            while (known[i] && strcmp(known[i], k) != 0)
                i++;
            char field[64];
            snprintf(field, sizeof(field), "limits.%s", k);
            if (!known[i])
                return refuse(e, 400, "unknown_field", field, "limits has no \"%s\" (%s)", k,
                              "cpu_ms, wall_ms, memory_mb, processes, output_kb");
            if ((rc = get_limit(x, field, 1, &v, e)) < 0)
                return rc;
            switch (i) {
            case 0:
                out->cpu_ms = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
                break;
            case 1:
                out->wall_ms = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
                break;
            case 2:
                out->memory_kb = v * 1024;
                break;
            case 3:
                out->procs = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
                break;
            case 4:
                out->output_kb = v;
                break;
            }
        }
    }
    /* The seeds' top-level names: seconds and megabytes. */
    if ((lim = take(root, k_time, &which))) {
        if ((rc = get_limit(lim, which, 1000, &v, e)) < 0)
            return rc;
        out->cpu_ms = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
    }
    if ((lim = take(root, k_wall, &which))) {
        if ((rc = get_limit(lim, which, 1000, &v, e)) < 0)
            return rc;
        out->wall_ms = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
    }
    if ((lim = take(root, k_memory, &which))) {
        if ((rc = get_limit(lim, which, 1, &v, e)) < 0)
            return rc;
        out->memory_kb = v * 1024;
    }

    char msg[200];
    const char *field = vd_lang_over_max(l, out, msg, sizeof(msg));
    if (field)
        return refuse(e, 422, "limit_too_high", field, "%s", msg);
    return 0;
}

static int parse_tests(json_t *a, const char *field, const struct vd_api_caps *caps, size_t *budget,
                       struct vd_api_request *r, struct vd_api_error *e)
{
    size_t i;
    json_t *t;
    int rc;
    if (!json_is_array(a))
        return refuse(e, 400, "wrong_type", field, "%s must be an array", field);
    if (json_array_size(a) > caps->tests_max)
        return refuse(e, 413, "too_large", field, "%zu tests, over the limit of %zu",
                      json_array_size(a), caps->tests_max);
    r->tests = vd_xcalloc(json_array_size(a) ? json_array_size(a) : 1, sizeof(*r->tests));
    json_array_foreach(a, i, t)
    {
        struct vd_api_test *x = &r->tests[i];
        char f[64];
        const char *k, *which;
        json_t *v;
        r->ntests = i + 1;
        snprintf(f, sizeof(f), "%s[%zu]", field, i);
        if (!json_is_object(t))
            return refuse(e, 400, "wrong_type", f, "%s must be an object", f);
        json_object_foreach(t, k, v)
        {
            if (!is_known(k, t_all)) {
                char g[96];
                snprintf(g, sizeof(g), "%s.%s", f, k);
                return refuse(e, 400, "unknown_field", g,
                              "a test has no \"%s\" (name, input, expected_output)", k);
            }
        }
        if ((v = take(t, t_name, &which))) {
            char g[96];
            snprintf(g, sizeof(g), "%s.name", f);
            if ((rc = get_string(v, g, 100, &x->name, NULL, e)) < 0)
                return rc;
        } else {
            x->name = vd_xmalloc(24);
            snprintf(x->name, 24, "%zu", i + 1);
        }
        v = take(t, t_input, &which);
        snprintf(f, sizeof(f), "%s[%zu].input", field, i);
        if (v) {
            if ((rc = get_string(v, f, *budget, &x->input, &x->input_len, e)) < 0)
                return rc;
        } else {
            x->input = vd_xstrdup("");
        }
        *budget -= x->input_len;
        snprintf(f, sizeof(f), "%s[%zu].expected_output", field, i);
        if (!(v = take(t, t_expected, &which)))
            return refuse(e, 400, "missing_field", f, "every test needs expected_output");
        if ((rc = get_string(v, f, *budget, &x->expected, &x->expected_len, e)) < 0)
            return rc;
        *budget -= x->expected_len;
    }
    return 0;
}

int vd_api_request_parse(const char *body, size_t len, const struct vd_langs *langs,
                         const struct vd_api_caps *caps, struct vd_api_request *r,
                         struct vd_api_error *e)
{
    json_error_t je;
    json_t *root, *v;
    const char *which, *k;
    size_t budget = caps->input_max;
    int rc = 0;

    memset(r, 0, sizeof(*r));
    memset(e, 0, sizeof(*e));
    r->execute = 1;
    snprintf(r->checker, sizeof(r->checker), "tokens");
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root)
        return refuse(e, 400, "bad_json", NULL, "the body is not JSON: line %d: %s", je.line,
                      je.text);
    if (!json_is_object(root)) {
        rc = refuse(e, 400, "bad_json", NULL, "the body must be a JSON object");
        goto out;
    }
    json_object_foreach(root, k, v)
    {
        if (!is_known(k, k_all)) {
            rc = refuse(e, 400, "unknown_field", k, "unknown field \"%s\"", k);
            goto out;
        }
    }
    if (!(v = take(root, k_language, &which))) {
        rc = refuse(e, 400, "missing_field", "language",
                    "language is required (see GET /api/v1/languages)");
        goto out;
    }
    if (!json_is_string(v)) {
        rc = refuse(e, 400, "wrong_type", which, "%s must be a string (a language id)", which);
        goto out;
    }
    r->lang = vd_langs_find(langs, json_string_value(v));
    if (!r->lang) {
        rc = refuse(e, 422, "unknown_language", which,
                    "unknown language \"%.60s\" (see GET /api/v1/languages)", json_string_value(v));
        goto out;
    }
    if (!r->lang->available) {
        rc = refuse(e, 422, "language_unavailable", which, "%s is not installed on this server",
                    r->lang->id);
        goto out;
    }
    if (!(v = take(root, k_source, &which))) {
        rc = refuse(e, 400, "missing_field", "source_code", "source_code is required");
        goto out;
    }
    if ((rc = get_string(v, which, caps->source_max, &r->source, &r->source_len, e)) < 0)
        goto out;
    if ((v = take(root, k_stdin, &which))) {
        if ((rc = get_string(v, which, budget, &r->stdin_data, &r->stdin_len, e)) < 0)
            goto out;
        budget -= r->stdin_len;
    }
    if ((v = take(root, k_tests, &which)) && (rc = parse_tests(v, which, caps, &budget, r, e)) < 0)
        goto out;
    if ((v = json_object_get(root, "checker"))) {
        struct vd_checker c;
        struct vd_errbuf eb = {""};
        if (!json_is_string(v) || json_string_length(v) >= sizeof(r->checker)) {
            rc = refuse(e, 400, "wrong_type", "checker", "checker must be a short string");
            goto out;
        }
        if (vd_checker_parse(json_string_value(v), &c, &eb) < 0 || c.kind == VD_CHECK_PROGRAM) {
            rc = refuse(e, 422, "bad_checker", "checker",
                        "checker must be tokens, exact, nocase, float:EPS or float:abs=A,rel=R");
            goto out;
        }
        snprintf(r->checker, sizeof(r->checker), "%s", json_string_value(v));
    }
    if ((rc = parse_limits(root, json_object_get(root, "limits"), r->lang, &r->limits, e)) < 0)
        goto out;
    if ((v = json_object_get(root, "stop_on_failure"))) {
        if (!json_is_boolean(v)) {
            rc = refuse(e, 400, "wrong_type", "stop_on_failure",
                        "stop_on_failure must be true or false");
            goto out;
        }
        r->stop_on_failure = json_is_true(v);
    }
    if ((v = json_object_get(root, "execute"))) {
        if (!json_is_boolean(v)) {
            rc = refuse(e, 400, "wrong_type", "execute", "execute must be true or false");
            goto out;
        }
        r->execute = json_is_true(v);
    }
    if ((v = json_object_get(root, "callback_url")) && !json_is_null(v)) {
        if ((rc = get_string(v, "callback_url", URL_MAX, &r->callback_url, NULL, e)) < 0)
            goto out;
        if (strncmp(r->callback_url, "http://", 7) != 0 &&
            strncmp(r->callback_url, "https://", 8) != 0) {
            rc = refuse(e, 422, "bad_url", "callback_url",
                        "callback_url must be an http:// or https:// URL");
            goto out;
        }
    }
    if ((v = json_object_get(root, "metadata")) && !json_is_null(v)) {
        if (!json_is_object(v)) {
            rc = refuse(e, 400, "wrong_type", "metadata", "metadata must be an object");
            goto out;
        }
        char *text = json_dumps(v, JSON_COMPACT);
        size_t n = text ? strlen(text) : 0;
        if (text && n <= METADATA_MAX)
            r->metadata = vd_xstrdup(text);
        free(text); // checksrc: allow (jansson allocates with malloc)
        if (!r->metadata) {
            rc = refuse(e, 413, "too_large", "metadata", "metadata is over %d bytes", METADATA_MAX);
            goto out;
        }
    }
out:
    json_decref(root);
    if (rc < 0)
        vd_api_request_free(r);
    return rc;
}

void vd_api_request_free(struct vd_api_request *r)
{
    vd_free(r->source);
    vd_free(r->stdin_data);
    for (size_t i = 0; i < r->ntests; i++) {
        vd_free(r->tests[i].name);
        vd_free(r->tests[i].input);
        vd_free(r->tests[i].expected);
    }
    vd_free(r->tests);
    vd_free(r->callback_url);
    vd_free(r->metadata);
    memset(r, 0, sizeof(*r));
}

int vd_api_request_json(const struct vd_api_request *r, struct vd_buf *out)
{
    int rc = -ENOMEM;
    json_t *o = json_object(), *lim = json_object(), *tests = NULL;
    if (!o || !lim)
        goto out;
    json_object_set_new(o, "language", json_string(r->lang->id));
    json_object_set_new(o, "source_code", json_stringn(r->source, r->source_len));
    if (r->stdin_data)
        json_object_set_new(o, "stdin", json_stringn(r->stdin_data, r->stdin_len));
    if (r->tests) {
        tests = json_array();
        for (size_t i = 0; tests && i < r->ntests; i++)
            json_array_append_new(tests, json_pack("{s:s, s:s%, s:s%}", "name", r->tests[i].name,
                                                   "input", r->tests[i].input,
                                                   r->tests[i].input_len, "expected_output",
                                                   r->tests[i].expected, r->tests[i].expected_len));
        json_object_set(o, "tests", tests);
    }
    json_object_set_new(o, "checker", json_string(r->checker));
    if (r->limits.cpu_ms)
        json_object_set_new(lim, "cpu_ms", json_integer(r->limits.cpu_ms));
    if (r->limits.wall_ms)
        json_object_set_new(lim, "wall_ms", json_integer(r->limits.wall_ms));
    if (r->limits.memory_kb)
        json_object_set_new(lim, "memory_mb",
                            json_integer((json_int_t)(r->limits.memory_kb / 1024)));
    if (r->limits.procs)
        json_object_set_new(lim, "processes", json_integer(r->limits.procs));
    if (r->limits.output_kb)
        json_object_set_new(lim, "output_kb", json_integer((json_int_t)r->limits.output_kb));
    json_object_set(o, "limits", lim);
    json_object_set_new(o, "stop_on_failure", json_boolean(r->stop_on_failure));
    if (r->callback_url)
        json_object_set_new(o, "callback_url", json_string(r->callback_url));
    if (r->metadata) {
        json_t *m = json_loads(r->metadata, 0, NULL);
        if (m)
            json_object_set_new(o, "metadata", m);
    }
    json_object_set_new(o, "execute", json_boolean(r->execute));
    rc = vd_json_dump(o, out);
out:
    json_decref(o);
    json_decref(lim);
    json_decref(tests);
    return rc;
}
