/*
 * config.c - one table of options: defaults, config file, environment,
 * --help and --dump-config all read it (redis's static_configs[]).
 *
 * Every value goes through vd_config_set(), which checks the type and the
 * range and names the key and its source in any error, so a typo in a
 * config file or a variable stops the server at start instead of running
 * it with a silently different setting.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "vd/config.h"

#define STR(field, dflt)                                                                      \
    VD_CONFIG_STR, offsetof(struct vd_config, field), sizeof(((struct vd_config *)0)->field), \
        dflt, 0, 0
#define INT(field, dflt, lo, hi) VD_CONFIG_INT, offsetof(struct vd_config, field), 0, dflt, lo, hi
#define BOOL(field, dflt) VD_CONFIG_BOOL, offsetof(struct vd_config, field), 0, dflt, 0, 1

const struct vd_config_option vd_config_options[] = {
    {"listen", NULL, STR(listen, "127.0.0.1:8080"), 0, "Address and port of the HTTP API."},
    {"http_connections", NULL, INT(http_connections, "512", 1, 100000), 0,
     "HTTP connections at once (each has its own thread, so ?wait=true and SSE can block)."},
    {"database_url", "DATABASE_URL", STR(database_url, "sqlite:/var/lib/verdict/verdict.db"), 1,
     "Where submissions are kept: sqlite:PATH, or postgres://... for several nodes."},
    {"redis_url", "REDIS_URL", STR(redis_url, ""), 1,
     "redis://[:PASSWORD@]HOST[:PORT][/DB]: Redis Streams carry the jobs and pub/sub the "
     "events, cancels and shared limits, so several API nodes and worker hosts share the work; "
     "empty: the queue lives in the database."},
    {"role", NULL, STR(role, "all"), 0,
     "What `verdict serve` runs: all (HTTP API and workers), or api (HTTP only, with workers "
     "elsewhere: `verdict worker` on a shared database and Redis)."},
    {"node_name", NULL, STR(node_name, ""), 0,
     "This process's name among the workers (GET /api/v1/workers); empty: HOST-PID."},
    {"queue_lease_ms", NULL, INT(queue_lease_ms, "15000", 300, 3600000), 0,
     "With Redis: a job whose worker has not renewed its lease for this long (the worker "
     "died) is run again by another worker."},
    {"langs_dir", NULL, STR(langs_dir, ""), 0,
     "Directory of the language files; empty: langs/ next to the binary, else "
     "/usr/share/verdict/langs."},
    {"cache_dir", NULL, STR(cache_dir, "/var/cache/verdict"), 0, "The compile cache."},
    {"cache_max_mb", NULL, INT(cache_max_mb, "1024", 16, 1 << 20), 0,
     "Size cap of the compile cache."},
    {"workers", NULL, INT(workers, "0", 0, 256), 0,
     "Sandbox slots, so programs running at once; 0: one per CPU."},
    {"sandbox_mode", NULL, STR(sandbox_mode, "auto"), 0, "auto, cgroup2, cgroup1 or none."},
    {"require_cgroup", NULL, BOOL(require_cgroup, "no"), 0, "Refuse to start without cgroups."},
    {"queue_max", NULL, INT(queue_max, "10000", 1, 100000000), 0,
     "Queued submissions before new ones get 503 with Retry-After."},
    {"wait_max_ms", NULL, INT(wait_max_ms, "30000", 0, 600000), 0,
     "The longest a ?wait=true request is held before it is answered 202."},
    {"body_max_kb", NULL, INT(body_max_kb, "16384", 1, 1 << 20), 0,
     "Largest request body (413 past it)."},
    {"source_max_kb", NULL, INT(source_max_kb, "1024", 1, 1 << 20), 0, "Largest source code."},
    {"tests_max", NULL, INT(tests_max, "1000", 1, 10000), 0, "Test cases in one submission."},
    {"retention_s", NULL, INT(retention_s, "0", 0, 100LL * 365 * 86400), 0,
     "Delete finished submissions older than this many seconds; 0: keep them."},
    {"log_level", NULL, STR(log_level, "info"), 0, "debug, info, warn, error or off."},
    {"auth", NULL, STR(auth, "auto"), 0,
     "auto, on or off: whether every API call needs credentials (auto: on unless listen is a "
     "loopback address). Credentials sent are checked and used either way."},
    {"api_secret", "API_SECRET", STR(api_secret, ""), 1,
     "The master secret (16 bytes or more): key secrets, tokens and the default webhook secret "
     "derive from it. Empty: the secret_file, made on first start."},
    {"secret_file", NULL, STR(secret_file, ""), 0,
     "Where the master secret is kept when api_secret is empty; empty: \"secret\" beside the "
     "SQLite database (or /var/lib/verdict/secret)."},
    {"allow_bearer_keys", NULL, BOOL(allow_bearer_keys, "yes"), 0,
     "Accept an API key's secret as a bearer token, besides signed requests."},
    {"signature_window_s", NULL, INT(signature_window_s, "300", 1, 86400), 0,
     "How far a signed request's X-Api-Timestamp may be from now."},
    {"jwt_ttl_s", NULL, INT(jwt_ttl_s, "3600", 1, 30LL * 86400), 0,
     "Lifetime of a user's access token."},
    {"jwt_refresh_ttl_s", NULL, INT(jwt_refresh_ttl_s, "2592000", 1, 365LL * 86400), 0,
     "Lifetime of a user's refresh token."},
    {"registration", NULL, STR(registration, "open"), 0,
     "open or closed: whether POST /api/v1/auth/register makes accounts."},
    {"rate_tiers", NULL, STR(rate_tiers, "basic=5/20/8,pro=50/200/64,unlimited=0/0/0"), 0,
     "NAME=RATE/BURST/ACTIVE,...: submissions per second, bucket size, queued+running at once "
     "(0: no limit)."},
    {"default_tier", NULL, STR(default_tier, "basic"), 0, "Tier of new users and keys."},
    {"anonymous_tier", NULL, STR(anonymous_tier, "unlimited"), 0,
     "Tier of callers without credentials, per client address (only with auth off, which "
     "trusts them: unlimited by default)."},
    {"webhook_url", "WEBHOOK_URL", STR(webhook_url, ""), 0,
     "Default callback for finished submissions that name none."},
    {"webhook_secret", "WEBHOOK_SECRET", STR(webhook_secret, ""), 1,
     "Signs webhooks of submissions not made with a key; empty: derived from the master secret."},
    {"webhook_max_attempts", NULL, INT(webhook_max_attempts, "6", 1, 50), 0,
     "Deliveries tried before a webhook is failed."},
    {"webhook_timeout_ms", NULL, INT(webhook_timeout_ms, "10000", 100, 300000), 0,
     "Longest one delivery attempt may take."},
    {"webhook_backoff_ms", NULL, INT(webhook_backoff_ms, "1000", 10, 3600000), 0,
     "Delay before the first retry; it doubles each attempt, with jitter, up to 5 minutes."},
    {"webhook_allow_private", NULL, BOOL(webhook_allow_private, "no"), 0,
     "Deliver to loopback, link-local and private addresses too (refused by default: SSRF)."},
    {"webhook_threads", NULL, INT(webhook_threads, "4", 1, 64), 0, "Deliveries at once."},
    {"allowed_ips", "ALLOWED_IPS", STR(allowed_ips, ""), 0,
     "Comma-separated CIDRs allowed to call the API; empty: any address."},
    {NULL, NULL, VD_CONFIG_STR, 0, 0, NULL, 0, 0, 0, NULL},
};

static const struct vd_config_option *find(const char *name)
{
    for (const struct vd_config_option *o = vd_config_options; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    return NULL;
}

void vd_config_defaults(struct vd_config *c)
{
    memset(c, 0, sizeof(*c));
    for (const struct vd_config_option *o = vd_config_options; o->name; o++)
        if (vd_config_set(c, o->name, o->dflt, "the defaults", NULL) < 0)
            abort(); /* a default outside its own range is a bug */
}

