/* Checkpoints: a model (and optionally its optimizer and training position)
 * saved to and loaded from a safetensors file. The format itself (header,
 * offsets, tiling, the atomic write) is safetensors.c's; this file is what
 * clrt puts in it and how it matches a model.
 *
 * Tensors clrt writes, in this order, all F32 and contiguous:
 *   "<param>"                    the model's parameters under their
 *                                nn.Sequential state_dict names ("0.weight",
 *                                "0.bias", "2.weight", ...)
 *   "optim.<param>.<state>"      with an optimizer: its state tensors under
 *                                PyTorch's names ("optim.0.weight.exp_avg",
 *                                "optim.0.weight.momentum_buffer")
 * __metadata__ (every value a string, as the format requires):
 *   "format"       "clrt-checkpoint-2"
 *   "clrt_version" the library that wrote it ("0.1.0")
 *   "in_features"  the model's input width, decimal
 *   "layers"       the layer list as a JSON array, one object per layer:
 *                  {"type":"linear","in":784,"out":512},
 *                  {"type":"relu","in":512,"out":512},
 *                  {"type":"leaky_relu","in":512,"out":512,"negative_slope":0.01}
 *                  ("type" is "linear" or clrt_act_name() of the activation)
 *   "optimizer"    with an optimizer, a JSON object: {"type":"SGD","lr":0.05,
 *                  "momentum":0.9,"dampening":0.0,"nesterov":false,
 *                  "weight_decay":0.0,"steps":1234} or for Adam/AdamW
 *                  {"type":"Adam","lr":0.001,"betas":[0.9,0.999],"eps":1e-08,
 *                  "weight_decay":0.0,"steps":1234}
 *   "epoch", "seed", "lr"   with a clrt_train_state: decimal integers and a
 *                  JSON number
 *   "checksum"     crc32 (zlib's) of the whole data section, 8 hex digits
 *   "header_checksum"  crc32 of the header's canonical text: the header as
 *                  JSON without this one key, keys sorted, no whitespace
 *                  (jansson's JSON_COMPACT | JSON_SORT_KEYS). It covers the
 *                  metadata, the tensor table and so, through "checksum",
 *                  the data: an edited header is refused, not trusted.
 * Format 1 ("clrt-checkpoint-1", clrt before the header checksum) is read
 * too, its data checksum checked; its header has no checksum of its own.
 * Numbers are written through jansson, which is locale-independent, in the
 * shortest text that reads back to the same float (or double, for "lr"), so
 * a program that called setlocale() still writes "0.05", not "0,05".
 *
 * Saving reads every tensor back (blocking) and hands them to the
 * safetensors writer: "<path>.tmp.<pid>", fsynced, renamed over `path`, the
 * directory fsynced, so a crash mid-save leaves the previous file whole.
 *
 * Loading is a plan, then its application. The plan reads the whole file
 * through the safetensors reader (which checks every length, offset, dtype
 * and shape and the tiling of the data section), then for a clrt file the
 * layer list against the model, the optimizer kind and state, the training
 * position, every number against the range of what it sets; for every
 * parameter of the model a tensor of the same name, dtype F32 and the
 * model's shape; last the checksums, so that a file refused for what is
 * wrong in it is described by that, and one that passes every other check
 * is still refused if any byte of it changed. Corruption is
 * CLRT_ERR_FORMAT, another model (or another optimizer kind)
 * CLRT_ERR_SHAPE, each naming the first offending item. The plan writes
 * nothing. Only once it is complete are the tensors written, the
 * optimizer's steps and learning rate set (as torch's
 * optimizer.load_state_dict restores lr) and *state filled. Tensors the
 * model does not need are ignored, whatever their dtype. The writes are
 * blocking clrt_tensor_write calls: only a device failure among them (its
 * status returned) can leave a model partly loaded. The optimizer's other
 * hyperparameters are neither restored (the API has no setter) nor
 * compared: resuming with another momentum is the caller's choice, as it is
 * in PyTorch before load_state_dict overrides it.
 *
 * A file without "format": "clrt-checkpoint-2" or "-1" (one saved by
 * safetensors.torch.save_file, say) is read for its weights alone, matched
 * by name and shape. So is any file under CLRT_CHECKPOINT_WEIGHTS_ONLY,
 * which also skips the layer-list check: --init takes any file whose names
 * and shapes fit, whatever activations it was trained with. */
#include "io/io.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define FORMAT_NAME "clrt-checkpoint-2"   /* what this clrt writes */
#define FORMAT_V1 "clrt-checkpoint-1"     /* read too: no header checksum */
#define FORMAT_FAMILY "clrt-checkpoint-"
#define HEADER_CHECKSUM_KEY "header_checksum"
#define METADATA_KEY "__metadata__"
#define MAX_SLOTS 4                   /* optimizer state slots probed per parameter */
#define FLOAT_DIGITS 9                /* enough to read any float back exactly */

/* ------------------------------------------------------------- helpers */

/* The shortest decimal text of v (JSON number syntax, formatted by jansson
 * and so locale-independent) that reads back as the same float (as_float)
 * or the same double. NULL for NaN, infinities, or no memory. */
static char *number_text(double v, bool as_float)
{
    json_t *num = json_real(v);
    if (!num)
        return NULL;
    char *best = NULL;
    for (int p = 1; p <= 17 && !best; p++) {
        char *s = json_dumps(num, JSON_ENCODE_ANY | JSON_REAL_PRECISION(p));
        if (!s)
            break;
        json_t *back = json_loads(s, JSON_DECODE_ANY, NULL);
        double d = json_number_value(back);
        bool same = json_is_number(back) && (as_float ? (float)d == (float)v : d == v);
        json_decref(back);
        if (same)
            best = s;
        else
            free(s);
    }
    json_decref(num);
    return best;
}

/* A JSON number holding the shortest decimal of a float; dumped with
 * JSON_REAL_PRECISION(FLOAT_DIGITS) it prints as that decimal. */
static json_t *json_float(float f)
{
    char *s = number_text(f, true);
    json_t *j = s ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;
    free(s);
    return j;
}

/* A number from text written by number_text (or any JSON number). */
static bool parse_number(const char *s, double *out)
{
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    bool ok = json_is_number(j);
    if (ok)
        *out = json_number_value(j);
    json_decref(j);
    return ok;
}

/* A plain decimal uint64 ("0" .. "18446744073709551615"). */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* The text "header_checksum" covers: the header as JSON with that key of
 * __metadata__ left out, keys sorted, no whitespace. Caller frees; NULL
 * when out of memory. */
