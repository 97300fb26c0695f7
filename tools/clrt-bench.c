/* clrt-bench: the measurements behind docs/PERFORMANCE.md.
 *
 *   clrt-bench gemm|train|predict|step|startup|cases [--device SEL] [--backend B]
 *              [--batch N] [--steps N] [--reps N] [--filter TEXT] [--profile] [--json]
 *   clrt-bench --version
 *
 * gemm     GFLOP/s of each GEMM backend on the MLP's shapes and 1024³, and of
 *          the host OpenBLAS on host memory (the peer) in the same run.
 * train    samples/s of a training step of the Fashion-MNIST MLP
 *          (784-512-512-10, relu, SGD momentum 0.9) on random data of its
 *          shape, and the pool's allocations during the steps; the seconds
 *          from main() to the end of the first step, and that moment on
 *          CLOCK_MONOTONIC ("first_step_done", for tools/bench-peers, which
 *          times the whole process from outside).
 * predict  rows/s of clrt_model_predict on the same MLP (rows in host memory,
 *          outputs back to host memory, --steps batches of --batch rows, default
 *          40 of 256) against the training forward pass in the same run:
 *          clrt_model_forward on a batch already on the device, as many times.
 * step     µs per training step of the seed's y = sin(w·x + b), batch 100.
 * startup  seconds from main() to the end of the first training step.
 * cases    µs per device run of each case of the op table (src/verify/op_cases.c)
 *          at the shapes the device tests use on this device: the median of
 *          --reps N runs (default 11), each waited for, after a warm-up run;
 *          --filter TEXT keeps the cases whose name contains TEXT.
 *
 * gemm --tiles A,B,...: also each listed builtin tile, forced (the tile that
 * actually runs, after the work-group fit check, is in its name: "tile9",
 * or "tile9>4" where the device refused 9); --filter TEXT keeps the shapes
 * whose label ("nt 128x512x784") contains TEXT.
 *
 * --profile makes the queue with profiling. train, step: the device time of
 * each kernel over the timed steps, a table or "kernels" in JSON. gemm: the
 * device time per call of the OpenCL backends ("device_ms"), beside the wall
 * times (which then carry the profiling's own cost).
 *
 * Timings are wall-clock, best of repeated runs after a warm-up; the machine
 * is shared, so compare ratios taken in one run, not single figures. */
#include <clrt.h>

/* The op table and its driver (cases): internals of the static library. */
#include "verify/verify.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CLRT_BENCH_HAVE_CBLAS
#include <cblas.h>
#endif

typedef struct args {
    const char *bench, *device;
    int backend; /* -1: the context's default */
    size_t batch, steps, reps;
    const char *filter; /* cases: only names containing it */
    int json;
    int profile; /* --profile: per-kernel device times of the timed steps */
    unsigned tiles[8]; /* gemm --tiles: builtin tiles to time forced */
    size_t ntiles;
    int precision; /* --precision f32|bf16|f16: clrt_ctx_options.precision */
} args;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double t_start;

static void die(clrt_ctx *ctx, clrt_status st, const char *what)
{
    fprintf(stderr, "clrt-bench: %s: %s: %s\n", what, clrt_status_str(st),
            ctx ? clrt_ctx_errmsg(ctx) : "");
    exit(1);
}

