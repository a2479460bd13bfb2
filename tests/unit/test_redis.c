/*
 * test_redis.c - src/redis/redis.c: URLs refused with a sentence, commands
 * that survive their connection being killed (one reconnect, counted), and
 * a subscriber that subscribes again after its connection is killed.
 *
 * Against VERDICT_TEST_REDIS_URL (database 4094); skipped without it, but
 * for the URL checks, which need no server.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "vd/redis.h"

#define SKIP_WITHOUT_REDIS(url)                                                               \
    do {                                                                                      \
        if (!(url))                                                                           \
            RETURN_SKIP("VERDICT_TEST_REDIS_URL is not set (scripts/services.sh start and " \
                        "make unit set it)");                                                 \
    } while (0)

TEST_IMPL(redis_bad_urls_are_refused_with_a_sentence)
{
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"http://localhost", "redis://"}, {"redis://", "no host"},
        {"redis://h:0", "bad port"},      {"redis://h:99999", "bad port"},
        {"redis://h:12x", "bad port"},    {"redis://h/abc", "database number"},
        {"rediss://h", "TLS"},            {"redis://:%zz@h", "password"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vd_errbuf eb = {""};
        struct vd_redis *r = (struct vd_redis *)1;
        ASSERT_ERR(vd_redis_open(bad[i].url, 1, &r, &eb), VD_EINVAL);
        ASSERT_NULL(r);
        ASSERT_STR_CONTAINS(eb.msg, bad[i].says);
    }
    /* A closed port: -EIO at once, naming where. */
    struct vd_errbuf eb = {""};
    struct vd_redis *r = NULL;
    ASSERT_ERR(vd_redis_open("redis://127.0.0.1:1/3", 1, &r, &eb), -EIO);
    ASSERT_STR_CONTAINS(eb.msg, "127.0.0.1:1/3");
    return TEST_OK;
}

TEST_IMPL(redis_command_survives_a_killed_connection)
{
    char buf[300];
    const char *url = harness_redis_url(buf, sizeof(buf), 4094);
    struct vd_redis *r = NULL, *killer = NULL;
    redisReply *rep = NULL;
    SKIP_WITHOUT_REDIS(url);

    ASSERT_OK(vd_redis_open(url, 4, &r, NULL));
    ASSERT_OK(vd_redis_open(url, 1, &killer, NULL));
    ASSERT_OK(vd_redis_cmd(r, NULL, "SET vd-test-k %s", "v1"));
    ASSERT_EQ(vd_redis_reconnects(r), 0);
    /* r's one pooled connection dies (killed by id: the server may have
     * other clients, which are left alone). */
    ASSERT_OK(vd_redis_cmd(r, &rep, "CLIENT ID"));
    long long cid = rep->integer;
    freeReplyObject(rep);
    ASSERT_OK(vd_redis_cmd(killer, &rep, "CLIENT KILL ID %lld", cid));
    ASSERT_EQ(rep->integer, 1);
    freeReplyObject(rep);
    rep = NULL;
    ASSERT_OK(vd_redis_cmd(r, &rep, "GET vd-test-k"));
    ASSERT_STR_EQ(rep->str, "v1");
    freeReplyObject(rep);
    ASSERT_EQ(vd_redis_reconnects(r), 1);
    /* An error reply is VD_EINVAL, with the reply given to look at. */
    rep = NULL;
    ASSERT_ERR(vd_redis_cmd(r, &rep, "NOSUCHCOMMAND"), VD_EINVAL);
    ASSERT_NOT_NULL(rep);
    ASSERT_INT_EQ(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    ASSERT_OK(vd_redis_cmd(r, NULL, "DEL vd-test-k"));
    vd_redis_close(r);
    vd_redis_close(killer);
    return TEST_OK;
}

struct inbox {
    pthread_mutex_t mu;
    int got;
    char last[64];
};

static void on_msg(void *arg, const char *channel, const char *msg, size_t len)
{
    struct inbox *in = arg;
    pthread_mutex_lock(&in->mu);
    if (strcmp(channel, "vd-test-ch") == 0) {
        in->got++;
        snprintf(in->last, sizeof(in->last), "%.*s", (int)len, msg);
    }
    pthread_mutex_unlock(&in->mu);
}

/* Publishes msg every 100 ms until the inbox has it (up to 5 s). */
static int publish_until_seen(struct vd_redis *r, struct inbox *in, const char *msg)
{
    for (int i = 0; i < 50; i++) {
        ASSERT_OK(vd_redis_cmd(r, NULL, "PUBLISH vd-test-ch %s", msg));
        harness_sleep_ms(100);
        pthread_mutex_lock(&in->mu);
        int seen = strcmp(in->last, msg) == 0;
        pthread_mutex_unlock(&in->mu);
        if (seen)
            return 1;
    }
    return 0;
}

/* Kills the subscribed connections on this test's database (others, such
 * as servers of another suite on the same redis-server, are left alone);
 * returns how many. */
static int kill_subscribers(struct vd_redis *r)
{
    redisReply *rep = NULL;
    int n = 0;
    ASSERT_OK(vd_redis_cmd(r, &rep, "CLIENT LIST TYPE pubsub"));
    for (char *line = rep->str, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *id = strstr(line, "id=");
        if (id && strstr(line, " db=4094 ")) {
            ASSERT_OK(vd_redis_cmd(r, NULL, "CLIENT KILL ID %lld", atoll(id + 3)));
            n++;
        }
    }
    freeReplyObject(rep);
    return n;
}

TEST_IMPL(redis_subscriber_subscribes_again_after_a_kill)
{
    char buf[300];
    const char *url = harness_redis_url(buf, sizeof(buf), 4094);
    const char *ch[] = {"vd-test-ch"};
    struct vd_redis *r = NULL;
    struct vd_redis_sub *sub = NULL;
    struct inbox in = {PTHREAD_MUTEX_INITIALIZER, 0, ""};
    SKIP_WITHOUT_REDIS(url);

    ASSERT_OK(vd_redis_open(url, 2, &r, NULL));
    ASSERT_OK(vd_redis_subscribe(r, ch, 1, on_msg, &in, &sub, NULL));
    ASSERT(publish_until_seen(r, &in, "one"));
    ASSERT(kill_subscribers(r) >= 1);
    ASSERT(publish_until_seen(r, &in, "two"));
    ASSERT_GE(vd_redis_reconnects(r), 1);
    vd_redis_unsubscribe(sub);
    vd_redis_close(r);
    return TEST_OK;
}
