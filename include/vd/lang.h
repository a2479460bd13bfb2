/*
 * lang.h - the language table: one JSON file per language under langs/.
 *
 * Adding a language is adding a file; no C changes. A file looks like:
 *
 *   {
 *     "id": "cpp",                        lowercase [a-z0-9_+-], unique
 *     "name": "C++ (GCC, C++20)",
 *     "aliases": ["c++", "g++"],          other ids that find it (optional)
 *     "extensions": [".cpp", ".cc"],      for `verdict run FILE` (optional)
 *     "source": "main.cpp",               the file the code is saved as
 *     "version": {"command": ["g++", "--version"],
 *                 "pattern": "([0-9]+\\.[0-9]+(\\.[0-9]+)?)"},
 *     "compile": ["g++", "-std=c++20", "-O2", "-o", "main", "main.cpp"],
 *                                         optional: interpreted languages omit it
 *     "run": ["./main"],
 *     "env": {"KEY": "value"},            added to the box's default environment
 *     "binds": ["/etc/mono"],             read-only paths the toolchain needs
 *                                         beyond the defaults (optional)
 *     "packages": ["g++"],                Debian packages that provide it
 *     "tier": "core",                     core: installed and tested in CI;
 *                                         extra: tested where installed
 *     "address_space_limit": true,        false for runtimes that reserve huge
 *                                         address space (JVM, Go, .NET): their
 *                                         memory is limited and measured by the
 *                                         cgroup only
 *     "allow_locks": false,               let the toolchain take file locks
 *     "limits": {
 *       "compile": {"cpu_ms": 10000, "wall_ms": 20000, "memory_mb": 1024,
 *                   "procs": 64, "output_kb": 64},
 *       "run":     {"cpu_ms": 2000, "wall_ms": 5000, "memory_mb": 256,
 *                   "procs": 16, "output_kb": 65536},
 *       "max":     {"cpu_ms": 20000, "wall_ms": 60000, "memory_mb": 2048,
 *                   "procs": 64, "output_kb": 262144}
 *     }
 *   }
 *
 * In "compile" and "run", "{memory_mb}" is replaced by the run's memory
 * limit (for -Xmx and friends) and "{source}" by the source file name.
 * Missing limit fields take the built-in defaults below; "max" bounds what a
 * request may ask for.
 *
 * Errors: int functions return 0 or a negative VD_E* / -errno code, with a
 * sentence naming the file and the field in the errbuf.
 * Ownership: the table owns every string; a struct vd_lang stays valid until
 * vd_langs_free().
 */
#ifndef VD_LANG_H
#define VD_LANG_H

#include <stddef.h>
#include <stdint.h>

#include "vd/err.h"

#define VD_LANG_MAX_FILES 512  /* languages in one table */
#define VD_LANG_MAX_ARGS 128   /* words in a command */
#define VD_LANG_FILE_MAX 65536 /* bytes of one JSON file */

struct vd_lang_limits {
    uint32_t cpu_ms;
    uint32_t wall_ms;
    uint64_t memory_kb;
    uint32_t procs;
    uint64_t output_kb;
};

struct vd_lang {
    char *id;
    char *name;
    char **aliases;    /* NULL-terminated, maybe empty */
    char **extensions; /* NULL-terminated, maybe empty */
    char *source;
    char **version_cmd;    /* NULL-terminated */
    char *version_pattern; /* POSIX ERE; group 1 (or the match) is the version */
    char **compile;        /* NULL: interpreted */
    char **run;
    char **env; /* "KEY=value", NULL-terminated */
    char **binds;
    char **packages;
    int core; /* tier "core" */
    int address_space_limit;
    int allow_locks;
    struct vd_lang_limits compile_limits, run_limits, max_limits;
    /* Filled by vd_langs_probe(). */
    int available;
    char version[64];
};

struct vd_langs;

/* Loads every *.json of dir, sorted by id. A bad file fails the whole load:
 * a judge with a silently missing language is worse than one that does not
 * start. */
int vd_langs_load(const char *dir, struct vd_langs **out, struct vd_errbuf *eb) VD_MUST_CHECK;
/* Parses one language from JSON text (name is used in messages). */
int vd_lang_parse(const char *text, size_t len, const char *name, struct vd_lang **out,
                  struct vd_errbuf *eb) VD_MUST_CHECK;
void vd_lang_free(struct vd_lang *l);
void vd_langs_free(struct vd_langs *t);

size_t vd_langs_count(const struct vd_langs *t);
/* How many were found installed by the last vd_langs_probe(). */
size_t vd_langs_available(const struct vd_langs *t);
const struct vd_lang *vd_langs_at(const struct vd_langs *t, size_t i);
/* By id or alias, case-insensitive; NULL when unknown. */
const struct vd_lang *vd_langs_find(const struct vd_langs *t, const char *id);
/* By the extension of a file name; NULL when none matches. */
const struct vd_lang *vd_langs_by_file(const struct vd_langs *t, const char *path);

/* Runs the version command of every language, or of `only` when not NULL
 * (in parallel, on the host, with the box's PATH, at most timeout_ms in
 * all), and fills available/version. */
void vd_langs_probe(struct vd_langs *t, const struct vd_lang *only, int timeout_ms);

/* Every bind of every language, NULL-terminated, for the sandbox pool
 * (owned by the table). */
const char *const *vd_langs_binds(const struct vd_langs *t);

/* NULL when every non-zero field of want is within the language's max;
 * otherwise the first field over it, as the API names it ("limits.cpu_ms",
 * "limits.memory_mb", "limits.processes", ...), with a sentence in msg. */
const char *vd_lang_over_max(const struct vd_lang *l, const struct vd_lang_limits *want, char *msg,
                             size_t cap);

/* Expands {memory_mb} and {source} in a command template. *out is a
 * NULL-terminated vector in one allocation (free with vd_free). */
int vd_lang_expand(char *const *tmpl, const struct vd_lang *l, uint64_t memory_kb, char ***out)
    VD_MUST_CHECK;

#endif /* VD_LANG_H */
