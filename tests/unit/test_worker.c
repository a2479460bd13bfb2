/*
 * test_worker.c - src/worker/worker.c with real boxes, a real SQLite store
 * and the embedded queue: a job runs to its verdict with its events, a
 * running job is cancelled at once and keeps no result, stopping the pool
 * puts a running job back in the queue, and a stored request that no
 * longer decodes ends as IE instead of blocking the queue.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sbtest.h"
#include "vd/alloc.h"
#include "vd/clock.h"
#include "vd/events.h"
#include "vd/judge.h"
#include "vd/lang.h"
#include "vd/queue.h"
#include "vd/store.h"
#include "vd/worker.h"

static const char sh_lang[] =
    "{\"id\":\"sh\",\"name\":\"sh\",\"source\":\"main.sh\","
    "\"run\":[\"sh\",\"main.sh\"],\"version\":{\"command\":[\"sh\",\"-c\",\"echo 1\"]},"
    "\"limits\":{\"run\":{\"cpu_ms\":2000,\"wall_ms\":10000}}}";

struct wt {
    char dir[64];
    struct vd_sandbox *sb;
    struct vd_judge *j;
    struct vd_langs *langs;
    struct vd_store *store;
    struct vd_queue *q;
    struct vd_events *ev;
    struct vd_workers *w;
};

#define WT_OPEN(t)                                                                     \
    do {                                                                               \
        struct vd_errbuf we_ = {""};                                                   \
        char p_[128];                                                                  \
        memset(&(t), 0, sizeof(t));                                                    \
        SBTEST_OPEN((t).sb, 2);                                                        \
        snprintf((t).dir, sizeof((t).dir), "/tmp/vd-worker-XXXXXX");                   \
        ASSERT_NOT_NULL(mkdtemp((t).dir));                                             \
        ASSERT_OK(chmod((t).dir, 0700));                                               \
        snprintf(p_, sizeof(p_), "%s/langs", (t).dir);                                 \
        ASSERT_OK(mkdir(p_, 0700));                                                    \
        snprintf(p_, sizeof(p_), "%s/langs/sh.json", (t).dir);                         \
        FILE *f_ = fopen(p_, "w");                                                     \
        ASSERT_NOT_NULL(f_);                                                           \
        fputs(sh_lang, f_);                                                            \
        fclose(f_);                                                                    \
        snprintf(p_, sizeof(p_), "%s/langs", (t).dir);                                 \
        ASSERT_OK(vd_langs_load(p_, &(t).langs, &we_));                                \
        vd_langs_probe((t).langs, NULL, 5000);                                         \
        snprintf(p_, sizeof(p_), "%s/cache", (t).dir);                                 \
        struct vd_judge_config jc_ = {p_, 0, 0};                                       \
        ASSERT_OK(vd_judge_new((t).sb, &jc_, &(t).j, &we_));                           \
        snprintf(p_, sizeof(p_), "sqlite:%s/v.db", (t).dir);                           \
        ASSERT_OK(vd_store_open(p_, &(t).store, &we_));                                \
        ASSERT_OK(vd_queue_open(NULL, (t).store, NULL, &(t).q, &we_));                       \
        (t).ev = vd_events_new();                                                      \
        struct vd_worker_config wc_ = {2, (t).store, (t).q, (t).j, (t).langs, (t).ev}; \
        ASSERT_OK(vd_workers_start(&wc_, &(t).w, &we_));                               \
    } while (0)

static void wt_close(struct wt *t)
{
    char cmd[128];
    vd_workers_stop(t->w);
    vd_queue_close(t->q);
    vd_events_free(t->ev);
    vd_store_close(t->store);
    vd_judge_free(t->j);
    vd_sandbox_close(t->sb);
    vd_langs_free(t->langs);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
    if (system(cmd) != 0)
        FAIL("cleanup");
}

/* Stores a queued submission with this canonical request and pushes it. */
static void submit(struct wt *t, const char *lang, const char *request, char *id)
{
    struct vd_submission s;
    memset(&s, 0, sizeof(s));
    vd_store_new_id(s.id);
    snprintf(s.lang, sizeof(s.lang), "%s", lang);
    s.request = (char *)request;
    s.status = VD_SUB_QUEUED;
    ASSERT_OK(vd_store_create(t->store, &s));
    ASSERT_OK(vd_queue_push(t->q, s.id));
    memcpy(id, s.id, VD_ID_LEN + 1);
}

