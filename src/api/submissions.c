/*
 * submissions.c - the submission endpoints: create (one or a batch), read,
 * list, run again, cancel or delete, wait for the result, and stream its
 * events.
 *
 * Theory of operation. A request is decoded and checked completely
 * (request.c) before anything is stored; the canonical form is stored with
 * status queued in one INSERT, which in the embedded queue is the queue
 * entry itself, so an accepted submission cannot be lost between the store
 * and the queue; the push only wakes a worker. A full queue is refused
 * with 503 and Retry-After before anything is stored, so the queue never
 * grows without bound.
 *
 * Waiting (?wait=true) and streaming (SSE) both subscribe to the event hub
 * *before* they read the store, so a change between the two is never
 * missed: at worst it is seen twice. Both also read the store at a steady
 * pace while they wait, because a worker in another process publishes
 * nothing here; the store is the truth, the hub only makes it quick.
 *
 * Cancel (DELETE of a live submission) marks it cancelled in the store
 * first, so that the result of the killed run cannot be stored after all,
 * then asks this process's workers to kill the run, then announces the end
 * on the hub.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "api-int.h"
#include "vd/alloc.h"
#include "vd/clock.h"
#include "vd/cluster.h"
#include "vd/events.h"
#include "vd/json.h"
#include "vd/log.h"
#include "vd/queue.h"
#include "vd/store.h"
#include "vd/worker.h"

#define BATCH_MAX 100
#define WAIT_POLL_MS 250
#define SSE_POLL_MS 1000
#define SSE_KEEPALIVE_MS 15000
#define CANONICAL_MAX ((size_t)256 << 20)
#define VIEW_MAX ((size_t)64 << 20)
#define RETRY_AFTER_S "2"

static int is_final(enum vd_sub_status s)
{
    return s == VD_SUB_FINISHED || s == VD_SUB_CANCELLED;
}

static void refuse(struct vd_http_response *res, const struct vd_api_error *e)
{
    vd_http_error(res, e->status, e->code, e->field[0] ? e->field : NULL, "%s", e->message);
    if (e->status == 503)
        vd_http_set_header(res, "Retry-After", RETRY_AFTER_S);
}

VD_PRINTF(4, 5)
static void set_error(struct vd_api_error *e, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    memset(e, 0, sizeof(*e));
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

/* 503 queue_full when the queue holds queue_max jobs already. */
static int queue_has_room(struct vd_api *a, struct vd_api_error *e)
{
    uint64_t depth = 0;
    int rc = vd_queue_depth(a->c.queue, &depth);
    if (rc < 0) {
        set_error(e, 503, "unavailable", "the queue is not available right now: %s",
                  vd_strerror(rc));
        return rc;
    }
    if (depth >= (uint64_t)a->c.cfg->queue_max) {
        set_error(e, 503, "queue_full", "the queue is full (%llu waiting): retry later",
                  (unsigned long long)depth);
        return VD_ETOOBIG;
    }
    return 0;
}

/* The request's metadata and callback URL as the store's meta text (what a
 * view needs, so it never parses the request), or NULL when neither. */
static char *meta_text(const struct vd_api_request *r)
{
    json_t *o, *m = NULL;
    if (!r->metadata && !r->callback_url)
        return NULL;
    if (r->metadata && !(m = json_loads(r->metadata, 0, NULL)))
        return NULL; /* checked JSON when decoded: only out of memory */
    o = json_pack("{s:o*, s:s*}", "metadata", m, "callback_url", r->callback_url);
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return t;
}

/* Stores a checked request as the caller's: queued when it is to run, else
 * created; from a code session when session_id is not NULL. */
