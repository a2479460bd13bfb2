/*
 * api.h - what the HTTP API accepts, checked before anything is stored.
 *
 * A submission request is JSON:
 *
 *   {"language": "python",              id or alias of the language table
 *    "source_code": "...",
 *    "stdin": "...",                    input of a run without tests
 *    "tests": [{"name": "1", "input": "...", "expected_output": "..."}],
 *    "checker": "tokens",               tokens, exact, nocase, float:EPS
 *    "limits": {"cpu_ms": 2000, "wall_ms": 5000, "memory_mb": 256,
 *               "processes": 16, "output_kb": 1024},
 *    "stop_on_failure": false,
 *    "callback_url": "https://...",
 *    "metadata": {...},                 kept and returned as it is
 *    "execute": true}                   false: store it, run it later
 *
 * The names the seeds' clients send are accepted too: language_id, code,
 * stdin_data, input, testcases / test_cases (with per-test stdin, expected,
 * output), time_limit_sec, timeout_seconds, memory_limit_mb, max_memory_mb.
 * Any other key is refused, so a typo never silently changes a request.
 *
 * A refusal fills struct vd_api_error: the HTTP status (400 malformed JSON
 * or wrong type, 413 over a size cap, 422 a value the server cannot
 * accept), a code, the field (dotted path, "tests[3].input") and a
 * sentence.
 */
#ifndef VD_API_H
#define VD_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "vd/buf.h"
#include "vd/err.h"
#include "vd/lang.h"

struct vd_api_error {
    int status;
    char code[32];
    char field[64];
    char message[256];
};

struct vd_api_test {
    char *name;
    char *input;
    size_t input_len;
    char *expected;
    size_t expected_len;
};

struct vd_api_caps {
    size_t source_max; /* bytes */
    size_t input_max;  /* bytes of stdin, and of all tests' input and output together */
    size_t tests_max;
};

struct vd_api_request {
    const struct vd_lang *lang;
    char *source;
    size_t source_len;
    char *stdin_data;
    size_t stdin_len;
    struct vd_api_test *tests;
    size_t ntests;
    char checker[64];
    struct vd_lang_limits limits; /* 0 fields: the language's defaults */
    int stop_on_failure;
    char *callback_url; /* NULL: none */
    char *metadata;     /* JSON text, NULL: none */
    int execute;
};

/* Parses and checks a request. 0 with *out filled (free with
 * vd_api_request_free), or a negative code with *err filled. */
int vd_api_request_parse(const char *body, size_t len, const struct vd_langs *langs,
                         const struct vd_api_caps *caps, struct vd_api_request *out,
                         struct vd_api_error *err) VD_MUST_CHECK;
void vd_api_request_free(struct vd_api_request *r);
/* The request in canonical form (our names only), the form stored and
 * parsed again by the worker. */
int vd_api_request_json(const struct vd_api_request *r, struct vd_buf *out) VD_MUST_CHECK;

/* ---- what the API answers (view.c) ---------------------------------------- */

struct vd_submission;

enum {
    VD_API_VIEW_FULL = 0,         /* every field, as GET /api/v1/submissions/{id} */
    VD_API_VIEW_SUMMARY = 1 << 0, /* the fields of a history listing */
    VD_API_VIEW_REQUEST = 1 << 1, /* plus "request": the stored request */
    VD_API_VIEW_OWNER = 1 << 2,   /* plus "owner" (for admins) */
};

/* The submission as the API shows it: lifecycle status and verdict kept
 * apart, times as RFC 3339 UTC, the judge's result flattened (stdout,
 * stderr, compile_output, exit_code, cpu_ms, ... and tests). A new
 * reference, or NULL when out of memory or the stored JSON is unreadable. */
json_t *vd_api_submission_view(const struct vd_submission *s, unsigned flags);
/* The same, serialised and appended to out. */
int vd_api_submission_json(const struct vd_submission *s, unsigned flags, struct vd_buf *out)
    VD_MUST_CHECK;
/* A Unix time in ms as "2026-12-02T04:45:25.123Z" (0: ""). */
void vd_api_time(int64_t ms, char out[32]);

/* The canonical request as a judge request, for the worker: *jr points into
 * r (and into the vectors made here, freed by vd_api_judge_request_free).
 * VD_EINVAL with a sentence in eb for a checker it cannot use. */
struct vd_judge_request;
int vd_api_judge_request(const struct vd_api_request *r, struct vd_judge_request *jr,
                         struct vd_errbuf *eb) VD_MUST_CHECK;
void vd_api_judge_request_free(struct vd_judge_request *jr);

/* ---- API keys (callers.c), for the API and `verdict admin` ---------------- */

struct vd_store;
struct vd_key;

/* Makes a key: a fresh id, its secret derived from master (given back in
 * secret, the only time it is shown), stored with its hash. role "admin"
 * or "client"; allowed a CIDR list or "". VD_EINVAL with a sentence. */
int vd_api_key_create(struct vd_store *s, const void *master, size_t mlen, const char *name,
                      const char *role, const char *tier, const char *allowed, struct vd_key *out,
                      char *secret, size_t secret_cap, struct vd_errbuf *eb) VD_MUST_CHECK;
/* The checks POST /api/v1/auth/register makes (and `verdict admin users
 * create`): 0, or VD_EINVAL with the field first in the sentence. */
int vd_api_user_check(const char *username, const char *email, const char *password,
                      struct vd_errbuf *eb) VD_MUST_CHECK;
/* The key as the API shows it (never its secret). */
json_t *vd_api_key_view(const struct vd_key *k);

/* ---- the HTTP API (api.c, submissions.c) ---------------------------------- */

struct vd_config;
struct vd_store;
struct vd_queue;
struct vd_events;
struct vd_workers;
struct vd_cluster;
struct vd_http_request;
struct vd_http_response;

struct vd_api_config {
    const struct vd_config *cfg;
    struct vd_store *store;
    struct vd_queue *queue;
    const struct vd_langs *langs;
    struct vd_events *events;
    struct vd_workers *workers; /* NULL: no workers in this process */
    struct vd_cluster *cluster; /* NULL: no Redis, this process only */
    const char *role;           /* "all", "api" */
    const char *sandbox_mode;   /* "cgroup2", "cgroup1", "none" */
    int sandbox_slots;
    int sandbox_ok;     /* the start-up self-test passed */
    const void *master; /* the master secret (copied) */
    size_t master_len;
    const char *sandbox_error; /* why not, when not */
};

struct vd_api;

/* The API over the given modules (borrowed: they outlive the API). */
int vd_api_new(const struct vd_api_config *c, struct vd_api **out, struct vd_errbuf *eb)
    VD_MUST_CHECK;
void vd_api_free(struct vd_api *a); /* after the HTTP server stopped; NULL-safe */
/* Ends long-polls and event streams soon (within a quarter second), so the
 * HTTP server can stop. */
void vd_api_shutdown(struct vd_api *a);
/* The secret that signs the webhooks of what owner owns: the creating key's
 * secret, else webhook_secret, else one derived from the master secret. */
void vd_api_webhook_secret(const struct vd_api *a, const char *owner, char *out, size_t cap);
/* The vd_http_handler: ctx is the struct vd_api. */
void vd_api_handle(void *ctx, const struct vd_http_request *req, struct vd_http_response *res);

#endif /* VD_API_H */
