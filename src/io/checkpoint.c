/* Checkpoints: a model (and optionally its optimizer and training position)
 * saved to and loaded from a safetensors file.
 *
 * File layout (https://github.com/huggingface/safetensors, little-endian):
 *   u64 N | N bytes of JSON header, padded with spaces so 8 + N is a
 *   multiple of 8 | the data section: the tensors' bytes, back to back.
 * The header maps each tensor name to
 *   {"dtype":"F32","shape":[out,in],"data_offsets":[begin,end]}
 * (offsets relative to the data section) and "__metadata__" to an object of
 * string values.
 *
 * Tensors clrt writes, in this order, all F32 and contiguous:
 *   "<param>"                    the model's parameters under their
 *                                nn.Sequential state_dict names ("0.weight",
 *                                "0.bias", "2.weight", ...)
 *   "optim.<param>.<state>"      with an optimizer: its state tensors under
 *                                PyTorch's names ("optim.0.weight.exp_avg",
 *                                "optim.0.weight.momentum_buffer")
 * __metadata__ (every value a string, as the format requires):
 *   "format"       "clrt-checkpoint-1"
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
 * Numbers are written through jansson, which is locale-independent, in the
 * shortest text that reads back to the same float (or double, for "lr"), so
 * a program that called setlocale() still writes "0.05", not "0,05".
 *
 * Saving reads every tensor back (blocking), writes "<path>.tmp.<pid>",
 * fsyncs it, renames it over `path` and fsyncs the directory: a crash
 * mid-save leaves the previous file whole.
 *
 * Loading reads the whole file and checks everything before it writes
 * anything: the header length against the file size (and the safetensors
 * library's 100 MB limit), the JSON (jansson, duplicate keys refused), every
 * entry's dtype, shape and offsets (each range inside the data section, its
 * length the shape's byte size, and, as the safetensors spec requires, the
 * ranges tiling the data section exactly: no overlap, no hole, nothing
 * after), then for a clrt file the checksum, the layer list against the
 * model, the optimizer kind and state, the training position; for every
 * parameter of the model a tensor of the same name, dtype F32 and the
 * model's shape. Corruption is CLRT_ERR_FORMAT, another model (or another
 * optimizer kind) CLRT_ERR_SHAPE, each naming the first offending item.
 * Only then are the tensors written, the optimizer's steps and learning
 * rate set (as torch's optimizer.load_state_dict restores lr) and *state
 * filled. Tensors the model does not need are ignored, whatever their dtype.
 * The writes are blocking clrt_tensor_write calls: only a device failure
 * among them (its status returned) can leave a model partly loaded. The
 * optimizer's other hyperparameters are neither restored (the API has no
 * setter) nor compared: resuming with another momentum is the caller's
 * choice, as it is in PyTorch before load_state_dict overrides it.
 *
 * A file without "format": "clrt-checkpoint-1" (one saved by
 * safetensors.torch.save_file, say) is read for its weights alone, matched
 * by name and shape. So is any file under CLRT_CHECKPOINT_WEIGHTS_ONLY,
 * which also skips the layer-list check: --init takes any file whose names
 * and shapes fit, whatever activations it was trained with. */
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define FORMAT_NAME "clrt-checkpoint-1"
#define FORMAT_FAMILY "clrt-checkpoint-"
#define METADATA_KEY "__metadata__"
#define MAX_HEADER_BYTES 100000000ull /* the safetensors library's own limit */
#define MAX_SLOTS 4                   /* optimizer state slots probed per parameter */
#define FLOAT_DIGITS 9                /* enough to read any float back exactly */

/* ------------------------------------------------------------- helpers */

/* Host floats to little-endian bytes, in place (p holds n floats). */
static void floats_to_le(unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t u;
        memcpy(&u, p, 4);
        for (int b = 0; b < 4; b++)
            p[b] = (unsigned char)(u >> (8 * b));
    }
}

