/* GEMM front: argument checks, the builtin kernels' tiles and the three
 * backends (builtin kernels, CLBlast, host CBLAS on CPU devices). Which
 * backend and tile a call runs with is gemm_tune.c's choice. */
#include "ops/ops.h"

#include <stdio.h>

#ifdef CLRT_HAVE_CLBLAST
#include <clblast_c.h>
#endif
#ifdef CLRT_HAVE_CBLAS
#include <cblas.h>
#endif

/* Builtin kernel configurations. vw = 0: the scalar register-tiled kernels
 * (TM×TN per work-item in an LX×LY work-group), for GPUs; with kt > 0 the
 * same with KT-deep blocks of A and B in local memory. vw > 0: the vector
 * kernels (TM rows × TN vectors of VW columns per work-item, TN 0 meaning
 * 1; nt: TM rows × 4 columns), which CPU devices compile to wide SIMD;
 * LX×LY is their work-group. `builtin` and `auto` time the
 * candidates of the device's kind once per shape class (gemm_tune.c);
 * clrt__gemm_default_tile() is the choice where nothing is timed. */
static const clrt__gemm_tile tiles[] = {
    {4, 4, 16, 4, 0, 0, 0}, {8, 4, 16, 4, 0, 0, 0}, {4, 8, 16, 4, 0, 0, 0}, {2, 2, 16, 8, 0, 0, 0},
    /* 32 work-items: within rusticl's per-kernel limit, which the 64 and
     * 128 above exceed. */
    {4, 4, 8, 4, 0, 0, 0},
    /* Local-memory tiles: the work-group shares 16-deep blocks of A and B
     * (3-5 KiB), so each element is read from global memory once per
     * work-group instead of once per work-item. */
    {4, 4, 16, 4, 0, 16, 0}, {4, 4, 8, 4, 0, 16, 0}, {8, 4, 8, 4, 0, 16, 0},
    /* Local-memory tiles staged k-major (CLRT_GEMM_KMAJOR, cl/gemm.cl): for
     * the nt forward GEMM, consecutive work-items load consecutive
     * addresses of rows of both X and W, 32 deep (one 128-byte line per 32
     * work-items), and the transposed stores avoid bank conflicts. */
    {4, 4, 16, 4, 0, 32, 1}, {4, 4, 8, 4, 0, 32, 1},
    /* Vector tiles choose their work-group: left to itself PoCL made one
     * work-group of a 128×512 GEMM, which then ran on one thread. lx, ly
     * > 0: that many work-items (8×4 suits large GEMMs); lx = 0: whole
     * rows of the grid, split into two work-groups per compute unit, since
     * PoCL spends 1-2 µs on each work-group and a small GEMM (K = 10: 27 µs
     * against 45 with 8×4) is mostly that. tn > 1: that many vectors
     * across a work-item's row (-D CLRT_GEMM_NV). PoCL keeps a float16 in
     * one of its 32 512-bit registers and folds A's broadcast into the
     * multiply-add, so 8×32 holds 16 accumulators and B's two vectors;
     * 12×32 and 14×32 ran no faster (docs/PERFORMANCE.md). */
    {8, 0, 8, 4, 16, 0, 0}, {4, 0, 8, 4, 16, 0, 0}, {8, 2, 8, 4, 16, 0, 0}, {4, 0, 8, 4, 8, 0, 0},
    {6, 0, 8, 4, 8, 0, 0}, {8, 0, 0, 0, 16, 0, 0}, {4, 0, 0, 0, 8, 0, 0}, {8, 2, 0, 0, 16, 0, 0},
    /* No candidate: the last resort of a kernel allowing fewer than 32. */
    {2, 2, 4, 2, 0, 0, 0},
};
enum {
    NTILES = sizeof tiles / sizeof tiles[0],
    FIRST_VECTOR_TILE = 10,
    END_VECTOR_TILE = 18,
    CPU_TILE = 10,    /* 8 rows × 16 columns: nn and tt on CPUs */
    CPU_TN_TILE = 12, /* 8 rows × 32 columns: tn, whose K (the batch) is short */
    CPU_NT_TILE = 13, /* the nt kernel works along K: 4 rows × 4 columns of 8-wide sums */
};
_Static_assert(NTILES <= CLRT__GEMM_MAX_TILES, "CLRT__GEMM_MAX_TILES is too small");

