/*
 * callers.c - who is calling: credentials, the limits that apply to them,
 * and the endpoints of keys (admin) and users (register, login, refresh).
 *
 * Theory of operation. vd__api_authenticate() runs before every handler
 * (api.c) and resolves exactly one principal:
 *   - X-Api-Key with X-Api-Timestamp and X-Api-Signature: a signed
 *     server-to-server request. The key must exist and not be revoked, the
 *     timestamp must be within the window, the signature (HMAC-SHA256 with
 *     the key's secret over timestamp, method, the request target as sent
 *     and the body) must match, and must not have been seen before: it is
 *     remembered for as long as its timestamp could pass.
 *   - Authorization: Bearer vk_...: the key's secret itself, when the
 *     setting allows it.
 *   - Authorization: Bearer <JWT>: an end user's access token.
 *   - nothing: anonymous, allowed only while auth is off or on public
 *     routes.
 * Credentials that are sent are always checked, even with auth off: a
 * wrong one is a 401, never silently anonymous. Every secret comparison
 * goes through vd_auth_equal (constant time), and a failing login does the
 * same argon2id work whether or not the user exists. No secret, token or
 * signature is ever logged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api-int.h"
#include "vd/alloc.h"
#include "vd/buf.h"
#include "vd/clock.h"
#include "vd/cluster.h"
#include "vd/hash.h"
#include "vd/log.h"
#include "vd/store.h"

#define REPLAY_MAX 262144
#define LIMITER_MAX 262144
#define BODY_FIELD_MAX 1024

/* ---- answers ---------------------------------------------------------------- */

VD_PRINTF(3, 4)
static int unauthorized(struct vd_http_response *res, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vd_http_error(res, 401, code, NULL, "%s", msg);
    vd_http_set_header(res, "WWW-Authenticate", "Bearer realm=\"verdict\"");
    return -1;
}

int vd__api_need_admin(const struct vd__call *call, struct vd_http_response *res)
{
    if (call->who.admin)
        return 0;
    vd_http_error(res, 403, "forbidden", NULL, "this needs an admin key or an admin user");
    return -1;
}

/* ---- tiers and limits -------------------------------------------------------- */

static const struct vd_auth_tier *find_tier(const struct vd_api *a, const char *name)
{
    for (size_t i = 0; i < a->ntiers; i++)
        if (strcmp(a->tiers[i].name, name) == 0)
            return &a->tiers[i];
    return NULL;
}

/* A tier no longer in rate_tiers (the settings changed) is treated as the
 * default tier: never as the last one, which may be unlimited. */
const struct vd_auth_tier *vd__api_tier(const struct vd_api *a, const char *name)
{
    const struct vd_auth_tier *t = find_tier(a, name);
    return t ? t : find_tier(a, a->c.cfg->default_tier);
}

static void set_num(struct vd_http_response *res, const char *name, double v)
{
    char s[32];
    snprintf(s, sizeof(s), "%lld", (long long)(v + 0.999));
    vd_http_set_header(res, name, s);
}

/* RateLimit-Limit, -Remaining and -Reset for a take from tier t's bucket;
 * none for a tier that does not limit. */
static void set_rate_headers(struct vd_http_response *res, const struct vd_auth_tier *t,
                             const struct vd_auth_take *tk)
{
    char v[32];
    if (t->rate <= 0)
        return;
    snprintf(v, sizeof(v), "%lld", (long long)t->burst);
    vd_http_set_header(res, "RateLimit-Limit", v);
    snprintf(v, sizeof(v), "%lld", (long long)tk->remaining);
    vd_http_set_header(res, "RateLimit-Remaining", v);
    set_num(res, "RateLimit-Reset", tk->reset_s);
}

/* With Redis the bucket is shared by every API node; should Redis fail,
 * this node's own bucket answers, so an outage does not stop the API (it
 * only lets a caller spread over several nodes get more). */
static void take(struct vd__call *call, const struct vd_auth_tier *t, double cost,
                 struct vd_auth_take *tk)
{
    struct vd_api *a = call->a;
    if (a->c.cluster && vd_cluster_take(a->c.cluster, call->who.limit_key, t, cost, tk) == 0)
        return;
    vd_auth_limiter_take(a->limiter, call->who.limit_key, t, cost, vd_now_ms(), tk);
}

void vd__api_rate_headers(struct vd__call *call, struct vd_http_response *res)
{
    const struct vd_auth_tier *t = vd__api_tier(call->a, call->who.tier);
    struct vd_auth_take tk;
    /* A take of nothing: the bucket as it stands. */
    take(call, t, 0, &tk);
    set_rate_headers(res, t, &tk);
}

int vd__api_charge(struct vd__call *call, double cost, struct vd_http_response *res)
{
    const struct vd_auth_tier *t = vd__api_tier(call->a, call->who.tier);
    struct vd_auth_take tk;
    take(call, t, cost, &tk);
    set_rate_headers(res, t, &tk);
    if (tk.allowed)
        return 0;
    /* The headers set so far are kept by vd_http_error (it keeps headers). */
    vd_http_error(res, 429, "rate_limited", NULL,
                  "too many requests for tier %s: %g per second, bursts of %g", t->name, t->rate,
                  t->burst);
    set_num(res, "Retry-After", tk.retry_after_s);
    return -1;
}

