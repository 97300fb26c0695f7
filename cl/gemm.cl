/* GEMM, C = alpha·op(A)·op(B) + beta·C, row-major, one kernel per transpose
 * pair. Register tiling: each work-item keeps a TM×TN block of C in
 * registers. Its TN columns are strided by the work-group width, so
 * neighbouring work-items read neighbouring columns of B (coalesced on GPUs,
 * vectorised across work-items by PoCL) while all of them share each element
 * of A. No local memory and no barriers. Edges are handled by clamping loads
 * and guarding stores, so any M, N, K works. Tile sizes come from -D options.
 * A, B and C are stored as cl/storage.h says (operands A, B, C); every
 * product and sum is float, whatever the storage. */
#include "common.h"
#include "storage.h"

/* Fully unroll the loops over a work-item's tile, whose trip counts are
 * compile-time constants. Without it PoCL's compiler kept the loops and the
 * accumulators in stack memory, a load and a store around every multiply-add
 * (3× slower); GPU compilers unroll such loops anyway. */
#define CLRT_UNROLL _Pragma("unroll")

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

/* The index of element (r, c) of a stored row-major matrix whose rows are
 * ld long. */
#define AT(ld, r, c) ((size_t)(r) * (ld) + (c))

/* op(A)(m, k) and op(B)(k, n) for each storage order, and where op(B)(k, n)
 * is stored. */
#define A_N(m, k) LOAD_A(A, AT(lda, m, k))
#define A_T(m, k) LOAD_A(A, AT(lda, k, m))
#define B_N_AT(k, n) AT(ldb, k, n)
#define B_T_AT(k, n) AT(ldb, n, k)
#define B_N(k, n) LOAD_B(B, B_N_AT(k, n))
#define B_T(k, n) LOAD_B(B, B_T_AT(k, n))

/* C(m, n) = r, or r + beta·C(m, n); beta 0 must not read C: it may hold NaN. */
#define C_PUT(m, n, r)                                                                              \
    STORE_C(C, AT(ldc, m, n), beta == 0.0f ? (r) : (r) + beta * LOAD_C(C, AT(ldc, m, n)))

/* The kernels' arguments, one list for all of them. */
#define CLRT_GEMM_ARGS                                                                              \
    const uint M, const uint N, const uint K, const float alpha,                                    \
        __global const TYPE_A *restrict A, const uint lda, __global const TYPE_B *restrict B,       \
        const uint ldb, const float beta, __global TYPE_C *restrict C, const uint ldc

#define CLRT_GEMM_KERNEL(NAME, A_EL, B_EL)                                                          \
    __kernel __attribute__((reqd_work_group_size(CLRT_GEMM_LX, CLRT_GEMM_LY, 1))) void NAME(        \
        CLRT_GEMM_ARGS)                                                                             \
    {                                                                                               \
        const uint n0 = get_group_id(0) * (CLRT_GEMM_LX * CLRT_GEMM_TN) + get_local_id(0);          \
        const uint m0 = get_global_id(1) * CLRT_GEMM_TM;                                            \
        uint mi[CLRT_GEMM_TM], nj[CLRT_GEMM_TN];                                                    \
        float acc[CLRT_GEMM_TM][CLRT_GEMM_TN];                                                      \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)                                         \
            mi[i] = min(m0 + i, M - 1);                                                             \
        CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++)                                         \
            nj[j] = min(n0 + j * CLRT_GEMM_LX, N - 1);                                              \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)                                         \
            CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++)                                     \
                acc[i][j] = 0.0f;                                                                   \
        for (uint k = 0; k < K; k++) {                                                              \
            float a[CLRT_GEMM_TM], b[CLRT_GEMM_TN];                                                 \
            CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)                                     \
                a[i] = A_EL(mi[i], k);                                                              \
            CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++)                                     \
                b[j] = B_EL(k, nj[j]);                                                              \
            CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)                                     \
                CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++)                                 \
                    acc[i][j] += a[i] * b[j];                                                       \
        }                                                                                           \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++) {                                       \
            const uint m = m0 + i;                                                                  \
            CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++) {                                   \
                const uint n = n0 + j * CLRT_GEMM_LX;                                               \
                if (m < M && n < N)                                                                 \
                    C_PUT(m, n, alpha * acc[i][j]);                                                 \
            }                                                                                       \
        }                                                                                           \
    }

