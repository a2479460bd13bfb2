/*
 * redis.h - a small pool of hiredis connections to one Redis server, and a
 * subscriber thread: what the Redis Streams queue and the cluster (events,
 * cancels, the worker registry, shared rate limits) use.
 *
 * hiredis contexts are not thread-safe, so every command borrows a context
 * from the pool for its duration. A command that fails on the connection
 * (reset, timeout, a restarted redis-server) drops that context and is sent
 * once more on a fresh one; the reconnects are counted. A reply of type
 * error is a failure too (-EIO), logged with Redis's own words.
 *
 * URL: redis://[[user]:password@]host[:port][/db] (port 6379, db 0).
 *
 * Errors: 0 or -errno (-EIO: the server is unreachable or refused the
 * command). Ownership: a reply given out is the caller's (freeReplyObject).
 */
#ifndef VD_REDIS_H
#define VD_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "vd/err.h"

struct vd_redis;

/* Connects once to check the URL and the server (eb says why not). At most
 * pool_max idle contexts are kept; more are made while they are needed. */
int vd_redis_open(const char *url, int pool_max, struct vd_redis **out, struct vd_errbuf *eb)
    VD_MUST_CHECK;
void vd_redis_close(struct vd_redis *r); /* every command has returned; NULL-safe */

/* One command in hiredis's printf form ("%s" and "%b" arguments). *reply
 * (may be NULL: discarded) is the caller's on success. */
int vd_redis_cmd(struct vd_redis *r, redisReply **reply, const char *fmt, ...) VD_MUST_CHECK;
/* The same in argv form. */
int vd_redis_cmdv(struct vd_redis *r, redisReply **reply, int argc, const char **argv,
                  const size_t *argvlen) VD_MUST_CHECK;
/* A command that blocks on the server up to block_ms (XREADGROUP BLOCK):
 * the socket's timeout is stretched to cover it. Not retried on failure. */
int vd_redis_cmd_blocking(struct vd_redis *r, int block_ms, redisReply **reply, const char *fmt,
                          ...) VD_MUST_CHECK;

/* Reconnects made since open, by commands and subscribers. */
uint64_t vd_redis_reconnects(struct vd_redis *r);
/* "host:port/db", for logs. */
const char *vd_redis_where(const struct vd_redis *r);

/* A thread SUBSCRIBEd to channels on its own connection, calling cb for
 * each message (on that thread). When the connection drops it reconnects,
 * with backoff, and subscribes again: messages published in between are
 * not seen (the store stays the truth; see the callers). */
typedef void (*vd_redis_msg_fn)(void *arg, const char *channel, const char *msg, size_t len);
struct vd_redis_sub;
int vd_redis_subscribe(struct vd_redis *r, const char *const *channels, size_t n,
                       vd_redis_msg_fn cb, void *arg, struct vd_redis_sub **out,
                       struct vd_errbuf *eb) VD_MUST_CHECK;
/* Stops and joins the thread (within a second). NULL-safe. */
void vd_redis_unsubscribe(struct vd_redis_sub *s);

#endif /* VD_REDIS_H */
