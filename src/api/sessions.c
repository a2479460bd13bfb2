/*
 * sessions.c - code sessions: code being written, saved as it is typed,
 * run on demand.
 *
 * Theory of operation. A session holds one language and one source, with
 * a version that grows by one with each save. An autosave (PATCH) names
 * the version it was based on, and the store writes it only on top of that
 * version (one conditional UPDATE), so an editor that fell behind (a second
 * tab, a reconnect) gets 409 stale_version with the current version instead
 * of overwriting newer code. A run turns the current source, plus what the
 * run's body gives (stdin, tests, limits, ...), into an ordinary submission
 * that remembers its session: it is judged, limited, charged, delivered
 * and listed like any other, and GET .../runs lists it with its siblings.
 * Sessions belong to their creator as submissions do.
 */
#include <stdio.h>
#include <string.h>

#include "api-int.h"
#include "vd/alloc.h"
#include "vd/buf.h"
#include "vd/json.h"
#include "vd/store.h"

#define SESSION_BODY_EXTRA 4096

static json_t *session_view(const struct vd_session *x)
{
    char created[32], updated[32];
    vd_api_time(x->created_ms, created);
    vd_api_time(x->updated_ms, updated);
    return json_pack("{s:s, s:s, s:s%, s:I, s:s, s:s, s:s}", "id", x->id, "language", x->lang,
                     "source_code", x->source, strlen(x->source), "version", (json_int_t)x->version,
                     "status", "active", "created_at", created, "updated_at", updated);
}

/* The caller's session id: 0, or -1 after answering 404/503. */
static int load(struct vd__call *call, const char *id, struct vd_session *x,
                struct vd_http_response *res)
{
    int rc = vd_store_session_get(call->a->c.store, id, x);
    if (rc == 0 && !vd__api_owns(call, x->owner)) {
        vd_session_free(x);
        rc = VD_ENOTFOUND;
    }
    if (rc == VD_ENOTFOUND) {
        vd_http_error(res, 404, "not_found", "id", "no session %.40s", id);
        return -1;
    }
    if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
        return -1;
    }
    return 0;
}

static json_t *object_body(const struct vd_http_request *req, struct vd_http_response *res)
{
    json_error_t je;
    json_t *o = req->body_len ? json_loadb(req->body, req->body_len,
                                           JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je)
                              : json_object();
    if (!o || !json_is_object(o)) {
        vd_http_error(res, 400, "bad_json", NULL, "the body must be a JSON object");
        json_decref(o);
        return NULL;
    }
    return o;
}

VD__HANDLER(vd__api_session_create)
{
    struct vd__call *call = ctx;
    struct vd_api *a = call->a;
    struct vd_session x;
    const char *k;
    json_t *v;
    (void)param;

    json_t *o = object_body(req, res);
    if (!o)
        return;
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "language") && strcmp(k, "template_code") && strcmp(k, "source_code")) {
            vd_http_error(res, 400, "unknown_field", k, "unknown field \"%.60s\"", k);
            goto out;
        }
    }
    json_t *lang = json_object_get(o, "language");
    json_t *code = json_object_get(o, "template_code");
    const char *field = "template_code";
    if (!code) {
        code = json_object_get(o, "source_code");
        field = "source_code";
    }
    if (!lang || !json_is_string(lang)) {
        vd_http_error(res, 400, lang ? "wrong_type" : "missing_field", "language",
                      "language is required, a string");
        goto out;
    }
    const struct vd_lang *l = vd_langs_find(a->c.langs, json_string_value(lang));
    if (!l || !l->available) {
        vd_http_error(res, 422, l ? "language_unavailable" : "unknown_language", "language",
                      "%s \"%.60s\" (see GET /api/v1/languages)",
                      l ? "not installed here:" : "unknown language", json_string_value(lang));
        goto out;
    }
    if (code && !json_is_string(code)) {
        vd_http_error(res, 400, "wrong_type", field, "%s must be a string", field);
        goto out;
    }
    if (code && strlen(json_string_value(code)) != json_string_length(code)) {
        vd_http_error(res, 422, "bad_value", field, "%s may not hold NUL", field);
        goto out;
    }
    if (code && json_string_length(code) > a->caps.source_max) {
        vd_http_error(res, 413, "too_large", field, "%s is over %zu bytes", field,
                      a->caps.source_max);
        goto out;
    }
    memset(&x, 0, sizeof(x));
    snprintf(x.owner, sizeof(x.owner), "%s", call->who.owner);
    snprintf(x.lang, sizeof(x.lang), "%s", l->id);
    x.source = (char *)(code ? json_string_value(code) : "");
    int rc = vd_store_session_create(a->c.store, &x);
    if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
        goto out;
    }
    vd__api_json(res, 201, session_view(&x));
    char loc[96];
    snprintf(loc, sizeof(loc), "/api/v1/sessions/%s", x.id);
    vd_http_set_header(res, "Location", loc);
