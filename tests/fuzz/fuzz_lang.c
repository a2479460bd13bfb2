/*
 * fuzz_lang.c - the language-file parser on arbitrary bytes: it must
 * accept or refuse with a message, never crash, leak or read out of bounds;
 * an accepted language must survive command expansion.
 */
#include <stdint.h>
#include <stddef.h>

#include "vd/alloc.h"
#include "vd/lang.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vd_lang *l = NULL;
    struct vd_errbuf eb = {""};
    if (vd_lang_parse((const char *)data, size, "fuzz.json", &l, &eb) == 0) {
        char **argv = NULL;
        if (vd_lang_expand(l->run, l, 256 * 1024, &argv) == 0)
            vd_free(argv);
        vd_lang_free(l);
    }
    return 0;
}