/* Little-endian bytes (any alignment) to host floats. */
static void le_to_floats(const unsigned char *p, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&out[i], &u, 4);
    }
}

static char *str_printf(const char *fmt, ...) CLRT_PRINTF(1, 2);
static char *str_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* strerror without the shared static buffer (the XSI strerror_r). */
static void errno_text(int err, char *buf, size_t len)
{
    if (strerror_r(err, buf, len) != 0)
        snprintf(buf, len, "error %d", err);
}

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

/* A shape array already checked to hold non-negative integers. */
static void json_shape_text(const json_t *shape, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < json_array_size(shape) && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%lld", i ? ", " : "",
                                 (long long)json_integer_value(json_array_get(shape, i)));
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
    return str_printf("optim.%s.%s", pname, s->name);
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
    size_t begin;       /* byte offset in the data section */
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
        char *lr = number_text(state->lr, false);
        if (!lr)
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                              "%s: the training state's lr %g cannot be recorded", fn, state->lr);
        ok = ok && json_object_set_new(meta, "lr", json_string(lr)) == 0;
        free(lr);
        snprintf(num, sizeof num, "%llu", (unsigned long long)state->epoch);
        ok = ok && json_object_set_new(meta, "epoch", json_string(num)) == 0;
        snprintf(num, sizeof num, "%llu", (unsigned long long)state->seed);
        ok = ok && json_object_set_new(meta, "seed", json_string(num)) == 0;
    }
    return ok ? CLRT_OK : clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
}

/* Write the file through clrt__write_file_atomic: "<path>.tmp.<pid>" (a
 * stale one of this process replaced), fsync, rename over path, fsync the
 * directory. */
