/* The fault walk: every OpenCL allocation, build, enqueue, transfer and map
 * (runtime/cl_calls.c) and every step of an atomic file write (create,
 * write, fsync, close, rename: clrt__fault_file_writes) that four
 * operations make is failed in turn. For each kind and N = 1, 2, ... the
 * Nth call of that kind and every later one fail, until a run of the
 * operation sees no fault fire. Each faulted run must return an error (not
 * CLRT_OK, not a crash) with a message; afterwards no tensor is leaked,
 * the operation, disarmed, gives the right result on the same context, and
 * the context is destroyed cleanly. The operations:
 *
 *   context  creating a context ($CLRT_FAULT arms it from its creation on)
 *            and clrt_ctx_build_all, then a small GEMM and a fill
 *   step     one training step of a small MLP (forward, loss, backward,
 *            Adam) and the loss read back, on a fresh context each time so
 *            its programs are built inside the step; the result is
 *            compared bit for bit with an undisturbed run
 *   save     clrt_checkpoint_save over a previous checkpoint of the same
 *            model: a failed save leaves that file as it was, byte for
 *            byte, and no temp file beside it
 *   load     clrt_checkpoint_load into a fresh model and optimizer
 *
 * Prints the faults injected and survived per kind. Tiny shapes, and the
 * step's contexts load their programs from a disk cache, so it takes
 * seconds on oclgrind too. */
#include "harness.h"
#include "io/io.h"
#include "verify/ref.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { KIND_FILE = CLRT__FAULT_KINDS, NKINDS };
static const char *const kind_names[NKINDS] = {"alloc",    "build", "enqueue",
                                               "transfer", "map",   "file"};

/* Per kind, over the whole walk. */
typedef struct tally {
    unsigned long runs;     /* runs in which a fault fired */
    unsigned long calls;    /* calls failed on purpose in them */
    unsigned long survived; /* runs that then passed every check */
} tally;
static tally tallies[NKINDS];

#define FEATURES 5
#define HIDDEN 9
#define CLASSES 3
#define BATCH 4

/* ------------------------------------------------------------ helpers */

static clrt_memory_stats stats_of(clrt_ctx *ctx)
{
    clrt_memory_stats s;
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &s));
    return s;
}

static void assert_no_leak(const char *what, clrt_ctx *ctx, const clrt_memory_stats *base)
{
    clrt_memory_stats now = stats_of(ctx);
    if (now.live_tensors != base->live_tensors || now.bytes_in_use != base->bytes_in_use)
        fail_msg("%s: %zu tensors and %zu bytes live, %zu and %zu before", what, now.live_tensors,
                 now.bytes_in_use, base->live_tensors, base->bytes_in_use);
}

static unsigned long fired(clrt_ctx *ctx, int kind)
{
    return kind == KIND_FILE ? clrt__fault_file_writes_fired()
                             : clrt__fault_fired(ctx, (clrt__fault_kind)kind);
}

/* Arm (n >= 1) or disarm (n = 0) one kind on ctx (file writes: this thread). */
static void arm(clrt_ctx *ctx, int kind, unsigned long n)
{
    if (kind == KIND_FILE)
        clrt__fault_file_writes(n, EIO);
    else
        clrt__fault_arm(ctx, (clrt__fault_kind)kind, n, CL_SUCCESS);
}

static clrt_model *make_model(clrt_ctx *ctx, uint64_t seed)
{
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, FEATURES, &m));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, HIDDEN));
    CLRT_ASSERT_OK(ctx, clrt_model_add_act(m, CLRT_ACT_RELU, 0));
    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, CLASSES));
    CLRT_ASSERT_OK(ctx, clrt_model_init(m, seed));
    return m;
}

static clrt_optim *make_optim(clrt_ctx *ctx, clrt_model *m)
{
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    oo.lr = 0.01f;
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m),
                                          &opt));
    return opt;
}

/* The tensors a step changes: every parameter and optimizer state tensor. */
static const clrt_tensor *state_tensor(const clrt_model *m, const clrt_optim *opt, size_t i,
                                       int slot)
{
    return slot < 0 ? clrt_model_param(m, (size_t)i, NULL)
           : opt    ? clrt_optim_state(opt, i, slot, NULL)
                    : NULL;
}

