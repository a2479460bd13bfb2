/*
 * limits.c - replay protection for signed requests, and token buckets for
 * rate limits (include/vd/auth.h).
 *
 * Theory of operation. Both are a hash table of small entries keyed by a
 * string (a signature, a principal), chained in buckets, each bucket under
 * one of a few stripe locks, so callers on different keys rarely wait for
 * each other. Entries expire: a signature when its timestamp leaves the
 * window (it could not pass the time check any more), a bucket when it has
 * been full for long enough that it carries no state. Expired entries are
 * dropped as their bucket is walked, so memory follows the live set; past
 * max_entries, the replay cache refuses new signatures (a flood of valid
 * signed requests) instead of forgetting live ones, which would let a
 * replay through, and the limiter drops the entry it would create (the
 * caller is then treated as having a full bucket).
 *
 * These tables live in one process. With several API nodes they move to
 * Redis (the scale-out issue).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd/alloc.h"
#include "vd/auth.h"
#include "vd/hash.h"

#define NBUCKETS 65536
#define STRIPES 64
#define KEY_MAX 128           /* a tier name, "|", and an owner of up to 64 */
#define IDLE_MS (3600 * 1000) /* a limiter entry unused this long is dropped */

struct entry {
    char key[KEY_MAX + 1];
    int64_t expires_ms; /* replay: when it leaves the window; limiter: idle drop */
    double tokens;
    int64_t last_ms;
    struct entry *next;
};

struct table {
    pthread_mutex_t mu[STRIPES];
    struct entry *b[NBUCKETS];
    atomic_size_t n;
    size_t max;
};

static struct table *table_new(size_t max)
{
    struct table *t = vd_xcalloc(1, sizeof(*t));
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&t->mu[i], NULL);
    t->max = max;
    return t;
}

static void table_free(struct table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < NBUCKETS; i++)
        for (struct entry *e = t->b[i], *next; e; e = next) {
            next = e->next;
            vd_free(e);
        }
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&t->mu[i]);
    vd_free(t);
}

/* Finds key in its bucket (lock held), dropping expired entries on the way. */
static struct entry *find(struct table *t, unsigned b, const char *key, int64_t now_ms)
{
    struct entry **pp = &t->b[b], *hit = NULL;
    while (*pp) {
        struct entry *e = *pp;
        if (e->expires_ms <= now_ms) {
            *pp = e->next;
            vd_free(e);
            atomic_fetch_sub(&t->n, 1);
            continue;
        }
        if (!hit && strcmp(e->key, key) == 0)
            hit = e;
        pp = &e->next;
    }
    return hit;
}

/* A new entry at the head of bucket b, or NULL when the table is full. */
static struct entry *add(struct table *t, unsigned b, const char *key)
{
    if (atomic_load(&t->n) >= t->max)
        return NULL;
    struct entry *e = vd_try_calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->next = t->b[b];
    t->b[b] = e;
    atomic_fetch_add(&t->n, 1);
    return e;
}

/* ---- replay ---------------------------------------------------------------- */

struct vd_auth_replay {
    struct table *t;
};

struct vd_auth_replay *vd_auth_replay_new(size_t max_entries)
{
    struct vd_auth_replay *r = vd_xcalloc(1, sizeof(*r));
    r->t = table_new(max_entries);
    return r;
}

void vd_auth_replay_free(struct vd_auth_replay *r)
{
    if (!r)
        return;
    table_free(r->t);
    vd_free(r);
}

int vd_auth_replay_check(struct vd_auth_replay *r, const char *sig, int64_t now_ms,
                         int64_t expires_ms)
{
    unsigned b = vd_hash_str(sig) % NBUCKETS;
    int rc = 0;
    pthread_mutex_lock(&r->t->mu[b % STRIPES]);
    if (find(r->t, b, sig, now_ms)) {
        rc = VD_EAUTH;
    } else {
        struct entry *e = add(r->t, b, sig);
        if (e)
            e->expires_ms = expires_ms;
        else
            rc = VD_ETOOBIG;
    }
    pthread_mutex_unlock(&r->t->mu[b % STRIPES]);
    return rc;
}

/* ---- tiers ------------------------------------------------------------------- */

