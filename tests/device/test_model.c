/* Sequential models on each device: initialisation, forward and backward
 * against the reference composed layer by layer (fused and standalone
 * activations), training steps that lower the loss without allocating,
 * the gradient hook between backward and the optimizer step, evaluation,
 * the finiteness checks (the flag pass, clrt_model_check_finite, a NaN
 * loss or weight from clrt_model_take_loss and clrt_model_evaluate), the
 * layer-kind table and the checkpoint layer list it writes, and argument
 * errors. */
#include "harness.h"
#include "nn/nn.h"
#include "verify/ref.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

/* 7 → 33 relu → 5 gelu, tanh (standalone: it follows an activation) → 3 */
static clrt_model *make_model(clrt_ctx *ctx, uint64_t seed)
{
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 7, &m));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 33));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_RELU, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 5));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_GELU, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_TANH, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 3));
    CLRT_ASSERT_OK(ctx, clrt_model_init(m, seed));
    return m;
}

static float *read_param(clrt_ctx *ctx, const clrt_model *m, size_t i)
{
    clrt_tensor *t = clrt_model_param(m, i, NULL);
    size_t n = clrt_tensor_numel(t);
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, v, n));
    return v;
}

static void init_like_pytorch(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *a = make_model(ctx, 5), *b = make_model(ctx, 5), *c = make_model(ctx, 6);
    assert_int_equal(clrt_model_num_layers(a), 6);
    assert_int_equal(clrt_model_num_params(a), 6);
    assert_int_equal(clrt_model_in_features(a), 7);
    assert_int_equal(clrt_model_out_features(a), 3);
    const char *names[6] = {"0.weight", "0.bias", "2.weight", "2.bias", "5.weight", "5.bias"};
    const size_t fan_in[6] = {7, 7, 33, 33, 5, 5};
    for (size_t i = 0; i < 6; i++) {
        const char *name;
        clrt_tensor *p = clrt_model_param(a, i, &name);
        assert_string_equal(name, names[i]);
        assert_int_equal(clrt_tensor_numel(clrt_model_grad(a, i)), clrt_tensor_numel(p));
        float *va = read_param(ctx, a, i), *vb = read_param(ctx, b, i), *vc = read_param(ctx, c, i);
        size_t n = clrt_tensor_numel(p);
        double bound = 1.0 / sqrt((double)fan_in[i]), mean = 0;
        assert_memory_equal(va, vb, n * sizeof *va); /* same seed, same weights */
        assert_true(memcmp(va, vc, n * sizeof *va) != 0);
        for (size_t k = 0; k < n; k++) {
            assert_true(fabs(va[k]) <= bound);
            mean += va[k];
        }
        /* U(-b, b) has mean 0 and sd b/√3: the sample mean is within 4 sd/√n. */
        assert_true(fabs(mean / (double)n) <= 4 * bound / sqrt(3.0 * (double)n));
        free(va), free(vb), free(vc);
    }
    clrt_layer_info li;
    CLRT_ASSERT_OK(ctx, clrt_model_layer(a, 3, &li));
    assert_int_equal(li.kind, CLRT_LAYER_ACT);
    assert_int_equal(li.act, CLRT_ACT_GELU);
    assert_int_equal(li.in, 5);
    assert_int_equal(clrt_model_layer(a, 6, &li), CLRT_ERR_INVALID_ARG);
    clrt_model_destroy(a), clrt_model_destroy(b), clrt_model_destroy(c);
    clrt_test_ctx_done(ctx);
}

/* The reference forward and backward of make_model's stack, in float
 * through ref.c's layers. act_out[k] holds each layer's output. */
typedef struct ref_run {
    float *out[6];
} ref_run;

static const size_t widths[7] = {7, 33, 33, 5, 5, 5, 3};

static void ref_forward(clrt_ctx *ctx, const clrt_model *m, size_t batch, const float *x,
                        ref_run *r)
{
    const float *cur = x;
    for (size_t k = 0; k < 6; k++) {
        clrt_layer_info li;
        CLRT_ASSERT_OK(ctx, clrt_model_layer(m, k, &li));
        r->out[k] = malloc(batch * widths[k + 1] * sizeof(float));
        if (li.kind == CLRT_LAYER_LINEAR) {
            size_t p = k == 0 ? 0 : k == 2 ? 2 : 4;
            float *w = read_param(ctx, m, p), *b = read_param(ctx, m, p + 1);
            clrt_ref_linear_forward(batch, li.in, li.out, cur, w, b, CLRT_ACT_IDENTITY, 0, NULL,
                                    r->out[k]);
            free(w), free(b);
        } else {
            clrt_ref_act_forward(li.act, li.act_param, batch, li.out, cur, r->out[k]);
        }
        cur = r->out[k];
    }
}