static int accept(struct vd__call *call, const struct vd_api_request *r, const char *session_id,
                  char id[VD_ID_LEN + 1], struct vd_api_error *e)
{
    struct vd_api *a = call->a;
    struct vd_submission sub;
    struct vd_buf canon;
    int rc;

    if (r->execute && (rc = queue_has_room(a, e)) < 0)
        return rc;
    memset(&sub, 0, sizeof(sub));
    vd_buf_init(&canon, CANONICAL_MAX);
    if ((rc = vd_api_request_json(r, &canon)) < 0) {
        set_error(e, 413, "too_large", "the request is too large to store (%s)", vd_strerror(rc));
        goto out;
    }
    vd_store_new_id(sub.id);
    snprintf(sub.lang, sizeof(sub.lang), "%s", r->lang->id);
    sub.request = (char *)vd_buf_str(&canon);
    sub.meta = meta_text(r);
    sub.status = r->execute ? VD_SUB_QUEUED : VD_SUB_CREATED;
    snprintf(sub.owner, sizeof(sub.owner), "%s", call->who.owner);
    if (session_id)
        snprintf(sub.session_id, sizeof(sub.session_id), "%s", session_id);
    /* The webhook's URL is fixed now: a later change of the default does
     * not move a delivery already promised. */
    sub.webhook_url = r->callback_url            ? r->callback_url
                      : a->c.cfg->webhook_url[0] ? (char *)a->c.cfg->webhook_url
                                                 : NULL;
    if ((rc = vd_store_create(a->c.store, &sub)) < 0) {
        vd_log(VD_LOG_ERROR, "api", "storing a submission failed: %s", vd_strerror(rc));
        set_error(e, 503, "unavailable", "the store is not available right now: %s",
                  vd_strerror(rc));
        goto out;
    }
    memcpy(id, sub.id, VD_ID_LEN + 1);
    atomic_fetch_add(&a->created, 1);
    vd_log(VD_LOG_DEBUG, "api", "id=%s lang=%s tests=%zu %s", id, sub.lang, r->ntests,
           r->execute ? "queued" : "created");
    /* The store holds the job already: a failed push only delays it until
     * a worker's next look. */
    if (r->execute && (rc = vd_queue_push(a->c.queue, id)) < 0)
        vd_log(VD_LOG_WARN, "api", "id=%s queue push: %s", id, vd_strerror(rc));
    rc = 0;
out:
    vd_free(sub.meta);
    vd_buf_free(&canon);
    return rc;
}

static void location(struct vd_http_response *res, const char *id)
{
    char loc[96];
    snprintf(loc, sizeof(loc), "/api/v1/submissions/%s", id);
    vd_http_set_header(res, "Location", loc);
}

static void accepted(struct vd_http_response *res, const char *id, const char *status, int code)
{
    vd__api_json(res, code, json_pack("{s:s, s:s}", "id", id, "status", status));
    location(res, id);
}

/* Answers a store call about id that failed: 404 for an unknown id, 503
 * for a store that failed. Returns 1 when it answered (rc < 0). */
int vd__api_store_failed(struct vd_http_response *res, int rc, const char *id)
{
    if (rc == VD_ENOTFOUND)
        vd_http_error(res, 404, "not_found", "id", "no submission %.40s", id);
    else if (rc < 0)
        vd__api_unavailable(res, "the store", rc);
    return rc < 0;
}

/* Reads id for the caller: 0 with *sub filled (free it), or -1 after
 * answering 404 (unknown, or another's: the two look the same) or 503. */
static int load_owned(struct vd__call *call, const char *id, int with_request,
                      struct vd_submission *sub, struct vd_http_response *res)
{
    memset(sub, 0, sizeof(*sub));
    int rc = with_request ? vd_store_get(call->a->c.store, id, sub)
                          : vd_store_peek(call->a->c.store, id, sub);
    if (rc == 0 && !vd__api_owns(call, sub->owner)) {
        vd_submission_free(sub);
        rc = VD_ENOTFOUND;
    }
    return vd__api_store_failed(res, rc, id) ? -1 : 0;
}

/* Answers the submission as it stands (status: 200, or 202 when waited on
 * and not done). */
static void answer_view(struct vd__call *call, const char *id, unsigned flags, int waited,
                        struct vd_http_response *res)
{
    struct vd_api *a = call->a;
    struct vd_submission sub;
    if (load_owned(call, id, (flags & VD_API_VIEW_REQUEST) != 0, &sub, res) < 0)
        return;
    if (call->who.admin)
        flags |= VD_API_VIEW_OWNER;
    /* A finished view is the same until it is run again: the cache's
     * stamp is checked against the row just read. */
    int cacheable = sub.status == VD_SUB_FINISHED && flags == VD_API_VIEW_FULL;
    vd_buf_reset(&res->body);
    if (cacheable && vd__api_cache_get(a->views, &sub, &res->body)) {
        res->status = 200;
        res->content_type = "application/json";
    } else {
        json_t *o = vd_api_submission_view(&sub, flags);
        if (!o)
            vd_http_error(res, 503, "unreadable", "id", "submission %s cannot be shown", id);
        else
            vd__api_json(res, waited && !is_final(sub.status) ? 202 : 200, o);
        if (o && cacheable && res->status == 200)
            vd__api_cache_put(a->views, &sub, res->body.data, res->body.len);
    }
    if (waited && is_final(sub.status) == 0)
        location(res, id);
    vd_submission_free(&sub);
}

