/*
 * webhook.c - the webhook dispatcher (include/vd/webhook.h), on libcurl.
 *
 * Theory of operation. A scheduler thread asks the store for deliveries
 * that are due (finished submissions whose webhook is pending and whose
 * next attempt time has come), every TICK_MS or sooner when kicked, and
 * hands each to a pool of delivery threads through a bounded in-memory
 * list; an id already handed out is not handed out again until its attempt
 * is recorded. A delivery thread renders the submission as the API shows
 * it, POSTs it with its signature, and records the attempt in the store:
 * delivered on a 2xx, else pending again with the next attempt due after
 * an exponential backoff with jitter, or failed after max_attempts. The
 * store refuses to record one attempt twice, so even two dispatchers on one
 * database never count an attempt twice, and with a claim function (API
 * nodes sharing Redis) only one of them makes each attempt; a crash between
 * the POST and the
 * record means that attempt is made again (at least once, never lost; the
 * X-Verdict-Delivery id lets a receiver drop the duplicate).
 *
 * Requests: only http and https, no redirects (a redirect could lead
 * anywhere), a total timeout per attempt, no signals (libcurl's resolver
 * would otherwise use SIGALRM in a threaded process). SSRF: libcurl calls
 * open_socket() with the address it is about to connect to, after name
 * resolution, so the check is on the address actually used; a DNS answer
 * that changes between a check and the connection (rebinding) cannot slip
 * through. Loopback, private, link-local, unique-local, CGNAT, multicast
 * and unspecified addresses are refused unless allow_private; such a
 * refusal fails the webhook at once, since retrying cannot change it.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vd/alloc.h"
#include "vd/api.h"
#include "vd/auth.h"
#include "vd/buf.h"
#include "vd/clock.h"
#include "vd/log.h"
#include "vd/store.h"
#include "vd/webhook.h"

#define TICK_MS 500
#define BACKOFF_CAP_MS (300 * 1000)
#define PENDING_MAX 256 /* handed out, not yet recorded */
#define BODY_MAX ((size_t)64 << 20)
#define ANSWER_MAX 65536 /* of the receiver's answer, read and dropped */

struct job {
    char id[VD_ID_LEN + 1];
};

struct vd_webhooks {
    struct vd_webhook_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t work; /* a job was queued, or stop */
    pthread_cond_t tick; /* the scheduler's sleep: kick or stop */
    int stop, kicked;
    struct job queue[PENDING_MAX];
    size_t qhead, qlen;
    char inflight[PENDING_MAX][VD_ID_LEN + 1]; /* queued or being delivered */
    size_t ninflight;
    pthread_t scheduler;
    pthread_t *th;
    int nth, scheduler_started;
};

/* ---- addresses -------------------------------------------------------------- */

static int v4_blocked(const unsigned char a[4])
{
    return a[0] == 0 || a[0] == 10 || a[0] == 127 ||      /* this, private, loopback */
           (a[0] == 100 && (a[1] & 0xc0) == 64) ||        /* 100.64/10 CGNAT */
           (a[0] == 169 && a[1] == 254) ||                /* link-local (cloud metadata) */
           (a[0] == 172 && (a[1] & 0xf0) == 16) ||        /* 172.16/12 */
           (a[0] == 192 && a[1] == 168) ||                /* 192.168/16 */
           (a[0] == 192 && a[1] == 0 && a[2] == 0) ||     /* 192.0.0/24 IETF */
           (a[0] == 198 && (a[1] == 18 || a[1] == 19)) || /* benchmarking */
           a[0] >= 224;                                   /* multicast, reserved */
}

static int v6_blocked(const unsigned char a[16])
{
    static const unsigned char zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, zero, 12) == 0) /* mapped, or compatible */
        return memcmp(a, zero, 16) == 0 || memcmp(a, one, 16) == 0 || v4_blocked(a + 12);
    return (a[0] & 0xfe) == 0xfc ||                   /* fc00::/7 unique local */
           (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) || /* fe80::/10 link-local */
           a[0] == 0xff ||                            /* multicast */
           (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8); /* documentation */
}

int vd_webhook_address_blocked(const char *addr)
{
    unsigned char b[16];
    if (inet_pton(AF_INET, addr, b) == 1)
        return v4_blocked(b);
    if (inet_pton(AF_INET6, addr, b) == 1)
        return v6_blocked(b);
    return 1; /* not an address: never connect to it */
}

/* ---- one delivery ------------------------------------------------------------- */

struct attempt {
    struct vd_webhooks *w;
    char refused[128]; /* why the address was refused, "" when it was not */
};

