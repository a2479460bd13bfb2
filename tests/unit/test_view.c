/*
 * test_view.c - src/api/view.c: a submission as the API shows it, before
 * and after its result, for plain runs and runs with tests; the summary;
 * the stored request; times; and the stored request back as a judge
 * request.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "vd/alloc.h"
#include "vd/api.h"
#include "vd/judge.h"
#include "vd/store.h"

static const char req_json[] =
    "{\"language\":\"python\",\"source_code\":\"print(1)\",\"checker\":\"tokens\","
    "\"limits\":{},\"stop_on_failure\":false,\"metadata\":{\"user\":7},"
    "\"callback_url\":\"https://example.org/cb\",\"execute\":true}";

static void base(struct vd_submission *s, enum vd_sub_status st)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "01900000-0000-7000-8000-000000000001");
    snprintf(s->lang, sizeof(s->lang), "python");
    s->request = (char *)req_json;
    s->status = st;
    s->created_ms = 1764650725123; /* 2025-12-02T04:45:25.123Z */
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

TEST_IMPL(view_queued_has_every_key_null_until_finished)
{
    struct vd_submission s;
    base(&s, VD_SUB_QUEUED);
    json_t *o = vd_api_submission_view(&s, VD_API_VIEW_FULL);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(str(o, "status"), "queued");
    ASSERT(json_is_null(json_object_get(o, "verdict")));
    ASSERT_STR_EQ(str(o, "message"), "");
    ASSERT_STR_EQ(str(o, "created_at"), "2025-12-02T04:45:25.123Z");
    ASSERT(json_is_null(json_object_get(o, "started_at")));
    ASSERT_EQ(num(json_object_get(o, "metadata"), "user"), 7);
    ASSERT_STR_EQ(str(o, "callback_url"), "https://example.org/cb");
    static const char *const nulls[] = {"stdout",  "stderr",  "compile_output", "exit_code",
                                        "cpu_ms",  "wall_ms", "memory_kb",      "passed",
                                        "compile", NULL};
    for (size_t i = 0; nulls[i]; i++) {
        ASSERT_NOT_NULL(json_object_get(o, nulls[i]));
        ASSERT(json_is_null(json_object_get(o, nulls[i])));
    }
    ASSERT_UINT_EQ(json_array_size(json_object_get(o, "tests")), 0);
    ASSERT_NULL(json_object_get(o, "request"));
    json_decref(o);

    /* With the request, on demand. */
    o = vd_api_submission_view(&s, VD_API_VIEW_REQUEST);
    ASSERT_STR_EQ(str(json_object_get(o, "request"), "source_code"), "print(1)");
    json_decref(o);

    /* With meta, the request is not needed (a peek has none). */
    s.request = NULL;
    s.meta = (char *)"{\"metadata\":{\"user\":8},\"callback_url\":\"https://x.org/\"}";
    o = vd_api_submission_view(&s, VD_API_VIEW_FULL);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(num(json_object_get(o, "metadata"), "user"), 8);
    ASSERT_STR_EQ(str(o, "callback_url"), "https://x.org/");
    json_decref(o);
    s.meta = NULL; /* neither: both null */
    o = vd_api_submission_view(&s, VD_API_VIEW_FULL);
    ASSERT(json_is_null(json_object_get(o, "metadata")));
    ASSERT(json_is_null(json_object_get(o, "callback_url")));
    json_decref(o);

    /* Cancelled before it ran: says so. */
    base(&s, VD_SUB_CANCELLED);
    o = vd_api_submission_view(&s, VD_API_VIEW_FULL);
    ASSERT_STR_EQ(str(o, "status"), "cancelled");
    ASSERT_STR_EQ(str(o, "message"), "cancelled");
    json_decref(o);
    return TEST_OK;
}

TEST_IMPL(view_plain_run_is_flattened)
{
    struct vd_submission s;
    base(&s, VD_SUB_FINISHED);
    snprintf(s.verdict, sizeof(s.verdict), "RE");
    s.result = (char *)"{\"verdict\":\"RE\",\"passed\":0,\"total\":0,\"message\":\"exit 3\","
                       "\"compile\":{\"ok\":true,\"cached\":true,\"output\":\"warn\","
                       "\"truncated\":false,\"cpu_ms\":5,\"wall_ms\":6},\"tests\":[],"
                       "\"stdout\":\"out\",\"stderr\":\"err\",\"exit_code\":3,\"signal\":0,"
                       "\"cpu_ms\":10,\"wall_ms\":12,\"memory_kb\":900,"
                       "\"output_truncated\":true,\"mode\":\"cgroup1\"}";
    json_t *o = vd_api_submission_view(&s, VD_API_VIEW_FULL);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(str(o, "verdict"), "RE");
    ASSERT_STR_EQ(str(o, "message"), "exit 3");
    ASSERT_STR_EQ(str(o, "stdout"), "out");
    ASSERT_STR_EQ(str(o, "stderr"), "err");
    ASSERT(json_is_true(json_object_get(o, "output_truncated")));
    ASSERT_EQ(num(o, "exit_code"), 3);
    ASSERT_EQ(num(o, "cpu_ms"), 10);
    ASSERT_EQ(num(o, "memory_kb"), 900);
    ASSERT_STR_EQ(str(o, "compile_output"), "warn");
    ASSERT(json_is_true(json_object_get(json_object_get(o, "compile"), "cached")));
    ASSERT_NULL(json_object_get(json_object_get(o, "compile"), "output"));
    json_decref(o);

    /* A stored text that is not JSON: no view, not a crash. */
    s.result = (char *)"{nope";
    ASSERT_NULL(vd_api_submission_view(&s, VD_API_VIEW_FULL));
    return TEST_OK;
}

