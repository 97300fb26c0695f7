/* GEMM front: argument checks, the three backends (builtin kernels, CLBlast,
 * host CBLAS on CPU devices) and `auto`, which times the candidates once per
 * (device, driver, shape class) and records the winner in memory and, when
 * the disk cache is on, in "<cache dir>/gemm-tuning.txt". */
#include "ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef CLRT_HAVE_CLBLAST
#include <clblast_c.h>
#endif
#ifdef CLRT_HAVE_CBLAS
#include <cblas.h>
#endif

/* Builtin kernel configurations. vw = 0: the scalar register-tiled kernels
 * (TM×TN per work-item in an LX×LY work-group), for GPUs. vw > 0: the vector
 * kernels (TM rows × VW columns per work-item), which CPU devices compile to
 * wide SIMD; LX×LY is their work-group. `builtin` and `auto` time the
 * candidates of the device's kind once per shape class (choose() below);
 * default_tile() is the choice where nothing is timed. */
typedef struct gemm_tile {
    unsigned tm, tn, lx, ly, vw;
} gemm_tile;

static const gemm_tile tiles[] = {
    {4, 4, 16, 4, 0}, {8, 4, 16, 4, 0}, {4, 8, 16, 4, 0}, {2, 2, 16, 8, 0},
    /* Vector tiles choose their work-group: left to itself PoCL made one
     * work-group of a 128×512 GEMM, which then ran on one thread. lx, ly
     * > 0: that many work-items (8×4 suits large GEMMs); lx = 0: whole
     * rows of the grid, split into two work-groups per compute unit, since
     * PoCL spends 1-2 µs on each work-group and a small GEMM (K = 10: 27 µs
     * against 45 with 8×4) is mostly that. PoCL splits a float16 into
     * two 256-bit halves: 6×16 keeps 12 accumulators, B's two halves and
     * A's broadcast in 15 of the 16 registers it uses, where 8×16 spills
     * (1.6× the instructions under callgrind for the same GEMM). */
    {8, 0, 8, 4, 16}, {4, 0, 8, 4, 16}, {6, 0, 8, 4, 16}, {4, 0, 8, 4, 8}, {6, 0, 8, 4, 8},
    {8, 0, 0, 0, 16}, {4, 0, 0, 0, 8}, {6, 0, 0, 0, 16},
};
enum {
    NTILES = sizeof tiles / sizeof tiles[0],
    FIRST_VECTOR_TILE = 4,
    CPU_TILE = 4,    /* 8 rows × 16 columns: nn, tn, tt on CPUs */
    CPU_NT_TILE = 7, /* the nt kernel works along K: 4 rows × 4 columns of 8-wide sums */
};

unsigned clrt__gemm_tile_count(void)
{
    return NTILES;
}

static bool wants_vector_tiles(const clrt_ctx *ctx)
{
    return clrt__device_is_cpu(&ctx->dev) && !ctx->dev.is_simulator;
}

/* The tiles worth timing on this device: vector ones on CPUs, scalar ones
 * elsewhere (each kind is 3-10× slower on the other). */
void clrt__gemm_candidate_tiles(const clrt_ctx *ctx, unsigned *first, unsigned *end)
{
    *first = wants_vector_tiles(ctx) ? FIRST_VECTOR_TILE : 0;
    *end = wants_vector_tiles(ctx) ? NTILES : FIRST_VECTOR_TILE;
}

static unsigned default_tile(const clrt_ctx *ctx, int ta, int tb)
{
    if (ctx->gemm_tile >= 0 && ctx->gemm_tile < NTILES)
        return (unsigned)ctx->gemm_tile;
    if (!wants_vector_tiles(ctx))
        return 0;
    return !ta && tb ? CPU_NT_TILE : CPU_TILE;
}

/* One decision of `auto`. */
typedef struct gemm_choice {
    char shape_class[48];
    clrt_gemm_backend backend;
    unsigned tile;
} gemm_choice;

struct clrt_gemm_tuning {
    gemm_choice *choices;
    size_t count, cap;
    bool loaded; /* the disk record has been read */
};

/* ------------------------------------------------------------ backends */

typedef struct gemm_args {
    int ta, tb;
    size_t m, n, k;
    float alpha, beta;
    const clrt_tensor *a, *b;
    clrt_tensor *c;
} gemm_args;

