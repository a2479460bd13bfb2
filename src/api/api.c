/*
 * api.c - the HTTP API: the route table, the answers every handler shares,
 * and the endpoints that are not about one submission (languages, health,
 * readiness, metrics, the OpenAPI document).
 *
 * Theory of operation. vd_api_handle() is the transport's one handler: it
 * finds the route (404 for an unknown path, 405 with Allow for a known path
 * and another method), calls it, and counts the answer by status for
 * /metrics. Handlers run on the connection's own thread and may block
 * (?wait=true, SSE); they never run user code, only store, queue and event
 * hub calls. A failing store or queue answers 503 with Retry-After, never
 * 500: the request was fine, the server cannot take it now.
 *
 * The language listing cannot change while the server runs (the table is
 * read and probed at start), so it is made once here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "vd/alloc.h"
#include "vd/clock.h"
#include "vd/cluster.h"
#include "vd/events.h"
#include "vd/json.h"
#include "vd/judge.h"
#include "vd/log.h"
#include "vd/queue.h"
#include "vd/store.h"
#include "vd/worker.h"

#define VD_VERSION_STRING "0.1.0"

/* The OpenAPI document, docs/openapi.json, compiled in (openapi.c). */
extern const char vd__api_openapi[];
extern const char vd__api_openapi_end[];

/* ---- shared answers -------------------------------------------------------- */

void vd__api_json(struct vd_http_response *res, int status, json_t *o)
{
    res->status = status;
    res->content_type = "application/json";
    vd_buf_reset(&res->body);
    if (!o || vd_json_dump(o, &res->body) < 0)
        vd_http_error(res, 503, "out_of_memory", NULL, "the answer could not be formed");
    json_decref(o);
}

void vd__api_unavailable(struct vd_http_response *res, const char *what, int rc)
{
    vd_log(VD_LOG_ERROR, "api", "%s failed: %s", what, vd_strerror(rc));
    vd_http_error(res, 503, "unavailable", NULL, "%s is not available right now: %s", what,
                  vd_strerror(rc));
    vd_http_set_header(res, "Retry-After", "1");
}

int vd__api_bool_param(const struct vd_http_request *req, struct vd_http_response *res,
                       const char *name)
{
    const char *v = vd_http_query(req, name);
    if (!v)
        return 0;
    if (!*v || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0)
        return 1;
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)
        return 0;
    vd_http_error(res, 400, "bad_parameter", name, "%s must be true or false", name);
    return -1;
}

int vd__api_int_param(const struct vd_http_request *req, struct vd_http_response *res,
                      const char *name, long long dflt, long long lo, long long hi, long long *out)
{
    const char *v = vd_http_query(req, name);
    char *end = NULL;
    *out = dflt;
    if (!v)
        return 0;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || errno || n < lo || n > hi) {
        vd_http_error(res, 400, "bad_parameter", name, "%s must be an integer from %lld to %lld",
                      name, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

int vd__api_page_params(const struct vd_http_request *req, struct vd_http_response *res,
                        long long *page, long long *limit)
{
    if (vd__api_int_param(req, res, "page", 1, 1, 1000000000, page) < 0 ||
        vd__api_int_param(req, res, "limit", 20, 1, 100, limit) < 0)
        return -1;
    return 0;
}

/* ---- languages ------------------------------------------------------------- */

static json_t *limits_json(const struct vd_lang_limits *l)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "cpu_ms", (json_int_t)l->cpu_ms, "wall_ms",
                     (json_int_t)l->wall_ms, "memory_mb", (json_int_t)(l->memory_kb / 1024),
                     "processes", (json_int_t)l->procs, "output_kb", (json_int_t)l->output_kb);
}

