/* Device buffers for tensors: allocation, the per-context reuse pool, and
 * the memory statistics. A training step that frees and re-creates tensors
 * of the same sizes allocates nothing after its first run. */
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

size_t clrt__pool_size_class(size_t bytes)
{
    if (bytes <= 256)
        return 256;
    /* Classes 4·2^k, 5·2^k, 6·2^k, 7·2^k: the next one is at most 25% larger. */
    size_t top = 1;
    while ((bytes >> 1) >= top)
        top <<= 1; /* highest power of two <= bytes */
    size_t step = top / 4;
    if (step == 0)
        return bytes;
    size_t rounded = (bytes + step - 1) / step * step;
    return rounded < bytes ? bytes : rounded; /* overflow: keep the exact size */
}

size_t clrt__pool_capacity(const clrt_ctx *ctx, size_t bytes)
{
    /* On a simulator every buffer has its exact size, so its bounds checker
     * sees an overrun that a rounded-up buffer would hide. */
    if (ctx->dev.is_simulator)
        return bytes;
    size_t capacity = clrt__pool_size_class(bytes);
    /* The rounding alone must not push a request over the device's limit. */
    return capacity > ctx->dev.max_alloc_bytes ? bytes : capacity;
}

static void update_peak(clrt_ctx *ctx)
{
    size_t held = ctx->mem.bytes_in_use + ctx->mem.bytes_pooled;
    if (held > ctx->mem.peak_bytes)
        ctx->mem.peak_bytes = held;
}

static bool take_pooled(clrt_ctx *ctx, size_t capacity, cl_mem *mem)
{
    clrt_pool *p = &ctx->pool;
    for (size_t i = p->count; i-- > 0;) {
        if (p->free[i].capacity != capacity)
            continue;
        *mem = p->free[i].mem;
        p->free[i] = p->free[--p->count];
        ctx->mem.bytes_pooled -= capacity;
        return true;
    }
    return false;
}

clrt_status clrt__pool_acquire(clrt_ctx *ctx, size_t bytes, clrt_buffer **out)
{
    *out = NULL;
    clrt_buffer *buf = calloc(1, sizeof *buf);
    if (!buf)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a tensor");
    buf->refs = 1;
    if (bytes == 0) {
        *out = buf; /* an empty tensor has no buffer: OpenCL forbids size 0 */
        return CLRT_OK;
    }
    size_t capacity = clrt__pool_capacity(ctx, bytes);
    if (capacity > ctx->dev.max_alloc_bytes) {
        free(buf);
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY,
                          "a tensor of %zu bytes exceeds the device's largest allocation "
                          "(CL_DEVICE_MAX_MEM_ALLOC_SIZE %llu bytes on %s)",
                          bytes, (unsigned long long)ctx->dev.max_alloc_bytes, ctx->dev.name);
    }
    if (take_pooled(ctx, capacity, &buf->mem)) {
        ctx->mem.pool_hits++;
    } else {
        cl_int rc = clrt__cl_create_buffer(ctx, capacity, &buf->mem);
        if (rc == CL_MEM_OBJECT_ALLOCATION_FAILURE || rc == CL_OUT_OF_RESOURCES ||
            rc == CL_OUT_OF_HOST_MEMORY || rc == CL_INVALID_BUFFER_SIZE) {
            /* Pooled buffers of other sizes may be what fills the device. */
            clrt__pool_trim(ctx);
            rc = clrt__cl_create_buffer(ctx, capacity, &buf->mem);
        }
        if (rc != CL_SUCCESS) {
            free(buf);
            clrt_status st = clrt__fail_cl(ctx, rc, "clCreateBuffer",
                                           "a tensor of %zu bytes (%zu bytes already in use)",
                                           bytes, ctx->mem.bytes_in_use);
            return rc == CL_INVALID_BUFFER_SIZE ? CLRT_ERR_OUT_OF_MEMORY : st;
        }
        ctx->mem.allocations++;
    }
    buf->capacity = capacity;
    ctx->mem.bytes_in_use += capacity;
    update_peak(ctx);
    *out = buf;
    return CLRT_OK;
}

void clrt__pool_release(clrt_ctx *ctx, clrt_buffer *buf)
{
    if (!buf || --buf->refs > 0)
        return;
    if (buf->mem && buf->external) {
        clReleaseMemObject(buf->mem);
    } else if (buf->mem) {
        ctx->mem.bytes_in_use -= buf->capacity;
        clrt_pool *p = &ctx->pool;
        bool kept = false;
        clrt_pool_slot *room = clrt__array_room(p->free, &p->cap, p->count, sizeof *room, 16);
        if (room)
            p->free = room;
        if (p->count < p->cap) {
            p->free[p->count++] = (clrt_pool_slot){buf->mem, buf->capacity};
            ctx->mem.bytes_pooled += buf->capacity;
            kept = true;
        }
        if (!kept)
            clReleaseMemObject(buf->mem);
    }
    free(buf);
}

void clrt__pool_trim(clrt_ctx *ctx)
{
    clrt_pool *p = &ctx->pool;
    for (size_t i = 0; i < p->count; i++)
        clReleaseMemObject(p->free[i].mem);
    p->count = 0;
    ctx->mem.bytes_pooled = 0;
}

clrt_status clrt_ctx_trim(clrt_ctx *ctx)
{
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    clrt__pool_trim(ctx);
    return CLRT_OK;
}

clrt_status clrt_ctx_memory_stats(const clrt_ctx *ctx, clrt_memory_stats *out)
{
    if (!ctx || !out)
        return CLRT_ERR_INVALID_ARG;
    *out = ctx->mem;
    return CLRT_OK;
}