static const char *const kernel_names[2][2][2] = {
    {{"clrt_gemm_nn", "clrt_gemm_nt"}, {"clrt_gemm_tn", "clrt_gemm_tt"}},
    {{"clrt_gemm_vec_nn", "clrt_gemm_vec_nt"}, {"clrt_gemm_vec_tn", "clrt_gemm_vec_tt"}}};

static clrt_status builtin_kernel(clrt_ctx *ctx, unsigned tile, int ta, int tb, cl_kernel *k)
{
    const gemm_tile *t = &tiles[tile];
    /* One kernel per build (CLRT_GEMM_ONLY, see cl/gemm.cl). */
    unsigned op = 1 + 2 * (ta != 0) + (tb != 0) + (t->vw ? 4 : 0);
    char defines[192];
    if (t->vw)
        snprintf(defines, sizeof defines, "-D CLRT_GEMM_ONLY=%u -D CLRT_GEMM_TM=%u -D CLRT_GEMM_VW=%u",
                 op, t->tm, t->vw);
    else
        snprintf(defines, sizeof defines,
                 "-D CLRT_GEMM_ONLY=%u -D CLRT_GEMM_TM=%u -D CLRT_GEMM_TN=%u -D CLRT_GEMM_LX=%u "
                 "-D CLRT_GEMM_LY=%u",
                 op, t->tm, t->tn, t->lx, t->ly);
    return clrt__kernel_variant(ctx, "gemm", defines, kernel_names[t->vw != 0][ta != 0][tb != 0],
                                k);
}

clrt_status clrt__gemm_build(clrt_ctx *ctx)
{
    /* The default tile now, so that gemm.cl failing to build is reported
     * when the context is made; the other tiles differ only in -D values
     * and are built when tuning first times them (a warm start with a
     * tuning record builds only the chosen ones: 35 ms less on PoCL). */
    cl_kernel k;
    return builtin_kernel(ctx, default_tile(ctx, 0, 0), 0, 0, &k);
}

static clrt_status run_builtin(clrt_ctx *ctx, const gemm_args *g, unsigned tile)
{
    const gemm_tile *t = &tiles[tile];
    cl_kernel k;
    CLRT_TRY(builtin_kernel(ctx, tile, g->ta, g->tb, &k));
    /* 2^31, not 2^32: the kernels compute column and row indices in 32-bit
     * uint over a grid padded to whole work-groups, which must not wrap. */
    if (g->m > INT32_MAX || g->n > INT32_MAX || g->k > INT32_MAX)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "clrt_gemm: dimensions of 2^31 or more");
    CLRT_TRY(clrt__set_args(ctx, k, "clrt_gemm", "uuufmumufmu", (unsigned)g->m, (unsigned)g->n,
                            (unsigned)g->k, (double)g->alpha, g->a, (unsigned)g->a->shape[1],
                            g->b, (unsigned)g->b->shape[1], (double)g->beta, g->c,
                            (unsigned)g->c->shape[1]));
    size_t rows = (g->m + t->tm - 1) / t->tm;
    if (t->vw) {
        /* The nt vector kernel covers 4 columns per work-item (it vectorises along K). */
        size_t per_item = !g->ta && g->tb ? 4 : t->vw;
        size_t cols = (g->n + per_item - 1) / per_item, lx = t->lx, ly = t->ly;
        if (lx == 0) {
            size_t groups = 2 * (size_t)(ctx->dev.compute_units ? ctx->dev.compute_units : 1);
            size_t max = ctx->dev.max_work_group_size ? ctx->dev.max_work_group_size : 1;
            lx = cols < max ? cols : max;
            ly = (rows + groups - 1) / groups;
            if (lx * ly > max)
                ly = max / lx;
        }
        /* Work-groups no larger than the grid, which is padded to whole ones. */
        return clrt__launch_2d(ctx, k, cols, rows, cols < lx ? cols : lx, rows < ly ? rows : ly,
                               "clrt_gemm");
    }
    size_t cols = (g->n + t->tn - 1) / t->tn; /* work-items across N */
    size_t groups_x = (cols + t->lx - 1) / t->lx;
    return clrt__launch_2d(ctx, k, groups_x * t->lx, rows, t->lx, t->ly, "clrt_gemm");
}

