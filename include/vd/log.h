/*
 * log.h - structured one-line logs.
 *
 * Each line: ISO-8601 UTC timestamp, pid, role, level, module, message, then
 * key=value fields written by the caller into the message. The level is
 * checked before any formatting happens. vd_log_raw() is async-signal-safe
 * and does no allocation: it is for signal handlers and for post-fork
 * children.
 */
#ifndef VD_LOG_H
#define VD_LOG_H

#include "vd/err.h"

enum vd_log_level {
    VD_LOG_DEBUG = 0,
    VD_LOG_INFO = 1,
    VD_LOG_WARN = 2,
    VD_LOG_ERROR = 3,
    VD_LOG_OFF = 4,
};

extern int vd_log_level_min;

/* role: "api", "worker", "sandbox", "cli"...; static storage. */
void vd_log_set_role(const char *role);
void vd_log_set_level(enum vd_log_level lvl);
/* Parses "debug", "info", "warn", "error", "off"; VD_EINVAL otherwise. */
int vd_log_parse_level(const char *s, enum vd_log_level *out) VD_MUST_CHECK;
/* Log to this fd instead of stderr (the fd stays the caller's). */
void vd_log_set_fd(int fd);

#define vd_log(lvl, module, ...)                        \
    do {                                                \
        if ((int)(lvl) >= vd_log_level_min)             \
            vd_log_write((lvl), (module), __VA_ARGS__); \
    } while (0)

void vd_log_write(enum vd_log_level lvl, const char *module, const char *fmt, ...) VD_PRINTF(3, 4);

/* Async-signal-safe: writes the string as given, plus a newline. */
void vd_log_raw(const char *msg);

#endif /* VD_LOG_H */
