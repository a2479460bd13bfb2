/*
 * events.h - live progress of submissions inside one process: what the
 * workers publish, what SSE streams and ?wait=true requests wait for.
 *
 * Each submission with something to say has a channel: an append-only log
 * of Server-Sent Event frames ("id: N\nevent: E\ndata: D\n\n"). A worker
 * appends a frame when the job starts, as each test ends, and with the final
 * result, which closes the channel. A subscriber reads the log from its
 * beginning, so a client that connects in the middle of a run still gets
 * every test that ended before it came, then waits for more.
 *
 * Only the frames of live jobs are kept: a closed channel is dropped from
 * the hub at once (subscribers still reading keep it alive until they let
 * go), and a channel a subscriber opened that no one ever wrote to goes
 * with its last subscriber. The store stays the truth: a subscriber reads
 * the state from the store first, and the API polls the store too, so a
 * frame lost on the way from another process (Redis was restarting) only
 * delays what a client sees.
 *
 * Thread-safe: one mutex for the hub, one condition variable per channel.
 * Ownership: the hub copies what is published; a subscription is the
 * caller's until vd_events_unsubscribe().
 */
#ifndef VD_EVENTS_H
#define VD_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "vd/buf.h"
#include "vd/err.h"

/* A channel's log stops taking non-final frames past this (a final one
 * always fits, up to VD_EVENTS_LOG_MAX). */
#define VD_EVENTS_PROGRESS_MAX ((size_t)1 << 20)
#define VD_EVENTS_LOG_MAX ((size_t)64 << 20)

struct vd_events;
struct vd_events_sub;

struct vd_events *vd_events_new(void);
/* Every subscription must be gone by then. NULL-safe. */
void vd_events_free(struct vd_events *h);

/* Appends one frame to id's channel (making it when needed); final closes
 * the channel. data is one line of text (compact JSON). A frame that does
 * not fit is dropped and VD_ETOOBIG returned; a final frame that does not
 * fit still closes the channel. */
int vd_events_publish(struct vd_events *h, const char *id, const char *event, const char *data,
                      int final);
/* Closes id's channel without a frame (a job that ended with nothing more to
 * say, e.g. cancelled, whose end the canceller announced). */
void vd_events_close(struct vd_events *h, const char *id);

/* Subscribes to id's channel from its first frame. Never fails. */
struct vd_events_sub *vd_events_subscribe(struct vd_events *h, const char *id);
/* Appends the frames not yet read to out, waiting up to timeout_ms for
 * some. Returns 1 when it appended, 0 when nothing came in time, and
 * VD_ENOTFOUND (negative) once the channel is closed and read to its end;
 * VD_ETOOBIG when out is full (the frames stay unread). */
int vd_events_next(struct vd_events_sub *s, int timeout_ms, struct vd_buf *out) VD_MUST_CHECK;
/* Whether the channel has been closed (everything read or not). */
int vd_events_closed(struct vd_events_sub *s);
void vd_events_unsubscribe(struct vd_events_sub *s); /* NULL-safe */

/* Several processes (the cluster, over Redis pub/sub): once a relay is
 * set, publish and close hand each frame to fn instead (event and data
 * NULL for a close), and fn's other end, on every API node, calls
 * vd_events_deliver() with it, which does what publish does without a
 * relay. Set it before the first publish. */
typedef int (*vd_events_relay_fn)(void *arg, const char *id, const char *event, const char *data,
                                  int final);
void vd_events_set_relay(struct vd_events *h, vd_events_relay_fn fn, void *arg);
int vd_events_deliver(struct vd_events *h, const char *id, const char *event, const char *data,
                      int final);

/* Channels alive (for tests and /metrics). */
size_t vd_events_channels(struct vd_events *h);

#endif /* VD_EVENTS_H */
