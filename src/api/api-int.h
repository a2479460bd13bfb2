/*
 * api-int.h - what the files of src/api share: the API's state and the
 * helpers every handler uses to answer.
 */
#ifndef VD_API_INT_H
#define VD_API_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "vd/api.h"
#include "vd/config.h"
#include "vd/http.h"

#define VD__API_STATUS_MAX 600 /* HTTP statuses counted for /metrics */

/* Rendered views of finished submissions (viewcache.c). */
struct vd__api_cache;
struct vd_submission;
struct vd__api_cache *vd__api_cache_new(void);
void vd__api_cache_free(struct vd__api_cache *c);
/* Appends the cached view of s to out and returns 1 when one was rendered
 * from the same attempt and finish; 0 otherwise. */
int vd__api_cache_get(struct vd__api_cache *c, const struct vd_submission *s, struct vd_buf *out);
/* Keeps the view of finished s (too large ones are not kept). */
void vd__api_cache_put(struct vd__api_cache *c, const struct vd_submission *s, const char *body,
                       size_t len);

struct vd_api {
    struct vd_api_config c;
    struct vd_api_caps caps;
    int64_t started_ms;
    atomic_int shutting_down;
    atomic_uint_fast64_t created;                       /* submissions accepted */
    atomic_uint_fast64_t by_status[VD__API_STATUS_MAX]; /* responses by HTTP status */
    char *languages_json;                               /* GET /api/v1/languages, made once */
    char *languages_all_json;                           /* the same with ?all=true */
    struct vd__api_cache *views;                        /* finished views, rendered */
};

/* Answers with o as the body (takes the reference, even on failure). */
void vd__api_json(struct vd_http_response *res, int status, json_t *o);
/* 503 for a store or queue that failed, with Retry-After. */
void vd__api_unavailable(struct vd_http_response *res, const char *what, int rc);
/* A boolean query parameter: 0 or 1, or -1 after answering 400. */
int vd__api_bool_param(const struct vd_http_request *req, struct vd_http_response *res,
                       const char *name);
/* An integer query parameter in [lo, hi] (dflt when absent): 0 with *out,
 * or -1 after answering 400. */
int vd__api_int_param(const struct vd_http_request *req, struct vd_http_response *res,
                      const char *name, long long dflt, long long lo, long long hi, long long *out);

/* The submission handlers (submissions.c). */
void vd__api_post(void *ctx, const struct vd_http_request *req, const char *param,
                  struct vd_http_response *res);
void vd__api_batch(void *ctx, const struct vd_http_request *req, const char *param,
                   struct vd_http_response *res);
void vd__api_list(void *ctx, const struct vd_http_request *req, const char *param,
                  struct vd_http_response *res);
void vd__api_get(void *ctx, const struct vd_http_request *req, const char *param,
                 struct vd_http_response *res);
void vd__api_delete(void *ctx, const struct vd_http_request *req, const char *param,
                    struct vd_http_response *res);
void vd__api_execute(void *ctx, const struct vd_http_request *req, const char *param,
                     struct vd_http_response *res);
void vd__api_events(void *ctx, const struct vd_http_request *req, const char *param,
                    struct vd_http_response *res);

#endif /* VD_API_INT_H */
