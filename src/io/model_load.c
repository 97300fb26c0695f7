/* clrt_model_load: a model built from a file, then filled from it.
 *
 * Two kinds of safetensors file:
 *  - a clrt checkpoint: its "layers" metadata is the layer list
 *    (checkpoint.c parses it, clrt__checkpoint_layer_list);
 *  - any other, e.g. PyTorch's state_dict of an nn.Sequential of Linear
 *    layers: the tensors "<i>.weight" [out, in] and "<i>.bias" [out] give
 *    the Linear layers and their widths; a gap of one index between two
 *    Linear layers is a layer without parameters, the activation the
 *    caller names (a state_dict does not record it).
 * Either way every Linear layer's two tensors are checked (present, F32,
 * widths that chain) before anything is allocated, so a file cannot make
 * the model ask the device for more than the file holds; then the model is
 * built and clrt_checkpoint_load fills it, with its own checks (the layer
 * list and both checksums of a clrt file). The file is read twice (here
 * for its table, there for its data): it keeps one loader of checkpoints. */
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char FN[] = "clrt_model_load";

/* The two tensors of a Linear layer at position `index`: F32, weight
 * [out, in] and bias [out]; *in and *out from them. */
static clrt_status linear_tensors(clrt_ctx *ctx, const clrt__safetensors *f, size_t index,
                                  uint64_t *in, uint64_t *out)
{
    char wname[32], bname[32], shape[96];
    snprintf(wname, sizeof wname, "%zu.weight", index);
    snprintf(bname, sizeof bname, "%zu.bias", index);
    const clrt__st_entry *w = clrt__safetensors_find(f, wname);
    const clrt__st_entry *b = clrt__safetensors_find(f, bname);
    if (!w)
        return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: '%s': no tensor '%s' for the Linear layer "
                          "at position %zu", FN, f->path, wname, index);
    if (!b)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "%s: '%s': no tensor '%s': the Linear layer "
                          "at position %zu has no bias (clrt's Linear layers have one)", FN,
                          f->path, bname, index);
    const clrt__st_entry *bad = strcmp(w->dtype, "F32") != 0 ? w
                                : strcmp(b->dtype, "F32") != 0 ? b
                                                               : NULL;
    if (bad)
        return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: '%s': tensor '%s' is %s; clrt reads F32 "
                          "only (save the model after .float())", FN, f->path, bad->name,
                          bad->dtype);
    if (w->rank != 2 || w->shape[0] == 0 || w->shape[1] == 0) {
        clrt__safetensors_shape_text(w, shape, sizeof shape);
        return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: '%s': tensor '%s' is %s, not a Linear "
                          "weight [out, in] of non-zero widths", FN, f->path, wname, shape);
    }
    if (b->rank != 1 || b->shape[0] != w->shape[0]) {
        clrt__safetensors_shape_text(b, shape, sizeof shape);
        return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: '%s': tensor '%s' is %s, the weight has "
                          "%llu outputs", FN, f->path, bname, shape,
                          (unsigned long long)w->shape[0]);
    }
    *out = w->shape[0];
    *in = w->shape[1];
    return CLRT_OK;
}

static clrt_status add_linear(clrt_model *m, size_t index, uint64_t in, uint64_t out)
{
    clrt_ctx *ctx = clrt_model_ctx(m);
    if (in != (uint64_t)clrt_model_out_features(m))
        return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: the Linear layer at position %zu takes "
                          "%llu inputs, the layer before it gives %zu", FN, index,
                          (unsigned long long)in, clrt_model_out_features(m));
    if (out > SIZE_MAX)
        return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: the Linear layer at position %zu is too "
                          "wide", FN, index);
    return clrt_model_add_linear(m, (size_t)out);
}

/* ------------------------------------------------------ a clrt checkpoint */

