/*
 * config.h - the server's settings: one table of options drives the config
 * file, the environment, `--help` and `--dump-config`.
 *
 * Precedence, lowest first: built-in defaults, the config file, then the
 * environment (VERDICT_<NAME> in upper case, or the name the seeds use:
 * DATABASE_URL, REDIS_URL, API_SECRET, WEBHOOK_URL, ALLOWED_IPS). Every value
 * is checked against its type and range when set, and a bad one is an
 * error that names the key and where it came from.
 *
 * etc/verdict.conf.example documents every key; a unit test keeps it and
 * the table in step.
 */
#ifndef VD_CONFIG_H
#define VD_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "vd/err.h"

#define VD_CONFIG_STR_MAX 512

struct vd_config {
    char listen[VD_CONFIG_STR_MAX]; /* host:port */
    int64_t http_connections;
    char database_url[VD_CONFIG_STR_MAX]; /* sqlite:PATH or postgres://... */
    char redis_url[VD_CONFIG_STR_MAX];    /* empty: the embedded queue */
    char role[8];                         /* all, api */
    char node_name[128];                  /* empty: host-pid */
    int64_t queue_lease_ms;
    char langs_dir[VD_CONFIG_STR_MAX];    /* empty: found next to the binary */
    char cache_dir[VD_CONFIG_STR_MAX];
    int64_t cache_max_mb;
    int64_t workers;       /* sandbox slots; 0: one per CPU */
    char sandbox_mode[16]; /* auto, cgroup2, cgroup1, none */
    int require_cgroup;
    int64_t queue_max;   /* queued jobs before 503 */
    int64_t wait_max_ms; /* longest ?wait=true */
    int64_t body_max_kb; /* request body cap */
    int64_t source_max_kb;
    int64_t tests_max;   /* test cases per submission */
    int64_t retention_s; /* 0: keep results forever */
    char log_level[16];
    char auth[8]; /* auto, on, off */
    char api_secret[VD_CONFIG_STR_MAX];
    char secret_file[VD_CONFIG_STR_MAX];
    int allow_bearer_keys;
    int64_t signature_window_s;
    int64_t jwt_ttl_s, jwt_refresh_ttl_s;
    char registration[8]; /* open, closed */
    char rate_tiers[VD_CONFIG_STR_MAX];
    char default_tier[33];
    char anonymous_tier[33];
    char webhook_url[VD_CONFIG_STR_MAX];
    char webhook_secret[VD_CONFIG_STR_MAX];
    int64_t webhook_max_attempts, webhook_timeout_ms, webhook_backoff_ms;
    int webhook_allow_private;
    int64_t webhook_threads;
    char allowed_ips[VD_CONFIG_STR_MAX];
};

enum vd_config_type {
    VD_CONFIG_STR,
    VD_CONFIG_INT,
    VD_CONFIG_BOOL
};

struct vd_config_option {
    const char *name;    /* config file key */
    const char *alt_env; /* the seeds' variable name, or NULL */
    enum vd_config_type type;
    size_t offset; /* in struct vd_config */
    size_t size;   /* of a string field */
    const char *dflt;
    int64_t min, max; /* ints */
    int secret;       /* never printed by --dump-config */
    const char *help;
};

/* The table, NULL-name terminated. */
extern const struct vd_config_option vd_config_options[];

void vd_config_defaults(struct vd_config *c);
/* name = value, from `where` (for messages). */
int vd_config_set(struct vd_config *c, const char *name, const char *value, const char *where,
                  struct vd_errbuf *eb) VD_MUST_CHECK;
/* "key value" lines; '#' starts a comment; blank lines ignored. */
int vd_config_load_file(struct vd_config *c, const char *path, struct vd_errbuf *eb) VD_MUST_CHECK;
/* Every VERDICT_<NAME> and seed name present in the environment. */
int vd_config_load_env(struct vd_config *c, struct vd_errbuf *eb) VD_MUST_CHECK;
/* key value lines, secrets shown as "(set)" or "(unset)". */
void vd_config_dump(const struct vd_config *c, FILE *f);
/* The documented table: the body of --help and of the example file. */
void vd_config_help(FILE *f, int as_config_file);

#endif /* VD_CONFIG_H */
