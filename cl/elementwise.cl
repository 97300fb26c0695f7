/* Reductions along one axis of a matrix and element-wise arithmetic. Each
 * output is accumulated in float by one work-item in a fixed order, so the
 * results are deterministic. Tensors are stored as cl/storage.h says,
 * operands A, B, C in the order of each kernel's tensor arguments. */
#include "common.h"
#include "storage.h"

/* y[c] = Σ_r x[r, c] (mean: / rows) for c < cols: one item per column, the
 * items of a group reading neighbouring columns of one row together. */
__kernel void clrt_reduce_rows(__global const TYPE_A *x, __global TYPE_B *y, const ulong rows,
                               const ulong cols, const int mean)
{
    size_t c = get_global_id(0);
    if (c >= cols)
        return;
    float acc = 0.0f;
    for (size_t r = 0; r < rows; r++)
        acc += LOAD_A(x, r * cols + c);
    STORE_B(y, c, mean ? acc / (float)rows : acc);
}

/* y[r] = Σ_c x[r, c] (mean: / cols) for r < rows: one item per row. */
__kernel void clrt_reduce_cols(__global const TYPE_A *x, __global TYPE_B *y, const ulong rows,
                               const ulong cols, const int mean)
{
    size_t r = get_global_id(0);
    if (r >= rows)
        return;
    __global const TYPE_A *xr = x + r * cols;
    float acc = 0.0f;
    for (size_t c = 0; c < cols; c++)
        acc += LOAD_A(xr, c);
    STORE_B(y, r, mean ? acc / (float)cols : acc);
}

/* y = a + b; y may be a or b. */
__kernel void clrt_add(__global const TYPE_A *a, __global const TYPE_B *b, __global TYPE_C *y,
                       const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        STORE_C(y, i, LOAD_A(a, i) + LOAD_B(b, i));
}

/* y = alpha·x; y may be x. */
__kernel void clrt_scale(const float alpha, __global const TYPE_A *x, __global TYPE_B *y,
                         const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        STORE_B(y, i, alpha * LOAD_A(x, i));
}

/* y += alpha·x (x may be y). */
__kernel void clrt_axpy(const float alpha, __global const TYPE_A *x, __global TYPE_B *y,
                        const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        STORE_B(y, i, LOAD_B(y, i) + alpha * LOAD_A(x, i));
}