static clrt_status build_from_records(clrt_model *m, const clrt__safetensors *f,
                                      const clrt__layer_record *recs, size_t n)
{
    clrt_ctx *ctx = clrt_model_ctx(m);
    for (size_t i = 0; i < n; i++) {
        clrt_layer_info li = {0};
        const clrt__layer_kind *kind = clrt__layer_kind_parse(recs[i].type, &li);
        if (!kind)
            return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "%s: '%s': layer %zu is of type \"%s\", "
                              "which this clrt does not have", FN, f->path, i, recs[i].type);
        if (kind->id == CLRT_LAYER_LINEAR) {
            uint64_t in, out;
            CLRT_TRY(linear_tensors(ctx, f, i, &in, &out));
            if ((long long)in != recs[i].in || (long long)out != recs[i].out)
                return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: '%s': layer %zu is linear "
                                  "%lld->%lld in the layer list, its tensors %llu->%llu", FN,
                                  f->path, i, recs[i].in, recs[i].out, (unsigned long long)in,
                                  (unsigned long long)out);
            CLRT_TRY(add_linear(m, i, in, out));
            continue;
        }
        size_t w = clrt_model_out_features(m);
        if (recs[i].in != (long long)w || recs[i].out != (long long)w)
            return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: '%s': layer %zu (%s) maps %lld to %lld "
                              "features, the layer before it gives %zu", FN, f->path, i,
                              recs[i].type, recs[i].in, recs[i].out, w);
        CLRT_TRY(clrt_model_add_act(m, li.act, recs[i].param_key ? recs[i].param : 0.0f));
    }
    return CLRT_OK;
}

/* ------------------------------------------------ an nn.Sequential's file */

/* "<digits>.weight" or "<digits>.bias": the index, else false. */
static bool sequential_index(const char *name, size_t *index)
{
    size_t i = 0, v = 0;
    for (; name[i] >= '0' && name[i] <= '9'; i++) {
        if (v > (SIZE_MAX - 9) / 10 || (i > 0 && v == 0))
            return false; /* too long, or a leading zero ("01.weight") */
        v = v * 10 + (size_t)(name[i] - '0');
    }
    if (i == 0 || (strcmp(name + i, ".weight") != 0 && strcmp(name + i, ".bias") != 0))
        return false;
    *index = v;
    return true;
}

static int index_order(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    return a < b ? -1 : a > b;
}

/* The Linear positions of the file, sorted and distinct, into idx
 * (room for f->count); any other tensor is refused. */
static clrt_status sequential_positions(clrt_ctx *ctx, const clrt__safetensors *f, size_t *idx,
                                        size_t *count)
{
    size_t n = 0;
    for (size_t k = 0; k < f->count; k++) {
        size_t i;
        if (!sequential_index(f->entries[k].name, &i))
            return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "%s: '%s': tensor '%s' is not a "
                              "parameter of an nn.Sequential of Linear layers (\"0.weight\", "
                              "\"0.bias\", \"2.weight\", ...), the only kind of file without "
                              "clrt's layer list this clrt reads", FN, f->path,
                              f->entries[k].name);
        idx[n++] = i;
    }
    qsort(idx, n, sizeof *idx, index_order);
    size_t d = 0;
    for (size_t k = 0; k < n; k++)
        if (d == 0 || idx[d - 1] != idx[k])
            idx[d++] = idx[k];
    if (d == 0)
        return clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: '%s': no tensors: not a model", FN, f->path);
    *count = d;
    return CLRT_OK;
}

