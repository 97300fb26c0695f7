/* Reductions along one axis of a matrix and element-wise arithmetic. Each
 * output is accumulated in float in an order fixed by the shape alone, so
 * the results are deterministic. */
#include "common.h"

/* y[c] = Σ_r x[r, c] (mean: / rows) for c < cols: one item per column, the
 * items of a group reading neighbouring columns of one row together. */
__kernel void clrt_reduce_rows(__global const float *x, __global float *y, const ulong rows,
                               const ulong cols, const int mean)
{
    size_t c = get_global_id(0);
    if (c >= cols)
        return;
    float acc = 0.0f;
    for (size_t r = 0; r < rows; r++)
        acc += x[r * cols + c];
    y[c] = mean ? acc / (float)rows : acc;
}

/* y[c] = Σ_r x[r, c] (mean: / rows), or y[c] + that with accumulate, with
 * a work-group per block of get_local_size(0) columns, for GPUs: one item
 * per column leaves most of a GPU idle on a short wide matrix (a bias
 * gradient: [batch, out]) and walks all the rows alone. Item (lx, lane)
 * sums rows lane, lane + CLRT_COL_SUM_LANES, ... of its column, the items
 * of a lane reading neighbouring columns of a row together (coalesced);
 * a tree in local memory (`part`, LANES × width floats) then adds the
 * lanes. Launched as width × CLRT_COL_SUM_LANES work-groups. */
__kernel void clrt_col_sum_groups(__global const float *x, __global float *y, const uint rows,
                                  const uint cols, const int mean, const int accumulate,
                                  __local float *part)
{
    const uint lx = get_local_id(0), lane = get_local_id(1), width = get_local_size(0);
    const uint c = get_group_id(0) * width + lx;
    float acc = 0.0f;
    if (c < cols)
        for (uint r = lane; r < rows; r += CLRT_COL_SUM_LANES)
            acc += x[(size_t)r * cols + c];
    part[lane * width + lx] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint step = CLRT_COL_SUM_LANES / 2; step > 0; step /= 2) {
        if (lane < step)
            part[lane * width + lx] += part[(lane + step) * width + lx];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lane == 0 && c < cols) {
        const float s = mean ? part[lx] / (float)rows : part[lx];
        y[c] = accumulate ? y[c] + s : s;
    }
}

/* y[r] = Σ_c x[r, c] (mean: / cols) for r < rows: one item per row. */
__kernel void clrt_reduce_cols(__global const float *x, __global float *y, const ulong rows,
                               const ulong cols, const int mean)
{
    size_t r = get_global_id(0);
    if (r >= rows)
        return;
    __global const float *xr = x + r * cols;
    float acc = 0.0f;
    for (size_t c = 0; c < cols; c++)
        acc += xr[c];
    y[r] = mean ? acc / (float)cols : acc;
}

/* y = a + b; y may be a or b. */
__kernel void clrt_add(__global const float *a, __global const float *b, __global float *y,
                       const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        y[i] = a[i] + b[i];
}

/* y = alpha·x; y may be x. */
__kernel void clrt_scale(const float alpha, __global const float *x, __global float *y,
                         const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        y[i] = alpha * x[i];
}

/* y += alpha·x (x may be y). */
__kernel void clrt_axpy(const float alpha, __global const float *x, __global float *y,
                        const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        y[i] += alpha * x[i];
}