static clrt_status write_atomically(clrt_ctx *ctx, const char *path, const char *header,
                                    size_t header_len, const unsigned char *data,
                                    size_t data_len)
{
    static const char fn[] = "clrt_checkpoint_save";
    static const char spaces[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
    size_t pad = (8 - header_len % 8) % 8;
    unsigned char len8[8];
    clrt__put_le64(len8, (uint64_t)header_len + pad);

    const void *const parts[4] = {len8, header, spaces, data};
    const size_t sizes[4] = {8, header_len, pad, data_len};
    clrt__write_failure f;
    clrt_status st =
        clrt__write_file_atomic(path, parts, sizes, 4, 0666, CLRT__WRITE_SYNC_DIR, &f);
    if (st == CLRT_ERR_OUT_OF_MEMORY)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    if (st != CLRT_OK) {
        char why[128];
        errno_text(f.err, why, sizeof why);
        if (strcmp(f.step, "rename") == 0)
            st = clrt__fail(ctx, CLRT_ERR_IO, "%s: cannot rename '%s' to '%s': %s", fn, f.tmp,
                            path, why);
        else
            st = clrt__fail(ctx, CLRT_ERR_IO, "%s: cannot %s '%s': %s", fn, f.step, f.tmp, why);
        free(f.tmp);
    }
    return st;
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

    size_t np = clrt_model_num_params(m), nitems = 0;
    save_item *items = calloc(np * (1 + MAX_SLOTS) + 1, sizeof *items);
    state_ref *states = calloc(np * MAX_SLOTS + 1, sizeof *states);
    unsigned char *data = NULL;
    char *header = NULL;
    json_t *root = NULL;
    clrt_status st = CLRT_ERR_OUT_OF_MEMORY;
    if (!items || !states) {
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
        items[nitems++] = (save_item){name, NULL, t, 0, 0};
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
            items[nitems++] = (save_item){name, name, states[k].t, 0, 0};
        }
    }

    /* Offsets: back to back in item order. */
    size_t total = 0;
    for (size_t k = 0; k < nitems; k++) {
        size_t n = clrt_tensor_numel(items[k].t);
        if (n > (SIZE_MAX - total) / 4 || total + 4 * n > (size_t)LLONG_MAX) {
            st = clrt__fail(ctx, CLRT_ERR_SHAPE, "%s: the checkpoint would be too large", fn);
            goto done;
        }
        items[k].numel = n;
        items[k].begin = total;
        total += 4 * n;
    }
    data = malloc(total ? total : 1);
    if (!data) {
        st = clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: no host memory for %zu bytes", fn,
                        total);
        goto done;
    }
    /* Read straight into the data section (malloc'd: aligned for floats at
     * offsets that are multiples of 4), then make it little-endian. */
    for (size_t k = 0; k < nitems; k++) {
        if (items[k].numel == 0)
            continue;
        st = clrt_tensor_read(items[k].t, (float *)(void *)(data + items[k].begin),
                              items[k].numel);
        if (st != CLRT_OK)
            goto done;
    }
    floats_to_le(data, total / 4);

    st = CLRT_ERR_OUT_OF_MEMORY;
    root = json_object();
    json_t *meta = json_object();
    if (!root || !meta || json_object_set_new(root, METADATA_KEY, meta) != 0) {
        clrt__fail(ctx, st, "%s: out of memory", fn);
        goto done;
    }
    st = build_metadata(ctx, m, opt, state, meta);
    if (st != CLRT_OK)
        goto done;
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx", (unsigned long)clrt__crc32(0, data, total));
    bool ok = json_object_set_new(meta, "checksum", json_string(crc)) == 0;
    /* Each object is attached to its parent as soon as it exists, so a
     * failure half-way leaks nothing: json_decref(root) frees it all. */
    for (size_t k = 0; ok && k < nitems; k++) {
        const clrt_tensor *t = items[k].t;
        json_t *e = NULL, *shape = NULL, *off = NULL;
        ok = (e = json_object()) && json_object_set_new(root, items[k].name, e) == 0 &&
             json_object_set_new(e, "dtype", json_string("F32")) == 0 &&
             (shape = json_array()) && json_object_set_new(e, "shape", shape) == 0 &&
             (off = json_array()) && json_object_set_new(e, "data_offsets", off) == 0;
        for (int d = 0; ok && d < clrt_tensor_rank(t); d++)
            ok = json_array_append_new(shape, json_integer((json_int_t)clrt_tensor_dim(t, d))) ==
                 0;
        ok = ok && json_array_append_new(off, json_integer((json_int_t)items[k].begin)) == 0 &&
             json_array_append_new(
                 off, json_integer((json_int_t)(items[k].begin + 4 * items[k].numel))) == 0;
    }
    header = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    if (!header) {
        clrt__fail(ctx, st, "%s: out of memory building the header", fn);
        goto done;
    }
    st = write_atomically(ctx, path, header, strlen(header), data, total);
done:
    free(header);
    json_decref(root);
    free(data);
    if (items)
        for (size_t k = 0; k < nitems; k++)
            free(items[k].owned_name);
    free(items);
    free(states);
    return st;
}

/* ---------------------------------------------------------------- load */

typedef struct loader {
    clrt_ctx *ctx;
    const char *path;
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
    return clrt__fail(L->ctx, st, "clrt_checkpoint_load: '%s': %s", L->path, msg);
}

/* One tensor entry of the header, checked. */
typedef struct entry {
    const char *name;
    const char *dtype;
    const json_t *shape;  /* borrowed from the header */
    size_t numel;
    size_t begin, end;    /* byte range in the data section */
} entry;

