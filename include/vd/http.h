/*
 * http.h - the HTTP transport, on libmicrohttpd (no HTTP parsing of ours).
 *
 * One handler sees every request, with its body read completely and capped
 * (413 past the cap, before the handler runs), and fills a response: a
 * status, a body and a few headers, or a stream for Server-Sent Events.
 * Each connection has its own thread, so a handler may block (long-polled
 * ?wait=true, SSE) without holding up other clients. Each request gets an
 * id, sent back as X-Request-Id and logged on one line with the method,
 * path, status and duration.
 *
 * This module knows nothing of submissions or sandboxes: the API joins it
 * to the store and the queue.
 */
#ifndef VD_HTTP_H
#define VD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "vd/buf.h"
#include "vd/err.h"

#define VD_HTTP_MAX_HEADERS 8

struct vd_http_request {
    const char *method;
    const char *path;   /* without the query */
    const char *target; /* the request target as sent: path and query, undecoded */
    const char *body;   /* NUL-terminated; may hold NULs before body_len */
    size_t body_len;
    char request_id[33];
    char remote[64]; /* peer address */
    void *conn;      /* for vd_http_query / vd_http_header */
};

/* A query argument or a request header; NULL when absent. */
const char *vd_http_query(const struct vd_http_request *r, const char *key);
const char *vd_http_header(const struct vd_http_request *r, const char *name);

/* Produces the next piece of a streamed body into out; returns 1 while the
 * stream goes on, 0 at its end. May block. */
typedef int (*vd_http_stream_fn)(void *arg, struct vd_buf *out);

struct vd_http_response {
    int status;
    const char *content_type; /* static storage; default application/json */
    struct vd_buf body;       /* ignored for a stream */
    const char *header_names[VD_HTTP_MAX_HEADERS];
    char header_values[VD_HTTP_MAX_HEADERS][128];
    int nheaders;
    vd_http_stream_fn stream; /* non-NULL: a streamed body (SSE) */
    void *stream_arg;
    void (*stream_free)(void *arg); /* called when the stream is over */
};

/* Adds a response header (name in static storage). */
void vd_http_set_header(struct vd_http_response *res, const char *name, const char *value);
/* A JSON error body {"error": {"code", "message", "field"}} with status. */
void vd_http_error(struct vd_http_response *res, int status, const char *code, const char *field,
                   const char *fmt, ...) VD_PRINTF(5, 6);

typedef void (*vd_http_handler)(void *ctx, const struct vd_http_request *req,
                                struct vd_http_response *res);

/* ---- routing (router.c) ----------------------------------------------------- */

/* A route: a method and a path pattern whose segments are literal or
 * "{name}", which matches one non-empty segment (at most one per pattern;
 * our ids are the only parameter). HEAD is served by the GET route. */
typedef void (*vd_http_route_fn)(void *ctx, const struct vd_http_request *req, const char *param,
                                 struct vd_http_response *res);
struct vd_http_route {
    const char *method;
    const char *pattern;
    vd_http_route_fn fn;
    unsigned flags; /* the caller's, not looked at here */
};

#define VD_HTTP_PARAM_MAX 128

/* Finds the route for method and path in routes (ended by a NULL method):
 * 0 with *out and param filled; VD_ENOTFOUND when no pattern matches the
 * path (404); VD_EINVAL when some do, none for this method (405), with
 * the methods that would do in allow ("GET, DELETE"). A trailing slash is
 * ignored. */
int vd_http_route_find(const struct vd_http_route *routes, const char *method, const char *path,
                       const struct vd_http_route **out, char param[VD_HTTP_PARAM_MAX], char *allow,
                       size_t allow_cap) VD_MUST_CHECK;

struct vd_http_config {
    const char *listen;   /* host:port; port 0 picks a free one */
    size_t body_max;      /* bytes */
    unsigned connections; /* at most this many at once */
    unsigned timeout_s;   /* idle connection timeout */
};

struct vd_http_server;

int vd_http_start(const struct vd_http_config *cfg, vd_http_handler h, void *ctx,
                  struct vd_http_server **out, struct vd_errbuf *eb) VD_MUST_CHECK;
/* The port listened on (useful with port 0). */
int vd_http_port(const struct vd_http_server *s);
void vd_http_stop(struct vd_http_server *s);

#endif /* VD_HTTP_H */
