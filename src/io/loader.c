/* The device loader: a dataset's rows in (optionally shuffled) mini-batches
 * uploaded through double-buffered staging, and the evaluation of a model
 * over a loader. */
#include "io/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* -------------------------------------------------------------- loader
 * The order of epoch e with shuffling is fixed by (seed, e) alone:
 *   state = mix(mix(seed) + e), mix being splitmix64's finaliser;
 *   each draw is splitmix64: state += 0x9E3779B97F4A7C15, output mix(state);
 *   uniform(b) rejects draws below (2^64 - b) mod b, returns draw mod b;
 *   order = 0..n-1, then for i = n-1 down to 1: swap order[i], order[uniform(i+1)].
 * Only 64-bit integer arithmetic: the same order on every machine, and a
 * resumed run sees exactly the order an uninterrupted one would.
 *
 * Shards (data parallel): every shard walks the same order and batches,
 * keeping rows [rows*s/S, rows*(s+1)/S) of each, so the shards of a batch
 * are the unsharded batch and the ranks' steps stay in lockstep.
 *
 * Staging: two stages alternate (batch k uses stage k mod 2). Each has a
 * host buffer, device tensors for a full batch and, made on first need,
 * for the shorter last batch. The host buffer is refilled only after the
 * write from its previous use has completed; the device tensors are
 * overwritten only by a write enqueued after everything the caller enqueued
 * on the previous batch from them (the queue is in order). So gathering
 * batch k+1 on the host overlaps the device's work on batch k.
 *
 * On a device that does not share host memory (CL_DEVICE_HOST_UNIFIED_MEMORY
 * false: a discrete GPU) a stage's host buffers are instead one
 * CL_MEM_ALLOC_HOST_PTR buffer, mapped once when the stage is first used
 * and unmapped when the loader is destroyed: the driver's pinned memory, so
 * each upload is a direct transfer rather than a copy into a bounce buffer
 * first. What is uploaded, and when the buffers are refilled, is the same. */

typedef struct loader_stage {
    float *hx, *hy;        /* host staging: [batch, features], [batch] */
    clrt_tensor *x, *y;    /* a full batch on the device */
    clrt_tensor *px, *py;  /* the last, partial batch (n mod batch rows) */
    cl_event pending[2];   /* the writes from hx and hy, until known done */
    cl_mem pinned;         /* pinned staging: hx and hy lie in its mapping; NULL: malloc'd */
} loader_stage;

struct clrt_loader {
    clrt_ctx *ctx;
    const clrt_dataset *ds;
    size_t batch;    /* rows per batch, at most n */
    size_t batches;  /* ceil(n / batch) */
    size_t next;     /* the next batch of the epoch */
    size_t shards;   /* data-parallel: this loader keeps slice `shard` of each batch */
    size_t shard;
    int shuffle;
    uint64_t seed;
    size_t *order;   /* the epoch's row order */
    bool pinned;     /* the stages' host buffers are pinned (fixed at creation) */
    loader_stage stage[2];
};

/* Uniform in [0, bound), bound >= 1, without modulo bias. */
static uint64_t uniform_below(uint64_t *state, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = clrt__splitmix64(state);
        if (r >= threshold)
            return r % bound;
    }
}

static void loader_order(clrt_loader *l, uint64_t epoch)
{
    size_t n = l->ds->n;
    for (size_t i = 0; i < n; i++)
        l->order[i] = i;
    if (!l->shuffle)
        return;
    uint64_t state = clrt__splitmix64_mix(clrt__splitmix64_mix(l->seed) + epoch);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)uniform_below(&state, (uint64_t)i + 1);
        size_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

void clrt_loader_options_init(clrt_loader_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->batch = 128;
    opt->shuffle = 0;
    opt->seed = 0;
    opt->shards = 1;
    opt->shard = 0;
}

/* Rows [*lo, *hi) of a batch of `rows` are shard s's of `shards`. */
static void shard_slice(size_t rows, size_t s, size_t shards, size_t *lo, size_t *hi)
{
    *lo = rows * s / shards;
    *hi = rows * (s + 1) / shards;
}

