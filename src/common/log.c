/*
 * log.c - one structured line per event, written with a single write(2).
 *
 * Theory of operation: a line looks like
 *
 *   2026-11-23T18:40:01.123Z pid=123 role=cli level=info module=sandbox msg...
 *
 * where msg is the caller's text, conventionally followed by key=value
 * fields. The vd_log() macro compares the level with vd_log_level_min before
 * evaluating its arguments, so a debug line costs one comparison when debug
 * is off. vd_log_write() formats the whole line into a stack buffer and
 * hands it to the kernel in one write(2): lines from several threads or
 * processes sharing the fd (API server, workers, sandbox children) do not
 * interleave, since writes of up to PIPE_BUF bytes to a pipe are atomic and
 * O_APPEND files get whole writes. Lines longer than the buffer are cut and
 * end in "...".
 *
 * Control characters in the message (a newline in a compiler message or a
 * file name chosen by a submitter) become spaces: one event is always one
 * line, so nobody can forge a log line by naming a file "x\n... level=error".
 *
 * vd_log_raw() is for signal handlers and children between fork and exec:
 * no stdio, no allocation, no locale, no clock formatting, only write(2).
 *
 * Configuration (role, level, fd) is plain globals meant to be set once at
 * start-up, before threads exist; logging itself takes no lock and keeps
 * errno unchanged, so a caller can log and then still report errno.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "vd/log.h"

/* PIPE_BUF (4096 on Linux) is the largest write a pipe keeps whole. */
#define LINE_MAX_BYTES PIPE_BUF

int vd_log_level_min = VD_LOG_INFO;

static const char *log_role = "cli";
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {
    [VD_LOG_DEBUG] = "debug", [VD_LOG_INFO] = "info", [VD_LOG_WARN] = "warn",
    [VD_LOG_ERROR] = "error", [VD_LOG_OFF] = "off",
};

/* Writes everything, retrying after signals and short writes. A log line
 * that cannot be written is dropped: there is nowhere to report that. Only
 * write(2) is called, so this is async-signal-safe. */
static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Sets the role field; s must have static storage (it is not copied). */
void vd_log_set_role(const char *role)
{
    log_role = role ? role : "-";
}

/* Lines below lvl are skipped before formatting; VD_LOG_OFF silences all. */
void vd_log_set_level(enum vd_log_level lvl)
{
    vd_log_level_min = (int)lvl;
}

/* Parses a level name, ignoring case. Returns 0 or VD_EINVAL. */
int vd_log_parse_level(const char *s, enum vd_log_level *out)
{
    for (int i = VD_LOG_DEBUG; i <= VD_LOG_OFF; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum vd_log_level)i;
            return 0;
        }
    }
    return VD_EINVAL;
}

/* Sends lines to fd from now on; the caller keeps ownership of fd. */
void vd_log_set_fd(int fd)
{
    log_fd = fd;
}

/*
 * Formats and writes one line (see the top). Callers normally use the
 * vd_log() macro, which skips the call when the level is filtered out.
 */
void vd_log_write(enum vd_log_level lvl, const char *module, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    size_t len, head;
    va_list ap;
    int n, saved = errno;

    if ((int)lvl < vd_log_level_min || lvl >= VD_LOG_OFF || (int)lvl < VD_LOG_DEBUG)
        return;

    /* UTC with milliseconds: sortable, and free of the host's time zone. */
    clock_gettime(CLOCK_REALTIME, &ts);
    if (!gmtime_r(&ts.tv_sec, &tm) || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(stamp, sizeof(stamp), "1970-01-01T00:00:00");

    n = snprintf(line, sizeof(line), "%s.%03ldZ pid=%ld role=%s level=%s module=%s ", stamp,
                 ts.tv_nsec / 1000000L, (long)getpid(), log_role, level_names[lvl],
                 module ? module : "-");
    if (n < 0)
        goto out;
    head = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;

    va_start(ap, fmt);
    n = vsnprintf(line + head, sizeof(line) - head, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    len = head + (size_t)n;

    /* Leave room for the newline; mark a cut line so readers know. */
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
        memcpy(line + len - 3, "...", 3);
    }
    for (size_t i = head; i < len; i++) {
        unsigned char c = (unsigned char)line[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f)
            line[i] = ' ';
    }
    line[len++] = '\n';
    write_all(log_fd, line, len);
out:
    errno = saved;
}

/*
 * Writes msg and a newline to the log fd, nothing else: no timestamp,
 * because formatting one safely is not worth it in a signal handler.
 * Async-signal-safe (strlen, memcpy and write only).
 */
void vd_log_raw(const char *msg)
{
    char line[512];
    size_t n = strlen(msg);
    int saved = errno;

    if (n < sizeof(line)) {
        /* One write, so the line stays whole on a shared pipe. */
        memcpy(line, msg, n);
        line[n] = '\n';
        write_all(log_fd, line, n + 1);
    } else {
        write_all(log_fd, msg, n);
        write_all(log_fd, "\n", 1);
    }
    errno = saved;
}
