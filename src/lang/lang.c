/*
 * lang.c - the language table, read from the JSON files of langs/.
 *
 * Theory of operation: vd_langs_load() parses every file strictly (unknown
 * keys, wrong types and out-of-range limits are errors that name the file
 * and the field), fills in default limits, and keeps the table sorted by id.
 * vd_langs_probe() then runs each language's version command on the host,
 * all at once, with the PATH a box has, so that a toolchain outside the
 * directories a box can see reads as missing. Lookups are linear: tables
 * hold tens of languages.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vd/alloc.h"
#include "vd/buf.h"
#include "vd/clock.h"
#include "vd/lang.h"

struct vd_langs {
    struct vd_lang **v;
    size_t n;
    char **binds; /* union of every language's binds */
};

static const struct vd_lang_limits default_compile = {10000, 20000, 1024 * 1024, 64, 64};
static const struct vd_lang_limits default_run = {2000, 5000, 256 * 1024, 16, 64 * 1024};
static const struct vd_lang_limits default_max = {30000, 60000, 2048 * 1024, 256, 256 * 1024};

static void free_vec(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        vd_free(v[i]);
    vd_free(v);
}

void vd_lang_free(struct vd_lang *l)
{
    if (!l)
        return;
    vd_free(l->id);
    vd_free(l->name);
    vd_free(l->source);
    vd_free(l->version_pattern);
    free_vec(l->aliases);
    free_vec(l->extensions);
    free_vec(l->version_cmd);
    free_vec(l->compile);
    free_vec(l->run);
    free_vec(l->env);
    free_vec(l->binds);
    free_vec(l->packages);
    vd_free(l);
}

/* An array of non-empty strings (at most VD_LANG_MAX_ARGS) into a
 * NULL-terminated vector; absent gives an empty vector unless required. */
static int str_vec(json_t *o, const char *key, int required, const char *name, char ***out,
                   struct vd_errbuf *eb)
{
    json_t *a = json_object_get(o, key), *e;
    size_t i;
    *out = NULL;
    if (!a) {
        if (required)
            return vd_errf(eb, VD_EINVAL, "%s: \"%s\" is required", name, key);
        *out = vd_xcalloc(1, sizeof(char *));
        return 0;
    }
    if (!json_is_array(a) || json_array_size(a) > VD_LANG_MAX_ARGS ||
        (required && json_array_size(a) == 0))
        return vd_errf(eb, VD_EINVAL, "%s: \"%s\" must be an array of 1 to %d strings", name, key,
                       VD_LANG_MAX_ARGS);
    *out = vd_xcalloc(json_array_size(a) + 1, sizeof(char *));
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            strlen(json_string_value(e)) != json_string_length(e))
            return vd_errf(eb, VD_EINVAL, "%s: \"%s\"[%zu] must be a non-empty string", name, key,
                           i);
        (*out)[i] = vd_xstrdup(json_string_value(e));
    }
    return 0;
}

static int str_field(json_t *o, const char *key, int required, const char *name, char **out,
                     struct vd_errbuf *eb)
{
    json_t *s = json_object_get(o, key);
    *out = NULL;
    if (!s) {
        if (required)
            return vd_errf(eb, VD_EINVAL, "%s: \"%s\" is required", name, key);
        return 0;
    }
    if (!json_is_string(s) || json_string_length(s) == 0 || json_string_length(s) > 200)
        return vd_errf(eb, VD_EINVAL, "%s: \"%s\" must be a string of 1 to 200 bytes", name, key);
    *out = vd_xstrdup(json_string_value(s));
    return 0;
}

static int bool_field(json_t *o, const char *key, int dflt, const char *name, int *out,
                      struct vd_errbuf *eb)
{
    json_t *b = json_object_get(o, key);
    if (!b) {
        *out = dflt;
        return 0;
    }
    if (!json_is_boolean(b))
        return vd_errf(eb, VD_EINVAL, "%s: \"%s\" must be true or false", name, key);
    *out = json_is_true(b);
    return 0;
}

static int check_keys(json_t *o, const char *const *known, const char *name, const char *where,
                      struct vd_errbuf *eb)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int ok = 0;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok)
            return vd_errf(eb, VD_EINVAL, "%s: unknown key \"%s\"%s", name, k, where);
    }
    (void)v;
    return 0;
}

