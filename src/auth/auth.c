/*
 * auth.c - key secrets, request signatures, JWTs, passwords and CIDR lists
 * (include/vd/auth.h).
 *
 * Theory of operation. HMAC-SHA256 and SHA-256 come from OpenSSL's
 * libcrypto; argon2id, base64url, constant-time comparison and random bytes
 * from libsodium. Every derived secret is HMAC-SHA256(master, label) with a
 * versioned label ("verdict key v1:<id>", "verdict jwt v1"), so a later
 * scheme can change a label without colliding with an old one.
 *
 * JWTs are HS256 only. The header is checked for alg HS256 (a token with
 * alg "none" or anything else is refused before any signature is looked
 * at), the signature is compared in constant time, and the claims must
 * name a typ: an access token is not a refresh token, and a refresh token
 * is refused where an access token is wanted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vd/alloc.h"
#include "vd/auth.h"
#include "vd/buf.h"

#define KEY_LABEL "verdict key v1:"
#define JWT_LABEL "verdict jwt v1"
#define JWT_MAX 4096

int vd_auth_init(void)
{
    return sodium_init() < 0 ? VD_EINVAL : 0;
}

/* ---- primitives ------------------------------------------------------------- */

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static void hmac_raw(const void *key, size_t keylen, const void *data, size_t len,
                     unsigned char out[32])
{
    unsigned int n = 32;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n))
        vd_assert_fail("HMAC-SHA256", __FILE__, __LINE__); /* only out of memory */
}

void vd_auth_hmac_hex(const void *key, size_t keylen, const void *data, size_t len,
                      char out[VD_AUTH_HEX_LEN + 1])
{
    unsigned char mac[32];
    hmac_raw(key, keylen, data, len, mac);
    to_hex(mac, sizeof(mac), out);
}

void vd_auth_sha256_hex(const void *data, size_t len, char out[VD_AUTH_HEX_LEN + 1])
{
    unsigned char md[32];
    unsigned int n = 32;
    if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
        vd_assert_fail("SHA-256", __FILE__, __LINE__);
    to_hex(md, sizeof(md), out);
}

int vd_auth_equal(const void *a, const void *b, size_t n)
{
    return sodium_memcmp(a, b, n) == 0;
}

void vd_auth_random_hex(char *out, size_t n)
{
    unsigned char b[64];
    while (n) {
        size_t k = n < sizeof(b) ? n : sizeof(b);
        randombytes_buf(b, k);
        to_hex(b, k, out);
        out += 2 * k;
        n -= k;
    }
}

/* ---- keys ----------------------------------------------------------------- */

void vd_auth_new_key_id(char id[19])
{
    id[0] = 'v';
    id[1] = 'k';
    vd_auth_random_hex(id + 2, 8);
}

