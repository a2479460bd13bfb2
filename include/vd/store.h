/*
 * store.h - where submissions live: SQLite by default, PostgreSQL for
 * several nodes.
 *
 * The API server creates submissions and reads them; workers mark them
 * running and store results. A backend is a table of operations (struct
 * vd__store_ops in src/store/store-int.h); vd_store_open() picks it from the
 * URL: "sqlite:PATH" (or a plain path), or "postgres://..." (also
 * "postgresql://...", libpq's URL, plus pool=N: the most connections this
 * process keeps, 8 by default). Both backends answer every call alike.
 *
 * Ids are UUIDv7 text (time-ordered, 36 characters), so listing newest
 * first is an index scan and ids never collide across nodes.
 *
 * Errors: 0 or a negative VD_E* / -errno code; VD_ENOTFOUND for an unknown
 * id. Ownership: a struct vd_submission filled by the store owns its
 * strings until vd_submission_free().
 */
#ifndef VD_STORE_H
#define VD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "vd/clock.h"
#include "vd/err.h"

#define VD_ID_LEN 36

enum vd_sub_status {
    VD_SUB_CREATED = 0, /* stored, not queued ("execute": false) */
    VD_SUB_QUEUED,
    VD_SUB_RUNNING,
    VD_SUB_FINISHED,
    VD_SUB_CANCELLED,
};
const char *vd_sub_status_name(enum vd_sub_status s); /* "created", "queued", ... */

enum vd_webhook_state {
    VD_WEBHOOK_NONE = 0,
    VD_WEBHOOK_PENDING, /* delivered once the submission finishes */
    VD_WEBHOOK_DELIVERED,
    VD_WEBHOOK_FAILED,
};
const char *vd_webhook_state_name(enum vd_webhook_state s); /* "none", "pending", ... */

struct vd_submission {
    char id[VD_ID_LEN + 1];
    char owner[65]; /* who created it; "" for anonymous */
    char lang[41];
    char *request; /* the validated request, as JSON text */
    enum vd_sub_status status;
    char verdict[12]; /* "" until finished */
    char *result;     /* the judge's result, as JSON text; NULL until finished */
    /* {"metadata": ..., "callback_url": ...} from the request, as JSON text;
     * NULL when it had neither (or was stored before the column existed). */
    char *meta;
    char session_id[VD_ID_LEN + 1]; /* the code session it ran from; "" none */
    /* Its webhook (003_auth): state none/pending/delivered/failed, the URL
     * fixed when it was accepted, attempts made, last HTTP status (0: none),
     * why the last attempt failed, when the next is due, when it was done,
     * and the delivery id (the same on every retry; "" until the first). */
    enum vd_webhook_state webhook_state;
    char *webhook_url;
    int webhook_attempts;
    int webhook_status;
    char webhook_error[256];
    int64_t webhook_next_ms, webhook_done_ms;
    char webhook_delivery[VD_ID_LEN + 1];
    int attempt;                                 /* runs started so far */
    int64_t created_ms, started_ms, finished_ms; /* 0 when not yet */
};

void vd_submission_free(struct vd_submission *s); /* the strings; NULL-safe */

/* Fresh UUIDv7 text for a new submission. */
void vd_store_new_id(char id[VD_ID_LEN + 1]);

struct vd_store;

struct vd_store_counts {
    uint64_t created, queued, running, finished, cancelled;
};

int vd_store_open(const char *url, struct vd_store **out, struct vd_errbuf *eb) VD_MUST_CHECK;
void vd_store_close(struct vd_store *s);

/* Stores a new submission (id, owner, lang, request and status set by the
 * caller: CREATED or QUEUED; created_ms set here). In the embedded queue a
 * QUEUED submission is the queue entry itself, so an accepted job can never
 * be stored and not queued. */
int vd_store_create(struct vd_store *s, struct vd_submission *sub) VD_MUST_CHECK;
int vd_store_get(struct vd_store *s, const char *id, struct vd_submission *out) VD_MUST_CHECK;
/* The same without the request (out->request NULL): what a view, a status
 * check or a listing needs, without loading megabytes of source and tests.
 * vd_store_list() gives its rows this way too. */
