/*
 * test_queue.c - src/queue/queue.c and queue_store.c, the embedded queue:
 * FIFO order, timeouts, a push waking a waiting claim, concurrent claimers
 * (threads, and two store handles as two processes would have), recovery,
 * shutdown, and a job left running by a killed process.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vd/queue.h"
#include "vd/store.h"

struct tq {
    char dir[64];
    char path[128];
    struct vd_store *s;
    struct vd_queue *q;
};

static void tq_open(struct tq *t)
{
    struct vd_errbuf eb = {""};
    snprintf(t->dir, sizeof(t->dir), "/tmp/vd-queue-XXXXXX");
    if (!mkdtemp(t->dir))
        FAIL("mkdtemp: %s", strerror(errno));
    snprintf(t->path, sizeof(t->path), "%s/verdict.db", t->dir);
    if (vd_store_open(t->path, &t->s, &eb) < 0)
        FAIL("vd_store_open: %s", eb.msg);
    if (vd_queue_open(NULL, t->s, NULL, &t->q, &eb) < 0)
        FAIL("vd_queue_open: %s", eb.msg);
}

/* The handles only: the database stays. */
static void tq_shut(struct tq *t)
{
    vd_queue_close(t->q);
    vd_store_close(t->s);
    t->q = NULL;
    t->s = NULL;
}

static void tq_reopen(struct tq *t)
{
    struct vd_errbuf eb = {""};
    if (vd_store_open(t->path, &t->s, &eb) < 0 || vd_queue_open(NULL, t->s, NULL, &t->q, &eb) < 0)
        FAIL("reopen: %s", eb.msg);
}

