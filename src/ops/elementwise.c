/* Reductions along an axis and element-wise arithmetic (cl/elementwise.cl). */
#include "ops/ops.h"

#include <math.h>

clrt_status clrt_reduce(clrt_ctx *ctx, clrt_reduce_op op, int axis, const clrt_tensor *x,
                        clrt_tensor *y)
{
    static const char fn[] = "clrt_reduce";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    if (op != CLRT_REDUCE_SUM && op != CLRT_REDUCE_MEAN)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: unknown reduction %d", fn, (int)op);
    if (axis != 0 && axis != 1)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: axis %d of a rank-2 tensor", fn, axis);
    CLRT_TRY(clrt__expect_dims(ctx, fn, "x", x, 2, NULL));
    size_t rows = x->shape[0], cols = x->shape[1];
    size_t want = axis == 0 ? cols : rows;
    CLRT_TRY(clrt__expect_dims(ctx, fn, "y", y, 1, &want));
    if (want == 0)
        return CLRT_OK;
    int mean = op == CLRT_REDUCE_MEAN;
    if (x->numel == 0) /* an empty sum is 0, an empty mean NaN (as torch) */
        return clrt_tensor_fill(y, mean ? NAN : 0.0f);

    if (axis == 0 && clrt__col_sum_by_groups(ctx)) {
        bool done;
        CLRT_TRY(clrt__col_sum_groups(ctx, fn, x, y, rows, cols, mean, false, &done));
        if (done)
            return CLRT_OK;
    }
    cl_kernel k;
    CLRT_TRY(clrt__kernel(ctx, "elementwise", axis == 0 ? "clrt_reduce_rows" : "clrt_reduce_cols",
                          &k));
    CLRT_TRY(clrt__set_args(ctx, k, fn, "mmlli", x, y, rows, cols, mean));
    return clrt__launch_1d(ctx, k, want, fn);
}

clrt_status clrt_add(clrt_ctx *ctx, const clrt_tensor *a, const clrt_tensor *b, clrt_tensor *y)
{
    static const char fn[] = "clrt_add";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(clrt__expect_same_shape(ctx, fn, "a", a, "b", b));
    CLRT_TRY(clrt__expect_same_shape(ctx, fn, "y", y, "a", a));
    if (y->numel == 0)
        return CLRT_OK;
    cl_kernel k;
    CLRT_TRY(clrt__kernel(ctx, "elementwise", "clrt_add", &k));
    CLRT_TRY(clrt__set_args(ctx, k, fn, "mmml", a, b, y, y->numel));
    return clrt__launch_1d(ctx, k, y->numel, fn);
}

/* scale and axpy: the same checks and launch, another kernel. */
static clrt_status scaled(clrt_ctx *ctx, const char *fn, const char *kernel, float alpha,
                          const clrt_tensor *x, clrt_tensor *y)
{
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(clrt__expect_same_shape(ctx, fn, "x", x, "y", y));
    if (y->numel == 0)
        return CLRT_OK;
    cl_kernel k;
    CLRT_TRY(clrt__kernel(ctx, "elementwise", kernel, &k));
    CLRT_TRY(clrt__set_args(ctx, k, fn, "fmml", (double)alpha, x, y, y->numel));
    return clrt__launch_1d(ctx, k, y->numel, fn);
}

clrt_status clrt_scale(clrt_ctx *ctx, float alpha, const clrt_tensor *x, clrt_tensor *y)
{
    return scaled(ctx, "clrt_scale", "clrt_scale", alpha, x, y);
}

clrt_status clrt_axpy(clrt_ctx *ctx, float alpha, const clrt_tensor *x, clrt_tensor *y)
{
    return scaled(ctx, "clrt_axpy", "clrt_axpy", alpha, x, y);
}
