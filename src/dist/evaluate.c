/* Training loss and evaluation summed over the ranks: each rank measures
 * its own shard, and the per-sample sums and the sample counts are added. */
#include "dist/dist.h"

#include <math.h>

clrt_status clrt_dist_take_loss(clrt_dist *d, clrt_model *m, double *mean_loss, size_t *samples)
{
    static const char fn[] = "clrt_dist_take_loss";
    if (!d || !m || !mean_loss)
        return clrt__fail(m ? m->ctx : NULL, CLRT_ERR_INVALID_ARG,
                          "%s: a clrt_dist, a model and mean_loss are needed", fn);
    double mean = 0.0;
    size_t n = 0;
    /* A non-finite loss or weight here is CLRT_ERR_NUMERIC; the sums are
     * still exchanged, so the other ranks are not left waiting. */
    clrt_status local = clrt_model_take_loss(m, &mean, &n);
    if (local != CLRT_OK && local != CLRT_ERR_NUMERIC)
        return local;
    double v[2] = {mean * (double)n, (double)n};
    CLRT_TRY(clrt__dist_sum(d, m->ctx, v, 2, fn));
    *mean_loss = v[1] > 0 ? v[0] / v[1] : 0.0;
    if (samples)
        *samples = (size_t)v[1];
    if (local != CLRT_OK)
        return local;
    if (!isfinite(*mean_loss))
        return clrt__fail(m->ctx, CLRT_ERR_NUMERIC,
                          "%s: the running loss over the %.0f samples of every rank is %s (another "
                          "rank's is not finite)",
                          fn, v[1], isnan(*mean_loss) ? "NaN" : "infinite");
    return CLRT_OK;
}

clrt_status clrt_dist_evaluate(clrt_dist *d, clrt_model *m, clrt_loader *l, double *loss,
                               double *accuracy)
{
    static const char fn[] = "clrt_dist_evaluate";
    if (!d || !m || !l)
        return clrt__fail(m ? m->ctx : NULL, CLRT_ERR_INVALID_ARG,
                          "%s: a clrt_dist, a model and a loader are needed", fn);
    double mean = 0.0, acc = 0.0;
    clrt_status local = clrt_model_evaluate(m, l, &mean, &acc);
    if (local != CLRT_OK && local != CLRT_ERR_NUMERIC)
        return local;
    double rows = (double)clrt_loader_rows(l);
    double v[3] = {mean * rows, acc * rows, rows};
    CLRT_TRY(clrt__dist_sum(d, m->ctx, v, 3, fn));
    double gl = v[2] > 0 ? v[0] / v[2] : 0.0, ga = v[2] > 0 ? v[1] / v[2] : 0.0;
    if (loss)
        *loss = gl;
    if (accuracy)
        *accuracy = ga;
    if (local != CLRT_OK)
        return local;
    if (!isfinite(gl))
        return clrt__fail(m->ctx, CLRT_ERR_NUMERIC,
                          "%s: the loss over the %.0f samples of every rank is %s (another "
                          "rank's is not finite)",
                          fn, v[2], isnan(gl) ? "NaN" : "infinite");
    return CLRT_OK;
}