static json_t *strings(char *const *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a && v && v[i]; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *language_json(const struct vd_lang *l)
{
    return json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:b, s:{s:o, s:o}}", "id", l->id, "name",
                     l->name, "version", l->version[0] ? json_string(l->version) : json_null(),
                     "aliases", strings(l->aliases), "extensions", strings(l->extensions),
                     "compiled", l->compile != NULL, "available", l->available, "limits", "default",
                     limits_json(&l->run_limits), "max", limits_json(&l->max_limits));
}

static char *languages_text(const struct vd_langs *t, int all)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < vd_langs_count(t); i++) {
        const struct vd_lang *l = vd_langs_at(t, i);
        if (all || l->available)
            json_array_append_new(a, language_json(l));
    }
    json_t *o = json_pack("{s:o}", "languages", a);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static void answer_text(struct vd_http_response *res, int status, const char *type, const char *s,
                        size_t n)
{
    res->status = status;
    res->content_type = type;
    vd_buf_reset(&res->body);
    if (vd_buf_add(&res->body, s, n) < 0)
        vd_http_error(res, 503, "out_of_memory", NULL, "the answer could not be formed");
}

static void get_languages(void *ctx, const struct vd_http_request *req, const char *param,
                          struct vd_http_response *res)
{
    struct vd_api *a = ((struct vd__call *)ctx)->a;
    (void)param;
    int all = vd__api_bool_param(req, res, "all");
    if (all < 0)
        return;
    const char *s = all ? a->languages_all_json : a->languages_json;
    answer_text(res, 200, "application/json", s, strlen(s));
}

static void get_language(void *ctx, const struct vd_http_request *req, const char *param,
                         struct vd_http_response *res)
{
    struct vd_api *a = ((struct vd__call *)ctx)->a;
    (void)req;
    const struct vd_lang *l = vd_langs_find(a->c.langs, param);
    if (!l) {
        vd_http_error(res, 404, "not_found", "id", "unknown language \"%.60s\"", param);
        return;
    }
    vd__api_json(res, 200, language_json(l));
}

/* ---- health, readiness, metrics, the document ------------------------------ */

static void get_health(void *ctx, const struct vd_http_request *req, const char *param,
                       struct vd_http_response *res)
{
    struct vd_api *a = ((struct vd__call *)ctx)->a;
    (void)req, (void)param;
    vd__api_json(res, 200,
                 json_pack("{s:s, s:s, s:I}", "status", "ok", "version", VD_VERSION_STRING,
                           "uptime_s", (json_int_t)((vd_now_ms() - a->started_ms) / 1000)));
}

static void get_ready(void *ctx, const struct vd_http_request *req, const char *param,
                      struct vd_http_response *res)
{
    struct vd_api *a = ((struct vd__call *)ctx)->a;
    uint64_t depth = 0;
    (void)req, (void)param;

    uint64_t t0 = vd_clock_us();
    int src = vd_store_ping(a->c.store);
    double store_ms = (double)(vd_clock_us() - t0) / 1e3;
    int qrc = vd_queue_depth(a->c.queue, &depth);
    size_t langs = vd_langs_available(a->c.langs);
    int rrc = 0;
    double redis_ms = 0;
    if (a->c.cluster) {
        t0 = vd_clock_us();
        rrc = vd_cluster_ping(a->c.cluster);
        redis_ms = (double)(vd_clock_us() - t0) / 1e3;
    }
    int ok = src == 0 && qrc == 0 && rrc == 0 && a->c.sandbox_ok && langs > 0 &&
             !a->shutting_down;