unsigned clrt__gemm_tile_count(void)
{
    return NTILES;
}

const clrt__gemm_tile *clrt__gemm_tile_at(unsigned i)
{
    return &tiles[i];
}

/* CPU devices whose compiler prefers float vectors (PoCL: 16). A CPU
 * device that prefers scalars (rusticl on llvmpipe: 1) runs the vector
 * tiles 8x slower than the scalar ones (215 against 1093 samples/s in
 * clrt-bench train there), so it gets the scalar set. */
static bool wants_vector_tiles(const clrt_ctx *ctx)
{
    return clrt__device_is_cpu(&ctx->dev) && !ctx->dev.is_simulator &&
           ctx->float_vector_width > 1;
}

/* The tiles worth timing on this device: vector ones on CPUs, scalar ones
 * elsewhere (each kind is 3-10× slower on the other). */
void clrt__gemm_candidate_tiles(const clrt_ctx *ctx, unsigned *first, unsigned *end)
{
    *first = wants_vector_tiles(ctx) ? FIRST_VECTOR_TILE : 0;
    *end = wants_vector_tiles(ctx) ? END_VECTOR_TILE : FIRST_VECTOR_TILE;
}

void clrt__gemm_tile_defines(unsigned tile, int ta, int tb, char *buf, size_t len)
{
    const clrt__gemm_tile *t = &tiles[tile];
    unsigned op = 1 + 2 * (ta != 0) + (tb != 0) + (t->vw ? 4 : 0) + (t->kt ? 8 : 0);
    if (t->kt)
        snprintf(buf, len,
                 "-D CLRT_GEMM_ONLY=%u -D CLRT_GEMM_TM=%u -D CLRT_GEMM_TN=%u -D CLRT_GEMM_LX=%u "
                 "-D CLRT_GEMM_LY=%u -D CLRT_GEMM_KT=%u%s",
                 op, t->tm, t->tn, t->lx, t->ly, t->kt, t->kmajor ? " -D CLRT_GEMM_KMAJOR=1" : "");
    else if (t->vw && t->tn > 1 && !(!ta && tb)) /* the nt kernel has no NV */
        snprintf(buf, len,
                 "-D CLRT_GEMM_ONLY=%u -D CLRT_GEMM_TM=%u -D CLRT_GEMM_VW=%u -D CLRT_GEMM_NV=%u", op,
                 t->tm, t->vw, t->tn);
    else if (t->vw)
        snprintf(buf, len, "-D CLRT_GEMM_ONLY=%u -D CLRT_GEMM_TM=%u -D CLRT_GEMM_VW=%u", op, t->tm,
                 t->vw);
    else
        snprintf(buf, len,
                 "-D CLRT_GEMM_ONLY=%u -D CLRT_GEMM_TM=%u -D CLRT_GEMM_TN=%u -D CLRT_GEMM_LX=%u "
                 "-D CLRT_GEMM_LY=%u",
                 op, t->tm, t->tn, t->lx, t->ly);
}

bool clrt__gemm_tile_available(const clrt_ctx *ctx, unsigned tile, int ta, int tb)
{
    if (!ctx->bundle)
        return true;
    char defines[192];
    clrt__gemm_tile_defines(tile, ta, tb, defines, sizeof defines);
    return clrt__program_available(ctx, "gemm", defines, CLRT_F32);
}

/* The device's own default, whatever a bundle holds. */
static unsigned device_default_tile(const clrt_ctx *ctx, int ta, int tb)
{
    if (ctx->gemm_tile >= 0 && ctx->gemm_tile < NTILES)
        return (unsigned)ctx->gemm_tile;
    if (!wants_vector_tiles(ctx))
        return 0;
    return !ta && tb ? CPU_NT_TILE : ta && !tb ? CPU_TN_TILE : CPU_TILE;
}

unsigned clrt__gemm_default_tile(const clrt_ctx *ctx, int ta, int tb)
{
    unsigned tile = device_default_tile(ctx, ta, tb), first, end;
    if (ctx->gemm_tile >= 0 || clrt__gemm_tile_available(ctx, tile, ta, tb))
        return tile;
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    for (unsigned t = first; t < end; t++)
        if (clrt__gemm_tile_available(ctx, t, ta, tb))
            return t;
    return tile; /* none: its build says what the bundle lacks */
}

