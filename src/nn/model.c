/* Sequential models: building the layer list, initialisation, parameters,
 * forward (linear+activation fused) and backward, each layer through its
 * kind's row of the table in layers.c. The training step is in train.c. */
#include "nn/nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ building */

clrt_status clrt_model_create(clrt_ctx *ctx, size_t in_features, clrt_model **out)
{
    if (out)
        *out = NULL;
    if (!ctx || !out)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_model_create: ctx and out are needed");
    if (in_features == 0)
        return clrt__fail(ctx, CLRT_ERR_SHAPE, "clrt_model_create: in_features is 0");
    clrt_model *m = calloc(1, sizeof *m);
    if (!m)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a model");
    m->ctx = ctx;
    ctx->live[CLRT__LIVE_MODEL]++; /* from here clrt_model_destroy undoes it */
    m->in = in_features;
    const size_t one = 1;
    clrt_status st = clrt_tensor_create(ctx, 1, &one, CLRT_TENSOR_ZERO, &m->loss_sum);
    if (st == CLRT_OK)
        st = clrt_tensor_create(ctx, 1, &one, 0, &m->loss);
    if (st == CLRT_OK) /* made here, so a step or a check never allocates */
        st = clrt_tensor_create(ctx, 1, &one, CLRT_TENSOR_ZERO, &m->finite_flag);
    if (st != CLRT_OK) {
        clrt_model_destroy(m);
        return st;
    }
    *out = m;
    return CLRT_OK;
}

static void drop_work(clrt_model *m)
{
    for (size_t i = 0; i < m->nlayers; i++) {
        clrt__layer *l = &m->layers[i];
        clrt_tensor_destroy(l->y);
        clrt_tensor_destroy(l->z);
        clrt_tensor_destroy(l->dx);
        l->y = l->z = l->dx = NULL;
    }
    clrt_tensor_destroy(m->dout);
    m->dout = NULL;
    m->batch = 0;
}

void clrt_model_destroy(clrt_model *m)
{
    if (!m)
        return;
    drop_work(m);
    for (size_t i = 0; i < m->nlayers; i++) {
        clrt__layer *l = &m->layers[i];
        for (size_t j = 0; j < CLRT__LAYER_MAX_PARAMS; j++)
            clrt_tensor_destroy(l->param[j]), clrt_tensor_destroy(l->grad[j]);
    }
    clrt_tensor_destroy(m->loss), clrt_tensor_destroy(m->loss_sum);
    clrt_tensor_destroy(m->finite_flag);
    free(m->layers), free(m->params), free(m->grads), free(m->names);
    m->ctx->live[CLRT__LIVE_MODEL]--;
    free(m);
}

size_t clrt_model_out_features(const clrt_model *m)
{
    if (!m)
        return 0;
    return m->nlayers ? m->layers[m->nlayers - 1].out : m->in;
}

/* Append l, creating the parameters and gradients its kind has (zeroed)
 * and naming them "<index>.<suffix>". On failure the model is unchanged. */