    json_t *store = json_pack("{s:b, s:f}", "ok", src == 0, "ms", store_ms);
    if (src < 0)
        json_object_set_new(store, "error", json_string(vd_strerror(src)));
    json_t *queue = json_pack("{s:b, s:I}", "ok", qrc == 0, "depth", (json_int_t)depth);
    if (qrc < 0)
        json_object_set_new(queue, "error", json_string(vd_strerror(qrc)));
    json_t *sandbox =
        json_pack("{s:b, s:s, s:i}", "ok", a->c.sandbox_ok, "mode",
                  a->c.sandbox_mode ? a->c.sandbox_mode : "none", "slots", a->c.sandbox_slots);
    if (!a->c.sandbox_ok)
        json_object_set_new(sandbox, "error",
                            json_string(a->c.sandbox_error ? a->c.sandbox_error : "not tested"));
    json_t *lj = json_pack("{s:b, s:I}", "ok", langs > 0, "available", (json_int_t)langs);
    if (langs == 0)
        json_object_set_new(lj, "error", json_string("no language toolchain is installed"));
    json_t *checks = json_pack("{s:o, s:o, s:o, s:o}", "store", store, "queue", queue,
                               "sandbox", sandbox, "languages", lj);
    if (a->c.cluster) {
        json_t *rj = json_pack("{s:b, s:f}", "ok", rrc == 0, "ms", redis_ms);
        if (rrc < 0)
            json_object_set_new(rj, "error", json_string(vd_strerror(rrc)));
        json_object_set_new(checks, "redis", rj);
    }
    vd__api_json(res, ok ? 200 : 503,
                 json_pack("{s:s, s:s, s:s, s:o}", "status",
                           ok                 ? "ready"
                           : a->shutting_down ? "stopping"
                                              : "not_ready",
                           "role", a->c.role ? a->c.role : "all", "backend",
                           a->c.cluster ? "redis" : "embedded", "checks", checks));
}

/* The live worker processes: the registry's records with Redis, else this
 * process's own pool (none in an api-only process). A new array, or NULL. */
static json_t *live_workers(struct vd_api *a)
{
    json_t *arr = NULL;
    if (a->c.cluster) {
        if (vd_cluster_workers(a->c.cluster, &arr) < 0)
            return NULL;
        return arr;
    }
    arr = json_array();
    if (a->c.workers)
        json_array_append_new(arr, vd_workers_describe(a->c.workers, "local"));
    return arr;
}

static void get_workers(void *ctx, const struct vd_http_request *req, const char *param,
                        struct vd_http_response *res)
{
    struct vd_api *a = ((struct vd__call *)ctx)->a;
    (void)req, (void)param;
    json_t *arr = live_workers(a);
    if (!arr) {
        vd__api_unavailable(res, "Redis", -EIO);
        return;
    }
    int slots = 0, running = 0;
    size_t i;
    json_t *w;
    json_array_foreach(arr, i, w)
    {
        slots += (int)json_integer_value(json_object_get(w, "slots"));
        running += (int)json_integer_value(json_object_get(w, "running"));
    }
    vd__api_json(res, 200,
                 json_pack("{s:o, s:I, s:i, s:i}", "workers", arr, "total",
                           (json_int_t)json_array_size(arr), "slots", slots, "running", running));
}

/* Per worker process: slots, running, results stored and jobs taken over. */
static int worker_metrics(struct vd_api *a, struct vd_buf *b)
{
    static const char *const fields[][3] = {
        {"slots", "gauge", "Sandbox slots of each live worker process."},
        {"running", "gauge", "Jobs each live worker process is judging."},
        {"finished", "counter", "Results each live worker process has stored since it started."},
        {"reclaimed", "counter", "Jobs each live worker process took over from a silent one."},
    };
    json_t *arr = live_workers(a);
    int rc = 0;
    if (!arr)
        return 0; /* Redis is down: /health/ready says so */
    for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]) && rc == 0; f++) {
        rc = vd_buf_printf(b, "# HELP verdict_worker_%s %s\n# TYPE verdict_worker_%s %s\n",
                           fields[f][0], fields[f][2], fields[f][0], fields[f][1]);
        size_t i;
        json_t *w;
        json_array_foreach(arr, i, w)
        {
            const char *name = json_string_value(json_object_get(w, "name"));
            if (rc == 0 && name && !strpbrk(name, "\"\\\n"))
                rc = vd_buf_printf(b, "verdict_worker_%s{worker=\"%s\"} %lld\n", fields[f][0],
                                   name,
                                   (long long)json_integer_value(json_object_get(w, fields[f][0])));
        }
    }
    json_decref(arr);
    return rc;
}

