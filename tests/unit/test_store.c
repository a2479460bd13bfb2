/*
 * test_store.c - src/store/store.c and store_sqlite.c: ids, the round trip,
 * listing, the lifecycle and its refusals, stale results, sweep, counts,
 * migrations, URL schemes, and durability across a SIGKILL.
 *
 * Each test works on a database in a fresh temporary directory.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vd/alloc.h"
#include "vd/store.h"
#include "../../src/store/store-int.h"

struct tdb {
    char dir[64];
    char path[128];
    char url[160];
};

static void tdb_init(struct tdb *t)
{
    snprintf(t->dir, sizeof(t->dir), "/tmp/vd-store-XXXXXX");
    if (!mkdtemp(t->dir))
        FAIL("mkdtemp: %s", strerror(errno));
    snprintf(t->path, sizeof(t->path), "%s/verdict.db", t->dir);
    snprintf(t->url, sizeof(t->url), "sqlite:%s", t->path);
}

static struct vd_store *tdb_open(struct tdb *t)
{
    struct vd_store *s = NULL;
    struct vd_errbuf eb = {""};
    if (vd_store_open(t->url, &s, &eb) < 0)
        FAIL("vd_store_open(%s): %s", t->url, eb.msg);
    return s;
}

static void tdb_cleanup(struct tdb *t)
{
    char p[200];
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

/* Stores one submission and gives back its id. */
static void add(struct vd_store *s, const char *owner, enum vd_sub_status st, char *id)
{
    struct vd_submission sub;
    memset(&sub, 0, sizeof(sub));
    snprintf(sub.owner, sizeof(sub.owner), "%s", owner);
    snprintf(sub.lang, sizeof(sub.lang), "python");
    sub.request = (char *)"{\"source_code\":\"print(1)\"}";
    sub.status = st;
    ASSERT_OK(vd_store_create(s, &sub));
    if (id)
        memcpy(id, sub.id, VD_ID_LEN + 1);
}

static int status_of(struct vd_store *s, const char *id)
{
    struct vd_submission g;
    ASSERT_OK(vd_store_get(s, id, &g));
    vd_submission_free(&g);
    return (int)g.status;
}

/* ---- ids ------------------------------------------------------------------- */

static uint64_t id_ms(const char *id)
{
    char hex[13];
    memcpy(hex, id, 8);
    memcpy(hex + 8, id + 9, 4);
    hex[12] = '\0';
    return strtoull(hex, NULL, 16);
}

#define ID_THREADS 4
#define ID_PER_THREAD 2000

