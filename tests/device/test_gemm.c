/* GEMM on each device: every available backend, all four transposes, odd
 * shapes, alpha/beta, beta = 0 over NaN, K = 0, shape errors, and auto. */
#include "harness.h"
#include "io/io.h"
#include "verify/ref.h"

#include <float.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct shape3 {
    size_t m, n, k;
} shape3;

/* Odd sizes, and the MLP's own; oclgrind gets the small ones only. */
static const shape3 shapes[] = {
    {1, 1, 1}, {7, 33, 1}, {33, 7, 257}, {257, 33, 7}, {5, 3, 0}, {128, 10, 784}, {128, 512, 784},
};

static bool too_big(const shape3 *s)
{
    return clrt_test_device()->is_simulator && s->m * s->n * (s->k + 1) > 3000;
}

/* Compare against the reference with the standard bound for a float dot
 * product of length K: |err| <= (K+2)·eps·Σ|a||b| (scaled by |alpha|), plus
 * the rounding of beta·C. A and C are stored as `st`, B too unless b_f32;
 * the reference starts from the inputs as stored, and a 16-bit C adds the
 * rounding of the stored result, 2u·|C| (u = 2^-8 for bf16's 8 significant
 * bits, 2^-11 for fp16's 11) and, for fp16, half its subnormal step. */
static void check_typed(clrt_ctx *ctx, clrt_dtype st, bool b_f32, int ta, int tb,
                        const shape3 *s, float alpha, float beta)
{
    size_t m = s->m, n = s->n, k = s->k;
    size_t ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
    float *a = malloc((ar * ac + 1) * sizeof *a), *b = malloc((br * bc + 1) * sizeof *b);
    float *c0 = malloc((m * n + 1) * sizeof *c0), *want = malloc((m * n + 1) * sizeof *want);
    float *got = malloc((m * n + 1) * sizeof *got), *bound = malloc((m * n + 1) * sizeof *bound);
    float *aa = malloc((ar * ac + 1) * sizeof *aa), *ab = malloc((br * bc + 1) * sizeof *ab);
    assert_true(a && b && c0 && want && got && bound && aa && ab);
    clrt_test_random(a, ar * ac, (uint32_t)(m * 31 + k));
    clrt_test_random(b, br * bc, (uint32_t)(n * 17 + k));
    clrt_test_random(c0, m * n, (uint32_t)(m + n));
    if (beta == 0.0f && st == CLRT_F32)
        for (size_t i = 0; i < m * n; i++)
            c0[i] = NAN; /* beta 0 must ignore C */

    clrt_tensor *ta_, *tb_, *tc;
    const size_t da[2] = {ar, ac}, db[2] = {br, bc}, dc[2] = {m, n};
    CLRT_ASSERT_OK(ctx, clrt_tensor_create_typed(ctx, st, 2, da, 0, &ta_));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create_typed(ctx, b_f32 ? CLRT_F32 : st, 2, db, 0, &tb_));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create_typed(ctx, st, 2, dc, 0, &tc));
    /* Written, then read back: the reference starts from the stored values
     * (float32 reads back unchanged). */
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(ta_, a, ar * ac));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tb_, b, br * bc));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tc, c0, m * n));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(ta_, a, ar * ac));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(tb_, b, br * bc));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(tc, c0, m * n));
    for (size_t i = 0; i < ar * ac; i++)
        aa[i] = fabsf(a[i]);
    for (size_t i = 0; i < br * bc; i++)
        ab[i] = fabsf(b[i]);
    memcpy(want, c0, m * n * sizeof *want);
    clrt_ref_gemm(ta, tb, m, n, k, alpha, a, b, beta, want);
    clrt_ref_gemm(ta, tb, m, n, k, fabsf(alpha), aa, ab, 0.0f, bound);

    CLRT_ASSERT_OK(ctx, clrt_gemm(ctx, ta, tb, alpha, ta_, tb_, beta, tc));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(tc, got, m * n));
    double u = st == CLRT_BF16 ? 0x1p-8 : 0x1p-11;
    for (size_t i = 0; i < m * n; i++) {
        double tol = (double)(k + 2) * FLT_EPSILON * bound[i];
        if (st == CLRT_F32)
            tol += 1e-30;
        else
            tol += 2 * u * fabs((double)want[i]) + (st == CLRT_F16 ? 0x1p-25 : 0.0);
        if (beta != 0.0f)
            tol += 2 * FLT_EPSILON * fabs((double)beta * c0[i]);
        if (!(fabs((double)got[i] - want[i]) <= tol))
            fail_msg("%s %s gemm %c%c tile %d M=%zu N=%zu K=%zu alpha=%g beta=%g%s: C[%zu] = "
                     "%.9g, want %.9g (tolerance %.3g)",
                     clrt_gemm_backend_name(clrt_ctx_gemm_backend(ctx)), clrt_dtype_name(st),
                     ta ? 't' : 'n', tb ? 't' : 'n', ctx->gemm_tile, m, n, k, alpha, beta,
                     b_f32 ? " (B f32)" : "", i, got[i], want[i], tol);
    }
    clrt_tensor_destroy(ta_);
    clrt_tensor_destroy(tb_);
    clrt_tensor_destroy(tc);
    free(a), free(b), free(c0), free(want), free(got), free(bound), free(aa), free(ab);
}

