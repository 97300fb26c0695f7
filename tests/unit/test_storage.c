/* The host's 16-bit conversions (runtime/storage.c) against references
 * written another way: bf16 by choosing the nearer of the two bf16 values
 * around a float in double arithmetic, fp16 by the compiler's own
 * _Float16 (IEEE binary16, round to nearest even); over a sweep of float
 * bit patterns, every 16-bit pattern, and named cases: NaN, the
 * infinities, subnormals, overflow and ties. The device's conversions are
 * checked against these in tests/device/test_tensor.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime/runtime.h"

/* bf16 of v: of the bf16 values just below and above v (its top 16 bits,
 * and those plus one), the nearer in exact double arithmetic, the even one
 * on a tie; beyond the largest bf16 by half a step or more, infinity. */
static uint16_t ref_bf16(float v)
{
    uint32_t u = clrt__f32_bits(v);
    uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
    double dv = fabs((double)v), dlo = fabs((double)clrt__f32_from_bits((uint32_t)lo << 16));
    if ((lo & 0x7fffu) == 0x7f7fu) { /* hi would be the infinity: the step is 2^(127-7) */
        double dhi = dlo + ldexp(1.0, 127 - 7);
        if (dv - dlo < dhi - dv || (dv - dlo == dhi - dv && !(lo & 1u)))
            return lo;
        return (uint16_t)((u >> 16 & 0x8000u) | 0x7f80u);
    }
    double dhi = fabs((double)clrt__f32_from_bits((uint32_t)hi << 16));
    if (dv - dlo < dhi - dv || (dv - dlo == dhi - dv && !(lo & 1u)))
        return lo;
    return hi;
}

#ifdef __FLT16_MAX__
__extension__ typedef _Float16 ref_half;

static uint16_t ref_f16(float v)
{
    ref_half h = (ref_half)v;
    uint16_t b;
    memcpy(&b, &h, sizeof b);
    return b;
}

static float ref_f16_to_f32(uint16_t b)
{
    ref_half h;
    memcpy(&h, &b, sizeof h);
    return (float)h;
}
#endif

static bool is_nan16(uint16_t h, bool bf16)
{
    return bf16 ? (h & 0x7fffu) > 0x7f80u : (h & 0x7fffu) > 0x7c00u;
}

/* Float patterns: a stride over all 2^32 (every exponent and sign), and
 * every low 16-bit pattern of a few floats, where the rounding bits are. */
static void sweep(void (*check)(float v))
{
    for (uint64_t u = 0; u < 0x100000000ull; u += 65537)
        check(clrt__f32_from_bits((uint32_t)u));
    static const uint32_t tops[] = {0x3f800000u, 0xbf800000u, 0x477f0000u, 0x38800000u,
                                    0x33800000u, 0x00000000u, 0x7f7f0000u, 0x387f0000u};
    for (size_t t = 0; t < sizeof tops / sizeof tops[0]; t++)
        for (uint32_t low = 0; low < 0x10000u; low++)
            check(clrt__f32_from_bits(tops[t] | low));
}

static void check_bf16(float v)
{
    uint16_t got = clrt__bf16_from_f32(v);
    if (isnan(v)) {
        if (!is_nan16(got, true) || (got >> 15) != (clrt__f32_bits(v) >> 31))
            fail_msg("bf16 of NaN 0x%08x is 0x%04x, not a NaN of its sign", clrt__f32_bits(v), got);
        return;
    }
    if (got != ref_bf16(v))
        fail_msg("bf16 of 0x%08x (%.9g) is 0x%04x, the reference 0x%04x", clrt__f32_bits(v),
                 (double)v, got, ref_bf16(v));
}

static void bf16_from_f32_matches_reference(void **state)
{
    (void)state;
    sweep(check_bf16);
}

#ifdef __FLT16_MAX__
static void check_f16(float v)
{
    uint16_t got = clrt__f16_from_f32(v);
    if (isnan(v)) {
        if (!is_nan16(got, false) || (got >> 15) != (clrt__f32_bits(v) >> 31))
            fail_msg("f16 of NaN 0x%08x is 0x%04x, not a NaN of its sign", clrt__f32_bits(v), got);
        return;
    }
    if (got != ref_f16(v))
        fail_msg("f16 of 0x%08x (%.9g) is 0x%04x, the reference 0x%04x", clrt__f32_bits(v),
                 (double)v, got, ref_f16(v));
}
#endif

static void f16_from_f32_matches_reference(void **state)
{
    (void)state;
#ifdef __FLT16_MAX__
    sweep(check_f16);
#else
    skip();
#endif
}

/* Every 16-bit pattern widens exactly, and narrows back to itself. */
static void every_pattern_round_trips(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        float b = clrt__bf16_to_f32((uint16_t)h), f = clrt__f16_to_f32((uint16_t)h);
        assert_int_equal(clrt__f32_bits(b), h << 16);
        if (is_nan16((uint16_t)h, true))
            assert_true(isnan(b));
        else
            assert_int_equal(clrt__bf16_from_f32(b), h);
        if (is_nan16((uint16_t)h, false)) {
            assert_true(isnan(f));
            continue;
        }
        assert_int_equal(clrt__f16_from_f32(f), h);
#ifdef __FLT16_MAX__
        assert_int_equal(clrt__f32_bits(f), clrt__f32_bits(ref_f16_to_f32((uint16_t)h)));
#endif
    }
}

