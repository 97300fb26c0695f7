/* clrt_selftest: every op on the user's device against the plain-C
 * reference (ref.c), on small odd shapes. The same comparison the device
 * tests make, packaged for `clrt-info --selftest`. */
#include "io/io.h"
#include "verify/ref.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct selftest {
    clrt_ctx *ctx;
    clrt_selftest_result *results;
    size_t cap, count, failures;
    uint32_t seed;
} selftest;

static void random_fill(selftest *s, float *x, size_t n)
{
    clrt_ref_random(x, n, ++s->seed);
}

static void record(selftest *s, const char *op, int rank, const size_t *shape, const float *got,
                   const float *want, size_t n, double tol)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(e <= worst)) /* NaN counts as the worst */
            worst = isnan(e) ? INFINITY : e;
    }
    bool ok = worst <= tol;
    s->failures += !ok;
    if (s->count < s->cap) {
        clrt_selftest_result *r = &s->results[s->count];
        snprintf(r->op, sizeof r->op, "%s", op);
        clrt__shape_str(rank, shape, r->shape, sizeof r->shape);
        r->max_error = worst;
        r->tolerance = tol;
        r->passed = ok;
    }
    s->count++;
}

/* Host arrays and their device tensors for one check, freed together. */
typedef struct slot {
    float *host, *out;
    clrt_tensor *t;
    size_t n;
} slot;

static clrt_status slot_make(selftest *s, slot *sl, int rank, const size_t *shape, bool fill)
{
    memset(sl, 0, sizeof *sl);
    CLRT_TRY(clrt_tensor_create(s->ctx, rank, shape, 0, &sl->t));
    sl->n = sl->t->numel;
    sl->host = calloc(sl->n + 1, sizeof(float));
    sl->out = calloc(sl->n + 1, sizeof(float));
    if (!sl->host || !sl->out)
        return clrt__fail(s->ctx, CLRT_ERR_OUT_OF_MEMORY, "clrt_selftest: out of host memory");
    if (fill)
        random_fill(s, sl->host, sl->n);
    return clrt_tensor_write(sl->t, sl->host, sl->n);
}

static clrt_status slot_read(slot *sl)
{
    return clrt_tensor_read(sl->t, sl->out, sl->n);
}

static void slots_free(slot *sl, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        clrt_tensor_destroy(sl[i].t);
        free(sl[i].host);
        free(sl[i].out);
        memset(&sl[i], 0, sizeof sl[i]);
    }
}

/* Tolerances: a float dot product of length K is within (K+2)·eps of the
 * double reference relative to Σ|terms| (inputs in [-1, 1]); element-wise
 * transcendental functions within a few ulps, taken as 1e-5 with margin. */
static double dot_tol(size_t k)
{
    return (double)(k + 2) * FLT_EPSILON * 4;
}

static clrt_status check_gemm(selftest *s, size_t m, size_t n, size_t k)
{
    clrt_status st = CLRT_OK;
    for (int t = 0; t < 4 && st == CLRT_OK; t++) {
        int ta = t >> 1, tb = t & 1;
        const size_t da[2] = {ta ? k : m, ta ? m : k}, db[2] = {tb ? n : k, tb ? k : n};
        const size_t dc[2] = {m, n};
        slot sl[3];
        memset(sl, 0, sizeof sl);
        if ((st = slot_make(s, &sl[0], 2, da, true)) == CLRT_OK &&
            (st = slot_make(s, &sl[1], 2, db, true)) == CLRT_OK &&
            (st = slot_make(s, &sl[2], 2, dc, true)) == CLRT_OK &&
            (st = clrt_gemm(s->ctx, ta, tb, 1.5f, sl[0].t, sl[1].t, 0.5f, sl[2].t)) == CLRT_OK &&
            (st = slot_read(&sl[2])) == CLRT_OK) {
            clrt_ref_gemm(ta, tb, m, n, k, 1.5f, sl[0].host, sl[1].host, 0.5f, sl[2].host);
            char op[40];
            snprintf(op, sizeof op, "gemm %c%c (%s)", ta ? 't' : 'n', tb ? 't' : 'n',
                     clrt_gemm_backend_name(s->ctx->gemm_backend));
            record(s, op, 2, dc, sl[2].out, sl[2].host, m * n, dot_tol(k) * 2);
        }
        slots_free(sl, 3);
    }
    return st;
}

