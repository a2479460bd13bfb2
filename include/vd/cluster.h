/*
 * cluster.h - what the processes of one verdict installation share through
 * Redis, when REDIS_URL is set: live events, cancellations, the registry of
 * live workers, rate-limit buckets and signatures seen.
 *
 * Without Redis (the embedded default) there is no cluster object: every
 * caller takes NULL for "this process only" and keeps its in-process path.
 *
 * Channels (Redis pub/sub, at most once: the store stays the truth, and
 * every reader of these also polls it):
 *   verdict:events  one message per SSE frame, "ID\nFINAL\nEVENT\nDATA"
 *                   (EVENT "" closes the channel); every API node delivers
 *                   them to its own event hub, so SSE and ?wait=true work
 *                   on any node, whichever worker runs the job.
 *   verdict:cancel  a submission id; the process that runs it kills the run.
 * Keys:
 *   verdict:nodes, verdict:node:NAME   the registry (a set of names, and one
 *                   JSON record per process that expires unless renewed)
 *   verdict:rl:TIER|WHO                a token bucket (a Lua script)
 *   verdict:sig:HEX                    a signature seen (SET NX PX)
 *   verdict:lock:NAME                  a lock (SET NX PX, released by token)
 *
 * Errors: 0 or a negative code (-EIO: Redis is unreachable). Thread-safe.
 */
#ifndef VD_CLUSTER_H
#define VD_CLUSTER_H

#include <jansson.h>
#include <stdint.h>

#include "vd/auth.h"
#include "vd/err.h"

struct vd_cluster;
struct vd_events;
struct vd_workers;

/* node: this process's name (NULL: host-pid); role: "api", "worker" or
 * "all", as shown in the registry. */
int vd_cluster_open(const char *redis_url, const char *node, const char *role,
                    struct vd_cluster **out, struct vd_errbuf *eb) VD_MUST_CHECK;
/* Stops its threads and removes this process from the registry. NULL-safe. */
void vd_cluster_close(struct vd_cluster *c);

const char *vd_cluster_node(const struct vd_cluster *c);
int vd_cluster_ping(struct vd_cluster *c) VD_MUST_CHECK;
uint64_t vd_cluster_reconnects(struct vd_cluster *c);

/* Starts what this process takes part in: events (hub not NULL) relayed
 * through Redis, and delivered here when listen_events; cancels for the
 * workers (not NULL) of this process; and the registry's heartbeat for
 * them (vd_workers_describe, every two seconds). Call once, at start
 * (a cancel sent before it is seen by the workers' monitor in the store). */
int vd_cluster_start(struct vd_cluster *c, struct vd_events *hub, int listen_events,
                     struct vd_workers *workers, struct vd_errbuf *eb) VD_MUST_CHECK;

/* Tells every process to kill id's run (the store says cancelled already). */
int vd_cluster_cancel(struct vd_cluster *c, const char *id) VD_MUST_CHECK;

/* The live worker processes: a new JSON array of their records. */
int vd_cluster_workers(struct vd_cluster *c, json_t **out) VD_MUST_CHECK;

/* vd_auth_limiter_take() on a bucket shared by every API node. */
int vd_cluster_take(struct vd_cluster *c, const char *who, const struct vd_auth_tier *t,
                    double cost, struct vd_auth_take *out) VD_MUST_CHECK;
/* 0 the first time sig is seen (remembered for ttl_ms), VD_EAUTH after. */
int vd_cluster_seen(struct vd_cluster *c, const char *sig, int64_t ttl_ms) VD_MUST_CHECK;

/* A lock shared by every node, held up to ttl_ms (it expires should its
 * holder die): 0 with token set once held, waiting up to wait_ms;
 * VD_ETIMEDOUT when another holder kept it. Release with the same token. */
#define VD_CLUSTER_TOKEN_LEN 32
int vd_cluster_lock(struct vd_cluster *c, const char *name, int ttl_ms, int wait_ms,
                    char token[VD_CLUSTER_TOKEN_LEN + 1]) VD_MUST_CHECK;
void vd_cluster_unlock(struct vd_cluster *c, const char *name, const char *token);

#endif /* VD_CLUSTER_H */
