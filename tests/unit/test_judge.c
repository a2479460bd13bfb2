/*
 * test_judge.c - src/judge/judge.c and report.c: compile once, run tests in
 * parallel boxes, verdicts, the compile cache, checkers. Real boxes (root).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbtest.h"
#include "vd/clock.h"
#include "vd/judge.h"

static const char c_lang[] =
    "{\"id\":\"c\",\"name\":\"C\",\"source\":\"main.c\",\"run\":[\"./main\"],"
    "\"compile\":[\"gcc\",\"-O2\",\"-o\",\"main\",\"main.c\"],"
    "\"version\":{\"command\":[\"gcc\",\"--version\"]},"
    "\"limits\":{\"run\":{\"cpu_ms\":1000,\"memory_mb\":64},\"max\":{\"cpu_ms\":5000}}}";
static const char sh_lang[] =
    "{\"id\":\"sh\",\"name\":\"sh\",\"source\":\"main.sh\","
    "\"run\":[\"sh\",\"main.sh\"],\"version\":{\"command\":[\"sh\",\"-c\",\"echo 1\"]}}";

static const char ab_c[] = "#include <stdio.h>\n"
                           "int main(void){long a,b; if(scanf(\"%ld %ld\",&a,&b)!=2) return 1;\n"
                           " if(a<0) for(;;); printf(\"%ld\\n\",a+b); return 0;}\n";

struct fixture {
    struct vd_sandbox *sb;
    struct vd_judge *j;
    struct vd_lang *c, *sh;
    char cache[64];
};

#define FIXTURE(f)                                                                   \
    do {                                                                             \
        struct vd_errbuf fe_ = {""};                                                 \
        SBTEST_OPEN((f).sb, 2);                                                      \
        snprintf((f).cache, sizeof((f).cache), "/tmp/vd-cache-XXXXXX");              \
        ASSERT_NOT_NULL(mkdtemp((f).cache));                                         \
        ASSERT_OK(chmod((f).cache, 0700));                                           \
        struct vd_judge_config jc_ = {(f).cache, 0, 0};                              \
        ASSERT_OK(vd_judge_new((f).sb, &jc_, &(f).j, &fe_));                         \
        ASSERT_OK(vd_lang_parse(c_lang, sizeof(c_lang) - 1, "c", &(f).c, &fe_));     \
        ASSERT_OK(vd_lang_parse(sh_lang, sizeof(sh_lang) - 1, "sh", &(f).sh, &fe_)); \
        snprintf((f).c->version, sizeof((f).c->version), "test");                    \
    } while (0)

static void fixture_done(struct fixture *f)
{
    char cmd[128];
    vd_judge_free(f->j);
    vd_sandbox_close(f->sb);
    vd_lang_free(f->c);
    vd_lang_free(f->sh);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->cache);
    if (system(cmd) != 0)
        FAIL("cleanup");
}

static const struct vd_test_case ab_tests[] = {
    {"1", "1 2\n", 4, "3\n", 2},
    {"2", "2 2\n", 4, "5\n", 2}, /* wrong answer on purpose */
    {"3", "5 5\n", 4, "10", 2},
    {"4", "-1 0\n", 5, "0\n", 2}, /* loops: TLE */
};

static void request(struct vd_judge_request *r, const struct vd_lang *l, const char *src,
                    size_t ntests)
{
    memset(r, 0, sizeof(*r));
    r->lang = l;
    r->source = src;
    r->source_len = strlen(src);
    r->tests = ntests ? ab_tests : NULL;
    r->ntests = ntests;
}