clrt_status clrt_loader_create(clrt_ctx *ctx, const clrt_dataset *ds,
                               const clrt_loader_options *opt, clrt_loader **out)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    if (!ds || !out)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_loader_create: ds and out are needed");
    clrt_loader_options defaults;
    if (!opt) {
        clrt_loader_options_init(&defaults);
        opt = &defaults;
    }
    if (opt->batch < 1)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_loader_create: the batch size is 0; it must be at least 1");
    if (ds->n == 0 || ds->features == 0)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_loader_create: the dataset is empty (%zu rows of %zu features)",
                          ds->n, ds->features);
    size_t shards = opt->shards ? opt->shards : 1; /* a zeroed struct: unsharded */
    size_t batch = opt->batch < ds->n ? opt->batch : ds->n, last = ds->n % batch;
    if (opt->shard >= shards)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_loader_create: shard %zu of %zu does not exist (shards count "
                          "from 0)",
                          opt->shard, shards);
    /* rows*shards must not overflow in shard_slice: batch <= n fits memory. */
    size_t product;
    if (!clrt__mul_fits(batch, shards, &product))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_loader_create: %zu shards is too many",
                          shards);
    if (batch < shards || (last != 0 && last < shards))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_loader_create: %zu shards of batches of %zu rows (%zu samples, "
                          "the last batch %zu rows) would leave a shard without rows; choose a "
                          "batch size of at least %zu whose remainder of %zu is 0 or at least %zu",
                          shards, batch, ds->n, last ? last : batch, shards, ds->n, shards);
    clrt_loader *l = calloc(1, sizeof *l);
    size_t order_bytes;
    if (l && clrt__mul_fits(ds->n, sizeof *l->order, &order_bytes))
        l->order = malloc(order_bytes);
    if (!l || !l->order) {
        free(l);
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY,
                          "clrt_loader_create: out of host memory for %zu rows", ds->n);
    }
    l->ctx = ctx;
    l->ds = ds;
    /* A batch larger than the dataset is the whole dataset: no tensor
     * bigger than the data, and no partial batch. */
    l->batch = batch;
    l->batches = ds->n / l->batch + (ds->n % l->batch != 0);
    l->shards = shards;
    l->shard = opt->shard;
    l->shuffle = opt->shuffle != 0;
    l->seed = opt->seed;
    l->pinned = ctx->pinned_staging >= 0 ? ctx->pinned_staging != 0 : !ctx->host_unified;
    loader_order(l, 0); /* usable before the first clrt_loader_begin: epoch 0 */
    ctx->live[CLRT__LIVE_LOADER]++;
    *out = l;
    return CLRT_OK;
}

/* The stage's host buffers, after stage_wait: freed, or unmapped and
 * released. */
static void stage_free_host(clrt_ctx *ctx, loader_stage *s)
{
    if (s->pinned) {
        if (s->hx)
            clrt__cl_unmap(ctx, s->pinned, s->hx);
        clReleaseMemObject(s->pinned);
    } else {
        free(s->hx);
        free(s->hy);
    }
    s->pinned = NULL;
    s->hx = s->hy = NULL;
}

/* Pinned host buffers for a stage: one CL_MEM_ALLOC_HOST_PTR buffer of
 * `floats` floats, mapped for the stage's life; hx at its start. */
static clrt_status stage_map_pinned(clrt_loader *l, loader_stage *s, size_t floats)
{
    size_t bytes = floats * sizeof(float);
    cl_int rc = clrt__cl_create_pinned(l->ctx, bytes, &s->pinned);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(l->ctx, rc, "clCreateBuffer",
                             "clrt_loader_next: a pinned staging buffer of %zu bytes", bytes);
    s->hx = clrt__cl_map(l->ctx, s->pinned, CL_MAP_READ | CL_MAP_WRITE, bytes, &rc);
    if (rc != CL_SUCCESS) {
        s->hx = NULL;
        stage_free_host(l->ctx, s);
        return clrt__fail_cl(l->ctx, rc, "clEnqueueMapBuffer",
                             "clrt_loader_next: a pinned staging buffer of %zu bytes", bytes);
    }
    return CLRT_OK;
}

