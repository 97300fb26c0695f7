/* Losses and metrics (cl/loss.cl): MSE, cross-entropy, accuracy. Results
 * stay on the device; each scalar is a deterministic sum (see loss.cl). */
#include "ops/ops.h"

#include <math.h>

/* The reduction work-group: this, halved while the kernel or the device
 * allows less (clrt__pow2_group_size covering it), so the summation order
 * depends on the shape alone. */
#define REDUCE_WG_MAX 256
/* Elements each item of a first-stage group sums (about). */
#define REDUCE_CHUNK 16
/* At most this many first-stage groups, so one group finishes quickly. */
#define REDUCE_GROUPS_MAX 1024

/* First-stage groups for n elements. */
static size_t stage1_groups(size_t n, size_t wg)
{
    size_t per_group = wg * REDUCE_CHUNK;
    size_t g = n / per_group + (n % per_group != 0);
    if (g < 1)
        g = 1;
    return g > REDUCE_GROUPS_MAX ? REDUCE_GROUPS_MAX : g;
}

/* Enqueue clrt_loss_sum over `groups` work-groups of `in[0..n)`. */
static clrt_status enqueue_sum(clrt_ctx *ctx, const clrt_tensor *in, size_t n, float divisor,
                               clrt_tensor *out, size_t groups, const char *what)
{
    cl_kernel k;
    size_t wg;
    CLRT_TRY(clrt__kernel(ctx, "loss", "clrt_loss_sum", &k));
    CLRT_TRY(clrt__pow2_group_size(ctx, k, REDUCE_WG_MAX, REDUCE_WG_MAX, what, &wg));
    CLRT_TRY(clrt__set_args(ctx, k, what, "mlfmL", in, n, (double)divisor, out,
                            wg * sizeof(float)));
    return clrt__launch_2d(ctx, k, groups * wg, 1, wg, 1, what);
}

/* out[0] = Σ in[0..n) / divisor: one work-group, after a first stage of
 * several groups into a scratch tensor when n is large. */
static clrt_status sum_to_scalar(clrt_ctx *ctx, const clrt_tensor *in, size_t n, float divisor,
                                 clrt_tensor *out, const char *what)
{
    cl_kernel k;
    size_t wg;
    CLRT_TRY(clrt__kernel(ctx, "loss", "clrt_loss_sum", &k));
    CLRT_TRY(clrt__pow2_group_size(ctx, k, REDUCE_WG_MAX, REDUCE_WG_MAX, what, &wg));
    size_t groups = stage1_groups(n, wg);
    if (groups == 1)
        return enqueue_sum(ctx, in, n, divisor, out, 1, what);
    clrt_tensor *partial;
    CLRT_TRY(clrt_tensor_create(ctx, 1, &groups, CLRT_TENSOR_UNINIT, &partial));
    clrt_status st = enqueue_sum(ctx, in, n, 1.0f, partial, groups, what);
    if (st == CLRT_OK)
        st = enqueue_sum(ctx, partial, groups, divisor, out, 1, what);
    /* Destroying a scratch tensor right after enqueueing is safe: its buffer
     * goes back to the pool, and whoever gets it next can only use it
     * through commands enqueued later on the same in-order queue, which run
     * after these kernels. */
    clrt_tensor_destroy(partial);
    return st;
}

static clrt_status expect_scalar(clrt_ctx *ctx, const char *fn, const char *name,
                                 const clrt_tensor *t)
{
    CLRT_TRY(clrt__expect_f32(ctx, fn, name, t)); /* written by clrt_loss_sum */
    if (t->numel == 1)
        return CLRT_OK;
    char s[160];
    clrt__shape_str(t->rank, t->shape, s, sizeof s);
    return clrt__fail(ctx, CLRT_ERR_SHAPE, "%s: %s is %s, expected one element", fn, name, s);
}

