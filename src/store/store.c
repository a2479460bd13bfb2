/*
 * store.c - the front of the store: picks a backend, forwards every call.
 *
 * Theory of operation. vd_store_open() reads the scheme of the database URL
 * ("sqlite:PATH", "sqlite://PATH" or a plain path: store_sqlite.c;
 * "postgres://..." or "postgresql://...": store_pg.c, for several nodes on
 * one database) and opens the matching backend, a table of operations
 * (store-int.h). Every other vd_store_* call checks its arguments here, once
 * for all backends, and forwards through the table. The backend owns the
 * threading: the handle is shared by every thread of the process (API
 * connections and worker threads alike), and each operation is safe to call
 * concurrently.
 *
 * Also here, because every backend and the API need them alike: submission
 * ids (UUIDv7), the wall clock in milliseconds, status names and freeing a
 * submission's strings.
 *
 * Ids. A UUIDv7 (RFC 9562) starts with the 48-bit Unix time in ms, so the
 * text of ids sorts by creation time and "newest first" is an index scan
 * backwards; 62 bits of rand_b from getrandom(2) make ids unique across
 * processes and nodes and unguessable (Judge0-style clients treat the id as
 * the only key to a submission). Within one process ids are also strictly
 * increasing, not only ordered to the millisecond: the 12 bits of rand_a are
 * a counter (RFC 9562 section 6.2, method 1) started at a random value below
 * 2048 each new millisecond, and should it run out, or the clock step back,
 * the time field moves on from the last id's instead of going backwards.
 * So two submissions made in one millisecond still list in creation order.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store-int.h"
#include "vd/alloc.h"

/* ---- ids, time, names ---------------------------------------------------- */

static void random_bytes(void *buf, size_t n)
{
    ssize_t k;
    /* Up to 256 bytes getrandom() never returns short once the pool is
     * initialised; it blocks only in early boot, and EINTR is retried. Any
     * other failure (seccomp, a pre-3.17 kernel) leaves no source we would
     * trust for unguessable ids, so it is fatal rather than quietly weak. */
    do
        k = getrandom(buf, n, 0);
    while (k < 0 && errno == EINTR);
    if (k != (ssize_t)n)
        vd_assert_fail("getrandom() for submission ids", __FILE__, __LINE__);
}

static pthread_mutex_t id_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t id_last_ms;
static unsigned id_counter;

/* Fresh UUIDv7 text, lowercase 8-4-4-4-12, into id (37 bytes with the NUL).
 * Thread-safe; strictly increasing within the process (see the top). */
void vd_store_new_id(char id[VD_ID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16], rnd[10];
    uint64_t ms, now = (uint64_t)vd_now_ms();
    unsigned counter;

    random_bytes(rnd, sizeof(rnd));
    pthread_mutex_lock(&id_mu);
    if (now > id_last_ms) {
        id_last_ms = now;
        /* Random start below 2048 leaves at least 2048 ids this ms. */
        id_counter = ((unsigned)rnd[0] << 8 | rnd[1]) & 0x7ff;
    } else if (++id_counter > 0xfff) {
        id_last_ms++; /* borrow the next ms: order beats exact time */
        id_counter = 0;
    }
    ms = id_last_ms;
    counter = id_counter;
    pthread_mutex_unlock(&id_mu);

    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | (counter >> 8)); /* version 7 */
    b[7] = (unsigned char)counter;
    memcpy(b + 8, rnd + 2, 8);
    b[8] = (unsigned char)(0x80 | (b[8] & 0x3f)); /* variant 10 */

    char *p = id;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

