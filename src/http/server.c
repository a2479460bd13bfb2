/*
 * server.c - the HTTP transport on libmicrohttpd.
 *
 * Theory of operation. libmicrohttpd parses HTTP; we run it with a thread
 * per connection (MHD_USE_THREAD_PER_CONNECTION), so a handler may block:
 * a long-polled ?wait=true holds its own thread, an SSE stream's producer
 * waits for the next event in its own thread. The access callback is called
 * first with the headers (we refuse a declared body over the cap at once:
 * 413), then with pieces of the body (appended to a capped buffer; a body
 * that grows past the cap without declaring its length is refused at the
 * end), and last with no data, when the handler runs and its response is
 * queued. Every request gets a random id, returned as X-Request-Id and
 * logged with method, path, status and duration on one line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "vd/alloc.h"
#include "vd/clock.h"
#include "vd/http.h"
#include "vd/json.h"
#include "vd/log.h"

#define VD_HTTP_TARGET_MAX 8192 /* longer targets are cut (libmicrohttpd caps lines too) */

struct vd_http_server {
    struct MHD_Daemon *d;
    vd_http_handler handler;
    void *ctx;
    size_t body_max;
};

/* Per request, between the access callback's calls; made by uri_cb. */
struct pending {
    struct vd_buf body;
    int too_big;
    int started; /* the headers have been seen */
    uint64_t t0_us;
    char *target; /* the request target as sent (signed requests cover it) */
};

struct stream {
    vd_http_stream_fn fn;
    void *arg;
    void (*free_arg)(void *);
    struct vd_buf chunk; /* produced, not yet handed to MHD */
    size_t off;
    int done;
};

const char *vd_http_query(const struct vd_http_request *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *vd_http_header(const struct vd_http_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

void vd_http_set_header(struct vd_http_response *res, const char *name, const char *value)
{
    if (res->nheaders >= VD_HTTP_MAX_HEADERS)
        return;
    res->header_names[res->nheaders] = name;
    snprintf(res->header_values[res->nheaders], sizeof(res->header_values[0]), "%s", value);
    res->nheaders++;
}

void vd_http_error(struct vd_http_response *res, int status, const char *code, const char *field,
                   const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    res->status = status;
    res->content_type = "application/json";
    vd_buf_reset(&res->body);
    /* "field" only when a field is at fault: absent, not null, otherwise. */
    json_t *o = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
    if (o && field)
        json_object_set_new(json_object_get(o, "error"), "field", json_string(field));
    if (!o || vd_json_dump(o, &res->body) < 0)
        (void)!vd_buf_adds(&res->body, "{\"error\":{\"code\":\"internal\",\"message\":\"error\"}}");
    json_decref(o);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    (void)pos;
    while (s->off >= s->chunk.len) {
        if (s->done)
            return MHD_CONTENT_READER_END_OF_STREAM;
        vd_buf_reset(&s->chunk);
        s->off = 0;
        if (!s->fn(s->arg, &s->chunk))
            s->done = 1;
    }
    size_t n = s->chunk.len - s->off;
    if (n > max)
        n = max;
    memcpy(buf, s->chunk.data + s->off, n);
    s->off += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    if (s->free_arg)
        s->free_arg(s->arg);
    vd_buf_free(&s->chunk);
    vd_free(s);
}

static double ms_since(uint64_t t0_us)
{
    return (double)(vd_clock_us() - t0_us) / 1e3;
}

static void new_request_id(char id[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char r[16] = {0};
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        memset(r, 0, sizeof(r));
    for (int i = 0; i < 16; i++) {
        id[2 * i] = hex[r[i] >> 4];
        id[2 * i + 1] = hex[r[i] & 15];
    }
    id[32] = '\0';
}

static void peer(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    out[0] = '\0';
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

static enum MHD_Result respond(struct MHD_Connection *c, struct vd_http_request *req,
                               struct vd_http_response *res, uint64_t t0_us)
{
    struct MHD_Response *r;
    if (res->stream) {
        struct stream *s = vd_xcalloc(1, sizeof(*s));
        s->fn = res->stream;
        s->arg = res->stream_arg;
        s->free_arg = res->stream_free;
        vd_buf_init(&s->chunk, 1 << 20);
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, s, stream_free);
        if (!r)
            stream_free(s);
    } else {
        r = MHD_create_response_from_buffer(
            res->body.len, res->body.data ? res->body.data : (void *)"", MHD_RESPMEM_MUST_COPY);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type",
                            res->content_type ? res->content_type : "application/json");
    MHD_add_response_header(r, "X-Request-Id", req->request_id);
    for (int i = 0; i < res->nheaders; i++)
        MHD_add_response_header(r, res->header_names[i], res->header_values[i]);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)res->status, r);
    MHD_destroy_response(r);
    vd_log(VD_LOG_INFO, "http", "request_id=%s remote=%s method=%s path=%s status=%d ms=%.1f",
           req->request_id, req->remote, req->method, req->path, res->status, ms_since(t0_us));
    return ok;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *data,
                                 size_t *data_size, void **con_cls)
{
    struct vd_http_server *s = cls;
    struct pending *p = *con_cls;
    (void)version;

    if (!p) /* uri_cb makes it; without one, there is nothing to answer with */
        return MHD_NO;
    if (!p->started) {
        p->started = 1;
        /* A declared body over the cap is refused before it is read. */
        const char *cl =
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->body_max)
            p->too_big = 1;
        else
            return MHD_YES;
    }
    if (*data_size > 0 && !p->too_big) {
        if (vd_buf_add(&p->body, data, *data_size) < 0)
            p->too_big = 1; /* the buffer freed itself: stop keeping */
        *data_size = 0;
        return MHD_YES;
    }
    if (*data_size > 0) {
        *data_size = 0; /* drain what we refuse */
        return MHD_YES;
    }

    struct vd_http_request req = {.method = method, .path = url, .target = p->target, .conn = c};
    struct vd_http_response res = {.status = 500};
    vd_buf_init(&res.body, (size_t)64 << 20);
    new_request_id(req.request_id);
    peer(c, req.remote, sizeof(req.remote));
    req.body = vd_buf_str(&p->body);
    req.body_len = p->body.len;
    if (p->too_big)
        vd_http_error(&res, 413, "body_too_large", NULL, "the request body is over %zu bytes",
                      s->body_max);
    else
        s->handler(s->ctx, &req, &res);
    enum MHD_Result ok = respond(c, &req, &res, p->t0_us);
    vd_buf_free(&res.body);
    return ok;
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct pending *p = *con_cls;
    (void)cls;
    (void)c;
    (void)toe;
    if (p) {
        vd_buf_free(&p->body);
        vd_free(p->target);
        vd_free(p);
        *con_cls = NULL;
    }
}

