/* Per-operand storage: how a kernel reads and writes the elements of its
 * tensor arguments, so one kernel serves float32, fp16 and bf16 tensors
 * with float32 arithmetic. A kernel names its tensor operands A, B, C, D
 * (in the order the host lists them, see clrt__storage_kernel) and
 * declares each as `__global TYPE_A *p`, reading with LOAD_A(p, i) and
 * writing with STORE_A(p, i, v); the host builds the program with
 * -D CLRT_ST_A=<code> for each operand that is not float32 (none for an
 * all-float32 call, so those builds are the plain ones).
 *
 *   code 0  float32  float pointer, plain loads and stores
 *   code 1  fp16     half pointer used only through vload_half and
 *                    vstore_half_rte: core OpenCL C, no cl_khr_fp16
 *   code 2  bf16     ushort pointer: the top 16 bits of a float, loaded by
 *                    a shift and stored rounded to nearest even
 *
 * VLOAD_A(w, p, i) / VSTORE_A(w, v, p, i): w (4, 8 or 16) consecutive
 * elements from element i, as a floatw. Plain C preprocessor and OpenCL C
 * only. */
#ifndef CLRT_CL_STORAGE_H
#define CLRT_CL_STORAGE_H

#include "common.h"

#ifndef CLRT_ST_A
#define CLRT_ST_A 0
#endif
#ifndef CLRT_ST_B
#define CLRT_ST_B 0
#endif
#ifndef CLRT_ST_C
#define CLRT_ST_C 0
#endif
#ifndef CLRT_ST_D
#define CLRT_ST_D 0
#endif

#define CLRT_ST_CAT2(a, b) a##b
#define CLRT_ST_CAT(a, b) CLRT_ST_CAT2(a, b)

#if defined(__OPENCL_C_VERSION__) && __OPENCL_C_VERSION__ >= 120
#define CLRT_ST_FN static inline
#else
#define CLRT_ST_FN inline __attribute__((always_inline))
#endif

/* bf16 bits of v, rounded to nearest even; a NaN stays a NaN (quieted, its
 * sign and top payload bits kept), which the plain rounding could turn
 * into an infinity. */
CLRT_ST_FN ushort clrt_bf16_bits(float v)
{
    uint u = as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (ushort)((u >> 16) | 0x40u);
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#define CLRT_ST_BF16_VEC(w)                                                                        \
    CLRT_ST_FN CLRT_ST_CAT(ushort, w) CLRT_ST_CAT(clrt_bf16_bits, w)(CLRT_ST_CAT(float, w) v)     \
    {                                                                                              \
        CLRT_ST_CAT(uint, w) u = CLRT_ST_CAT(as_uint, w)(v);                                       \
        CLRT_ST_CAT(uint, w) r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;                           \
        CLRT_ST_CAT(uint, w) q = (u >> 16) | 0x40u;                                                \
        return CLRT_ST_CAT(convert_ushort, w)(select(r, q, (u & 0x7fffffffu) > 0x7f800000u));      \
    }
CLRT_ST_BF16_VEC(4)
CLRT_ST_BF16_VEC(8)
CLRT_ST_BF16_VEC(16)

#define CLRT_ST_TYPE_0 float
#define CLRT_ST_TYPE_1 half
#define CLRT_ST_TYPE_2 ushort

#define clrt_ld_0(p, i) ((p)[i])
#define clrt_ld_1(p, i) vload_half((i), (p))
#define clrt_ld_2(p, i) as_float((uint)(p)[i] << 16)
#define clrt_st_0(p, i, v) ((p)[i] = (v))
#define clrt_st_1(p, i, v) vstore_half_rte((v), (i), (p))
#define clrt_st_2(p, i, v) ((p)[i] = clrt_bf16_bits(v))

#define clrt_vld_0(w, p, i) CLRT_ST_CAT(vload, w)(0, (p) + (i))
#define clrt_vld_1(w, p, i) CLRT_ST_CAT(vload_half, w)(0, (p) + (i))
#define clrt_vld_2(w, p, i)                                                                        \
    CLRT_ST_CAT(as_float, w)(CLRT_ST_CAT(convert_uint, w)(CLRT_ST_CAT(vload, w)(0, (p) + (i))) << 16)
#define clrt_vst_0(w, v, p, i) CLRT_ST_CAT(vstore, w)((v), 0, (p) + (i))
#define clrt_vst_1(w, v, p, i) CLRT_ST_CAT(CLRT_ST_CAT(vstore_half, w), _rte)((v), 0, (p) + (i))
#define clrt_vst_2(w, v, p, i) CLRT_ST_CAT(vstore, w)(CLRT_ST_CAT(clrt_bf16_bits, w)(v), 0, (p) + (i))

#define CLRT_ST_TYPE(code) CLRT_ST_CAT(CLRT_ST_TYPE_, code)
#define CLRT_ST_LD(code) CLRT_ST_CAT(clrt_ld_, code)
#define CLRT_ST_ST(code) CLRT_ST_CAT(clrt_st_, code)
#define CLRT_ST_VLD(code) CLRT_ST_CAT(clrt_vld_, code)
#define CLRT_ST_VST(code) CLRT_ST_CAT(clrt_vst_, code)

#define TYPE_A CLRT_ST_TYPE(CLRT_ST_A)
#define TYPE_B CLRT_ST_TYPE(CLRT_ST_B)
#define TYPE_C CLRT_ST_TYPE(CLRT_ST_C)
#define TYPE_D CLRT_ST_TYPE(CLRT_ST_D)
#define LOAD_A(p, i) CLRT_ST_LD(CLRT_ST_A)(p, i)
#define LOAD_B(p, i) CLRT_ST_LD(CLRT_ST_B)(p, i)
#define LOAD_C(p, i) CLRT_ST_LD(CLRT_ST_C)(p, i)
#define LOAD_D(p, i) CLRT_ST_LD(CLRT_ST_D)(p, i)
#define STORE_A(p, i, v) CLRT_ST_ST(CLRT_ST_A)(p, i, v)
#define STORE_B(p, i, v) CLRT_ST_ST(CLRT_ST_B)(p, i, v)
#define STORE_C(p, i, v) CLRT_ST_ST(CLRT_ST_C)(p, i, v)
#define STORE_D(p, i, v) CLRT_ST_ST(CLRT_ST_D)(p, i, v)
#define VLOAD_A(w, p, i) CLRT_ST_VLD(CLRT_ST_A)(w, p, i)
#define VLOAD_B(w, p, i) CLRT_ST_VLD(CLRT_ST_B)(w, p, i)
#define VLOAD_C(w, p, i) CLRT_ST_VLD(CLRT_ST_C)(w, p, i)
#define VSTORE_B(w, v, p, i) CLRT_ST_VST(CLRT_ST_B)(w, v, p, i)
#define VSTORE_C(w, v, p, i) CLRT_ST_VST(CLRT_ST_C)(w, v, p, i)

#endif
