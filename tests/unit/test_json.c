/*
 * test_json.c - src/common/json.c: any bytes make a valid JSON string.
 */
#include "harness.h"
#include "vd/json.h"

TEST_IMPL(json_lossy_keeps_valid_replaces_invalid)
{
    struct vd_buf b;
    vd_buf_init(&b, 1024);
    json_t *s = vd_json_string_lossy("h\xc3\xa9\xff\xe2\x82"
                                     "a\0z",
                                     9);
    ASSERT_NOT_NULL(s);
    ASSERT_OK(vd_json_dump(s, &b));
    /* é kept, 0xff and the cut sequence each become U+FFFD, NUL escaped. */
    ASSERT_STR_EQ(vd_buf_str(&b), "\"h\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                                  "a\\u0000z\"");
    json_decref(s);
    /* Overlong and surrogate forms are invalid too. */
    s = vd_json_string_lossy("\xc0\xaf\xed\xa0\x80", 5);
    ASSERT_NOT_NULL(s);
    ASSERT_UINT_EQ(json_string_length(s), 15);
    json_decref(s);
    vd_buf_free(&b);
    return TEST_OK;
}