static void forward_backward_against_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m = make_model(ctx, 9);
    const size_t batch = 11;
    float x[11 * 7], dy[11 * 3], y[11 * 3];
    clrt_test_random(x, batch * 7, 1);
    clrt_test_random(dy, batch * 3, 2);
    const size_t xd[2] = {batch, 7}, yd[2] = {batch, 3};
    clrt_tensor *tx, *tdy;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, xd, 0, &tx));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, yd, 0, &tdy));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tx, x, batch * 7));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tdy, dy, batch * 3));
    const clrt_tensor *ty;
    CLRT_ASSERT_OK(ctx, clrt_model_forward(m, tx, &ty));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(ty, y, batch * 3));
    ref_run r;
    ref_forward(ctx, m, batch, x, &r);
    /* Three GEMMs of length <= 33 and float activations in a row: 1e-5
     * relative leaves room for each layer's (K+2)·eps and a few ulps. */
    for (size_t i = 0; i < batch * 3; i++)
        if (fabs(y[i] - r.out[5][i]) > 1e-5 * (1 + fabs(r.out[5][i])))
            fail_msg("y[%zu] = %.8g, reference %.8g", i, y[i], r.out[5][i]);

    /* Backward through the reference, layer by layer from the top. */
    CLRT_ASSERT_OK(ctx, clrt_model_backward(m, tdy, 0));
    float *g = malloc(sizeof dy);
    memcpy(g, dy, sizeof dy);
    float *grads[6] = {0};
    for (size_t k = 6; k-- > 0;) {
        clrt_layer_info li;
        CLRT_ASSERT_OK(ctx, clrt_model_layer(m, k, &li));
        const float *in = k == 0 ? x : r.out[k - 1];
        float *dx = malloc(batch * li.in * sizeof(float));
        if (li.kind == CLRT_LAYER_LINEAR) {
            size_t p = k == 0 ? 0 : k == 2 ? 2 : 4;
            float *w = read_param(ctx, m, p);
            grads[p] = malloc(li.out * li.in * sizeof(float));
            grads[p + 1] = malloc(li.out * sizeof(float));
            clrt_ref_linear_backward(batch, li.in, li.out, in, w, g, dx, grads[p], grads[p + 1], 0);
            free(w);
        } else {
            clrt_ref_act_backward(li.act, li.act_param, batch, li.out, in, r.out[k], g, dx);
        }
        free(g);
        g = dx;
    }
    free(g);
    for (size_t p = 0; p < 6; p++) {
        size_t n = clrt_tensor_numel(clrt_model_grad(m, p));
        float *dev = malloc(n * sizeof *dev);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(clrt_model_grad(m, p), dev, n));
        for (size_t i = 0; i < n; i++)
            if (fabs(dev[i] - grads[p][i]) > 1e-5 * (1 + fabs(grads[p][i])))
                fail_msg("grad %zu [%zu] = %.8g, reference %.8g", p, i, dev[i], grads[p][i]);
        free(dev);
        free(grads[p]);
    }
    /* Accumulating twice from zero gives twice the gradient. */
    CLRT_ASSERT_OK(ctx, clrt_model_zero_grad(m));
    CLRT_ASSERT_OK(ctx, clrt_model_backward(m, tdy, CLRT_GRAD_ACCUMULATE));
    CLRT_ASSERT_OK(ctx, clrt_model_backward(m, tdy, CLRT_GRAD_ACCUMULATE));
    {
        size_t n = clrt_tensor_numel(clrt_model_grad(m, 1));
        float *once = malloc(n * sizeof *once), *twice = malloc(n * sizeof *twice);
        CLRT_ASSERT_OK(ctx, clrt_model_backward(m, tdy, 0));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(clrt_model_grad(m, 1), once, n));
        CLRT_ASSERT_OK(ctx, clrt_model_zero_grad(m));
        CLRT_ASSERT_OK(ctx, clrt_model_backward(m, tdy, CLRT_GRAD_ACCUMULATE));
        CLRT_ASSERT_OK(ctx, clrt_model_backward(m, tdy, CLRT_GRAD_ACCUMULATE));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(clrt_model_grad(m, 1), twice, n));
        for (size_t i = 0; i < n; i++)
            assert_true(fabs(twice[i] - 2 * once[i]) <= 1e-6 * (1 + fabs(once[i])));
        free(once), free(twice);
    }
    for (size_t k = 0; k < 6; k++)
        free(r.out[k]);
    clrt_tensor_destroy(tx), clrt_tensor_destroy(tdy);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

static void training_lowers_loss_without_allocating(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m = make_model(ctx, 3);
    const size_t batch = 16;
    float x[16 * 7], labels[16];
    clrt_test_random(x, batch * 7, 4);
    for (size_t i = 0; i < batch; i++)
        labels[i] = (float)(i % 3);
    const size_t xd[2] = {batch, 7};
    clrt_tensor *tx, *tl;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, xd, 0, &tx));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &batch, 0, &tl));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tx, x, batch * 7));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tl, labels, batch));
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    oo.lr = 0.03f;
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(m),
                                          clrt_model_params(m), &opt));
    double first = 0, last = 0;
    size_t samples = 0;
    clrt_memory_stats before, after;
    int steps = clrt_test_device()->is_simulator ? 12 : 40;
    for (int s = 0; s < steps; s++) {
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, tx, tl));
        if (s == 0) {
            CLRT_ASSERT_OK(ctx, clrt_model_take_loss(m, &first, &samples));
            assert_int_equal(samples, batch);
            CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &before));
        }
    }
    CLRT_ASSERT_OK(ctx, clrt_model_take_loss(m, &last, &samples));
    assert_int_equal(samples, batch * (size_t)(steps - 1));
    /* The loss of one more step alone. */
    CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, tx, tl));
    CLRT_ASSERT_OK(ctx, clrt_model_take_loss(m, &last, &samples));
    assert_int_equal(samples, batch);
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &after));
    assert_int_equal(after.allocations, before.allocations); /* steps after the first allocate nothing */
    assert_true(first > 0.9 && first < 1.5); /* ≈ ln 3 for an untrained 3-class model */
    assert_true(last < 0.8 * first);
    clrt_optim_destroy(opt);
    clrt_tensor_destroy(tx), clrt_tensor_destroy(tl);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

static void evaluate_counts_correct_rows(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    /* A 2-class "model" whose single linear layer is the identity: the
     * prediction is the larger of the two features. */
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 2, &m));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 2));
    const float eye[4] = {1, 0, 0, 1}, zero[2] = {0, 0};
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(clrt_model_param(m, 0, NULL), eye, 4));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(clrt_model_param(m, 1, NULL), zero, 2));
    /* 10 rows, 7 labelled as the larger feature: accuracy 0.7. */
    float data[20], labels[10];
    double loss_sum = 0;
    for (int i = 0; i < 10; i++) {
        data[2 * i] = (float)i;
        data[2 * i + 1] = (float)(9 - i); /* row i: class 0 wins when i > 4.5 */
        int winner = i > 4 ? 0 : 1;
        labels[i] = (float)(i < 7 ? winner : 1 - winner);
        double a = data[2 * i], b = data[2 * i + 1], mx = fmax(a, b);
        double lse = mx + log(exp(a - mx) + exp(b - mx));
        loss_sum += lse - (labels[i] == 0 ? a : b);
    }
    char err[256];
    clrt_dataset *ds;
    assert_int_equal(clrt_dataset_create(10, 2, data, labels, &ds, err, sizeof err), CLRT_OK);
    clrt_loader_options lo;
    clrt_loader_options_init(&lo);
    lo.batch = 4; /* 4 + 4 + a partial 2 */
    clrt_loader *l;
    CLRT_ASSERT_OK(ctx, clrt_loader_create(ctx, ds, &lo, &l));
    double loss, acc;
    CLRT_ASSERT_OK(ctx, clrt_model_evaluate(m, l, &loss, &acc));
    assert_float_equal(acc, 0.7, 1e-9);
    assert_float_equal(loss, loss_sum / 10, 1e-5);
    clrt_loader_destroy(l);
    clrt_dataset_destroy(ds);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------- gradient hook */