static void check_one(clrt_ctx *ctx, int ta, int tb, const shape3 *s, float alpha, float beta)
{
    check_typed(ctx, CLRT_F32, false, ta, tb, s, alpha, beta);
}

static void check_backend(clrt_gemm_backend backend)
{
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_status st = clrt_ctx_set_gemm_backend(ctx, backend);
    if (st == CLRT_ERR_UNSUPPORTED || (backend != CLRT_GEMM_BUILTIN && clrt_test_device()->is_simulator)) {
        /* Not built in, or not for this device; say which and move on. */
        clrt_test_ctx_done(ctx);
        skip();
    }
    CLRT_ASSERT_OK(ctx, st);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        if (too_big(&shapes[s]))
            continue;
        for (int t = 0; t < 4; t++) {
            check_one(ctx, t >> 1, t & 1, &shapes[s], 1.0f, 0.0f);
            if (shapes[s].m * shapes[s].n < 5000)
                check_one(ctx, t >> 1, t & 1, &shapes[s], -1.5f, 0.5f);
        }
    }
    clrt_test_ctx_done(ctx);
}

static void builtin_backend(void **state)
{
    (void)state;
    check_backend(CLRT_GEMM_BUILTIN);
}

/* Shapes whose last block of rows (M not a multiple of TM) or of columns
 * (N a multiple of 16, not of 32) the vector kernels move back to the
 * matrix's edge: the overlap is computed twice and must be stored once,
 * which beta != 0 checks (a second store would add beta·C twice). */
static const shape3 block_edges[] = {{11, 48, 3}, {37, 80, 9}};

/* Every builtin kernel configuration, scalar and vector, on odd shapes. */
static void builtin_every_tile(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_BUILTIN));
    for (unsigned tile = 0; tile < clrt__gemm_tile_count(); tile++) {
        ctx->gemm_tile = (int)tile;
        for (size_t s = 0; s < 4; s++) { /* the small odd shapes */
            if (too_big(&shapes[s]))
                continue;
            for (int t = 0; t < 4; t++)
                check_one(ctx, t >> 1, t & 1, &shapes[s], 1.0f, s & 1 ? 0.5f : 0.0f);
        }
        for (size_t s = 0; s < sizeof block_edges / sizeof block_edges[0]; s++) {
            if (too_big(&block_edges[s]))
                continue;
            for (int t = 0; t < 4; t++) {
                check_one(ctx, t >> 1, t & 1, &block_edges[s], 1.0f, 0.0f);
                check_one(ctx, t >> 1, t & 1, &block_edges[s], -1.5f, 0.5f);
            }
        }
    }
    clrt_test_ctx_done(ctx);
}

