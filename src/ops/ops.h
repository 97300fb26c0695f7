/* The ops layer: what it offers the layers above it (nn, io, verify).
 * The public ops themselves are declared in clrt.h; this header adds the
 * argument checks the op files share, the per-activation kernel lookup and
 * the GEMM internals the tuner, the tests and the prebuild use. Includes
 * the runtime layer only. Not installed. */
#ifndef CLRT_OPS_H
#define CLRT_OPS_H

#include "runtime/runtime.h"

/* ------------------------------------------------------------ check.c */

/* t is non-NULL and of this context. */
clrt_status clrt__expect_tensor(clrt_ctx *ctx, const char *fn, const char *name,
                                const clrt_tensor *t);
/* t has `rank` and, when dims is non-NULL, exactly those dimensions. */
clrt_status clrt__expect_dims(clrt_ctx *ctx, const char *fn, const char *name,
                              const clrt_tensor *t, int rank, const size_t *dims);
clrt_status clrt__expect_same_shape(clrt_ctx *ctx, const char *fn, const char *an,
                                    const clrt_tensor *a, const char *bn, const clrt_tensor *b);
/* t is non-NULL, of this context and float32 (an op without 16-bit
 * kernels, such as the optimizers, whose tensors are master weights). */
clrt_status clrt__expect_f32(clrt_ctx *ctx, const char *fn, const char *name,
                             const clrt_tensor *t);
/* a and b share a device buffer. */
bool clrt__aliases(const clrt_tensor *a, const clrt_tensor *b);

/* -------------------------------------------------------- build_all.c */

/* One program variant the ops may ask the runtime for. */
typedef struct clrt__program_variant {
    const char *program; /* "gemm" */
    const char *defines; /* "" or "-D CLRT_GEMM_ONLY=1 ..."; valid during the callback */
    clrt_dtype dtype;
    bool up_front; /* clrt_ctx_build_all builds it; the rest are built on first use */
} clrt__program_variant;

typedef clrt_status (*clrt__variant_fn)(clrt_ctx *ctx, const clrt__program_variant *v, void *user);

/* Every program variant the ops may ask for on ctx's device: each embedded
 * program plain, each per-activation build (activation.c), each GEMM tile
 * and transpose the device may pick (gemm.c), all for float32. The one
 * list clrt_ctx_build_all and the bundle compiler share. Stops at, and
 * returns, the first status of `fn` that is not CLRT_OK. */
clrt_status clrt__program_variants(clrt_ctx *ctx, clrt__variant_fn fn, void *user);

/* Build every variant of clrt__program_variants on ctx and write them all
 * as a bundle at `path` (clrt-compile); *count: how many. */
clrt_status clrt__bundle_compile(clrt_ctx *ctx, const char *path, size_t *count);

/* ----------------------------------------------------------- finite.c */

/* Enqueue: flag (one element, its 32 bits an unsigned integer) becomes
 * max(flag, tag) when x holds NaN or an infinity; finite data leaves it
 * as it was. tag must be non-zero: clear the flag with
 * clrt_tensor_fill(flag, 0.0f) and give each tensor its own tag to learn
 * which one was found (the largest tag wins). */
clrt_status clrt__flag_nonfinite(clrt_ctx *ctx, const clrt_tensor *x, uint32_t tag,
                                 clrt_tensor *flag);

/* ------------------------------------------------------- activation.c */

/* A kernel of a program built for one activation (-D CLRT_ACT_FIXED, see
 * cl/act_math.h). */
clrt_status clrt__act_kernel(clrt_ctx *ctx, const char *program_name, const char *kernel_name,
                             clrt_act act, const clrt_tensor *const *ops, size_t nops,
                             cl_kernel *out);

/* ------------------------------------------------------------ optim.c */

/* The parameters `opt` was made over (its own copy of the array, in the
 * caller's order) and their count: a model checks them against its own
 * before stepping, since clrt_optim_step reads as many gradients. */
clrt_tensor *const *clrt__optim_params(const clrt_optim *opt, size_t *count);

/* Step with the per-tensor kernels (one launch per parameter) instead of
 * the multi-tensor ones: the same arithmetic per element, kept so tests
 * can check the multi-tensor path against them bit for bit. */
void clrt__optim_set_per_tensor(clrt_optim *opt, bool per_tensor);

/* The per-activation variants clrt__act_kernel may build, for
 * clrt__program_variants. */
clrt_status clrt__act_variants(clrt_ctx *ctx, clrt__variant_fn fn, void *user);

/* --------------------------------------------------------------- loss.c */

/* The most rows clrt_loss_cross_entropy takes in one launch (clrt_ce_mean)
 * for operands like these on this device; 0 when it always takes two. */
clrt_status clrt__ce_mean_max_rows(clrt_ctx *ctx, const clrt_tensor *logits,
                                   const clrt_tensor *labels, const clrt_tensor *grad, size_t *rows);

/* ------------------------------------------------------------ col_sum.c */

/* Whether column sums (clrt_reduce along axis 0, the bias gradient) run as
 * a work-group per column block on this device (GPU-type devices) rather
 * than as one work-item per column; ctx->col_sum_groups forces it. */
bool clrt__col_sum_by_groups(const clrt_ctx *ctx);