/* The API's name of a status; "unknown" for a value outside the enum. */
const char *vd_sub_status_name(enum vd_sub_status s)
{
    switch (s) {
    case VD_SUB_CREATED:
        return "created";
    case VD_SUB_QUEUED:
        return "queued";
    case VD_SUB_RUNNING:
        return "running";
    case VD_SUB_FINISHED:
        return "finished";
    case VD_SUB_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

/* Frees the strings a store call filled in and leaves them NULL, so a
 * second call is harmless. The struct itself stays the caller's. */
void vd_submission_free(struct vd_submission *s)
{
    if (!s)
        return;
    vd_free(s->request);
    vd_free(s->result);
    vd_free(s->meta);
    vd_free(s->webhook_url);
    s->request = NULL;
    s->result = NULL;
    s->meta = NULL;
    s->webhook_url = NULL;
}

/* ---- open, close ------------------------------------------------------------ */

static int has_prefix(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Finds the backend for url and the part of it the backend opens: for
 * PostgreSQL the whole URL, which libpq reads. A string with no "scheme:" we
 * know is a path: paths may hold colons, and a typo in a scheme
 * ("sqlte://x") is caught because it has "://". */
static int pick_backend(const char *url, const struct vd__store_ops **ops, const char **target,
                        struct vd_errbuf *eb)
{
    if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://")) {
        *ops = &vd__store_pg_ops;
        *target = url;
        return 0;
    }
    *ops = &vd__store_sqlite_ops;
    if (has_prefix(url, "sqlite://"))
        *target = url + strlen("sqlite://");
    else if (has_prefix(url, "sqlite:"))
        *target = url + strlen("sqlite:");
    else if (strstr(url, "://"))
        return vd_errf(eb, VD_EINVAL,
                       "database URL %s: unknown scheme (use sqlite:PATH, a plain path or "
                       "postgres://...)",
                       url);
    else
        *target = url;
    if (!**target)
        return vd_errf(eb, VD_EINVAL, "database URL %s: no file path", url);
    return 0;
}

/* Opens the store named by url; on success *out is the caller's until
 * vd_store_close(). On failure eb says why (the backend's own words). */
int vd_store_open(const char *url, struct vd_store **out, struct vd_errbuf *eb)
{
    const struct vd__store_ops *ops = NULL;
    const char *target = NULL;
    void *impl = NULL;
    int rc;

    *out = NULL;
    if (!url || !*url)
        return vd_errf(eb, VD_EINVAL, "no database URL");
    rc = pick_backend(url, &ops, &target, eb);
    if (rc < 0)
        goto out;
    rc = ops->open(target, &impl, eb);
    if (rc < 0)
        goto out;
    struct vd_store *s = vd_xmalloc(sizeof(*s));
    s->ops = ops;
    s->impl = impl;
    *out = s;
out:
    return rc;
}

/* Closes the store; every call on it must have returned. NULL is a no-op. */
void vd_store_close(struct vd_store *s)
{
    if (!s)
        return;
    s->ops->close(s->impl);
    vd_free(s);
}

/* ---- forwarding ------------------------------------------------------------ */

/* The contracts (returns, ownership) are in vd/store.h. Here each call
 * checks what every backend would have to check, clears its outputs so a
 * failure leaves nothing half-filled, and forwards. */

/* Rejects an unterminated fixed-size field before any backend reads it. */
static int field_ok(const char *f, size_t cap)
{
    return memchr(f, '\0', cap) != NULL;
}

int vd_store_create(struct vd_store *s, struct vd_submission *sub)
{
    if (!sub || !sub->request || !field_ok(sub->id, sizeof(sub->id)) ||
        !field_ok(sub->owner, sizeof(sub->owner)) || !field_ok(sub->lang, sizeof(sub->lang)) ||
        !sub->lang[0] || (sub->status != VD_SUB_CREATED && sub->status != VD_SUB_QUEUED))
        return VD_EINVAL;
    /* An id left empty is made here: the caller rarely needs it before. */
    if (!sub->id[0])
        vd_store_new_id(sub->id);
    else if (strlen(sub->id) != VD_ID_LEN)
        return VD_EINVAL;
    return s->ops->create(s->impl, sub);
}

int vd_store_get(struct vd_store *s, const char *id, struct vd_submission *out)
{
    memset(out, 0, sizeof(*out));
    if (!id)
        return VD_EINVAL;
    return s->ops->get(s->impl, id, out);
}

int vd_store_peek(struct vd_store *s, const char *id, struct vd_submission *out)
{
    memset(out, 0, sizeof(*out));
    if (!id)
        return VD_EINVAL;
    return s->ops->peek(s->impl, id, out);
}

int vd_store_list(struct vd_store *s, const char *owner, size_t offset, size_t limit,
                  struct vd_submission **out, size_t *n, uint64_t *total)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    return s->ops->list(s->impl, owner, offset, limit, out, n, total);
}

int vd_store_set_running(struct vd_store *s, const char *id, int attempt)
{
    if (!id || attempt < 1)
        return VD_EINVAL;
    return s->ops->set_running(s->impl, id, attempt);
}

int vd_store_finish(struct vd_store *s, const char *id, int attempt, const char *verdict,
                    const char *result)
{
    if (!id || attempt < 1 || !verdict || !*verdict || strlen(verdict) > VD__STORE_VERDICT_MAX ||
        !result)
        return VD_EINVAL;
    return s->ops->finish(s->impl, id, attempt, verdict, result);
}

int vd_store_set_status(struct vd_store *s, const char *id, enum vd_sub_status st)
{
    /* Only queued (run it, or run it again) and cancelled are set this way:
     * running and finished carry an attempt or a result and have their own
     * calls, and nothing goes back to created. */
    if (!id || (st != VD_SUB_QUEUED && st != VD_SUB_CANCELLED))
        return VD_EINVAL;
    return s->ops->set_status(s->impl, id, st);
}

int vd_store_rerun(struct vd_store *s, const char *id)
{
    if (!id)
        return VD_EINVAL;
    return s->ops->rerun(s->impl, id);
}

int vd_store_delete(struct vd_store *s, const char *id)
{
    if (!id)
        return VD_EINVAL;
    return s->ops->remove(s->impl, id);
}

int vd_store_sweep(struct vd_store *s, int64_t finished_before_ms, uint64_t *deleted)
{
    *deleted = 0;
    return s->ops->sweep(s->impl, finished_before_ms, deleted);
}

int vd_store_counts(struct vd_store *s, struct vd_store_counts *out)
{
    memset(out, 0, sizeof(*out));
    return s->ops->counts(s->impl, out);
}

int vd_store_ping(struct vd_store *s)
{
    return s->ops->ping(s->impl);
}

uint64_t vd_store_reconnects(struct vd_store *s)
{
    return s->ops->reconnects ? s->ops->reconnects(s->impl) : 0;
}

int vd_store_claim(struct vd_store *s, char id[VD_ID_LEN + 1], int *attempt)
{
    id[0] = '\0';
    *attempt = 0;
    return s->ops->claim(s->impl, id, attempt);
}

int vd_store_queued(struct vd_store *s, uint64_t *n)
{
    *n = 0;
    return s->ops->depth(s->impl, n);
}

int vd_store_requeue_running(struct vd_store *s, uint64_t *n)
{
    *n = 0;
    return s->ops->recover(s->impl, n);
}

int vd_store_unfinished_ids(struct vd_store *s, int64_t before_ms, size_t max,
                        char (*ids)[VD_ID_LEN + 1], size_t *n)
{
    *n = 0;
    if (!ids || max == 0)
        return VD_EINVAL;
    return s->ops->unfinished_ids(s->impl, before_ms, max, ids, n);
}

/* ---- 003_auth: sessions' runs, live counts, webhooks, keys, users --------- */

const char *vd_webhook_state_name(enum vd_webhook_state s)
{
    static const char *const names[] = {"none", "pending", "delivered", "failed"};
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

int vd_store_list_session(struct vd_store *s, const char *session_id, size_t offset, size_t limit,
                          struct vd_submission **out, size_t *n, uint64_t *total)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    if (!session_id || !*session_id)
        return VD_EINVAL;
    return s->ops->list_session(s->impl, session_id, offset, limit, out, n, total);
}

int vd_store_active(struct vd_store *s, const char *owner, uint64_t *n)
{
    *n = 0;
    return s->ops->active(s->impl, owner ? owner : "", n);
}

int vd_store_webhooks_due(struct vd_store *s, int64_t now_ms, size_t max,
                          struct vd_submission **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    return s->ops->webhooks_due(s->impl, now_ms, max, out, n);
}

int vd_store_webhook_record(struct vd_store *s, const char *id, int attempt, int http_status,
                            const char *error, enum vd_webhook_state state, int64_t next_ms,
                            const char *delivery)
{
    if (!id || attempt < 1 || state < VD_WEBHOOK_PENDING || state > VD_WEBHOOK_FAILED)
        return VD_EINVAL;
    return s->ops->webhook_record(s->impl, id, attempt, http_status, error, state, next_ms,
                                  delivery);
}

int vd_store_key_create(struct vd_store *s, const struct vd_key *k)
{
    if (!k->id[0] || !k->name[0] || (strcmp(k->role, "admin") != 0 && strcmp(k->role, "client")) ||
        !k->tier[0] || !k->secret_hash[0])
        return VD_EINVAL;
    return s->ops->key_create(s->impl, k);
}

int vd_store_key_get(struct vd_store *s, const char *id, struct vd_key *out)
{
    memset(out, 0, sizeof(*out));
    if (!id)
        return VD_EINVAL;
    return s->ops->key_get(s->impl, id, out);
}

int vd_store_key_list(struct vd_store *s, struct vd_key **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return s->ops->key_list(s->impl, out, n);
}

int vd_store_key_revoke(struct vd_store *s, const char *id)
{
    if (!id)
        return VD_EINVAL;
    return s->ops->key_revoke(s->impl, id);
}

int vd_store_user_create(struct vd_store *s, struct vd_user *u)
{
    if (!u->username[0] || !u->email[0] || !u->password_hash[0] ||
        (strcmp(u->role, "user") != 0 && strcmp(u->role, "admin") != 0) || !u->tier[0])
        return VD_EINVAL;
    if (!u->id[0])
        vd_store_new_id(u->id);
    return s->ops->user_create(s->impl, u);
}

int vd_store_user_get(struct vd_store *s, const char *id, struct vd_user *out)
{
    memset(out, 0, sizeof(*out));
    if (!id)
        return VD_EINVAL;
    return s->ops->user_get(s->impl, id, out);
}

int vd_store_user_find(struct vd_store *s, const char *login, struct vd_user *out)
{
    memset(out, 0, sizeof(*out));
    if (!login || !*login)
        return VD_EINVAL;
    return s->ops->user_find(s->impl, login, out);
}

void vd_session_free(struct vd_session *x)
{
    if (!x)
        return;
    vd_free(x->source);
    x->source = NULL;
}

int vd_store_session_create(struct vd_store *s, struct vd_session *x)
{
    if (!x->lang[0] || !x->source)
        return VD_EINVAL;
    if (!x->id[0])
        vd_store_new_id(x->id);
    return s->ops->session_create(s->impl, x);
}

int vd_store_session_get(struct vd_store *s, const char *id, struct vd_session *out)
{
    memset(out, 0, sizeof(*out));
    if (!id)
        return VD_EINVAL;
    return s->ops->session_get(s->impl, id, out);
}

int vd_store_session_save(struct vd_store *s, const char *id, const char *source, int64_t based_on,
                          int64_t *current)
{
    *current = 0;
    if (!id || !source || based_on < 1)
        return VD_EINVAL;
    return s->ops->session_save(s->impl, id, source, based_on, current);
}

int vd_store_session_delete(struct vd_store *s, const char *id)
{
    if (!id)
        return VD_EINVAL;
    return s->ops->session_delete(s->impl, id);
}

int vd_store_session_list(struct vd_store *s, const char *owner, size_t offset, size_t limit,
                          struct vd_session **out, size_t *n, uint64_t *total)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    return s->ops->session_list(s->impl, owner ? owner : "", offset, limit, out, n, total);
}

int vd_store_signature_seen(struct vd_store *s, const char *sig, int64_t expires_ms, int64_t now_ms)
{
    if (!sig || !*sig)
        return VD_EINVAL;
    return s->ops->signature_seen(s->impl, sig, expires_ms, now_ms);
}
