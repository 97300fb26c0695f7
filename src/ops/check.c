/* Argument checks shared by every op file. */
#include "ops/ops.h"

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

clrt_status clrt__expect_f32(clrt_ctx *ctx, const char *fn, const char *name,
                             const clrt_tensor *t)
{
    CLRT_TRY(clrt__expect_tensor(ctx, fn, name, t));
    if (t->dtype == CLRT_F32)
        return CLRT_OK;
    return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: %s is stored as %s; it takes f32 tensors "
                                                 "only", fn, name, clrt_dtype_name(t->dtype));
}

bool clrt__aliases(const clrt_tensor *a, const clrt_tensor *b)
{
    return a && b && a->buf == b->buf && a->buf->mem != NULL;
}