static void *make_ids(void *arg)
{
    char *ids = arg;
    for (int i = 0; i < ID_PER_THREAD; i++)
        vd_store_new_id(ids + (size_t)i * (VD_ID_LEN + 1));
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

TEST_IMPL(store_ids_unique_and_time_ordered)
{
    static char ids[ID_THREADS * ID_PER_THREAD][VD_ID_LEN + 1];
    char prev[VD_ID_LEN + 1] = "", id[VD_ID_LEN + 1];
    uint64_t before = (uint64_t)vd_now_ms();

    /* Shape, version, variant; strictly increasing within one process. */
    for (int i = 0; i < 3000; i++) {
        vd_store_new_id(id);
        ASSERT_UINT_EQ(strlen(id), VD_ID_LEN);
        for (int k = 0; k < VD_ID_LEN; k++) {
            if (k == 8 || k == 13 || k == 18 || k == 23)
                ASSERT_EQ(id[k], '-');
            else
                ASSERT(strchr("0123456789abcdef", id[k]) && id[k]);
        }
        ASSERT_EQ(id[14], '7');
        ASSERT(strchr("89ab", id[19]));
        ASSERT_GT(strcmp(id, prev), 0);
        memcpy(prev, id, sizeof(id));
    }
    uint64_t after = (uint64_t)vd_now_ms();
    /* The time field is the creation time (a borrowed ms at most ahead). */
    ASSERT_GE(id_ms(prev), before);
    ASSERT_LE(id_ms(prev), after + 2);

    /* Across threads: all distinct. */
    pthread_t t[ID_THREADS];
    for (int i = 0; i < ID_THREADS; i++)
        ASSERT_EQ(pthread_create(&t[i], NULL, make_ids, ids[i * ID_PER_THREAD]), 0);
    for (int i = 0; i < ID_THREADS; i++)
        pthread_join(t[i], NULL);
    qsort(ids, ID_THREADS * ID_PER_THREAD, sizeof(ids[0]), cmp_id);
    for (int i = 1; i < ID_THREADS * ID_PER_THREAD; i++)
        ASSERT_STR_NE(ids[i - 1], ids[i]);

    /* Later ids sort after earlier ones across milliseconds too. */
    struct timespec ms = {0, 2000000};
    nanosleep(&ms, NULL);
    vd_store_new_id(id);
    ASSERT_GT(strcmp(id, prev), 0);
    ASSERT_STR_EQ(vd_sub_status_name(VD_SUB_QUEUED), "queued");
    ASSERT_STR_EQ(vd_sub_status_name(VD_SUB_CANCELLED), "cancelled");
    return TEST_OK;
}

/* ---- round trip ------------------------------------------------------------ */

TEST_IMPL(store_create_get_round_trip)
{
    struct tdb t;
    struct vd_submission sub, g;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);
    int64_t before = vd_now_ms();

    memset(&sub, 0, sizeof(sub));
    vd_store_new_id(sub.id);
    snprintf(sub.owner, sizeof(sub.owner), "alice");
    snprintf(sub.lang, sizeof(sub.lang), "c");
    sub.request = (char *)"{\"source_code\":\"int main(){}\",\"quote\":\"it's\"}";
    sub.status = VD_SUB_QUEUED;
    ASSERT_OK(vd_store_create(s, &sub));
    ASSERT_GE(sub.created_ms, before);

    ASSERT_OK(vd_store_get(s, sub.id, &g));
    ASSERT_STR_EQ(g.id, sub.id);
    ASSERT_STR_EQ(g.owner, "alice");
    ASSERT_STR_EQ(g.lang, "c");
    ASSERT_STR_EQ(g.request, sub.request);
    ASSERT_EQ(g.status, VD_SUB_QUEUED);
    ASSERT_STR_EQ(g.verdict, "");
    ASSERT_NULL(g.result);
    ASSERT_EQ(g.attempt, 0);
    ASSERT_EQ(g.created_ms, sub.created_ms);
    ASSERT_EQ(g.started_ms, 0);
    ASSERT_EQ(g.finished_ms, 0);
    vd_submission_free(&g);
    vd_submission_free(&g); /* twice is harmless */

    /* meta round-trips; a peek reads everything but the request. */
    struct vd_submission m = sub;
    memset(m.id, 0, sizeof(m.id));
    m.meta = (char *)"{\"metadata\":{\"k\":1}}";
    ASSERT_OK(vd_store_create(s, &m));
    ASSERT_OK(vd_store_peek(s, m.id, &g));
    ASSERT_NULL(g.request);
    ASSERT_STR_EQ(g.meta, m.meta);
    ASSERT_STR_EQ(g.owner, "alice");
    ASSERT_EQ(g.status, VD_SUB_QUEUED);
    vd_submission_free(&g);
    ASSERT_OK(vd_store_get(s, m.id, &g));
    ASSERT_STR_EQ(g.request, sub.request);
    ASSERT_STR_EQ(g.meta, m.meta);
    vd_submission_free(&g);
    ASSERT_OK(vd_store_get(s, sub.id, &g));
    ASSERT_NULL(g.meta); /* none given */
    vd_submission_free(&g);
    ASSERT_ERR(vd_store_peek(s, "01890000-0000-7000-8000-000000000000", &g), VD_ENOTFOUND);

    /* Same id again: refused, the first row kept. */
    ASSERT_ERR(vd_store_create(s, &sub), -EEXIST);
    /* An empty id is made by the store; anonymous owner. */
    memset(sub.id, 0, sizeof(sub.id));
    sub.owner[0] = '\0';
    sub.status = VD_SUB_CREATED;
    ASSERT_OK(vd_store_create(s, &sub));
    ASSERT_UINT_EQ(strlen(sub.id), VD_ID_LEN);
    ASSERT_EQ(status_of(s, sub.id), VD_SUB_CREATED);
    /* Only created or queued can be stored; a request is required. */
    memset(sub.id, 0, sizeof(sub.id));
    sub.status = VD_SUB_RUNNING;
    ASSERT_ERR(vd_store_create(s, &sub), VD_EINVAL);
    sub.status = VD_SUB_QUEUED;
    sub.request = NULL;
    ASSERT_ERR(vd_store_create(s, &sub), VD_EINVAL);
    snprintf(sub.id, sizeof(sub.id), "short");
    sub.request = (char *)"{}";
    ASSERT_ERR(vd_store_create(s, &sub), VD_EINVAL);
    ASSERT_OK(vd_store_ping(s));

    vd_store_close(s);
    vd_store_close(NULL);
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_unknown_id_is_not_found)
{
    struct tdb t;
    struct vd_submission g;
    uint64_t n;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);
    char id[VD_ID_LEN + 1];
    vd_store_new_id(id);
    ASSERT_ERR(vd_store_get(s, id, &g), VD_ENOTFOUND);
    ASSERT_NULL(g.request);
    ASSERT_ERR(vd_store_get(s, "", &g), VD_ENOTFOUND);
    ASSERT_ERR(vd_store_set_running(s, id, 1), VD_ENOTFOUND);
    ASSERT_ERR(vd_store_finish(s, id, 1, "AC", "{}"), VD_ENOTFOUND);
    ASSERT_ERR(vd_store_set_status(s, id, VD_SUB_CANCELLED), VD_ENOTFOUND);
    ASSERT_ERR(vd_store_delete(s, id), VD_ENOTFOUND);
    ASSERT_ERR(vd_store_claim(s, id, &(int){0}), VD_ENOTFOUND);
    ASSERT_OK(vd_store_requeue_running(s, &n));
    ASSERT_UINT_EQ(n, 0);
    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

/* ---- list ------------------------------------------------------------------ */

static void check_page(struct vd_store *s, const char *owner, size_t off, size_t lim,
                       char (*want)[VD_ID_LEN + 1], size_t nwant, uint64_t want_total)
{
    struct vd_submission *l;
    size_t n;
    uint64_t total;
    ASSERT_OK(vd_store_list(s, owner, off, lim, &l, &n, &total));
    ASSERT_UINT_EQ(total, want_total);
    ASSERT_UINT_EQ(n, nwant);
    for (size_t i = 0; i < n; i++) {
        ASSERT_STR_EQ(l[i].id, want[i]);
        ASSERT_NULL(l[i].request); /* a listing never loads the requests */
        if (owner)
            ASSERT_STR_EQ(l[i].owner, owner);
        vd_submission_free(&l[i]);
    }
    vd_free(l);
}

