/*
 * queue_redis.c - the queue on Redis Streams, for many worker processes on
 * many hosts.
 *
 * Theory of operation. The store stays the truth about every submission;
 * the stream verdict:jobs carries one entry per job to run ("id" => the
 * submission id), and the consumer group "workers" hands each entry to one
 * consumer (a process: its host and pid). An entry read by a consumer is
 * pending until it is acknowledged, and it is acknowledged (XACK, and
 * XDEL, so the stream holds only live entries) only once the job's result
 * is in the store: a worker that dies mid-job leaves its entry pending.
 *
 * Leases. A live worker renews its pending entries every third of the
 * lease (XCLAIM of its own entries with JUSTID, which resets their idle
 * time), from a thread of its own, so a run may be much longer than the
 * lease. An entry idle for longer than the lease belongs to a worker that
 * stopped answering, and the next claim anywhere takes it over (XAUTOCLAIM)
 * and runs the job again, as a new attempt. The store's set_running is the
 * arbiter: it moves a job to attempt N+1 only from queued or running at an
 * attempt below N+1, so of two workers that take the same entry only one
 * starts the attempt, and vd_store_finish() stores only the latest
 * attempt's result: each result is stored once, whoever finishes first.
 *
 * Claim, in order: a takeover of an expired entry; else a read of a new
 * entry (XREADGROUP, blocking up to a second at a time, so a shutdown or
 * an expiring lease is seen soon). Then the job is started in the store:
 * a new entry starts only a queued job, a taken-over one also a running
 * job. An entry whose job is already running elsewhere, finished,
 * cancelled or deleted is acknowledged and skipped: duplicates (a push
 * sent twice after a reconnect, or by the sweep) cost one look at the
 * store.
 *
 * The sweep closes the gaps left: a job stored as queued whose entry was
 * never written (the API process died between the INSERT and the XADD, or
 * Redis was down, or lost its last writes), and a running job whose entry
 * is gone (Redis lost it, or a worker acknowledged it without a result).
 * Once per lease, one process (the one that wins SET verdict:sweep NX PX
 * lease) lists the jobs queued or running for longer than a lease and
 * pushes those with no entry in the stream, marked "take" so that they may
 * start a job the store says is running (a held entry stays in the stream
 * until the result is stored, so no live worker holds these). recover (at
 * start) runs it at once.
 *
 * Cancellation does not pass through the queue: the store says cancelled,
 * and the cluster's pub/sub (or the worker's monitor polling the store)
 * kills the run; its entry is acknowledged when the worker lets go.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue-int.h"
#include "vd/alloc.h"
#include "vd/clock.h"
#include "vd/log.h"
#include "vd/redis.h"

#define STREAM "verdict:jobs"
#define GROUP "workers"
#define SWEEP_LOCK "verdict:sweep"
#define BLOCK_MS 1000
#define SWEEP_MAX 1024       /* queued jobs looked at per sweep */
#define SCAN_MAX 200000      /* stream entries read per sweep, at most */
#define HELD_MAX 256         /* jobs one process holds at once */

struct held {
    char handle[48];
    char id[VD_ID_LEN + 1];
};

struct qr {
    struct vd_redis *r;
    struct vd_store *store; /* not ours */
    char consumer[128];
    int lease_ms;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* the renewer's sleep; wake_all ends it */
    struct held held[HELD_MAX];
    int nheld;
    int shutdown;
    char cursor[48]; /* where the next XAUTOCLAIM looks from */
    int64_t next_sweep_ms;
    struct vd_queue_stats st;

    pthread_t renewer;
    int renewer_started;
};

static int64_t mono_ms(void)
{
    return (int64_t)(vd_clock_us() / 1000);
}

static void bump(struct qr *q, uint64_t *counter, uint64_t by)
{
    pthread_mutex_lock(&q->mu);
    *counter += by;
    pthread_mutex_unlock(&q->mu);
}

/* ---- held entries and their renewal --------------------------------------- */

static void hold(struct qr *q, const struct vd_job *job)
{
    pthread_mutex_lock(&q->mu);
    if (q->nheld < HELD_MAX) {
        struct held *h = &q->held[q->nheld++];
        snprintf(h->handle, sizeof(h->handle), "%s", job->handle);
        snprintf(h->id, sizeof(h->id), "%s", job->id);
    }
    pthread_mutex_unlock(&q->mu);
}

