/*
 * redis.c - a pool of hiredis contexts and a subscriber thread.
 *
 * Theory of operation. A context is one TCP connection and hiredis lets
 * only one thread use it at a time, so each command borrows one from a
 * stack of idle contexts (making a new one when the stack is empty) and
 * gives it back after. A context whose connection failed is never given
 * back: hiredis marks it (c->err) and it cannot be used again. So after a
 * redis-server restart every idle context fails once; the command that
 * met the failure connects afresh and sends itself once more, which is
 * harmless for every command verdict sends (a duplicated XADD is skipped
 * by the queue, a SET NX or a PUBLISH twice is the same as once). A
 * blocking command is not resent: its caller loops anyway.
 *
 * Commands have a socket timeout (COMMAND_TIMEOUT_MS), so a server that
 * stops answering costs a bounded wait, never a hang. A blocking command
 * stretches its context's timeout by its block time for that one call.
 *
 * The subscriber cannot block in redisGetReply(): a read timeout kills a
 * hiredis context, and it would have no way to notice a stop. So it
 * poll()s the socket a quarter second at a time, and feeds what arrives to
 * hiredis's reader (redisBufferRead, redisGetReplyFromReader). When the
 * connection drops it reconnects with backoff (0.1 s doubling to 2 s) and
 * subscribes again.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vd/alloc.h"
#include "vd/clock.h"
#include "vd/log.h"
#include "vd/redis.h"

#define CONNECT_TIMEOUT_MS 3000
#define COMMAND_TIMEOUT_MS 5000
#define SUB_POLL_MS 250
#define SUB_CHANNELS_MAX 8

struct vd_redis {
    char host[256];
    int port;
    int db;
    char user[128];
    char password[256];
    char where[300];

    pthread_mutex_t mu;
    redisContext **idle; /* a stack of pool_max */
    int nidle, pool_max;
    uint64_t reconnects;
};

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* ---- the URL ------------------------------------------------------------ */

/* Percent-decodes [s, s+n) into out (cap bytes with the NUL). */
static int decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n) {
            char hx[3] = {s[i + 1], s[i + 2], 0};
            char *end;
            long v = strtol(hx, &end, 16);
            if (*end)
                return VD_EINVAL;
            c = (int)v;
            i += 2;
        }
        if (o + 1 >= cap)
            return VD_ETOOBIG;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

static int parse_url(struct vd_redis *r, const char *url, struct vd_errbuf *eb)
{
    const char *p, *at, *host, *slash, *colon;

    if (strncmp(url, "rediss://", 9) == 0)
        return vd_errf(eb, VD_EINVAL,
                       "Redis URL %s: TLS (rediss://) is not supported; use redis:// on a "
                       "trusted network or a TLS tunnel",
                       url);
    if (strncmp(url, "redis://", 8) != 0)
        return vd_errf(eb, VD_EINVAL, "Redis URL %s: it must start with redis://", url);
    p = url + 8;
    slash = strchr(p, '/');
    at = memchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
    if (at) {
        const char *c = memchr(p, ':', (size_t)(at - p));
        if (c) {
            if (decode(p, (size_t)(c - p), r->user, sizeof(r->user)) < 0 ||
                decode(c + 1, (size_t)(at - c - 1), r->password, sizeof(r->password)) < 0)
                return vd_errf(eb, VD_EINVAL, "Redis URL: bad user or password");
        } else if (decode(p, (size_t)(at - p), r->password, sizeof(r->password)) < 0) {
            return vd_errf(eb, VD_EINVAL, "Redis URL: bad password");
        }
        host = at + 1;
    } else {
        host = p;
    }
    size_t hlen = slash ? (size_t)(slash - host) : strlen(host);
    colon = memchr(host, ':', hlen);
    size_t nlen = colon ? (size_t)(colon - host) : hlen;
    if (nlen == 0 || nlen >= sizeof(r->host))
        return vd_errf(eb, VD_EINVAL, "Redis URL %s: no host", url);
    memcpy(r->host, host, nlen);
    r->host[nlen] = '\0';
    r->port = 6379;
    if (colon) {
        char *end;
        long v = strtol(colon + 1, &end, 10);
        if (end != host + hlen || v < 1 || v > 65535)
            return vd_errf(eb, VD_EINVAL, "Redis URL %s: bad port", url);
        r->port = (int)v;
    }
    r->db = 0;
    if (slash && slash[1]) {
        char *end;
        long v = strtol(slash + 1, &end, 10);
        if (*end || v < 0 || v > 1000000)
            return vd_errf(eb, VD_EINVAL, "Redis URL %s: the path must be a database number",
                           url);
        r->db = (int)v;
    }
    snprintf(r->where, sizeof(r->where), "%s:%d/%d", r->host, r->port, r->db);
    return 0;
}

