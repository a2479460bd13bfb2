/*
 * test_queue_redis.c - src/queue/queue_redis.c, the queue on Redis Streams,
 * against a real redis-server: the round trip, duplicates skipped, the
 * takeover of a dead consumer's job after its lease (a new attempt, only
 * that attempt's result stored, and the old consumer's late "done" leaving
 * the new one's entry alone), a live consumer's lease renewed, the sweep
 * of a queued job with no entry, cancelled and deleted jobs skipped, release
 * at shutdown, wake_all, and concurrent consumers never sharing a job.
 *
 * The server is VERDICT_TEST_REDIS_URL (make unit sets it, after
 * scripts/services.sh start); without it every test here is skipped. The
 * tests use database 4095 of that server and flush it first. The store is
 * SQLite in a temporary directory (the store's own tests cover PostgreSQL).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vd/queue.h"
#include "vd/redis.h"
#include "vd/store.h"

#define LEASE_MS 400

struct tr {
    char dir[64];
    char path[128];
    char url[300];
    struct vd_store *s;
    struct vd_redis *r; /* for looking at the stream */
};

/* 0, or TEST_SKIP when there is no Redis to test against. */
static int tr_open(struct tr *t)
{
    struct vd_errbuf eb = {""};
    memset(t, 0, sizeof(*t));
    if (!harness_redis_url(t->url, sizeof(t->url), 4095))
        return TEST_SKIP;
    if (vd_redis_open(t->url, 2, &t->r, &eb) < 0)
        FAIL("VERDICT_TEST_REDIS_URL is set but %s", eb.msg);
    ASSERT_OK(vd_redis_cmd(t->r, NULL, "FLUSHDB"));
    snprintf(t->dir, sizeof(t->dir), "/tmp/vd-qredis-XXXXXX");
    if (!mkdtemp(t->dir))
        FAIL("mkdtemp: %s", strerror(errno));
    snprintf(t->path, sizeof(t->path), "%s/verdict.db", t->dir);
    if (vd_store_open(t->path, &t->s, &eb) < 0)
        FAIL("vd_store_open: %s", eb.msg);
    return 0;
}