static char *canonical_header(const json_t *header)
{
    json_t *copy = json_deep_copy(header);
    if (!copy)
        return NULL;
    json_object_del(json_object_get(copy, METADATA_KEY), HEADER_CHECKSUM_KEY);
    char *text = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(copy);
    return text;
}

/* For messages about JSON text `s` that jansson could not parse at byte
 * `pos`: the last object key before it ("" if none). */
static void key_before(const char *s, size_t pos, char *key, size_t len)
{
    key[0] = '\0';
    size_t n = strlen(s);
    for (size_t i = pos < n ? pos : n; i-- > 0;) {
        if (s[i] != ':' || i == 0 || s[i - 1] != '"')
            continue;
        size_t end = i - 1, begin = end;
        while (begin > 0 && s[begin - 1] != '"')
            begin--;
        if (begin > 0)
            snprintf(key, len, "%.*s", (int)(end - begin), s + begin);
        return;
    }
}

static bool same_shape(const clrt_tensor *a, const clrt_tensor *b)
{
    if (clrt_tensor_rank(a) != clrt_tensor_rank(b))
        return false;
    for (int i = 0; i < clrt_tensor_rank(a); i++)
        if (clrt_tensor_dim(a, i) != clrt_tensor_dim(b, i))
            return false;
    return true;
}

static void tensor_shape_text(const clrt_tensor *t, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < clrt_tensor_rank(t) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%zu", i ? ", " : "",
                                 clrt_tensor_dim(t, i));
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

static const char *optim_kind_name(clrt_optim_kind kind)
{
    switch (kind) {
    case CLRT_OPTIM_SGD: return "SGD";
    case CLRT_OPTIM_ADAM: return "Adam";
    case CLRT_OPTIM_ADAMW: return "AdamW";
    }
    return NULL;
}

/* One optimizer state tensor: parameter i's slot, with PyTorch's name. */
typedef struct state_ref {
    size_t param;
    const char *name;
    clrt_tensor *t;
} state_ref;

/* The optimizer's state tensors over the model's parameters, in parameter
 * then slot order (out has room for num_params * MAX_SLOTS). The public API
 * has no parameter count for an optimizer, so "over this model" is checked
 * as far as it can be: every state tensor shaped like its parameter, the
 * same slots for every parameter, none past the model's last parameter. */
static clrt_status optim_states(clrt_ctx *ctx, const char *fn, const clrt_model *m,
                                const clrt_optim *opt, state_ref *out, size_t *count)
{
    size_t np = clrt_model_num_params(m), n = 0;
    bool has_slot[MAX_SLOTS] = {false};
    for (int s = 0; s < MAX_SLOTS; s++) {
        has_slot[s] = np > 0 && clrt_optim_state(opt, 0, s, NULL) != NULL;
        if (clrt_optim_state(opt, np, s, NULL))
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                              "%s: the optimizer has more parameters than the model's %zu", fn,
                              np);
    }
    for (size_t i = 0; i < np; i++) {
        const char *pname;
        clrt_tensor *p = clrt_model_param(m, i, &pname);
        for (int s = 0; s < MAX_SLOTS; s++) {
            const char *sname;
            clrt_tensor *t = clrt_optim_state(opt, i, s, &sname);
            if ((t != NULL) != has_slot[s] || (t && (!sname || !*sname)))
                return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                                  "%s: the optimizer's state does not match the model's "
                                  "parameters (parameter %zu, slot %d)",
                                  fn, i, s);
            if (!t)
                continue;
            if (!p || !same_shape(p, t)) {
                char ps[64] = "?", ts[64];
                if (p)
                    tensor_shape_text(p, ps, sizeof ps);
                tensor_shape_text(t, ts, sizeof ts);
                return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                                  "%s: the optimizer is not over this model's parameters: its "
                                  "%s of parameter %zu is %s, the model's %s is %s",
                                  fn, sname, i, ts, pname ? pname : "?", ps);
            }
            out[n++] = (state_ref){i, sname, t};
        }
    }
    *count = n;
    return CLRT_OK;
}

/* The file's name of a state tensor, "optim.<param>.<state>" (caller frees;
 * NULL when out of memory). */
static char *state_tensor_name(const clrt_model *m, const state_ref *s)
{
    const char *pname;
    clrt_model_param(m, s->param, &pname);
    return clrt__strprintf("optim.%s.%s", pname, s->name);
}

/* ----------------------------------------------------------- layer list */

/* A layer as the list records it: type, widths, the parameter of its kind
 * (the layer-kind table in the nn layer says which). */
typedef clrt__layer_record layer_desc;

static void layer_text(const layer_desc *d, char *buf, size_t len)
{
    clrt__layer_describe(d, buf, len);
}

static bool layer_equal(const layer_desc *a, const layer_desc *b)
{
    bool a_param = a->param_key != NULL, b_param = b->param_key != NULL;
    return strcmp(a->type, b->type) == 0 && a->in == b->in && a->out == b->out &&
           a_param == b_param &&
           (!a_param || (strcmp(a->param_key, b->param_key) == 0 && a->param == b->param));
}

static clrt_status model_layer_desc(const clrt_model *m, size_t i, layer_desc *d)
{
    clrt_layer_info info;
    clrt_status st = clrt_model_layer(m, i, &info);
    if (st != CLRT_OK)
        return st;
    memset(d, 0, sizeof *d);
    const clrt__layer_kind *kind = clrt__layer_kind_of(info.kind);
    const char *name = kind ? kind->type(&info) : NULL;
    if (!name)
        return clrt__fail(clrt_model_ctx(m), CLRT_ERR_INVALID_ARG,
                          "checkpoint: model layer %zu has an unknown activation %d", i,
                          (int)info.act);
    snprintf(d->type, sizeof d->type, "%s", name);
    if (info.in > (size_t)LLONG_MAX || info.out > (size_t)LLONG_MAX)
        return clrt__fail(clrt_model_ctx(m), CLRT_ERR_SHAPE,
                          "checkpoint: model layer %zu is too wide to record", i);
    d->in = (long long)info.in;
    d->out = (long long)info.out;
    d->param_key = kind->takes_param(&info) ? kind->param_key : NULL;
    d->param = d->param_key ? info.act_param : 0.0f;
    return CLRT_OK;
}