/* A batch of 16 rows of make_model's 7 features, labels 0, 1, 2, 0, ... */
typedef struct batch {
    clrt_tensor *x, *labels;
} batch;

static batch make_batch(clrt_ctx *ctx)
{
    float x[16 * 7], labels[16];
    clrt_test_random(x, 16 * 7, 4);
    for (size_t i = 0; i < 16; i++)
        labels[i] = (float)(i % 3);
    return (batch){clrt_test_matrix(ctx, 16, 7, x), clrt_test_vector(ctx, 16, labels)};
}

static void batch_done(batch *b)
{
    clrt_tensor_destroy(b->x), clrt_tensor_destroy(b->labels);
}

static clrt_optim *plain_sgd(clrt_ctx *ctx, clrt_model *m, float lr, float momentum)
{
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_SGD);
    oo.lr = lr;
    oo.momentum = momentum;
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(m),
                                          clrt_model_params(m), &opt));
    return opt;
}

/* Every parameter of a and b; `rel` 0 asks for the same bits. */
static void assert_params_match(clrt_ctx *ctx, const clrt_model *a, const clrt_model *b,
                                double rel)
{
    assert_int_equal(clrt_model_num_params(a), clrt_model_num_params(b));
    for (size_t i = 0; i < clrt_model_num_params(a); i++) {
        const char *name;
        size_t n = clrt_tensor_numel(clrt_model_param(a, i, &name));
        float *va = read_param(ctx, a, i), *vb = read_param(ctx, b, i);
        if (rel == 0)
            assert_memory_equal(va, vb, n * sizeof *va);
        else
            clrt_test_assert_tol(name, va, vb, n, (clrt__tol){.rel = rel, .abs = rel});
        free(va), free(vb);
    }
}

static bool params_differ(clrt_ctx *ctx, const clrt_model *a, const clrt_model *b)
{
    bool differ = false;
    for (size_t i = 0; i < clrt_model_num_params(a) && !differ; i++) {
        size_t n = clrt_tensor_numel(clrt_model_param(a, i, NULL));
        float *va = read_param(ctx, a, i), *vb = read_param(ctx, b, i);
        differ = memcmp(va, vb, n * sizeof *va) != 0;
        free(va), free(vb);
    }
    return differ;
}

typedef struct hook_log {
    int calls;
    clrt_status fail_with; /* returned by failing_hook */
} hook_log;

static clrt_status halve_grads(clrt_model *m, clrt_tensor *const *grads, size_t count, void *user)
{
    ((hook_log *)user)->calls++;
    for (size_t i = 0; i < count; i++)
        CLRT_TRY(clrt_scale(clrt_model_ctx(m), 0.5f, grads[i], grads[i]));
    return CLRT_OK;
}

static void grad_hook_scaling_equals_smaller_lr(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    batch b = make_batch(ctx);
    clrt_model *hooked = make_model(ctx, 3), *half = make_model(ctx, 3), *full = make_model(ctx, 3);
    clrt_optim *o_hooked = plain_sgd(ctx, hooked, 0.2f, 0), *o_half = plain_sgd(ctx, half, 0.1f, 0),
               *o_full = plain_sgd(ctx, full, 0.2f, 0);
    hook_log log = {0, CLRT_OK};
    CLRT_ASSERT_OK(ctx, clrt_model_set_grad_hook(hooked, halve_grads, &log));
    for (int s = 0; s < 3; s++) {
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(hooked, o_hooked, CLRT_LOSS_CROSS_ENTROPY, b.x,
                                                  b.labels));
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(half, o_half, CLRT_LOSS_CROSS_ENTROPY, b.x,
                                                  b.labels));
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(full, o_full, CLRT_LOSS_CROSS_ENTROPY, b.x,
                                                  b.labels));
    }
    assert_int_equal(log.calls, 3);
    /* p - lr·(g/2) and p - (lr/2)·g differ by rounding only (halving is
     * exact): 1e-6 covers it, and three steps of different weights feed
     * different gradients. */
    assert_params_match(ctx, hooked, half, 1e-6);
    assert_true(params_differ(ctx, hooked, full)); /* the hook did change the step */
    clrt_optim_destroy(o_hooked), clrt_optim_destroy(o_half), clrt_optim_destroy(o_full);
    clrt_model_destroy(hooked), clrt_model_destroy(half), clrt_model_destroy(full);
    batch_done(&b);
    clrt_test_ctx_done(ctx);
}

/* What the hook saw: its arguments, and the gradients and weights read
 * inside it. */
typedef struct hook_view {
    clrt_model *model;
    size_t count;
    bool own_grads;
    float *grads[6], *weights[6];
} hook_view;

static clrt_status record_view(clrt_model *m, clrt_tensor *const *grads, size_t count, void *user)
{
    hook_view *v = user;
    v->model = m;
    v->count = count;
    v->own_grads = count == clrt_model_num_params(m);
    for (size_t i = 0; i < count && i < 6; i++) {
        v->own_grads = v->own_grads && grads[i] == clrt_model_grad(m, i);
        size_t n = clrt_tensor_numel(grads[i]);
        v->grads[i] = malloc(n * sizeof(float));
        v->weights[i] = malloc(n * sizeof(float));
        CLRT_TRY(clrt_tensor_read(grads[i], v->grads[i], n));
        CLRT_TRY(clrt_tensor_read(clrt_model_param(m, i, NULL), v->weights[i], n));
    }
    return CLRT_OK;
}