static void check_one_16(clrt_ctx *ctx, clrt_dtype st, bool b_f32, int ta, int tb,
                         const shape3 *s, float beta)
{
    check_typed(ctx, st, b_f32, ta, tb, s, 1.0f, beta);
}

/* Every builtin tile and transpose with 16-bit operands: each pair in one
 * of the two types (alternating, so every tile and every transpose sees
 * both), B float32 in the nt kernel as a layer's forward has it, on the
 * small odd shapes with and without beta. */
static void builtin_every_tile_16_bit(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_BUILTIN));
    for (unsigned tile = 0; tile < clrt__gemm_tile_count(); tile++) {
        ctx->gemm_tile = (int)tile;
        for (int t = 0; t < 4; t++) {
            clrt_dtype st = (tile + (unsigned)t) % 2 ? CLRT_F16 : CLRT_BF16;
            for (size_t s = 1; s < 4; s++) /* {7, 33, 1}, {33, 7, 257}, {257, 33, 7} */
                if (!too_big(&shapes[s]))
                    check_one_16(ctx, st, t == 1, t >> 1, t & 1, &shapes[s], s & 1 ? 0.5f : 0.0f);
        }
    }
    clrt_test_ctx_done(ctx);
}

/* CLBlast and the host BLAS take float32 only: a 16-bit GEMM runs the
 * builtin kernels whatever the backend (and gives their result). */
static void other_backends_16_bit(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const shape3 s = {7, 33, 5};
    int ran = 0;
    for (int b = CLRT_GEMM_AUTO; b <= CLRT_GEMM_HOST; b++) {
        if (clrt_ctx_set_gemm_backend(ctx, (clrt_gemm_backend)b) != CLRT_OK)
            continue;
        check_one_16(ctx, CLRT_BF16, false, 0, 1, &s, 0.0f);
        check_one_16(ctx, CLRT_F16, true, 1, 0, &s, 0.5f);
        ran++;
    }
    assert_true(ran >= 2);
    clrt_test_ctx_done(ctx);
}

/* Every tile that tuning may pick on this device gives the same bits, on
 * every transpose pair, edges and K remainders included: the pick, which
 * may differ between processes, never changes a result. */
static void tiles_agree_bitwise(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_BUILTIN));
    unsigned first, end;
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    assert_true(end > first);
    static const shape3 cases[] = {{5, 19, 21}, {40, 70, 100}, {37, 80, 9}};
    for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
        const shape3 *d = &cases[s];
        if (too_big(d))
            continue;
        for (int t = 0; t < 4; t++) {
            int ta = t >> 1, tb = t & 1;
            float *a = malloc(d->m * d->k * 4), *b = malloc(d->k * d->n * 4);
            float *want = malloc(d->m * d->n * 4), *got = malloc(d->m * d->n * 4);
            assert_non_null(a), assert_non_null(b), assert_non_null(want), assert_non_null(got);
            clrt_test_random(a, d->m * d->k, 11);
            clrt_test_random(b, d->k * d->n, 12);
            clrt_tensor *ta_t = ta ? clrt_test_matrix(ctx, d->k, d->m, a)
                                   : clrt_test_matrix(ctx, d->m, d->k, a);
            clrt_tensor *tb_t = tb ? clrt_test_matrix(ctx, d->n, d->k, b)
                                   : clrt_test_matrix(ctx, d->k, d->n, b);
            clrt_tensor *tc = clrt_test_matrix(ctx, d->m, d->n, NULL);
            for (unsigned tile = first; tile < end; tile++) {
                ctx->gemm_tile = (int)tile;
                CLRT_ASSERT_OK(ctx, clrt_gemm(ctx, ta, tb, 1.0f, ta_t, tb_t, 0.0f, tc));
                CLRT_ASSERT_OK(ctx, clrt_tensor_read(tc, tile == first ? want : got,
                                                     d->m * d->n));
                if (tile != first && memcmp(got, want, d->m * d->n * 4) != 0)
                    fail_msg("%c%c %zux%zux%zu: tile %u differs from tile %u", ta ? 't' : 'n',
                             tb ? 't' : 'n', d->m, d->n, d->k, tile, first);
            }
            ctx->gemm_tile = -1;
            clrt_tensor_destroy(ta_t), clrt_tensor_destroy(tb_t), clrt_tensor_destroy(tc);
            free(a), free(b), free(want), free(got);
        }
    }
    clrt_test_ctx_done(ctx);
}

