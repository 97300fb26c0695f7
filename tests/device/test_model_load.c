/* clrt_model_load and clrt_model_predict on each device: a model rebuilt
 * from a clrt checkpoint's layer list, one from an nn.Sequential state_dict
 * (tensors only, the activation given), predictions over batches with a
 * partial last one, and the files and arguments refused with their status
 * and message. tests/predict_torch.py checks files torch itself wrote. */
#include "harness.h"
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { IN = 7, OUT = 3, ROWS = 37 };

/* 7 → 13 leaky_relu(0.2) → 11 gelu, tanh (standalone) → 3 */
static clrt_model *make_model(clrt_ctx *ctx)
{
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, IN, &m));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 13));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_LEAKY_RELU, 0.2f));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 11));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_GELU, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_TANH, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, OUT));
    CLRT_ASSERT_OK(ctx, clrt_model_init(m, 9));
    return m;
}

/* The model's outputs for host rows x [rows, IN] in one forward pass. */
static void forward_all(clrt_ctx *ctx, clrt_model *m, const float *x, size_t rows, float *y)
{
    clrt_tensor *xt = clrt_test_matrix(ctx, rows, clrt_model_in_features(m), x);
    const clrt_tensor *yt;
    CLRT_ASSERT_OK(ctx, clrt_model_forward(m, xt, &yt));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(yt, y, rows * clrt_model_out_features(m)));
    clrt_tensor_destroy(xt);
}

static void same_layers(const clrt_model *a, const clrt_model *b)
{
    assert_int_equal(clrt_model_num_layers(a), clrt_model_num_layers(b));
    assert_int_equal(clrt_model_in_features(a), clrt_model_in_features(b));
    for (size_t i = 0; i < clrt_model_num_layers(a); i++) {
        clrt_layer_info la, lb;
        assert_int_equal(clrt_model_layer(a, i, &la), CLRT_OK);
        assert_int_equal(clrt_model_layer(b, i, &lb), CLRT_OK);
        assert_int_equal(la.kind, lb.kind);
        assert_int_equal(la.in, lb.in);
        assert_int_equal(la.out, lb.out);
        assert_int_equal(la.act, lb.act);
        if (la.kind == CLRT_LAYER_ACT && la.act == CLRT_ACT_LEAKY_RELU)
            assert_true(la.act_param == lb.act_param); /* the others take none */
    }
}

/* A checkpoint's model (saved with Adam's state and a training position)
 * comes back with the same layers and, the same kernels running on the
 * same weights, outputs equal to the bit. */
static void checkpoint_round_trip(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *ck = clrt_test_path(dir, "m.ckpt");
    clrt_model *m = make_model(ctx), *back;
    /* With an optimizer's state and a training position in the file, which
     * the model takes no part of. */
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(m),
                                          clrt_model_params(m), &opt));
    const clrt_train_state ts = {.epoch = 3, .seed = 1, .lr = 1e-3};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(ck, m, opt, &ts));
    clrt_optim_destroy(opt);
    CLRT_ASSERT_OK(ctx, clrt_model_load(ctx, ck, NULL, &back));
    same_layers(m, back);
    float x[ROWS * IN], want[ROWS * OUT], got[ROWS * OUT];
    clrt_test_random(x, ROWS * IN, 4);
    forward_all(ctx, m, x, ROWS, want);
    forward_all(ctx, back, x, ROWS, got);
    assert_memory_equal(got, want, sizeof want);
    clrt_model_destroy(back);
    clrt_model_destroy(m);
    clrt_test_rmtree(dir);
    free(ck);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* The model's parameters as an nn.Sequential state_dict with no metadata
 * (what torch's safetensors writer makes), under `names` (NULL: the
 * model's own), skipping parameter `drop` (-1: none). */
static void write_state_dict(clrt_ctx *ctx, const clrt_model *m, const char *path,
                             const char *const *names, int drop)
{
    size_t np = clrt_model_num_params(m), k = 0;
    clrt__st_tensor t[8];
    size_t shapes[8][2];
    float *data[8];
    assert_true(np <= 8);
    for (size_t i = 0; i < np; i++) {
        const char *name;
        clrt_tensor *p = clrt_model_param(m, i, &name);
        data[i] = malloc(clrt_tensor_numel(p) * sizeof(float));
        assert_non_null(data[i]);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(p, data[i], clrt_tensor_numel(p)));
        shapes[i][0] = clrt_tensor_dim(p, 0);
        shapes[i][1] = clrt_tensor_dim(p, 1);
        if ((int)i != drop)
            t[k++] = (clrt__st_tensor){names ? names[i] : name, clrt_tensor_rank(p), shapes[i],
                                       data[i]};
    }
    char err[512];
    assert_int_equal(clrt__safetensors_write(path, t, k, NULL, 0, err, sizeof err), CLRT_OK);
    for (size_t i = 0; i < np; i++)
        free(data[i]);
}

