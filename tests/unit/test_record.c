/*
 * test_record.c - src/sandbox/record.c: names and the JSON record.
 */
#include <jansson.h>

#include "harness.h"
#include "vd/sandbox.h"

TEST_IMPL(record_names_round_trip)
{
    enum vd_sandbox_mode m;
    const char *names[] = {"auto", "cgroup2", "cgroup1", "none"};
    for (int i = 0; i < 4; i++) {
        ASSERT_OK(vd_sandbox_mode_parse(names[i], &m));
        ASSERT_STR_EQ(vd_sandbox_mode_name(m), names[i]);
    }
    ASSERT_ERR(vd_sandbox_mode_parse("cgroup3", &m), VD_EINVAL);
    ASSERT_STR_EQ(vd_run_status_name(VD_RUN_OK), "OK");
    ASSERT_STR_EQ(vd_run_status_name(VD_RUN_IE), "IE");
    ASSERT_STR_EQ(vd_run_status_name((enum vd_run_status)99), "?");
    return TEST_OK;
}

TEST_IMPL(record_json_has_every_field)
{
    struct vd_run_result r;
    struct vd_buf b;
    json_error_t je;
    vd_run_result_init(&r);
    r.status = VD_RUN_TLE;
    r.mode = VD_SANDBOX_CGROUP1;
    r.exit_code = -1;
    r.signal = 9;
    r.cpu_us = 1500;
    r.wall_us = 2499;
    r.memory_kb = 1234;
    r.memory_source = "cgroup";
    r.output_truncated = 1;
    snprintf(r.message, sizeof(r.message), "quote \" and newline \n kept");
    vd_buf_init(&b, 8192);
    ASSERT_OK(vd_run_result_json(&r, &b));
    json_t *o = json_loads(vd_buf_str(&b), 0, &je);
    ASSERT_NOT_NULL(o);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "status")), "TLE");
    ASSERT_EQ(json_integer_value(json_object_get(o, "exit_code")), -1);
    ASSERT_EQ(json_integer_value(json_object_get(o, "signal")), 9);
    ASSERT_EQ(json_integer_value(json_object_get(o, "cpu_ms")), 2); /* rounded */
    ASSERT_EQ(json_integer_value(json_object_get(o, "wall_ms")), 2);
    ASSERT_EQ(json_integer_value(json_object_get(o, "cpu_us")), 1500);
    ASSERT_EQ(json_integer_value(json_object_get(o, "memory_kb")), 1234);
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "mode")), "cgroup1");
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "memory_source")), "cgroup");
    ASSERT(json_is_true(json_object_get(o, "output_truncated")));
    ASSERT(json_is_false(json_object_get(o, "oom_killed")));
    ASSERT_STR_EQ(json_string_value(json_object_get(o, "message")), "quote \" and newline \n kept");
    /* One line: the newline in the message is escaped. */
    ASSERT(strchr(vd_buf_str(&b), '\n') == NULL);
    json_decref(o);
    vd_buf_free(&b);
    vd_run_result_free(&r);
    return TEST_OK;
}