TEST_IMPL(store_list_newest_first_paged_per_owner)
{
    struct tdb t;
    char all[18][VD_ID_LEN + 1], alice[10][VD_ID_LEN + 1], anon[3][VD_ID_LEN + 1];
    char rev[18][VD_ID_LEN + 1];
    int na = 0, nn = 0;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);

    /* Interleaved owners (a: alice, b: bob, n: anonymous), many within one
     * millisecond. */
    static const char pattern[] = "abnaabaabnaabaaban";
    for (int i = 0; i < 18; i++) {
        const char *owner = pattern[i] == 'a' ? "alice" : pattern[i] == 'b' ? "bob" : "";
        add(s, owner, i % 2 ? VD_SUB_QUEUED : VD_SUB_CREATED, all[i]);
        if (!strcmp(owner, "alice"))
            memcpy(alice[na++], all[i], VD_ID_LEN + 1);
        else if (!*owner)
            memcpy(anon[nn++], all[i], VD_ID_LEN + 1);
    }
    ASSERT_EQ(na, 10);
    ASSERT_EQ(nn, 3);

    for (int i = 0; i < 18; i++)
        memcpy(rev[i], all[17 - i], VD_ID_LEN + 1);
    check_page(s, NULL, 0, 5, rev, 5, 18);
    check_page(s, NULL, 5, 5, rev + 5, 5, 18);
    check_page(s, NULL, 15, 10, rev + 15, 3, 18);
    check_page(s, NULL, 18, 10, rev, 0, 18);
    check_page(s, NULL, 1000, 10, rev, 0, 18);
    check_page(s, NULL, 0, 0, rev, 0, 18);
    check_page(s, NULL, 0, (size_t)-1, rev, 18, 18);

    for (int i = 0; i < 5; i++) { /* reverse alice in place */
        char tmp[VD_ID_LEN + 1];
        memcpy(tmp, alice[i], sizeof(tmp));
        memcpy(alice[i], alice[9 - i], sizeof(tmp));
        memcpy(alice[9 - i], tmp, sizeof(tmp));
    }
    check_page(s, "alice", 0, 4, alice, 4, 10);
    check_page(s, "alice", 8, 4, alice + 8, 2, 10);
    memcpy(rev[0], anon[2], VD_ID_LEN + 1);
    memcpy(rev[1], anon[1], VD_ID_LEN + 1);
    memcpy(rev[2], anon[0], VD_ID_LEN + 1);
    check_page(s, "", 0, 10, rev, 3, 3);
    check_page(s, "nobody", 0, 10, rev, 0, 0);

    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

/* ---- lifecycle ------------------------------------------------------------- */

