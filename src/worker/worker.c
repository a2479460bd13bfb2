/*
 * worker.c - the pool of worker threads (include/vd/worker.h).
 *
 * Theory of operation. Each thread loops: claim a job (the store turns it
 * running, attempt + 1), read the submission, announce "running" on the
 * event hub, turn the stored request back into a judge request, judge it
 * (the judge spreads the tests over the sandbox's boxes), store the result
 * for that attempt, tell the queue, and publish the final result. A job is
 * in the store as queued or running from the moment it was accepted until
 * its result is stored, so a crash at any point leaves it to be run again
 * (the server's start-up recovery), never lost; a result is stored once,
 * because the store ignores the result of a stale attempt.
 *
 * Cancellation has two paths. In this process, vd_workers_cancel() finds
 * the thread that holds the job and fires the judge's cancel, which kills
 * the runs at once. From anywhere (another process sharing the database,
 * or the rare fire that lands just as a box starts a run), a monitor
 * thread looks at the store's status of every job in progress four times a
 * second, and fires (again) for any that is no longer running under its
 * attempt: cancelled, deleted or re-queued. A cancelled job's result is
 * never stored; its channel is closed without a frame (the canceller
 * announced it).
 *
 * Storing a result retries with backoff for a while (a locked or briefly
 * failing database), then gives up loudly; the job then stays "running"
 * and the next start's recovery runs it again.
 *
 * Shutdown (vd_workers_stop): no more claims, every running job is
 * cancelled and put back in the queue, every thread is joined.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vd/alloc.h"
#include "vd/api.h"
#include "vd/clock.h"
#include "vd/events.h"
#include "vd/json.h"
#include "vd/judge.h"
#include "vd/lang.h"
#include "vd/log.h"
#include "vd/queue.h"
#include "vd/store.h"
#include "vd/worker.h"

#define CLAIM_WAIT_MS 1000
#define MONITOR_MS 250
#define STORE_RETRY_FIRST_MS 50
#define STORE_RETRY_MAX_MS 2000
#define STORE_RETRY_TOTAL_MS 60000
#define RESULT_MAX ((size_t)256 << 20)

const double vd_worker_bucket_le[VD_WORKER_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                       0.5,   1,    2.5,   5,    10,  30};

/* What one thread is doing; under the pool's mutex. */
struct slot {
    struct vd_workers *w;
    pthread_t th;
    int started;
    int active; /* a job is being judged */
    char id[VD_ID_LEN + 1];
    int attempt;
    struct vd_judge_cancel *cancel; /* valid while active */
    int cancelled;                  /* fired by a caller or the monitor */
    int superseded; /* the monitor saw a newer attempt of it run elsewhere */
};

