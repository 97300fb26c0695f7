/* The two collectives of training: the start-up broadcast of rank 0's
 * parameters and optimizer state, and the gradient hook that averages the
 * gradients of every rank in one fused all-reduce per step. */
#include "dist/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* d->fused with room for `floats`. */
static clrt_status fused_reserve(clrt_dist *d, clrt_ctx *ctx, size_t floats, const char *fn)
{
    if (floats <= d->fused_cap)
        return CLRT_OK;
    float *p = floats <= SIZE_MAX / sizeof *p ? realloc(d->fused, floats * sizeof *p) : NULL;
    if (!p)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY,
                          "%s: out of host memory for the fused buffer of %zu floats", fn, floats);
    d->fused = p;
    d->fused_cap = floats;
    return CLRT_OK;
}

/* Enqueue reads of t[0..n) into dst back to back, then wait for them
 * (after all the work queued before them). */
static clrt_status read_all(clrt_ctx *ctx, clrt_tensor *const *t, size_t n, float *dst)
{
    for (size_t i = 0; i < n; i++) {
        CLRT_TRY(clrt_tensor_read_async(t[i], dst, t[i]->numel, NULL));
        dst += t[i]->numel;
    }
    return clrt_ctx_finish(ctx);
}

/* Write src back into t[0..n), blocking (the host buffer is reused by the
 * next step, and may be freed before the context is finished). */
static clrt_status write_all(clrt_tensor *const *t, size_t n, const float *src)
{
    for (size_t i = 0; i < n; i++) {
        CLRT_TRY(clrt_tensor_write(t[i], src, t[i]->numel));
        src += t[i]->numel;
    }
    return CLRT_OK;
}

clrt_status clrt__dist_grad_hook(clrt_model *m, clrt_tensor *const *grads, size_t count,
                                 void *user)
{
    static const char fn[] = "the data-parallel gradient all-reduce";
    clrt_dist *d = user;
    clrt_ctx *ctx = m->ctx;
    if (d->size == 1)
        return CLRT_OK; /* the average of one: the gradients as they are */
    size_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += grads[i]->numel;
    /* One float more: this rank's rows, so that ranks with shards of
     * unequal size (the last batch of an epoch) weigh in by their rows and
     * the result is the gradient of the mean over the whole global batch. */
    if (total + 1 > (size_t)INT_MAX)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                          "%s: %zu gradient elements are more than one MPI call carries", fn,
                          total);
    CLRT_TRY(fused_reserve(d, ctx, total + 1, fn));
    float *buf = d->fused;
    /* The wait for the step's backward pass is timed apart from the copy:
     * it is the time an all-reduce overlapped with backward could use. */
    double t0 = now_s();
    CLRT_TRY(clrt_ctx_finish(ctx));
    double tb = now_s();
    CLRT_TRY(read_all(ctx, grads, count, buf));
    const float rows = (float)m->batch;
    for (size_t i = 0; i < total; i++)
        buf[i] *= rows;
    buf[total] = rows;
    double t1 = now_s();
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)(total + 1), MPI_FLOAT, MPI_SUM, d->comm, &req);
    if (rc != MPI_SUCCESS)
        return clrt__dist_fail_mpi(ctx, NULL, 0, rc, "MPI_Iallreduce", fn);
    CLRT_TRY(clrt__dist_wait(d, &req, ctx, NULL, 0, fn));
    double t2 = now_s();
    if (!(buf[total] > 0))
        return clrt__fail(ctx, CLRT_ERR_DIST, "%s: the ranks' rows sum to %g", fn,
                          (double)buf[total]);
    const float inv = 1.0f / buf[total];
    for (size_t i = 0; i < total; i++)
        buf[i] *= inv;
    CLRT_TRY(write_all(grads, count, buf));
    double t3 = now_s();
    d->stats.steps++;
    d->stats.bytes += (uint64_t)(total + 1) * sizeof(float);
    d->stats.wait_s += tb - t0;
    d->stats.copy_s += (t1 - tb) + (t3 - t2);
    d->stats.reduce_s += t2 - t1;
    return CLRT_OK;
}

/* Every tensor the broadcast carries: the parameters, then each
 * parameter's optimizer state slots that exist. *list is malloc'd. */
