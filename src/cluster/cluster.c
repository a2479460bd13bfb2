/*
 * cluster.c - events, cancels, the worker registry and shared limits, over
 * Redis (see vd/cluster.h for the channels and keys).
 *
 * Theory of operation. One pool of connections (vd_redis) serves every
 * command of the process; one subscriber thread listens on the channels
 * this process needs: verdict:events when it serves HTTP (it delivers
 * every frame to its own hub, whichever process published it), and
 * verdict:cancel when it runs workers. Pub/sub is at most once: a message
 * sent while a subscriber reconnects is lost. That is why neither path is
 * the only one: the API polls the store for a job's end, and the workers'
 * monitor polls the store for a cancel, a few times a second.
 *
 * The registry. Every worker process writes its record (vd_workers_describe)
 * to verdict:node:NAME with a time to live of three heartbeats, and adds
 * NAME to the set verdict:nodes. A process that dies stops renewing its
 * record, which expires; the next listing drops the name from the set.
 *
 * Buckets. The same token bucket as src/auth/limits.c, as a Lua script so
 * that the read, the refill and the take are one atomic step on the server,
 * on Redis's clock (API nodes' clocks may disagree).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vd/alloc.h"
#include "vd/buf.h"
#include "vd/clock.h"
#include "vd/cluster.h"
#include "vd/events.h"
#include "vd/json.h"
#include "vd/log.h"
#include "vd/redis.h"
#include "vd/store.h"
#include "vd/worker.h"

#define CH_EVENTS "verdict:events"
#define CH_CANCEL "verdict:cancel"
#define NODES "verdict:nodes"
#define NODE_PREFIX "verdict:node:"
#define HEARTBEAT_MS 2000
#define NODE_TTL_MS (3 * HEARTBEAT_MS)
#define EVENT_MAX ((size_t)64 << 20)

struct vd_cluster {
    struct vd_redis *r;
    char node[128];
    char role[8];

    struct vd_events *hub; /* delivered to when listening */
    struct vd_workers *workers;
    struct vd_redis_sub *sub;

    pthread_t hb;
    int hb_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

int vd_cluster_open(const char *redis_url, const char *node, const char *role,
                    struct vd_cluster **out, struct vd_errbuf *eb)
{
    struct vd_cluster *c = vd_xcalloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if ((rc = vd_redis_open(redis_url, 8, &c->r, eb)) < 0) {
        vd_free(c);
        return rc;
    }
    if (node && *node) {
        snprintf(c->node, sizeof(c->node), "%s", node);
    } else {
        char host[64] = "";
        gethostname(host, sizeof(host) - 1);
        snprintf(c->node, sizeof(c->node), "%s-%ld", host, (long)getpid());
    }
    snprintf(c->role, sizeof(c->role), "%s", role ? role : "all");
    pthread_mutex_init(&c->mu, NULL);
    vd_clock_cond_init(&c->cv);
    *out = c;
    return 0;
}

void vd_cluster_close(struct vd_cluster *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (c->hb_started) {
        pthread_join(c->hb, NULL);
        /* Gone from the listing at once, not after the record expires. */
        (void)!vd_redis_cmd(c->r, NULL, "DEL " NODE_PREFIX "%s", c->node);
        (void)!vd_redis_cmd(c->r, NULL, "SREM " NODES " %s", c->node);
    }
    vd_redis_unsubscribe(c->sub);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    vd_redis_close(c->r);
    vd_free(c);
}

const char *vd_cluster_node(const struct vd_cluster *c)
{
    return c->node;
}

int vd_cluster_ping(struct vd_cluster *c)
{
    redisReply *rep = NULL;
    int rc = vd_redis_cmd(c->r, &rep, "PING");
    if (rep)
        freeReplyObject(rep);
    return rc;
}

uint64_t vd_cluster_reconnects(struct vd_cluster *c)
{
    return vd_redis_reconnects(c->r);
}

/* ---- events and cancels ----------------------------------------------------- */

/* The hub's relay: one PUBLISH per frame. */
static int relay(void *arg, const char *id, const char *event, const char *data, int final)
{
    struct vd_cluster *c = arg;
    struct vd_buf b;
    vd_buf_init(&b, EVENT_MAX);
    int rc = vd_buf_printf(&b, "%s\n%d\n%s\n", id, final ? 1 : 0, event ? event : "");
    if (rc == 0 && data)
        rc = vd_buf_add(&b, data, strlen(data));
    if (rc == 0)
        rc = vd_redis_cmd(c->r, NULL, "PUBLISH " CH_EVENTS " %b", b.data, b.len);
    vd_buf_free(&b);
    return rc;
}

