/* Device tensors: shape and element type, create/destroy, host transfers,
 * fill, copy, reshape views and interop wrapping. */
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

/* Element sizes and names (as in the build define, and for users),
 * indexed by clrt_dtype. */
static const struct {
    const char *name, *lower;
    size_t size;
} dtypes[] = {
    [CLRT_F32] = {"F32", "f32", 4},
    [CLRT_F16] = {"F16", "f16", 2},
    [CLRT_BF16] = {"BF16", "bf16", 2},
};

size_t clrt__dtype_size(clrt_dtype dtype)
{
    return (unsigned)dtype < sizeof dtypes / sizeof dtypes[0] ? dtypes[dtype].size : 0;
}

const char *clrt__dtype_name(clrt_dtype dtype)
{
    return (unsigned)dtype < sizeof dtypes / sizeof dtypes[0] ? dtypes[dtype].name : NULL;
}

const char *clrt_dtype_name(clrt_dtype dtype)
{
    return (unsigned)dtype < sizeof dtypes / sizeof dtypes[0] ? dtypes[dtype].lower : NULL;
}

size_t clrt__tensor_bytes(const clrt_tensor *t)
{
    /* No overflow: clrt__shape_numel bounds numel by SIZE_MAX / 4. */
    return t->numel * clrt__dtype_size(t->dtype);
}

static clrt_status new_handle(clrt_ctx *ctx, clrt_buffer *buf, clrt_dtype dtype, int rank,
                              const size_t *shape, size_t numel, clrt_tensor **out)
{
    clrt_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a tensor");
    t->ctx = ctx;
    t->buf = buf;
    t->dtype = dtype;
    t->rank = rank;
    memcpy(t->shape, shape, (size_t)rank * sizeof *shape);
    t->numel = numel;
    ctx->mem.live_tensors++;
    *out = t;
    return CLRT_OK;
}

static clrt_status check_shape(clrt_ctx *ctx, const char *fn, int rank, const size_t *shape,
                               size_t *numel)
{
    char why[256];
    clrt_status st = clrt__shape_numel(rank, shape, numel, why, sizeof why);
    if (st != CLRT_OK)
        return clrt__fail(ctx, st, "%s: %s", fn, why);
    return CLRT_OK;
}

clrt_status clrt_tensor_create(clrt_ctx *ctx, int rank, const size_t *shape, unsigned flags,
                               clrt_tensor **out)
{
    return clrt_tensor_create_typed(ctx, CLRT_F32, rank, shape, flags, out);
}

clrt_status clrt_tensor_create_typed(clrt_ctx *ctx, clrt_dtype dtype, int rank,
                                     const size_t *shape, unsigned flags, clrt_tensor **out)
{
    if (out)
        *out = NULL;
    if (!ctx || !out)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_tensor_create: ctx and out are needed");
    if (!clrt__dtype_name(dtype))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_tensor_create: element type %d names "
                                                     "no type", (int)dtype);
    if (flags & ~(unsigned)CLRT_TENSOR_ZERO)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_tensor_create: unknown flags 0x%x",
                          flags);
    size_t numel;
    CLRT_TRY(check_shape(ctx, "clrt_tensor_create", rank, shape, &numel));
    clrt_buffer *buf;
    CLRT_TRY(clrt__pool_acquire(ctx, numel * clrt__dtype_size(dtype), &buf));
    clrt_tensor *t;
    clrt_status st = new_handle(ctx, buf, dtype, rank, shape, numel, &t);
    if (st != CLRT_OK) {
        clrt__pool_release(ctx, buf);
        return st;
    }
    if (flags & CLRT_TENSOR_ZERO) {
        st = clrt_tensor_fill(t, 0.0f);
        if (st != CLRT_OK) {
            clrt_tensor_destroy(t);
            return st;
        }
    }
    *out = t;
    return CLRT_OK;
}