/* 7 → 13 tanh → 11 tanh → 3 built by hand, and the same from its tensors
 * alone with opt.act = tanh: the same layers, the same outputs. A final
 * activation, when asked, is appended. */
static void state_dict_with_activation_given(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *sd = clrt_test_path(dir, "torch.safetensors");
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, IN, &m));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 13));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_TANH, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 11));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_TANH, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, OUT));
    CLRT_ASSERT_OK(ctx, clrt_model_init(m, 2));
    write_state_dict(ctx, m, sd, NULL, -1);

    clrt_model_load_options o;
    clrt_model_load_options_init(&o);
    assert_int_equal(o.act, CLRT_ACT_RELU);
    assert_int_equal(o.final_act, CLRT_ACT_IDENTITY);
    o.act = CLRT_ACT_TANH;
    clrt_model *back;
    CLRT_ASSERT_OK(ctx, clrt_model_load(ctx, sd, &o, &back));
    same_layers(m, back);
    float x[ROWS * IN], want[ROWS * OUT], got[ROWS * OUT];
    clrt_test_random(x, ROWS * IN, 5);
    forward_all(ctx, m, x, ROWS, want);
    forward_all(ctx, back, x, ROWS, got);
    assert_memory_equal(got, want, sizeof want);
    clrt_model_destroy(back);

    o.final_act = CLRT_ACT_SOFTMAX;
    CLRT_ASSERT_OK(ctx, clrt_model_load(ctx, sd, &o, &back));
    assert_int_equal(clrt_model_num_layers(back), 6);
    clrt_layer_info last;
    CLRT_ASSERT_OK(ctx, clrt_model_layer(back, 5, &last));
    assert_int_equal(last.kind, CLRT_LAYER_ACT);
    assert_int_equal(last.act, CLRT_ACT_SOFTMAX);
    clrt_model_destroy(back);

    clrt_model_destroy(m);
    clrt_test_rmtree(dir);
    free(sd);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* Predictions in batches of 8 (the last one of 5 rows) and of the default
 * size equal one forward pass over all rows, within 1e-5 of 1 + |y|: the
 * GEMM may pick another tile, and so another summation order, for another
 * batch size: 1e-5 of max(1, |y|) covers at most 13 terms per output.
 * rows 0 writes nothing. */
static void predict_in_batches(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_model *m = make_model(ctx);
    float x[ROWS * IN], want[ROWS * OUT];
    clrt_test_random(x, ROWS * IN, 6);
    forward_all(ctx, m, x, ROWS, want);
    const clrt__tol tol = {.rel = 1e-5, .floor = 1.0};
    const size_t batches[] = {8, 0, 1, ROWS, 1000};
    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        float *got = clrt_test_guarded(ROWS * OUT);
        CLRT_ASSERT_OK(ctx, clrt_model_predict(m, x, ROWS, batches[k], got));
        clrt_test_assert_guard(got, ROWS * OUT);
        char what[64];
        snprintf(what, sizeof what, "predict, batch %zu", batches[k]);
        clrt_test_assert_tol(what, got, want, ROWS * OUT, tol);
        free(got);
    }
    float untouched = 5.0f;
    CLRT_ASSERT_OK(ctx, clrt_model_predict(m, NULL, 0, 8, NULL));
    CLRT_ASSERT_OK(ctx, clrt_model_predict(m, x, 0, 8, &untouched));
    assert_true(untouched == 5.0f);

    /* The forward pass it kept is gone: backward wants a forward of its own. */
    clrt_tensor *dy = clrt_test_matrix(ctx, 8, OUT, want);
    assert_int_equal(clrt_model_backward(m, dy, 0), CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "no forward pass"));
    clrt_tensor_destroy(dy);

    assert_int_equal(clrt_model_predict(NULL, x, ROWS, 8, want), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_model_predict(m, NULL, ROWS, 8, want), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_model_predict(m, x, ROWS, 8, NULL), CLRT_ERR_INVALID_ARG);
    clrt_model *empty;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, IN, &empty));
    assert_int_equal(clrt_model_predict(empty, x, ROWS, 8, want), CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "no layers"));
    clrt_model_destroy(empty);
    clrt_model_destroy(m);
    clrt_test_ctx_done(ctx);
}

/* The first occurrence of text in bytes[0..len), or NULL. */
static char *find_bytes(unsigned char *bytes, size_t len, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(bytes + i, text, n) == 0)
            return (char *)bytes + i;
    return NULL;
}

/* clrt_model_load(path) is refused with `want`, a message containing
 * `text`, and *out NULL. */
