/*
 * judge.c - compile once, run every test in its own box, check, decide.
 *
 * Theory of operation, per request (vd_judge_run, in the caller's thread):
 *   1. Validate the request and settle the limits: each field the request
 *      leaves 0 takes the language's run limit; a field above the
 *      language's max is refused, not clamped.
 *   2. Compile, unless the language has no compile step: look the source up
 *      in the compile cache; on a miss, compile in a box with the
 *      language's compile limits, capturing the compiler's output (capped:
 *      a flood is a CE, as DMOJ's cpp_compiler_ole), and store what the
 *      compiler left in /box. A compiler that fails, times out or runs out
 *      of memory is CE; only the sandbox failing is IE.
 *   3. No tests: one plain run with the request's stdin; its status is the
 *      verdict (OK for a normal end).
 *   4. Tests: min(workers, tests) threads each hold a box and take the next
 *      test in turn. For each: a fresh box (reset), the compiled files (or
 *      the source) copied in, the input as a sealed memfd on stdin, the run,
 *      and the check of stdout against the answer. With stop_on_failure,
 *      tests after the first failure (in request order) are not run.
 *   5. The overall verdict is that of the first test, in request order,
 *      that is not AC; AC when there is none.
 *
 * Each test runs in a reset box: nothing one test writes can be seen by
 * the next, so a program cannot carry answers from test to test.
 *
 * Cancellation: every box the request holds is on its cancel's list while
 * held, so a fire from another thread kills whatever runs in them at once;
 * each step checks the flag before it starts a run, so nothing new starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "judge-int.h"
#include "vd/clock.h"
#include "vd/alloc.h"

#define SOURCE_MAX ((size_t)16 << 20)
#define CHECKER_CPU_MS 10000
#define CHECKER_MEMORY_KB (1024 * 1024)

struct vd_judge {
    struct vd_sandbox *sb;
    struct vd__cache *cache;
    int workers;
};

/* ---- cancellation ---------------------------------------------------------- */

/* A box held by one of the request's threads; lives on that thread's stack. */
struct held {
    struct vd_box *box;
    struct held *next;
};

struct vd_judge_cancel {
    pthread_mutex_t mu;
    int fired;
    struct held *boxes;
};

struct vd_judge_cancel *vd_judge_cancel_new(void)
{
    struct vd_judge_cancel *c = vd_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void vd_judge_cancel_free(struct vd_judge_cancel *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->mu);
    vd_free(c);
}

void vd_judge_cancel_fire(struct vd_judge_cancel *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->fired = 1;
    for (struct held *h = c->boxes; h; h = h->next)
        vd_box_cancel(h->box);
    pthread_mutex_unlock(&c->mu);
}

int vd_judge_cancel_fired(struct vd_judge_cancel *c)
{
    int f = 0;
    if (c) {
        pthread_mutex_lock(&c->mu);
        f = c->fired;
        pthread_mutex_unlock(&c->mu);
    }
    return f;
}

