/* Run under mpirun: K steps of data-parallel training on N ranks against
 * the same steps on one rank, in one program.
 *
 *   dist_equiv STEPS_PER_EPOCH EPOCHS TOLERANCE
 *
 * Every rank trains a model over its shard of each global batch (the
 * gradient hook averaging over the ranks); rank 0 also trains a second
 * model over the whole batches with no hook: the one-rank run. Ranks other
 * than 0 start from other weights, so the start-up broadcast is what makes
 * them agree. Checked on rank 0: the sharded model's weights against the
 * one-rank model's, and every rank's weights against rank 0's, each as
 * max |a - b| / (1 + |b|) <= TOLERANCE; the reduced training loss and
 * evaluation against the one-rank ones, to the same bound. The last of the
 * STEPS_PER_EPOCH batches of each epoch is short and splits unevenly (3
 * rows over 2 ranks: 1 and 2), which only the rows-weighted average gets
 * right. Then the other collectives' answers: the all-reduce counters,
 * clrt_dist_agree with every rank OK and with rank 1 failing, and
 * clrt_dist_attach refusing models of other shapes. Each rank's device is CLRT_DEVICE
 * (mpirun -x per rank: two implementations in one run). Exit 0 when every
 * check passes, 1 with the worst differences printed when not, 77 when a
 * rank has no device. */
#include <clrt.h>

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEATURES 13
#define HIDDEN 17
#define CLASSES 5
#define BATCH 24
#define LAST 3 /* rows of each epoch's last, short batch */

static int rank;

static void fail_st(clrt_status st, clrt_ctx *ctx, const char *what)
{
    fprintf(stderr, "dist_equiv: rank %d: %s: %s: %s\n", rank, what, clrt_status_str(st),
            ctx ? clrt_ctx_errmsg(ctx) : "");
    MPI_Abort(MPI_COMM_WORLD, 1);
}

#define CHECK(ctx, expr)                                                                       \
    do {                                                                                       \
        clrt_status check_st_ = (expr);                                                        \
        if (check_st_ != CLRT_OK)                                                              \
            fail_st(check_st_, (ctx), #expr);                                                  \
    } while (0)

/* A deterministic data set: the same on every rank. */
static clrt_dataset *make_data(size_t n)
{
    float *x = malloc(n * FEATURES * sizeof *x), *y = malloc(n * sizeof *y);
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        int c = (int)(i % CLASSES);
        y[i] = (float)c;
        for (int j = 0; j < FEATURES; j++) {
            s = s * 1664525u + 1013904223u;
            x[i * FEATURES + j] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f + 0.3f * (j % CLASSES == c);
        }
    }
    clrt_dataset *ds = NULL;
    char err[256];
    clrt_status st = clrt_dataset_create(n, FEATURES, x, y, &ds, err, sizeof err);
    free(x);
    free(y);
    if (st != CLRT_OK) {
        fprintf(stderr, "dist_equiv: %s\n", err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return ds;
}

static clrt_model *make_model(clrt_ctx *ctx, uint64_t seed, clrt_optim **opt)
{
    clrt_model *m = NULL;
    CHECK(ctx, clrt_model_create(ctx, FEATURES, &m));
    CHECK(ctx, clrt_model_add_linear(m, HIDDEN));
    CHECK(ctx, clrt_model_add_act(m, CLRT_ACT_TANH, 0.0f));
    CHECK(ctx, clrt_model_add_linear(m, CLASSES));
    CHECK(ctx, clrt_model_init(m, seed));
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_SGD);
    oo.lr = 0.1f;
    oo.momentum = 0.9f;
    CHECK(ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m), opt));
    return m;
}

static size_t weights_len(const clrt_model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < clrt_model_num_params(m); i++)
        n += clrt_tensor_numel(clrt_model_param(m, i, NULL));
    return n;
}

static float *read_weights(clrt_ctx *ctx, const clrt_model *m)
{
    float *w = malloc(weights_len(m) * sizeof *w), *p = w;
    for (size_t i = 0; i < clrt_model_num_params(m); i++) {
        const clrt_tensor *t = clrt_model_param(m, i, NULL);
        CHECK(ctx, clrt_tensor_read(t, p, clrt_tensor_numel(t)));
        p += clrt_tensor_numel(t);
    }
    return w;
}

static double max_rel(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (!(e <= worst)) /* NaN counts as worst */
            worst = isnan(e) ? INFINITY : e;
    }
    return worst;
}

