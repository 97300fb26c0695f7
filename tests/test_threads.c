/* The threading rule of clrt.h, exercised: two contexts, each made, used
 * and destroyed by a thread of its own, train a small MLP at the same time
 * (a loader, Adam, a checkpoint saved and loaded back), and every result
 * equals the same runs made one after the other on one thread. Built
 * normally it is a device test; tools/run-sanitizers also runs it in a
 * ThreadSanitizer build (build-tsan), where a data race between the two
 * threads inside clrt fails it. */
#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 96
#define FEATURES 5
#define CLASSES 3
#define HIDDEN 16
#define EPOCHS 3
#define NPARAMS 4

/* What one run needs and what it gives back; filled by the thread, read by
 * the main thread after pthread_join. */
typedef struct run {
    const clrt_ctx_options *opt;
    uint64_t seed;
    char path[512]; /* its own checkpoint file */
    clrt_status st;
    char what[96], msg[1024]; /* the failing call and its message */
    float *params[NPARAMS];   /* after training, read back */
    float *loaded[NPARAMS];   /* after the checkpoint went out and back */
    size_t sizes[NPARAMS];
    double loss;
} run;

static clrt_status record(run *r, clrt_ctx *ctx, clrt_status st, const char *what)
{
    if (st != CLRT_OK && r->st == CLRT_OK) {
        r->st = st;
        snprintf(r->what, sizeof r->what, "%s", what);
        snprintf(r->msg, sizeof r->msg, "%s", ctx ? clrt_ctx_errmsg(ctx) : "");
    }
    return st;
}

#define STEP(r, ctx, expr)                                                                         \
    do {                                                                                           \
        if (record((r), (ctx), (expr), #expr) != CLRT_OK)                                          \
            goto out;                                                                              \
    } while (0)

static clrt_status read_params(clrt_model *m, float **into, size_t *sizes)
{
    for (size_t i = 0; i < NPARAMS; i++) {
        clrt_tensor *p = clrt_model_param(m, i, NULL);
        sizes[i] = clrt_tensor_numel(p);
        into[i] = malloc(sizes[i] * sizeof(float));
        if (!into[i])
            return CLRT_ERR_OUT_OF_MEMORY;
        clrt_status st = clrt_tensor_read(p, into[i], sizes[i]);
        if (st != CLRT_OK)
            return st;
    }
    return CLRT_OK;
}

/* FEATURES → HIDDEN tanh → CLASSES, EPOCHS epochs of shuffled batches of
 * 32 from a data set made from the seed, then a save and a load into a
 * fresh model. Everything on a context of this thread's own. */
static void *train(void *arg)
{
    run *r = arg;
    clrt_ctx *ctx = NULL;
    clrt_dataset *ds = NULL;
    clrt_model *m = NULL, *back = NULL;
    clrt_optim *opt = NULL;
    clrt_loader *loader = NULL;
    float data[ROWS * FEATURES], labels[ROWS];
    clrt_test_random(data, ROWS * FEATURES, (uint32_t)r->seed);
    for (size_t i = 0; i < ROWS; i++)
        labels[i] = (float)((i * 7 + r->seed) % CLASSES);
    char err[1024] = "";
    if (record(r, NULL, clrt_ctx_create(r->opt, &ctx, err, sizeof err), "clrt_ctx_create") !=
        CLRT_OK) {
        snprintf(r->msg, sizeof r->msg, "%s", err);
        return NULL;
    }
    if (record(r, NULL, clrt_dataset_create(ROWS, FEATURES, data, labels, &ds, err, sizeof err),
               "clrt_dataset_create") != CLRT_OK) {
        snprintf(r->msg, sizeof r->msg, "%s", err);
        goto out;
    }
    STEP(r, ctx, clrt_model_create(ctx, FEATURES, &m));
    STEP(r, ctx, clrt_model_add_linear(m, HIDDEN));
    STEP(r, ctx, clrt_model_add_act(m, CLRT_ACT_TANH, 0));
    STEP(r, ctx, clrt_model_add_linear(m, CLASSES));
    STEP(r, ctx, clrt_model_init(m, r->seed));
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    oo.lr = 0.01f;
    STEP(r, ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m), &opt));
    clrt_loader_options lo;
    clrt_loader_options_init(&lo);
    lo.batch = 32;
    lo.shuffle = 1;
    lo.seed = r->seed;
    STEP(r, ctx, clrt_loader_create(ctx, ds, &lo, &loader));
    for (uint64_t e = 0; e < EPOCHS; e++) {
        STEP(r, ctx, clrt_loader_begin(loader, e));
        for (;;) {
            const clrt_tensor *x, *y;
            STEP(r, ctx, clrt_loader_next(loader, &x, &y));
            if (!x)
                break;
            STEP(r, ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, x, y));
        }
    }
    STEP(r, ctx, clrt_model_take_loss(m, &r->loss, NULL));
    STEP(r, ctx, read_params(m, r->params, r->sizes));
    clrt_train_state ts = {EPOCHS, r->seed, oo.lr};
    STEP(r, ctx, clrt_checkpoint_save(r->path, m, opt, &ts));
    STEP(r, ctx, clrt_model_create(ctx, FEATURES, &back));
    STEP(r, ctx, clrt_model_add_linear(back, HIDDEN));
    STEP(r, ctx, clrt_model_add_act(back, CLRT_ACT_TANH, 0));
    STEP(r, ctx, clrt_model_add_linear(back, CLASSES));
    STEP(r, ctx, clrt_checkpoint_load(r->path, back, NULL, NULL, CLRT_CHECKPOINT_WEIGHTS_ONLY));
    STEP(r, ctx, read_params(back, r->loaded, r->sizes));
