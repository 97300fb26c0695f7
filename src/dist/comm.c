/* Joining the ranks: MPI start and end, the communicator, rank queries,
 * and the bounded wait every collective goes through. */
#include "dist/dist.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_S 600.0

void clrt_dist_options_init(clrt_dist_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

clrt_status clrt__dist_fail_mpi(clrt_ctx *ctx, char *err, size_t errlen, int rc, const char *call,
                                const char *what)
{
    char text[MPI_MAX_ERROR_STRING + 1] = "";
    int n = 0;
    if (MPI_Error_string(rc, text, &n) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", rc);
    text[MPI_MAX_ERROR_STRING] = '\0';
    if (ctx)
        return clrt__fail(ctx, CLRT_ERR_DIST, "%s: %s failed: %s", what, call, text);
    return clrt__errbuf_fail(err, errlen, CLRT_ERR_DIST, "%s: %s failed: %s", what, call, text);
}

clrt_status clrt__dist_wait(clrt_dist *d, MPI_Request *req, clrt_ctx *ctx, char *err,
                            size_t errlen, const char *what)
{
    double start = now_s();
    /* Poll, sleeping a little between tests once the first spins found the
     * peers absent: a rank's spinning would take a core from the device
     * threads of a rank beside it (PoCL runs kernels on the host's cores). */
    for (unsigned spins = 0;; spins++) {
        int done = 0;
        int rc = MPI_Test(req, &done, MPI_STATUS_IGNORE);
        if (rc != MPI_SUCCESS)
            return clrt__dist_fail_mpi(ctx, err, errlen, rc, "MPI_Test", what);
        if (done)
            return CLRT_OK;
        double waited = now_s() - start;
        if (waited > d->timeout_s) {
            /* The request cannot be cancelled (MPI has no cancel for
             * collectives); the caller is expected to end the process. */
            const char *fmt = "%s: rank %d of %d waited %.0f s for the other ranks, which did not "
                              "all arrive: one failed, hangs, or is that much slower (timeout: "
                              "clrt_dist_options.timeout_s, $CLRT_DIST_TIMEOUT)";
            if (ctx)
                return clrt__fail(ctx, CLRT_ERR_DIST, fmt, what, d->rank, d->size, waited);
            return clrt__errbuf_fail(err, errlen, CLRT_ERR_DIST, fmt, what, d->rank, d->size,
                                     waited);
        }
        if (spins >= 64) {
            struct timespec pause = {0, 50 * 1000}; /* 50 us */
            nanosleep(&pause, NULL);
        }
    }
}

clrt_status clrt__dist_sum(clrt_dist *d, clrt_ctx *ctx, double *values, int count,
                           const char *what)
{
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, values, count, MPI_DOUBLE, MPI_SUM, d->comm, &req);
    if (rc != MPI_SUCCESS)
        return clrt__dist_fail_mpi(ctx, NULL, 0, rc, "MPI_Iallreduce", what);
    return clrt__dist_wait(d, &req, ctx, NULL, 0, what);
}

/* The timeout from the options, else $CLRT_DIST_TIMEOUT, else the default;
 * false for a value that is not a positive number. */
static bool pick_timeout(const clrt_dist_options *opt, double *out, char *err, size_t errlen)
{
    if (opt && opt->timeout_s != 0) {
        if (!(opt->timeout_s > 0)) {
            clrt__errbuf_set(err, errlen, "clrt_dist_create: timeout_s %g is not positive",
                             opt->timeout_s);
            return false;
        }
        *out = opt->timeout_s;
        return true;
    }
    const char *env = getenv("CLRT_DIST_TIMEOUT");
    *out = DEFAULT_TIMEOUT_S;
    if (!env || !env[0])
        return true;
    char *end = NULL;
    double v = strtod(env, &end);
    if (end == env || *end || !(v > 0) || v > 1e9) {
        clrt__errbuf_set(err, errlen,
                         "clrt_dist_create: CLRT_DIST_TIMEOUT=\"%s\" is not a number of seconds",
                         env);
        return false;
    }
    *out = v;
    return true;
}

clrt_status clrt_dist_create(const clrt_dist_options *opt, clrt_dist **out, char *err,
                             size_t errlen)
{
    static const char fn[] = "clrt_dist_create";
    if (out)
        *out = NULL;
    if (!out)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG, "%s: out is needed", fn);
    double timeout;
    if (!pick_timeout(opt, &timeout, err, errlen))
        return CLRT_ERR_INVALID_ARG;
    clrt_dist *d = calloc(1, sizeof *d);
    if (!d)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    d->timeout_s = timeout;
    d->comm = MPI_COMM_NULL;
    int rc, inited = 0, finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) {
        free(d);
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_DIST,
                                 "%s: MPI has been finalised in this process", fn);
    }
    MPI_Initialized(&inited);
    if (!inited) {
        /* Only the calling thread uses MPI; the device's threads never do. */
        int provided = 0;
        rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS) {
            free(d);
            return clrt__dist_fail_mpi(NULL, err, errlen, rc, "MPI_Init_thread", fn);
        }
        d->finalize = true;
    }
    MPI_Comm base = opt && opt->comm ? *(const MPI_Comm *)opt->comm : MPI_COMM_WORLD;
    MPI_Comm local = MPI_COMM_NULL;
    /* Errors come back as codes on our communicator (the default handler
     * aborts the job); the duplicate keeps our collectives apart from the
     * application's. */
    const char *call = "MPI_Comm_dup";
    if ((rc = MPI_Comm_dup(base, &d->comm)) != MPI_SUCCESS)
        goto fail;
    call = "MPI_Comm_set_errhandler";
    if ((rc = MPI_Comm_set_errhandler(d->comm, MPI_ERRORS_RETURN)) != MPI_SUCCESS)
        goto fail;
    call = "MPI_Comm_rank";
    if ((rc = MPI_Comm_rank(d->comm, &d->rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(d->comm, &d->size)) != MPI_SUCCESS)
        goto fail;
    call = "MPI_Comm_split_type";
    if ((rc = MPI_Comm_split_type(d->comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL,
                                  &local)) != MPI_SUCCESS ||
        (rc = MPI_Comm_rank(local, &d->local_rank)) != MPI_SUCCESS)
        goto fail;
    MPI_Comm_free(&local);
    *out = d;
    return CLRT_OK;
fail:;
    clrt_status st = clrt__dist_fail_mpi(NULL, err, errlen, rc, call, fn);
    if (local != MPI_COMM_NULL)
        MPI_Comm_free(&local);
    if (d->comm != MPI_COMM_NULL)
        MPI_Comm_free(&d->comm);
    if (d->finalize)
        MPI_Finalize();
    free(d);
    return st;
}