/* 1 when the caller may have `adding` more live submissions under tier t
 * (*n: how many it has), 0 when not, or the store's error. */
static int active_room(struct vd__call *call, const struct vd_auth_tier *t, size_t adding,
                       uint64_t *n)
{
    *n = 0;
    if (t->active == 0)
        return 1;
    int rc = vd_store_active(call->a->c.store, call->who.owner, n);
    return rc < 0 ? rc : *n + adding <= t->active;
}

int vd__api_check_active(struct vd__call *call, size_t adding, struct vd_http_response *res)
{
    const struct vd_auth_tier *t = vd__api_tier(call->a, call->who.tier);
    uint64_t n;
    int rc = active_room(call, t, adding, &n);
    if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
        return -1;
    }
    if (rc)
        return 0;
    vd_http_error(res, 429, "too_many_active", NULL,
                  "%llu submissions queued or running; tier %s allows %u at once",
                  (unsigned long long)n, t->name, t->active);
    vd_http_set_header(res, "Retry-After", "1");
    return -1;
}

int vd__api_limit_item(struct vd__call *call, int execute, struct vd_api_error *e)
{
    const struct vd_auth_tier *t = vd__api_tier(call->a, call->who.tier);
    struct vd_auth_take tk;
    uint64_t n = 0;
    memset(e, 0, sizeof(*e));
    vd_auth_limiter_take(call->a->limiter, call->who.limit_key, t, 1, vd_now_ms(), &tk);
    if (!tk.allowed) {
        e->status = 429;
        snprintf(e->code, sizeof(e->code), "rate_limited");
        snprintf(e->message, sizeof(e->message), "tier %s: retry in %.1f s", t->name,
                 tk.retry_after_s);
        return -1;
    }
    if (execute && active_room(call, t, 1, &n) != 1) {
        e->status = 429;
        snprintf(e->code, sizeof(e->code), "too_many_active");
        snprintf(e->message, sizeof(e->message), "%llu queued or running; tier %s allows %u",
                 (unsigned long long)n, t->name, t->active);
        return -1;
    }
    return 0;
}

#define OWNER_LOCK_TTL_MS 5000
#define OWNER_LOCK_WAIT_MS 2000

void vd__api_owner_enter(struct vd__call *call, struct vd__owner_hold *h)
{
    struct vd_api *a = call->a;
    const struct vd_auth_tier *t = vd__api_tier(a, call->who.tier);
    h->mu = &a->owner_mu[vd_hash_str(call->who.owner) % (sizeof(a->owner_mu) /
                                                         sizeof(a->owner_mu[0]))];
    h->token[0] = '\0';
    pthread_mutex_lock(h->mu);
    /* Only a tier with a cap has a count to protect. Should Redis fail or
     * the lock stay taken (a node died holding it), the submission goes on
     * under this node's lock alone: the cap is then per node for a moment,
     * which is better than refusing work. */
    if (a->c.cluster && t->active > 0) {
        char name[80];
        snprintf(name, sizeof(name), "owner:%s", call->who.owner);
        if (vd_cluster_lock(a->c.cluster, name, OWNER_LOCK_TTL_MS, OWNER_LOCK_WAIT_MS,
                            h->token) < 0)
            h->token[0] = '\0';
    }
}

void vd__api_owner_leave(struct vd__call *call, struct vd__owner_hold *h)
{
    if (h->token[0]) {
        char name[80];
        snprintf(name, sizeof(name), "owner:%s", call->who.owner);
        vd_cluster_unlock(call->a->c.cluster, name, h->token);
    }
    pthread_mutex_unlock(h->mu);
}

int vd__api_owns(const struct vd__call *call, const char *owner)
{
    return call->who.admin || strcmp(call->who.owner, owner ? owner : "") == 0;
}

void vd_api_webhook_secret(const struct vd_api *a, const char *owner, char *out, size_t cap)
{
    if (owner && strncmp(owner, "key:", 4) == 0) {
        char secret[VD_AUTH_KEY_SECRET_LEN + 1];
        vd_auth_key_secret(a->master, a->master_len, owner + 4, secret);
        snprintf(out, cap, "%s", secret);
    } else if (a->c.cfg->webhook_secret[0]) {
        snprintf(out, cap, "%s", a->c.cfg->webhook_secret);
    } else {
        char hex[VD_AUTH_HEX_LEN + 1];
        vd_auth_hmac_hex(a->master, a->master_len, "verdict webhook v1", 18, hex);
        snprintf(out, cap, "%s", hex);
    }
}

/* ---- credentials ------------------------------------------------------------- */

