/*
 * test_store.c - src/store/store.c, store_sqlite.c and store_pg.c: ids, the
 * round trip, listing, the lifecycle and its refusals, stale results, sweep,
 * counts, the embedded queue's claims, migrations, URL schemes, durability
 * across a SIGKILL, and PostgreSQL's pool and reconnects.
 *
 * The contract tests, which every backend must pass alike, are written once
 * as functions of a struct tdb and registered twice by CONTRACT(name):
 * store_NAME runs on a SQLite file in a fresh temporary directory,
 * store_pg_NAME on a fresh schema of the PostgreSQL that
 * VERDICT_TEST_DATABASE_URL names (skipped, saying so, when it is unset).
 * The store is pointed at its schema with options=-csearch_path=..., so no
 * test sees another's rows, and application_name names the store's
 * connections so that a test can find, and kill, exactly those.
 */
#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vd/alloc.h"
#include "vd/store.h"
#include "../../src/store/store-int.h"

#define PG_URL_ENV "VERDICT_TEST_DATABASE_URL"
#define PG_SKIP_MSG PG_URL_ENV " is not set: no PostgreSQL to test against"
/* A failed test _exits before its cleanup and leaves its schema; the next
 * PostgreSQL test drops those older than this (younger ones may belong to a
 * run in progress). */
#define PG_STALE_SCHEMA_S 3600

struct tdb {
    int pg;       /* 1: a PostgreSQL schema of its own; 0: a SQLite file */
    char dir[64]; /* SQLite: the temporary directory and the file in it */
    char path[128];
    char schema[64]; /* PostgreSQL: also the store's application_name */
    char url[1024];
    PGconn *admin; /* PostgreSQL: the test's own connection, in the schema */
};

static void tdb_init(struct tdb *t)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/vd-store-XXXXXX");
    if (!mkdtemp(t->dir))
        FAIL("mkdtemp: %s", strerror(errno));
    snprintf(t->path, sizeof(t->path), "%s/verdict.db", t->dir);
    snprintf(t->url, sizeof(t->url), "sqlite:%s", t->path);
}

/* The PostgreSQL the tests may use, or NULL. */
static const char *pg_base_url(void)
{
    const char *u = getenv(PG_URL_ENV);
    return u && *u ? u : NULL;
}

/* Runs sql on db, which must succeed; the result is the caller's. */
static PGresult *pg_must(PGconn *db, const char *sql)
{
    PGresult *r = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        FAIL("%s: %s", sql, PQresultErrorMessage(r));
    return r;
}

static void drop_stale_schemas(PGconn *db)
{
    /* Schemas first: a role of store_pg_server_away_... may own one. */
    static const char *const what[2][2] = {
        {"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'vdt\\_%'", "SCHEMA"},
        {"SELECT rolname FROM pg_roles WHERE rolname LIKE 'vdt\\_%'", "ROLE"},
    };
    long long now = (long long)time(NULL);
    for (int w = 0; w < 2; w++) {
        PGresult *r = pg_must(db, what[w][0]);
        for (int i = 0; i < PQntuples(r); i++) {
            const char *name = PQgetvalue(r, i, 0);
            long long born;
            unsigned rnd;
            if (sscanf(name, "vdt_%lld_%x", &born, &rnd) != 2 || born > now - PG_STALE_SCHEMA_S)
                continue;
            char *q = PQescapeIdentifier(db, name, strlen(name)), sql[256];
            ASSERT_NOT_NULL(q);
            snprintf(sql, sizeof(sql), "DROP %s IF EXISTS %s%s", what[w][1], q,
                     w == 0 ? " CASCADE" : "");
            PQfreemem(q);
            PQclear(PQexec(db, sql)); /* another run may be at it too: no matter */
        }
        PQclear(r);
    }
}

/* A fresh schema, an admin connection whose search_path is it, and the URL
 * of a store in it. The caller has checked pg_base_url(). */
static void tdb_init_pg(struct tdb *t)
{
    const char *base = pg_base_url();
    unsigned rnd;
    char sql[256];

    memset(t, 0, sizeof(*t));
    t->pg = 1;
    if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        FAIL("getrandom: %s", strerror(errno));
    snprintf(t->schema, sizeof(t->schema), "vdt_%lld_%08x", (long long)time(NULL), rnd);
    t->admin = PQconnectdb(base);
    if (PQstatus(t->admin) != CONNECTION_OK)
        FAIL("%s=%s: %s", PG_URL_ENV, base, PQerrorMessage(t->admin));
    drop_stale_schemas(t->admin);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", t->schema);
    PQclear(pg_must(t->admin, sql));
    snprintf(sql, sizeof(sql), "SET search_path TO %s", t->schema);
    PQclear(pg_must(t->admin, sql));
    /* The name is [a-z0-9_]: nothing in it needs escaping in a URL. */
    int n = snprintf(t->url, sizeof(t->url), "%s%coptions=-csearch_path%%3D%s&application_name=%s",
                     base, strchr(base, '?') ? '&' : '?', t->schema, t->schema);
    if (n < 0 || (size_t)n >= sizeof(t->url))
        FAIL("%s is too long for the test's URL buffer", PG_URL_ENV);
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
    if (t->pg) {
        snprintf(p, sizeof(p), "DROP SCHEMA IF EXISTS %s CASCADE", t->schema);
        PQclear(pg_must(t->admin, p));
        PQfinish(t->admin);
        t->admin = NULL;
        return;
    }
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(p, sizeof(p), "%s%s", t->path, suffix[i]);
        unlink(p);
    }
    rmdir(t->dir);
}