void clrt_dist_destroy(clrt_dist *d)
{
    if (!d)
        return;
    if (d->comm != MPI_COMM_NULL)
        MPI_Comm_free(&d->comm);
    if (d->finalize)
        MPI_Finalize();
    free(d->fused);
    free(d);
}

int clrt_dist_rank(const clrt_dist *d)
{
    return d ? d->rank : -1;
}

int clrt_dist_size(const clrt_dist *d)
{
    return d ? d->size : 0;
}

int clrt_dist_local_rank(const clrt_dist *d)
{
    return d ? d->local_rank : -1;
}

clrt_status clrt_dist_agree(clrt_dist *d, clrt_ctx *ctx, clrt_status status)
{
    static const char fn[] = "clrt_dist_agree";
    if (!d)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: no clrt_dist", fn);
    int first = status == CLRT_OK ? INT_MAX : d->rank;
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, &first, 1, MPI_INT, MPI_MIN, d->comm, &req);
    if (rc != MPI_SUCCESS)
        return clrt__dist_fail_mpi(ctx, NULL, 0, rc, "MPI_Iallreduce", fn);
    CLRT_TRY(clrt__dist_wait(d, &req, ctx, NULL, 0, fn));
    if (status != CLRT_OK)
        return status;
    if (first == INT_MAX)
        return CLRT_OK;
    return clrt__fail(ctx, CLRT_ERR_DIST, "%s: rank %d of %d failed (its own message says why)",
                      fn, first, d->size);
}

clrt_status clrt_dist_get_stats(const clrt_dist *d, clrt_dist_stats *out)
{
    if (!d || !out)
        return CLRT_ERR_INVALID_ARG;
    *out = d->stats;
    return CLRT_OK;
}
