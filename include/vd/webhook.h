/*
 * webhook.h - delivering finished submissions to their callback URLs.
 *
 * The store keeps each submission's webhook state (pending, delivered,
 * failed; attempts; last status; when the next attempt is due), so
 * deliveries survive a restart: the dispatcher only ever works from what
 * the store says is due. Deliveries run on their own threads and never
 * hold up the queue or the workers.
 *
 * Errors: 0 or a negative VD_E* code. Ownership: the dispatcher borrows
 * its config's store, which must outlive vd_webhooks_stop().
 */
#ifndef VD_WEBHOOK_H
#define VD_WEBHOOK_H

#include <stddef.h>

#include "vd/err.h"

struct vd_store;

struct vd_webhook_config {
    struct vd_store *store;
    int threads;       /* deliveries at once */
    int max_attempts;  /* then failed */
    int timeout_ms;    /* one attempt, connecting included */
    int backoff_ms;    /* before the first retry; doubles, with jitter, to 5 minutes */
    int allow_private; /* deliver to loopback, link-local and private addresses too */
    /* The secret that signs the webhooks of what owner owns, into out. */
    void (*secret_for)(void *arg, const char *owner, char *out, size_t cap);
    void *secret_arg;
    /* Several dispatchers on one store (API nodes): 1 when this one may
     * make attempt `attempt` of id's delivery, 0 when another does. NULL:
     * this dispatcher is the only one. */
    int (*claim)(void *arg, const char *id, int attempt);
    void *claim_arg;
};

struct vd_webhooks;

int vd_webhooks_start(const struct vd_webhook_config *cfg, struct vd_webhooks **out,
                      struct vd_errbuf *eb) VD_MUST_CHECK;
/* Lets deliveries in progress end (each is bounded by timeout_ms), joins
 * every thread. NULL-safe. */
void vd_webhooks_stop(struct vd_webhooks *w);
/* A result was stored: look for due deliveries now, not at the next tick. */
void vd_webhooks_kick(struct vd_webhooks *w);

/* Whether an address (text) is one a webhook must not reach unless
 * allowed: loopback, private, link-local, unique-local, CGNAT, multicast,
 * unspecified, or such an address mapped into IPv6. Exposed for tests. */
int vd_webhook_address_blocked(const char *addr);

#endif /* VD_WEBHOOK_H */