static size_t dtype_size(const char *d)
{
    static const struct {
        const char *name;
        size_t size;
    } table[] = {{"BOOL", 1},    {"U8", 1},      {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
                 {"I16", 2},     {"U16", 2},     {"F16", 2}, {"BF16", 2},    {"I32", 4},
                 {"U32", 4},     {"F32", 4},     {"F64", 8}, {"I64", 8},     {"U64", 8}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(d, table[i].name) == 0)
            return table[i].size;
    return 0;
}

static clrt_status read_whole(const loader *L, unsigned char **out, size_t *len)
{
    char why[128];
    *out = NULL;
    *len = 0;
    int fd = open(L->path, O_RDONLY);
    if (fd < 0) {
        errno_text(errno, why, sizeof why);
        return refuse(L, CLRT_ERR_IO, "cannot open: %s", why);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return refuse(L, CLRT_ERR_IO, "not a regular file");
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size >= SIZE_MAX) {
        close(fd);
        return refuse(L, CLRT_ERR_OUT_OF_MEMORY, "too large to read");
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return refuse(L, CLRT_ERR_OUT_OF_MEMORY, "no host memory for %zu bytes", size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                errno_text(errno, why, sizeof why);
            else
                snprintf(why, sizeof why, "the file shrank while being read");
            free(buf);
            close(fd);
            return refuse(L, CLRT_ERR_IO, "cannot read: %s", why);
        }
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = size;
    return CLRT_OK;
}

static clrt_status parse_entry(const loader *L, const char *name, const json_t *v,
                               size_t data_size, entry *e)
{
    const clrt_status F = CLRT_ERR_FORMAT;
    if (!json_is_object(v))
        return refuse(L, F, "tensor '%s' is not a JSON object", name);
    const json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
                 *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return refuse(L, F, "tensor '%s' has no dtype string", name);
    size_t es = dtype_size(json_string_value(dt));
    if (es == 0)
        return refuse(L, F, "tensor '%s' has an unknown dtype \"%s\"", name,
                      json_string_value(dt));
    if (!json_is_array(sh))
        return refuse(L, F, "tensor '%s' has no shape array", name);
    bool zero = false;
    for (size_t i = 0; i < json_array_size(sh); i++) {
        const json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return refuse(L, F, "the shape of tensor '%s' is not a list of non-negative integers",
                          name);
        zero = zero || json_integer_value(d) == 0;
    }
    size_t numel = zero ? 0 : 1;
    for (size_t i = 0; !zero && i < json_array_size(sh); i++) {
        uintmax_t d = (uintmax_t)json_integer_value(json_array_get(sh, i));
        if (d > SIZE_MAX / es / numel)
            return refuse(L, F, "the shape of tensor '%s' is too large", name);
        numel *= (size_t)d;
    }
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1)))
        return refuse(L, F, "the data_offsets of tensor '%s' are not two integers", name);
    long long b = (long long)json_integer_value(json_array_get(off, 0));
    long long end = (long long)json_integer_value(json_array_get(off, 1));
    if (b < 0 || end < b)
        return refuse(L, F, "the data_offsets [%lld, %lld] of tensor '%s' are not an ascending "
                      "pair of non-negative integers", b, end, name);
    if ((unsigned long long)end > (unsigned long long)data_size)
        return refuse(L, F, "the data_offsets [%lld, %lld] of tensor '%s' run past the %zu "
                      "bytes of data", b, end, name, data_size);
    if ((size_t)(end - b) != numel * es) {
        char s[128];
        json_shape_text(sh, s, sizeof s);
        return refuse(L, F, "tensor '%s' is %s %s (%zu bytes) but its data_offsets [%lld, %lld] "
                      "span %lld bytes", name, json_string_value(dt), s, numel * es, b, end,
                      end - b);
    }
    *e = (entry){name, json_string_value(dt), sh, numel, (size_t)b, (size_t)end};
    return CLRT_OK;
}

static int entry_order(const void *pa, const void *pb)
{
    const entry *a = *(const entry *const *)pa, *b = *(const entry *const *)pb;
    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return 0;
}

/* The ranges tile [0, data_size) exactly (the safetensors rule: no overlap,
 * no hole, which also makes a file longer than its tensors corrupt). */