static void get_metrics(void *ctx, const struct vd_http_request *req, const char *param,
                        struct vd_http_response *res)
{
    struct vd_api *a = ((struct vd__call *)ctx)->a;
    struct vd_worker_stats st;
    struct vd_buf *b = &res->body;
    uint64_t depth = 0;
    int rc = 0;
    (void)req, (void)param;

    vd_workers_stats(a->c.workers, &st);
    (void)!vd_queue_depth(a->c.queue, &depth);
    res->status = 200;
    res->content_type = "text/plain; version=0.0.4; charset=utf-8";
    vd_buf_reset(b);
#define P(...) (rc = rc < 0 ? rc : vd_buf_printf(b, __VA_ARGS__))
    P("# HELP verdict_queue_depth Submissions waiting in the queue.\n"
      "# TYPE verdict_queue_depth gauge\nverdict_queue_depth %llu\n",
      (unsigned long long)depth);
    P("# HELP verdict_running Submissions being judged by this process's workers.\n"
      "# TYPE verdict_running gauge\nverdict_running %d\n",
      st.running);
    P("# HELP verdict_workers Worker threads in this process.\n"
      "# TYPE verdict_workers gauge\nverdict_workers %d\n",
      st.threads);
    P("# HELP verdict_submissions_created_total Submissions accepted by this process.\n"
      "# TYPE verdict_submissions_created_total counter\n"
      "verdict_submissions_created_total %llu\n",
      (unsigned long long)atomic_load(&a->created));
    P("# HELP verdict_submissions_total Results stored by this process's workers, by verdict.\n"
      "# TYPE verdict_submissions_total counter\n");
    for (int v = 0; v < VD_WORKER_VERDICTS; v++)
        if (v != VD_VERDICT_SKIPPED)
            P("verdict_submissions_total{verdict=\"%s\"} %llu\n",
              vd_verdict_name((enum vd_verdict)v), (unsigned long long)st.by_verdict[v]);
    P("# HELP verdict_submissions_cancelled_total Runs cancelled while being judged.\n"
      "# TYPE verdict_submissions_cancelled_total counter\n"
      "verdict_submissions_cancelled_total %llu\n",
      (unsigned long long)st.cancelled);
    P("# HELP verdict_judge_duration_seconds From claim to stored result.\n"
      "# TYPE verdict_judge_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int i = 0; i < VD_WORKER_BUCKETS; i++) {
        cum += st.duration_buckets[i];
        P("verdict_judge_duration_seconds_bucket{le=\"%g\"} %llu\n", vd_worker_bucket_le[i],
          (unsigned long long)cum);
    }
    cum += st.duration_buckets[VD_WORKER_BUCKETS];
    P("verdict_judge_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
      "verdict_judge_duration_seconds_sum %.6f\nverdict_judge_duration_seconds_count %llu\n",
      (unsigned long long)cum, st.duration_sum_s, (unsigned long long)cum);
    P("# HELP verdict_store_retries_total Result writes retried after a store failure.\n"
      "# TYPE verdict_store_retries_total counter\nverdict_store_retries_total %llu\n",
      (unsigned long long)st.store_retries);
    P("# HELP verdict_sandbox_mode How the sandbox limits and measures runs.\n"
      "# TYPE verdict_sandbox_mode gauge\nverdict_sandbox_mode{mode=\"%s\"} 1\n",
      a->c.sandbox_mode ? a->c.sandbox_mode : "none");
    P("# HELP verdict_event_channels Live submissions with event streams in memory.\n"
      "# TYPE verdict_event_channels gauge\nverdict_event_channels %zu\n",
      a->c.events ? vd_events_channels(a->c.events) : 0);
    P("# HELP verdict_http_requests_total HTTP answers by status.\n"
      "# TYPE verdict_http_requests_total counter\n");
    for (int s = 100; s < VD__API_STATUS_MAX; s++) {
        uint64_t n = atomic_load(&a->by_status[s]);
        if (n)
            P("verdict_http_requests_total{code=\"%d\"} %llu\n", s, (unsigned long long)n);
    }
    struct vd_queue_stats qs;
    vd_queue_stats(a->c.queue, &qs);
    P("# HELP verdict_queue_reclaimed_total Jobs this process took over from a silent worker.\n"
      "# TYPE verdict_queue_reclaimed_total counter\nverdict_queue_reclaimed_total %llu\n",
      (unsigned long long)qs.reclaimed);
    P("# HELP verdict_queue_swept_total Queued jobs found without a queue entry and pushed "
      "again.\n# TYPE verdict_queue_swept_total counter\nverdict_queue_swept_total %llu\n",
      (unsigned long long)qs.swept);
    P("# HELP verdict_reconnects_total Connections this process made again after a failure.\n"
      "# TYPE verdict_reconnects_total counter\n"
      "verdict_reconnects_total{to=\"store\"} %llu\n"
      "verdict_reconnects_total{to=\"queue\"} %llu\n"
      "verdict_reconnects_total{to=\"redis\"} %llu\n",
      (unsigned long long)vd_store_reconnects(a->c.store), (unsigned long long)qs.reconnects,
      (unsigned long long)(a->c.cluster ? vd_cluster_reconnects(a->c.cluster) : 0));
    rc = rc < 0 ? rc : worker_metrics(a, b);
    P("# HELP verdict_uptime_seconds Since the process started.\n"
      "# TYPE verdict_uptime_seconds gauge\nverdict_uptime_seconds %lld\n",
      (long long)((vd_now_ms() - a->started_ms) / 1000));
#undef P
    if (rc < 0)
        vd_http_error(res, 503, "out_of_memory", NULL, "the metrics could not be formed");
}

