/* The verify layer: the table of op cases that the device tests,
 * clrt_selftest and clrt-bench share (op_cases.c), the driver that runs one
 * case on a context (op_driver.c), every op's error bound (tolerance.c) and
 * the sentinels around device buffers (sentinel.c). Includes the io layer
 * and the plain-C reference. Not installed.
 *
 * A case is one op with its inputs made from a seed, run on the device,
 * computed again by the reference (ref.c, double accumulation) and compared
 * element by element against a stated bound. Before the op runs, the slack
 * of each output buffer (the bytes between the tensor's data and the pool's
 * capacity) is filled with a sentinel; an op that writes there fails. */
#ifndef CLRT_VERIFY_H
#define CLRT_VERIFY_H

#include "io/io.h"
#include "verify/ref.h"

/* ---------------------------------------------------------- tolerance.c */

/* The bound of one check. Element i passes when
 *     |got_i − want_i| <= rel·max(|want_i|, floor) + abs + mag·m_i
 * with m_i the check's magnitude (Σ|terms| of output i, from the
 * reference; 0 when the check has none). NaN passes only against NaN.
 * bitwise: the float bits must be equal instead (−0 is not +0). */
typedef struct clrt__tol {
    double rel, floor, abs, mag;
    bool bitwise;
} clrt__tol;

/* The bound of element `want` with magnitude `m` (0 when none). */
double clrt__tol_bound(clrt__tol tol, double want, double m);

/* Each op's bound; tolerance.c says why each is what it is. */
clrt__tol clrt__tol_exact(void);   /* got == want (or both NaN) */
clrt__tol clrt__tol_bitwise(void); /* the same bits */
clrt__tol clrt__tol_gemm(size_t k);
clrt__tol clrt__tol_linear(size_t k); /* linear forward (k = in) and backward */
clrt__tol clrt__tol_act(clrt_act act, bool backward);
clrt__tol clrt__tol_softmax_row_sum(void);
clrt__tol clrt__tol_mse_loss(void);
clrt__tol clrt__tol_mse_grad(void);
clrt__tol clrt__tol_ce_loss(void);
clrt__tol clrt__tol_ce_grad(size_t batch);
clrt__tol clrt__tol_reduce(clrt_reduce_op op, size_t count);
clrt__tol clrt__tol_axpy(void);
clrt__tol clrt__tol_optim(size_t steps, bool squares);
clrt__tol clrt__tol_linear_fd(void);
clrt__tol clrt__tol_act_fd(void);
clrt__tol clrt__tol_loss_fd(void);

/* ----------------------------------------------------------- sentinel.c */

/* The bit pattern the slack is filled with: a quiet NaN no op computes. */
#define CLRT__SENTINEL 0x7fc0deadu

/* Fill bytes [offset, offset + size) of `mem` with CLRT__SENTINEL
 * (enqueued); offset and size are multiples of 4. */
clrt_status clrt__sentinel_fill_range(clrt_ctx *ctx, cl_mem mem, size_t offset, size_t size);

/* Read bytes [offset, offset + size) of `mem` back (blocking). All intact:
 * CLRT_OK with *bad_offset = SIZE_MAX. Otherwise the first overwritten word:
 * *bad_offset (bytes from the start of the buffer) and *bad_value. */
clrt_status clrt__sentinel_check_range(clrt_ctx *ctx, cl_mem mem, size_t offset, size_t size,
                                       size_t *bad_offset, uint32_t *bad_value);

/* The same over t's slack (nothing where there is none: a simulator's
 * exact buffers, an external or empty buffer). */
clrt_status clrt__sentinel_fill(clrt_ctx *ctx, const clrt_tensor *t);
clrt_status clrt__sentinel_check(clrt_ctx *ctx, const clrt_tensor *t, size_t *bad_offset,
                                 uint32_t *bad_value);

/* ------------------------------------------------------------ op_cases.c */

/* Which runs a shape of a case belongs to. */
enum {
    CLRT__ON_DEVICE = 1u << 0,   /* the device tests on a real device */
    CLRT__ON_SIM = 1u << 1,      /* the device tests on a simulator: small shapes */
    CLRT__ON_SELFTEST = 1u << 2, /* clrt_selftest */
};

/* One shape of a case: the dimensions as the case reads them (op_cases.c
 * says, per family: [rows, cols], [batch, in, out], [M, N, K], the sizes of
 * an optimizer's parameters ...), and `value`, a per-shape setting (the
 * common offset of softmax_rows). */
typedef struct clrt__case_shape {
    int rank;
    size_t dims[4];
    float value;
    unsigned where;
} clrt__case_shape;

typedef struct clrt__case_run clrt__case_run;

/* Case flags. */
enum {
    CLRT__CASE_SELFTEST = 1u << 0, /* clrt_selftest runs it (at its SELFTEST shapes) */
    CLRT__CASE_GRAD = 1u << 1,     /* a finite-difference gradient check */
};

typedef struct clrt__op_case {
    const char *name;   /* unique: "act_forward gelu", "linear_backward accumulate" */
    const char *family; /* what a device test runs together: "act_forward" */
    int variant;        /* the family's choice: an activation, a transpose pair ... */
    float param;        /* and its number: a slope, alpha, an offset */
    const clrt__case_shape *shapes;
    size_t nshapes;
    unsigned flags;
    /* Inputs from the run's seed, tensors (clrt__case_tensor), state. */
    clrt_status (*make)(clrt__case_run *r);
    /* The op on the device: what clrt-bench times; may be called again. */
    clrt_status (*run)(clrt__case_run *r);
    /* After the run and the read-back: the reference, the checks
     * (clrt__case_check, clrt__case_expect) and any further device calls a
     * property needs (the same bits another way). */
    clrt_status (*check)(clrt__case_run *r);
    /* The storage of the case's tensors (clrt__case_tensor); CLRT_F32 for
     * all but the 16-bit cases. */
    clrt_dtype dtype;
} clrt__op_case;

