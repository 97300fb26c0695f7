/* Activations forward and backward: element-wise ones through the kernels of
 * cl/activation.cl (formulas in cl/act_math.h), softmax row-wise over the
 * last dimension. */
#include "ops/ops.h"

#include <stdio.h>

#include "common.h"

/* The kernels switch on the CLRT_K_ACT_* codes of cl/common.h. */
_Static_assert(CLRT_ACT_IDENTITY == CLRT_K_ACT_IDENTITY, "activation code");
_Static_assert(CLRT_ACT_RELU == CLRT_K_ACT_RELU, "activation code");
_Static_assert(CLRT_ACT_LEAKY_RELU == CLRT_K_ACT_LEAKY_RELU, "activation code");
_Static_assert(CLRT_ACT_SIGMOID == CLRT_K_ACT_SIGMOID, "activation code");
_Static_assert(CLRT_ACT_TANH == CLRT_K_ACT_TANH, "activation code");
_Static_assert(CLRT_ACT_SIN == CLRT_K_ACT_SIN, "activation code");
_Static_assert(CLRT_ACT_GELU == CLRT_K_ACT_GELU, "activation code");
_Static_assert(CLRT_ACT_GELU_TANH == CLRT_K_ACT_GELU_TANH, "activation code");
_Static_assert(CLRT_ACT_SOFTMAX == CLRT_K_ACT_SOFTMAX, "activation code");

/* The largest row work-group: enough items to stride over a long row. */
#define ROW_WG_MAX 256

const char *clrt_act_name(clrt_act act)
{
    switch (act) {
    case CLRT_ACT_IDENTITY: return "identity";
    case CLRT_ACT_RELU: return "relu";
    case CLRT_ACT_LEAKY_RELU: return "leaky_relu";
    case CLRT_ACT_SIGMOID: return "sigmoid";
    case CLRT_ACT_TANH: return "tanh";
    case CLRT_ACT_SIN: return "sin";
    case CLRT_ACT_GELU: return "gelu";
    case CLRT_ACT_GELU_TANH: return "gelu_tanh";
    case CLRT_ACT_SOFTMAX: return "softmax";
    }
    return NULL;
}

/* Which of x and y the backward of `act` reads. */
static bool needs_x(clrt_act act)
{
    return act == CLRT_ACT_RELU || act == CLRT_ACT_LEAKY_RELU || act == CLRT_ACT_SIN ||
           act == CLRT_ACT_GELU || act == CLRT_ACT_GELU_TANH;
}

static bool needs_y(clrt_act act)
{
    return act == CLRT_ACT_SIGMOID || act == CLRT_ACT_TANH || act == CLRT_ACT_SOFTMAX;
}

/* A tensor as [numel / last, last]: softmax's rows. */
static void rows_cols(const clrt_tensor *t, size_t *rows, size_t *cols)
{
    *cols = t->shape[t->rank - 1];
    *rows = *cols ? t->numel / *cols : 0;
}

static void act_defines(clrt_act act, char *buf, size_t len)
{
    snprintf(buf, len, "-D CLRT_ACT_FIXED=%d", (int)act);
}

clrt_status clrt__act_kernel(clrt_ctx *ctx, const char *program_name, const char *kernel_name,
                             clrt_act act, const clrt_tensor *const *ops, size_t nops,
                             cl_kernel *out)
{
    char defines[32];
    act_defines(act, defines, sizeof defines);
    return clrt__storage_kernel(ctx, program_name, defines, kernel_name, ops, nops, out);
}

clrt_status clrt__act_variants(clrt_ctx *ctx, clrt__variant_fn fn, void *user)
{
    /* activation.cl: each element-wise activation (softmax has kernels of
     * its own); linear.cl's bias pass: each activation, softmax included
     * (its bias pass runs before the row-wise softmax). */
    static const struct {
        const char *program;
        clrt_act last;
    } users[] = {{"activation", CLRT_ACT_GELU_TANH}, {"linear", CLRT_ACT_SOFTMAX}};
    char defines[32];
    clrt__program_variant v = {NULL, defines, CLRT_F32, false};
    for (size_t u = 0; u < sizeof users / sizeof users[0]; u++)
        for (int act = CLRT_ACT_IDENTITY; act <= (int)users[u].last; act++) {
            v.program = users[u].program;
            act_defines((clrt_act)act, defines, sizeof defines);
            CLRT_TRY(fn(ctx, &v, user));
        }
    return CLRT_OK;
}

