/* The dist layer: data-parallel training over MPI, above io (it shards
 * loaders and evaluates over them) and below verify. The public API is
 * clrt_dist_* in clrt.h; this header is what the dist files share. Only
 * this layer includes mpi.h, and only when the build found MPI
 * (CLRT_HAVE_MPI); without it, unavailable.c answers every call. Not
 * installed. */
#ifndef CLRT_DIST_H
#define CLRT_DIST_H

#include "io/io.h"

#include <mpi.h>

struct clrt_dist {
    MPI_Comm comm;         /* our duplicate of the caller's communicator */
    int rank, size;
    int local_rank;        /* index among the ranks on this host */
    bool finalize;         /* MPI was initialised by clrt_dist_create */
    double timeout_s;      /* longest wait in one collective */
    float *fused;          /* host buffer of every gradient, back to back, + 1 weight */
    size_t fused_cap;      /* floats */
    clrt_dist_stats stats;
};

/* Wait for the non-blocking collective *req to complete, polling, at most
 * d->timeout_s seconds. A failed MPI call is CLRT_ERR_DIST with MPI's error
 * text; a timeout is CLRT_ERR_DIST saying that some rank did not join
 * `what` in time (it failed, hangs or is far slower). The message goes to
 * ctx (which may be NULL: then to err, errlen). */
clrt_status clrt__dist_wait(clrt_dist *d, MPI_Request *req, clrt_ctx *ctx, char *err,
                            size_t errlen, const char *what);

/* CLRT_ERR_DIST for a failed MPI call `call` returning `rc`, with MPI's
 * text of the error, into ctx's message (or err, errlen when ctx is NULL). */
clrt_status clrt__dist_fail_mpi(clrt_ctx *ctx, char *err, size_t errlen, int rc,
                                const char *call, const char *what);

/* Sum `count` doubles in place across the ranks (a non-blocking all-reduce
 * waited for as clrt__dist_wait does). */
clrt_status clrt__dist_sum(clrt_dist *d, clrt_ctx *ctx, double *values, int count,
                           const char *what);

/* The gradient hook clrt_dist_attach installs (allreduce.c). */
clrt_status clrt__dist_grad_hook(clrt_model *m, clrt_tensor *const *grads, size_t count,
                                 void *user);

#endif /* CLRT_DIST_H */
