/* Kernel arguments and launches: every kernel enqueue of the library passes
 * through here (where profiling hooks) on its way to cl_calls.c. */
#include "runtime/runtime.h"
#include "common.h"

#include <stdarg.h>

static clrt_status set_args_va(clrt_ctx *ctx, cl_kernel kernel, const char *what,
                               cl_uint first, const char *types, va_list ap)
{
    clrt_status st = CLRT_OK;
    for (cl_uint a = 0; types[a] && st == CLRT_OK; a++) {
        cl_uint i = first + a;
        cl_int rc = CL_SUCCESS;
        switch (types[a]) {
        case 'm': {
            const clrt_tensor *t = va_arg(ap, const clrt_tensor *);
            cl_mem mem = t ? t->buf->mem : NULL;
            rc = clSetKernelArg(kernel, i, sizeof mem, &mem);
            break;
        }
        case 'f': {
            float v = (float)va_arg(ap, double);
            rc = clSetKernelArg(kernel, i, sizeof v, &v);
            break;
        }
        case 'i': {
            cl_int v = (cl_int)va_arg(ap, int);
            rc = clSetKernelArg(kernel, i, sizeof v, &v);
            break;
        }
        case 'u': {
            cl_uint v = (cl_uint)va_arg(ap, unsigned);
            rc = clSetKernelArg(kernel, i, sizeof v, &v);
            break;
        }
        case 'l': {
            cl_ulong v = (cl_ulong)va_arg(ap, size_t);
            rc = clSetKernelArg(kernel, i, sizeof v, &v);
            break;
        }
        case 'L': {
            size_t bytes = va_arg(ap, size_t);
            rc = clSetKernelArg(kernel, i, bytes, NULL);
            break;
        }
        default:
            st = clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: bad argument type '%c'", what,
                            types[a]);
            continue;
        }
        if (rc != CL_SUCCESS)
            st = clrt__fail_cl(ctx, rc, "clSetKernelArg", "%s argument %u", what, i);
    }
    return st;
}

clrt_status clrt__set_args(clrt_ctx *ctx, cl_kernel kernel, const char *what, const char *types,
                           ...)
{
    va_list ap;
    va_start(ap, types);
    clrt_status st = set_args_va(ctx, kernel, what, 0, types, ap);
    va_end(ap);
    return st;
}

clrt_status clrt__set_args_from(clrt_ctx *ctx, cl_kernel kernel, const char *what, unsigned first,
                                const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    clrt_status st = set_args_va(ctx, kernel, what, (cl_uint)first, types, ap);
    va_end(ap);
    return st;
}

/* A CPU device (not a simulator) compiles a kernel per work-group size
 * (launch.c's 1-D case says why), so a 2-D launch that leaves the size to
 * the driver gets one per kernel and column count instead: the columns'
 * power of two (up to the kernel's limit, 4096 at most) by as many rows as
 * fill that limit. The rows, which are the batch, then change nothing: a
 * test pass at batch 96 and 16 compiled the bias kernel three more times. */
static clrt_status cpu_group_2d(clrt_ctx *ctx, cl_kernel kernel, size_t g0, const char *what,
                                size_t *l0, size_t *l1)
{
    size_t limit;
    CLRT_TRY(clrt__pow2_group_size(ctx, kernel, CLRT_WG_1D_CPU, CLRT_WG_1D_CPU, what, &limit));
    size_t x = 1;
    while (x < g0 && x < limit)
        x *= 2;
    *l0 = x;
    *l1 = limit / x;
    return CLRT_OK;
}

clrt_status clrt__launch_2d_size(clrt_ctx *ctx, cl_kernel kernel, size_t g0, size_t g1,
                                 size_t l0, size_t l1, const char *what, size_t global[2],
                                 size_t local[2])
{
    if (!(l0 && l1) && clrt__device_is_cpu(&ctx->dev) && !ctx->dev.is_simulator)
        CLRT_TRY(cpu_group_2d(ctx, kernel, g0, what, &l0, &l1));
    local[0] = l0 && l1 ? l0 : 0;
    local[1] = l0 && l1 ? l1 : 0;
    global[0] = l0 && l1 ? (g0 + l0 - 1) / l0 * l0 : g0;
    global[1] = l0 && l1 ? (g1 + l1 - 1) / l1 * l1 : g1;
    return CLRT_OK;
}

