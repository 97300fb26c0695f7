/* clrt_ctx_build_all: every program the ops may ask for, built up front.
 * It lives in the ops layer, not beside the program cache, because only the
 * ops know their variants (the GEMM tiles); the runtime builds what it is
 * asked to and never calls up. */
#include "ops/ops.h"

clrt_status clrt_ctx_build_all(clrt_ctx *ctx)
{
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    for (size_t i = 0; i < clrt_embedded_source_count; i++)
        CLRT_TRY(clrt__program_prepare(ctx, clrt_embedded_sources[i].name, ""));
    return clrt__gemm_build(ctx); /* its tile variants are programs of their own */
}