/* Takes a slot and puts it on the cancel's list. */
static int acquire(struct vd_judge *j, struct vd_judge_cancel *c, struct held *h,
                   struct vd_box **box, struct vd_errbuf *eb)
{
    int rc = vd_box_acquire(j->sb, 0, -1, box, eb);
    h->box = *box;
    h->next = NULL;
    if (rc < 0 || !c)
        return rc;
    pthread_mutex_lock(&c->mu);
    h->next = c->boxes;
    c->boxes = h;
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* Takes the slot off the list, then gives it back (NULL box: nothing). */
static void release(struct vd_judge_cancel *c, struct held *h)
{
    if (!h->box)
        return;
    if (c) {
        pthread_mutex_lock(&c->mu);
        for (struct held **pp = &c->boxes; *pp; pp = &(*pp)->next)
            if (*pp == h) {
                *pp = h->next;
                break;
            }
        pthread_mutex_unlock(&c->mu);
    }
    vd_box_release(h->box);
    h->box = NULL;
}

void vd_judge_result_init(struct vd_judge_result *r)
{
    memset(r, 0, sizeof(*r));
    vd_buf_init(&r->compile.output, VD_JUDGE_COMPILE_OUTPUT_MAX);
    vd_run_result_init(&r->run);
}

void vd_judge_result_free(struct vd_judge_result *r)
{
    vd_buf_free(&r->compile.output);
    for (size_t i = 0; i < r->ntests; i++)
        vd_buf_free(&r->tests[i].out);
    vd_free(r->tests);
    r->tests = NULL;
    r->ntests = 0;
    vd_run_result_free(&r->run);
}

int vd_judge_new(struct vd_sandbox *sb, const struct vd_judge_config *cfg, struct vd_judge **out,
                 struct vd_errbuf *eb)
{
    struct vd_judge *j = vd_xcalloc(1, sizeof(*j));
    int rc;
    *out = NULL;
    j->sb = sb;
    j->workers = cfg->workers > 0 ? cfg->workers : vd_sandbox_slots(sb);
    if (j->workers > vd_sandbox_slots(sb))
        j->workers = vd_sandbox_slots(sb);
    if (cfg->cache_dir &&
        (rc = vd__cache_open(cfg->cache_dir,
                             cfg->cache_max_bytes ? cfg->cache_max_bytes : (uint64_t)1 << 30,
                             &j->cache, eb)) < 0) {
        vd_free(j);
        return rc;
    }
    *out = j;
    return 0;
}

void vd_judge_free(struct vd_judge *j)
{
    if (!j)
        return;
    vd__cache_close(j->cache);
    vd_free(j);
}

/* The limits of a run: each field the request leaves 0 takes the
 * language's default; a field over the language's max is refused, not
 * clamped. */
static int settle_limits(const struct vd_judge_request *req, struct vd_lang_limits *l, char *msg,
                         size_t cap)
{
    const struct vd_lang_limits *r = &req->limits, *d = &req->lang->run_limits;
    if (vd_lang_over_max(req->lang, r, msg, cap))
        return VD_EINVAL;
    l->cpu_ms = r->cpu_ms ? r->cpu_ms : d->cpu_ms;
    l->wall_ms = r->wall_ms ? r->wall_ms : d->wall_ms;
    l->memory_kb = r->memory_kb ? r->memory_kb : d->memory_kb;
    l->procs = r->procs ? r->procs : d->procs;
    l->output_kb = r->output_kb ? r->output_kb : d->output_kb;
    /* A wall limit below the CPU limit would hide every TLE behind it. */
    if (!r->wall_ms && l->wall_ms < (uint64_t)l->cpu_ms * 2) {
        uint64_t w = (uint64_t)l->cpu_ms * 2;
        l->wall_ms =
            (uint32_t)(w > req->lang->max_limits.wall_ms ? req->lang->max_limits.wall_ms : w);
    }
    return 0;
}

/* The box environment plus the language's. One allocation: pointers into
 * the language's own strings. */
static const char **lang_env(const struct vd_lang *l)
{
    size_t n = 0, m = 0;
    while (vd_sandbox_default_env[n])
        n++;
    while (l->env[m])
        m++;
    const char **v = vd_xcalloc(n + m + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(vd_sandbox_default_env[i], '=');
        size_t klen = (size_t)(eq - vd_sandbox_default_env[i]) + 1;
        int overridden = 0;
        for (size_t j = 0; j < m && !overridden; j++)
            overridden = strncmp(l->env[j], vd_sandbox_default_env[i], klen) == 0;
        if (!overridden)
            v[k++] = vd_sandbox_default_env[i];
    }
    for (size_t j = 0; j < m; j++)
        v[k++] = l->env[j];
    return v;
}

static void spec_for(const struct vd_lang *l, const struct vd_lang_limits *lim, const char **env,
                     struct vd_run_spec *s)
{
    vd_run_spec_init(s);
    s->envp = env;
    s->limits.cpu_ms = lim->cpu_ms;
    s->limits.wall_ms = lim->wall_ms;
    s->limits.memory_kb = lim->memory_kb;
    s->limits.procs = lim->procs;
    s->limits.output_kb = lim->output_kb;
    s->limits.fsize_kb = lim->output_kb > 64 * 1024 ? lim->output_kb : 64 * 1024;
    s->limits.nofile = 256;
    s->flags = (l->allow_locks ? VD_RUN_ALLOW_LOCKS : 0) |
               (l->address_space_limit ? 0 : VD_RUN_NO_ADDRESS_LIMIT);
}

/* What a program's run means, before its output is checked. */
static enum vd_verdict from_status(enum vd_run_status s)
{
    switch (s) {
    case VD_RUN_OK:
        return VD_VERDICT_AC;
    case VD_RUN_TLE:
        return VD_VERDICT_TLE;
    case VD_RUN_MLE:
        return VD_VERDICT_MLE;
    case VD_RUN_OLE:
        return VD_VERDICT_OLE;
    case VD_RUN_RE:
        return VD_VERDICT_RE;
    default:
        return VD_VERDICT_IE;
    }
}

/* Everything the tests share. */
struct plan {
    struct vd_judge *j;
    const struct vd_judge_request *req;
    struct vd_judge_result *res;
    struct vd_lang_limits limits;
    const char **env;
    char **argv;
    char files[4096]; /* compiled files on the host; "" for interpreted */
    atomic_size_t next;
    atomic_size_t first_fail; /* index of the earliest failure seen */
};

/* Puts the program into a (reset) box: the compiled files, or the source. */
static int load_program(struct plan *p, struct vd_box *box, struct vd_errbuf *eb)
{
    if (p->files[0])
        return vd_box_copy_dir(box, p->files, eb);
    return vd_box_put_file(box, p->req->lang->source, p->req->source, p->req->source_len, 0644, eb);
}

/* Runs the checker program in the box, after the test's run: exit 0 (or 42,
 * Kattis) accepts, 1 (or 43) rejects, anything else is the checker's
 * failure, IE. */
static enum vd_verdict run_checker(struct plan *p, struct vd_box *box, const struct vd_test_case *t,
                                   struct vd_test_result *tr, struct vd_run_result *rr)
{
    struct vd_errbuf eb = {""};
    struct vd_buf prog;
    struct vd_run_spec s;
    int fd = -1;
    enum vd_verdict v = VD_VERDICT_IE;