static void get_openapi(void *ctx, const struct vd_http_request *req, const char *param,
                        struct vd_http_response *res)
{
    (void)ctx, (void)req, (void)param;
    answer_text(res, 200, "application/json", vd__api_openapi,
                (size_t)(vd__api_openapi_end - vd__api_openapi));
}

/* ---- routing --------------------------------------------------------------- */

#define PUBLIC VD__ROUTE_PUBLIC

static const struct vd_http_route routes[] = {
    {"POST", "/api/v1/submissions", vd__api_post, 0},
    {"GET", "/api/v1/submissions", vd__api_list, 0},
    {"POST", "/api/v1/submissions/batch", vd__api_batch, 0},
    {"GET", "/api/v1/submissions/{id}", vd__api_get, 0},
    {"DELETE", "/api/v1/submissions/{id}", vd__api_delete, 0},
    {"POST", "/api/v1/submissions/{id}/execute", vd__api_execute, 0},
    {"GET", "/api/v1/submissions/{id}/events", vd__api_events, 0},
    {"POST", "/api/v1/sessions", vd__api_session_create, 0},
    {"GET", "/api/v1/sessions", vd__api_session_list, 0},
    {"GET", "/api/v1/sessions/{id}", vd__api_session_get, 0},
    {"PATCH", "/api/v1/sessions/{id}", vd__api_session_save, 0},
    {"DELETE", "/api/v1/sessions/{id}", vd__api_session_delete, 0},
    {"POST", "/api/v1/sessions/{id}/run", vd__api_session_run, 0},
    {"GET", "/api/v1/sessions/{id}/runs", vd__api_session_runs, 0},
    {"POST", "/api/v1/auth/register", vd__api_register, PUBLIC},
    {"POST", "/api/v1/auth/login", vd__api_login, PUBLIC},
    {"POST", "/api/v1/auth/refresh", vd__api_refresh, PUBLIC},
    {"GET", "/api/v1/auth/me", vd__api_me, 0},
    {"POST", "/api/v1/admin/keys", vd__api_keys_create, 0},
    {"GET", "/api/v1/admin/keys", vd__api_keys_list, 0},
    {"GET", "/api/v1/admin/keys/{id}", vd__api_keys_get, 0},
    {"DELETE", "/api/v1/admin/keys/{id}", vd__api_keys_revoke, 0},
    {"GET", "/api/v1/languages", get_languages, 0},
    {"GET", "/api/v1/languages/{id}", get_language, 0},
    {"GET", "/health", get_health, PUBLIC},
    {"GET", "/health/ready", get_ready, PUBLIC},
    {"GET", "/metrics", get_metrics, 0},
    {"GET", "/api/v1/workers", get_workers, 0},
    {"GET", "/openapi.json", get_openapi, PUBLIC},
    {NULL, NULL, NULL, 0},
};