/* The model's layer list as the JSON text of the "layers" metadata. */
static clrt_status layers_text(clrt_ctx *ctx, const clrt_model *m, char **out)
{
    *out = NULL;
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < clrt_model_num_layers(m); i++) {
        layer_desc d;
        clrt_status st = model_layer_desc(m, i, &d);
        if (st != CLRT_OK) {
            json_decref(arr);
            return st;
        }
        json_t *o = json_object();
        ok = o && json_array_append_new(arr, o) == 0 &&
             json_object_set_new(o, "type", json_string(d.type)) == 0 &&
             json_object_set_new(o, "in", json_integer(d.in)) == 0 &&
             json_object_set_new(o, "out", json_integer(d.out)) == 0;
        if (ok && d.param_key) {
            json_t *param = json_float(d.param);
            if (!param) {
                json_decref(arr);
                return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                                  "clrt_checkpoint_save: layer %zu: %s %g cannot be recorded", i,
                                  d.param_key, (double)d.param);
            }
            ok = json_object_set_new(o, d.param_key, param) == 0;
        }
    }
    if (ok)
        *out = json_dumps(arr, JSON_COMPACT | JSON_REAL_PRECISION(FLOAT_DIGITS));
    json_decref(arr);
    return *out ? CLRT_OK : CLRT_ERR_OUT_OF_MEMORY;
}

/* ---------------------------------------------------------------- save */

typedef struct save_item {
    const char *name;
    char *owned_name;   /* freed at the end (optimizer state names) */
    const clrt_tensor *t;
    size_t numel;
    size_t begin;       /* float offset in the host copy */
    size_t shape[CLRT_MAX_RANK];
} save_item;

/* The "optimizer" metadata: kind, hyperparameters and steps. */
static char *optimizer_text(const clrt_optim_options *o, uint64_t steps)
{
    json_t *j = json_object();
    bool ok = j && json_object_set_new(j, "type", json_string(optim_kind_name(o->kind))) == 0 &&
              json_object_set_new(j, "lr", json_float(o->lr)) == 0;
    if (o->kind == CLRT_OPTIM_SGD) {
        ok = ok && json_object_set_new(j, "momentum", json_float(o->momentum)) == 0 &&
             json_object_set_new(j, "dampening", json_float(o->dampening)) == 0 &&
             json_object_set_new(j, "nesterov", json_boolean(o->nesterov)) == 0;
    } else {
        json_t *betas = NULL;
        ok = ok && (betas = json_array()) && json_object_set_new(j, "betas", betas) == 0 &&
             json_array_append_new(betas, json_float(o->beta1)) == 0 &&
             json_array_append_new(betas, json_float(o->beta2)) == 0 &&
             json_object_set_new(j, "eps", json_float(o->eps)) == 0;
    }
    ok = ok && json_object_set_new(j, "weight_decay", json_float(o->weight_decay)) == 0 &&
         json_object_set_new(j, "steps", json_integer((json_int_t)steps)) == 0;
    char *s = ok ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(FLOAT_DIGITS)) : NULL;
    json_decref(j);
    return s;
}

/* Everything of __metadata__ but the checksum. */
static clrt_status build_metadata(clrt_ctx *ctx, const clrt_model *m, const clrt_optim *opt,
                                  const clrt_train_state *state, json_t *meta)
{
    static const char fn[] = "clrt_checkpoint_save";
    char num[32];
    bool ok = json_object_set_new(meta, "format", json_string(FORMAT_NAME)) == 0 &&
              json_object_set_new(meta, "clrt_version", json_string(clrt_version())) == 0;
    snprintf(num, sizeof num, "%zu", clrt_model_in_features(m));
    ok = ok && json_object_set_new(meta, "in_features", json_string(num)) == 0;

    char *layers;
    clrt_status st = layers_text(ctx, m, &layers);
    if (st != CLRT_OK)
        return st;
    ok = ok && json_object_set_new(meta, "layers", json_string(layers)) == 0;
    free(layers);

    if (opt) {
        clrt_optim_options o;
        st = clrt_optim_get_options(opt, &o);
        if (st != CLRT_OK)
            return clrt__fail(ctx, st, "%s: cannot read the optimizer's options", fn);
        uint64_t steps = clrt_optim_steps(opt);
        if (!optim_kind_name(o.kind))
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: unknown optimizer kind %d", fn,
                              (int)o.kind);
        if (steps > (uint64_t)LLONG_MAX)
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                              "%s: the optimizer's step count %llu is too large to record", fn,
                              (unsigned long long)steps);
        char *text = optimizer_text(&o, steps);
        if (!text)
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                              "%s: the optimizer's options cannot be recorded (not finite, or "
                              "no memory)",
                              fn);
        ok = ok && json_object_set_new(meta, "optimizer", json_string(text)) == 0;
        free(text);
    }
    if (state) {
        /* What a load accepts: an epoch within CLRT_MAX_EPOCH, a finite lr >= 0. */
        if (state->epoch > CLRT_MAX_EPOCH)
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                              "%s: the training state's epoch %llu is past CLRT_MAX_EPOCH (%u)",
                              fn, (unsigned long long)state->epoch, CLRT_MAX_EPOCH);
        char *lr = state->lr >= 0 ? number_text(state->lr, false) : NULL;
        if (!lr)
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                              "%s: the training state's lr %g cannot be recorded (a finite "
                              "lr >= 0)", fn, state->lr);
        ok = ok && json_object_set_new(meta, "lr", json_string(lr)) == 0;
        free(lr);
        snprintf(num, sizeof num, "%llu", (unsigned long long)state->epoch);
        ok = ok && json_object_set_new(meta, "epoch", json_string(num)) == 0;
        snprintf(num, sizeof num, "%llu", (unsigned long long)state->seed);
        ok = ok && json_object_set_new(meta, "seed", json_string(num)) == 0;
    }
    return ok ? CLRT_OK : clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
}

/* The header clrt__safetensors_write lays down for t[0..n) and `meta` (the
 * tensors F32, back to back in order), as JSON, to compute its checksum
 * before the file exists. NULL when out of memory. */
