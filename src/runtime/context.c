/* Contexts: device choice, cl_context and in-order queue, options (the
 * bundle of pre-built programs, and the refusal of a device without a
 * compiler that has none), finish and flush, interop. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clrt_ctx_options_init(clrt_ctx_options *opt)
{
    if (opt)
        memset(opt, 0, sizeof *opt);
}

/* The parts of a context that do not depend on how the cl objects came. */
static clrt_status ctx_alloc(const clrt_ctx_options *opt, clrt_ctx **out, char *err,
                             size_t errlen)
{
    clrt_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        clrt__errbuf_set(err, errlen, "out of host memory creating a context");
        return CLRT_ERR_OUT_OF_MEMORY;
    }
    clrt_ctx_options defaults;
    clrt_ctx_options_init(&defaults);
    if (!opt)
        opt = &defaults;
    ctx->profiling = opt->profiling != 0;
    ctx->log = opt->log;
    ctx->log_user = opt->log_user;
    const char *kdir = opt->kernel_dir ? opt->kernel_dir : getenv("CLRT_KERNEL_DIR");
    ctx->kernel_dir = kdir && *kdir ? clrt__strdup(kdir) : NULL;
    ctx->cache_dir = clrt__cache_dir_resolve(opt->cache_dir);
    if ((kdir && *kdir && !ctx->kernel_dir)) {
        free(ctx);
        clrt__errbuf_set(err, errlen, "out of host memory creating a context");
        return CLRT_ERR_OUT_OF_MEMORY;
    }
    *out = ctx;
    return CLRT_OK;
}

/* The bundle named by the option or $CLRT_BINARIES, checked against the
 * device; or, on a device without a compiler, the refusal to go on
 * without one. */
static clrt_status ctx_bundle(clrt_ctx *ctx, const clrt_ctx_options *opt, char *err, size_t errlen)
{
    const char *path = opt && opt->binaries && *opt->binaries ? opt->binaries
                                                              : getenv("CLRT_BINARIES");
    if (path && (!*path || strcmp(path, "off") == 0))
        path = NULL;
    if (path) {
        CLRT_TRY(clrt__bundle_load(path, &ctx->bundle, err, errlen));
        CLRT_TRY(clrt__bundle_check_device(ctx->bundle, &ctx->dev, err, errlen));
        CLRT_TRY(clrt__programs_check_bundle(ctx, err, errlen));
        clrt__log(ctx, CLRT_LOG_INFO, "programs from bundle %s (%zu)", path,
                  clrt__bundle_count(ctx->bundle));
        return CLRT_OK;
    }
    if (ctx->dev.compiler_available)
        return CLRT_OK;
    /* Said now, not at the first op: nothing could run. */
    char names[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < clrt_embedded_source_count && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s.cl", i ? ", " : "",
                                 clrt_embedded_sources[i].name);
    return clrt__errbuf_fail(
        err, errlen, CLRT_ERR_UNSUPPORTED,
        "device %s / %s has no OpenCL C compiler (CL_DEVICE_COMPILER_AVAILABLE is false), so "
        "clrt needs a bundle of pre-built programs and none was given: all %zu programs (%s) "
        "and their activation and GEMM variants are missing. Make one with clrt-compile "
        "--device SEL -o FILE where this device and driver can compile, and pass it as "
        "clrt_ctx_options.binaries or $CLRT_BINARIES",
        ctx->dev.platform, ctx->dev.name, clrt_embedded_source_count, names);
}

/* Settings that need the device: after ctx->dev is known. */
static clrt_status ctx_configure(clrt_ctx *ctx, const clrt_ctx_options *opt, char *err,
                                 size_t errlen)
{
    ctx->gemm_tile = -1;
    int precision = opt ? opt->precision : CLRT_F32;
    if (precision != CLRT_F32 && precision != CLRT_F16 && precision != CLRT_BF16)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG,
                                 "clrt_ctx_options.precision %d is none of CLRT_F32, CLRT_BF16, "
                                 "CLRT_F16",
                                 precision);
    ctx->precision = (clrt_dtype)precision;
    ctx->gemm_tune_cost_s = -1;
    ctx->col_sum_groups = -1;
    ctx->pinned_staging = -1;
    cl_bool unified = CL_TRUE;
    if (clGetDeviceInfo(ctx->dev.device_id, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified,
                        &unified, NULL) != CL_SUCCESS)
        unified = CL_TRUE; /* unknown: the direct uploads, as before */
    ctx->host_unified = unified == CL_TRUE;
    /* Asked, not assumed: rusticl's llvmpipe is a CPU device that prefers
     * scalar floats, where the vector GEMM tiles run 8x slower. */
    cl_uint width = 0;
    if (clGetDeviceInfo(ctx->dev.device_id, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof width,
                        &width, NULL) != CL_SUCCESS)
        width = 1;
    ctx->float_vector_width = width;
    CLRT_TRY(clrt__faults_from_env(ctx, err, errlen));
    /* Before the GEMM backend: CLBlast is out with a bundle. */
    CLRT_TRY(ctx_bundle(ctx, opt, err, errlen));
    return clrt__gemm_backend_resolve(ctx, opt ? opt->gemm : CLRT_GEMM_AUTO, err, errlen);
}