static void grad_hook_sees_the_computed_gradients(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    batch b = make_batch(ctx);
    clrt_model *m = make_model(ctx, 8), *twin = make_model(ctx, 8);
    clrt_optim *opt = plain_sgd(ctx, m, 0.1f, 0.9f);
    hook_view v = {0};
    CLRT_ASSERT_OK(ctx, clrt_model_set_grad_hook(m, record_view, &v));
    CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels));
    assert_ptr_equal(v.model, m);
    assert_int_equal(v.count, clrt_model_num_params(m));
    assert_int_equal(v.count, 6);
    assert_true(v.own_grads);
    /* The twin's forward, loss and backward by hand: the hook saw those
     * gradients, and the weights before the optimizer step. */
    const clrt_tensor *y;
    const size_t one = 1, yd[2] = {16, 3};
    clrt_tensor *loss, *dy;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &one, 0, &loss));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, yd, 0, &dy));
    CLRT_ASSERT_OK(ctx, clrt_model_forward(twin, b.x, &y));
    CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, y, b.labels, loss, dy));
    CLRT_ASSERT_OK(ctx, clrt_model_backward(twin, dy, 0));
    for (size_t i = 0; i < 6; i++) {
        size_t n = clrt_tensor_numel(clrt_model_grad(twin, i));
        float *g = malloc(n * sizeof *g), *w = read_param(ctx, twin, i);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(clrt_model_grad(twin, i), g, n));
        /* The same kernels on the same inputs; 1e-6 leaves room for a GEMM
         * backend that splits its sums differently from one call to the
         * next. */
        clrt_test_assert_tol("gradient seen by the hook", v.grads[i], g, n,
                             (clrt__tol){.rel = 1e-6, .abs = 1e-7});
        assert_memory_equal(v.weights[i], w, n * sizeof *w);
        free(g), free(w), free(v.grads[i]), free(v.weights[i]);
    }
    assert_true(params_differ(ctx, m, twin)); /* then the optimizer stepped */
    assert_int_equal(clrt_optim_steps(opt), 1);
    clrt_tensor_destroy(loss), clrt_tensor_destroy(dy);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m), clrt_model_destroy(twin);
    batch_done(&b);
    clrt_test_ctx_done(ctx);
}

static clrt_status failing_hook(clrt_model *m, clrt_tensor *const *grads, size_t count,
                                void *user)
{
    (void)m, (void)grads, (void)count;
    hook_log *log = user;
    log->calls++;
    return log->fail_with;
}

/* A clrt call inside the hook fails: grads 0 and 1 have other shapes. */
static clrt_status shape_error_hook(clrt_model *m, clrt_tensor *const *grads, size_t count,
                                    void *user)
{
    (void)count, (void)user;
    return clrt_add(clrt_model_ctx(m), grads[0], grads[1], grads[0]);
}

static void failing_grad_hook_leaves_the_model_unstepped(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    batch b = make_batch(ctx);
    clrt_model *m = make_model(ctx, 4), *same = make_model(ctx, 4);
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    clrt_optim *opt, *opt_same;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &oo, 6, clrt_model_params(m), &opt));
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &oo, 6, clrt_model_params(same), &opt_same));
    /* One good step on both, then failing steps on m only. */
    CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels));
    CLRT_ASSERT_OK(ctx, clrt_model_train_step(same, opt_same, CLRT_LOSS_CROSS_ENTROPY, b.x,
                                              b.labels));
    hook_log log = {0, CLRT_ERR_UNSUPPORTED};
    CLRT_ASSERT_OK(ctx, clrt_model_set_grad_hook(m, failing_hook, &log));
    assert_int_equal(clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels),
                     CLRT_ERR_UNSUPPORTED);
    assert_int_equal(log.calls, 1);
    const char *msg = clrt_ctx_errmsg(ctx);
    assert_non_null(strstr(msg, "clrt_model_train_step"));
    assert_non_null(strstr(msg, "gradient hook returned CLRT_ERR_UNSUPPORTED"));
    assert_int_equal(clrt_optim_steps(opt), 1);
    assert_params_match(ctx, m, same, 0);
    /* The hook's own detail is kept after the hook's name. */
    CLRT_ASSERT_OK(ctx, clrt_model_set_grad_hook(m, shape_error_hook, NULL));
    assert_int_equal(clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels),
                     CLRT_ERR_SHAPE);
    msg = clrt_ctx_errmsg(ctx);
    assert_non_null(strstr(msg, "gradient hook returned CLRT_ERR_SHAPE"));
    assert_non_null(strstr(msg, "clrt_add"));
    assert_non_null(strstr(msg, "[33, 7]"));
    assert_int_equal(clrt_optim_steps(opt), 1);
    assert_params_match(ctx, m, same, 0);
    /* A hook that fails without a message of its own does not carry the
     * previous failure's detail as if it were this one's. */
    CLRT_ASSERT_OK(ctx, clrt_model_set_grad_hook(m, failing_hook, &log));
    assert_int_equal(clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels),
                     CLRT_ERR_UNSUPPORTED);
    msg = clrt_ctx_errmsg(ctx);
    assert_non_null(strstr(msg, "gradient hook returned CLRT_ERR_UNSUPPORTED"));
    assert_null(strstr(msg, "clrt_add"));
    assert_null(strstr(msg, "Last message"));
    assert_int_equal(clrt_optim_steps(opt), 1);
    /* Only the good step's loss was counted. */
    double mean;
    size_t samples;
    CLRT_ASSERT_OK(ctx, clrt_model_take_loss(m, &mean, &samples));
    assert_int_equal(samples, 16);
    clrt_optim_destroy(opt), clrt_optim_destroy(opt_same);
    clrt_model_destroy(m), clrt_model_destroy(same);
    batch_done(&b);
    clrt_test_ctx_done(ctx);
}

static void removed_grad_hook_gives_the_plain_step(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    batch b = make_batch(ctx);
    clrt_model *was_hooked = make_model(ctx, 5), *never = make_model(ctx, 5);
    clrt_optim *o1 = plain_sgd(ctx, was_hooked, 0.1f, 0.9f);
    clrt_optim *o2 = plain_sgd(ctx, never, 0.1f, 0.9f);
    hook_log log = {0, CLRT_OK};
    CLRT_ASSERT_OK(ctx, clrt_model_set_grad_hook(was_hooked, halve_grads, &log));
    CLRT_ASSERT_OK(ctx, clrt_model_set_grad_hook(was_hooked, NULL, &log));
    for (int s = 0; s < 2; s++) {
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(was_hooked, o1, CLRT_LOSS_CROSS_ENTROPY, b.x,
                                                  b.labels));
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(never, o2, CLRT_LOSS_CROSS_ENTROPY, b.x,
                                                  b.labels));
    }
    assert_int_equal(log.calls, 0);
    assert_params_match(ctx, was_hooked, never, 0);
    assert_int_equal(clrt_model_set_grad_hook(NULL, halve_grads, &log), CLRT_ERR_INVALID_ARG);
    clrt_optim_destroy(o1), clrt_optim_destroy(o2);
    clrt_model_destroy(was_hooked), clrt_model_destroy(never);
    batch_done(&b);
    clrt_test_ctx_done(ctx);
}

/* --------------------------------------------------------- finiteness */

