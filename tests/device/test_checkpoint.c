/* Checkpoints on each device: save then load gives identical weights,
 * optimizer state, steps and training position; resuming gives the same
 * weights as an uninterrupted run; corrupt files are CLRT_ERR_FORMAT and
 * another model's file CLRT_ERR_SHAPE, both naming what is wrong and leaving
 * model, optimizer and state untouched; every number of the metadata is
 * range-checked, naming the field; the header checksum refuses an edited
 * header; files of format 1 (before the header checksum) still load, their
 * data checksum checked; a safetensors file written by
 * another program (no clrt metadata) loads by name and shape; saving
 * replaces the file through a temp file that does not stay behind; and the
 * file loads into PyTorch's nn.Sequential with the same outputs
 * (tools/check-torch-checkpoint.py, skipped where torch is missing).
 *
 * Weights are compared bit for bit: a checkpoint stores the floats
 * themselves, and resuming runs the same kernels on the same data. */
#include "harness.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

/* ------------------------------------------------------------- helpers */

/* in -> widths[0] -> act -> widths[1] -> act ... -> widths[n-1] (no act
 * after the last linear), initialised from seed. */
static clrt_model *mlp(clrt_ctx *ctx, size_t in, const size_t *widths, size_t n, clrt_act act,
                       float act_param, uint64_t seed)
{
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, in, &m));
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, act, act_param));
        CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, widths[i]));
    }
    CLRT_ASSERT_OK(ctx, clrt_model_init(m, seed));
    return m;
}

/* The model used by most tests: 13 -> 33 -> tanh -> 7 (odd sizes). */
static const size_t W_A[] = {33, 7};
static clrt_model *model_a(clrt_ctx *ctx, uint64_t seed)
{
    return mlp(ctx, 13, W_A, 2, CLRT_ACT_TANH, 0.0f, seed);
}

/* Every parameter of m, concatenated. */
static float *snapshot(clrt_ctx *ctx, const clrt_model *m, size_t *count)
{
    size_t total = 0;
    const char *name;
    for (size_t i = 0; i < clrt_model_num_params(m); i++)
        total += clrt_tensor_numel(clrt_model_param(m, i, &name));
    float *all = malloc((total + 1) * sizeof *all);
    assert_non_null(all);
    size_t at = 0;
    for (size_t i = 0; i < clrt_model_num_params(m); i++) {
        const clrt_tensor *t = clrt_model_param(m, i, &name);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, all + at, clrt_tensor_numel(t)));
        at += clrt_tensor_numel(t);
    }
    *count = total;
    return all;
}

/* Every optimizer state tensor (slots 0 and 1) over m's parameters. */
static float *snapshot_optim(clrt_ctx *ctx, const clrt_model *m, const clrt_optim *opt,
                             size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < clrt_model_num_params(m); i++)
        for (int s = 0; s < 2; s++) {
            const clrt_tensor *t = clrt_optim_state(opt, i, s, NULL);
            total += t ? clrt_tensor_numel(t) : 0;
        }
    float *all = malloc((total + 1) * sizeof *all);
    assert_non_null(all);
    size_t at = 0;
    for (size_t i = 0; i < clrt_model_num_params(m); i++)
        for (int s = 0; s < 2; s++) {
            const clrt_tensor *t = clrt_optim_state(opt, i, s, NULL);
            if (!t)
                continue;
            CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, all + at, clrt_tensor_numel(t)));
            at += clrt_tensor_numel(t);
        }
    *count = total;
    return all;
}

static void assert_same_floats(const char *what, const float *a, size_t na, const float *b,
                               size_t nb)
{
    if (na != nb)
        fail_msg("%s: %zu floats, expected %zu", what, nb, na);
    for (size_t i = 0; i < na; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, (double)b[i],
                     (double)a[i]);
}

static void assert_params_equal(clrt_ctx *ctx, const clrt_model *a, const clrt_model *b)
{
    size_t na, nb;
    float *pa = snapshot(ctx, a, &na), *pb = snapshot(ctx, b, &nb);
    assert_same_floats("parameters", pa, na, pb, nb);
    free(pa);
    free(pb);
}

static bool params_differ(clrt_ctx *ctx, const clrt_model *a, const clrt_model *b)
{
    size_t na, nb;
    float *pa = snapshot(ctx, a, &na), *pb = snapshot(ctx, b, &nb);
    bool differ = na != nb || memcmp(pa, pb, na * sizeof *pa) != 0;
    free(pa);
    free(pb);
    return differ;
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    unsigned char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_f32_le(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(u >> (8 * i));
}

/* A safetensors file from header text (padded here) and a data section. */
static void write_safetensors(const char *path, const char *header, const unsigned char *data,
                              size_t data_len)
{
    size_t hlen = strlen(header), pad = (8 - hlen % 8) % 8;
    size_t total = 8 + hlen + pad + data_len;
    unsigned char *f = malloc(total);
    assert_non_null(f);
    put_le64(f, hlen + pad);
    memcpy(f + 8, header, hlen);
    memset(f + 8 + hlen, ' ', pad);
    if (data_len)
        memcpy(f + 8 + hlen + pad, data, data_len);
    write_bytes(path, f, total);
    free(f);
}

/* The header of a safetensors file, parsed, and where its data begins. */
static json_t *read_header(const unsigned char *file, size_t len, size_t *data_at)
{
    assert_true(len >= 8);
    uint64_t hlen = get_le64(file);
    assert_true(hlen <= len - 8);
    json_error_t err;
    json_t *root = json_loadb((const char *)file + 8, (size_t)hlen, 0, &err);
    if (!root)
        fail_msg("header does not parse: %s", err.text);
    *data_at = 8 + (size_t)hlen;
    return root;
}

/* Copy `src` to `dst` with its header edited by `edit` (data unchanged). */
static void rewrite_header(const char *src, const char *dst, void (*edit)(json_t *root))
{
    size_t len, data_at;
    unsigned char *file = read_bytes(src, &len);
    json_t *root = read_header(file, len, &data_at);
    edit(root);
    char *text = json_dumps(root, JSON_COMPACT);
    assert_non_null(text);
    write_safetensors(dst, text, file + data_at, len - data_at);
    free(text);
    json_decref(root);
    free(file);
}

static const char *meta_value(json_t *root, const char *key)
{
    return json_string_value(json_object_get(json_object_get(root, "__metadata__"), key));
}

/* grads[i] := deterministic values; then one optimizer step. */
static void step_with_grads(clrt_ctx *ctx, clrt_model *m, clrt_optim *opt, uint32_t seed)
{
    for (size_t i = 0; i < clrt_model_num_params(m); i++) {
        clrt_tensor *g = clrt_model_grad(m, i);
        size_t n = clrt_tensor_numel(g);
        float *h = malloc((n + 1) * sizeof *h);
        assert_non_null(h);
        clrt_test_random(h, n, seed * 31u + (uint32_t)i);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(g, h, n));
        free(h);
    }
    clrt_tensor *grads[16];
    assert_true(clrt_model_num_params(m) <= 16);
    for (size_t i = 0; i < clrt_model_num_params(m); i++)
        grads[i] = clrt_model_grad(m, i);
    CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, grads));
}

static clrt_optim *optim_for(clrt_ctx *ctx, clrt_model *m, const clrt_optim_options *o)
{
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, o, clrt_model_num_params(m),
                                          clrt_model_params(m), &opt));
    return opt;
}

static clrt_optim *sgd_momentum(clrt_ctx *ctx, clrt_model *m)
{
    clrt_optim_options o;
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.lr = 0.05f;
    o.momentum = 0.9f;
    return optim_for(ctx, m, &o);
}

/* Names of the entries of a directory but "." and "..", comma-separated. */
static void dir_listing(const char *dir, char *buf, size_t len, int *count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    buf[0] = '\0';
    *count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", *count ? "," : "", e->d_name);
        (*count)++;
    }
    closedir(d);
}

/* ------------------------------------------------------------- round trips */

static void weights_and_state_round_trip(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "a.safetensors");
    clrt_model *a = model_a(ctx, 1), *b = model_a(ctx, 2);
    assert_true(params_differ(ctx, a, b));

    /* A seed past INT64_MAX and an lr with all 17 digits must survive. */
    const clrt_train_state saved = {3, 0xfedcba9876543210ull, 0.012345678901234567};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, NULL, &saved));
    clrt_train_state got = {0, 0, 0.0};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, b, NULL, &got, 0));
    assert_params_equal(ctx, a, b);
    assert_true(got.epoch == saved.epoch);
    assert_true(got.seed == saved.seed);
    assert_true(got.lr == saved.lr);

    /* The layout other readers rely on. */
    size_t len, data_at;
    unsigned char *file = read_bytes(path, &len);
    json_t *root = read_header(file, len, &data_at);
    assert_int_equal(data_at % 8, 0);
    assert_string_equal(meta_value(root, "format"), "clrt-checkpoint-2");
    assert_string_equal(meta_value(root, "in_features"), "13");
    assert_string_equal(meta_value(root, "layers"),
                        "[{\"type\":\"linear\",\"in\":13,\"out\":33},"
                        "{\"type\":\"tanh\",\"in\":33,\"out\":33},"
                        "{\"type\":\"linear\",\"in\":33,\"out\":7}]");
    assert_string_equal(meta_value(root, "epoch"), "3");
    assert_string_equal(meta_value(root, "seed"), "18364758544493064720");
    assert_int_equal(strlen(meta_value(root, "checksum")), 8);
    assert_null(meta_value(root, "optimizer"));
    const char *names[] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    const size_t sizes[] = {33 * 13, 33, 7 * 33, 7};
    size_t at = 0;
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_object_get(root, names[i]);
        assert_non_null(e);
        assert_string_equal(json_string_value(json_object_get(e, "dtype")), "F32");
        json_t *off = json_object_get(e, "data_offsets");
        assert_int_equal(json_integer_value(json_array_get(off, 0)), at);
        assert_int_equal(json_integer_value(json_array_get(off, 1)), at + 4 * sizes[i]);
        at += 4 * sizes[i];
    }
    assert_int_equal(len - data_at, at);
    assert_int_equal(json_array_size(json_object_get(json_object_get(root, "0.weight"), "shape")),
                     2);
    json_decref(root);
    free(file);

    /* Loading again with no state pointer is fine too. */
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, b, NULL, NULL, 0));
    assert_params_equal(ctx, a, b);

    clrt_model_destroy(a);
    clrt_model_destroy(b);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