static clrt_status check_linear(selftest *s, size_t batch, size_t in, size_t out)
{
    const size_t dx[2] = {batch, in}, dw[2] = {out, in}, dy[2] = {batch, out}, dbv[1] = {out};
    slot sl[7];
    memset(sl, 0, sizeof sl);
    clrt_status st;
    if ((st = slot_make(s, &sl[0], 2, dx, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[1], 2, dw, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[2], 1, dbv, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[3], 2, dy, false)) != CLRT_OK ||
        (st = slot_make(s, &sl[4], 2, dx, false)) != CLRT_OK ||
        (st = slot_make(s, &sl[5], 2, dw, false)) != CLRT_OK ||
        (st = slot_make(s, &sl[6], 1, dbv, false)) != CLRT_OK)
        goto done;
    if ((st = clrt_linear_forward(s->ctx, sl[0].t, sl[1].t, sl[2].t, CLRT_ACT_RELU, 0, NULL,
                                  sl[3].t)) != CLRT_OK ||
        (st = slot_read(&sl[3])) != CLRT_OK)
        goto done;
    float *want = calloc(batch * out + 1, sizeof *want);
    if (!want) {
        st = clrt__fail(s->ctx, CLRT_ERR_OUT_OF_MEMORY, "clrt_selftest: out of host memory");
        goto done;
    }
    clrt_ref_linear_forward(batch, in, out, sl[0].host, sl[1].host, sl[2].host, CLRT_ACT_RELU, 0,
                            NULL, want);
    record(s, "linear_forward relu", 2, dy, sl[3].out, want, batch * out, dot_tol(in));
    free(want);
    /* Backward with dy = the forward output, a convenient known tensor. */
    memcpy(sl[3].host, sl[3].out, batch * out * sizeof(float));
    if ((st = clrt_linear_backward(s->ctx, sl[0].t, sl[1].t, sl[3].t, sl[4].t, sl[5].t, sl[6].t,
                                   0)) != CLRT_OK ||
        (st = slot_read(&sl[4])) != CLRT_OK || (st = slot_read(&sl[5])) != CLRT_OK ||
        (st = slot_read(&sl[6])) != CLRT_OK)
        goto done;
    clrt_ref_linear_backward(batch, in, out, sl[0].host, sl[1].host, sl[3].host, sl[4].host,
                             sl[5].host, sl[6].host, 0);
    record(s, "linear_backward dx", 2, dx, sl[4].out, sl[4].host, batch * in, dot_tol(out) * in);
    record(s, "linear_backward dw", 2, dw, sl[5].out, sl[5].host, out * in, dot_tol(batch) * in);
    record(s, "linear_backward db", 1, dbv, sl[6].out, sl[6].host, out, dot_tol(batch) * in);
done:
    slots_free(sl, 7);
    return st;
}

static clrt_status check_activations(selftest *s, size_t rows, size_t cols)
{
    const size_t d[2] = {rows, cols};
    clrt_status st = CLRT_OK;
    for (int a = CLRT_ACT_IDENTITY; a <= CLRT_ACT_SOFTMAX && st == CLRT_OK; a++) {
        slot sl[4]; /* x, y, dy, dx */
        memset(sl, 0, sizeof sl);
        char op[40];
        for (int i = 0; i < 4 && st == CLRT_OK; i++)
            st = slot_make(s, &sl[i], 2, d, i != 1);
        if (st == CLRT_OK && (st = clrt_act_forward(s->ctx, (clrt_act)a, 0.1f, sl[0].t,
                                                    sl[1].t)) == CLRT_OK &&
            (st = slot_read(&sl[1])) == CLRT_OK) {
            clrt_ref_act_forward((clrt_act)a, 0.1f, rows, cols, sl[0].host, sl[1].host);
            snprintf(op, sizeof op, "act_forward %s", clrt_act_name((clrt_act)a));
            record(s, op, 2, d, sl[1].out, sl[1].host, rows * cols, 1e-5);
        }
        if (st == CLRT_OK && (st = clrt_act_backward(s->ctx, (clrt_act)a, 0.1f, sl[0].t, sl[1].t,
                                                     sl[2].t, sl[3].t)) == CLRT_OK &&
            (st = slot_read(&sl[3])) == CLRT_OK) {
            /* The reference backward from the device's y, so only dx differs. */
            clrt_ref_act_backward((clrt_act)a, 0.1f, rows, cols, sl[0].host, sl[1].out,
                                  sl[2].host, sl[3].host);
            snprintf(op, sizeof op, "act_backward %s", clrt_act_name((clrt_act)a));
            record(s, op, 2, d, sl[3].out, sl[3].host, rows * cols, 1e-5 * (double)cols);
        }
        slots_free(sl, 4);
    }
    return st;
}