/* Every parameter and its optimizer state (opt may be NULL), read back into
 * one array (caller frees). */
static float *snapshot(clrt_ctx *ctx, const clrt_model *m, const clrt_optim *opt, size_t *count)
{
    size_t total = 0, at = 0;
    for (size_t i = 0; i < clrt_model_num_params(m); i++)
        for (int s = -1; s < 2; s++) {
            const clrt_tensor *t = state_tensor(m, opt, i, s);
            total += t ? clrt_tensor_numel(t) : 0;
        }
    float *all = malloc((total + 1) * sizeof *all);
    assert_non_null(all);
    for (size_t i = 0; i < clrt_model_num_params(m); i++)
        for (int s = -1; s < 2; s++) {
            const clrt_tensor *t = state_tensor(m, opt, i, s);
            if (!t)
                continue;
            CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, all + at, clrt_tensor_numel(t)));
            at += clrt_tensor_numel(t);
        }
    *count = total;
    return all;
}

static void assert_same(const char *what, const float *want, size_t nwant, const float *got,
                        size_t ngot)
{
    if (nwant != ngot)
        fail_msg("%s: %zu floats, expected %zu", what, ngot, nwant);
    for (size_t i = 0; i < nwant; i++)
        if (memcmp(&want[i], &got[i], sizeof *got) != 0)
            fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, (double)got[i],
                     (double)want[i]);
}

static unsigned char *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    unsigned char *p = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 65536;
            p = realloc(p, cap);
            assert_non_null(p);
        }
        size_t got = fread(p + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return p;
}

/* The names in dir other than "." and "..", as one string "a b ...". */
static void dir_listing(const char *dir, char *out, size_t len)
{
    out[0] = '\0';
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t used = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int w = snprintf(out + used, len - used, "%s%s", used ? " " : "", e->d_name);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    closedir(d);
}

/* C = A·B (7×3 by 3×5) and a fill on ctx, compared with the reference:
 * the context works. */
static void assert_usable(clrt_ctx *ctx)
{
    float a[21], b[15], want[35], got[35 + CLRT_TEST_GUARD];
    clrt_test_random(a, 21, 1);
    clrt_test_random(b, 15, 2);
    memset(want, 0, sizeof want);
    clrt_ref_gemm(0, 0, 7, 5, 3, 1.0f, a, b, 0.0f, want);
    clrt_tensor *ta = clrt_test_matrix(ctx, 7, 3, a), *tb = clrt_test_matrix(ctx, 3, 5, b);
    clrt_tensor *tc = clrt_test_matrix(ctx, 7, 5, NULL);
    CLRT_ASSERT_OK(ctx, clrt_gemm(ctx, 0, 0, 1.0f, ta, tb, 0.0f, tc));
    clrt_test_fill_sentinel(got, 35);
    clrt_test_read_guarded(ctx, tc, got);
    /* K = 3: a few float32 roundings of the double reference. */
    clrt_test_assert_tol("gemm after the faults", got, want, 35,
                         (clrt__tol){.rel = 1e-5, .abs = 1e-5});
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(tc, 2.5f));
    clrt_test_read_guarded(ctx, tc, got);
    for (size_t i = 0; i < 35; i++)
        assert_true(got[i] == 2.5f);
    clrt_tensor_destroy(ta);
    clrt_tensor_destroy(tb);
    clrt_tensor_destroy(tc);
}

/* --------------------------------------------------------------- walk */

typedef struct walk_state walk_state;

/* One operation under faults. prepare makes what the run needs (a context
 * too, when w->ctx is NULL) and may arm the fault itself (returning true:
 * the context's creation is part of the run); op is the run; recover runs
 * disarmed after a faulted run and checks that nothing leaked and that the
 * operation then gives the right result; check_ok checks a run that no
 * fault reached; finish frees what prepare made. */
typedef struct walk_ops {
    const char *name;
    bool (*prepare)(walk_state *w, int kind, unsigned long n);
    clrt_status (*op)(walk_state *w);
    void (*recover)(walk_state *w);
    void (*check_ok)(walk_state *w);
    void (*finish)(walk_state *w);
} walk_ops;

