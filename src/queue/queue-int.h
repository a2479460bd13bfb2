/*
 * queue-int.h - what the files of src/queue share, and nothing else does.
 *
 * A queue backend fills in one struct vd__queue_ops (STYLE 3.9): today the
 * embedded queue over the store (queue_store.c) and Redis Streams
 * (queue_redis.c). queue.c picks the backend from the URL and forwards every
 * vd_queue_* call; each operation has the contract of the public call of the
 * same name in vd/queue.h and receives the backend's own state (impl).
 */
#ifndef VD_QUEUE_INT_H
#define VD_QUEUE_INT_H

#include <stdint.h>

#include "vd/queue.h"

struct vd__queue_ops {
    /* url: the queue URL as configured ("" for the embedded queue). */
    int (*open)(const char *url, struct vd_store *store, const struct vd_queue_options *opt,
                void **impl, struct vd_errbuf *eb);
    void (*close)(void *impl); /* no claim is waiting by then */

    int (*push)(void *impl, const char *id);
    int (*claim)(void *impl, int timeout_ms, struct vd_job *out);
    int (*done)(void *impl, const struct vd_job *job);
    int (*depth)(void *impl, uint64_t *out);
    int (*recover)(void *impl, uint64_t *requeued);
    void (*wake_all)(void *impl);
    int (*release)(void *impl, const struct vd_job *job);
    void (*abandon)(void *impl, const struct vd_job *job); /* NULL: nothing to do */
    void (*stats)(void *impl, struct vd_queue_stats *out); /* NULL: all 0 */
};

struct vd_queue {
    const struct vd__queue_ops *ops;
    void *impl;
};

extern const struct vd__queue_ops vd__queue_store_ops;
extern const struct vd__queue_ops vd__queue_redis_ops;

#endif /* VD_QUEUE_INT_H */
