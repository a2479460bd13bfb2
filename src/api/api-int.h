/*
 * api-int.h - what the files of src/api share: the API's state and the
 * helpers every handler uses to answer.
 */
#ifndef VD_API_INT_H
#define VD_API_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "vd/api.h"
#include "vd/auth.h"
#include "vd/config.h"
#include "vd/http.h"
#include "vd/store.h"

#define VD__API_STATUS_MAX 600 /* HTTP statuses counted for /metrics */

/* Rendered views of finished submissions (viewcache.c). */
struct vd__api_cache;
struct vd_submission;
struct vd__api_cache *vd__api_cache_new(void);
void vd__api_cache_free(struct vd__api_cache *c);
/* Appends the cached view of s to out and returns 1 when one was rendered
 * from the same attempt and finish; 0 otherwise. */
int vd__api_cache_get(struct vd__api_cache *c, const struct vd_submission *s, struct vd_buf *out);
/* Keeps the view of finished s (too large ones are not kept). */
void vd__api_cache_put(struct vd__api_cache *c, const struct vd_submission *s, const char *body,
                       size_t len);

/* Who is calling: resolved once per request (callers.c). */
enum vd__who_kind {
    VD__WHO_ANONYMOUS = 0,
    VD__WHO_KEY,
    VD__WHO_USER
};

struct vd__who {
    enum vd__who_kind kind;
    char id[VD_ID_LEN + 1]; /* key id or user id; "" anonymous */
    char name[65];          /* key name or username */
    char role[8];           /* admin, client, user; "" anonymous */
    char tier[33];
    char owner[65];     /* what it owns: "key:<id>", "user:<id>", "" anonymous */
    char limit_key[80]; /* whose bucket: the owner, or "ip:<addr>" anonymous */
    int admin;
};

/* A request on its way through a handler: the ctx of every route. */
struct vd__call {
    struct vd_api *a;
    struct vd__who who;
};

/* Route flags. */
#define VD__ROUTE_PUBLIC 1u /* no credentials needed, even with auth on */

struct vd_api {
    struct vd_api_config c;
    unsigned char master[256]; /* the master secret */
    size_t master_len;
    int auth_required;
    struct vd_auth_tier tiers[VD_AUTH_TIERS_MAX];
    size_t ntiers;
    struct vd_auth_limiter *limiter;
    struct vd_auth_replay *replay;
    /* Held from the cap's count to the INSERT, per owner (striped), so that
     * concurrent submissions of one caller cannot all pass one count. */
    pthread_mutex_t owner_mu[64];
    struct vd_api_caps caps;
    int64_t started_ms;
    atomic_int shutting_down;
    atomic_uint_fast64_t created;                       /* submissions accepted */
    atomic_uint_fast64_t by_status[VD__API_STATUS_MAX]; /* responses by HTTP status */
    char *languages_json;                               /* GET /api/v1/languages, made once */
    char *languages_all_json;                           /* the same with ?all=true */
    struct vd__api_cache *views;                        /* finished views, rendered */
};

/* Answers with o as the body (takes the reference, even on failure). */
void vd__api_json(struct vd_http_response *res, int status, json_t *o);
/* 503 for a store or queue that failed, with Retry-After. */
void vd__api_unavailable(struct vd_http_response *res, const char *what, int rc);
/* A boolean query parameter: 0 or 1, or -1 after answering 400. */
int vd__api_bool_param(const struct vd_http_request *req, struct vd_http_response *res,
                       const char *name);
/* An integer query parameter in [lo, hi] (dflt when absent): 0 with *out,
 * or -1 after answering 400. */
int vd__api_int_param(const struct vd_http_request *req, struct vd_http_response *res,
                      const char *name, long long dflt, long long lo, long long hi, long long *out);

/* The callers' state in a (callers.c): master secret, tiers, limiter,
 * replay cache; init checks the settings. */
int vd__api_callers_init(struct vd_api *a, struct vd_errbuf *eb);
void vd__api_callers_free(struct vd_api *a);

/* Resolves the caller (callers.c): 0 with call->who filled, or -1 after
 * answering 401/403/503. */
int vd__api_authenticate(struct vd__call *call, const struct vd_http_request *req,
                         unsigned route_flags, struct vd_http_response *res);
/* The tier named (the last one when unknown: never none). */
const struct vd_auth_tier *vd__api_tier(const struct vd_api *a, const char *name);
/* Charges cost tokens to the caller's bucket, with RateLimit-* headers: 0,
 * or -1 after answering 429. */
