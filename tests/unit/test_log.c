/*
 * test_log.c - src/common/log.c: the line format, level filtering, one line
 * per event, vd_log_raw.
 *
 * Each test points the log at a pipe with vd_log_set_fd() and reads back
 * exactly what a log reader would see. Tests run in their own process, so
 * changing the global level or fd does not leak into other tests.
 */
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "vd/log.h"

struct logpipe {
    int rd, wr;
};

static void logpipe_open(struct logpipe *lp)
{
    int p[2];

    /* Non-blocking read end: "nothing was logged" reads as EAGAIN. */
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    ASSERT_EQ(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
    lp->rd = p[0];
    lp->wr = p[1];
    vd_log_set_fd(lp->wr);
    vd_log_set_role("test");
}

static void logpipe_close(struct logpipe *lp)
{
    vd_log_set_fd(2);
    close(lp->rd);
    close(lp->wr);
}

/* Reads what is in the pipe now; returns the byte count (0: nothing). */
static size_t logpipe_read(struct logpipe *lp, char *buf, size_t size)
{
    size_t used = 0;

    for (;;) {
        ssize_t r = read(lp->rd, buf + used, size - 1 - used);

        if (r <= 0)
            break;
        used += (size_t)r;
        if (used == size - 1)
            break;
    }
    buf[used] = '\0';
    return used;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

TEST_IMPL(log_line_format)
{
    struct logpipe lp;
    char got[1024], want_tail[256], pat[512];
    regex_t re;
    struct tm tm = {0};
    time_t logged, now;

    logpipe_open(&lp);
    vd_log_set_level(VD_LOG_INFO);
    vd_log(VD_LOG_INFO, "sandbox", "box ready slot=%d mode=%s", 3, "cgroup2");
    ASSERT_GT(logpipe_read(&lp, got, sizeof(got)), 0);

    snprintf(pat, sizeof(pat),
             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
             "pid=%ld role=test level=info module=sandbox box ready slot=3 mode=cgroup2\n$",
             (long)getpid());
    ASSERT_EQ(regcomp(&re, pat, REG_EXTENDED | REG_NOSUB), 0);
    if (regexec(&re, got, 0, NULL, 0) != 0) {
        regfree(&re);
        FAIL("line does not match: \"%s\"", got);
    }
    regfree(&re);

    /* The timestamp is UTC and now-ish. */
    ASSERT_NOT_NULL(strptime(got, "%Y-%m-%dT%H:%M:%S", &tm));
    logged = timegm(&tm);
    now = time(NULL);
    ASSERT_LE(labs((long)(now - logged)), 5);

    /* The other levels are named as configured. */
    vd_log_set_level(VD_LOG_DEBUG);
    vd_log(VD_LOG_DEBUG, "m", "d");
    vd_log(VD_LOG_WARN, "m", "w");
    vd_log(VD_LOG_ERROR, "m", "e");
    ASSERT_GT(logpipe_read(&lp, got, sizeof(got)), 0);
    ASSERT_EQ(count_lines(got), 3);
    snprintf(want_tail, sizeof(want_tail), "level=debug module=m d\n");
    ASSERT_STR_CONTAINS(got, want_tail);
    ASSERT_STR_CONTAINS(got, "level=warn module=m w\n");
    ASSERT_STR_CONTAINS(got, "level=error module=m e\n");
    logpipe_close(&lp);
    return TEST_OK;
}

TEST_IMPL(log_level_filter)
{
    struct logpipe lp;
    char got[2048];

    logpipe_open(&lp);
    vd_log_set_level(VD_LOG_WARN);
    vd_log(VD_LOG_DEBUG, "m", "debug-line");
    vd_log(VD_LOG_INFO, "m", "info-line");
    ASSERT_UINT_EQ(logpipe_read(&lp, got, sizeof(got)), 0);

    vd_log(VD_LOG_WARN, "m", "warn-line");
    vd_log(VD_LOG_ERROR, "m", "error-line");
    ASSERT_GT(logpipe_read(&lp, got, sizeof(got)), 0);
    ASSERT_EQ(count_lines(got), 2);
    ASSERT_STR_CONTAINS(got, "level=warn module=m warn-line\n");
    ASSERT_STR_CONTAINS(got, "level=error module=m error-line\n");
    ASSERT(strstr(got, "info-line") == NULL);

    /* Calling vd_log_write directly filters too. */
    vd_log_write(VD_LOG_INFO, "m", "direct-info");
    ASSERT_UINT_EQ(logpipe_read(&lp, got, sizeof(got)), 0);

    /* Lowering the level lets info through again. */
    vd_log_set_level(VD_LOG_INFO);
    vd_log(VD_LOG_INFO, "m", "info-again");
    ASSERT_GT(logpipe_read(&lp, got, sizeof(got)), 0);
    ASSERT_STR_CONTAINS(got, "level=info module=m info-again\n");
    logpipe_close(&lp);
    return TEST_OK;
}

static int evaluated;

static int side_effect(void)
{
    return ++evaluated;
}

TEST_IMPL(log_filtered_args_not_evaluated)
{
    struct logpipe lp;
    char got[512];

    logpipe_open(&lp);
    vd_log_set_level(VD_LOG_INFO);
    evaluated = 0;
    vd_log(VD_LOG_DEBUG, "m", "costly %d", side_effect());
    ASSERT_EQ(evaluated, 0);
    vd_log(VD_LOG_INFO, "m", "costly %d", side_effect());
    ASSERT_EQ(evaluated, 1);
    ASSERT_GT(logpipe_read(&lp, got, sizeof(got)), 0);
    ASSERT_STR_CONTAINS(got, "costly 1\n");
    logpipe_close(&lp);
    return TEST_OK;
}

TEST_IMPL(log_off_silences_all)
{
    struct logpipe lp;
    char got[512];

    logpipe_open(&lp);
    vd_log_set_level(VD_LOG_OFF);
    vd_log(VD_LOG_ERROR, "m", "error");
    vd_log_write(VD_LOG_ERROR, "m", "direct");
    vd_log_write(VD_LOG_OFF, "m", "off is not a level to log at");
    ASSERT_UINT_EQ(logpipe_read(&lp, got, sizeof(got)), 0);
    vd_log_set_level(VD_LOG_DEBUG);
    vd_log_write(VD_LOG_OFF, "m", "still not");
    ASSERT_UINT_EQ(logpipe_read(&lp, got, sizeof(got)), 0);
    logpipe_close(&lp);
    return TEST_OK;
}

TEST_IMPL(log_parse_level)
{
    enum vd_log_level l = VD_LOG_OFF;

    ASSERT_OK(vd_log_parse_level("debug", &l));
    ASSERT_EQ(l, VD_LOG_DEBUG);
    ASSERT_OK(vd_log_parse_level("info", &l));
    ASSERT_EQ(l, VD_LOG_INFO);
    ASSERT_OK(vd_log_parse_level("WARN", &l));
    ASSERT_EQ(l, VD_LOG_WARN);
    ASSERT_OK(vd_log_parse_level("error", &l));
    ASSERT_EQ(l, VD_LOG_ERROR);
    ASSERT_OK(vd_log_parse_level("off", &l));
    ASSERT_EQ(l, VD_LOG_OFF);

    l = VD_LOG_INFO;
    ASSERT_ERR(vd_log_parse_level("verbose", &l), VD_EINVAL);
    ASSERT_ERR(vd_log_parse_level("", &l), VD_EINVAL);
    ASSERT_ERR(vd_log_parse_level("info ", &l), VD_EINVAL);
    ASSERT_EQ(l, VD_LOG_INFO); /* untouched on failure */
    return TEST_OK;
}

TEST_IMPL(log_control_chars_stay_on_one_line)
{
    struct logpipe lp;
    char got[1024];

    logpipe_open(&lp);
    vd_log_set_level(VD_LOG_INFO);
    /* A file name chosen by a submitter tries to forge a second line. */
    vd_log(VD_LOG_INFO, "api", "file=%s", "a.c\n2026-01-01T00:00:00.000Z level=error\r\x1b[2J");
    ASSERT_GT(logpipe_read(&lp, got, sizeof(got)), 0);
    ASSERT_EQ(count_lines(got), 1);
    ASSERT_STR_CONTAINS(got, "file=a.c 2026-01-01T00:00:00.000Z level=error  [2J\n");
    logpipe_close(&lp);
    return TEST_OK;
}

TEST_IMPL(log_long_line_cut)
{
    struct logpipe lp;
    static char big[10000];
    static char got[16384];
    size_t n;

    memset(big, 'x', sizeof(big) - 1);
    logpipe_open(&lp);
    vd_log_set_level(VD_LOG_INFO);
    vd_log(VD_LOG_INFO, "m", "%s", big);
    n = logpipe_read(&lp, got, sizeof(got));
    /* One write of at most PIPE_BUF bytes, newline-terminated, marked. */
    ASSERT_GT(n, 1000);
    ASSERT_UINT_LE(n, 4096);
    ASSERT_EQ(count_lines(got), 1);
    ASSERT_EQ(got[n - 1], '\n');
    ASSERT_MEM_EQ(got + n - 4, "...", 3);
    logpipe_close(&lp);
    return TEST_OK;
}

TEST_IMPL(log_raw)
{
    struct logpipe lp;
    static char big[3000];
    static char got[4096];

    logpipe_open(&lp);
    vd_log_set_level(VD_LOG_OFF); /* raw lines bypass the level */
    vd_log_raw("child: execve failed");
    ASSERT_GT(logpipe_read(&lp, got, sizeof(got)), 0);
    ASSERT_STR_EQ(got, "child: execve failed\n");

    /* Longer than its stack buffer: still whole, still one newline. */
    memset(big, 'r', sizeof(big) - 1);
    vd_log_raw(big);
    ASSERT_UINT_EQ(logpipe_read(&lp, got, sizeof(got)), sizeof(big));
    ASSERT_EQ(got[sizeof(big) - 1], '\n');
    ASSERT_EQ(got[sizeof(big) - 2], 'r');
    logpipe_close(&lp);
    return TEST_OK;
}

TEST_IMPL(log_keeps_errno)
{
    struct logpipe lp;

    logpipe_open(&lp);
    close(lp.rd); /* writes now fail with EPIPE... */
    lp.rd = open("/dev/null", O_RDONLY);
    signal(SIGPIPE, SIG_IGN);
    vd_log_set_level(VD_LOG_INFO);
    errno = ENOENT;
    vd_log(VD_LOG_INFO, "m", "x");
    ASSERT_EQ(errno, ENOENT); /* ...and the caller's errno survives */
    vd_log_raw("y");
    ASSERT_EQ(errno, ENOENT);
    logpipe_close(&lp);
    return TEST_OK;
}