/* -D CLRT_GEMM_ONLY=<op> builds one kernel of the twelve: op is 1 + 2·ta + tb,
 * plus 4 for the vector kernels, plus 8 for the local-memory ones. A driver asked for a program's binary
 * (clrt's disk cache) compiles every kernel in it, so one kernel per build
 * keeps the GEMM tuning's many tile builds from compiling seven unused ones. */
#ifndef CLRT_GEMM_ONLY
#define CLRT_GEMM_ONLY 0 /* all of them */
#endif
#define CLRT_GEMM_WANT(op) (CLRT_GEMM_ONLY == 0 || CLRT_GEMM_ONLY == (op))

#if CLRT_GEMM_WANT(1)
CLRT_GEMM_KERNEL(clrt_gemm_nn, A_N, B_N)
#endif
#if CLRT_GEMM_WANT(2)
CLRT_GEMM_KERNEL(clrt_gemm_nt, A_N, B_T)
#endif
#if CLRT_GEMM_WANT(3)
CLRT_GEMM_KERNEL(clrt_gemm_tn, A_T, B_N)
#endif
#if CLRT_GEMM_WANT(4)
CLRT_GEMM_KERNEL(clrt_gemm_tt, A_T, B_T)
#endif

/* Vector variant, chosen with -D CLRT_GEMM_VW=8 or 16: each work-item keeps
 * TM rows × NV·VW consecutive columns of C in TM×NV vector registers and,
 * for each k, adds a[i]·B(k, n0..n0+NV·VW) with NV vector multiply-adds per
 * row. This is the shape of a CPU GEMM micro-kernel, and what a CPU device
 * such as PoCL compiles into wide SIMD instructions (a float16 is one
 * 512-bit register there, A's element a broadcast folded into the
 * multiply-add); the scalar kernels above rely on vectorisation across
 * work-items instead. More accumulators per work-item hide more of the
 * multiply-add latency and spread each work-item's fixed cost (its set-up
 * and stores; K is 128 in the MLP's weight gradients) over more work.
 * Full vectors take vector stores; a vector that runs past the right edge
 * falls back to guarded scalar stores, and one wholly past it is not
 * stored. Each element of C is summed over k in
 * ascending order into one accumulator whatever TM, VW and NV are, so every
 * vector tile gives the same bits. */
#ifdef CLRT_GEMM_VW
#ifndef CLRT_GEMM_NV
#define CLRT_GEMM_NV 1 /* VW-wide vectors across a work-item's row */
#endif
#define CLRT_CAT2(a, b) a##b
#define CLRT_CAT(a, b) CLRT_CAT2(a, b)
#define VTYPE CLRT_CAT(float, CLRT_GEMM_VW)
#define VLOAD CLRT_CAT(vload, CLRT_GEMM_VW)
#define VSTORE CLRT_CAT(vstore, CLRT_GEMM_VW)
#define VCOLS (CLRT_GEMM_VW * CLRT_GEMM_NV) /* columns of C per work-item */

/* Two k loops. Where B is not transposed, N is a multiple of VW and the
 * matrix holds at least one block (M >= TM, N >= NV·VW), every work-item
 * runs a block of TM consecutive rows × NV whole vectors: the last block of
 * a row or column moved back to end at the matrix's edge (its rows and
 * vectors before m0 and n0 are the previous work-items', computed again,
 * not stored). That loop has vector loads only and rows at fixed offsets
 * from one another: TM clamped rows took TM of the 16 general registers,
 * and the guarded loads mixed into the loop (12 rows or 2 vectors) made the
 * compiler keep accumulators and pointers on the stack. Everything else
 * (small or odd shapes, tt) takes clamped rows and guarded scalar loads of
 * B. The sums are the same in both. */