static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct attempt *at = clientp;
    char text[INET6_ADDRSTRLEN] = "";
    (void)purpose;
    if (addr->family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&addr->addr)->sin_addr, text,
                  sizeof(text));
    else if (addr->family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&addr->addr)->sin6_addr, text,
                  sizeof(text));
    else
        snprintf(text, sizeof(text), "family %d", addr->family);
    if (!at->w->cfg.allow_private && vd_webhook_address_blocked(text)) {
        snprintf(at->refused, sizeof(at->refused),
                 "refused: %s is a loopback, private or link-local address", text);
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

static size_t drop_answer(char *p, size_t size, size_t n, void *arg)
{
    size_t *seen = arg;
    (void)p;
    *seen += size * n;
    return *seen > ANSWER_MAX ? 0 : size * n; /* a flood ends the transfer */
}

static int64_t backoff_ms(const struct vd_webhook_config *c, int attempt)
{
    double d = (double)c->backoff_ms;
    for (int i = 1; i < attempt && d < BACKOFF_CAP_MS; i++)
        d *= 2;
    if (d > BACKOFF_CAP_MS)
        d = BACKOFF_CAP_MS;
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)vd_clock_us();
    /* Jitter of +-50%, so receivers back up from an outage do not all get
     * their retries in the same instant. */
    return (int64_t)(d * (0.5 + (double)r / 4294967296.0));
}

static void deliver(struct vd_webhooks *w, const char *id)
{
    struct vd_submission sub;
    struct vd_buf body;
    struct curl_slist *hdrs = NULL;
    struct attempt at = {w, ""};
    char secret[256], sig[VD_AUTH_HEX_LEN + 1], line[512], delivery[VD_ID_LEN + 1];
    char error[256] = "";
    long status = 0;
    size_t seen = 0;
    CURL *curl = NULL;

    memset(&sub, 0, sizeof(sub));
    vd_buf_init(&body, BODY_MAX);
    if (vd_store_peek(w->cfg.store, id, &sub) < 0 || sub.webhook_state != VD_WEBHOOK_PENDING ||
        !sub.webhook_url)
        goto out; /* deleted, re-run or delivered meanwhile */
    int attempt = sub.webhook_attempts + 1;
    if (w->cfg.claim && !w->cfg.claim(w->cfg.claim_arg, id, attempt))
        goto out; /* another API node makes this attempt */
    if (sub.webhook_delivery[0])
        memcpy(delivery, sub.webhook_delivery, sizeof(delivery));
    else
        vd_store_new_id(delivery);
    if (vd_api_submission_json(&sub, VD_API_VIEW_FULL, &body) < 0) {
        snprintf(error, sizeof(error), "the submission could not be rendered");
        goto record;
    }
    w->cfg.secret_for(w->cfg.secret_arg, sub.owner, secret, sizeof(secret));
    vd_auth_hmac_hex(secret, strlen(secret), body.data, body.len, sig);
    explicit_bzero(secret, sizeof(secret));

    static const char *const fixed[] = {"Content-Type: application/json",
                                        "X-Verdict-Event: submission.finished", "Expect:"};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        hdrs = curl_slist_append(hdrs, fixed[i]);
    snprintf(line, sizeof(line), "X-Verdict-Delivery: %s", delivery);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof(line), "X-Verdict-Timestamp: %lld", (long long)(vd_now_ms() / 1000));
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof(line), "X-Verdict-Signature: sha256=%s", sig);
    hdrs = curl_slist_append(hdrs, line);
    snprintf(line, sizeof(line), "X-Verdict-Attempt: %d", attempt);
    hdrs = curl_slist_append(hdrs, line);

    if (!(curl = curl_easy_init()) || !hdrs) {
        snprintf(error, sizeof(error), "out of memory");
        goto record;
    }
    curl_easy_setopt(curl, CURLOPT_URL, sub.webhook_url);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)w->cfg.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)w->cfg.timeout_ms);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "verdict/0.1.0");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &at);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, drop_answer);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &seen);
    CURLcode cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (at.refused[0])
        snprintf(error, sizeof(error), "%s", at.refused);
    else if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && status >= 200 && status < 300))
        snprintf(error, sizeof(error), "%s", curl_easy_strerror(cc));
    else if (status < 200 || status > 299)
        snprintf(error, sizeof(error), "HTTP %ld", status);

record:;
    enum vd_webhook_state next = VD_WEBHOOK_DELIVERED;
    int64_t due = 0;
    if (error[0]) {
        next = at.refused[0] || attempt >= w->cfg.max_attempts ? VD_WEBHOOK_FAILED
                                                               : VD_WEBHOOK_PENDING;
        due = next == VD_WEBHOOK_PENDING ? vd_now_ms() + backoff_ms(&w->cfg, attempt) : 0;
    }
    int rc = vd_store_webhook_record(w->cfg.store, id, attempt, (int)status,
                                     error[0] ? error : NULL, next, due, delivery);
    if (rc < 0 && rc != VD_EINVAL)
        vd_log(VD_LOG_WARN, "webhook", "id=%s attempt=%d not recorded: %s", id, attempt,
               vd_strerror(rc));
    vd_log(next == VD_WEBHOOK_FAILED ? VD_LOG_WARN : VD_LOG_INFO, "webhook",
           "id=%s delivery=%s attempt=%d status=%ld state=%s%s%s", id, delivery, attempt, status,
           vd_webhook_state_name(next), error[0] ? " error=" : "", error);
