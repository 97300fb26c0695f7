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
/* a and b share a device buffer. */
bool clrt__aliases(const clrt_tensor *a, const clrt_tensor *b);

/* ------------------------------------------------------- activation.c */

/* A kernel of a program built for one activation (-D CLRT_ACT_FIXED, see
 * cl/act_math.h). */
clrt_status clrt__act_kernel(clrt_ctx *ctx, const char *program_name, const char *kernel_name,
                             clrt_act act, cl_kernel *out);

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
    unsigned tm, tn, lx, ly, vw;
} clrt__gemm_tile;

/* At least the number of builtin configurations (fixed-size arrays). */
#define CLRT__GEMM_MAX_TILES 16

/* The number of builtin kernel configurations (for ctx->gemm_tile). */
unsigned clrt__gemm_tile_count(void);

/* Configuration i, i < clrt__gemm_tile_count(). */
const clrt__gemm_tile *clrt__gemm_tile_at(unsigned i);

/* The tiles [first, end) that tuning times on this context's device. */
void clrt__gemm_candidate_tiles(const clrt_ctx *ctx, unsigned *first, unsigned *end);

/* Build the GEMM program variants the context's backend may use. */
clrt_status clrt__gemm_build(clrt_ctx *ctx);

/* Run g on backend b; `tile` is the builtin configuration, UINT32_MAX for
 * the device's default (gemm.c). */
clrt_status clrt__gemm_run(clrt_ctx *ctx, const clrt__gemm_args *g, clrt_gemm_backend b,
                           unsigned tile);

/* The backend and tile for g: remembered for its shape class, read from
 * the tuning record, or timed now (gemm_tune.c). builtin_only chooses
 * among the builtin tiles alone. Where nothing is timed, *b is builtin and
 * *tile UINT32_MAX. */
clrt_status clrt__gemm_choose(clrt_ctx *ctx, const clrt__gemm_args *g, bool builtin_only,
                              clrt_gemm_backend *b, unsigned *tile);

/* One line of the tuning record, "<device key> <shape class> <backend>
 * <tile>": true when it parses, is for `key`, names a backend and a tile
 * below clrt__gemm_tile_count(); cls gets the shape class. Whether the
 * backend is available here is the caller's check. (The fuzz target of
 * the record calls it.) */
bool clrt__gemm_record_parse(const char *line, const char *key, char cls[48],
                             clrt_gemm_backend *b, unsigned *tile);

#endif /* CLRT_OPS_H */