/* Called with the request target before libmicrohttpd decodes it; its
 * return value becomes the request's state. The raw target is what a
 * signature covers: decoding first would let two targets share one. */
static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *c)
{
    struct vd_http_server *s = cls;
    struct pending *p = vd_xcalloc(1, sizeof(*p));
    (void)c;
    vd_buf_init(&p->body, s->body_max);
    p->t0_us = vd_clock_us();
    size_t n = strnlen(uri, VD_HTTP_TARGET_MAX);
    p->target = vd_xmalloc(n + 1);
    memcpy(p->target, uri, n);
    p->target[n] = '\0';
    return p;
}

/* "host:port", "[v6]:port" or ":port". */
static int parse_listen(const char *s, struct sockaddr_storage *ss, struct vd_errbuf *eb)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    memset(ss, 0, sizeof(*ss));
    if (!colon || colon - s >= (long)sizeof(host))
        return vd_errf(eb, VD_EINVAL, "listen \"%s\": expected host:port", s);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 0 || port > 65535)
        return vd_errf(eb, VD_EINVAL, "listen \"%s\": bad port", s);
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        host[strlen(host) - 1] = '\0';
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return vd_errf(eb, VD_EINVAL, "listen \"%s\": bad IPv6 address", s);
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (!host[0] || strcmp(host, "*") == 0)
        a->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return vd_errf(eb, VD_EINVAL, "listen \"%s\": bad IPv4 address", s);
    return 0;
}

int vd_http_start(const struct vd_http_config *cfg, vd_http_handler h, void *ctx,
                  struct vd_http_server **out, struct vd_errbuf *eb)
{
    struct sockaddr_storage ss;
    int rc = parse_listen(cfg->listen, &ss, eb);
    *out = NULL;
    if (rc < 0)
        return rc;
    struct vd_http_server *s = vd_xcalloc(1, sizeof(*s));
    s->handler = h;
    s->ctx = ctx;
    s->body_max = cfg->body_max;
    /* poll(2), not select(2): a process holding many fds (boxes, SQLite,
     * clients) would pass FD_SETSIZE, and select cannot watch an fd above
     * it. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d =
        MHD_start_daemon(flags, 0, NULL, NULL, access_cb, s, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
                         cfg->connections ? cfg->connections : 256u, MHD_OPTION_CONNECTION_TIMEOUT,
                         cfg->timeout_s ? cfg->timeout_s : 60u, MHD_OPTION_NOTIFY_COMPLETED,
                         completed_cb, s, MHD_OPTION_URI_LOG_CALLBACK, uri_cb, s, MHD_OPTION_END);
    if (!s->d) {
        rc = vd_errf(eb, -errno ? -errno : VD_EINVAL, "cannot listen on %s: %s", cfg->listen,
                     errno ? strerror(errno) : "libmicrohttpd refused");
        vd_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int vd_http_port(const struct vd_http_server *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? (int)i->port : -1;
}

void vd_http_stop(struct vd_http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    vd_free(s);
}
