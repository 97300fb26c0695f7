/* The training step as compute gradients -> gradient hook -> optimizer
 * step -> loss accounting, the running loss, and evaluation over batches. */
#include "nn/nn.h"

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

clrt_status clrt_model_take_loss(clrt_model *m, double *mean_loss, size_t *samples)
{
    if (!m || !mean_loss)
        return CLRT_ERR_INVALID_ARG;
    float sum = 0.0f;
    CLRT_TRY(clrt_tensor_read(m->loss_sum, &sum, 1));
    *mean_loss = m->loss_samples ? (double)sum / (double)m->loss_samples : 0.0;
    if (samples)
        *samples = m->loss_samples;
    m->loss_samples = 0;
    return clrt_tensor_fill(m->loss_sum, 0.0f);
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