static clrt_status check_losses(selftest *s, size_t batch, size_t classes)
{
    const size_t d[2] = {batch, classes}, lb[1] = {batch}, one[1] = {1};
    slot sl[6]; /* logits, labels, loss, grad, target, correct */
    memset(sl, 0, sizeof sl);
    clrt_status st = CLRT_OK;
    if ((st = slot_make(s, &sl[0], 2, d, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[1], 1, lb, false)) != CLRT_OK ||
        (st = slot_make(s, &sl[2], 1, one, false)) != CLRT_OK ||
        (st = slot_make(s, &sl[3], 2, d, false)) != CLRT_OK ||
        (st = slot_make(s, &sl[4], 2, d, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[5], 1, one, false)) != CLRT_OK)
        goto done;
    for (size_t i = 0; i < batch; i++)
        sl[1].host[i] = (float)((i * 7 + 3) % classes);
    if ((st = clrt_tensor_write(sl[1].t, sl[1].host, batch)) != CLRT_OK)
        goto done;

    if ((st = clrt_loss_cross_entropy(s->ctx, sl[0].t, sl[1].t, sl[2].t, sl[3].t)) != CLRT_OK ||
        (st = slot_read(&sl[2])) != CLRT_OK || (st = slot_read(&sl[3])) != CLRT_OK)
        goto done;
    sl[2].host[0] =
        clrt_ref_loss_cross_entropy(batch, classes, sl[0].host, sl[1].host, sl[3].host);
    record(s, "loss_cross_entropy", 2, d, sl[2].out, sl[2].host, 1, 1e-5 * (double)classes);
    record(s, "loss_cross_entropy grad", 2, d, sl[3].out, sl[3].host, batch * classes, 1e-5);

    if ((st = clrt_loss_mse(s->ctx, sl[0].t, sl[4].t, sl[2].t, sl[3].t)) != CLRT_OK ||
        (st = slot_read(&sl[2])) != CLRT_OK || (st = slot_read(&sl[3])) != CLRT_OK)
        goto done;
    sl[2].host[0] = clrt_ref_loss_mse(batch * classes, sl[0].host, sl[4].host, sl[3].host);
    record(s, "loss_mse", 2, d, sl[2].out, sl[2].host, 1, dot_tol(batch * classes));
    record(s, "loss_mse grad", 2, d, sl[3].out, sl[3].host, batch * classes, 1e-6);

    if ((st = clrt_accuracy(s->ctx, sl[0].t, sl[1].t, sl[5].t)) != CLRT_OK ||
        (st = slot_read(&sl[5])) != CLRT_OK)
        goto done;
    sl[5].host[0] = clrt_ref_accuracy(batch, classes, sl[0].host, sl[1].host);
    record(s, "accuracy", 2, d, sl[5].out, sl[5].host, 1, 0.0);
done:
    slots_free(sl, 6);
    return st;
}

static clrt_status check_elementwise(selftest *s, size_t rows, size_t cols)
{
    const size_t d[2] = {rows, cols}, r0[1] = {cols}, r1[1] = {rows};
    slot sl[5]; /* a, b, y, col reduce, row reduce */
    memset(sl, 0, sizeof sl);
    clrt_status st = CLRT_OK;
    size_t n = rows * cols;
    if ((st = slot_make(s, &sl[0], 2, d, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[1], 2, d, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[2], 2, d, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[3], 1, r0, false)) != CLRT_OK ||
        (st = slot_make(s, &sl[4], 1, r1, false)) != CLRT_OK)
        goto done;
    for (int op = CLRT_REDUCE_SUM; op <= CLRT_REDUCE_MEAN; op++) {
        if ((st = clrt_reduce(s->ctx, (clrt_reduce_op)op, 0, sl[0].t, sl[3].t)) != CLRT_OK ||
            (st = clrt_reduce(s->ctx, (clrt_reduce_op)op, 1, sl[0].t, sl[4].t)) != CLRT_OK ||
            (st = slot_read(&sl[3])) != CLRT_OK || (st = slot_read(&sl[4])) != CLRT_OK)
            goto done;
        clrt_ref_reduce((clrt_reduce_op)op, 0, rows, cols, sl[0].host, sl[3].host);
        clrt_ref_reduce((clrt_reduce_op)op, 1, rows, cols, sl[0].host, sl[4].host);
        record(s, op ? "reduce mean axis 0" : "reduce sum axis 0", 2, d, sl[3].out, sl[3].host,
               cols, dot_tol(rows));
        record(s, op ? "reduce mean axis 1" : "reduce sum axis 1", 2, d, sl[4].out, sl[4].host,
               rows, dot_tol(cols));
    }
    if ((st = clrt_add(s->ctx, sl[0].t, sl[1].t, sl[2].t)) != CLRT_OK ||
        (st = slot_read(&sl[2])) != CLRT_OK)
        goto done;
    clrt_ref_add(n, sl[0].host, sl[1].host, sl[2].host);
    record(s, "add", 2, d, sl[2].out, sl[2].host, n, 1e-6);
    if ((st = clrt_scale(s->ctx, -0.75f, sl[0].t, sl[2].t)) != CLRT_OK ||
        (st = slot_read(&sl[2])) != CLRT_OK)
        goto done;
    clrt_ref_scale(n, -0.75f, sl[0].host, sl[2].host);
    record(s, "scale", 2, d, sl[2].out, sl[2].host, n, 1e-6);
    memcpy(sl[2].host, sl[2].out, n * sizeof(float));
    if ((st = clrt_axpy(s->ctx, 0.3f, sl[1].t, sl[2].t)) != CLRT_OK ||
        (st = slot_read(&sl[2])) != CLRT_OK)
        goto done;
    clrt_ref_axpy(n, 0.3f, sl[1].host, sl[2].host);
    record(s, "axpy", 2, d, sl[2].out, sl[2].host, n, 1e-6);
done:
    slots_free(sl, 5);
    return st;
}