/* Every tile clrt launches, forced or tuned, has a work-group within the
 * kernel's CL_KERNEL_WORK_GROUP_SIZE (rusticl reports 32 and the 16×4
 * tiles once launched 64 there), its local memory within the device's. */
static void work_groups_fit(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    for (unsigned tile = 0; tile < clrt__gemm_tile_count(); tile++) {
        for (size_t s = 0; s < 4; s++) {
            for (int t = 0; t < 4; t++) {
                clrt__gemm_args g = {t >> 1, t & 1, shapes[s].m, shapes[s].n, shapes[s].k,
                                     1.0f, 0.0f, NULL, NULL, NULL};
                clrt__gemm_launch p;
                CLRT_ASSERT_OK(ctx, clrt__gemm_plan(ctx, &g, tile, &p));
                size_t limit = 0;
                assert_int_equal(clGetKernelWorkGroupInfo(p.kernel, ctx->dev.device_id,
                                                          CL_KERNEL_WORK_GROUP_SIZE,
                                                          sizeof limit, &limit, NULL),
                                 CL_SUCCESS);
                if (p.local[0] * p.local[1] > limit)
                    fail_msg("tile %u (run as %u), %zux%zux%zu: work-group %zux%zu over the "
                             "kernel's limit %zu",
                             tile, p.tile, g.m, g.n, g.k, p.local[0], p.local[1], limit);
                assert_true(clrt__gemm_tile_local_bytes(p.tile) <= ctx->dev.local_mem_bytes);
            }
        }
    }
    clrt_test_ctx_done(ctx);
}

/* A tile with a work-group of its own (lx > 0) runs with it whatever the
 * shape, its grid padded to whole groups: PoCL compiles a kernel once per
 * work-group size (0.15 s for a vector tile), and the MLP's GEMMs with N or
 * M = 10 had compiled the nt and tn kernels a second time. */
static void one_work_group_per_tile(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    static const size_t mnk[][3] = {{128, 10, 512}, {128, 512, 784}, {10, 512, 128}, {3, 5, 7}};
    for (unsigned tile = 0; tile < clrt__gemm_tile_count(); tile++)
        for (size_t s = 0; s < sizeof mnk / sizeof mnk[0]; s++)
            for (int t = 0; t < 4; t++) {
                clrt__gemm_args g = {t >> 1, t & 1, mnk[s][0], mnk[s][1], mnk[s][2],
                                     1.0f, 0.0f, NULL, NULL, NULL};
                clrt__gemm_launch p;
                CLRT_ASSERT_OK(ctx, clrt__gemm_plan(ctx, &g, tile, &p));
                const clrt__gemm_tile *run = clrt__gemm_tile_at(p.tile);
                if (run->lx && (p.local[0] != run->lx || p.local[1] != run->ly))
                    fail_msg("tile %u (run as %u), %zux%zux%zu: work-group %zux%zu, its own is "
                             "%ux%u",
                             tile, p.tile, g.m, g.n, g.k, p.local[0], p.local[1], run->lx,
                             run->ly);
            }
    clrt_test_ctx_done(ctx);
}

/* Counts the GEMM variants built k-major (CLRT_GEMM_KMAJOR), by transpose
 * pair (CLRT_GEMM_ONLY 9-12). */