#define CHECK(ctx, expr)                                                                       \
    do {                                                                                       \
        clrt_status st_ = (expr);                                                              \
        if (st_ != CLRT_OK)                                                                    \
            die(ctx, st_, #expr);                                                              \
    } while (0)

static void usage(FILE *f)
{
    fprintf(f, "usage: clrt-bench gemm|train|predict|step|startup|cases [--device SEL] "
               "[--backend auto|builtin|clblast|host] [--batch N] [--steps N] [--reps N] "
               "[--filter TEXT] [--tiles A,B,...] [--precision f32|bf16|f16] [--profile] "
               "[--json]\n");
}

static void parse(int argc, char **argv, args *a)
{
    memset(a, 0, sizeof *a);
    a->backend = -1;
    if (argc < 2) {
        usage(stderr);
        exit(2);
    }
    a->bench = argv[1];
    if (strcmp(a->bench, "--version") == 0) {
        printf("clrt-bench %s\n", clrt_version());
        exit(0);
    }
    if (strcmp(a->bench, "--help") == 0 || strcmp(a->bench, "-h") == 0) {
        usage(stdout);
        exit(0);
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (strcmp(argv[i], "--profile") == 0) {
            a->profile = 1;
        } else if (i + 1 < argc && strcmp(argv[i], "--device") == 0) {
            a->device = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--batch") == 0) {
            a->batch = strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--steps") == 0) {
            a->steps = strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--reps") == 0) {
            a->reps = strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--tiles") == 0) {
            for (char *p = argv[++i], *end; *p; p = *end ? end + 1 : end) {
                unsigned long t = strtoul(p, &end, 10);
                if (end == p || (*end && *end != ',') || t >= clrt__gemm_tile_count() ||
                    a->ntiles == sizeof a->tiles / sizeof a->tiles[0]) {
                    fprintf(stderr, "clrt-bench: --tiles takes up to 8 tiles below %u\n",
                            clrt__gemm_tile_count());
                    exit(2);
                }
                a->tiles[a->ntiles++] = (unsigned)t;
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--filter") == 0) {
            a->filter = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--precision") == 0) {
            const char *p = argv[++i];
            a->precision = -1;
            for (int k = CLRT_F32; k <= CLRT_BF16; k++)
                if (strcmp(p, clrt_dtype_name((clrt_dtype)k)) == 0)
                    a->precision = k;
            if (a->precision < 0) {
                fprintf(stderr, "clrt-bench: unknown precision \"%s\" (f32, bf16, f16)\n", p);
                exit(2);
            }
        } else if (i + 1 < argc && strcmp(argv[i], "--backend") == 0) {
            const char *b = argv[++i];
            for (int k = CLRT_GEMM_AUTO; k <= CLRT_GEMM_HOST; k++)
                if (strcmp(b, clrt_gemm_backend_name((clrt_gemm_backend)k)) == 0)
                    a->backend = k;
            if (a->backend < 0) {
                fprintf(stderr, "clrt-bench: unknown backend \"%s\"\n", b);
                exit(2);
            }
        } else {
            usage(stderr);
            exit(2);
        }
    }
    if (a->profile && (strcmp(a->bench, "startup") == 0 || strcmp(a->bench, "cases") == 0)) {
        fprintf(stderr, "clrt-bench: --profile applies to gemm, train and step\n");
        exit(2);
    }
}

static clrt_ctx *open_ctx(const args *a)
{
    clrt_ctx_options o;
    clrt_ctx_options_init(&o);
    o.device = a->device;
    o.profiling = a->profile;
    o.precision = a->precision;
    if (a->backend >= 0)
        o.gemm = a->backend;
    clrt_ctx *ctx;
    char err[4096];
    clrt_status st = clrt_ctx_create(&o, &ctx, err, sizeof err);
    if (st != CLRT_OK) {
        fprintf(stderr, "clrt-bench: %s\n", err);
        exit(1);
    }
    return ctx;
}

static clrt_tensor *random_tensor(clrt_ctx *ctx, size_t r, size_t c, unsigned seed)
{
    const size_t d[2] = {r, c};
    clrt_tensor *t;
    CHECK(ctx, clrt_tensor_create(ctx, 2, d, 0, &t));
    float *h = malloc(r * c * sizeof *h);
    if (!h)
        die(ctx, CLRT_ERR_OUT_OF_MEMORY, "host memory");
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < r * c; i++) {
        s ^= s << 13, s ^= s >> 17, s ^= s << 5;
        h[i] = (float)((double)s / 4294967296.0 - 0.5);
    }
    CHECK(ctx, clrt_tensor_write(t, h, r * c));
    free(h);
    return t;
}

static void print_json(json_t *root)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        puts(text);
    free(text);
    json_decref(root);
}

static json_t *device_fields(clrt_ctx *ctx, const char *bench)
{
    const clrt_device_info *d = clrt_ctx_device(ctx);
    return json_pack("{s:s, s:s, s:s}", "bench", bench, "device", d->name, "platform",
                     d->platform);
}

/* ------------------------------------------------------------- profile */

/* More distinct kernels than clrt has (each GEMM tile and transpose counts). */
#define KERNELS_MAX 256

/* --profile: forget the kernels launched so far (warm-up, tuning), so the
 * report covers the timed steps alone. */
static void kernels_reset(const args *a, clrt_ctx *ctx)
{
    size_t n;
    if (a->profile)
        CHECK(ctx, clrt_ctx_kernel_times(ctx, NULL, 0, &n));
}

/* --profile: the kernels since kernels_reset, over `steps` timed steps: a
 * table on stdout, or a "kernels" array added to `root` in JSON mode. */
