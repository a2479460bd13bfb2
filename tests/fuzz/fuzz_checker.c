/*
 * fuzz_checker.c - the checkers and the lossy JSON string on arbitrary
 * output: the first byte picks the checker, the rest splits into output and
 * answer at its first NUL. A comparison must never crash or read past
 * either buffer, and an output always compares equal to itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vd/json.h"
#include "vd/judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const specs[] = {"tokens", "exact", "nocase", "float:1e-6", "float:abs=0,rel=1e-9"};
    struct vd_checker c;
    struct vd_errbuf eb = {""};
    char msg[256];
    if (size < 1)
        return 0;
    if (vd_checker_parse(specs[data[0] % 5], &c, &eb) != 0)
        abort();
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    const char *nul = memchr(p, '\0', n);
    size_t olen = nul ? (size_t)(nul - p) : n;
    const char *ans = nul ? nul + 1 : "";
    size_t alen = nul ? n - olen - 1 : 0;
    (void)vd_checker_compare(&c, p, olen, ans, alen, msg, sizeof(msg));
    if (c.kind != VD_CHECK_FLOAT && vd_checker_compare(&c, p, olen, p, olen, msg, sizeof(msg)) != 1)
        abort();
    json_t *s = vd_json_string_lossy(p, n);
    if (!s)
        abort();
    json_decref(s);
    return 0;
}