/* ---- contexts ------------------------------------------------------------ */

/* A new context, authenticated and on the right database; NULL with eb set. */
static redisContext *connect_ctx(struct vd_redis *r, struct vd_errbuf *eb)
{
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv_ms(CONNECT_TIMEOUT_MS));
    redisReply *rep = NULL;

    if (!c || c->err) {
        vd_errf(eb, -EIO, "Redis at %s: %s", r->where, c ? c->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(c, tv_ms(COMMAND_TIMEOUT_MS));
    redisEnableKeepAlive(c);
    if (r->password[0]) {
        rep = r->user[0] ? redisCommand(c, "AUTH %s %s", r->user, r->password)
                         : redisCommand(c, "AUTH %s", r->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            vd_errf(eb, -EIO, "Redis at %s: AUTH: %s", r->where,
                    rep ? rep->str : c->errstr);
            goto fail;
        }
        freeReplyObject(rep);
        rep = NULL;
    }
    if (r->db) {
        rep = redisCommand(c, "SELECT %d", r->db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            vd_errf(eb, -EIO, "Redis at %s: SELECT: %s", r->where, rep ? rep->str : c->errstr);
            goto fail;
        }
        freeReplyObject(rep);
    }
    return c;
fail:
    if (rep)
        freeReplyObject(rep);
    if (c)
        redisFree(c);
    return NULL;
}

static redisContext *borrow(struct vd_redis *r, struct vd_errbuf *eb)
{
    redisContext *c = NULL;
    pthread_mutex_lock(&r->mu);
    if (r->nidle > 0)
        c = r->idle[--r->nidle];
    pthread_mutex_unlock(&r->mu);
    return c ? c : connect_ctx(r, eb);
}

static void give_back(struct vd_redis *r, redisContext *c)
{
    if (!c)
        return;
    if (c->err) { /* dead for good: hiredis cannot reuse it */
        redisFree(c);
        return;
    }
    pthread_mutex_lock(&r->mu);
    if (r->nidle < r->pool_max) {
        r->idle[r->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    if (c)
        redisFree(c);
}

static void count_reconnect(struct vd_redis *r)
{
    pthread_mutex_lock(&r->mu);
    r->reconnects++;
    pthread_mutex_unlock(&r->mu);
}

int vd_redis_open(const char *url, int pool_max, struct vd_redis **out, struct vd_errbuf *eb)
{
    struct vd_redis *r = vd_xcalloc(1, sizeof(*r));
    redisContext *c;
    int rc;

    *out = NULL;
    if ((rc = parse_url(r, url ? url : "", eb)) < 0)
        goto fail;
    r->pool_max = pool_max > 0 ? pool_max : 8;
    r->idle = vd_xcalloc((size_t)r->pool_max, sizeof(*r->idle));
    pthread_mutex_init(&r->mu, NULL);
    if (!(c = connect_ctx(r, eb))) {
        rc = -EIO;
        pthread_mutex_destroy(&r->mu);
        goto fail;
    }
    give_back(r, c);
    *out = r;
    return 0;
fail:
    vd_free(r->idle);
    vd_free(r);
    return rc;
}

void vd_redis_close(struct vd_redis *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->nidle; i++)
        redisFree(r->idle[i]);
    pthread_mutex_destroy(&r->mu);
    vd_free(r->idle);
    vd_free(r);
}

uint64_t vd_redis_reconnects(struct vd_redis *r)
{
    pthread_mutex_lock(&r->mu);
    uint64_t n = r->reconnects;
    pthread_mutex_unlock(&r->mu);
    return n;
}

const char *vd_redis_where(const struct vd_redis *r)
{
    return r->where;
}

/* ---- commands ------------------------------------------------------------ */

/* Error replies of a server that cannot answer yet: it is loading its
 * data after a restart, or a replica lost its master. */
static int unavailable(const char *err)
{
    static const char *const codes[] = {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (strncmp(err, codes[i], strlen(codes[i])) == 0 && err[strlen(codes[i])] == ' ')
            return 1;
    return 0;
}

/* What a reply says: 0; -EIO for a server that cannot answer yet (logged as
 * a warning: it is like a lost connection); VD_EINVAL for any other error
 * reply, which the caller may expect (BUSYGROUP) and looks at. */
static int take_reply(struct vd_redis *r, redisReply *rep, redisReply **reply)
{
    int rc = 0;
    if (rep->type == REDIS_REPLY_ERROR) {
        rc = unavailable(rep->str) ? -EIO : VD_EINVAL;
        vd_log(rc == -EIO ? VD_LOG_WARN : VD_LOG_DEBUG, "redis", "%s: %s", r->where, rep->str);
    }
    if (reply)
        *reply = rep;
    else
        freeReplyObject(rep);
    return rc;
}

/* Sends with send(c, a) on a borrowed context; once more on a fresh one
 * when the connection failed. */
typedef redisReply *(*sender)(redisContext *c, void *a);

static int with_retry(struct vd_redis *r, redisReply **reply, sender send, void *a)
{
    struct vd_errbuf eb = {""};
    for (int tries = 0; tries < 2; tries++) {
        redisContext *c = borrow(r, &eb);
        if (!c)
            break;
        redisReply *rep = send(c, a);
        if (rep) {
            give_back(r, c);
            return take_reply(r, rep, reply);
        }
        vd_log(VD_LOG_WARN, "redis", "%s: %s%s", r->where, c->errstr,
               tries == 0 ? "; reconnecting" : "");
        redisFree(c);
        /* Idle contexts are likely dead too (a restart): drop them all
         * rather than meet each one's failure in turn. Freeing one only
         * closes its socket, so it is done under the lock. */
        pthread_mutex_lock(&r->mu);
        for (int i = 0; i < r->nidle; i++)
            redisFree(r->idle[i]);
        r->nidle = 0;
        r->reconnects++;
        pthread_mutex_unlock(&r->mu);
    }
    if (eb.msg[0])
        vd_log(VD_LOG_WARN, "redis", "%s", eb.msg);
    return -EIO;
}

struct fmt_args {
    const char *fmt;
    va_list *ap;
};

static redisReply *send_fmt(redisContext *c, void *arg)
{
    struct fmt_args *f = arg;
    va_list ap;
    va_copy(ap, *f->ap); /* a retry formats the same arguments again */
    redisReply *rep = redisvCommand(c, f->fmt, ap);
    va_end(ap);
    return rep;
}

int vd_redis_cmd(struct vd_redis *r, redisReply **reply, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct fmt_args f = {fmt, &ap};
    if (reply)
        *reply = NULL;
    int rc = with_retry(r, reply, send_fmt, &f);
    va_end(ap);
    return rc;
}

struct argv_args {
    int argc;
    const char **argv;
    const size_t *argvlen;
};

static redisReply *send_argv(redisContext *c, void *arg)
{
    struct argv_args *v = arg;
    return redisCommandArgv(c, v->argc, v->argv, v->argvlen);
}

int vd_redis_cmdv(struct vd_redis *r, redisReply **reply, int argc, const char **argv,
                  const size_t *argvlen)
{
    struct argv_args v = {argc, argv, argvlen};
    if (reply)
        *reply = NULL;
    return with_retry(r, reply, send_argv, &v);
}

int vd_redis_cmd_blocking(struct vd_redis *r, int block_ms, redisReply **reply, const char *fmt,
                          ...)
{
    struct vd_errbuf eb = {""};
    redisContext *c;
    redisReply *rep;
    va_list ap;

    if (reply)
        *reply = NULL;
    if (!(c = borrow(r, &eb))) {
        vd_log(VD_LOG_WARN, "redis", "%s", eb.msg);
        count_reconnect(r);
        return -EIO;
    }
    redisSetTimeout(c, tv_ms(block_ms + COMMAND_TIMEOUT_MS));
    va_start(ap, fmt);
    rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!rep) {
        vd_log(VD_LOG_WARN, "redis", "%s: %s", r->where, c->errstr);
        redisFree(c);
        count_reconnect(r);
        return -EIO;
    }
    redisSetTimeout(c, tv_ms(COMMAND_TIMEOUT_MS));
    give_back(r, c);
    return take_reply(r, rep, reply);
}

/* ---- the subscriber -------------------------------------------------------- */

struct vd_redis_sub {
    struct vd_redis *r;
    char *channels[SUB_CHANNELS_MAX];
    size_t n;
    vd_redis_msg_fn cb;
    void *arg;
    pthread_t thread;
    pthread_mutex_t mu;
    int stop;
};

static int sub_stopping(struct vd_redis_sub *s)
{
    pthread_mutex_lock(&s->mu);
    int v = s->stop;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Connects and subscribes; NULL when it could not. */
static redisContext *sub_connect(struct vd_redis_sub *s)
{
    struct vd_errbuf eb = {""};
    const char *argv[SUB_CHANNELS_MAX + 1];
    redisContext *c = connect_ctx(s->r, &eb);
    if (!c)
        return NULL;
    argv[0] = "SUBSCRIBE";
    for (size_t i = 0; i < s->n; i++)
        argv[i + 1] = s->channels[i];
    /* The replies (one confirmation per channel) are read by the loop. */
    if (redisAppendCommandArgv(c, (int)s->n + 1, argv, NULL) != REDIS_OK) {
        redisFree(c);
        return NULL;
    }
    int done = 0;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            redisFree(c);
            return NULL;
        }
    return c;
}

static void sub_deliver(struct vd_redis_sub *s, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 &&
        rep->element[0]->type == REDIS_REPLY_STRING && strcmp(rep->element[0]->str, "message") == 0 &&
        rep->element[1]->type == REDIS_REPLY_STRING && rep->element[2]->type == REDIS_REPLY_STRING)
        s->cb(s->arg, rep->element[1]->str, rep->element[2]->str, rep->element[2]->len);
}

static void *sub_main(void *arg)
{
    struct vd_redis_sub *s = arg;
    redisContext *c = NULL;
    int backoff_ms = 100, first = 1;

    while (!sub_stopping(s)) {
        if (!c) {
            if (!first) {
                count_reconnect(s->r);
                for (int t = 0; t < backoff_ms && !sub_stopping(s); t += 50) {
                    struct timespec ts = {0, 50 * 1000000L};
                    nanosleep(&ts, NULL);
                }
                backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
            }
            first = 0;
            if (!(c = sub_connect(s)))
                continue;
            vd_log(VD_LOG_DEBUG, "redis", "%s: subscribed", s->r->where);
        }
        void *rep = NULL;
        while (redisGetReplyFromReader(c, &rep) == REDIS_OK && rep) {
            sub_deliver(s, rep);
            freeReplyObject(rep);
            rep = NULL;
            backoff_ms = 100;
        }
        if (c->err)
            goto drop;
        struct pollfd pfd = {c->fd, POLLIN, 0};
        int k = poll(&pfd, 1, SUB_POLL_MS);
        if (k < 0 && errno != EINTR)
            goto drop;
        if (k > 0 && redisBufferRead(c) != REDIS_OK)
            goto drop;
        continue;
    drop:
        vd_log(VD_LOG_WARN, "redis", "%s: subscriber: %s; reconnecting", s->r->where,
               c->errstr[0] ? c->errstr : "connection lost");
        redisFree(c);
        c = NULL;
    }
    if (c)
        redisFree(c);
    return NULL;
}

int vd_redis_subscribe(struct vd_redis *r, const char *const *channels, size_t n,
                       vd_redis_msg_fn cb, void *arg, struct vd_redis_sub **out,
                       struct vd_errbuf *eb)
{
    *out = NULL;
    if (n == 0 || n > SUB_CHANNELS_MAX || !cb)
        return vd_errf(eb, VD_EINVAL, "subscribe: 1 to %d channels", SUB_CHANNELS_MAX);
    struct vd_redis_sub *s = vd_xcalloc(1, sizeof(*s));
    s->r = r;
    s->n = n;
    for (size_t i = 0; i < n; i++)
        s->channels[i] = vd_xstrdup(channels[i]);
    s->cb = cb;
    s->arg = arg;
    pthread_mutex_init(&s->mu, NULL);
    int e = pthread_create(&s->thread, NULL, sub_main, s);
    if (e) {
        for (size_t i = 0; i < n; i++)
            vd_free(s->channels[i]);
        pthread_mutex_destroy(&s->mu);
        vd_free(s);
        return vd_errf(eb, -e, "subscribe: starting its thread: %s", strerror(e));
    }
    *out = s;
    return 0;
}

void vd_redis_unsubscribe(struct vd_redis_sub *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->n; i++)
        vd_free(s->channels[i]);
    pthread_mutex_destroy(&s->mu);
    vd_free(s);
}