static void who_key(struct vd__who *w, const struct vd_key *k)
{
    w->kind = VD__WHO_KEY;
    snprintf(w->id, sizeof(w->id), "%s", k->id);
    snprintf(w->name, sizeof(w->name), "%s", k->name);
    snprintf(w->role, sizeof(w->role), "%s", k->role);
    snprintf(w->tier, sizeof(w->tier), "%s", k->tier);
    snprintf(w->owner, sizeof(w->owner), "key:%s", k->id);
    snprintf(w->limit_key, sizeof(w->limit_key), "%s", w->owner);
    w->admin = strcmp(k->role, "admin") == 0;
}

/* The key named id, alive, whose derived secret is still the stored one. */
static int load_key(struct vd__call *call, const char *id, struct vd_key *k, char *secret,
                    struct vd_http_response *res)
{
    char hash[VD_AUTH_HEX_LEN + 1];
    int rc = vd_store_key_get(call->a->c.store, id, k);
    if (rc == VD_ENOTFOUND)
        return unauthorized(res, "unknown_key", "no API key %.40s", id);
    if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
        return -1;
    }
    if (k->revoked_ms)
        return unauthorized(res, "revoked_key", "API key %.40s was revoked", id);
    vd_auth_key_secret(call->a->master, call->a->master_len, k->id, secret);
    vd_auth_sha256_hex(secret, strlen(secret), hash);
    if (!vd_auth_equal(hash, k->secret_hash, VD_AUTH_HEX_LEN))
        /* Made under another master secret: it cannot be honoured. */
        return unauthorized(res, "unknown_key", "API key %.40s belongs to another master secret",
                            id);
    return 0;
}

static int check_key_ip(const struct vd_key *k, const struct vd_http_request *req,
                        struct vd_http_response *res)
{
    if (vd_auth_cidrs_match(k->allowed_ips, req->remote))
        return 0;
    vd_http_error(res, 403, "ip_not_allowed", NULL, "API key %s may not be used from %s", k->id,
                  req->remote);
    return -1;
}

static int signed_request(struct vd__call *call, const struct vd_http_request *req,
                          const char *key_id, struct vd_http_response *res)
{
    const char *ts = vd_http_header(req, "X-Api-Timestamp");
    const char *sig = vd_http_header(req, "X-Api-Signature");
    char secret[VD_AUTH_KEY_SECRET_LEN + 1], want[VD_AUTH_HEX_LEN + 1];
    struct vd_key k;
    struct vd_buf canon;
    char *end = NULL;
    int rc = -1;

    if (!ts)
        return unauthorized(res, "stale_request", "%s",
                            "a signed request needs X-Api-Timestamp (Unix seconds)");
    if (!sig)
        return unauthorized(res, "bad_signature", "%s", "a signed request needs X-Api-Signature");
    /* Unix seconds, with a fraction if the client likes: two requests that
     * are the same byte for byte within one second then still differ. */
    double tf = strtod(ts, &end);
    long long t = (long long)tf;
    int64_t now = vd_now_ms() / 1000, win = call->a->c.cfg->signature_window_s;
    if (!*ts || *end || !(tf >= 0 && tf < 1e12) || t < now - win || t > now + win)
        return unauthorized(res, "stale_request", "%s",
                            "X-Api-Timestamp is not Unix seconds within the allowed window");

    if (load_key(call, key_id, &k, secret, res) < 0)
        return -1;
    vd_buf_init(&canon, req->body_len + 16384);
    if (vd_auth_canonical(ts, req->method, req->target ? req->target : req->path, req->body,
                          req->body_len, &canon) < 0) {
        vd_buf_free(&canon);
        vd_http_error(res, 413, "too_large", NULL, "the request is too large to check");
        return -1;
    }
    vd_auth_hmac_hex(secret, strlen(secret), canon.data, canon.len, want);
    vd_buf_free(&canon);
    if (strlen(sig) != VD_AUTH_HEX_LEN || !vd_auth_equal(sig, want, VD_AUTH_HEX_LEN))
        return unauthorized(res, "bad_signature", "%s",
                            "X-Api-Signature does not match the request");
    /* Checked last: only a valid signature is remembered, so a forger
     * cannot make a client's real request look like a replay. */
    /* The memory cache answers a quick replay at once; Redis (when there
     * is one) or the store remembers across restarts and API nodes (it is
     * the one that counts). */
    rc = vd_auth_replay_check(call->a->replay, want, now * 1000, (t + win + 1) * 1000);
    if (rc == 0 && call->a->c.cluster) {
        rc = vd_cluster_seen(call->a->c.cluster, want, (t + win + 1 - now) * 1000);
        if (rc < 0 && rc != VD_EAUTH) {
            vd__api_unavailable(res, "Redis", rc);
            return -1;
        }
    } else if (rc == 0) {
        rc = vd_store_signature_seen(call->a->c.store, want, (t + win + 1) * 1000, now * 1000);
        if (rc < 0 && rc != VD_EAUTH) {
            vd__api_unavailable(res, "the store", rc);
            return -1;
        }
    }
    if (rc == VD_EAUTH)
        return unauthorized(res, "replayed", "%s", "this signed request was seen before");
    if (rc < 0) {
        vd_http_error(res, 503, "busy", NULL, "too many signed requests in the window");
        vd_http_set_header(res, "Retry-After", "1");
        return -1;
    }
    if (check_key_ip(&k, req, res) < 0)
        return -1;
    who_key(&call->who, &k);
    return 0;
}