static clrt_status count_kmajor(clrt_ctx *ctx, const clrt__program_variant *v, void *user)
{
    (void)ctx;
    unsigned *by_op = user, op;
    const char *only = strstr(v->defines, "CLRT_GEMM_ONLY=");
    if (strcmp(v->program, "gemm") == 0 && strstr(v->defines, "CLRT_GEMM_KMAJOR=1") && only &&
        sscanf(only, "CLRT_GEMM_ONLY=%u", &op) == 1 && op >= 9 && op <= 12)
        by_op[op - 9]++;
    return CLRT_OK;
}

/* Where the scalar and local-memory tiles are the candidates (not PoCL's
 * vector set), the k-major tiles for the nt forward GEMM are among them,
 * and the program-variant list that bundles are built from holds each of
 * their builds: a device without a compiler can pick them too. */
static void kmajor_tiles_are_candidates(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    unsigned first, end, kmajor = 0;
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    for (unsigned t = first; t < end; t++)
        kmajor += clrt__gemm_tile_at(t)->kmajor && clrt__gemm_tile_at(t)->kt > 0;
    unsigned by_op[4] = {0, 0, 0, 0};
    CLRT_ASSERT_OK(ctx, clrt__program_variants(ctx, count_kmajor, by_op));
    if (clrt__gemm_tile_at(first)->vw) {
        assert_int_equal(kmajor, 0);
    } else {
        assert_int_equal(kmajor, 2);
        for (int op = 0; op < 4; op++)
            assert_int_equal(by_op[op], kmajor);
    }
    clrt_test_ctx_done(ctx);
}

static void clblast_backend(void **state)
{
    (void)state;
    check_backend(CLRT_GEMM_CLBLAST);
}

static void host_backend(void **state)
{
    (void)state;
    check_backend(CLRT_GEMM_HOST);
}

static void auto_backend(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    ctx->gemm_tune_at_once = true; /* lazy_tuning tests the way to it over calls */
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_AUTO));
    /* Twice each: the second run uses the recorded choice. */
    for (int rep = 0; rep < 2; rep++) {
        check_one(ctx, 0, 1, &shapes[2], 1.0f, 0.0f);
        check_one(ctx, 1, 0, &shapes[3], 2.0f, 1.0f);
    }
    clrt_test_ctx_done(ctx);
}

/* Lines of <dir>/gemm-tuning.txt; -1 if it is missing. With `host`, also
 * whether any line chose the host backend. */
static int record_lines(const char *dir, bool *host)
{
    char path[4096], line[256];
    snprintf(path, sizeof path, "%s/gemm-tuning.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0;
    *host = false;
    while (fgets(line, sizeof line, f)) {
        n++;
        if (strstr(line, " host "))
            *host = true;
    }
    fclose(f);
    return n;
}

/* builtin and auto each record their choice per shape class, apart from
 * each other; auto never takes the host backend (its blocking maps stall a
 * queued step); a second context on the same cache folder reuses the record
 * instead of timing again; a GEMM too small to tune is not recorded. A
 * simulator times nothing and records nothing. */
static void tuning_record(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    for (int pass = 0; pass < 2; pass++) {
        clrt_ctx_options opt;
        clrt_test_cache_options(&opt, dir);
        clrt_ctx *ctx = clrt_test_ctx_with(&opt);
        ctx->gemm_tune_at_once = true;
        /* Two shape classes large enough to be tuned (oclgrind tunes
         * nothing: it gets small ones); then one too small to be tuned. */
        bool sim = clrt_test_device()->is_simulator;
        const shape3 *s1 = sim ? &shapes[1] : &shapes[2], *s2 = sim ? &shapes[0] : &shapes[3];
        CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_BUILTIN));
        check_one(ctx, 0, 1, s1, 1.0f, 0.0f);
        CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_AUTO));
        check_one(ctx, 0, 1, s1, 1.0f, 0.0f);
        check_one(ctx, 1, 0, s2, 1.0f, 0.0f);
        check_one(ctx, 0, 0, &shapes[1], 1.0f, 0.0f); /* 7x33x1: untuned */
        clrt_test_ctx_done(ctx);
        bool host = false;
        int lines = record_lines(dir, &host);
        if (clrt_test_device()->is_simulator) {
            assert_int_equal(lines, -1);
            continue;
        }
        /* builtin/nt, nt and tn: three classes, recorded once. */
        assert_int_equal(lines, 3);
        assert_false(host);
    }
    clrt_test_rmtree(dir);
    free(dir);
}