static json_t *header_json(const clrt__st_tensor *t, size_t n, json_t *meta)
{
    json_t *root = json_object();
    bool ok = root && json_object_set(root, METADATA_KEY, meta) == 0;
    size_t at = 0;
    for (size_t k = 0; ok && k < n; k++) {
        size_t numel = 1;
        json_t *e = NULL, *shape = NULL;
        ok = (e = json_object()) && json_object_set_new(root, t[k].name, e) == 0 &&
             json_object_set_new(e, "dtype", json_string("F32")) == 0 &&
             (shape = json_array()) && json_object_set_new(e, "shape", shape) == 0;
        for (int d = 0; ok && d < t[k].rank; d++) {
            numel *= t[k].shape[d];
            ok = json_array_append_new(shape, json_integer((json_int_t)t[k].shape[d])) == 0;
        }
        ok = ok && json_object_set_new(e, "data_offsets",
                                       json_pack("[I,I]", (json_int_t)at,
                                                 (json_int_t)(at + 4 * numel))) == 0;
        at += 4 * numel;
    }
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Set __metadata__'s "header_checksum" for the file of t[0..n) and meta. */
static bool set_header_checksum(const clrt__st_tensor *t, size_t n, json_t *meta)
{
    json_t *header = header_json(t, n, meta);
    char *text = header ? canonical_header(header) : NULL;
    json_decref(header);
    if (!text)
        return false;
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx", (unsigned long)clrt__crc32(0, text, strlen(text)));
    free(text);
    return json_object_set_new(meta, HEADER_CHECKSUM_KEY, json_string(crc)) == 0;
}

/* Metadata as the safetensors writer takes it: pointers into `meta`'s
 * strings (valid while meta lives). NULL when out of memory. */
static clrt__st_meta *meta_pairs(const json_t *meta, size_t *count)
{
    clrt__st_meta *pairs = calloc(json_object_size(meta) + 1, sizeof *pairs);
    size_t n = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)meta, key, value) {
        if (pairs)
            pairs[n++] = (clrt__st_meta){key, json_string_value(value)};
    }
    *count = n;
    return pairs;
}

clrt_status clrt_checkpoint_save(const char *path, const clrt_model *m, const clrt_optim *opt,
                                 const clrt_train_state *state)
{
    static const char fn[] = "clrt_checkpoint_save";
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    clrt_ctx *ctx = clrt_model_ctx(m);
    if (!path || !*path)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: no path", fn);

    size_t np = clrt_model_num_params(m), nitems = 0, nmeta = 0;
    save_item *items = calloc(np * (1 + MAX_SLOTS) + 1, sizeof *items);
    clrt__st_tensor *tensors = calloc(np * (1 + MAX_SLOTS) + 1, sizeof *tensors);
    state_ref *states = calloc(np * MAX_SLOTS + 1, sizeof *states);
    float *host = NULL;
    json_t *meta = NULL;
    clrt__st_meta *pairs = NULL;
    clrt_status st = CLRT_ERR_OUT_OF_MEMORY;
    if (!items || !tensors || !states) {
        clrt__fail(ctx, st, "%s: out of memory", fn);
        goto done;
    }

    for (size_t i = 0; i < np; i++) {
        const char *name = NULL;
        const clrt_tensor *t = clrt_model_param(m, i, &name);
        if (!t || !name || !*name || strcmp(name, METADATA_KEY) == 0) {
            st = clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: model parameter %zu has no name",
                            fn, i);
            goto done;
        }
        items[nitems++] = (save_item){.name = name, .t = t};
    }
    if (opt) {
        size_t ns;
        st = optim_states(ctx, fn, m, opt, states, &ns);
        if (st != CLRT_OK)
            goto done;
        for (size_t k = 0; k < ns; k++) {
            char *name = state_tensor_name(m, &states[k]);
            if (!name) {
                st = clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
                goto done;
            }
            items[nitems++] = (save_item){.name = name, .owned_name = name, .t = states[k].t};
        }
    }

    /* Every tensor read back into one host array, in item order (the order
     * of the file's data section). */
    size_t total = 0;
    for (size_t k = 0; k < nitems; k++) {
        size_t n = clrt_tensor_numel(items[k].t);
        if (n > SIZE_MAX / 4 - total || 4 * (total + n) > (size_t)LLONG_MAX) {
            st = clrt__fail(ctx, CLRT_ERR_SHAPE, "%s: the checkpoint would be too large", fn);
            goto done;
        }
        items[k].numel = n;
        items[k].begin = total;
        total += n;
    }
    host = malloc((total ? total : 1) * sizeof *host);
    if (!host) {
        st = clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: no host memory for %zu bytes", fn,
                        4 * total);
        goto done;
    }
    for (size_t k = 0; k < nitems; k++) {
        const clrt_tensor *t = items[k].t;
        if (items[k].numel > 0) {
            st = clrt_tensor_read(t, host + items[k].begin, items[k].numel);
            if (st != CLRT_OK)
                goto done;
        }
        for (int d = 0; d < clrt_tensor_rank(t) && d < CLRT_MAX_RANK; d++)
            items[k].shape[d] = clrt_tensor_dim(t, d);
        tensors[k] = (clrt__st_tensor){items[k].name, clrt_tensor_rank(t), items[k].shape,
                                       host + items[k].begin};
    }

    st = CLRT_ERR_OUT_OF_MEMORY;
    meta = json_object();
    if (!meta) {
        clrt__fail(ctx, st, "%s: out of memory", fn);
        goto done;
    }
    st = build_metadata(ctx, m, opt, state, meta);
    if (st != CLRT_OK)
        goto done;
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx", (unsigned long)clrt__safetensors_crc32(tensors, nitems));
    if (json_object_set_new(meta, "checksum", json_string(crc)) != 0 ||
        !set_header_checksum(tensors, nitems, meta) || !(pairs = meta_pairs(meta, &nmeta))) {
        st = clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
        goto done;
    }
    char why[1024];
    st = clrt__safetensors_write(path, tensors, nitems, pairs, nmeta, why, sizeof why);
    if (st != CLRT_OK)
        clrt__fail(ctx, st, "%s: %s", fn, why);
done:
    free(pairs);
    json_decref(meta);
    free(host);
    if (items)
        for (size_t k = 0; k < nitems; k++)
            free(items[k].owned_name);
    free(items);
    free(tensors);
    free(states);
    return st;
}

/* ---------------------------------------------------------------- load */

typedef struct loader {
    clrt_ctx *ctx;
    const char *path;
    const char *fn; /* the public call messages name; NULL: clrt_checkpoint_load */
} loader;

static clrt_status refuse(const loader *L, clrt_status st, const char *fmt, ...)
    CLRT_PRINTF(3, 4);
static clrt_status refuse(const loader *L, clrt_status st, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return clrt__fail(L->ctx, st, "%s: '%s': %s", L->fn ? L->fn : "clrt_checkpoint_load",
                      L->path, msg);
}