/* The status of id, or a negative code. */
static int status_of(struct vd_api *a, const char *id, enum vd_sub_status *st)
{
    struct vd_submission sub;
    memset(&sub, 0, sizeof(sub));
    int rc = vd_store_peek(a->c.store, id, &sub);
    *st = sub.status;
    vd_submission_free(&sub);
    return rc;
}

/* The data of a complete "result" frame in chunk, copied to view. The
 * result frame is the submission's full view, exactly what GET answers,
 * so a waiter can answer with it without reading the store again. */
static int take_result(const struct vd_buf *chunk, struct vd_buf *view)
{
    static const char tag[] = "event: result\ndata: ";
    const char *d = vd_buf_str(chunk);
    const char *at = memmem(d, chunk->len, tag, sizeof(tag) - 1);
    if (!at)
        return 0;
    at += sizeof(tag) - 1;
    const char *end = memmem(at, chunk->len - (size_t)(at - d), "\n\n", 2);
    if (!end) /* cut by the chunk's cap: read the store instead */
        return 0;
    vd_buf_reset(view);
    return vd_buf_add(view, at, (size_t)(end - at)) == 0;
}

/* Holds the caller until id is finished or cancelled, timeout_ms passed,
 * or the server stops. Returns 1 with the final view in *view when the
 * result frame came by the hub, else 0 (read the store). */
static int wait_for(struct vd_api *a, const char *id, long long timeout_ms, struct vd_buf *view)
{
    struct vd_events_sub *s = vd_events_subscribe(a->c.events, id);
    struct vd_buf frames;
    enum vd_sub_status st;
    int64_t deadline = vd_clock_us() / 1000 + timeout_ms;
    int look = 1, got = 0;

    vd_buf_init(&frames, (size_t)4 << 20);
    for (;;) {
        if (look && (status_of(a, id, &st) < 0 || is_final(st)))
            break;
        int64_t left = deadline - (int64_t)(vd_clock_us() / 1000);
        if (left <= 0 || atomic_load(&a->shutting_down))
            break;
        /* Frames are kept until the buffer fills, so a result frame split
         * over two reads is still seen whole. */
        if (frames.len > frames.cap / 2)
            vd_buf_reset(&frames);
        int rc = vd_events_next(s, left < WAIT_POLL_MS ? (int)left : WAIT_POLL_MS, &frames);
        if (rc == 1 && (got = take_result(&frames, view)))
            break;
        /* Progress frames need no look at the store; the end, or a quiet
         * spell (a worker elsewhere), does. */
        look = rc != 1;
        if (rc == VD_ENOTFOUND) {
            /* Closed: a later run of it, if any, gets a fresh channel. */
            vd_events_unsubscribe(s);
            s = vd_events_subscribe(a->c.events, id);
            vd_buf_reset(&frames);
        }
    }
    vd_events_unsubscribe(s);
    vd_buf_free(&frames);
    return got;
}

/* After a wait: the view the hub gave, or the store's. */
static void answer_waited(struct vd__call *call, const char *id, long long timeout,
                          struct vd_http_response *res)
{
    struct vd_buf view;
    vd_buf_init(&view, VIEW_MAX);
    /* Only what the caller owns is waited on (and admins see owners). */
    if (!call->who.admin && wait_for(call->a, id, timeout, &view)) {
        res->status = 200;
        res->content_type = "application/json";
        vd_buf_reset(&res->body);
        if (vd_buf_add(&res->body, view.data, view.len) < 0)
            answer_view(call, id, VD_API_VIEW_FULL, 1, res);
    } else {
        if (call->who.admin)
            (void)wait_for(call->a, id, timeout, &view);
        answer_view(call, id, VD_API_VIEW_FULL, 1, res);
    }
    vd_buf_free(&view);
}

