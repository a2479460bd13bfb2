/*
 * store-int.h - what the files of src/store share, and nothing else does.
 *
 * A backend fills in one struct vd__store_ops (STYLE 3.9, as redis'
 * ConnectionType); store.c picks the backend from the URL and forwards every
 * vd_store_* call through the table. Each operation receives the backend's
 * own state (impl) and has the contract of the public call of the same name
 * in vd/store.h, so the second backend (PostgreSQL, store_pg.c) is a second
 * table and no caller changes.
 *
 * The last three operations serve the embedded queue (src/queue/
 * queue_store.c, through vd_store_claim() and friends): in that queue a
 * queued submission is the queue entry, so only the store can claim one.
 */
#ifndef VD_STORE_INT_H
#define VD_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "vd/store.h"

struct vd__store_ops {
    /* target: for SQLite the URL with the scheme removed (a file path), for
     * PostgreSQL the whole URL. */
    int (*open)(const char *target, void **impl, struct vd_errbuf *eb);
    void (*close)(void *impl); /* every borrowed resource is back by then */

    int (*create)(void *impl, struct vd_submission *sub);
    int (*get)(void *impl, const char *id, struct vd_submission *out);
    int (*peek)(void *impl, const char *id, struct vd_submission *out);
    int (*list)(void *impl, const char *owner, size_t offset, size_t limit,
                struct vd_submission **out, size_t *n, uint64_t *total);
    int (*set_running)(void *impl, const char *id, int attempt);
    int (*finish)(void *impl, const char *id, int attempt, const char *verdict, const char *result);
    int (*set_status)(void *impl, const char *id, enum vd_sub_status st);
    int (*rerun)(void *impl, const char *id);
    /* vd_store_delete (named so because clang-format reads C as C++). */
    int (*remove)(void *impl, const char *id);
    int (*sweep)(void *impl, int64_t finished_before_ms, uint64_t *deleted);
    int (*counts)(void *impl, struct vd_store_counts *out);
    int (*ping)(void *impl);

    /* Embedded queue: the oldest queued submission turned running with
     * attempt + 1, in one statement (VD_ENOTFOUND when none is queued);
     * the number queued; every running one put back (a dead process's). */
    int (*claim)(void *impl, char id[VD_ID_LEN + 1], int *attempt);
    int (*depth)(void *impl, uint64_t *queued);
    int (*recover)(void *impl, uint64_t *requeued);

    /* Sessions' runs, live counts, webhooks, keys, users, code sessions
     * (003_auth), each with the contract of its vd_store_* call. */
    int (*list_session)(void *impl, const char *session_id, size_t offset, size_t limit,
                        struct vd_submission **out, size_t *n, uint64_t *total);
    int (*active)(void *impl, const char *owner, uint64_t *n);
    int (*webhooks_due)(void *impl, int64_t now_ms, size_t max, struct vd_submission **out,
                        size_t *n);
    int (*webhook_record)(void *impl, const char *id, int attempt, int http_status,
                          const char *error, enum vd_webhook_state state, int64_t next_ms,
                          const char *delivery);
    int (*key_create)(void *impl, const struct vd_key *k);
    int (*key_get)(void *impl, const char *id, struct vd_key *out);
    int (*key_list)(void *impl, struct vd_key **out, size_t *n);
    int (*key_revoke)(void *impl, const char *id);
    int (*user_create)(void *impl, struct vd_user *u);
    int (*user_get)(void *impl, const char *id, struct vd_user *out);
    int (*user_find)(void *impl, const char *login, struct vd_user *out);
    int (*session_create)(void *impl, struct vd_session *ses);
    int (*session_get)(void *impl, const char *id, struct vd_session *out);
    int (*session_save)(void *impl, const char *id, const char *source, int64_t based_on,
                        int64_t *current);
    int (*session_delete)(void *impl, const char *id);
    int (*session_list)(void *impl, const char *owner, size_t offset, size_t limit,
                        struct vd_session **out, size_t *n, uint64_t *total);
    int (*signature_seen)(void *impl, const char *sig, int64_t expires_ms, int64_t now_ms);

    /* Redis queue's sweep (vd_store_unfinished_ids). */
    int (*unfinished_ids)(void *impl, int64_t before_ms, size_t max, char (*ids)[VD_ID_LEN + 1],
                      size_t *n);
    /* Optional (NULL reads as 0): connections found broken and replaced
     * since open (vd_store_reconnects). SQLite's answer is always 0. */
    uint64_t (*reconnects)(void *impl);
};

struct vd_store {
    const struct vd__store_ops *ops;
    void *impl;
};

extern const struct vd__store_ops vd__store_sqlite_ops;
extern const struct vd__store_ops vd__store_pg_ops;

/* One schema migration of a SQL backend: the text that runs, and the file
 * under src/store/migrations/ that is its readable copy (the unit test keeps
 * the two identical). The list ends with a NULL sql. SQLite's files are
 * NNN_name.sql, PostgreSQL's pg/NNN_name.sql, under the same versions. */
struct vd__store_migration {
    int version;
    const char *file;
    const char *sql;
};
extern const struct vd__store_migration vd__store_sqlite_migrations[];
extern const struct vd__store_migration vd__store_pg_migrations[];

/* The largest verdict text a submission holds (its verdict[] minus the NUL). */
#define VD__STORE_VERDICT_MAX (sizeof(((struct vd_submission *)0)->verdict) - 1)

#endif /* VD_STORE_INT_H */