    vd_buf_init(&prog, 64 << 20);
    if (vd_buf_read_file(&prog, p->req->checker.program) < 0 || vd_box_reset(box, &eb) < 0 ||
        vd_box_put_file(box, "checker", vd_buf_str(&prog), prog.len, 0755, &eb) < 0 ||
        vd_box_put_file(box, "input", t->input, t->input_len, 0644, &eb) < 0 ||
        vd_box_put_file(box, "answer", t->answer, t->answer_len, 0644, &eb) < 0 ||
        vd_box_put_file(box, "output", tr->out.data ? tr->out.data : "", tr->out.len, 0644, &eb) <
            0 ||
        vd_sandbox_sealed_data(tr->out.data ? tr->out.data : "", tr->out.len, &fd) < 0) {
        snprintf(tr->message, sizeof(tr->message), "checker set-up failed: %.200s",
                 eb.msg[0] ? eb.msg : "cannot read the checker program");
        goto out;
    }
    vd_run_spec_init(&s);
    s.argv = (const char *const[]){"./checker", "input", "answer", "output", NULL};
    s.stdin_fd = fd;
    s.limits.cpu_ms = CHECKER_CPU_MS;
    s.limits.wall_ms = 2 * CHECKER_CPU_MS;
    s.limits.memory_kb = CHECKER_MEMORY_KB;
    if (vd_box_run(box, &s, rr) < 0 || rr->status == VD_RUN_IE) {
        snprintf(tr->message, sizeof(tr->message), "checker: %.200s", rr->message);
        goto out;
    }
    if (rr->signal == 0 && (rr->exit_code == 0 || rr->exit_code == 42)) {
        v = VD_VERDICT_AC;
    } else if (rr->signal == 0 && (rr->exit_code == 1 || rr->exit_code == 43)) {
        v = VD_VERDICT_WA;
        snprintf(tr->message, sizeof(tr->message), "checker: %.200s", vd_buf_str(&rr->out));
    } else {
        snprintf(tr->message, sizeof(tr->message), "checker failed: %.200s", rr->message);
    }
out:
    if (fd >= 0)
        close(fd);
    vd_buf_free(&prog);
    return v;
}

static void run_test(struct plan *p, struct vd_box *box, size_t i, struct vd_run_result *rr)
{
    const struct vd_test_case *t = &p->req->tests[i];
    struct vd_test_result *tr = &p->res->tests[i];
    struct vd_errbuf eb = {""};
    struct vd_run_spec s;
    int fd = -1;

    vd_buf_init(&tr->out, VD_JUDGE_REPORT_OUTPUT_MAX);
    if (vd_box_reset(box, &eb) < 0 || load_program(p, box, &eb) < 0 ||
        vd_sandbox_sealed_data(t->input, t->input_len, &fd) < 0) {
        tr->verdict = VD_VERDICT_IE;
        snprintf(tr->message, sizeof(tr->message), "%s",
                 eb.msg[0] ? eb.msg : "preparing the box failed");
        return;
    }
    spec_for(p->req->lang, &p->limits, p->env, &s);
    s.argv = (const char *const *)p->argv;
    s.stdin_fd = fd;
    if (vd_box_run(box, &s, rr) < 0) {
        tr->verdict = VD_VERDICT_IE;
        snprintf(tr->message, sizeof(tr->message), "the run was refused");
        close(fd);
        return;
    }
    close(fd);
    if (rr->cancelled) {
        tr->verdict = VD_VERDICT_SKIPPED;
        snprintf(tr->message, sizeof(tr->message), "cancelled");
        return;
    }
    tr->cpu_us = rr->cpu_us;
    tr->wall_us = rr->wall_us;
    tr->memory_kb = rr->memory_kb;
    tr->exit_code = rr->exit_code;
    tr->signal = rr->signal;
    (void)!vd_buf_add_capped(&tr->out, rr->out.data ? rr->out.data : "", rr->out.len);
    tr->verdict = from_status(rr->status);
    if (tr->verdict != VD_VERDICT_AC) {
        snprintf(tr->message, sizeof(tr->message), "%s", rr->message);
        return;
    }
    if (p->req->checker.kind == VD_CHECK_PROGRAM) {
        tr->verdict = run_checker(p, box, t, tr, rr);
        return;
    }
    if (!vd_checker_compare(&p->req->checker, vd_buf_str(&rr->out), rr->out.len, t->answer,
                            t->answer_len, tr->message, sizeof(tr->message)))
        tr->verdict = VD_VERDICT_WA;
}

static void note_failure(struct plan *p, size_t i)
{
    size_t cur = atomic_load(&p->first_fail);
    while (i < cur && !atomic_compare_exchange_weak(&p->first_fail, &cur, i))
        ;
}

static void *worker(void *arg)
{
    struct plan *p = arg;
    struct vd_box *box = NULL;
    struct vd_errbuf eb = {""};
    struct vd_run_result rr;
    struct held h;
    const size_t n = p->req->ntests;

    vd_run_result_init(&rr);
    int rc = acquire(p->j, p->req->cancel, &h, &box, &eb);
    for (size_t i; (i = atomic_fetch_add(&p->next, 1)) < n;) {
        struct vd_test_result *tr = &p->res->tests[i];
        snprintf(tr->name, sizeof(tr->name), "%s",
                 p->req->tests[i].name ? p->req->tests[i].name : "");
        if (p->req->stop_on_failure && i > atomic_load(&p->first_fail)) {
            tr->verdict = VD_VERDICT_SKIPPED;
            continue;
        }
        if (vd_judge_cancel_fired(p->req->cancel)) {
            tr->verdict = VD_VERDICT_SKIPPED;
            snprintf(tr->message, sizeof(tr->message), "cancelled");
            continue;
        }
        if (rc < 0) {
            tr->verdict = VD_VERDICT_IE;
            snprintf(tr->message, sizeof(tr->message), "%s", eb.msg);
        } else {
            run_test(p, box, i, &rr);
        }
        if (tr->verdict != VD_VERDICT_AC && tr->verdict != VD_VERDICT_SKIPPED)
            note_failure(p, i);
        if (p->req->on_test && tr->verdict != VD_VERDICT_SKIPPED)
            p->req->on_test(p->req->on_test_arg, i, tr);
    }
    release(p->req->cancel, &h);
    vd_run_result_free(&rr);
    return NULL;
}

/* Compiles in a box and stores the result in the cache. Returns 0 when
 * compiled; otherwise the result says CE or IE. */
static int compile(struct plan *p)
{
    const struct vd_lang *l = p->req->lang;
    struct vd_judge_result *res = p->res;
    struct vd_errbuf eb = {""};
    struct vd_box *box = NULL;
    struct vd_run_result rr;
    struct vd_run_spec s;
    struct held h = {NULL, NULL};
    char key[VD__CACHE_KEY_LEN + 1], **argv = NULL;
    int rc;

    uint64_t t0 = vd_clock_us();
    vd__cache_key(l, p->req->source, p->req->source_len, key);
    if (p->j->cache &&
        vd__cache_get(p->j->cache, key, p->files, sizeof(p->files), &res->compile.output) == 0) {
        res->compile.ok = 1;
        res->compile.cached = 1;
        /* What a cached compile costs: the key and the lookup. */
        res->compile.wall_us = vd_clock_us() - t0;
        return 0;
    }
    vd_run_result_init(&rr);
    if ((rc = acquire(p->j, p->req->cancel, &h, &box, &eb)) < 0 ||
        (rc = vd_box_put_file(box, l->source, p->req->source, p->req->source_len, 0644, &eb)) < 0 ||
        (rc = vd_lang_expand(l->compile, l, p->limits.memory_kb, &argv)) < 0)
        goto ie;
    struct vd_lang_limits cl = l->compile_limits;
    spec_for(l, &cl, p->env, &s);
    s.argv = (const char *const *)argv;
    if (vd_judge_cancel_fired(p->req->cancel) || (rc = vd_box_run(box, &s, &rr)) < 0 ||
        rr.cancelled) {
        snprintf(eb.msg, sizeof(eb.msg), "cancelled");
        rc = rc < 0 ? rc : VD_ESANDBOX;
        goto ie;
    }
    res->compile.cpu_us = rr.cpu_us;
    res->compile.wall_us = rr.wall_us;
    /* stdout, then stderr: compilers put their diagnostics on either. */
    if (vd_buf_add_capped(&res->compile.output, rr.out.data ? rr.out.data : "", rr.out.len) > 0 ||
        vd_buf_add_capped(&res->compile.output, rr.err.data ? rr.err.data : "", rr.err.len) > 0 ||
        rr.output_truncated)
        res->compile.truncated = 1;
    if (rr.status == VD_RUN_IE) {
        snprintf(eb.msg, sizeof(eb.msg), "compile: %.200s", rr.message);
        rc = VD_ESANDBOX;
        goto ie;
    }
    if (rr.status != VD_RUN_OK) {
        res->verdict = VD_VERDICT_CE;
        snprintf(res->message, sizeof(res->message), "compilation failed: %.200s", rr.message);
        rc = VD_EINVAL;
        goto out;
    }
    if (p->j->cache) {
        if ((rc = vd__cache_put(p->j->cache, key, box, vd_buf_str(&res->compile.output),
                                res->compile.output.len, p->files, sizeof(p->files), &eb)) < 0)
            goto ie;
    } else {
        rc = VD_EINVAL;
        snprintf(eb.msg, sizeof(eb.msg), "a compiled language needs the compile cache");
        goto ie;
    }
    res->compile.ok = 1;
    rc = 0;
    goto out;
ie:
    res->verdict = VD_VERDICT_IE;
    snprintf(res->message, sizeof(res->message), "compile: %.200s",
             eb.msg[0] ? eb.msg : vd_strerror(rc));
    rc = rc < 0 ? rc : VD_ESANDBOX;
out:
    vd_free(argv);
    vd_run_result_free(&rr);
    release(p->req->cancel, &h);
    return rc;
}

static void plain_run(struct plan *p)
{
    struct vd_judge_result *res = p->res;
    struct vd_errbuf eb = {""};
    struct vd_box *box = NULL;
    struct vd_run_spec s;
    struct held h = {NULL, NULL};
    int fd = -1, rc;

    if ((rc = acquire(p->j, p->req->cancel, &h, &box, &eb)) < 0 ||
        (rc = load_program(p, box, &eb)) < 0 ||
        (rc = vd_sandbox_sealed_data(p->req->stdin_data ? p->req->stdin_data : "",
                                     p->req->stdin_len, &fd)) < 0) {
        res->verdict = VD_VERDICT_IE;
        snprintf(res->message, sizeof(res->message), "%s", eb.msg[0] ? eb.msg : vd_strerror(rc));
        goto out;
    }
    spec_for(p->req->lang, &p->limits, p->env, &s);
    s.argv = (const char *const *)p->argv;
    s.stdin_fd = fd;
    if (vd_judge_cancel_fired(p->req->cancel))
        goto out; /* vd_judge_run() says cancelled */
    if (vd_box_run(box, &s, &res->run) < 0) {
        res->verdict = VD_VERDICT_IE;
        snprintf(res->message, sizeof(res->message), "the run was refused");
        goto out;
    }
    res->verdict = res->run.status == VD_RUN_OK ? VD_VERDICT_OK : from_status(res->run.status);
    snprintf(res->message, sizeof(res->message), "%s", res->run.message);
out:
    if (fd >= 0)
        close(fd);
    release(p->req->cancel, &h);
}

int vd_judge_run(struct vd_judge *j, const struct vd_judge_request *req,
                 struct vd_judge_result *res)
{
    struct plan p;
    int rc = 0;