/* What a context logged about tuning: classes timed ("gemm <class>: ..." at
 * INFO), and warnings, the last one kept. */
typedef struct tuning_log {
    int timed, warnings;
    char last[1024];
} tuning_log;

static void log_tuning(void *user, clrt_log_level level, const char *message)
{
    tuning_log *t = user;
    if (level == CLRT_LOG_INFO && strncmp(message, "gemm ", 5) == 0)
        t->timed++;
    if (level >= CLRT_LOG_WARN) {
        t->warnings++;
        snprintf(t->last, sizeof t->last, "%s", message);
    }
}

/* The GEMMs of tuning_record (three shape classes to tune) in a context on
 * the cache folder `dir`. */
static tuning_log tune_in(const char *dir)
{
    tuning_log log = {0, 0, ""};
    clrt_ctx_options opt;
    clrt_test_cache_options(&opt, dir);
    opt.log = log_tuning;
    opt.log_user = &log;
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    ctx->gemm_tune_at_once = true;
    bool sim = clrt_test_device()->is_simulator;
    const shape3 *s1 = sim ? &shapes[1] : &shapes[2], *s2 = sim ? &shapes[0] : &shapes[3];
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_BUILTIN));
    check_one(ctx, 0, 1, s1, 1.0f, 0.0f);
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_AUTO));
    check_one(ctx, 0, 1, s1, 1.0f, 0.0f);
    check_one(ctx, 1, 0, s2, 1.0f, 0.0f);
    clrt_test_ctx_done(ctx);
    return log;
}

static char *file_text(const char *path)
{
    char *text;
    size_t len;
    assert_int_equal(clrt__read_file(path, &text, &len), 0);
    return text;
}

/* A record line's tile: decimal digits only, within the tile table, and
 * never a number sscanf would have wrapped or cut short. */
static void record_line_tiles(void **state)
{
    (void)state;
    char cls[48];
    clrt_gemm_backend b;
    unsigned tile = 99;
    assert_true(clrt__gemm_record_parse("k nt-m5 builtin 4\n", "k", cls, &b, &tile));
    assert_int_equal(tile, 4);
    assert_int_equal(b, CLRT_GEMM_BUILTIN);
    assert_string_equal(cls, "nt-m5");
    static const char *const bad[] = {
        "k nt-m5 builtin -1\n",         "k nt-m5 builtin 4294967300\n",
        "k nt-m5 builtin 18446744073709551620\n", "k nt-m5 builtin 4x\n",
        "k nt-m5 builtin +4\n",         "k nt-m5 builtin 10000000000000000004\n",
        "k nt-m5 builtin 999\n",        "other nt-m5 builtin 4\n",
        "k nt-m5 nosuch 4\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (clrt__gemm_record_parse(bad[i], "k", cls, &b, &tile))
            fail_msg("accepted %s", bad[i]);
    }
}

/* The tuning record is never used through a link, nor when others can
 * write it: appends do not reach a link's target, a record behind a link
 * or open to others' writes is not read (the classes are timed again) nor
 * appended to, and one warning says so. A simulator times nothing. */