/* Runs sql on the test's database behind the store's back (for rows the
 * store itself would never write); gives the first column of the first row
 * as an integer, -1 when there is none. */
static int64_t tdb_sql(struct tdb *t, const char *sql)
{
    int64_t v = -1;
    if (t->pg) {
        PGresult *r = pg_must(t->admin, sql);
        if (PQntuples(r) > 0 && PQnfields(r) > 0 && !PQgetisnull(r, 0, 0))
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        return v;
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    ASSERT_EQ(sqlite3_open_v2(t->path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        FAIL("%s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else if (rc != SQLITE_DONE)
        FAIL("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* A contract test, and its two registrations (see the top). */
typedef int (*contract_fn)(struct tdb *t);

static int on_sqlite(contract_fn fn)
{
    struct tdb t;
    tdb_init(&t);
    int rc = fn(&t);
    tdb_cleanup(&t);
    return rc;
}

static int on_pg(contract_fn fn)
{
    struct tdb t;
    if (!pg_base_url())
        RETURN_SKIP(PG_SKIP_MSG);
    tdb_init_pg(&t);
    int rc = fn(&t);
    tdb_cleanup(&t);
    return rc;
}

#define CONTRACT(name)          \
    TEST_IMPL(store_##name)     \
    {                           \
        return on_sqlite(name); \
    }                           \
    TEST_IMPL(store_pg_##name)  \
    {                           \
        return on_pg(name);     \
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

static int create_get_round_trip(struct tdb *t)
{
    struct vd_submission sub, g;
    struct vd_store *s = tdb_open(t);
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
    return TEST_OK;
}

CONTRACT(create_get_round_trip)

static int unknown_id_is_not_found(struct tdb *t)
{
    struct vd_submission g;
    uint64_t n;
    struct vd_store *s = tdb_open(t);
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
    return TEST_OK;
}

CONTRACT(unknown_id_is_not_found)

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

static int list_newest_first_paged_per_owner(struct tdb *t)
{
    char all[18][VD_ID_LEN + 1], alice[10][VD_ID_LEN + 1], anon[3][VD_ID_LEN + 1];
    char rev[18][VD_ID_LEN + 1];
    int na = 0, nn = 0;
    struct vd_store *s = tdb_open(t);

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
    return TEST_OK;
}

CONTRACT(list_newest_first_paged_per_owner)

/* ---- lifecycle ------------------------------------------------------------- */

static int lifecycle_transitions_and_refusals(struct tdb *t)
{
    struct vd_submission g;
    char a[VD_ID_LEN + 1], b[VD_ID_LEN + 1], c[VD_ID_LEN + 1];
    struct vd_store *s = tdb_open(t);

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
    return TEST_OK;
}

CONTRACT(lifecycle_transitions_and_refusals)

static int stale_attempt_finish_is_ignored(struct tdb *t)
{
    struct vd_submission g;
    char a[VD_ID_LEN + 1], id[VD_ID_LEN + 1];
    int attempt;
    struct vd_store *s = tdb_open(t);

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
    return TEST_OK;
}

CONTRACT(stale_attempt_finish_is_ignored)

static int rerun_clears_the_result_and_raises_the_attempt(struct tdb *t)
{
    struct vd_submission g;
    char a[VD_ID_LEN + 1], b[VD_ID_LEN + 1], id[VD_ID_LEN + 1];
    int attempt;
    struct vd_store *s = tdb_open(t);

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
    return TEST_OK;
}

CONTRACT(rerun_clears_the_result_and_raises_the_attempt)

/* ---- sweep, counts --------------------------------------------------------- */

static int sweep_removes_old_finished_and_cancelled(struct tdb *t)
{
    struct vd_submission g;
    char ids[6][VD_ID_LEN + 1];
    uint64_t n;
    struct vd_store *s = tdb_open(t);

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
    return TEST_OK;
}

CONTRACT(sweep_removes_old_finished_and_cancelled)

static int counts_by_status(struct tdb *t)
{
    struct vd_store_counts c;
    char id[VD_ID_LEN + 1];
    uint64_t n;
    struct vd_store *s = tdb_open(t);

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
    return TEST_OK;
}

CONTRACT(counts_by_status)

/* ---- the embedded queue: claims, queued ids -------------------------------- */

static void claim_is(struct vd_store *s, const char *want, int want_attempt)
{
    char id[VD_ID_LEN + 1];
    int attempt;
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_STR_EQ(id, want);
    ASSERT_EQ(attempt, want_attempt);
    ASSERT_EQ(status_of(s, want), VD_SUB_RUNNING);
}

static int claim_is_fifo(struct tdb *t)
{
    char a[VD_ID_LEN + 1], b[VD_ID_LEN + 1], c[VD_ID_LEN + 1], d[VD_ID_LEN + 1];
    char e[VD_ID_LEN + 1], f[VD_ID_LEN + 1], id[VD_ID_LEN + 1];
    int attempt = -1;
    struct vd_store *s = tdb_open(t);

    /* Oldest queued first (many within one millisecond: id breaks the tie);
     * a created one is not in the queue. */
    add(s, "", VD_SUB_QUEUED, a);
    add(s, "", VD_SUB_CREATED, b);
    add(s, "", VD_SUB_QUEUED, c);
    add(s, "", VD_SUB_QUEUED, d);
    claim_is(s, a, 1);
    claim_is(s, c, 1);

    /* A job put back keeps its place in line, before newer ones. */
    ASSERT_OK(vd_store_set_status(s, a, VD_SUB_QUEUED));
    add(s, "", VD_SUB_QUEUED, e);
    claim_is(s, a, 2);
    claim_is(s, d, 1);
    claim_is(s, e, 1);
    ASSERT_ERR(vd_store_claim(s, id, &attempt), VD_ENOTFOUND);
    ASSERT_STR_EQ(id, "");
    ASSERT_EQ(attempt, 0);
    ASSERT_EQ(status_of(s, b), VD_SUB_CREATED);

    /* Queued later, claimed later; a rerun joins the end of the line. */
    ASSERT_OK(vd_store_set_status(s, b, VD_SUB_QUEUED));
    ASSERT_OK(vd_store_finish(s, a, 2, "AC", "{}"));
    add(s, "", VD_SUB_QUEUED, f);
    harness_sleep_ms(3);
    ASSERT_OK(vd_store_rerun(s, a));
    claim_is(s, b, 1);
    claim_is(s, f, 1);
    claim_is(s, a, 3);
    ASSERT_ERR(vd_store_claim(s, id, &attempt), VD_ENOTFOUND);

    vd_store_close(s);
    return TEST_OK;
}

CONTRACT(claim_is_fifo)

#define CLAIM_JOBS 200
#define CLAIM_THREADS 4

struct claimer {
    struct vd_store *s; /* shared; NULL: open one of its own from url */
    const char *url;
    pthread_barrier_t *go;
    char got[CLAIM_JOBS][VD_ID_LEN + 1];
    int n;
};

static void *claim_all(void *arg)
{
    struct claimer *c = arg;
    struct vd_store *own = NULL, *s = c->s;
    struct vd_errbuf eb = {""};
    char id[VD_ID_LEN + 1];
    int attempt, rc;

    if (!s) {
        if (vd_store_open(c->url, &own, &eb) < 0)
            FAIL("vd_store_open(%s): %s", c->url, eb.msg);
        s = own;
    }
    pthread_barrier_wait(c->go);
    while ((rc = vd_store_claim(s, id, &attempt)) == 0) {
        ASSERT_LT(c->n, CLAIM_JOBS);
        ASSERT_EQ(attempt, 1);
        memcpy(c->got[c->n++], id, sizeof(id));
    }
    ASSERT_ERR(rc, VD_ENOTFOUND);
    vd_store_close(own);
    return NULL;
}

/* CLAIM_THREADS threads claim CLAIM_JOBS queued jobs at once, through one
 * handle (shared) or a handle each (as processes would): every job is
 * claimed, and by exactly one of them. */
static void claim_race(struct tdb *t, struct vd_store *s, int shared)
{
    static char want[CLAIM_JOBS][VD_ID_LEN + 1], got[CLAIM_JOBS][VD_ID_LEN + 1];
    static struct claimer c[CLAIM_THREADS];
    pthread_t th[CLAIM_THREADS];
    pthread_barrier_t go;
    int total = 0;

    for (int i = 0; i < CLAIM_JOBS; i++)
        add(s, "", VD_SUB_QUEUED, want[i]);
    ASSERT_EQ(pthread_barrier_init(&go, NULL, CLAIM_THREADS), 0);
    for (int i = 0; i < CLAIM_THREADS; i++) {
        memset(&c[i], 0, sizeof(c[i]));
        c[i].s = shared ? s : NULL;
        c[i].url = t->url;
        c[i].go = &go;
        ASSERT_EQ(pthread_create(&th[i], NULL, claim_all, &c[i]), 0);
    }
    for (int i = 0; i < CLAIM_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < CLAIM_THREADS; i++) {
        ASSERT_LE(total + c[i].n, CLAIM_JOBS);
        memcpy(got[total], c[i].got, (size_t)c[i].n * sizeof(got[0]));
        total += c[i].n;
    }
    ASSERT_EQ(total, CLAIM_JOBS);
    qsort(got, CLAIM_JOBS, sizeof(got[0]), cmp_id);
    qsort(want, CLAIM_JOBS, sizeof(want[0]), cmp_id);
    for (int i = 0; i < CLAIM_JOBS; i++)
        ASSERT_STR_EQ(got[i], want[i]); /* each once: the lists are equal */
}

static int claim_is_exclusive_across_threads(struct tdb *t)
{
    struct vd_store_counts n;
    struct vd_store *s = tdb_open(t);
    claim_race(t, s, 1);
    claim_race(t, s, 0);
    ASSERT_OK(vd_store_counts(s, &n));
    ASSERT_UINT_EQ(n.running, 2 * CLAIM_JOBS);
    ASSERT_UINT_EQ(n.queued, 0);
    vd_store_close(s);
    return TEST_OK;
}

CONTRACT(claim_is_exclusive_across_threads)

#define RACE_THREADS 4
#define RACE_ROUNDS 20

struct racer {
    struct vd_store *s;
    pthread_barrier_t *go;
    const char *id;
    int k;      /* which racer: its verdict */
    int finish; /* 0: set_running(2), 1: finish(2) */
    int rc;     /* what it was answered */
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char verdict[8];
    snprintf(verdict, sizeof(verdict), "V%d", r->k);
    pthread_barrier_wait(r->go);
    r->rc = r->finish ? vd_store_finish(r->s, r->id, 2, verdict, "{}")
                      : vd_store_set_running(r->s, r->id, 2);
    return NULL;
}

/* RACE_THREADS callers of one transition at once; gives the one that
 * changed the row, after checking that every other was refused. */
static int race_once(struct vd_store *s, const char *id, int finish)
{
    struct racer r[RACE_THREADS];
    pthread_t th[RACE_THREADS];
    pthread_barrier_t go;
    int won = -1;

    ASSERT_EQ(pthread_barrier_init(&go, NULL, RACE_THREADS), 0);
    for (int i = 0; i < RACE_THREADS; i++) {
        r[i] = (struct racer){s, &go, id, i, finish, 1};
        ASSERT_EQ(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i < RACE_THREADS; i++) {
        if (r[i].rc == 0) {
            ASSERT_EQ(won, -1);
            won = i;
        } else {
            ASSERT_ERR(r[i].rc, VD_EINVAL);
        }
    }
    ASSERT_GE(won, 0);
    return won;
}

/* Racing callers of one transition, each on a connection of its own (the
 * store's pool): exactly one changes the row, the others are refused, and
 * the row holds what the winner wrote. */
static int racing_transitions_change_a_row_once(struct tdb *t)
{
    struct vd_submission g;
    char id[VD_ID_LEN + 1], want[8];
    struct vd_store *s = tdb_open(t);

    for (int round = 0; round < RACE_ROUNDS; round++) {
        add(s, "", VD_SUB_QUEUED, id);
        claim_is(s, id, 1);
        race_once(s, id, 0); /* the attempt goes to 2 once */
        int won = race_once(s, id, 1);
        ASSERT_OK(vd_store_finish(s, id, 1, "WA", "{}")); /* stale: ignored */
        ASSERT_OK(vd_store_get(s, id, &g));
        ASSERT_EQ(g.status, VD_SUB_FINISHED);
        ASSERT_EQ(g.attempt, 2);
        snprintf(want, sizeof(want), "V%d", won);
        ASSERT_STR_EQ(g.verdict, want);
        vd_submission_free(&g);
    }
    vd_store_close(s);
    return TEST_OK;
}

CONTRACT(racing_transitions_change_a_row_once)

static int unfinished_ids_oldest_first_before_the_cutoff(struct tdb *t)
{
    char q1[VD_ID_LEN + 1], q2[VD_ID_LEN + 1], q3[VD_ID_LEN + 1], q4[VD_ID_LEN + 1];
    char ids[8][VD_ID_LEN + 1], id[VD_ID_LEN + 1];
    int attempt;
    size_t n = 99;
    struct vd_store *s = tdb_open(t);

    ASSERT_OK(vd_store_unfinished_ids(s, vd_now_ms() + 1, 8, ids, &n));
    ASSERT_UINT_EQ(n, 0);
    add(s, "", VD_SUB_QUEUED, q1);
    add(s, "", VD_SUB_QUEUED, q2);
    add(s, "", VD_SUB_CREATED, NULL); /* not queued: never listed */
    add(s, "", VD_SUB_QUEUED, q3);
    claim_is(s, q1, 1); /* running: listed by when it started */
    harness_sleep_ms(3);
    int64_t mid = vd_now_ms();
    harness_sleep_ms(3);
    add(s, "", VD_SUB_QUEUED, q4);

    ASSERT_OK(vd_store_unfinished_ids(s, vd_now_ms() + 1, 8, ids, &n));
    ASSERT_UINT_EQ(n, 4);
    ASSERT_STR_EQ(ids[0], q1);
    ASSERT_STR_EQ(ids[1], q2);
    ASSERT_STR_EQ(ids[2], q3);
    ASSERT_STR_EQ(ids[3], q4);
    /* Only those queued (or started) before the cutoff, at most max. */
    ASSERT_OK(vd_store_unfinished_ids(s, mid, 8, ids, &n));
    ASSERT_UINT_EQ(n, 3);
    ASSERT_STR_EQ(ids[2], q3);
    ASSERT_OK(vd_store_unfinished_ids(s, vd_now_ms() + 1, 1, ids, &n));
    ASSERT_UINT_EQ(n, 1);
    ASSERT_STR_EQ(ids[0], q1);
    /* Finished: never listed. */
    ASSERT_OK(vd_store_finish(s, q1, 1, "OK", "{}"));
    ASSERT_OK(vd_store_unfinished_ids(s, vd_now_ms() + 1, 8, ids, &n));
    ASSERT_UINT_EQ(n, 3);
    ASSERT_STR_EQ(ids[0], q2);
    ASSERT_OK(vd_store_unfinished_ids(s, 0, 8, ids, &n));
    ASSERT_UINT_EQ(n, 0);
    ASSERT_ERR(vd_store_unfinished_ids(s, vd_now_ms(), 0, ids, &n), VD_EINVAL);

    /* Re-run, q1 is listed again, in the order the claims take. */
    ASSERT_OK(vd_store_rerun(s, q1));
    ASSERT_OK(vd_store_unfinished_ids(s, vd_now_ms() + 1, 8, ids, &n));
    ASSERT_UINT_EQ(n, 4);
    ASSERT_OK(vd_store_claim(s, id, &attempt));
    ASSERT_STR_EQ(id, ids[0]);

    vd_store_close(s);
    return TEST_OK;
}

CONTRACT(unfinished_ids_oldest_first_before_the_cutoff)

/* ---- rows the store did not write ------------------------------------------ */

/* Text longer than its fixed field is refused (VD_ETOOBIG), never cut. */
static int overlong_text_is_refused(struct tdb *t)
{
    struct vd_submission g, *l;
    struct vd_session x, y;
    char a[VD_ID_LEN + 1], sql[512], lang[100];
    size_t n;
    uint64_t total;
    struct vd_store *s = tdb_open(t);

    add(s, "", VD_SUB_QUEUED, a);
    snprintf(sql, sizeof(sql), "UPDATE submissions SET verdict = 'ABCDEFGHIJKLM' WHERE id = '%s'",
             a);
    tdb_sql(t, sql);
    ASSERT_ERR(vd_store_get(s, a, &g), VD_ETOOBIG);
    ASSERT_NULL(g.request);
    ASSERT_ERR(vd_store_peek(s, a, &g), VD_ETOOBIG);
    ASSERT_ERR(vd_store_list(s, NULL, 0, 10, &l, &n, &total), VD_ETOOBIG);
    ASSERT_NULL(l);
    ASSERT_UINT_EQ(n, 0);
    /* Exactly the field's size minus the NUL still fits. */
    snprintf(sql, sizeof(sql), "UPDATE submissions SET verdict = 'ABCDEFGHIJK' WHERE id = '%s'", a);
    tdb_sql(t, sql);
    ASSERT_OK(vd_store_get(s, a, &g));
    ASSERT_STR_EQ(g.verdict, "ABCDEFGHIJK");
    vd_submission_free(&g);

    memset(&x, 0, sizeof(x));
    snprintf(x.lang, sizeof(x.lang), "c");
    x.source = (char *)"int main(void){}";
    ASSERT_OK(vd_store_session_create(s, &x));
    memset(lang, 'x', sizeof(x.lang));
    lang[sizeof(x.lang)] = '\0';
    snprintf(sql, sizeof(sql), "UPDATE code_sessions SET lang = '%s' WHERE id = '%s'", lang, x.id);
    tdb_sql(t, sql);
    ASSERT_ERR(vd_store_session_get(s, x.id, &y), VD_ETOOBIG);
    ASSERT_NULL(y.source);

    vd_store_close(s);
    return TEST_OK;
}

CONTRACT(overlong_text_is_refused)

/* ---- migrations, URLs ------------------------------------------------------ */

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
    ASSERT_EQ(tdb_sql(&t, "SELECT COUNT(*) FROM schema_migrations"), latest);
    ASSERT_EQ(tdb_sql(&t, "SELECT MAX(version) FROM schema_migrations"), latest);

    /* Reopening applies nothing again and keeps the data. */
    s = tdb_open(&t);
    ASSERT_EQ(status_of(s, id), VD_SUB_QUEUED);
    vd_store_close(s);
    ASSERT_EQ(tdb_sql(&t, "SELECT COUNT(*) FROM schema_migrations"), latest);
    ASSERT_EQ(tdb_sql(&t, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND "
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

/* The PostgreSQL copies: the same versions as SQLite's, each its file
 * (migrations/pg/ plus the SQLite file's name), byte for byte. Needs no
 * database. */
TEST_IMPL(store_pg_migration_files_in_step)
{
    int i;
    for (i = 0; vd__store_pg_migrations[i].sql; i++) {
        const struct vd__store_migration *m = &vd__store_pg_migrations[i];
        const struct vd__store_migration *lite = &vd__store_sqlite_migrations[i];
        char path[256], name[256], buf[65536];
        ASSERT_NOT_NULL(lite->sql);
        ASSERT_EQ(m->version, lite->version);
        snprintf(name, sizeof(name), "pg/%s", lite->file);
        ASSERT_STR_EQ(m->file, name);
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
    ASSERT_NULL(vd__store_sqlite_migrations[i].sql);
    return TEST_OK;
}

struct opener {
    const char *url;
    pthread_barrier_t *go;
};

static void *open_at_once(void *arg)
{
    struct opener *o = arg;
    struct vd_store *s = NULL;
    struct vd_errbuf eb = {""};
    pthread_barrier_wait(o->go);
    if (vd_store_open(o->url, &s, &eb) < 0)
        FAIL("vd_store_open(%s) at once: %s", o->url, eb.msg);
    ASSERT_OK(vd_store_ping(s));
    vd_store_close(s);
    return NULL;
}

TEST_IMPL(store_pg_migrations_apply_once)
{
    struct tdb t, u;
    struct vd_errbuf eb = {""};
    char id[VD_ID_LEN + 1];
    if (!pg_base_url())
        RETURN_SKIP(PG_SKIP_MSG);
    tdb_init_pg(&t);

    int latest = 0;
    while (vd__store_pg_migrations[latest].sql)
        latest++;
    struct vd_store *s = tdb_open(&t);
    add(s, "x", VD_SUB_QUEUED, id);
    vd_store_close(s);
    ASSERT_EQ(tdb_sql(&t, "SELECT COUNT(*) FROM schema_migrations"), latest);
    ASSERT_EQ(tdb_sql(&t, "SELECT COUNT(DISTINCT version) FROM schema_migrations"), latest);
    ASSERT_EQ(tdb_sql(&t, "SELECT MAX(version) FROM schema_migrations"), latest);
    ASSERT_GT(tdb_sql(&t, "SELECT MIN(applied_ms) FROM schema_migrations"), 0);

    /* Reopening applies nothing again and keeps the data. */
    s = tdb_open(&t);
    ASSERT_EQ(status_of(s, id), VD_SUB_QUEUED);
    vd_store_close(s);
    ASSERT_EQ(tdb_sql(&t, "SELECT COUNT(*) FROM schema_migrations"), latest);
    /* The tables and indexes of SQLite's schema, in the store's schema. */
    ASSERT_EQ(tdb_sql(&t, "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() "
                          "AND tablename = 'submissions' AND indexname <> 'submissions_pkey'"),
              6);
    ASSERT_EQ(tdb_sql(&t, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"), 6);

    /* Four opens at once on a fresh schema (as four processes starting
     * together): the advisory lock lets each migration run once. */
    tdb_init_pg(&u);
    pthread_t th[4];
    pthread_barrier_t go;
    struct opener o = {u.url, &go};
    ASSERT_EQ(pthread_barrier_init(&go, NULL, 4), 0);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, open_at_once, &o), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    ASSERT_EQ(tdb_sql(&u, "SELECT COUNT(*) FROM schema_migrations"), latest);
    ASSERT_EQ(tdb_sql(&u, "SELECT COUNT(DISTINCT version) FROM schema_migrations"), latest);
    tdb_cleanup(&u);

    /* A schema from a newer verdict is refused, not misread. */
    tdb_sql(&t, "INSERT INTO schema_migrations VALUES (999, 0)");
    ASSERT_ERR(vd_store_open(t.url, &s, &eb), VD_EINVAL);
    ASSERT_NULL(s);
    ASSERT_STR_CONTAINS(eb.msg, "newer");
    ASSERT_STR_CONTAINS(eb.msg, "999");
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_url_schemes)
{
    struct tdb t;
    struct vd_store *s;
    struct vd_errbuf eb = {""};
    char url[200];
    tdb_init(&t);

    /* PostgreSQL, where nothing listens: a prompt failure that says where,
     * without the password. */
    int64_t t0 = vd_now_ms();
    ASSERT_ERR(vd_store_open("postgres://verdict@127.0.0.1:1/verdict", &s, &eb), -EIO);
    ASSERT_NULL(s);
    ASSERT_STR_CONTAINS(eb.msg, "database postgres://verdict@127.0.0.1:1/verdict: ");
    ASSERT_STR_CONTAINS(eb.msg, "port 1");
    ASSERT_LT(vd_now_ms() - t0, 5000);
    eb.msg[0] = '\0';
    ASSERT_ERR(
        vd_store_open("postgresql://u:s3cret@127.0.0.1:1/v?connect_timeout=2&pool=4", &s, &eb),
        -EIO);
    ASSERT_STR_CONTAINS(eb.msg, "postgresql://u:***@127.0.0.1:1/v: ");
    ASSERT(!strstr(eb.msg, "s3cret"));
    /* pool=N is ours (1 to 1024); any other parameter must be libpq's. */
    static const char *const bad_pool[] = {"pool=0", "pool=1025", "pool=x", "pool",
                                           "pool=",  "pool=-3",   "pool=2x"};
    for (size_t i = 0; i < sizeof(bad_pool) / sizeof(bad_pool[0]); i++) {
        eb.msg[0] = '\0';
        snprintf(url, sizeof(url), "postgres://127.0.0.1:1/v?sslmode=disable&%s", bad_pool[i]);
        ASSERT_ERR(vd_store_open(url, &s, &eb), VD_EINVAL);
        ASSERT_STR_CONTAINS(eb.msg, "pool must be a number from 1 to 1024");
    }
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_store_open("postgres://127.0.0.1:1/v?bogus=1", &s, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "bogus");

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
    ASSERT_UINT_EQ(vd_store_reconnects(s), 0); /* a file: never */
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

static int survives_sigkill(struct tdb *t)
{
    static char ids[100][VD_ID_LEN + 1];
    int p[2], status;
    uint64_t n;
    ASSERT_EQ(pipe(p), 0);
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        create_until_killed(t->url, p[1]);
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
    struct vd_store *s = tdb_open(t);
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
    return TEST_OK;
}

CONTRACT(survives_sigkill)

/* ---- 003_auth ----------------------------------------------------------------- */

static int keys_users_and_sessions(struct tdb *t)
{
    struct vd_store *s = tdb_open(t);

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
    return TEST_OK;
}

CONTRACT(keys_users_and_sessions)

static int webhooks_due_after_finish_and_recorded_once(struct tdb *t)
{
    struct vd_submission sub, g, *due;
    char id[VD_ID_LEN + 1];
    int attempt;
    size_t n;
    struct vd_store *s = tdb_open(t);

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
    return TEST_OK;
}

CONTRACT(webhooks_due_after_finish_and_recorded_once)

static int signatures_seen_once_and_purged(struct tdb *t)
{
    struct vd_store *s = tdb_open(t);
    ASSERT_OK(vd_store_signature_seen(s, "aa", 5000, 1000));
    ASSERT_ERR(vd_store_signature_seen(s, "aa", 5000, 1001), VD_EAUTH);
    vd_store_close(s);
    /* Across a restart too: the point of keeping them in the store. */
    s = tdb_open(t);
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
    return TEST_OK;
}

CONTRACT(signatures_seen_once_and_purged)

/* ---- PostgreSQL: lost connections, a server away, the pool ----------------- */

/* How many connections of the store of t (its application_name) exist. */
static int64_t store_backends(struct tdb *t)
{
    const char *v[1] = {t->schema};
    PGresult *r = PQexecParams(t->admin,
                               "SELECT COUNT(*) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND application_name = $1",
                               1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        FAIL("pg_stat_activity: %s", PQresultErrorMessage(r));
    int64_t n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* Waits until the store of t has n connections (backends end a moment
 * after they are told to). */
static void wait_backends(struct tdb *t, int64_t n)
{
    int64_t have = -1;
    for (int i = 0; i < 1000 && (have = store_backends(t)) != n; i++)
        harness_sleep_ms(10);
    ASSERT_EQ(have, n);
}

/* Terminates every connection of the store of t, as a server restart or an
 * administrator would, from the test's own connection (which survives:
 * it is not the store's). Gives how many there were. */
static int64_t kill_store_backends(struct tdb *t)
{
    const char *v[1] = {t->schema};
    PGresult *r = PQexecParams(t->admin,
                               "SELECT COUNT(*) FILTER (WHERE pg_terminate_backend(pid)) "
                               "FROM pg_stat_activity WHERE datname = current_database() "
                               "AND pid <> pg_backend_pid() AND application_name = $1",
                               1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        FAIL("pg_terminate_backend: %s", PQresultErrorMessage(r));
    int64_t n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

TEST_IMPL(store_pg_reconnects_after_the_backends_are_terminated)
{
    struct tdb t;
    char a[VD_ID_LEN + 1], b[VD_ID_LEN + 1];
    struct vd_submission *l;
    size_t n;
    uint64_t total, before;
    if (!pg_base_url())
        RETURN_SKIP(PG_SKIP_MSG);
    tdb_init_pg(&t);
    struct vd_store *s = tdb_open(&t);
    add(s, "", VD_SUB_QUEUED, a);
    ASSERT_UINT_EQ(vd_store_reconnects(s), 0);

    /* Killed while idle in the pool: the next operation, a write that is
     * never sent twice, finds the connection dead before sending and goes
     * on a fresh one. */
    ASSERT_GE(kill_store_backends(&t), 1);
    wait_backends(&t, 0);
    add(s, "", VD_SUB_QUEUED, b);
    ASSERT_GT(vd_store_reconnects(s), 0);
    ASSERT_EQ(status_of(s, a), VD_SUB_QUEUED);
    ASSERT_EQ(status_of(s, b), VD_SUB_QUEUED);

    /* Killed with no pause before the next call: a read succeeds whether
     * the loss shows before sending or in the middle (then it is retried). */
    for (int i = 0; i < 5; i++) {
        before = vd_store_reconnects(s);
        ASSERT_GE(kill_store_backends(&t), 1);
        ASSERT_OK(vd_store_list(s, NULL, 0, 10, &l, &n, &total));
        ASSERT_UINT_EQ(total, 2);
        for (size_t k = 0; k < n; k++)
            vd_submission_free(&l[k]);
        vd_free(l);
        ASSERT_EQ(status_of(s, a), VD_SUB_QUEUED);
        ASSERT_GT(vd_store_reconnects(s), before);
    }
    ASSERT_OK(vd_store_ping(s));
    vd_store_close(s);
    wait_backends(&t, 0);
    tdb_cleanup(&t);
    return TEST_OK;
}

TEST_IMPL(store_pg_server_away_answers_an_error_then_recovers)
{
    struct tdb t;
    struct vd_submission g, sub;
    char a[VD_ID_LEN + 1], sql[512], url[1200];
    if (!pg_base_url())
        RETURN_SKIP(PG_SKIP_MSG);
    tdb_init_pg(&t);
    if (tdb_sql(&t, "SELECT rolsuper::int FROM pg_roles WHERE rolname = current_user") != 1) {
        tdb_cleanup(&t);
        RETURN_SKIP("needs a superuser in " PG_URL_ENV " (to lock a role out)");
    }
    /* The store logs in as a role of its own, which is then locked out:
     * to the store, that is a server that refuses every new connection,
     * and the kill takes the ones it has. */
    snprintf(sql, sizeof(sql), "CREATE ROLE %s_r LOGIN", t.schema);
    tdb_sql(&t, sql);
    snprintf(sql, sizeof(sql), "ALTER SCHEMA %s OWNER TO %s_r", t.schema, t.schema);
    tdb_sql(&t, sql);
    snprintf(url, sizeof(url), "%s&user=%s_r", t.url, t.schema);
    struct vd_store *s = NULL;
    struct vd_errbuf eb = {""};
    if (vd_store_open(url, &s, &eb) < 0)
        FAIL("vd_store_open(%s): %s", url, eb.msg);
    add(s, "", VD_SUB_QUEUED, a);

    snprintf(sql, sizeof(sql), "ALTER ROLE %s_r NOLOGIN", t.schema);
    tdb_sql(&t, sql);
    ASSERT_GE(kill_store_backends(&t), 1);
    wait_backends(&t, 0);
    int64_t t0 = vd_now_ms();
    memset(&sub, 0, sizeof(sub));
    snprintf(sub.lang, sizeof(sub.lang), "c");
    sub.request = (char *)"{}";
    sub.status = VD_SUB_QUEUED;
    ASSERT_ERR(vd_store_create(s, &sub), -EIO);
    ASSERT_ERR(vd_store_get(s, a, &g), -EIO);
    ASSERT_ERR(vd_store_ping(s), -EIO);
    ASSERT_LT(vd_now_ms() - t0, 5000);

    /* Back: the same handle works again. */
    snprintf(sql, sizeof(sql), "ALTER ROLE %s_r LOGIN", t.schema);
    tdb_sql(&t, sql);
    ASSERT_OK(vd_store_ping(s));
    ASSERT_EQ(status_of(s, a), VD_SUB_QUEUED);
    memset(sub.id, 0, sizeof(sub.id));
    ASSERT_OK(vd_store_create(s, &sub));
    ASSERT_EQ(status_of(s, sub.id), VD_SUB_QUEUED);
    vd_store_close(s);
    wait_backends(&t, 0);

    snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", t.schema);
    tdb_sql(&t, sql);
    snprintf(sql, sizeof(sql), "DROP ROLE %s_r", t.schema);
    tdb_sql(&t, sql);
    tdb_cleanup(&t);
    return TEST_OK;
}

#define POOL_THREADS 8
#define POOL_OPS 50

static void *pool_worker(void *arg)
{
    struct vd_store *s = arg;
    char id[VD_ID_LEN + 1];
    for (int i = 0; i < POOL_OPS; i++) {
        add(s, "pool", VD_SUB_QUEUED, id);
        ASSERT_EQ(status_of(s, id), VD_SUB_QUEUED);
    }
    return NULL;
}

static void pool_run(struct vd_store *s)
{
    pthread_t th[POOL_THREADS];
    for (int i = 0; i < POOL_THREADS; i++)
        ASSERT_EQ(pthread_create(&th[i], NULL, pool_worker, s), 0);
    for (int i = 0; i < POOL_THREADS; i++)
        pthread_join(th[i], NULL);
}

TEST_IMPL(store_pg_pool_opens_lazily_up_to_its_cap)
{
    struct tdb t;
    uint64_t active;
    char url[1200];
    if (!pg_base_url())
        RETURN_SKIP(PG_SKIP_MSG);
    tdb_init_pg(&t);

    /* One connection at open, and one is all a single thread needs. */
    struct vd_store *s = tdb_open(&t);
    ASSERT_EQ(store_backends(&t), 1);
    for (int i = 0; i < 20; i++)
        add(s, "", VD_SUB_CREATED, NULL);
    ASSERT_EQ(store_backends(&t), 1);
    vd_store_close(s);
    wait_backends(&t, 0);

    /* Eight threads through pool=2 and pool=1: never more connections than
     * that, and no thread left waiting. */
    snprintf(url, sizeof(url), "%s&pool=2", t.url);
    struct vd_store *s2 = NULL;
    struct vd_errbuf eb = {""};
    if (vd_store_open(url, &s2, &eb) < 0)
        FAIL("vd_store_open(%s): %s", url, eb.msg);
    pool_run(s2);
    ASSERT_LE(store_backends(&t), 2);
    ASSERT_OK(vd_store_active(s2, "pool", &active));
    ASSERT_UINT_EQ(active, POOL_THREADS * POOL_OPS);
    vd_store_close(s2);
    snprintf(url, sizeof(url), "%s&pool=1", t.url);
    if (vd_store_open(url, &s2, &eb) < 0)
        FAIL("vd_store_open(%s): %s", url, eb.msg);
    pool_run(s2);
    ASSERT_EQ(store_backends(&t), 1);
    ASSERT_OK(vd_store_active(s2, "pool", &active));
    ASSERT_UINT_EQ(active, 2 * POOL_THREADS * POOL_OPS);
    vd_store_close(s2);
    wait_backends(&t, 0);
    tdb_cleanup(&t);
    return TEST_OK;
}