struct walk_state {
    clrt_ctx *ctx;
    clrt_memory_stats base; /* before the run: what must be live after it */
    clrt_model *m, *m2;
    clrt_optim *opt, *opt2;
    clrt_tensor *x, *y;
    float xdata[BATCH * FEATURES], ydata[BATCH];
    float *want; /* the undisturbed result */
    size_t nwant;
    double want_loss, loss;
    char *dir, *path;
    char *cache_dir;        /* the step's disk cache (NULL: off) */
    clrt_gemm_backend gemm; /* the step's GEMM backend */
    unsigned char *good;    /* the checkpoint a failed save must leave */
    size_t good_len;
    clrt_train_state ts;
};

/* The status and the message are the injected failure's, not another
 * failure's that followed it: the status it maps to, the context's OpenCL
 * error, or for a file write the errno in the message. */
static void check_reported(const walk_ops *ops, const walk_state *w, int kind, unsigned long n,
                           clrt_status st)
{
    static const clrt_status want[NKINDS] = {[CLRT__FAULT_ALLOC] = CLRT_ERR_OUT_OF_MEMORY,
                                             [CLRT__FAULT_BUILD] = CLRT_ERR_BUILD,
                                             [CLRT__FAULT_ENQUEUE] = CLRT_ERR_OUT_OF_MEMORY,
                                             [CLRT__FAULT_TRANSFER] = CLRT_ERR_OUT_OF_MEMORY,
                                             [CLRT__FAULT_MAP] = CLRT_ERR_OPENCL,
                                             [KIND_FILE] = CLRT_ERR_IO};
    static const cl_int code[CLRT__FAULT_KINDS] = {
        [CLRT__FAULT_ALLOC] = CL_MEM_OBJECT_ALLOCATION_FAILURE,
        [CLRT__FAULT_BUILD] = CL_BUILD_PROGRAM_FAILURE,
        [CLRT__FAULT_ENQUEUE] = CL_OUT_OF_RESOURCES,
        [CLRT__FAULT_TRANSFER] = CL_OUT_OF_RESOURCES,
        [CLRT__FAULT_MAP] = CL_MAP_FAILURE};
    const char *msg = clrt_ctx_errmsg(w->ctx);
    bool ok = st == want[kind] && msg[0] != '\0';
    if (kind == KIND_FILE)
        ok = ok && strstr(msg, strerror(EIO)) != NULL;
    else
        ok = ok && clrt_ctx_cl_error(w->ctx) == code[kind];
    if (!ok)
        fail_msg("%s: %s call %lu failed on purpose; it returned %s (want %s), OpenCL error %d, "
                 "message \"%s\"",
                 ops->name, kind_names[kind], n, clrt_status_str(st), clrt_status_str(want[kind]),
                 (int)clrt_ctx_cl_error(w->ctx), msg);
}

static void walk(const walk_ops *ops, walk_state *w, int kind)
{
    unsigned long runs = 0;
    for (unsigned long n = 1;; n++) {
        bool armed = ops->prepare(w, kind, n);
        unsigned long before = fired(w->ctx, kind);
        if (!armed)
            arm(w->ctx, kind, n);
        clrt_status st = ops->op(w);
        unsigned long calls = fired(w->ctx, kind) - before;
        arm(w->ctx, kind, 0);
        if (calls == 0) {
            if (st != CLRT_OK)
                fail_msg("%s, %s:%lu armed: no fault fired, yet %s: %s", ops->name,
                         kind_names[kind], n, clrt_status_str(st), clrt_ctx_errmsg(w->ctx));
            ops->check_ok(w);
            ops->finish(w);
            break;
        }
        if (st == CLRT_OK)
            fail_msg("%s: %s call %lu failed on purpose, yet it returned CLRT_OK", ops->name,
                     kind_names[kind], n);
        check_reported(ops, w, kind, n, st);
        tallies[kind].runs++;
        tallies[kind].calls += calls;
        runs++;
        ops->recover(w);
        ops->finish(w);
        tallies[kind].survived++;
    }
    if (runs)
        fprintf(stderr, "  %-8s %-8s %lu calls, each failed in turn\n", ops->name, kind_names[kind],
                runs);
}

