/* Optimizers: torch.optim.SGD, Adam and AdamW update rules over a fixed
 * list of parameters, one kernel launch per CLRT_OPTIM_TENSORS parameters
 * and step (cl/optim.cl's multi-tensor kernels). Formulas and option checks
 * follow PyTorch 1.13's single-tensor path. */
#include "ops/ops.h"

#include "common.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSLOTS 2

/* Work-items of a multi-tensor kernel's work-group. Large: PoCL spends
 * about 10 ns on each group, so with 64 (the element-wise launches' size)
 * the MLP's update took 287 µs a step against 179 µs with 1024 or 4096,
 * the six per-tensor launches' sum. A tensor's last group idles at most
 * 1023 items. */
#define MULTI_GROUP 1024

struct clrt_optim {
    clrt_ctx *ctx;
    clrt_optim_options o;
    size_t n;
    clrt_tensor **params;          /* our copy of the caller's array; tensors not owned */
    clrt_tensor **state[NSLOTS];   /* per slot, n owned tensors; NULL when the kind has none */
    uint64_t steps;
    bool per_tensor; /* one launch per tensor (clrt__optim_set_per_tensor) */
};

void clrt_optim_options_init(clrt_optim_options *opt, clrt_optim_kind kind)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->kind = kind;
    switch (kind) {
    case CLRT_OPTIM_SGD:
        opt->lr = 0.01f;
        break;
    case CLRT_OPTIM_ADAM:
    case CLRT_OPTIM_ADAMW:
        opt->lr = 1e-3f;
        opt->beta1 = 0.9f;
        opt->beta2 = 0.999f;
        opt->eps = 1e-8f;
        opt->weight_decay = kind == CLRT_OPTIM_ADAMW ? 0.01f : 0.0f;
        break;
    }
}

static const char *kind_name(clrt_optim_kind kind)
{
    switch (kind) {
    case CLRT_OPTIM_SGD: return "SGD";
    case CLRT_OPTIM_ADAM: return "Adam";
    case CLRT_OPTIM_ADAMW: return "AdamW";
    }
    return "?";
}

/* The number of state slots a kind uses and their PyTorch names. */
static int slot_count(const clrt_optim_options *o)
{
    if (o->kind == CLRT_OPTIM_SGD)
        return o->momentum != 0.0f ? 1 : 0;
    return 2;
}

static const char *slot_name(clrt_optim_kind kind, int slot)
{
    if (kind == CLRT_OPTIM_SGD)
        return slot == 0 ? "momentum_buffer" : NULL;
    return slot == 0 ? "exp_avg" : slot == 1 ? "exp_avg_sq" : NULL;
}

/* PyTorch's constructor checks for the options the kind uses (the others are
 * ignored, as PyTorch has no such arguments). `!(x >= 0)` also refuses NaN,
 * as PyTorch's `not 0.0 <= x` does. */
static clrt_status check_options(clrt_ctx *ctx, const clrt_optim_options *o)
{
    static const char fn[] = "clrt_optim_create";
    if (o->kind != CLRT_OPTIM_SGD && o->kind != CLRT_OPTIM_ADAM && o->kind != CLRT_OPTIM_ADAMW)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: unknown optimizer kind %d", fn,
                          (int)o->kind);
    const char *k = kind_name(o->kind);
    if (!(o->lr >= 0.0f))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: %s: invalid learning rate %g (lr >= 0)",
                          fn, k, (double)o->lr);
    if (!(o->weight_decay >= 0.0f))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "%s: %s: invalid weight_decay %g (weight_decay >= 0)", fn, k,
                          (double)o->weight_decay);
    if (o->kind == CLRT_OPTIM_SGD) {
        if (!(o->momentum >= 0.0f))
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                              "%s: SGD: invalid momentum %g (momentum >= 0)", fn,
                              (double)o->momentum);
        if (o->nesterov && (o->momentum <= 0.0f || o->dampening != 0.0f))
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                              "%s: SGD: nesterov needs momentum > 0 and dampening 0 "
                              "(momentum %g, dampening %g)",
                              fn, (double)o->momentum, (double)o->dampening);
        return CLRT_OK;
    }
    if (!(o->eps >= 0.0f))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: %s: invalid eps %g (eps >= 0)", fn, k,
                          (double)o->eps);
    if (!(o->beta1 >= 0.0f && o->beta1 < 1.0f))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "%s: %s: invalid beta1 %g (0 <= beta1 < 1)", fn, k, (double)o->beta1);
    if (!(o->beta2 >= 0.0f && o->beta2 < 1.0f))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "%s: %s: invalid beta2 %g (0 <= beta2 < 1)", fn, k, (double)o->beta2);
    return CLRT_OK;
}