static clrt_status run_clblast(clrt_ctx *ctx, const gemm_args *g)
{
#ifdef CLRT_HAVE_CLBLAST
    /* CLBlast's event is that of its last kernel: the GEMM itself, or,
     * when it pads, the copy out of its padded C, so the time then
     * understates the call (the padding and the GEMM go unseen). */
    cl_event ev = NULL;
    CLBlastStatusCode rc = CLBlastSgemm(
        CLBlastLayoutRowMajor, g->ta ? CLBlastTransposeYes : CLBlastTransposeNo,
        g->tb ? CLBlastTransposeYes : CLBlastTransposeNo, g->m, g->n, g->k, g->alpha,
        g->a->buf->mem, 0, g->a->shape[1], g->b->buf->mem, 0, g->b->shape[1], g->beta,
        g->c->buf->mem, 0, g->c->shape[1], &ctx->queue, ctx->profiling ? &ev : NULL);
    if (rc != CLBlastSuccess) {
        if (ev)
            clReleaseEvent(ev);
        if (rc < 0 && rc > -100) /* CLBlast passes OpenCL's own codes through */
            return clrt__fail_cl(ctx, (cl_int)rc, "CLBlastSgemm", "clrt_gemm");
        return clrt__fail(ctx, CLRT_ERR_OPENCL, "CLBlastSgemm failed with CLBlast status %d",
                          (int)rc);
    }
    if (ev)
        clrt__profile_record(ctx, "CLBlastSgemm", ev);
    return CLRT_OK;
#else
    (void)g;
    return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "clrt was built without CLBlast");
#endif
}

static clrt_status run_host(clrt_ctx *ctx, const gemm_args *g)
{
#ifdef CLRT_HAVE_CBLAS
    /* Zero-copy on CPU devices: the maps hand out the buffers themselves.
     * They block, so this backend waits for the work queued before it. */
    cl_int rc = CL_SUCCESS;
    float *pa = NULL, *pb = NULL, *pc = NULL;
    clrt_status st = CLRT_OK;
    size_t abytes = g->a->numel * sizeof(float), bbytes = g->b->numel * sizeof(float);
    size_t cbytes = g->c->numel * sizeof(float);
    cl_map_flags cflags = g->beta == 0.0f ? CL_MAP_WRITE_INVALIDATE_REGION
                                          : (CL_MAP_READ | CL_MAP_WRITE);
    pa = clEnqueueMapBuffer(ctx->queue, g->a->buf->mem, CL_TRUE, CL_MAP_READ, 0, abytes, 0, NULL,
                            NULL, &rc);
    if (rc == CL_SUCCESS)
        pb = clEnqueueMapBuffer(ctx->queue, g->b->buf->mem, CL_TRUE, CL_MAP_READ, 0, bbytes, 0,
                                NULL, NULL, &rc);
    if (rc == CL_SUCCESS)
        pc = clEnqueueMapBuffer(ctx->queue, g->c->buf->mem, CL_TRUE, cflags, 0, cbytes, 0, NULL,
                                NULL, &rc);
    if (rc == CL_SUCCESS)
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, (blasint)g->m, (blasint)g->n,
                    (blasint)g->k, g->alpha, pa, (blasint)g->a->shape[1], pb,
                    (blasint)g->b->shape[1], g->beta, pc, (blasint)g->c->shape[1]);
    else
        st = clrt__fail_cl(ctx, rc, "clEnqueueMapBuffer", "clrt_gemm (host backend)");
    if (pa)
        clEnqueueUnmapMemObject(ctx->queue, g->a->buf->mem, pa, 0, NULL, NULL);
    if (pb)
        clEnqueueUnmapMemObject(ctx->queue, g->b->buf->mem, pb, 0, NULL, NULL);
    if (pc)
        clEnqueueUnmapMemObject(ctx->queue, g->c->buf->mem, pc, 0, NULL, NULL);
    return st;
#else
    (void)g;
    return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "clrt was built without a host CBLAS");
#endif
}

static clrt_status run_choice(clrt_ctx *ctx, const gemm_args *g, clrt_gemm_backend b,
                              unsigned tile)
{
    if (tile == UINT32_MAX)
        tile = default_tile(ctx, g->ta, g->tb);
    switch (b) {
    case CLRT_GEMM_CLBLAST: return run_clblast(ctx, g);
    case CLRT_GEMM_HOST: return run_host(ctx, g);
    default: return run_builtin(ctx, g, tile);
    }
}

/* ---------------------------------------------------------------- auto */

static unsigned log2_ceil(size_t x)
{
    unsigned r = 0;
    while (((size_t)1 << r) < x)
        r++;
    return r;
}