static void kernels_report(const args *a, clrt_ctx *ctx, size_t steps, json_t *root)
{
    if (!a->profile)
        return;
    static clrt_kernel_time kt[KERNELS_MAX];
    size_t count;
    CHECK(ctx, clrt_ctx_kernel_times(ctx, kt, KERNELS_MAX, &count));
    size_t n = count < KERNELS_MAX ? count : KERNELS_MAX;
    if (a->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:s, s:I, s:f}", "name", kt[i].name, "calls",
                                                 (json_int_t)kt[i].calls, "seconds",
                                                 kt[i].seconds));
        json_object_set_new(root, "kernels", arr);
        return;
    }
    double total = 0;
    unsigned long long calls = 0;
    for (size_t i = 0; i < n; i++)
        total += kt[i].seconds, calls += kt[i].calls;
    printf("\nkernel device time over %zu steps: %.3f ms, %.1f us per step\n", steps,
           total * 1e3, steps ? total * 1e6 / (double)steps : 0.0);
    printf("%-32s %8s %10s %10s %7s\n", "kernel", "calls", "total ms", "us/call", "share");
    for (size_t i = 0; i < n; i++)
        printf("%-32s %8llu %10.3f %10.2f %6.1f%%\n", kt[i].name, kt[i].calls,
               kt[i].seconds * 1e3, kt[i].calls ? kt[i].seconds * 1e6 / (double)kt[i].calls : 0.0,
               total > 0 ? 100.0 * kt[i].seconds / total : 0.0);
    printf("%-32s %8llu %10.3f\n", "total", calls, total * 1e3);
    if (count > n)
        printf("(%zu more kernels not shown)\n", count - n);
}

/* ---------------------------------------------------------------- gemm */

typedef struct gemm_shape {
    int ta, tb;
    size_t m, n, k;
} gemm_shape;

/* The training GEMMs of the MLP at batch 128 and 256 (forward X·Wᵀ: nt;
 * dX = dY·W: nn; dW = dYᵀ·X: tn), and the square 1024³. */
static const gemm_shape gemm_shapes[] = {
    {0, 1, 128, 512, 784}, {0, 1, 128, 512, 512}, {0, 1, 128, 10, 512},
    {0, 0, 128, 784, 512}, {0, 0, 128, 512, 512}, {0, 0, 128, 512, 10},
    {1, 0, 512, 784, 128}, {1, 0, 512, 512, 128}, {1, 0, 10, 512, 128},
    {0, 1, 256, 512, 784}, {0, 0, 256, 784, 512}, {1, 0, 512, 784, 256},
    {0, 0, 1024, 1024, 1024},
};

typedef struct gemm_run {
    clrt_ctx *ctx;
    const gemm_shape *s;
    clrt_tensor *a, *b, *c;
    float *ha, *hb, *hc; /* host copies for the OpenBLAS peer */
} gemm_run;

/* The peer: OpenBLAS on host memory, no OpenCL at all. */
#define GEMM_PEER (CLRT_GEMM_HOST + 1)
/* GEMM_TILE + t: the builtin backend with tile t forced (--tiles). */
#define GEMM_TILE 100

/* `calls` GEMMs on backend b issued back to back, not waited for. */
static void queue_gemms(gemm_run *g, int b, int calls)
{
    const gemm_shape *s = g->s;
    g->ctx->gemm_tile = b >= GEMM_TILE ? b - GEMM_TILE : -1;
    CHECK(g->ctx, clrt_ctx_set_gemm_backend(g->ctx, b >= GEMM_TILE ? CLRT_GEMM_BUILTIN
                                                                   : (clrt_gemm_backend)b));
    for (int r = 0; r < calls; r++)
        CHECK(g->ctx, clrt_gemm(g->ctx, s->ta, s->tb, 1.0f, g->a, g->b, 0.0f, g->c));
}

/* One timed call of backend b (or the peer); seconds. */
static double time_gemm(gemm_run *g, int b)
{
    const gemm_shape *s = g->s;
    double t0 = now();
    if (b == GEMM_PEER) {
#ifdef CLRT_BENCH_HAVE_CBLAS
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans,
                    s->tb ? CblasTrans : CblasNoTrans, (int)s->m, (int)s->n, (int)s->k, 1.0f,
                    g->ha, s->ta ? (int)s->m : (int)s->k, g->hb, s->tb ? (int)s->k : (int)s->n,
                    0.0f, g->hc, (int)s->n);
#endif
    } else {
        queue_gemms(g, b, 1);
        CHECK(g->ctx, clrt_ctx_finish(g->ctx));
    }
    return now() - t0;
}