int vd_auth_tiers_parse(const char *text, struct vd_auth_tier *tiers, size_t *n,
                        struct vd_errbuf *eb)
{
    *n = 0;
    for (const char *p = text; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[128], *eq, *end;
        struct vd_auth_tier t;
        memset(&t, 0, sizeof(t));
        if (len == 0 || len >= sizeof(item) || *n == VD_AUTH_TIERS_MAX)
            return vd_errf(eb, VD_EINVAL, "rate tiers: too many, or an empty or long entry");
        memcpy(item, p, len);
        item[len] = '\0';
        eq = strchr(item, '=');
        if (!eq || eq == item || (size_t)(eq - item) >= sizeof(t.name))
            return vd_errf(eb, VD_EINVAL, "rate tiers: \"%s\" is not NAME=RATE/BURST/ACTIVE", item);
        memcpy(t.name, item, (size_t)(eq - item));
        t.rate = strtod(eq + 1, &end);
        if (*end != '/' || t.rate < 0 || t.rate > 1e6)
            return vd_errf(eb, VD_EINVAL, "rate tiers: %s: bad rate", t.name);
        t.burst = strtod(end + 1, &end);
        if (*end != '/' || t.burst < 0 || t.burst > 1e9 || (t.rate > 0 && t.burst < 1))
            return vd_errf(eb, VD_EINVAL, "rate tiers: %s: bad burst", t.name);
        long active = strtol(end + 1, &end, 10);
        if (*end || active < 0 || active > 1000000)
            return vd_errf(eb, VD_EINVAL, "rate tiers: %s: bad active count", t.name);
        t.active = (uint32_t)active;
        for (size_t i = 0; i < *n; i++)
            if (strcmp(tiers[i].name, t.name) == 0)
                return vd_errf(eb, VD_EINVAL, "rate tiers: %s twice", t.name);
        tiers[(*n)++] = t;
        p = comma ? comma + 1 : NULL;
    }
    if (*n == 0)
        return vd_errf(eb, VD_EINVAL, "rate tiers: none given");
    return 0;
}

/* ---- token buckets ------------------------------------------------------------ */

struct vd_auth_limiter {
    struct table *t;
};

struct vd_auth_limiter *vd_auth_limiter_new(size_t max_entries)
{
    struct vd_auth_limiter *l = vd_xcalloc(1, sizeof(*l));
    l->t = table_new(max_entries);
    return l;
}

void vd_auth_limiter_free(struct vd_auth_limiter *l)
{
    if (!l)
        return;
    table_free(l->t);
    vd_free(l);
}

void vd_auth_limiter_take(struct vd_auth_limiter *l, const char *who, const struct vd_auth_tier *t,
                          double cost, int64_t now_ms, struct vd_auth_take *out)
{
    char key[KEY_MAX + 1];
    memset(out, 0, sizeof(*out));
    if (t->rate <= 0) {
        out->allowed = 1;
        out->remaining = t->burst;
        return;
    }
    /* The tier is part of the key: a principal moved to another tier
     * starts with a full bucket of the new size. */
    snprintf(key, sizeof(key), "%s|%s", t->name, who);
    unsigned b = vd_hash_str(key) % NBUCKETS;
    pthread_mutex_lock(&l->t->mu[b % STRIPES]);
    struct entry *e = find(l->t, b, key, now_ms);
    double tokens = t->burst;
    if (e) {
        tokens = e->tokens + (double)(now_ms - e->last_ms) / 1000.0 * t->rate;
        if (tokens > t->burst)
            tokens = t->burst;
    } else {
        e = add(l->t, b, key);
    }
    if (tokens >= cost) {
        tokens -= cost;
        out->allowed = 1;
    } else {
        out->retry_after_s = (cost - tokens) / t->rate;
    }
    out->remaining = tokens;
    out->reset_s = tokens >= t->burst ? 0 : (tokens < 1 ? (1 - tokens) / t->rate : 0);
    if (e) {
        e->tokens = tokens;
        e->last_ms = now_ms;
        /* Full again by then, so nothing is lost by forgetting it. */
        e->expires_ms = now_ms + (int64_t)((t->burst - tokens) / t->rate * 1000.0) + IDLE_MS;
    }
    pthread_mutex_unlock(&l->t->mu[b % STRIPES]);
}
