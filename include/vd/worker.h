/*
 * worker.h - the workers: threads that take jobs from the queue, judge
 * them and store the results.
 *
 * A pool of N threads (one per sandbox slot by default). Each claims a job
 * (the store marks it running), reads the submission, runs the judge on
 * it, publishes progress to the event hub, stores the result and tells the
 * queue it is done. The HTTP threads never run user code; they only ask the
 * pool to cancel a job.
 *
 * Errors: 0 or a negative VD_E* code. Ownership: the pool borrows every
 * object of its config, which must outlive vd_workers_stop().
 */
#ifndef VD_WORKER_H
#define VD_WORKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vd/err.h"

struct vd_store;
struct vd_queue;
struct vd_judge;
struct vd_langs;
struct vd_events;

struct vd_worker_config {
    int threads; /* jobs judged at once; >= 1 */
    struct vd_store *store;
    struct vd_queue *queue;
    struct vd_judge *judge;
    const struct vd_langs *langs;
    struct vd_events *events; /* NULL: no live progress (a worker-only process) */
};

/* The judge-duration histogram's upper bounds, in seconds. */
#define VD_WORKER_BUCKETS 12
extern const double vd_worker_bucket_le[VD_WORKER_BUCKETS];

#define VD_WORKER_VERDICTS 10 /* one per enum vd_verdict */

struct vd_worker_stats {
    int threads;
    int running;                                      /* jobs being judged now */
    uint64_t finished;                                /* results stored since start */
    uint64_t by_verdict[VD_WORKER_VERDICTS];          /* indexed by enum vd_verdict */
    uint64_t cancelled;                               /* jobs cancelled while running */
    uint64_t store_retries;                           /* result writes that had to be retried */
    uint64_t duration_buckets[VD_WORKER_BUCKETS + 1]; /* counts, the last is +Inf */
    double duration_sum_s;
};

struct vd_workers;

int vd_workers_start(const struct vd_worker_config *cfg, struct vd_workers **out,
                     struct vd_errbuf *eb) VD_MUST_CHECK;
/* Stops claiming, cancels the jobs still running and puts them back in the
 * queue (so a restart runs them), joins every thread. NULL-safe. */
void vd_workers_stop(struct vd_workers *w);

/* Kills the job's run at once if this pool is running it; 1 when it was,
 * 0 when not. The store must already say cancelled (the caller sets it),
 * so that the result of the killed run is not stored. */
int vd_workers_cancel(struct vd_workers *w, const char *id);

void vd_workers_stats(struct vd_workers *w, struct vd_worker_stats *out);

/* The pool as a JSON object (a new reference): node name, host, pid,
 * slots, running, load, counts by verdict, jobs taken over, languages. */
json_t *vd_workers_describe(struct vd_workers *w, const char *node);

#endif /* VD_WORKER_H */
