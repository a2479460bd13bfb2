/*
 * queue.c - the front of the queue: picks a backend, forwards every call.
 *
 * Theory of operation. vd_queue_open() reads the queue URL: none (NULL or
 * "") selects the embedded queue, which lives in the store's own database
 * (queue_store.c); "redis://..." selects Redis Streams (queue_redis.c). Every other call checks its arguments here, once for all
 * backends, and forwards through the table of operations (queue-int.h). The
 * handle is shared by the threads of one process: the API server pushes,
 * worker threads claim, and a shutdown wakes them all.
 */
#include <string.h>

#include "queue-int.h"
#include "vd/alloc.h"

/* Opens the queue named by url over store (which must outlive the queue);
 * *out is the caller's until vd_queue_close(). eb says why it failed. */
int vd_queue_open(const char *url, struct vd_store *store, const struct vd_queue_options *opt,
                  struct vd_queue **out, struct vd_errbuf *eb)
{
    const struct vd__queue_ops *ops = NULL;
    void *impl = NULL;
    int rc;

    *out = NULL;
    if (!url)
        url = "";
    if (!*url) {
        ops = &vd__queue_store_ops;
    } else if (strncmp(url, "redis://", 8) == 0 || strncmp(url, "rediss://", 9) == 0) {
        ops = &vd__queue_redis_ops;
    } else {
        rc = vd_errf(eb, VD_EINVAL,
                     "queue URL %s: unknown scheme (leave it empty for the embedded queue)", url);
        goto out;
    }
    if (!store) {
        rc = vd_errf(eb, VD_EINVAL, "the queue needs an open store");
        goto out;
    }
    struct vd_queue_options o = {0};
    if (opt)
        o = *opt;
    if (o.lease_ms <= 0)
        o.lease_ms = VD_QUEUE_LEASE_MS;
    rc = ops->open(url, store, &o, &impl, eb);
    if (rc < 0)
        goto out;
    struct vd_queue *q = vd_xmalloc(sizeof(*q));
    q->ops = ops;
    q->impl = impl;
    *out = q;
out:
    return rc;
}

/* Closes the queue; call vd_queue_wake_all() and let every claim return
 * first. NULL is a no-op. The store stays open. */
void vd_queue_close(struct vd_queue *q)
{
    if (!q)
        return;
    q->ops->close(q->impl);
    vd_free(q);
}

/* The contracts of the calls below are in vd/queue.h. */

int vd_queue_push(struct vd_queue *q, const char *id)
{
    if (!id)
        return VD_EINVAL;
    return q->ops->push(q->impl, id);
}

/* A negative timeout_ms waits until a job comes or vd_queue_wake_all(). */
int vd_queue_claim(struct vd_queue *q, int timeout_ms, struct vd_job *out)
{
    memset(out, 0, sizeof(*out));
    return q->ops->claim(q->impl, timeout_ms, out);
}

int vd_queue_done(struct vd_queue *q, const struct vd_job *job)
{
    if (!job || !job->id[0])
        return VD_EINVAL;
    return q->ops->done(q->impl, job);
}

int vd_queue_depth(struct vd_queue *q, uint64_t *out)
{
    *out = 0;
    return q->ops->depth(q->impl, out);
}

int vd_queue_recover(struct vd_queue *q, uint64_t *requeued)
{
    *requeued = 0;
    return q->ops->recover(q->impl, requeued);
}

int vd_queue_release(struct vd_queue *q, const struct vd_job *job)
{
    if (!job || !job->id[0])
        return VD_EINVAL;
    return q->ops->release(q->impl, job);
}

void vd_queue_abandon(struct vd_queue *q, const struct vd_job *job)
{
    if (q && job && q->ops->abandon)
        q->ops->abandon(q->impl, job);
}

void vd_queue_wake_all(struct vd_queue *q)
{
    if (q)
        q->ops->wake_all(q->impl);
}

void vd_queue_stats(struct vd_queue *q, struct vd_queue_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (q && q->ops->stats)
        q->ops->stats(q->impl, out);
}
