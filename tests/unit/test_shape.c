/* Shape validation (rank, element count, byte-size overflow) and formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "io/io.h"

/* numel of a valid shape, failing the test with the reason otherwise. */
static size_t numel_ok(int rank, const size_t *shape)
{
    size_t n = 12345;
    char why[256] = "";
    clrt_status st = clrt__shape_numel(rank, shape, &n, why, sizeof why);
    if (st != CLRT_OK)
        fail_msg("rank %d: %s (%s)", rank, clrt_status_str(st), why);
    return n;
}

static void ranks_one_to_four(void **state)
{
    (void)state;
    const size_t s1[] = {7};
    const size_t s2[] = {3, 4};
    const size_t s3[] = {2, 3, 5};
    const size_t s4[] = {2, 3, 5, 7};
    assert_int_equal(numel_ok(1, s1), 7);
    assert_int_equal(numel_ok(2, s2), 12);
    assert_int_equal(numel_ok(3, s3), 30);
    assert_int_equal(numel_ok(4, s4), 210);
    const size_t ones[] = {1, 1, 1, 1};
    for (int r = 1; r <= 4; r++)
        assert_int_equal(numel_ok(r, ones), 1);
    /* Only the first `rank` entries count. */
    assert_int_equal(numel_ok(2, s4), 6);
    const size_t odd[] = {257, 33, 7, 1};
    assert_int_equal(numel_ok(4, odd), 257 * 33 * 7);
}

static void zero_dims(void **state)
{
    (void)state;
    const size_t z1[] = {0};
    const size_t z2[] = {3, 0};
    const size_t z3[] = {0, 5, 7};
    const size_t z4[] = {2, 3, 0, 4};
    assert_int_equal(numel_ok(1, z1), 0);
    assert_int_equal(numel_ok(2, z2), 0);
    assert_int_equal(numel_ok(3, z3), 0);
    assert_int_equal(numel_ok(4, z4), 0);
    /* A zero before a huge dimension: no elements, no overflow. */
    const size_t zbig[] = {0, SIZE_MAX};
    assert_int_equal(numel_ok(2, zbig), 0);
}

static void bad_rank(void **state)
{
    (void)state;
    const size_t s[] = {2, 2, 2, 2, 2};
    static const int ranks[] = {0, 5, -1, 100};
    for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++) {
        size_t n = 777;
        char why[256] = "";
        assert_int_equal(clrt__shape_numel(ranks[i], s, &n, why, sizeof why), CLRT_ERR_SHAPE);
        char r[16];
        snprintf(r, sizeof r, "%d", ranks[i]);
        if (!strstr(why, "rank") || !strstr(why, r))
            fail_msg("rank %d: reason \"%s\"", ranks[i], why);
        assert_int_equal(n, 777); /* not written on failure */
    }
    /* No reason buffer: still the status. */
    size_t n;
    assert_int_equal(clrt__shape_numel(0, s, &n, NULL, 0), CLRT_ERR_SHAPE);
    assert_int_equal(clrt__shape_numel(CLRT_MAX_RANK + 1, s, &n, NULL, 0), CLRT_ERR_SHAPE);
}

static void null_shape(void **state)
{
    (void)state;
    size_t n = 777;
    char why[256] = "";
    assert_int_equal(clrt__shape_numel(2, NULL, &n, why, sizeof why), CLRT_ERR_INVALID_ARG);
    assert_true(strlen(why) > 0);
    assert_int_equal(n, 777);
    assert_int_equal(clrt__shape_numel(1, NULL, &n, NULL, 0), CLRT_ERR_INVALID_ARG);
}

/* The shape must be rejected with CLRT_ERR_SHAPE and a reason that shows it. */
static void expect_overflow(int rank, const size_t *shape)
{
    size_t n = 777;
    char why[512] = "";
    char s[256];
    clrt__shape_str(rank, shape, s, sizeof s);
    clrt_status st = clrt__shape_numel(rank, shape, &n, why, sizeof why);
    if (st != CLRT_ERR_SHAPE)
        fail_msg("shape %s: got %s, numel %zu", s, clrt_status_str(st), n);
    if (!strstr(why, s))
        fail_msg("shape %s: reason \"%s\" does not show the shape", s, why);
    assert_int_equal(n, 777);
}