static void walk_all(const walk_ops *ops, walk_state *w)
{
    for (int kind = 0; kind < NKINDS; kind++)
        walk(ops, w, kind);
}

static void destroy_ctx(walk_state *w)
{
    clrt_test_ctx_done(w->ctx);
    w->ctx = NULL;
}

/* ---- context creation and clrt_ctx_build_all */

static bool ctx_prepare(walk_state *w, int kind, unsigned long n)
{
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    char spec[64];
    snprintf(spec, sizeof spec, "%s:%lu", kind_names[kind], n);
    bool env = kind != KIND_FILE;
    if (env)
        setenv("CLRT_FAULT", spec, 1);
    w->ctx = clrt_test_ctx_with(&opt);
    unsetenv("CLRT_FAULT");
    w->base = stats_of(w->ctx);
    return env;
}

static clrt_status ctx_op(walk_state *w)
{
    return clrt_ctx_build_all(w->ctx);
}

static void ctx_recover(walk_state *w)
{
    assert_no_leak("after a failed clrt_ctx_build_all", w->ctx, &w->base);
    CLRT_ASSERT_OK(w->ctx, clrt_ctx_build_all(w->ctx));
    assert_usable(w->ctx);
    assert_no_leak("after the context's reuse", w->ctx, &w->base);
}

static void ctx_check_ok(walk_state *w)
{
    assert_usable(w->ctx);
}

static const walk_ops ctx_walk = {"context",   ctx_prepare,  ctx_op,
                                  ctx_recover, ctx_check_ok, destroy_ctx};

/* ---- one training step */

static bool step_prepare(walk_state *w, int kind, unsigned long n)
{
    (void)kind, (void)n;
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.cache_dir = w->cache_dir ? w->cache_dir : "off";
    opt.gemm = (int)w->gemm;
    w->ctx = clrt_test_ctx_with(&opt);
    w->x = clrt_test_matrix(w->ctx, BATCH, FEATURES, w->xdata);
    w->y = clrt_test_vector(w->ctx, BATCH, w->ydata);
    w->base = stats_of(w->ctx);
    w->m = make_model(w->ctx, 5);
    w->opt = make_optim(w->ctx, w->m);
    return false;
}

static clrt_status step_op(walk_state *w)
{
    clrt_status st = clrt_model_train_step(w->m, w->opt, CLRT_LOSS_CROSS_ENTROPY, w->x, w->y);
    size_t samples = 0;
    return st != CLRT_OK ? st : clrt_model_take_loss(w->m, &w->loss, &samples);
}

static void step_drop_model(walk_state *w)
{
    clrt_optim_destroy(w->opt);
    clrt_model_destroy(w->m);
    w->opt = NULL;
    w->m = NULL;
}

/* The step's result equals the undisturbed run's, bit for bit: the same
 * device, kernels and order of work. */
static void step_check_ok(walk_state *w)
{
    size_t n;
    float *got = snapshot(w->ctx, w->m, w->opt, &n);
    assert_same("parameters and Adam state after the step", w->want, w->nwant, got, n);
    free(got);
    if (w->loss != w->want_loss)
        fail_msg("loss %.9g, expected %.9g", w->loss, w->want_loss);
    step_drop_model(w);
    assert_no_leak("after the model's destruction", w->ctx, &w->base);
}

static void step_recover(walk_state *w)
{
    step_drop_model(w);
    assert_no_leak("after a failed training step", w->ctx, &w->base);
    w->m = make_model(w->ctx, 5);
    w->opt = make_optim(w->ctx, w->m);
    CLRT_ASSERT_OK(w->ctx, step_op(w));
    step_check_ok(w);
}

static void step_finish(walk_state *w)
{
    clrt_tensor_destroy(w->x);
    clrt_tensor_destroy(w->y);
    destroy_ctx(w);
}

static const walk_ops step_walk = {"step",       step_prepare,  step_op,
                                   step_recover, step_check_ok, step_finish};

/* ---- checkpoint save, over the previous checkpoint */