static int bench_gemm(const args *a)
{
    clrt_ctx *ctx = open_ctx(a);
    ctx->gemm_tune_at_once = true; /* the warm-up round tunes: the rounds time the choice */
    json_t *root = device_fields(ctx, "gemm"), *rows = json_array();
    if (!a->json)
        printf("%-22s %-8s %10s %10s %10s %10s%s\n", "shape", "backend", "ms", "GFLOP/s",
               "queued ms", "GFLOP/s", a->profile ? "  device ms" : "");
    /* The backends this run measures, then the forced tiles, the peer last. */
    int backends[GEMM_PEER + 1 + 8], nb = 0;
    for (int b = CLRT_GEMM_BUILTIN; b <= CLRT_GEMM_HOST; b++)
        if ((a->backend < 0 || b == a->backend) &&
            clrt_ctx_set_gemm_backend(ctx, (clrt_gemm_backend)b) == CLRT_OK)
            backends[nb++] = b;
    for (size_t t = 0; t < a->ntiles; t++)
        backends[nb++] = GEMM_TILE + (int)a->tiles[t];
#ifdef CLRT_BENCH_HAVE_CBLAS
    backends[nb++] = GEMM_PEER;
#endif
    for (size_t i = 0; i < sizeof gemm_shapes / sizeof gemm_shapes[0]; i++) {
        const gemm_shape *s = &gemm_shapes[i];
        char label[64];
        snprintf(label, sizeof label, "%c%c %zux%zux%zu", s->ta ? 't' : 'n', s->tb ? 't' : 'n',
                 s->m, s->n, s->k);
        if (a->filter && !strstr(label, a->filter))
            continue;
        gemm_run g = {ctx, s, random_tensor(ctx, s->ta ? s->k : s->m, s->ta ? s->m : s->k, 1),
                      random_tensor(ctx, s->tb ? s->n : s->k, s->tb ? s->k : s->n, 2),
                      random_tensor(ctx, s->m, s->n, 3), NULL, NULL, NULL};
        size_t na = s->m * s->k, nbe = s->k * s->n, nc = s->m * s->n;
        g.ha = calloc(na, 4), g.hb = calloc(nbe, 4), g.hc = calloc(nc, 4);
        if (!g.ha || !g.hb || !g.hc)
            die(ctx, CLRT_ERR_OUT_OF_MEMORY, "host memory");
        CHECK(ctx, clrt_tensor_read(g.a, g.ha, na));
        CHECK(ctx, clrt_tensor_read(g.b, g.hb, nbe));
        double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
        int reps = flop > 1e9 ? 5 : 20;
        /* Rounds over the backends rather than each one's runs in a row: a
         * burst of load from elsewhere on the shared machine then slows
         * every backend once instead of one backend throughout. Round 0
         * warms up (it also tunes and compiles). */
        double best[GEMM_PEER + 1 + 8];
        for (int j = 0; j < nb; j++)
            best[j] = INFINITY;
        for (int r = 0; r <= reps; r++)
            for (int j = 0; j < nb; j++) {
                double dt = time_gemm(&g, backends[j]);
                if (r > 0 && dt < best[j])
                    best[j] = dt;
            }
        /* Queued: `reps` calls back to back and one finish, as a training
         * step issues them; the launch and finish latency is then paid once,
         * not per call. Best of three batches. OpenBLAS is synchronous, so
         * its figure is the same either way. */
        double queued[GEMM_PEER + 1 + 8];
        for (int j = 0; j < nb; j++) {
            if (backends[j] == GEMM_PEER) {
                queued[j] = best[j];
                continue;
            }
            queued[j] = INFINITY;
            for (int batch = 0; batch < 3; batch++) {
                double t0 = now();
                queue_gemms(&g, backends[j], reps);
                CHECK(ctx, clrt_ctx_finish(ctx));
                double dt = (now() - t0) / reps;
                if (dt < queued[j])
                    queued[j] = dt;
            }
        }
        /* --profile: one more queued batch, whose kernels' device time per
         * call shows how much of a call's wall time the device computes. */
        double device[GEMM_PEER + 1 + 8];
        for (int j = 0; j < nb; j++) {
            device[j] = NAN;
            if (!a->profile || backends[j] == GEMM_PEER || backends[j] == CLRT_GEMM_HOST)
                continue;
            kernels_reset(a, ctx);
            queue_gemms(&g, backends[j], reps);
            clrt_kernel_time kt[8];
            size_t count;
            CHECK(ctx, clrt_ctx_kernel_times(ctx, kt, 8, &count));
            double sum = 0;
            for (size_t q = 0; q < count && q < 8; q++)
                sum += kt[q].seconds;
            device[j] = sum / reps;
        }
        for (int j = 0; j < nb; j++) {
            char tile_name[32];
            if (backends[j] >= GEMM_TILE) {
                unsigned want = (unsigned)(backends[j] - GEMM_TILE);
                clrt__gemm_args ga = {s->ta, s->tb, s->m, s->n, s->k, 1.0f, 0.0f, NULL, NULL, NULL};
                clrt__gemm_launch p;
                CHECK(ctx, clrt__gemm_plan(ctx, &ga, want, &p));
                if (p.tile == want)
                    snprintf(tile_name, sizeof tile_name, "tile%u", want);
                else
                    snprintf(tile_name, sizeof tile_name, "tile%u>%u", want, p.tile);
            }
            const char *name = backends[j] == GEMM_PEER  ? "openblas"
                               : backends[j] >= GEMM_TILE ? tile_name
                                                          : clrt_gemm_backend_name(
                                                                (clrt_gemm_backend)backends[j]);
            double t = best[j], gflops = flop / t / 1e9, qgflops = flop / queued[j] / 1e9;
            if (a->json) {
                json_t *row =
                    json_pack("{s:s, s:i, s:i, s:I, s:I, s:I, s:s, s:f, s:f, s:f, s:f}", "label",
                              label, "ta", s->ta, "tb", s->tb, "m", (json_int_t)s->m, "n",
                              (json_int_t)s->n, "k", (json_int_t)s->k, "backend", name, "ms",
                              t * 1e3, "gflops", gflops, "queued_ms", queued[j] * 1e3,
                              "queued_gflops", qgflops);
                if (!isnan(device[j]))
                    json_object_set_new(row, "device_ms", json_real(device[j] * 1e3));
                json_array_append_new(rows, row);
            } else if (a->profile) {
                printf("%-22s %-8s %10.3f %10.1f %10.3f %10.1f %10.3f\n", label, name, t * 1e3,
                       gflops, queued[j] * 1e3, qgflops, device[j] * 1e3);
            } else {
                printf("%-22s %-8s %10.3f %10.1f %10.3f %10.1f\n", label, name, t * 1e3, gflops,
                       queued[j] * 1e3, qgflops);
            }
        }
        free(g.ha), free(g.hb), free(g.hc);
        clrt_tensor_destroy(g.a), clrt_tensor_destroy(g.b), clrt_tensor_destroy(g.c);
    }
    if (a->json) {
        json_object_set_new(root, "results", rows);
        print_json(root);
    } else {
        json_decref(rows), json_decref(root);
    }
    ctx->gemm_tile = -1;
    clrt_ctx_destroy(ctx);
    return 0;
}

