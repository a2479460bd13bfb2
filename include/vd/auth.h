/*
 * auth.h - who is calling: key secrets, request signatures, JWTs,
 * passwords, CIDR allow-lists, replay protection and rate limits.
 *
 * A leaf module: it computes and checks, it stores nothing and logs
 * nothing. The API joins it to the store (keys, users) and to requests.
 *
 * Secrets. One master secret (the api_secret setting, or a generated file)
 * is the root of every other one, each derived as HMAC-SHA256(master,
 * label): a key's secret from its id, the JWT signing key, the default
 * webhook secret. So nothing secret is stored with the data: a copy of the
 * database gives no key, and a key's secret can be given again by whoever
 * holds the master (`verdict admin`), never by the API, which shows it once.
 *
 * Errors: 0 or a negative VD_E* code; checks return VD_EAUTH with a reason
 * code (struct vd_auth_fail) the API answers with. Comparisons of secrets
 * are constant-time (libsodium's sodium_memcmp).
 */
#ifndef VD_AUTH_H
#define VD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "vd/err.h"

#define VD_AUTH_MASTER_MIN 16     /* bytes of master secret, at the least */
#define VD_AUTH_KEY_SECRET_LEN 63 /* "vk_" 16 hex "_" 43 base64url */
#define VD_AUTH_HEX_LEN 64        /* a SHA-256 in hex */

int vd_auth_init(void) VD_MUST_CHECK; /* libsodium's; once, before threads */

/* ---- primitives ---------------------------------------------------------- */

/* HMAC-SHA256 of data with key, as 64 lowercase hex digits. */
void vd_auth_hmac_hex(const void *key, size_t keylen, const void *data, size_t len,
                      char out[VD_AUTH_HEX_LEN + 1]);
void vd_auth_sha256_hex(const void *data, size_t len, char out[VD_AUTH_HEX_LEN + 1]);
/* 1 when a and b hold the same n bytes, in time that does not depend on
 * where they differ. */
int vd_auth_equal(const void *a, const void *b, size_t n);
/* n random bytes as 2n lowercase hex digits. */
void vd_auth_random_hex(char *out, size_t n);

/* ---- API keys ---------------------------------------------------------------- */

/* A new key id: "vk" and 16 random hex digits. */
void vd_auth_new_key_id(char id[19]);
/* The secret of key id: "vk_<16 hex>_<43 base64url>", derived from the
 * master secret. */
void vd_auth_key_secret(const void *master, size_t mlen, const char *id,
                        char out[VD_AUTH_KEY_SECRET_LEN + 1]);
/* The key id a secret names ("vk" + its 16 hex), or VD_EINVAL when the text
 * is not shaped like a key secret. */
int vd_auth_key_id_of(const char *secret, char id[19]) VD_MUST_CHECK;

/* The text a signed request's X-Api-Signature covers:
 * TIMESTAMP "\n" METHOD "\n" TARGET "\n" BODY. Appended to out (cap it). */
struct vd_buf;
int vd_auth_canonical(const char *timestamp, const char *method, const char *target,
                      const char *body, size_t body_len, struct vd_buf *out) VD_MUST_CHECK;

/* ---- users: passwords and tokens ------------------------------------------ */

/* argon2id (libsodium, interactive limits) into out (128 bytes with the
 * NUL). -ENOMEM when the hash could not be computed. */
int vd_auth_password_hash(const char *password, char out[129]) VD_MUST_CHECK;
/* 1 when password matches the stored hash. */
int vd_auth_password_check(const char *password, const char *hash);

struct vd_auth_claims {
    char sub[64]; /* user id */
    char role[8]; /* "user", "admin" */
    char tier[33];
    char typ[8];      /* "access" or "refresh" */
    int64_t iat, exp; /* Unix seconds */
};

/* A signed HS256 JWT of claims, with the key derived from master; *out is
 * the caller's (vd_free). */
int vd_auth_jwt_sign(const void *master, size_t mlen, const struct vd_auth_claims *c, char **out)
    VD_MUST_CHECK;

enum vd_auth_reason {
    VD_AUTH_OK = 0,
    VD_AUTH_BAD_TOKEN,     /* malformed, wrong alg, bad signature, wrong typ */
    VD_AUTH_TOKEN_EXPIRED, /* signed right, but past exp */
};
/* Checks token at time now (Unix seconds) and fills *c. Returns VD_AUTH_OK
 * or the reason it was refused. */
enum vd_auth_reason vd_auth_jwt_verify(const void *master, size_t mlen, const char *token,
                                       int64_t now, struct vd_auth_claims *c);

/* ---- CIDR allow-lists --------------------------------------------------------- */

/* Checks "10.0.0.0/8, 2001:db8::/32, 127.0.0.1" (a bare address is /32 or
 * /128). 0, or VD_EINVAL with the bad entry named in eb. */
int vd_auth_cidrs_check(const char *list, struct vd_errbuf *eb) VD_MUST_CHECK;
/* 1 when addr (text, v4 or v6; a v4-mapped v6 counts as its v4) is in the
 * list, or the list is empty; 0 otherwise (and for a malformed addr). */
int vd_auth_cidrs_match(const char *list, const char *addr);

/* ---- replay protection and rate limits (limits.c) -------------------------- */

/* Remembers signatures until they expire; thread-safe. */
struct vd_auth_replay;
struct vd_auth_replay *vd_auth_replay_new(size_t max_entries);
void vd_auth_replay_free(struct vd_auth_replay *r);
/* 0 the first time sig is seen (remembered until expires_ms), VD_EAUTH when
 * it is a replay, VD_ETOOBIG when full of live entries. */
int vd_auth_replay_check(struct vd_auth_replay *r, const char *sig, int64_t now_ms,
                         int64_t expires_ms) VD_MUST_CHECK;

/* A rate tier: tokens per second, bucket size, live submissions at once
 * (0 for no limit). */
struct vd_auth_tier {
    char name[33];
    double rate;
    double burst;
    uint32_t active;
};
#define VD_AUTH_TIERS_MAX 16
/* Parses "basic=5/20/8,pro=50/200/64,unlimited=0/0/0" into tiers (*n of
 * them). VD_EINVAL with a sentence in eb. */
int vd_auth_tiers_parse(const char *text, struct vd_auth_tier *tiers, size_t *n,
                        struct vd_errbuf *eb) VD_MUST_CHECK;

/* Token buckets by principal; thread-safe. */
struct vd_auth_limiter;
struct vd_auth_limiter *vd_auth_limiter_new(size_t max_entries);
void vd_auth_limiter_free(struct vd_auth_limiter *l);

struct vd_auth_take {
    int allowed;
    double remaining;     /* tokens left after this take */
    double reset_s;       /* seconds until one more token */
    double retry_after_s; /* when refused: until enough tokens */
};
/* Takes cost tokens from who's bucket under tier t at now_ms (a tier with
 * rate 0 never limits). */
void vd_auth_limiter_take(struct vd_auth_limiter *l, const char *who, const struct vd_auth_tier *t,
                          double cost, int64_t now_ms, struct vd_auth_take *out);

#endif /* VD_AUTH_H */
