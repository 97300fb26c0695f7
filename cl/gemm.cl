/* GEMM, C = alpha·op(A)·op(B) + beta·C, row-major, one kernel per transpose
 * pair. Register tiling: each work-item keeps a TM×TN block of C in
 * registers. Its TN columns are strided by the work-group width, so
 * neighbouring work-items read neighbouring columns of B (coalesced on GPUs,
 * vectorised across work-items by PoCL) while all of them share each element
 * of A. No local memory and no barriers. Edges are handled by clamping loads
 * and guarding stores, so any M, N, K works. Tile sizes come from -D options. */
#include "common.h"

#ifndef CLRT_GEMM_TM
#define CLRT_GEMM_TM 4 /* rows of C per work-item */
#endif
#ifndef CLRT_GEMM_TN
#define CLRT_GEMM_TN 4 /* columns of C per work-item */
#endif
#ifndef CLRT_GEMM_LX
#define CLRT_GEMM_LX 16 /* work-group width (columns) */
#endif
#ifndef CLRT_GEMM_LY
#define CLRT_GEMM_LY 4 /* work-group height (rows) */
#endif

/* Element (r, c) of a stored row-major matrix whose rows are ld long. */
#define AT(p, ld, r, c) (p)[(size_t)(r) * (ld) + (c)]

/* op(A)(m, k) and op(B)(k, n) for each storage order. */
#define A_N(m, k) AT(A, lda, m, k)
#define A_T(m, k) AT(A, lda, k, m)
#define B_N(k, n) AT(B, ldb, k, n)
#define B_T(k, n) AT(B, ldb, n, k)

#define CLRT_GEMM_KERNEL(NAME, A_EL, B_EL)                                                      \
    __kernel __attribute__((reqd_work_group_size(CLRT_GEMM_LX, CLRT_GEMM_LY, 1))) void NAME(   \
        const uint M, const uint N, const uint K, const float alpha,                            \
        __global const float *restrict A, const uint lda, __global const float *restrict B,     \
        const uint ldb, const float beta, __global float *restrict C, const uint ldc)           \
    {                                                                                           \
        const uint n0 = get_group_id(0) * (CLRT_GEMM_LX * CLRT_GEMM_TN) + get_local_id(0);      \
        const uint m0 = get_global_id(1) * CLRT_GEMM_TM;                                        \
        uint mi[CLRT_GEMM_TM], nj[CLRT_GEMM_TN];                                                \
        float acc[CLRT_GEMM_TM][CLRT_GEMM_TN];                                                  \
        for (uint i = 0; i < CLRT_GEMM_TM; i++)                                                 \
            mi[i] = min(m0 + i, M - 1);                                                         \
        for (uint j = 0; j < CLRT_GEMM_TN; j++)                                                 \
            nj[j] = min(n0 + j * CLRT_GEMM_LX, N - 1);                                          \
        for (uint i = 0; i < CLRT_GEMM_TM; i++)                                                 \
            for (uint j = 0; j < CLRT_GEMM_TN; j++)                                             \
                acc[i][j] = 0.0f;                                                               \
        for (uint k = 0; k < K; k++) {                                                          \
            float a[CLRT_GEMM_TM], b[CLRT_GEMM_TN];                                             \
            for (uint i = 0; i < CLRT_GEMM_TM; i++)                                             \
                a[i] = A_EL(mi[i], k);                                                          \
            for (uint j = 0; j < CLRT_GEMM_TN; j++)                                             \
                b[j] = B_EL(k, nj[j]);                                                          \
            for (uint i = 0; i < CLRT_GEMM_TM; i++)                                             \
                for (uint j = 0; j < CLRT_GEMM_TN; j++)                                         \
                    acc[i][j] += a[i] * b[j];                                                   \
        }                                                                                       \
        for (uint i = 0; i < CLRT_GEMM_TM; i++) {                                               \
            const uint m = m0 + i;                                                              \
            for (uint j = 0; j < CLRT_GEMM_TN; j++) {                                           \
                const uint n = n0 + j * CLRT_GEMM_LX;                                           \
                if (m < M && n < N) {                                                           \
                    const float r = alpha * acc[i][j];                                          \
                    /* beta 0 must not read C: it may hold NaN. */                              \
                    AT(C, ldc, m, n) = beta == 0.0f ? r : r + beta * AT(C, ldc, m, n);          \
                }                                                                               \
            }                                                                                   \
        }                                                                                       \
    }

CLRT_GEMM_KERNEL(clrt_gemm_nn, A_N, B_N)
CLRT_GEMM_KERNEL(clrt_gemm_nt, A_N, B_T)
CLRT_GEMM_KERNEL(clrt_gemm_tn, A_T, B_N)
CLRT_GEMM_KERNEL(clrt_gemm_tt, A_T, B_T)