/* --------------------------------------------------------- train, step */

/* Bytes of parameters + optimizer state + activations and their gradients
 * for a batch: what a training step cannot do without. The activations
 * and their gradients take `act_bytes` each (2 with 16-bit storage); the
 * input and labels are float32. */
static size_t expected_bytes(const size_t *widths, size_t nw, size_t batch, size_t act_bytes)
{
    size_t params = 0, acts = 0;
    for (size_t i = 0; i + 1 < nw; i++) {
        params += widths[i + 1] * widths[i] + widths[i + 1];
        acts += 2 * batch * widths[i + 1]; /* output and its gradient */
    }
    /* params, grads, momentum; activations; input and labels */
    return 4 * 3 * params + act_bytes * acts + 4 * (batch * widths[0] + batch);
}

static int bench_train(const args *a)
{
    clrt_ctx *ctx = open_ctx(a);
    size_t batch = a->batch ? a->batch : 128, steps = a->steps ? a->steps : 100;
    const size_t widths[4] = {784, 512, 512, 10};
    clrt_model *m;
    CHECK(ctx, clrt_model_create(ctx, 784, &m));
    for (int i = 1; i < 4; i++) {
        CHECK(ctx, clrt_model_add_linear(m, widths[i]));
        if (i < 3)
            CHECK(ctx, clrt_model_add_act(m, CLRT_ACT_RELU, 0));
    }
    CHECK(ctx, clrt_model_init(m, 0));
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_SGD);
    oo.lr = 0.05f;
    oo.momentum = 0.9f;
    clrt_optim *opt;
    CHECK(ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m), &opt));
    clrt_tensor *x = random_tensor(ctx, batch, 784, 4);
    float *labels = malloc(batch * sizeof *labels);
    for (size_t i = 0; i < batch; i++)
        labels[i] = (float)(i * 7 % 10);
    clrt_tensor *y;
    CHECK(ctx, clrt_tensor_create(ctx, 1, &batch, 0, &y));
    CHECK(ctx, clrt_tensor_write(y, labels, batch));
    free(labels);
    /* Warm-up: builds the kernels and lets `auto` choose its GEMMs. The
     * first step, waited for, is the cold or warm start of this model. */
    CHECK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, x, y));
    CHECK(ctx, clrt_ctx_finish(ctx));
    double first_step_done = now(), first_step = first_step_done - t_start;
    for (int i = 1; i < 5; i++)
        CHECK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, x, y));
    CHECK(ctx, clrt_ctx_finish(ctx));
    clrt_memory_stats before, after;
    CHECK(ctx, clrt_ctx_memory_stats(ctx, &before));
    kernels_reset(a, ctx);
    double t0 = now();
    for (size_t i = 0; i < steps; i++)
        CHECK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, x, y));
    double loss;
    CHECK(ctx, clrt_model_take_loss(m, &loss, NULL)); /* waits for the steps */
    double dt = now() - t0;
    CHECK(ctx, clrt_ctx_memory_stats(ctx, &after));
    double sps = (double)(batch * steps) / dt;
    size_t expect = expected_bytes(widths, 4, batch, a->precision == CLRT_F32 ? 4 : 2);
    const char *backend = clrt_gemm_backend_name(clrt_ctx_gemm_backend(ctx));
    if (a->json) {
        json_t *root = device_fields(ctx, "train");
        json_object_update_new(root,
                               json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I}",
                                         "backend", backend, "precision",
                                         clrt_dtype_name((clrt_dtype)a->precision),
                                         "batch", (json_int_t)batch, "steps", (json_int_t)steps,
                                         "samples_per_s", sps, "seconds_to_first_step",
                                         first_step, "first_step_done", first_step_done,
                                         "allocations_during_steps",
                                         (json_int_t)(after.allocations - before.allocations),
                                         "peak_bytes", (json_int_t)after.peak_bytes,
                                         "expected_bytes", (json_int_t)expect));
        kernels_report(a, ctx, steps, root);
        print_json(root);
    } else {
        printf("train 784-512-512-10, batch %zu, gemm %s, %s storage: %.0f samples/s (%zu steps "
               "in %.3f s); first step finished %.3f s after start\n",
               batch, backend, clrt_dtype_name((clrt_dtype)a->precision), sps, steps, dt,
               first_step);
        printf("device memory: peak %.2f MiB, parameters+state+activations %.2f MiB (%.2fx); "
               "%zu allocations during the timed steps\n",
               after.peak_bytes / 1048576.0, expect / 1048576.0,
               (double)after.peak_bytes / (double)expect, after.allocations - before.allocations);
        kernels_report(a, ctx, steps, NULL);
    }
    clrt_tensor_destroy(x), clrt_tensor_destroy(y);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_ctx_destroy(ctx);
    return 0;
}