clrt_status clrt_loss_mse(clrt_ctx *ctx, const clrt_tensor *pred, const clrt_tensor *target,
                          clrt_tensor *loss, clrt_tensor *grad)
{
    static const char fn[] = "clrt_loss_mse";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(clrt__expect_same_shape(ctx, fn, "pred", pred, "target", target));
    CLRT_TRY(expect_scalar(ctx, fn, "loss", loss));
    if (grad)
        CLRT_TRY(clrt__expect_same_shape(ctx, fn, "grad", grad, "pred", pred));
    size_t n = pred->numel;
    if (n == 0) /* the mean of nothing, as torch.nn.MSELoss */
        return clrt_tensor_fill(loss, NAN);

    cl_kernel k;
    size_t wg;
    const clrt_tensor *ops[3] = {pred, target, grad ? grad : pred};
    CLRT_TRY(clrt__storage_kernel(ctx, "loss", "", "clrt_mse_partial", ops, 3, &k));
    CLRT_TRY(clrt__pow2_group_size(ctx, k, REDUCE_WG_MAX, REDUCE_WG_MAX, fn, &wg));
    size_t groups = stage1_groups(n, wg);
    clrt_tensor *partial;
    CLRT_TRY(clrt_tensor_create(ctx, 1, &groups, CLRT_TENSOR_UNINIT, &partial));
    clrt_status st = clrt__set_args(ctx, k, fn, "mmmilmL", pred, target, grad ? grad : pred,
                                    grad ? 1 : 0, n, partial, wg * sizeof(float));
    if (st == CLRT_OK)
        st = clrt__launch_2d(ctx, k, groups * wg, 1, wg, 1, fn);
    if (st == CLRT_OK)
        st = enqueue_sum(ctx, partial, groups, (float)n, loss, 1, fn);
    clrt_tensor_destroy(partial); /* safe after enqueueing: see sum_to_scalar */
    return st;
}

/* Checks shared by cross-entropy and accuracy: logits [batch, classes],
 * labels [batch], a one-element result. */
static clrt_status check_classification(clrt_ctx *ctx, const char *fn, const clrt_tensor *logits,
                                        const clrt_tensor *labels, const char *result_name,
                                        const clrt_tensor *result)
{
    CLRT_TRY(clrt__expect_dims(ctx, fn, "logits", logits, 2, NULL));
    CLRT_TRY(clrt__expect_dims(ctx, fn, "labels", labels, 1, logits->shape));
    return expect_scalar(ctx, fn, result_name, result);
}

/* The most rows clrt_ce_mean takes in one launch for these operands (0:
 * none): those whose row losses' sum_to_scalar would be one group's sum,
 * when clrt_ce_mean can have that group too. *k and *wg: its kernel and
 * group. */
static clrt_status ce_mean_plan(clrt_ctx *ctx, const char *fn, const clrt_tensor *const *ops,
                                size_t *rows, cl_kernel *k, size_t *wg)
{
    cl_kernel sum;
    size_t wg_sum;
    *rows = 0;
    CLRT_TRY(clrt__kernel(ctx, "loss", "clrt_loss_sum", &sum));
    CLRT_TRY(clrt__pow2_group_size(ctx, sum, REDUCE_WG_MAX, REDUCE_WG_MAX, fn, &wg_sum));
    CLRT_TRY(clrt__storage_kernel(ctx, "loss", "", "clrt_ce_mean", ops, 3, k));
    CLRT_TRY(clrt__pow2_group_size(ctx, *k, REDUCE_WG_MAX, REDUCE_WG_MAX, fn, wg));
    if (*wg == wg_sum)
        *rows = wg_sum * REDUCE_CHUNK; /* stage1_groups(rows, wg_sum) == 1 up to here */
    return CLRT_OK;
}

clrt_status clrt__ce_mean_max_rows(clrt_ctx *ctx, const clrt_tensor *logits,
                                   const clrt_tensor *labels, const clrt_tensor *grad, size_t *rows)
{
    const clrt_tensor *ops[3] = {logits, labels, grad};
    cl_kernel k;
    size_t wg;
    return ce_mean_plan(ctx, "clrt__ce_mean_max_rows", ops, rows, &k, &wg);
}

/* Cross-entropy in one launch (clrt_ce_mean) where ce_mean_plan allows: the
 * same order as the row losses and their sum, so the same bits, with no row
 * losses in memory and one launch instead of two. *done false: the caller
 * runs the two. */
