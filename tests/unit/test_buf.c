/*
 * test_buf.c - src/common/buf.c: appends, the cap, take, capped appends,
 * input in random chunk sizes, and the out-of-memory paths.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "vd/alloc.h"
#include "vd/buf.h"

/* xorshift64*: reproducible "random" chunk sizes; the seed is printed on
 * failure so a failing split can be replayed. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static void fill_pattern(unsigned char *p, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rng_next(&seed) >> 56);
}

TEST_IMPL(buf_starts_empty)
{
    struct vd_buf b;

    vd_buf_init(&b, 100);
    ASSERT_NULL(b.data);
    ASSERT_UINT_EQ(b.len, 0);
    ASSERT_UINT_EQ(b.cap, 100);
    ASSERT_STR_EQ(vd_buf_str(&b), "");
    ASSERT_OK(vd_buf_add(&b, NULL, 0)); /* empty append allocates nothing */
    ASSERT_NULL(b.data);
    vd_buf_free(&b);
    vd_buf_free(&b); /* twice is harmless */
    return TEST_OK;
}

TEST_IMPL(buf_add_keeps_nul)
{
    struct vd_buf b;
    static const char bin[] = {'a', '\0', 'b'};

    vd_buf_init(&b, 1000);
    ASSERT_OK(vd_buf_adds(&b, "hello"));
    ASSERT_OK(vd_buf_add(&b, ", ", 2));
    ASSERT_OK(vd_buf_adds(&b, "world"));
    ASSERT_UINT_EQ(b.len, 12);
    ASSERT_STR_EQ(vd_buf_str(&b), "hello, world");
    ASSERT_EQ(b.data[b.len], '\0');

    /* Binary data with embedded NULs is kept byte for byte. */
    ASSERT_OK(vd_buf_add(&b, bin, sizeof(bin)));
    ASSERT_UINT_EQ(b.len, 15);
    ASSERT_MEM_EQ(b.data + 12, bin, sizeof(bin));
    ASSERT_EQ(b.data[15], '\0');
    vd_buf_free(&b);
    return TEST_OK;
}

TEST_IMPL(buf_cap_exact_fit)
{
    struct vd_buf b;

    vd_buf_init(&b, 10);
    ASSERT_OK(vd_buf_adds(&b, "01234"));
    ASSERT_OK(vd_buf_adds(&b, "56789")); /* exactly the cap */
    ASSERT_UINT_EQ(b.len, 10);
    ASSERT_STR_EQ(vd_buf_str(&b), "0123456789");
    ASSERT_OK(vd_buf_add(&b, "", 0)); /* nothing more is still fine */
    ASSERT_UINT_EQ(b.len, 10);
    vd_buf_free(&b);
    return TEST_OK;
}

TEST_IMPL(buf_cap_hit_frees)
{
    struct vd_buf b;

    vd_buf_init(&b, 10);
    ASSERT_OK(vd_buf_adds(&b, "0123456"));
    ASSERT_ERR(vd_buf_adds(&b, "7890"), VD_ETOOBIG);
    /* Freed and empty: no half result survives. The cap stays. */
    ASSERT_NULL(b.data);
    ASSERT_UINT_EQ(b.len, 0);
    ASSERT_UINT_EQ(b.alloc, 0);
    ASSERT_UINT_EQ(b.cap, 10);
    ASSERT_STR_EQ(vd_buf_str(&b), "");

    /* Still usable afterwards, under the same cap. */
    ASSERT_OK(vd_buf_adds(&b, "again"));
    ASSERT_STR_EQ(vd_buf_str(&b), "again");
    ASSERT_ERR(vd_buf_add(&b, "x", SIZE_MAX), VD_ETOOBIG); /* no wrap-around */
    ASSERT_NULL(b.data);
    vd_buf_free(&b);
    return TEST_OK;
}