/* The MLP of bench_train, initialised, for inference. */
static clrt_model *mlp_model(clrt_ctx *ctx, const size_t widths[4])
{
    clrt_model *m;
    CHECK(ctx, clrt_model_create(ctx, widths[0], &m));
    for (int i = 1; i < 4; i++) {
        CHECK(ctx, clrt_model_add_linear(m, widths[i]));
        if (i < 3)
            CHECK(ctx, clrt_model_add_act(m, CLRT_ACT_RELU, 0));
    }
    CHECK(ctx, clrt_model_init(m, 0));
    return m;
}

static int bench_predict(const args *a)
{
    clrt_ctx *ctx = open_ctx(a);
    size_t batch = a->batch ? a->batch : 256, steps = a->steps ? a->steps : 40;
    const size_t widths[4] = {784, 512, 512, 10}, rows = batch * steps;
    clrt_model *m = mlp_model(ctx, widths);
    clrt_tensor *x = random_tensor(ctx, batch, widths[0], 4);
    float *hx = malloc(rows * widths[0] * sizeof *hx), *hy = malloc(rows * widths[3] * sizeof *hy);
    if (!hx || !hy)
        die(ctx, CLRT_ERR_OUT_OF_MEMORY, "host memory");
    for (size_t i = 0; i < rows * widths[0]; i++)
        hx[i] = (float)((double)(i * 2654435761u % 1000) / 1000.0 - 0.5);
    const clrt_tensor *y;
    /* Warm-up: kernels built, GEMMs chosen, work tensors made. */
    CHECK(ctx, clrt_model_predict(m, hx, rows, batch, hy));
    CHECK(ctx, clrt_model_forward(m, x, &y));
    CHECK(ctx, clrt_ctx_finish(ctx));
    /* Best of 3 each, alternating, so both see the same machine. */
    double best_fwd = 1e30, best_pred = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        for (size_t i = 0; i < steps; i++) {
            CHECK(ctx, clrt_model_forward(m, x, &y));
            if ((i + 1) % 8 == 0) /* predict's wait every 8 batches: only transfers differ */
                CHECK(ctx, clrt_ctx_finish(ctx));
        }
        CHECK(ctx, clrt_ctx_finish(ctx));
        double t1 = now();
        CHECK(ctx, clrt_model_predict(m, hx, rows, batch, hy));
        double t2 = now();
        best_fwd = t1 - t0 < best_fwd ? t1 - t0 : best_fwd;
        best_pred = t2 - t1 < best_pred ? t2 - t1 : best_pred;
    }
    double fwd_rps = (double)rows / best_fwd, pred_rps = (double)rows / best_pred;
    const char *backend = clrt_gemm_backend_name(clrt_ctx_gemm_backend(ctx));
    if (a->json) {
        json_t *root = device_fields(ctx, "predict");
        json_object_update_new(root, json_pack("{s:s, s:I, s:I, s:f, s:f, s:f}", "backend",
                                               backend, "batch", (json_int_t)batch, "rows",
                                               (json_int_t)rows, "forward_rows_per_s", fwd_rps,
                                               "predict_rows_per_s", pred_rps,
                                               "predict_over_forward", pred_rps / fwd_rps));
        print_json(root);
    } else {
        printf("predict 784-512-512-10, batch %zu, %zu rows, gemm %s: clrt_model_predict %.0f "
               "rows/s (host in, host out), training forward %.0f rows/s (device-resident "
               "batch): ratio %.2f\n",
               batch, rows, backend, pred_rps, fwd_rps, pred_rps / fwd_rps);
    }
    free(hx);
    free(hy);
    clrt_tensor_destroy(x);
    clrt_model_destroy(m);
    clrt_ctx_destroy(ctx);
    return 0;
}