/* Waits up to ms for the submission to reach a status. */
static int wait_status(struct wt *t, const char *id, enum vd_sub_status want, int ms)
{
    uint64_t until = vd_clock_us() + (uint64_t)ms * 1000;
    while (vd_clock_us() < until) {
        struct vd_submission s;
        memset(&s, 0, sizeof(s));
        int rc = vd_store_get(t->store, id, &s);
        enum vd_sub_status st = s.status;
        vd_submission_free(&s);
        if (rc == 0 && st == want)
            return 1;
        usleep(10000);
    }
    return 0;
}

TEST_IMPL(worker_runs_a_job_to_its_verdict_with_events)
{
    struct wt t;
    struct vd_submission s;
    struct vd_buf ev;
    char id[VD_ID_LEN + 1];
    int rc;
    WT_OPEN(t);

    submit(&t, "sh",
           "{\"language\":\"sh\",\"source_code\":\"read x; echo $((x*2))\","
           "\"tests\":[{\"name\":\"1\",\"input\":\"2\",\"expected_output\":\"4\"},"
           "{\"name\":\"2\",\"input\":\"3\",\"expected_output\":\"7\"}],"
           "\"checker\":\"tokens\",\"limits\":{},\"stop_on_failure\":false,\"execute\":true}",
           id);
    struct vd_events_sub *sub = vd_events_subscribe(t.ev, id);
    vd_buf_init(&ev, 1 << 20);
    uint64_t until = vd_clock_us() + 20000000;
    while ((rc = vd_events_next(sub, 1000, &ev)) >= 0 && vd_clock_us() < until)
        if (rc == 0 && wait_status(&t, id, VD_SUB_FINISHED, 1))
            break; /* finished before we subscribed: no channel to close */
    vd_events_unsubscribe(sub);

    memset(&s, 0, sizeof(s));
    ASSERT_OK(vd_store_get(t.store, id, &s));
    ASSERT_EQ(s.status, VD_SUB_FINISHED);
    ASSERT_STR_EQ(s.verdict, "WA");
    ASSERT_EQ(s.attempt, 1);
    ASSERT_STR_CONTAINS(s.result, "\"passed\":1");
    vd_submission_free(&s);
    if (ev.len) {
        ASSERT_STR_CONTAINS(vd_buf_str(&ev), "event: test\n");
        ASSERT_STR_CONTAINS(vd_buf_str(&ev), "event: result\n");
        ASSERT_STR_CONTAINS(vd_buf_str(&ev), "\"verdict\":\"WA\"");
    }
    struct vd_worker_stats st;
    vd_workers_stats(t.w, &st);
    ASSERT_UINT_EQ(st.finished, 1);
    ASSERT_UINT_EQ(st.by_verdict[VD_VERDICT_WA], 1);
    vd_buf_free(&ev);
    wt_close(&t);
    return TEST_OK;
}

