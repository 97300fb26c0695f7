/* Sentinels in the slack of device buffers: the pool rounds a tensor's
 * buffer up to a size class, so an op that writes past the tensor's last
 * element lands in bytes no one reads and goes unnoticed. Filling those
 * bytes with a known pattern before an op and reading them back after it
 * catches such a write (ggml's test-backend-ops guards its tensors the same
 * way). On a simulator the pool allocates exact sizes: no slack, and its own
 * bounds checker sees the overrun instead. */
#include "verify/verify.h"

#include <stdlib.h>

/* t's slack: [*offset, *offset + *size) of its buffer; *size 0 for none. */
static void slack_of(const clrt_tensor *t, cl_mem *mem, size_t *offset, size_t *size)
{
    *mem = t->buf ? t->buf->mem : NULL;
    *offset = (clrt__tensor_bytes(t) + 3) / 4 * 4; /* whole words: a 16-bit tensor may end mid-word */
    size_t capacity = t->buf && !t->buf->external ? t->buf->capacity : 0;
    *size = *mem && capacity > *offset ? capacity - *offset : 0;
}

/* Host room for the words of [offset, offset + size), which must be whole
 * 4-byte words. */
static clrt_status host_words(clrt_ctx *ctx, size_t offset, size_t size, cl_uint **words)
{
    if (offset % 4 || size % 4)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "sentinel: range [%zu, +%zu) is not in whole 4-byte words", offset,
                          size);
    *words = malloc(size);
    if (!*words)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "sentinel: out of host memory");
    return CLRT_OK;
}

clrt_status clrt__sentinel_fill_range(clrt_ctx *ctx, cl_mem mem, size_t offset, size_t size)
{
    if (size == 0)
        return CLRT_OK;
    /* A write of host words, not clEnqueueFillBuffer, which some drivers
     * get wrong (design.md (b)); and straight to OpenCL, not through the
     * runtime's choke points: an instrument must not trip armed faults. */
    cl_uint *words;
    CLRT_TRY(host_words(ctx, offset, size, &words));
    for (size_t i = 0; i < size / 4; i++)
        words[i] = CLRT__SENTINEL;
    cl_int rc = clEnqueueWriteBuffer(ctx->queue, mem, CL_TRUE, offset, size, words, 0, NULL, NULL);
    free(words);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(ctx, rc, "clEnqueueWriteBuffer", "sentinel of %zu bytes at %zu",
                             size, offset);
    return CLRT_OK;
}

clrt_status clrt__sentinel_check_range(clrt_ctx *ctx, cl_mem mem, size_t offset, size_t size,
                                       size_t *bad_offset, uint32_t *bad_value)
{
    *bad_offset = SIZE_MAX;
    *bad_value = 0;
    if (size == 0)
        return CLRT_OK;
    cl_uint *words;
    CLRT_TRY(host_words(ctx, offset, size, &words));
    cl_int rc = clEnqueueReadBuffer(ctx->queue, mem, CL_TRUE, offset, size, words, 0, NULL, NULL);
    if (rc != CL_SUCCESS) {
        free(words);
        return clrt__fail_cl(ctx, rc, "clEnqueueReadBuffer", "sentinel of %zu bytes at %zu",
                             size, offset);
    }
    for (size_t i = 0; i < size / 4; i++) {
        if (words[i] != CLRT__SENTINEL) {
            *bad_offset = offset + 4 * i;
            *bad_value = words[i];
            break;
        }
    }
    free(words);
    return CLRT_OK;
}

clrt_status clrt__sentinel_fill(clrt_ctx *ctx, const clrt_tensor *t)
{
    cl_mem mem;
    size_t offset, size;
    slack_of(t, &mem, &offset, &size);
    return clrt__sentinel_fill_range(ctx, mem, offset, size);
}

clrt_status clrt__sentinel_check(clrt_ctx *ctx, const clrt_tensor *t, size_t *bad_offset,
                                 uint32_t *bad_value)
{
    cl_mem mem;
    size_t offset, size;
    slack_of(t, &mem, &offset, &size);
    return clrt__sentinel_check_range(ctx, mem, offset, size, bad_offset, bad_value);
}