void vd__api_answer_accepted(struct vd__call *call, const char *id, int wait, long long wait_ms,
                             struct vd_http_response *res)
{
    if (wait)
        answer_waited(call, id, wait_ms, res);
    else
        accepted(res, id, "queued", 202);
}

/* ?wait and ?timeout_ms: 0 with *wait and *timeout, or -1 after a 400. */
int vd__api_wait_params(struct vd_api *a, const struct vd_http_request *req,
                        struct vd_http_response *res, int *wait, long long *timeout)
{
    if ((*wait = vd__api_bool_param(req, res, "wait")) < 0 ||
        vd__api_int_param(req, res, "timeout_ms", a->c.cfg->wait_max_ms, 0, 3600 * 1000, timeout) <
            0)
        return -1;
    if (*timeout > a->c.cfg->wait_max_ms)
        *timeout = a->c.cfg->wait_max_ms;
    return 0;
}

/* ---- POST /api/v1/submissions ---------------------------------------------- */

int vd__api_submit(struct vd__call *call, const struct vd_api_request *r, const char *session_id,
                   char id[VD_ID_LEN + 1], struct vd_http_response *res)
{
    struct vd_api_error e;
    /* Every submission is charged (a stored one costs storage too); only
     * one to run now counts against the cap on live ones. */
    if (vd__api_charge(call, 1, res) < 0)
        return -1;
    struct vd__owner_hold hold;
    vd__api_owner_enter(call, &hold);
    int rc = r->execute ? vd__api_check_active(call, 1, res) : 0;
    if (rc == 0 && (rc = accept(call, r, session_id, id, &e)) < 0)
        refuse(res, &e);
    vd__api_owner_leave(call, &hold);
    return rc < 0 ? -1 : 0;
}

void vd__api_post(void *ctx, const struct vd_http_request *req, const char *param,
                  struct vd_http_response *res)
{
    struct vd__call *call = ctx;
    struct vd_api *a = call->a;
    struct vd_api_request r;
    struct vd_api_error e;
    char id[VD_ID_LEN + 1];
    long long timeout;
    int wait;
    (void)param;

    if (vd__api_wait_params(a, req, res, &wait, &timeout) < 0)
        return;
    if (vd_api_request_parse(req->body, req->body_len, a->c.langs, &a->caps, &r, &e) < 0) {
        refuse(res, &e);
        return;
    }
    if (vd__api_submit(call, &r, NULL, id, res) == 0) {
        if (r.execute)
            vd__api_answer_accepted(call, id, wait, timeout, res);
        else
            accepted(res, id, "created", 201);
    }
    vd_api_request_free(&r);
}

/* ---- POST /api/v1/submissions/batch ---------------------------------------- */

static json_t *item_error(const struct vd_api_error *e, size_t i)
{
    char field[96];
    if (e->field[0])
        snprintf(field, sizeof(field), "submissions[%zu].%s", i, e->field);
    else
        snprintf(field, sizeof(field), "submissions[%zu]", i);
    return json_pack("{s:{s:s, s:s, s:s}, s:i}", "error", "code", e->code, "message", e->message,
                     "field", field, "status_code", e->status);
}

/* One batch item: its token, the cap and the INSERT under the owner's lock
 * (see vd__api_submit). */
static int limited_accept(struct vd__call *call, const struct vd_api_request *r,
                          char id[VD_ID_LEN + 1], struct vd_api_error *e)
{
    struct vd__owner_hold hold;
    vd__api_owner_enter(call, &hold);
    int rc = vd__api_limit_item(call, r->execute, e) < 0 ? -1 : accept(call, r, NULL, id, e);
    vd__api_owner_leave(call, &hold);
    return rc;
}

void vd__api_batch(void *ctx, const struct vd_http_request *req, const char *param,
                   struct vd_http_response *res)
{
    struct vd__call *call = ctx;
    struct vd_api *a = call->a;
    json_error_t je;
    json_t *items, *item, *out = NULL;
    const char *k;
    size_t i;
    (void)param;