TEST_IMPL(buf_alloc_bounded_by_cap)
{
    struct vd_buf b;
    char chunk[7];

    memset(chunk, 'z', sizeof(chunk));
    vd_buf_init(&b, 100);
    while (b.len + sizeof(chunk) <= b.cap)
        ASSERT_OK(vd_buf_add(&b, chunk, sizeof(chunk)));
    ASSERT_UINT_EQ(b.len, 98);
    /* Doubling stopped at cap + 1: nothing the cap forbids is reserved. */
    ASSERT_UINT_LE(b.alloc, b.cap + 1);
    ASSERT_OK(vd_buf_add(&b, chunk, 2));
    ASSERT_UINT_EQ(b.alloc, b.cap + 1);
    vd_buf_free(&b);
    return TEST_OK;
}

TEST_IMPL(buf_printf)
{
    struct vd_buf b;

    vd_buf_init(&b, 4096);
    ASSERT_OK(vd_buf_printf(&b, "%s=%d", "exit", 3));
    ASSERT_OK(vd_buf_printf(&b, " %s=%.1f", "cpu", 0.25));
    ASSERT_OK(vd_buf_printf(&b, "%s", ""));
    ASSERT_STR_EQ(vd_buf_str(&b), "exit=3 cpu=0.2");
    /* Longer than the spare room: takes the second, growing path. */
    ASSERT_OK(vd_buf_printf(&b, " %0200d", 7));
    ASSERT_UINT_EQ(b.len, 14 + 201);
    ASSERT_EQ(b.data[b.len - 1], '7');
    ASSERT_EQ(b.data[b.len - 2], '0');
    ASSERT_EQ(b.data[b.len], '\0');
    vd_buf_free(&b);
    return TEST_OK;
}

TEST_IMPL(buf_printf_cap_hit_frees)
{
    struct vd_buf b;

    vd_buf_init(&b, 16);
    ASSERT_OK(vd_buf_printf(&b, "%d", 1234567890));
    ASSERT_ERR(vd_buf_printf(&b, "%d", 1234567), VD_ETOOBIG);
    ASSERT_NULL(b.data);
    ASSERT_UINT_EQ(b.len, 0);

    /* Same with spare room allocated: the one-pass attempt must not let
     * text past the cap through. */
    ASSERT_OK(vd_buf_printf(&b, "%s", "abcdefghij"));
    ASSERT_ERR(vd_buf_printf(&b, "%s", "klmnopq"), VD_ETOOBIG);
    ASSERT_NULL(b.data);
    ASSERT_OK(vd_buf_printf(&b, "%s", "0123456789abcdef"));
    ASSERT_UINT_EQ(b.len, 16);
    vd_buf_free(&b);
    return TEST_OK;
}

TEST_IMPL(buf_reset_keeps_memory)
{
    struct vd_buf b;
    char *before;
    size_t alloc;

    vd_buf_init(&b, 1000);
    ASSERT_OK(vd_buf_adds(&b, "some text to keep memory for"));
    before = b.data;
    alloc = b.alloc;
    vd_buf_reset(&b);
    ASSERT_UINT_EQ(b.len, 0);
    ASSERT_PTR_EQ(b.data, before);
    ASSERT_UINT_EQ(b.alloc, alloc);
    ASSERT_STR_EQ(vd_buf_str(&b), "");
    ASSERT_OK(vd_buf_adds(&b, "new"));
    ASSERT_STR_EQ(vd_buf_str(&b), "new");
    vd_buf_free(&b);
    return TEST_OK;
}

TEST_IMPL(buf_take)
{
    struct vd_buf b;
    size_t len = 0;
    char *s;

    vd_buf_init(&b, 64);
    ASSERT_OK(vd_buf_adds(&b, "owned"));
    s = vd_buf_take(&b, &len);
    ASSERT_STR_EQ(s, "owned");
    ASSERT_UINT_EQ(len, 5);
    ASSERT_NULL(b.data);
    ASSERT_UINT_EQ(b.len, 0);
    ASSERT_UINT_EQ(b.cap, 64);
    vd_free(s);

    ASSERT_OK(vd_buf_adds(&b, "x"));
    s = vd_buf_take(&b, NULL);
    ASSERT_STR_EQ(s, "x");
    vd_free(s);
    return TEST_OK;
}

