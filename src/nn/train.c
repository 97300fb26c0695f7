/* The training step as compute gradients -> gradient hook -> optimizer
 * step -> loss accounting, the running loss and the finiteness checks, and
 * evaluation over batches. */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

clrt_status clrt_model_set_grad_hook(clrt_model *m, clrt_grad_hook hook, void *user)
{
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    m->grad_hook = hook;
    m->grad_hook_user = hook ? user : NULL;
    return CLRT_OK;
}

/* Forward, loss into m->loss and dL/dy into m->dout, backward with the
 * gradients overwritten. */
static clrt_status compute_gradients(clrt_model *m, clrt_loss_kind loss, const clrt_tensor *x,
                                     const clrt_tensor *target)
{
    const clrt_tensor *y;
    CLRT_TRY(clrt_model_forward(m, x, &y));
    if (loss == CLRT_LOSS_CROSS_ENTROPY)
        CLRT_TRY(clrt_loss_cross_entropy(m->ctx, y, target, m->loss, m->dout));
    else
        CLRT_TRY(clrt_loss_mse(m->ctx, y, target, m->loss, m->dout));
    return clrt_model_backward(m, m->dout, 0);
}

/* The hook's status as is; on failure the message names the hook and keeps
 * the message a clrt call that failed inside the hook left, if it left one
 * (an older message of the context would mislead). */
static clrt_status run_grad_hook(clrt_model *m, const char *fn)
{
    unsigned long serial = m->ctx->errmsg_serial;
    clrt_status st = m->grad_hook(m, m->grads, m->nparams, m->grad_hook_user);
    if (st == CLRT_OK)
        return CLRT_OK;
    const char *msg = clrt_ctx_errmsg(m->ctx);
    bool fresh = m->ctx->errmsg_serial != serial && msg[0];
    char *inner = fresh ? clrt__strdup(msg) : NULL; /* clrt__fail overwrites msg */
    clrt__fail(m->ctx, st, "%s: the gradient hook returned %s; the optimizer was not stepped%s%s",
               fn, clrt_status_str(st), inner ? ". Last message: " : "", inner ? inner : "");
    free(inner);
    return st;
}

/* An optimizer steps the tensors it was made over. Another model's would
 * read past m->grads (it steps as many gradients as it has parameters) or
 * train that model with this one's gradients: only m's own parameters, the
 * same handles in the same order, are accepted. */
static clrt_status check_optim_binding(const clrt_model *m, const clrt_optim *opt, const char *fn)
{
    size_t n;
    clrt_tensor *const *p = clrt__optim_params(opt, &n);
    if (n != m->nparams)
        return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG,
                          "%s: the optimizer was made for %zu parameters of another model, this "
                          "model has %zu (make it over clrt_model_params after the last layer "
                          "is added)",
                          fn, n, m->nparams);
    for (size_t i = 0; i < n; i++)
        if (p[i] != m->params[i])
            return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG,
                              "%s: the optimizer was made for %zu parameters of another model: "
                              "its parameter %zu is not this model's %s",
                              fn, n, i, m->names[i]);
    return CLRT_OK;
}

clrt_status clrt_model_train_step(clrt_model *m, clrt_optim *opt, clrt_loss_kind loss,
                                  const clrt_tensor *x, const clrt_tensor *target)
{
    static const char fn[] = "clrt_model_train_step";
    if (!m || !opt)
        return clrt__fail(m ? m->ctx : NULL, CLRT_ERR_INVALID_ARG, "%s: model and optimizer are "
                                                                   "needed", fn);
    if (loss != CLRT_LOSS_CROSS_ENTROPY && loss != CLRT_LOSS_MSE)
        return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG, "%s: loss %d is unknown", fn, (int)loss);
    CLRT_TRY(check_optim_binding(m, opt, fn));
    CLRT_TRY(compute_gradients(m, loss, x, target));
    /* Where a data-parallel run averages the gradients across ranks, or an
     * application clips them. */
    if (m->grad_hook)
        CLRT_TRY(run_grad_hook(m, fn));
    CLRT_TRY(clrt_optim_step(opt, m->grads));
    /* The running sum weighs each batch's mean by its rows, so the epoch
     * mean is per sample as PyTorch users compute it. */
    CLRT_TRY(clrt_axpy(m->ctx, (float)m->batch, m->loss, m->loss_sum));
    m->loss_samples += m->batch;
    return CLRT_OK;
}

/* ---------------------------------------------------------- finiteness
 * NaN and the infinities are absorbing under every update rule (a weight
 * that holds one keeps one; a running loss that holds one keeps one), so
 * checking when the loss is read catches what any step produced, at one
 * pass per parameter per epoch instead of per step, and a step enqueues
 * nothing more and never waits. */

/* How a non-finite float reads in a message. */
static const char *nonfinite_text(float v)
{
    return isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf";
}

/* The index of the first parameter holding NaN or an infinity, or
 * m->nparams when all are finite: one flag pass per parameter on the
 * device, then one word read back (blocking). Parameter i tags the flag
 * with nparams - i, so the tag the flag keeps, the largest, is the first
 * parameter found. */
