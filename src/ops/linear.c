/* Linear layers, PyTorch layout (W is [out, in]): forward with bias and
 * activation in one pass after the GEMM, backward as two GEMMs and a column
 * sum (col_sum.c's work-group kernel on GPU-type devices, else
 * clrt_bias_grad). */
#include "ops/ops.h"

#include "common.h"

clrt_status clrt_linear_forward(clrt_ctx *ctx, const clrt_tensor *x, const clrt_tensor *w,
                                const clrt_tensor *b, clrt_act act, float act_param,
                                clrt_tensor *z, clrt_tensor *y)
{
    static const char fn[] = "clrt_linear_forward";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    if (!clrt_act_name(act))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: activation %d is unknown", fn, (int)act);
    CLRT_TRY(clrt__expect_dims(ctx, fn, "x", x, 2, NULL));
    CLRT_TRY(clrt__expect_dims(ctx, fn, "w", w, 2, NULL));
    size_t batch = x->shape[0], in = x->shape[1], out = w->shape[0];
    const size_t wdims[2] = {out, in}, ydims[2] = {batch, out}, bdims[1] = {out};
    CLRT_TRY(clrt__expect_dims(ctx, fn, "w", w, 2, wdims));
    if (b)
        CLRT_TRY(clrt__expect_dims(ctx, fn, "b", b, 1, bdims));
    CLRT_TRY(clrt__expect_dims(ctx, fn, "y", y, 2, ydims));
    if (z)
        CLRT_TRY(clrt__expect_dims(ctx, fn, "z", z, 2, ydims));
    if (clrt__aliases(y, x) || clrt__aliases(y, w) || (z && (clrt__aliases(z, x) ||
                                                             clrt__aliases(z, w) ||
                                                             clrt__aliases(z, y))))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: outputs share buffers with inputs", fn);

    clrt_tensor *t = z ? z : y;
    CLRT_TRY(clrt_gemm(ctx, 0, 1, 1.0f, x, w, 0.0f, t));
    bool need_pass = b || z || (act != CLRT_ACT_IDENTITY && act != CLRT_ACT_SOFTMAX);
    if (need_pass && batch * out > 0) {
        cl_kernel k;
        CLRT_TRY(clrt__act_kernel(ctx, "linear", "clrt_bias_act", act, &k));
        if (batch > UINT32_MAX || out > UINT32_MAX)
            return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "%s: dimensions past 2^32", fn);
        CLRT_TRY(clrt__set_args(ctx, k, fn, "mmmuuiif", t, b ? b : t, y, (unsigned)batch,
                                (unsigned)out, b != NULL, (int)act, (double)act_param));
        CLRT_TRY(clrt__launch_2d(ctx, k, out, batch, 0, 0, fn));
    }
    if (act == CLRT_ACT_SOFTMAX)
        CLRT_TRY(clrt_act_forward(ctx, CLRT_ACT_SOFTMAX, act_param, y, y));
    return CLRT_OK;
}

clrt_status clrt_linear_backward(clrt_ctx *ctx, const clrt_tensor *x, const clrt_tensor *w,
                                 const clrt_tensor *dy, clrt_tensor *dx, clrt_tensor *dw,
                                 clrt_tensor *db, unsigned flags)
{
    static const char fn[] = "clrt_linear_backward";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    if (flags & ~CLRT_GRAD_ACCUMULATE)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: unknown flags 0x%x", fn, flags);
    CLRT_TRY(clrt__expect_dims(ctx, fn, "x", x, 2, NULL));
    CLRT_TRY(clrt__expect_dims(ctx, fn, "w", w, 2, NULL));
    size_t batch = x->shape[0], in = x->shape[1], out = w->shape[0];
    const size_t wdims[2] = {out, in}, ydims[2] = {batch, out}, bdims[1] = {out};
    CLRT_TRY(clrt__expect_dims(ctx, fn, "w", w, 2, wdims));
    CLRT_TRY(clrt__expect_dims(ctx, fn, "dy", dy, 2, ydims));
    if (dx)
        CLRT_TRY(clrt__expect_dims(ctx, fn, "dx", dx, 2, x->shape));
    if (dw)
        CLRT_TRY(clrt__expect_dims(ctx, fn, "dw", dw, 2, wdims));
    if (db)
        CLRT_TRY(clrt__expect_dims(ctx, fn, "db", db, 1, bdims));
    /* Checked before anything is enqueued, so a refusal changes nothing. */
    const clrt_tensor *outs[3] = {dx, dw, db}, *ins[3] = {x, w, dy};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            if (clrt__aliases(outs[i], ins[j]) || (j > i && clrt__aliases(outs[i], outs[j])))
                return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                                  "%s: gradients share buffers with inputs or each other", fn);
    float beta = (flags & CLRT_GRAD_ACCUMULATE) ? 1.0f : 0.0f;
    if (dx)
        CLRT_TRY(clrt_gemm(ctx, 0, 0, 1.0f, dy, w, beta, dx));
    if (dw)
        CLRT_TRY(clrt_gemm(ctx, 1, 0, 1.0f, dy, x, beta, dw));
    if (db && out > 0) {
        if (batch > UINT32_MAX || out > UINT32_MAX)
            return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "%s: dimensions past 2^32", fn);
        bool accumulate = (flags & CLRT_GRAD_ACCUMULATE) != 0, done = false;
        if (clrt__col_sum_by_groups(ctx))
            CLRT_TRY(clrt__col_sum_groups(ctx, fn, dy, db, batch, out, false, accumulate, &done));
        if (done)
            return CLRT_OK;
        cl_kernel k;
        CLRT_TRY(clrt__kernel(ctx, "linear", "clrt_bias_grad", &k));
        CLRT_TRY(clrt__set_args(ctx, k, fn, "mmuui", dy, db, (unsigned)batch, (unsigned)out,
                                accumulate));
        CLRT_TRY(clrt__launch_1d(ctx, k, (out + CLRT_BIAS_GRAD_VW - 1) / CLRT_BIAS_GRAD_VW, fn));
    }
    return CLRT_OK;
}
