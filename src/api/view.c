/*
 * view.c - a stored submission as the API shows it, and a stored request
 * as the judge takes it.
 *
 * Theory of operation. The store keeps two JSON texts per submission: the
 * canonical request (request.c) and the judge's result (report.c). A view
 * reads both and lays out one flat object: lifecycle status and verdict
 * apart, RFC 3339 times, metadata and callback_url from the request, and
 * from the result stdout, stderr, compile_output, exit status, the time
 * and memory used and the per-test results. For a run with tests, the
 * top-level time and memory are the largest over the tests, and the exit
 * status is that of the test that decided the verdict. Every result field
 * is present and null until there is a result, so clients can rely on the
 * keys. The same function serves GET, ?wait=true, the SSE result event and
 * (with VD_API_VIEW_SUMMARY) the history listing.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vd/alloc.h"
#include "vd/api.h"
#include "vd/json.h"
#include "vd/judge.h"
#include "vd/store.h"

void vd_api_time(int64_t ms, char out[32])
{
    struct tm tm;
    time_t t = (time_t)(ms / 1000);
    out[0] = '\0';
    if (ms <= 0 || !gmtime_r(&t, &tm))
        return;
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static json_t *time_or_null(int64_t ms)
{
    char s[32];
    vd_api_time(ms, s);
    return s[0] ? json_string(s) : json_null();
}

/* o[key] = the value of src[key], or null. */
static void copy(json_t *o, const char *key, json_t *src, const char *src_key)
{
    json_t *v = src ? json_object_get(src, src_key) : NULL;
    json_object_set(o, key, v ? v : json_null());
}