static clrt_status first_nonfinite_param(clrt_model *m, size_t *first)
{
    *first = m->nparams;
    if (m->nparams == 0)
        return CLRT_OK;
    if (m->nparams > UINT32_MAX)
        return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG,
                          "the model has too many parameters to check");
    CLRT_TRY(clrt_tensor_fill(m->finite_flag, 0.0f));
    for (size_t i = 0; i < m->nparams; i++)
        CLRT_TRY(
            clrt__flag_nonfinite(m->ctx, m->params[i], (uint32_t)(m->nparams - i), m->finite_flag));
    float word;
    CLRT_TRY(clrt_tensor_read(m->finite_flag, &word, 1));
    uint32_t tag;
    memcpy(&tag, &word, sizeof tag);
    if (tag != 0 && tag <= m->nparams)
        *first = m->nparams - tag;
    return CLRT_OK;
}

/* CLRT_ERR_NUMERIC naming parameter i and its first non-finite element
 * (read back on this path only), after `fn: before`. */
static clrt_status nonfinite_param(clrt_model *m, const char *fn, const char *before, size_t i)
{
    const clrt_tensor *p = m->params[i];
    char where[256] = "";
    float *host = malloc((p->numel ? p->numel : 1) * sizeof *host);
    if (host) {
        clrt_status st = clrt_tensor_read(p, host, p->numel);
        if (st != CLRT_OK) {
            free(host);
            return st;
        }
        size_t at = 0;
        while (at < p->numel && isfinite(host[at]))
            at++;
        if (at < p->numel) {
            char shape[160];
            clrt__shape_str(p->rank, p->shape, shape, sizeof shape);
            snprintf(where, sizeof where, " (element %zu of %s is %s)", at, shape,
                     nonfinite_text(host[at]));
        }
        free(host);
    }
    return clrt__fail(m->ctx, CLRT_ERR_NUMERIC, "%s: %sparameter %s holds a non-finite value%s", fn,
                      before, m->names[i], where);
}

clrt_status clrt_model_check_finite(clrt_model *m)
{
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    size_t first;
    CLRT_TRY(first_nonfinite_param(m, &first));
    if (first == m->nparams)
        return CLRT_OK;
    return nonfinite_param(m, "clrt_model_check_finite", "", first);
}

clrt_status clrt_model_take_loss(clrt_model *m, double *mean_loss, size_t *samples)
{
    static const char fn[] = "clrt_model_take_loss";
    if (!m || !mean_loss)
        return CLRT_ERR_INVALID_ARG;
    float sum = 0.0f;
    CLRT_TRY(clrt_tensor_read(m->loss_sum, &sum, 1));
    size_t n = m->loss_samples;
    *mean_loss = n ? (double)sum / (double)n : 0.0;
    if (samples)
        *samples = n;
    m->loss_samples = 0;
    CLRT_TRY(clrt_tensor_fill(m->loss_sum, 0.0f));
    size_t first;
    CLRT_TRY(first_nonfinite_param(m, &first));
    if (isfinite(sum) && first == m->nparams)
        return CLRT_OK;
    char loss[128] = "";
    if (!isfinite(sum))
        snprintf(loss, sizeof loss, "the running loss over %zu samples is %s", n,
                 nonfinite_text(sum));
    if (first == m->nparams)
        return clrt__fail(m->ctx, CLRT_ERR_NUMERIC, "%s: %s (the parameters are finite)", fn, loss);
    if (loss[0])
        strcat(loss, "; ");
    return nonfinite_param(m, fn, loss, first);
}

clrt_status clrt__model_evaluate_batches(clrt_model *m, clrt__batch_source next, void *source,
                                         double *loss, double *accuracy)
{
    /* Sums stay on the device (loss weighted by rows, correct counts) and
     * are read once at the end. */
    const size_t one = 1;
    clrt_tensor *t[4] = {NULL, NULL, NULL, NULL}; /* batch loss, batch correct, sums */
    clrt_status st = CLRT_OK;
    for (int i = 0; i < 4 && st == CLRT_OK; i++)
        st = clrt_tensor_create(m->ctx, 1, &one, i < 2 ? 0 : CLRT_TENSOR_ZERO, &t[i]);
    size_t samples = 0;
    while (st == CLRT_OK) {
        const clrt_tensor *x, *labels, *y;
        if ((st = next(source, &x, &labels)) != CLRT_OK || !x)
            break;
        size_t rows = x->shape[0];
        if ((st = clrt_model_forward(m, x, &y)) != CLRT_OK ||
            (st = clrt_loss_cross_entropy(m->ctx, y, labels, t[0], NULL)) != CLRT_OK ||
            (st = clrt_accuracy(m->ctx, y, labels, t[1])) != CLRT_OK ||
            (st = clrt_axpy(m->ctx, (float)rows, t[0], t[2])) != CLRT_OK ||
            (st = clrt_axpy(m->ctx, 1.0f, t[1], t[3])) != CLRT_OK)
            break;
        samples += rows;
    }
    float sums[2] = {0, 0};
    if (st == CLRT_OK && (st = clrt_tensor_read(t[2], &sums[0], 1)) == CLRT_OK)
        st = clrt_tensor_read(t[3], &sums[1], 1);
    for (int i = 0; i < 4; i++)
        clrt_tensor_destroy(t[i]);
    if (st != CLRT_OK)
        return st;
    if (loss)
        *loss = samples ? (double)sums[0] / (double)samples : 0.0;
    if (accuracy)
        *accuracy = samples ? (double)sums[1] / (double)samples : 0.0;
    return CLRT_OK;
}