out:
    if (curl)
        curl_easy_cleanup(curl);
    curl_slist_free_all(hdrs);
    vd_buf_free(&body);
    vd_submission_free(&sub);
}

/* ---- threads --------------------------------------------------------------------- */

static int inflight_has(struct vd_webhooks *w, const char *id)
{
    for (size_t i = 0; i < w->ninflight; i++)
        if (strcmp(w->inflight[i], id) == 0)
            return 1;
    return 0;
}

static void inflight_drop(struct vd_webhooks *w, const char *id)
{
    for (size_t i = 0; i < w->ninflight; i++)
        if (strcmp(w->inflight[i], id) == 0) {
            memcpy(w->inflight[i], w->inflight[--w->ninflight], VD_ID_LEN + 1);
            return;
        }
}

static void *worker_main(void *arg)
{
    struct vd_webhooks *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->qlen == 0)
            pthread_cond_wait(&w->work, &w->mu);
        if (w->stop)
            break;
        struct job j = w->queue[w->qhead];
        w->qhead = (w->qhead + 1) % PENDING_MAX;
        w->qlen--;
        pthread_mutex_unlock(&w->mu);
        deliver(w, j.id);
        pthread_mutex_lock(&w->mu);
        inflight_drop(w, j.id);
        w->kicked = 1; /* it may be due again soon (a short backoff) */
        pthread_cond_signal(&w->tick);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static void *scheduler_main(void *arg)
{
    struct vd_webhooks *w = arg;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        size_t room = PENDING_MAX - w->ninflight;
        pthread_mutex_unlock(&w->mu);
        struct vd_submission *due = NULL;
        size_t n = 0;
        int rc = room ? vd_store_webhooks_due(w->cfg.store, vd_now_ms(), room, &due, &n) : 0;
        if (rc < 0)
            vd_log(VD_LOG_WARN, "webhook", "looking for due deliveries: %s", vd_strerror(rc));
        pthread_mutex_lock(&w->mu);
        for (size_t i = 0; i < n; i++) {
            if (!inflight_has(w, due[i].id) && w->ninflight < PENDING_MAX) {
                memcpy(w->inflight[w->ninflight++], due[i].id, VD_ID_LEN + 1);
                memcpy(w->queue[(w->qhead + w->qlen) % PENDING_MAX].id, due[i].id, VD_ID_LEN + 1);
                w->qlen++;
                pthread_cond_signal(&w->work);
            }
            vd_submission_free(&due[i]);
        }
        vd_free(due);
        if (!w->kicked && !w->stop) {
            struct timespec until;
            vd_clock_deadline(CLOCK_MONOTONIC, TICK_MS, &until);
            pthread_cond_timedwait(&w->tick, &w->mu, &until);
        }
        w->kicked = 0;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int vd_webhooks_start(const struct vd_webhook_config *cfg, struct vd_webhooks **out,
                      struct vd_errbuf *eb)
{
    *out = NULL;
    if (!cfg->store || cfg->threads < 1 || cfg->max_attempts < 1 || !cfg->secret_for)
        return vd_errf(eb, VD_EINVAL, "webhooks: incomplete configuration");
    /* Not thread-safe, and must come first: once, before our threads. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return vd_errf(eb, VD_EINVAL, "webhooks: libcurl did not initialise");
    struct vd_webhooks *w = vd_xcalloc(1, sizeof(*w));
    w->cfg = *cfg;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->work, NULL);
    vd_clock_cond_init(&w->tick);
    w->th = vd_xcalloc((size_t)cfg->threads, sizeof(*w->th));
    for (int i = 0; i < cfg->threads; i++) {
        if (pthread_create(&w->th[i], NULL, worker_main, w) != 0)
            break;
        w->nth++;
    }
    if (w->nth == cfg->threads && pthread_create(&w->scheduler, NULL, scheduler_main, w) == 0)
        w->scheduler_started = 1;
    if (!w->scheduler_started) {
        vd_webhooks_stop(w);
        return vd_errf(eb, -EAGAIN, "webhooks: cannot start threads");
    }
    *out = w;
    return 0;
}

void vd_webhooks_stop(struct vd_webhooks *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->work);
    pthread_cond_broadcast(&w->tick);
    pthread_mutex_unlock(&w->mu);
    if (w->scheduler_started)
        pthread_join(w->scheduler, NULL);
    for (int i = 0; i < w->nth; i++)
        pthread_join(w->th[i], NULL);
    pthread_cond_destroy(&w->work);
    pthread_cond_destroy(&w->tick);
    pthread_mutex_destroy(&w->mu);
    vd_free(w->th);
    vd_free(w);
    curl_global_cleanup();
}

void vd_webhooks_kick(struct vd_webhooks *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->kicked = 1;
    pthread_cond_signal(&w->tick);
    pthread_mutex_unlock(&w->mu);
}