/* The entry for tensor `t` of the model or optimizer: present, F32, and of
 * t's shape; `what` says whose it is in messages. */
static clrt_status match_tensor(const loader *L, const clrt__safetensors *f, const char *name,
                                const clrt_tensor *t, const char *what,
                                const clrt__st_entry **out)
{
    char ts[128], fs[128];
    tensor_shape_text(t, ts, sizeof ts);
    const clrt__st_entry *e = clrt__safetensors_find(f, name);
    if (!e)
        return refuse(L, CLRT_ERR_SHAPE, "no tensor '%s' (the %s has %s %s)", name, what, name,
                      ts);
    if (strcmp(e->dtype, "F32") != 0)
        return refuse(L, CLRT_ERR_FORMAT, "tensor '%s' is %s; clrt reads F32 only", name,
                      e->dtype);
    bool same = e->rank == (size_t)clrt_tensor_rank(t);
    for (int d = 0; same && d < clrt_tensor_rank(t); d++)
        same = e->shape[d] == (uint64_t)clrt_tensor_dim(t, d);
    if (!same) {
        clrt__safetensors_shape_text(e, fs, sizeof fs);
        return refuse(L, CLRT_ERR_SHAPE, "tensor '%s' is %s in the checkpoint, %s in the %s",
                      name, fs, ts, what);
    }
    *out = e;
    return CLRT_OK;
}

/* One layer object of the "layers" metadata; false with *why saying what
 * is wrong. A parameter is taken under any kind's key, so one where the
 * type has none makes the layer differ. */
static bool parse_layer(const json_t *o, layer_desc *d, const char **why)
{
    memset(d, 0, sizeof *d);
    const json_t *type = json_object_get(o, "type"), *in = json_object_get(o, "in"),
                 *out = json_object_get(o, "out");
    *why = "it needs a \"type\" string and non-negative integers \"in\" and \"out\"";
    if (!json_is_object(o) || !json_is_string(type) || !json_is_integer(in) ||
        !json_is_integer(out) || json_integer_value(in) < 0 || json_integer_value(out) < 0)
        return false;
    size_t nkinds;
    const clrt__layer_kind *kinds = clrt__layer_kinds(&nkinds);
    for (size_t k = 0; k < nkinds; k++) {
        const char *key = kinds[k].param_key;
        const json_t *param = key ? json_object_get(o, key) : NULL;
        *why = "its parameter is not a number within float range";
        if (param && (!json_is_number(param) || !(fabs(json_number_value(param)) <= FLT_MAX)))
            return false;
        if (param && !d->param_key) {
            d->param_key = key;
            d->param = (float)json_number_value(param);
        }
    }
    snprintf(d->type, sizeof d->type, "%s", json_string_value(type));
    d->in = (long long)json_integer_value(in);
    d->out = (long long)json_integer_value(out);
    return true;
}

/* The JSON text of metadata `key`, parsed; NULL after a refusal naming
 * jansson's reason and the object key it stopped in. */
static json_t *load_meta_json(const loader *L, const char *key, const char *text, clrt_status *st)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (j)
        return j;
    char in[64], where[96] = "";
    key_before(text, jerr.position > 0 ? (size_t)jerr.position : 0, in, sizeof in);
    if (in[0])
        snprintf(where, sizeof where, " (in \"%s\")", in);
    *st = refuse(L, CLRT_ERR_FORMAT, "the \"%s\" metadata is not valid JSON: %s%s", key,
                 jerr.text, where);
    return NULL;
}

static clrt_status check_layers(const loader *L, const char *text, const clrt_model *m)
{
    clrt_status st = CLRT_OK;
    json_t *arr = load_meta_json(L, "layers", text, &st);
    if (!arr)
        return st;
    if (!json_is_array(arr)) {
        st = refuse(L, CLRT_ERR_FORMAT, "the \"layers\" metadata is not a JSON array");
        goto done;
    }
    size_t nf = json_array_size(arr), nm = clrt_model_num_layers(m);
    char a[128], b[128];
    for (size_t i = 0; i < nf || i < nm; i++) {
        layer_desc df, dm;
        const char *why;
        if (i < nf && !parse_layer(json_array_get(arr, i), &df, &why)) {
            st = refuse(L, CLRT_ERR_FORMAT, "layer %zu of the \"layers\" metadata is malformed: "
                        "%s", i, why);
            goto done;
        }
        if (i < nm && (st = model_layer_desc(m, i, &dm)) != CLRT_OK)
            goto done;
        if (i < nf && i < nm) {
            if (layer_equal(&df, &dm))
                continue;
            layer_text(&df, a, sizeof a);
            layer_text(&dm, b, sizeof b);
            st = refuse(L, CLRT_ERR_SHAPE, "checkpoint layer %zu is %s, model has %s", i, a, b);
        } else if (i < nf) {
            layer_text(&df, a, sizeof a);
            st = refuse(L, CLRT_ERR_SHAPE, "checkpoint has %zu layers, model has %zu "
                        "(checkpoint layer %zu is %s)", nf, nm, i, a);
        } else {
            layer_text(&dm, b, sizeof b);
            st = refuse(L, CLRT_ERR_SHAPE, "checkpoint has %zu layers, model has %zu (model "
                        "layer %zu is %s)", nf, nm, i, b);
        }
        goto done;
    }
done:
    json_decref(arr);
    return st;
}

/* What the "optimizer" metadata says. */
typedef struct optim_meta {
    clrt_optim_kind kind;
    uint64_t steps;
    float lr;
} optim_meta;

/* Field `key` of the "optimizer" object j (element `index` of it when it is
 * an array, index >= 0): a JSON number that, as a float, lies in [lo, hi]
 * (below hi when hi_open), as clrt_optim_create would take it. A missing
 * field is refused when `required`, else passes with *out untouched. */
static clrt_status optim_number(const loader *L, const json_t *j, const char *key, int index,
                                bool required, double lo, double hi, bool hi_open, float *out)
{
    const json_t *v = json_object_get(j, key);
    char name[48];
    snprintf(name, sizeof name, index < 0 ? "\"%s\"" : "\"%s\"[%d]", key, index);
    if (index >= 0 && v)
        v = json_is_array(v) && json_array_size(v) == 2 ? json_array_get(v, (size_t)index) : NULL;
    if (!v && !required && !json_object_get(j, key))
        return CLRT_OK;
    if (!json_is_number(v))
        return refuse(L, CLRT_ERR_FORMAT, "the \"optimizer\" metadata's %s is %s", name,
                      json_object_get(j, key) ? "not a number" : "missing");
    double d = json_number_value(v);
    float f = (float)d;
    if (!(fabs(d) <= FLT_MAX) || !(f >= lo) || (hi_open ? !(f < hi) : !(f <= hi)))
        return refuse(L, CLRT_ERR_FORMAT, "the \"optimizer\" metadata's %s %.9g is out of range "
                      "(%g to %g%s)", name, d, lo, hi, hi_open ? ", exclusive" : "");
    if (out)
        *out = f;
    return CLRT_OK;
}

