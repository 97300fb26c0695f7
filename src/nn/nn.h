/* The nn layer: what it offers the layers above it (io, verify). Models
 * are declared in clrt.h; this header adds the model's insides shared by
 * the nn files, the table of layer kinds the model and the checkpoint code
 * both dispatch through, and the loader-driven evaluation. Includes the ops
 * layer only. Not installed. */
#ifndef CLRT_NN_H
#define CLRT_NN_H

#include "ops/ops.h"

/* ------------------------------------------------------------ model.c */

#define CLRT__LAYER_MAX_PARAMS 2

typedef struct clrt__layer_kind clrt__layer_kind;

/* One layer of a model. Only the fields its kind uses are set. */
typedef struct clrt__layer {
    const clrt__layer_kind *kind;
    size_t in, out;
    clrt_act act;               /* activation layers */
    float act_param;
    bool fused;                 /* an activation run inside the layer before it */
    clrt_tensor *param[CLRT__LAYER_MAX_PARAMS], *grad[CLRT__LAYER_MAX_PARAMS];
    /* Work tensors for the current batch size. */
    clrt_tensor *y;             /* output of the layer */
    clrt_tensor *z;             /* linear + fused act: pre-activation, when the act needs it */
    clrt_tensor *dx;            /* gradient w.r.t. the layer's input */
} clrt__layer;

struct clrt_model {
    clrt_ctx *ctx;
    size_t in;
    clrt__layer *layers;
    size_t nlayers, cap;
    clrt_tensor **params, **grads;
    char (*names)[32];
    size_t nparams;
    size_t batch;               /* batch size the work tensors are made for */
    const clrt_tensor *x;       /* input of the last forward (not owned) */
    clrt_tensor *loss, *loss_sum, *dout; /* batch loss, running sum, dL/dy */
    size_t loss_samples;
    clrt_tensor *finite_flag;   /* one word: which parameter a finiteness check found */
    clrt_grad_hook grad_hook;   /* between backward and the optimizer step; NULL: none */
    void *grad_hook_user;
};

/* ----------------------------------------------------------- layers.c */

/* A layer as a checkpoint's "layers" list records it, e.g.
 * {"type":"leaky_relu","in":512,"out":512,"negative_slope":0.01}. A record
 * read from a file may name a kind this build does not know. */
typedef struct clrt__layer_record {
    char type[32];              /* "linear", an activation's name, ... */
    long long in, out;          /* JSON integers */
    const char *param_key;      /* the parameter's key (a kind's param_key); NULL: none */
    float param;
} clrt__layer_record;

/* What the model and the checkpoint code know of one kind of layer. */
struct clrt__layer_kind {
    clrt_layer_kind id;
    /* Parameters: how many, their state_dict suffixes ("3.weight"), and
     * the rank and dimensions of parameter j of layer l. */
    size_t nparams;
    const char *param_names[CLRT__LAYER_MAX_PARAMS];
    int (*param_shape)(const clrt__layer *l, size_t j, size_t dims[CLRT_MAX_RANK]);
    /* An activation appended right after runs inside this layer's forward
     * (its `fused` is set; its forward is then skipped). */
    bool fuses_act;
    /* Draw the parameters from *rng (NULL: the kind has none). */
    clrt_status (*init)(clrt_model *m, clrt__layer *l, uint64_t *rng);
    /* Layer i of m from input x into its work tensor y. */
    clrt_status (*forward)(clrt_model *m, size_t i, const clrt_tensor *x);
    /* Back through layer i given *g = dL/d(its output); the input of its
     * forward was x. Sets *g to dL/dx (NULL below the first layer). */
    clrt_status (*backward)(clrt_model *m, size_t i, const clrt_tensor *x,
                            const clrt_tensor **g, unsigned flags);

    /* The checkpoint's text of a layer: its "type" (NULL for an activation
     * that has no name), and back from a type to the kind's fields of *li
     * (false: not a type of this kind). */
    const char *(*type)(const clrt_layer_info *li);
    bool (*parse_type)(const char *type, clrt_layer_info *li);
    /* The key its parameter goes under (NULL: the kind has none), and
     * whether a given layer records it (leaky_relu's negative_slope). */
    const char *param_key;
    bool (*takes_param)(const clrt_layer_info *li);
    /* A record in words, for messages: "linear 784->512",
     * "leaky_relu(0.01) on 512 features". */
    void (*describe)(const clrt__layer_record *r, char *buf, size_t len);
};

/* The row of a kind; NULL for an unknown value. */
const clrt__layer_kind *clrt__layer_kind_of(clrt_layer_kind id);

/* Every row, in clrt_layer_kind order, and how many there are. */
const clrt__layer_kind *clrt__layer_kinds(size_t *count);

/* The row whose parse_type takes `type` (filling *li when li is not NULL),
 * or NULL. */
const clrt__layer_kind *clrt__layer_kind_parse(const char *type, clrt_layer_info *li);

/* A record in words through its kind's describe; a type this build does
 * not know is described by its name and widths. */
void clrt__layer_describe(const clrt__layer_record *r, char *buf, size_t len);

/* ------------------------------------------------------------ train.c */

/* The next batch of a source (a loader, in the io layer): *x NULL at the
 * end. The model knows batches, not where they come from. */
typedef clrt_status (*clrt__batch_source)(void *source, const clrt_tensor **x,
                                          const clrt_tensor **labels);

/* Mean cross-entropy loss and accuracy of `m` over every batch `next`
 * gives; the sums stay on the device and are read once at the end. */
clrt_status clrt__model_evaluate_batches(clrt_model *m, clrt__batch_source next, void *source,
                                         double *loss, double *accuracy);

#endif /* CLRT_NN_H */