    json_t *root =
        json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        vd_http_error(res, 400, "bad_json", NULL, "the body is not JSON: line %d: %s", je.line,
                      je.text);
        return;
    }
    if (!json_is_object(root)) {
        vd_http_error(res, 400, "bad_json", NULL,
                      "the body must be {\"submissions\": [request, ...]}");
        goto done;
    }
    items = json_object_get(root, "submissions");
    {
        json_t *v;
        json_object_foreach(root, k, v)
        {
            if (strcmp(k, "submissions") != 0) {
                vd_http_error(res, 400, "unknown_field", k, "unknown field \"%.60s\"", k);
                goto done;
            }
        }
    }
    if (!items) {
        vd_http_error(res, 400, "missing_field", "submissions",
                      "the body must be {\"submissions\": [request, ...]}");
        goto done;
    }
    if (!json_is_array(items)) {
        vd_http_error(res, 400, "wrong_type", "submissions", "submissions must be an array");
        goto done;
    }
    if (json_array_size(items) == 0 || json_array_size(items) > BATCH_MAX) {
        vd_http_error(res, json_array_size(items) ? 413 : 422,
                      json_array_size(items) ? "too_large" : "bad_value", "submissions",
                      "a batch holds 1 to %d submissions, not %zu", BATCH_MAX,
                      json_array_size(items));
        goto done;
    }
    out = json_array();
    json_array_foreach(items, i, item)
    {
        struct vd_api_request r;
        struct vd_api_error e;
        char id[VD_ID_LEN + 1];
        char *text = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text) {
            set_error(&e, 503, "out_of_memory", "%s", "this item could not be read");
            json_array_append_new(out, item_error(&e, i));
            continue;
        }
        if (vd_api_request_parse(text, strlen(text), a->c.langs, &a->caps, &r, &e) < 0)
            json_array_append_new(out, item_error(&e, i));
        /* Each item is charged as a submission of its own, so a batch
         * larger than a bucket gets what fits and 429 for the rest. */
        else if (limited_accept(call, &r, id, &e) < 0)
            json_array_append_new(out, item_error(&e, i));
        else
            json_array_append_new(
                out, json_pack("{s:s, s:s}", "id", id, "status", r.execute ? "queued" : "created"));
        vd_api_request_free(&r);
        vd_free(text);
    }
    vd__api_json(res, 202, json_pack("{s:o}", "submissions", out));
    vd__api_rate_headers(call, res);
done:
    json_decref(root);
}

/* ---- GET /api/v1/submissions ----------------------------------------------- */

void vd__api_list(void *ctx, const struct vd_http_request *req, const char *param,
                  struct vd_http_response *res)
{
    struct vd__call *call = ctx;
    struct vd_api *a = call->a;
    struct vd_submission *subs = NULL;
    size_t n = 0;
    uint64_t total = 0;
    long long page, limit;
    (void)param;

    if (vd__api_page_params(req, res, &page, &limit) < 0)
        return;
    /* Everyone sees their own; an admin sees all, or one owner's. */
    const char *owner = call->who.admin ? vd_http_query(req, "owner") : call->who.owner;
    int rc = vd_store_list(a->c.store, owner, (size_t)((page - 1) * limit), (size_t)limit, &subs,
                           &n, &total);
    if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = vd_api_submission_view(&subs[i], VD_API_VIEW_SUMMARY |
                                                         (call->who.admin ? VD_API_VIEW_OWNER : 0));
        if (o)
            json_array_append_new(arr, o);
        vd_submission_free(&subs[i]);
    }
    vd_free(subs);
    vd__api_json(res, 200,
                 json_pack("{s:o, s:I, s:I, s:I}", "submissions", arr, "page", (json_int_t)page,
                           "limit", (json_int_t)limit, "total", (json_int_t)total));
}

/* ---- GET /api/v1/submissions/{id} ------------------------------------------ */

void vd__api_get(void *ctx, const struct vd_http_request *req, const char *param,
                 struct vd_http_response *res)
{
    struct vd__call *call = ctx;
    const char *inc = vd_http_query(req, "include");
    unsigned flags = VD_API_VIEW_FULL;
    if (inc && *inc) {
        if (strcmp(inc, "request") != 0) {
            vd_http_error(res, 400, "bad_parameter", "include", "include takes \"request\"");
            return;
        }
        flags |= VD_API_VIEW_REQUEST;
    }
    answer_view(call, param, flags, 0, res);
}

/* ---- POST /api/v1/submissions/{id}/execute --------------------------------- */

void vd__api_execute(void *ctx, const struct vd_http_request *req, const char *param,
                     struct vd_http_response *res)
{
    struct vd__call *call = ctx;
    struct vd_api *a = call->a;
    struct vd_submission sub;
    struct vd_api_error e;
    enum vd_sub_status st;
    long long timeout;
    int wait, rc;

