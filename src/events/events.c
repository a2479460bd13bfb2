/*
 * events.c - the hub of live submission events (include/vd/events.h).
 *
 * Theory of operation. A hash table of channels keyed by submission id,
 * under one mutex. A channel is an append-only buffer of SSE frames plus a
 * condition variable; subscribers keep an offset into the buffer, so every
 * subscriber sees every frame, in order, without the publisher knowing who
 * listens. Publishing never blocks on subscribers (it appends and
 * broadcasts), so a slow SSE client cannot slow a worker down.
 *
 * A channel lives while it is in the table or a subscriber holds it. A
 * final frame (or vd_events_close) takes it out of the table at once, so a
 * later run of the same submission (execute again) starts a fresh channel
 * while readers of the old one finish reading; the last reader frees it. A
 * channel that a subscriber made and no one wrote to is freed with its last
 * subscriber, so subscribing to a finished submission leaves nothing
 * behind. Frames are only checked against the caps before they are
 * appended: a vd_buf that hits its cap frees itself, which would lose the
 * log.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vd/alloc.h"
#include "vd/clock.h"
#include "vd/hash.h"
#include "vd/events.h"
#include "vd/store.h"

#define BUCKETS 256

struct chan {
    char id[VD_ID_LEN + 1];
    struct vd_buf log;
    uint64_t seq; /* frames so far: each frame's SSE id */
    int closed;
    int in_table;
    int refs; /* subscribers */
    pthread_cond_t cv;
    struct chan *next; /* in its bucket */
};

struct vd_events {
    pthread_mutex_t mu;
    struct chan *buckets[BUCKETS];
    size_t n; /* channels alive, in the table or not */
    vd_events_relay_fn relay; /* set once, before any publish */
    void *relay_arg;
};

struct vd_events_sub {
    struct vd_events *h;
    struct chan *c;
    size_t off;
};

static unsigned bucket_of(const char *id)
{
    return vd_hash_str(id) % BUCKETS;
}

struct vd_events *vd_events_new(void)
{
    struct vd_events *h = vd_xcalloc(1, sizeof(*h));
    pthread_mutex_init(&h->mu, NULL);
    return h;
}

static void chan_free(struct vd_events *h, struct chan *c)
{
    vd_buf_free(&c->log);
    pthread_cond_destroy(&c->cv);
    vd_free(c);
    h->n--;
}

void vd_events_free(struct vd_events *h)
{
    if (!h)
        return;
    for (int b = 0; b < BUCKETS; b++)
        for (struct chan *c = h->buckets[b], *next; c; c = next) {
            next = c->next;
            chan_free(h, c);
        }
    pthread_mutex_destroy(&h->mu);
    vd_free(h);
}