static int bearer_key(struct vd__call *call, const struct vd_http_request *req, const char *tok,
                      struct vd_http_response *res)
{
    char id[19], secret[VD_AUTH_KEY_SECRET_LEN + 1];
    struct vd_key k;
    if (!call->a->c.cfg->allow_bearer_keys)
        return unauthorized(res, "bearer_keys_disabled", "%s",
                            "API keys must sign their requests here (allow_bearer_keys is off)");
    if (vd_auth_key_id_of(tok, id) < 0)
        return unauthorized(res, "bad_key", "%s", "not an API key");
    if (load_key(call, id, &k, secret, res) < 0)
        return -1;
    if (!vd_auth_equal(tok, secret, VD_AUTH_KEY_SECRET_LEN))
        return unauthorized(res, "bad_key", "%s", "wrong secret for this API key");
    if (check_key_ip(&k, req, res) < 0)
        return -1;
    who_key(&call->who, &k);
    return 0;
}

static int bearer_jwt(struct vd__call *call, const char *tok, struct vd_http_response *res)
{
    struct vd_auth_claims c;
    struct vd__who *w = &call->who;
    enum vd_auth_reason why =
        vd_auth_jwt_verify(call->a->master, call->a->master_len, tok, vd_now_ms() / 1000, &c);
    if (why == VD_AUTH_TOKEN_EXPIRED)
        return unauthorized(res, "token_expired", "%s", "the access token has expired");
    if (why != VD_AUTH_OK || strcmp(c.typ, "access") != 0)
        return unauthorized(res, "bad_token", "%s", "not a valid access token");
    if (strlen(c.sub) != VD_ID_LEN)
        return unauthorized(res, "bad_token", "%s", "not a valid access token");
    w->kind = VD__WHO_USER;
    snprintf(w->id, sizeof(w->id), "%.36s", c.sub);
    snprintf(w->role, sizeof(w->role), "%s", c.role);
    snprintf(w->tier, sizeof(w->tier), "%s", c.tier);
    snprintf(w->owner, sizeof(w->owner), "user:%.36s", c.sub);
    snprintf(w->limit_key, sizeof(w->limit_key), "%s", w->owner);
    w->admin = strcmp(c.role, "admin") == 0;
    return 0;
}

int vd__api_authenticate(struct vd__call *call, const struct vd_http_request *req,
                         unsigned route_flags, struct vd_http_response *res)
{
    struct vd_api *a = call->a;
    const char *key = vd_http_header(req, "X-Api-Key");
    const char *authz = vd_http_header(req, "Authorization");

    memset(&call->who, 0, sizeof(call->who));
    if (key)
        return signed_request(call, req, key, res);
    if (authz) {
        if (strncasecmp(authz, "Bearer ", 7) != 0)
            return unauthorized(res, "bad_token", "%s", "Authorization takes Bearer credentials");
        const char *tok = authz + 7;
        while (*tok == ' ')
            tok++;
        if (strncmp(tok, "vk_", 3) == 0)
            return bearer_key(call, req, tok, res);
        return bearer_jwt(call, tok, res);
    }
    if (a->auth_required && !(route_flags & VD__ROUTE_PUBLIC))
        return unauthorized(res, "unauthenticated", "%s",
                            "credentials are needed: a signed request, an API key or a token");
    /* Anonymous: its own bucket per address. */
    snprintf(call->who.tier, sizeof(call->who.tier), "%s", a->c.cfg->anonymous_tier);
    snprintf(call->who.limit_key, sizeof(call->who.limit_key), "ip:%s", req->remote);
    return 0;
}

/* ---- bodies ------------------------------------------------------------------- */

/* Parses a small JSON object body whose keys are all in allowed; -1 after
 * answering 400. */