clrt_status clrt__gemm_variants(clrt_ctx *ctx, clrt__variant_fn fn, void *user)
{
    /* The default tile's nn build is up front, so that gemm.cl failing to
     * build shows there; the other tiles differ only in -D values and are
     * built when tuning first times them (a warm start with a tuning
     * record builds only the chosen ones: 35 ms less on PoCL). */
    unsigned first, end, dflt = clrt__gemm_default_tile(ctx, 0, 0);
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    char defines[192];
    clrt__program_variant v = {"gemm", defines, CLRT_F32, false};
    for (unsigned t = first; t < end; t++)
        for (int op = 0; op < 4; op++) {
            clrt__gemm_tile_defines(t, op >> 1, op & 1, defines, sizeof defines);
            v.up_front = t == dflt && op == 0;
            CLRT_TRY(fn(ctx, &v, user));
        }
    if (dflt < first || dflt >= end) { /* a tile forced by a test */
        clrt__gemm_tile_defines(dflt, 0, 0, defines, sizeof defines);
        v.up_front = true;
        CLRT_TRY(fn(ctx, &v, user));
    }
    return CLRT_OK;
}

/* ------------------------------------------------------------ backends */

static const char *const kernel_names[3][2][2] = {
    {{"clrt_gemm_nn", "clrt_gemm_nt"}, {"clrt_gemm_tn", "clrt_gemm_tt"}},
    {{"clrt_gemm_vec_nn", "clrt_gemm_vec_nt"}, {"clrt_gemm_vec_tn", "clrt_gemm_vec_tt"}},
    {{"clrt_gemm_loc_nn", "clrt_gemm_loc_nt"}, {"clrt_gemm_loc_tn", "clrt_gemm_loc_tt"}}};

/* A tile's kernel and its work-group limit (kept with the kernel), built
 * for the storage of g's operands (float32 when g is NULL). */
static clrt_status builtin_kernel(clrt_ctx *ctx, const clrt__gemm_args *g, unsigned tile, int ta,
                                  int tb, cl_kernel *k, size_t *wg_limit)
{
    const clrt__gemm_tile *t = &tiles[tile];
    char tile_defines[192], defines[256];
    clrt__gemm_tile_defines(tile, ta, tb, tile_defines, sizeof tile_defines);
    const clrt_tensor *ops[3] = {g ? g->a : NULL, g ? g->b : NULL, g ? g->c : NULL};
    clrt_dtype dtype = clrt__storage_defines(tile_defines, ops, 3, defines, sizeof defines);
    return clrt__kernel_variant_limit(ctx, "gemm", defines, dtype,
                                      kernel_names[t->kt ? 2 : t->vw ? 1 : 0][ta != 0][tb != 0],
                                      k, wg_limit);
}

size_t clrt__gemm_tile_group(unsigned tile)
{
    return (size_t)tiles[tile].lx * tiles[tile].ly;
}

size_t clrt__gemm_tile_local_bytes(unsigned tile)
{
    const clrt__gemm_tile *t = &tiles[tile];
    size_t pad = t->kmajor ? 1 : 0; /* a float more per staged row (cl/gemm.cl) */
    return (size_t)t->kt * (t->ly * t->tm + pad + t->lx * t->tn + pad) * sizeof(float);
}

clrt_status clrt__gemm_tile_fits(clrt_ctx *ctx, unsigned tile, int ta, int tb, bool *fits)
{
    *fits = false;
    if (clrt__gemm_tile_local_bytes(tile) > ctx->dev.local_mem_bytes)
        return CLRT_OK;
    size_t group = clrt__gemm_tile_group(tile), limit;
    if (group == 0) { /* sized from the kernel's limit at launch */
        *fits = true;
        return CLRT_OK;
    }
    cl_kernel k;
    CLRT_TRY(builtin_kernel(ctx, NULL, tile, ta, tb, &k, &limit));
    *fits = group <= limit;
    return CLRT_OK;
}

/* `tile` if it fits, else the first candidate that does, else the scalar
 * tile with the smallest work-group that does, else `tile`. */