/* Element `at` of parameter i := v. */
static void poke_param(clrt_ctx *ctx, clrt_model *m, size_t i, size_t at, float v)
{
    clrt_tensor *t = clrt_model_param(m, i, NULL);
    float *p = read_param(ctx, m, i);
    p[at] = v;
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, p, clrt_tensor_numel(t)));
    free(p);
}

static uint32_t read_flag(clrt_ctx *ctx, const clrt_tensor *flag)
{
    float word;
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(flag, &word, 1));
    uint32_t tag;
    memcpy(&tag, &word, sizeof tag);
    return tag;
}

static void assert_numeric(clrt_ctx *ctx, clrt_status st, const char *const *needles)
{
    const char *msg = clrt_ctx_errmsg(ctx);
    if (st != CLRT_ERR_NUMERIC)
        fail_msg("got %s (\"%s\"), expected CLRT_ERR_NUMERIC", clrt_status_str(st), msg);
    for (; *needles; needles++)
        if (!strstr(msg, *needles))
            fail_msg("\"%s\" does not say \"%s\"", msg, *needles);
}

/* The flag pass on odd sizes (several work-groups from 4099 up): finite
 * data leaves the flag as it was; NaN, inf or -inf at the first, a middle
 * or the last element raises it to the tag; of two tags the larger stays,
 * in either order. */
static void nonfinite_flag_on_odd_sizes(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const bool sim = clrt_test_device()->is_simulator;
    const size_t sizes[] = {1, 7, 33, 257, 4099, 70001};
    const float bad[] = {NAN, INFINITY, -INFINITY};
    const size_t one = 1;
    clrt_tensor *flag;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &one, CLRT_TENSOR_ZERO, &flag));
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const size_t n = sizes[s];
        if (sim && n > 5000)
            continue; /* oclgrind interprets every item: the multi-group case 4099 suffices */
        float *h = malloc(n * sizeof *h);
        assert_non_null(h);
        clrt_test_random(h, n, (uint32_t)n);
        h[n / 2] = FLT_MAX, h[0] = -FLT_MAX; /* large is still finite */
        clrt_tensor *x = clrt_test_vector(ctx, n, h);
        CLRT_ASSERT_OK(ctx, clrt_tensor_fill(flag, 0.0f));
        CLRT_ASSERT_OK(ctx, clrt__flag_nonfinite(ctx, x, 5, flag));
        if (read_flag(ctx, flag) != 0)
            fail_msg("n %zu: finite data raised the flag to %u", n, read_flag(ctx, flag));
        const size_t at[3] = {0, n / 2, n - 1};
        for (size_t a = 0; a < 3; a++)
            for (size_t b = 0; b < 3; b++) {
                float keep = h[at[a]];
                h[at[a]] = bad[b];
                CLRT_ASSERT_OK(ctx, clrt_tensor_write(x, h, n));
                CLRT_ASSERT_OK(ctx, clrt_tensor_fill(flag, 0.0f));
                CLRT_ASSERT_OK(ctx, clrt__flag_nonfinite(ctx, x, 5, flag));
                uint32_t got = read_flag(ctx, flag);
                if (got != 5)
                    fail_msg("n %zu: %g at %zu gave flag %u, expected 5", n, (double)bad[b],
                             at[a], got);
                /* The larger tag stays, whichever comes first. */
                CLRT_ASSERT_OK(ctx, clrt__flag_nonfinite(ctx, x, 3, flag));
                assert_int_equal(read_flag(ctx, flag), 5);
                CLRT_ASSERT_OK(ctx, clrt__flag_nonfinite(ctx, x, 9, flag));
                assert_int_equal(read_flag(ctx, flag), 9);
                h[at[a]] = keep;
            }
        clrt_tensor_destroy(x);
        free(h);
    }
    clrt_tensor *empty;
    const size_t zero = 0;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &zero, 0, &empty));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(flag, 0.0f));
    CLRT_ASSERT_OK(ctx, clrt__flag_nonfinite(ctx, empty, 5, flag));
    assert_int_equal(read_flag(ctx, flag), 0);
    assert_int_equal(clrt__flag_nonfinite(ctx, flag, 0, flag), CLRT_ERR_INVALID_ARG); /* tag 0 */
    clrt_tensor_destroy(empty);
    clrt_tensor_destroy(flag);
    clrt_test_ctx_done(ctx);
}

/* clrt_model_check_finite names the first parameter (in parameter order)
 * holding NaN or an infinity, and its first such element. */
static void check_finite_names_the_first_bad_parameter(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m = make_model(ctx, 1);
    CLRT_ASSERT_OK(ctx, clrt_model_check_finite(m));
    float *w2 = read_param(ctx, m, 2), *b5 = read_param(ctx, m, 5), *b0 = read_param(ctx, m, 1);

    poke_param(ctx, m, 2, 17, NAN); /* 2.weight [5, 33] */
    const char *nan_w2[] = {"clrt_model_check_finite", "parameter 2.weight holds a non-finite "
                            "value", "element 17 of [5, 33] is NaN", NULL};
    assert_numeric(ctx, clrt_model_check_finite(m), nan_w2);
    poke_param(ctx, m, 2, 3, -INFINITY); /* an earlier element of the same tensor */
    const char *inf_w2[] = {"parameter 2.weight", "element 3 of [5, 33] is -inf", NULL};
    assert_numeric(ctx, clrt_model_check_finite(m), inf_w2);
    poke_param(ctx, m, 5, 2, INFINITY); /* a later parameter: still 2.weight */
    assert_numeric(ctx, clrt_model_check_finite(m), inf_w2);
    poke_param(ctx, m, 1, 32, INFINITY); /* an earlier one, its last element */
    const char *inf_b0[] = {"parameter 0.bias", "element 32 of [33] is inf", NULL};
    assert_numeric(ctx, clrt_model_check_finite(m), inf_b0);

    CLRT_ASSERT_OK(ctx, clrt_tensor_write(clrt_model_param(m, 2, NULL), w2, 5 * 33));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(clrt_model_param(m, 5, NULL), b5, 3));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(clrt_model_param(m, 1, NULL), b0, 33));
    CLRT_ASSERT_OK(ctx, clrt_model_check_finite(m));
    assert_int_equal(clrt_model_check_finite(NULL), CLRT_ERR_INVALID_ARG);
    clrt_model *bare;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 3, &bare));
    CLRT_ASSERT_OK(ctx, clrt_model_check_finite(bare)); /* no parameters */
    clrt_model_destroy(bare);
    free(w2), free(b5), free(b0);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