static void optimizer_state_round_trip(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "o.safetensors");
    clrt_optim_options cases[3];
    clrt_optim_options_init(&cases[0], CLRT_OPTIM_SGD);
    cases[0].lr = 0.05f;
    cases[0].momentum = 0.9f;
    cases[0].nesterov = 1;
    cases[0].weight_decay = 1e-4f;
    clrt_optim_options_init(&cases[1], CLRT_OPTIM_ADAM);
    clrt_optim_options_init(&cases[2], CLRT_OPTIM_ADAMW);
    cases[2].lr = 3e-3f;
    const char *state_names[3][2] = {{"momentum_buffer", NULL}, {"exp_avg", "exp_avg_sq"},
                                     {"exp_avg", "exp_avg_sq"}};

    for (int c = 0; c < 3; c++) {
        clrt_model *a = model_a(ctx, 1), *b = model_a(ctx, 2);
        clrt_optim *oa = optim_for(ctx, a, &cases[c]);
        clrt_optim_options ob_opts = cases[c];
        ob_opts.lr *= 0.5f; /* the file's lr wins, as with torch's load_state_dict */
        clrt_optim *ob = optim_for(ctx, b, &ob_opts);
        for (uint32_t s = 0; s < 3; s++)
            step_with_grads(ctx, a, oa, s);
        CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, oa, NULL));

        /* The file names the state like torch.optim does. */
        size_t len, data_at;
        unsigned char *file = read_bytes(path, &len);
        json_t *root = read_header(file, len, &data_at);
        for (int s = 0; s < 2; s++) {
            if (!state_names[c][s])
                continue;
            char name[64];
            snprintf(name, sizeof name, "optim.2.bias.%s", state_names[c][s]);
            assert_non_null(json_object_get(root, name));
        }
        json_t *om = json_loads(meta_value(root, "optimizer"), 0, NULL);
        assert_non_null(om);
        assert_int_equal(json_integer_value(json_object_get(om, "steps")), 3);
        json_decref(om);
        json_decref(root);
        free(file);

        CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, b, ob, NULL, 0));
        assert_params_equal(ctx, a, b);
        size_t na, nb;
        float *sa = snapshot_optim(ctx, a, oa, &na), *sb = snapshot_optim(ctx, b, ob, &nb);
        assert_true(na > 0);
        assert_same_floats("optimizer state", sa, na, sb, nb);
        free(sa);
        free(sb);
        assert_true(clrt_optim_steps(ob) == 3);
        assert_true(clrt_optim_lr(ob) == clrt_optim_lr(oa));

        /* The next step is the same on both. */
        step_with_grads(ctx, a, oa, 7);
        step_with_grads(ctx, b, ob, 7);
        assert_params_equal(ctx, a, b);

        clrt_optim_destroy(oa);
        clrt_optim_destroy(ob);
        clrt_model_destroy(a);
        clrt_model_destroy(b);
    }
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* Train 4 steps straight, or 2, save, load into a fresh model and
 * optimizer, 2 more: the same weights, bit for bit. */
static void resume_matches_uninterrupted_run(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "r.safetensors");
    enum { BATCH = 9, STEPS = 4 };
    clrt_tensor *x[STEPS], *labels[STEPS];
    for (int s = 0; s < STEPS; s++) {
        size_t xs[2] = {BATCH, 13}, n = BATCH;
        float hx[BATCH * 13], hl[BATCH];
        clrt_test_random(hx, BATCH * 13, 100u + (uint32_t)s);
        for (int i = 0; i < BATCH; i++)
            hl[i] = (float)((i * 5 + s) % 7);
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, xs, 0, &x[s]));
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(x[s], hx, BATCH * 13));
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &labels[s]));
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(labels[s], hl, BATCH));
    }
    clrt_optim_options o;
    clrt_optim_options_init(&o, CLRT_OPTIM_ADAM);

    clrt_model *straight = model_a(ctx, 5), *first = model_a(ctx, 5), *second = model_a(ctx, 6);
    clrt_optim *os = optim_for(ctx, straight, &o), *of = optim_for(ctx, first, &o),
               *o2 = optim_for(ctx, second, &o);
    for (int s = 0; s < STEPS; s++)
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(straight, os, CLRT_LOSS_CROSS_ENTROPY, x[s],
                                                  labels[s]));
    for (int s = 0; s < 2; s++)
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(first, of, CLRT_LOSS_CROSS_ENTROPY, x[s],
                                                  labels[s]));
    const clrt_train_state ts = {1, 42, 1e-3};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, first, of, &ts));
    clrt_train_state got;
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, second, o2, &got, 0));
    for (int s = 2; s < STEPS; s++)
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(second, o2, CLRT_LOSS_CROSS_ENTROPY, x[s],
                                                  labels[s]));
    assert_params_equal(ctx, straight, second);
    assert_true(clrt_optim_steps(o2) == STEPS);
    assert_true(got.epoch == 1 && got.seed == 42);

    clrt_optim_destroy(os);
    clrt_optim_destroy(of);
    clrt_optim_destroy(o2);
    clrt_model_destroy(straight);
    clrt_model_destroy(first);
    clrt_model_destroy(second);
    for (int s = 0; s < STEPS; s++) {
        clrt_tensor_destroy(x[s]);
        clrt_tensor_destroy(labels[s]);
    }
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------- corrupt files */

static void edit_dtype_i32(json_t *root)
{
    json_object_set_new(json_object_get(root, "0.weight"), "dtype", json_string("I32"));
}
static void edit_dtype_unknown(json_t *root)
{
    json_object_set_new(json_object_get(root, "0.weight"), "dtype", json_string("Q7"));
}
static void edit_no_dtype(json_t *root)
{
    json_object_del(json_object_get(root, "0.bias"), "dtype");
}
static void edit_shape_size(json_t *root)
{
    json_object_set_new(json_object_get(root, "0.bias"), "shape", json_pack("[i]", 32));
}
static void edit_shape_negative(json_t *root)
{
    json_object_set_new(json_object_get(root, "0.bias"), "shape", json_pack("[i]", -33));
}
static void edit_shape_not_array(json_t *root)
{
    json_object_set_new(json_object_get(root, "0.bias"), "shape", json_string("[33]"));
}
static void edit_entry_not_object(json_t *root)
{
    json_object_set_new(root, "0.bias", json_integer(4));
}
/* The tensor whose data comes last. */
static json_t *last_entry(json_t *root)
{
    const char *key;
    json_t *value, *last = NULL;
    json_int_t end = -1;
    json_object_foreach(root, key, value) {
        json_t *off = json_object_get(value, "data_offsets");
        if (off && json_integer_value(json_array_get(off, 1)) > end) {
            end = json_integer_value(json_array_get(off, 1));
            last = value;
        }
    }
    assert_non_null(last);
    return last;
}
static void edit_offsets_past_end(json_t *root)
{
    json_t *off = json_object_get(last_entry(root), "data_offsets");
    json_int_t b = json_integer_value(json_array_get(off, 0));
    json_int_t e = json_integer_value(json_array_get(off, 1));
    json_array_set_new(off, 0, json_integer(b + 4));
    json_array_set_new(off, 1, json_integer(e + 4));
}
static void edit_offsets_overlap(json_t *root)
{
    json_object_set_new(json_object_get(root, "0.bias"), "data_offsets",
                        json_pack("[i,i]", 0, 33 * 4));
}
static void edit_offsets_not_ints(json_t *root)
{
    json_object_set_new(json_object_get(root, "0.bias"), "data_offsets",
                        json_pack("[f,i]", 0.5, 33 * 4));
}
static void edit_offsets_descending(json_t *root)
{
    json_object_set_new(json_object_get(root, "0.bias"), "data_offsets",
                        json_pack("[i,i]", 200, 68));
}
static void edit_meta_not_string(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "epoch", json_integer(3));
}
static void edit_checksum_text(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "checksum", json_string("xyz"));
}
static void edit_checksum_value(json_t *root)
{
    const char *c = meta_value(root, "checksum");
    char flipped[9];
    snprintf(flipped, sizeof flipped, "%s", c);
    flipped[0] = flipped[0] == '0' ? '1' : '0';
    json_object_set_new(json_object_get(root, "__metadata__"), "checksum", json_string(flipped));
}
static void edit_layers_not_json(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "layers", json_string("{"));
}
static void edit_layers_malformed(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "layers",
                        json_string("[{\"type\":\"linear\",\"in\":13}]"));
}
static void edit_optimizer_malformed(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "optimizer",
                        json_string("{\"type\":\"SGD\"}"));
}
static void edit_epoch_text(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "epoch", json_string("-1"));
}
static void edit_newer_format(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "format",
                        json_string("clrt-checkpoint-3"));
}
static void edit_metadata_array(json_t *root)
{
    json_object_set_new(root, "__metadata__", json_array());
}

typedef struct corruption {
    const char *what;
    void (*edit)(json_t *root); /* header edits; NULL: a byte-level case below */
    const char *needle;         /* expected in the message */
} corruption;