static void tr_close(struct tr *t)
{
    char p[200];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    vd_store_close(t->s);
    vd_redis_close(t->r);
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

#define TR_OPEN(t)                                                                   \
    do {                                                                             \
        if (tr_open(t) == TEST_SKIP)                                                 \
            RETURN_SKIP("VERDICT_TEST_REDIS_URL is not set (scripts/services.sh start " \
                        "and make unit set it)");                                    \
    } while (0)

static struct vd_queue *q_open(struct tr *t, const char *consumer)
{
    struct vd_errbuf eb = {""};
    struct vd_queue_options o = {LEASE_MS, consumer};
    struct vd_queue *q = NULL;
    if (vd_queue_open(t->url, t->s, &o, &q, &eb) < 0)
        FAIL("vd_queue_open(%s): %s", t->url, eb.msg);
    return q;
}

/* A queued submission in the store; pushed when q is not NULL. */
static void enqueue(struct tr *t, struct vd_queue *q, char *id)
{
    struct vd_submission sub;
    memset(&sub, 0, sizeof(sub));
    snprintf(sub.lang, sizeof(sub.lang), "c");
    sub.request = (char *)"{}";
    sub.status = VD_SUB_QUEUED;
    ASSERT_OK(vd_store_create(t->s, &sub));
    if (q)
        ASSERT_OK(vd_queue_push(q, sub.id));
    memcpy(id, sub.id, VD_ID_LEN + 1);
}

static long long xlen(struct tr *t)
{
    redisReply *rep = NULL;
    ASSERT_OK(vd_redis_cmd(t->r, &rep, "XLEN verdict:jobs"));
    long long n = rep->integer;
    freeReplyObject(rep);
    return n;
}

/* Entries pending for consumer. */
static long long pending(struct tr *t, const char *consumer)
{
    redisReply *rep = NULL;
    ASSERT_OK(vd_redis_cmd(t->r, &rep, "XPENDING verdict:jobs workers - + 100 %s", consumer));
    long long n = (long long)rep->elements;
    freeReplyObject(rep);
    return n;
}

static struct vd_submission peek(struct tr *t, const char *id)
{
    struct vd_submission sub;
    ASSERT_OK(vd_store_peek(t->s, id, &sub));
    vd_submission_free(&sub);
    return sub;
}

TEST_IMPL(queue_redis_round_trip)
{
    struct tr t;
    struct vd_job job;
    struct vd_queue_stats st;
    char id[VD_ID_LEN + 1];
    uint64_t depth = 9;
    TR_OPEN(&t);
    struct vd_queue *q = q_open(&t, "a");

    enqueue(&t, q, id);
    ASSERT_OK(vd_queue_depth(q, &depth));
    ASSERT_UINT_EQ(depth, 1);
    ASSERT_OK(vd_queue_claim(q, 2000, &job));
    ASSERT_STR_EQ(job.id, id);
    ASSERT_INT_EQ(job.attempt, 1);
    ASSERT_INT_EQ(job.reclaimed, 0);
    ASSERT(job.handle[0] != '\0');
    struct vd_submission sub = peek(&t, id);
    ASSERT_INT_EQ(sub.status, VD_SUB_RUNNING);
    ASSERT_INT_EQ(sub.attempt, 1);
    ASSERT_OK(vd_store_finish(t.s, id, 1, "OK", "{}"));
    ASSERT_OK(vd_queue_done(q, &job));
    ASSERT_EQ(xlen(&t), 0); /* acknowledged and deleted: only live entries stay */
    ASSERT_ERR(vd_queue_claim(q, 300, &job), VD_ETIMEDOUT);
    vd_queue_stats(q, &st);
    ASSERT_UINT_EQ(st.reclaimed, 0);
    ASSERT_UINT_EQ(st.skipped, 0);
    vd_queue_close(q);
    tr_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_redis_duplicate_entry_is_skipped)
{
    struct tr t;
    struct vd_job job;
    struct vd_queue_stats st;
    char id[VD_ID_LEN + 1];
    TR_OPEN(&t);
    struct vd_queue *q = q_open(&t, "a");

    enqueue(&t, q, id);
    ASSERT_OK(vd_queue_push(q, id)); /* a push resent after a reconnect */
    ASSERT_OK(vd_queue_claim(q, 2000, &job));
    ASSERT_STR_EQ(job.id, id);
    /* The second entry finds the job running: skipped, not run twice. */
    ASSERT_ERR(vd_queue_claim(q, 500, &job), VD_ETIMEDOUT);
    vd_queue_stats(q, &st);
    ASSERT_UINT_EQ(st.skipped, 1);
    ASSERT_EQ(xlen(&t), 1); /* only the held one */
    vd_queue_close(q);
    tr_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_redis_takeover_after_the_lease)
{
    struct tr t;
    struct vd_job job, job2;
    struct vd_queue_stats st;
    char id[VD_ID_LEN + 1];
    TR_OPEN(&t);
    struct vd_queue *a = q_open(&t, "a");

    enqueue(&t, a, id);
    ASSERT_OK(vd_queue_claim(a, 2000, &job));
    ASSERT_INT_EQ(job.attempt, 1);
    /* "a" dies: closed without done, so its renewer stops and its entry
     * stays pending. */
    vd_queue_close(a);

    struct vd_queue *b = q_open(&t, "b");
    int64_t t0 = harness_mono_ms();
    ASSERT_OK(vd_queue_claim(b, 5000, &job2));
    int64_t waited = harness_mono_ms() - t0;
    ASSERT_STR_EQ(job2.id, id);
    ASSERT_INT_EQ(job2.attempt, 2);
    ASSERT_INT_EQ(job2.reclaimed, 1);
    ASSERT_STR_EQ(job2.handle, job.handle);
    ASSERT_LT(waited, 4000);
    /* "a" comes back (it was only stopped) and lets go of its job: the
     * entry is "b"'s now, and stays pending for "b". */
    struct vd_queue *a2 = q_open(&t, "a");
    ASSERT_OK(vd_queue_done(a2, &job));
    vd_queue_close(a2);
    ASSERT_EQ(pending(&t, "b"), 1);
    /* The old attempt's late result is ignored; the new one's is stored. */
    ASSERT_OK(vd_store_finish(t.s, id, 1, "WA", "{\"old\":1}"));
    ASSERT_INT_EQ(peek(&t, id).status, VD_SUB_RUNNING);
    ASSERT_OK(vd_store_finish(t.s, id, 2, "OK", "{}"));
    struct vd_submission sub = peek(&t, id);
    ASSERT_INT_EQ(sub.status, VD_SUB_FINISHED);
    ASSERT_STR_EQ(sub.verdict, "OK");
    ASSERT_OK(vd_queue_done(b, &job2));
    vd_queue_stats(b, &st);
    ASSERT_UINT_EQ(st.reclaimed, 1);
    ASSERT_EQ(xlen(&t), 0);
    vd_queue_close(b);
    tr_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_redis_live_lease_is_renewed)
{
    struct tr t;
    struct vd_job job, other;
    char id[VD_ID_LEN + 1];
    TR_OPEN(&t);
    struct vd_queue *a = q_open(&t, "a");
    struct vd_queue *b = q_open(&t, "b");

    enqueue(&t, a, id);
    ASSERT_OK(vd_queue_claim(a, 2000, &job));
    /* Four leases long: "a" is alive and renews, so "b" gets nothing. */
    ASSERT_ERR(vd_queue_claim(b, 4 * LEASE_MS, &other), VD_ETIMEDOUT);
    ASSERT_INT_EQ(peek(&t, id).attempt, 1);
    ASSERT_OK(vd_store_finish(t.s, id, 1, "OK", "{}"));
    ASSERT_OK(vd_queue_done(a, &job));
    vd_queue_close(a);
    vd_queue_close(b);
    tr_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_redis_sweep_pushes_a_job_without_entry)
{
    struct tr t;
    struct vd_job job;
    struct vd_queue_stats st;
    char id[VD_ID_LEN + 1], fresh[VD_ID_LEN + 1];
    uint64_t n = 9;
    TR_OPEN(&t);
    struct vd_queue *q = q_open(&t, "a");

    enqueue(&t, NULL, id); /* stored, never pushed: the API died between */
    enqueue(&t, NULL, fresh);
    ASSERT_OK(vd_queue_recover(q, &n));
    ASSERT_UINT_EQ(n, 0); /* younger than a lease: its push may be on the way */
    harness_sleep_ms(LEASE_MS + 200);
    ASSERT_OK(vd_queue_recover(q, &n));
    ASSERT_UINT_EQ(n, 2);
    ASSERT_OK(vd_queue_recover(q, &n));
    ASSERT_UINT_EQ(n, 0); /* they have entries now */
    ASSERT_OK(vd_queue_claim(q, 2000, &job));
    ASSERT_STR_EQ(job.id, id);
    ASSERT_INT_EQ(job.attempt, 1);
    vd_queue_stats(q, &st);
    ASSERT_UINT_EQ(st.swept, 2);
    vd_queue_close(q);
    tr_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_redis_sweep_takes_over_a_running_job_without_entry)
{
    struct tr t;
    struct vd_job job, again;
    char id[VD_ID_LEN + 1];
    uint64_t n = 9;
    TR_OPEN(&t);
    struct vd_queue *a = q_open(&t, "a");

    enqueue(&t, a, id);
    ASSERT_OK(vd_queue_claim(a, 2000, &job));
    vd_queue_close(a);
    /* Its entry is lost (Redis restarted without it, say): running in the
     * store, held by no one. */
    ASSERT_OK(vd_redis_cmd(t.r, NULL, "XACK verdict:jobs workers %s", job.handle));
    ASSERT_OK(vd_redis_cmd(t.r, NULL, "XDEL verdict:jobs %s", job.handle));
    struct vd_queue *b = q_open(&t, "b");
    harness_sleep_ms(LEASE_MS + 200);
    ASSERT_OK(vd_queue_recover(b, &n));
    ASSERT_UINT_EQ(n, 1);
    ASSERT_OK(vd_queue_claim(b, 2000, &again));
    ASSERT_STR_EQ(again.id, id);
    ASSERT_INT_EQ(again.attempt, 2);
    ASSERT_INT_EQ(again.reclaimed, 1);
    vd_queue_close(b);
    tr_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_redis_skips_cancelled_and_deleted_jobs)
{
    struct tr t;
    struct vd_job job;
    struct vd_queue_stats st;
    char gone[VD_ID_LEN + 1], cancelled[VD_ID_LEN + 1], live[VD_ID_LEN + 1];
    TR_OPEN(&t);
    struct vd_queue *q = q_open(&t, "a");

    enqueue(&t, q, gone);
    enqueue(&t, q, cancelled);
    enqueue(&t, q, live);
    ASSERT_OK(vd_store_delete(t.s, gone));
    ASSERT_OK(vd_store_set_status(t.s, cancelled, VD_SUB_CANCELLED));
    ASSERT_OK(vd_queue_claim(q, 2000, &job));
    ASSERT_STR_EQ(job.id, live);
    vd_queue_stats(q, &st);
    ASSERT_UINT_EQ(st.skipped, 2);
    ASSERT_INT_EQ(peek(&t, cancelled).status, VD_SUB_CANCELLED);
    ASSERT_EQ(xlen(&t), 1);
    vd_queue_close(q);
    tr_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_redis_release_puts_the_job_back)
{
    struct tr t;
    struct vd_job job, again;
    char id[VD_ID_LEN + 1];
    TR_OPEN(&t);
    struct vd_queue *a = q_open(&t, "a");

    enqueue(&t, a, id);
    ASSERT_OK(vd_queue_claim(a, 2000, &job));
    /* A worker stopping with the job in hand, as worker.c does. */
    ASSERT_OK(vd_store_set_status(t.s, id, VD_SUB_QUEUED));
    ASSERT_OK(vd_queue_release(a, &job));
    ASSERT_EQ(xlen(&t), 1); /* the new entry only */
    vd_queue_close(a);
    struct vd_queue *b = q_open(&t, "b");
    ASSERT_OK(vd_queue_claim(b, 2000, &again));
    ASSERT_STR_EQ(again.id, id);
    ASSERT_INT_EQ(again.attempt, 2);
    ASSERT_INT_EQ(again.reclaimed, 0);
    vd_queue_close(b);
    tr_close(&t);
    return TEST_OK;
}

struct waiter {
    struct vd_queue *q;
    int rc;
    int64_t ms;
};

static void *wait_forever(void *arg)
{
    struct waiter *w = arg;
    struct vd_job job;
    int64_t t0 = harness_mono_ms();
    w->rc = vd_queue_claim(w->q, -1, &job);
    w->ms = harness_mono_ms() - t0;
    return NULL;
}

TEST_IMPL(queue_redis_wake_all_ends_a_blocked_claim)
{
    struct tr t;
    pthread_t th;
    TR_OPEN(&t);
    struct waiter w = {q_open(&t, "a"), 1, 0};

    ASSERT_EQ(pthread_create(&th, NULL, wait_forever, &w), 0);
    harness_sleep_ms(300);
    int64_t t0 = harness_mono_ms();
    vd_queue_wake_all(w.q);
    pthread_join(th, NULL);
    ASSERT_ERR(w.rc, VD_ETIMEDOUT);
    ASSERT_LT(harness_mono_ms() - t0, 2500); /* a blocked read lasts a second at most */
    vd_queue_close(w.q);
    tr_close(&t);
    return TEST_OK;
}

#define JOBS 120
#define CLAIMERS 4

struct claimer {
    struct vd_queue *q;
    struct vd_store *s;
    char ids[JOBS][VD_ID_LEN + 1];
    int n;
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    struct vd_job job;
    while (vd_queue_claim(c->q, 800, &job) == 0) {
        if (vd_store_finish(c->s, job.id, job.attempt, "OK", "{}") < 0 ||
            vd_queue_done(c->q, &job) < 0)
            break;
        memcpy(c->ids[c->n++], job.id, VD_ID_LEN + 1);
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

TEST_IMPL(queue_redis_consumers_never_share_a_job)
{
    static struct claimer c[CLAIMERS];
    static char all[JOBS][VD_ID_LEN + 1], got[JOBS][VD_ID_LEN + 1];
    pthread_t th[CLAIMERS];
    struct tr t;
    char name[16];
    size_t n = 0;
    TR_OPEN(&t);

    memset(c, 0, sizeof(c));
    /* One handle each, as separate processes would have. */
    for (int i = 0; i < CLAIMERS; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        c[i].q = q_open(&t, name);
        c[i].s = t.s;
    }
    for (int i = 0; i < JOBS; i++)
        enqueue(&t, c[i % CLAIMERS].q, all[i]);
    for (int i = 0; i < CLAIMERS; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, claim_all, &c[i]), 0);
    for (int i = 0; i < CLAIMERS; i++) {
        pthread_join(th[i], NULL);
        for (int k = 0; k < c[i].n; k++)
            memcpy(got[n++], c[i].ids[k], VD_ID_LEN + 1);
        vd_queue_close(c[i].q);
    }
    ASSERT_UINT_EQ(n, JOBS);
    qsort(all, JOBS, sizeof(all[0]), cmp_id);
    qsort(got, n, sizeof(got[0]), cmp_id);
    for (int i = 0; i < JOBS; i++)
        ASSERT_STR_EQ(got[i], all[i]); /* each exactly once */
    ASSERT_EQ(xlen(&t), 0);
    tr_close(&t);
    return TEST_OK;
}