static json_t *small_body(const struct vd_http_request *req, const char *const *allowed,
                          struct vd_http_response *res)
{
    json_error_t je;
    const char *k;
    json_t *v;
    json_t *o = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        vd_http_error(res, 400, "bad_json", NULL, "the body must be a JSON object%s%s",
                      o ? "" : ": ", o ? "" : je.text);
        json_decref(o);
        return NULL;
    }
    json_object_foreach(o, k, v)
    {
        int known = 0;
        for (size_t i = 0; allowed[i] && !known; i++)
            known = strcmp(allowed[i], k) == 0;
        if (!known) {
            vd_http_error(res, 400, "unknown_field", k, "unknown field \"%.60s\"", k);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* A string field: its value, NULL when absent (*bad set after a 400). */
static const char *str_field(json_t *o, const char *k, int required, size_t max,
                             struct vd_http_response *res, int *bad)
{
    json_t *v = json_object_get(o, k);
    if (!v) {
        if (required) {
            vd_http_error(res, 400, "missing_field", k, "%s is required", k);
            *bad = 1;
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        vd_http_error(res, 400, "wrong_type", k, "%s must be a string", k);
        *bad = 1;
        return NULL;
    }
    if (json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        vd_http_error(res, 422, "bad_value", k, "%s must be at most %zu bytes, without NULs", k,
                      max);
        *bad = 1;
        return NULL;
    }
    return json_string_value(v);
}

/* ---- keys ------------------------------------------------------------------------ */

json_t *vd_api_key_view(const struct vd_key *k)
{
    char created[32], revoked[32];
    vd_api_time(k->created_ms, created);
    vd_api_time(k->revoked_ms, revoked);
    json_t *ips = json_array();
    for (const char *p = k->allowed_ips; ips && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        json_array_append_new(ips, json_stringn(p, n));
        p = comma ? comma + 1 : p + n;
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:o}", "id", k->id, "name", k->name, "role",
                     k->role, "tier", k->tier, "allowed_ips", ips, "created_at", created,
                     "revoked_at", revoked[0] ? json_string(revoked) : json_null());
}

int vd_api_key_create(struct vd_store *s, const void *master, size_t mlen, const char *name,
                      const char *role, const char *tier, const char *allowed, struct vd_key *out,
                      char *secret, size_t secret_cap, struct vd_errbuf *eb)
{
    char sec[VD_AUTH_KEY_SECRET_LEN + 1];
    int rc;
    memset(out, 0, sizeof(*out));
    if (!name || !*name || strlen(name) >= sizeof(out->name))
        return vd_errf(eb, VD_EINVAL, "name: 1 to %zu bytes", sizeof(out->name) - 1);
    if (strcmp(role, "admin") != 0 && strcmp(role, "client") != 0)
        return vd_errf(eb, VD_EINVAL, "role: admin or client");
    if (!tier || !*tier || strlen(tier) >= sizeof(out->tier))
        return vd_errf(eb, VD_EINVAL, "tier: a tier's name");
    if (strlen(allowed) >= sizeof(out->allowed_ips) || (rc = vd_auth_cidrs_check(allowed, eb)) < 0)
        return vd_errf(eb, VD_EINVAL, "allowed_ips: CIDR blocks or addresses");
    if (secret_cap <= VD_AUTH_KEY_SECRET_LEN)
        return vd_errf(eb, VD_EINVAL, "secret buffer too small");
    vd_auth_new_key_id(out->id);
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->role, sizeof(out->role), "%s", role);
    snprintf(out->tier, sizeof(out->tier), "%s", tier);
    snprintf(out->allowed_ips, sizeof(out->allowed_ips), "%s", allowed);
    vd_auth_key_secret(master, mlen, out->id, sec);
    vd_auth_sha256_hex(sec, strlen(sec), out->secret_hash);
    if ((rc = vd_store_key_create(s, out)) < 0)
        return vd_errf(eb, rc, "storing the key: %s", vd_strerror(rc));
    out->created_ms = vd_now_ms();
    memcpy(secret, sec, sizeof(sec));
    return 0;
}

VD__HANDLER(vd__api_keys_create)
{
    static const char *const allowed[] = {"name", "role", "tier", "allowed_ips", NULL};
    struct vd__call *call = ctx;
    struct vd_errbuf eb = {""};
    struct vd_key k;
    char secret[VD_AUTH_KEY_SECRET_LEN + 1], ips[512] = "";
    int bad = 0;
    (void)param;
    if (vd__api_need_admin(call, res) < 0)
        return;
    json_t *o = small_body(req, allowed, res);
    if (!o)
        return;
    const char *name = str_field(o, "name", 1, 64, res, &bad);
    const char *role = bad ? NULL : str_field(o, "role", 0, 8, res, &bad);
    const char *tier = bad ? NULL : str_field(o, "tier", 0, 32, res, &bad);
    json_t *list = json_object_get(o, "allowed_ips"), *v;
    size_t i;
    if (!bad && list) {
        if (!json_is_array(list)) {
            vd_http_error(res, 400, "wrong_type", "allowed_ips", "allowed_ips is an array");
            bad = 1;
        }
        json_array_foreach(list, i, v)
        {
            size_t used = strlen(ips);
            if (bad || !json_is_string(v) || used + json_string_length(v) + 2 >= sizeof(ips)) {
                if (!bad)
                    vd_http_error(res, 422, "bad_value", "allowed_ips",
                                  "allowed_ips: strings, at most %zu bytes in all", sizeof(ips));
                bad = 1;
                break;
            }
            snprintf(ips + used, sizeof(ips) - used, "%s%s", used ? "," : "", json_string_value(v));
        }
    }
    if (!bad && vd_auth_cidrs_check(ips, &eb) < 0) {
        vd_http_error(res, 422, "bad_value", "allowed_ips", "%s", eb.msg);
        bad = 1;
    }
    if (!bad && tier && !find_tier(call->a, tier)) {
        vd_http_error(res, 422, "bad_value", "tier", "no tier \"%s\" in rate_tiers", tier);
        bad = 1;
    }
    if (!bad) {
        role = role ? role : "client";
        tier = tier ? tier : call->a->c.cfg->default_tier;
        int rc = vd_api_key_create(call->a->c.store, call->a->master, call->a->master_len, name,
                                   role, tier, ips, &k, secret, sizeof(secret), &eb);
        if (rc < 0) {
            const char *f = strstr(eb.msg, "allowed_ips") == eb.msg ? "allowed_ips"
                            : strstr(eb.msg, "role") == eb.msg      ? "role"
                            : strstr(eb.msg, "tier") == eb.msg      ? "tier"
                                                                    : "name";
            vd_http_error(res, 422, "bad_value", f, "%s", eb.msg);
        } else {
            json_t *view = vd_api_key_view(&k);
            json_object_set_new(view, "secret", json_string(secret));
            vd__api_json(res, 201, view);
            vd_log(VD_LOG_INFO, "api", "key=%s role=%s created by %s", k.id, k.role,
                   call->who.owner);
        }
    }
    json_decref(o);
}

VD__HANDLER(vd__api_keys_list)
{
    struct vd__call *call = ctx;
    struct vd_key *keys = NULL;
    size_t n = 0;
    (void)req, (void)param;
    if (vd__api_need_admin(call, res) < 0)
        return;
    int rc = vd_store_key_list(call->a->c.store, &keys, &n);
    if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, vd_api_key_view(&keys[i]));
    vd_free(keys);
    vd__api_json(res, 200, json_pack("{s:o}", "keys", arr));
}