TEST_IMPL(judge_verdicts_in_order)
{
    struct fixture f;
    struct vd_judge_request req;
    struct vd_judge_result res;
    FIXTURE(f);
    /* The inputs' lengths are the strings' (the table counts bytes). */
    request(&req, f.c, ab_c, 4);
    vd_judge_result_init(&res);
    ASSERT_OK(vd_judge_run(f.j, &req, &res));
    ASSERT(res.compile.ok);
    ASSERT(!res.compile.cached);
    ASSERT_STR_EQ(vd_verdict_name(res.tests[0].verdict), "AC");
    ASSERT_STR_EQ(vd_verdict_name(res.tests[1].verdict), "WA");
    ASSERT_STR_EQ(vd_verdict_name(res.tests[2].verdict), "AC");
    ASSERT_STR_EQ(vd_verdict_name(res.tests[3].verdict), "TLE");
    ASSERT_STR_EQ(vd_verdict_name(res.verdict), "WA"); /* the first failure, in order */
    ASSERT_UINT_EQ(res.passed, 2);
    ASSERT_UINT_EQ(res.total, 4);
    ASSERT_STR_CONTAINS(res.message, "test 2");
    /* The JSON report carries the same. */
    struct vd_buf b;
    vd_buf_init(&b, 1 << 20);
    ASSERT_OK(vd_judge_result_json(&res, 0, &b));
    ASSERT_STR_CONTAINS(vd_buf_str(&b), "\"verdict\":\"WA\",\"passed\":2,\"total\":4");
    vd_buf_free(&b);
    vd_judge_result_free(&res);

    /* Again: the compile cache answers, and stop_on_failure skips the rest. */
    req.stop_on_failure = 1;
    vd_judge_result_init(&res);
    ASSERT_OK(vd_judge_run(f.j, &req, &res));
    ASSERT(res.compile.cached);
    ASSERT_STR_EQ(vd_verdict_name(res.verdict), "WA");
    ASSERT_STR_EQ(vd_verdict_name(res.tests[3].verdict), "SKIPPED");
    vd_judge_result_free(&res);
    fixture_done(&f);
    return TEST_OK;
}

TEST_IMPL(judge_compile_error_and_limits)
{
    struct fixture f;
    struct vd_judge_request req;
    struct vd_judge_result res;
    FIXTURE(f);
    request(&req, f.c, "int main(void) { return undefined_thing; }\n", 1);
    vd_judge_result_init(&res);
    ASSERT_OK(vd_judge_run(f.j, &req, &res));
    ASSERT_STR_EQ(vd_verdict_name(res.verdict), "CE");
    ASSERT(!res.compile.ok);
    ASSERT_STR_CONTAINS(vd_buf_str(&res.compile.output), "undefined_thing");
    vd_judge_result_free(&res);
    /* Over the language's max: refused, not clamped. */
    request(&req, f.c, ab_c, 1);
    req.limits.cpu_ms = 6000;
    vd_judge_result_init(&res);
    ASSERT_ERR(vd_judge_run(f.j, &req, &res), VD_EINVAL);
    ASSERT_STR_CONTAINS(res.message, "limits.cpu_ms");
    vd_judge_result_free(&res);
    fixture_done(&f);
    return TEST_OK;
}