struct vd_workers {
    struct vd_worker_config cfg;
    struct slot *slots;
    pthread_t monitor;
    int monitor_started;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* the monitor's sleep; stop wakes it */
    int stopping;
    struct vd_worker_stats st;
    int64_t started_ms;
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int stopping(struct vd_workers *w)
{
    pthread_mutex_lock(&w->mu);
    int s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* ---- events ---------------------------------------------------------------- */

/* Publishes the submission as the API shows it: the one given, else as
 * the store has it now. */
static void publish_view(struct vd_workers *w, const char *id, const struct vd_submission *given,
                         const char *event, int final)
{
    struct vd_submission sub;
    struct vd_buf b;

    if (!w->cfg.events)
        return;
    vd_buf_init(&b, VD_EVENTS_LOG_MAX);
    memset(&sub, 0, sizeof(sub));
    if ((!given && vd_store_peek(w->cfg.store, id, &sub) < 0) ||
        vd_api_submission_json(given ? given : &sub, VD_API_VIEW_FULL, &b) < 0) {
        vd_buf_reset(&b);
        (void)!vd_buf_printf(&b, "{\"id\":\"%s\"}", id);
    }
    if (vd_events_publish(w->cfg.events, id, event, vd_buf_str(&b), final) < 0)
        vd_log(VD_LOG_WARN, "worker", "id=%s event=%s dropped (over the event log cap)", id, event);
    vd_submission_free(&sub);
    vd_buf_free(&b);
}

struct progress {
    struct vd_workers *w;
    const char *id;
};

/* From the judge's threads, as each test ends. */
static void on_test(void *arg, size_t index, const struct vd_test_result *t)
{
    struct progress *p = arg;
    char buf[1024];
    if (!p->w->cfg.events)
        return;
    json_t *o =
        json_pack("{s:I, s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:s}", "index", (json_int_t)index,
                  "name", t->name, "verdict", vd_verdict_name(t->verdict), "cpu_ms",
                  (json_int_t)((t->cpu_us + 500) / 1000), "wall_ms",
                  (json_int_t)((t->wall_us + 500) / 1000), "memory_kb", (json_int_t)t->memory_kb,
                  "exit_code", t->exit_code, "signal", t->signal, "message", t->message);
    size_t n = o ? json_dumpb(o, buf, sizeof(buf) - 1, JSON_COMPACT) : 0;
    json_decref(o);
    if (n == 0 || n >= sizeof(buf))
        return; /* a name and message are capped: this does not happen */
    buf[n] = '\0';
    (void)!vd_events_publish(p->w->cfg.events, p->id, "test", buf, 0);
}

/* ---- one job ------------------------------------------------------------- */

/* Runs call until the store answers (0, or a refusal: VD_EINVAL,
 * VD_ENOTFOUND), retrying a failing store (a restarting database) with
 * backoff for up to STORE_RETRY_TOTAL_MS; its last answer. */
typedef int (*store_call)(struct vd_workers *w, const struct vd_job *job, void *arg);

static int retry_store(struct vd_workers *w, const struct vd_job *job, const char *what,
                       store_call call, void *arg)
{
    int rc, delay = STORE_RETRY_FIRST_MS;
    uint64_t t0 = vd_clock_us();
    for (;;) {
        rc = call(w, job, arg);
        if (rc == 0 || rc == VD_EINVAL || rc == VD_ENOTFOUND)
            return rc;
        if ((vd_clock_us() - t0) / 1000 > STORE_RETRY_TOTAL_MS || stopping(w))
            return rc;
        vd_log(VD_LOG_WARN, "worker", "id=%s %s failed (%s); retrying in %d ms", job->id, what,
               vd_strerror(rc), delay);
        pthread_mutex_lock(&w->mu);
        w->st.store_retries++;
        pthread_mutex_unlock(&w->mu);
        sleep_ms(delay);
        delay = delay * 2 > STORE_RETRY_MAX_MS ? STORE_RETRY_MAX_MS : delay * 2;
    }
}

struct result {
    const char *verdict, *json;
};

static int finish_call(struct vd_workers *w, const struct vd_job *job, void *arg)
{
    const struct result *r = arg;
    return vd_store_finish(w->cfg.store, job->id, job->attempt, r->verdict, r->json);
}

static int get_call(struct vd_workers *w, const struct vd_job *job, void *arg)
{
    return vd_store_get(w->cfg.store, job->id, arg);
}

/* Stores the result of attempt, retrying a failing store. 0 when stored
 * or when the job is no longer this attempt's to finish (cancelled,
 * deleted, re-run). */
static int store_result(struct vd_workers *w, const struct vd_job *job, const char *verdict,
                        const char *json)
{
    struct result r = {verdict, json};
    int rc = retry_store(w, job, "storing the result", finish_call, &r);
    if (rc == 0 || rc == VD_EINVAL || rc == VD_ENOTFOUND)
        return 0;
    vd_log(VD_LOG_ERROR, "worker",
           "id=%s attempt=%d result not stored (%s): it stays running and is run again later "
           "(at the next start, or by another worker after the lease)",
           job->id, job->attempt, vd_strerror(rc));
    return rc;
}

static void count(struct vd_workers *w, enum vd_verdict v, double seconds)
{
    pthread_mutex_lock(&w->mu);
    w->st.finished++;
    if ((unsigned)v < VD_WORKER_VERDICTS)
        w->st.by_verdict[v]++;
    int b = 0;
    while (b < VD_WORKER_BUCKETS && seconds > vd_worker_bucket_le[b])
        b++;
    w->st.duration_buckets[b]++;
    w->st.duration_sum_s += seconds;
    pthread_mutex_unlock(&w->mu);
}

static void run_job(struct slot *sl, const struct vd_job *job)
{
    struct vd_workers *w = sl->w;
    struct vd_submission sub;
    struct vd_api_request ar;
    struct vd_api_error aerr;
    struct vd_judge_request jr;
    struct vd_judge_result res;
    struct vd_errbuf eb = {""};
    struct vd_buf out;
    struct progress prog = {w, job->id};
    /* The stored request passed the server's caps once; these only bound
     * what the worker will hold, whatever the caps are today. */
    const struct vd_api_caps caps = {(size_t)16 << 20, (size_t)1 << 30, VD_JUDGE_MAX_TESTS};
    uint64_t t0 = vd_clock_us();
    int rc, plain = 1, cancelled, superseded;
    int released = 0; /* the queue was told otherwise than by done */

    memset(&sub, 0, sizeof(sub));
    memset(&ar, 0, sizeof(ar));
    memset(&jr, 0, sizeof(jr));
    vd_judge_result_init(&res);
    vd_buf_init(&out, RESULT_MAX);

    rc = retry_store(w, job, "reading the job", get_call, &sub);
    if (rc < 0 && rc != VD_ENOTFOUND) {
        /* The store is still failing: let go of the job without telling the
         * queue it is done, so that it is run later (another worker takes
         * it over after the lease; the embedded queue, at the next start). */
        vd_log(VD_LOG_ERROR, "worker", "id=%s attempt=%d not run: reading it failed (%s)",
               job->id, job->attempt, vd_strerror(rc));
        vd_queue_abandon(w->cfg.queue, job);
        released = 1;
        goto done;
    }
    if (rc < 0 || sub.status != VD_SUB_RUNNING || sub.attempt != job->attempt) {
        /* Deleted or cancelled between the claim and now. */
        vd_log(VD_LOG_INFO, "worker", "id=%s attempt=%d gone before it ran", job->id, job->attempt);
        goto done;
    }
    publish_view(w, job->id, &sub, "status", 0);

    pthread_mutex_lock(&w->mu);
    snprintf(sl->id, sizeof(sl->id), "%s", job->id);
    sl->attempt = job->attempt;
    sl->cancel = vd_judge_cancel_new();
    sl->cancelled = 0;
    sl->superseded = 0;
    sl->active = 1;
    if (w->stopping) {
        /* Claimed as the shutdown began: straight back to the queue. */
        sl->cancelled = 1;
        vd_judge_cancel_fire(sl->cancel);
    }
    pthread_mutex_unlock(&w->mu);

    if (vd_api_request_parse(sub.request, strlen(sub.request), w->cfg.langs, &caps, &ar, &aerr) <
        0) {
        snprintf(res.message, sizeof(res.message), "the stored request is no longer valid: %.200s",
                 aerr.message);
        res.verdict = VD_VERDICT_IE;
    } else if (vd_api_judge_request(&ar, &jr, &eb) < 0) {
        snprintf(res.message, sizeof(res.message), "%s", eb.msg);
        res.verdict = VD_VERDICT_IE;
    } else {
        plain = jr.ntests == 0;
        jr.on_test = on_test;
        jr.on_test_arg = &prog;
        jr.cancel = sl->cancel;
        if (vd_judge_run(w->cfg.judge, &jr, &res) < 0)
            res.verdict = VD_VERDICT_IE; /* res.message says why */
    }

    pthread_mutex_lock(&w->mu);
    sl->active = 0;
    cancelled = sl->cancelled || res.cancelled;
    superseded = sl->superseded;
    vd_judge_cancel_free(sl->cancel);
    sl->cancel = NULL;
    pthread_mutex_unlock(&w->mu);

    if (cancelled) {
        if (stopping(w)) {
            /* Shutdown, not the user: back to the queue for the next start. */
            if (vd_store_set_status(w->cfg.store, job->id, VD_SUB_QUEUED) == 0) {
                if ((rc = vd_queue_release(w->cfg.queue, job)) < 0)
                    vd_log(VD_LOG_WARN, "worker", "id=%s queue release: %s", job->id,
                           vd_strerror(rc));
                else
                    released = 1;
                vd_log(VD_LOG_INFO, "worker", "id=%s put back in the queue (shutdown)", job->id);
            }
        } else if (superseded) {
            /* Taken over while this process was silent (stopped, or cut off
             * from Redis past the lease): the newer attempt is the job now,
             * and its events and its queue entry are its worker's. */
            vd_log(VD_LOG_WARN, "worker", "id=%s attempt=%d superseded by a newer attempt elsewhere",
                   job->id, job->attempt);
            goto done;
        } else {
            pthread_mutex_lock(&w->mu);
            w->st.cancelled++;
            pthread_mutex_unlock(&w->mu);
            vd_log(VD_LOG_INFO, "worker", "id=%s attempt=%d cancelled", job->id, job->attempt);
        }
        if (w->cfg.events)
            vd_events_close(w->cfg.events, job->id);
        goto done;
    }
    if ((rc = vd_judge_result_json(&res, plain, &out)) < 0) {
        vd_buf_reset(&out);
        res.verdict = VD_VERDICT_IE;
        (void)!vd_buf_printf(&out,
                             "{\"verdict\":\"IE\",\"passed\":0,\"total\":0,"
                             "\"message\":\"the result could not be stored: %s\"}",
                             vd_strerror(rc));
    }
    if (store_result(w, job, vd_verdict_name(res.verdict), vd_buf_str(&out)) < 0) {
        vd_queue_abandon(w->cfg.queue, job);
        released = 1;
        goto done;
    }
    double secs = (double)(vd_clock_us() - t0) / 1e6;
    count(w, res.verdict, secs);
    vd_log(VD_LOG_INFO, "worker", "id=%s attempt=%d lang=%s verdict=%s ms=%.1f", job->id,
           job->attempt, sub.lang, vd_verdict_name(res.verdict), secs * 1e3);
    publish_view(w, job->id, NULL, "result", 1);
done:
    if (!released && (rc = vd_queue_done(w->cfg.queue, job)) < 0)
        vd_log(VD_LOG_WARN, "worker", "id=%s queue done: %s", job->id, vd_strerror(rc));
    vd_api_judge_request_free(&jr);
    vd_api_request_free(&ar);
    vd_judge_result_free(&res);
    vd_submission_free(&sub);
    vd_buf_free(&out);
}

static void *thread_main(void *arg)
{
    struct slot *sl = arg;
    struct vd_workers *w = sl->w;
    struct vd_job job;

    while (!stopping(w)) {
        int rc = vd_queue_claim(w->cfg.queue, CLAIM_WAIT_MS, &job);
        if (rc == VD_ETIMEDOUT)
            continue;
        if (rc < 0) {
            vd_log(VD_LOG_WARN, "worker", "claim failed: %s", vd_strerror(rc));
            sleep_ms(200);
            continue;
        }
        run_job(sl, &job);
    }
    return NULL;
}

/* ---- the monitor ----------------------------------------------------------- */

static void *monitor_main(void *arg)
{
    struct vd_workers *w = arg;
    int n = w->cfg.threads;
    struct {
        char id[VD_ID_LEN + 1];
        int attempt;
        int gone, newer;
    } *seen = vd_xcalloc((size_t)n, sizeof(*seen));
    struct timespec until;

    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        vd_clock_deadline(CLOCK_MONOTONIC, MONITOR_MS, &until);
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
        if (w->stopping)
            break;
        for (int i = 0; i < n; i++) {
            struct slot *sl = &w->slots[i];
            seen[i].id[0] = '\0';
            if (sl->active && sl->cancelled)
                vd_judge_cancel_fire(sl->cancel); /* again: see the top */
            else if (sl->active) {
                memcpy(seen[i].id, sl->id, sizeof(seen[i].id));
                seen[i].attempt = sl->attempt;
            }
        }
        /* The store is read without the pool's lock held. */
        pthread_mutex_unlock(&w->mu);
        for (int i = 0; i < n; i++) {
            struct vd_submission sub;
            seen[i].gone = seen[i].newer = 0;
            if (!seen[i].id[0])
                continue;
            memset(&sub, 0, sizeof(sub));
            int rc = vd_store_peek(w->cfg.store, seen[i].id, &sub);
            if (rc == VD_ENOTFOUND ||
                (rc == 0 && (sub.status != VD_SUB_RUNNING || sub.attempt != seen[i].attempt)))
                seen[i].gone = 1;
            /* A later attempt (running, or even done): another worker took
             * it over. */
            if (rc == 0 && sub.attempt > seen[i].attempt &&
                (sub.status == VD_SUB_RUNNING || sub.status == VD_SUB_FINISHED))
                seen[i].newer = 1;
            vd_submission_free(&sub);
        }
        pthread_mutex_lock(&w->mu);
        for (int i = 0; i < n; i++) {
            struct slot *sl = &w->slots[i];
            if (seen[i].gone && sl->active && strcmp(sl->id, seen[i].id) == 0 &&
                sl->attempt == seen[i].attempt) {
                sl->cancelled = 1;
                sl->superseded = seen[i].newer;
                vd_judge_cancel_fire(sl->cancel);
            }
        }
    }
    pthread_mutex_unlock(&w->mu);
    vd_free(seen);
    return NULL;
}

/* ---- the pool -------------------------------------------------------------- */

int vd_workers_start(const struct vd_worker_config *cfg, struct vd_workers **out,
                     struct vd_errbuf *eb)
{
    *out = NULL;
    if (cfg->threads < 1 || !cfg->store || !cfg->queue || !cfg->judge || !cfg->langs)
        return vd_errf(eb, VD_EINVAL, "workers: incomplete configuration");
    struct vd_workers *w = vd_xcalloc(1, sizeof(*w));
    w->cfg = *cfg;
    w->started_ms = vd_now_ms();
    w->st.threads = cfg->threads;
    pthread_mutex_init(&w->mu, NULL);
    vd_clock_cond_init(&w->cv);
    w->slots = vd_xcalloc((size_t)cfg->threads, sizeof(*w->slots));
    for (int i = 0; i < cfg->threads; i++) {
        w->slots[i].w = w;
        int e = pthread_create(&w->slots[i].th, NULL, thread_main, &w->slots[i]);
        if (e != 0) {
            vd_workers_stop(w);
            return vd_errf(eb, -e, "workers: starting a thread: %s", strerror(e));
        }
        w->slots[i].started = 1;
    }
    int e = pthread_create(&w->monitor, NULL, monitor_main, w);
    if (e != 0) {
        vd_workers_stop(w);
        return vd_errf(eb, -e, "workers: starting the monitor: %s", strerror(e));
    }
    w->monitor_started = 1;
    *out = w;
    return 0;
}

void vd_workers_stop(struct vd_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    for (int i = 0; i < w->cfg.threads; i++)
        if (w->slots[i].active) {
            w->slots[i].cancelled = 1;
            vd_judge_cancel_fire(w->slots[i].cancel);
        }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    vd_queue_wake_all(w->cfg.queue);
    if (w->monitor_started)
        pthread_join(w->monitor, NULL);
    for (int i = 0; i < w->cfg.threads; i++)
        if (w->slots[i].started) {
            /* A fire can be missed by a run that was just starting: keep
             * firing until the thread is out (see judge.h). */
            for (;;) {
                struct timespec ts;
                vd_clock_deadline(CLOCK_REALTIME, 100, &ts);
                if (pthread_timedjoin_np(w->slots[i].th, NULL, &ts) == 0)
                    break;
                pthread_mutex_lock(&w->mu);
                if (w->slots[i].active)
                    vd_judge_cancel_fire(w->slots[i].cancel);
                pthread_mutex_unlock(&w->mu);
            }
        }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    vd_free(w->slots);
    vd_free(w);
}

int vd_workers_cancel(struct vd_workers *w, const char *id)
{
    int found = 0;
    if (!w || !id)
        return 0;
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->cfg.threads; i++) {
        struct slot *sl = &w->slots[i];
        if (sl->active && strcmp(sl->id, id) == 0) {
            sl->cancelled = 1;
            vd_judge_cancel_fire(sl->cancel);
            found = 1;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return found;
}

void vd_workers_stats(struct vd_workers *w, struct vd_worker_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->running = 0;
    for (int i = 0; i < w->cfg.threads; i++)
        out->running += w->slots[i].active;
    pthread_mutex_unlock(&w->mu);
}

/* The pool as GET /api/v1/workers and the registry show it. */
json_t *vd_workers_describe(struct vd_workers *w, const char *node)
{
    struct vd_worker_stats st;
    struct vd_queue_stats qs;
    char host[64] = "";
    json_t *langs = json_array(), *verdicts = json_object();

    vd_workers_stats(w, &st);
    vd_queue_stats(w->cfg.queue, &qs);
    gethostname(host, sizeof(host) - 1);
    for (size_t i = 0; w->cfg.langs && i < vd_langs_count(w->cfg.langs); i++) {
        const struct vd_lang *l = vd_langs_at(w->cfg.langs, i);
        if (l->available)
            json_array_append_new(langs, json_string(l->id));
    }
    for (int v = 0; v < VD_WORKER_VERDICTS; v++)
        if (st.by_verdict[v])
            json_object_set_new(verdicts, vd_verdict_name((enum vd_verdict)v),
                                json_integer((json_int_t)st.by_verdict[v]));
    return json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:f, s:I, s:I, s:o, s:I, s:I, s:o, s:I}",
                     "name", node, "host", host, "pid", (json_int_t)getpid(), "started_ms",
                     (json_int_t)w->started_ms, "slots", st.threads, "running", st.running,
                     "load", st.threads ? (double)st.running / st.threads : 0.0, "finished",
                     (json_int_t)st.finished, "cancelled", (json_int_t)st.cancelled, "verdicts",
                     verdicts, "reclaimed", (json_int_t)qs.reclaimed, "queue_reconnects",
                     (json_int_t)qs.reconnects, "languages", langs, "seen_ms",
                     (json_int_t)vd_now_ms());
}