TEST_IMPL(buf_take_empty)
{
    struct vd_buf b;
    size_t len = 99;
    char *s;

    vd_buf_init(&b, 64);
    s = vd_buf_take(&b, &len);
    ASSERT_NOT_NULL(s);
    ASSERT_STR_EQ(s, "");
    ASSERT_UINT_EQ(len, 0);
    vd_free(s);

    /* Out of memory while making the "" : NULL, buffer unchanged. */
    vd_alloc_fail_after(1);
    s = vd_buf_take(&b, &len);
    ASSERT_NULL(s);
    ASSERT_NULL(b.data);
    return TEST_OK;
}

TEST_IMPL(buf_add_capped)
{
    struct vd_buf b;

    vd_buf_init(&b, 8);
    ASSERT_EQ(vd_buf_add_capped(&b, "abc", 3), 0);
    ASSERT_EQ(vd_buf_add_capped(&b, "defghij", 7), 2); /* 5 fit, 2 dropped */
    ASSERT_UINT_EQ(b.len, 8);
    ASSERT_STR_EQ(vd_buf_str(&b), "abcdefgh");
    /* Full: everything is dropped, the kept prefix stays. */
    ASSERT_EQ(vd_buf_add_capped(&b, "klm", 3), 3);
    ASSERT_STR_EQ(vd_buf_str(&b), "abcdefgh");
    ASSERT_EQ(vd_buf_add_capped(&b, NULL, 0), 0);
    /* The ordinary add on a full buffer still refuses and frees. */
    ASSERT_ERR(vd_buf_add(&b, "z", 1), VD_ETOOBIG);
    ASSERT_NULL(b.data);

    ASSERT_EQ(vd_buf_add_capped(&b, "0123456789", 10), 2);
    ASSERT_STR_EQ(vd_buf_str(&b), "01234567");

    /* Out of memory is an error, not a count. */
    vd_buf_free(&b);
    vd_alloc_fail_after(1);
    ASSERT_ERR(vd_buf_add_capped(&b, "abc", 3), -ENOMEM);
    ASSERT_NULL(b.data);
    return TEST_OK;
}

/* Feeds len bytes of pattern in random chunk sizes (0..max_chunk). */
static int feed_random(struct vd_buf *b, const unsigned char *src, size_t len, uint64_t seed,
                       size_t max_chunk)
{
    size_t off = 0;
    int rc;

    while (off < len) {
        size_t n = (size_t)(rng_next(&seed) % (max_chunk + 1));

        if (n > len - off)
            n = len - off;
        rc = vd_buf_add(b, src + off, n);
        if (rc < 0)
            return rc;
        off += n;
    }
    return 0;
}

TEST_IMPL(buf_random_chunks)
{
    static unsigned char src[20000];
    static const uint64_t seeds[] = {1, 42, 0x9E3779B97F4A7C15ULL, 123456789, 987654321};
    static const size_t maxes[] = {1, 3, 17, 255, 4096};

    fill_pattern(src, sizeof(src), 7);
    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
            struct vd_buf b;
            int rc;

            vd_buf_init(&b, sizeof(src));
            rc = feed_random(&b, src, sizeof(src), seeds[s], maxes[m]);
            if (rc != 0 || b.len != sizeof(src) || memcmp(b.data, src, sizeof(src)) != 0 ||
                b.data[b.len] != '\0')
                FAIL("seed %llu, chunks up to %zu: rc %d, len %zu", (unsigned long long)seeds[s],
                     maxes[m], rc, b.len);
            /* The next byte passes the cap, whatever the split was. */
            ASSERT_ERR(vd_buf_add(&b, "+", 1), VD_ETOOBIG);
            ASSERT_NULL(b.data);
            vd_buf_free(&b);
        }
    }
    return TEST_OK;
}