TEST_IMPL(store_lifecycle_transitions_and_refusals)
{
    struct tdb t;
    struct vd_submission g;
    char a[VD_ID_LEN + 1], b[VD_ID_LEN + 1], c[VD_ID_LEN + 1];
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);

    /* created: may be queued or cancelled, nothing else. */
    add(s, "", VD_SUB_CREATED, a);
    ASSERT_ERR(vd_store_set_running(s, a, 1), VD_EINVAL);
    ASSERT_ERR(vd_store_finish(s, a, 1, "AC", "{}"), VD_EINVAL);
    ASSERT_ERR(vd_store_set_status(s, a, VD_SUB_RUNNING), VD_EINVAL);
    ASSERT_ERR(vd_store_set_status(s, a, VD_SUB_FINISHED), VD_EINVAL);
    ASSERT_ERR(vd_store_set_status(s, a, VD_SUB_CREATED), VD_EINVAL);
    ASSERT_OK(vd_store_set_status(s, a, VD_SUB_QUEUED));
    ASSERT_EQ(status_of(s, a), VD_SUB_QUEUED);
    ASSERT_ERR(vd_store_set_status(s, a, VD_SUB_QUEUED), VD_EINVAL);

    /* queued -> running, attempts only go up. */
    ASSERT_ERR(vd_store_set_running(s, a, 0), VD_EINVAL);
    ASSERT_OK(vd_store_set_running(s, a, 1));
    ASSERT_OK(vd_store_get(s, a, &g));
    ASSERT_EQ(g.status, VD_SUB_RUNNING);
    ASSERT_EQ(g.attempt, 1);
    ASSERT_GT(g.started_ms, 0);
    vd_submission_free(&g);
    ASSERT_ERR(vd_store_set_running(s, a, 1), VD_EINVAL);
    ASSERT_OK(vd_store_set_running(s, a, 2)); /* a re-run after a lost worker */

    /* running -> finished, with the result; then final. */
    ASSERT_ERR(vd_store_finish(s, a, 2, "WAY-TOO-LONG-VERDICT", "{}"), VD_EINVAL);
    ASSERT_ERR(vd_store_finish(s, a, 2, "AC", NULL), VD_EINVAL);
    ASSERT_ERR(vd_store_finish(s, a, 3, "AC", "{}"), VD_EINVAL); /* never started */
    ASSERT_OK(vd_store_finish(s, a, 2, "AC", "{\"verdict\":\"AC\"}"));
    ASSERT_OK(vd_store_get(s, a, &g));
    ASSERT_EQ(g.status, VD_SUB_FINISHED);
    ASSERT_STR_EQ(g.verdict, "AC");
    ASSERT_STR_EQ(g.result, "{\"verdict\":\"AC\"}");
    ASSERT_EQ(g.attempt, 2);
    ASSERT_GE(g.finished_ms, g.started_ms);
    vd_submission_free(&g);
    ASSERT_ERR(vd_store_finish(s, a, 2, "WA", "{}"), VD_EINVAL);
    ASSERT_ERR(vd_store_set_status(s, a, VD_SUB_QUEUED), VD_EINVAL);
    ASSERT_ERR(vd_store_set_status(s, a, VD_SUB_CANCELLED), VD_EINVAL);
    ASSERT_ERR(vd_store_set_running(s, a, 3), VD_EINVAL);

    /* queued -> cancelled is final, and says when. */
    add(s, "", VD_SUB_QUEUED, b);
    ASSERT_OK(vd_store_set_status(s, b, VD_SUB_CANCELLED));
    ASSERT_OK(vd_store_get(s, b, &g));
    ASSERT_EQ(g.status, VD_SUB_CANCELLED);
    ASSERT_GT(g.finished_ms, 0);
    vd_submission_free(&g);
    ASSERT_ERR(vd_store_set_status(s, b, VD_SUB_CANCELLED), VD_EINVAL);
    ASSERT_ERR(vd_store_set_status(s, b, VD_SUB_QUEUED), VD_EINVAL);
    ASSERT_ERR(vd_store_set_running(s, b, 1), VD_EINVAL);

    /* running -> queued (released) -> running; running -> cancelled, after
     * which the worker's result is refused. */
    add(s, "", VD_SUB_QUEUED, c);
    ASSERT_OK(vd_store_set_running(s, c, 1));
    ASSERT_OK(vd_store_set_status(s, c, VD_SUB_QUEUED));
    ASSERT_EQ(status_of(s, c), VD_SUB_QUEUED);
    ASSERT_OK(vd_store_set_running(s, c, 2));
    ASSERT_OK(vd_store_set_status(s, c, VD_SUB_CANCELLED));
    ASSERT_ERR(vd_store_finish(s, c, 2, "AC", "{}"), VD_EINVAL);
    ASSERT_EQ(status_of(s, c), VD_SUB_CANCELLED);

    /* Delete works in any state. */
    ASSERT_OK(vd_store_delete(s, c));
    ASSERT_ERR(vd_store_get(s, c, &g), VD_ENOTFOUND);
    ASSERT_ERR(vd_store_delete(s, c), VD_ENOTFOUND);

    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_stale_attempt_finish_is_ignored)
{
    struct tdb t;
    struct vd_submission g;
    char a[VD_ID_LEN + 1], id[VD_ID_LEN + 1];
    int attempt;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);

    /* Claimed (attempt 1), put back, claimed again (attempt 2). */
    add(s, "", VD_SUB_QUEUED, a);
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_STR_EQ(id, a);
    ASSERT_EQ(attempt, 1);
    ASSERT_OK(vd_store_set_status(s, a, VD_SUB_QUEUED));
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_EQ(attempt, 2);

    /* The first worker's late result answers 0 and changes nothing. */
    ASSERT_OK(vd_store_finish(s, a, 1, "WA", "{\"from\":1}"));
    ASSERT_OK(vd_store_get(s, a, &g));
    ASSERT_EQ(g.status, VD_SUB_RUNNING);
    ASSERT_STR_EQ(g.verdict, "");
    ASSERT_NULL(g.result);
    vd_submission_free(&g);

    ASSERT_OK(vd_store_finish(s, a, 2, "AC", "{\"from\":2}"));
    ASSERT_OK(vd_store_finish(s, a, 1, "WA", "{\"from\":1}")); /* still ignored */
    ASSERT_OK(vd_store_get(s, a, &g));
    ASSERT_EQ(g.status, VD_SUB_FINISHED);
    ASSERT_STR_EQ(g.verdict, "AC");
    ASSERT_STR_EQ(g.result, "{\"from\":2}");
    vd_submission_free(&g);

    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_rerun_clears_the_result_and_raises_the_attempt)
{
    struct tdb t;
    struct vd_submission g;
    char a[VD_ID_LEN + 1], b[VD_ID_LEN + 1], id[VD_ID_LEN + 1];
    int attempt;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);

    add(s, "", VD_SUB_QUEUED, a);
    ASSERT_ERR(vd_store_rerun(s, a), VD_EINVAL); /* queued: already on its way */
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_ERR(vd_store_rerun(s, a), VD_EINVAL); /* running */
    ASSERT_OK(vd_store_finish(s, a, 1, "WA", "{\"n\":1}"));

    ASSERT_OK(vd_store_rerun(s, a));
    ASSERT_OK(vd_store_get(s, a, &g));
    ASSERT_EQ(g.status, VD_SUB_QUEUED);
    ASSERT_STR_EQ(g.verdict, "");
    ASSERT_NULL(g.result);
    ASSERT_EQ(g.started_ms, 0);
    ASSERT_EQ(g.finished_ms, 0);
    ASSERT_EQ(g.attempt, 1);
    vd_submission_free(&g);
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_STR_EQ(id, a);
    ASSERT_EQ(attempt, 2);
    ASSERT_OK(vd_store_finish(s, a, 1, "WA", "{\"n\":1}")); /* the old run: stale */
    ASSERT_EQ(status_of(s, a), VD_SUB_RUNNING);
    ASSERT_OK(vd_store_finish(s, a, 2, "AC", "{\"n\":2}"));

    /* Created and cancelled ones may be run too; an unknown id is not found. */
    add(s, "", VD_SUB_CREATED, b);
    ASSERT_OK(vd_store_rerun(s, b));
    ASSERT_EQ(status_of(s, b), VD_SUB_QUEUED);
    ASSERT_OK(vd_store_set_status(s, b, VD_SUB_CANCELLED));
    ASSERT_OK(vd_store_rerun(s, b));
    ASSERT_EQ(status_of(s, b), VD_SUB_QUEUED);
    ASSERT_ERR(vd_store_rerun(s, "01890000-0000-7000-8000-000000000000"), VD_ENOTFOUND);

    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