VD__HANDLER(vd__api_keys_get)
{
    struct vd__call *call = ctx;
    struct vd_key k;
    (void)req;
    if (vd__api_need_admin(call, res) < 0)
        return;
    int rc = vd_store_key_get(call->a->c.store, param, &k);
    if (rc == VD_ENOTFOUND)
        vd_http_error(res, 404, "not_found", "id", "no API key %.40s", param);
    else if (rc < 0)
        vd__api_unavailable(res, "the store", rc);
    else
        vd__api_json(res, 200, vd_api_key_view(&k));
}

VD__HANDLER(vd__api_keys_revoke)
{
    struct vd__call *call = ctx;
    struct vd_key k;
    (void)req;
    if (vd__api_need_admin(call, res) < 0)
        return;
    int rc = vd_store_key_revoke(call->a->c.store, param);
    if (rc == VD_ENOTFOUND) {
        vd_http_error(res, 404, "not_found", "id", "no API key %.40s", param);
        return;
    }
    if (rc < 0 && rc != VD_EINVAL) { /* VD_EINVAL: revoked already, answer it as it is */
        vd__api_unavailable(res, "the store", rc);
        return;
    }
    if ((rc = vd_store_key_get(call->a->c.store, param, &k)) < 0) {
        vd__api_unavailable(res, "the store", rc);
        return;
    }
    vd_log(VD_LOG_INFO, "api", "key=%s revoked by %s", k.id, call->who.owner);
    vd__api_json(res, 200, vd_api_key_view(&k));
}

/* ---- users ------------------------------------------------------------------------ */

static json_t *user_view(const struct vd_user *u)
{
    char created[32];
    vd_api_time(u->created_ms, created);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "user_id", u->id, "username", u->username,
                     "email", u->email, "role", u->role, "tier", u->tier, "created_at", created);
}

static int good_username(const char *u);
static int good_email(const char *e);

int vd_api_user_check(const char *username, const char *email, const char *password,
                      struct vd_errbuf *eb)
{
    if (!good_username(username))
        return vd_errf(eb, VD_EINVAL, "username: 3 to 50 of letters, digits, '_', '.' and '-'");
    if (!good_email(email))
        return vd_errf(eb, VD_EINVAL, "email: an address with one @");
    if (strlen(password) < 8)
        return vd_errf(eb, VD_EINVAL, "password: at least 8 bytes");
    return 0;
}

static int good_username(const char *u)
{
    size_t n = strlen(u);
    if (n < 3 || n > 50)
        return 0;
    for (; *u; u++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *u))
            return 0;
    return 1;
}

static int good_email(const char *e)
{
    const char *at = strchr(e, '@');
    return at && at != e && at[1] && !strchr(at + 1, '@') && strlen(e) < 255 && !strchr(e, ' ');
}