TEST_IMPL(buf_random_chunks_capped)
{
    static unsigned char src[10000];
    static const size_t caps[] = {1, 100, 4095, 4096, 9999, 10000, 20000};

    fill_pattern(src, sizeof(src), 11);
    for (uint64_t seed = 1; seed <= 20; seed++) {
        for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
            struct vd_buf b;
            uint64_t st = seed * 2654435761u;
            size_t off = 0, dropped = 0, kept;

            vd_buf_init(&b, caps[c]);
            while (off < sizeof(src)) {
                size_t n = (size_t)(rng_next(&st) % 700);
                long r;

                if (n > sizeof(src) - off)
                    n = sizeof(src) - off;
                r = vd_buf_add_capped(&b, src + off, n);
                if (r < 0)
                    FAIL("seed %llu cap %zu: error %ld", (unsigned long long)seed, caps[c], r);
                dropped += (size_t)r;
                off += n;
            }
            /* What was kept is the prefix, and kept + dropped is all. */
            kept = caps[c] < sizeof(src) ? caps[c] : sizeof(src);
            if (b.len != kept || dropped != sizeof(src) - kept || memcmp(b.data, src, kept) != 0 ||
                b.data[kept] != '\0')
                FAIL("seed %llu cap %zu: len %zu, dropped %zu", (unsigned long long)seed, caps[c],
                     b.len, dropped);
            vd_buf_free(&b);
        }
    }
    return TEST_OK;
}

TEST_IMPL(buf_enomem_frees)
{
    int failures = 0;

    /*
     * Walk every allocation of a sequence of appends: fail the 1st, the
     * 2nd, ... until a run needs fewer allocations than the armed count.
     * Each failure must be -ENOMEM with the buffer freed, never a crash
     * or a half-filled buffer.
     */
    for (long n = 1; n < 100; n++) {
        struct vd_buf b;
        int rc = 0;

        vd_buf_init(&b, 1 << 20);
        vd_alloc_fail_after(n);
        for (int i = 0; i < 12 && rc == 0; i++) {
            if (i % 3 == 0)
                rc = vd_buf_printf(&b, "%0*d", 1 << i, i);
            else
                rc = vd_buf_add(&b, "0123456789abcdef", 16);
        }
        vd_alloc_fail_after(0);
        if (rc == 0) {
            ASSERT_GT(b.len, 0);
            vd_buf_free(&b);
            break;
        }
        failures++;
        ASSERT_ERR(rc, -ENOMEM);
        ASSERT_NULL(b.data);
        ASSERT_UINT_EQ(b.len, 0);
        ASSERT_UINT_EQ(b.alloc, 0);
    }
    /* 12 appends growing to ~2 KiB need several reallocations. */
    ASSERT_GE(failures, 3);
    return TEST_OK;
}

TEST_IMPL(buf_read_file)
{
    char path[] = "/tmp/vd-buf-XXXXXX";
    struct vd_buf b;
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    ASSERT_EQ(write(fd, "0123456789", 10), 10);
    close(fd);
    vd_buf_init(&b, 10);
    ASSERT_OK(vd_buf_add(&b, "", 0));
    ASSERT_OK(vd_buf_read_file(&b, path));
    ASSERT_STR_EQ(vd_buf_str(&b), "0123456789");
    /* One byte over the cap: refused, and the buffer freed itself. */
    vd_buf_free(&b);
    vd_buf_init(&b, 9);
    ASSERT_ERR(vd_buf_read_file(&b, path), VD_ETOOBIG);
    ASSERT_NULL(b.data);
    ASSERT_ERR(vd_buf_read_file(&b, "/no/such/file"), -ENOENT);
    vd_buf_free(&b);
    unlink(path);
    return TEST_OK;
}
