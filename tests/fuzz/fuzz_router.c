/*
 * fuzz_router.c - the router on arbitrary methods and paths (bytes from
 * the network, after libmicrohttpd): it must find a route, answer 404 or
 * 405, and never overrun the parameter or the Allow list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vd/alloc.h"
#include "vd/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h(void *c, const struct vd_http_request *q, const char *p, struct vd_http_response *r)
{
    (void)c, (void)q, (void)p, (void)r;
}

static const struct vd_http_route routes[] = {
    {"POST", "/api/v1/submissions", h, 0},
    {"GET", "/api/v1/submissions", h, 0},
    {"POST", "/api/v1/submissions/batch", h, 0},
    {"GET", "/api/v1/submissions/{id}", h, 0},
    {"DELETE", "/api/v1/submissions/{id}", h, 0},
    {"POST", "/api/v1/submissions/{id}/execute", h, 0},
    {"GET", "/api/v1/submissions/{id}/events", h, 0},
    {"GET", "/", h, 0},
    {NULL, NULL, NULL, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "DELETE", "HEAD", "PUT", "PATCH"};
    const struct vd_http_route *r;
    char param[VD_HTTP_PARAM_MAX], allow[24];
    if (size < 1 || size > 4096)
        return 0;
    char *path = vd_try_malloc(size);
    if (!path)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    int rc =
        vd_http_route_find(routes, methods[data[0] % 6], path, &r, param, allow, sizeof(allow));
    if (rc == 0) {
        if (!r || strlen(param) >= sizeof(param))
            abort();
    } else if (rc == VD_EINVAL) {
        if (r || strlen(allow) >= sizeof(allow) || !allow[0])
            abort();
    } else if (rc != VD_ENOTFOUND || r) {
        abort();
    }
    vd_free(path);
    return 0;
}