static clrt_status build_sequential(clrt_ctx *ctx, const clrt__safetensors *f,
                                    const clrt_model_load_options *o, clrt_model **out)
{
    size_t *idx = malloc((f->count ? f->count : 1) * sizeof *idx), n = 0;
    if (!idx)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory", FN);
    clrt_model *m = NULL;
    clrt_status st = sequential_positions(ctx, f, idx, &n);
    if (st == CLRT_OK && idx[0] != 0)
        st = clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "%s: '%s': the first Linear layer is at "
                        "position %zu: layers without parameters before it (nn.Flatten, ...) "
                        "are not supported; put the first Linear layer first", FN, f->path,
                        idx[0]);
    /* Every Linear layer's tensors checked before the model allocates. */
    for (size_t k = 0; st == CLRT_OK && k < n; k++) {
        uint64_t in, width;
        st = linear_tensors(ctx, f, idx[k], &in, &width);
        if (st == CLRT_OK && k > 0 && idx[k] - idx[k - 1] > 2)
            st = clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "%s: '%s': %zu layers without "
                            "parameters between the Linear layers at positions %zu and %zu; "
                            "clrt takes one (the activation given) or none", FN, f->path,
                            idx[k] - idx[k - 1] - 1, idx[k - 1], idx[k]);
        if (st == CLRT_OK && k == 0)
            st = in > SIZE_MAX ? CLRT_ERR_FORMAT : clrt_model_create(ctx, (size_t)in, &m);
        if (st == CLRT_OK && k > 0 && idx[k] - idx[k - 1] == 2)
            st = clrt_model_add_act(m, o->act, o->act_param);
        if (st == CLRT_OK)
            st = add_linear(m, idx[k], in, width);
    }
    if (st == CLRT_OK && o->final_act != CLRT_ACT_IDENTITY)
        st = clrt_model_add_act(m, o->final_act, o->final_act_param);
    free(idx);
    if (st != CLRT_OK) {
        clrt_model_destroy(m);
        return st;
    }
    *out = m;
    return CLRT_OK;
}

/* ------------------------------------------------------------------ API */

void clrt_model_load_options_init(clrt_model_load_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->act = CLRT_ACT_RELU;
    opt->act_param = 0.01f;
    opt->final_act = CLRT_ACT_IDENTITY;
    opt->final_act_param = 0.01f;
}

clrt_status clrt_model_load(clrt_ctx *ctx, const char *path, const clrt_model_load_options *opt,
                            clrt_model **out)
{
    if (out)
        *out = NULL;
    if (!ctx || !out)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: ctx and out are needed", FN);
    if (!path || !*path)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: no path", FN);
    clrt_model_load_options defaults;
    clrt_model_load_options_init(&defaults);
    const clrt_model_load_options *o = opt ? opt : &defaults;
    if (!clrt_act_name(o->act) || !clrt_act_name(o->final_act))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: activation %d is unknown", FN,
                          clrt_act_name(o->act) ? (int)o->final_act : (int)o->act);

    clrt__safetensors f;
    char why[1024];
    clrt_status st = clrt__safetensors_open(path, &f, why, sizeof why);
    if (st != CLRT_OK)
        return clrt__fail(ctx, st, "%s: %s", FN, why);
    bool is_clrt;
    clrt__layer_record *recs = NULL;
    size_t nrecs = 0;
    uint64_t in = 0;
    clrt_model *m = NULL;
    st = clrt__checkpoint_layer_list(ctx, FN, &f, &is_clrt, &recs, &nrecs, &in);
    if (st == CLRT_OK && is_clrt) {
        st = in == 0 || in > SIZE_MAX
                 ? clrt__fail(ctx, CLRT_ERR_FORMAT, "%s: '%s': the model takes %llu inputs", FN,
                              path, (unsigned long long)in)
                 : clrt_model_create(ctx, (size_t)in, &m);
        if (st == CLRT_OK)
            st = build_from_records(m, &f, recs, nrecs);
    } else if (st == CLRT_OK) {
        st = build_sequential(ctx, &f, o, &m);
    }
    free(recs);
    clrt__safetensors_close(&f);
    /* The weights, through the checkpoint loader: for a clrt file it checks
     * the layer list against the model just built and both checksums. */
    if (st == CLRT_OK)
        st = clrt_checkpoint_load(path, m, NULL, NULL, 0);
    if (st != CLRT_OK) {
        clrt_model_destroy(m);
        return st;
    }
    *out = m;
    return CLRT_OK;
}
