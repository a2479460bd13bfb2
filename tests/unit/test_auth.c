/*
 * test_auth.c - src/auth/auth.c: HMAC against RFC 4231, key secrets and
 * their ids, the signed request's canonical text, argon2id passwords, JWTs
 * (tampered, alg none, expired, another master, garbage), CIDR lists.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "vd/alloc.h"
#include "vd/auth.h"
#include "vd/buf.h"

static const char master[] = "0123456789abcdef0123456789abcdef";

TEST_IMPL(auth_hmac_and_key_secrets)
{
    char hex[VD_AUTH_HEX_LEN + 1];
    ASSERT_OK(vd_auth_init());
    /* RFC 4231, test case 2. */
    vd_auth_hmac_hex("Jefe", 4, "what do ya want for nothing?", 28, hex);
    ASSERT_STR_EQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    vd_auth_sha256_hex("abc", 3, hex);
    ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

    char id[19], id2[19], back[19], sec[VD_AUTH_KEY_SECRET_LEN + 1],
        sec2[VD_AUTH_KEY_SECRET_LEN + 1];
    vd_auth_new_key_id(id);
    vd_auth_new_key_id(id2);
    ASSERT_UINT_EQ(strlen(id), 18);
    ASSERT(strncmp(id, "vk", 2) == 0);
    ASSERT_STR_NE(id, id2);
    vd_auth_key_secret(master, sizeof(master) - 1, id, sec);
    ASSERT_UINT_EQ(strlen(sec), VD_AUTH_KEY_SECRET_LEN);
    ASSERT_OK(vd_auth_key_id_of(sec, back));
    ASSERT_STR_EQ(back, id);
    /* The same id and master give the same secret; anything else another. */
    vd_auth_key_secret(master, sizeof(master) - 1, id, sec2);
    ASSERT_STR_EQ(sec, sec2);
    vd_auth_key_secret(master, sizeof(master) - 1, id2, sec2);
    ASSERT_STR_NE(sec, sec2);
    vd_auth_key_secret("another master, long enough", 27, id, sec2);
    ASSERT_STR_NE(sec, sec2);
    ASSERT_ERR(vd_auth_key_id_of("vk_short", back), VD_EINVAL);
    ASSERT_ERR(vd_auth_key_id_of("eyJhbGciOi.x.y", back), VD_EINVAL);
    sec2[5] = 'Z'; /* not hex */
    memcpy(sec2, "vk_", 3);
    ASSERT_ERR(vd_auth_key_id_of(sec2, back), VD_EINVAL);

    ASSERT(vd_auth_equal("abcd", "abcd", 4));
    ASSERT(!vd_auth_equal("abcd", "abce", 4));

    struct vd_buf b;
    vd_buf_init(&b, 1024);
    ASSERT_OK(
        vd_auth_canonical("1700000000", "POST", "/api/v1/submissions?wait=true", "{}", 2, &b));
    ASSERT_STR_EQ(vd_buf_str(&b), "1700000000\nPOST\n/api/v1/submissions?wait=true\n{}");
    vd_buf_free(&b);
    return TEST_OK;
}

TEST_IMPL(auth_passwords_are_argon2id)
{
    char h[129];
    ASSERT_OK(vd_auth_init());
    ASSERT_OK(vd_auth_password_hash("correct horse", h));
    ASSERT(strncmp(h, "$argon2id$", 10) == 0);
    ASSERT(vd_auth_password_check("correct horse", h));
    ASSERT(!vd_auth_password_check("correct horsf", h));
    ASSERT(!vd_auth_password_check("", h));
    char h2[129];
    ASSERT_OK(vd_auth_password_hash("correct horse", h2));
    ASSERT_STR_NE(h, h2); /* salted */
    return TEST_OK;
}

/* The token with one character of its payload part changed. */
static void tamper(char *tok)
{
    char *d = strchr(tok, '.') + 3;
    *d = *d == 'A' ? 'B' : 'A';
}