static bool nothing_to_prepare(walk_state *w, int kind, unsigned long n)
{
    (void)kind, (void)n;
    w->base = stats_of(w->ctx);
    return false;
}

static void nothing_to_finish(walk_state *w)
{
    (void)w;
}

static clrt_status save_op(walk_state *w)
{
    return clrt_checkpoint_save(w->path, w->m, w->opt, &w->ts);
}

/* The checkpoint is the one saved before, and nothing lies beside it. */
static void assert_checkpoint_intact(walk_state *w, const char *when)
{
    size_t len;
    unsigned char *now = read_bytes(w->path, &len);
    if (len != w->good_len || memcmp(now, w->good, len) != 0)
        fail_msg("%s: %s changed (%zu bytes, %zu before)", when, w->path, len, w->good_len);
    free(now);
    char names[1024];
    dir_listing(w->dir, names, sizeof names);
    if (strcmp(names, "model.safetensors") != 0)
        fail_msg("%s: the checkpoint directory holds \"%s\"", when, names);
}

static void save_recover(walk_state *w)
{
    assert_checkpoint_intact(w, "after a failed save");
    assert_no_leak("after a failed save", w->ctx, &w->base);
    /* The same model and state: the same bytes again. */
    CLRT_ASSERT_OK(w->ctx, save_op(w));
    assert_checkpoint_intact(w, "after saving again");
}

static void save_check_ok(walk_state *w)
{
    assert_checkpoint_intact(w, "after an undisturbed save");
}

static const walk_ops save_walk = {"save",       nothing_to_prepare, save_op,
                                   save_recover, save_check_ok,      nothing_to_finish};

/* ---- checkpoint load, into a fresh model and optimizer */

static bool load_prepare(walk_state *w, int kind, unsigned long n)
{
    (void)kind, (void)n;
    w->m2 = make_model(w->ctx, 77);
    w->opt2 = make_optim(w->ctx, w->m2);
    w->base = stats_of(w->ctx);
    return false;
}

static clrt_status load_op(walk_state *w)
{
    clrt_train_state ts = {0, 0, 0};
    clrt_status st = clrt_checkpoint_load(w->path, w->m2, w->opt2, &ts, 0);
    if (st == CLRT_OK && (ts.epoch != w->ts.epoch || ts.seed != w->ts.seed))
        fail_msg("loaded epoch %llu seed %llu, saved %llu and %llu", (unsigned long long)ts.epoch,
                 (unsigned long long)ts.seed, (unsigned long long)w->ts.epoch,
                 (unsigned long long)w->ts.seed);
    return st;
}

static void load_check_ok(walk_state *w)
{
    size_t n;
    float *got = snapshot(w->ctx, w->m2, w->opt2, &n);
    assert_same("parameters and Adam state loaded", w->want, w->nwant, got, n);
    free(got);
    assert_int_equal(clrt_optim_steps(w->opt2), clrt_optim_steps(w->opt));
}

static void load_recover(walk_state *w)
{
    assert_no_leak("after a failed load", w->ctx, &w->base);
    CLRT_ASSERT_OK(w->ctx, load_op(w));
    load_check_ok(w);
}

static void load_finish(walk_state *w)
{
    clrt_optim_destroy(w->opt2);
    clrt_model_destroy(w->m2);
    w->opt2 = NULL;
    w->m2 = NULL;
}

static const walk_ops load_walk = {"load",       load_prepare,  load_op,
                                   load_recover, load_check_ok, load_finish};

/* ------------------------------------------------------------- the test */

