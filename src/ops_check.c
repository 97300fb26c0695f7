/* Argument checks and kernel-argument plumbing shared by every op file. */
#include "clrt_internal.h"

#include <stdio.h>
#include <string.h>

clrt_status clrt__expect_tensor(clrt_ctx *ctx, const char *fn, const char *name,
                                const clrt_tensor *t)
{
    if (!t)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: %s is NULL", fn, name);
    if (t->ctx != ctx)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: %s belongs to another context", fn,
                          name);
    return CLRT_OK;
}

clrt_status clrt__expect_dims(clrt_ctx *ctx, const char *fn, const char *name,
                              const clrt_tensor *t, int rank, const size_t *dims)
{
    CLRT_TRY(clrt__expect_tensor(ctx, fn, name, t));
    bool ok = t->rank == rank;
    for (int i = 0; ok && dims && i < rank; i++)
        ok = dims[i] == t->shape[i];
    if (ok)
        return CLRT_OK;
    char got[160], want[160];
    clrt__shape_str(t->rank, t->shape, got, sizeof got);
    if (dims) {
        clrt__shape_str(rank, dims, want, sizeof want);
        return clrt__fail(ctx, CLRT_ERR_SHAPE, "%s: %s is %s, expected %s", fn, name, got, want);
    }
    return clrt__fail(ctx, CLRT_ERR_SHAPE, "%s: %s is %s, expected rank %d", fn, name, got, rank);
}

clrt_status clrt__expect_same_shape(clrt_ctx *ctx, const char *fn, const char *an,
                                    const clrt_tensor *a, const char *bn, const clrt_tensor *b)
{
    CLRT_TRY(clrt__expect_tensor(ctx, fn, an, a));
    CLRT_TRY(clrt__expect_tensor(ctx, fn, bn, b));
    bool ok = a->rank == b->rank;
    for (int i = 0; ok && i < a->rank; i++)
        ok = a->shape[i] == b->shape[i];
    if (ok)
        return CLRT_OK;
    char sa[160], sb[160];
    clrt__shape_str(a->rank, a->shape, sa, sizeof sa);
    clrt__shape_str(b->rank, b->shape, sb, sizeof sb);
    return clrt__fail(ctx, CLRT_ERR_SHAPE, "%s: %s %s and %s %s differ", fn, an, sa, bn, sb);
}

bool clrt__aliases(const clrt_tensor *a, const clrt_tensor *b)
{
    return a && b && a->buf == b->buf && a->buf->mem != NULL;
}

clrt_status clrt__set_args(clrt_ctx *ctx, cl_kernel kernel, const char *what, const char *types,
                           ...)
{
    va_list ap;
    va_start(ap, types);
    clrt_status st = CLRT_OK;
    for (cl_uint i = 0; types[i] && st == CLRT_OK; i++) {
        cl_int rc = CL_SUCCESS;
        switch (types[i]) {
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
                            types[i]);
            continue;
        }
        if (rc != CL_SUCCESS)
            st = clrt__fail_cl(ctx, rc, "clSetKernelArg", "%s argument %u", what, i);
    }
    va_end(ap);
    return st;
}

clrt_status clrt__launch_2d(clrt_ctx *ctx, cl_kernel kernel, size_t g0, size_t g1, size_t l0,
                            size_t l1, const char *what)
{
    if (g0 == 0 || g1 == 0)
        return CLRT_OK;
    size_t local[2] = {l0, l1};
    size_t global[2] = {g0, g1};
    if (l0 && l1) {
        global[0] = (g0 + l0 - 1) / l0 * l0;
        global[1] = (g1 + l1 - 1) / l1 * l1;
    }
    /* An event only when profiling: without, launches cost what they did. */
    cl_event ev = NULL;
    cl_int rc = clEnqueueNDRangeKernel(ctx->queue, kernel, 2, NULL, global,
                                       l0 && l1 ? local : NULL, 0, NULL,
                                       ctx->profiling ? &ev : NULL);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(ctx, rc, "clEnqueueNDRangeKernel", "%s over %zux%zu items", what, g0,
                             g1);
    if (ev)
        clrt__profile_kernel(ctx, kernel, ev);
    return CLRT_OK;
}

clrt_status clrt__pow2_group_size(clrt_ctx *ctx, cl_kernel k, size_t cover, size_t max,
                                  const char *what, size_t *wg)
{
    size_t limit = 0;
    cl_int rc = clGetKernelWorkGroupInfo(k, ctx->dev.device_id, CL_KERNEL_WORK_GROUP_SIZE,
                                         sizeof limit, &limit, NULL);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(ctx, rc, "clGetKernelWorkGroupInfo", "%s", what);
    if (ctx->dev.max_work_group_size && ctx->dev.max_work_group_size < limit)
        limit = ctx->dev.max_work_group_size;
    size_t n = 1;
    while (n < cover && n < max)
        n *= 2;
    while (n > 1 && n > limit)
        n /= 2;
    *wg = n;
    return CLRT_OK;
}