static clrt_status check_act(clrt_ctx *ctx, const char *fn, clrt_act act)
{
    if (!clrt_act_name(act))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: unknown activation %d", fn, (int)act);
    return CLRT_OK;
}

clrt_status clrt_act_forward(clrt_ctx *ctx, clrt_act act, float param, const clrt_tensor *x,
                             clrt_tensor *y)
{
    static const char fn[] = "clrt_act_forward";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(check_act(ctx, fn, act));
    CLRT_TRY(clrt__expect_same_shape(ctx, fn, "x", x, "y", y));
    if (x->numel == 0)
        return CLRT_OK;

    cl_kernel k;
    if (act == CLRT_ACT_SOFTMAX) {
        size_t rows, cols, wg;
        rows_cols(x, &rows, &cols);
        const clrt_tensor *ops[2] = {x, y};
        CLRT_TRY(clrt__storage_kernel(ctx, "activation", "", "clrt_softmax_forward", ops, 2, &k));
        CLRT_TRY(clrt__pow2_group_size(ctx, k, cols, ROW_WG_MAX, fn, &wg));
        CLRT_TRY(clrt__set_args(ctx, k, fn, "mmlL", x, y, cols, wg * sizeof(float)));
        return clrt__launch_2d(ctx, k, wg, rows, wg, 1, fn);
    }
    const clrt_tensor *ops[2] = {x, y};
    CLRT_TRY(clrt__act_kernel(ctx, "activation", "clrt_act_forward", act, ops, 2, &k));
    CLRT_TRY(clrt__set_args(ctx, k, fn, "mmifl", x, y, (int)act, (double)param, x->numel));
    return clrt__launch_1d(ctx, k, x->numel, fn);
}

clrt_status clrt_act_backward(clrt_ctx *ctx, clrt_act act, float param, const clrt_tensor *x,
                              const clrt_tensor *y, const clrt_tensor *dy, clrt_tensor *dx)
{
    static const char fn[] = "clrt_act_backward";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(check_act(ctx, fn, act));
    CLRT_TRY(clrt__expect_same_shape(ctx, fn, "dy", dy, "dx", dx));
    if (needs_x(act) && !x)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: %s needs x", fn, clrt_act_name(act));
    if (needs_y(act) && !y)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: %s needs y = act(x)", fn,
                          clrt_act_name(act));
    if (x)
        CLRT_TRY(clrt__expect_same_shape(ctx, fn, "x", x, "dy", dy));
    if (y)
        CLRT_TRY(clrt__expect_same_shape(ctx, fn, "y", y, "dy", dy));
    if (dy->numel == 0)
        return CLRT_OK;

    cl_kernel k;
    if (act == CLRT_ACT_SOFTMAX) {
        size_t rows, cols, wg;
        rows_cols(dy, &rows, &cols);
        const clrt_tensor *ops[3] = {y, dy, dx};
        CLRT_TRY(clrt__storage_kernel(ctx, "activation", "", "clrt_softmax_backward", ops, 3, &k));
        CLRT_TRY(clrt__pow2_group_size(ctx, k, cols, ROW_WG_MAX, fn, &wg));
        CLRT_TRY(clrt__set_args(ctx, k, fn, "mmmlL", y, dy, dx, cols, wg * sizeof(float)));
        return clrt__launch_2d(ctx, k, wg, rows, wg, 1, fn);
    }
    /* A missing x or y is bound to dy's buffer and flagged unused, so the
     * kernel never sees a NULL buffer (some drivers mishandle those). */
    int uses = (x ? 1 : 0) | (y ? 2 : 0);
    /* An unbound x or y is dy in its place, with dy's storage. */
    const clrt_tensor *ops[4] = {x ? x : dy, y ? y : dy, dy, dx};
    CLRT_TRY(clrt__act_kernel(ctx, "activation", "clrt_act_backward", act, ops, 4, &k));
    CLRT_TRY(clrt__set_args(ctx, k, fn, "mmmmiifl", x ? x : dy, y ? y : dy, dy, dx, uses,
                            (int)act, (double)param, dy->numel));
    return clrt__launch_1d(ctx, k, dy->numel, fn);
}