static clrt_status check_tiling(const loader *L, const entry *entries, size_t n,
                                size_t data_size)
{
    const entry **order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return refuse(L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = &entries[i];
    qsort(order, n, sizeof *order, entry_order);
    size_t at = 0;
    const entry *prev = NULL;
    clrt_status st = CLRT_OK;
    for (size_t i = 0; i < n && st == CLRT_OK; i++) {
        const entry *e = order[i];
        if (e->begin < at)
            st = refuse(L, CLRT_ERR_FORMAT, "tensors '%s' and '%s' overlap (bytes %zu..%zu and "
                        "%zu..%zu of the data)", prev->name, e->name, prev->begin, prev->end,
                        e->begin, e->end);
        else if (e->begin > at)
            st = refuse(L, CLRT_ERR_FORMAT, "bytes %zu..%zu of the data belong to no tensor "
                        "(a hole before tensor '%s')", at, e->begin, e->name);
        if (e->end > at || !prev) {
            at = e->end;
            prev = e;
        }
    }
    if (st == CLRT_OK && at != data_size)
        st = refuse(L, CLRT_ERR_FORMAT, "the last %zu bytes of the data belong to no tensor "
                    "(the tensors end at byte %zu of %zu)", data_size - at, at, data_size);
    free(order);
    return st;
}

static const entry *find_entry(const entry *entries, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(entries[i].name, name) == 0)
            return &entries[i];
    return NULL;
}

/* The entry for tensor `t` of the model or optimizer: present, F32, and of
 * t's shape; `what` says whose it is in messages. */
static clrt_status match_tensor(const loader *L, const entry *entries, size_t n,
                                const char *name, const clrt_tensor *t, const char *what,
                                const entry **out)
{
    char ts[128], fs[128];
    tensor_shape_text(t, ts, sizeof ts);
    const entry *e = find_entry(entries, n, name);
    if (!e)
        return refuse(L, CLRT_ERR_SHAPE, "no tensor '%s' (the %s has %s %s)", name, what, name,
                      ts);
    if (strcmp(e->dtype, "F32") != 0)
        return refuse(L, CLRT_ERR_FORMAT, "tensor '%s' is %s; clrt reads F32 only", name,
                      e->dtype);
    bool same = json_array_size(e->shape) == (size_t)clrt_tensor_rank(t);
    for (int d = 0; same && d < clrt_tensor_rank(t); d++)
        same = (uintmax_t)json_integer_value(json_array_get(e->shape, (size_t)d)) ==
               (uintmax_t)clrt_tensor_dim(t, d);
    if (!same) {
        json_shape_text(e->shape, fs, sizeof fs);
        return refuse(L, CLRT_ERR_SHAPE, "tensor '%s' is %s in the checkpoint, %s in the %s",
                      name, fs, ts, what);
    }
    *out = e;
    return CLRT_OK;
}

/* One layer object of the "layers" metadata. A parameter is taken under
 * any kind's key, so one where the type has none makes the layer differ. */
