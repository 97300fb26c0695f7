/* The OpenCL calls that allocate, build, enqueue, transfer and map: every
 * one of the library's passes through here, the one place fault injection
 * hooks. Each wrapper is the driver call and, while nothing is armed, one
 * test of ctx->faults.armed. */
#include "runtime/runtime.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[CLRT__FAULT_KINDS] = {
    [CLRT__FAULT_ALLOC] = "alloc",       [CLRT__FAULT_BUILD] = "build",
    [CLRT__FAULT_ENQUEUE] = "enqueue",   [CLRT__FAULT_TRANSFER] = "transfer",
    [CLRT__FAULT_MAP] = "map",
};

/* What the driver says when it fails that way for real. */
static const cl_int default_errors[CLRT__FAULT_KINDS] = {
    [CLRT__FAULT_ALLOC] = CL_MEM_OBJECT_ALLOCATION_FAILURE,
    [CLRT__FAULT_BUILD] = CL_BUILD_PROGRAM_FAILURE,
    [CLRT__FAULT_ENQUEUE] = CL_OUT_OF_RESOURCES,
    [CLRT__FAULT_TRANSFER] = CL_OUT_OF_RESOURCES,
    [CLRT__FAULT_MAP] = CL_MAP_FAILURE,
};

void clrt__fault_arm(clrt_ctx *ctx, clrt__fault_kind kind, unsigned long nth, cl_int error)
{
    clrt__fault *f = &ctx->faults.kind[kind];
    f->nth = nth;
    f->calls = 0;
    f->error = error != CL_SUCCESS ? error : default_errors[kind];
    bool any = false;
    for (int k = 0; k < CLRT__FAULT_KINDS; k++)
        any = any || ctx->faults.kind[k].nth > 0;
    ctx->faults.armed = any;
}

void clrt__fault_disarm(clrt_ctx *ctx, clrt__fault_kind kind)
{
    clrt__fault_arm(ctx, kind, 0, CL_SUCCESS);
}

unsigned long clrt__fault_fired(const clrt_ctx *ctx, clrt__fault_kind kind)
{
    return ctx->faults.kind[kind].fired;
}

clrt_status clrt__faults_from_env(clrt_ctx *ctx, char *err, size_t errlen)
{
    const char *spec = getenv("CLRT_FAULT");
    if (!spec)
        return CLRT_OK;
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, ":,");
        int kind = -1;
        for (int k = 0; k < CLRT__FAULT_KINDS; k++)
            if (strlen(kind_names[k]) == len && strncmp(p, kind_names[k], len) == 0)
                kind = k;
        p += len;
        if (kind < 0 || *p != ':' || !isdigit((unsigned char)p[1]))
            goto bad;
        char *end;
        errno = 0;
        unsigned long nth = strtoul(p + 1, &end, 10);
        if (errno || nth == 0)
            goto bad;
        p = end;
        long code = 0;
        if (*p == ':') {
            if (p[1] != '-' || !isdigit((unsigned char)p[2]))
                goto bad;
            errno = 0;
            code = strtol(p + 1, &end, 10);
            if (errno || code < INT32_MIN)
                goto bad;
            p = end;
        }
        if (*p == ',' && p[1])
            p++;
        else if (*p)
            goto bad;
        clrt__fault_arm(ctx, (clrt__fault_kind)kind, nth, (cl_int)code);
    }
    return CLRT_OK;
bad:
    clrt__errbuf_set(err, errlen,
                     "CLRT_FAULT=\"%s\": expected kind:n[:code], comma-separated, with kind "
                     "alloc, build, enqueue, transfer or map, n >= 1 and code a negative "
                     "OpenCL error",
                     spec);
    return CLRT_ERR_INVALID_ARG;
}

/* The armed error when this call of `kind` is to fail, else CL_SUCCESS. */
static cl_int injected(clrt_ctx *ctx, clrt__fault_kind kind, const char *call)
{
    clrt__fault *f = &ctx->faults.kind[kind];
    if (f->nth == 0 || ++f->calls < f->nth)
        return CL_SUCCESS;
    f->fired++;
    clrt__log(ctx, CLRT_LOG_DEBUG, "fault injection: %s call %lu fails with %s", call, f->calls,
              clrt_cl_error_str(f->error));
    return f->error;
}