bool clrt__loader_pinned(const clrt_loader *l)
{
    return l->pinned;
}

/* Wait until the device no longer reads the stage's host buffers. */
static clrt_status stage_wait(clrt_ctx *ctx, loader_stage *s)
{
    cl_event events[2];
    cl_uint count = 0;
    for (int i = 0; i < 2; i++)
        if (s->pending[i])
            events[count++] = s->pending[i];
    clrt_status st = CLRT_OK;
    if (count > 0) {
        cl_int rc = clWaitForEvents(count, events);
        if (rc != CL_SUCCESS)
            st = clrt__fail_cl(ctx, rc, "clWaitForEvents",
                               "clrt_loader_next: the upload of an earlier batch");
    }
    for (int i = 0; i < 2; i++) {
        if (s->pending[i])
            clReleaseEvent(s->pending[i]);
        s->pending[i] = NULL;
    }
    return st;
}

void clrt_loader_destroy(clrt_loader *l)
{
    if (!l)
        return;
    for (int k = 0; k < 2; k++) {
        loader_stage *s = &l->stage[k];
        stage_wait(l->ctx, s); /* the host buffers must outlive their writes */
        clrt_tensor_destroy(s->x);
        clrt_tensor_destroy(s->y);
        clrt_tensor_destroy(s->px);
        clrt_tensor_destroy(s->py);
        stage_free_host(l->ctx, s);
    }
    free(l->order);
    l->ctx->live[CLRT__LIVE_LOADER]--;
    free(l);
}

clrt_status clrt_loader_begin(clrt_loader *l, uint64_t epoch)
{
    if (!l)
        return CLRT_ERR_INVALID_ARG;
    loader_order(l, epoch);
    l->next = 0;
    return CLRT_OK;
}

size_t clrt_loader_batches(const clrt_loader *l)
{
    return l ? l->batches : 0;
}

size_t clrt_loader_rows(const clrt_loader *l)
{
    if (!l)
        return 0;
    size_t lo, hi, full = l->ds->n / l->batch, last = l->ds->n % l->batch, rows;
    shard_slice(l->batch, l->shard, l->shards, &lo, &hi);
    rows = full * (hi - lo);
    shard_slice(last, l->shard, l->shards, &lo, &hi);
    return rows + (hi - lo);
}

/* The stage's host buffers and the device tensors for a batch of `rows`. */
static clrt_status stage_prepare(clrt_loader *l, loader_stage *s, size_t rows,
                                 clrt_tensor **tx, clrt_tensor **ty)
{
    size_t d = l->ds->features;
    if (!s->hx && l->pinned) {
        /* batch <= n, so batch·(features + 1) floats fit as the dataset does. */
        CLRT_TRY(stage_map_pinned(l, s, l->batch * (d + 1)));
        s->hy = s->hx + l->batch * d;
    }
    if (!s->hx) {
        /* batch <= n, so batch·features floats fit as the dataset does. */
        s->hx = malloc(l->batch * d * sizeof(float));
        s->hy = malloc(l->batch * sizeof(float));
        if (!s->hx || !s->hy) {
            free(s->hx);
            free(s->hy);
            s->hx = s->hy = NULL;
            return clrt__fail(l->ctx, CLRT_ERR_OUT_OF_MEMORY,
                              "clrt_loader_next: out of host memory for a staging buffer of "
                              "%zu x %zu floats",
                              l->batch, d);
        }
    }
    size_t lo, hi;
    shard_slice(l->batch, l->shard, l->shards, &lo, &hi);
    bool full = rows == hi - lo;
    clrt_tensor **x = full ? &s->x : &s->px, **y = full ? &s->y : &s->py;
    if (!*x) {
        const size_t shape[2] = {rows, d};
        CLRT_TRY(clrt_tensor_create(l->ctx, 2, shape, CLRT_TENSOR_UNINIT, x));
    }
    if (!*y)
        CLRT_TRY(clrt_tensor_create(l->ctx, 1, &rows, CLRT_TENSOR_UNINIT, y));
    *tx = *x;
    *ty = *y;
    return CLRT_OK;
}

