/*
 * fuzz_request.c - the submission request decoder on arbitrary bytes: it
 * must accept or refuse with a status and a field, never crash or leak;
 * an accepted request's canonical form must parse back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vd/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vd_langs *langs;

static void setup(void)
{
    char dir[] = "/tmp/vd-fuzz-langs-XXXXXX", path[256];
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof(path), "%s/py.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"id\":\"python\",\"name\":\"P\",\"aliases\":[\"py\"],\"source\":\"a.py\",\"run\":["
          "\"sh\"],"
          "\"version\":{\"command\":[\"sh\",\"-c\",\"echo 1\"]}}",
          f);
    fclose(f);
    struct vd_errbuf eb = {""};
    if (vd_langs_load(dir, &langs, &eb) < 0)
        abort();
    vd_langs_probe(langs, NULL, 10000);
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct vd_api_caps caps = {4096, 8192, 20};
    struct vd_api_request r, r2;
    struct vd_api_error e;
    if (!langs)
        setup();
    if (vd_api_request_parse((const char *)data, size, langs, &caps, &r, &e) < 0) {
        if (e.status < 400 || e.status > 499 || !e.message[0])
            abort();
        return 0;
    }
    struct vd_buf b;
    vd_buf_init(&b, 1 << 22);
    if (vd_api_request_json(&r, &b) < 0 ||
        vd_api_request_parse(vd_buf_str(&b), b.len, langs, &caps, &r2, &e) < 0)
        abort();
    if (r2.source_len != r.source_len || r2.ntests != r.ntests ||
        memcmp(r2.source, r.source, r.source_len))
        abort();
    vd_api_request_free(&r2);
    vd_api_request_free(&r);
    vd_buf_free(&b);
    return 0;
}