static void corrupt_files_refused(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir();
    char *good = clrt_test_path(dir, "good.safetensors"), *bad = clrt_test_path(dir, "bad.safetensors");
    clrt_model *a = model_a(ctx, 1);
    clrt_optim *oa = sgd_momentum(ctx, a);
    step_with_grads(ctx, a, oa, 1);
    step_with_grads(ctx, a, oa, 2);
    const clrt_train_state ts = {4, 5, 0.5};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(good, a, oa, &ts));
    size_t len, data_at;
    unsigned char *file = read_bytes(good, &len);
    json_decref(read_header(file, len, &data_at));

    /* The model, optimizer and state a failed load must leave alone. */
    clrt_model *b = model_a(ctx, 2);
    clrt_optim *ob = sgd_momentum(ctx, b);
    step_with_grads(ctx, b, ob, 9);
    size_t nb, nsb;
    float *before = snapshot(ctx, b, &nb), *sbefore = snapshot_optim(ctx, b, ob, &nsb);
    const clrt_train_state sentinel = {777, 888, 9.5};

    static const corruption header_cases[] = {
        {"dtype I32", edit_dtype_i32, "F32 only"},
        {"unknown dtype", edit_dtype_unknown, "unknown dtype"},
        {"no dtype", edit_no_dtype, "dtype"},
        {"shape of another size", edit_shape_size, "span"},
        {"negative dimension", edit_shape_negative, "non-negative"},
        {"shape not an array", edit_shape_not_array, "shape"},
        {"entry not an object", edit_entry_not_object, "not a JSON object"},
        {"offsets past the data", edit_offsets_past_end, "run past"},
        {"overlapping offsets", edit_offsets_overlap, "overlap"},
        {"fractional offsets", edit_offsets_not_ints, "two integers"},
        {"descending offsets", edit_offsets_descending, "ascending"},
        {"metadata value not a string", edit_meta_not_string, "not a string"},
        {"metadata not an object", edit_metadata_array, "__metadata__"},
        {"checksum not hex", edit_checksum_text, "8 hex digits"},
        {"checksum wrong", edit_checksum_value, "checksum mismatch"},
        {"layers not JSON", edit_layers_not_json, "layers"},
        {"layer without out", edit_layers_malformed, "malformed"},
        {"optimizer without steps", edit_optimizer_malformed, "optimizer"},
        {"epoch not decimal", edit_epoch_text, "epoch"},
        {"newer format", edit_newer_format, "clrt-checkpoint-3"},
    };
    enum { BYTE_CASES = 9 };
    const size_t ncases = sizeof header_cases / sizeof header_cases[0] + BYTE_CASES;
    for (size_t c = 0; c < ncases; c++) {
        const char *what, *needle;
        if (c < sizeof header_cases / sizeof header_cases[0]) {
            what = header_cases[c].what;
            needle = header_cases[c].needle;
            rewrite_header(good, bad, header_cases[c].edit);
        } else {
            unsigned char *copy = malloc(len + 16);
            assert_non_null(copy);
            memcpy(copy, file, len);
            size_t blen = len;
            switch (c - sizeof header_cases / sizeof header_cases[0]) {
            case 0:
                what = "truncated by 3 bytes", needle = "run past";
                blen = len - 3;
                break;
            case 1:
                what = "5 bytes long", needle = "shorter than the 8-byte";
                blen = 5;
                break;
            case 2:
                what = "empty", needle = "shorter than the 8-byte";
                blen = 0;
                break;
            case 3:
                what = "header length past the end", needle = "runs past the end";
                put_le64(copy, len);
                break;
            case 4:
                what = "header length 2^63", needle = "runs past the end";
                put_le64(copy, 1ull << 63);
                break;
            case 5:
                what = "header bytes overwritten", needle = "not valid JSON";
                memset(copy + 8, 'x', 12);
                break;
            case 6:
                what = "4 trailing bytes", needle = "belong to no tensor";
                memset(copy + len, 0, 4);
                blen = len + 4;
                break;
            case 7:
                what = "a data byte flipped", needle = "checksum mismatch";
                copy[data_at + (len - data_at) / 2] ^= 0x10;
                break;
            default:
                what = "header truncated to its first half", needle = "not valid JSON";
                put_le64(copy, (data_at - 8) / 2);
                break;
            }
            write_bytes(bad, copy, blen);
            free(copy);
        }
        clrt_train_state st = sentinel;
        clrt_status rc = clrt_checkpoint_load(bad, b, ob, &st, 0);
        if (rc != CLRT_ERR_FORMAT)
            fail_msg("%s: got %s (%s), expected CLRT_ERR_FORMAT", what, clrt_status_str(rc),
                     clrt_ctx_errmsg(ctx));
        const char *msg = clrt_ctx_errmsg(ctx);
        if (!strstr(msg, needle) || !strstr(msg, bad) || strchr(msg, '\n'))
            fail_msg("%s: the message \"%s\" does not say \"%s\" on one line with the path",
                     what, msg, needle);
        size_t n2, ns2;
        float *after = snapshot(ctx, b, &n2), *safter = snapshot_optim(ctx, b, ob, &ns2);
        assert_same_floats(what, before, nb, after, n2);
        assert_same_floats(what, sbefore, nsb, safter, ns2);
        free(after);
        free(safter);
        assert_true(clrt_optim_steps(ob) == 1);
        assert_true(st.epoch == sentinel.epoch && st.seed == sentinel.seed &&
                    st.lr == sentinel.lr);
    }

    /* Hand-written headers: duplicate keys, not an object. */
    const unsigned char four[4] = {0};
    const struct {
        const char *what, *header, *needle;
    } raw[] = {
        {"duplicate key",
         "{\"0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         "duplicate"},
        {"header an array", "[1,2,3]", "not a JSON object"},
    };
    for (size_t c = 0; c < sizeof raw / sizeof raw[0]; c++) {
        write_safetensors(bad, raw[c].header, four, 4);
        assert_int_equal(clrt_checkpoint_load(bad, b, ob, NULL, 0), CLRT_ERR_FORMAT);
        if (!strstr(clrt_ctx_errmsg(ctx), raw[c].needle))
            fail_msg("%s: \"%s\"", raw[c].what, clrt_ctx_errmsg(ctx));
    }
    size_t n2;
    float *after = snapshot(ctx, b, &n2);
    assert_same_floats("after the raw cases", before, nb, after, n2);
    free(after);

    /* The good file still loads. */
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(good, b, ob, NULL, 0));
    assert_params_equal(ctx, a, b);

    free(before);
    free(sbefore);
    free(file);
    clrt_optim_destroy(oa);
    clrt_optim_destroy(ob);
    clrt_model_destroy(a);
    clrt_model_destroy(b);
    clrt_test_rmtree(dir);
    free(good);
    free(bad);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------ metadata ranges, checksums */

/* A header's "header_checksum" recomputed by the rule the format states
 * (crc32 of the header as JSON without that key, keys sorted, compact), so
 * an edit that only a range check can refuse gets past the checksum. */
static void resign(json_t *root)
{
    json_t *copy = json_deep_copy(root);
    assert_non_null(copy);
    json_object_del(json_object_get(copy, "__metadata__"), "header_checksum");
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(text);
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx",
             crc32(0L, (const Bytef *)text, (uInt)strlen(text)) & 0xffffffffUL);
    json_object_set_new(json_object_get(root, "__metadata__"), "header_checksum",
                        json_string(crc));
    free(text);
    json_decref(copy);
}

/* A file of format 1: the name, no header checksum (the data's stays). */
static void to_format_1(json_t *root)
{
    json_t *meta = json_object_get(root, "__metadata__");
    json_object_set_new(meta, "format", json_string("clrt-checkpoint-1"));
    json_object_del(meta, "header_checksum");
}

typedef enum { SIGN_NONE, SIGN_AGAIN, AS_FORMAT_1 } signing;

/* One edit of a metadata value's text: `from` replaced by `to` in it (the
 * whole value when from is NULL). */
typedef struct meta_edit {
    const char *what, *key, *from, *to;
    const char *needle; /* expected in the message */
} meta_edit;

/* Copy src to dst with edit e applied to its header, then re-signed or
 * turned into format 1 or left as it is; the data stays. */
static void rewrite_meta(const char *src, const char *dst, const meta_edit *e, signing how)
{
    size_t len, data_at;
    unsigned char *file = read_bytes(src, &len);
    json_t *root = read_header(file, len, &data_at);
    json_t *meta = json_object_get(root, "__metadata__");
    const char *old = json_string_value(json_object_get(meta, e->key));
    if (e->from) {
        assert_non_null(old);
        const char *at = strstr(old, e->from);
        if (!at)
            fail_msg("%s: \"%s\" is not in \"%s\"", e->what, e->from, old);
        size_t n = strlen(old) - strlen(e->from) + strlen(e->to) + 1;
        char *text = malloc(n);
        assert_non_null(text);
        snprintf(text, n, "%.*s%s%s", (int)(at - old), old, e->to, at + strlen(e->from));
        json_object_set_new(meta, e->key, json_string(text));
        free(text);
    } else {
        json_object_set_new(meta, e->key, json_string(e->to));
    }
    if (how == SIGN_AGAIN)
        resign(root);
    else if (how == AS_FORMAT_1)
        to_format_1(root);
    char *text = json_dumps(root, JSON_COMPACT);
    assert_non_null(text);
    write_safetensors(dst, text, file + data_at, len - data_at);
    free(text);
    json_decref(root);
    free(file);
}

/* Loading `bad` into m, opt, a state fails with `want` naming the path and
 * the needle, and leaves them as they were. */
static void expect_refused(clrt_ctx *ctx, const char *what, const char *bad, clrt_model *m,
                           clrt_optim *opt, clrt_status want, const char *needle)
{
    size_t nb, nsb;
    float *before = snapshot(ctx, m, &nb), *sbefore = snapshot_optim(ctx, m, opt, &nsb);
    uint64_t steps = clrt_optim_steps(opt);
    float lr = clrt_optim_lr(opt);
    clrt_train_state st = {777, 888, 9.5};
    clrt_status rc = clrt_checkpoint_load(bad, m, opt, &st, 0);
    const char *msg = clrt_ctx_errmsg(ctx);
    if (rc != want)
        fail_msg("%s: got %s (%s), expected %s", what, clrt_status_str(rc), msg,
                 clrt_status_str(want));
    if (!strstr(msg, needle) || !strstr(msg, bad) || strchr(msg, '\n'))
        fail_msg("%s: the message \"%s\" does not say \"%s\" on one line with the path", what,
                 msg, needle);
    size_t na, nsa;
    float *after = snapshot(ctx, m, &na), *safter = snapshot_optim(ctx, m, opt, &nsa);
    assert_same_floats(what, before, nb, after, na);
    assert_same_floats(what, sbefore, nsb, safter, nsa);
    assert_true(clrt_optim_steps(opt) == steps && clrt_optim_lr(opt) == lr);
    assert_true(st.epoch == 777 && st.seed == 888 && st.lr == 9.5);
    free(before), free(sbefore), free(after), free(safter);
}

/* Every number of the metadata against the range of what it sets, in a
 * file whose checksums are right (re-signed) and in format 1 (no header
 * checksum): refused with CLRT_ERR_FORMAT naming the field and value. The
 * epoch "4294967297" used to be accepted, and clrt-train cast it to 1. */