#define CLRT_GEMM_VFAST(A_EL, B_AT)                                                                 \
    for (uint k = 0; k < K; k++) {                                                                  \
        VTYPE b[CLRT_GEMM_NV];                                                                      \
        CLRT_UNROLL for (uint v = 0; v < CLRT_GEMM_NV; v++)                                         \
            b[v] = VLOAD_B(CLRT_GEMM_VW, B, B_AT(k, cs + v * CLRT_GEMM_VW));                        \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++) {                                       \
            const float a = A_EL(rs + i, k);                                                        \
            CLRT_UNROLL for (uint v = 0; v < CLRT_GEMM_NV; v++)                                     \
                acc[i][v] += a * b[v];                                                              \
        }                                                                                           \
    }
#define CLRT_GEMM_VGUARDED(A_EL, B_EL)                                                              \
    for (uint k = 0; k < K; k++) {                                                                  \
        VTYPE b[CLRT_GEMM_NV];                                                                      \
        CLRT_UNROLL for (uint v = 0; v < CLRT_GEMM_NV; v++) {                                       \
            float t[CLRT_GEMM_VW];                                                                  \
            CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_VW; j++)                                     \
                t[j] = B_EL(k, min(cs + v * CLRT_GEMM_VW + j, N - 1));                              \
            b[v] = VLOAD(0, t);                                                                     \
        }                                                                                           \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++) {                                       \
            const float a = A_EL(min(rs + i, M - 1), k);                                            \
            CLRT_UNROLL for (uint v = 0; v < CLRT_GEMM_NV; v++)                                     \
                acc[i][v] += a * b[v];                                                              \
        }                                                                                           \
    }

#define CLRT_GEMM_VKERNEL(NAME, A_EL, B_EL, B_AT, B_CONTIG)                                         \
    __kernel void NAME(CLRT_GEMM_ARGS)                                                              \
    {                                                                                               \
        const uint n0 = get_global_id(0) * VCOLS;                                                   \
        const uint m0 = get_global_id(1) * CLRT_GEMM_TM;                                            \
        if (n0 >= N || m0 >= M)                                                                     \
            return;                                                                                 \
        const bool fast = B_CONTIG && M >= CLRT_GEMM_TM && N >= VCOLS && N % CLRT_GEMM_VW == 0;     \
        /* The block's first row and column. */                                                     \
        const uint rs = fast ? min(m0, M - CLRT_GEMM_TM) : m0;                                      \
        const uint cs = fast ? min(n0, N - VCOLS) : n0;                                             \
        VTYPE acc[CLRT_GEMM_TM][CLRT_GEMM_NV];                                                      \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)                                         \
            CLRT_UNROLL for (uint v = 0; v < CLRT_GEMM_NV; v++)                                     \
                acc[i][v] = (VTYPE)(0.0f);                                                          \
        if (fast) {                                                                                 \
            CLRT_GEMM_VFAST(A_EL, B_AT)                                                             \
        } else {                                                                                    \
            CLRT_GEMM_VGUARDED(A_EL, B_EL)                                                          \
        }                                                                                           \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++) {                                       \
            const uint m = rs + i;                                                                  \
            if (m < m0 || m >= M)                                                                   \
                continue;                                                                           \
            const size_t row = AT(ldc, m, 0);                                                       \
            CLRT_UNROLL for (uint v = 0; v < CLRT_GEMM_NV; v++) {                                   \
                const uint n = cs + v * CLRT_GEMM_VW;                                               \
                VTYPE r = alpha * acc[i][v];                                                        \
                if (n < n0 || n >= N) {                                                             \
                    /* another work-item's, or past the edge */                                     \
                } else if (n + CLRT_GEMM_VW <= N) {                                                 \
                    /* beta 0 must not read C: it may hold NaN. */                                  \
                    if (beta != 0.0f)                                                               \
                        r += beta * VLOAD_C(CLRT_GEMM_VW, C, row + n);                              \
                    VSTORE_C(CLRT_GEMM_VW, r, C, row + n);                                          \
                } else {                                                                            \
                    float t[CLRT_GEMM_VW];                                                          \
                    VSTORE(r, 0, t);                                                                \
                    for (uint j = 0; n + j < N; j++)                                                \
                        C_PUT(m, n + j, t[j]);                                                      \
                }                                                                                   \
            }                                                                                       \
        }                                                                                           \
    }