/* Steps with lr 3e38 (a float still) blow the weights up; the steps
 * enqueue and succeed, and the loss read after them is CLRT_ERR_NUMERIC
 * with the loss and the count still given and the sum restarted. */
static void take_loss_after_a_huge_lr_is_numeric(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m = make_model(ctx, 2);
    batch b = make_batch(ctx);
    clrt_optim *opt = plain_sgd(ctx, m, 3e38f, 0.0f);
    for (int s = 0; s < 3; s++)
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels));
    double mean = 0;
    size_t samples = 0;
    const char *needles[] = {"clrt_model_take_loss", "non-finite value", "parameter ", NULL};
    assert_numeric(ctx, clrt_model_take_loss(m, &mean, &samples), needles);
    assert_int_equal(samples, 48);
    assert_numeric(ctx, clrt_model_check_finite(m), needles + 1);
    /* The sum restarted: nothing counted, the weights still named. */
    assert_numeric(ctx, clrt_model_take_loss(m, &mean, &samples), needles);
    assert_int_equal(samples, 0);
    assert_true(mean == 0.0);
    clrt_optim_destroy(opt);
    batch_done(&b);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

static clrt_status zero_grads_hook(clrt_model *m, clrt_tensor *const *grads, size_t count,
                                   void *user)
{
    (void)m, (void)user;
    for (size_t i = 0; i < count; i++)
        CLRT_TRY(clrt_tensor_fill(grads[i], 0.0f));
    return CLRT_OK;
}

/* A NaN loss with finite weights (a label outside the classes, its
 * gradients zeroed by the hook) is named as the running loss. */
static void take_loss_names_a_nan_loss(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m = make_model(ctx, 3);
    batch b = make_batch(ctx);
    float labels[16];
    for (size_t i = 0; i < 16; i++)
        labels[i] = (float)(i % 3);
    labels[5] = 7.0f; /* 3 classes */
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(b.labels, labels, 16));
    clrt_optim *opt = plain_sgd(ctx, m, 0.1f, 0.0f);
    CLRT_ASSERT_OK(ctx, clrt_model_set_grad_hook(m, zero_grads_hook, NULL));
    CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels));
    double mean = 0;
    size_t samples = 0;
    const char *needles[] = {"clrt_model_take_loss: the running loss over 16 samples is NaN",
                             "the parameters are finite", NULL};
    assert_numeric(ctx, clrt_model_take_loss(m, &mean, &samples), needles);
    assert_true(isnan(mean));
    assert_int_equal(samples, 16);
    CLRT_ASSERT_OK(ctx, clrt_model_check_finite(m));
    /* Good labels again: the restarted sum is finite. */
    for (size_t i = 0; i < 16; i++)
        labels[i] = (float)(i % 3);
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(b.labels, labels, 16));
    CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels));
    CLRT_ASSERT_OK(ctx, clrt_model_take_loss(m, &mean, &samples));
    assert_true(isfinite(mean) && mean > 0);
    clrt_optim_destroy(opt);
    batch_done(&b);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

/* clrt_model_evaluate with a NaN weight, then an infinite bias: the test
 * loss is NaN, the status CLRT_ERR_NUMERIC naming the parameter, with the
 * loss and accuracy given all the same; with the caller asking for the
 * accuracy alone too. */
static void evaluate_with_nan_weights_is_numeric(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 2, &m));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 2));
    const float eye[4] = {1, 0, 0, 1}, zero[2] = {0, 0};
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(clrt_model_param(m, 0, NULL), eye, 4));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(clrt_model_param(m, 1, NULL), zero, 2));
    float data[20], labels[10];
    for (int i = 0; i < 10; i++)
        data[2 * i] = (float)i, data[2 * i + 1] = (float)(9 - i), labels[i] = (float)(i % 2);
    char err[256];
    clrt_dataset *ds;
    assert_int_equal(clrt_dataset_create(10, 2, data, labels, &ds, err, sizeof err), CLRT_OK);
    clrt_loader_options lo;
    clrt_loader_options_init(&lo);
    lo.batch = 4;
    clrt_loader *l;
    CLRT_ASSERT_OK(ctx, clrt_loader_create(ctx, ds, &lo, &l));
    double loss = 0, acc = -1;
    CLRT_ASSERT_OK(ctx, clrt_model_evaluate(m, l, &loss, &acc));
    assert_true(isfinite(loss));

    poke_param(ctx, m, 0, 3, NAN);
    const char *nan_w[] = {"clrt_model_evaluate: the loss over the loader's 10 samples is NaN",
                           "parameter 0.weight holds a non-finite value",
                           "element 3 of [2, 2] is NaN", NULL};
    assert_numeric(ctx, clrt_model_evaluate(m, l, &loss, &acc), nan_w);
    assert_true(isnan(loss));
    assert_true(acc >= 0 && acc <= 1);
    acc = -1;
    assert_numeric(ctx, clrt_model_evaluate(m, l, NULL, &acc), nan_w);
    assert_true(acc >= 0 && acc <= 1);
    poke_param(ctx, m, 0, 3, 1.0f);
    poke_param(ctx, m, 1, 0, INFINITY);
    const char *inf_b[] = {"clrt_model_evaluate: the loss over the loader's 10 samples is",
                           "parameter 0.bias", "element 0 of [2] is inf", NULL};
    assert_numeric(ctx, clrt_model_evaluate(m, l, &loss, NULL), inf_b);
    assert_false(isfinite(loss));
    poke_param(ctx, m, 1, 0, 0.0f);
    CLRT_ASSERT_OK(ctx, clrt_model_evaluate(m, l, &loss, &acc));
    assert_true(isfinite(loss));
    clrt_loader_destroy(l);
    clrt_dataset_destroy(ds);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

/* ---------------------------------------------- layer kinds, checkpoints */

