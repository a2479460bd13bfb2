/*
 * langs.c - `verdict langs`: every language of the table, whether its
 * toolchain is installed here, and which version.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "vd/buf.h"
#include "vd/json.h"
#include "vd/lang.h"

static json_t *limits_json(const struct vd_lang_limits *l)
{
    return json_pack("{s:i, s:i, s:I, s:i, s:I}", "cpu_ms", (int)l->cpu_ms, "wall_ms",
                     (int)l->wall_ms, "memory_mb", (json_int_t)(l->memory_kb / 1024), "procs",
                     (int)l->procs, "output_kb", (json_int_t)l->output_kb);
}

static int print_json(const struct vd_langs *t)
{
    json_t *a = json_array();
    struct vd_buf out;
    int rc = -1;
    vd_buf_init(&out, (size_t)16 << 20);
    for (size_t i = 0; a && i < vd_langs_count(t); i++) {
        const struct vd_lang *l = vd_langs_at(t, i);
        json_t *aliases = json_array(), *ext = json_array();
        for (size_t k = 0; l->aliases[k]; k++)
            json_array_append_new(aliases, json_string(l->aliases[k]));
        for (size_t k = 0; l->extensions[k]; k++)
            json_array_append_new(ext, json_string(l->extensions[k]));
        json_t *o = json_pack(
            "{s:s, s:s, s:s, s:b, s:s, s:o, s:o, s:b, s:o, s:o, s:o}", "id", l->id, "name", l->name,
            "version", l->version, "available", l->available, "tier", l->core ? "core" : "extra",
            "aliases", aliases, "extensions", ext, "compiled", l->compile != NULL, "run_limits",
            limits_json(&l->run_limits), "max_limits", limits_json(&l->max_limits),
            "compile_limits", limits_json(&l->compile_limits));
        if (!o || json_array_append_new(a, o) < 0)
            goto out;
    }
    if (vd_json_dump(a, &out) < 0 || vd_buf_add(&out, "\n", 1) < 0)
        goto out;
    fwrite(out.data, 1, out.len, stdout);
    rc = 0;
out:
    json_decref(a);
    vd_buf_free(&out);
    return rc;
}

int vd_cmd_langs(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'},
                                         {"langs", required_argument, 0, 'l'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *dir = NULL;
    int json = 0, c;
    struct vd_errbuf eb = {""};
    struct vd_langs *t = NULL;

    optind = 1;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        if (c == 'j')
            json = 1;
        else if (c == 'l')
            dir = optarg;
        else {
            fprintf(
                c == 'h' ? stdout : stderr,
                "usage: verdict langs [--json] [--langs DIR]\n"
                "Lists the languages: id, name, version and whether the toolchain is installed.\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (vd_langs_load(vd_cmd_langs_dir(dir), &t, &eb) < 0) {
        fprintf(stderr, "verdict langs: %s\n", eb.msg);
        return 2;
    }
    vd_langs_probe(t, NULL, 20000);
    int rc = 0;
    if (json) {
        rc = print_json(t);
    } else {
        size_t avail = 0;
        printf("%-14s %-34s %-16s %s\n", "ID", "NAME", "VERSION", "STATUS");
        for (size_t i = 0; i < vd_langs_count(t); i++) {
            const struct vd_lang *l = vd_langs_at(t, i);
            avail += l->available != 0;
            printf("%-14s %-34.34s %-16.16s %s\n", l->id, l->name, l->available ? l->version : "-",
                   l->available ? "available" : "missing");
        }
        printf("%zu of %zu languages available\n", avail, vd_langs_count(t));
    }
    vd_langs_free(t);
    return rc < 0 ? 1 : 0;
}