static void tq_close(struct tq *t)
{
    char p[200];
    static const char *const suffix[] = {"", "-wal", "-shm"};
    tq_shut(t);
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

/* Stores a queued submission and pushes it, as the API server does. */
static void enqueue(struct vd_store *s, struct vd_queue *q, char *id)
{
    struct vd_submission sub;
    memset(&sub, 0, sizeof(sub));
    snprintf(sub.lang, sizeof(sub.lang), "c");
    sub.request = (char *)"{}";
    sub.status = VD_SUB_QUEUED;
    ASSERT_OK(vd_store_create(s, &sub));
    ASSERT_OK(vd_queue_push(q, sub.id));
    if (id)
        memcpy(id, sub.id, VD_ID_LEN + 1);
}

TEST_IMPL(queue_claim_is_fifo)
{
    struct tq t;
    struct vd_job job;
    struct vd_submission g;
    char ids[5][VD_ID_LEN + 1];
    uint64_t depth;
    tq_open(&t);

    for (int i = 0; i < 5; i++)
        enqueue(t.s, t.q, ids[i]);
    ASSERT_OK(vd_queue_depth(t.q, &depth));
    ASSERT_UINT_EQ(depth, 5);
    for (int i = 0; i < 5; i++) {
        ASSERT_OK(vd_queue_claim(t.q, 1000, &job));
        ASSERT_STR_EQ(job.id, ids[i]);
        ASSERT_EQ(job.attempt, 1);
        /* The claim is the store's transition to running. */
        ASSERT_OK(vd_store_get(t.s, job.id, &g));
        ASSERT_EQ(g.status, VD_SUB_RUNNING);
        ASSERT_EQ(g.attempt, 1);
        vd_submission_free(&g);
        ASSERT_OK(vd_store_finish(t.s, job.id, job.attempt, "AC", "{}"));
        ASSERT_OK(vd_queue_done(t.q, &job));
    }
    ASSERT_OK(vd_queue_depth(t.q, &depth));
    ASSERT_UINT_EQ(depth, 0);
    ASSERT_ERR(vd_queue_claim(t.q, 0, &job), VD_ETIMEDOUT);
    ASSERT_EQ(job.id[0], '\0');
    ASSERT_ERR(vd_queue_done(t.q, &job), VD_EINVAL); /* nothing claimed */
    tq_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_claim_on_empty_times_out)
{
    struct tq t;
    struct vd_job job;
    tq_open(&t);
    int64_t t0 = harness_mono_ms();
    ASSERT_ERR(vd_queue_claim(t.q, 300, &job), VD_ETIMEDOUT);
    int64_t took = harness_mono_ms() - t0;
    ASSERT_GE(took, 295);
    ASSERT_LT(took, 1500);
    /* A submission that is only created is not in the queue. */
    struct vd_submission sub;
    memset(&sub, 0, sizeof(sub));
    snprintf(sub.lang, sizeof(sub.lang), "c");
    sub.request = (char *)"{}";
    sub.status = VD_SUB_CREATED;
    ASSERT_OK(vd_store_create(t.s, &sub));
    ASSERT_ERR(vd_queue_claim(t.q, 50, &job), VD_ETIMEDOUT);
    /* Queued later (e.g. "execute" after all), it is. */
    ASSERT_OK(vd_store_set_status(t.s, sub.id, VD_SUB_QUEUED));
    ASSERT_OK(vd_queue_push(t.q, sub.id));
    ASSERT_OK(vd_queue_claim(t.q, 0, &job));
    ASSERT_STR_EQ(job.id, sub.id);
    tq_close(&t);
    return TEST_OK;
}

struct waiter {
    struct vd_queue *q;
    int timeout_ms;
    atomic_int started; /* polled by the main thread */
    int64_t returned_ms;
    int rc;
    struct vd_job job;
};

static void *claim_thread(void *arg)
{
    struct waiter *w = arg;
    atomic_store(&w->started, 1);
    w->rc = vd_queue_claim(w->q, w->timeout_ms, &w->job);
    w->returned_ms = harness_mono_ms();
    return NULL;
}

TEST_IMPL(queue_push_wakes_a_waiting_claim)
{
    struct tq t;
    struct waiter w = {0};
    pthread_t th;
    char id[VD_ID_LEN + 1];
    tq_open(&t);

    w.q = t.q;
    w.timeout_ms = 10000;
    ASSERT_EQ(pthread_create(&th, NULL, claim_thread, &w), 0);
    while (!atomic_load(&w.started))
        harness_sleep_ms(1);
    /* Between two polls of the database (every 200 ms): only the push
     * itself can wake the claim within 100 ms of it. */
    harness_sleep_ms(250);
    int64_t pushed = harness_mono_ms();
    enqueue(t.s, t.q, id);
    pthread_join(th, NULL);
    ASSERT_OK(w.rc);
    ASSERT_STR_EQ(w.job.id, id);
    if (!getenv("VD_UNDER_VALGRIND"))
        ASSERT_LT(w.returned_ms - pushed, 100);
    tq_close(&t);
    return TEST_OK;
}

#define JOBS 200
#define CLAIMERS 4

struct claimer {
    struct vd_queue *q;
    char (*got)[VD_ID_LEN + 1];
    int n;
    int err;
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    struct vd_job job;
    int rc;
    /* Until the queue stays empty for a while; any other error is kept. */
    while ((rc = vd_queue_claim(c->q, 300, &job)) == 0) {
        memcpy(c->got[c->n++], job.id, VD_ID_LEN + 1);
        if (vd_queue_done(c->q, &job) < 0)
            c->err = 1;
    }
    if (rc != VD_ETIMEDOUT)
        c->err = rc;
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

TEST_IMPL(queue_concurrent_claimers_never_share_a_job)
{
    static char ids[JOBS][VD_ID_LEN + 1], got[CLAIMERS][JOBS][VD_ID_LEN + 1];
    static char all[CLAIMERS * JOBS][VD_ID_LEN + 1];
    struct tq t;
    struct vd_store *s2 = NULL;
    struct vd_queue *q2 = NULL;
    struct vd_errbuf eb = {""};
    struct claimer c[CLAIMERS];
    pthread_t th[CLAIMERS];
    tq_open(&t);

    /* Two handles on one file, as a server and a worker process have: half
     * the claimers on each, so both threads and connections compete. */
    ASSERT_OK(vd_store_open(t.path, &s2, &eb));
    ASSERT_OK(vd_queue_open("", s2, NULL, &q2, &eb));
    for (int i = 0; i < CLAIMERS; i++) {
        c[i].q = i % 2 ? q2 : t.q;
        c[i].got = got[i];
        c[i].n = 0;
        c[i].err = 0;
        ASSERT_EQ(pthread_create(&th[i], NULL, claim_all, &c[i]), 0);
    }
    /* Jobs arrive while the claimers run. */
    for (int i = 0; i < JOBS; i++)
        enqueue(t.s, t.q, ids[i]);
    int total = 0;
    for (int i = 0; i < CLAIMERS; i++) {
        pthread_join(th[i], NULL);
        ASSERT_EQ(c[i].err, 0);
        for (int k = 0; k < c[i].n; k++)
            memcpy(all[total++], got[i][k], VD_ID_LEN + 1);
    }
    /* Each id claimed exactly once: the sorted lists are equal. */
    ASSERT_EQ(total, JOBS);
    qsort(all, (size_t)total, sizeof(all[0]), cmp_id);
    qsort(ids, JOBS, sizeof(ids[0]), cmp_id);
    for (int i = 0; i < JOBS; i++)
        ASSERT_STR_EQ(all[i], ids[i]);
    struct vd_store_counts n;
    ASSERT_OK(vd_store_counts(t.s, &n));
    ASSERT_UINT_EQ(n.running, JOBS);
    ASSERT_UINT_EQ(n.queued, 0);

    vd_queue_close(q2);
    vd_store_close(s2);
    tq_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_recover_requeues_running_jobs)
{
    struct tq t;
    struct vd_job a, b, job;
    char ids[3][VD_ID_LEN + 1];
    uint64_t n;
    tq_open(&t);

    for (int i = 0; i < 3; i++)
        enqueue(t.s, t.q, ids[i]);
    ASSERT_OK(vd_queue_claim(t.q, 0, &a));
    ASSERT_OK(vd_queue_claim(t.q, 0, &b));
    ASSERT_OK(vd_queue_depth(t.q, &n));
    ASSERT_UINT_EQ(n, 1);
    ASSERT_OK(vd_queue_recover(t.q, &n));
    ASSERT_UINT_EQ(n, 2);
    ASSERT_OK(vd_queue_depth(t.q, &n));
    ASSERT_UINT_EQ(n, 3);
    /* They were queued first, so they run first, as attempt 2; the lost
     * attempt's result no longer counts. */
    ASSERT_OK(vd_queue_claim(t.q, 0, &job));
    ASSERT_STR_EQ(job.id, ids[0]);
    ASSERT_EQ(job.attempt, 2);
    ASSERT_OK(vd_store_finish(t.s, a.id, a.attempt, "WA", "{}"));
    ASSERT_OK(vd_store_finish(t.s, job.id, job.attempt, "AC", "{}"));
    struct vd_submission g;
    ASSERT_OK(vd_store_get(t.s, job.id, &g));
    ASSERT_STR_EQ(g.verdict, "AC");
    vd_submission_free(&g);
    ASSERT_OK(vd_queue_claim(t.q, 0, &job));
    ASSERT_STR_EQ(job.id, ids[1]);
    ASSERT_OK(vd_queue_claim(t.q, 0, &job));
    ASSERT_STR_EQ(job.id, ids[2]);
    ASSERT_EQ(job.attempt, 1);
    ASSERT_OK(vd_queue_recover(t.q, &n)); /* nothing lost twice */
    ASSERT_UINT_EQ(n, 2);
    tq_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_wake_all_releases_waiters)
{
    struct tq t;
    struct waiter w[3];
    pthread_t th[3];
    struct vd_job job;
    tq_open(&t);

    memset(w, 0, sizeof(w));
    for (int i = 0; i < 3; i++) {
        w[i].q = t.q;
        w[i].timeout_ms = i == 0 ? -1 : 30000; /* -1: no limit */
        ASSERT_EQ(pthread_create(&th[i], NULL, claim_thread, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        while (!atomic_load(&w[i].started))
            harness_sleep_ms(1);
    harness_sleep_ms(50);
    int64_t woke = harness_mono_ms();
    vd_queue_wake_all(t.q);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ASSERT_ERR(w[i].rc, VD_ETIMEDOUT);
        if (!getenv("VD_UNDER_VALGRIND"))
            ASSERT_LT(w[i].returned_ms - woke, 100);
    }
    /* After shutdown no claim takes a job, even one that is there. */
    enqueue(t.s, t.q, NULL);
    ASSERT_ERR(vd_queue_claim(t.q, 1000, &job), VD_ETIMEDOUT);
    uint64_t n;
    ASSERT_OK(vd_queue_depth(t.q, &n));
    ASSERT_UINT_EQ(n, 1);
    vd_queue_wake_all(NULL);
    tq_close(&t);
    return TEST_OK;
}

TEST_IMPL(queue_open_urls)
{
    struct tq t;
    struct vd_queue *q = NULL;
    struct vd_errbuf eb = {""};
    tq_open(&t);
    /* Redis URLs go to queue_redis.c (tested in test_queue_redis.c): here
     * only that a bad one fails with a sentence, and a closed port fast. */
    ASSERT_ERR(vd_queue_open("rediss://localhost:6379", t.s, NULL, &q, &eb), VD_EINVAL);
    ASSERT_NULL(q);
    ASSERT_STR_CONTAINS(eb.msg, "TLS");
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_queue_open("redis://127.0.0.1:1", t.s, NULL, &q, &eb), -EIO);
    ASSERT_NULL(q);
    ASSERT_STR_CONTAINS(eb.msg, "127.0.0.1:1");
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_queue_open("amqp://x", t.s, NULL, &q, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "unknown scheme");
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_queue_open("", NULL, NULL, &q, &eb), VD_EINVAL);
    ASSERT_OK(vd_queue_open("", t.s, NULL, &q, &eb));
    vd_queue_close(q);
    vd_queue_close(NULL);
    tq_close(&t);
    return TEST_OK;
}

/* The child: a worker that claims a job and is killed while running it. */
static void claim_and_hang(const char *path, int fd)
{
    struct vd_store *s = NULL;
    struct vd_queue *q = NULL;
    struct vd_job job;
    if (vd_store_open(path, &s, NULL) < 0 || vd_queue_open(NULL, s, NULL, &q, NULL) < 0)
        _exit(2);
    if (vd_queue_claim(q, 5000, &job) < 0)
        _exit(3);
    if (write(fd, job.id, VD_ID_LEN) != VD_ID_LEN)
        _exit(4);
    for (;;)
        pause();
}

TEST_IMPL(queue_recovers_the_job_of_a_killed_worker)
{
    struct tq t;
    char ids[3][VD_ID_LEN + 1], got[VD_ID_LEN + 1];
    int p[2], status;
    uint64_t n;
    struct vd_job job;
    tq_open(&t);
    for (int i = 0; i < 3; i++)
        enqueue(t.s, t.q, ids[i]);
    /* No SQLite connection may cross a fork, not even unused: the child
     * would inherit the parent's lock bookkeeping. Closed here, reopened
     * after, as a restarted server would. */
    tq_shut(&t);
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        claim_and_hang(t.path, p[1]);
    }
    close(p[1]);
    ASSERT_EQ(read(p[0], got, VD_ID_LEN), VD_ID_LEN);
    got[VD_ID_LEN] = '\0';
    close(p[0]);
    ASSERT_STR_EQ(got, ids[0]);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);

    tq_reopen(&t);
    ASSERT_OK(vd_queue_depth(t.q, &n));
    ASSERT_UINT_EQ(n, 2);
    ASSERT_OK(vd_queue_recover(t.q, &n));
    ASSERT_UINT_EQ(n, 1);
    ASSERT_OK(vd_queue_claim(t.q, 0, &job));
    ASSERT_STR_EQ(job.id, ids[0]);
    ASSERT_EQ(job.attempt, 2);
    tq_close(&t);
    return TEST_OK;
}
