/*
 * queue_store.c - the embedded queue: the store's database is the queue.
 *
 * Theory of operation. A submission stored with status "queued" is the
 * queue entry (vd_store_create() makes it so in the same INSERT), and a
 * claim is the store's single UPDATE that turns the oldest queued one
 * running with attempt + 1 (vd_store_claim()). So a job is always either
 * queued or running, never lost between the two, and two claimers, threads
 * or processes, never get the same job: SQLite lets one writer in at a time.
 * Order is FIFO by queued_ms, then id.
 *
 * What this file adds is waiting without spinning. Within one process a
 * push bumps a sequence number and signals a condition variable; a claim
 * that found nothing sleeps on it unless the sequence moved since it looked,
 * so a push between its look and its sleep is never missed. Another process
 * (a worker process under a separate API server) cannot signal us, so a
 * sleep lasts at most POLL_MS before the claim looks at the database again:
 * a job queued elsewhere waits at most that long. vd_queue_wake_all() sets
 * a shutdown flag and broadcasts: every waiting claim, and every later one,
 * returns VD_ETIMEDOUT at once.
 *
 * done has nothing to do (the result is in the store, and the row is no
 * longer queued), and recover is the store's "every running job back to
 * queued": on a single node whatever was running when the process started
 * belonged to a process that died. Call it once at start, before any worker
 * claims, or live jobs would be run twice (only the newer attempt's result
 * would count).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "queue-int.h"
#include "vd/alloc.h"
#include "vd/clock.h"

#define POLL_MS 200

struct qs {
    struct vd_store *store; /* not ours: closed by the caller, after us */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* on CLOCK_MONOTONIC: a clock step cannot stretch a wait */
    uint64_t seq;      /* bumped by each push and recover */
    int shutdown;      /* set by wake_all, never cleared */
};

static int64_t mono_ms(void)
{
    return (int64_t)(vd_clock_us() / 1000);
}

static int qs_open(const char *url, struct vd_store *store, const struct vd_queue_options *opt,
                   void **impl, struct vd_errbuf *eb)
{
    struct qs *q = vd_xcalloc(1, sizeof(*q));

    (void)url;
    (void)opt; /* one process: no leases */
    (void)eb;
    q->store = store;
    pthread_mutex_init(&q->mu, NULL);
    vd_clock_cond_init(&q->cv);
    *impl = q;
    return 0;
}

static void qs_close(void *impl)
{
    struct qs *q = impl;
    if (!q)
        return;
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    vd_free(q);
}

/* Wakes one sleeping claim: each push adds one job. */
static int qs_push(void *impl, const char *id)
{
    struct qs *q = impl;
    (void)id; /* the store holds it already */
    pthread_mutex_lock(&q->mu);
    q->seq++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

/* Sleeps until a push after `seen`, the shutdown, or wait_ms passed. */
static void sleep_for_push(struct qs *q, uint64_t seen, int64_t wait_ms)
{
    struct timespec until;
    vd_clock_deadline(CLOCK_MONOTONIC, wait_ms, &until);
    pthread_mutex_lock(&q->mu);
    while (!q->shutdown && q->seq == seen)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &until) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&q->mu);
}

static int qs_claim(void *impl, int timeout_ms, struct vd_job *out)
{
    struct qs *q = impl;
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
    uint64_t seen;
    int rc, down;

    for (;;) {
        pthread_mutex_lock(&q->mu);
        down = q->shutdown;
        seen = q->seq; /* read before looking, so a later push is noticed */
        pthread_mutex_unlock(&q->mu);
        if (down) {
            rc = VD_ETIMEDOUT;
            break;
        }
        /* A job claimed is running in the store: it is returned even if a
         * shutdown began meanwhile, or it would sit "running" for no one. */
        rc = vd_store_claim(q->store, out->id, &out->attempt);
        if (rc != VD_ENOTFOUND)
            break; /* a job, or a store failure the worker logs and retries */
        int64_t now = mono_ms();
        if (now >= deadline) {
            rc = VD_ETIMEDOUT;
            break;
        }
        sleep_for_push(q, seen, deadline - now < POLL_MS ? deadline - now : POLL_MS);
    }
    return rc;
}

static int qs_done(void *impl, const struct vd_job *job)
{
    (void)impl;
    (void)job; /* the result is in the store; the row left the queue at claim */
    return 0;
}

/* The store says queued again: that row is the entry. */
static int qs_release(void *impl, const struct vd_job *job)
{
    return qs_push(impl, job->id);
}

static int qs_depth(void *impl, uint64_t *out)
{
    struct qs *q = impl;
    return vd_store_queued(q->store, out);
}

static int qs_recover(void *impl, uint64_t *requeued)
{
    struct qs *q = impl;
    int rc = vd_store_requeue_running(q->store, requeued);
    if (rc == 0 && *requeued > 0) {
        pthread_mutex_lock(&q->mu);
        q->seq++;
        pthread_cond_broadcast(&q->cv); /* several jobs: wake every claim */
        pthread_mutex_unlock(&q->mu);
    }
    return rc;
}

static void qs_wake_all(void *impl)
{
    struct qs *q = impl;
    pthread_mutex_lock(&q->mu);
    q->shutdown = 1;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

const struct vd__queue_ops vd__queue_store_ops = {
    .open = qs_open,
    .close = qs_close,
    .push = qs_push,
    .claim = qs_claim,
    .done = qs_done,
    .depth = qs_depth,
    .recover = qs_recover,
    .wake_all = qs_wake_all,
    .release = qs_release,
};