    if (vd__api_wait_params(a, req, res, &wait, &timeout) < 0)
        return;
    if (load_owned(call, param, 0, &sub, res) < 0)
        return;
    st = sub.status;
    vd_submission_free(&sub);
    if (st == VD_SUB_QUEUED || st == VD_SUB_RUNNING) {
        vd_http_error(res, 409, "conflict", "id", "submission %s is %s already", param,
                      vd_sub_status_name(st));
        return;
    }
    if (vd__api_charge(call, 1, res) < 0 || vd__api_check_active(call, 1, res) < 0)
        return;
    if (queue_has_room(a, &e) < 0) {
        refuse(res, &e);
        return;
    }
    rc = vd_store_rerun(a->c.store, param);
    if (rc == VD_EINVAL) {
        (void)!status_of(a, param, &st);
        vd_http_error(res, 409, "conflict", "id", "submission %s is %s already", param,
                      vd_sub_status_name(st));
        return;
    }
    if (vd__api_store_failed(res, rc, param))
        return;
    if ((rc = vd_queue_push(a->c.queue, param)) < 0)
        vd_log(VD_LOG_WARN, "api", "id=%s queue push: %s", param, vd_strerror(rc));
    if (wait) {
        answer_waited(call, param, timeout, res);
        return;
    }
    accepted(res, param, "queued", 202);
}

/* ---- DELETE /api/v1/submissions/{id} --------------------------------------- */

/* The final frame for a submission that ended without a result. */
static void announce(struct vd_api *a, const char *id)
{
    struct vd_submission sub;
    struct vd_buf b;
    memset(&sub, 0, sizeof(sub));
    vd_buf_init(&b, VIEW_MAX);
    if (vd_store_peek(a->c.store, id, &sub) < 0 || vd_api_submission_json(&sub, 0, &b) < 0) {
        vd_buf_reset(&b);
        (void)!vd_buf_printf(&b, "{\"id\":\"%s\",\"status\":\"cancelled\"}", id);
    }
    (void)!vd_events_publish(a->c.events, id, "status", vd_buf_str(&b), 1);
    vd_submission_free(&sub);
    vd_buf_free(&b);
}

void vd__api_delete(void *ctx, const struct vd_http_request *req, const char *param,
                    struct vd_http_response *res)
{
    struct vd__call *call = ctx;
    struct vd_api *a = call->a;
    struct vd_submission sub;
    enum vd_sub_status st;
    int rc;
    (void)req;

    if (load_owned(call, param, 0, &sub, res) < 0)
        return;
    st = sub.status;
    vd_submission_free(&sub);
    if (!is_final(st)) {
        /* The store first: the killed run's result must not be stored. */
        rc = vd_store_set_status(a->c.store, param, VD_SUB_CANCELLED);
        if (rc == 0) {
            int was_running = vd_workers_cancel(a->c.workers, param);
            /* Another process may hold it: each kills its run at the
             * message (their monitors would see the store a moment later). */
            if (a->c.cluster && vd_cluster_cancel(a->c.cluster, param) < 0)
                vd_log(VD_LOG_WARN, "api", "id=%s cancel not published (Redis); the worker "
                       "sees it in the store", param);
            announce(a, param);
            vd_log(VD_LOG_INFO, "api", "id=%s cancelled (%s)", param,
                   was_running ? "killed its run" : vd_sub_status_name(st));
            vd__api_json(res, 200, json_pack("{s:s, s:s}", "id", param, "status", "cancelled"));
            return;
        }
        if (rc != VD_EINVAL) {
            vd__api_unavailable(res, "the store", rc);
            return;
        }
        /* It finished meanwhile: delete it, as asked of a finished one. */
    }
    rc = vd_store_delete(a->c.store, param);
    if (!vd__api_store_failed(res, rc, param)) {
        res->status = 204;
        vd_buf_reset(&res->body);
    }
}

/* ---- GET /api/v1/submissions/{id}/events ----------------------------------- */

struct sse {
    struct vd_api *a;
    char id[VD_ID_LEN + 1];
    struct vd_events_sub *sub;
    int started;
    int ended; /* the final frame went out */
    int64_t quiet_since_ms, looked_ms;
};

static int64_t mono_ms(void)
{
    return (int64_t)(vd_clock_us() / 1000);
}