static int limits_field(json_t *limits, const char *key, const struct vd_lang_limits *dflt,
                        const char *name, struct vd_lang_limits *out, struct vd_errbuf *eb)
{
    static const char *const known[] = {"cpu_ms", "wall_ms",   "memory_mb",
                                        "procs",  "output_kb", NULL};
    static const struct {
        const char *key;
        json_int_t min, max;
    } range[] = {{"cpu_ms", 1, 600000},
                 {"wall_ms", 1, 3600000},
                 {"memory_mb", 1, 1 << 20},
                 {"procs", 1, 1 << 15},
                 {"output_kb", 1, 1 << 22}};
    json_t *o = limits ? json_object_get(limits, key) : NULL;
    char where[64];
    int rc;

    *out = *dflt;
    if (!o)
        return 0;
    snprintf(where, sizeof(where), " in limits.%s", key);
    if (!json_is_object(o))
        return vd_errf(eb, VD_EINVAL, "%s: limits.%s must be an object", name, key);
    if ((rc = check_keys(o, known, name, where, eb)) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
        json_t *v = json_object_get(o, range[i].key);
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < range[i].min ||
            json_integer_value(v) > range[i].max)
            return vd_errf(eb, VD_EINVAL, "%s: limits.%s.%s must be an integer from %lld to %lld",
                           name, key, range[i].key, (long long)range[i].min,
                           (long long)range[i].max);
        json_int_t x = json_integer_value(v);
        switch (i) {
        case 0:
            out->cpu_ms = (uint32_t)x;
            break;
        case 1:
            out->wall_ms = (uint32_t)x;
            break;
        case 2:
            out->memory_kb = (uint64_t)x * 1024;
            break;
        case 3:
            out->procs = (uint32_t)x;
            break;
        case 4:
            out->output_kb = (uint64_t)x;
            break;
        }
    }
    return 0;
}

static int valid_id(const char *s)
{
    if (!*s || strlen(s) > 40)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || strchr("_+-.#", *s)))
            return 0;
    return 1;
}

/* glibc's regcomp copies the tree once per repetition, so stacked
 * quantifiers ("a++++...") or nested intervals take memory exponential in
 * the pattern (found by fuzz_lang). A version pattern needs none of them. */
static int simple_pattern(const char *p)
{
    if (strlen(p) > 100 || strchr(p, '{'))
        return 0;
    for (size_t i = 1; p[i]; i++)
        if (strchr("+*?", p[i]) && strchr("+*?", p[i - 1]))
            return 0;
    return 1;
}

int vd_lang_parse(const char *text, size_t len, const char *name, struct vd_lang **out,
                  struct vd_errbuf *eb)
{
    static const char *const known[] = {"id",
                                        "name",
                                        "aliases",
                                        "extensions",
                                        "source",
                                        "version",
                                        "compile",
                                        "run",
                                        "env",
                                        "binds",
                                        "packages",
                                        "tier",
                                        "address_space_limit",
                                        "allow_locks",
                                        "limits",
                                        NULL};
    static const char *const known_version[] = {"command", "pattern", NULL};
    static const char *const known_limits[] = {"compile", "run", "max", NULL};
    json_error_t je;
    json_t *root = NULL, *v;
    struct vd_lang *l = NULL;
    char *tier = NULL;
    int rc;