    memset(&p, 0, sizeof(p));
    res->verdict = VD_VERDICT_IE;
    if (!req->lang || !req->source || req->source_len > SOURCE_MAX ||
        req->ntests > VD_JUDGE_MAX_TESTS || (req->ntests && !req->tests)) {
        snprintf(res->message, sizeof(res->message), "bad request: %s",
                 !req->lang                     ? "no language"
                 : !req->source                 ? "no source"
                 : req->source_len > SOURCE_MAX ? "source too large"
                                                : "bad tests");
        return VD_EINVAL;
    }
    if (req->checker.kind == VD_CHECK_PROGRAM && access(req->checker.program, X_OK) < 0) {
        snprintf(res->message, sizeof(res->message), "checker program %.200s is not executable",
                 req->checker.program);
        return VD_EINVAL;
    }
    if ((rc = settle_limits(req, &p.limits, res->message, sizeof(res->message))) < 0)
        return rc;
    p.j = j;
    p.req = req;
    p.res = res;
    res->mode = vd_sandbox_get_mode(j->sb);
    p.env = lang_env(req->lang);
    atomic_init(&p.next, 0);
    atomic_init(&p.first_fail, req->ntests);
    res->total = req->ntests;
    res->compile.ok = 1;
    if ((rc = vd_lang_expand(req->lang->run, req->lang, p.limits.memory_kb, &p.argv)) < 0) {
        snprintf(res->message, sizeof(res->message), "out of memory");
        goto out;
    }
    if (req->lang->compile && compile(&p) < 0) {
        res->compile.ok = 0;
        rc = 0; /* CE and IE are results */
        goto out;
    }
    if (req->ntests == 0) {
        plain_run(&p);
        goto out;
    }