static clrt_status check_optim(selftest *s, clrt_optim_kind kind, size_t n)
{
    static const char *const names[] = {"sgd nesterov", "adam", "adamw"};
    clrt_optim_options o;
    clrt_optim_options_init(&o, kind);
    o.lr = 0.05f;
    o.weight_decay = 0.01f;
    if (kind == CLRT_OPTIM_SGD)
        o.momentum = 0.9f, o.nesterov = 1;
    slot sl[2]; /* param, grad */
    memset(sl, 0, sizeof sl);
    clrt_optim *opt = NULL;
    float *m = calloc(n + 1, sizeof *m), *v = calloc(n + 1, sizeof *v);
    clrt_status st = CLRT_OK;
    if (!m || !v) {
        st = clrt__fail(s->ctx, CLRT_ERR_OUT_OF_MEMORY, "clrt_selftest: out of host memory");
        goto done;
    }
    if ((st = slot_make(s, &sl[0], 1, &n, true)) != CLRT_OK ||
        (st = slot_make(s, &sl[1], 1, &n, true)) != CLRT_OK ||
        (st = clrt_optim_create(s->ctx, &o, 1, &sl[0].t, &opt)) != CLRT_OK)
        goto done;
    for (uint64_t step = 1; step <= 3; step++) {
        if ((st = clrt_optim_step(opt, &sl[1].t)) != CLRT_OK)
            goto done;
        clrt_ref_optim_step(&o, step, n, sl[0].host, sl[1].host, m, v);
    }
    if ((st = slot_read(&sl[0])) != CLRT_OK)
        goto done;
    char op[40];
    snprintf(op, sizeof op, "optim %s x3", names[kind]);
    record(s, op, 1, &n, sl[0].out, sl[0].host, n, 1e-5);
done:
    clrt_optim_destroy(opt);
    slots_free(sl, 2);
    free(m);
    free(v);
    return st;
}

clrt_status clrt_selftest(clrt_ctx *ctx, clrt_selftest_result *results, size_t cap,
                          size_t *count, size_t *failures)
{
    if (!ctx || !count || !failures || (cap && !results))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_selftest: bad arguments");
    selftest s = {ctx, results, cap, 0, 0, 1};
    clrt_status st = CLRT_OK;
    /* GEMM through every backend this build and device offer. */
    clrt_gemm_backend chosen = ctx->gemm_backend;
    for (int b = CLRT_GEMM_BUILTIN; b <= CLRT_GEMM_HOST && st == CLRT_OK; b++) {
        if (b != CLRT_GEMM_BUILTIN && ctx->dev.is_simulator)
            continue;
        if (clrt_ctx_set_gemm_backend(ctx, (clrt_gemm_backend)b) != CLRT_OK) {
            /* Not built in or not for this device: not a failure. */
            ctx->errmsg_fallback[0] = '\0';
            if (ctx->errmsg)
                ctx->errmsg[0] = '\0';
            continue;
        }
        if ((st = check_gemm(&s, 33, 7, 257)) == CLRT_OK)
            st = check_gemm(&s, 1, 1, 1);
    }
    ctx->gemm_backend = chosen;
    if (st != CLRT_OK || (st = check_linear(&s, 7, 33, 10)) != CLRT_OK ||
        (st = check_activations(&s, 7, 33)) != CLRT_OK ||
        (st = check_losses(&s, 33, 10)) != CLRT_OK ||
        (st = check_elementwise(&s, 7, 257)) != CLRT_OK ||
        (st = check_optim(&s, CLRT_OPTIM_SGD, 257)) != CLRT_OK ||
        (st = check_optim(&s, CLRT_OPTIM_ADAM, 257)) != CLRT_OK ||
        (st = check_optim(&s, CLRT_OPTIM_ADAMW, 257)) != CLRT_OK) {
        *count = s.count;
        *failures = s.failures;
        return st;
    }
    *count = s.count;
    *failures = s.failures;
    return CLRT_OK;
}