void clrt_optim_destroy(clrt_optim *opt)
{
    if (!opt)
        return;
    for (int s = 0; s < NSLOTS; s++) {
        if (!opt->state[s])
            continue;
        for (size_t i = 0; i < opt->n; i++)
            clrt_tensor_destroy(opt->state[s][i]);
        free(opt->state[s]);
    }
    free(opt->params);
    opt->ctx->live[CLRT__LIVE_OPTIM]--;
    free(opt);
}

clrt_status clrt_optim_create(clrt_ctx *ctx, const clrt_optim_options *opt, size_t nparams,
                              clrt_tensor *const *params, clrt_optim **out)
{
    static const char fn[] = "clrt_optim_create";
    if (out)
        *out = NULL;
    if (!ctx || !opt || !out)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: ctx, opt and out are needed", fn);
    CLRT_TRY(check_options(ctx, opt));
    if (nparams == 0 || !params)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: an empty parameter list", fn);
    for (size_t i = 0; i < nparams; i++) {
        char name[48];
        snprintf(name, sizeof name, "params[%zu]", i);
        CLRT_TRY(clrt__expect_f32(ctx, fn, name, params[i]));
        /* A parameter listed twice (or two views of one buffer) would be
         * updated twice per step. */
        for (size_t j = 0; j < i; j++)
            if (clrt__aliases(params[j], params[i]))
                return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                                  "%s: params[%zu] and params[%zu] share a device buffer", fn, j,
                                  i);
    }

    clrt_optim *o = calloc(1, sizeof *o);
    if (!o)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    o->ctx = ctx;
    ctx->live[CLRT__LIVE_OPTIM]++; /* from here clrt_optim_destroy undoes it */
    o->o = *opt;
    o->n = nparams;
    o->params = malloc(nparams * sizeof *o->params);
    if (!o->params) {
        clrt_optim_destroy(o);
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
    }
    memcpy(o->params, params, nparams * sizeof *o->params);

    int nslots = slot_count(opt);
    for (int s = 0; s < nslots; s++) {
        o->state[s] = calloc(nparams, sizeof *o->state[s]);
        if (!o->state[s]) {
            clrt_optim_destroy(o);
            return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory", fn);
        }
        for (size_t i = 0; i < nparams; i++) {
            const clrt_tensor *p = params[i];
            clrt_status st =
                clrt_tensor_create(ctx, p->rank, p->shape, CLRT_TENSOR_ZERO, &o->state[s][i]);
            if (st != CLRT_OK) {
                clrt_optim_destroy(o);
                return st;
            }
        }
    }
    *out = o;
    return CLRT_OK;
}

/* ------------------------------------------------------------- step */

/* Kernel arguments of one tensor's slot in a multi-tensor kernel, from
 * argument `arg` on: parameter, gradient, the kind's state tensors, the
 * element count and the slot's first work-group. */
static clrt_status set_slot(clrt_optim *o, cl_kernel k, const char *kname, unsigned arg,
                            size_t i, clrt_tensor *const *grads, size_t n, size_t start)
{
    clrt_ctx *ctx = o->ctx;
    switch (slot_count(&o->o)) {
    case 0:
        return clrt__set_args_from(ctx, k, kname, arg, "mmll", o->params[i], grads[i], n, start);
    case 1:
        return clrt__set_args_from(ctx, k, kname, arg, "mmmll", o->params[i], grads[i],
                                   o->state[0][i], n, start);
    default:
        return clrt__set_args_from(ctx, k, kname, arg, "mmmmll", o->params[i], grads[i],
                                   o->state[0][i], o->state[1][i], n, start);
    }
}

/* Enqueue multi-tensor kernel `k`, its `nscalars` leading arguments set,
 * over every non-empty parameter: CLRT_OPTIM_TENSORS per launch, each
 * tensor's elements in whole work-groups of `wg` (cl/optim.cl). */
static clrt_status launch_multi(clrt_optim *o, clrt_tensor *const *grads, cl_kernel k,
                                const char *kname, unsigned nscalars, size_t wg)
{
    const unsigned per_slot = 4u + (unsigned)slot_count(&o->o);
    size_t i = 0;
    while (i < o->n) {
        size_t groups = 0, first = o->n;
        unsigned used = 0;
        for (; i < o->n && used < CLRT_OPTIM_TENSORS; i++) {
            size_t n = o->params[i]->numel;
            if (n == 0)
                continue;
            if (first == o->n)
                first = i;
            CLRT_TRY(set_slot(o, k, kname, nscalars + used * per_slot, i, grads, n, groups));
            groups += (n + wg - 1) / wg;
            used++;
        }
        if (used == 0)
            break;
        /* The unused slots name real buffers (some drivers mishandle NULL
         * ones) and a first group no work-group reaches. */
        for (unsigned j = used; j < CLRT_OPTIM_TENSORS; j++)
            CLRT_TRY(set_slot(o, k, kname, nscalars + j * per_slot, first, grads, 0, SIZE_MAX));
        CLRT_TRY(clrt__launch_2d(o->ctx, k, groups * wg, 1, wg, 1, kname));
    }
    return CLRT_OK;
}