    *out = NULL;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return vd_errf(eb, VD_EBADJSON, "%s: line %d: %s", name, je.line, je.text);
    if (!json_is_object(root)) {
        rc = vd_errf(eb, VD_EINVAL, "%s: must hold one JSON object", name);
        goto out;
    }
    if ((rc = check_keys(root, known, name, "", eb)) < 0)
        goto out;
    l = vd_xcalloc(1, sizeof(*l));
    if ((rc = str_field(root, "id", 1, name, &l->id, eb)) < 0 ||
        (rc = str_field(root, "name", 1, name, &l->name, eb)) < 0 ||
        (rc = str_field(root, "source", 1, name, &l->source, eb)) < 0 ||
        (rc = str_field(root, "tier", 0, name, &tier, eb)) < 0 ||
        (rc = str_vec(root, "aliases", 0, name, &l->aliases, eb)) < 0 ||
        (rc = str_vec(root, "extensions", 0, name, &l->extensions, eb)) < 0 ||
        (rc = str_vec(root, "run", 1, name, &l->run, eb)) < 0 ||
        (rc = str_vec(root, "binds", 0, name, &l->binds, eb)) < 0 ||
        (rc = str_vec(root, "packages", 0, name, &l->packages, eb)) < 0 ||
        (rc = bool_field(root, "address_space_limit", 1, name, &l->address_space_limit, eb)) < 0 ||
        (rc = bool_field(root, "allow_locks", 0, name, &l->allow_locks, eb)) < 0)
        goto out;
    if (!valid_id(l->id)) {
        rc = vd_errf(eb, VD_EINVAL, "%s: \"id\" must be 1-40 of a-z 0-9 _ + - . #", name);
        goto out;
    }
    for (size_t i = 0; l->aliases[i]; i++)
        if (!valid_id(l->aliases[i])) {
            rc = vd_errf(eb, VD_EINVAL, "%s: alias \"%s\" must be 1-40 of a-z 0-9 _ + - . #", name,
                         l->aliases[i]);
            goto out;
        }
    if (strchr(l->source, '/') || l->source[0] == '.') {
        rc = vd_errf(eb, VD_EINVAL, "%s: \"source\" must be a plain file name", name);
        goto out;
    }
    for (size_t i = 0; l->binds[i]; i++)
        if (l->binds[i][0] != '/') {
            rc = vd_errf(eb, VD_EINVAL, "%s: bind \"%s\" must be an absolute path", name,
                         l->binds[i]);
            goto out;
        }
    if (tier && strcmp(tier, "core") != 0 && strcmp(tier, "extra") != 0) {
        rc = vd_errf(eb, VD_EINVAL, "%s: \"tier\" must be \"core\" or \"extra\"", name);
        goto out;
    }
    l->core = tier && strcmp(tier, "core") == 0;
    if (json_object_get(root, "compile") &&
        (rc = str_vec(root, "compile", 1, name, &l->compile, eb)) < 0)
        goto out;

    v = json_object_get(root, "version");
    if (!v || !json_is_object(v)) {
        rc = vd_errf(eb, VD_EINVAL, "%s: \"version\" must be an object with \"command\"", name);
        goto out;
    }
    if ((rc = check_keys(v, known_version, name, " in version", eb)) < 0 ||
        (rc = str_vec(v, "command", 1, name, &l->version_cmd, eb)) < 0 ||
        (rc = str_field(v, "pattern", 0, name, &l->version_pattern, eb)) < 0)
        goto out;
    if (l->version_pattern && !simple_pattern(l->version_pattern)) {
        rc = vd_errf(eb, VD_EINVAL,
                     "%s: version.pattern must be a simple regex: at most 100 bytes, no {} "
                     "intervals, no stacked quantifiers",
                     name);
        goto out;
    }
    if (l->version_pattern) {
        regex_t re;
        if (regcomp(&re, l->version_pattern, REG_EXTENDED) != 0) {
            rc = vd_errf(eb, VD_EINVAL, "%s: version.pattern is not a POSIX extended regex", name);
            goto out;
        }
        regfree(&re);
    }

    v = json_object_get(root, "env");
    if (v && !json_is_object(v)) {
        rc = vd_errf(eb, VD_EINVAL, "%s: \"env\" must be an object of strings", name);
        goto out;
    }
    l->env = vd_xcalloc((v ? json_object_size(v) : 0) + 1, sizeof(char *));
    if (v) {
        const char *k;
        json_t *s;
        size_t i = 0;
        json_object_foreach(v, k, s)
        {
            struct vd_buf b;
            if (!json_is_string(s) || !*k || strchr(k, '=')) {
                rc = vd_errf(eb, VD_EINVAL, "%s: env \"%s\" must be NAME: \"string\"", name, k);
                goto out;
            }
            vd_buf_init(&b, 4096);
            if (vd_buf_printf(&b, "%s=%s", k, json_string_value(s)) < 0) {
                rc = vd_errf(eb, VD_ETOOBIG, "%s: env \"%s\" is too long", name, k);
                goto out;
            }
            l->env[i++] = vd_buf_take(&b, NULL);
        }
    }

