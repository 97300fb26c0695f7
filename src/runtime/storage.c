/* 16-bit storage: the host's conversions between float32 and fp16 / bf16
 * (round to nearest even, as the kernels' stores in cl/storage.h), and
 * the kernel lookup that builds a program for the storage of each of a
 * kernel's tensor operands. */
#include "runtime/runtime.h"
#include "common.h"

#include <stdio.h>
#include <string.h>

_Static_assert(CLRT_F32 == CLRT_ST_F32, "storage code");
_Static_assert(CLRT_F16 == CLRT_ST_F16, "storage code");
_Static_assert(CLRT_BF16 == CLRT_ST_BF16, "storage code");

uint32_t clrt__f32_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

float clrt__f32_from_bits(uint32_t u)
{
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

uint16_t clrt__bf16_from_f32(float v)
{
    uint32_t u = clrt__f32_bits(v);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: quieted, never rounded into an infinity */
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

float clrt__bf16_to_f32(uint16_t h)
{
    return clrt__f32_from_bits((uint32_t)h << 16);
}

/* u >> shift rounded to nearest, ties to even; shift 1..31. */
static uint32_t shift_rne(uint32_t u, unsigned shift)
{
    uint32_t r = u >> shift, rem = u & ((1u << shift) - 1u), half = 1u << (shift - 1);
    return r + (rem > half || (rem == half && (r & 1u)));
}

uint16_t clrt__f16_from_f32(float v)
{
    uint32_t u = clrt__f32_bits(v), a = u & 0x7fffffffu;
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    if (a > 0x7f800000u) /* NaN: quiet, the top payload bits kept */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* 65520 and up (half-way above 65504, a tie to even) */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) /* 2^-14 and up: a normal half, the exponent rebiased */
        return (uint16_t)(sign | shift_rne(a - 0x38000000u, 13));
    /* A subnormal half (or 0): the value in units of 2^-24. A float of
     * exponent field e (1 for float subnormals) and 24-bit significand m
     * is m·2^(e-150), that is m >> (126 - e) such units. */
    uint32_t e = a >> 23, m = e ? (a & 0x7fffffu) | 0x800000u : a;
    unsigned shift = 126u - (e ? e : 1u);
    return (uint16_t)(sign | (shift > 31 ? 0u : shift_rne(m, shift)));
}

float clrt__f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)
        return clrt__f32_from_bits(sign | 0x7f800000u | (m << 13));
    if (e)
        return clrt__f32_from_bits(sign | ((e + 112u) << 23) | (m << 13));
    /* Subnormal: m·2^-24, exact in float. */
    float f = (float)m * 0x1p-24f;
    return sign ? -f : f;
}

void clrt__to_storage(clrt_dtype dtype, const float *src, void *dst, size_t n)
{
    uint16_t *d = dst;
    if (dtype == CLRT_F32)
        memcpy(dst, src, n * sizeof *src);
    else if (dtype == CLRT_BF16)
        for (size_t i = 0; i < n; i++)
            d[i] = clrt__bf16_from_f32(src[i]);
    else
        for (size_t i = 0; i < n; i++)
            d[i] = clrt__f16_from_f32(src[i]);
}

void clrt__from_storage(clrt_dtype dtype, const void *src, float *dst, size_t n)
{
    const uint16_t *s = src;
    if (dtype == CLRT_F32)
        memcpy(dst, src, n * sizeof *dst);
    else if (dtype == CLRT_BF16)
        for (size_t i = 0; i < n; i++)
            dst[i] = clrt__bf16_to_f32(s[i]);
    else
        for (size_t i = 0; i < n; i++)
            dst[i] = clrt__f16_to_f32(s[i]);
}

clrt_dtype clrt__storage_defines(const char *defines, const clrt_tensor *const *ops, size_t n,
                                 char *buf, size_t len)
{
    static const char letters[] = "ABCD";
    clrt_dtype first = CLRT_F32;
    int used = snprintf(buf, len, "%s", defines ? defines : "");
    for (size_t i = 0; i < n && i < sizeof letters - 1; i++) {
        if (!ops[i] || ops[i]->dtype == CLRT_F32)
            continue;
        if (first == CLRT_F32)
            first = ops[i]->dtype;
        if (used >= 0 && (size_t)used < len)
            used += snprintf(buf + used, len - (size_t)used, "%s-D CLRT_ST_%c=%d",
                             used ? " " : "", letters[i], (int)ops[i]->dtype);
    }
    return first;
}

clrt_status clrt__storage_kernel(clrt_ctx *ctx, const char *program_name, const char *defines,
                                 const char *kernel_name, const clrt_tensor *const *ops, size_t n,
                                 cl_kernel *out)
{
    char all[256];
    clrt_dtype dtype = clrt__storage_defines(defines, ops, n, all, sizeof all);
    return clrt__kernel_variant_typed(ctx, program_name, all, dtype, kernel_name, out);
}