static void named_cases(void **state)
{
    (void)state;
    /* Ties go to the even neighbour, above a tie up. */
    assert_int_equal(clrt__bf16_from_f32(1.0f + 0x1p-8f), 0x3f80); /* 1 + half an ulp */
    assert_int_equal(clrt__bf16_from_f32(1.0f + 3 * 0x1p-8f), 0x3f82);
    assert_int_equal(clrt__bf16_from_f32(1.0f + 0x1p-8f + 0x1p-23f), 0x3f81);
    assert_int_equal(clrt__f16_from_f32(1.0f + 0x1p-11f), 0x3c00);
    assert_int_equal(clrt__f16_from_f32(1.0f + 3 * 0x1p-11f), 0x3c02);
    assert_int_equal(clrt__f16_from_f32(1.0f + 0x1p-11f + 0x1p-23f), 0x3c01);
    /* Zeros keep their sign; the infinities stay. */
    assert_int_equal(clrt__bf16_from_f32(-0.0f), 0x8000);
    assert_int_equal(clrt__f16_from_f32(-0.0f), 0x8000);
    assert_int_equal(clrt__bf16_from_f32(INFINITY), 0x7f80);
    assert_int_equal(clrt__bf16_from_f32(-INFINITY), 0xff80);
    assert_int_equal(clrt__f16_from_f32(INFINITY), 0x7c00);
    assert_int_equal(clrt__f16_from_f32(-INFINITY), 0xfc00);
    /* fp16 overflow: 65504 is the largest; 65520, half-way to the next
     * step, is a tie whose even side is the infinity. bf16 rounds
     * float32's largest to its infinity for the same reason. */
    assert_int_equal(clrt__f16_from_f32(65504.0f), 0x7bff);
    assert_int_equal(clrt__f16_from_f32(65519.996f), 0x7bff);
    assert_int_equal(clrt__f16_from_f32(65520.0f), 0x7c00);
    assert_int_equal(clrt__f16_from_f32(1e6f), 0x7c00);
    assert_int_equal(clrt__bf16_from_f32(3.4028235e38f), 0x7f80);
    /* fp16 subnormals: 2^-24 is the smallest; 2^-25 a tie to 0; the top
     * subnormals round up into the smallest normal, 2^-14. */
    assert_int_equal(clrt__f16_from_f32(0x1p-24f), 0x0001);
    assert_int_equal(clrt__f16_from_f32(0x1p-25f), 0x0000);
    assert_int_equal(clrt__f16_from_f32(0x1.8p-25f), 0x0001);
    assert_int_equal(clrt__f16_from_f32(-0x1p-24f * 3), 0x8003);
    assert_int_equal(clrt__f16_from_f32(0x1p-14f - 0x1p-30f), 0x0400);
    assert_int_equal(clrt__f16_from_f32(1e-45f), 0x0000); /* a float subnormal */
    assert_true(clrt__f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(clrt__f16_to_f32(0x03ff) == 0x3ffp-24f);
    /* bf16 keeps float32's subnormals, rounded like any other value. */
    assert_int_equal(clrt__bf16_from_f32(clrt__f32_from_bits(0x00008000u)),
                     0x0000); /* tie to even */
    assert_int_equal(clrt__bf16_from_f32(clrt__f32_from_bits(0x00018000u)), 0x0002);
    assert_int_equal(clrt__bf16_from_f32(clrt__f32_from_bits(0x00010001u)), 0x0001);
    /* A NaN stays a (quiet) NaN of its sign, even one whose payload is
     * only in the low bits, which plain rounding would make an infinity. */
    assert_int_equal(clrt__bf16_from_f32(clrt__f32_from_bits(0x7f800001u)), 0x7fc0);
    assert_int_equal(clrt__bf16_from_f32(clrt__f32_from_bits(0xff800001u)), 0xffc0);
    assert_int_equal(clrt__bf16_from_f32(NAN) & 0x7fc0, 0x7fc0);
    assert_int_equal(clrt__f16_from_f32(clrt__f32_from_bits(0x7f800001u)), 0x7e00);
    assert_true(isnan(clrt__f16_to_f32(0x7e00)) && isnan(clrt__bf16_to_f32(0x7fc0)));
    assert_true(isinf(clrt__f16_to_f32(0x7c00)) && clrt__f16_to_f32(0xfc00) < 0);
}

/* The array forms are the scalar ones, element by element. */
static void array_forms(void **state)
{
    (void)state;
    const float in[5] = {1.0f / 3.0f, -2.5f, 70000.0f, 0x1p-20f, NAN};
    uint16_t h[5];
    float out[5];
    clrt__to_storage(CLRT_BF16, in, h, 5);
    clrt__from_storage(CLRT_BF16, h, out, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(h[i], clrt__bf16_from_f32(in[i]));
        assert_int_equal(clrt__f32_bits(out[i]), clrt__f32_bits(clrt__bf16_to_f32(h[i])));
    }
    clrt__to_storage(CLRT_F16, in, h, 5);
    clrt__from_storage(CLRT_F16, h, out, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(h[i], clrt__f16_from_f32(in[i]));
        assert_int_equal(clrt__f32_bits(out[i]), clrt__f32_bits(clrt__f16_to_f32(h[i])));
    }
    assert_true(isinf(out[2]));
    float same[5];
    clrt__to_storage(CLRT_F32, in, same, 5);
    assert_memory_equal(same, in, sizeof in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bf16_from_f32_matches_reference),
        cmocka_unit_test(f16_from_f32_matches_reference),
        cmocka_unit_test(every_pattern_round_trips),
        cmocka_unit_test(named_cases),
        cmocka_unit_test(array_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