int vd_store_peek(struct vd_store *s, const char *id, struct vd_submission *out) VD_MUST_CHECK;
/* Newest first; owner NULL lists everyone's. *out has *n entries (free
 * each, then vd_free the array); *total counts all that match. */
int vd_store_list(struct vd_store *s, const char *owner, size_t offset, size_t limit,
                  struct vd_submission **out, size_t *n, uint64_t *total) VD_MUST_CHECK;
/* Lifecycle, each refused (VD_EINVAL) when the current status does not
 * allow it. */
int vd_store_set_running(struct vd_store *s, const char *id, int attempt) VD_MUST_CHECK;
/* Stores the result of `attempt`; a stale attempt (a job that was re-run
 * meanwhile) is ignored and answers 0, so a result is stored once. */
int vd_store_finish(struct vd_store *s, const char *id, int attempt, const char *verdict,
                    const char *result) VD_MUST_CHECK;
int vd_store_set_status(struct vd_store *s, const char *id, enum vd_sub_status st) VD_MUST_CHECK;
/* Queues a created, finished or cancelled submission (again): its verdict
 * and result are cleared and the next claim is a new attempt. VD_EINVAL
 * when it is queued or running already. */
int vd_store_rerun(struct vd_store *s, const char *id) VD_MUST_CHECK;
int vd_store_delete(struct vd_store *s, const char *id) VD_MUST_CHECK;
/* Deletes finished and cancelled submissions older than the cutoff;
 * *deleted says how many. */
int vd_store_sweep(struct vd_store *s, int64_t finished_before_ms, uint64_t *deleted) VD_MUST_CHECK;
int vd_store_counts(struct vd_store *s, struct vd_store_counts *out) VD_MUST_CHECK;
int vd_store_ping(struct vd_store *s) VD_MUST_CHECK;
/* Connections to the database found broken and made again since open (for
 * /metrics); always 0 for SQLite, whose file needs no connection. */
uint64_t vd_store_reconnects(struct vd_store *s);

/* A session's runs, newest first (as vd_store_list). */
int vd_store_list_session(struct vd_store *s, const char *session_id, size_t offset, size_t limit,
                          struct vd_submission **out, size_t *n, uint64_t *total) VD_MUST_CHECK;
/* How many of owner's submissions are queued or running. */
int vd_store_active(struct vd_store *s, const char *owner, uint64_t *n) VD_MUST_CHECK;

/* ---- webhooks ---------------------------------------------------------------- */

/* Up to max finished submissions whose webhook is pending and due by now_ms,
 * the soonest first (rows as vd_store_peek gives them). */
int vd_store_webhooks_due(struct vd_store *s, int64_t now_ms, size_t max,
                          struct vd_submission **out, size_t *n) VD_MUST_CHECK;
/* Records attempt number `attempt` (the row must have attempt - 1 made, so a
 * second dispatcher's record of the same attempt is refused with VD_EINVAL):
 * its HTTP status (0: none) and error, the state it leaves (pending with
 * next_ms, delivered or failed) and the delivery id. */
int vd_store_webhook_record(struct vd_store *s, const char *id, int attempt, int http_status,
                            const char *error, enum vd_webhook_state state, int64_t next_ms,
                            const char *delivery) VD_MUST_CHECK;

/* ---- API keys and users (003_auth) ------------------------------------------ */

#define VD_KEY_ID_LEN 18 /* "vk" + 16 hex */

struct vd_key {
    char id[VD_KEY_ID_LEN + 1];
    char name[65];
    char role[8]; /* "admin" or "client" */
    char tier[33];
    char allowed_ips[512]; /* comma-separated CIDRs; "" anywhere */
    char secret_hash[65];  /* hex SHA-256 of the secret */
    int64_t created_ms, revoked_ms;
};