VD__HANDLER(vd__api_register)
{
    static const char *const allowed[] = {"username", "email", "password", NULL};
    struct vd__call *call = ctx;
    struct vd_user u, other;
    int bad = 0, rc;
    (void)param;

    if (strcmp(call->a->c.cfg->registration, "open") != 0) {
        vd_http_error(res, 403, "registration_closed", NULL,
                      "accounts are made by an administrator here");
        return;
    }
    json_t *o = small_body(req, allowed, res);
    if (!o)
        return;
    const char *name = str_field(o, "username", 1, 50, res, &bad);
    const char *email = bad ? NULL : str_field(o, "email", 1, 254, res, &bad);
    const char *pw = bad ? NULL : str_field(o, "password", 1, BODY_FIELD_MAX, res, &bad);
    if (bad)
        goto out;
    if (!good_username(name)) {
        vd_http_error(res, 422, "bad_value", "username",
                      "username: 3 to 50 of letters, digits, '_', '.' and '-'");
        goto out;
    }
    if (!good_email(email)) {
        vd_http_error(res, 422, "bad_value", "email", "email: an address with one @");
        goto out;
    }
    if (strlen(pw) < 8) {
        vd_http_error(res, 422, "bad_value", "password", "password: at least 8 bytes");
        goto out;
    }
    memset(&u, 0, sizeof(u));
    snprintf(u.username, sizeof(u.username), "%s", name);
    snprintf(u.email, sizeof(u.email), "%s", email);
    snprintf(u.role, sizeof(u.role), "user");
    snprintf(u.tier, sizeof(u.tier), "%s", call->a->c.cfg->default_tier);
    if ((rc = vd_auth_password_hash(pw, u.password_hash)) < 0) {
        vd_http_error(res, 503, "unavailable", NULL, "the password could not be hashed now");
        goto out;
    }
    rc = vd_store_user_create(call->a->c.store, &u);
    if (rc == -EEXIST) {
        int by_name = vd_store_user_find(call->a->c.store, u.username, &other) == 0;
        vd_http_error(res, 409, "conflict", by_name ? "username" : "email", "that %s is taken",
                      by_name ? "username" : "email");
    } else if (rc < 0) {
        vd__api_unavailable(res, "the store", rc);
    } else {
        vd__api_json(res, 201, user_view(&u));
        vd_log(VD_LOG_INFO, "api", "user=%s registered", u.id);
    }
out:
    json_decref(o);
}

/* An access and a refresh token for u, as the login answer. */
static void issue_tokens(struct vd__call *call, const struct vd_user *u,
                         struct vd_http_response *res)
{
    struct vd_auth_claims c;
    char *access = NULL, *refresh = NULL;
    const struct vd_config *cfg = call->a->c.cfg;
    int64_t now = vd_now_ms() / 1000;

    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", u->id);
    snprintf(c.role, sizeof(c.role), "%s", u->role);
    snprintf(c.tier, sizeof(c.tier), "%s", u->tier);
    c.iat = now;
    snprintf(c.typ, sizeof(c.typ), "access");
    c.exp = now + cfg->jwt_ttl_s;
    int rc = vd_auth_jwt_sign(call->a->master, call->a->master_len, &c, &access);
    snprintf(c.typ, sizeof(c.typ), "refresh");
    c.exp = now + cfg->jwt_refresh_ttl_s;
    if (rc == 0)
        rc = vd_auth_jwt_sign(call->a->master, call->a->master_len, &c, &refresh);
    if (rc < 0)
        vd_http_error(res, 503, "unavailable", NULL, "a token could not be made now");
    else
        vd__api_json(res, 200,
                     json_pack("{s:s, s:s, s:I, s:s, s:I, s:o}", "access_token", access,
                               "token_type", "Bearer", "expires_in", (json_int_t)cfg->jwt_ttl_s,
                               "refresh_token", refresh, "refresh_expires_in",
                               (json_int_t)cfg->jwt_refresh_ttl_s, "user", user_view(u)));
    vd_free(access);
    vd_free(refresh);
}

/* A real argon2id string, checked against when the user does not exist,
 * so that a login for an unknown name costs the same work as a wrong
 * password (no user enumeration by timing). */
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static char dummy_hash[129];

static void make_dummy(void)
{
    char pw[33];
    vd_auth_random_hex(pw, 16);
    if (vd_auth_password_hash(pw, dummy_hash) < 0)
        dummy_hash[0] = '\0';
}

VD__HANDLER(vd__api_login)
{
    static const char *const allowed[] = {"email", "username", "password", NULL};
    struct vd__call *call = ctx;
    struct vd_user u;
    int bad = 0;
    (void)param;

    json_t *o = small_body(req, allowed, res);
    if (!o)
        return;
    const char *login = str_field(o, "email", 0, 254, res, &bad);
    if (!bad && !login)
        login = str_field(o, "username", 1, 50, res, &bad);
    const char *pw = bad ? NULL : str_field(o, "password", 1, BODY_FIELD_MAX, res, &bad);
    if (bad)
        goto out;
    int rc = vd_store_user_find(call->a->c.store, login, &u);
    if (rc < 0 && rc != VD_ENOTFOUND) {
        vd__api_unavailable(res, "the store", rc);
        goto out;
    }
    if (rc == VD_ENOTFOUND) {
        pthread_once(&dummy_once, make_dummy);
        (void)vd_auth_password_check(pw, dummy_hash);
    }
    if (rc < 0 || !vd_auth_password_check(pw, u.password_hash)) {
        unauthorized(res, "invalid_credentials", "%s", "wrong login or password");
        goto out;
    }
    issue_tokens(call, &u, res);
out:
    json_decref(o);
}

