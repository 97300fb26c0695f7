/* Status codes, OpenCL error names, and the per-context last-error message. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *clrt_version(void)
{
    return CLRT_VERSION_STRING;
}

unsigned clrt_version_number(void)
{
    return CLRT_VERSION_NUMBER;
}

const char *clrt_status_str(clrt_status status)
{
    switch (status) {
    case CLRT_OK: return "CLRT_OK";
    case CLRT_ERR_INVALID_ARG: return "CLRT_ERR_INVALID_ARG";
    case CLRT_ERR_SHAPE: return "CLRT_ERR_SHAPE";
    case CLRT_ERR_NO_DEVICE: return "CLRT_ERR_NO_DEVICE";
    case CLRT_ERR_OUT_OF_MEMORY: return "CLRT_ERR_OUT_OF_MEMORY";
    case CLRT_ERR_BUILD: return "CLRT_ERR_BUILD";
    case CLRT_ERR_OPENCL: return "CLRT_ERR_OPENCL";
    case CLRT_ERR_BUSY: return "CLRT_ERR_BUSY";
    case CLRT_ERR_IO: return "CLRT_ERR_IO";
    case CLRT_ERR_FORMAT: return "CLRT_ERR_FORMAT";
    case CLRT_ERR_UNSUPPORTED: return "CLRT_ERR_UNSUPPORTED";
    case CLRT_ERR_NUMERIC: return "CLRT_ERR_NUMERIC";
    case CLRT_ERR_DIST: return "CLRT_ERR_DIST";
    }
    return "CLRT_ERR_UNKNOWN";
}

const char *clrt_cl_error_str(cl_int code)
{
#define CASE(x) \
    case x: return #x
    switch (code) {
    CASE(CL_SUCCESS);
    CASE(CL_DEVICE_NOT_FOUND);
    CASE(CL_DEVICE_NOT_AVAILABLE);
    CASE(CL_COMPILER_NOT_AVAILABLE);
    CASE(CL_MEM_OBJECT_ALLOCATION_FAILURE);
    CASE(CL_OUT_OF_RESOURCES);
    CASE(CL_OUT_OF_HOST_MEMORY);
    CASE(CL_PROFILING_INFO_NOT_AVAILABLE);
    CASE(CL_MEM_COPY_OVERLAP);
    CASE(CL_IMAGE_FORMAT_MISMATCH);
    CASE(CL_IMAGE_FORMAT_NOT_SUPPORTED);
    CASE(CL_BUILD_PROGRAM_FAILURE);
    CASE(CL_MAP_FAILURE);
    CASE(CL_MISALIGNED_SUB_BUFFER_OFFSET);
    CASE(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
    CASE(CL_COMPILE_PROGRAM_FAILURE);
    CASE(CL_LINKER_NOT_AVAILABLE);
    CASE(CL_LINK_PROGRAM_FAILURE);
    CASE(CL_DEVICE_PARTITION_FAILED);
    CASE(CL_KERNEL_ARG_INFO_NOT_AVAILABLE);
    CASE(CL_INVALID_VALUE);
    CASE(CL_INVALID_DEVICE_TYPE);
    CASE(CL_INVALID_PLATFORM);
    CASE(CL_INVALID_DEVICE);
    CASE(CL_INVALID_CONTEXT);
    CASE(CL_INVALID_QUEUE_PROPERTIES);
    CASE(CL_INVALID_COMMAND_QUEUE);
    CASE(CL_INVALID_HOST_PTR);
    CASE(CL_INVALID_MEM_OBJECT);
    CASE(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR);
    CASE(CL_INVALID_IMAGE_SIZE);
    CASE(CL_INVALID_SAMPLER);
    CASE(CL_INVALID_BINARY);
    CASE(CL_INVALID_BUILD_OPTIONS);
    CASE(CL_INVALID_PROGRAM);
    CASE(CL_INVALID_PROGRAM_EXECUTABLE);
    CASE(CL_INVALID_KERNEL_NAME);
    CASE(CL_INVALID_KERNEL_DEFINITION);
    CASE(CL_INVALID_KERNEL);
    CASE(CL_INVALID_ARG_INDEX);
    CASE(CL_INVALID_ARG_VALUE);
    CASE(CL_INVALID_ARG_SIZE);
    CASE(CL_INVALID_KERNEL_ARGS);
    CASE(CL_INVALID_WORK_DIMENSION);
    CASE(CL_INVALID_WORK_GROUP_SIZE);
    CASE(CL_INVALID_WORK_ITEM_SIZE);
    CASE(CL_INVALID_GLOBAL_OFFSET);
    CASE(CL_INVALID_EVENT_WAIT_LIST);
    CASE(CL_INVALID_EVENT);
    CASE(CL_INVALID_OPERATION);
    CASE(CL_INVALID_GL_OBJECT);
    CASE(CL_INVALID_BUFFER_SIZE);
    CASE(CL_INVALID_MIP_LEVEL);
    CASE(CL_INVALID_GLOBAL_WORK_SIZE);
    CASE(CL_INVALID_PROPERTY);
    CASE(CL_INVALID_IMAGE_DESCRIPTOR);
    CASE(CL_INVALID_COMPILER_OPTIONS);
    CASE(CL_INVALID_LINKER_OPTIONS);
    CASE(CL_INVALID_DEVICE_PARTITION_COUNT);
    /* Later-version codes by value, so this compiles against 1.2 headers. */
    case -69: return "CL_INVALID_PIPE_SIZE";
    case -70: return "CL_INVALID_DEVICE_QUEUE";
    case -71: return "CL_INVALID_SPEC_ID";
    case -72: return "CL_MAX_SIZE_RESTRICTION_EXCEEDED";
    case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
    }