#if CLRT_GEMM_WANT(5)
CLRT_GEMM_VKERNEL(clrt_gemm_vec_nn, A_N, B_N, B_N_AT, 1)
#endif

#if CLRT_GEMM_WANT(6)
/* A·Bᵀ with both stored row-major ([M, K] and [N, K]): rows of A and of B
 * are contiguous along k, so this one works along k instead: TM×4 vector
 * accumulators of NT_VW partial sums each, summed across at the end, and a
 * scalar loop for the K % NT_VW remainder. NT_VW is 8 whatever the tile's
 * VW, and the partial sums of a row's 4 columns are summed across in one
 * fixed tree of lane pairs (three vector adds, not 28 scalar ones): the
 * order of the sums then depends on the shape only, so every tile gives
 * the same bits and tuning cannot change a result. */
#define NT_VW 8
__kernel void clrt_gemm_vec_nt(CLRT_GEMM_ARGS)
{
    const uint n0 = get_global_id(0) * 4;
    const uint m0 = get_global_id(1) * CLRT_GEMM_TM;
    if (n0 >= N || m0 >= M)
        return;
    size_t ar[CLRT_GEMM_TM], br[4]; /* where the rows of A and B start */
    CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)
        ar[i] = AT(lda, min(m0 + i, M - 1), 0);
    CLRT_UNROLL for (uint j = 0; j < 4; j++)
        br[j] = AT(ldb, min(n0 + j, N - 1), 0);
    float8 acc[CLRT_GEMM_TM][4];
    CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)
        CLRT_UNROLL for (uint j = 0; j < 4; j++)
            acc[i][j] = (float8)(0.0f);
    const uint kv = K / NT_VW * NT_VW;
    for (uint k = 0; k < kv; k += NT_VW) {
        float8 b[4];
        CLRT_UNROLL for (uint j = 0; j < 4; j++)
            b[j] = VLOAD_B(8, B, br[j] + k);
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++) {
            float8 a = VLOAD_A(8, A, ar[i] + k);
            CLRT_UNROLL for (uint j = 0; j < 4; j++)
                acc[i][j] += a * b[j];
        }
    }
    const bool full_n = n0 + 4 <= N;
    CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++) {
        if (m0 + i >= M)
            break;
        /* Lanes l0..l7 of column j's partial sums: sum = ((l0 + l4) + (l1 + l5)) +
         * ((l2 + l6) + (l3 + l7)), four columns at a time in three vector
         * adds. The lanes come by swizzles, except on a simulator, where
         * they move through private memory: oclgrind 21.10's
         * uninitialised-value check misreads narrowing shuffles (.lo, .even)
         * and crashed on some (on PoCL the private-memory form ran no faster
         * than the 28 scalar adds it replaced). The sums are the same. */
#if !CLRT_SIMULATOR
        const float8 h01 =
            (float8)(acc[i][0].lo, acc[i][1].lo) + (float8)(acc[i][0].hi, acc[i][1].hi);
        const float8 h23 =
            (float8)(acc[i][2].lo, acc[i][3].lo) + (float8)(acc[i][2].hi, acc[i][3].hi);
        const float8 q = (float8)(h01.even, h23.even) + (float8)(h01.odd, h23.odd);
        float4 sum = q.even + q.odd;
#else
        float l[4 * NT_VW], h[16];
        CLRT_UNROLL for (uint j = 0; j < 4; j++)
            vstore8(acc[i][j], 0, l + j * NT_VW);
        CLRT_UNROLL for (uint j = 0; j < 4; j++) /* column j's l0 + l4 ... l3 + l7 */
            vstore4(vload4(0, l + j * NT_VW) + vload4(1, l + j * NT_VW), j, h);
        float4 p[4]; /* p[q]: lanes q + (q + 4) of the four columns */
        CLRT_UNROLL for (uint q = 0; q < 4; q++)
            p[q] = (float4)(h[q], h[4 + q], h[8 + q], h[12 + q]);
        float4 sum = (p[0] + p[1]) + (p[2] + p[3]);
#endif
        if (kv < K) {
            float t[4];
            vstore4(sum, 0, t);
            CLRT_UNROLL for (uint j = 0; j < 4; j++)
                for (uint k = kv; k < K; k++)
                    t[j] += LOAD_A(A, ar[i] + k) * LOAD_B(B, br[j] + k);
            sum = vload4(0, t);
        }
        float4 r = alpha * sum;
        const size_t row = AT(ldc, m0 + i, n0);
        if (full_n) {
            /* beta 0 must not read C: it may hold NaN. */
            if (beta != 0.0f)
                r += beta * VLOAD_C(4, C, row);
            VSTORE_C(4, r, C, row);
        } else {
            float t[4];
            vstore4(r, 0, t);
            for (uint j = 0; n0 + j < N; j++)
                C_PUT(m0 + i, n0 + j, t[j]);
        }
    }
}