int vd_config_set(struct vd_config *c, const char *name, const char *value, const char *where,
                  struct vd_errbuf *eb)
{
    const struct vd_config_option *o = find(name);
    char *base = (char *)c, *end;
    if (!o)
        return vd_errf(eb, VD_EINVAL, "%s: unknown setting \"%s\"", where, name);
    switch (o->type) {
    case VD_CONFIG_STR:
        if (strlen(value) >= o->size)
            return vd_errf(eb, VD_EINVAL, "%s: %s is longer than %zu bytes", where, name,
                           o->size - 1);
        memcpy(base + o->offset, value, strlen(value) + 1);
        return 0;
    case VD_CONFIG_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max)
            return vd_errf(eb, VD_EINVAL,
                           "%s: %s must be a whole number from %lld to %lld, not \"%s\"", where,
                           name, (long long)o->min, (long long)o->max, value);
        *(int64_t *)(void *)(base + o->offset) = v;
        return 0;
    }
    case VD_CONFIG_BOOL:
        if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1")) {
            *(int *)(void *)(base + o->offset) = 1;
            return 0;
        }
        if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0")) {
            *(int *)(void *)(base + o->offset) = 0;
            return 0;
        }
        return vd_errf(eb, VD_EINVAL, "%s: %s must be yes or no, not \"%s\"", where, name, value);
    }
    return VD_EINVAL;
}

