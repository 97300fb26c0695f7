/* The finiteness flag (cl/loss.cl's clrt_nonfinite_flag): whether a tensor
 * holds NaN or an infinity, found on the device by a strided pass and a
 * work-group reduction, so checking a model's parameters enqueues one
 * kernel each and reads one word back. */
#include "ops/ops.h"

/* The work-group: this, halved while the kernel or the device allows less. */
#define FLAG_WG_MAX 256
/* Elements each item looks at (about), before the group count is capped. */
#define FLAG_CHUNK 16
/* At most this many groups: each item then strides over the rest. */
#define FLAG_GROUPS_MAX 64

clrt_status clrt__flag_nonfinite(clrt_ctx *ctx, const clrt_tensor *x, uint32_t tag,
                                 clrt_tensor *flag)
{
    static const char fn[] = "clrt__flag_nonfinite";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(clrt__expect_tensor(ctx, fn, "x", x));
    CLRT_TRY(clrt__expect_tensor(ctx, fn, "flag", flag));
    if (flag->numel != 1 || tag == 0)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "%s: the flag must be one element and the tag non-zero", fn);
    if (x->numel == 0)
        return CLRT_OK;
    cl_kernel k;
    size_t wg;
    const clrt_tensor *ops[1] = {x};
    CLRT_TRY(clrt__expect_f32(ctx, fn, "flag", flag));
    CLRT_TRY(clrt__storage_kernel(ctx, "loss", "", "clrt_nonfinite_flag", ops, 1, &k));
    CLRT_TRY(clrt__pow2_group_size(ctx, k, FLAG_WG_MAX, FLAG_WG_MAX, fn, &wg));
    size_t per_group = wg * FLAG_CHUNK;
    size_t groups = x->numel / per_group + (x->numel % per_group != 0);
    if (groups > FLAG_GROUPS_MAX)
        groups = FLAG_GROUPS_MAX;
    CLRT_TRY(
        clrt__set_args(ctx, k, fn, "mlumL", x, x->numel, (unsigned)tag, flag, wg * sizeof(float)));
    return clrt__launch_2d(ctx, k, groups * wg, 1, wg, 1, fn);
}