clrt_status clrt_tensor_from_cl(clrt_ctx *ctx, cl_mem mem, int rank, const size_t *shape,
                                clrt_tensor **out)
{
    if (out)
        *out = NULL;
    if (!ctx || !mem || !out)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_tensor_from_cl: ctx, mem and out are needed");
    size_t numel;
    CLRT_TRY(check_shape(ctx, "clrt_tensor_from_cl", rank, shape, &numel));
    size_t size = 0;
    cl_context owner = NULL;
    clrt_status st = CLRT_OK;
    CLRT_CL_GOTO(ctx, st, clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof size, &size, NULL), fail);
    CLRT_CL_GOTO(ctx, st, clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof owner, &owner, NULL),
                 fail);
    if (owner != ctx->context)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_tensor_from_cl: the buffer belongs to another cl_context");
    size_t bytes = numel * clrt__dtype_size(CLRT_F32);
    if (size < bytes) {
        char s[160];
        clrt__shape_str(rank, shape, s, sizeof s);
        return clrt__fail(ctx, CLRT_ERR_SHAPE,
                          "clrt_tensor_from_cl: shape %s needs %zu bytes, the buffer has %zu", s,
                          bytes, size);
    }
    clrt_buffer *buf = calloc(1, sizeof *buf);
    if (!buf)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a tensor");
    buf->mem = mem;
    buf->refs = 1;
    buf->external = true;
    clRetainMemObject(mem);
    st = new_handle(ctx, buf, CLRT_F32, rank, shape, numel, out);
    if (st != CLRT_OK)
        clrt__pool_release(ctx, buf);
fail:
    return st;
}

clrt_status clrt_tensor_reshape(clrt_tensor *t, int rank, const size_t *shape,
                                clrt_tensor **out)
{
    if (out)
        *out = NULL;
    if (!t || !out)
        return clrt__fail(t ? t->ctx : NULL, CLRT_ERR_INVALID_ARG,
                          "clrt_tensor_reshape: tensor and out are needed");
    size_t numel;
    CLRT_TRY(check_shape(t->ctx, "clrt_tensor_reshape", rank, shape, &numel));
    if (numel != t->numel) {
        char from[160], to[160];
        clrt__shape_str(t->rank, t->shape, from, sizeof from);
        clrt__shape_str(rank, shape, to, sizeof to);
        return clrt__fail(t->ctx, CLRT_ERR_SHAPE,
                          "clrt_tensor_reshape: %s (%zu elements) cannot become %s (%zu elements)",
                          from, t->numel, to, numel);
    }
    CLRT_TRY(new_handle(t->ctx, t->buf, t->dtype, rank, shape, numel, out));
    t->buf->refs++;
    return CLRT_OK;
}

void clrt_tensor_destroy(clrt_tensor *t)
{
    if (!t)
        return;
    t->ctx->mem.live_tensors--;
    clrt__pool_release(t->ctx, t->buf);
    free(t);
}

int clrt_tensor_rank(const clrt_tensor *t)
{
    return t ? t->rank : 0;
}

size_t clrt_tensor_dim(const clrt_tensor *t, int i)
{
    return t && i >= 0 && i < t->rank ? t->shape[i] : 0;
}

size_t clrt_tensor_numel(const clrt_tensor *t)
{
    return t ? t->numel : 0;
}

clrt_ctx *clrt_tensor_ctx(const clrt_tensor *t)
{
    return t ? t->ctx : NULL;
}

clrt_dtype clrt_tensor_dtype(const clrt_tensor *t)
{
    return t ? t->dtype : CLRT_F32;
}

cl_mem clrt_tensor_cl_mem(const clrt_tensor *t)
{
    return t ? t->buf->mem : NULL;
}

/* ---------------------------------------------------------- transfers */

static clrt_status check_transfer(const clrt_tensor *t, const void *host, size_t count,
                                  const char *fn)
{
    if (!t)
        return CLRT_ERR_INVALID_ARG;
    if (!host && count > 0)
        return clrt__fail(t->ctx, CLRT_ERR_INVALID_ARG, "%s: the host pointer is NULL", fn);
    if (count != t->numel) {
        char s[160];
        clrt__shape_str(t->rank, t->shape, s, sizeof s);
        return clrt__fail(t->ctx, CLRT_ERR_SHAPE,
                          "%s: %zu floats given for a tensor of shape %s (%zu elements)", fn,
                          count, s, t->numel);
    }
    return CLRT_OK;
}

