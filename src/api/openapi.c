/*
 * openapi.c - docs/openapi.json, compiled into the binary for
 * GET /openapi.json, so the document served is always the one the binary
 * was built with and nothing has to be installed beside it.
 *
 * The assembler's .incbin reads the file at build time (the Makefile makes
 * this object depend on it); a NUL follows it so that it is also a C
 * string. vd__api_openapi_end points at that NUL.
 */
__asm__(".section .rodata\n"
        ".global vd__api_openapi\n"
        ".type vd__api_openapi, @object\n"
        ".balign 16\n"
        "vd__api_openapi:\n"
        ".incbin \"docs/openapi.json\"\n"
        ".global vd__api_openapi_end\n"
        ".type vd__api_openapi_end, @object\n"
        "vd__api_openapi_end:\n"
        ".byte 0\n"
        ".previous\n");