static clrt_status ce_mean(clrt_ctx *ctx, const char *fn, const clrt_tensor *logits,
                           const clrt_tensor *labels, clrt_tensor *loss, clrt_tensor *grad,
                           const clrt_tensor *const *ops, bool *done)
{
    *done = false;
    size_t batch = logits->shape[0], classes = logits->shape[1];
    if (ctx->ce_rows_apart)
        return CLRT_OK;
    cl_kernel k;
    size_t wg, rows;
    CLRT_TRY(ce_mean_plan(ctx, fn, ops, &rows, &k, &wg));
    if (batch > rows)
        return CLRT_OK;
    CLRT_TRY(clrt__set_args(ctx, k, fn, "mmmillfmL", logits, labels, grad ? grad : loss,
                            grad ? 1 : 0, batch, classes, (double)(float)batch, loss,
                            wg * sizeof(float)));
    CLRT_TRY(clrt__launch_2d(ctx, k, wg, 1, wg, 1, fn));
    *done = true;
    return CLRT_OK;
}

clrt_status clrt_loss_cross_entropy(clrt_ctx *ctx, const clrt_tensor *logits,
                                    const clrt_tensor *labels, clrt_tensor *loss,
                                    clrt_tensor *grad)
{
    static const char fn[] = "clrt_loss_cross_entropy";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(check_classification(ctx, fn, logits, labels, "loss", loss));
    if (grad)
        CLRT_TRY(clrt__expect_same_shape(ctx, fn, "grad", grad, "logits", logits));
    size_t batch = logits->shape[0], classes = logits->shape[1];
    /* No rows: the mean of nothing. No classes: every label is out of range
     * (and the grad has no elements). Both NaN, without a kernel. */
    if (batch == 0 || classes == 0)
        return clrt_tensor_fill(loss, NAN);

    const clrt_tensor *ops[3] = {logits, labels, grad};
    bool done = false;
    CLRT_TRY(ce_mean(ctx, fn, logits, labels, loss, grad, ops, &done));
    if (done)
        return CLRT_OK;
    cl_kernel k;
    CLRT_TRY(clrt__storage_kernel(ctx, "loss", "", "clrt_ce_rows", ops, 3, &k));
    clrt_tensor *rowloss;
    CLRT_TRY(clrt_tensor_create(ctx, 1, &batch, CLRT_TENSOR_UNINIT, &rowloss));
    clrt_status st = clrt__set_args(ctx, k, fn, "mmmillm", logits, labels,
                                    grad ? grad : rowloss, grad ? 1 : 0, batch, classes, rowloss);
    if (st == CLRT_OK)
        st = clrt__launch_1d(ctx, k, batch, fn);
    if (st == CLRT_OK)
        st = sum_to_scalar(ctx, rowloss, batch, (float)batch, loss, fn);
    clrt_tensor_destroy(rowloss); /* safe after enqueueing: see sum_to_scalar */
    return st;
}

clrt_status clrt_accuracy(clrt_ctx *ctx, const clrt_tensor *logits, const clrt_tensor *labels,
                          clrt_tensor *correct)
{
    static const char fn[] = "clrt_accuracy";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(check_classification(ctx, fn, logits, labels, "correct", correct));
    size_t batch = logits->shape[0], classes = logits->shape[1];
    if (batch == 0 || classes == 0) /* no rows, or no label can be right */
        return clrt_tensor_fill(correct, 0.0f);

    cl_kernel k;
    const clrt_tensor *ops[2] = {logits, labels};
    CLRT_TRY(clrt__storage_kernel(ctx, "loss", "", "clrt_accuracy_rows", ops, 2, &k));
    clrt_tensor *rowcorrect;
    CLRT_TRY(clrt_tensor_create(ctx, 1, &batch, CLRT_TENSOR_UNINIT, &rowcorrect));
    clrt_status st =
        clrt__set_args(ctx, k, fn, "mmllm", logits, labels, batch, classes, rowcorrect);
    if (st == CLRT_OK)
        st = clrt__launch_1d(ctx, k, batch, fn);
    /* 0/1 values: the sum is exact in float up to 2^24 rows. */
    if (st == CLRT_OK)
        st = sum_to_scalar(ctx, rowcorrect, batch, 1.0f, correct, fn);
    clrt_tensor_destroy(rowcorrect);
    return st;
}