out:
    json_decref(o);
}

VD__HANDLER(vd__api_session_list)
{
    struct vd__call *call = ctx;
    struct vd_session *xs = NULL;
    size_t n = 0;
    uint64_t total = 0;
    long long page, limit;
    (void)param;
    if (vd__api_page_params(req, res, &page, &limit) < 0)
        return;
    int rc = vd_store_session_list(call->a->c.store, call->who.owner, (size_t)((page - 1) * limit),
                                   (size_t)limit, &xs, &n, &total);
    if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, session_view(&xs[i]));
        vd_session_free(&xs[i]);
    }
    vd_free(xs);
    vd__api_json(res, 200,
                 json_pack("{s:o, s:I, s:I, s:I}", "sessions", arr, "page", (json_int_t)page,
                           "limit", (json_int_t)limit, "total", (json_int_t)total));
}

VD__HANDLER(vd__api_session_get)
{
    struct vd__call *call = ctx;
    struct vd_session x;
    (void)req;
    if (load(call, param, &x, res) < 0)
        return;
    vd__api_json(res, 200, session_view(&x));
    vd_session_free(&x);
}

VD__HANDLER(vd__api_session_save)
{
    struct vd__call *call = ctx;
    struct vd_session x;
    const char *k;
    json_t *v;
    int64_t current = 0;

    if (load(call, param, &x, res) < 0)
        return;
    vd_session_free(&x);
    json_t *o = object_body(req, res);
    if (!o)
        return;
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "source_code") && strcmp(k, "version")) {
            vd_http_error(res, 400, "unknown_field", k, "unknown field \"%.60s\"", k);
            goto out;
        }
    }
    json_t *code = json_object_get(o, "source_code"), *ver = json_object_get(o, "version");
    if (!code || !json_is_string(code)) {
        vd_http_error(res, 400, code ? "wrong_type" : "missing_field", "source_code",
                      "source_code is required, a string");
        goto out;
    }
    if (!ver || !json_is_integer(ver) || json_integer_value(ver) < 1) {
        vd_http_error(res, 400, ver ? "wrong_type" : "missing_field", "version",
                      "version is required: the version this code was based on");
        goto out;
    }
    if (json_string_length(code) > call->a->caps.source_max) {
        vd_http_error(res, 413, "too_large", "source_code", "source_code is over %zu bytes",
                      call->a->caps.source_max);
        goto out;
    }
    /* The source is kept as text: a NUL would cut it. */
    if (strlen(json_string_value(code)) != json_string_length(code)) {
        vd_http_error(res, 422, "bad_value", "source_code", "source_code may not hold NUL");
        goto out;
    }
    int rc = vd_store_session_save(call->a->c.store, param, json_string_value(code),
                                   json_integer_value(ver), &current);
    if (rc == VD_EINVAL) {
        json_t *e = json_pack("{s:{s:s, s:s, s:s, s:I}}", "error", "code", "stale_version",
                              "message", "the session changed since that version: reload it",
                              "field", "version", "current_version", (json_int_t)current);
        vd__api_json(res, 409, e);
        goto out;
    }
    if (rc < 0) {
        if (!vd__api_store_failed(res, rc, param))
            vd__api_unavailable(res, "the store", rc);
        goto out;
    }
    if (load(call, param, &x, res) == 0) {
        vd__api_json(res, 200, session_view(&x));
        vd_session_free(&x);
    }