int vd_store_key_create(struct vd_store *s, const struct vd_key *k) VD_MUST_CHECK;
int vd_store_key_get(struct vd_store *s, const char *id, struct vd_key *out) VD_MUST_CHECK;
/* Oldest first; *out is an array of *n (vd_free it). */
int vd_store_key_list(struct vd_store *s, struct vd_key **out, size_t *n) VD_MUST_CHECK;
/* Sets revoked_ms (once; VD_EINVAL when revoked already). */
int vd_store_key_revoke(struct vd_store *s, const char *id) VD_MUST_CHECK;

struct vd_user {
    char id[VD_ID_LEN + 1];
    char username[51];
    char email[255];
    char password_hash[129]; /* argon2id string, libsodium's crypto_pwhash_STRBYTES */
    char role[8];            /* "user" or "admin" */
    char tier[33];
    int64_t created_ms;
};

/* -EEXIST when the username or the email is taken. */
int vd_store_user_create(struct vd_store *s, struct vd_user *u) VD_MUST_CHECK;
int vd_store_user_get(struct vd_store *s, const char *id, struct vd_user *out) VD_MUST_CHECK;
/* By username or email (exact). */
int vd_store_user_find(struct vd_store *s, const char *login, struct vd_user *out) VD_MUST_CHECK;

/* ---- code sessions ----------------------------------------------------------- */

struct vd_session {
    char id[VD_ID_LEN + 1];
    char owner[65];
    char lang[41];
    char *source;
    int64_t version;
    int64_t created_ms, updated_ms;
};
void vd_session_free(struct vd_session *s); /* the source; NULL-safe */

/* Stores a new session at version 1 (id, owner, lang, source set by the
 * caller; an empty id is made here; times set here). */
int vd_store_session_create(struct vd_store *s, struct vd_session *ses) VD_MUST_CHECK;
int vd_store_session_get(struct vd_store *s, const char *id, struct vd_session *out) VD_MUST_CHECK;
/* Saves source if the session is at version `based_on`, which becomes
 * based_on + 1; VD_EINVAL with *current set when it is not (a stale
 * save). */
int vd_store_session_save(struct vd_store *s, const char *id, const char *source, int64_t based_on,
                          int64_t *current) VD_MUST_CHECK;
int vd_store_session_delete(struct vd_store *s, const char *id) VD_MUST_CHECK;
/* owner's sessions, newest first; *out has *n (free each, vd_free the array). */
int vd_store_session_list(struct vd_store *s, const char *owner, size_t offset, size_t limit,
                          struct vd_session **out, size_t *n, uint64_t *total) VD_MUST_CHECK;

/* ---- signed requests seen (004_signatures) ------------------------------- */

/* Records a signed request's signature until expires_ms: 0 the first time,
 * VD_EAUTH when it was seen before (a replay). Rows past their time go, a
 * few at a time, as now_ms moves on. */
int vd_store_signature_seen(struct vd_store *s, const char *sig, int64_t expires_ms, int64_t now_ms)
    VD_MUST_CHECK;

/* For the embedded queue (src/queue/queue_store.c) only; everyone else goes
 * through vd_queue_*. Claim turns the oldest queued submission running with
 * attempt + 1 in one statement and gives its id and attempt, VD_ENOTFOUND
 * when none is queued; queued counts the waiting ones; requeue_running puts
 * every running one back in the queue (*n says how many). */
int vd_store_claim(struct vd_store *s, char id[VD_ID_LEN + 1], int *attempt) VD_MUST_CHECK;
int vd_store_queued(struct vd_store *s, uint64_t *n) VD_MUST_CHECK;
int vd_store_requeue_running(struct vd_store *s, uint64_t *n) VD_MUST_CHECK;
/* For the Redis queue's sweep: up to max ids of submissions queued, or
 * running, since before before_ms, oldest first (by when they were queued),
 * into ids (*n of them). A queued row whose stream entry was never written
 * (the process died between the two), or a running one whose entry is gone
 * (Redis lost it), is found this way and pushed again. */
int vd_store_unfinished_ids(struct vd_store *s, int64_t before_ms, size_t max,
                        char (*ids)[VD_ID_LEN + 1], size_t *n) VD_MUST_CHECK;

#endif /* VD_STORE_H */
