/* Activations: element-wise forward and backward through act_math.h, and
 * softmax row-wise over the last dimension (one work-group per row). The
 * tensors are stored as cl/storage.h says, operands A, B, C, D in the
 * order of each kernel's tensor arguments; the arithmetic is float. */
#include "common.h"
#include "act_math.h"
#include "reduce.h"
#include "storage.h"

/* y[i] = act(x[i]) for i < n. y may be x. */
__kernel void clrt_act_forward(__global const TYPE_A *x, __global TYPE_B *y, const int act,
                               const float param, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        STORE_B(y, i, clrt_act_f(CLRT_ACT_OF(act), LOAD_A(x, i), param));
}

/* dx[i] = dy[i]·act'(x[i]) for i < n. `uses` bit 0: x is bound, bit 1: y is
 * bound; an unbound one is dy in its place, as long as dy: the generic build
 * never reads it, a CLRT_ACT_FIXED build may read it and ignore the value.
 * dx may be dy (each item reads its element before writing it). */
__kernel void clrt_act_backward(__global const TYPE_A *x, __global const TYPE_B *y,
                                __global const TYPE_C *dy, __global TYPE_D *dx, const int uses,
                                const int act, const float param, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n) {
#ifdef CLRT_ACT_FIXED
        /* Unconditional loads (an unbound x or y is dy, as long): the fixed
         * activation's derivative leaves the one it does not read dead. */
        float xi = LOAD_A(x, i), yi = LOAD_B(y, i);
#else
        float xi = (uses & 1) ? LOAD_A(x, i) : 0.0f;
        float yi = (uses & 2) ? LOAD_B(y, i) : 0.0f;
#endif
        STORE_D(dx, i, LOAD_C(dy, i) * clrt_act_df(CLRT_ACT_OF(act), xi, yi, param));
    }
}

/* Softmax of each row of `cols` floats: y = exp(x - max) / Σ exp(x - max).
 * Launched as (local size, rows) with work-groups (local size, 1): group
 * (0, r) does row r, its items striding over the columns. y may be x: every
 * read of the row happens before the barriers that precede the writes, and
 * each item writes only the elements it read last. */
__kernel void clrt_softmax_forward(__global const TYPE_A *x, __global TYPE_B *y, const ulong cols,
                                   __local float *scratch)
{
    const size_t row = get_group_id(1);
    const size_t l = get_local_id(0), nl = get_local_size(0);
    __global const TYPE_A *xr = x + row * cols;
    __global TYPE_B *yr = y + row * cols;

    float m = -INFINITY;
    for (size_t j = l; j < cols; j += nl)
        m = fmax(m, LOAD_A(xr, j));
    m = clrt_group_max(scratch, m);

    float s = 0.0f;
    for (size_t j = l; j < cols; j += nl)
        s += exp(LOAD_A(xr, j) - m);
    s = clrt_group_sum(scratch, s);

    for (size_t j = l; j < cols; j += nl)
        STORE_B(yr, j, exp(LOAD_A(xr, j) - m) / s);
}

/* dx = y ⊙ (dy − Σ dy ⊙ y) per row, launched as clrt_softmax_forward. dx may
 * be dy or y, for the same reason y may be x there. */
__kernel void clrt_softmax_backward(__global const TYPE_A *y, __global const TYPE_B *dy,
                                    __global TYPE_C *dx, const ulong cols,
                                    __local float *scratch)
{
    const size_t row = get_group_id(1);
    const size_t l = get_local_id(0), nl = get_local_size(0);
    const size_t off = row * cols;

    float s = 0.0f;
    for (size_t j = l; j < cols; j += nl)
        s += LOAD_B(dy, off + j) * LOAD_A(y, off + j);
    s = clrt_group_sum(scratch, s);

    for (size_t j = l; j < cols; j += nl)
        STORE_C(dx, off + j, LOAD_A(y, off + j) * (LOAD_B(dy, off + j) - s));
}