static json_int_t int_of(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* The result fields of a run with tests: the largest time and memory, and
 * the exit status of the first test that is not AC (the one the verdict
 * comes from). */
static void from_tests(json_t *o, json_t *tests)
{
    json_int_t cpu = 0, wall = 0, mem = 0;
    json_t *decider = NULL, *t;
    size_t i;
    json_array_foreach(tests, i, t)
    {
        if (int_of(t, "cpu_ms") > cpu)
            cpu = int_of(t, "cpu_ms");
        if (int_of(t, "wall_ms") > wall)
            wall = int_of(t, "wall_ms");
        if (int_of(t, "memory_kb") > mem)
            mem = int_of(t, "memory_kb");
        const char *v = json_string_value(json_object_get(t, "verdict"));
        if (!decider && v && strcmp(v, "AC") != 0 && strcmp(v, "SKIPPED") != 0)
            decider = t;
    }
    json_object_set_new(o, "stdout", json_null());
    json_object_set_new(o, "stderr", json_null());
    json_object_set_new(o, "output_truncated", json_false());
    json_object_set_new(o, "exit_code", json_integer(decider ? int_of(decider, "exit_code") : 0));
    json_object_set_new(o, "signal", json_integer(decider ? int_of(decider, "signal") : 0));
    json_object_set_new(o, "cpu_ms", json_integer(cpu));
    json_object_set_new(o, "wall_ms", json_integer(wall));
    json_object_set_new(o, "memory_kb", json_integer(mem));
}

static void result_fields(json_t *o, json_t *res, unsigned flags)
{
    json_t *compile = res ? json_object_get(res, "compile") : NULL;
    json_t *tests = res ? json_object_get(res, "tests") : NULL;
    int plain = res && json_object_get(res, "stdout") != NULL;

    copy(o, "passed", res, "passed");
    copy(o, "total", res, "total");
    if (!res) {
        static const char *const keys[] = {"cpu_ms", "memory_kb", NULL};
        static const char *const full_keys[] = {"stdout",
                                                "stderr",
                                                "output_truncated",
                                                "compile_output",
                                                "compile_output_truncated",
                                                "exit_code",
                                                "signal",
                                                "wall_ms",
                                                NULL};
        for (size_t i = 0; keys[i]; i++)
            json_object_set_new(o, keys[i], json_null());
        if (!(flags & VD_API_VIEW_SUMMARY)) {
            for (size_t i = 0; full_keys[i]; i++)
                json_object_set_new(o, full_keys[i], json_null());
            json_object_set_new(o, "compile", json_null());
            json_object_set_new(o, "tests", json_array());
            json_object_set_new(o, "sandbox_mode", json_null());
        }
        return;
    }
    if (plain) {
        copy(o, "stdout", res, "stdout");
        copy(o, "stderr", res, "stderr");
        copy(o, "output_truncated", res, "output_truncated");
        copy(o, "exit_code", res, "exit_code");
        copy(o, "signal", res, "signal");
        copy(o, "cpu_ms", res, "cpu_ms");
        copy(o, "wall_ms", res, "wall_ms");
        copy(o, "memory_kb", res, "memory_kb");
    } else {
        from_tests(o, tests);
    }
    if (flags & VD_API_VIEW_SUMMARY) {
        /* A listing keeps cpu_ms and memory_kb only. */
        static const char *const drop[] = {
            "stdout", "stderr", "output_truncated", "exit_code", "signal", "wall_ms", NULL};
        for (size_t i = 0; drop[i]; i++)
            json_object_del(o, drop[i]);
        return;
    }
    copy(o, "compile_output", compile, "output");
    copy(o, "compile_output_truncated", compile, "truncated");
    json_t *c = json_object();
    if (c && compile) {
        copy(c, "ok", compile, "ok");
        copy(c, "cached", compile, "cached");
        copy(c, "cpu_ms", compile, "cpu_ms");
        copy(c, "wall_ms", compile, "wall_ms");
    }
    json_object_set_new(o, "compile", c ? c : json_null());
    if (tests && json_is_array(tests))
        json_object_set(o, "tests", tests);
    else
        json_object_set_new(o, "tests", json_array());
    copy(o, "sandbox_mode", res, "mode");
}

/* null without a webhook URL; "pending" until a delivery ended. */
static json_t *webhook_view(const struct vd_submission *s)
{
    char done[32];
    if (!s->webhook_url)
        return json_null();
    vd_api_time(s->webhook_done_ms, done);
    enum vd_webhook_state st =
        s->webhook_state == VD_WEBHOOK_NONE ? VD_WEBHOOK_PENDING : s->webhook_state;
    /* A cancelled run has nothing to deliver: it is never sent. */
    const char *name = s->status == VD_SUB_CANCELLED && s->webhook_state == VD_WEBHOOK_NONE
                           ? "skipped"
                           : vd_webhook_state_name(st);
    return json_pack(
        "{s:s, s:s, s:i, s:o, s:o, s:o}", "url", s->webhook_url, "state", name, "attempts",
        s->webhook_attempts, "last_status",
        s->webhook_status ? json_integer(s->webhook_status) : json_null(), "last_error",
        s->webhook_error[0] ? json_string(s->webhook_error) : json_null(), "delivered_at",
        st == VD_WEBHOOK_DELIVERED && done[0] ? json_string(done) : json_null());
}

json_t *vd_api_submission_view(const struct vd_submission *s, unsigned flags)
{
    /* metadata and callback_url come from meta, small; only rows stored
     * before it existed, or a view that shows the request, parse the
     * request, which may be megabytes. */
    int need_req = (flags & VD_API_VIEW_REQUEST) || !s->meta;
    const char *rtext = need_req ? s->request : NULL;
    json_t *req = rtext ? json_loads(rtext, JSON_ALLOW_NUL, NULL) : NULL;
    json_t *meta = s->meta ? json_loads(s->meta, 0, NULL) : NULL;
    json_t *res = s->result ? json_loads(s->result, JSON_ALLOW_NUL, NULL) : NULL;
    json_t *o = json_object();
    json_t *from = meta ? meta : req; /* where metadata and callback_url are */

    if (!o || (rtext && !req) || (s->meta && !meta) || (s->result && !res)) {
        json_decref(o);
        o = NULL;
        goto out;
    }
    json_object_set_new(o, "id", json_string(s->id));
    json_object_set_new(o, "status", json_string(vd_sub_status_name(s->status)));
    json_object_set_new(o, "verdict", s->verdict[0] ? json_string(s->verdict) : json_null());
    copy(o, "message", res, "message");
    if (!res)
        json_object_set_new(o, "message", json_string(""));
    json_object_set_new(o, "language", json_string(s->lang));
    json_object_set_new(o, "attempt", json_integer(s->attempt));
    json_object_set_new(o, "created_at", time_or_null(s->created_ms));
    json_object_set_new(o, "started_at", time_or_null(s->started_ms));
    json_object_set_new(o, "finished_at", time_or_null(s->finished_ms));
    copy(o, "metadata", from, "metadata");
    if (!(flags & VD_API_VIEW_SUMMARY))
        copy(o, "callback_url", from, "callback_url");
    json_object_set_new(o, "session_id",
                        s->session_id[0] ? json_string(s->session_id) : json_null());
    if (flags & VD_API_VIEW_OWNER)
        json_object_set_new(o, "owner", json_string(s->owner));
    if (!(flags & VD_API_VIEW_SUMMARY))
        json_object_set_new(o, "webhook", webhook_view(s));
    result_fields(o, res, flags);
    if ((flags & VD_API_VIEW_REQUEST) && req)
        json_object_set(o, "request", req);
    /* A cancelled run that left no result still says what happened. */
    if (s->status == VD_SUB_CANCELLED && !res)
        json_object_set_new(o, "message", json_string("cancelled"));
out:
    json_decref(req);
    json_decref(meta);
    json_decref(res);
    return o;
}

int vd_api_submission_json(const struct vd_submission *s, unsigned flags, struct vd_buf *out)
{
    json_t *o = vd_api_submission_view(s, flags);
    if (!o)
        return VD_EBADJSON;
    int rc = vd_json_dump(o, out);
    json_decref(o);
    return rc;
}

int vd_api_judge_request(const struct vd_api_request *r, struct vd_judge_request *jr,
                         struct vd_errbuf *eb)
{
    memset(jr, 0, sizeof(*jr));
    jr->lang = r->lang;
    jr->source = r->source;
    jr->source_len = r->source_len;
    jr->stdin_data = r->stdin_data;
    jr->stdin_len = r->stdin_len;
    jr->limits = r->limits;
    jr->stop_on_failure = r->stop_on_failure;
    int rc = vd_checker_parse(r->checker, &jr->checker, eb);
    if (rc < 0)
        return rc;
    if (jr->checker.kind == VD_CHECK_PROGRAM)
        return vd_errf(eb, VD_EINVAL, "checker programs are not taken over the API");
    if (r->ntests) {
        struct vd_test_case *t = vd_xcalloc(r->ntests, sizeof(*t));
        for (size_t i = 0; i < r->ntests; i++)
            t[i] = (struct vd_test_case){r->tests[i].name, r->tests[i].input, r->tests[i].input_len,
                                         r->tests[i].expected, r->tests[i].expected_len};
        jr->tests = t;
        jr->ntests = r->ntests;
    }
    return 0;
}

void vd_api_judge_request_free(struct vd_judge_request *jr)
{
    vd_free((void *)jr->tests);
    jr->tests = NULL;
    jr->ntests = 0;
}