/* y[c] = Σ_r x[r, c] (mean: / rows; accumulate: y[c] + that) for the
 * [rows, cols] matrix x, a work-group per column block. *done false, and
 * nothing enqueued, where it cannot run here (a kernel limit under
 * CLRT_COL_SUM_LANES, sizes past 2^32): the caller's per-column kernel
 * then does it. */
clrt_status clrt__col_sum_groups(clrt_ctx *ctx, const char *fn, const clrt_tensor *x,
                                 clrt_tensor *y, size_t rows, size_t cols, bool mean,
                                 bool accumulate, bool *done);

/* ------------------------------------------------- gemm.c, gemm_tune.c */

/* One checked call of clrt_gemm: C[m×n] = alpha·op(A)·op(B) + beta·C. */
typedef struct clrt__gemm_args {
    int ta, tb;
    size_t m, n, k;
    float alpha, beta;
    const clrt_tensor *a, *b;
    clrt_tensor *c;
} clrt__gemm_args;

/* A builtin kernel configuration (gemm.c's table says what each is). */
typedef struct clrt__gemm_tile {
    unsigned tm, tn, lx, ly, vw; /* with vw: tn is VW-wide vectors per row (0: one) */
    unsigned kt;     /* > 0: the local-memory kernels, staging KT-deep blocks of A and B */
    unsigned kmajor; /* with kt: both blocks staged k-major and padded (the nt GEMM's layout) */
} clrt__gemm_tile;

/* At least the number of builtin configurations (fixed-size arrays). */
#define CLRT__GEMM_MAX_TILES 24

/* The number of builtin kernel configurations (for ctx->gemm_tile). */
unsigned clrt__gemm_tile_count(void);

/* Configuration i, i < clrt__gemm_tile_count(). */
const clrt__gemm_tile *clrt__gemm_tile_at(unsigned i);

/* The tiles [first, end) that tuning times on this context's device. */
void clrt__gemm_candidate_tiles(const clrt_ctx *ctx, unsigned *first, unsigned *end);

/* The defines of tile `tile`'s build for (ta, tb): one kernel per build
 * (CLRT_GEMM_ONLY, see cl/gemm.cl). */
void clrt__gemm_tile_defines(unsigned tile, int ta, int tb, char *buf, size_t len);

/* The tile that runs where nothing is timed: the device's default (or a
 * tile a test forced), or, with a bundle that lacks it, the first
 * candidate the bundle has. */
unsigned clrt__gemm_default_tile(const clrt_ctx *ctx, int ta, int tb);

/* The program of tile `tile` for (ta, tb) can be had: always, unless the
 * context has a bundle without it. Tuning times only these. */
bool clrt__gemm_tile_available(const clrt_ctx *ctx, unsigned tile, int ta, int tb);

/* The local memory tile's kernels use (0 for those without). */
size_t clrt__gemm_tile_local_bytes(unsigned tile);

/* Whether tile's kernel for (ta, tb) can launch here: its local memory
 * within the device's and its work-group within the kernel's
 * CL_KERNEL_WORK_GROUP_SIZE (builds the kernel to ask). */
clrt_status clrt__gemm_tile_fits(clrt_ctx *ctx, unsigned tile, int ta, int tb, bool *fits);

/* How the builtin backend launches one GEMM: the tile it runs (`tile`, or
 * the fallback when that one does not fit), its kernel and NDRange. */
typedef struct clrt__gemm_launch {
    unsigned tile;
    cl_kernel kernel;
    size_t global[2], local[2];
} clrt__gemm_launch;
clrt_status clrt__gemm_plan(clrt_ctx *ctx, const clrt__gemm_args *g, unsigned tile,
                            clrt__gemm_launch *p);

/* The work-items of tile's work-group; 0 where it is sized at launch
 * from the kernel's limit (the whole-row vector tiles). */
size_t clrt__gemm_tile_group(unsigned tile);

/* Every builtin GEMM variant (candidate tile × transposes) for
 * clrt__program_variants; the default tile's nn build is up front. */
clrt_status clrt__gemm_variants(clrt_ctx *ctx, clrt__variant_fn fn, void *user);

/* Run g on backend b; `tile` is the builtin configuration, UINT32_MAX for
 * the device's default (gemm.c). */
clrt_status clrt__gemm_run(clrt_ctx *ctx, const clrt__gemm_args *g, clrt_gemm_backend b,
                           unsigned tile);

/* The backend and tile for g: remembered for its shape class, read from
 * the tuning record, or the device's default until the class has run long
 * enough for timing its candidates to pay, then each candidate in turn
 * (gemm_tune.c). builtin_only chooses among the builtin tiles alone. Where
 * nothing is chosen, *b is builtin and *tile UINT32_MAX. *ran: the call
 * itself has been run (timed) here, and the status is its own. */
clrt_status clrt__gemm_choose(clrt_ctx *ctx, const clrt__gemm_args *g, bool builtin_only,
                              clrt_gemm_backend *b, unsigned *tile, bool *ran);

/* One line of the tuning record, "<device key> <shape class> <backend>
 * <tile>": true when it parses, is for `key`, names a backend and a tile
 * below clrt__gemm_tile_count(); cls gets the shape class. Whether the
 * backend is available here is the caller's check. (The fuzz target of
 * the record calls it.) */
bool clrt__gemm_record_parse(const char *line, const char *key, char cls[48],
                             clrt_gemm_backend *b, unsigned *tile);

#endif /* CLRT_OPS_H */