int vd_config_load_file(struct vd_config *c, const char *path, struct vd_errbuf *eb)
{
    char line[2048], where[600];
    int n = 0, rc = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return vd_errf(eb, -errno, "config file %s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f)) {
        n++;
        snprintf(where, sizeof(where), "%s:%d", path, n);
        if (!strchr(line, '\n') && !feof(f)) {
            rc = vd_errf(eb, VD_EINVAL, "%s: line too long", where);
            break;
        }
        char *p = line, *key, *val;
        char *hash = strchr(p, '#');
        if (hash)
            *hash = '\0';
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            continue;
        key = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        if (*p)
            *p++ = '\0';
        while (isspace((unsigned char)*p))
            p++;
        val = p;
        for (char *e = val + strlen(val); e > val && isspace((unsigned char)e[-1]);)
            *--e = '\0';
        if ((rc = vd_config_set(c, key, val, where, eb)) < 0)
            break;
    }
    fclose(f);
    return rc;
}

int vd_config_load_env(struct vd_config *c, struct vd_errbuf *eb)
{
    char var[128];
    int rc;
    for (const struct vd_config_option *o = vd_config_options; o->name; o++) {
        size_t i = 0;
        i = (size_t)snprintf(var, sizeof(var), "VERDICT_");
        for (const char *s = o->name; *s && i + 1 < sizeof(var); s++)
            var[i++] = (char)toupper((unsigned char)*s);
        var[i] = '\0';
        /* The seed's name first, ours last: ours wins when both are set. */
        const char *names[2] = {o->alt_env, var};
        for (int k = 0; k < 2; k++) {
            const char *v = names[k] ? getenv(names[k]) : NULL;
            if (v && (rc = vd_config_set(c, o->name, v, names[k], eb)) < 0)
                return rc;
        }
    }
    return 0;
}

void vd_config_dump(const struct vd_config *c, FILE *f)
{
    const char *base = (const char *)c;
    for (const struct vd_config_option *o = vd_config_options; o->name; o++) {
        const void *p = base + o->offset;
        if (o->type == VD_CONFIG_STR && o->secret)
            fprintf(f, "%s %s\n", o->name, *(const char *)p ? "(set)" : "(unset)");
        else if (o->type == VD_CONFIG_STR)
            fprintf(f, "%s %s\n", o->name, (const char *)p);
        else if (o->type == VD_CONFIG_INT)
            fprintf(f, "%s %lld\n", o->name, (long long)*(const int64_t *)p);
        else
            fprintf(f, "%s %s\n", o->name, *(const int *)p ? "yes" : "no");
    }
}

void vd_config_help(FILE *f, int as_config_file)
{
    for (const struct vd_config_option *o = vd_config_options; o->name; o++) {
        if (as_config_file) {
            fprintf(f, "# %s\n# Environment: VERDICT_", o->help);
            for (const char *s = o->name; *s; s++)
                fputc(toupper((unsigned char)*s), f);
            if (o->alt_env)
                fprintf(f, " or %s", o->alt_env);
            fprintf(f, "\n# %s %s\n\n", o->name, o->dflt);
        } else {
            fprintf(f, "  %-16s %s (default: %s%s%s)\n", o->name, o->help,
                    *o->dflt ? o->dflt : "empty", o->alt_env ? "; also $" : "",
                    o->alt_env ? o->alt_env : "");
        }
    }
}