static void tuning_record_is_not_followed(void **state)
{
    (void)state;
    bool sim = clrt_test_device()->is_simulator;
    char *dir = clrt_test_tempdir();
    char a[1024], b[1024], c[1024], d[1024], victim[1024], real[1024], rec[1100];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(c, sizeof c, "%s/c", dir);
    snprintf(d, sizeof d, "%s/d", dir);
    snprintf(victim, sizeof victim, "%s/victim.txt", dir);
    snprintf(real, sizeof real, "%s/real.txt", dir);
    assert_int_equal(mkdir(a, 0700), 0);
    assert_int_equal(mkdir(c, 0700), 0);
    assert_int_equal(mkdir(d, 0700), 0);
    FILE *f = fopen(victim, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);

    /* 1. Appends through a planted link. */
    snprintf(rec, sizeof rec, "%s/gemm-tuning.txt", a);
    assert_int_equal(symlink(victim, rec), 0);
    tuning_log log = tune_in(a);
    char *text = file_text(victim);
    assert_string_equal(text, "precious\n");
    free(text);
    struct stat sb;
    assert_int_equal(lstat(rec, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    assert_int_equal(log.timed, sim ? 0 : 3);
    assert_int_equal(log.warnings, sim ? 0 : 1);
    if (!sim)
        print_message("tuning_record_is_not_followed: link appended to: 1 refusal (%s)\n",
                      log.last);

    /* A real record, made in b. */
    log = tune_in(b);
    bool host;
    assert_int_equal(record_lines(b, &host), sim ? -1 : 3);
    if (sim) {
        clrt_test_rmtree(dir);
        free(dir);
        return;
    }
    snprintf(rec, sizeof rec, "%s/gemm-tuning.txt", b);
    assert_int_equal(rename(rec, real), 0);
    char *recorded = file_text(real);

    /* 2. Behind a link it is not read: every class is timed again, and the
     * record is left as it was. */
    snprintf(rec, sizeof rec, "%s/gemm-tuning.txt", c);
    assert_int_equal(symlink(real, rec), 0);
    log = tune_in(c);
    assert_int_equal(log.timed, 3);
    assert_int_equal(log.warnings, 1);
    print_message("tuning_record_is_not_followed: link read: 1 refusal (%s)\n", log.last);
    text = file_text(real);
    assert_string_equal(text, recorded);
    free(text);

    /* The same record as a private file of its own is used: nothing is
     * timed (so the counts above are the record's refusal). */
    snprintf(rec, sizeof rec, "%s/gemm-tuning.txt", d);
    f = fopen(rec, "w");
    assert_non_null(f);
    fputs(recorded, f);
    fclose(f);
    assert_int_equal(chmod(rec, 0600), 0);
    log = tune_in(d);
    assert_int_equal(log.timed, 0);
    assert_int_equal(log.warnings, 0);

    /* 3. Writable by its group: not read, not appended to. */
    assert_int_equal(chmod(rec, 0620), 0);
    log = tune_in(d);
    assert_int_equal(log.timed, 3);
    assert_int_equal(log.warnings, 1);
    print_message("tuning_record_is_not_followed: group-writable: 1 refusal (%s)\n", log.last);
    assert_int_equal(record_lines(d, &host), 3);
    text = file_text(rec);
    assert_string_equal(text, recorded);
    free(text);

    free(recorded);
    clrt_test_rmtree(dir);
    free(dir);
}

/* The tile of the record's one line in <dir>; -1 if there is none. */
static int recorded_tile(const char *dir)
{
    char path[4096], line[256], key[32], cls[48], name[16];
    snprintf(path, sizeof path, "%s/gemm-tuning.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    unsigned tile = 0;
    bool got = fgets(line, sizeof line, f) && sscanf(line, "%31s %47s %15s %u", key, cls, name,
                                                     &tile) == 4;
    fclose(f);
    return got ? (int)tile : -1;
}

/* Lazy tuning: a new shape class runs the default tile and builds nothing
 * else while its untuned time is below what timing would cost; past that,
 * its calls run the candidates one each (every result still right, with
 * beta = 1 accumulating into C), and then a candidate is chosen and
 * recorded. A simulator times nothing. */
static void lazy_tuning(void **state)
{
    (void)state;
    if (clrt_test_device()->is_simulator)
        skip();
    char *dir = clrt_test_tempdir();
    clrt_ctx_options opt;
    clrt_test_cache_options(&opt, dir);
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_AUTO));
    const shape3 s = {40, 70, 96};
    ctx->gemm_tune_cost_s = 1e9; /* never pays: the default throughout */
    check_one(ctx, 0, 1, &s, 2.0f, 1.0f);
    size_t built = clrt__program_count(ctx);
    for (int i = 0; i < 20; i++)
        check_one(ctx, 0, 1, &s, 2.0f, 1.0f);
    assert_int_equal(clrt__program_count(ctx), built); /* no candidate built */
    assert_int_equal(recorded_tile(dir), -1);

    ctx->gemm_tune_cost_s = 0; /* pays now: the next calls time the candidates */
    int calls = 0;
    while (recorded_tile(dir) < 0 && calls < 2000) {
        check_one(ctx, 0, 1, &s, 2.0f, 1.0f);
        calls++;
    }
    int tile = recorded_tile(dir);
    assert_true(tile >= 0);
    unsigned first, end;
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    assert_true((unsigned)tile >= first && (unsigned)tile < end);
    assert_true(clrt__program_count(ctx) > built); /* the candidates, built once timing began */
    print_message("lazy_tuning: tile %d chosen after %d calls of timing\n", tile, calls);
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);
    free(dir);
}

