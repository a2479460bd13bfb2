/*
 * test_lang.c - src/lang/lang.c: strict parsing with messages that name
 * the field, defaults, lookups, and command expansion.
 */
#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "vd/alloc.h"
#include "vd/lang.h"

#define MINIMAL                                                               \
    "\"id\":\"c\",\"name\":\"C\",\"source\":\"main.c\",\"run\":[\"./main\"]," \
    "\"version\":{\"command\":[\"gcc\",\"--version\"]}"

static int parse(const char *text, struct vd_lang **l, struct vd_errbuf *eb)
{
    eb->msg[0] = '\0';
    return vd_lang_parse(text, strlen(text), "x.json", l, eb);
}

TEST_IMPL(lang_parse_defaults_and_fields)
{
    struct vd_lang *l;
    struct vd_errbuf eb = {""};
    ASSERT_OK(parse("{" MINIMAL ",\"aliases\":[\"gcc\"],\"env\":{\"A\":\"b\"},\"tier\":\"core\","
                    "\"limits\":{\"run\":{\"memory_mb\":64}}}",
                    &l, &eb));
    ASSERT_STR_EQ(l->id, "c");
    ASSERT_STR_EQ(l->aliases[0], "gcc");
    ASSERT_STR_EQ(l->env[0], "A=b");
    ASSERT(l->core);
    ASSERT(l->address_space_limit);
    ASSERT_NULL(l->compile);
    ASSERT_UINT_EQ(l->run_limits.memory_kb, 64 * 1024);
    ASSERT_UINT_EQ(l->run_limits.cpu_ms, 2000); /* default */
    vd_lang_free(l);
    return TEST_OK;
}

TEST_IMPL(lang_parse_errors_name_the_field)
{
    struct vd_lang *l;
    struct vd_errbuf eb = {""};
    ASSERT_ERR(parse("{" MINIMAL ",\"colour\":1}", &l, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "colour");
    ASSERT_ERR(parse("{\"id\":\"c\"}", &l, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "\"name\" is required");
    ASSERT_ERR(parse("{" MINIMAL ",\"limits\":{\"run\":{\"cpu_ms\":0}}}", &l, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "limits.run.cpu_ms");
    ASSERT_ERR(parse("{" MINIMAL
                     ",\"limits\":{\"run\":{\"cpu_ms\":9000},\"max\":{\"cpu_ms\":100}}}",
                     &l, &eb),
               VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "must not exceed");
    ASSERT_ERR(parse("{" MINIMAL ",\"source\":\"../x\"}", &l, &eb),
               VD_EBADJSON); /* duplicate key */
    ASSERT_ERR(parse("[1]", &l, &eb), VD_EINVAL);
    ASSERT_ERR(parse("{" MINIMAL ",\"binds\":[\"relative\"]}", &l, &eb), VD_EINVAL);
    ASSERT_ERR(parse("{" MINIMAL ",\"run\":[]}", &l, &eb), VD_EBADJSON);
    ASSERT_ERR(parse("{\"id\":\"UPPER\",\"name\":\"x\",\"source\":\"a\",\"run\":[\"a\"],"
                     "\"version\":{\"command\":[\"a\"]}}",
                     &l, &eb),
               VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "\"id\"");
    /* A regex whose compilation would take exponential memory (fuzz_lang). */
    ASSERT_ERR(parse("{\"id\":\"c\",\"name\":\"C\",\"source\":\"m\",\"run\":[\"m\"],"
                     "\"version\":{\"command\":[\"gcc\"],\"pattern\":\"([0-9]++++++)\"}}",
                     &l, &eb),
               VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "simple regex");
    return TEST_OK;
}

TEST_IMPL(lang_expand_placeholders)
{
    struct vd_lang *l;
    struct vd_errbuf eb = {""};
    char **argv;
    ASSERT_OK(parse("{" MINIMAL "}", &l, &eb));
    char *tmpl[] = {"java", "-Xmx{memory_mb}m", "{source}", "{other}", NULL};
    ASSERT_OK(vd_lang_expand(tmpl, l, 256 * 1024, &argv));
    ASSERT_STR_EQ(argv[0], "java");
    ASSERT_STR_EQ(argv[1], "-Xmx256m");
    ASSERT_STR_EQ(argv[2], "main.c");
    ASSERT_STR_EQ(argv[3], "{other}");
    ASSERT_NULL(argv[4]);
    vd_free(argv);
    vd_lang_free(l);
    return TEST_OK;
}

TEST_IMPL(lang_table_lookups)
{
    struct vd_langs *t;
    struct vd_errbuf eb = {""};
    char dir[] = "/tmp/vd-langs-XXXXXX", path[256];
    ASSERT_NOT_NULL(mkdtemp(dir));
    const char *files[][2] = {
        {"c.json",
         "{" MINIMAL ",\"extensions\":[\".c\"],\"tier\":\"core\",\"binds\":[\"/etc/x\"]}"},
        {"py.json",
         "{\"id\":\"python\",\"name\":\"P\",\"source\":\"a.py\",\"run\":[\"python3\"],"
         "\"aliases\":[\"py3\"],\"extensions\":[\".py\"],\"binds\":[\"/etc/x\",\"/etc/y\"],"
         "\"version\":{\"command\":[\"python3\",\"-V\"]}}"}};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i][0]);
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        fputs(files[i][1], f);
        fclose(f);
    }
    ASSERT_OK(vd_langs_load(dir, &t, &eb));
    ASSERT_UINT_EQ(vd_langs_count(t), 2);
    ASSERT_STR_EQ(vd_langs_at(t, 0)->id, "c"); /* sorted */
    ASSERT_STR_EQ(vd_langs_find(t, "PY3")->id, "python");
    ASSERT_NULL(vd_langs_find(t, "cobol"));
    ASSERT_STR_EQ(vd_langs_by_file(t, "/x/y.c")->id, "c");
    ASSERT_NULL(vd_langs_by_file(t, "/x.c/y"));
    const char *const *b = vd_langs_binds(t);
    ASSERT_STR_EQ(b[0], "/etc/x");
    ASSERT_STR_EQ(b[1], "/etc/y");
    ASSERT_NULL(b[2]);
    /* The probe finds gcc (the box's PATH) and says which version. */
    vd_langs_probe(t, vd_langs_find(t, "c"), 10000);
    ASSERT(vd_langs_find(t, "c")->available);
    ASSERT_NE(vd_langs_find(t, "c")->version[0], 0);
    ASSERT(!vd_langs_find(t, "python")->available); /* not probed */
    vd_langs_free(t);
    /* A clash of ids refuses the whole table. */
    snprintf(path, sizeof(path), "%s/d.json", dir);
    FILE *f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    fputs("{\"id\":\"py3\",\"name\":\"x\",\"source\":\"a\",\"run\":[\"a\"],\"version\":{"
          "\"command\":[\"a\"]}}",
          f);
    fclose(f);
    ASSERT_ERR(vd_langs_load(dir, &t, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "share an id");
    snprintf(path, sizeof(path), "rm -rf %s", dir);
    ASSERT_EQ(system(path), 0);
    return TEST_OK;
}