TEST_IMPL(auth_jwt_sign_verify_and_refusals)
{
    struct vd_auth_claims c, got;
    char *tok = NULL;
    ASSERT_OK(vd_auth_init());
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "01900000-0000-7000-8000-000000000001");
    snprintf(c.role, sizeof(c.role), "user");
    snprintf(c.tier, sizeof(c.tier), "basic");
    snprintf(c.typ, sizeof(c.typ), "access");
    c.iat = 1000;
    c.exp = 2000;
    ASSERT_OK(vd_auth_jwt_sign(master, sizeof(master) - 1, &c, &tok));
    ASSERT_EQ(vd_auth_jwt_verify(master, sizeof(master) - 1, tok, 1500, &got), VD_AUTH_OK);
    ASSERT_STR_EQ(got.sub, c.sub);
    ASSERT_STR_EQ(got.typ, "access");
    ASSERT_EQ(got.exp, 2000);
    ASSERT_EQ(vd_auth_jwt_verify(master, sizeof(master) - 1, tok, 2000, &got),
              VD_AUTH_TOKEN_EXPIRED);
    ASSERT_EQ(vd_auth_jwt_verify("another master secret!", 22, tok, 1500, &got), VD_AUTH_BAD_TOKEN);
    char *t2 = vd_xstrdup(tok);
    tamper(t2);
    ASSERT_EQ(vd_auth_jwt_verify(master, sizeof(master) - 1, t2, 1500, &got), VD_AUTH_BAD_TOKEN);
    ASSERT_STR_EQ(got.sub, ""); /* nothing of a refused token is kept */
    vd_free(t2);

    /* alg none, with the original payload and no signature. */
    char none[2048];
    const char *dot = strchr(tok, '.');
    const char *dot2 = strchr(dot + 1, '.');
    snprintf(none, sizeof(none), "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0%.*s.", (int)(dot2 - dot),
             dot);
    ASSERT_EQ(vd_auth_jwt_verify(master, sizeof(master) - 1, none, 1500, &got), VD_AUTH_BAD_TOKEN);
    static const char *const junk[] = {"", ".", "..", "a.b.c", "a.b.c.d", "vk_abc", NULL};
    for (int i = 0; junk[i]; i++)
        ASSERT_EQ(vd_auth_jwt_verify(master, sizeof(master) - 1, junk[i], 1500, &got),
                  VD_AUTH_BAD_TOKEN);
    vd_free(tok);
    return TEST_OK;
}

TEST_IMPL(auth_cidr_lists)
{
    struct vd_errbuf eb = {""};
    ASSERT_OK(vd_auth_cidrs_check("", &eb));
    ASSERT_OK(vd_auth_cidrs_check("10.0.0.0/8, 192.168.1.7 ,2001:db8::/32,::1", &eb));
    ASSERT_ERR(vd_auth_cidrs_check("10.0.0.0/33", &eb), VD_EINVAL);
    ASSERT_ERR(vd_auth_cidrs_check("1.0.0.0/33333333331", &eb), VD_EINVAL); /* no wrap */
    ASSERT(!vd_auth_cidrs_match("1.0.0.0/33333333331", "1.0.0.1"));
    ASSERT_ERR(vd_auth_cidrs_check("10.0.0.0/8,,", &eb), VD_EINVAL);
    eb.msg[0] = '\0'; /* vd_errf keeps the first message */
    ASSERT_ERR(vd_auth_cidrs_check("example.org", &eb), VD_EINVAL);
    ASSERT_STR_CONTAINS(eb.msg, "example.org");

    const char *l = "10.0.0.0/8,192.168.1.7,2001:db8::/32,172.16.0.0/12";
    ASSERT(vd_auth_cidrs_match("", "1.2.3.4"));
    ASSERT(vd_auth_cidrs_match(l, "10.200.3.4"));
    ASSERT(vd_auth_cidrs_match(l, "192.168.1.7"));
    ASSERT(!vd_auth_cidrs_match(l, "192.168.1.8"));
    ASSERT(vd_auth_cidrs_match(l, "172.31.255.255"));
    ASSERT(!vd_auth_cidrs_match(l, "172.32.0.0"));
    ASSERT(vd_auth_cidrs_match(l, "2001:db8:1::5"));
    ASSERT(!vd_auth_cidrs_match(l, "2001:db9::1"));
    ASSERT(vd_auth_cidrs_match(l, "::ffff:10.1.2.3")); /* v4-mapped */
    ASSERT(!vd_auth_cidrs_match(l, "127.0.0.1"));
    ASSERT(!vd_auth_cidrs_match(l, "not an address"));
    ASSERT(vd_auth_cidrs_match("0.0.0.0/0", "8.8.8.8"));
    return TEST_OK;
}