    res->tests = vd_xcalloc(req->ntests, sizeof(*res->tests));
    res->ntests = req->ntests;
    size_t nw = (size_t)j->workers < req->ntests ? (size_t)j->workers : req->ntests;
    pthread_t *th = vd_xcalloc(nw, sizeof(*th));
    size_t started = 0;
    for (size_t i = 1; i < nw; i++)
        if (pthread_create(&th[i], NULL, worker, &p) == 0)
            started = i;
        else
            break;
    worker(&p); /* this thread is a worker too */
    for (size_t i = 1; i <= started; i++)
        pthread_join(th[i], NULL);
    vd_free(th);

    res->verdict = VD_VERDICT_AC;
    for (size_t i = 0; i < req->ntests; i++) {
        const struct vd_test_result *t = &res->tests[i];
        if (t->verdict == VD_VERDICT_AC)
            res->passed++;
        else if (res->verdict == VD_VERDICT_AC && t->verdict != VD_VERDICT_SKIPPED) {
            res->verdict = t->verdict;
            snprintf(res->message, sizeof(res->message), "test %.60s: %.180s", t->name, t->message);
        }
    }
    if (res->verdict == VD_VERDICT_AC)
        snprintf(res->message, sizeof(res->message), "all %zu tests passed", req->ntests);
out:
    if (vd_judge_cancel_fired(req->cancel)) {
        res->cancelled = 1;
        res->verdict = VD_VERDICT_IE;
        snprintf(res->message, sizeof(res->message), "cancelled");
    }
    vd_free(p.argv);
    vd_free(p.env);
    return rc;
}