typedef struct sin_setup {
    clrt_model *m;
    clrt_optim *opt;
    clrt_tensor *x, *y;
} sin_setup;

static void sin_make(clrt_ctx *ctx, sin_setup *s)
{
    const size_t d[2] = {100, 1};
    float x[100], y[100];
    for (int i = 0; i < 100; i++) {
        x[i] = -1.0f + 2.0f * (float)i / 99;
        y[i] = sinf(2.0f * x[i] + 0.5f);
    }
    CHECK(ctx, clrt_tensor_create(ctx, 2, d, 0, &s->x));
    CHECK(ctx, clrt_tensor_create(ctx, 2, d, 0, &s->y));
    CHECK(ctx, clrt_tensor_write(s->x, x, 100));
    CHECK(ctx, clrt_tensor_write(s->y, y, 100));
    CHECK(ctx, clrt_model_create(ctx, 1, &s->m));
    CHECK(ctx, clrt_model_add_linear(s->m, 1));
    CHECK(ctx, clrt_model_add_act(s->m, CLRT_ACT_SIN, 0));
    CHECK(ctx, clrt_model_init(s->m, 1));
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_SGD);
    oo.lr = 0.1f;
    oo.momentum = 0.9f;
    CHECK(ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(s->m), clrt_model_params(s->m),
                                 &s->opt));
}

static void sin_free(sin_setup *s)
{
    clrt_optim_destroy(s->opt);
    clrt_model_destroy(s->m);
    clrt_tensor_destroy(s->x);
    clrt_tensor_destroy(s->y);
}

static int bench_step(const args *a)
{
    clrt_ctx *ctx = open_ctx(a);
    size_t steps = a->steps ? a->steps : 2000;
    sin_setup s;
    sin_make(ctx, &s);
    for (int i = 0; i < 20; i++)
        CHECK(ctx, clrt_model_train_step(s.m, s.opt, CLRT_LOSS_MSE, s.x, s.y));
    CHECK(ctx, clrt_ctx_finish(ctx));
    kernels_reset(a, ctx);
    double t0 = now();
    for (size_t i = 0; i < steps; i++)
        CHECK(ctx, clrt_model_train_step(s.m, s.opt, CLRT_LOSS_MSE, s.x, s.y));
    CHECK(ctx, clrt_ctx_finish(ctx));
    double queued = (now() - t0) / (double)steps;
    t0 = now();
    for (size_t i = 0; i < steps; i++) {
        CHECK(ctx, clrt_model_train_step(s.m, s.opt, CLRT_LOSS_MSE, s.x, s.y));
        CHECK(ctx, clrt_ctx_finish(ctx));
    }
    double synced = (now() - t0) / (double)steps;
    if (a->json) {
        json_t *root = device_fields(ctx, "step");
        json_object_update_new(root, json_pack("{s:s, s:I, s:f, s:f}", "backend",
                                               clrt_gemm_backend_name(clrt_ctx_gemm_backend(ctx)),
                                               "steps", (json_int_t)steps, "us_per_step",
                                               queued * 1e6, "us_per_step_synced", synced * 1e6));
        kernels_report(a, ctx, 2 * steps, root); /* both timed loops */
        print_json(root);
    } else {
        printf("sin model, batch 100: %.1f us per step queued, %.1f us with a finish after each\n",
               queued * 1e6, synced * 1e6);
        kernels_report(a, ctx, 2 * steps, NULL); /* both timed loops */
    }
    sin_free(&s);
    clrt_ctx_destroy(ctx);
    return 0;
}

