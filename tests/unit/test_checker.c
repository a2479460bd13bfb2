/*
 * test_checker.c - src/judge/checker.c: each checker's accept and reject
 * cases, and the spec parser.
 */
#include "harness.h"
#include "vd/judge.h"

static int cmp(const char *spec, const char *out, const char *ans, char *msg)
{
    struct vd_checker c;
    struct vd_errbuf eb = {""};
    if (vd_checker_parse(spec, &c, &eb) < 0)
        FAIL("parse %s: %s", spec, eb.msg);
    return vd_checker_compare(&c, out, strlen(out), ans, strlen(ans), msg, 256);
}

TEST_IMPL(checker_tokens_ignore_whitespace)
{
    char msg[256];
    ASSERT_EQ(cmp(NULL, "1 2\n3", "1\n2 3\n", msg), 1);
    ASSERT_EQ(cmp("tokens", "  7\r\n", "7", msg), 1);
    ASSERT_EQ(cmp("tokens", "", "\n\n", msg), 1);
    ASSERT_EQ(cmp("tokens", "1 2", "1 2 3", msg), 0);
    ASSERT_STR_CONTAINS(msg, "token 3");
    ASSERT_STR_CONTAINS(msg, "end of output");
    ASSERT_EQ(cmp("tokens", "Yes", "yes", msg), 0);
    ASSERT_STR_CONTAINS(msg, "\"Yes\"");
    /* Tokens are compared whole, not as numbers. */
    ASSERT_EQ(cmp("tokens", "1.0", "1", msg), 0);
    return TEST_OK;
}

TEST_IMPL(checker_exact_nocase)
{
    char msg[256];
    ASSERT_EQ(cmp("exact", "a b\n", "a b\n", msg), 1);
    ASSERT_EQ(cmp("exact", "a b", "a b\n", msg), 0);
    ASSERT_STR_CONTAINS(msg, "byte 3");
    ASSERT_EQ(cmp("nocase", "YES\n", "yes", msg), 1);
    ASSERT_EQ(cmp("case-insensitive", "YES NO", "yes yes", msg), 0);
    return TEST_OK;
}

TEST_IMPL(checker_float_tolerances)
{
    char msg[256];
    ASSERT_EQ(cmp("float:1e-6", "3.1415930", "3.14159265", msg), 1);
    ASSERT_EQ(cmp("float:1e-9", "3.1415930", "3.14159265", msg), 0);
    /* Either tolerance suffices: relative for large numbers. */
    ASSERT_EQ(cmp("float:abs=1e-9,rel=1e-6", "1000000.5", "1000000", msg), 1);
    ASSERT_EQ(cmp("float:abs=1e-9", "1000000.5", "1000000", msg), 0);
    /* Non-numbers compare as text; nan and hex floats are not numbers. */
    ASSERT_EQ(cmp("float:1e-6", "x 1.0000001", "x 1", msg), 1);
    ASSERT_EQ(cmp("float:1e-6", "nan", "nan", msg), 1);
    ASSERT_EQ(cmp("float:1", "nan", "1", msg), 0);
    ASSERT_EQ(cmp("float:1", "0x10", "16", msg), 0);
    return TEST_OK;
}

TEST_IMPL(checker_parse_errors)
{
    struct vd_checker c;
    struct vd_errbuf eb = {""};
    ASSERT_ERR(vd_checker_parse("float:", &c, &eb), VD_EINVAL);
    ASSERT_ERR(vd_checker_parse("float:-1", &c, &eb), VD_EINVAL);
    ASSERT_ERR(vd_checker_parse("float:abs=x", &c, &eb), VD_EINVAL);
    ASSERT_ERR(vd_checker_parse("/no/such/checker", &c, &eb), VD_EINVAL);
    ASSERT_OK(vd_checker_parse("/bin/true", &c, &eb));
    ASSERT_EQ(c.kind, VD_CHECK_PROGRAM);
    ASSERT_STR_EQ(vd_verdict_name(VD_VERDICT_WA), "WA");
    return TEST_OK;
}