TEST_IMPL(judge_plain_run_and_checker_program)
{
    struct fixture f;
    struct vd_judge_request req;
    struct vd_judge_result res;
    struct vd_errbuf eb = {""};
    FIXTURE(f);
    request(&req, f.sh, "read x; echo \"got $x\"; echo err >&2; exit 3\n", 0);
    req.stdin_data = "hello\n";
    req.stdin_len = 6;
    vd_judge_result_init(&res);
    ASSERT_OK(vd_judge_run(f.j, &req, &res));
    ASSERT_STR_EQ(vd_verdict_name(res.verdict), "RE");
    ASSERT_STR_EQ(vd_buf_str(&res.run.out), "got hello\n");
    ASSERT_STR_EQ(vd_buf_str(&res.run.err), "err\n");
    ASSERT_EQ(res.run.exit_code, 3);
    vd_judge_result_free(&res);

    /* A checker program: accepts when the output is the input doubled. */
    char checker[] = "/tmp/vd-checker-XXXXXX";
    int fd = mkstemp(checker);
    ASSERT(fd >= 0);
    const char *script =
        "#!/bin/sh\n# input answer output\n"
        "[ \"$(cat output)\" = \"$(( $(cat input) * 2 ))\" ] && exit 0\necho nope; exit 1\n";
    ASSERT_EQ(write(fd, script, strlen(script)), (ssize_t)strlen(script));
    close(fd);
    ASSERT_OK(chmod(checker, 0755));
    static const struct vd_test_case dbl[] = {{"a", "4", 1, "", 0}, {"b", "5", 1, "", 0}};
    request(&req, f.sh, "read x; [ $x = 4 ] && echo 8 || echo 11\n", 0);
    req.tests = dbl;
    req.ntests = 2;
    ASSERT_OK(vd_checker_parse(checker, &req.checker, &eb));
    vd_judge_result_init(&res);
    ASSERT_OK(vd_judge_run(f.j, &req, &res));
    ASSERT_STR_EQ(vd_verdict_name(res.tests[0].verdict), "AC");
    ASSERT_STR_EQ(vd_verdict_name(res.tests[1].verdict), "WA");
    ASSERT_STR_CONTAINS(res.tests[1].message, "nope");
    vd_judge_result_free(&res);
    unlink(checker);
    fixture_done(&f);
    return TEST_OK;
}

struct firer {
    struct vd_judge_cancel *c;
    int after_ms;
};

/* Fires after a delay, then again now and then, as a caller racing the
 * request's start is told to. */
static void *fire_later(void *arg)
{
    struct firer *f = arg;
    usleep((useconds_t)f->after_ms * 1000);
    for (int i = 0; i < 20; i++) {
        vd_judge_cancel_fire(f->c);
        usleep(50 * 1000);
    }
    return NULL;
}

TEST_IMPL(judge_cancel_kills_the_runs_and_skips_the_rest)
{
    struct fixture f;
    struct vd_judge_request req;
    struct vd_judge_result res;
    static const struct vd_test_case slow[] = {
        {"1", "", 0, "", 0}, {"2", "", 0, "", 0}, {"3", "", 0, "", 0},
        {"4", "", 0, "", 0}, {"5", "", 0, "", 0}, {"6", "", 0, "", 0},
    };
    pthread_t th;
    FIXTURE(f);

    /* Six tests that sleep 3 s each on two boxes: 9 s uncancelled. */
    request(&req, f.sh, "sleep 3\n", 0);
    req.tests = slow;
    req.ntests = 6;
    req.limits.wall_ms = 10000;
    req.cancel = vd_judge_cancel_new();
    struct firer fr = {req.cancel, 300};
    ASSERT_EQ(pthread_create(&th, NULL, fire_later, &fr), 0);
    vd_judge_result_init(&res);
    uint64_t t0 = vd_clock_us();
    ASSERT_OK(vd_judge_run(f.j, &req, &res));
    uint64_t took_ms = (vd_clock_us() - t0) / 1000;
    pthread_join(th, NULL);
    ASSERT_EQ(res.cancelled, 1);
    ASSERT_STR_EQ(res.message, "cancelled");
    for (size_t i = 0; i < res.ntests; i++)
        ASSERT_STR_EQ(vd_verdict_name(res.tests[i].verdict), "SKIPPED");
    /* Killed, not waited for: far below one test's 3 s. */
    ASSERT_LT(took_ms, 2500);
    vd_judge_result_free(&res);

    /* Fired before the start: nothing runs at all. */
    request(&req, f.sh, "echo hi\n", 0);
    req.cancel = fr.c;
    vd_judge_result_init(&res);
    ASSERT_OK(vd_judge_run(f.j, &req, &res));
    ASSERT_EQ(res.cancelled, 1);
    ASSERT_EQ(res.run.out.len, 0);
    vd_judge_result_free(&res);
    vd_judge_cancel_free(fr.c);
    fixture_done(&f);
    return TEST_OK;
}
