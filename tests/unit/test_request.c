/*
 * test_request.c - src/api/request.c: every refusal names its field with
 * the right status; the seeds' names are accepted; the canonical form
 * parses back to the same request.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "vd/api.h"

static struct vd_langs *langs(void)
{
    static struct vd_langs *t;
    if (t)
        return t;
    char dir[] = "/tmp/vd-req-langs-XXXXXX", path[256];
    if (!mkdtemp(dir))
        FAIL("mkdtemp");
    snprintf(path, sizeof(path), "%s/py.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"id\":\"python\",\"name\":\"P\",\"aliases\":[\"py\"],\"source\":\"a.py\",\"run\":["
          "\"sh\"],"
          "\"version\":{\"command\":[\"sh\",\"-c\",\"echo 3.11\"]},"
          "\"limits\":{\"max\":{\"cpu_ms\":5000,\"memory_mb\":512}}}",
          f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/gone.json", dir);
    f = fopen(path, "w");
    fputs("{\"id\":\"gone\",\"name\":\"G\",\"source\":\"a\",\"run\":[\"a\"],"
          "\"version\":{\"command\":[\"no-such-tool-anywhere\"]}}",
          f);
    fclose(f);
    struct vd_errbuf eb = {""};
    if (vd_langs_load(dir, &t, &eb) < 0)
        FAIL("load: %s", eb.msg);
    vd_langs_probe(t, NULL, 10000);
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    if (system(path) != 0)
        FAIL("cleanup");
    return t;
}

static const struct vd_api_caps caps = {1000, 2000, 3};

static int parse(const char *body, struct vd_api_request *r, struct vd_api_error *e)
{
    return vd_api_request_parse(body, strlen(body), langs(), &caps, r, e);
}

#define REFUSED(body, want_status, want_field)        \
    do {                                              \
        struct vd_api_request r_;                     \
        struct vd_api_error e_;                       \
        ASSERT_ERR(parse(body, &r_, &e_), VD_EINVAL); \
        ASSERT_EQ(e_.status, want_status);            \
        ASSERT_STR_EQ(e_.field, want_field);          \
        ASSERT_NE(e_.message[0], 0);                  \
    } while (0)

TEST_IMPL(request_accepts_ours_and_the_seeds_names)
{
    struct vd_api_request r, r2;
    struct vd_api_error e;
    struct vd_buf b;
    ASSERT_OK(
        parse("{\"language_id\":\"PY\",\"code\":\"print(1)\",\"stdin_data\":\"x\","
              "\"time_limit_sec\":1.5,\"max_memory_mb\":128,\"metadata\":{\"k\":[1,2]},"
              "\"testcases\":[{\"stdin\":\"1\",\"expected\":\"2\"},{\"name\":\"b\",\"input\":\"\","
              "\"output\":\"\"}],\"checker\":\"float:1e-6\",\"execute\":false}",
              &r, &e));
    ASSERT_STR_EQ(r.lang->id, "python");
    ASSERT_STR_EQ(r.source, "print(1)");
    ASSERT_UINT_EQ(r.limits.cpu_ms, 1500);
    ASSERT_UINT_EQ(r.limits.memory_kb, 128 * 1024);
    ASSERT_UINT_EQ(r.ntests, 2);
    ASSERT_STR_EQ(r.tests[0].name, "1");
    ASSERT_STR_EQ(r.tests[0].expected, "2");
    ASSERT_STR_EQ(r.tests[1].name, "b");
    ASSERT(!r.execute);
    /* The canonical form parses back to the same. */
    vd_buf_init(&b, 1 << 20);
    ASSERT_OK(vd_api_request_json(&r, &b));
    ASSERT_STR_CONTAINS(vd_buf_str(&b), "\"language\":\"python\"");
    ASSERT_OK(vd_api_request_parse(vd_buf_str(&b), b.len, langs(), &caps, &r2, &e));
    ASSERT_UINT_EQ(r2.limits.cpu_ms, 1500);
    ASSERT_UINT_EQ(r2.ntests, 2);
    ASSERT_STR_EQ(r2.checker, "float:1e-6");
    ASSERT_STR_EQ(r2.metadata, "{\"k\":[1,2]}");
    ASSERT(!r2.execute);
    vd_api_request_free(&r2);
    vd_api_request_free(&r);
    vd_buf_free(&b);
    /* Source code is bytes: a NUL inside survives. */
    ASSERT_OK(parse("{\"language\":\"python\",\"source_code\":\"a\\u0000b\"}", &r, &e));
    ASSERT_UINT_EQ(r.source_len, 3);
    vd_api_request_free(&r);
    return TEST_OK;
}

TEST_IMPL(request_refusals_name_the_field)
{
    REFUSED("{\"language\":", 400, "");
    REFUSED("[1]", 400, "");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"colour\":1}", 400, "colour");
    REFUSED("{\"source_code\":\"x\"}", 400, "language");
    REFUSED("{\"language\":71,\"source_code\":\"x\"}", 400, "language");
    REFUSED("{\"language\":\"cobol\",\"source_code\":\"x\"}", 422, "language");
    REFUSED("{\"language\":\"gone\",\"source_code\":\"x\"}", 422, "language");
    REFUSED("{\"language\":\"python\"}", 400, "source_code");
    REFUSED("{\"language\":\"python\",\"code\":7}", 400, "code");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"tests\":[{},{},{},{}]}", 413,
            "tests");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"tests\":[{\"input\":\"1\"}]}", 400,
            "tests[0].expected_output");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"tests\":[{\"expected_output\":\"\","
            "\"x\":1}]}",
            400, "tests[0].x");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"limits\":{\"cpu_ms\":9000}}", 422,
            "limits.cpu_ms");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"limits\":{\"memory_mb\":0}}", 422,
            "limits.memory_mb");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"limits\":{\"cpus\":1}}", 400,
            "limits.cpus");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"limits\":{\"cpu_ms\":\"1\"}}", 400,
            "limits.cpu_ms");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"checker\":\"/bin/true\"}", 422,
            "checker");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"callback_url\":\"ftp://x\"}", 422,
            "callback_url");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"metadata\":[1]}", 400, "metadata");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"execute\":1}", 400, "execute");
    REFUSED("{\"language\":\"python\",\"source_code\":\"x\",\"language\":\"py\"}", 400, "");
    return TEST_OK;
}

TEST_IMPL(request_size_caps_are_413)
{
    char big[1200];
    memset(big, 'a', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    char body[4000];
    snprintf(body, sizeof(body), "{\"language\":\"python\",\"source_code\":\"%s\"}", big);
    REFUSED(body, 413, "source_code");
    /* Inputs and answers share one budget (2000 bytes here). */
    snprintf(body, sizeof(body),
             "{\"language\":\"python\",\"source_code\":\"x\",\"stdin\":\"%.1100s\","
             "\"tests\":[{\"expected_output\":\"%.1000s\"}]}",
             big, big);
    REFUSED(body, 413, "tests[0].expected_output");
    return TEST_OK;
}
