/* Sequential models on each device: initialisation, forward and backward
 * against the reference composed layer by layer (fused and standalone
 * activations), training steps that lower the loss without allocating,
 * evaluation, the layer-kind table and the checkpoint layer list it
 * writes, and argument errors. */
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
        cmocka_unit_test(evaluate_counts_correct_rows),
        cmocka_unit_test(layer_kinds_name_and_parse_back),
        cmocka_unit_test(checkpoint_layer_list_is_unchanged),
        cmocka_unit_test(argument_errors),
    };
    return clrt_test_main("model", tests, sizeof tests / sizeof tests[0]);
}
