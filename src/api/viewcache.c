/*
 * viewcache.c - rendered views of finished submissions, so that a client
 * polling a result does not pay for JSON parsing and printing each time.
 *
 * Theory of operation. A finished submission's view changes only when it
 * is run again (its attempt grows, its status leaves "finished"), deleted,
 * or its webhook makes an attempt. So an entry is keyed by id and stamped
 * with the attempt, the finish time and the webhook's state and attempts it
 * was rendered from; the caller reads the row's state from
 * the store anyway (it must, to know the submission still exists, whichever
 * node changed it) and takes the cached text only when the stamp matches.
 * A stale entry is never served, only replaced.
 *
 * A direct-mapped table of VIEW_SLOTS entries, a hash of the id picking the
 * slot, one mutex per stripe of slots. Views over ENTRY_MAX are not kept
 * (outputs of megabytes are rare and costly to hold), and the whole table
 * holds at most TOTAL_MAX bytes: past it, a new view replaces an old one
 * in its slot or is not kept.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "api-int.h"
#include "vd/alloc.h"
#include "vd/hash.h"
#include "vd/store.h"

#define VIEW_SLOTS 4096
#define STRIPES 64
#define ENTRY_MAX ((size_t)256 << 10)
#define TOTAL_MAX ((size_t)64 << 20)

struct entry {
    char id[VD_ID_LEN + 1];
    int attempt;
    int64_t finished_ms;
    /* The webhook's state goes on changing after the finish. */
    int webhook_state, webhook_attempts;
    char *body;
    size_t len;
};

struct vd__api_cache {
    pthread_mutex_t mu[STRIPES];
    struct entry slots[VIEW_SLOTS];
    atomic_size_t total;
};

static unsigned slot_of(const char *id)
{
    return vd_hash_str(id) % VIEW_SLOTS;
}

struct vd__api_cache *vd__api_cache_new(void)
{
    struct vd__api_cache *c = vd_xcalloc(1, sizeof(*c));
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_init(&c->mu[i], NULL);
    return c;
}

void vd__api_cache_free(struct vd__api_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < VIEW_SLOTS; i++)
        vd_free(c->slots[i].body);
    for (int i = 0; i < STRIPES; i++)
        pthread_mutex_destroy(&c->mu[i]);
    vd_free(c);
}

int vd__api_cache_get(struct vd__api_cache *c, const struct vd_submission *s, struct vd_buf *out)
{
    unsigned k = slot_of(s->id);
    int hit = 0;
    pthread_mutex_lock(&c->mu[k % STRIPES]);
    struct entry *e = &c->slots[k];
    if (e->body && strcmp(e->id, s->id) == 0 && e->attempt == s->attempt &&
        e->finished_ms == s->finished_ms && e->webhook_state == (int)s->webhook_state &&
        e->webhook_attempts == s->webhook_attempts)
        hit = vd_buf_add(out, e->body, e->len) == 0;
    pthread_mutex_unlock(&c->mu[k % STRIPES]);
    return hit;
}

void vd__api_cache_put(struct vd__api_cache *c, const struct vd_submission *s, const char *body,
                       size_t len)
{
    if (len > ENTRY_MAX)
        return;
    unsigned k = slot_of(s->id);
    pthread_mutex_lock(&c->mu[k % STRIPES]);
    struct entry *e = &c->slots[k];
    size_t old = e->body ? e->len : 0;
    if (atomic_load(&c->total) - old + len <= TOTAL_MAX) {
        char *copy = vd_try_malloc(len ? len : 1);
        if (copy) {
            memcpy(copy, body, len);
            vd_free(e->body);
            memcpy(e->id, s->id, sizeof(e->id));
            e->attempt = s->attempt;
            e->finished_ms = s->finished_ms;
            e->webhook_state = (int)s->webhook_state;
            e->webhook_attempts = s->webhook_attempts;
            e->body = copy;
            e->len = len;
            atomic_fetch_add(&c->total, len);
            atomic_fetch_sub(&c->total, old);
        }
    }
    pthread_mutex_unlock(&c->mu[k % STRIPES]);
}