/* Return the armed error from the wrapper, as the driver would have. */
#define INJECT(ctx, kind, call)                                                                \
    do {                                                                                       \
        if ((ctx)->faults.armed) {                                                             \
            cl_int inject_rc_ = injected((ctx), (kind), (call));                               \
            if (inject_rc_ != CL_SUCCESS)                                                      \
                return inject_rc_;                                                             \
        }                                                                                      \
    } while (0)

cl_int clrt__cl_create_buffer(clrt_ctx *ctx, size_t bytes, cl_mem *out)
{
    *out = NULL;
    INJECT(ctx, CLRT__FAULT_ALLOC, "clCreateBuffer");
    cl_int rc;
    *out = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, bytes, NULL, &rc);
    return rc;
}

cl_int clrt__cl_create_pinned(clrt_ctx *ctx, size_t bytes, cl_mem *out)
{
    *out = NULL;
    INJECT(ctx, CLRT__FAULT_ALLOC, "clCreateBuffer");
    cl_int rc;
    *out = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, NULL,
                          &rc);
    return rc;
}

cl_int clrt__cl_build(clrt_ctx *ctx, cl_program prog, const char *options)
{
    INJECT(ctx, CLRT__FAULT_BUILD, "clBuildProgram");
    return clBuildProgram(prog, 1, &ctx->dev.device_id, options, NULL, NULL);
}

cl_int clrt__cl_enqueue_kernel(clrt_ctx *ctx, cl_kernel kernel, cl_uint dims,
                               const size_t *global, const size_t *local, cl_event *ev)
{
    INJECT(ctx, CLRT__FAULT_ENQUEUE, "clEnqueueNDRangeKernel");
    return clEnqueueNDRangeKernel(ctx->queue, kernel, dims, NULL, global, local, 0, NULL, ev);
}

cl_int clrt__cl_enqueue_write(clrt_ctx *ctx, cl_mem mem, cl_bool blocking, size_t bytes,
                              const void *src, cl_event *ev)
{
    INJECT(ctx, CLRT__FAULT_TRANSFER, "clEnqueueWriteBuffer");
    return clEnqueueWriteBuffer(ctx->queue, mem, blocking, 0, bytes, src, 0, NULL, ev);
}

cl_int clrt__cl_enqueue_read(clrt_ctx *ctx, cl_mem mem, cl_bool blocking, size_t bytes, void *dst,
                             cl_event *ev)
{
    INJECT(ctx, CLRT__FAULT_TRANSFER, "clEnqueueReadBuffer");
    return clEnqueueReadBuffer(ctx->queue, mem, blocking, 0, bytes, dst, 0, NULL, ev);
}

cl_int clrt__cl_enqueue_copy(clrt_ctx *ctx, cl_mem src, cl_mem dst, size_t bytes)
{
    INJECT(ctx, CLRT__FAULT_TRANSFER, "clEnqueueCopyBuffer");
    return clEnqueueCopyBuffer(ctx->queue, src, dst, 0, 0, bytes, 0, NULL, NULL);
}

void *clrt__cl_map(clrt_ctx *ctx, cl_mem mem, cl_map_flags flags, size_t bytes, cl_int *rc)
{
    if (ctx->faults.armed && (*rc = injected(ctx, CLRT__FAULT_MAP, "clEnqueueMapBuffer")) !=
                                 CL_SUCCESS)
        return NULL;
    return clEnqueueMapBuffer(ctx->queue, mem, CL_TRUE, flags, 0, bytes, 0, NULL, NULL, rc);
}

cl_int clrt__cl_unmap(clrt_ctx *ctx, cl_mem mem, void *p)
{
    /* Never failed on purpose: it releases what a map took, and a test
     * that armed maps must see the earlier ones undone. */
    return clEnqueueUnmapMemObject(ctx->queue, mem, p, 0, NULL, NULL);
}
