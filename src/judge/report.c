/*
 * report.c - a judge result as JSON, the form `verdict run --json` prints
 * and the server stores. Output of the program goes through the lossy
 * UTF-8 helper: any bytes, always a valid document.
 */
#include <errno.h>

#include "vd/alloc.h"
#include "vd/json.h"
#include "vd/judge.h"

static json_int_t ms(uint64_t us)
{
    return (json_int_t)((us + 500) / 1000);
}

static json_t *buf_string(const struct vd_buf *b)
{
    return vd_json_string_lossy(b->data ? b->data : "", b->len);
}

int vd_judge_result_json(const struct vd_judge_result *r, int plain, struct vd_buf *out)
{
    int rc = -ENOMEM;
    json_t *o = json_object(), *tests = json_array();
    json_t *compile = json_pack("{s:b, s:b, s:o, s:b, s:I, s:I}", "ok", r->compile.ok, "cached",
                                r->compile.cached, "output", buf_string(&r->compile.output),
                                "truncated", r->compile.truncated, "cpu_ms", ms(r->compile.cpu_us),
                                "wall_ms", ms(r->compile.wall_us));
    if (!o || !tests || !compile)
        goto out;
    for (size_t i = 0; i < r->ntests; i++) {
        const struct vd_test_result *t = &r->tests[i];
        json_t *jt =
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:s}", "name", t->name, "verdict",
                      vd_verdict_name(t->verdict), "cpu_ms", ms(t->cpu_us), "wall_ms",
                      ms(t->wall_us), "memory_kb", (json_int_t)t->memory_kb, "exit_code",
                      t->exit_code, "signal", t->signal, "message", t->message);
        if (!jt || json_array_append_new(tests, jt) < 0)
            goto out;
    }
    if (json_object_set_new(o, "verdict", json_string(vd_verdict_name(r->verdict))) < 0 ||
        json_object_set_new(o, "passed", json_integer((json_int_t)r->passed)) < 0 ||
        json_object_set_new(o, "total", json_integer((json_int_t)r->total)) < 0 ||
        json_object_set_new(o, "message", json_string(r->message)) < 0 ||
        json_object_set(o, "compile", compile) < 0 || json_object_set(o, "tests", tests) < 0 ||
        /* AUTO: no run took place (refused before the judge started). */
        json_object_set_new(o, "mode",
                            r->mode == VD_SANDBOX_AUTO
                                ? json_null()
                                : json_string(vd_sandbox_mode_name(r->mode))) < 0)
        goto out;
    if (plain) {
        const struct vd_run_result *p = &r->run;
        json_t *extra =
            json_pack("{s:o, s:o, s:i, s:i, s:I, s:I, s:I, s:b}", "stdout", buf_string(&p->out),
                      "stderr", buf_string(&p->err), "exit_code", p->exit_code, "signal", p->signal,
                      "cpu_ms", ms(p->cpu_us), "wall_ms", ms(p->wall_us), "memory_kb",
                      (json_int_t)p->memory_kb, "output_truncated", p->output_truncated);
        if (!extra || json_object_update(o, extra) < 0) {
            json_decref(extra);
            goto out;
        }
        json_decref(extra);
    }
    rc = vd_json_dump(o, out);
out:
    json_decref(o);
    json_decref(tests);
    json_decref(compile);
    return rc;
}