VD__HANDLER(vd__api_refresh)
{
    static const char *const allowed[] = {"refresh_token", NULL};
    struct vd__call *call = ctx;
    struct vd_auth_claims c;
    struct vd_user u;
    int bad = 0;
    (void)param;

    json_t *o = small_body(req, allowed, res);
    if (!o)
        return;
    const char *tok = str_field(o, "refresh_token", 1, 4096, res, &bad);
    if (bad)
        goto out;
    enum vd_auth_reason why =
        vd_auth_jwt_verify(call->a->master, call->a->master_len, tok, vd_now_ms() / 1000, &c);
    if (why == VD_AUTH_TOKEN_EXPIRED) {
        unauthorized(res, "token_expired", "%s", "the refresh token has expired");
        goto out;
    }
    if (why != VD_AUTH_OK || strcmp(c.typ, "refresh") != 0) {
        unauthorized(res, "bad_token", "%s", "not a valid refresh token");
        goto out;
    }
    /* The user as stored now: a role or tier changed since is applied. */
    int rc = vd_store_user_get(call->a->c.store, c.sub, &u);
    if (rc == VD_ENOTFOUND)
        unauthorized(res, "bad_token", "%s", "that user no longer exists");
    else if (rc < 0)
        vd__api_unavailable(res, "the store", rc);
    else
        issue_tokens(call, &u, res);
out:
    json_decref(o);
}

VD__HANDLER(vd__api_me)
{
    struct vd__call *call = ctx;
    static const char *const kinds[] = {"anonymous", "key", "user"};
    struct vd__who *w = &call->who;
    (void)req, (void)param;
    if (w->kind == VD__WHO_USER) {
        struct vd_user u;
        if (vd_store_user_get(call->a->c.store, w->id, &u) == 0)
            snprintf(w->name, sizeof(w->name), "%s", u.username);
    }
    vd__api_json(res, 200,
                 json_pack("{s:s, s:o, s:o, s:o, s:s, s:b}", "kind", kinds[w->kind], "id",
                           w->id[0] ? json_string(w->id) : json_null(), "name",
                           w->name[0] ? json_string(w->name) : json_null(), "role",
                           w->role[0] ? json_string(w->role) : json_null(), "tier", w->tier,
                           "admin", w->admin));
}

/* ---- state --------------------------------------------------------------------------- */

int vd__api_callers_init(struct vd_api *a, struct vd_errbuf *eb)
{
    const struct vd_config *cfg = a->c.cfg;
    int rc;
    if (a->c.master_len < VD_AUTH_MASTER_MIN || a->c.master_len > sizeof(a->master))
        return vd_errf(eb, VD_EINVAL, "api: the master secret must be %d to %zu bytes",
                       VD_AUTH_MASTER_MIN, sizeof(a->master));
    memcpy(a->master, a->c.master, a->c.master_len);
    a->master_len = a->c.master_len;
    if ((rc = vd_auth_tiers_parse(cfg->rate_tiers, a->tiers, &a->ntiers, eb)) < 0)
        return rc;
    if (!find_tier(a, cfg->default_tier) || !find_tier(a, cfg->anonymous_tier))
        return vd_errf(eb, VD_EINVAL, "default_tier %s or anonymous_tier %s is not in rate_tiers",
                       cfg->default_tier, cfg->anonymous_tier);
    if (strcmp(cfg->auth, "on") == 0)
        a->auth_required = 1;
    else if (strcmp(cfg->auth, "off") == 0)
        a->auth_required = 0;
    else if (strcmp(cfg->auth, "auto") == 0)
        a->auth_required =
            !(strncmp(cfg->listen, "127.", 4) == 0 || strncmp(cfg->listen, "localhost:", 10) == 0 ||
              strncmp(cfg->listen, "[::1]:", 6) == 0);
    else
        return vd_errf(eb, VD_EINVAL, "auth \"%s\": auto, on or off", cfg->auth);
    if (strcmp(cfg->registration, "open") != 0 && strcmp(cfg->registration, "closed") != 0)
        return vd_errf(eb, VD_EINVAL, "registration \"%s\": open or closed", cfg->registration);
    if ((rc = vd_auth_cidrs_check(cfg->allowed_ips, eb)) < 0)
        return vd_errf(eb, rc, "allowed_ips: %s", eb->msg);
    for (size_t i = 0; i < sizeof(a->owner_mu) / sizeof(a->owner_mu[0]); i++)
        pthread_mutex_init(&a->owner_mu[i], NULL);
    a->limiter = vd_auth_limiter_new(LIMITER_MAX);
    a->replay = vd_auth_replay_new(REPLAY_MAX);
    return 0;
}

void vd__api_callers_free(struct vd_api *a)
{
    vd_auth_limiter_free(a->limiter);
    vd_auth_replay_free(a->replay);
    /* Zeroed memory is an initialised mutex for glibc, so this holds even
     * when init stopped before making them. */
    for (size_t i = 0; i < sizeof(a->owner_mu) / sizeof(a->owner_mu[0]); i++)
        pthread_mutex_destroy(&a->owner_mu[i]);
    explicit_bzero(a->master, sizeof(a->master));
}