/* Train `epochs` epochs; the per-epoch loss and test loss into loss[], eval[]. */
static void train(clrt_ctx *ctx, clrt_dist *d, clrt_model *m, clrt_optim *opt, clrt_loader *l,
                  clrt_loader *test, unsigned epochs, double *loss, double *eval)
{
    for (unsigned e = 0; e < epochs; e++) {
        CHECK(ctx, clrt_loader_begin(l, e));
        for (;;) {
            const clrt_tensor *x, *y;
            CHECK(ctx, clrt_loader_next(l, &x, &y));
            if (!x)
                break;
            CHECK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, x, y));
        }
        double acc;
        if (d) {
            CHECK(ctx, clrt_dist_take_loss(d, m, &loss[e], NULL));
            CHECK(ctx, clrt_dist_evaluate(d, m, test, &eval[e], &acc));
        } else {
            CHECK(ctx, clrt_model_take_loss(m, &loss[e], NULL));
            CHECK(ctx, clrt_model_evaluate(m, test, &eval[e], &acc));
        }
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (argc != 4) {
        fprintf(stderr, "usage: dist_equiv STEPS_PER_EPOCH EPOCHS TOLERANCE\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    size_t steps = (size_t)atoi(argv[1]);
    unsigned epochs = (unsigned)atoi(argv[2]);
    double tol = atof(argv[3]);
    if (steps < 2 || epochs < 1 || epochs > 16 || !(tol > 0)) {
        fprintf(stderr, "dist_equiv: bad arguments\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    /* The application's MPI, handed to clrt as a communicator. */
    MPI_Comm world = MPI_COMM_WORLD;
    clrt_dist_options dopt;
    clrt_dist_options_init(&dopt);
    dopt.comm = &world;
    clrt_dist *d = NULL;
    char err[4096] = "";
    if (clrt_dist_create(&dopt, &d, err, sizeof err) != CLRT_OK) {
        fprintf(stderr, "dist_equiv: %s\n", err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    int size = clrt_dist_size(d);
    char sel[128];
    if (clrt_dist_device(d, NULL, sel, sizeof sel, err, sizeof err) != CLRT_OK) {
        fprintf(stderr, "dist_equiv: %s\n", err);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    clrt_ctx_options copt;
    clrt_ctx_options_init(&copt);
    copt.device = sel;
    clrt_ctx *ctx = NULL;
    int no_device = clrt_ctx_create(&copt, &ctx, err, sizeof err) != CLRT_OK;
    /* Every rank learns whether any has no device, so all stop together. */
    int any_missing = 0;
    MPI_Allreduce(&no_device, &any_missing, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any_missing) {
        if (no_device)
            fprintf(stderr, "dist_equiv: rank %d: no device \"%s\": %s\n", rank, sel, err);
        clrt_ctx_destroy(ctx);
        clrt_dist_destroy(d);
        MPI_Finalize();
        return 77;
    }
    fprintf(stderr, "dist_equiv: rank %d of %d on %s / %s\n", rank, size,
            clrt_ctx_device(ctx)->platform, clrt_ctx_device(ctx)->name);

    size_t n = (steps - 1) * BATCH + LAST;
    clrt_dataset *train_ds = make_data(n), *test_ds = make_data(2 * BATCH + LAST);
    clrt_optim *opt = NULL;
    clrt_model *m = make_model(ctx, 7 + (uint64_t)rank, &opt); /* other weights off rank 0 */
    CHECK(ctx, clrt_dist_attach(d, m, opt));
    clrt_loader_options lo;
    clrt_loader_options_init(&lo);
    lo.batch = BATCH;
    lo.shuffle = 1;
    lo.seed = 3;
    lo.shards = (size_t)size;
    lo.shard = (size_t)rank;
    clrt_loader *l = NULL, *tl = NULL;
    CHECK(ctx, clrt_loader_create(ctx, train_ds, &lo, &l));
    lo.shuffle = 0;
    CHECK(ctx, clrt_loader_create(ctx, test_ds, &lo, &tl));
    double loss[16], eval[16];
    train(ctx, d, m, opt, l, tl, epochs, loss, eval);
    float *w = read_weights(ctx, m);
    size_t nw = weights_len(m);

    int failed = 0;
    float *all = rank == 0 ? malloc((size_t)size * nw * sizeof *all) : NULL;
    MPI_Gather(w, (int)nw, MPI_FLOAT, all, (int)nw, MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        /* The one-rank run: whole batches, no hook, rank 0's start. */
        clrt_optim *ropt = NULL;
        clrt_model *ref = make_model(ctx, 7, &ropt);
        lo.shards = 1, lo.shard = 0, lo.shuffle = 1;
        clrt_loader *rl = NULL, *rtl = NULL;
        CHECK(ctx, clrt_loader_create(ctx, train_ds, &lo, &rl));
        lo.shuffle = 0;
        CHECK(ctx, clrt_loader_create(ctx, test_ds, &lo, &rtl));
        double rloss[16], reval[16];
        train(ctx, NULL, ref, ropt, rl, rtl, epochs, rloss, reval);
        float *rw = read_weights(ctx, ref);
        double e_ref = max_rel(w, rw, nw), e_loss = 0, e_eval = 0;
        for (unsigned e = 0; e < epochs; e++) {
            e_loss = fmax(e_loss, fabs(loss[e] - rloss[e]) / (1 + fabs(rloss[e])));
            e_eval = fmax(e_eval, fabs(eval[e] - reval[e]) / (1 + fabs(reval[e])));
        }
        printf("dist_equiv: %d ranks, %zu steps of batch %d, %u epochs: weights vs one rank %.3g, "
               "train loss %.3g, test loss %.3g (tolerance %g)\n",
               size, steps * epochs, BATCH, epochs, e_ref, e_loss, e_eval, tol);
        if (!(e_ref <= tol) || !(e_loss <= tol) || !(e_eval <= tol))
            failed = 1;
        for (int r = 1; r < size; r++) {
            double e = max_rel(all + (size_t)r * nw, w, nw);
            printf("dist_equiv: rank %d's weights vs rank 0's: %.3g\n", r, e);
            if (!(e <= tol))
                failed = 1;
        }
        /* The check must be able to fail: the weights moved from the start. */
        clrt_optim *sopt = NULL;
        clrt_model *start = make_model(ctx, 7, &sopt);
        float *sw = read_weights(ctx, start);
        double moved = max_rel(w, sw, nw);
        printf("dist_equiv: the weights moved %.3g from the start\n", moved);
        if (!(moved > 100 * tol))
            failed = 1;
        free(sw);
        free(rw);
        clrt_loader_destroy(rl);
        clrt_loader_destroy(rtl);
        clrt_optim_destroy(sopt);
        clrt_model_destroy(start);
        clrt_optim_destroy(ropt);
        clrt_model_destroy(ref);
    }
    /* One all-reduce per step, of every gradient and one float. */
    clrt_dist_stats ds;
    CHECK(ctx, clrt_dist_get_stats(d, &ds));
    uint64_t want_steps = size > 1 ? steps * epochs : 0;
    if (ds.steps != want_steps || ds.bytes != want_steps * (nw + 1) * sizeof(float)) {
        printf("dist_equiv: rank %d: %llu all-reduces of %llu bytes, expected %llu of %llu\n",
               rank, (unsigned long long)ds.steps, (unsigned long long)ds.bytes,
               (unsigned long long)want_steps,
               (unsigned long long)(want_steps * (nw + 1) * sizeof(float)));
        failed = 1;
    }
    /* Agreement: all OK is OK; rank 1 failing keeps its own status and
     * gives the others CLRT_ERR_DIST naming rank 1. */
    clrt_status agreed = clrt_dist_agree(d, ctx, CLRT_OK);
    clrt_status mine = rank == 1 ? CLRT_ERR_IO : CLRT_OK;
    clrt_status told = clrt_dist_agree(d, ctx, mine);
    clrt_status want_told = size == 1 ? CLRT_OK : rank == 1 ? CLRT_ERR_IO : CLRT_ERR_DIST;
    if (agreed != CLRT_OK || told != want_told ||
        (told == CLRT_ERR_DIST && !strstr(clrt_ctx_errmsg(ctx), "rank 1 of"))) {
        printf("dist_equiv: rank %d: clrt_dist_agree gave %s then %s (%s)\n", rank,
               clrt_status_str(agreed), clrt_status_str(told), clrt_ctx_errmsg(ctx));
        failed = 1;
    }
    /* A model of another shape on rank 1: every rank is refused. */
    if (size > 1) {
        clrt_model *other = NULL;
        CHECK(ctx, clrt_model_create(ctx, FEATURES, &other));
        CHECK(ctx, clrt_model_add_linear(other, rank == 1 ? HIDDEN + 1 : HIDDEN));
        CHECK(ctx, clrt_model_add_act(other, CLRT_ACT_TANH, 0.0f));
        CHECK(ctx, clrt_model_add_linear(other, CLASSES));
        clrt_status st = clrt_dist_attach(d, other, NULL);
        if (st != CLRT_ERR_SHAPE || !strstr(clrt_ctx_errmsg(ctx), "models differ")) {
            printf("dist_equiv: rank %d: attaching models of other shapes gave %s (%s)\n", rank,
                   clrt_status_str(st), clrt_ctx_errmsg(ctx));
            failed = 1;
        }
        clrt_model_destroy(other);
    }
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    free(all);
    free(w);
    fflush(stdout);
    clrt_loader_destroy(l);
    clrt_loader_destroy(tl);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_dataset_destroy(train_ds);
    clrt_dataset_destroy(test_ds);
    CHECK(ctx, clrt_ctx_destroy(ctx));
    clrt_dist_destroy(d);
    MPI_Finalize();
    return failed;
}
