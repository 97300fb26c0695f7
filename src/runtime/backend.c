/* Which GEMM backend a context uses: names, what this build, device and
 * context can run (no CLBlast where nothing may compile), the choice from
 * the option or $CLRT_GEMM. ops/gemm.c runs it. */
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

const char *clrt_gemm_backend_name(clrt_gemm_backend backend)
{
    switch (backend) {
    case CLRT_GEMM_AUTO: return "auto";
    case CLRT_GEMM_BUILTIN: return "builtin";
    case CLRT_GEMM_CLBLAST: return "clblast";
    case CLRT_GEMM_HOST: return "host";
    }
    return NULL;
}

const char *clrt__gemm_backend_unavailable(const clrt_ctx *ctx, clrt_gemm_backend b)
{
    switch (b) {
    case CLRT_GEMM_AUTO:
    case CLRT_GEMM_BUILTIN: return NULL;
    case CLRT_GEMM_CLBLAST:
#ifdef CLRT_HAVE_CLBLAST
        /* CLBlast compiles its kernels from source when first used (and
         * prints to stderr when it cannot): never where nothing compiles. */
        if (ctx->bundle)
            return "CLBlast compiles its kernels at run time, and this context loads pre-built "
                   "programs from a bundle and compiles nothing";
        if (!ctx->dev.compiler_available)
            return "CLBlast compiles its kernels at run time, and this device has no OpenCL C "
                   "compiler";
        return NULL;
#else
        return "clrt was built without CLBlast (-Dclblast=enabled)";
#endif
    case CLRT_GEMM_HOST:
#ifdef CLRT_HAVE_CBLAS
        if (!clrt__device_is_cpu(&ctx->dev) || ctx->dev.is_simulator)
            return "the host backend needs a CPU device whose buffers the host can map";
        return NULL;
#else
        (void)ctx;
        return "clrt was built without a host CBLAS (-Dhost_blas=enabled)";
#endif
    }
    return "unknown backend";
}

clrt_status clrt__gemm_backend_resolve(clrt_ctx *ctx, int option, char *err, size_t errlen)
{
    clrt_gemm_backend b = (clrt_gemm_backend)option;
    const char *env = getenv("CLRT_GEMM");
    if (option == CLRT_GEMM_AUTO && env && *env) {
        bool known = false;
        for (int i = CLRT_GEMM_AUTO; i <= CLRT_GEMM_HOST; i++)
            if (strcmp(env, clrt_gemm_backend_name((clrt_gemm_backend)i)) == 0) {
                b = (clrt_gemm_backend)i;
                known = true;
            }
        if (!known) {
            clrt__errbuf_set(err, errlen,
                             "CLRT_GEMM=\"%s\" is not one of auto, builtin, clblast, host", env);
            return CLRT_ERR_INVALID_ARG;
        }
    }
    if (!clrt_gemm_backend_name(b)) {
        clrt__errbuf_set(err, errlen, "gemm backend %d is not a clrt_gemm_backend", option);
        return CLRT_ERR_INVALID_ARG;
    }
    const char *why = clrt__gemm_backend_unavailable(ctx, b);
    if (why) {
        clrt__errbuf_set(err, errlen, "gemm backend %s: %s", clrt_gemm_backend_name(b), why);
        return CLRT_ERR_UNSUPPORTED;
    }
    ctx->gemm_backend = b;
    return CLRT_OK;
}

clrt_gemm_backend clrt_ctx_gemm_backend(const clrt_ctx *ctx)
{
    return ctx ? ctx->gemm_backend : CLRT_GEMM_AUTO;
}

clrt_status clrt_ctx_set_gemm_backend(clrt_ctx *ctx, clrt_gemm_backend backend)
{
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    if (!clrt_gemm_backend_name(backend))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "gemm backend %d is unknown", (int)backend);
    const char *why = clrt__gemm_backend_unavailable(ctx, backend);
    if (why)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "gemm backend %s: %s",
                          clrt_gemm_backend_name(backend), why);
    ctx->gemm_backend = backend;
    return CLRT_OK;
}