/* The multi-tensor kernel `kname` and the work-group its slots are laid
 * out in: MULTI_GROUP items, fewer where the kernel allows fewer. */
static clrt_status multi_kernel(clrt_optim *o, const char *kname, cl_kernel *k, size_t *wg)
{
    size_t limit;
    CLRT_TRY(clrt__kernel_variant_limit(o->ctx, "optim", "", CLRT_F32, kname, k, &limit));
    *wg = limit < MULTI_GROUP ? limit : MULTI_GROUP;
    return CLRT_OK;
}

static clrt_status step_sgd(clrt_optim *o, clrt_tensor *const *grads)
{
    const clrt_optim_options *p = &o->o;
    clrt_ctx *ctx = o->ctx;
    bool momentum = p->momentum != 0.0f;
    /* PyTorch creates the momentum buffer as a copy of the first step's
     * direction; the buffer here exists from the start, so the kernel is
     * told which step is the first. */
    int first = o->steps == 0;
    double one_minus_dampening = 1.0 - (double)p->dampening;
    if (!o->per_tensor) {
        const char *kname = momentum ? "clrt_optim_sgd_momentum_multi" : "clrt_optim_sgd_multi";
        cl_kernel k;
        size_t wg;
        CLRT_TRY(multi_kernel(o, kname, &k, &wg));
        if (momentum)
            CLRT_TRY(clrt__set_args(ctx, k, kname, "ffffii", (double)p->lr,
                                    (double)p->weight_decay, (double)p->momentum,
                                    one_minus_dampening, p->nesterov ? 1 : 0, first));
        else
            CLRT_TRY(clrt__set_args(ctx, k, kname, "ff", (double)p->lr, (double)p->weight_decay));
        return launch_multi(o, grads, k, kname, momentum ? 6 : 2, wg);
    }
    const char *kname = momentum ? "clrt_optim_sgd_momentum" : "clrt_optim_sgd";
    cl_kernel k;
    CLRT_TRY(clrt__kernel(ctx, "optim", kname, &k));
    for (size_t i = 0; i < o->n; i++) {
        clrt_tensor *param = o->params[i];
        if (param->numel == 0)
            continue;
        if (momentum)
            CLRT_TRY(clrt__set_args(ctx, k, kname, "mmmffffiil", param, grads[i],
                                    o->state[0][i], (double)p->lr, (double)p->weight_decay,
                                    (double)p->momentum, one_minus_dampening,
                                    p->nesterov ? 1 : 0, first, param->numel));
        else
            CLRT_TRY(clrt__set_args(ctx, k, kname, "mmffl", param, grads[i], (double)p->lr,
                                    (double)p->weight_decay, param->numel));
        CLRT_TRY(clrt__launch_1d(ctx, k, param->numel, kname));
    }
    return CLRT_OK;
}

static clrt_status step_adam(clrt_optim *o, clrt_tensor *const *grads)
{
    const clrt_optim_options *p = &o->o;
    clrt_ctx *ctx = o->ctx;
    /* The host side of PyTorch's update, in double as Python computes it. */
    double t = (double)o->steps + 1.0;
    double lr = p->lr, beta1 = p->beta1, beta2 = p->beta2;
    double bias1 = 1.0 - pow(beta1, t);
    double bias2 = 1.0 - pow(beta2, t);
    double step_size = lr / bias1;
    double bias2_sqrt = sqrt(bias2);
    bool decoupled = p->kind == CLRT_OPTIM_ADAMW;
    double wd = decoupled ? 0.0 : (double)p->weight_decay;
    double decay = decoupled ? 1.0 - lr * (double)p->weight_decay : 1.0;
    if (!o->per_tensor) {
        static const char kname[] = "clrt_optim_adam_multi";
        cl_kernel k;
        size_t wg;
        CLRT_TRY(multi_kernel(o, kname, &k, &wg));
        CLRT_TRY(clrt__set_args(ctx, k, kname, "fffffffff", wd, decay, beta1, 1.0 - beta1, beta2,
                                1.0 - beta2, step_size, bias2_sqrt, (double)p->eps));
        return launch_multi(o, grads, k, kname, 9, wg);
    }
    static const char kname[] = "clrt_optim_adam";
    cl_kernel k;
    CLRT_TRY(clrt__kernel(ctx, "optim", kname, &k));
    for (size_t i = 0; i < o->n; i++) {
        clrt_tensor *param = o->params[i];
        if (param->numel == 0)
            continue;
        CLRT_TRY(clrt__set_args(ctx, k, kname, "mmmmfffffffffl", param, grads[i],
                                o->state[0][i], o->state[1][i], wd, decay, beta1, 1.0 - beta1,
                                beta2, 1.0 - beta2, step_size, bias2_sqrt, (double)p->eps,
                                param->numel));
        CLRT_TRY(clrt__launch_1d(ctx, k, param->numel, kname));
    }
    return CLRT_OK;
}