/* "ID\nFINAL\nEVENT\nDATA" into the hub. */
static void deliver_event(struct vd_cluster *c, const char *msg, size_t len)
{
    const char *end = msg + len, *p = msg, *nl[3];
    for (int i = 0; i < 3; i++) {
        nl[i] = memchr(p, '\n', (size_t)(end - p));
        if (!nl[i])
            return;
        p = nl[i] + 1;
    }
    char id[VD_ID_LEN + 1 + 8], event[64];
    size_t idn = (size_t)(nl[0] - msg), evn = (size_t)(nl[2] - nl[1] - 1);
    if (idn == 0 || idn >= sizeof(id) || evn >= sizeof(event))
        return;
    memcpy(id, msg, idn);
    id[idn] = '\0';
    memcpy(event, nl[1] + 1, evn);
    event[evn] = '\0';
    int final = nl[0][1] == '1';
    if (!event[0]) {
        (void)!vd_events_deliver(c->hub, id, NULL, NULL, 1);
        return;
    }
    /* data is the rest; the hub wants it NUL-terminated */
    char *data = vd_xmalloc((size_t)(end - p) + 1);
    memcpy(data, p, (size_t)(end - p));
    data[end - p] = '\0';
    (void)!vd_events_deliver(c->hub, id, event, data, final);
    vd_free(data);
}

static void on_message(void *arg, const char *channel, const char *msg, size_t len)
{
    struct vd_cluster *c = arg;
    if (strcmp(channel, CH_EVENTS) == 0 && c->hub) {
        deliver_event(c, msg, len);
    } else if (strcmp(channel, CH_CANCEL) == 0 && c->workers && len == VD_ID_LEN) {
        char id[VD_ID_LEN + 1];
        memcpy(id, msg, VD_ID_LEN);
        id[VD_ID_LEN] = '\0';
        if (vd_workers_cancel(c->workers, id))
            vd_log(VD_LOG_INFO, "cluster", "id=%s cancelled: its run here was killed", id);
    }
}

int vd_cluster_cancel(struct vd_cluster *c, const char *id)
{
    return vd_redis_cmd(c->r, NULL, "PUBLISH " CH_CANCEL " %s", id);
}

/* ---- the registry ------------------------------------------------------------- */

static void heartbeat(struct vd_cluster *c)
{
    struct vd_buf b;
    json_t *rec = vd_workers_describe(c->workers, c->node);
    vd_buf_init(&b, (size_t)1 << 20);
    if (rec) {
        json_object_set_new(rec, "role", json_string(c->role));
        if (vd_json_dump(rec, &b) == 0 &&
            vd_redis_cmd(c->r, NULL, "SET " NODE_PREFIX "%s %b PX %d", c->node, b.data, b.len,
                         NODE_TTL_MS) == 0)
            (void)!vd_redis_cmd(c->r, NULL, "SADD " NODES " %s", c->node);
        json_decref(rec);
    }
    vd_buf_free(&b);
}

