/* Column sums of a [rows, cols] matrix, y[c] (+)= Σ_r x[r, c], for
 * clrt_reduce along axis 0 and the bias gradient: which kernel runs on which
 * device, and the launch of the work-group one (cl/elementwise.cl). */
#include "ops/ops.h"

#include "common.h"

/* Widest column block of a work-group: 32 floats of a row, one 128-byte
 * line, per lane. */
#define COL_SUM_MAX_WIDTH 32

bool clrt__col_sum_by_groups(const clrt_ctx *ctx)
{
    if (ctx->col_sum_groups >= 0)
        return ctx->col_sum_groups != 0; /* forced by a test */
    /* CPUs keep one work-item per column (or 16): PoCL vectorises those
     * across work-items, and a barrier there costs more than it saves.
     * Everything else (GPUs, accelerators, the simulator that claims
     * every type) gets a work-group per column block. */
    return !clrt__device_is_cpu(&ctx->dev);
}

clrt_status clrt__col_sum_groups(clrt_ctx *ctx, const char *fn, const clrt_tensor *x,
                                 clrt_tensor *y, size_t rows, size_t cols, bool mean,
                                 bool accumulate, bool *done)
{
    *done = false;
    if (rows > UINT32_MAX || cols > UINT32_MAX)
        return CLRT_OK; /* the per-column kernels take 64-bit sizes */
    cl_kernel k;
    size_t limit;
    CLRT_TRY(clrt__kernel(ctx, "elementwise", "clrt_col_sum_groups", &k));
    CLRT_TRY(clrt__kernel_wg_limit(ctx, k, fn, &limit));
    if (limit < CLRT_COL_SUM_LANES)
        return CLRT_OK; /* not even one column's lanes fit: the per-column kernel */
    /* The width follows the kernel's limit (rusticl reports 32: 4 columns);
     * the sums' order does not depend on it. */
    size_t width = 1;
    while (2 * width * CLRT_COL_SUM_LANES <= limit && 2 * width <= COL_SUM_MAX_WIDTH &&
           width < cols)
        width *= 2;
    CLRT_TRY(clrt__set_args(ctx, k, fn, "mmuuiiL", x, y, (unsigned)rows, (unsigned)cols, (int)mean,
                            (int)accumulate, width * CLRT_COL_SUM_LANES * sizeof(float)));
    CLRT_TRY(clrt__launch_2d(ctx, k, cols, CLRT_COL_SUM_LANES, width, CLRT_COL_SUM_LANES, fn));
    *done = true;
    return CLRT_OK;
}