static void metadata_numbers_range_checked(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir();
    char *sgd = clrt_test_path(dir, "sgd.safetensors"), *adam = clrt_test_path(dir, "adam.safetensors");
    char *bad = clrt_test_path(dir, "bad.safetensors");
    clrt_model *a = model_a(ctx, 1), *b = model_a(ctx, 2);
    clrt_optim *oa = sgd_momentum(ctx, a), *ob = sgd_momentum(ctx, b);
    step_with_grads(ctx, a, oa, 1);
    step_with_grads(ctx, a, oa, 2);
    const clrt_train_state ts = {4, 5, 0.5};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(sgd, a, oa, &ts));
    clrt_optim_options ao;
    clrt_optim_options_init(&ao, CLRT_OPTIM_ADAM);
    clrt_optim *aa = optim_for(ctx, a, &ao), *ab = optim_for(ctx, b, &ao);
    step_with_grads(ctx, a, aa, 3);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(adam, a, aa, &ts));

    static const meta_edit sgd_cases[] = {
        {"epoch past 32 bits", "epoch", NULL, "4294967297", "\"epoch\" metadata \"4294967297\""},
        {"epoch 2^64", "epoch", NULL, "18446744073709551616", "\"epoch\" metadata \"1844674"},
        {"epoch negative", "epoch", NULL, "-1", "\"epoch\" metadata \"-1\""},
        {"epoch 1e400", "epoch", NULL, "1e400", "\"epoch\" metadata \"1e400\""},
        {"epoch 12abc", "epoch", NULL, "12abc", "\"epoch\" metadata \"12abc\""},
        {"seed 2^64", "seed", NULL, "18446744073709551616", "\"seed\" metadata \"1844674"},
        {"seed negative", "seed", NULL, "-5", "\"seed\" metadata \"-5\""},
        {"lr 1e400", "lr", NULL, "1e400", "\"lr\" metadata \"1e400\""},
        {"lr negative", "lr", NULL, "-0.5", "\"lr\" metadata \"-0.5\""},
        {"lr 12abc", "lr", NULL, "12abc", "\"lr\" metadata \"12abc\""},
        {"lr NaN", "lr", NULL, "NaN", "\"lr\" metadata \"NaN\""},
        {"in_features 12abc", "in_features", NULL, "12abc", "\"in_features\" metadata \"12abc\""},
        {"in_features negative", "in_features", NULL, "-13", "\"in_features\" metadata \"-13\""},
        {"optimizer lr 1e400", "optimizer", "\"lr\":0.05", "\"lr\":1e400", "(in \"lr\")"},
        {"optimizer lr past float", "optimizer", "\"lr\":0.05", "\"lr\":1e39",
         "\"optimizer\" metadata's \"lr\" 1e+39 is out of range"},
        {"optimizer lr negative", "optimizer", "\"lr\":0.05", "\"lr\":-1",
         "\"optimizer\" metadata's \"lr\" -1 is out of range"},
        {"optimizer lr a string", "optimizer", "\"lr\":0.05", "\"lr\":\"0.05\"",
         "\"optimizer\" metadata's \"lr\" is not a number"},
        {"steps negative", "optimizer", "\"steps\":2", "\"steps\":-3", "\"steps\" (-3)"},
        {"steps fractional", "optimizer", "\"steps\":2", "\"steps\":1.5", "\"steps\" (1.5)"},
        {"steps 1e400", "optimizer", "\"steps\":2", "\"steps\":1e400", "(in \"steps\")"},
        {"steps past 64 bits", "optimizer", "\"steps\":2", "\"steps\":99999999999999999999",
         "(in \"steps\")"},
        {"momentum past float", "optimizer", "\"momentum\":0.9", "\"momentum\":1e39",
         "\"momentum\" 1e+39 is out of range"},
        {"momentum negative", "optimizer", "\"momentum\":0.9", "\"momentum\":-0.5",
         "\"momentum\" -0.5 is out of range"},
        {"dampening past float", "optimizer", "\"dampening\":0.0", "\"dampening\":-1e39",
         "\"dampening\" -1e+39 is out of range"},
        {"weight_decay negative", "optimizer", "\"weight_decay\":0.0", "\"weight_decay\":-1",
         "\"weight_decay\" -1 is out of range"},
        {"nesterov a number", "optimizer", "\"nesterov\":false", "\"nesterov\":1",
         "\"nesterov\" is not true or false"},
        {"layer width negative", "layers", "\"in\":13", "\"in\":-13", "layer 0 of the"},
        {"layer slope past float", "layers", "\"type\":\"tanh\",", "\"type\":\"tanh\","
         "\"negative_slope\":1e39,", "not a number within float range"},
    };
    static const meta_edit adam_cases[] = {
        {"beta2 1", "optimizer", "0.999]", "1]", "\"betas\"[1] 1 is out of range"},
        {"beta1 negative", "optimizer", "[0.9,", "[-0.1,", "\"betas\"[0] -0.1 is out of range"},
        {"betas not a pair", "optimizer", "[0.9,0.999]", "[0.9]", "\"betas\"[0] is not a number"},
        {"eps negative", "optimizer", "\"eps\":1e-8", "\"eps\":-1e-8",
         "\"eps\" -1e-08 is out of range"},
    };
    const signing hows[] = {SIGN_AGAIN, AS_FORMAT_1};
    char what[160];
    for (size_t h = 0; h < 2; h++) {
        for (size_t c = 0; c < sizeof sgd_cases / sizeof sgd_cases[0]; c++) {
            rewrite_meta(sgd, bad, &sgd_cases[c], hows[h]);
            snprintf(what, sizeof what, "%s (%s)", sgd_cases[c].what,
                     h ? "format 1" : "re-signed");
            expect_refused(ctx, what, bad, b, ob, CLRT_ERR_FORMAT, sgd_cases[c].needle);
        }
        for (size_t c = 0; c < sizeof adam_cases / sizeof adam_cases[0]; c++) {
            rewrite_meta(adam, bad, &adam_cases[c], hows[h]);
            snprintf(what, sizeof what, "%s (%s)", adam_cases[c].what,
                     h ? "format 1" : "re-signed");
            expect_refused(ctx, what, bad, b, ab, CLRT_ERR_FORMAT, adam_cases[c].needle);
        }
    }
    /* The largest values that fit load: epoch 2^32 - 1, seed 2^64 - 1. */
    const meta_edit top_epoch = {"epoch 2^32 - 1", "epoch", NULL, "4294967295", ""};
    const meta_edit top_seed = {"seed 2^64 - 1", "seed", NULL, "18446744073709551615", ""};
    rewrite_meta(sgd, bad, &top_epoch, SIGN_AGAIN);
    clrt_train_state got = {0, 0, 0};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(bad, b, ob, &got, 0));
    assert_true(got.epoch == 4294967295u && got.seed == 5);
    rewrite_meta(sgd, bad, &top_seed, SIGN_AGAIN);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(bad, b, ob, &got, 0));
    assert_true(got.epoch == 4 && got.seed == UINT64_MAX);
    /* Saving refuses what loading would. */
    const clrt_train_state too_far = {(uint64_t)CLRT_MAX_EPOCH + 1, 0, 0.1};
    assert_int_equal(clrt_checkpoint_save(bad, a, NULL, &too_far), CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "epoch 4294967296"));
    const clrt_train_state negative_lr = {1, 0, -0.1};
    assert_int_equal(clrt_checkpoint_save(bad, a, NULL, &negative_lr), CLRT_ERR_INVALID_ARG);

    clrt_optim_destroy(oa), clrt_optim_destroy(ob), clrt_optim_destroy(aa);
    clrt_optim_destroy(ab);
    clrt_model_destroy(a), clrt_model_destroy(b);
    clrt_test_rmtree(dir);
    free(sgd), free(adam), free(bad), free(dir);
    clrt_test_ctx_done(ctx);
}

/* Swap the data_offsets of 0.bias and optim.0.bias.momentum_buffer (both
 * [33]): every entry and the data still check out; only the header
 * checksum knows the tensors changed places. */
static void edit_swap_offsets(json_t *root)
{
    json_t *a = json_object_get(root, "0.bias");
    json_t *b = json_object_get(root, "optim.0.bias.momentum_buffer");
    json_t *oa = json_incref(json_object_get(a, "data_offsets"));
    json_object_set(a, "data_offsets", json_object_get(b, "data_offsets"));
    json_object_set_new(b, "data_offsets", oa);
}
static void edit_add_key(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "note", json_string("edited"));
}
static void edit_no_header_checksum(json_t *root)
{
    json_object_del(json_object_get(root, "__metadata__"), "header_checksum");
}
static void edit_no_checksum(json_t *root)
{
    json_object_del(json_object_get(root, "__metadata__"), "checksum");
}
static void edit_header_checksum_text(json_t *root)
{
    json_object_set_new(json_object_get(root, "__metadata__"), "header_checksum",
                        json_string("xyz"));
}

/* A header edited to other valid values (lr, steps, epoch, seed, a key
 * added, two tensors swapped) with the data intact is refused by the
 * header checksum; the same edit re-signed loads and takes effect, so the
 * checksum is what refused it. Before the header checksum these loaded. */