    v = json_object_get(root, "limits");
    if (v && !json_is_object(v)) {
        rc = vd_errf(eb, VD_EINVAL, "%s: \"limits\" must be an object", name);
        goto out;
    }
    if ((v && (rc = check_keys(v, known_limits, name, " in limits", eb)) < 0) ||
        (rc = limits_field(v, "compile", &default_compile, name, &l->compile_limits, eb)) < 0 ||
        (rc = limits_field(v, "run", &default_run, name, &l->run_limits, eb)) < 0 ||
        (rc = limits_field(v, "max", &default_max, name, &l->max_limits, eb)) < 0)
        goto out;
    if (l->run_limits.cpu_ms > l->max_limits.cpu_ms ||
        l->run_limits.wall_ms > l->max_limits.wall_ms ||
        l->run_limits.memory_kb > l->max_limits.memory_kb ||
        l->run_limits.procs > l->max_limits.procs ||
        l->run_limits.output_kb > l->max_limits.output_kb) {
        rc = vd_errf(eb, VD_EINVAL, "%s: limits.run must not exceed limits.max", name);
        goto out;
    }
    *out = l;
    l = NULL;
    rc = 0;
out:
    vd_free(tier);
    vd_lang_free(l);
    json_decref(root);
    return rc;
}

static int by_id(const void *a, const void *b)
{
    return strcmp((*(struct vd_lang *const *)a)->id, (*(struct vd_lang *const *)b)->id);
}

/* Adds s to the union list unless already there. */
static void add_bind(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = vd_xrealloc(*v, (*n + 2) * sizeof(char *));
    (*v)[(*n)++] = vd_xstrdup(s);
    (*v)[*n] = NULL;
}

int vd_langs_load(const char *dir, struct vd_langs **out, struct vd_errbuf *eb)
{
    struct vd_langs *t = vd_xcalloc(1, sizeof(*t));
    DIR *d = opendir(dir);
    struct dirent *e;
    int rc = 0;
    size_t nb = 0;

    *out = NULL;
    if (!d) {
        rc = vd_errf(eb, -errno, "language directory %s: %s", dir, strerror(errno));
        goto out;
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char path[4096];
        struct vd_buf text;
        struct vd_lang *l;
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0 || e->d_name[0] == '.')
            continue;
        if (t->n >= VD_LANG_MAX_FILES) {
            rc = vd_errf(eb, VD_ETOOBIG, "%s: more than %d languages", dir, VD_LANG_MAX_FILES);
            goto out;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        vd_buf_init(&text, VD_LANG_FILE_MAX);
        if ((rc = vd_buf_read_file(&text, path)) < 0) {
            vd_buf_free(&text);
            rc = vd_errf(eb, rc, "%s: %s", path,
                         rc == VD_ETOOBIG ? "over the size cap of a language file"
                                          : vd_strerror(rc));
            goto out;
        }
        rc = vd_lang_parse(vd_buf_str(&text), text.len, e->d_name, &l, eb);
        vd_buf_free(&text);
        if (rc < 0)
            goto out;
        t->v = vd_xrealloc(t->v, (t->n + 1) * sizeof(*t->v));
        t->v[t->n++] = l;
    }
    qsort(t->v, t->n, sizeof(*t->v), by_id);
    /* An id or alias names one language only. */
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = i + 1; j < t->n; j++) {
            const struct vd_lang *a = t->v[i], *b = t->v[j];
            int clash = strcmp(a->id, b->id) == 0;
            for (size_t x = 0; !clash && a->aliases[x]; x++)
                clash = strcmp(a->aliases[x], b->id) == 0;
            for (size_t x = 0; !clash && b->aliases[x]; x++) {
                clash = strcmp(b->aliases[x], a->id) == 0;
                for (size_t y = 0; !clash && a->aliases[y]; y++)
                    clash = strcmp(b->aliases[x], a->aliases[y]) == 0;
            }
            if (clash) {
                rc = vd_errf(eb, VD_EINVAL, "languages %s and %s share an id or alias", a->id,
                             b->id);
                goto out;
            }
        }
    t->binds = vd_xcalloc(1, sizeof(char *));
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; t->v[i]->binds[j]; j++)
            add_bind(&t->binds, &nb, t->v[i]->binds[j]);
    *out = t;
    t = NULL;