/* ---- sweep, counts --------------------------------------------------------- */

TEST_IMPL(store_sweep_removes_old_finished_and_cancelled)
{
    struct tdb t;
    struct vd_submission g;
    char ids[6][VD_ID_LEN + 1];
    uint64_t n;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);

    for (int i = 0; i < 6; i++)
        add(s, "", VD_SUB_QUEUED, ids[i]);
    ASSERT_OK(vd_store_set_running(s, ids[0], 1));
    ASSERT_OK(vd_store_finish(s, ids[0], 1, "AC", "{}"));
    ASSERT_OK(vd_store_set_running(s, ids[1], 1));
    ASSERT_OK(vd_store_finish(s, ids[1], 1, "RE", "{}"));
    ASSERT_OK(vd_store_set_status(s, ids[2], VD_SUB_CANCELLED));
    ASSERT_OK(vd_store_set_running(s, ids[3], 1)); /* running: kept */
    /* ids[4], ids[5]: queued, kept. */

    int64_t cutoff = vd_now_ms() + 1;
    ASSERT_OK(vd_store_sweep(s, 0, &n)); /* nothing that old */
    ASSERT_UINT_EQ(n, 0);
    ASSERT_OK(vd_store_sweep(s, cutoff, &n));
    ASSERT_UINT_EQ(n, 3);
    for (int i = 0; i < 3; i++)
        ASSERT_ERR(vd_store_get(s, ids[i], &g), VD_ENOTFOUND);
    for (int i = 3; i < 6; i++)
        ASSERT_GE(status_of(s, ids[i]), VD_SUB_QUEUED);
    ASSERT_OK(vd_store_sweep(s, cutoff, &n));
    ASSERT_UINT_EQ(n, 0);

    /* More than one batch. */
    for (int i = 0; i < 1234; i++) {
        add(s, "", VD_SUB_CREATED, ids[0]);
        ASSERT_OK(vd_store_set_status(s, ids[0], VD_SUB_CANCELLED));
    }
    ASSERT_OK(vd_store_sweep(s, vd_now_ms() + 1, &n));
    ASSERT_UINT_EQ(n, 1234);

    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_counts_by_status)
{
    struct tdb t;
    struct vd_store_counts c;
    char id[VD_ID_LEN + 1];
    uint64_t n;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);

    ASSERT_OK(vd_store_counts(s, &c));
    ASSERT_UINT_EQ(c.created + c.queued + c.running + c.finished + c.cancelled, 0);
    for (int i = 0; i < 2; i++)
        add(s, "", VD_SUB_CREATED, NULL);
    for (int i = 0; i < 7; i++)
        add(s, "", VD_SUB_QUEUED, NULL);
    add(s, "", VD_SUB_QUEUED, id);
    ASSERT_OK(vd_store_set_status(s, id, VD_SUB_CANCELLED));
    int attempt;
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_OK(vd_store_finish(s, id, attempt, "TLE", "{}"));
    for (int i = 0; i < 3; i++)
        ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_OK(vd_store_counts(s, &c));
    ASSERT_UINT_EQ(c.created, 2);
    ASSERT_UINT_EQ(c.queued, 3);
    ASSERT_UINT_EQ(c.running, 3);
    ASSERT_UINT_EQ(c.finished, 1);
    ASSERT_UINT_EQ(c.cancelled, 1);
    ASSERT_OK(vd_store_queued(s, &n));
    ASSERT_UINT_EQ(n, 3);
    ASSERT_OK(vd_store_requeue_running(s, &n));
    ASSERT_UINT_EQ(n, 3);
    ASSERT_OK(vd_store_queued(s, &n));
    ASSERT_UINT_EQ(n, 6);

    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

/* ---- migrations, URLs ------------------------------------------------------ */

static int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    ASSERT_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        ASSERT_EQ(rc, SQLITE_DONE);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

