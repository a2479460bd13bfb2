/*
 * fuzz_view.c - the API's view of a stored submission whose request and
 * result texts are arbitrary bytes (a damaged or hand-edited database):
 * it must give a view or NULL, never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vd/alloc.h"
#include "vd/api.h"
#include "vd/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vd_submission s;
    struct vd_buf b;
    if (size < 2 || size > 65536)
        return 0;
    /* The first byte splits the rest into the request and the result. */
    size_t cut = 1 + (size_t)data[0] * (size - 1) / 255;
    char *req = vd_try_malloc(cut), *res = vd_try_malloc(size - cut + 1);
    if (!req || !res)
        abort();
    memcpy(req, data + 1, cut - 1);
    req[cut - 1] = '\0';
    memcpy(res, data + cut, size - cut);
    res[size - cut] = '\0';
    memset(&s, 0, sizeof(s));
    memcpy(s.id, "01900000-0000-7000-8000-000000000001", VD_ID_LEN + 1);
    memcpy(s.lang, "c", 2);
    s.request = req;
    s.result = res;
    s.status = (enum vd_sub_status)(data[0] % 5);
    s.created_ms = (int64_t)data[0] << 30;
    for (unsigned flags = 0; flags < 4; flags++) {
        vd_buf_init(&b, 1 << 20);
        (void)!vd_api_submission_json(&s, flags, &b);
        vd_buf_free(&b);
    }
    vd_free(req);
    vd_free(res);
    return 0;
}
