/*
 * test_viewcache.c - src/api/viewcache.c: a view is served only for the attempt and
 * finish it was rendered from; large views are not kept.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "vd/alloc.h"
#include "vd/store.h"
#include "../../src/api/api-int.h"

TEST_IMPL(viewcache_serves_only_the_same_attempt_and_finish)
{
    struct vd__api_cache *c = vd__api_cache_new();
    struct vd_submission s;
    struct vd_buf out;
    memset(&s, 0, sizeof(s));
    snprintf(s.id, sizeof(s.id), "01900000-0000-7000-8000-000000000001");
    s.attempt = 1;
    s.finished_ms = 1000;
    vd_buf_init(&out, 1 << 20);

    ASSERT_EQ(vd__api_cache_get(c, &s, &out), 0);
    vd__api_cache_put(c, &s, "{\"v\":1}", 7);
    ASSERT_EQ(vd__api_cache_get(c, &s, &out), 1);
    ASSERT_STR_EQ(vd_buf_str(&out), "{\"v\":1}");

    /* Run again: another attempt, another finish; the old text is stale. */
    vd_buf_reset(&out);
    s.attempt = 2;
    ASSERT_EQ(vd__api_cache_get(c, &s, &out), 0);
    s.attempt = 1;
    s.finished_ms = 2000;
    ASSERT_EQ(vd__api_cache_get(c, &s, &out), 0);
    vd__api_cache_put(c, &s, "{\"v\":2}", 7);
    ASSERT_EQ(vd__api_cache_get(c, &s, &out), 1);
    ASSERT_STR_EQ(vd_buf_str(&out), "{\"v\":2}");

    /* A webhook attempt changes the view too. */
    vd_buf_reset(&out);
    s.webhook_attempts = 1;
    ASSERT_EQ(vd__api_cache_get(c, &s, &out), 0);
    s.webhook_attempts = 0;
    s.webhook_state = VD_WEBHOOK_DELIVERED;
    ASSERT_EQ(vd__api_cache_get(c, &s, &out), 0);
    s.webhook_state = VD_WEBHOOK_NONE;

    /* Another id in the same slot or not: never the other's text. */
    struct vd_submission t = s;
    snprintf(t.id, sizeof(t.id), "01900000-0000-7000-8000-000000000002");
    vd_buf_reset(&out);
    ASSERT_EQ(vd__api_cache_get(c, &t, &out), 0);

    /* A view over the entry cap is not kept. */
    size_t big = (size_t)1 << 20;
    char *b = vd_xmalloc(big);
    memset(b, 'x', big);
    vd__api_cache_put(c, &t, b, big);
    ASSERT_EQ(vd__api_cache_get(c, &t, &out), 0);
    vd_free(b);

    vd_buf_free(&out);
    vd__api_cache_free(c);
    return TEST_OK;
}