int vd__api_charge(struct vd__call *call, double cost, struct vd_http_response *res);
/* Refuses (429, -1) when the caller has as many live submissions as its
 * tier allows, counting `adding` more. */
int vd__api_check_active(struct vd__call *call, size_t adding, struct vd_http_response *res);
/* The RateLimit-* headers of the caller's bucket as it stands. */
void vd__api_rate_headers(struct vd__call *call, struct vd_http_response *res);
/* Held from the cap's count to the INSERT: owner's stripe of owner_mu in
 * this process, and with Redis a lock of the owner's across API nodes. */
struct vd__owner_hold {
    pthread_mutex_t *mu;
    char token[33]; /* "" when no cluster lock is held */
};
void vd__api_owner_enter(struct vd__call *call, struct vd__owner_hold *h);
void vd__api_owner_leave(struct vd__call *call, struct vd__owner_hold *h);
/* For one item of a batch: a token, and room under the cap when it is to
 * run. 0, or -1 with the refusal (429) in *e; nothing is answered. */
int vd__api_limit_item(struct vd__call *call, int execute, struct vd_api_error *e);
/* Whether the caller may see what owner owns (admins see everything). */
int vd__api_owns(const struct vd__call *call, const char *owner);
/* 403 unless the caller is an admin (-1 after answering). */
int vd__api_need_admin(const struct vd__call *call, struct vd_http_response *res);

/* Handlers of callers.c and sessions.c (ctx is a struct vd__call). */
#define VD__HANDLER(name)                                                      \
    void name(void *ctx, const struct vd_http_request *req, const char *param, \
              struct vd_http_response *res)
VD__HANDLER(vd__api_register);
VD__HANDLER(vd__api_login);
VD__HANDLER(vd__api_refresh);
VD__HANDLER(vd__api_me);
VD__HANDLER(vd__api_keys_create);
VD__HANDLER(vd__api_keys_list);
VD__HANDLER(vd__api_keys_get);
VD__HANDLER(vd__api_keys_revoke);
VD__HANDLER(vd__api_session_create);
VD__HANDLER(vd__api_session_list);
VD__HANDLER(vd__api_session_get);
VD__HANDLER(vd__api_session_save);
VD__HANDLER(vd__api_session_delete);
VD__HANDLER(vd__api_session_run);
VD__HANDLER(vd__api_session_runs);

/* Accepts a checked request as the caller's submission (submissions.c),
 * from a session when session_id is given; id gets its id. -1 after
 * answering the refusal. */
int vd__api_submit(struct vd__call *call, const struct vd_api_request *r, const char *session_id,
                   char id[VD_ID_LEN + 1], struct vd_http_response *res);
/* Answers id after ?wait (wait_ms), or 202 with Location (submissions.c). */
void vd__api_answer_accepted(struct vd__call *call, const char *id, int wait, long long wait_ms,
                             struct vd_http_response *res);
/* The ?wait and ?timeout_ms parameters: 0, or -1 after a 400. */
int vd__api_wait_params(struct vd_api *a, const struct vd_http_request *req,
                        struct vd_http_response *res, int *wait, long long *timeout);
/* Answers a failed store call about id: 404 unknown, 503 failed. 1 when it
 * answered. */
int vd__api_store_failed(struct vd_http_response *res, int rc, const char *id);

/* ?page (from 1) and ?limit (1 to 100, default 20) of every listing: 0,
 * or -1 after a 400. */
int vd__api_page_params(const struct vd_http_request *req, struct vd_http_response *res,
                        long long *page, long long *limit);

/* The submission handlers (submissions.c). */
void vd__api_post(void *ctx, const struct vd_http_request *req, const char *param,
                  struct vd_http_response *res);
void vd__api_batch(void *ctx, const struct vd_http_request *req, const char *param,
                   struct vd_http_response *res);
void vd__api_list(void *ctx, const struct vd_http_request *req, const char *param,
                  struct vd_http_response *res);
void vd__api_get(void *ctx, const struct vd_http_request *req, const char *param,
                 struct vd_http_response *res);
void vd__api_delete(void *ctx, const struct vd_http_request *req, const char *param,
                    struct vd_http_response *res);
void vd__api_execute(void *ctx, const struct vd_http_request *req, const char *param,
                     struct vd_http_response *res);
void vd__api_events(void *ctx, const struct vd_http_request *req, const char *param,
                    struct vd_http_response *res);

#endif /* VD_API_INT_H */