static void edited_header_refused(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir();
    char *good = clrt_test_path(dir, "good.safetensors"), *bad = clrt_test_path(dir, "bad.safetensors");
    clrt_model *a = model_a(ctx, 1), *b = model_a(ctx, 2);
    clrt_optim *oa = sgd_momentum(ctx, a), *ob = sgd_momentum(ctx, b);
    step_with_grads(ctx, a, oa, 1);
    step_with_grads(ctx, a, oa, 2);
    const clrt_train_state ts = {4, 5, 0.5};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(good, a, oa, &ts));

    static const meta_edit edits[] = {
        {"optimizer lr", "optimizer", "\"lr\":0.05", "\"lr\":0.5", ""},
        {"steps", "optimizer", "\"steps\":2", "\"steps\":3", ""},
        {"epoch", "epoch", NULL, "5", ""},
        {"seed", "seed", NULL, "6", ""},
        {"training lr", "lr", NULL, "0.25", ""},
    };
    for (size_t c = 0; c < sizeof edits / sizeof edits[0]; c++) {
        rewrite_meta(good, bad, &edits[c], SIGN_NONE);
        expect_refused(ctx, edits[c].what, bad, b, ob, CLRT_ERR_FORMAT,
                       "header checksum mismatch");
        rewrite_meta(good, bad, &edits[c], SIGN_AGAIN);
        clrt_train_state st = {0, 0, 0};
        CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(bad, b, ob, &st, 0));
        switch (c) {
        case 0: assert_true(clrt_optim_lr(ob) == 0.5f); break;
        case 1: assert_true(clrt_optim_steps(ob) == 3); break;
        case 2: assert_true(st.epoch == 5); break;
        case 3: assert_true(st.seed == 6); break;
        default: assert_true(st.lr == 0.25); break;
        }
        CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(good, b, ob, NULL, 0)); /* back to the file's */
    }
    static const corruption table_edits[] = {
        {"two tensors swapped", edit_swap_offsets, "header checksum mismatch"},
        {"a metadata key added", edit_add_key, "header checksum mismatch"},
        {"no header checksum", edit_no_header_checksum, "no \"header_checksum\""},
        {"no data checksum", edit_no_checksum, "no \"checksum\""},
        {"header checksum not hex", edit_header_checksum_text,
         "header_checksum \"xyz\" is not 8 hex digits"},
    };
    for (size_t c = 0; c < sizeof table_edits / sizeof table_edits[0]; c++) {
        rewrite_header(good, bad, table_edits[c].edit);
        expect_refused(ctx, table_edits[c].what, bad, b, ob, CLRT_ERR_FORMAT,
                       table_edits[c].needle);
    }
    /* Weights only still checks both checksums of a clrt file. */
    rewrite_header(good, bad, edit_swap_offsets);
    assert_int_equal(clrt_checkpoint_load(bad, b, NULL, NULL, CLRT_CHECKPOINT_WEIGHTS_ONLY),
                     CLRT_ERR_FORMAT);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "header checksum mismatch"));
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(good, b, ob, NULL, 0));
    assert_params_equal(ctx, a, b);

    clrt_optim_destroy(oa), clrt_optim_destroy(ob);
    clrt_model_destroy(a), clrt_model_destroy(b);
    clrt_test_rmtree(dir);
    free(good), free(bad), free(dir);
    clrt_test_ctx_done(ctx);
}

/* The F32 data of tensor `name` of the file at path (n floats expected). */
static float *file_tensor(const char *path, const char *name, size_t n)
{
    size_t len, data_at;
    unsigned char *file = read_bytes(path, &len);
    json_t *root = read_header(file, len, &data_at);
    json_t *off = json_object_get(json_object_get(root, name), "data_offsets");
    assert_non_null(off);
    size_t begin = (size_t)json_integer_value(json_array_get(off, 0));
    assert_int_equal((size_t)json_integer_value(json_array_get(off, 1)) - begin, 4 * n);
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = file + data_at + begin + 4 * i;
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&v[i], &u, 4);
    }
    json_decref(root);
    free(file);
    return v;
}

/* Format 1 files still load, their data checksum checked with the old
 * rule: tests/data/checkpoint-v1.safetensors, written by clrt before the
 * header checksum (3 -> 4 -> tanh -> 2, SGD lr 0.05 momentum 0.9 after one
 * step, epoch 2, seed 9, lr 0.025), and a file of today turned into format
 * 1. The old rule covers the data alone: an edited lr in the header of a
 * format-1 file is taken. */
static void format_1_still_loads(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *bad = clrt_test_path(dir, "bad.safetensors");
    const char *fixture = CLRT_SOURCE_DIR "/tests/data/checkpoint-v1.safetensors";
    const size_t w[] = {4, 2};
    clrt_model *m = mlp(ctx, 3, w, 2, CLRT_ACT_TANH, 0, 1);
    clrt_optim *opt = sgd_momentum(ctx, m);
    clrt_train_state st = {0, 0, 0};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(fixture, m, opt, &st, 0));
    assert_true(st.epoch == 2 && st.seed == 9 && st.lr == 0.025);
    assert_true(clrt_optim_steps(opt) == 1 && clrt_optim_lr(opt) == 0.05f);
    const char *names[4] = {"0.weight", "0.bias", "2.weight", "2.bias"};
    for (size_t i = 0; i < 4; i++) {
        const clrt_tensor *t = clrt_model_param(m, i, NULL);
        size_t n = clrt_tensor_numel(t);
        float *want = file_tensor(fixture, names[i], n), *got = malloc(n * sizeof *got);
        assert_non_null(got);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, got, n));
        assert_same_floats(names[i], want, n, got, n);
        char sname[64];
        snprintf(sname, sizeof sname, "optim.%s.momentum_buffer", names[i]);
        float *wants = file_tensor(fixture, sname, n);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(clrt_optim_state(opt, i, 0, NULL), got, n));
        assert_same_floats(sname, wants, n, got, n);
        free(want), free(wants), free(got);
    }
    /* Its data checksum is checked: one bit of the data flipped. */
    size_t len;
    unsigned char *file = read_bytes(fixture, &len);
    file[len - 3] ^= 0x04;
    write_bytes(bad, file, len);
    free(file);
    expect_refused(ctx, "format 1, a data bit flipped", bad, m, opt, CLRT_ERR_FORMAT,
                   "checksum mismatch");

    /* Today's file as format 1: loads; edited, it loads with the edit. */
    clrt_model *a = model_a(ctx, 1), *b = model_a(ctx, 2);
    clrt_optim *oa = sgd_momentum(ctx, a), *ob = sgd_momentum(ctx, b);
    step_with_grads(ctx, a, oa, 1);
    char *good = clrt_test_path(dir, "good.safetensors");
    const clrt_train_state ts = {4, 5, 0.5};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(good, a, oa, &ts));
    rewrite_header(good, bad, to_format_1);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(bad, b, ob, &st, 0));
    assert_params_equal(ctx, a, b);
    assert_true(st.epoch == 4 && clrt_optim_lr(ob) == 0.05f);
    const meta_edit lr = {"optimizer lr", "optimizer", "\"lr\":0.05", "\"lr\":0.5", ""};
    rewrite_meta(good, bad, &lr, AS_FORMAT_1);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(bad, b, ob, &st, 0));
    assert_true(clrt_optim_lr(ob) == 0.5f);

    clrt_optim_destroy(oa), clrt_optim_destroy(ob), clrt_optim_destroy(opt);
    clrt_model_destroy(a), clrt_model_destroy(b), clrt_model_destroy(m);
    clrt_test_rmtree(dir);
    free(good), free(bad), free(dir);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------- plan, then apply */

/* The name of the tensor whose data comes last in the file at `path`. */
static char *last_tensor_name(const char *path)
{
    size_t len, data_at;
    unsigned char *file = read_bytes(path, &len);
    json_t *root = read_header(file, len, &data_at);
    json_t *last = last_entry(root);
    const char *key, *name = NULL;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (value == last)
            name = key;
    }
    assert_non_null(name);
    char *copy = strdup(name);
    assert_non_null(copy);
    json_decref(root);
    free(file);
    return copy;
}

/* The last tensor of the file, F32 [7] in the optimizer, written as [1, 7]:
 * the same bytes, so the file is sound and its checksum right. */
static void edit_last_shape(json_t *root)
{
    json_object_set_new(last_entry(root), "shape", json_pack("[i,i]", 1, 7));
}

/* A checkpoint refused at its very last check (the last tensor's shape,
 * after every model parameter matched) or at its checksum leaves the
 * model's weights, the optimizer's state, steps and lr and the training
 * state as they were, bit for bit; the good file then changes them all. */
static void refused_load_changes_nothing(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir();
    char *good = clrt_test_path(dir, "good.safetensors"), *bad = clrt_test_path(dir, "bad.safetensors");
    clrt_model *a = model_a(ctx, 1), *b = model_a(ctx, 2);
    clrt_optim *oa = sgd_momentum(ctx, a);
    step_with_grads(ctx, a, oa, 1);
    step_with_grads(ctx, a, oa, 2);
    const clrt_train_state ts = {4, 5, 0.5};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(good, a, oa, &ts));
    /* The last data are the optimizer's: every model tensor comes first. */
    char *last = last_tensor_name(good);
    assert_string_equal(last, "optim.2.bias.momentum_buffer");

    /* b differs from the file in everything a load would set. */
    clrt_optim_options o;
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.lr = 0.01f;
    o.momentum = 0.9f;
    clrt_optim *ob = optim_for(ctx, b, &o);
    step_with_grads(ctx, b, ob, 9);
    assert_true(params_differ(ctx, a, b));
    size_t nb, nsb;
    float *before = snapshot(ctx, b, &nb), *sbefore = snapshot_optim(ctx, b, ob, &nsb);
    size_t nsa;
    float *sa = snapshot_optim(ctx, a, oa, &nsa);
    assert_int_equal(nsa, nsb);
    assert_memory_not_equal(sa, sbefore, nsa * sizeof *sa);
    free(sa);

    for (int c = 0; c < 2; c++) {
        clrt_status want;
        if (c == 0) {
            rewrite_header(good, bad, edit_last_shape);
            want = CLRT_ERR_SHAPE;
        } else {
            /* A bit of the last tensor's data flipped. */
            size_t len;
            unsigned char *file = read_bytes(good, &len);
            file[len - 1] ^= 0x01;
            write_bytes(bad, file, len);
            free(file);
            want = CLRT_ERR_FORMAT;
        }
        clrt_train_state st = {777, 888, 9.5};
        clrt_status rc = clrt_checkpoint_load(bad, b, ob, &st, 0);
        const char *msg = clrt_ctx_errmsg(ctx);
        if (rc != want)
            fail_msg("case %d: got %s (%s), expected %s", c, clrt_status_str(rc), msg,
                     clrt_status_str(want));
        if (c == 0 && (!strstr(msg, last) || !strstr(msg, "[1, 7] in the checkpoint")))
            fail_msg("case 0: \"%s\" does not name %s and its shape", msg, last);
        if (c == 1 && !strstr(msg, "checksum mismatch"))
            fail_msg("case 1: \"%s\" is not a checksum mismatch", msg);

        size_t n2, ns2;
        float *after = snapshot(ctx, b, &n2), *safter = snapshot_optim(ctx, b, ob, &ns2);
        assert_same_floats("weights after a refused load", before, nb, after, n2);
        assert_same_floats("optimizer state after a refused load", sbefore, nsb, safter, ns2);
        free(after);
        free(safter);
        assert_true(clrt_optim_steps(ob) == 1);
        assert_true(clrt_optim_lr(ob) == 0.01f);
        assert_true(st.epoch == 777 && st.seed == 888 && st.lr == 9.5);
    }

    /* The good file: every one of them changes. */
    clrt_train_state st = {777, 888, 9.5};
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(good, b, ob, &st, 0));
    assert_params_equal(ctx, a, b);
    size_t n2, ns2;
    float *sa2 = snapshot_optim(ctx, a, oa, &n2), *sb2 = snapshot_optim(ctx, b, ob, &ns2);
    assert_same_floats("optimizer state after the good load", sa2, n2, sb2, ns2);
    free(sa2);
    free(sb2);
    assert_true(clrt_optim_steps(ob) == 2);
    assert_true(clrt_optim_lr(ob) == 0.05f);
    assert_true(st.epoch == 4 && st.seed == 5 && st.lr == 0.5);

    free(last);
    free(before);
    free(sbefore);
    clrt_optim_destroy(oa);
    clrt_optim_destroy(ob);
    clrt_model_destroy(a);
    clrt_model_destroy(b);
    clrt_test_rmtree(dir);
    free(good);
    free(bad);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* ---------------------------------------------------- another model */