clrt_status clrt__launch_2d(clrt_ctx *ctx, cl_kernel kernel, size_t g0, size_t g1, size_t l0,
                            size_t l1, const char *what)
{
    if (g0 == 0 || g1 == 0)
        return CLRT_OK;
    size_t local[2], global[2];
    CLRT_TRY(clrt__launch_2d_size(ctx, kernel, g0, g1, l0, l1, what, global, local));
    /* An event only when profiling: without, launches cost what they did. */
    cl_event ev = NULL;
    cl_int rc = clrt__cl_enqueue_kernel(ctx, kernel, 2, global, local[0] ? local : NULL,
                                        ctx->profiling ? &ev : NULL);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(ctx, rc, "clEnqueueNDRangeKernel", "%s over %zux%zu items", what, g0,
                             g1);
    if (ev)
        clrt__profile_kernel(ctx, kernel, ev);
    return CLRT_OK;
}

clrt_status clrt__kernel_wg_limit(clrt_ctx *ctx, cl_kernel k, const char *what, size_t *n)
{
    size_t limit = 0;
    cl_int rc = clGetKernelWorkGroupInfo(k, ctx->dev.device_id, CL_KERNEL_WORK_GROUP_SIZE,
                                         sizeof limit, &limit, NULL);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(ctx, rc, "clGetKernelWorkGroupInfo", "%s", what);
    if (ctx->dev.max_work_group_size && ctx->dev.max_work_group_size < limit)
        limit = ctx->dev.max_work_group_size;
    *n = limit ? limit : 1;
    return CLRT_OK;
}

clrt_status clrt__pow2_group_size(clrt_ctx *ctx, cl_kernel k, size_t cover, size_t max,
                                  const char *what, size_t *wg)
{
    size_t limit = 0;
    CLRT_TRY(clrt__kernel_wg_limit(ctx, k, what, &limit));
    size_t n = 1;
    while (n < cover && n < max)
        n *= 2;
    while (n > 1 && n > limit)
        n /= 2;
    *wg = n;
    return CLRT_OK;
}

clrt_status clrt__launch_1d_size(clrt_ctx *ctx, cl_kernel kernel, size_t n, const char *what,
                                 size_t *global, size_t *local)
{
    /* A CPU device compiles a kernel for each work-group size it runs at
     * (PoCL: 30-50 ms at the first launch at a size), and left to choose
     * the size it took one per global size: the fill and the SGD update
     * compiled four times each on the way to the MLP's first step. So on a
     * CPU device a kernel always runs in groups of one size, the largest
     * power of two it allows up to CLRT_WG_1D_CPU (few groups: PoCL spends
     * 1-2 us on each). Elsewhere the driver chooses, as before; a
     * simulator too (oclgrind runs each padded work-item). */
    size_t round = CLRT_WG_1D;
    *local = 0;
    if (clrt__device_is_cpu(&ctx->dev) && !ctx->dev.is_simulator) {
        CLRT_TRY(clrt__pow2_group_size(ctx, kernel, CLRT_WG_1D_CPU, CLRT_WG_1D_CPU, what, local));
        if (*local > round) /* both powers of two: whole groups and a multiple of 64 */
            round = *local;
    }
    *global = (n + round - 1) / round * round;
    return CLRT_OK;
}

clrt_status clrt__launch_1d(clrt_ctx *ctx, cl_kernel kernel, size_t n, const char *what)
{
    if (n == 0)
        return CLRT_OK;
    size_t global, local;
    CLRT_TRY(clrt__launch_1d_size(ctx, kernel, n, what, &global, &local));
    /* An event only when profiling: without, launches cost what they did. */
    cl_event ev = NULL;
    cl_int rc = clrt__cl_enqueue_kernel(ctx, kernel, 1, &global, local ? &local : NULL,
                                        ctx->profiling ? &ev : NULL);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(ctx, rc, "clEnqueueNDRangeKernel", "%s over %zu items", what, n);
    if (ev)
        clrt__profile_kernel(ctx, kernel, ev);
    return CLRT_OK;
}
