/*
 * fuzz_token.c - what arrives in Authorization and the allow-lists:
 * arbitrary bytes as a JWT (it must be refused, never accepted without the
 * key, never crash), as a key secret, and as a CIDR list and an address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vd/alloc.h"
#include "vd/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char master[] = "fuzzing master secret, 32 bytes!";
    static int ready;
    struct vd_auth_claims c;
    struct vd_errbuf eb = {""};
    char id[19];
    if (!ready) {
        if (vd_auth_init() < 0)
            abort();
        ready = 1;
    }
    if (size > 8192)
        return 0;
    char *s = vd_xmalloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    /* Without the master secret nobody can forge a token: any input the
     * fuzzer makes up must be refused. */
    if (vd_auth_jwt_verify(master, sizeof(master) - 1, s, 0, &c) == VD_AUTH_OK)
        abort();
    if (vd_auth_key_id_of(s, id) == 0 && (strlen(id) != 18 || strncmp(id, "vk", 2) != 0))
        abort();
    if (vd_auth_cidrs_check(s, &eb) == 0)
        (void)vd_auth_cidrs_match(s, "10.1.2.3");
    (void)vd_auth_cidrs_match("10.0.0.0/8,::1", s);
    vd_free(s);
    return 0;
}
