/* The list of program variants the ops may ask for, and its two users:
 * clrt_ctx_build_all (the up-front ones) and the bundle compiler (all of
 * them, into one file). It lives in the ops layer, not beside the program
 * cache, because only the ops know their variants (the GEMM tiles, the
 * per-activation builds); the runtime builds what it is asked to and never
 * calls up. */
#include "ops/ops.h"

clrt_status clrt__program_variants(clrt_ctx *ctx, clrt__variant_fn fn, void *user)
{
    clrt__program_variant v = {NULL, "", CLRT_F32, true};
    for (size_t i = 0; i < clrt_embedded_source_count; i++) {
        v.program = clrt_embedded_sources[i].name;
        CLRT_TRY(fn(ctx, &v, user));
    }
    CLRT_TRY(clrt__act_variants(ctx, fn, user));
    return clrt__gemm_variants(ctx, fn, user);
}

static clrt_status prepare(clrt_ctx *ctx, const clrt__program_variant *v, void *user)
{
    bool all = user != NULL;
    if (!all && !v->up_front)
        return CLRT_OK;
    return clrt__program_prepare(ctx, v->program, v->defines, v->dtype);
}

clrt_status clrt_ctx_build_all(clrt_ctx *ctx)
{
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    clrt_status st = clrt__program_variants(ctx, prepare, NULL);
    clrt__programs_store_pending(ctx); /* built ahead of time: stored now too */
    return st;
}

clrt_status clrt__bundle_compile(clrt_ctx *ctx, const char *path, size_t *count)
{
    *count = 0;
    bool all = true;
    clrt__programs_separate(ctx); /* a bundle holds each program by its name */
    CLRT_TRY(clrt__program_variants(ctx, prepare, &all));
    return clrt__bundle_save(ctx, path, count);
}