#endif /* CLRT_GEMM_WANT(6) */

#if CLRT_GEMM_WANT(7)
CLRT_GEMM_VKERNEL(clrt_gemm_vec_tn, A_T, B_N, B_N_AT, 1)
#endif
#if CLRT_GEMM_WANT(8)
CLRT_GEMM_VKERNEL(clrt_gemm_vec_tt, A_T, B_T, B_T_AT, 0)
#endif
#endif

/* Local-memory variant, chosen with -D CLRT_GEMM_KT=<k depth>: the
 * work-group stages a (LY·TM)×KT block of op(A) and a KT×(LX·TN) block of
 * op(B) in local memory, then each work-item accumulates its TM×TN block of
 * C from there, with the same row and column mapping as the scalar kernels.
 * Each element of C is summed over k in ascending order into one
 * accumulator and scaled as there, so the result is bitwise that of the
 * scalar kernels and the tile pick never changes it. Loads outside op(A) or
 * op(B) are zero-filled; the k loop stops at K, so no padding is summed.
 *
 * With -D CLRT_GEMM_KMAJOR=1 both blocks are staged k-major, as op(A)ᵀ and
 * op(B) ([k][row of the block]), each row padded by one float. That is the
 * coalesced layout for the nt GEMM (Y = X·Wᵀ, X and W both contiguous along
 * k): consecutive work-items load consecutive k of one row of X or W (with
 * KT = 32 a 32-wide group reads one 128-byte line), and the transposing
 * stores, which land KT apart, hit distinct local-memory banks since the
 * padded row length is odd. Without it, Wᵀ's stores at stride LX·TN (a
 * multiple of 32) all fall in one bank. The sums are the same either way. */
#ifdef CLRT_GEMM_KT
#define BM (CLRT_GEMM_LY * CLRT_GEMM_TM)
#define BN (CLRT_GEMM_LX * CLRT_GEMM_TN)
#define NWI (CLRT_GEMM_LX * CLRT_GEMM_LY)
#if defined(CLRT_GEMM_KMAJOR) && CLRT_GEMM_KMAJOR
#define AS_DECL __local float as[CLRT_GEMM_KT][BM + 1]
#define AS(r, c) as[c][r]
#define BS_LD (BN + 1)
#else
#define AS_DECL __local float as[BM][CLRT_GEMM_KT]
#define AS(r, c) as[r][c]
#define BS_LD BN
#endif

/* A_KMAJOR / B_KMAJOR: the stored matrix is contiguous along k, so
 * neighbouring work-items load neighbouring k (coalesced loads). */