extern const clrt__op_case clrt__op_cases[];
extern const size_t clrt__op_case_count;

/* The `where` bit of the device tests on ctx's device. */
unsigned clrt__case_where(const clrt_ctx *ctx);

/* ----------------------------------------------------------- op_driver.c */

#define CLRT__CASE_TENSORS 24
#define CLRT__CASE_CHECKS 16

/* One comparison of a case: got against want over n elements. */
typedef struct clrt__check {
    char what[24];      /* "y", "dx", "param[2]", "loss no grad" */
    const float *got, *want;
    const double *mag;  /* m_i of the bound, or NULL */
    size_t n;
    clrt__tol tol;
    bool finite;        /* got must also be finite */
} clrt__check;

/* Its verdict, at the element nearest its bound (or furthest past it). */
typedef struct clrt__check_result {
    char what[24];
    size_t n, worst;
    double got, want;
    double error, bound; /* |got − want| and its bound at `worst` */
    bool passed;
} clrt__check_result;

typedef struct clrt__case_result {
    char name[48];
    char shape[40];
    clrt__check_result checks[CLRT__CASE_CHECKS];
    size_t nchecks;
    bool passed;         /* every check, every expectation, the sentinels and guards */
    char failure[512];   /* the first failure in words ("" when passed) */
} clrt__case_result;

/* Run case c at shape s on ctx: make, fill the outputs' slack with
 * sentinels, run, check the sentinels, read the outputs back into guarded
 * host memory, then the case's check; compare. CLRT_OK when the case ran
 * (the verdict is in *res); an error status when an op, an allocation or a
 * transfer failed (the message is on ctx). */
clrt_status clrt__case_run_one(clrt_ctx *ctx, const clrt__op_case *c, const clrt__case_shape *s,
                               clrt__case_result *res);

/* For timing: make the case (*out, freed with clrt__case_free), then call
 * clrt__case_device as often as wanted. */
clrt_status clrt__case_prepare(clrt_ctx *ctx, const clrt__op_case *c, const clrt__case_shape *s,
                               clrt__case_run **out);
clrt_status clrt__case_device(clrt__case_run *r);
void clrt__case_free(clrt__case_run *r);

/* What a case's functions use. */
struct clrt__case_run {
    clrt_ctx *ctx;
    const clrt__op_case *c;
    const clrt__case_shape *s;
    uint32_t seed;  /* from the case's name and shape: inputs differ per case */
    void *io;       /* the family's own tensors and host arrays */
    void (*release)(void *io); /* frees what io holds beyond the run's memory */
    struct {
        const char *name;
        clrt_tensor *t;
        bool output, owned;
        float *got; /* outputs: read back after the run */
    } t[CLRT__CASE_TENSORS];
    size_t nt;
    clrt__check checks[CLRT__CASE_CHECKS];
    size_t nchecks;
    void **mem;     /* host allocations, freed with the run */
    size_t nmem, capmem;
    clrt_status st; /* the first failure of a helper */
    bool failed;
    char failure[320];
};

/* Zeroed host memory freed with the run; NULL (and r->st set) when out of
 * memory. clrt__case_floats leaves a guard after the n floats. */
void *clrt__case_alloc(clrt__case_run *r, size_t bytes);
float *clrt__case_floats(clrt__case_run *r, size_t n);
/* The guard after the n floats of a clrt__case_floats array is intact. */
bool clrt__case_guard_intact(const float *p, size_t n);

/* n random floats in [-1, 1) from the run's seed and `stream`, times scale
 * plus offset. */
float *clrt__case_random(clrt__case_run *r, size_t n, uint32_t stream, float scale,
                         float offset);

/* A tensor of the case, stored as the case's dtype, written from `init`
 * (numel floats) when not NULL; `init` is rounded in place to that
 * storage first, so the reference starts from what the device holds. An
 * output has its slack guarded and is read back after the run. */
clrt_status clrt__case_tensor(clrt__case_run *r, const char *name, int rank, const size_t *dims,
                              float *init, bool output, clrt_tensor **out);
/* The same, float32 whatever the case's dtype: parameters and their
 * gradients (master weights), labels, loss scalars. */
clrt_status clrt__case_param(clrt__case_run *r, const char *name, int rank, const size_t *dims,
                             float *init, bool output, clrt_tensor **out);
/* A tensor the case does not own (an optimizer's state) watched as an
 * output. */
clrt_status clrt__case_watch(clrt__case_run *r, const char *name, clrt_tensor *t);
/* What the run left in an output. */
const float *clrt__case_got(const clrt__case_run *r, const clrt_tensor *t);
/* Read t into new guarded host memory (checking the guard). */
clrt_status clrt__case_read(clrt__case_run *r, const clrt_tensor *t, float **out);

/* Add a check (got and want must live as long as the run). */
void clrt__case_check(clrt__case_run *r, const char *what, const float *got, const float *want,
                      const double *mag, size_t n, clrt__tol tol);
/* The same, got also required to be finite. */
void clrt__case_check_finite(clrt__case_run *r, const char *what, const float *got,
                             const float *want, size_t n, clrt__tol tol);
/* A property in words: false fails the case with the message. */
void clrt__case_expect(clrt__case_run *r, bool ok, const char *fmt, ...) CLRT_PRINTF(3, 4);

/* The elements of the shape, and dimension i (0 past the rank). */
size_t clrt__case_numel(const clrt__case_run *r);
size_t clrt__case_dim(const clrt__case_run *r, int i);

#endif /* CLRT_VERIFY_H */