static void other_models_refused(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "a.safetensors");
    clrt_model *a = model_a(ctx, 1);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, NULL, NULL));

    const size_t w_out8[] = {33, 8}, w_deeper[] = {33, 33, 7};
    const size_t w_one[] = {33};
    struct {
        clrt_model *m;
        const char *needle;
    } cases[] = {
        {mlp(ctx, 13, w_out8, 2, CLRT_ACT_TANH, 0, 3),
         "checkpoint layer 2 is linear 33->7, model has linear 33->8"},
        {mlp(ctx, 13, w_deeper, 3, CLRT_ACT_TANH, 0, 3),
         "checkpoint layer 2 is linear 33->7, model has linear 33->33"},
        {mlp(ctx, 13, W_A, 2, CLRT_ACT_RELU, 0, 3),
         "checkpoint layer 1 is tanh on 33 features, model has relu on 33 features"},
        {mlp(ctx, 12, W_A, 2, CLRT_ACT_TANH, 0, 3),
         "checkpoint layer 0 is linear 13->33, model has linear 12->33"},
        {mlp(ctx, 13, w_one, 1, CLRT_ACT_TANH, 0, 3), "checkpoint has 3 layers, model has 1"},
    };
    const size_t ncases = sizeof cases / sizeof cases[0];
    for (size_t c = 0; c < ncases; c++) {
        size_t nb;
        float *before = snapshot(ctx, cases[c].m, &nb);
        clrt_status rc = clrt_checkpoint_load(path, cases[c].m, NULL, NULL, 0);
        if (rc != CLRT_ERR_SHAPE || !strstr(clrt_ctx_errmsg(ctx), cases[c].needle))
            fail_msg("case %zu: %s \"%s\", expected CLRT_ERR_SHAPE \"%s\"", c,
                     clrt_status_str(rc), clrt_ctx_errmsg(ctx), cases[c].needle);
        size_t na;
        float *after = snapshot(ctx, cases[c].m, &na);
        assert_same_floats("after a refused load", before, nb, after, na);
        free(before);
        free(after);
    }

    /* Weights only: names and shapes decide, activations do not. */
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, cases[2].m, NULL, NULL,
                                             CLRT_CHECKPOINT_WEIGHTS_ONLY));
    assert_params_equal(ctx, a, cases[2].m);
    assert_int_equal(clrt_checkpoint_load(path, cases[0].m, NULL, NULL,
                                          CLRT_CHECKPOINT_WEIGHTS_ONLY),
                     CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx),
                           "tensor '2.weight' is [7, 33] in the checkpoint, [8, 33] in the model"));
    /* A deeper model: the first tensor whose shape differs. */
    assert_int_equal(clrt_checkpoint_load(path, cases[1].m, NULL, NULL,
                                          CLRT_CHECKPOINT_WEIGHTS_ONLY),
                     CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "2.weight"));

    /* A leaky_relu slope is part of the layer. */
    clrt_model *l1 = mlp(ctx, 13, W_A, 2, CLRT_ACT_LEAKY_RELU, 0.1f, 1);
    clrt_model *l2 = mlp(ctx, 13, W_A, 2, CLRT_ACT_LEAKY_RELU, 0.2f, 2);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, l1, NULL, NULL));
    assert_int_equal(clrt_checkpoint_load(path, l2, NULL, NULL, 0), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "leaky_relu(0.1)"));
    clrt_model *l3 = mlp(ctx, 13, W_A, 2, CLRT_ACT_LEAKY_RELU, 0.1f, 3);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, l3, NULL, NULL, 0));
    assert_params_equal(ctx, l1, l3);

    for (size_t c = 0; c < ncases; c++)
        clrt_model_destroy(cases[c].m);
    clrt_model_destroy(l1);
    clrt_model_destroy(l2);
    clrt_model_destroy(l3);
    clrt_model_destroy(a);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

static void optimizer_mismatch(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "o.safetensors");
    clrt_model *a = model_a(ctx, 1), *b = model_a(ctx, 2);
    clrt_optim *oa = sgd_momentum(ctx, a);
    step_with_grads(ctx, a, oa, 1);
    step_with_grads(ctx, a, oa, 2);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, oa, NULL));

    /* Another kind: refused, nothing written. */
    clrt_optim_options adam;
    clrt_optim_options_init(&adam, CLRT_OPTIM_ADAM);
    clrt_optim *ob = optim_for(ctx, b, &adam);
    size_t nb;
    float *before = snapshot(ctx, b, &nb);
    assert_int_equal(clrt_checkpoint_load(path, b, ob, NULL, 0), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "optimizer is SGD"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "Adam"));
    size_t na;
    float *after = snapshot(ctx, b, &na);
    assert_same_floats("after an optimizer mismatch", before, nb, after, na);
    free(after);
    assert_true(clrt_optim_steps(ob) == 0);
    /* Weights only ignores the optimizer. */
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, b, ob, NULL, CLRT_CHECKPOINT_WEIGHTS_ONLY));
    assert_params_equal(ctx, a, b);
    assert_true(clrt_optim_steps(ob) == 0);
    clrt_optim_destroy(ob);

    /* SGD without momentum has no state: steps and lr come back. */
    clrt_optim_options plain;
    clrt_optim_options_init(&plain, CLRT_OPTIM_SGD);
    ob = optim_for(ctx, b, &plain);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, b, ob, NULL, 0));
    assert_true(clrt_optim_steps(ob) == 2);
    assert_true(clrt_optim_lr(ob) == 0.05f);
    clrt_optim_destroy(ob);

    /* The reverse: the file has no momentum buffers for an optimizer that
     * needs them. */
    clrt_optim *oplain = optim_for(ctx, a, &plain);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, oplain, NULL));
    ob = sgd_momentum(ctx, b);
    assert_int_equal(clrt_checkpoint_load(path, b, ob, NULL, 0), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "optim.0.weight.momentum_buffer"));

    /* A file saved without an optimizer leaves the optimizer as it was. */
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, NULL, NULL));
    step_with_grads(ctx, b, ob, 3);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, b, ob, NULL, 0));
    assert_true(clrt_optim_steps(ob) == 1);
    assert_params_equal(ctx, a, b);

    /* An optimizer over another model's parameters cannot be saved with
     * this one. */
    const size_t w_other[] = {5, 7};
    clrt_model *other = mlp(ctx, 13, w_other, 2, CLRT_ACT_TANH, 0, 4);
    clrt_optim *oo = sgd_momentum(ctx, other);
    assert_int_equal(clrt_checkpoint_save(path, a, oo, NULL), CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "not over this model"));

    free(before);
    clrt_optim_destroy(oo);
    clrt_model_destroy(other);
    clrt_optim_destroy(ob);
    clrt_optim_destroy(oplain);
    clrt_optim_destroy(oa);
    clrt_model_destroy(a);
    clrt_model_destroy(b);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------- files from other writers */

/* A file as safetensors.torch.save_file writes one for a 5 -> 3 -> relu ->
 * 2 model: no clrt metadata, tensors in another order than their data,
 * extra tensors of other dtypes (one leaving a float tensor at an offset
 * that is not a multiple of 4). `drop` leaves a tensor out; `dtype0` is the
 * dtype written for 0.weight. */
