/*
 * sbtest.h - a pool and a box for the sandbox unit tests.
 *
 * The unit tests use their own uid range (61000+) so that they never share
 * a slot with a `verdict box` running at the same time (60000+).
 */
#ifndef VD_SBTEST_H
#define VD_SBTEST_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "vd/sandbox.h"

#define SBTEST_FIRST_UID 61000u

/* valgrind emulates neither seccomp() nor clone3 with namespaces: `make
 * valgrind` sets VD_UNDER_VALGRIND and these tests skip there. */
#define SBTEST_SKIP_UNDER_VALGRIND()                                               \
    do {                                                                           \
        if (getenv("VD_UNDER_VALGRIND"))                                           \
            RETURN_SKIP("valgrind emulates neither seccomp nor namespace clone3"); \
    } while (0)

/* Opens a pool of n slots, or skips when not root. */
#define SBTEST_OPEN(sb, n)                                            \
    do {                                                              \
        struct vd_sandbox_config c_;                                  \
        struct vd_errbuf e_ = {""};                                   \
        if (geteuid() != 0)                                           \
            RETURN_SKIP("needs root (namespaces, cgroups)");          \
        SBTEST_SKIP_UNDER_VALGRIND();                                 \
        vd_sandbox_config_defaults(&c_);                              \
        c_.slots = (n);                                               \
        c_.first_uid = c_.first_gid = SBTEST_FIRST_UID;               \
        int rc_ = vd_sandbox_open(&c_, &(sb), &e_);                   \
        if (rc_ < 0)                                                  \
            FAIL("vd_sandbox_open: %s: %s", vd_errname(rc_), e_.msg); \
    } while (0)

/* Runs argv (NULL-terminated list of strings) in box with default limits. */
static inline void sbtest_run(struct vd_box *box, const char *const *argv,
                              struct vd_run_result *res)
{
    struct vd_run_spec spec;
    vd_run_spec_init(&spec);
    spec.argv = argv;
    spec.limits.cpu_ms = 5000;
    spec.limits.wall_ms = 10000;
    if (vd_box_run(box, &spec, res) != 0)
        FAIL("vd_box_run refused the spec");
}

/* The end of a test's box: result, hold and pool (each may be NULL). */
static inline void sbtest_done(struct vd_sandbox *sb, struct vd_box *box, struct vd_run_result *res)
{
    if (res)
        vd_run_result_free(res);
    vd_box_release(box);
    vd_sandbox_close(sb);
}

#endif /* VD_SBTEST_H */