/* A 16-bit tensor's transfers go through a host buffer of its storage,
 * converted here, so they block whatever the caller asked. */
static void *staging(const clrt_tensor *t, const char *fn)
{
    void *p = malloc(clrt__tensor_bytes(t));
    if (!p)
        clrt__fail(t->ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory converting %zu "
                                                   "elements", fn, t->numel);
    return p;
}

static clrt_status write_impl(clrt_tensor *t, const float *src, size_t count, cl_bool blocking,
                              cl_event *event, const char *fn)
{
    if (event)
        *event = NULL;
    CLRT_TRY(check_transfer(t, src, count, fn));
    if (count == 0)
        return CLRT_OK;
    if (t->dtype != CLRT_F32) {
        void *host = staging(t, fn);
        if (!host)
            return CLRT_ERR_OUT_OF_MEMORY;
        clrt__to_storage(t->dtype, src, host, count);
        cl_int rc = clrt__cl_enqueue_write(t->ctx, t->buf->mem, CL_TRUE, clrt__tensor_bytes(t),
                                           host, NULL);
        free(host);
        if (rc != CL_SUCCESS)
            return clrt__fail_cl(t->ctx, rc, "clEnqueueWriteBuffer", "%s of %zu elements", fn,
                                 count);
        return CLRT_OK;
    }
    cl_int rc = clrt__cl_enqueue_write(t->ctx, t->buf->mem, blocking, clrt__tensor_bytes(t), src,
                                       event);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(t->ctx, rc, "clEnqueueWriteBuffer", "%s of %zu floats", fn, count);
    return CLRT_OK;
}

static clrt_status read_impl(const clrt_tensor *t, float *dst, size_t count, cl_bool blocking,
                             cl_event *event, const char *fn)
{
    if (event)
        *event = NULL;
    CLRT_TRY(check_transfer(t, dst, count, fn));
    if (count == 0)
        return CLRT_OK;
    if (t->dtype != CLRT_F32) {
        void *host = staging(t, fn);
        if (!host)
            return CLRT_ERR_OUT_OF_MEMORY;
        cl_int rc = clrt__cl_enqueue_read(t->ctx, t->buf->mem, CL_TRUE, clrt__tensor_bytes(t),
                                          host, NULL);
        if (rc == CL_SUCCESS)
            clrt__from_storage(t->dtype, host, dst, count);
        free(host);
        if (rc != CL_SUCCESS)
            return clrt__fail_cl(t->ctx, rc, "clEnqueueReadBuffer", "%s of %zu elements", fn,
                                 count);
        return CLRT_OK;
    }
    cl_int rc = clrt__cl_enqueue_read(t->ctx, t->buf->mem, blocking, clrt__tensor_bytes(t), dst,
                                      event);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(t->ctx, rc, "clEnqueueReadBuffer", "%s of %zu floats", fn, count);
    return CLRT_OK;
}

clrt_status clrt_tensor_write(clrt_tensor *t, const float *src, size_t count)
{
    return write_impl(t, src, count, CL_TRUE, NULL, "clrt_tensor_write");
}

clrt_status clrt_tensor_read(const clrt_tensor *t, float *dst, size_t count)
{
    return read_impl(t, dst, count, CL_TRUE, NULL, "clrt_tensor_read");
}

clrt_status clrt_tensor_write_async(clrt_tensor *t, const float *src, size_t count,
                                    cl_event *event)
{
    return write_impl(t, src, count, CL_FALSE, event, "clrt_tensor_write_async");
}

clrt_status clrt_tensor_read_async(const clrt_tensor *t, float *dst, size_t count,
                                   cl_event *event)
{
    return read_impl(t, dst, count, CL_FALSE, event, "clrt_tensor_read_async");
}

