/*
 * queue.h - hand submissions from the API to the workers.
 *
 * The embedded default keeps the queue in the store's own database: a
 * submission whose status is "queued" is the entry, and a claim turns it
 * "running" (attempt + 1) in one statement, so a job is either queued or
 * running, never lost between the two. The Redis Streams backend
 * (queue_redis.c) implements the same table of operations for many
 * processes on many hosts.
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
    int attempt;     /* 1 on the first run */
    char handle[48]; /* the backend's name of the entry (a stream entry id); "" embedded */
    int reclaimed;   /* taken over from a worker that stopped answering */
};

struct vd_queue;

/* Options of a queue that is shared by several processes (Redis). */
struct vd_queue_options {
    /* A claimed job whose worker has not renewed it for this long is taken
     * over by another worker (its run starts again as a new attempt). Live
     * workers renew theirs every third of it. 0: VD_QUEUE_LEASE_MS. */
    int lease_ms;
    /* This process's name among the consumers; NULL: host-pid. */
    const char *consumer;
};
#define VD_QUEUE_LEASE_MS 15000

struct vd_queue_stats {
    uint64_t reclaimed; /* jobs taken over from a silent worker */
    uint64_t skipped;   /* entries of jobs already run, cancelled or deleted */
    uint64_t swept;     /* queued jobs found without an entry and pushed again */
    uint64_t reconnects;
};

/* url NULL or "" selects the store's embedded queue; "redis://..." the
 * Redis Streams queue. opt may be NULL (defaults). */
int vd_queue_open(const char *url, struct vd_store *store, const struct vd_queue_options *opt,
                  struct vd_queue **out, struct vd_errbuf *eb) VD_MUST_CHECK;
void vd_queue_close(struct vd_queue *q);

/* Tells waiting workers a job is there (the store holds it already). */
int vd_queue_push(struct vd_queue *q, const char *id) VD_MUST_CHECK;
/* Waits up to timeout_ms for a job and marks it running. */
int vd_queue_claim(struct vd_queue *q, int timeout_ms, struct vd_job *out) VD_MUST_CHECK;
/* The job's result is stored: the queue forgets it. */
int vd_queue_done(struct vd_queue *q, const struct vd_job *job) VD_MUST_CHECK;
/* The job goes back to the queue for another worker (the store says queued
 * again already): a worker that stops with a job in hand. */
int vd_queue_release(struct vd_queue *q, const struct vd_job *job) VD_MUST_CHECK;
/* Jobs waiting. */
int vd_queue_depth(struct vd_queue *q, uint64_t *out) VD_MUST_CHECK;
/* At start: the jobs a dead process was running go back to the queue. */
int vd_queue_recover(struct vd_queue *q, uint64_t *requeued) VD_MUST_CHECK;
/* The worker lets go of a job it could not finish (the store kept
 * failing): the queue forgets that this process holds it, without being
 * told it is done, so that another worker takes it over after the lease.
 * The embedded queue has nothing to do: the job stays running in the store
 * until the next start recovers it. */
void vd_queue_abandon(struct vd_queue *q, const struct vd_job *job);
/* Wakes every waiting claim (shutdown). */
void vd_queue_wake_all(struct vd_queue *q);
/* Counters since open (all 0 for the embedded queue). */
void vd_queue_stats(struct vd_queue *q, struct vd_queue_stats *out);

#endif /* VD_QUEUE_H */