/* The "optimizer" metadata: its kind, a step count and lr to restore, and
 * every hyperparameter it holds within what clrt_optim_create takes. */
static clrt_status parse_optimizer(const loader *L, const char *text, optim_meta *out)
{
    clrt_status st = CLRT_OK;
    json_t *j = load_meta_json(L, "optimizer", text, &st);
    if (!j)
        return st;
    const json_t *type = json_object_get(j, "type"), *steps = json_object_get(j, "steps");
    bool known = false;
    if (!json_is_object(j) || !json_is_string(type) || !json_object_get(j, "lr") || !steps) {
        st = refuse(L, CLRT_ERR_FORMAT, "the \"optimizer\" metadata is malformed (it needs "
                    "\"type\", a non-negative integer \"steps\" and a non-negative \"lr\")");
        goto done;
    }
    if (!json_is_integer(steps) || json_integer_value(steps) < 0) {
        char v[64] = "not an integer";
        if (json_is_integer(steps))
            snprintf(v, sizeof v, "%lld", (long long)json_integer_value(steps));
        else if (json_is_number(steps))
            snprintf(v, sizeof v, "%.17g", json_number_value(steps));
        st = refuse(L, CLRT_ERR_FORMAT, "the \"optimizer\" metadata's \"steps\" (%s) is not a "
                    "non-negative integer", v);
        goto done;
    }
    out->steps = (uint64_t)json_integer_value(steps);
    const double F = FLT_MAX;
    if ((st = optim_number(L, j, "lr", -1, true, 0, F, false, &out->lr)) != CLRT_OK ||
        (st = optim_number(L, j, "weight_decay", -1, false, 0, F, false, NULL)) != CLRT_OK ||
        (st = optim_number(L, j, "momentum", -1, false, 0, F, false, NULL)) != CLRT_OK ||
        (st = optim_number(L, j, "dampening", -1, false, -F, F, false, NULL)) != CLRT_OK ||
        (st = optim_number(L, j, "eps", -1, false, 0, F, false, NULL)) != CLRT_OK ||
        (st = optim_number(L, j, "betas", 0, false, 0, 1, true, NULL)) != CLRT_OK ||
        (st = optim_number(L, j, "betas", 1, false, 0, 1, true, NULL)) != CLRT_OK)
        goto done;
    const json_t *nesterov = json_object_get(j, "nesterov");
    if (nesterov && !json_is_boolean(nesterov)) {
        st = refuse(L, CLRT_ERR_FORMAT, "the \"optimizer\" metadata's \"nesterov\" is not true "
                    "or false");
        goto done;
    }
    for (int k = CLRT_OPTIM_SGD; k <= CLRT_OPTIM_ADAMW && !known; k++)
        if (strcmp(json_string_value(type), optim_kind_name((clrt_optim_kind)k)) == 0) {
            out->kind = (clrt_optim_kind)k;
            known = true;
        }
    if (!known)
        st = refuse(L, CLRT_ERR_SHAPE, "the checkpoint's optimizer is %s, which clrt does not "
                    "have", json_string_value(type));
done:
    json_decref(j);
    return st;
}

static clrt_status parse_train_state(const loader *L, const clrt__safetensors *f,
                                     clrt_train_state *out)
{
    const char *epoch = clrt__safetensors_meta(f, "epoch");
    const char *seed = clrt__safetensors_meta(f, "seed");
    const char *lr = clrt__safetensors_meta(f, "lr");
    if (!epoch || !seed || !lr)
        return refuse(L, CLRT_ERR_FORMAT, "the training state in the metadata is incomplete "
                      "(it needs \"epoch\", \"seed\" and \"lr\")");
    if (!parse_u64(epoch, &out->epoch) || out->epoch > CLRT_MAX_EPOCH)
        return refuse(L, CLRT_ERR_FORMAT, "the \"epoch\" metadata \"%s\" is not a decimal "
                      "integer from 0 to %u", epoch, CLRT_MAX_EPOCH);
    if (!parse_u64(seed, &out->seed))
        return refuse(L, CLRT_ERR_FORMAT, "the \"seed\" metadata \"%s\" is not a decimal "
                      "integer from 0 to %llu", seed, (unsigned long long)UINT64_MAX);
    if (!parse_number(lr, &out->lr) || !isfinite(out->lr) || out->lr < 0)
        return refuse(L, CLRT_ERR_FORMAT, "the \"lr\" metadata \"%s\" is not a finite number "
                      ">= 0", lr);
    return CLRT_OK;
}