#undef CASE
    return "CL_UNKNOWN_ERROR";
}

static void errbuf_vset(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
}

void clrt__errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errbuf_vset(err, errlen, fmt, ap);
    va_end(ap);
}

clrt_status clrt__errbuf_fail(char *err, size_t errlen, clrt_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errbuf_vset(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

static void vlog(const clrt_ctx *ctx, clrt_log_level level, const char *fmt, va_list ap)
{
    if (!ctx || !ctx->log)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    ctx->log(ctx->log_user, level, line);
}

void clrt__log(const clrt_ctx *ctx, clrt_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(ctx, level, fmt, ap);
    va_end(ap);
}

/* Store a formatted message in ctx->errmsg, growing it as needed; if memory
 * runs out the message is truncated into a fixed buffer instead. */
static void set_message(clrt_ctx *ctx, const char *fmt, va_list ap)
{
    ctx->errmsg_serial++;
    va_list ap2;
    va_copy(ap2, ap);
    int need = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (need < 0)
        need = 0;
    size_t want = (size_t)need + 1;
    if (want > ctx->errmsg_cap) {
        char *grown = realloc(ctx->errmsg, want);
        if (!grown) {
            vsnprintf(ctx->errmsg_fallback, sizeof ctx->errmsg_fallback, fmt, ap);
            free(ctx->errmsg);
            ctx->errmsg = NULL;
            ctx->errmsg_cap = 0;
            return;
        }
        ctx->errmsg = grown;
        ctx->errmsg_cap = want;
    }
    vsnprintf(ctx->errmsg, ctx->errmsg_cap, fmt, ap);
}

clrt_status clrt__fail(clrt_ctx *ctx, clrt_status status, const char *fmt, ...)
{
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    set_message(ctx, fmt, ap);
    va_end(ap);
    /* A candidate failing while GEMM tuning times it is expected (the pick
     * skips it), not an error of the caller's: logged for debugging only. */
    clrt__log(ctx, ctx->tuning ? CLRT_LOG_DEBUG : CLRT_LOG_ERROR, "%s: %s",
              clrt_status_str(status), clrt_ctx_errmsg(ctx));
    return status;
}

clrt_status clrt__status_from_cl(cl_int code)
{
    switch (code) {
    case CL_SUCCESS: return CLRT_OK;
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_RESOURCES:
    case CL_OUT_OF_HOST_MEMORY: return CLRT_ERR_OUT_OF_MEMORY;
    case CL_BUILD_PROGRAM_FAILURE:
    case CL_COMPILE_PROGRAM_FAILURE:
    case CL_LINK_PROGRAM_FAILURE: return CLRT_ERR_BUILD;
    case CL_DEVICE_NOT_FOUND:
    case CL_DEVICE_NOT_AVAILABLE: return CLRT_ERR_NO_DEVICE;
    case CL_COMPILER_NOT_AVAILABLE: return CLRT_ERR_UNSUPPORTED;
    default: return CLRT_ERR_OPENCL;
    }
}

clrt_status clrt__fail_cl(clrt_ctx *ctx, cl_int code, const char *call, const char *fmt, ...)
{
    clrt_status status = clrt__status_from_cl(code);
    if (!ctx)
        return status;
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    /* Keep only the function name of the call expression. */
    size_t call_len = strcspn(call, "(");
    ctx->cl_error = code;
    return clrt__fail(ctx, status, "%.*s failed: %s (%d) in %s", (int)call_len, call,
                      clrt_cl_error_str(code), (int)code, detail);
}

const char *clrt_ctx_errmsg(const clrt_ctx *ctx)
{
    if (!ctx)
        return "no context";
    if (ctx->errmsg)
        return ctx->errmsg;
    return ctx->errmsg_fallback;
}

cl_int clrt_ctx_cl_error(const clrt_ctx *ctx)
{
    return ctx ? ctx->cl_error : CL_INVALID_CONTEXT;
}