TEST_IMPL(store_migrations_apply_once)
{
    struct tdb t;
    struct vd_errbuf eb = {""};
    struct stat sb;
    char id[VD_ID_LEN + 1];
    tdb_init(&t);

    int latest = 0;
    while (vd__store_sqlite_migrations[latest].sql)
        latest++;
    struct vd_store *s = tdb_open(&t);
    add(s, "x", VD_SUB_QUEUED, id);
    vd_store_close(s);
    ASSERT_EQ(sql_int(t.path, "SELECT COUNT(*) FROM schema_migrations"), latest);
    ASSERT_EQ(sql_int(t.path, "SELECT MAX(version) FROM schema_migrations"), latest);

    /* Reopening applies nothing again and keeps the data. */
    s = tdb_open(&t);
    ASSERT_EQ(status_of(s, id), VD_SUB_QUEUED);
    vd_store_close(s);
    ASSERT_EQ(sql_int(t.path, "SELECT COUNT(*) FROM schema_migrations"), latest);
    ASSERT_EQ(sql_int(t.path, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND "
                              "name LIKE 'submissions_%'"),
              6);

    /* Only the owner reads the file: it will hold keys and sessions. */
    ASSERT_EQ(stat(t.path, &sb), 0);
    ASSERT_EQ(sb.st_mode & 077, 0);

    /* A schema from a newer verdict is refused, not misread. */
    sqlite3 *db;
    ASSERT_EQ(sqlite3_open(t.path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (999, 0)", NULL, NULL, NULL),
              SQLITE_OK);
    sqlite3_close(db);
    ASSERT_ERR(vd_store_open(t.url, &s, &eb), VD_EINVAL);
    ASSERT_NULL(s);
    ASSERT_STR_CONTAINS(eb.msg, "newer");
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_wal_mode_and_migration_file_in_step)
{
    struct tdb t;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);
    vd_store_close(s);
    sqlite3 *db;
    sqlite3_stmt *st;
    ASSERT_EQ(sqlite3_open(t.path, &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    ASSERT_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    tdb_cleanup(&t);

    /* The embedded text of each migration is its file, byte for byte. */
    for (int i = 0; vd__store_sqlite_migrations[i].sql; i++) {
        const struct vd__store_migration *m = &vd__store_sqlite_migrations[i];
        char path[256], buf[65536];
        ASSERT_EQ(m->version, i + 1);
        snprintf(path, sizeof(path), "src/store/migrations/%s", m->file);
        FILE *f = fopen(path, "r");
        if (!f)
            FAIL("%s: %s (run from the top of the repository)", path, strerror(errno));
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        ASSERT_UINT_EQ(n, strlen(m->sql));
        ASSERT_STR_EQ(buf, m->sql);
    }
    return TEST_OK;
}

TEST_IMPL(store_url_schemes)
{
    struct tdb t;
    struct vd_store *s;
    struct vd_errbuf eb = {""};
    char url[200];
    tdb_init(&t);

    ASSERT_ERR(vd_store_open("postgres://u@localhost/verdict", &s, &eb), VD_EINVAL);
    ASSERT_NULL(s);
    ASSERT_STR_CONTAINS(eb.msg, "PostgreSQL arrives with the scale-out issue");
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_store_open("postgresql://localhost/v", &s, &eb), VD_EINVAL);
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_store_open("mysql://localhost/v", &s, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "unknown scheme");
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_store_open("", &s, &eb), VD_EINVAL);
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_store_open("sqlite:", &s, &eb), VD_EINVAL);
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_store_open("sqlite::memory:", &s, &eb), VD_EINVAL);
    eb.msg[0] = '\0';
    snprintf(url, sizeof(url), "sqlite:%s/no/such/dir/db", t.dir);
    ASSERT_ERR(vd_store_open(url, &s, &eb), -ENOENT);
    ASSERT_STR_CONTAINS(eb.msg, "no/such/dir");

    /* The three spellings of one file reach the same data. */
    char id[VD_ID_LEN + 1];
    s = tdb_open(&t);
    add(s, "", VD_SUB_CREATED, id);
    vd_store_close(s);
    snprintf(url, sizeof(url), "sqlite://%s", t.path);
    ASSERT_OK(vd_store_open(url, &s, &eb));
    ASSERT_EQ(status_of(s, id), VD_SUB_CREATED);
    vd_store_close(s);
    ASSERT_OK(vd_store_open(t.path, &s, &eb));
    ASSERT_EQ(status_of(s, id), VD_SUB_CREATED);
    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

/* ---- durability ------------------------------------------------------------ */

/* The child: stores queued submissions forever, telling the parent each id
 * once vd_store_create() has returned; the first one it also claims, so a
 * job is running when the parent kills it. */
static void create_until_killed(const char *url, int fd)
{
    struct vd_store *s = NULL;
    char id[VD_ID_LEN + 1];
    int attempt;
    if (vd_store_open(url, &s, NULL) < 0)
        _exit(2);
    for (int i = 0;; i++) {
        struct vd_submission sub;
        memset(&sub, 0, sizeof(sub));
        snprintf(sub.lang, sizeof(sub.lang), "c");
        sub.request = (char *)"{}";
        sub.status = VD_SUB_QUEUED;
        if (vd_store_create(s, &sub) < 0)
            _exit(3);
        if (i == 0 && vd_store_claim(s, id, &attempt) < 0)
            _exit(4);
        if (write(fd, sub.id, VD_ID_LEN) != VD_ID_LEN)
            _exit(5);
    }
}

TEST_IMPL(store_survives_sigkill)
{
    struct tdb t;
    static char ids[100][VD_ID_LEN + 1];
    int p[2], status;
    uint64_t n;
    tdb_init(&t);
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        create_until_killed(t.url, p[1]);
    }
    close(p[1]);
    for (int i = 0; i < 100; i++) {
        size_t got = 0;
        while (got < VD_ID_LEN) {
            ssize_t k = read(p[0], ids[i] + got, VD_ID_LEN - got);
            if (k <= 0)
                FAIL("the child stopped early (read %zd)", k);
            got += (size_t)k;
        }
        ids[i][VD_ID_LEN] = '\0';
    }
    /* Mid-stream: the child is inside a create or between two. */
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(p[0]);

    /* Every id the child was told about is there, the first one running. */
    struct vd_store *s = tdb_open(&t);
    ASSERT_EQ(status_of(s, ids[0]), VD_SUB_RUNNING);
    for (int i = 1; i < 100; i++)
        ASSERT_EQ(status_of(s, ids[i]), VD_SUB_QUEUED);
    ASSERT_OK(vd_store_requeue_running(s, &n));
    ASSERT_UINT_EQ(n, 1);
    ASSERT_EQ(status_of(s, ids[0]), VD_SUB_QUEUED);
    /* ... and is first in line again: it was queued first. */
    char id[VD_ID_LEN + 1];
    int attempt;
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_STR_EQ(id, ids[0]);
    ASSERT_EQ(attempt, 2);
    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