static clrt_status push_layer(clrt_model *m, clrt__layer *l)
{
    const clrt__layer_kind *k = l->kind;
    clrt_status st = CLRT_OK;
    for (size_t j = 0; j < k->nparams && st == CLRT_OK; j++) {
        size_t dims[CLRT_MAX_RANK];
        int rank = k->param_shape(l, j, dims);
        st = clrt_tensor_create(m->ctx, rank, dims, CLRT_TENSOR_ZERO, &l->param[j]);
        if (st == CLRT_OK)
            st = clrt_tensor_create(m->ctx, rank, dims, CLRT_TENSOR_ZERO, &l->grad[j]);
    }
    size_t np = m->nparams + k->nparams;
    if (st == CLRT_OK && k->nparams) {
        clrt_tensor **params = realloc(m->params, np * sizeof *params);
        if (params)
            m->params = params;
        clrt_tensor **grads = params ? realloc(m->grads, np * sizeof *grads) : NULL;
        if (grads)
            m->grads = grads;
        char(*names)[32] = grads ? realloc(m->names, np * sizeof *names) : NULL;
        if (names)
            m->names = names;
        if (!names)
            st = clrt__fail(m->ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a layer");
    }
    if (st == CLRT_OK) {
        clrt__layer *room = clrt__array_room(m->layers, &m->cap, m->nlayers, sizeof *room, 8);
        if (room)
            m->layers = room;
        else
            st = clrt__fail(m->ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a layer");
    }
    if (st != CLRT_OK) {
        for (size_t j = 0; j < CLRT__LAYER_MAX_PARAMS; j++)
            clrt_tensor_destroy(l->param[j]), clrt_tensor_destroy(l->grad[j]);
        return st;
    }
    drop_work(m); /* the work tensors follow the layer list */
    size_t index = m->nlayers;
    m->layers[m->nlayers++] = *l;
    for (size_t j = 0; j < k->nparams; j++) {
        m->params[m->nparams] = l->param[j], m->grads[m->nparams] = l->grad[j];
        snprintf(m->names[m->nparams++], 32, "%zu.%s", index, k->param_names[j]);
    }
    return CLRT_OK;
}

clrt_status clrt_model_add_linear(clrt_model *m, size_t out_features)
{
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    if (out_features == 0)
        return clrt__fail(m->ctx, CLRT_ERR_SHAPE, "clrt_model_add_linear: out_features is 0");
    clrt__layer l = {.kind = clrt__layer_kind_of(CLRT_LAYER_LINEAR),
                     .in = clrt_model_out_features(m),
                     .out = out_features};
    return push_layer(m, &l);
}

clrt_status clrt_model_add_act(clrt_model *m, clrt_act act, float param)
{
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    if (!clrt_act_name(act))
        return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG, "clrt_model_add_act: activation %d is "
                                                        "unknown", (int)act);
    size_t w = clrt_model_out_features(m);
    clrt__layer l = {.kind = clrt__layer_kind_of(CLRT_LAYER_ACT), .in = w, .out = w,
                     .act = act, .act_param = param};
    /* Right after a linear layer it runs inside that layer's forward pass. */
    l.fused = m->nlayers > 0 && m->layers[m->nlayers - 1].kind->fuses_act;
    return push_layer(m, &l);
}

clrt_status clrt_model_init(clrt_model *m, uint64_t seed)
{
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    uint64_t rng = seed;
    for (size_t i = 0; i < m->nlayers; i++) {
        clrt__layer *l = &m->layers[i];
        if (l->kind->init)
            CLRT_TRY(l->kind->init(m, l, &rng)); /* in layer order: one stream of draws */
    }
    return CLRT_OK;
}

/* ----------------------------------------------------------- accessors */

clrt_ctx *clrt_model_ctx(const clrt_model *m)
{
    return m ? m->ctx : NULL;
}

size_t clrt_model_num_layers(const clrt_model *m)
{
    return m ? m->nlayers : 0;
}

clrt_status clrt_model_layer(const clrt_model *m, size_t i, clrt_layer_info *out)
{
    if (!m || !out || i >= m->nlayers)
        return CLRT_ERR_INVALID_ARG;
    const clrt__layer *l = &m->layers[i];
    *out = (clrt_layer_info){l->kind->id, l->in, l->out, l->act, l->act_param};
    return CLRT_OK;
}

size_t clrt_model_in_features(const clrt_model *m)
{
    return m ? m->in : 0;
}

size_t clrt_model_num_params(const clrt_model *m)
{
    return m ? m->nparams : 0;
}

clrt_tensor *clrt_model_param(const clrt_model *m, size_t i, const char **name)
{
    if (name)
        *name = m && i < m->nparams ? m->names[i] : NULL;
    return m && i < m->nparams ? m->params[i] : NULL;
}

clrt_tensor *clrt_model_grad(const clrt_model *m, size_t i)
{
    return m && i < m->nparams ? m->grads[i] : NULL;
}

clrt_tensor *const *clrt_model_params(const clrt_model *m)
{
    return m ? m->params : NULL;
}

/* ------------------------------------------------------------- forward */

/* Which input the backward of `act` needs: the pre-activation z, or can it
 * use y? relu'(z) = [z > 0] = [y > 0], so relu runs on y and saves z. */
static bool needs_z(clrt_act act)
{
    return act == CLRT_ACT_LEAKY_RELU || act == CLRT_ACT_SIN || act == CLRT_ACT_GELU ||
           act == CLRT_ACT_GELU_TANH;
}

static clrt_status make_work(clrt_model *m, size_t batch)
{
    if (m->batch == batch)
        return CLRT_OK;
    drop_work(m); /* the pool hands the same buffers back: no allocation */
    /* Activations and their gradients in the context's storage; the
     * parameters and their gradients stay float32 (master weights). */
    const clrt_dtype st = m->ctx->precision;
    for (size_t i = 0; i < m->nlayers; i++) {
        clrt__layer *l = &m->layers[i];
        const size_t yd[2] = {batch, l->out}, xd[2] = {batch, l->in};
        if (l->fused)
            continue; /* its output is the linear layer's */
        CLRT_TRY(clrt_tensor_create_typed(m->ctx, st, 2, yd, 0, &l->y));
        if (i > 0)
            CLRT_TRY(clrt_tensor_create_typed(m->ctx, st, 2, xd, 0, &l->dx));
        bool fused_next = i + 1 < m->nlayers && m->layers[i + 1].fused;
        if (fused_next && needs_z(m->layers[i + 1].act))
            CLRT_TRY(clrt_tensor_create_typed(m->ctx, st, 2, yd, 0, &l->z));
    }
    const size_t od[2] = {batch, clrt_model_out_features(m)};
    CLRT_TRY(clrt_tensor_create_typed(m->ctx, st, 2, od, 0, &m->dout));
    m->batch = batch;
    return CLRT_OK;
}

/* The output tensor of layer i (a fused activation's is its linear's). */
static clrt_tensor *output_of(clrt_model *m, size_t i)
{
    return m->layers[i].fused ? m->layers[i - 1].y : m->layers[i].y;
}

clrt_status clrt_model_forward(clrt_model *m, const clrt_tensor *x, const clrt_tensor **y)
{
    static const char fn[] = "clrt_model_forward";
    if (y)
        *y = NULL;
    if (!m || !y)
        return CLRT_ERR_INVALID_ARG;
    if (m->nlayers == 0)
        return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG, "%s: the model has no layers", fn);
    CLRT_TRY(clrt__expect_dims(m->ctx, fn, "x", x, 2, NULL));
    const size_t xd[2] = {x->shape[0], m->in};
    CLRT_TRY(clrt__expect_dims(m->ctx, fn, "x", x, 2, xd));
    CLRT_TRY(make_work(m, x->shape[0]));
    m->x = x;
    const clrt_tensor *cur = x;
    for (size_t i = 0; i < m->nlayers; i++) {
        clrt__layer *l = &m->layers[i];
        if (l->fused)
            continue; /* run inside the layer before it */
        CLRT_TRY(l->kind->forward(m, i, cur));
        cur = l->y;
    }
    *y = cur;
    return CLRT_OK;
}

/* ------------------------------------------------------------ backward */

clrt_status clrt_model_backward(clrt_model *m, const clrt_tensor *dy, unsigned flags)
{
    static const char fn[] = "clrt_model_backward";
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    if (!m->x || m->batch == 0)
        return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG, "%s: no forward pass to go back through",
                          fn);
    const size_t od[2] = {m->batch, clrt_model_out_features(m)};
    CLRT_TRY(clrt__expect_dims(m->ctx, fn, "dy", dy, 2, od));
    const clrt_tensor *g = dy;
    for (size_t k = m->nlayers; k-- > 0;) {
        /* A fused layer's input is its pair's pre-activation, which its
         * backward finds itself. */
        const clrt_tensor *input = k == 0 ? m->x : output_of(m, k - 1);
        CLRT_TRY(m->layers[k].kind->backward(m, k, input, &g, flags));
    }
    return CLRT_OK;
}

clrt_status clrt_model_zero_grad(clrt_model *m)
{
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    for (size_t i = 0; i < m->nparams; i++)
        CLRT_TRY(clrt_tensor_fill(m->grads[i], 0.0f));
    return CLRT_OK;
}
