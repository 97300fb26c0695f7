/* The table of layer kinds: for each, its parameters, PyTorch's default
 * initialisation, forward and backward (an activation after a linear layer
 * runs inside the linear's forward), and how a checkpoint's layer list
 * names, parses and describes it. */
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WEIGHT, BIAS }; /* a linear layer's parameters */

static clrt_status fill_uniform(clrt_model *m, clrt_tensor *t, double bound, uint64_t *rng)
{
    size_t n = clrt_tensor_numel(t);
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return clrt__fail(m->ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory initialising");
    for (size_t i = 0; i < n; i++) {
        double u = (double)(clrt__splitmix64(rng) >> 11) * 0x1.0p-53; /* [0, 1) */
        v[i] = (float)((2.0 * u - 1.0) * bound);
    }
    clrt_status st = clrt_tensor_write(t, v, n);
    free(v);
    return st;
}

/* ------------------------------------------------------------- linear */

static int linear_param_shape(const clrt__layer *l, size_t j, size_t dims[CLRT_MAX_RANK])
{
    dims[0] = l->out;
    dims[1] = l->in;
    return j == WEIGHT ? 2 : 1;
}

static clrt_status linear_init(clrt_model *m, clrt__layer *l, uint64_t *rng)
{
    /* nn.Linear.reset_parameters: kaiming_uniform_(a=√5) gives bound
     * 1/√in for the weight; the bias uses 1/√in too. */
    double bound = 1.0 / sqrt((double)l->in);
    CLRT_TRY(fill_uniform(m, l->param[WEIGHT], bound, rng));
    return fill_uniform(m, l->param[BIAS], bound, rng);
}

static clrt_status linear_forward(clrt_model *m, size_t i, const clrt_tensor *x)
{
    clrt__layer *l = &m->layers[i];
    const clrt__layer *next = i + 1 < m->nlayers ? &m->layers[i + 1] : NULL;
    bool fuse = next && next->fused;
    clrt_act act = fuse ? next->act : CLRT_ACT_IDENTITY;
    float param = fuse ? next->act_param : 0.0f;
    return clrt_linear_forward(m->ctx, x, l->param[WEIGHT], l->param[BIAS], act, param, l->z,
                               l->y);
}

static clrt_status linear_backward(clrt_model *m, size_t i, const clrt_tensor *x,
                                   const clrt_tensor **g, unsigned flags)
{
    clrt__layer *l = &m->layers[i];
    clrt_tensor *w = l->param[WEIGHT];
    /* `flags` is about parameter gradients; the input gradient is always
     * overwritten, since it only feeds the layer below. */
    if (l->dx)
        CLRT_TRY(clrt_linear_backward(m->ctx, x, w, *g, l->dx, NULL, NULL, 0));
    CLRT_TRY(clrt_linear_backward(m->ctx, x, w, *g, NULL, l->grad[WEIGHT], l->grad[BIAS],
                                  flags));
    *g = l->dx;
    return CLRT_OK;
}

static const char *linear_type(const clrt_layer_info *li)
{
    (void)li;
    return "linear";
}

static bool linear_parse_type(const char *type, clrt_layer_info *li)
{
    if (strcmp(type, "linear") != 0)
        return false;
    li->kind = CLRT_LAYER_LINEAR;
    return true;
}

static bool no_param(const clrt_layer_info *li)
{
    (void)li;
    return false;
}

static void linear_describe(const clrt__layer_record *r, char *buf, size_t len)
{
    snprintf(buf, len, "%s %lld->%lld", r->type, r->in, r->out);
}

/* --------------------------------------------------------- activations */

static clrt_status act_forward(clrt_model *m, size_t i, const clrt_tensor *x)
{
    clrt__layer *l = &m->layers[i];
    return clrt_act_forward(m->ctx, l->act, l->act_param, x, l->y);
}

static clrt_status act_backward(clrt_model *m, size_t i, const clrt_tensor *x,
                                const clrt_tensor **g, unsigned flags)
{
    (void)flags; /* no parameters */
    clrt__layer *l = &m->layers[i];
    if (l->fused) {
        /* dz = act'(z)·g, written over the gradient buffer after this pair
         * (or dout): g is either that buffer or the caller's dy. */
        const clrt__layer *lin = &m->layers[i - 1];
        clrt_tensor *dz = *g == m->dout || i + 1 >= m->nlayers ? m->dout : (clrt_tensor *)*g;
        const clrt_tensor *pre = lin->z ? lin->z : lin->y;
        CLRT_TRY(clrt_act_backward(m->ctx, l->act, l->act_param, pre, lin->y, *g, dz));
        *g = dz;
        return CLRT_OK;
    }
    if (l->dx)
        CLRT_TRY(clrt_act_backward(m->ctx, l->act, l->act_param, x, l->y, *g, l->dx));
    *g = l->dx;
    return CLRT_OK;
}

static const char *act_type(const clrt_layer_info *li)
{
    return clrt_act_name(li->act);
}

static bool act_parse_type(const char *type, clrt_layer_info *li)
{
    for (int a = 0; clrt_act_name((clrt_act)a); a++) {
        if (strcmp(type, clrt_act_name((clrt_act)a)) == 0) {
            li->kind = CLRT_LAYER_ACT;
            li->act = (clrt_act)a;
            return true;
        }
    }
    return false;
}

static bool act_takes_param(const clrt_layer_info *li)
{
    return li->act == CLRT_ACT_LEAKY_RELU;
}

/* Also the words for a type this build does not know. */
static void act_describe(const clrt__layer_record *r, char *buf, size_t len)
{
    if (r->param_key)
        snprintf(buf, len, "%s(%g) on %lld features", r->type, (double)r->param, r->in);
    else if (r->in == r->out)
        snprintf(buf, len, "%s on %lld features", r->type, r->in);
    else
        snprintf(buf, len, "%s %lld->%lld", r->type, r->in, r->out);
}

/* --------------------------------------------------------------- table */

static const clrt__layer_kind kinds[] = {
    [CLRT_LAYER_LINEAR] = {
        .id = CLRT_LAYER_LINEAR,
        .nparams = 2,
        .param_names = {[WEIGHT] = "weight", [BIAS] = "bias"},
        .param_shape = linear_param_shape,
        .fuses_act = true,
        .init = linear_init,
        .forward = linear_forward,
        .backward = linear_backward,
        .type = linear_type,
        .parse_type = linear_parse_type,
        .param_key = NULL,
        .takes_param = no_param,
        .describe = linear_describe,
    },
    [CLRT_LAYER_ACT] = {
        .id = CLRT_LAYER_ACT,
        .nparams = 0,
        .forward = act_forward,
        .backward = act_backward,
        .type = act_type,
        .parse_type = act_parse_type,
        .param_key = "negative_slope",
        .takes_param = act_takes_param,
        .describe = act_describe,
    },
};

#define NKINDS (sizeof kinds / sizeof kinds[0])

const clrt__layer_kind *clrt__layer_kind_of(clrt_layer_kind id)
{
    return (size_t)id < NKINDS ? &kinds[id] : NULL;
}

const clrt__layer_kind *clrt__layer_kinds(size_t *count)
{
    *count = NKINDS;
    return kinds;
}

const clrt__layer_kind *clrt__layer_kind_parse(const char *type, clrt_layer_info *li)
{
    clrt_layer_info scratch;
    for (size_t k = 0; k < NKINDS; k++)
        if (kinds[k].parse_type(type, li ? li : &scratch))
            return &kinds[k];
    return NULL;
}

void clrt__layer_describe(const clrt__layer_record *r, char *buf, size_t len)
{
    const clrt__layer_kind *k = clrt__layer_kind_parse(r->type, NULL);
    (k ? k->describe : act_describe)(r, buf, len);
}