TEST_IMPL(worker_cancel_kills_the_run_and_keeps_no_result)
{
    struct wt t;
    struct vd_submission s;
    struct vd_worker_stats st;
    char id[VD_ID_LEN + 1];
    WT_OPEN(t);

    submit(&t, "sh",
           "{\"language\":\"sh\",\"source_code\":\"sleep 5\",\"checker\":\"tokens\","
           "\"limits\":{},\"stop_on_failure\":false,\"execute\":true}",
           id);
    ASSERT(wait_status(&t, id, VD_SUB_RUNNING, 10000));
    usleep(200000); /* into the run itself */
    ASSERT_OK(vd_store_set_status(t.store, id, VD_SUB_CANCELLED));
    uint64_t t0 = vd_clock_us();
    ASSERT_EQ(vd_workers_cancel(t.w, id), 1);
    do {
        usleep(10000);
        vd_workers_stats(t.w, &st);
    } while (st.running > 0 && vd_clock_us() - t0 < 4000000);
    ASSERT_EQ(st.running, 0);
    ASSERT_LT((vd_clock_us() - t0) / 1000, 2000); /* killed, not waited for */
    ASSERT_UINT_EQ(st.cancelled, 1);
    memset(&s, 0, sizeof(s));
    ASSERT_OK(vd_store_get(t.store, id, &s));
    ASSERT_EQ(s.status, VD_SUB_CANCELLED);
    ASSERT_NULL(s.result);
    vd_submission_free(&s);
    ASSERT_EQ(vd_workers_cancel(t.w, id), 0); /* no longer here */

    /* Cancelled elsewhere (only in the store): the monitor notices. */
    submit(&t, "sh",
           "{\"language\":\"sh\",\"source_code\":\"sleep 5\",\"checker\":\"tokens\","
           "\"limits\":{},\"stop_on_failure\":false,\"execute\":true}",
           id);
    ASSERT(wait_status(&t, id, VD_SUB_RUNNING, 10000));
    usleep(200000);
    ASSERT_OK(vd_store_set_status(t.store, id, VD_SUB_CANCELLED));
    t0 = vd_clock_us();
    do {
        usleep(10000);
        vd_workers_stats(t.w, &st);
    } while (st.running > 0 && vd_clock_us() - t0 < 4000000);
    ASSERT_EQ(st.running, 0);
    ASSERT_LT((vd_clock_us() - t0) / 1000, 2500);
    ASSERT_UINT_EQ(st.cancelled, 2);
    wt_close(&t);
    return TEST_OK;
}

TEST_IMPL(worker_stop_puts_the_running_job_back)
{
    struct wt t;
    struct vd_submission s;
    char id[VD_ID_LEN + 1];
    WT_OPEN(t);

    submit(&t, "sh",
           "{\"language\":\"sh\",\"source_code\":\"sleep 5\",\"checker\":\"tokens\","
           "\"limits\":{},\"stop_on_failure\":false,\"execute\":true}",
           id);
    ASSERT(wait_status(&t, id, VD_SUB_RUNNING, 10000));
    usleep(200000);
    uint64_t t0 = vd_clock_us();
    vd_workers_stop(t.w);
    t.w = NULL;
    ASSERT_LT((vd_clock_us() - t0) / 1000, 3000);
    memset(&s, 0, sizeof(s));
    ASSERT_OK(vd_store_get(t.store, id, &s));
    ASSERT_EQ(s.status, VD_SUB_QUEUED);
    ASSERT_EQ(s.attempt, 1);
    ASSERT_NULL(s.result);
    vd_submission_free(&s);
    wt_close(&t);
    return TEST_OK;
}

TEST_IMPL(worker_undecodable_request_ends_as_ie)
{
    struct wt t;
    struct vd_submission s;
    char id[VD_ID_LEN + 1], id2[VD_ID_LEN + 1];
    WT_OPEN(t);

    /* A language that left the table since it was accepted. */
    submit(&t, "gone",
           "{\"language\":\"gone\",\"source_code\":\"x\",\"checker\":\"tokens\","
           "\"limits\":{},\"stop_on_failure\":false,\"execute\":true}",
           id);
    submit(&t, "sh",
           "{\"language\":\"sh\",\"source_code\":\"echo ok\",\"checker\":\"tokens\","
           "\"limits\":{},\"stop_on_failure\":false,\"execute\":true}",
           id2);
    ASSERT(wait_status(&t, id, VD_SUB_FINISHED, 10000));
    ASSERT(wait_status(&t, id2, VD_SUB_FINISHED, 10000));
    memset(&s, 0, sizeof(s));
    ASSERT_OK(vd_store_get(t.store, id, &s));
    ASSERT_STR_EQ(s.verdict, "IE");
    ASSERT_STR_CONTAINS(s.result, "no longer valid");
    vd_submission_free(&s);
    memset(&s, 0, sizeof(s));
    ASSERT_OK(vd_store_get(t.store, id2, &s));
    ASSERT_STR_EQ(s.verdict, "OK");
    ASSERT_STR_CONTAINS(s.result, "\"stdout\":\"ok\\n\"");
    vd_submission_free(&s);
    wt_close(&t);
    return TEST_OK;
}