out:
    if (d)
        closedir(d);
    vd_langs_free(t);
    return rc;
}

void vd_langs_free(struct vd_langs *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        vd_lang_free(t->v[i]);
    vd_free(t->v);
    free_vec(t->binds);
    vd_free(t);
}

size_t vd_langs_count(const struct vd_langs *t)
{
    return t->n;
}

size_t vd_langs_available(const struct vd_langs *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->v[i]->available != 0;
    return n;
}

const struct vd_lang *vd_langs_at(const struct vd_langs *t, size_t i)
{
    return i < t->n ? t->v[i] : NULL;
}

const struct vd_lang *vd_langs_find(const struct vd_langs *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcasecmp(t->v[i]->id, id) == 0)
            return t->v[i];
        for (size_t j = 0; t->v[i]->aliases[j]; j++)
            if (strcasecmp(t->v[i]->aliases[j], id) == 0)
                return t->v[i];
    }
    return NULL;
}

const struct vd_lang *vd_langs_by_file(const struct vd_langs *t, const char *path)
{
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash))
        return NULL;
    /* Core languages first, so ".c" is C and not some extra dialect. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < t->n; i++)
            if (t->v[i]->core == (pass == 0))
                for (size_t j = 0; t->v[i]->extensions[j]; j++)
                    if (strcasecmp(t->v[i]->extensions[j], dot) == 0)
                        return t->v[i];
    return NULL;
}

const char *const *vd_langs_binds(const struct vd_langs *t)
{
    return (const char *const *)t->binds;
}

const char *vd_lang_over_max(const struct vd_lang *l, const struct vd_lang_limits *want, char *msg,
                             size_t cap)
{
    const struct vd_lang_limits *m = &l->max_limits;
    /* Memory is compared and shown in the unit the API takes: MiB. */
    const struct {
        const char *field;
        uint64_t want, max;
    } f[] = {{"limits.cpu_ms", want->cpu_ms, m->cpu_ms},
             {"limits.wall_ms", want->wall_ms, m->wall_ms},
             {"limits.memory_mb", (want->memory_kb + 1023) / 1024, m->memory_kb / 1024},
             {"limits.processes", want->procs, m->procs},
             {"limits.output_kb", want->output_kb, m->output_kb}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (f[i].want > f[i].max) {
            snprintf(msg, cap, "%s %llu is over the maximum of %llu for %s", f[i].field,
                     (unsigned long long)f[i].want, (unsigned long long)f[i].max, l->id);
            return f[i].field;
        }
    return NULL;
}

int vd_lang_expand(char *const *tmpl, const struct vd_lang *l, uint64_t memory_kb, char ***out)
{
    char mem[32];
    size_t n = 0, bytes = 0;
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)(memory_kb / 1024));
    /* Two passes: size, then fill one block holding pointers and text. */
    for (int pass = 0; pass < 2; pass++) {
        char **vec = pass ? *out : NULL;
        char *p = pass ? (char *)(vec + n + 1) : NULL;
        for (size_t i = 0; tmpl[i]; i++) {
            const char *s = tmpl[i];
            if (pass)
                vec[i] = p;
            while (*s) {
                const char *rep = NULL;
                size_t skip = 1;
                if (strncmp(s, "{memory_mb}", 11) == 0) {
                    rep = mem;
                    skip = 11;
                } else if (strncmp(s, "{source}", 8) == 0) {
                    rep = l->source;
                    skip = 8;
                }
                size_t len = rep ? strlen(rep) : 1;
                if (pass)
                    memcpy(p, rep ? rep : s, len), p += len;
                else
                    bytes += len;
                s += skip;
            }
            if (pass)
                *p++ = '\0';
            else
                bytes++, n++;
        }
        if (!pass) {
            *out = vd_try_malloc((n + 1) * sizeof(char *) + bytes);
            if (!*out)
                return -ENOMEM;
        } else {
            vec[n] = NULL;
        }
    }
    return 0;
}

/* ---- probing ------------------------------------------------------------- */

struct probe {
    pid_t pid;
    int fd;
    struct vd_buf out;
};