static void *hb_main(void *arg)
{
    struct vd_cluster *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        pthread_mutex_unlock(&c->mu);
        heartbeat(c);
        pthread_mutex_lock(&c->mu);
        struct timespec until;
        vd_clock_deadline(CLOCK_MONOTONIC, HEARTBEAT_MS, &until);
        while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int vd_cluster_start(struct vd_cluster *c, struct vd_events *hub, int listen_events,
                     struct vd_workers *workers, struct vd_errbuf *eb)
{
    const char *channels[2];
    size_t n = 0;
    int rc;

    if (hub) {
        vd_events_set_relay(hub, relay, c);
        if (listen_events) {
            c->hub = hub;
            channels[n++] = CH_EVENTS;
        }
    }
    if (workers) {
        c->workers = workers;
        channels[n++] = CH_CANCEL;
    }
    if (n && (rc = vd_redis_subscribe(c->r, channels, n, on_message, c, &c->sub, eb)) < 0)
        return rc;
    if (workers) {
        heartbeat(c); /* listed before the first job can be claimed */
        int e = pthread_create(&c->hb, NULL, hb_main, c);
        if (e)
            return vd_errf(eb, -e, "cluster: starting the heartbeat: %s", strerror(e));
        c->hb_started = 1;
    }
    return 0;
}

int vd_cluster_workers(struct vd_cluster *c, json_t **out)
{
    redisReply *names = NULL, *recs = NULL;
    const char **argv = NULL;
    char (*keys)[sizeof(NODE_PREFIX) + 128] = NULL;
    json_t *arr = json_array();
    int rc;

    *out = NULL;
    if ((rc = vd_redis_cmd(c->r, &names, "SMEMBERS " NODES)) < 0)
        goto out;
    size_t n = names->type == REDIS_REPLY_ARRAY ? names->elements : 0;
    if (n == 0)
        goto done;
    argv = vd_xcalloc(n + 1, sizeof(*argv));
    keys = vd_xcalloc(n, sizeof(*keys));
    argv[0] = "MGET";
    for (size_t i = 0; i < n; i++) {
        snprintf(keys[i], sizeof(keys[i]), NODE_PREFIX "%s", names->element[i]->str);
        argv[i + 1] = keys[i];
    }
    if ((rc = vd_redis_cmdv(c->r, &recs, (int)n + 1, argv, NULL)) < 0)
        goto out;
    for (size_t i = 0; i < n && i < recs->elements; i++) {
        redisReply *e = recs->element[i];
        if (e->type != REDIS_REPLY_STRING) {
            /* Expired: that process stopped renewing it. */
            (void)!vd_redis_cmd(c->r, NULL, "SREM " NODES " %s", names->element[i]->str);
            continue;
        }
        json_t *rec = json_loadb(e->str, e->len, 0, NULL);
        if (rec)
            json_array_append_new(arr, rec);
    }
done:
    *out = arr;
    arr = NULL;
    rc = 0;
out:
    if (names)
        freeReplyObject(names);
    if (recs)
        freeReplyObject(recs);
    vd_free(argv);
    vd_free(keys);
    json_decref(arr);
    return rc;
}

/* ---- shared limits -------------------------------------------------------------- */

/* KEYS[1] the bucket; ARGV rate, burst, cost. Returns {allowed, tokens}. */
static const char take_lua[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local rate, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local v = redis.call('HMGET', KEYS[1], 'tokens', 'ms')\n"
    "local tokens = burst\n"
    "if v[1] then\n"
    "  local dt = now - tonumber(v[2])\n"
    "  if dt < 0 then dt = 0 end\n"
    "  tokens = math.min(burst, tonumber(v[1]) + dt / 1000 * rate)\n"
    "end\n"
    "local allowed = 0\n"
    "if tokens >= cost then tokens = tokens - cost; allowed = 1 end\n"
    "redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ms', tostring(now))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 60000)\n"
    "return {allowed, tostring(tokens)}\n";

int vd_cluster_take(struct vd_cluster *c, const char *who, const struct vd_auth_tier *t,
                    double cost, struct vd_auth_take *out)
{
    redisReply *rep = NULL;
    char key[200], rate[32], burst[32], costs[32];
    int rc;

    memset(out, 0, sizeof(*out));
    if (t->rate <= 0) {
        out->allowed = 1;
        out->remaining = t->burst;
        return 0;
    }
    /* The tier is part of the key, as in the memory limiter. */
    snprintf(key, sizeof(key), "verdict:rl:%s|%s", t->name, who);
    snprintf(rate, sizeof(rate), "%.17g", t->rate);
    snprintf(burst, sizeof(burst), "%.17g", t->burst);
    snprintf(costs, sizeof(costs), "%.17g", cost);
    rc = vd_redis_cmd(c->r, &rep, "EVAL %s 1 %s %s %s %s", take_lua, key, rate, burst, costs);
    if (rc == 0 && (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
                    rep->element[0]->type != REDIS_REPLY_INTEGER ||
                    rep->element[1]->type != REDIS_REPLY_STRING))
        rc = -EIO;
    if (rc == 0) {
        double tokens = strtod(rep->element[1]->str, NULL);
        out->allowed = rep->element[0]->integer == 1;
        if (!out->allowed)
            out->retry_after_s = (cost - tokens) / t->rate;
        out->remaining = tokens;
        out->reset_s = tokens >= t->burst ? 0 : (tokens < 1 ? (1 - tokens) / t->rate : 0);
    }
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int vd_cluster_seen(struct vd_cluster *c, const char *sig, int64_t ttl_ms)
{
    redisReply *rep = NULL;
    int rc = vd_redis_cmd(c->r, &rep, "SET verdict:sig:%s 1 NX PX %lld", sig,
                          (long long)(ttl_ms > 0 ? ttl_ms : 1));
    if (rc == 0)
        rc = rep->type == REDIS_REPLY_NIL ? VD_EAUTH : 0;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

/* ---- locks ------------------------------------------------------------------ */

/* Deletes the lock only if it is still ours: one that expired and was taken
 * by another node meanwhile is left to that node. */
static const char unlock_lua[] = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                 "  return redis.call('DEL', KEYS[1])\n"
                                 "end\n"
                                 "return 0\n";

int vd_cluster_lock(struct vd_cluster *c, const char *name, int ttl_ms, int wait_ms,
                    char token[VD_CLUSTER_TOKEN_LEN + 1])
{
    int64_t until = (int64_t)(vd_clock_us() / 1000) + wait_ms;
    int pause_ms = 2;

    vd_auth_random_hex(token, VD_CLUSTER_TOKEN_LEN / 2);
    for (;;) {
        redisReply *rep = NULL;
        int rc = vd_redis_cmd(c->r, &rep, "SET verdict:lock:%s %s NX PX %d", name, token, ttl_ms);
        int got = rc == 0 && rep->type == REDIS_REPLY_STATUS;
        if (rep)
            freeReplyObject(rep);
        if (rc < 0)
            return rc;
        if (got)
            return 0;
        if ((int64_t)(vd_clock_us() / 1000) >= until)
            return VD_ETIMEDOUT;
        struct timespec ts = {0, pause_ms * 1000000L};
        nanosleep(&ts, NULL);
        pause_ms = pause_ms < 32 ? pause_ms * 2 : 32;
    }
}

void vd_cluster_unlock(struct vd_cluster *c, const char *name, const char *token)
{
    char key[200];
    snprintf(key, sizeof(key), "verdict:lock:%s", name);
    if (vd_redis_cmd(c->r, NULL, "EVAL %s 1 %s %s", unlock_lua, key, token) < 0)
        vd_log(VD_LOG_WARN, "cluster", "lock %s: not released (it expires by itself)", name);
}