/* ---- 003_auth ----------------------------------------------------------------- */

TEST_IMPL(store_keys_users_and_sessions)
{
    struct tdb t;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);

    struct vd_key k, g;
    memset(&k, 0, sizeof(k));
    snprintf(k.id, sizeof(k.id), "vk0123456789abcdef");
    snprintf(k.name, sizeof(k.name), "ci");
    snprintf(k.role, sizeof(k.role), "client");
    snprintf(k.tier, sizeof(k.tier), "basic");
    snprintf(k.allowed_ips, sizeof(k.allowed_ips), "10.0.0.0/8");
    snprintf(k.secret_hash, sizeof(k.secret_hash), "%064d", 7);
    ASSERT_OK(vd_store_key_create(s, &k));
    ASSERT_ERR(vd_store_key_create(s, &k), -EEXIST);
    ASSERT_OK(vd_store_key_get(s, k.id, &g));
    ASSERT_STR_EQ(g.name, "ci");
    ASSERT_STR_EQ(g.allowed_ips, "10.0.0.0/8");
    ASSERT_EQ(g.revoked_ms, 0);
    snprintf(k.role, sizeof(k.role), "root");
    ASSERT_ERR(vd_store_key_create(s, &k), VD_EINVAL);
    ASSERT_OK(vd_store_key_revoke(s, g.id));
    ASSERT_ERR(vd_store_key_revoke(s, g.id), VD_EINVAL);
    ASSERT_ERR(vd_store_key_revoke(s, "vknope"), VD_ENOTFOUND);
    ASSERT_OK(vd_store_key_get(s, k.id, &g));
    ASSERT_GT(g.revoked_ms, 0);
    struct vd_key *keys;
    size_t nk;
    ASSERT_OK(vd_store_key_list(s, &keys, &nk));
    ASSERT_UINT_EQ(nk, 1);
    vd_free(keys);

    struct vd_user u, v;
    memset(&u, 0, sizeof(u));
    snprintf(u.username, sizeof(u.username), "ann");
    snprintf(u.email, sizeof(u.email), "ann@example.org");
    snprintf(u.password_hash, sizeof(u.password_hash), "$argon2id$x");
    snprintf(u.role, sizeof(u.role), "user");
    snprintf(u.tier, sizeof(u.tier), "basic");
    ASSERT_OK(vd_store_user_create(s, &u));
    ASSERT_UINT_EQ(strlen(u.id), VD_ID_LEN);
    struct vd_user dup = u;
    dup.id[0] = '\0';
    ASSERT_ERR(vd_store_user_create(s, &dup), -EEXIST); /* same username */
    snprintf(dup.username, sizeof(dup.username), "bob");
    ASSERT_ERR(vd_store_user_create(s, &dup), -EEXIST); /* same email */
    ASSERT_OK(vd_store_user_find(s, "ann@example.org", &v));
    ASSERT_STR_EQ(v.id, u.id);
    ASSERT_OK(vd_store_user_find(s, "ann", &v));
    ASSERT_STR_EQ(v.password_hash, "$argon2id$x");
    ASSERT_ERR(vd_store_user_find(s, "nobody", &v), VD_ENOTFOUND);
    ASSERT_OK(vd_store_user_get(s, u.id, &v));

    struct vd_session x, y;
    int64_t cur;
    memset(&x, 0, sizeof(x));
    snprintf(x.owner, sizeof(x.owner), "user:%s", u.id);
    snprintf(x.lang, sizeof(x.lang), "python");
    x.source = (char *)"print(1)";
    ASSERT_OK(vd_store_session_create(s, &x));
    ASSERT_EQ(x.version, 1);
    ASSERT_OK(vd_store_session_save(s, x.id, "print(2)", 1, &cur));
    ASSERT_EQ(cur, 2);
    ASSERT_ERR(vd_store_session_save(s, x.id, "print(3)", 1, &cur), VD_EINVAL); /* stale */
    ASSERT_EQ(cur, 2);
    ASSERT_ERR(vd_store_session_save(s, "nope", "x", 1, &cur), VD_ENOTFOUND);
    ASSERT_OK(vd_store_session_get(s, x.id, &y));
    ASSERT_STR_EQ(y.source, "print(2)");
    ASSERT_EQ(y.version, 2);
    ASSERT_GE(y.updated_ms, y.created_ms);
    vd_session_free(&y);
    struct vd_session *ses;
    size_t ns;
    uint64_t tot;
    ASSERT_OK(vd_store_session_list(s, x.owner, 0, 10, &ses, &ns, &tot));
    ASSERT_UINT_EQ(ns, 1);
    ASSERT_UINT_EQ(tot, 1);
    vd_session_free(&ses[0]);
    vd_free(ses);
    ASSERT_OK(vd_store_session_list(s, "someone", 0, 10, &ses, &ns, &tot));
    ASSERT_UINT_EQ(tot, 0);

    /* A session's runs, and the caller's live count. */
    struct vd_submission sub, *runs;
    memset(&sub, 0, sizeof(sub));
    snprintf(sub.owner, sizeof(sub.owner), "%s", x.owner);
    snprintf(sub.lang, sizeof(sub.lang), "python");
    snprintf(sub.session_id, sizeof(sub.session_id), "%s", x.id);
    sub.request = (char *)"{}";
    sub.status = VD_SUB_QUEUED;
    ASSERT_OK(vd_store_create(s, &sub));
    uint64_t active;
    ASSERT_OK(vd_store_active(s, x.owner, &active));
    ASSERT_UINT_EQ(active, 1);
    ASSERT_OK(vd_store_list_session(s, x.id, 0, 10, &runs, &ns, &tot));
    ASSERT_UINT_EQ(ns, 1);
    ASSERT_STR_EQ(runs[0].session_id, x.id);
    vd_submission_free(&runs[0]);
    vd_free(runs);
    ASSERT_OK(vd_store_session_delete(s, x.id));
    ASSERT_ERR(vd_store_session_delete(s, x.id), VD_ENOTFOUND);

    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_webhooks_due_after_finish_and_recorded_once)
{
    struct tdb t;
    struct vd_submission sub, g, *due;
    char id[VD_ID_LEN + 1];
    int attempt;
    size_t n;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);

    memset(&sub, 0, sizeof(sub));
    snprintf(sub.lang, sizeof(sub.lang), "c");
    sub.request = (char *)"{}";
    sub.status = VD_SUB_QUEUED;
    sub.webhook_url = (char *)"http://127.0.0.1:9/hook";
    ASSERT_OK(vd_store_create(s, &sub));
    /* Not due while it runs. */
    ASSERT_OK(vd_store_webhooks_due(s, vd_now_ms() + 1000, 10, &due, &n));
    ASSERT_UINT_EQ(n, 0);
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_OK(vd_store_finish(s, id, attempt, "AC", "{}"));
    ASSERT_OK(vd_store_webhooks_due(s, vd_now_ms() + 1000, 10, &due, &n));
    ASSERT_UINT_EQ(n, 1);
    ASSERT_STR_EQ(due[0].webhook_url, "http://127.0.0.1:9/hook");
    ASSERT_EQ(due[0].webhook_state, VD_WEBHOOK_PENDING);
    vd_submission_free(&due[0]);
    vd_free(due);

    /* Attempt 1 failed, retry later: not due now; a second record of the
     * same attempt is refused. */
    int64_t later = vd_now_ms() + 60000;
    ASSERT_OK(vd_store_webhook_record(s, id, 1, 500, "HTTP 500", VD_WEBHOOK_PENDING, later, "d-1"));
    ASSERT_ERR(vd_store_webhook_record(s, id, 1, 500, "again", VD_WEBHOOK_PENDING, later, "d-1"),
               VD_EINVAL);
    ASSERT_OK(vd_store_webhooks_due(s, vd_now_ms(), 10, &due, &n));
    ASSERT_UINT_EQ(n, 0);
    ASSERT_OK(vd_store_webhook_record(s, id, 2, 200, NULL, VD_WEBHOOK_DELIVERED, 0, "d-1"));
    ASSERT_OK(vd_store_peek(s, id, &g));
    ASSERT_EQ(g.webhook_state, VD_WEBHOOK_DELIVERED);
    ASSERT_EQ(g.webhook_attempts, 2);
    ASSERT_EQ(g.webhook_status, 200);
    ASSERT_STR_EQ(g.webhook_delivery, "d-1");
    ASSERT_GT(g.webhook_done_ms, 0);
    vd_submission_free(&g);
    /* Run again: the webhook is fresh. */
    ASSERT_OK(vd_store_rerun(s, id));
    ASSERT_OK(vd_store_peek(s, id, &g));
    ASSERT_EQ(g.webhook_state, VD_WEBHOOK_NONE);
    ASSERT_EQ(g.webhook_attempts, 0);
    ASSERT_STR_EQ(g.webhook_delivery, "");
    vd_submission_free(&g);
    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_signatures_seen_once_and_purged)
{
    struct tdb t;
    tdb_init(&t);
    struct vd_store *s = tdb_open(&t);
    ASSERT_OK(vd_store_signature_seen(s, "aa", 5000, 1000));
    ASSERT_ERR(vd_store_signature_seen(s, "aa", 5000, 1001), VD_EAUTH);
    vd_store_close(s);
    /* Across a restart too: the point of keeping them in the store. */
    s = tdb_open(&t);
    ASSERT_ERR(vd_store_signature_seen(s, "aa", 5000, 1002), VD_EAUTH);
    /* Past their window they go, a few at a time, with later calls. */
    for (int i = 0; i < 130; i++) {
        char sig[16];
        snprintf(sig, sizeof(sig), "s%d", i);
        ASSERT_OK(vd_store_signature_seen(s, sig, 99999, 6000));
    }
    ASSERT_OK(vd_store_signature_seen(s, "aa", 99999, 6000));
    ASSERT_ERR(vd_store_signature_seen(s, "", 1, 1), VD_EINVAL);
    vd_store_close(s);
    tdb_cleanup(&t);
    return TEST_OK;
}