static void shape_class(const gemm_args *g, bool builtin_only, char *buf, size_t len)
{
    snprintf(buf, len, "%s%c%c-m%u-n%u-k%u", builtin_only ? "builtin/" : "", g->ta ? 't' : 'n',
             g->tb ? 't' : 'n', log2_ceil(g->m), log2_ceil(g->n), log2_ceil(g->k));
}

/* Bumped when choose() changes what it times or how it picks. */
#define TUNING_RULES 2

/* What the record is valid for: the device and driver, and this clrt. */
static void device_key(const clrt_ctx *ctx, char *buf, size_t len)
{
    /* The tile table is part of the key: a record's tile index means
     * nothing to a build with other tiles. So are the version of the rules
     * choose() follows (TUNING_RULES), so that a change to them (such as
     * leaving the host backend out) does not reuse older choices, and the
     * embedded gemm.cl, whose timings the choices are. */
    const clrt_source *src = clrt__embedded_source("gemm");
    unsigned long long kernels =
        src ? (unsigned long long)clrt__hash64(src->data, src->len, 0) : 0;
    char text[1024];
    int used = snprintf(text, sizeof text, "%s|%d|%016llx|%s|%s|%s|", CLRT_VERSION_STRING,
                        TUNING_RULES, kernels, ctx->dev.platform, ctx->dev.name,
                        ctx->dev.driver_version);
    for (unsigned i = 0; i < NTILES && used > 0 && (size_t)used < sizeof text; i++)
        used += snprintf(text + used, sizeof text - (size_t)used, "%u.%u.%u.%u.%u,", tiles[i].tm,
                         tiles[i].tn, tiles[i].lx, tiles[i].ly, tiles[i].vw);
    snprintf(buf, len, "%016llx", (unsigned long long)clrt__hash64(text, strlen(text), 7));
}

/* The record is small and worth keeping on every device, PoCL included
 * (its kernel-binary reason for skipping the disk cache does not apply);
 * CLRT_CACHE=off or CLRT_CACHE_DIR=off turn it off with the cache. */
static char *record_path(const clrt_ctx *ctx)
{
    const char *mode = getenv("CLRT_CACHE");
    if (!ctx->cache_dir || (mode && strcmp(mode, "off") == 0))
        return NULL;
    size_t n = strlen(ctx->cache_dir) + 32;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/gemm-tuning.txt", ctx->cache_dir);
    return p;
}

static void tuning_free(void *data)
{
    struct clrt_gemm_tuning *t = data;
    if (t)
        free(t->choices);
    free(t);
}

/* The context's tuning state, made on first use; NULL when out of memory. */
static struct clrt_gemm_tuning *tuning_of(clrt_ctx *ctx)
{
    clrt__layer_state *slot = &ctx->layer_state[CLRT__STATE_GEMM_TUNING];
    if (!slot->data) {
        slot->data = calloc(1, sizeof(struct clrt_gemm_tuning));
        slot->release = tuning_free;
    }
    return slot->data;
}

static void remember(clrt_ctx *ctx, const char *cls, clrt_gemm_backend b, unsigned tile)
{
    struct clrt_gemm_tuning *t = tuning_of(ctx);
    if (!t)
        return;
    if (t->count == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        gemm_choice *grown = realloc(t->choices, cap * sizeof *grown);
        if (!grown)
            return; /* then it is timed again next time: slower, not wrong */
        t->choices = grown;
        t->cap = cap;
    }
    gemm_choice *c = &t->choices[t->count++];
    snprintf(c->shape_class, sizeof c->shape_class, "%s", cls);
    c->backend = b;
    c->tile = tile;
}

/* Lines "<device key> <shape class> <backend name> <tile>"; lines for other
 * devices or that do not parse are skipped: the record is a hint. */
static void load_record(clrt_ctx *ctx)
{
    char *path = record_path(ctx);
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f)
        return;
    char key[32], line[256];
    device_key(ctx, key, sizeof key);
    while (fgets(line, sizeof line, f)) {
        char k[32], cls[48], name[16];
        unsigned tile;
        if (sscanf(line, "%31s %47s %15s %u", k, cls, name, &tile) != 4 || strcmp(k, key) != 0)
            continue;
        for (int b = CLRT_GEMM_BUILTIN; b <= CLRT_GEMM_HOST; b++)
            if (strcmp(name, clrt_gemm_backend_name((clrt_gemm_backend)b)) == 0 && tile < NTILES &&
                !clrt__gemm_backend_unavailable(ctx, (clrt_gemm_backend)b))
                remember(ctx, cls, (clrt_gemm_backend)b, tile);
    }
    fclose(f);
}