/* The channel of id in the table, made when absent. Under the lock. */
static struct chan *get(struct vd_events *h, const char *id)
{
    unsigned b = bucket_of(id);
    for (struct chan *c = h->buckets[b]; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    struct chan *c = vd_xcalloc(1, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", id);
    vd_buf_init(&c->log, VD_EVENTS_LOG_MAX);
    vd_clock_cond_init(&c->cv);
    c->in_table = 1;
    c->next = h->buckets[b];
    h->buckets[b] = c;
    h->n++;
    return c;
}

/* Takes c out of the table (new frames for its id go to a new channel). */
static void unlink_chan(struct vd_events *h, struct chan *c)
{
    if (!c->in_table)
        return;
    for (struct chan **pp = &h->buckets[bucket_of(c->id)]; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    c->in_table = 0;
}

/* Closes c and frees it if no one reads it. Under the lock. */
static void close_chan(struct vd_events *h, struct chan *c)
{
    c->closed = 1;
    unlink_chan(h, c);
    pthread_cond_broadcast(&c->cv);
    if (c->refs == 0)
        chan_free(h, c);
}

void vd_events_set_relay(struct vd_events *h, vd_events_relay_fn fn, void *arg)
{
    h->relay = fn;
    h->relay_arg = arg;
}

/* Through the relay when there is one; should it fail (Redis is down),
 * this process's own subscribers are told at least. */
int vd_events_publish(struct vd_events *h, const char *id, const char *event, const char *data,
                      int final)
{
    if (!h || !id || !event || !data)
        return VD_EINVAL;
    if (h->relay && h->relay(h->relay_arg, id, event, data, final) == 0)
        return 0;
    return vd_events_deliver(h, id, event, data, final);
}

void vd_events_close(struct vd_events *h, const char *id)
{
    if (!h || !id)
        return;
    if (h->relay && h->relay(h->relay_arg, id, NULL, NULL, 1) == 0)
        return;
    (void)!vd_events_deliver(h, id, NULL, NULL, 1);
}

static void close_local(struct vd_events *h, const char *id)
{
    pthread_mutex_lock(&h->mu);
    unsigned b = bucket_of(id);
    for (struct chan *c = h->buckets[b]; c; c = c->next)
        if (strcmp(c->id, id) == 0) {
            close_chan(h, c);
            break;
        }
    pthread_mutex_unlock(&h->mu);
}

int vd_events_deliver(struct vd_events *h, const char *id, const char *event, const char *data,
                      int final)
{
    char head[96];
    int rc = 0;

    if (!h || !id)
        return VD_EINVAL;
    if (!event) {
        close_local(h, id);
        return 0;
    }
    if (!data)
        return VD_EINVAL;
    pthread_mutex_lock(&h->mu);
    struct chan *c = get(h, id);
    int n = snprintf(head, sizeof(head),
                     "id: %llu\nevent: %s\ndata: ", (unsigned long long)c->seq + 1, event);
    size_t dlen = strlen(data), need = (size_t)n + dlen + 2;
    size_t limit = final ? VD_EVENTS_LOG_MAX : VD_EVENTS_PROGRESS_MAX;
    if (n < 0 || (size_t)n >= sizeof(head) || c->log.len + need > limit) {
        rc = VD_ETOOBIG;
    } else if ((rc = vd_buf_add(&c->log, head, (size_t)n)) == 0 &&
               (rc = vd_buf_add(&c->log, data, dlen)) == 0 &&
               (rc = vd_buf_add(&c->log, "\n\n", 2)) == 0) {
        c->seq++;
    }
    if (final)
        close_chan(h, c);
    else
        pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&h->mu);
    return rc;
}

struct vd_events_sub *vd_events_subscribe(struct vd_events *h, const char *id)
{
    struct vd_events_sub *s = vd_xcalloc(1, sizeof(*s));
    s->h = h;
    pthread_mutex_lock(&h->mu);
    s->c = get(h, id);
    s->c->refs++;
    pthread_mutex_unlock(&h->mu);
    return s;
}

int vd_events_next(struct vd_events_sub *s, int timeout_ms, struct vd_buf *out)
{
    struct vd_events *h = s->h;
    struct chan *c = s->c;
    struct timespec until;
    int rc = 0;

    vd_clock_deadline(CLOCK_MONOTONIC, timeout_ms > 0 ? timeout_ms : 0, &until);
    pthread_mutex_lock(&h->mu);
    for (int timed_out = 0;;) {
        if (s->off < c->log.len) {
            size_t n = c->log.len - s->off, room = out->cap - out->len;
            if (room == 0) {
                rc = VD_ETOOBIG;
                break;
            }
            if (n > room)
                n = room;
            /* Fits under out's cap by construction, so it cannot fail. */
            if ((rc = vd_buf_add(out, c->log.data + s->off, n)) == 0) {
                s->off += n;
                rc = 1;
            }
            break;
        }
        if (c->closed) {
            rc = VD_ENOTFOUND;
            break;
        }
        if (timed_out) {
            rc = 0;
            break;
        }
        /* After a timeout, one more look: a frame may have come with it. */
        if (timeout_ms <= 0 || pthread_cond_timedwait(&c->cv, &h->mu, &until) == ETIMEDOUT)
            timed_out = 1;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

int vd_events_closed(struct vd_events_sub *s)
{
    pthread_mutex_lock(&s->h->mu);
    int closed = s->c->closed;
    pthread_mutex_unlock(&s->h->mu);
    return closed;
}

void vd_events_unsubscribe(struct vd_events_sub *s)
{
    if (!s)
        return;
    struct vd_events *h = s->h;
    struct chan *c = s->c;
    pthread_mutex_lock(&h->mu);
    if (--c->refs == 0 && (c->closed || c->log.len == 0)) {
        unlink_chan(h, c);
        chan_free(h, c);
    }
    pthread_mutex_unlock(&h->mu);
    vd_free(s);
}

size_t vd_events_channels(struct vd_events *h)
{
    pthread_mutex_lock(&h->mu);
    size_t n = h->n;
    pthread_mutex_unlock(&h->mu);
    return n;
}
