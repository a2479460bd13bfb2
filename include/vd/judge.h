/*
 * judge.h - compile once, run every test in the sandbox, compare, give a
 * verdict. The server and `verdict run` call exactly this.
 *
 * A request names a language (from the language table), the source, and
 * either test cases (input, expected answer) or, for a plain run, stdin.
 * vd_judge_run() compiles in a box (or takes the compiled files from the
 * compile cache), runs the tests in parallel across the pool's slots, each
 * in a freshly reset box, checks each output with the request's checker,
 * and reports per test and overall: the overall verdict is that of the
 * first failing test in the order given (callers sort by name), or AC.
 *
 * Errors: vd_judge_run() returns 0 whenever it filled the result, even for
 * CE or IE (a result, not a failure of the call); a negative code means a
 * bad request (VD_EINVAL with a sentence in result->message).
 * Ownership: the request's strings stay the caller's; the result owns its
 * buffers until vd_judge_result_free().
 */
#ifndef VD_JUDGE_H
#define VD_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "vd/buf.h"
#include "vd/err.h"
#include "vd/lang.h"
#include "vd/sandbox.h"

enum vd_verdict {
    VD_VERDICT_OK = 0, /* a plain run (no tests) that ended normally */
    VD_VERDICT_AC,
    VD_VERDICT_WA,
    VD_VERDICT_TLE,
    VD_VERDICT_MLE,
    VD_VERDICT_OLE,
    VD_VERDICT_RE,
    VD_VERDICT_CE,
    VD_VERDICT_IE,
    VD_VERDICT_SKIPPED, /* not run: an earlier test failed and stop_on_failure */
};
const char *vd_verdict_name(enum vd_verdict v); /* "AC", "WA", ... */

/* ---- checkers (checker.c) ------------------------------------------------ */

enum vd_checker_kind {
    VD_CHECK_TOKENS = 0, /* whitespace-separated tokens, as Kattis's default */
    VD_CHECK_EXACT,      /* byte for byte */
    VD_CHECK_NOCASE,     /* tokens, case-insensitive */
    VD_CHECK_FLOAT,      /* tokens; numbers within abs or rel tolerance */
    VD_CHECK_PROGRAM,    /* a program in the box: ./checker input answer output */
};

#define VD_CHECKER_PATH_MAX 1024

struct vd_checker {
    enum vd_checker_kind kind;
    double abs_eps, rel_eps;           /* VD_CHECK_FLOAT */
    char program[VD_CHECKER_PATH_MAX]; /* VD_CHECK_PROGRAM: host path */
};

/* "tokens" (default for NULL or ""), "exact", "nocase", "float:EPS",
 * "float:abs=EPS,rel=EPS", or a path to an executable. */
int vd_checker_parse(const char *spec, struct vd_checker *out, struct vd_errbuf *eb) VD_MUST_CHECK;

/* Compares a program's output with the expected answer (not for
 * VD_CHECK_PROGRAM). Returns 1 when accepted, 0 when not, with a short
 * description of the first difference in msg. */
int vd_checker_compare(const struct vd_checker *c, const char *out, size_t out_len, const char *ans,
                       size_t ans_len, char *msg, size_t msg_cap);

/* ---- requests and results ------------------------------------------------ */

struct vd_test_case {
    const char *name;
    const char *input;
    size_t input_len;
    const char *answer;
    size_t answer_len;
};

struct vd_test_result {
    char name[128];
    enum vd_verdict verdict;
    uint64_t cpu_us, wall_us, memory_kb;
    int exit_code, signal;
    char message[256];
    struct vd_buf out; /* its stdout, up to the judge's report cap */
};

struct vd_judge_result;

/* Stops a request from any thread: every run of it in progress is killed
 * at once, and nothing more is run (tests left over are SKIPPED, the result
 * says cancelled). Firing twice is harmless, and a caller that may race the
 * request's start fires again until vd_judge_run() returns: a fire that
 * lands just as a box starts its run can be missed by that run. */
struct vd_judge_cancel;
struct vd_judge_cancel *vd_judge_cancel_new(void);
void vd_judge_cancel_free(struct vd_judge_cancel *c); /* NULL-safe; not while in use */
void vd_judge_cancel_fire(struct vd_judge_cancel *c);
int vd_judge_cancel_fired(struct vd_judge_cancel *c);

struct vd_judge_request {
    const struct vd_lang *lang;
    const char *source;
    size_t source_len;
    const struct vd_test_case *tests; /* NULL / 0: a plain run */
    size_t ntests;
    const char *stdin_data; /* a plain run's input */
    size_t stdin_len;
    struct vd_checker checker;
    /* 0 fields take the language's run limits; larger than its max: VD_EINVAL. */
    struct vd_lang_limits limits;
    int stop_on_failure;
    /* Called as each test finishes (from a worker thread), for live
     * progress; may be NULL. */
    void (*on_test)(void *arg, size_t index, const struct vd_test_result *t);
    void *on_test_arg;
    /* NULL: not cancellable. Stays the caller's. */
    struct vd_judge_cancel *cancel;
};

struct vd_judge_result {
    enum vd_verdict verdict;
    size_t passed, total;
    struct {
        int ok;               /* compiled (or nothing to compile) */
        int cached;           /* taken from the compile cache */
        struct vd_buf output; /* the compiler's stdout and stderr, capped */
        int truncated;
        uint64_t cpu_us, wall_us;
    } compile;
    struct vd_test_result *tests; /* ntests, in request order */
    size_t ntests;
    struct vd_run_result run; /* a plain run's output and measurements */
    char message[256];
    int cancelled;             /* the request's cancel fired: the result is partial */
    enum vd_sandbox_mode mode; /* which control mode limited and measured the runs */
};

/* The result as one JSON object: verdict, passed, total, message, compile
 * {ok, cached, output, truncated, cpu_ms, wall_ms}, tests [{name, verdict,
 * cpu_ms, wall_ms, memory_kb, exit_code, signal, message}], mode (the
 * sandbox's), and for a plain run stdout, stderr, exit_code, signal,
 * cpu_ms, wall_ms, memory_kb, output_truncated. Appended to out. */
int vd_judge_result_json(const struct vd_judge_result *r, int plain, struct vd_buf *out)
    VD_MUST_CHECK;

void vd_judge_result_init(struct vd_judge_result *r);
void vd_judge_result_free(struct vd_judge_result *r);

/* ---- the judge ----------------------------------------------------------- */

#define VD_JUDGE_COMPILE_OUTPUT_MAX (64 * 1024)
#define VD_JUDGE_REPORT_OUTPUT_MAX (64 * 1024) /* stdout kept per test */
#define VD_JUDGE_ARTIFACTS_MAX ((uint64_t)256 << 20)
#define VD_JUDGE_MAX_TESTS 10000

struct vd_judge_config {
    const char *cache_dir;    /* NULL: no compile cache */
    uint64_t cache_max_bytes; /* evict least recently used past this */
    int workers;              /* boxes used at once per request; 0: all slots */
};

struct vd_judge;

int vd_judge_new(struct vd_sandbox *sb, const struct vd_judge_config *cfg, struct vd_judge **out,
                 struct vd_errbuf *eb) VD_MUST_CHECK;
void vd_judge_free(struct vd_judge *j);

int vd_judge_run(struct vd_judge *j, const struct vd_judge_request *req,
                 struct vd_judge_result *res) VD_MUST_CHECK;

#endif /* VD_JUDGE_H */
