/* The clrt_dist API in a build without MPI (meson found none, or -Dmpi=
 * disabled): the calls exist, so programs link and run either way, and
 * each one that can fail says the build lacks MPI. */
#include "io/io.h"

#include <string.h>

#define NO_MPI "this clrt was built without MPI (install libopenmpi-dev and rebuild; meson option mpi)"

void clrt_dist_options_init(clrt_dist_options *opt)
{
    if (opt)
        memset(opt, 0, sizeof *opt);
}

clrt_status clrt_dist_create(const clrt_dist_options *opt, clrt_dist **out, char *err,
                             size_t errlen)
{
    (void)opt;
    if (out)
        *out = NULL;
    return clrt__errbuf_fail(err, errlen, CLRT_ERR_UNSUPPORTED, "clrt_dist_create: " NO_MPI);
}

void clrt_dist_destroy(clrt_dist *d)
{
    (void)d; /* no clrt_dist can exist */
}

int clrt_dist_rank(const clrt_dist *d)
{
    (void)d;
    return -1;
}

int clrt_dist_size(const clrt_dist *d)
{
    (void)d;
    return 0;
}

int clrt_dist_local_rank(const clrt_dist *d)
{
    (void)d;
    return -1;
}

clrt_status clrt_dist_device(const clrt_dist *d, const char *selector, char *out, size_t len,
                             char *err, size_t errlen)
{
    (void)d, (void)selector;
    if (out && len)
        out[0] = '\0';
    return clrt__errbuf_fail(err, errlen, CLRT_ERR_UNSUPPORTED, "clrt_dist_device: " NO_MPI);
}

clrt_status clrt_dist_attach(clrt_dist *d, clrt_model *m, clrt_optim *opt)
{
    (void)d, (void)opt;
    return clrt__fail(m ? m->ctx : NULL, CLRT_ERR_UNSUPPORTED, "clrt_dist_attach: " NO_MPI);
}

clrt_status clrt_dist_take_loss(clrt_dist *d, clrt_model *m, double *mean_loss, size_t *samples)
{
    (void)d, (void)mean_loss, (void)samples;
    return clrt__fail(m ? m->ctx : NULL, CLRT_ERR_UNSUPPORTED, "clrt_dist_take_loss: " NO_MPI);
}

clrt_status clrt_dist_evaluate(clrt_dist *d, clrt_model *m, clrt_loader *l, double *loss,
                               double *accuracy)
{
    (void)d, (void)l, (void)loss, (void)accuracy;
    return clrt__fail(m ? m->ctx : NULL, CLRT_ERR_UNSUPPORTED, "clrt_dist_evaluate: " NO_MPI);
}

clrt_status clrt_dist_agree(clrt_dist *d, clrt_ctx *ctx, clrt_status status)
{
    (void)d, (void)status;
    return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "clrt_dist_agree: " NO_MPI);
}

clrt_status clrt_dist_get_stats(const clrt_dist *d, clrt_dist_stats *out)
{
    (void)d, (void)out;
    return CLRT_ERR_UNSUPPORTED;
}
