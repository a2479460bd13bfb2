/*
 * queue.h - hand submissions from the API to the workers.
 *
 * The embedded default keeps the queue in the store's own database: a
 * submission whose status is "queued" is the entry, and a claim turns it
 * "running" (attempt + 1) in one statement, so a job is either queued or
 * running, never lost between the two. Later a Redis Streams backend
 * implements the same table of operations (struct vd__queue_ops).
 *
 * Errors: 0 or a negative VD_E* code; VD_ETIMEDOUT when nothing came.
 * Ownership: a claimed job belongs to its worker until vd_queue_done().
 */
#ifndef VD_QUEUE_H
#define VD_QUEUE_H

#include <stdint.h>

#include "vd/err.h"
#include "vd/store.h"

struct vd_job {
    char id[VD_ID_LEN + 1];
    int attempt; /* 1 on the first run */
};

struct vd_queue;

/* url NULL or "" selects the store's embedded queue. */
int vd_queue_open(const char *url, struct vd_store *store, struct vd_queue **out,
                  struct vd_errbuf *eb) VD_MUST_CHECK;
void vd_queue_close(struct vd_queue *q);

/* Tells waiting workers a job is there (the store holds it already). */
int vd_queue_push(struct vd_queue *q, const char *id) VD_MUST_CHECK;
/* Waits up to timeout_ms for a job and marks it running. */
int vd_queue_claim(struct vd_queue *q, int timeout_ms, struct vd_job *out) VD_MUST_CHECK;
/* The job's result is stored: the queue forgets it. */
int vd_queue_done(struct vd_queue *q, const struct vd_job *job) VD_MUST_CHECK;
/* Jobs waiting. */
int vd_queue_depth(struct vd_queue *q, uint64_t *out) VD_MUST_CHECK;
/* At start: the jobs a dead process was running go back to the queue. */
int vd_queue_recover(struct vd_queue *q, uint64_t *requeued) VD_MUST_CHECK;
/* Wakes every waiting claim (shutdown). */
void vd_queue_wake_all(struct vd_queue *q);

#endif /* VD_QUEUE_H */