/* Appends the submission as it stands as one frame; *final says whether
 * it is over. The first frame of a stream is id 0, before the channel's
 * own frames (1, 2, ...). 0, or a negative code (gone, store down). */
static int snapshot(struct sse *s, struct vd_buf *out, int *final)
{
    struct vd_submission sub;
    struct vd_buf b;
    memset(&sub, 0, sizeof(sub));
    vd_buf_init(&b, VIEW_MAX);
    int rc = vd_store_peek(s->a->c.store, s->id, &sub);
    if (rc == 0 && (rc = vd_api_submission_json(&sub, 0, &b)) == 0) {
        *final = is_final(sub.status);
        const char *ev = sub.status == VD_SUB_FINISHED ? "result" : "status";
        if ((rc = vd_buf_printf(out, "%sevent: %s\ndata: ", s->started == 1 ? "id: 0\n" : "",
                                ev)) == 0 &&
            (rc = vd_buf_add(out, b.data, b.len)) == 0)
            rc = vd_buf_add(out, "\n\n", 2);
    }
    vd_submission_free(&sub);
    vd_buf_free(&b);
    return rc;
}

static int saw_end(const struct vd_buf *chunk)
{
    const char *d = vd_buf_str(chunk);
    return memmem(d, chunk->len, "\nevent: result\n", 15) != NULL ||
           memmem(d, chunk->len, "\"status\":\"cancelled\"", 20) != NULL;
}

static int sse_next(void *arg, struct vd_buf *out)
{
    struct sse *s = arg;
    int final = 0;

    if (!s->started) {
        s->started = 1;
        s->quiet_since_ms = s->looked_ms = mono_ms();
        int rc = snapshot(s, out, &final);
        s->started = 2;
        return rc == 0 && !final;
    }
    for (;;) {
        if (atomic_load(&s->a->shutting_down))
            return 0;
        int rc = vd_events_next(s->sub, SSE_POLL_MS, out);
        if (rc == 1 || rc == VD_ETOOBIG) {
            s->quiet_since_ms = mono_ms();
            if (saw_end(out))
                s->ended = 1;
            /* The frames go out now; the next call sees the channel closed. */
            return 1;
        }
        if (rc == VD_ENOTFOUND && s->ended)
            return 0;
        int64_t now = mono_ms();
        if (rc == VD_ENOTFOUND || now - s->looked_ms >= SSE_POLL_MS) {
            /* Closed, or quiet: the store says whether it is over (a worker
             * in another process publishes nothing here). */
            s->looked_ms = now;
            enum vd_sub_status st;
            int src = status_of(s->a, s->id, &st);
            if (src < 0)
                return 0;
            if (is_final(st)) {
                (void)!snapshot(s, out, &final);
                return 0;
            }
            if (rc == VD_ENOTFOUND) {
                vd_events_unsubscribe(s->sub);
                s->sub = vd_events_subscribe(s->a->c.events, s->id);
            }
        }
        if (now - s->quiet_since_ms >= SSE_KEEPALIVE_MS) {
            s->quiet_since_ms = now;
            return vd_buf_adds(out, ": keepalive\n\n") == 0;
        }
    }
}

static void sse_free(void *arg)
{
    struct sse *s = arg;
    vd_events_unsubscribe(s->sub);
    vd_free(s);
}

void vd__api_events(void *ctx, const struct vd_http_request *req, const char *param,
                    struct vd_http_response *res)
{
    struct vd__call *call = ctx;
    struct vd_api *a = call->a;
    struct vd_submission sub;
    (void)req;

    struct sse *s = vd_xcalloc(1, sizeof(*s));
    s->a = a;
    snprintf(s->id, sizeof(s->id), "%s", param);
    /* Subscribed before the first look at the store: nothing in between is
     * missed. */
    s->sub = vd_events_subscribe(a->c.events, s->id);
    if (load_owned(call, param, 0, &sub, res) < 0) {
        sse_free(s);
        return;
    }
    vd_submission_free(&sub);
    res->status = 200;
    res->content_type = "text/event-stream";
    vd_http_set_header(res, "Cache-Control", "no-cache");
    vd_http_set_header(res, "X-Accel-Buffering", "no"); /* proxies: do not hold frames back */
    res->stream = sse_next;
    res->stream_arg = s;
    res->stream_free = sse_free;
}