/* ------------------------------------------------------- fill and copy */

clrt_status clrt_tensor_fill(clrt_tensor *t, float value)
{
    if (!t)
        return CLRT_ERR_INVALID_ARG;
    if (t->numel == 0)
        return CLRT_OK;
    cl_kernel k;
    const clrt_tensor *ops[1] = {t};
    CLRT_TRY(clrt__storage_kernel(t->ctx, "tensor", "", "clrt_fill", ops, 1, &k));
    cl_ulong n = t->numel;
    clrt_status st = CLRT_OK;
    CLRT_CL_GOTO(t->ctx, st, clSetKernelArg(k, 0, sizeof(cl_mem), &t->buf->mem), out);
    CLRT_CL_GOTO(t->ctx, st, clSetKernelArg(k, 1, sizeof value, &value), out);
    CLRT_CL_GOTO(t->ctx, st, clSetKernelArg(k, 2, sizeof n, &n), out);
    st = clrt__launch_1d(t->ctx, k, t->numel, "clrt_fill");
out:
    return st;
}

/* What copy and convert ask of their pair: both given, one context, one
 * shape. */
static clrt_status check_pair(const char *fn, const clrt_tensor *dst, const clrt_tensor *src)
{
    if (!dst || !src)
        return clrt__fail(dst ? dst->ctx : src ? src->ctx : NULL, CLRT_ERR_INVALID_ARG,
                          "%s: dst and src are needed", fn);
    if (dst->ctx != src->ctx)
        return clrt__fail(dst->ctx, CLRT_ERR_INVALID_ARG,
                          "%s: the tensors belong to different contexts", fn);
    bool same = dst->rank == src->rank;
    for (int i = 0; same && i < dst->rank; i++)
        same = dst->shape[i] == src->shape[i];
    if (!same) {
        char a[160], b[160];
        clrt__shape_str(dst->rank, dst->shape, a, sizeof a);
        clrt__shape_str(src->rank, src->shape, b, sizeof b);
        return clrt__fail(dst->ctx, CLRT_ERR_SHAPE, "%s: dst %s and src %s differ", fn, a, b);
    }
    return CLRT_OK;
}

clrt_status clrt_tensor_copy(clrt_tensor *dst, const clrt_tensor *src)
{
    CLRT_TRY(check_pair("clrt_tensor_copy", dst, src));
    if (dst->dtype != src->dtype)
        return clrt__fail(dst->ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_tensor_copy: dst of %s and src of %s elements differ",
                          clrt__dtype_name(dst->dtype), clrt__dtype_name(src->dtype));
    if (dst->numel == 0 || dst->buf == src->buf)
        return CLRT_OK;
    cl_int rc = clrt__cl_enqueue_copy(dst->ctx, src->buf->mem, dst->buf->mem,
                                      clrt__tensor_bytes(dst));
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(dst->ctx, rc, "clEnqueueCopyBuffer", "clrt_tensor_copy");
    return CLRT_OK;
}

clrt_status clrt_tensor_convert(clrt_tensor *dst, const clrt_tensor *src)
{
    static const char fn[] = "clrt_tensor_convert";
    CLRT_TRY(check_pair(fn, dst, src));
    if (dst->dtype == src->dtype)
        return clrt_tensor_copy(dst, src);
    if (dst->numel == 0)
        return CLRT_OK;
    if (dst->buf == src->buf)
        return clrt__fail(dst->ctx, CLRT_ERR_INVALID_ARG, "%s: dst and src share a buffer", fn);
    cl_kernel k;
    const clrt_tensor *ops[2] = {src, dst};
    CLRT_TRY(clrt__storage_kernel(dst->ctx, "tensor", "", "clrt_convert", ops, 2, &k));
    CLRT_TRY(clrt__set_args(dst->ctx, k, fn, "mml", src, dst, dst->numel));
    return clrt__launch_1d(dst->ctx, k, dst->numel, fn);
}