static bool parse_layer(const json_t *o, layer_desc *d)
{
    memset(d, 0, sizeof *d);
    const json_t *type = json_object_get(o, "type"), *in = json_object_get(o, "in"),
                 *out = json_object_get(o, "out");
    if (!json_is_object(o) || !json_is_string(type) || !json_is_integer(in) ||
        !json_is_integer(out) || json_integer_value(in) < 0 || json_integer_value(out) < 0)
        return false;
    size_t nkinds;
    const clrt__layer_kind *kinds = clrt__layer_kinds(&nkinds);
    for (size_t k = 0; k < nkinds; k++) {
        const char *key = kinds[k].param_key;
        const json_t *param = key ? json_object_get(o, key) : NULL;
        if (param && !json_is_number(param))
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

static clrt_status check_layers(const loader *L, const char *text, const clrt_model *m)
{
    json_t *arr = json_loads(text, 0, NULL);
    clrt_status st = CLRT_OK;
    if (!json_is_array(arr)) {
        st = refuse(L, CLRT_ERR_FORMAT, "the \"layers\" metadata is not a JSON array");
        goto done;
    }
    size_t nf = json_array_size(arr), nm = clrt_model_num_layers(m);
    char a[128], b[128];
    for (size_t i = 0; i < nf || i < nm; i++) {
        layer_desc df, dm;
        if (i < nf && !parse_layer(json_array_get(arr, i), &df)) {
            st = refuse(L, CLRT_ERR_FORMAT, "layer %zu of the \"layers\" metadata is malformed",
                        i);
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

static clrt_status parse_optimizer(const loader *L, const char *text, optim_meta *out)
{
    json_t *j = json_loads(text, 0, NULL);
    const json_t *type = json_object_get(j, "type"), *steps = json_object_get(j, "steps"),
                 *lr = json_object_get(j, "lr");
    clrt_status st = CLRT_OK;
    bool known = false;
    if (!json_is_object(j) || !json_is_string(type) || !json_is_integer(steps) ||
        json_integer_value(steps) < 0 || !json_is_number(lr) || !(json_number_value(lr) >= 0)) {
        st = refuse(L, CLRT_ERR_FORMAT, "the \"optimizer\" metadata is malformed (it needs "
                    "\"type\", a non-negative integer \"steps\" and a non-negative \"lr\")");
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
    out->steps = (uint64_t)json_integer_value(steps);
    out->lr = (float)json_number_value(lr);
    if (st == CLRT_OK && (out->steps == UINT64_MAX || !(out->lr >= 0.0f) ||
                          out->lr > 3.4e38f))
        st = refuse(L, CLRT_ERR_FORMAT, "the \"optimizer\" metadata's steps or lr is out of "
                    "range");
done:
    json_decref(j);
    return st;
}

static clrt_status parse_train_state(const loader *L, const json_t *meta, clrt_train_state *out)
{
    const char *epoch = json_string_value(json_object_get(meta, "epoch"));
    const char *seed = json_string_value(json_object_get(meta, "seed"));
    const char *lr = json_string_value(json_object_get(meta, "lr"));
    if (!epoch || !seed || !lr)
        return refuse(L, CLRT_ERR_FORMAT, "the training state in the metadata is incomplete "
                      "(it needs \"epoch\", \"seed\" and \"lr\")");
    if (!parse_u64(epoch, &out->epoch))
        return refuse(L, CLRT_ERR_FORMAT, "the \"epoch\" metadata \"%s\" is not a decimal "
                      "integer", epoch);
    if (!parse_u64(seed, &out->seed))
        return refuse(L, CLRT_ERR_FORMAT, "the \"seed\" metadata \"%s\" is not a decimal "
                      "integer", seed);
    if (!parse_number(lr, &out->lr))
        return refuse(L, CLRT_ERR_FORMAT, "the \"lr\" metadata \"%s\" is not a number", lr);
    return CLRT_OK;
}

static clrt_status check_checksum(const loader *L, const char *text, const unsigned char *data,
                                  size_t size)
{
    bool hex = strlen(text) == 8;
    for (size_t i = 0; hex && i < 8; i++)
        hex = (text[i] >= '0' && text[i] <= '9') || (text[i] >= 'a' && text[i] <= 'f') ||
              (text[i] >= 'A' && text[i] <= 'F');
    if (!hex)
        return refuse(L, CLRT_ERR_FORMAT, "the checksum \"%s\" is not 8 hex digits", text);
    unsigned long want = strtoul(text, NULL, 16);
    uint32_t got = clrt__crc32(0, data, size);
    if ((uint32_t)want != got)
        return refuse(L, CLRT_ERR_FORMAT, "checksum mismatch: the data's crc32 is %08lx, the "
                      "header says %s (the file is corrupt)", (unsigned long)got, text);
    return CLRT_OK;
}

/* A tensor to write once every check has passed. */
typedef struct load_item {
    clrt_tensor *t;
    const entry *e;
} load_item;

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
    const loader L = {ctx, path};
    const clrt_status F = CLRT_ERR_FORMAT;

    unsigned char *file = NULL;
    json_t *root = NULL;
    entry *entries = NULL;
    load_item *items = NULL;
    state_ref *states = NULL;
    float *staging = NULL;
    size_t size = 0, nentries = 0, nitems = 0;
    clrt_status st = read_whole(&L, &file, &size);
    if (st != CLRT_OK)
        goto done;

    /* Header length and JSON. */
    if (size < 8) {
        st = refuse(&L, F, "not a safetensors file: %zu bytes, shorter than the 8-byte header "
                    "length", size);
        goto done;
    }
    uint64_t hlen = clrt__get_le64(file);
    if (hlen > (uint64_t)(size - 8)) {
        st = refuse(&L, F, "the header length %llu runs past the end of the file (%zu bytes)",
                    (unsigned long long)hlen, size);
        goto done;
    }
    if (hlen > MAX_HEADER_BYTES) {
        st = refuse(&L, F, "the header length %llu is over the %llu-byte limit",
                    (unsigned long long)hlen, MAX_HEADER_BYTES);
        goto done;
    }
    const unsigned char *data = file + 8 + hlen;
    const size_t data_size = size - 8 - (size_t)hlen;
    json_error_t jerr;
    root = json_loadb((const char *)file + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        st = refuse(&L, F, "the header is not valid JSON: %s (byte %d of the header)", jerr.text,
                    jerr.position);
        goto done;
    }
    if (!json_is_object(root)) {
        st = refuse(&L, F, "the header is not a JSON object");
        goto done;
    }

    /* Metadata: string values only. */
    const json_t *meta = json_object_get(root, METADATA_KEY);
    if (meta) {
        if (!json_is_object(meta)) {
            st = refuse(&L, F, "%s is not a JSON object", METADATA_KEY);
            goto done;
        }
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)meta, key, value) {
            if (!json_is_string(value)) {
                st = refuse(&L, F, "%s value \"%s\" is not a string", METADATA_KEY, key);
                goto done;
            }
        }
    }

    /* Every tensor entry, then the tiling of the data section. */
    entries = calloc(json_object_size(root) + 1, sizeof *entries);
    if (!entries) {
        st = refuse(&L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    {
        const char *key;
        const json_t *value;
        json_object_foreach(root, key, value) {
            if (strcmp(key, METADATA_KEY) == 0)
                continue;
            st = parse_entry(&L, key, value, data_size, &entries[nentries]);
            if (st != CLRT_OK)
                goto done;
            nentries++;
        }
    }
    st = check_tiling(&L, entries, nentries, data_size);
    if (st != CLRT_OK)
        goto done;

    /* A clrt file: format version, checksum, layer list. */
    const char *format = json_string_value(json_object_get(meta, "format"));
    bool clrt_file = format && strcmp(format, FORMAT_NAME) == 0;
    if (format && !clrt_file && strncmp(format, FORMAT_FAMILY, strlen(FORMAT_FAMILY)) == 0 &&
        !weights_only) {
        st = refuse(&L, F, "written in format \"%s\"; this clrt reads \"%s\" (or only its "
                    "weights, with CLRT_CHECKPOINT_WEIGHTS_ONLY)", format, FORMAT_NAME);
        goto done;
    }
    const char *checksum = clrt_file ? json_string_value(json_object_get(meta, "checksum")) : NULL;
    if (checksum && (st = check_checksum(&L, checksum, data, data_size)) != CLRT_OK)
        goto done;
    const char *layers = clrt_file ? json_string_value(json_object_get(meta, "layers")) : NULL;
    if (layers && !weights_only && (st = check_layers(&L, layers, m)) != CLRT_OK)
        goto done;
    const char *in_features =
        clrt_file ? json_string_value(json_object_get(meta, "in_features")) : NULL;
    uint64_t in_file;
    if (in_features && !weights_only) {
        if (!parse_u64(in_features, &in_file)) {
            st = refuse(&L, F, "the \"in_features\" metadata \"%s\" is not a decimal integer",
                        in_features);
            goto done;
        }
        if (in_file != (uint64_t)clrt_model_in_features(m)) {
            st = refuse(&L, CLRT_ERR_SHAPE, "checkpoint model takes %llu inputs, model takes %zu",
                        (unsigned long long)in_file, clrt_model_in_features(m));
            goto done;
        }
    }

    /* The model's parameters. */
    size_t np = clrt_model_num_params(m);
    items = calloc(np * (1 + MAX_SLOTS) + 1, sizeof *items);
    states = calloc(np * MAX_SLOTS + 1, sizeof *states);
    if (!items || !states) {
        st = refuse(&L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < np; i++) {
        const char *name = NULL;
        clrt_tensor *t = clrt_model_param(m, i, &name);
        if (!t || !name) {
            st = clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: model parameter %zu has no name", fn,
                            i);
            goto done;
        }
        items[nitems].t = t;
        st = match_tensor(&L, entries, nentries, name, t, "model", &items[nitems].e);
        if (st != CLRT_OK)
            goto done;
        nitems++;
    }

    /* The optimizer, when given and in the file. */
    const char *optim_text =
        clrt_file && opt && !weights_only ? json_string_value(json_object_get(meta, "optimizer"))
                                          : NULL;
    optim_meta om = {CLRT_OPTIM_SGD, 0, 0.0f};
    if (optim_text) {
        st = parse_optimizer(&L, optim_text, &om);
        if (st != CLRT_OK)
            goto done;
        clrt_optim_options o;
        st = clrt_optim_get_options(opt, &o);
        if (st != CLRT_OK) {
            st = clrt__fail(ctx, st, "%s: cannot read the optimizer's options", fn);
            goto done;
        }
        if (o.kind != om.kind) {
            const char *have = optim_kind_name(o.kind);
            st = refuse(&L, CLRT_ERR_SHAPE, "the checkpoint's optimizer is %s, the optimizer "
                        "given is %s", optim_kind_name(om.kind), have ? have : "unknown");
            goto done;
        }
        size_t ns;
        st = optim_states(ctx, fn, m, opt, states, &ns);
        if (st != CLRT_OK)
            goto done;
        for (size_t k = 0; k < ns; k++) {
            char *name = state_tensor_name(m, &states[k]);
            if (!name) {
                st = refuse(&L, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
                goto done;
            }
            items[nitems].t = states[k].t;
            st = match_tensor(&L, entries, nentries, name, states[k].t, "optimizer",
                              &items[nitems].e);
            free(name);
            if (st != CLRT_OK)
                goto done;
            nitems++;
        }
    }

    /* The training position, when asked for and in the file. */
    clrt_train_state ts = {0, 0, 0.0};
    bool has_state = clrt_file && state && !weights_only && json_object_get(meta, "epoch");
    if (has_state && (st = parse_train_state(&L, meta, &ts)) != CLRT_OK)
        goto done;

    /* Every check passed: write. Only a device failure can stop us now. */
    size_t most = 0;
    for (size_t k = 0; k < nitems; k++)
        most = items[k].e->numel > most ? items[k].e->numel : most;
    staging = malloc((most ? most : 1) * sizeof *staging);
    if (!staging) {
        st = refuse(&L, CLRT_ERR_OUT_OF_MEMORY, "no host memory for %zu floats", most);
        goto done;
    }
    for (size_t k = 0; k < nitems; k++) {
        const entry *e = items[k].e;
        if (e->numel == 0)
            continue;
        le_to_floats(data + e->begin, staging, e->numel);
        st = clrt_tensor_write(items[k].t, staging, e->numel);
        if (st != CLRT_OK)
            goto done;
    }
    if (optim_text) {
        st = clrt_optim_set_steps(opt, om.steps);
        if (st == CLRT_OK)
            st = clrt_optim_set_lr(opt, om.lr);
        if (st != CLRT_OK)
            goto done;
    }
    if (has_state)
        *state = ts;
    st = CLRT_OK;
done:
    free(staging);
    free(states);
    free(items);
    free(entries);
    json_decref(root);
    free(file);
    return st;
}