static clrt_status fitting_tile(clrt_ctx *ctx, int ta, int tb, unsigned *tile)
{
    bool fits;
    CLRT_TRY(clrt__gemm_tile_fits(ctx, *tile, ta, tb, &fits));
    if (fits)
        return CLRT_OK;
    unsigned first, end, want = *tile;
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    for (unsigned t = first; t < end; t++) {
        if (!clrt__gemm_tile_available(ctx, t, ta, tb))
            continue;
        CLRT_TRY(clrt__gemm_tile_fits(ctx, t, ta, tb, &fits));
        if (fits) {
            *tile = t;
            return CLRT_OK;
        }
    }
    unsigned best = NTILES;
    for (unsigned t = 0; t < NTILES; t++) {
        if (tiles[t].vw || tiles[t].kt || !clrt__gemm_tile_available(ctx, t, ta, tb) ||
            (best < NTILES && clrt__gemm_tile_group(t) >= clrt__gemm_tile_group(best)))
            continue;
        CLRT_TRY(clrt__gemm_tile_fits(ctx, t, ta, tb, &fits));
        if (fits)
            best = t;
    }
    /* None that fits is at hand (a bundle made without one): the tile as
     * asked, which a driver that enforces its limit refuses by name. */
    *tile = best < NTILES ? best : want;
    return CLRT_OK;
}

clrt_status clrt__gemm_plan(clrt_ctx *ctx, const clrt__gemm_args *g, unsigned tile,
                            clrt__gemm_launch *p)
{
    CLRT_TRY(fitting_tile(ctx, g->ta, g->tb, &tile));
    const clrt__gemm_tile *t = &tiles[tile];
    p->tile = tile;
    size_t max;
    CLRT_TRY(builtin_kernel(ctx, g, tile, g->ta, g->tb, &p->kernel, &max));
    size_t rows = (g->m + t->tm - 1) / t->tm;
    if (t->vw) {
        /* The nt vector kernel covers 4 columns per work-item (it vectorises along K). */
        size_t per_item = !g->ta && g->tb ? 4 : t->vw * (t->tn > 1 ? t->tn : 1);
        size_t cols = (g->n + per_item - 1) / per_item, lx = t->lx, ly = t->ly;
        if (lx == 0) {
            size_t groups = 2 * (size_t)(ctx->dev.compute_units ? ctx->dev.compute_units : 1);
            lx = cols < max ? cols : max;
            ly = (rows + groups - 1) / groups;
            if (lx * ly > max)
                ly = max / lx;
        }
        /* A tile's own work-group whatever the grid (padded to whole ones;
         * the kernels return outside it): PoCL compiles a kernel once per
         * work-group size, 0.15 s for these. Sized from the grid (lx = 0):
         * no larger than it. */
        p->global[0] = cols, p->global[1] = rows;
        p->local[0] = cols < lx && !t->lx ? cols : lx;
        p->local[1] = rows < ly && !t->lx ? rows : ly;
        return CLRT_OK;
    }
    size_t cols = (g->n + t->tn - 1) / t->tn; /* work-items across N */
    p->global[0] = (cols + t->lx - 1) / t->lx * t->lx, p->global[1] = rows;
    p->local[0] = t->lx, p->local[1] = t->ly;
    return CLRT_OK;
}

static clrt_status run_builtin(clrt_ctx *ctx, const clrt__gemm_args *g, unsigned tile)
{
    /* 2^31, not 2^32: the kernels compute column and row indices in 32-bit
     * uint over a grid padded to whole work-groups, which must not wrap. */
    if (g->m > INT32_MAX || g->n > INT32_MAX || g->k > INT32_MAX)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "clrt_gemm: dimensions of 2^31 or more");
    clrt__gemm_launch p;
    CLRT_TRY(clrt__gemm_plan(ctx, g, tile, &p));
    CLRT_TRY(clrt__set_args(ctx, p.kernel, "clrt_gemm", "uuufmumufmu", (unsigned)g->m,
                            (unsigned)g->n, (unsigned)g->k, (double)g->alpha, g->a,
                            (unsigned)g->a->shape[1], g->b, (unsigned)g->b->shape[1],
                            (double)g->beta, g->c, (unsigned)g->c->shape[1]));
    return clrt__launch_2d(ctx, p.kernel, p.global[0], p.global[1], p.local[0], p.local[1],
                           "clrt_gemm");
}