static void shape_errors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s23[2] = {2, 3}, s34[2] = {3, 4}, s24[2] = {2, 4}, s25[2] = {2, 5}, v3[1] = {3};
    clrt_tensor *a, *b, *c, *bad, *vec;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s23, CLRT_TENSOR_ZERO, &a));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s34, CLRT_TENSOR_ZERO, &b));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s24, CLRT_TENSOR_ZERO, &c));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s25, CLRT_TENSOR_ZERO, &bad));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, v3, CLRT_TENSOR_ZERO, &vec));
    CLRT_ASSERT_OK(ctx, clrt_gemm(ctx, 0, 0, 1.0f, a, b, 0.0f, c));
    assert_int_equal(clrt_gemm(ctx, 0, 0, 1.0f, a, b, 0.0f, bad), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[2, 5]"));
    assert_int_equal(clrt_gemm(ctx, 1, 0, 1.0f, a, b, 0.0f, c), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_gemm(ctx, 0, 0, 1.0f, vec, b, 0.0f, c), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_gemm(ctx, 0, 0, 1.0f, NULL, b, 0.0f, c), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_gemm(ctx, 0, 0, 1.0f, c, b, 0.0f, c), CLRT_ERR_SHAPE);
    /* C may not be an input. */
    const size_t s33[2] = {3, 3};
    clrt_tensor *sq;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s33, CLRT_TENSOR_ZERO, &sq));
    assert_int_equal(clrt_gemm(ctx, 0, 0, 1.0f, sq, sq, 0.0f, sq), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_ctx_set_gemm_backend(ctx, (clrt_gemm_backend)42), CLRT_ERR_INVALID_ARG);
    clrt_tensor_destroy(a), clrt_tensor_destroy(b), clrt_tensor_destroy(c);
    clrt_tensor_destroy(bad), clrt_tensor_destroy(vec), clrt_tensor_destroy(sq);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_backend), cmocka_unit_test(builtin_every_tile),
        cmocka_unit_test(builtin_every_tile_16_bit), cmocka_unit_test(other_backends_16_bit),
        cmocka_unit_test(tiles_agree_bitwise), cmocka_unit_test(work_groups_fit),
        cmocka_unit_test(one_work_group_per_tile),
        cmocka_unit_test(kmajor_tiles_are_candidates),
        cmocka_unit_test(clblast_backend),
        cmocka_unit_test(host_backend),    cmocka_unit_test(auto_backend),
        cmocka_unit_test(tuning_record),   cmocka_unit_test(tuning_record_is_not_followed),
        cmocka_unit_test(lazy_tuning),      cmocka_unit_test(record_line_tiles),
        cmocka_unit_test(shape_errors),
    };
    return clrt_test_main("gemm", tests, sizeof tests / sizeof tests[0]);
}