static void write_foreign(const char *path, const char *metadata_format, const char *drop,
                          const char *dtype0, float *expect)
{
    const struct {
        const char *name, *dtype;
        int rank;
        size_t shape[2];
        size_t bytes;
    } t[] = {
        /* data order: 2.bias, extra.half, 2.weight, extra.count, 0.bias, 0.weight */
        {"2.bias", "F32", 1, {2, 0}, 8},      {"extra.half", "F16", 1, {3, 0}, 6},
        {"2.weight", "F32", 2, {2, 3}, 24},   {"extra.count", "I64", 0, {0, 0}, 8},
        {"0.bias", "F32", 1, {3, 0}, 12},     {"0.weight", "F32", 2, {3, 5}, 60},
    };
    /* Header keys in state_dict order, as torch writes them (sorted). */
    const int key_order[] = {5, 4, 2, 0, 3, 1};
    json_t *root = json_object();
    if (metadata_format)
        json_object_set_new(root, "__metadata__", json_pack("{s:s}", "format", metadata_format));
    size_t offs[6], at = 0;
    for (int i = 0; i < 6; i++) {
        offs[i] = at;
        at += t[i].bytes;
    }
    for (int k = 0; k < 6; k++) {
        int i = key_order[k];
        if (drop && strcmp(t[i].name, drop) == 0)
            continue;
        json_t *shape = json_array();
        for (int d = 0; d < t[i].rank; d++)
            json_array_append_new(shape, json_integer((json_int_t)t[i].shape[d]));
        const char *dtype = strcmp(t[i].name, "0.weight") == 0 ? dtype0 : t[i].dtype;
        json_object_set_new(root, t[i].name,
                            json_pack("{s:s,s:o,s:[I,I]}", "dtype", dtype, "shape", shape,
                                      "data_offsets", (json_int_t)offs[i],
                                      (json_int_t)(offs[i] + t[i].bytes)));
    }
    unsigned char data[118];
    assert_int_equal(at, sizeof data);
    memset(data, 0xab, sizeof data);
    /* Values in model parameter order: 0.weight, 0.bias, 2.weight, 2.bias. */
    const int param_entry[4] = {5, 4, 2, 0};
    size_t e = 0;
    for (int p = 0; p < 4; p++) {
        int i = param_entry[p];
        for (size_t j = 0; j < t[i].bytes / 4; j++, e++) {
            expect[e] = (float)e * 0.25f - 3.0f;
            put_f32_le(data + offs[i] + 4 * j, expect[e]);
        }
    }
    char *header = json_dumps(root, JSON_COMPACT);
    if (drop) {
        /* A dropped tensor leaves a hole; close it with an extra entry. */
        json_t *filler = NULL;
        for (int i = 0; i < 6; i++)
            if (strcmp(t[i].name, drop) == 0)
                filler = json_pack("{s:s,s:[I],s:[I,I]}", "dtype", "U8", "shape",
                                   (json_int_t)t[i].bytes, "data_offsets", (json_int_t)offs[i],
                                   (json_int_t)(offs[i] + t[i].bytes));
        json_object_set_new(root, "extra.filler", filler);
        free(header);
        header = json_dumps(root, JSON_COMPACT);
    }
    write_safetensors(path, header, data, sizeof data);
    free(header);
    json_decref(root);
}

static void foreign_file_weights_only(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "torch.safetensors");
    const size_t w[] = {3, 2};
    clrt_model *m = mlp(ctx, 5, w, 2, CLRT_ACT_RELU, 0, 1);
    clrt_optim *opt = sgd_momentum(ctx, m);
    step_with_grads(ctx, m, opt, 1);
    size_t ns;
    float *sbefore = snapshot_optim(ctx, m, opt, &ns);
    float expect[26];

    const char *formats[] = {NULL, "pt"};
    for (int f = 0; f < 2; f++)
        for (unsigned flags = 0; flags <= CLRT_CHECKPOINT_WEIGHTS_ONLY; flags++) {
            write_foreign(path, formats[f], NULL, "F32", expect);
            CLRT_ASSERT_OK(ctx, clrt_model_init(m, 7));
            clrt_train_state st = {1, 2, 3.0};
            CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, m, opt, &st, flags));
            size_t n;
            float *got = snapshot(ctx, m, &n);
            assert_same_floats("foreign weights", expect, 26, got, n);
            free(got);
            /* No optimizer or training state in the file: untouched. */
            assert_true(clrt_optim_steps(opt) == 1);
            float *safter = snapshot_optim(ctx, m, opt, &n);
            assert_same_floats("optimizer state", sbefore, ns, safter, n);
            free(safter);
            assert_true(st.epoch == 1 && st.seed == 2 && st.lr == 3.0);
        }

    /* A missing parameter names it; another dtype for one is refused. */
    CLRT_ASSERT_OK(ctx, clrt_model_init(m, 7));
    size_t nb;
    float *before = snapshot(ctx, m, &nb);
    write_foreign(path, NULL, "2.bias", "F32", expect);
    assert_int_equal(clrt_checkpoint_load(path, m, NULL, NULL, CLRT_CHECKPOINT_WEIGHTS_ONLY),
                     CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "no tensor '2.bias'"));
    write_foreign(path, NULL, NULL, "I32", expect);
    assert_int_equal(clrt_checkpoint_load(path, m, NULL, NULL, CLRT_CHECKPOINT_WEIGHTS_ONLY),
                     CLRT_ERR_FORMAT);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "'0.weight' is I32"));
    size_t na;
    float *after = snapshot(ctx, m, &na);
    assert_same_floats("after refused foreign files", before, nb, after, na);
    free(after);
    free(before);

    free(sbefore);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* --------------------------------------------------- atomic write, args */

static void save_replaces_atomically(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "ck.safetensors");
    char listing[512];
    int count;
    clrt_model *a = model_a(ctx, 1), *b = model_a(ctx, 2), *c = model_a(ctx, 3);

    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, NULL, NULL));
    dir_listing(dir, listing, sizeof listing, &count);
    if (count != 1 || strcmp(listing, "ck.safetensors") != 0)
        fail_msg("after a save the directory holds \"%s\"", listing);

    /* A stale temp file of this process is replaced, not appended to. */
    char stale[64];
    snprintf(stale, sizeof stale, "ck.safetensors.tmp.%ld", (long)getpid());
    char *stale_path = clrt_test_path(dir, stale);
    write_bytes(stale_path, "junk junk junk", 14);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, b, NULL, NULL));
    dir_listing(dir, listing, sizeof listing, &count);
    if (count != 1 || strcmp(listing, "ck.safetensors") != 0)
        fail_msg("after a second save the directory holds \"%s\"", listing);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, c, NULL, NULL, 0));
    assert_params_equal(ctx, b, c);

    /* A save that cannot happen is CLRT_ERR_IO and leaves the file alone. */
    char *missing = clrt_test_path(dir, "no-such-dir/ck.safetensors");
    assert_int_equal(clrt_checkpoint_save(missing, a, NULL, NULL), CLRT_ERR_IO);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "no-such-dir"));
    assert_int_equal(clrt_checkpoint_save(dir, a, NULL, NULL), CLRT_ERR_IO); /* a directory */
    dir_listing(dir, listing, sizeof listing, &count);
    if (count != 1 || strcmp(listing, "ck.safetensors") != 0)
        fail_msg("after failed saves the directory holds \"%s\"", listing);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, c, NULL, NULL, 0));
    assert_params_equal(ctx, b, c);

    free(missing);
    free(stale_path);
    clrt_model_destroy(a);
    clrt_model_destroy(b);
    clrt_model_destroy(c);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* A link planted at the temp name "<path>.tmp.<pid>" is not written
 * through: its target keeps its bytes, the save succeeds under another temp
 * name, and the checkpoint is a file of its own, not the link. */
static void save_ignores_planted_temp_link(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "ck.safetensors");
    char *victim = clrt_test_path(dir, "victim"), tmp[64];
    snprintf(tmp, sizeof tmp, "ck.safetensors.tmp.%ld", (long)getpid());
    char *link_path = clrt_test_path(dir, tmp);
    write_bytes(victim, "precious", 8);
    assert_int_equal(symlink(victim, link_path), 0);
    clrt_model *a = model_a(ctx, 1), *c = model_a(ctx, 3);

    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, NULL, NULL));
    size_t len;
    unsigned char *v = read_bytes(victim, &len);
    if (len != 8 || memcmp(v, "precious", 8) != 0)
        fail_msg("the link's target was written through: it holds %zu bytes", len);
    free(v);
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(lstat(link_path, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode)); /* not a regular file: left alone */
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, c, NULL, NULL, 0));
    assert_params_equal(ctx, a, c);
    char listing[512];
    int count;
    dir_listing(dir, listing, sizeof listing, &count);
    assert_int_equal(count, 3); /* the checkpoint, the victim, the link */

    clrt_model_destroy(a);
    clrt_model_destroy(c);
    clrt_test_rmtree(dir);
    free(link_path);
    free(victim);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* Temp files that killed saves of a path left ("<path>.tmp.<pid>..." of a
 * pid that is gone) are removed by the next save of that path; those of a
 * live process stay. */