out:
    json_decref(o);
}

VD__HANDLER(vd__api_session_delete)
{
    struct vd__call *call = ctx;
    struct vd_session x;
    (void)req;
    if (load(call, param, &x, res) < 0)
        return;
    vd_session_free(&x);
    int rc = vd_store_session_delete(call->a->c.store, param);
    if (!vd__api_store_failed(res, rc, param)) {
        res->status = 204;
        vd_buf_reset(&res->body);
    }
}

/* The run's body, with the session's language and source put in: the
 * request a submission would have been. */
static int run_request(const struct vd_session *x, const struct vd_http_request *req,
                       struct vd_buf *out, struct vd_http_response *res)
{
    json_t *o = object_body(req, res);
    const char *k;
    json_t *v;
    int rc = -1;
    if (!o)
        return -1;
    json_object_foreach(o, k, v)
    {
        /* Every name the request decoder takes for these. */
        if (!strcmp(k, "language") || !strcmp(k, "language_id") || !strcmp(k, "lang") ||
            !strcmp(k, "source_code") || !strcmp(k, "code") || !strcmp(k, "source") ||
            !strcmp(k, "execute")) {
            vd_http_error(res, 400, "unknown_field", k,
                          "\"%s\" comes from the session, not from the run", k);
            goto out;
        }
    }
    json_object_set_new(o, "language", json_string(x->lang));
    json_object_set_new(o, "source_code", json_string(x->source));
    if (vd_json_dump(o, out) < 0) {
        vd_http_error(res, 413, "too_large", NULL, "the run's request is too large");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

VD__HANDLER(vd__api_session_run)
{
    struct vd__call *call = ctx;
    struct vd_api *a = call->a;
    struct vd_session x;
    struct vd_api_request r;
    struct vd_api_error e;
    struct vd_buf body;
    char id[VD_ID_LEN + 1];
    long long timeout;
    int wait;

    if (vd__api_wait_params(a, req, res, &wait, &timeout) < 0 || load(call, param, &x, res) < 0)
        return;
    vd_buf_init(&body, req->body_len + strlen(x.source) * 6 + SESSION_BODY_EXTRA);
    if (run_request(&x, req, &body, res) < 0)
        goto out;
    if (vd_api_request_parse(body.data, body.len, a->c.langs, &a->caps, &r, &e) < 0) {
        vd_http_error(res, e.status, e.code, e.field[0] ? e.field : NULL, "%s", e.message);
        goto out;
    }
    if (vd__api_submit(call, &r, x.id, id, res) == 0) {
        if (wait) {
            vd__api_answer_accepted(call, id, 1, timeout, res);
        } else {
            vd__api_json(res, 202,
                         json_pack("{s:s, s:s, s:s, s:I}", "id", id, "status", "queued",
                                   "session_id", x.id, "session_version", (json_int_t)x.version));
            char loc[96];
            snprintf(loc, sizeof(loc), "/api/v1/submissions/%s", id);
            vd_http_set_header(res, "Location", loc);
        }
    }
    vd_api_request_free(&r);
out:
    vd_buf_free(&body);
    vd_session_free(&x);
}

VD__HANDLER(vd__api_session_runs)
{
    struct vd__call *call = ctx;
    struct vd_session x;
    struct vd_submission *subs = NULL;
    size_t n = 0;
    uint64_t total = 0;
    long long page, limit;

    if (vd__api_page_params(req, res, &page, &limit) < 0 || load(call, param, &x, res) < 0)
        return;
    vd_session_free(&x);
    int rc = vd_store_list_session(call->a->c.store, param, (size_t)((page - 1) * limit),
                                   (size_t)limit, &subs, &n, &total);
    if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = vd_api_submission_view(&subs[i], VD_API_VIEW_SUMMARY);
        if (o)
            json_array_append_new(arr, o);
        vd_submission_free(&subs[i]);
    }
    vd_free(subs);
    vd__api_json(res, 200,
                 json_pack("{s:o, s:s, s:I, s:I, s:I}", "runs", arr, "session_id", param, "page",
                           (json_int_t)page, "limit", (json_int_t)limit, "total",
                           (json_int_t)total));
}