out:
    clrt_loader_destroy(loader);
    clrt_optim_destroy(opt);
    clrt_model_destroy(back);
    clrt_model_destroy(m);
    clrt_dataset_destroy(ds);
    if (ctx)
        record(r, ctx, clrt_ctx_destroy(ctx), "clrt_ctx_destroy");
    return NULL;
}

static void run_init(run *r, const clrt_ctx_options *opt, uint64_t seed, const char *dir,
                     const char *tag)
{
    memset(r, 0, sizeof *r);
    r->opt = opt;
    r->seed = seed;
    snprintf(r->path, sizeof r->path, "%s/%s-%llu.safetensors", dir, tag, (unsigned long long)seed);
}

static void run_check(const run *r)
{
    if (r->st != CLRT_OK)
        fail_msg("run with seed %llu: %s returned %s: %s", (unsigned long long)r->seed, r->what,
                 clrt_status_str(r->st), r->msg);
}

static void run_free(run *r)
{
    for (size_t i = 0; i < NPARAMS; i++) {
        free(r->params[i]);
        free(r->loaded[i]);
    }
}

/* Same device, same kernels, same order of work: the results are the same
 * bits, whichever thread ran them and whatever ran beside them. */
static void assert_same_run(const run *a, const run *b)
{
    if (a->loss != b->loss)
        fail_msg("seed %llu: loss %.9g beside another thread, %.9g alone",
                 (unsigned long long)a->seed, a->loss, b->loss);
    for (size_t i = 0; i < NPARAMS; i++) {
        assert_int_equal(a->sizes[i], b->sizes[i]);
        assert_memory_equal(a->params[i], b->params[i], a->sizes[i] * sizeof(float));
        assert_memory_equal(a->loaded[i], b->params[i], a->sizes[i] * sizeof(float));
    }
}

static void two_threads_two_contexts(void **state)
{
    (void)state;
    /* Oclgrind's runtime is not thread-safe (its issues #28 and #202: two
     * threads corrupt its heap or each other's results), so there is
     * nothing of clrt's to learn there; tests/meson.build registers this
     * test for the other devices only. */
    if (clrt_test_device()->is_simulator)
        skip();
    char *dir = clrt_test_tempdir();
    /* Built here, once: clrt_test_options keeps its selector in a static. */
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.log = NULL; /* the harness's logger is not meant for two threads */

    run serial[2], parallel[2];
    for (int i = 0; i < 2; i++) {
        run_init(&serial[i], &opt, 11 + (uint64_t)i, dir, "serial");
        train(&serial[i]);
        run_check(&serial[i]);
    }
    /* Different seeds, so the two runs do not even agree by accident. */
    assert_true(
        memcmp(serial[0].params[0], serial[1].params[0], serial[0].sizes[0] * sizeof(float)) != 0);

    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        run_init(&parallel[i], &opt, 11 + (uint64_t)i, dir, "parallel");
        assert_int_equal(pthread_create(&th[i], NULL, train, &parallel[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < 2; i++) {
        run_check(&parallel[i]);
        assert_same_run(&parallel[i], &serial[i]);
    }
    fprintf(stderr,
            "threads on %s: 2 contexts, %d epochs each, losses %.6f and %.6f, equal to "
            "the serial runs\n",
            clrt_test_device()->name, EPOCHS, parallel[0].loss, parallel[1].loss);
    for (int i = 0; i < 2; i++) {
        run_free(&serial[i]);
        run_free(&parallel[i]);
    }
    clrt_test_check_simulator_log();
    clrt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_threads_two_contexts),
    };
    return clrt_test_main("threads", tests, sizeof tests / sizeof tests[0]);
}