void vd_api_handle(void *ctx, const struct vd_http_request *req, struct vd_http_response *res)
{
    struct vd_api *a = ctx;
    const struct vd_http_route *r;
    struct vd__call call = {.a = a};
    char param[VD_HTTP_PARAM_MAX], allow[64];

    /* The address allow-list comes before anything else, even a 404. */
    if (!vd_auth_cidrs_match(a->c.cfg->allowed_ips, req->remote)) {
        vd_http_error(res, 403, "ip_not_allowed", NULL, "%s may not call this server", req->remote);
        goto out;
    }
    int rc = vd_http_route_find(routes, req->method, req->path, &r, param, allow, sizeof(allow));
    if (rc == VD_EINVAL) {
        vd_http_error(res, 405, "method_not_allowed", NULL, "%s is not allowed on %.200s",
                      req->method, req->path);
        vd_http_set_header(res, "Allow", allow);
    } else if (rc < 0) {
        vd_http_error(res, 404, "not_found", NULL, "no such endpoint: %s %.200s", req->method,
                      req->path);
    } else if (vd__api_authenticate(&call, req, r->flags, res) == 0) {
        r->fn(&call, req, param, res);
    }
out:
    if (res->status >= 100 && res->status < VD__API_STATUS_MAX)
        atomic_fetch_add(&a->by_status[res->status], 1);
}

/* ---- life ------------------------------------------------------------------ */

int vd_api_new(const struct vd_api_config *c, struct vd_api **out, struct vd_errbuf *eb)
{
    *out = NULL;
    if (!c->cfg || !c->store || !c->queue || !c->langs)
        return vd_errf(eb, VD_EINVAL, "api: incomplete configuration");
    struct vd_api *a = vd_xcalloc(1, sizeof(*a));
    a->c = *c;
    a->caps.source_max = (size_t)c->cfg->source_max_kb * 1024;
    a->caps.input_max = (size_t)c->cfg->body_max_kb * 1024;
    a->caps.tests_max = (size_t)c->cfg->tests_max;
    a->started_ms = vd_now_ms();
    int rc = vd__api_callers_init(a, eb);
    if (rc < 0) {
        vd_api_free(a);
        return rc;
    }
    a->views = vd__api_cache_new();
    a->languages_json = languages_text(c->langs, 0);
    a->languages_all_json = languages_text(c->langs, 1);
    if (!a->languages_json || !a->languages_all_json) {
        vd_api_free(a);
        return vd_errf(eb, -ENOMEM, "api: out of memory");
    }
    *out = a;
    return 0;
}

void vd_api_shutdown(struct vd_api *a)
{
    if (a)
        atomic_store(&a->shutting_down, 1);
}

void vd_api_free(struct vd_api *a)
{
    if (!a)
        return;
    vd_free(a->languages_json); /* json_dumps uses malloc, which vd_free matches */
    vd_free(a->languages_all_json);
    vd__api_cache_free(a->views);
    vd__api_callers_free(a);
    vd_free(a);
}