#define CLRT_GEMM_LKERNEL(NAME, A_EL, B_EL, A_KMAJOR, B_KMAJOR)                                     \
    __kernel __attribute__((reqd_work_group_size(CLRT_GEMM_LX, CLRT_GEMM_LY, 1))) void NAME(        \
        CLRT_GEMM_ARGS)                                                                             \
    {                                                                                               \
        AS_DECL;                                                                                    \
        __local float bs[CLRT_GEMM_KT][BS_LD];                                                      \
        const uint lx = get_local_id(0), ly = get_local_id(1), lid = ly * CLRT_GEMM_LX + lx;        \
        const uint gm = get_group_id(1) * BM, gn = get_group_id(0) * BN;                            \
        float acc[CLRT_GEMM_TM][CLRT_GEMM_TN];                                                      \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)                                         \
            CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++)                                     \
                acc[i][j] = 0.0f;                                                                   \
        for (uint k0 = 0; k0 < K; k0 += CLRT_GEMM_KT) {                                             \
            for (uint e = lid; e < BM * CLRT_GEMM_KT; e += NWI) {                                   \
                const uint r = A_KMAJOR ? e / CLRT_GEMM_KT : e % BM;                                \
                const uint c = A_KMAJOR ? e % CLRT_GEMM_KT : e / BM;                                \
                const uint m = gm + r, k = k0 + c;                                                  \
                AS(r, c) = m < M && k < K ? A_EL(m, k) : 0.0f;                                      \
            }                                                                                       \
            for (uint e = lid; e < CLRT_GEMM_KT * BN; e += NWI) {                                   \
                const uint r = B_KMAJOR ? e % CLRT_GEMM_KT : e / BN;                                \
                const uint c = B_KMAJOR ? e / CLRT_GEMM_KT : e % BN;                                \
                const uint k = k0 + r, n = gn + c;                                                  \
                bs[r][c] = k < K && n < N ? B_EL(k, n) : 0.0f;                                      \
            }                                                                                       \
            barrier(CLK_LOCAL_MEM_FENCE);                                                           \
            const uint kn = min((uint)CLRT_GEMM_KT, K - k0);                                        \
            for (uint kk = 0; kk < kn; kk++) {                                                      \
                float a[CLRT_GEMM_TM], b[CLRT_GEMM_TN];                                             \
                CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)                                 \
                    a[i] = AS(ly * CLRT_GEMM_TM + i, kk);                                           \
                CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++)                                 \
                    b[j] = bs[kk][lx + j * CLRT_GEMM_LX];                                           \
                CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++)                                 \
                    CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++)                             \
                        acc[i][j] += a[i] * b[j];                                                   \
            }                                                                                       \
            barrier(CLK_LOCAL_MEM_FENCE);                                                           \
        }                                                                                           \
        CLRT_UNROLL for (uint i = 0; i < CLRT_GEMM_TM; i++) {                                       \
            const uint m = gm + ly * CLRT_GEMM_TM + i;                                              \
            CLRT_UNROLL for (uint j = 0; j < CLRT_GEMM_TN; j++) {                                   \
                const uint n = gn + lx + j * CLRT_GEMM_LX;                                          \
                if (m < M && n < N)                                                                 \
                    C_PUT(m, n, alpha * acc[i][j]);                                                 \
            }                                                                                       \
        }                                                                                           \
    }

#if CLRT_GEMM_WANT(9)
CLRT_GEMM_LKERNEL(clrt_gemm_loc_nn, A_N, B_N, 1, 0)
#endif
#if CLRT_GEMM_WANT(10)
CLRT_GEMM_LKERNEL(clrt_gemm_loc_nt, A_N, B_T, 1, 1)
#endif
#if CLRT_GEMM_WANT(11)
CLRT_GEMM_LKERNEL(clrt_gemm_loc_tn, A_T, B_N, 0, 0)
#endif
#if CLRT_GEMM_WANT(12)
CLRT_GEMM_LKERNEL(clrt_gemm_loc_tt, A_T, B_T, 0, 1)
#endif
#endif