static clrt_status bcast_list(const clrt_model *m, const clrt_optim *opt, clrt_tensor ***list,
                              size_t *n, size_t *floats, const char *fn)
{
    size_t cap = m->nparams * 3, k = 0;
    clrt_tensor **t = malloc((cap ? cap : 1) * sizeof *t);
    if (!t)
        return clrt__fail(m->ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    *floats = 0;
    for (size_t i = 0; i < m->nparams; i++) {
        t[k++] = m->params[i];
        for (int slot = 0; opt && slot < 2; slot++) {
            clrt_tensor *s = clrt_optim_state(opt, i, slot, NULL);
            if (s)
                t[k++] = s;
        }
    }
    for (size_t i = 0; i < k; i++)
        *floats += t[i]->numel;
    *list = t;
    *n = k;
    return CLRT_OK;
}

/* The same tensor count and element count on every rank: the broadcast
 * would otherwise write one rank's model into another's of other shape. */
static clrt_status check_same_shape(clrt_dist *d, clrt_ctx *ctx, size_t n, size_t floats,
                                    const char *fn)
{
    long long v[4] = {(long long)n, (long long)floats, -(long long)n, -(long long)floats};
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, v, 4, MPI_LONG_LONG, MPI_MAX, d->comm, &req);
    if (rc != MPI_SUCCESS)
        return clrt__dist_fail_mpi(ctx, NULL, 0, rc, "MPI_Iallreduce", fn);
    CLRT_TRY(clrt__dist_wait(d, &req, ctx, NULL, 0, fn));
    if (v[0] != -v[2] || v[1] != -v[3])
        return clrt__fail(ctx, CLRT_ERR_SHAPE,
                          "%s: the ranks' models differ: from %lld to %lld tensors (parameters "
                          "and optimizer state), from %lld to %lld floats; this rank has %zu and "
                          "%zu",
                          fn, -v[2], v[0], -v[3], v[1], n, floats);
    return CLRT_OK;
}

clrt_status clrt_dist_attach(clrt_dist *d, clrt_model *m, clrt_optim *opt)
{
    static const char fn[] = "clrt_dist_attach";
    if (!d || !m)
        return clrt__fail(m ? m->ctx : NULL, CLRT_ERR_INVALID_ARG,
                          "%s: a clrt_dist and a model are needed", fn);
    clrt_ctx *ctx = m->ctx;
    clrt_tensor **list = NULL;
    size_t n = 0, floats = 0;
    CLRT_TRY(bcast_list(m, opt, &list, &n, &floats, fn));
    clrt_status st = check_same_shape(d, ctx, n, floats, fn);
    /* The step count travels in front of the floats, as bytes: a
     * broadcast copies, so byte-wise is exact. */
    size_t bytes = sizeof(uint64_t) + floats * sizeof(float);
    if (st == CLRT_OK && bytes > (size_t)INT_MAX)
        st = clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                        "%s: %zu bytes of parameters are more than one MPI call carries", fn,
                        bytes);
    if (st == CLRT_OK)
        st = fused_reserve(d, ctx, floats + 2, fn);
    unsigned char *buf = (unsigned char *)d->fused;
    float *data = d->fused + 2;
    if (st == CLRT_OK && d->rank == 0) {
        uint64_t steps = opt ? clrt_optim_steps(opt) : 0;
        memcpy(buf, &steps, sizeof steps);
        st = read_all(ctx, list, n, data);
    }
    if (st == CLRT_OK) {
        /* The floats start 8 bytes in, so the bytes are contiguous. */
        MPI_Request req;
        int rc = MPI_Ibcast(buf, (int)bytes, MPI_BYTE, 0, d->comm, &req);
        st = rc != MPI_SUCCESS ? clrt__dist_fail_mpi(ctx, NULL, 0, rc, "MPI_Ibcast", fn)
                               : clrt__dist_wait(d, &req, ctx, NULL, 0, fn);
    }
    if (st == CLRT_OK && d->rank != 0) {
        uint64_t steps;
        memcpy(&steps, buf, sizeof steps);
        st = write_all(list, n, data);
        if (st == CLRT_OK && opt)
            st = clrt_optim_set_steps(opt, steps);
    }
    free(list);
    if (st == CLRT_OK)
        st = clrt_model_set_grad_hook(m, clrt__dist_grad_hook, d);
    return st;
}