static void fault_walk(void **state)
{
    (void)state;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(tallies, 0, sizeof tallies);
    walk_state w = {0};
    clrt_test_random(w.xdata, BATCH * FEATURES, 9);
    for (size_t i = 0; i < BATCH; i++)
        w.ydata[i] = (float)(i % CLASSES);
    unsetenv("CLRT_FAULT");
    fprintf(stderr, "fault walk on %s:\n", clrt_test_device()->name);

    walk_all(&ctx_walk, &w);

    /* The undisturbed step, then the walk over it; with the disk cache on
     * (a temp directory), so that each run's fresh context loads its
     * programs' binaries, and a failed binary build falls back to a build
     * from source, which fails too. Then again with the host GEMM backend,
     * whose maps the other backends do not make, where it is available. */
    unsetenv("CLRT_CACHE"); /* "off" would skip the cache */
    w.cache_dir = clrt_test_tempdir();
    clrt_gemm_backend backends[2] = {CLRT_GEMM_AUTO, CLRT_GEMM_HOST};
    for (int b = 0; b < 2; b++) {
        w.gemm = backends[b];
        if (w.gemm == CLRT_GEMM_HOST) {
            clrt_ctx *probe = clrt_test_ctx();
            bool host = clrt_ctx_set_gemm_backend(probe, CLRT_GEMM_HOST) == CLRT_OK;
            clrt_test_ctx_done(probe);
            if (!host) {
                fprintf(stderr, "  (no host GEMM backend on this device: no maps to fail)\n");
                break;
            }
            fprintf(stderr, "  with the host GEMM backend:\n");
        }
        step_prepare(&w, 0, 0);
        CLRT_ASSERT_OK(w.ctx, step_op(&w));
        w.want = snapshot(w.ctx, w.m, w.opt, &w.nwant);
        w.want_loss = w.loss;
        step_drop_model(&w);
        step_finish(&w);
        walk_all(&step_walk, &w);
        free(w.want);
    }
    w.gemm = CLRT_GEMM_AUTO;
    clrt_test_rmtree(w.cache_dir);
    free(w.cache_dir);
    w.cache_dir = NULL;

    /* A model one step in, its checkpoint, then saves over it and loads. */
    w.ctx = clrt_test_ctx();
    w.dir = clrt_test_tempdir();
    size_t plen = strlen(w.dir) + 32;
    w.path = malloc(plen);
    assert_non_null(w.path);
    snprintf(w.path, plen, "%s/model.safetensors", w.dir);
    w.x = clrt_test_matrix(w.ctx, BATCH, FEATURES, w.xdata);
    w.y = clrt_test_vector(w.ctx, BATCH, w.ydata);
    w.m = make_model(w.ctx, 5);
    w.opt = make_optim(w.ctx, w.m);
    CLRT_ASSERT_OK(w.ctx, step_op(&w));
    w.ts = (clrt_train_state){1, 5, 0.01};
    CLRT_ASSERT_OK(w.ctx, save_op(&w));
    w.good = read_bytes(w.path, &w.good_len);
    w.want = snapshot(w.ctx, w.m, w.opt, &w.nwant);
    walk_all(&save_walk, &w);
    walk_all(&load_walk, &w);
    free(w.want);
    free(w.good);
    clrt_optim_destroy(w.opt);
    clrt_model_destroy(w.m);
    clrt_tensor_destroy(w.x);
    clrt_tensor_destroy(w.y);
    destroy_ctx(&w);
    clrt_test_rmtree(w.dir);
    free(w.dir);
    free(w.path);

    clock_gettime(CLOCK_MONOTONIC, &t1);
    unsigned long runs = 0, survived = 0;
    fprintf(stderr, "fault walk totals (kind: faulted runs / calls failed / survived):");
    for (int k = 0; k < NKINDS; k++) {
        fprintf(stderr, " %s %lu/%lu/%lu", kind_names[k], tallies[k].runs, tallies[k].calls,
                tallies[k].survived);
        runs += tallies[k].runs;
        survived += tallies[k].survived;
    }
    fprintf(stderr, "; %lu faulted runs, %lu survived, in %.1f s\n", runs, survived,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    /* A walk that injected nothing of a kind the operations surely make
     * has lost its hook. */
    bool host = clrt__device_is_cpu(clrt_test_device()) && tallies[CLRT__FAULT_MAP].runs > 0;
    for (int k = 0; k < NKINDS; k++)
        if ((k != CLRT__FAULT_MAP || host) && tallies[k].runs == 0)
            fail_msg("no %s fault was injected", kind_names[k]);
    assert_int_equal(survived, runs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fault_walk),
    };
    return clrt_test_main("fault_walk", tests, sizeof tests / sizeof tests[0]);
}