static void byte_size_overflow(void **state)
{
    (void)state;
    const size_t max_elems = SIZE_MAX / sizeof(float);

    /* One element too many for a float32 byte size. */
    const size_t one_over[] = {max_elems + 1};
    expect_overflow(1, one_over);
    const size_t all[] = {SIZE_MAX};
    expect_overflow(1, all);
    /* The largest count whose byte size still fits is accepted. */
    const size_t at_max[] = {max_elems};
    assert_int_equal(numel_ok(1, at_max), max_elems);

    /* Two dims of half the address bits each: {1<<32, 1<<31} on 64-bit. The
     * count itself fits (1<<63) but its byte size does not. */
    const unsigned half = (unsigned)(sizeof(size_t) * 8 / 2);
    const size_t halves[] = {(size_t)1 << half, (size_t)1 << (half - 1)};
    expect_overflow(2, halves);
    /* The count itself wraps to 0 ({1<<32, 1<<32}): still an overflow. */
    const size_t wraps[] = {(size_t)1 << half, (size_t)1 << half};
    expect_overflow(2, wraps);
    /* {1<<31, 1<<31} on 64-bit: 1<<62 elements, 1<<64 bytes. */
    const size_t quarter[] = {(size_t)1 << (half - 1), (size_t)1 << (half - 1)};
    expect_overflow(2, quarter);
    /* One step below fits: 1<<61 elements, 1<<63 bytes. */
    const size_t fits[] = {(size_t)1 << (half - 1), (size_t)1 << (half - 2)};
    assert_int_equal(numel_ok(2, fits), (size_t)1 << (2 * half - 3));

    /* Overflow in the last of four dims: 1<<62 elements on 64-bit, whose byte
     * size wraps to 0. */
    const size_t last[] = {2, 2, 2, max_elems / 8 + 1};
    expect_overflow(4, last);
    /* Exactly at the limit across four dims. */
    const size_t edge[] = {2, 2, 1, max_elems / 4};
    assert_int_equal(numel_ok(4, edge), 4 * (max_elems / 4));
    /* Products that wrap around to small values. */
    const size_t wrap_small[] = {3, SIZE_MAX / 3 + 2};
    expect_overflow(2, wrap_small);
}

static void overflow_reason_truncates(void **state)
{
    (void)state;
    const size_t big[] = {SIZE_MAX, SIZE_MAX, SIZE_MAX, SIZE_MAX};
    char why[32];
    memset(why, 'z', sizeof why);
    size_t n;
    assert_int_equal(clrt__shape_numel(4, big, &n, why, 16), CLRT_ERR_SHAPE);
    assert_true(strlen(why) < 16);
    assert_int_equal(why[16], 'z');
}

static void shape_str(void **state)
{
    (void)state;
    char buf[128];
    const size_t s2[] = {3, 4};
    clrt__shape_str(2, s2, buf, sizeof buf);
    assert_string_equal(buf, "[3, 4]");
    const size_t s1[] = {7};
    clrt__shape_str(1, s1, buf, sizeof buf);
    assert_string_equal(buf, "[7]");
    const size_t s4[] = {1, 20, 300, 4000};
    clrt__shape_str(4, s4, buf, sizeof buf);
    assert_string_equal(buf, "[1, 20, 300, 4000]");
    const size_t s0[] = {0, 5};
    clrt__shape_str(2, s0, buf, sizeof buf);
    assert_string_equal(buf, "[0, 5]");
    clrt__shape_str(0, s2, buf, sizeof buf);
    assert_string_equal(buf, "[]");
    clrt__shape_str(2, NULL, buf, sizeof buf);
    assert_string_equal(buf, "[]");

    const size_t huge[] = {SIZE_MAX, 2};
    char expect[64];
    snprintf(expect, sizeof expect, "[%zu, 2]", (size_t)SIZE_MAX);
    clrt__shape_str(2, huge, buf, sizeof buf);
    assert_string_equal(buf, expect);
}

/* Into a buffer of every size up to the whole text: always terminated,
 * always the longest prefix that fits, never a byte past `len`. */
static void shape_str_truncates(void **state)
{
    (void)state;
    const size_t s[] = {3, 4, 123456, 7};
    const char *full = "[3, 4, 123456, 7]";
    size_t full_len = strlen(full);
    for (size_t len = 1; len <= full_len + 2; len++) {
        char buf[64];
        memset(buf, 'z', sizeof buf);
        clrt__shape_str(4, s, buf, len);
        size_t want = len - 1 < full_len ? len - 1 : full_len;
        if (strlen(buf) != want || strncmp(buf, full, want) != 0)
            fail_msg("len %zu: \"%s\"", len, buf);
        for (size_t k = len; k < sizeof buf; k++)
            assert_int_equal(buf[k], 'z');
    }
    char one = 'q';
    clrt__shape_str(4, s, &one, 0);
    assert_int_equal(one, 'q'); /* len 0: nothing written */
    clrt__shape_str(4, s, NULL, 10); /* must not crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ranks_one_to_four),
        cmocka_unit_test(zero_dims),
        cmocka_unit_test(bad_rank),
        cmocka_unit_test(null_shape),
        cmocka_unit_test(byte_size_overflow),
        cmocka_unit_test(overflow_reason_truncates),
        cmocka_unit_test(shape_str),
        cmocka_unit_test(shape_str_truncates),
    };
    return cmocka_run_group_tests_name("unit-shape", tests, NULL, NULL);
}