static void refused(clrt_ctx *ctx, const char *path, clrt_status want, const char *text)
{
    clrt_model *m = (clrt_model *)1;
    clrt_status st = clrt_model_load(ctx, path, NULL, &m);
    if (st != want || !strstr(clrt_ctx_errmsg(ctx), text))
        fail_msg("%s: %s \"%s\", want %s and \"%s\"", path, clrt_status_str(st),
                 clrt_ctx_errmsg(ctx), clrt_status_str(want), text);
    assert_null(m);
}

static void bad_files_refused(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *p = clrt_test_path(dir, "f.safetensors");
    clrt_model *m = make_model(ctx); /* 0, 2, 5: two layers without parameters at 3, 4 */

    char *missing = clrt_test_path(dir, "none.safetensors");
    refused(ctx, missing, CLRT_ERR_IO, "cannot open");
    free(missing);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("0.weight,0.bias\n", f);
    fclose(f);
    refused(ctx, p, CLRT_ERR_FORMAT, "header length");

    write_state_dict(ctx, m, p, NULL, -1);
    refused(ctx, p, CLRT_ERR_UNSUPPORTED, "2 layers without parameters between");
    const char *const shifted[] = {"1.weight", "1.bias", "3.weight", "3.bias", "5.weight",
                                   "5.bias"};
    write_state_dict(ctx, m, p, shifted, -1);
    refused(ctx, p, CLRT_ERR_UNSUPPORTED, "first Linear layer is at position 1");
    const char *const foreign[] = {"0.weight", "0.bias", "fc.weight", "fc.bias", "4.weight",
                                   "4.bias"};
    write_state_dict(ctx, m, p, foreign, -1);
    refused(ctx, p, CLRT_ERR_UNSUPPORTED, "tensor 'fc.weight' is not a parameter");
    const char *const swapped[] = {"0.weight", "0.bias", "4.weight", "4.bias", "2.weight",
                                   "2.bias"};
    write_state_dict(ctx, m, p, swapped, -1); /* 7->13, then 11->3 at 2: widths do not chain */
    refused(ctx, p, CLRT_ERR_FORMAT, "takes 11 inputs, the layer before it gives 13");
    const char *const chain[] = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight",
                                 "4.bias"};
    write_state_dict(ctx, m, p, chain, 3); /* no 2.bias */
    refused(ctx, p, CLRT_ERR_UNSUPPORTED, "no tensor '2.bias'");
    const char *const biases[] = {"0.weight", "0.bias", "2.weight", "4.bias", "4.weight",
                                  "2.bias"};
    write_state_dict(ctx, m, p, biases, -1); /* 2.bias [3] beside 2.weight [11, 13] */
    refused(ctx, p, CLRT_ERR_FORMAT, "tensor '2.bias' is [3], the weight has 11 outputs");

    /* A clrt checkpoint whose layer list is edited: the header checksum of
     * the checkpoint loader refuses it after the list built a model. A
     * layer type this clrt lacks is refused before. */
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(p, m, NULL, NULL));
    size_t len;
    unsigned char *bytes = NULL;
    f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    rewind(f);
    bytes = malloc(len);
    assert_non_null(bytes);
    assert_int_equal(fread(bytes, 1, len, f), len);
    fclose(f);
    char *gelu = find_bytes(bytes, len, "\\\"gelu\\\"");
    assert_non_null(gelu);
    memcpy(gelu, "\\\"relu\\\"", 8);
    f = fopen(p, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    refused(ctx, p, CLRT_ERR_FORMAT, "header checksum mismatch");
    memcpy(gelu, "\\\"selu\\\"", 8);
    f = fopen(p, "wb");
    fwrite(bytes, 1, len, f);
    fclose(f);
    refused(ctx, p, CLRT_ERR_UNSUPPORTED, "type \"selu\"");
    free(bytes);

    clrt_model *out = (clrt_model *)1;
    assert_int_equal(clrt_model_load(ctx, NULL, NULL, &out), CLRT_ERR_INVALID_ARG);
    assert_null(out);
    assert_int_equal(clrt_model_load(NULL, p, NULL, &out), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_model_load(ctx, p, NULL, NULL), CLRT_ERR_INVALID_ARG);
    clrt_model_load_options o;
    clrt_model_load_options_init(&o);
    o.act = (clrt_act)99;
    assert_int_equal(clrt_model_load(ctx, p, &o, &out), CLRT_ERR_INVALID_ARG);

    /* Nothing refused left a model behind. */
    clrt_model_destroy(m);
    clrt_memory_stats ms;
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.live_tensors, 0);
    clrt_test_rmtree(dir);
    free(p);
    free(dir);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(checkpoint_round_trip),
        cmocka_unit_test(state_dict_with_activation_given),
        cmocka_unit_test(predict_in_batches),
        cmocka_unit_test(bad_files_refused),
    };
    return clrt_test_main("model_load", tests, sizeof tests / sizeof tests[0]);
}