static void extract_version(struct vd_lang *l, const char *text)
{
    regex_t re;
    regmatch_t m[2];
    const char *pat = l->version_pattern ? l->version_pattern : "[0-9]+(\\.[0-9]+)+";
    l->version[0] = '\0';
    if (regcomp(&re, pat, REG_EXTENDED) != 0)
        return;
    if (regexec(&re, text, 2, m, 0) == 0) {
        int g = l->version_pattern && m[1].rm_so >= 0 ? 1 : 0;
        int len = (int)(m[g].rm_eo - m[g].rm_so);
        if (len >= (int)sizeof(l->version))
            len = (int)sizeof(l->version) - 1;
        memcpy(l->version, text + m[g].rm_so, (size_t)len);
        l->version[len] = '\0';
    }
    regfree(&re);
}

void vd_langs_probe(struct vd_langs *t, const struct vd_lang *only, int timeout_ms)
{
    static char *const env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "HOME=/tmp",
                                NULL};
    struct probe *p = vd_xcalloc(t->n ? t->n : 1, sizeof(*p));
    const uint64_t t0 = vd_clock_us();
    size_t open_fds = 0;

    for (size_t i = 0; i < t->n; i++) {
        int pipefd[2];
        t->v[i]->available = 0;
        t->v[i]->version[0] = '\0';
        p[i].fd = -1;
        vd_buf_init(&p[i].out, 8192);
        if ((only && t->v[i] != only) || pipe2(pipefd, O_CLOEXEC) < 0)
            continue;
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_RDONLY);
            dup2(devnull, 0);
            dup2(pipefd[1], 1);
            dup2(pipefd[1], 2);
            /* glibc's execvpe searches the caller's PATH, not env's: set
             * ours to the box's so that a tool the box cannot see (a
             * shim under /root, say) reads as missing. */
            setenv("PATH", env[0] + 5, 1);
            execvpe(t->v[i]->version_cmd[0], t->v[i]->version_cmd, env);
            _exit(127);
        }
        close(pipefd[1]);
        if (pid < 0) {
            close(pipefd[0]);
            continue;
        }
        p[i].pid = pid;
        p[i].fd = pipefd[0];
        open_fds++;
    }
    while (open_fds > 0) {
        struct pollfd pf[VD_LANG_MAX_FILES];
        size_t idx[VD_LANG_MAX_FILES], m = 0;
        for (size_t i = 0; i < t->n; i++)
            if (p[i].fd >= 0) {
                pf[m].fd = p[i].fd;
                pf[m].events = POLLIN;
                idx[m++] = i;
            }
        long left = timeout_ms - (long)((vd_clock_us() - t0) / 1000);
        if (left <= 0 || poll(pf, m, (int)left) <= 0)
            break;
        for (size_t k = 0; k < m; k++) {
            if (!pf[k].revents)
                continue;
            struct probe *q = &p[idx[k]];
            char buf[4096];
            ssize_t r = read(q->fd, buf, sizeof(buf));
            if (r > 0 && vd_buf_add_capped(&q->out, buf, (size_t)r) >= 0)
                continue;
            close(q->fd);
            q->fd = -1;
            open_fds--;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        int st = 0;
        if (p[i].fd >= 0)
            close(p[i].fd);
        if (p[i].pid > 0) {
            /* The end of its output comes just before its exit, not after:
             * a SIGKILL sent at once would often win the race and make a
             * tool that worked look killed (missing). So wait for the exit
             * for what is left of the timeout, and kill only a tool that
             * closed its output and lingers. */
            pid_t r;
            while ((r = waitpid(p[i].pid, &st, WNOHANG)) == 0 &&
                   timeout_ms - (long)((vd_clock_us() - t0) / 1000) > 0)
                usleep(1000);
            if (r == 0) {
                kill(p[i].pid, SIGKILL);
                waitpid(p[i].pid, &st, 0);
            }
            /* Exit 127: not found. Some tools print their version with a
             * non-zero status, so anything else with output counts. */
            int found = !(WIFEXITED(st) && WEXITSTATUS(st) == 127) && !WIFSIGNALED(st);
            if (found && p[i].out.len > 0) {
                extract_version(t->v[i], vd_buf_str(&p[i].out));
                t->v[i]->available = 1;
            }
        }
        vd_buf_free(&p[i].out);
    }
    vd_free(p);
}