static clrt_status run_clblast(clrt_ctx *ctx, const clrt__gemm_args *g)
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

static clrt_status run_host(clrt_ctx *ctx, const clrt__gemm_args *g)
{
#ifdef CLRT_HAVE_CBLAS
    /* Zero-copy on CPU devices: the maps hand out the buffers themselves.
     * They block, so this backend waits for the work queued before it. */
    cl_int rc = CL_SUCCESS;
    float *pa = NULL, *pb = NULL, *pc = NULL;
    clrt_status st = CLRT_OK;
    size_t abytes = clrt__tensor_bytes(g->a), bbytes = clrt__tensor_bytes(g->b);
    size_t cbytes = clrt__tensor_bytes(g->c);
    cl_map_flags cflags = g->beta == 0.0f ? CL_MAP_WRITE_INVALIDATE_REGION
                                          : (CL_MAP_READ | CL_MAP_WRITE);
    pa = clrt__cl_map(ctx, g->a->buf->mem, CL_MAP_READ, abytes, &rc);
    if (rc == CL_SUCCESS)
        pb = clrt__cl_map(ctx, g->b->buf->mem, CL_MAP_READ, bbytes, &rc);
    if (rc == CL_SUCCESS)
        pc = clrt__cl_map(ctx, g->c->buf->mem, cflags, cbytes, &rc);
    if (rc == CL_SUCCESS)
        cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                    g->tb ? CblasTrans : CblasNoTrans, (blasint)g->m, (blasint)g->n,
                    (blasint)g->k, g->alpha, pa, (blasint)g->a->shape[1], pb,
                    (blasint)g->b->shape[1], g->beta, pc, (blasint)g->c->shape[1]);
    else
        st = clrt__fail_cl(ctx, rc, "clEnqueueMapBuffer", "clrt_gemm (host backend)");
    if (pa)
        clrt__cl_unmap(ctx, g->a->buf->mem, pa);
    if (pb)
        clrt__cl_unmap(ctx, g->b->buf->mem, pb);
    if (pc)
        clrt__cl_unmap(ctx, g->c->buf->mem, pc);
    return st;
#else
    (void)g;
    return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED, "clrt was built without a host CBLAS");
#endif
}

clrt_status clrt__gemm_run(clrt_ctx *ctx, const clrt__gemm_args *g, clrt_gemm_backend b,
                           unsigned tile)
{
    if (tile == UINT32_MAX)
        tile = clrt__gemm_default_tile(ctx, g->ta, g->tb);
    if (g->a->dtype != CLRT_F32 || g->b->dtype != CLRT_F32 || g->c->dtype != CLRT_F32)
        b = CLRT_GEMM_BUILTIN; /* the others take float32 only */
    switch (b) {
    case CLRT_GEMM_CLBLAST: return run_clblast(ctx, g);
    case CLRT_GEMM_HOST: return run_host(ctx, g);
    default: return run_builtin(ctx, g, tile);
    }
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
    clrt__gemm_args g = {trans_a != 0, trans_b != 0, 0, 0, 0, alpha, beta, a, b, c};
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
    /* CLBlast and the host BLAS take float32 only: 16-bit storage runs on
     * the builtin kernels, tuned among their tiles. */
    if (a->dtype != CLRT_F32 || b->dtype != CLRT_F32 || c->dtype != CLRT_F32)
        backend = CLRT_GEMM_BUILTIN;
    unsigned tile = UINT32_MAX; /* the device's default */
    if ((backend == CLRT_GEMM_AUTO || backend == CLRT_GEMM_BUILTIN) && g.k > 0) {
        bool ran = false;
        clrt_status st =
            clrt__gemm_choose(ctx, &g, backend == CLRT_GEMM_BUILTIN, &backend, &tile, &ran);
        if (st != CLRT_OK || ran)
            return st;
    } else if (backend == CLRT_GEMM_AUTO)
        backend = CLRT_GEMM_BUILTIN; /* C = beta·C: nothing to tune */
    if (g.k == 0 && backend != CLRT_GEMM_BUILTIN)
        backend = CLRT_GEMM_BUILTIN; /* some BLAS reject K = 0 */
    return clrt__gemm_run(ctx, &g, backend, tile);
}