void vd_auth_key_secret(const void *master, size_t mlen, const char *id,
                        char out[VD_AUTH_KEY_SECRET_LEN + 1])
{
    char label[64];
    unsigned char mac[32];
    int n = snprintf(label, sizeof(label), KEY_LABEL "%s", id);
    hmac_raw(master, mlen, label, (size_t)n, mac);
    /* "vk_" + the id's 16 hex + "_" + 43 base64url characters. */
    snprintf(out, VD_AUTH_KEY_SECRET_LEN + 1, "vk_%.16s_", id + 2);
    sodium_bin2base64(out + 20, VD_AUTH_KEY_SECRET_LEN + 1 - 20, mac, sizeof(mac),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int vd_auth_key_id_of(const char *secret, char id[19])
{
    if (strlen(secret) != VD_AUTH_KEY_SECRET_LEN || strncmp(secret, "vk_", 3) != 0 ||
        secret[19] != '_')
        return VD_EINVAL;
    for (int i = 3; i < 19; i++)
        if (!strchr("0123456789abcdef", secret[i]))
            return VD_EINVAL;
    snprintf(id, 19, "vk%.16s", secret + 3);
    return 0;
}

int vd_auth_canonical(const char *timestamp, const char *method, const char *target,
                      const char *body, size_t body_len, struct vd_buf *out)
{
    int rc;
    if ((rc = vd_buf_printf(out, "%s\n%s\n%s\n", timestamp, method, target)) < 0)
        return rc;
    return vd_buf_add(out, body ? body : "", body_len);
}

/* ---- passwords ------------------------------------------------------------ */

int vd_auth_password_hash(const char *password, char out[129])
{
    _Static_assert(crypto_pwhash_STRBYTES == 128, "argon2id string size");
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return -ENOMEM;
    return 0;
}

int vd_auth_password_check(const char *password, const char *hash)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

/* ---- JWT -------------------------------------------------------------------- */

static void jwt_key(const void *master, size_t mlen, unsigned char key[32])
{
    hmac_raw(master, mlen, JWT_LABEL, sizeof(JWT_LABEL) - 1, key);
}

static int b64url(const void *bin, size_t n, struct vd_buf *out)
{
    char tmp[JWT_MAX];
    if (sodium_base64_encoded_len(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > sizeof(tmp))
        return VD_ETOOBIG;
    sodium_bin2base64(tmp, sizeof(tmp), bin, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return vd_buf_adds(out, tmp);
}

int vd_auth_jwt_sign(const void *master, size_t mlen, const struct vd_auth_claims *c, char **out)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    unsigned char key[32], mac[32];
    struct vd_buf b;
    char *payload = NULL;
    int rc;

    *out = NULL;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "sub", c->sub, "role", c->role, "tier", c->tier,
                  "typ", c->typ, "iat", (json_int_t)c->iat, "exp", (json_int_t)c->exp);
    payload = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!payload)
        return -ENOMEM;
    vd_buf_init(&b, JWT_MAX);
    if ((rc = b64url(header, sizeof(header) - 1, &b)) < 0 || (rc = vd_buf_adds(&b, ".")) < 0 ||
        (rc = b64url(payload, strlen(payload), &b)) < 0)
        goto out;
    jwt_key(master, mlen, key);
    hmac_raw(key, sizeof(key), b.data, b.len, mac);
    if ((rc = vd_buf_adds(&b, ".")) < 0 || (rc = b64url(mac, sizeof(mac), &b)) < 0)
        goto out;
    *out = vd_buf_take(&b, NULL);
out:
    sodium_memzero(key, sizeof(key));
    vd_free(payload);
    vd_buf_free(&b);
    return rc;
}

/* Decodes one base64url part into out (at most cap bytes); -1 when bad. */
static long unb64(const char *s, size_t n, unsigned char *out, size_t cap)
{
    size_t len = 0;
    if (sodium_base642bin(out, cap, s, n, NULL, &len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
        return -1;
    return (long)len;
}

static int copy_claim(json_t *o, const char *k, char *dst, size_t cap)
{
    const char *v = json_string_value(json_object_get(o, k));
    if (!v || strlen(v) >= cap)
        return -1;
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

enum vd_auth_reason vd_auth_jwt_verify(const void *master, size_t mlen, const char *token,
                                       int64_t now, struct vd_auth_claims *c)
{
    unsigned char key[32], mac[32], sig[64], buf[JWT_MAX];
    enum vd_auth_reason why = VD_AUTH_BAD_TOKEN;
    json_t *h = NULL, *p = NULL;

    memset(c, 0, sizeof(*c));
    size_t len = strlen(token);
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (len > JWT_MAX || !d1 || !d2 || strchr(d2 + 1, '.'))
        goto out;
    /* The header first: only HS256, never "none". */
    long n = unb64(token, (size_t)(d1 - token), buf, sizeof(buf) - 1);
    if (n < 0 || !(h = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL)) ||
        !json_is_string(json_object_get(h, "alg")) ||
        strcmp(json_string_value(json_object_get(h, "alg")), "HS256") != 0)
        goto out;
    long sn = unb64(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
    if (sn != 32)
        goto out;
    jwt_key(master, mlen, key);
    hmac_raw(key, sizeof(key), token, (size_t)(d2 - token), mac);
    sodium_memzero(key, sizeof(key));
    if (!vd_auth_equal(mac, sig, sizeof(mac)))
        goto out;
    n = unb64(d1 + 1, (size_t)(d2 - d1 - 1), buf, sizeof(buf) - 1);
    if (n < 0 || !(p = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL)) ||
        copy_claim(p, "sub", c->sub, sizeof(c->sub)) < 0 ||
        copy_claim(p, "role", c->role, sizeof(c->role)) < 0 ||
        copy_claim(p, "tier", c->tier, sizeof(c->tier)) < 0 ||
        copy_claim(p, "typ", c->typ, sizeof(c->typ)) < 0 ||
        !json_is_integer(json_object_get(p, "exp")) || !json_is_integer(json_object_get(p, "iat")))
        goto out;
    c->iat = json_integer_value(json_object_get(p, "iat"));
    c->exp = json_integer_value(json_object_get(p, "exp"));
    why = now >= c->exp ? VD_AUTH_TOKEN_EXPIRED : VD_AUTH_OK;
out:
    json_decref(h);
    json_decref(p);
    if (why != VD_AUTH_OK && why != VD_AUTH_TOKEN_EXPIRED)
        memset(c, 0, sizeof(*c));
    return why;
}

/* ---- CIDR lists ---------------------------------------------------------------- */

struct net {
    int family;
    unsigned char addr[16];
    int bits;
};

/* One entry "addr" or "addr/bits"; -1 when malformed. */
static int parse_net(const char *s, size_t n, struct net *out)
{
    char tmp[64];
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *slash = strchr(tmp, '/');
    long bits = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        /* Bounded before any cast: "/33333333331" must not wrap to a small
         * or negative int (found by fuzz_token). */
        if (!slash[1] || *end || bits < 0 || bits > 128)
            return -1;
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, tmp, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = bits < 0 ? 32 : (int)bits;
        return out->bits <= 32 ? 0 : -1;
    }
    if (inet_pton(AF_INET6, tmp, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = bits < 0 ? 128 : (int)bits;
        return out->bits <= 128 ? 0 : -1;
    }
    return -1;
}

static int in_net(const struct net *a, const struct net *net)
{
    if (a->family != net->family)
        return 0;
    int full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(a->addr, net->addr, (size_t)full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a->addr[full] & mask) == (net->addr[full] & mask);
}

int vd_auth_cidrs_check(const char *list, struct vd_errbuf *eb)
{
    const char *p = list;
    struct net n;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (parse_net(p, len, &n) < 0)
            return vd_errf(eb, VD_EINVAL, "\"%.*s\" is not an address or CIDR block",
                           (int)(len > 60 ? 60 : len), p);
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

int vd_auth_cidrs_match(const char *list, const char *addr)
{
    struct net a, net;
    if (!list || !*list)
        return 1;
    if (!addr || parse_net(addr, strlen(addr), &a) < 0)
        return 0;
    /* ::ffff:10.1.2.3 is 10.1.2.3. */
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a.family == AF_INET6 && memcmp(a.addr, mapped, 12) == 0) {
        memmove(a.addr, a.addr + 12, 4);
        memset(a.addr + 4, 0, 12);
        a.family = AF_INET;
    }
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (parse_net(p, len, &net) == 0 && in_net(&a, &net))
            return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}