static void layer_kinds_name_and_parse_back(void **state)
{
    (void)state;
    size_t n;
    const clrt__layer_kind *kinds = clrt__layer_kinds(&n);
    assert_int_equal(n, 2);
    assert_ptr_equal(clrt__layer_kind_of(CLRT_LAYER_LINEAR), &kinds[CLRT_LAYER_LINEAR]);
    assert_ptr_equal(clrt__layer_kind_of(CLRT_LAYER_ACT), &kinds[CLRT_LAYER_ACT]);
    assert_null(clrt__layer_kind_of((clrt_layer_kind)2));
    assert_int_equal(kinds[CLRT_LAYER_LINEAR].nparams, 2);
    assert_string_equal(kinds[CLRT_LAYER_LINEAR].param_names[0], "weight");
    assert_string_equal(kinds[CLRT_LAYER_LINEAR].param_names[1], "bias");
    assert_int_equal(kinds[CLRT_LAYER_ACT].nparams, 0);
    /* Every activation's name parses back to it; only leaky_relu records
     * its parameter. */
    int acts = 0;
    for (int a = 0; clrt_act_name((clrt_act)a); a++, acts++) {
        clrt_layer_info li = {CLRT_LAYER_ACT, 4, 4, (clrt_act)a, 0.1f}, back = {0};
        const char *type = kinds[CLRT_LAYER_ACT].type(&li);
        assert_string_equal(type, clrt_act_name((clrt_act)a));
        assert_ptr_equal(clrt__layer_kind_parse(type, &back), &kinds[CLRT_LAYER_ACT]);
        assert_int_equal(back.kind, CLRT_LAYER_ACT);
        assert_int_equal(back.act, a);
        assert_int_equal(kinds[CLRT_LAYER_ACT].takes_param(&li), a == CLRT_ACT_LEAKY_RELU);
    }
    assert_int_equal(acts, CLRT_ACT_SOFTMAX + 1);
    clrt_layer_info li = {CLRT_LAYER_LINEAR, 3, 4, CLRT_ACT_IDENTITY, 0}, back = {0};
    back.kind = CLRT_LAYER_ACT;
    assert_ptr_equal(clrt__layer_kind_parse(kinds[CLRT_LAYER_LINEAR].type(&li), &back),
                     &kinds[CLRT_LAYER_LINEAR]);
    assert_int_equal(back.kind, CLRT_LAYER_LINEAR);
    assert_false(kinds[CLRT_LAYER_LINEAR].takes_param(&li));
    assert_null(clrt__layer_kind_parse("conv2d", NULL));
    assert_null(clrt__layer_kind_parse("Linear", NULL));
    /* The words of messages, for known kinds and for a type from a newer
     * file. */
    char buf[96];
    const clrt__layer_record recs[] = {
        {"linear", 784, 512, NULL, 0},
        {"leaky_relu", 512, 512, "negative_slope", 0.01f},
        {"relu", 512, 512, NULL, 0},
        {"conv2d", 8, 16, NULL, 0},
    };
    const char *words[] = {"linear 784->512", "leaky_relu(0.01) on 512 features",
                           "relu on 512 features", "conv2d 8->16"};
    for (size_t i = 0; i < 4; i++) {
        clrt__layer_describe(&recs[i], buf, sizeof buf);
        assert_string_equal(buf, words[i]);
    }
}

/* 3 → 4 leaky_relu(0.1) (fused), relu (standalone) → 2 sigmoid (fused) */
static clrt_model *small_model(clrt_ctx *ctx, float slope, size_t out)
{
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 3, &m));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 4));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_LEAKY_RELU, slope));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_RELU, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, out));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_SIGMOID, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_init(m, 7));
    return m;
}

static void checkpoint_layer_list_is_unchanged(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), path[4096];
    snprintf(path, sizeof path, "%s/small.safetensors", dir);
    clrt_model *m = small_model(ctx, 0.1f, 2);
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &oo, 4, clrt_model_params(m), &opt));
    const clrt_train_state ts = {2, 5, 0.001};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, m, opt, &ts));

    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char len8[8];
    assert_int_equal(fread(len8, 1, 8, f), 8);
    size_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | len8[i];
    assert_true(hlen < 65536);
    char *text = malloc(hlen);
    assert_int_equal(fread(text, 1, hlen, f), hlen);
    fclose(f);
    json_t *root = json_loadb(text, hlen, 0, NULL);
    assert_non_null(root);
    json_t *meta = json_object_get(root, "__metadata__");
    /* What the code before the layer-kind table wrote for this model, byte
     * for byte; the checksum is the crc32 of the tensors: the same weights
     * from seed 7 and the same zeroed Adam state. */
    assert_string_equal(json_string_value(json_object_get(meta, "layers")),
                        "[{\"type\":\"linear\",\"in\":3,\"out\":4},"
                        "{\"type\":\"leaky_relu\",\"in\":4,\"out\":4,\"negative_slope\":0.1},"
                        "{\"type\":\"relu\",\"in\":4,\"out\":4},"
                        "{\"type\":\"linear\",\"in\":4,\"out\":2},"
                        "{\"type\":\"sigmoid\",\"in\":2,\"out\":2}]");
    assert_string_equal(json_string_value(json_object_get(meta, "in_features")), "3");
    assert_string_equal(json_string_value(json_object_get(meta, "checksum")), "8e3a9e6f");
    assert_non_null(strstr(text, "\"3.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],"
                                 "\"data_offsets\":[64,96]}"));
    json_decref(root);
    free(text);

    /* Loading checks each layer through the table: the same model loads,
     * others are named in the words of before. */
    clrt_model *back = small_model(ctx, 0.1f, 2);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, back, NULL, NULL, 0));
    clrt_model *other_slope = small_model(ctx, 0.2f, 2), *wider = small_model(ctx, 0.1f, 3);
    assert_int_equal(clrt_checkpoint_load(path, other_slope, NULL, NULL, 0), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "checkpoint layer 1 is leaky_relu(0.1) on 4 "
                                                 "features, model has leaky_relu(0.2) on 4 "
                                                 "features"));
    assert_int_equal(clrt_checkpoint_load(path, wider, NULL, NULL, 0), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "checkpoint layer 3 is linear 4->2, model has "
                                                 "linear 4->3"));
    clrt_model_destroy(back), clrt_model_destroy(other_slope), clrt_model_destroy(wider);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_test_rmtree(dir);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* An optimizer is bound to the parameters it was made over. One made over
 * a model with more parameters would read past this model's gradients; one
 * over a model of the same shape would train that model instead. Both are
 * refused before anything runs, and neither model moves. */
