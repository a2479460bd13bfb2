/*
 * test_config.c - src/common/config.c: defaults, file, environment,
 * precedence, errors that name the key and the source, and the example
 * file kept in step with the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "vd/buf.h"
#include "vd/config.h"

TEST_IMPL(config_defaults_file_env)
{
    struct vd_config c;
    struct vd_errbuf eb = {""};
    char path[] = "/tmp/vd-conf-XXXXXX";
    vd_config_defaults(&c);
    ASSERT_STR_EQ(c.listen, "127.0.0.1:8080");
    ASSERT_EQ(c.queue_max, 10000);
    ASSERT_EQ(c.require_cgroup, 0);
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    const char *text =
        "# comment\n\nlisten 0.0.0.0:9000   # trailing\nqueue_max 5\nrequire_cgroup yes\n"
        "database_url sqlite:/tmp/x.db\n";
    ASSERT_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ASSERT_OK(vd_config_load_file(&c, path, &eb));
    ASSERT_STR_EQ(c.listen, "0.0.0.0:9000");
    ASSERT_EQ(c.queue_max, 5);
    ASSERT_EQ(c.require_cgroup, 1);
    /* The environment wins; our own name wins over the seed's. */
    setenv("DATABASE_URL", "sqlite:/tmp/seed.db", 1);
    setenv("VERDICT_QUEUE_MAX", "7", 1);
    ASSERT_OK(vd_config_load_env(&c, &eb));
    ASSERT_STR_EQ(c.database_url, "sqlite:/tmp/seed.db");
    ASSERT_EQ(c.queue_max, 7);
    setenv("VERDICT_DATABASE_URL", "sqlite:/tmp/ours.db", 1);
    ASSERT_OK(vd_config_load_env(&c, &eb));
    ASSERT_STR_EQ(c.database_url, "sqlite:/tmp/ours.db");
    unsetenv("DATABASE_URL");
    unsetenv("VERDICT_DATABASE_URL");
    unsetenv("VERDICT_QUEUE_MAX");
    unlink(path);
    return TEST_OK;
}

TEST_IMPL(config_errors_name_key_and_source)
{
    struct vd_config c;
    struct vd_errbuf eb = {""};
    char path[] = "/tmp/vd-conf-XXXXXX";
    vd_config_defaults(&c);
    ASSERT_ERR(vd_config_set(&c, "queue_max", "0", "test", &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "queue_max");
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_config_set(&c, "queue_max", "12abc", "test", &eb), VD_EINVAL);
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_config_set(&c, "require_cgroup", "maybe", "test", &eb), VD_EINVAL);
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_config_set(&c, "colour", "red", "test", &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "unknown setting \"colour\"");
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "listen x\nworkers -3\n", 20), 20);
    close(fd);
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_config_load_file(&c, path, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, ":2: workers");
    setenv("VERDICT_WORKERS", "lots", 1);
    eb.msg[0] = '\0';
    ASSERT_ERR(vd_config_load_env(&c, &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "VERDICT_WORKERS");
    unsetenv("VERDICT_WORKERS");
    unlink(path);
    return TEST_OK;
}

TEST_IMPL(config_dump_hides_secrets_and_example_in_step)
{
    struct vd_config c;
    struct vd_errbuf eb = {""};
    char *text = NULL;
    size_t len = 0;
    vd_config_defaults(&c);
    ASSERT_OK(vd_config_set(&c, "api_secret", "hunter2", "test", &eb));
    FILE *f = open_memstream(&text, &len);
    vd_config_dump(&c, f);
    fclose(f);
    ASSERT(strstr(text, "hunter2") == NULL);
    ASSERT_STR_CONTAINS(text, "api_secret (set)");
    ASSERT_STR_CONTAINS(text, "listen 127.0.0.1:8080\n");
    free(text); // checksrc: allow (open_memstream allocates with malloc)
    /* Every key of the table is documented in etc/verdict.conf.example. */
    f = fopen("etc/verdict.conf.example", "r");
    if (!f)
        RETURN_SKIP("run from the repository root");
    struct vd_buf ex;
    vd_buf_init(&ex, 1 << 20);
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ASSERT_OK(vd_buf_add(&ex, chunk, k));
    fclose(f);
    for (const struct vd_config_option *o = vd_config_options; o->name; o++) {
        char want[256];
        snprintf(want, sizeof(want), "\n# %s %s\n", o->name, o->dflt);
        ASSERT_STR_CONTAINS(vd_buf_str(&ex), want);
    }
    vd_buf_free(&ex);
    return TEST_OK;
}