TEST_IMPL(view_tests_take_the_largest_and_the_deciding_test)
{
    struct vd_submission s;
    base(&s, VD_SUB_FINISHED);
    snprintf(s.verdict, sizeof(s.verdict), "TLE");
    s.result = (char *)"{\"verdict\":\"TLE\",\"passed\":1,\"total\":3,\"message\":\"test 2\","
                       "\"compile\":{\"ok\":true,\"cached\":false,\"output\":\"\","
                       "\"truncated\":false,\"cpu_ms\":1,\"wall_ms\":1},\"tests\":["
                       "{\"name\":\"1\",\"verdict\":\"AC\",\"cpu_ms\":5,\"wall_ms\":9,"
                       "\"memory_kb\":2000,\"exit_code\":0,\"signal\":0,\"message\":\"\"},"
                       "{\"name\":\"2\",\"verdict\":\"TLE\",\"cpu_ms\":1000,\"wall_ms\":1010,"
                       "\"memory_kb\":100,\"exit_code\":-1,\"signal\":9,\"message\":\"cpu\"},"
                       "{\"name\":\"3\",\"verdict\":\"RE\",\"cpu_ms\":1,\"wall_ms\":1,"
                       "\"memory_kb\":50,\"exit_code\":1,\"signal\":0,\"message\":\"\"}]}";
    json_t *o = vd_api_submission_view(&s, VD_API_VIEW_FULL);
    ASSERT_NOT_NULL(o);
    ASSERT_EQ(num(o, "cpu_ms"), 1000);
    ASSERT_EQ(num(o, "wall_ms"), 1010);
    ASSERT_EQ(num(o, "memory_kb"), 2000);
    ASSERT_EQ(num(o, "signal"), 9); /* test 2 decided the verdict */
    ASSERT_EQ(num(o, "passed"), 1);
    ASSERT_EQ(num(o, "total"), 3);
    ASSERT(json_is_null(json_object_get(o, "stdout")));
    ASSERT_UINT_EQ(json_array_size(json_object_get(o, "tests")), 3);
    json_decref(o);

    /* The summary keeps the listing's fields only. */
    o = vd_api_submission_view(&s, VD_API_VIEW_SUMMARY);
    ASSERT_EQ(num(o, "cpu_ms"), 1000);
    ASSERT_EQ(num(o, "memory_kb"), 2000);
    ASSERT_NULL(json_object_get(o, "tests"));
    ASSERT_NULL(json_object_get(o, "stdout"));
    ASSERT_NULL(json_object_get(o, "callback_url"));
    ASSERT_NOT_NULL(json_object_get(o, "metadata"));
    json_decref(o);
    return TEST_OK;
}

TEST_IMPL(view_times_are_rfc3339_utc)
{
    char t[32];
    vd_api_time(0, t);
    ASSERT_STR_EQ(t, "");
    vd_api_time(1000, t);
    ASSERT_STR_EQ(t, "1970-01-01T00:00:01.000Z");
    vd_api_time(4102444799999LL, t);
    ASSERT_STR_EQ(t, "2099-12-31T23:59:59.999Z");
    return TEST_OK;
}

TEST_IMPL(view_judge_request_from_the_stored_request)
{
    struct vd_api_request r;
    struct vd_api_test tests[2] = {{"a", "1", 1, "2", 1}, {"b", "3", 1, "4", 1}};
    struct vd_judge_request jr;
    struct vd_errbuf eb = {""};
    memset(&r, 0, sizeof(r));
    r.source = "x";
    r.source_len = 1;
    r.tests = tests;
    r.ntests = 2;
    r.limits.cpu_ms = 700;
    r.stop_on_failure = 1;
    snprintf(r.checker, sizeof(r.checker), "float:0.01");
    ASSERT_OK(vd_api_judge_request(&r, &jr, &eb));
    ASSERT_UINT_EQ(jr.ntests, 2);
    ASSERT_STR_EQ(jr.tests[1].name, "b");
    ASSERT_STR_EQ(jr.tests[1].answer, "4");
    ASSERT_EQ(jr.limits.cpu_ms, 700);
    ASSERT_EQ(jr.stop_on_failure, 1);
    ASSERT_EQ(jr.checker.kind, VD_CHECK_FLOAT);
    vd_api_judge_request_free(&jr);
    ASSERT_NULL(jr.tests);

    /* A program checker never comes from the API. */
    snprintf(r.checker, sizeof(r.checker), "/bin/true");
    ASSERT_ERR(vd_api_judge_request(&r, &jr, &eb), VD_EINVAL);
    vd_api_judge_request_free(&jr);
    return TEST_OK;
}