clrt_status clrt_loader_next(clrt_loader *l, const clrt_tensor **x, const clrt_tensor **labels)
{
    if (x)
        *x = NULL;
    if (labels)
        *labels = NULL;
    if (!l)
        return CLRT_ERR_INVALID_ARG;
    if (!x || !labels)
        return clrt__fail(l->ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_loader_next: x and labels are needed");
    if (l->next >= l->batches)
        return CLRT_OK; /* the epoch is over */

    const clrt_dataset *ds = l->ds;
    size_t d = ds->features, start = l->next * l->batch;
    size_t rows = ds->n - start < l->batch ? ds->n - start : l->batch;
    size_t lo, hi; /* this shard's rows of the batch */
    shard_slice(rows, l->shard, l->shards, &lo, &hi);
    start += lo;
    rows = hi - lo;
    loader_stage *s = &l->stage[l->next % 2];
    CLRT_TRY(stage_wait(l->ctx, s));
    clrt_tensor *tx = NULL, *ty = NULL;
    CLRT_TRY(stage_prepare(l, s, rows, &tx, &ty));

    const size_t *idx = l->order + start;
    if (!l->shuffle) {
        memcpy(s->hx, ds->x + start * d, rows * d * sizeof(float));
        memcpy(s->hy, ds->y + start, rows * sizeof(float));
    } else {
        for (size_t r = 0; r < rows; r++) {
            memcpy(s->hx + r * d, ds->x + idx[r] * d, d * sizeof(float));
            s->hy[r] = ds->y[idx[r]];
        }
    }
    CLRT_TRY(clrt_tensor_write_async(tx, s->hx, rows * d, &s->pending[0]));
    CLRT_TRY(clrt_tensor_write_async(ty, s->hy, rows, &s->pending[1]));
    /* Start the upload now, while the host goes on (GPU drivers batch
     * commands until a flush). */
    cl_int rc = clFlush(l->ctx->queue);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(l->ctx, rc, "clFlush", "clrt_loader_next");
    l->next++;
    *x = tx;
    *labels = ty;
    return CLRT_OK;
}

static clrt_status loader_source(void *source, const clrt_tensor **x, const clrt_tensor **labels)
{
    return clrt_loader_next(source, x, labels);
}

clrt_status clrt_model_evaluate(clrt_model *m, clrt_loader *l, double *loss, double *accuracy)
{
    static const char fn[] = "clrt_model_evaluate";
    if (!m || !l)
        return clrt__fail(m ? clrt_model_ctx(m) : NULL, CLRT_ERR_INVALID_ARG,
                          "%s: model and loader are needed", fn);
    CLRT_TRY(clrt_loader_begin(l, 0));
    double mean = 0.0, acc = 0.0; /* the loss is checked even when the caller wants none */
    CLRT_TRY(clrt__model_evaluate_batches(m, loader_source, l, &mean, &acc));
    if (loss)
        *loss = mean;
    if (accuracy)
        *accuracy = acc;
    if (isfinite(mean))
        return CLRT_OK;
    /* Say which parameter, if one is the cause (its message is replaced). */
    clrt_status st = clrt_model_check_finite(m);
    if (st != CLRT_OK && st != CLRT_ERR_NUMERIC)
        return st;
    char *param = st == CLRT_ERR_NUMERIC ? clrt__strdup(clrt_ctx_errmsg(clrt_model_ctx(m))) : NULL;
    const char *what = param ? strstr(param, "parameter ") : NULL;
    clrt__fail(clrt_model_ctx(m), CLRT_ERR_NUMERIC,
               "%s: the loss over the loader's %zu samples is %s; %s", fn, l->ds->n,
               isnan(mean) ? "NaN" : "infinite", what ? what : "the parameters are finite");
    free(param);
    return CLRT_ERR_NUMERIC;
}