static void append_record(clrt_ctx *ctx, const char *cls, clrt_gemm_backend b, unsigned tile)
{
    char *path = record_path(ctx);
    if (!path)
        return;
    /* Appends of one short line are atomic enough for a hint file; a torn
     * line fails to parse and is skipped. */
    FILE *f = clrt__make_dirs(ctx->cache_dir) == 0 ? fopen(path, "a") : NULL;
    if (f) {
        char key[32];
        device_key(ctx, key, sizeof key);
        fprintf(f, "%s %s %s %u\n", key, cls, clrt_gemm_backend_name(b), tile);
        fclose(f);
    }
    free(path);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One timed run of a candidate; +inf if it fails. */
static double time_once(clrt_ctx *ctx, const gemm_args *g, clrt_gemm_backend b, unsigned tile)
{
    double t0 = now_seconds();
    if (run_choice(ctx, g, b, tile) != CLRT_OK || clFinish(ctx->queue) != CL_SUCCESS)
        return INFINITY;
    return now_seconds() - t0;
}

/* GEMMs with M·N·K below this run the default tile untimed: at a few
 * thousand multiply-adds the launch is the whole cost, and timing would
 * compile every candidate (the sin model's start-up, 100×1×1, spent most
 * of its cold start there). */
#define TUNE_MIN_VOLUME 4096

/* Time budget for timing the candidates of one shape class (see choose()). */
#define TUNE_SECONDS 0.02

typedef struct gemm_candidate {
    clrt_gemm_backend backend;
    unsigned tile;
    double best; /* seconds, of the timed rounds; +inf until one, and once it fails */
    bool failed; /* a run failed: no longer timed */
} gemm_candidate;

/* builtin_only: the choice among the builtin tiles that the builtin backend
 * makes, kept apart from auto's choice among all backends. */
static clrt_status choose(clrt_ctx *ctx, const gemm_args *g, bool builtin_only,
                          clrt_gemm_backend *b, unsigned *tile)
{
    *b = CLRT_GEMM_BUILTIN;
    *tile = UINT32_MAX;
    if (ctx->dev.is_simulator)
        return CLRT_OK; /* timings of an interpreter mean nothing */
    if (builtin_only && ctx->gemm_tile >= 0)
        return CLRT_OK; /* a tile forced by a test */
    if ((double)g->m * (double)g->n * (double)g->k < TUNE_MIN_VOLUME)
        return CLRT_OK; /* all launch latency: nothing to win, compiles to save */
    struct clrt_gemm_tuning *tuning = tuning_of(ctx);
    if (!tuning)
        return CLRT_OK;
    if (!tuning->loaded) {
        tuning->loaded = true;
        load_record(ctx);
    }
    char cls[48];
    shape_class(g, builtin_only, cls, sizeof cls);
    for (size_t i = 0; i < tuning->count; i++) {
        gemm_choice *c = &tuning->choices[i];
        if (strcmp(c->shape_class, cls) == 0) {
            *b = c->backend;
            *tile = c->tile;
            return CLRT_OK;
        }
    }

    gemm_candidate cand[NTILES + 1];
    size_t ncand = 0;
    unsigned first, end;
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    for (unsigned t = first; t < end; t++)
        cand[ncand++] = (gemm_candidate){CLRT_GEMM_BUILTIN, t, INFINITY, false};
    /* Not the host backend: its blocking maps drain the queue, a cost to
     * everything queued around it that a GEMM timed alone does not show.
     * Taken for one shape class where it timed faster, it cut clrt-train
     * from 47k to 25k samples/s on PoCL, and still did when it had to time
     * 1.5x faster. It stays available by name. */
    if (!builtin_only && !clrt__gemm_backend_unavailable(ctx, CLRT_GEMM_CLBLAST))
        cand[ncand++] = (gemm_candidate){CLRT_GEMM_CLBLAST, 0, INFINITY, false};

    clrt_tensor *scratch;
    if (clrt_tensor_create(ctx, 2, g->c->shape, CLRT_TENSOR_ZERO, &scratch) != CLRT_OK)
        return CLRT_OK; /* no room to time: the default runs, untuned this once */
    gemm_args trial = *g;
    trial.c = scratch;
    trial.beta = 0.0f;
    /* Rounds over all candidates rather than each one's runs in a row: a
     * burst of load from elsewhere on the machine then slows every candidate
     * once instead of one candidate throughout. Round 0 warms up (and
     * compiles); the best of the others counts. Small GEMMs, where a burst
     * weighs most, get more rounds: as many as fit in TUNE_SECONDS, from 3
     * to 20. */
    int rounds = 4;
    ctx->tuning = true;
    for (int round = 0; round < rounds; round++) {
        double t0 = now_seconds();
        for (size_t i = 0; i < ncand; i++) {
            if (cand[i].failed)
                continue;
            double dt = time_once(ctx, &trial, cand[i].backend, cand[i].tile);
            if (isinf(dt))
                cand[i].failed = true, cand[i].best = INFINITY;
            else if (round > 0 && dt < cand[i].best)
                cand[i].best = dt;
        }
        if (round == 1) {
            double per_round = now_seconds() - t0;
            double fit = per_round > 0 ? TUNE_SECONDS / per_round : 20;
            rounds = 1 + (fit < 3 ? 3 : fit > 20 ? 20 : (int)fit);
        }
    }
    ctx->tuning = false;
    clrt_tensor_destroy(scratch);
    double best = INFINITY;
    for (size_t i = 0; i < ncand; i++)
        if (cand[i].best < best)
            best = cand[i].best, *b = cand[i].backend, *tile = cand[i].tile;
    if (isinf(best)) {
        /* All failed: the default runs and reports why. Remembered in this
         * context, so later calls do not time again, but not on disk: the
         * cause may pass. */
        remember(ctx, cls, CLRT_GEMM_BUILTIN, UINT32_MAX);
        return CLRT_OK;
    }
    clrt__log(ctx, CLRT_LOG_INFO, "gemm %s: %s (tile %u) in %.3g ms", cls,
              clrt_gemm_backend_name(*b), *tile, best * 1e3);
    remember(ctx, cls, *b, *tile);
    append_record(ctx, cls, *b, *tile);
    return CLRT_OK;
}

/* --------------------------------------------------------------- entry */

clrt_status clrt_gemm(clrt_ctx *ctx, int trans_a, int trans_b, float alpha, const clrt_tensor *a,
                      const clrt_tensor *b, float beta, clrt_tensor *c)
{
    static const char fn[] = "clrt_gemm";
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    CLRT_TRY(clrt__expect_dims(ctx, fn, "A", a, 2, NULL));
    CLRT_TRY(clrt__expect_dims(ctx, fn, "B", b, 2, NULL));
    CLRT_TRY(clrt__expect_dims(ctx, fn, "C", c, 2, NULL));
    gemm_args g = {trans_a != 0, trans_b != 0, 0, 0, 0, alpha, beta, a, b, c};
    g.m = g.ta ? a->shape[1] : a->shape[0];
    g.k = g.ta ? a->shape[0] : a->shape[1];
    size_t kb = g.tb ? b->shape[1] : b->shape[0];
    g.n = g.tb ? b->shape[0] : b->shape[1];
    if (kb != g.k || c->shape[0] != g.m || c->shape[1] != g.n) {
        char sa[64], sb[64], sc[64];
        clrt__shape_str(2, a->shape, sa, sizeof sa);
        clrt__shape_str(2, b->shape, sb, sizeof sb);
        clrt__shape_str(2, c->shape, sc, sizeof sc);
        return clrt__fail(ctx, CLRT_ERR_SHAPE,
                          "%s: op(A) of A %s%s and op(B) of B %s%s do not make C %s", fn, sa,
                          g.ta ? "^T" : "", sb, g.tb ? "^T" : "", sc);
    }
    if (clrt__aliases(c, a) || clrt__aliases(c, b))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "%s: C shares its buffer with A or B", fn);
    if (g.m == 0 || g.n == 0)
        return CLRT_OK;

    clrt_gemm_backend backend = ctx->gemm_backend;
    unsigned tile = UINT32_MAX; /* the device's default */
    if ((backend == CLRT_GEMM_AUTO || backend == CLRT_GEMM_BUILTIN) && g.k > 0)
        CLRT_TRY(choose(ctx, &g, backend == CLRT_GEMM_BUILTIN, &backend, &tile));
    else if (backend == CLRT_GEMM_AUTO)
        backend = CLRT_GEMM_BUILTIN; /* C = beta·C: nothing to tune */
    if (g.k == 0 && backend != CLRT_GEMM_BUILTIN)
        backend = CLRT_GEMM_BUILTIN; /* some BLAS reject K = 0 */
    return run_choice(ctx, &g, backend, tile);
}