static void save_removes_stale_temps(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "ck.safetensors");
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(0);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(kill(child, 0) != 0 && errno == ESRCH);
    char name[128];
    snprintf(name, sizeof name, "ck.safetensors.tmp.%ld", (long)child);
    char *dead1 = clrt_test_path(dir, name);
    snprintf(name, sizeof name, "ck.safetensors.tmp.%ld.1700000000.123", (long)child);
    char *dead2 = clrt_test_path(dir, name);
    snprintf(name, sizeof name, "ck.safetensors.tmp.%ld", (long)getppid());
    char *live = clrt_test_path(dir, name);
    write_bytes(dead1, "half a save", 11);
    write_bytes(dead2, "half a save", 11);
    write_bytes(live, "in progress", 11);
    clrt_model *a = model_a(ctx, 1), *c = model_a(ctx, 3);

    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, NULL, NULL));
    assert_int_equal(access(dead1, F_OK), -1);
    assert_int_equal(access(dead2, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    char listing[512];
    int count;
    dir_listing(dir, listing, sizeof listing, &count);
    if (count != 2)
        fail_msg("after the save the directory holds \"%s\"", listing);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_load(path, c, NULL, NULL, 0));
    assert_params_equal(ctx, a, c);

    clrt_model_destroy(a);
    clrt_model_destroy(c);
    clrt_test_rmtree(dir);
    free(dead1);
    free(dead2);
    free(live);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

static void missing_file_and_bad_arguments(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "absent.safetensors");
    clrt_model *a = model_a(ctx, 1);
    size_t nb;
    float *before = snapshot(ctx, a, &nb);

    assert_int_equal(clrt_checkpoint_load(path, a, NULL, NULL, 0), CLRT_ERR_IO);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), path));
    assert_int_equal(clrt_checkpoint_load(dir, a, NULL, NULL, 0), CLRT_ERR_IO);
    assert_int_equal(clrt_checkpoint_load(NULL, a, NULL, NULL, 0), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_checkpoint_load(path, NULL, NULL, NULL, 0), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_checkpoint_load("", a, NULL, NULL, 0), CLRT_ERR_INVALID_ARG);
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(path, a, NULL, NULL));
    assert_int_equal(clrt_checkpoint_load(path, a, NULL, NULL, 0x80u), CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "flags"));
    assert_int_equal(clrt_checkpoint_save(NULL, a, NULL, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_checkpoint_save(path, NULL, NULL, NULL), CLRT_ERR_INVALID_ARG);
    const clrt_train_state nan_lr = {0, 0, NAN};
    assert_int_equal(clrt_checkpoint_save(path, a, NULL, &nan_lr), CLRT_ERR_INVALID_ARG);

    size_t na;
    float *after = snapshot(ctx, a, &na);
    assert_same_floats("after bad calls", before, nb, after, na);
    free(before);
    free(after);
    clrt_model_destroy(a);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------ PyTorch interop */

/* Save a model with several activations and its outputs on inputs from a
 * seed; tools/check-torch-checkpoint.py builds the nn.Sequential from the
 * file's layer list, loads the state_dict (strict) and compares. The
 * tolerance, 1e-4 of 1 + |y|, covers float32 accumulation in another order
 * over at most 33 terms per output. Skipped where Debian's torch is not
 * importable ($CLRT_TEST_PYTHON, default /usr/bin/python3). */
static void loads_into_pytorch(void **state)
{
    (void)state;
    const char *python = getenv("CLRT_TEST_PYTHON");
    if (!python || !*python)
        python = "/usr/bin/python3";
    if (access(python, X_OK) != 0)
        skip();
    clrt_ctx *ctx = clrt_test_ctx();
    char *dir = clrt_test_tempdir();
    char *ck = clrt_test_path(dir, "m.safetensors"), *outputs = clrt_test_path(dir, "outputs.bin");
    enum { BATCH = 9, IN = 13, SEED = 5 };
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, IN, &m));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 33));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_RELU, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 17));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_LEAKY_RELU, 0.2f));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 11));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_GELU_TANH, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 9));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_TANH, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 5));
    CLRT_ASSERT_OK(ctx, clrt_model_init(m, 11));
    clrt_optim *opt = sgd_momentum(ctx, m);
    step_with_grads(ctx, m, opt, 1); /* optim.* tensors in the file too */
    CLRT_ASSERT_OK(ctx, clrt_checkpoint_save(ck, m, opt, NULL));

    float hx[BATCH * IN], hy[BATCH * 5];
    clrt_test_random(hx, BATCH * IN, SEED);
    size_t xs[2] = {BATCH, IN};
    clrt_tensor *x;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, xs, 0, &x));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(x, hx, BATCH * IN));
    const clrt_tensor *y;
    CLRT_ASSERT_OK(ctx, clrt_model_forward(m, x, &y));
    assert_int_equal(clrt_tensor_numel(y), BATCH * 5);
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(y, hy, BATCH * 5));
    unsigned char bytes[sizeof hy];
    for (size_t i = 0; i < BATCH * 5; i++)
        put_f32_le(bytes + 4 * i, hy[i]);
    write_bytes(outputs, bytes, sizeof bytes);

    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' '%s/tools/check-torch-checkpoint.py' '%s' --seed %d --batch %d "
             "--outputs '%s' --tol 1e-4",
             python, CLRT_SOURCE_DIR, ck, SEED, BATCH, outputs);
    int rc = system(cmd);
    clrt_tensor_destroy(x);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_test_rmtree(dir);
    free(ck);
    free(outputs);
    free(dir);
    clrt_test_ctx_done(ctx);
    assert_true(rc != -1 && WIFEXITED(rc));
    if (WEXITSTATUS(rc) == 77)
        skip(); /* torch is not importable there */
    assert_int_equal(WEXITSTATUS(rc), 0);
}

/* -------------------------------------------------------- 16-bit storage */

static clrt_ctx *ctx_of_precision(int precision)
{
    clrt_ctx_options o;
    clrt_test_options(&o);
    o.precision = precision;
    clrt_ctx *ctx = clrt_test_ctx_with(&o);
    assert_int_equal(clrt_ctx_precision(ctx), precision);
    return ctx;
}

/* Training steps with random inputs and labels: activations flow through
 * the model in its context's storage. */
static void train_steps(clrt_ctx *ctx, clrt_model *m, clrt_optim *opt, int steps)
{
    const size_t xd[2] = {5, 13}, batch = 5;
    float hx[65], hl[5];
    clrt_test_random(hx, 65, 77);
    for (size_t i = 0; i < batch; i++)
        hl[i] = (float)(i * 3 % 7);
    clrt_tensor *x, *l;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, xd, 0, &x));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &batch, 0, &l));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(x, hx, 65));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(l, hl, batch));
    for (int i = 0; i < steps; i++)
        CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, x, l));
    double loss;
    CLRT_ASSERT_OK(ctx, clrt_model_take_loss(m, &loss, NULL));
    assert_true(isfinite(loss));
    clrt_tensor_destroy(x);
    clrt_tensor_destroy(l);
}

/* The model's output for a fixed batch, read as floats. */
static void forward_of(clrt_ctx *ctx, clrt_model *m, float out[35])
{
    const size_t xd[2] = {5, 13};
    float hx[65];
    clrt_test_random(hx, 65, 78);
    clrt_tensor *x;
    const clrt_tensor *y;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, xd, 0, &x));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(x, hx, 65));
    CLRT_ASSERT_OK(ctx, clrt_model_forward(m, x, &y));
    assert_int_equal(clrt_tensor_dtype(y), clrt_ctx_precision(ctx));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(y, out, 35));
    clrt_tensor_destroy(x);
}

/* Checkpoints hold the float32 master weights whatever the storage of the
 * activations: one saved by a bf16 run loads bit for bit into float32 and
 * fp16 runs (and back), optimizer state too, so a run can change
 * precision when it resumes. */
static void checkpoints_across_precisions(void **state)
{
    (void)state;
    clrt_ctx *c16 = ctx_of_precision(CLRT_BF16), *c32 = ctx_of_precision(CLRT_F32);
    clrt_ctx *ch = ctx_of_precision(CLRT_F16);
    char *dir = clrt_test_tempdir(), *path = clrt_test_path(dir, "bf16.safetensors");
    char *back = clrt_test_path(dir, "f32.safetensors");
    clrt_model *a = model_a(c16, 1), *b = model_a(c32, 2), *h = model_a(ch, 3);
    clrt_optim *oa = sgd_momentum(c16, a), *ob = sgd_momentum(c32, b), *oh = sgd_momentum(ch, h);
    for (size_t i = 0; i < clrt_model_num_params(a); i++) {
        assert_int_equal(clrt_tensor_dtype(clrt_model_param(a, i, NULL)), CLRT_F32);
        assert_int_equal(clrt_tensor_dtype(clrt_model_grad(a, i)), CLRT_F32);
    }
    train_steps(c16, a, oa, 3);
    CLRT_ASSERT_OK(c16, clrt_checkpoint_save(path, a, oa, NULL));
    size_t len, data_at;
    unsigned char *file = read_bytes(path, &len);
    json_t *root = read_header(file, len, &data_at);
    assert_string_equal(json_string_value(json_object_get(json_object_get(root, "0.weight"),
                                                          "dtype")),
                        "F32");
    json_decref(root);
    free(file);

    CLRT_ASSERT_OK(c32, clrt_checkpoint_load(path, b, ob, NULL, 0));
    CLRT_ASSERT_OK(ch, clrt_checkpoint_load(path, h, oh, NULL, 0));
    assert_params_equal(c16, a, b);
    assert_params_equal(c16, a, h);
    /* The same weights and momentum: one more step on the same gradients
     * moves all three alike (the optimizer is float32 in each). */
    step_with_grads(c16, a, oa, 9);
    step_with_grads(c32, b, ob, 9);
    step_with_grads(ch, h, oh, 9);
    assert_params_equal(c16, a, b);
    assert_params_equal(c16, a, h);

    /* Their outputs differ by the storage's rounding only: inputs in
     * [-1, 1), 13 then 33 terms; bf16 keeps 8 significant bits, so each of
     * the three stored tensors (input, hidden, output) is off by at most
     * 2^-8 of itself, a few hundredths here at most; fp16 (11 bits) 8x
     * less. */
    float ya[35], yb[35], yh[35];
    forward_of(c16, a, ya);
    forward_of(c32, b, yb);
    forward_of(ch, h, yh);
    for (int i = 0; i < 35; i++) {
        if (!(fabsf(ya[i] - yb[i]) <= 0.05f * (1.0f + fabsf(yb[i]))))
            fail_msg("bf16 output %d is %g, float32's %g", i, (double)ya[i], (double)yb[i]);
        if (!(fabsf(yh[i] - yb[i]) <= 0.00625f * (1.0f + fabsf(yb[i]))))
            fail_msg("fp16 output %d is %g, float32's %g", i, (double)yh[i], (double)yb[i]);
    }

    /* And back: a float32 run's checkpoint into the bf16 one. */
    train_steps(c32, b, ob, 2);
    CLRT_ASSERT_OK(c32, clrt_checkpoint_save(back, b, ob, NULL));
    CLRT_ASSERT_OK(c16, clrt_checkpoint_load(back, a, oa, NULL, 0));
    assert_params_equal(c16, a, b);

    clrt_optim_destroy(oa), clrt_optim_destroy(ob), clrt_optim_destroy(oh);
    clrt_model_destroy(a), clrt_model_destroy(b), clrt_model_destroy(h);
    clrt_test_rmtree(dir);
    free(path), free(back), free(dir);
    clrt_test_ctx_done(ch);
    clrt_test_ctx_done(c32);
    clrt_test_ctx_done(c16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weights_and_state_round_trip),
        cmocka_unit_test(checkpoints_across_precisions),
        cmocka_unit_test(optimizer_state_round_trip),
        cmocka_unit_test(resume_matches_uninterrupted_run),
        cmocka_unit_test(corrupt_files_refused),
        cmocka_unit_test(metadata_numbers_range_checked),
        cmocka_unit_test(edited_header_refused),
        cmocka_unit_test(format_1_still_loads),
        cmocka_unit_test(refused_load_changes_nothing),
        cmocka_unit_test(other_models_refused),
        cmocka_unit_test(optimizer_mismatch),
        cmocka_unit_test(foreign_file_weights_only),
        cmocka_unit_test(save_replaces_atomically),
        cmocka_unit_test(save_ignores_planted_temp_link),
        cmocka_unit_test(save_removes_stale_temps),
        cmocka_unit_test(missing_file_and_bad_arguments),
        cmocka_unit_test(loads_into_pytorch),
    };
    return clrt_test_main("checkpoint", tests, sizeof tests / sizeof tests[0]);
}
