/*
 * test_events.c - src/events/events.c: frames in order for every
 * subscriber, late subscribers read from the start, final closes and frees,
 * a rerun starts a fresh channel, waiting wakes on a publish from another
 * thread, and the caps drop frames without losing the log.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "vd/alloc.h"
#include "vd/events.h"

static const char id1[] = "01900000-0000-7000-8000-000000000001";

TEST_IMPL(events_late_subscriber_reads_from_the_start)
{
    struct vd_events *h = vd_events_new();
    struct vd_buf out;
    vd_buf_init(&out, 1 << 16);

    ASSERT_OK(vd_events_publish(h, id1, "status", "{\"status\":\"running\"}", 0));
    ASSERT_OK(vd_events_publish(h, id1, "test", "{\"index\":0}", 0));
    ASSERT_UINT_EQ(vd_events_channels(h), 1);

    struct vd_events_sub *s = vd_events_subscribe(h, id1);
    ASSERT_EQ(vd_events_next(s, 0, &out), 1);
    ASSERT_STR_EQ(vd_buf_str(&out), "id: 1\nevent: status\ndata: {\"status\":\"running\"}\n\n"
                                    "id: 2\nevent: test\ndata: {\"index\":0}\n\n");
    ASSERT_EQ(vd_events_next(s, 10, &out), 0); /* nothing new */
    ASSERT(!vd_events_closed(s));

    vd_buf_reset(&out);
    ASSERT_OK(vd_events_publish(h, id1, "result", "{\"verdict\":\"AC\"}", 1));
    ASSERT_UINT_EQ(vd_events_channels(h), 1); /* s still reads it */
    ASSERT_EQ(vd_events_next(s, 0, &out), 1);
    ASSERT_STR_EQ(vd_buf_str(&out), "id: 3\nevent: result\ndata: {\"verdict\":\"AC\"}\n\n");
    ASSERT_ERR(vd_events_next(s, 0, &out), VD_ENOTFOUND);
    ASSERT(vd_events_closed(s));

    /* A run again: a fresh channel, numbered from 1, while s holds the old. */
    ASSERT_OK(vd_events_publish(h, id1, "status", "{}", 0));
    ASSERT_UINT_EQ(vd_events_channels(h), 2);
    vd_events_unsubscribe(s);
    ASSERT_UINT_EQ(vd_events_channels(h), 1);
    s = vd_events_subscribe(h, id1);
    vd_buf_reset(&out);
    ASSERT_EQ(vd_events_next(s, 0, &out), 1);
    ASSERT_STR_EQ(vd_buf_str(&out), "id: 1\nevent: status\ndata: {}\n\n");
    vd_events_unsubscribe(s);
    vd_events_close(h, id1);
    ASSERT_UINT_EQ(vd_events_channels(h), 0);

    vd_buf_free(&out);
    vd_events_free(h);
    return TEST_OK;
}

TEST_IMPL(events_channel_of_a_subscriber_alone_goes_with_it)
{
    struct vd_events *h = vd_events_new();
    struct vd_buf out;
    vd_buf_init(&out, 1024);
    struct vd_events_sub *a = vd_events_subscribe(h, id1);
    struct vd_events_sub *b = vd_events_subscribe(h, id1);
    ASSERT_UINT_EQ(vd_events_channels(h), 1);
    ASSERT_EQ(vd_events_next(a, 0, &out), 0);
    vd_events_unsubscribe(a);
    ASSERT_UINT_EQ(vd_events_channels(h), 1);
    vd_events_unsubscribe(b);
    ASSERT_UINT_EQ(vd_events_channels(h), 0);
    /* A channel written to stays for its job after the subscriber left. */
    b = vd_events_subscribe(h, id1);
    ASSERT_OK(vd_events_publish(h, id1, "status", "{}", 0));
    vd_events_unsubscribe(b);
    ASSERT_UINT_EQ(vd_events_channels(h), 1);
    vd_events_close(h, id1);
    ASSERT_UINT_EQ(vd_events_channels(h), 0);
    vd_buf_free(&out);
    vd_events_free(h);
    return TEST_OK;
}

struct pub {
    struct vd_events *h;
    int frames;
};

static void *publisher(void *arg)
{
    struct pub *p = arg;
    char data[32];
    for (int i = 0; i < p->frames; i++) {
        usleep(2000);
        snprintf(data, sizeof(data), "{\"i\":%d}", i);
        if (vd_events_publish(p->h, id1, "test", data, i == p->frames - 1) < 0)
            return (void *)1;
    }
    return NULL;
}

TEST_IMPL(events_waiters_wake_for_each_frame_from_another_thread)
{
    struct vd_events *h = vd_events_new();
    struct vd_buf out;
    pthread_t th;
    struct pub p = {h, 50};
    int rc;

    vd_buf_init(&out, 1 << 16);
    struct vd_events_sub *s = vd_events_subscribe(h, id1);
    ASSERT_EQ(pthread_create(&th, NULL, publisher, &p), 0);
    while ((rc = vd_events_next(s, 5000, &out)) == 1)
        ;
    ASSERT_ERR(rc, VD_ENOTFOUND);
    void *ret;
    pthread_join(th, &ret);
    ASSERT_NULL(ret);
    /* Every frame, once, in order. */
    const char *at = vd_buf_str(&out);
    for (int i = 0; i < 50; i++) {
        char want[64];
        snprintf(want, sizeof(want), "id: %d\nevent: test\ndata: {\"i\":%d}\n\n", i + 1, i);
        ASSERT(strncmp(at, want, strlen(want)) == 0);
        at += strlen(want);
    }
    ASSERT_STR_EQ(at, "");
    vd_events_unsubscribe(s);
    ASSERT_UINT_EQ(vd_events_channels(h), 0);
    vd_buf_free(&out);
    vd_events_free(h);
    return TEST_OK;
}

TEST_IMPL(events_caps_drop_progress_but_keep_the_final_frame)
{
    struct vd_events *h = vd_events_new();
    struct vd_buf out;
    size_t big = VD_EVENTS_PROGRESS_MAX / 4;
    char *data = vd_xmalloc(big + 1);
    memset(data, 'x', big);
    data[big] = '\0';

    vd_buf_init(&out, VD_EVENTS_LOG_MAX);
    struct vd_events_sub *s = vd_events_subscribe(h, id1);
    int dropped = 0;
    for (int i = 0; i < 8; i++)
        if (vd_events_publish(h, id1, "test", data, 0) == VD_ETOOBIG)
            dropped++;
    ASSERT_GE(dropped, 4);
    ASSERT_OK(vd_events_publish(h, id1, "result", data, 1));
    /* A small out: a part at a time, never a failure. */
    struct vd_buf small;
    vd_buf_init(&small, 1000);
    ASSERT_EQ(vd_events_next(s, 0, &small), 1);
    ASSERT_UINT_EQ(small.len, 1000);
    ASSERT_ERR(vd_events_next(s, 0, &small), VD_ETOOBIG);
    vd_buf_free(&small);
    int rc;
    while ((rc = vd_events_next(s, 0, &out)) == 1)
        ;
    ASSERT_ERR(rc, VD_ENOTFOUND);
    ASSERT_STR_CONTAINS(vd_buf_str(&out), "event: result\n");
    vd_events_unsubscribe(s);
    vd_buf_free(&out);
    vd_free(data);
    vd_events_free(h);
    return TEST_OK;
}