TEST_IMPL(auth_replay_cache)
{
    struct vd_auth_replay *r = vd_auth_replay_new(3);
    ASSERT_OK(vd_auth_replay_check(r, "sig-a", 1000, 5000));
    ASSERT_ERR(vd_auth_replay_check(r, "sig-a", 1001, 5000), VD_EAUTH);
    ASSERT_OK(vd_auth_replay_check(r, "sig-b", 1002, 5000));
    ASSERT_OK(vd_auth_replay_check(r, "sig-c", 1003, 5000));
    ASSERT_ERR(vd_auth_replay_check(r, "sig-d", 1004, 5000), VD_ETOOBIG); /* full of live ones */
    /* Out of the window, a signature could not pass the time check: gone. */
    ASSERT_OK(vd_auth_replay_check(r, "sig-a", 5000, 9000));
    ASSERT_ERR(vd_auth_replay_check(r, "sig-a", 5001, 9000), VD_EAUTH);
    vd_auth_replay_free(r);
    return TEST_OK;
}

TEST_IMPL(auth_tiers_and_token_buckets)
{
    struct vd_auth_tier t[VD_AUTH_TIERS_MAX];
    struct vd_errbuf eb = {""};
    size_t n;
    ASSERT_OK(vd_auth_tiers_parse("basic=1/3/2,pro=50/200/64,unlimited=0/0/0", t, &n, &eb));
    ASSERT_UINT_EQ(n, 3);
    ASSERT_STR_EQ(t[0].name, "basic");
    ASSERT(t[0].rate == 1 && t[0].burst == 3 && t[0].active == 2);
    ASSERT_ERR(vd_auth_tiers_parse("basic=1/3", t, &n, &eb), VD_EINVAL);
    ASSERT_ERR(vd_auth_tiers_parse("basic=1/3/2,basic=2/2/2", t, &n, &eb), VD_EINVAL);
    ASSERT_ERR(vd_auth_tiers_parse("=1/3/2", t, &n, &eb), VD_EINVAL);
    ASSERT_ERR(vd_auth_tiers_parse("x=-1/3/2", t, &n, &eb), VD_EINVAL);
    ASSERT_ERR(vd_auth_tiers_parse("", t, &n, &eb), VD_EINVAL);
    ASSERT_OK(vd_auth_tiers_parse("basic=1/3/2,unlimited=0/0/0", t, &n, &eb));

    struct vd_auth_limiter *l = vd_auth_limiter_new(1000);
    struct vd_auth_take tk;
    for (int i = 0; i < 3; i++) {
        vd_auth_limiter_take(l, "key:a", &t[0], 1, 10000, &tk);
        ASSERT(tk.allowed);
    }
    vd_auth_limiter_take(l, "key:a", &t[0], 1, 10000, &tk);
    ASSERT(!tk.allowed);
    ASSERT(tk.retry_after_s > 0.9 && tk.retry_after_s <= 1.0);
    /* Someone else has a bucket of their own. */
    vd_auth_limiter_take(l, "key:b", &t[0], 1, 10000, &tk);
    ASSERT(tk.allowed);
    /* One second later, one token is back. */
    vd_auth_limiter_take(l, "key:a", &t[0], 1, 11000, &tk);
    ASSERT(tk.allowed);
    vd_auth_limiter_take(l, "key:a", &t[0], 1, 11000, &tk);
    ASSERT(!tk.allowed);
    /* More than a bucket's worth at once never passes. */
    vd_auth_limiter_take(l, "key:c", &t[0], 4, 10000, &tk);
    ASSERT(!tk.allowed);
    /* unlimited never refuses. */
    for (int i = 0; i < 100; i++) {
        vd_auth_limiter_take(l, "key:a", &t[1], 1, 11000, &tk);
        ASSERT(tk.allowed);
    }
    vd_auth_limiter_free(l);
    return TEST_OK;
}