static void let_go(struct qr *q, const char *handle)
{
    pthread_mutex_lock(&q->mu);
    for (int i = 0; i < q->nheld; i++)
        if (strcmp(q->held[i].handle, handle) == 0) {
            q->held[i] = q->held[--q->nheld];
            break;
        }
    pthread_mutex_unlock(&q->mu);
}

/* Every third of the lease: XCLAIM of our own entries with min-idle 0 and
 * JUSTID resets their idle time without counting a delivery. */
static void *renewer_main(void *arg)
{
    struct qr *q = arg;
    const char *argv[6 + HELD_MAX];
    char handles[HELD_MAX][48];

    pthread_mutex_lock(&q->mu);
    while (!q->shutdown) {
        struct timespec until;
        vd_clock_deadline(CLOCK_MONOTONIC, q->lease_ms / 3, &until);
        while (!q->shutdown && pthread_cond_timedwait(&q->cv, &q->mu, &until) == 0)
            ;
        int n = q->nheld;
        for (int i = 0; i < n; i++)
            memcpy(handles[i], q->held[i].handle, sizeof(handles[i]));
        pthread_mutex_unlock(&q->mu);
        if (n > 0) {
            int argc = 0;
            argv[argc++] = "XCLAIM";
            argv[argc++] = STREAM;
            argv[argc++] = GROUP;
            argv[argc++] = q->consumer;
            argv[argc++] = "0";
            for (int i = 0; i < n; i++)
                argv[argc++] = handles[i];
            argv[argc++] = "JUSTID";
            if (vd_redis_cmdv(q->r, NULL, argc, argv, NULL) < 0)
                vd_log(VD_LOG_WARN, "queue", "renewing %d leases failed; retrying in %d ms", n,
                       q->lease_ms / 3);
        }
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* ---- open, close ------------------------------------------------------------ */

static int qr_open(const char *url, struct vd_store *store, const struct vd_queue_options *opt,
                   void **impl, struct vd_errbuf *eb)
{
    struct qr *q = vd_xcalloc(1, sizeof(*q));
    redisReply *rep = NULL;
    int rc;

    q->store = store;
    q->lease_ms = opt->lease_ms < 300 ? 300 : opt->lease_ms;
    if (opt->consumer && *opt->consumer) {
        snprintf(q->consumer, sizeof(q->consumer), "%s", opt->consumer);
    } else {
        char host[64] = "";
        gethostname(host, sizeof(host) - 1);
        snprintf(q->consumer, sizeof(q->consumer), "%s-%ld", host, (long)getpid());
    }
    snprintf(q->cursor, sizeof(q->cursor), "0-0");
    if ((rc = vd_redis_open(url, 16, &q->r, eb)) < 0)
        goto fail;
    /* From "0": entries pushed before the group existed are read too. */
    rc = vd_redis_cmd(q->r, &rep, "XGROUP CREATE %s %s 0 MKSTREAM", STREAM, GROUP);
    if (rc == VD_EINVAL && rep && strncmp(rep->str, "BUSYGROUP", 9) == 0)
        rc = 0; /* made by another process, or an earlier start */
    if (rc < 0) {
        vd_errf(eb, rc, "Redis at %s: XGROUP CREATE: %s", vd_redis_where(q->r),
                rep && rep->type == REDIS_REPLY_ERROR ? rep->str : vd_strerror(rc));
        goto fail;
    }
    pthread_mutex_init(&q->mu, NULL);
    vd_clock_cond_init(&q->cv);
    int e = pthread_create(&q->renewer, NULL, renewer_main, q);
    if (e) {
        rc = vd_errf(eb, -e, "queue: starting the lease renewer: %s", strerror(e));
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        goto fail;
    }
    q->renewer_started = 1;
    if (rep)
        freeReplyObject(rep);
    *impl = q;
    return 0;
fail:
    if (rep)
        freeReplyObject(rep);
    vd_redis_close(q->r);
    vd_free(q);
    return rc;
}

static void qr_wake_all(void *impl)
{
    struct qr *q = impl;
    pthread_mutex_lock(&q->mu);
    q->shutdown = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void qr_close(void *impl)
{
    struct qr *q = impl;
    if (!q)
        return;
    qr_wake_all(q);
    if (q->renewer_started)
        pthread_join(q->renewer, NULL);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    vd_redis_close(q->r);
    vd_free(q);
}

/* ---- push, done, release ----------------------------------------------------- */

static int qr_push(void *impl, const char *id)
{
    struct qr *q = impl;
    return vd_redis_cmd(q->r, NULL, "XADD %s * id %s", STREAM, id);
}

/* An entry that may start the job even if the store says running: the
 * sweep's, for a running job whose entry is gone (its worker lost it). */
static int push_takeover(struct qr *q, const char *id)
{
    return vd_redis_cmd(q->r, NULL, "XADD %s * id %s take 1", STREAM, id);
}

/* Acknowledges and deletes an entry (the stream keeps live entries only),
 * unless another consumer holds it now: a worker that was silent past its
 * lease (stopped, cut off) and comes back must not acknowledge the entry
 * that the worker which took its job over is running. One script, so the
 * check and the acknowledgement are one step. */
static const char forget_lua[] =
    "local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)\n"
    "if p[1] and p[1][2] ~= ARGV[3] then return 0 end\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "redis.call('XDEL', KEYS[1], ARGV[2])\n"
    "return 1\n";

static int forget(struct qr *q, const char *handle)
{
    return vd_redis_cmd(q->r, NULL, "EVAL %s 1 %s %s %s %s", forget_lua, STREAM, GROUP, handle,
                        q->consumer);
}

static int qr_done(void *impl, const struct vd_job *job)
{
    struct qr *q = impl;
    let_go(q, job->handle);
    /* Should this fail, the entry stays pending, is taken over after the
     * lease and skipped then: the job is finished in the store. */
    return forget(q, job->handle);
}

/* No longer renewed: its lease runs out and another worker takes it over. */
static void qr_abandon(void *impl, const struct vd_job *job)
{
    let_go(impl, job->handle);
}

static int qr_release(void *impl, const struct vd_job *job)
{
    struct qr *q = impl;
    int rc = qr_push(q, job->id); /* a new entry first: the job is never without one */
    if (rc == 0)
        rc = qr_done(q, job);
    else
        let_go(q, job->handle); /* its old entry is taken over after the lease */
    return rc;
}

/* ---- the sweep -------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The submission ids of every entry in the stream, sorted, into *ids. */
static int stream_ids(struct qr *q, char (**ids)[VD_ID_LEN + 1], size_t *n)
{
    char from[64] = "-";
    size_t cap = 0;
    int rc = 0;

    *ids = NULL;
    *n = 0;
    while (*n < SCAN_MAX) {
        redisReply *rep = NULL;
        if ((rc = vd_redis_cmd(q->r, &rep, "XRANGE %s %s + COUNT 1000", STREAM, from)) < 0) {
            if (rep)
                freeReplyObject(rep);
            break;
        }
        size_t got = rep->type == REDIS_REPLY_ARRAY ? rep->elements : 0;
        for (size_t i = 0; i < got; i++) {
            redisReply *e = rep->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
                continue;
            snprintf(from, sizeof(from), "(%s", e->element[0]->str);
            redisReply *f = e->element[1];
            for (size_t k = 0; k + 1 < f->elements; k += 2)
                if (strcmp(f->element[k]->str, "id") == 0 && f->element[k + 1]->len == VD_ID_LEN) {
                    if (*n == cap) {
                        cap = cap ? cap * 2 : 256;
                        *ids = vd_xrealloc(*ids, cap * sizeof(**ids));
                    }
                    memcpy((*ids)[*n], f->element[k + 1]->str, VD_ID_LEN + 1);
                    (*n)++;
                }
        }
        freeReplyObject(rep);
        if (got < 1000)
            break;
    }
    if (*n)
        qsort(*ids, *n, sizeof(**ids), cmp_id);
    return rc;
}

/* Pushes again the jobs queued or running for longer than a lease that have
 * no entry: no worker can hold them (a held entry stays in the stream until
 * its job's result is stored). force skips the once-per-lease timer. */
static int sweep(struct qr *q, int force)
{
    char(*queued)[VD_ID_LEN + 1] = NULL;
    char(*inq)[VD_ID_LEN + 1] = NULL;
    size_t nq = 0, ns = 0;
    redisReply *rep = NULL;
    int64_t now = mono_ms();
    int rc;

    pthread_mutex_lock(&q->mu);
    int due = force || now >= q->next_sweep_ms;
    if (due)
        q->next_sweep_ms = now + q->lease_ms;
    pthread_mutex_unlock(&q->mu);
    if (!due)
        return 0;
    /* One sweeper per lease across every process. */
    rc = vd_redis_cmd(q->r, &rep, "SET %s %s NX PX %d", SWEEP_LOCK, q->consumer, q->lease_ms);
    int won = rc == 0 && rep && rep->type == REDIS_REPLY_STATUS;
    if (rep)
        freeReplyObject(rep);
    if (rc < 0 || (!won && !force))
        return rc;
    queued = vd_xcalloc(SWEEP_MAX, sizeof(*queued));
    if ((rc = vd_store_unfinished_ids(q->store, vd_now_ms() - q->lease_ms, SWEEP_MAX, queued, &nq)) <
            0 ||
        nq == 0)
        goto out;
    if ((rc = stream_ids(q, &inq, &ns)) < 0)
        goto out;
    uint64_t pushed = 0;
    for (size_t i = 0; i < nq; i++) {
        if (ns && bsearch(queued[i], inq, ns, sizeof(*inq), cmp_id))
            continue;
        if ((rc = push_takeover(q, queued[i])) < 0)
            goto out;
        pushed++;
    }
    if (pushed) {
        vd_log(VD_LOG_WARN, "queue", "swept: %llu unfinished jobs had no stream entry; pushed again",
               (unsigned long long)pushed);
        bump(q, &q->st.swept, pushed);
    }
out:
    vd_free(queued);
    vd_free(inq);
    return rc;
}

/* ---- claim ----------------------------------------------------------------- */

/* The entry (handle, submission id) of a one-entry XREADGROUP or XAUTOCLAIM
 * entry list; 1 when there was one. */
static int entry_of(redisReply *list, struct vd_job *out)
{
    if (!list || list->type != REDIS_REPLY_ARRAY || list->elements == 0)
        return 0;
    redisReply *e = list->element[0];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
        return 0;
    snprintf(out->handle, sizeof(out->handle), "%s", e->element[0]->str);
    out->id[0] = '\0';
    redisReply *f = e->element[1];
    if (f->type == REDIS_REPLY_ARRAY)
        for (size_t k = 0; k + 1 < f->elements; k += 2) {
            if (strcmp(f->element[k]->str, "id") == 0 && f->element[k + 1]->len == VD_ID_LEN)
                memcpy(out->id, f->element[k + 1]->str, VD_ID_LEN + 1);
            else if (strcmp(f->element[k]->str, "take") == 0)
                out->reclaimed = 1;
        }
    return 1;
}

/* XAUTOCLAIM of one entry idle past the lease: 1 with out filled, 0 none. */
static int take_over(struct qr *q, struct vd_job *out)
{
    redisReply *rep = NULL;
    char cursor[48];
    int found = 0;

    pthread_mutex_lock(&q->mu);
    memcpy(cursor, q->cursor, sizeof(cursor));
    pthread_mutex_unlock(&q->mu);
    int rc = vd_redis_cmd(q->r, &rep, "XAUTOCLAIM %s %s %s %d %s COUNT 1", STREAM, GROUP,
                          q->consumer, q->lease_ms, cursor);
    if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
        pthread_mutex_lock(&q->mu);
        snprintf(q->cursor, sizeof(q->cursor), "%s",
                 rep->element[0]->type == REDIS_REPLY_STRING ? rep->element[0]->str : "0-0");
        pthread_mutex_unlock(&q->mu);
        found = entry_of(rep->element[1], out);
    }
    if (rep)
        freeReplyObject(rep);
    return rc < 0 ? rc : found;
}

/* A new entry, waiting up to wait_ms: 1 with out filled, 0 none. */
static int read_new(struct qr *q, int wait_ms, struct vd_job *out)
{
    redisReply *rep = NULL;
    int found = 0;
    int rc = vd_redis_cmd_blocking(q->r, wait_ms, &rep,
                                   "XREADGROUP GROUP %s %s COUNT 1 BLOCK %d STREAMS %s >", GROUP,
                                   q->consumer, wait_ms, STREAM);
    /* [[stream, [entry]]] or nil when nothing came */
    if (rc == 0 && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
        rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2)
        found = entry_of(rep->element[0]->element[1], out);
    if (rep)
        freeReplyObject(rep);
    if (rc == VD_EINVAL) {
        /* NOGROUP: the stream was deleted under us (FLUSHDB); make it again. */
        (void)!vd_redis_cmd(q->r, NULL, "XGROUP CREATE %s %s 0 MKSTREAM", STREAM, GROUP);
    }
    return rc < 0 ? rc : found;
}

/* Starts the entry's job in the store: 0 started (out->attempt set), 1 to
 * skip (acknowledged here), or the store's error (the entry stays pending,
 * to be taken over after the lease). */
static int start(struct qr *q, struct vd_job *out)
{
    struct vd_submission sub;
    int rc;

    memset(&sub, 0, sizeof(sub));
    if (!out->id[0]) {
        rc = VD_ENOTFOUND; /* not one of ours: skip it */
    } else if ((rc = vd_store_peek(q->store, out->id, &sub)) == 0) {
        int startable = sub.status == VD_SUB_QUEUED ||
                        (out->reclaimed && sub.status == VD_SUB_RUNNING);
        rc = startable ? vd_store_set_running(q->store, out->id, sub.attempt + 1) : VD_EINVAL;
        if (rc == 0)
            out->attempt = sub.attempt + 1;
    }
    vd_submission_free(&sub);
    if (rc == VD_ENOTFOUND || rc == VD_EINVAL) {
        /* Deleted, cancelled, finished, or started by another worker. */
        bump(q, &q->st.skipped, 1);
        if (forget(q, out->handle) < 0)
            vd_log(VD_LOG_WARN, "queue", "entry %s: could not be acknowledged", out->handle);
        return 1;
    }
    return rc;
}

static int qr_claim(void *impl, int timeout_ms, struct vd_job *out)
{
    struct qr *q = impl;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
    int rc;

    for (;;) {
        pthread_mutex_lock(&q->mu);
        int down = q->shutdown;
        pthread_mutex_unlock(&q->mu);
        if (down)
            return VD_ETIMEDOUT;
        if ((rc = sweep(q, 0)) < 0)
            vd_log(VD_LOG_WARN, "queue", "sweep: %s", vd_strerror(rc));

        memset(out, 0, sizeof(*out));
        rc = take_over(q, out);
        if (rc > 0) {
            out->reclaimed = 1;
        } else if (rc == 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0)
                return VD_ETIMEDOUT;
            rc = read_new(q, left < BLOCK_MS ? (int)left : BLOCK_MS, out);
        }
        if (rc < 0)
            return rc; /* Redis is down: the worker logs, waits and retries */
        if (rc == 0)
            continue;
        if ((rc = start(q, out)) == 1)
            continue;
        if (rc < 0)
            return rc;
        if (out->reclaimed) {
            bump(q, &q->st.reclaimed, 1);
            vd_log(VD_LOG_WARN, "queue", "id=%s taken over from a silent worker (attempt %d)",
                   out->id, out->attempt);
        }
        hold(q, out);
        return 0;
    }
}

static int qr_depth(void *impl, uint64_t *out)
{
    struct qr *q = impl;
    return vd_store_queued(q->store, out); /* the store counts what waits */
}

static int qr_recover(void *impl, uint64_t *requeued)
{
    struct qr *q = impl;
    uint64_t before;
    pthread_mutex_lock(&q->mu);
    before = q->st.swept;
    pthread_mutex_unlock(&q->mu);
    int rc = sweep(q, 1);
    pthread_mutex_lock(&q->mu);
    *requeued = q->st.swept - before;
    pthread_mutex_unlock(&q->mu);
    return rc;
}

static void qr_stats(void *impl, struct vd_queue_stats *out)
{
    struct qr *q = impl;
    pthread_mutex_lock(&q->mu);
    *out = q->st;
    pthread_mutex_unlock(&q->mu);
    out->reconnects = vd_redis_reconnects(q->r);
}

const struct vd__queue_ops vd__queue_redis_ops = {
    .open = qr_open,
    .close = qr_close,
    .push = qr_push,
    .claim = qr_claim,
    .done = qr_done,
    .depth = qr_depth,
    .recover = qr_recover,
    .wake_all = qr_wake_all,
    .release = qr_release,
    .abandon = qr_abandon,
    .stats = qr_stats,
};