static void ctx_free(clrt_ctx *ctx)
{
    if (ctx->context)
        clrt__programs_store_pending(ctx);
    for (int i = 0; i < CLRT__STATE_COUNT; i++)
        if (ctx->layer_state[i].release)
            ctx->layer_state[i].release(ctx->layer_state[i].data);
    clrt__profile_release(ctx);
    clrt__programs_release(&ctx->programs);
    clrt__bundle_free(ctx->bundle);
    clrt__pool_trim(ctx);
    free(ctx->pool.free);
    if (ctx->queue)
        clReleaseCommandQueue(ctx->queue);
    if (ctx->context)
        clReleaseContext(ctx->context);
    free(ctx->kernel_dir);
    free(ctx->cache_dir);
    free(ctx->errmsg);
    free(ctx);
}

clrt_status clrt_ctx_create(const clrt_ctx_options *opt, clrt_ctx **out, char *err,
                            size_t errlen)
{
    if (!out) {
        clrt__errbuf_set(err, errlen, "clrt_ctx_create: out is NULL");
        return CLRT_ERR_INVALID_ARG;
    }
    *out = NULL;
    clrt_ctx *ctx;
    CLRT_TRY(ctx_alloc(opt, &ctx, err, errlen));

    const char *selector = opt && opt->device ? opt->device : getenv("CLRT_DEVICE");
    clrt_status st = clrt_device_select(selector, &ctx->dev, err, errlen);
    if (st != CLRT_OK) {
        ctx_free(ctx);
        return st;
    }
    cl_int rc;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                     (cl_context_properties)ctx->dev.platform_id, 0};
    ctx->context = clCreateContext(props, 1, &ctx->dev.device_id, NULL, NULL, &rc);
    const char *call = "clCreateContext";
    if (rc == CL_SUCCESS) {
        call = "clCreateCommandQueue";
        ctx->queue = clCreateCommandQueue(ctx->context, ctx->dev.device_id,
                                          ctx->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &rc);
    }
    if (rc != CL_SUCCESS) {
        clrt__errbuf_set(err, errlen, "%s failed: %s (%d) on %s / %s", call,
                         clrt_cl_error_str(rc), (int)rc, ctx->dev.platform, ctx->dev.name);
        ctx_free(ctx);
        return clrt__status_from_cl(rc);
    }
    st = ctx_configure(ctx, opt, err, errlen);
    if (st != CLRT_OK) {
        ctx_free(ctx);
        return st;
    }
    clrt__log(ctx, CLRT_LOG_INFO, "context on %s / %s", ctx->dev.platform, ctx->dev.name);
    *out = ctx;
    return CLRT_OK;
}