static void optimizer_of_another_model_refused(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *big = make_model(ctx, 1), *twin = make_model(ctx, 2), *small;
    /* 7 → 33 relu → 5: the first 4 of big's parameter shapes. */
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 7, &small));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(small, 33));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(small, CLRT_ACT_RELU, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(small, 5));
    CLRT_ASSERT_OK(ctx, clrt_model_init(small, 3));
    assert_int_equal(clrt_model_num_params(big), 6);
    assert_int_equal(clrt_model_num_params(small), 4);
    clrt_model *big_copy = make_model(ctx, 1), *twin_copy = make_model(ctx, 2);
    clrt_optim *opt_big = plain_sgd(ctx, big, 0.1f, 0.9f);
    clrt_optim *opt_twin = plain_sgd(ctx, twin, 0.1f, 0.9f);
    clrt_optim *opt_small = plain_sgd(ctx, small, 0.1f, 0.9f);
    batch b = make_batch(ctx);

    /* More parameters than the model: 6 over a model of 4 whose shapes
     * match the first 4 (stepping would read past its 4 gradients). */
    assert_int_equal(clrt_model_train_step(small, opt_big, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels),
                     CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "made for 6 parameters of another model"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "this model has 4"));
    /* Fewer: 4 over a model of 6. */
    assert_int_equal(clrt_model_train_step(big, opt_small, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels),
                     CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "made for 4 parameters of another model"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "this model has 6"));
    /* The same shapes, another model's tensors. */
    assert_int_equal(clrt_model_train_step(big, opt_twin, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels),
                     CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "not this model's 0.weight"));
    CLRT_ASSERT_OK(ctx, clrt_ctx_finish(ctx));
    assert_params_match(ctx, big, big_copy, 0);
    assert_params_match(ctx, twin, twin_copy, 0);
    assert_int_equal(clrt_optim_steps(opt_twin), 0);
    /* Each with its own optimizer trains. */
    CLRT_ASSERT_OK(ctx,
                   clrt_model_train_step(big, opt_big, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels));
    CLRT_ASSERT_OK(ctx,
                   clrt_model_train_step(small, opt_small, CLRT_LOSS_CROSS_ENTROPY, b.x, b.labels));
    assert_true(params_differ(ctx, big, big_copy));
    assert_int_equal(clrt_optim_steps(opt_big), 1);
    assert_int_equal(clrt_optim_steps(opt_small), 1);

    /* A layer added after the optimizer was made changes the parameters. */
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(small, CLRT_ACT_TANH, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(small, 2));
    const size_t ld = 16;
    float two[16];
    for (size_t i = 0; i < ld; i++)
        two[i] = (float)(i % 2);
    clrt_tensor *labels2 = clrt_test_vector(ctx, ld, two);
    assert_int_equal(clrt_model_train_step(small, opt_small, CLRT_LOSS_CROSS_ENTROPY, b.x, labels2),
                     CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "this model has 6"));
    clrt_tensor_destroy(labels2);

    batch_done(&b);
    clrt_optim_destroy(opt_big), clrt_optim_destroy(opt_twin), clrt_optim_destroy(opt_small);
    clrt_model_destroy(big), clrt_model_destroy(twin), clrt_model_destroy(small);
    clrt_model_destroy(big_copy), clrt_model_destroy(twin_copy);
    clrt_test_ctx_done(ctx);
}

/* A live model keeps its context: destroying it is refused, naming the
 * model, and the context goes on working. */
static void context_busy_while_model_lives(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 4, &m));
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "1 model still live"));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 3));
    const size_t d[2] = {2, 4};
    clrt_tensor *x;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, d, CLRT_TENSOR_ZERO, &x));
    const clrt_tensor *y;
    CLRT_ASSERT_OK(ctx, clrt_model_forward(m, x, &y));
    clrt_tensor_destroy(x);
    clrt_model *second;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 4, &second));
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "2 models still live"));
    clrt_model_destroy(second);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

static void argument_errors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m = (clrt_model *)&m;
    assert_int_equal(clrt_model_create(ctx, 0, &m), CLRT_ERR_SHAPE);
    assert_null(m);
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 4, &m));
    const clrt_tensor *y;
    const size_t d[2] = {2, 4}, bad[2] = {2, 5};
    clrt_tensor *x, *xb;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, d, CLRT_TENSOR_ZERO, &x));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, bad, CLRT_TENSOR_ZERO, &xb));
    assert_int_equal(clrt_model_forward(m, x, &y), CLRT_ERR_INVALID_ARG); /* no layers */
    assert_int_equal(clrt_model_add_linear(m, 0), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_model_add_act(m, (clrt_act)77, 0), CLRT_ERR_INVALID_ARG);
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 3));
    assert_int_equal(clrt_model_backward(m, x, 0), CLRT_ERR_INVALID_ARG); /* no forward yet */
    assert_int_equal(clrt_model_forward(m, xb, &y), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[2, 5]"));
    CLRT_ASSERT_OK(ctx, clrt_model_forward(m, x, &y));
    assert_int_equal(clrt_model_backward(m, x, 0), CLRT_ERR_SHAPE); /* dy must be [2, 3] */
    assert_int_equal(clrt_model_train_step(m, NULL, CLRT_LOSS_MSE, x, x), CLRT_ERR_INVALID_ARG);
    clrt_tensor_destroy(x), clrt_tensor_destroy(xb);
    clrt_model_destroy(m);
    clrt_model_destroy(NULL);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_like_pytorch),
        cmocka_unit_test(forward_backward_against_reference),
        cmocka_unit_test(training_lowers_loss_without_allocating),
        cmocka_unit_test(grad_hook_scaling_equals_smaller_lr),
        cmocka_unit_test(grad_hook_sees_the_computed_gradients),
        cmocka_unit_test(failing_grad_hook_leaves_the_model_unstepped),
        cmocka_unit_test(removed_grad_hook_gives_the_plain_step),
        cmocka_unit_test(evaluate_counts_correct_rows),
        cmocka_unit_test(nonfinite_flag_on_odd_sizes),
        cmocka_unit_test(check_finite_names_the_first_bad_parameter),
        cmocka_unit_test(take_loss_after_a_huge_lr_is_numeric),
        cmocka_unit_test(take_loss_names_a_nan_loss),
        cmocka_unit_test(evaluate_with_nan_weights_is_numeric),
        cmocka_unit_test(layer_kinds_name_and_parse_back),
        cmocka_unit_test(checkpoint_layer_list_is_unchanged),
        cmocka_unit_test(optimizer_of_another_model_refused),
        cmocka_unit_test(context_busy_while_model_lives),
        cmocka_unit_test(argument_errors),
    };
    return clrt_test_main("model", tests, sizeof tests / sizeof tests[0]);
}