clrt_status clrt_optim_step(clrt_optim *opt, clrt_tensor *const *grads)
{
    static const char fn[] = "clrt_optim_step";
    if (!opt)
        return CLRT_ERR_INVALID_ARG;
    if (!grads)
        return clrt__fail(opt->ctx, CLRT_ERR_INVALID_ARG, "%s: grads is NULL", fn);
    /* The count drives SGD's first step and Adam's bias correction: past
     * its last value it would wrap to 0 and restart both. */
    if (opt->steps == UINT64_MAX)
        return clrt__fail(opt->ctx, CLRT_ERR_INVALID_ARG,
                          "%s: the optimizer has taken %llu steps, the most its counter holds; "
                          "nothing was updated (clrt_optim_set_steps sets a lower count)",
                          fn, (unsigned long long)opt->steps);
    /* Every gradient is checked before anything is enqueued, so a bad one
     * leaves all parameters and state untouched. */
    for (size_t i = 0; i < opt->n; i++) {
        char gname[48], pname[48];
        snprintf(gname, sizeof gname, "grads[%zu]", i);
        snprintf(pname, sizeof pname, "params[%zu]", i);
        CLRT_TRY(clrt__expect_same_shape(opt->ctx, fn, gname, grads[i], pname, opt->params[i]));
        CLRT_TRY(clrt__expect_f32(opt->ctx, fn, gname, grads[i]));
    }
    if (opt->o.kind == CLRT_OPTIM_SGD)
        CLRT_TRY(step_sgd(opt, grads));
    else
        CLRT_TRY(step_adam(opt, grads));
    opt->steps++;
    return CLRT_OK;
}

/* ---------------------------------------------------- lr, steps, state */

clrt_status clrt_optim_set_lr(clrt_optim *opt, float lr)
{
    if (!opt)
        return CLRT_ERR_INVALID_ARG;
    if (!(lr >= 0.0f))
        return clrt__fail(opt->ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_optim_set_lr: invalid learning rate %g, keeping %g", (double)lr,
                          (double)opt->o.lr);
    opt->o.lr = lr;
    return CLRT_OK;
}

float clrt_optim_lr(const clrt_optim *opt)
{
    return opt ? opt->o.lr : 0.0f;
}

uint64_t clrt_optim_steps(const clrt_optim *opt)
{
    return opt ? opt->steps : 0;
}

clrt_status clrt_optim_set_steps(clrt_optim *opt, uint64_t steps)
{
    if (!opt)
        return CLRT_ERR_INVALID_ARG;
    if (steps == UINT64_MAX)
        return clrt__fail(opt->ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_optim_set_steps: %llu leaves no room for another step",
                          (unsigned long long)steps);
    opt->steps = steps;
    return CLRT_OK;
}

clrt_tensor *clrt_optim_state(const clrt_optim *opt, size_t i, int slot, const char **name)
{
    if (name)
        *name = NULL;
    if (!opt || i >= opt->n || slot < 0 || slot >= NSLOTS || !opt->state[slot])
        return NULL;
    if (name)
        *name = slot_name(opt->o.kind, slot);
    return opt->state[slot][i];
}

void clrt__optim_set_per_tensor(clrt_optim *opt, bool per_tensor)
{
    if (opt)
        opt->per_tensor = per_tensor;
}

clrt_tensor *const *clrt__optim_params(const clrt_optim *opt, size_t *count)
{
    *count = opt ? opt->n : 0;
    return opt ? opt->params : NULL;
}

clrt_status clrt_optim_get_options(const clrt_optim *opt, clrt_optim_options *out)
{
    if (!opt || !out)
        return CLRT_ERR_INVALID_ARG;
    *out = opt->o;
    return CLRT_OK;
}