clrt_status clrt_ctx_create_from_cl(cl_context context, cl_command_queue queue,
                                    const clrt_ctx_options *opt, clrt_ctx **out, char *err,
                                    size_t errlen)
{
    if (!out || !context || !queue) {
        clrt__errbuf_set(err, errlen, "clrt_ctx_create_from_cl: context, queue and out are needed");
        if (out)
            *out = NULL;
        return CLRT_ERR_INVALID_ARG;
    }
    *out = NULL;
    cl_context qctx = NULL;
    cl_device_id dev = NULL;
    cl_command_queue_properties qprops = 0;
    cl_int rc = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof qctx, &qctx, NULL);
    if (rc == CL_SUCCESS)
        rc = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof dev, &dev, NULL);
    if (rc == CL_SUCCESS)
        rc = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof qprops, &qprops, NULL);
    if (rc != CL_SUCCESS) {
        clrt__errbuf_set(err, errlen, "clGetCommandQueueInfo failed: %s (%d)",
                         clrt_cl_error_str(rc), (int)rc);
        return clrt__status_from_cl(rc);
    }
    if (qctx != context) {
        clrt__errbuf_set(err, errlen, "the queue belongs to another cl_context");
        return CLRT_ERR_INVALID_ARG;
    }
    if (qprops & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) {
        clrt__errbuf_set(err, errlen, "the queue is out of order; clrt needs an in-order queue");
        return CLRT_ERR_INVALID_ARG;
    }
    cl_platform_id plat = NULL;
    rc = clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL);
    if (rc != CL_SUCCESS) {
        clrt__errbuf_set(err, errlen, "clGetDeviceInfo(CL_DEVICE_PLATFORM) failed: %s (%d)",
                         clrt_cl_error_str(rc), (int)rc);
        return clrt__status_from_cl(rc);
    }
    clrt_ctx *ctx;
    CLRT_TRY(ctx_alloc(opt, &ctx, err, errlen));
    clrt_status st = clrt__device_query(plat, dev, 0, &ctx->dev, err, errlen);
    if (st == CLRT_OK)
        st = ctx_configure(ctx, opt, err, errlen);
    if (st != CLRT_OK) {
        ctx_free(ctx);
        return st;
    }
    /* Its place in clrt's own list gives the index and selector. */
    clrt_device_info *list;
    size_t n;
    if (clrt__device_enumerate(&list, &n, NULL, 0) == CLRT_OK) {
        for (size_t i = 0; i < n; i++)
            if (list[i].device_id == dev) {
                ctx->dev.index = list[i].index;
                memcpy(ctx->dev.selector, list[i].selector, sizeof ctx->dev.selector);
            }
        free(list);
    }
    clRetainContext(context);
    clRetainCommandQueue(queue);
    ctx->context = context;
    ctx->queue = queue;
    ctx->profiling = (qprops & CL_QUEUE_PROFILING_ENABLE) != 0;
    *out = ctx;
    return CLRT_OK;
}

/* "2 tensors, 1 loader, 1 model" into buf: what is still made on ctx
 * (tensors keep their plural: messages matched "1 tensors" before the other
 * kinds were counted). False when nothing lives. */
static bool live_text(const clrt_ctx *ctx, char *buf, size_t len)
{
    static const char *const names[CLRT__LIVE_KINDS][2] = {
        [CLRT__LIVE_LOADER] = {"loader", "loaders"},
        [CLRT__LIVE_MODEL] = {"model", "models"},
        [CLRT__LIVE_OPTIM] = {"optimizer", "optimizers"},
    };
    size_t used = 0;
    buf[0] = '\0';
    if (ctx->mem.live_tensors > 0)
        used = (size_t)snprintf(buf, len, "%zu tensors", ctx->mem.live_tensors);
    for (int k = 0; k < CLRT__LIVE_KINDS && used < len; k++)
        if (ctx->live[k] > 0)
            used += (size_t)snprintf(buf + used, len - used, "%s%zu %s", used ? ", " : "",
                                     ctx->live[k], names[k][ctx->live[k] != 1]);
    return buf[0] != '\0';
}

clrt_status clrt_ctx_destroy(clrt_ctx *ctx)
{
    if (!ctx)
        return CLRT_OK;
    /* A loader or SGD optimizer may hold no tensor yet still point here. */
    char live[192];
    if (live_text(ctx, live, sizeof live))
        return clrt__fail(ctx, CLRT_ERR_BUSY, "clrt_ctx_destroy: %s still live; destroy them first",
                          live);
    /* Work still queued may use pooled buffers: let it end first. */
    if (ctx->queue)
        clFinish(ctx->queue);
    ctx_free(ctx);
    return CLRT_OK;
}

clrt_status clrt_ctx_finish(clrt_ctx *ctx)
{
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    clrt_status st = CLRT_OK;
    CLRT_CL_GOTO(ctx, st, clFinish(ctx->queue), out);
out:
    return st;
}

clrt_status clrt_ctx_flush(clrt_ctx *ctx)
{
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    clrt_status st = CLRT_OK;
    CLRT_CL_GOTO(ctx, st, clFlush(ctx->queue), out);
out:
    return st;
}

const clrt_device_info *clrt_ctx_device(const clrt_ctx *ctx)
{
    return ctx ? &ctx->dev : NULL;
}

cl_context clrt_ctx_cl_context(const clrt_ctx *ctx)
{
    return ctx ? ctx->context : NULL;
}

cl_command_queue clrt_ctx_cl_queue(const clrt_ctx *ctx)
{
    return ctx ? ctx->queue : NULL;
}

int clrt_ctx_precision(const clrt_ctx *ctx)
{
    return ctx ? (int)ctx->precision : CLRT_F32;
}
