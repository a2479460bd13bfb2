/*
 * test_router.c - src/http/router.c: literal and {id} segments, trailing
 * slashes, 404 against 405 with the Allow list, HEAD as GET, caps.
 */
#include <string.h>

#include "harness.h"
#include "vd/http.h"

static void h1(void *c, const struct vd_http_request *q, const char *p, struct vd_http_response *r)
{
    (void)c, (void)q, (void)p, (void)r;
}
static void h2(void *c, const struct vd_http_request *q, const char *p, struct vd_http_response *r)
{
    (void)c, (void)q, (void)p, (void)r;
}

static const struct vd_http_route routes[] = {
    {"GET", "/health", h1, 0},
    {"POST", "/api/v1/submissions", h1, 0},
    {"GET", "/api/v1/submissions", h2, 0},
    {"GET", "/api/v1/submissions/{id}", h1, 0},
    {"DELETE", "/api/v1/submissions/{id}", h2, 0},
    {"POST", "/api/v1/submissions/{id}/execute", h1, 0},
    {"POST", "/api/v1/submissions/batch", h2, 0},
    {"GET", "/", h2, 0},
    {NULL, NULL, NULL, 0},
};

TEST_IMPL(router_matches_literals_and_params)
{
    const struct vd_http_route *r;
    char param[VD_HTTP_PARAM_MAX], allow[64];

    ASSERT_OK(vd_http_route_find(routes, "GET", "/health", &r, param, allow, sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[0]);
    ASSERT_STR_EQ(param, "");
    ASSERT_OK(vd_http_route_find(routes, "GET", "/health/", &r, param, allow, sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[0]);
    ASSERT_OK(vd_http_route_find(routes, "HEAD", "/health", &r, param, allow, sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[0]);
    ASSERT_OK(vd_http_route_find(routes, "GET", "/", &r, param, allow, sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[7]);
    ASSERT_OK(vd_http_route_find(routes, "POST", "/api/v1/submissions/batch", &r, param, allow,
                                 sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[6]);

    ASSERT_OK(
        vd_http_route_find(routes, "GET", "/api/v1/submissions", &r, param, allow, sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[2]);
    ASSERT_OK(
        vd_http_route_find(routes, "POST", "/api/v1/submissions", &r, param, allow, sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[1]);
    ASSERT_OK(vd_http_route_find(routes, "DELETE", "/api/v1/submissions/abc-1", &r, param, allow,
                                 sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[4]);
    ASSERT_STR_EQ(param, "abc-1");
    ASSERT_OK(vd_http_route_find(routes, "POST", "/api/v1/submissions/x9/execute/", &r, param,
                                 allow, sizeof(allow)));
    ASSERT_PTR_EQ(r, &routes[5]);
    ASSERT_STR_EQ(param, "x9");
    return TEST_OK;
}

TEST_IMPL(router_404_and_405_with_allow)
{
    const struct vd_http_route *r;
    char param[VD_HTTP_PARAM_MAX], allow[64];
    char longid[VD_HTTP_PARAM_MAX + 40];

    ASSERT_ERR(vd_http_route_find(routes, "GET", "/nope", &r, param, allow, sizeof(allow)),
               VD_ENOTFOUND);
    ASSERT_NULL(r);
    /* An empty id segment, an extra segment, a prefix: none match. */
    ASSERT_ERR(vd_http_route_find(routes, "GET", "/api/v1/submissions//execute", &r, param, allow,
                                  sizeof(allow)),
               VD_ENOTFOUND);
    ASSERT_ERR(vd_http_route_find(routes, "GET", "/api/v1/submissions/a/b/c", &r, param, allow,
                                  sizeof(allow)),
               VD_ENOTFOUND);
    ASSERT_ERR(vd_http_route_find(routes, "GET", "/healthz", &r, param, allow, sizeof(allow)),
               VD_ENOTFOUND);
    ASSERT_ERR(vd_http_route_find(routes, "GET", "health", &r, param, allow, sizeof(allow)),
               VD_ENOTFOUND);

    ASSERT_ERR(vd_http_route_find(routes, "PUT", "/api/v1/submissions/abc", &r, param, allow,
                                  sizeof(allow)),
               VD_EINVAL);
    ASSERT_STR_EQ(allow, "GET, DELETE");
    /* "batch" is not an id: only its own route counts. */
    ASSERT_ERR(vd_http_route_find(routes, "GET", "/api/v1/submissions/batch", &r, param, allow,
                                  sizeof(allow)),
               VD_EINVAL);
    ASSERT_STR_EQ(allow, "POST");
    ASSERT_ERR(vd_http_route_find(routes, "DELETE", "/health", &r, param, allow, sizeof(allow)),
               VD_EINVAL);
    ASSERT_STR_EQ(allow, "GET");
    /* The Allow list is capped, never overrun. */
    char tiny[5];
    ASSERT_ERR(
        vd_http_route_find(routes, "PUT", "/api/v1/submissions", &r, param, tiny, sizeof(tiny)),
        VD_EINVAL);
    ASSERT(strlen(tiny) < sizeof(tiny));

    /* An id longer than the cap matches nothing. */
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    memcpy(longid, "/api/v1/submissions/", 20);
    ASSERT_ERR(vd_http_route_find(routes, "GET", longid, &r, param, allow, sizeof(allow)),
               VD_ENOTFOUND);
    return TEST_OK;
}