static int bench_startup(const args *a)
{
    clrt_ctx *ctx = open_ctx(a);
    sin_setup s;
    sin_make(ctx, &s);
    CHECK(ctx, clrt_model_train_step(s.m, s.opt, CLRT_LOSS_MSE, s.x, s.y));
    CHECK(ctx, clrt_ctx_finish(ctx));
    double dt = now() - t_start;
    if (a->json) {
        json_t *root = device_fields(ctx, "startup");
        json_object_set_new(root, "seconds_to_first_step", json_real(dt));
        print_json(root);
    } else {
        printf("first training step finished %.3f s after start\n", dt);
    }
    sin_free(&s);
    clrt_ctx_destroy(ctx);
    return 0;
}

/* --------------------------------------------------------------- cases */

static int compare_doubles(const void *pa, const void *pb)
{
    double x = *(const double *)pa, y = *(const double *)pb;
    return x < y ? -1 : x > y;
}

static int bench_cases(const args *a)
{
    clrt_ctx *ctx = open_ctx(a);
    ctx->gemm_tune_at_once = true; /* the warm-up tunes: the runs time the choice */
    size_t reps = a->reps ? a->reps : 11;
    double *t = malloc(reps * sizeof *t);
    if (!t)
        die(ctx, CLRT_ERR_OUT_OF_MEMORY, "host memory");
    unsigned where = clrt__case_where(ctx);
    json_t *root = device_fields(ctx, "cases"), *rows = json_array();
    if (!a->json)
        printf("%-36s %-20s %12s  (median of %zu)\n", "case", "shape", "us", reps);
    for (size_t i = 0; i < clrt__op_case_count; i++) {
        const clrt__op_case *c = &clrt__op_cases[i];
        if (a->filter && !strstr(c->name, a->filter))
            continue;
        for (size_t j = 0; j < c->nshapes; j++) {
            if (!(c->shapes[j].where & where))
                continue;
            clrt__case_run *r;
            CHECK(ctx, clrt__case_prepare(ctx, c, &c->shapes[j], &r));
            /* The warm-up builds the kernels and, with auto, picks GEMMs. */
            CHECK(ctx, clrt__case_device(r));
            CHECK(ctx, clrt_ctx_finish(ctx));
            for (size_t k = 0; k < reps; k++) {
                double t0 = now();
                CHECK(ctx, clrt__case_device(r));
                CHECK(ctx, clrt_ctx_finish(ctx));
                t[k] = now() - t0;
            }
            clrt__case_free(r);
            qsort(t, reps, sizeof *t, compare_doubles);
            double median = reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
            char shape[64];
            clrt__shape_str(c->shapes[j].rank, c->shapes[j].dims, shape, sizeof shape);
            if (a->json)
                json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:f, s:I}", "case",
                                                      c->name, "family", c->family, "shape",
                                                      shape, "median_us", median * 1e6, "reps",
                                                      (json_int_t)reps));
            else
                printf("%-36s %-20s %12.1f\n", c->name, shape, median * 1e6);
        }
    }
    if (a->json) {
        json_object_set_new(root, "results", rows);
        print_json(root);
    } else {
        json_decref(rows), json_decref(root);
    }
    free(t);
    clrt_ctx_destroy(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    t_start = now();
    args a;
    parse(argc, argv, &a);
    if (strcmp(a.bench, "gemm") == 0)
        return bench_gemm(&a);
    if (strcmp(a.bench, "train") == 0)
        return bench_train(&a);
    if (strcmp(a.bench, "predict") == 0)
        return bench_predict(&a);
    if (strcmp(a.bench, "step") == 0)
        return bench_step(&a);
    if (strcmp(a.bench, "startup") == 0)
        return bench_startup(&a);
    if (strcmp(a.bench, "cases") == 0)
        return bench_cases(&a);
    usage(stderr);
    return 2;
}