/* Checksum metadata `key`'s text against `got`, the crc32 of what it covers. */
static clrt_status check_crc(const loader *L, const char *key, const char *text, uint32_t got)
{
    bool header = strcmp(key, HEADER_CHECKSUM_KEY) == 0;
    bool hex = strlen(text) == 8;
    for (size_t i = 0; hex && i < 8; i++)
        hex = (text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f') ||
              (text[i] >= 'A' && text[i] <= 'F');
    if (!hex)
        return refuse(L, CLRT_ERR_FORMAT, "the %s \"%s\" is not 8 hex digits", key, text);
    if ((uint32_t)strtoul(text, NULL, 16) == got)
        return CLRT_OK;
    if (header)
        return refuse(L, CLRT_ERR_FORMAT, "header checksum mismatch: the header's crc32 is "
                      "%08lx, its \"%s\" says %s (the header was edited or is corrupt)",
                      (unsigned long)got, key, text);
    return refuse(L, CLRT_ERR_FORMAT, "checksum mismatch: the data's crc32 is %08lx, the "
                  "header says %s (the file is corrupt)", (unsigned long)got, text);
}

/* The checksums of a clrt file of format `version`: "checksum", the data's
 * crc32 (required in format 2, checked when present in format 1), then in
 * format 2 "header_checksum", the crc32 of the canonical header text. */
static clrt_status check_checksums(const loader *L, const clrt__safetensors *f, int version)
{
    const char *data_sum = clrt__safetensors_meta(f, "checksum");
    const char *header_sum = clrt__safetensors_meta(f, HEADER_CHECKSUM_KEY);
    if (version >= 2 && (!data_sum || !header_sum))
        return refuse(L, CLRT_ERR_FORMAT, "the metadata has no \"%s\" (a %s file has "
                      "\"checksum\" and \"" HEADER_CHECKSUM_KEY "\")",
                      data_sum ? HEADER_CHECKSUM_KEY : "checksum", FORMAT_NAME);
    if (data_sum)
        CLRT_TRY(check_crc(L, "checksum", data_sum, clrt__crc32(0, f->data, f->data_size)));
    if (version < 2)
        return CLRT_OK;
    char *text = canonical_header(f->header); /* the parsed header: io.h's reader keeps it */
    if (!text)
        return refuse(L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
    uint32_t got = clrt__crc32(0, text, strlen(text));
    free(text);
    return check_crc(L, HEADER_CHECKSUM_KEY, header_sum, got);
}

/* ------------------------------------------------------ plan, then apply
 * plan_load runs every check and decides every write, into a load_plan: it
 * takes the model and optimizer const and never sees *state, so a refused
 * file changes nothing. apply_plan then does the writes, and only a device
 * failure can stop it. */

/* A tensor to fill from an entry of the file. */
typedef struct load_item {
    clrt_tensor *t;
    const clrt__st_entry *e;
} load_item;

typedef struct load_plan {
    clrt__safetensors file; /* the items' entries point into it */
    load_item *items;       /* the model's parameters, then the optimizer's state */
    size_t nitems;
    float *staging;         /* host room for the largest item */
    bool set_optim;         /* the optimizer's steps and lr from the file */
    optim_meta om;
    bool set_state;         /* *state from the file */
    clrt_train_state ts;
} load_plan;

static void plan_free(load_plan *p)
{
    free(p->staging);
    free(p->items);
    clrt__safetensors_close(&p->file);
    memset(p, 0, sizeof *p);
}

/* *version 2 or 1 for the clrt formats this clrt reads, 0 for a file clrt
 * did not write; a later clrt format is refused unless only the weights
 * are wanted. */
static clrt_status file_version(const loader *L, const clrt__safetensors *f, bool weights_only,
                                int *version)
{
    const char *format = clrt__safetensors_meta(f, "format");
    *version = !format ? 0 : strcmp(format, FORMAT_NAME) == 0 ? 2
                           : strcmp(format, FORMAT_V1) == 0   ? 1
                                                              : 0;
    if (format && !*version && strncmp(format, FORMAT_FAMILY, strlen(FORMAT_FAMILY)) == 0 &&
        !weights_only)
        return refuse(L, CLRT_ERR_FORMAT, "written in format \"%s\"; this clrt reads \"%s\" "
                      "and \"%s\" (or only its weights, with CLRT_CHECKPOINT_WEIGHTS_ONLY)",
                      format, FORMAT_NAME, FORMAT_V1);
    return CLRT_OK;
}

/* The layer list of a clrt file's metadata, for clrt_model_load
 * (io.h). Parsed by the same parse_layer the load's check uses. */
clrt_status clrt__checkpoint_layer_list(clrt_ctx *ctx, const char *fn, const clrt__safetensors *f,
                                        bool *is_clrt, clrt__layer_record **layers,
                                        size_t *count, uint64_t *in_features)
{
    const loader L = {ctx, f->path, fn};
    *is_clrt = false;
    *layers = NULL;
    *count = 0;
    *in_features = 0;
    int version;
    CLRT_TRY(file_version(&L, f, false, &version));
    if (!version)
        return CLRT_OK;
    *is_clrt = true;
    const char *text = clrt__safetensors_meta(f, "layers");
    if (!text)
        return refuse(&L, CLRT_ERR_FORMAT, "a clrt checkpoint without the \"layers\" metadata");
    clrt_status st = CLRT_OK;
    json_t *arr = load_meta_json(&L, "layers", text, &st);
    if (!arr)
        return st;
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    if (n == 0) {
        st = refuse(&L, CLRT_ERR_FORMAT, "the \"layers\" metadata is %s",
                    json_is_array(arr) ? "an empty list" : "not a JSON array");
        goto done;
    }
    clrt__layer_record *recs = calloc(n, sizeof *recs);
    if (!recs) {
        st = refuse(&L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const char *why;
        if (!parse_layer(json_array_get(arr, i), &recs[i], &why)) {
            free(recs);
            st = refuse(&L, CLRT_ERR_FORMAT, "layer %zu of the \"layers\" metadata is "
                        "malformed: %s", i, why);
            goto done;
        }
    }
    const char *in_text = clrt__safetensors_meta(f, "in_features");
    uint64_t in = (uint64_t)recs[0].in;
    if (in_text && !parse_u64(in_text, &in)) {
        free(recs);
        st = refuse(&L, CLRT_ERR_FORMAT, "the \"in_features\" metadata \"%s\" is not a "
                    "decimal integer", in_text);
        goto done;
    }
    *layers = recs;
    *count = n;
    *in_features = in;
done:
    json_decref(arr);
    return st;
}

/* A clrt file (or not): *version 2 or 1 for the formats this clrt reads, 0
 * for another file; then unless weights_only the layer list and the input
 * width against the model. The checksums come last (plan_load). */
static clrt_status check_clrt_meta(const loader *L, const clrt__safetensors *f,
                                   const clrt_model *m, bool weights_only, int *version)
{
    const clrt_status F = CLRT_ERR_FORMAT;
    clrt_status st = file_version(L, f, weights_only, version);
    if (st != CLRT_OK || !*version)
        return st;
    const char *layers = clrt__safetensors_meta(f, "layers");
    if (layers && !weights_only)
        CLRT_TRY(check_layers(L, layers, m));
    const char *in_features = clrt__safetensors_meta(f, "in_features");
    uint64_t in_file;
    if (in_features && !weights_only) {
        if (!parse_u64(in_features, &in_file))
            return refuse(L, F, "the \"in_features\" metadata \"%s\" is not a decimal integer "
                          "from 0 to %llu", in_features, (unsigned long long)UINT64_MAX);
        if (in_file != (uint64_t)clrt_model_in_features(m))
            return refuse(L, CLRT_ERR_SHAPE, "checkpoint model takes %llu inputs, model takes %zu",
                          (unsigned long long)in_file, clrt_model_in_features(m));
    }
    return CLRT_OK;
}

/* An entry for every parameter of the model. */
static clrt_status plan_params(const loader *L, const clrt_model *m, load_plan *p)
{
    for (size_t i = 0; i < clrt_model_num_params(m); i++) {
        const char *name = NULL;
        clrt_tensor *t = clrt_model_param(m, i, &name);
        if (!t || !name)
            return clrt__fail(L->ctx, CLRT_ERR_INVALID_ARG,
                              "clrt_checkpoint_load: model parameter %zu has no name", i);
        p->items[p->nitems].t = t;
        CLRT_TRY(match_tensor(L, &p->file, name, t, "model", &p->items[p->nitems].e));
        p->nitems++;
    }
    return CLRT_OK;
}

/* The file's "optimizer" metadata `text` against `opt`: the same kind,
 * then an entry for every state tensor, and the steps and lr to set. */
static clrt_status plan_optim(const loader *L, const clrt_model *m, const clrt_optim *opt,
                              const char *text, load_plan *p)
{
    static const char fn[] = "clrt_checkpoint_load";
    CLRT_TRY(parse_optimizer(L, text, &p->om));
    clrt_optim_options o;
    clrt_status st = clrt_optim_get_options(opt, &o);
    if (st != CLRT_OK)
        return clrt__fail(L->ctx, st, "%s: cannot read the optimizer's options", fn);
    if (o.kind != p->om.kind) {
        const char *have = optim_kind_name(o.kind);
        return refuse(L, CLRT_ERR_SHAPE, "the checkpoint's optimizer is %s, the optimizer "
                      "given is %s", optim_kind_name(p->om.kind), have ? have : "unknown");
    }
    state_ref *states = calloc(clrt_model_num_params(m) * MAX_SLOTS + 1, sizeof *states);
    if (!states)
        return refuse(L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
    size_t ns;
    st = optim_states(L->ctx, fn, m, opt, states, &ns);
    for (size_t k = 0; st == CLRT_OK && k < ns; k++) {
        char *name = state_tensor_name(m, &states[k]);
        if (!name) {
            st = refuse(L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
            break;
        }
        p->items[p->nitems].t = states[k].t;
        st = match_tensor(L, &p->file, name, states[k].t, "optimizer", &p->items[p->nitems].e);
        free(name);
        if (st == CLRT_OK)
            p->nitems++;
    }
    free(states);
    p->set_optim = st == CLRT_OK;
    return st;
}

/* Every check, in the order a corrupt file is most usefully described:
 * the file, the clrt metadata, the model's tensors, the optimizer's, the
 * training position, and last the checksums, which catch any change the
 * others let through. On CLRT_OK *p says what apply_plan writes. */
static clrt_status plan_load(const loader *L, const clrt_model *m, const clrt_optim *opt,
                             bool want_state, bool weights_only, load_plan *p)
{
    memset(p, 0, sizeof *p);
    char why[1024];
    clrt_status st = clrt__safetensors_open(L->path, &p->file, why, sizeof why);
    if (st != CLRT_OK)
        return clrt__fail(L->ctx, st, "clrt_checkpoint_load: %s", why);
    const clrt__safetensors *f = &p->file;
    int version;
    CLRT_TRY(check_clrt_meta(L, f, m, weights_only, &version));
    const bool clrt_file = version != 0;

    p->items = calloc(clrt_model_num_params(m) * (1 + MAX_SLOTS) + 1, sizeof *p->items);
    if (!p->items)
        return refuse(L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
    CLRT_TRY(plan_params(L, m, p));
    const char *optim_text =
        clrt_file && opt && !weights_only ? clrt__safetensors_meta(f, "optimizer") : NULL;
    if (optim_text)
        CLRT_TRY(plan_optim(L, m, opt, optim_text, p));
    if (clrt_file && want_state && !weights_only && clrt__safetensors_meta(f, "epoch")) {
        CLRT_TRY(parse_train_state(L, f, &p->ts));
        p->set_state = true;
    }
    if (clrt_file)
        CLRT_TRY(check_checksums(L, f, version));

    size_t most = 0;
    for (size_t k = 0; k < p->nitems; k++)
        most = p->items[k].e->numel > most ? p->items[k].e->numel : most;
    p->staging = malloc((most ? most : 1) * sizeof *p->staging);
    if (!p->staging)
        return refuse(L, CLRT_ERR_OUT_OF_MEMORY, "no host memory for %zu floats", most);
    return CLRT_OK;
}

/* Every write of a checked plan: the tensors (blocking writes), the
 * optimizer's steps and lr (as torch's load_state_dict restores lr), the
 * training position. */
static clrt_status apply_plan(const loader *L, const load_plan *p, clrt_optim *opt,
                              clrt_train_state *state)
{
    for (size_t k = 0; k < p->nitems; k++) {
        const clrt__st_entry *e = p->items[k].e;
        if (e->numel == 0)
            continue;
        char why[256];
        clrt_status st =
            clrt__safetensors_read_f32(&p->file, e, p->staging, e->numel, why, sizeof why);
        if (st != CLRT_OK) /* the plan checked dtype and size: not expected */
            return clrt__fail(L->ctx, st, "clrt_checkpoint_load: %s", why);
        CLRT_TRY(clrt_tensor_write(p->items[k].t, p->staging, e->numel));
    }
    if (p->set_optim) {
        CLRT_TRY(clrt_optim_set_steps(opt, p->om.steps));
        CLRT_TRY(clrt_optim_set_lr(opt, p->om.lr));
    }
    if (p->set_state)
        *state = p->ts;
    return CLRT_OK;
}

clrt_status clrt_checkpoint_load(const char *path, clrt_model *m, clrt_optim *opt,
                                 clrt_train_state *state, unsigned flags)
{
    static const char fn[] = "clrt_checkpoint_load";
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    clrt_ctx *ctx = clrt_model_ctx(m);
    if (!path || !*path)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: no path", fn);
    if (flags & ~CLRT_CHECKPOINT_WEIGHTS_ONLY)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: unknown flags 0x%x", fn,
                          flags & ~CLRT_CHECKPOINT_WEIGHTS_ONLY);
    const bool weights_only = (flags & CLRT_CHECKPOINT_WEIGHTS_ONLY) != 0;
    const loader L = {ctx, path, fn};

    load_plan plan;
    clrt_status st = plan_load(&L, m, opt, state != NULL, weights_only, &plan);
    if (st == CLRT_OK)
        st = apply_plan(&L, &plan, opt, state);
    plan_free(&plan);
    return st;
}
