/* The table of op cases: every op the device tests, clrt_selftest and
 * clrt-bench check against the plain-C reference, on odd shapes (1, 7, 33,
 * 257 ...), smaller ones on a simulator, which interprets every work-item.
 * Each family below has a make (seeded inputs, tensors), a run (the op on
 * the device) and a check (the reference, the comparisons with the bounds
 * of tolerance.c, and any property the op must keep). The table is at the
 * end. */
#include "verify/verify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Shorter names for the `where` bits of the shape lists. */
#define DEV CLRT__ON_DEVICE
#define SIM CLRT__ON_SIM
#define SELF CLRT__ON_SELFTEST

unsigned clrt__case_where(const clrt_ctx *ctx)
{
    return ctx->dev.is_simulator ? CLRT__ON_SIM : CLRT__ON_DEVICE;
}

static float *copy_floats(clrt__case_run *r, const float *src, size_t n)
{
    float *p = clrt__case_floats(r, n);
    if (p)
        memcpy(p, src, n * sizeof *p);
    return p;
}

/* A case variant with this bit runs with the work-group column sums
 * forced (col_sum.c; ctx->col_sum_groups), so every device checks them,
 * not only the GPU-type ones that choose them. */
#define COL_SUM_GROUPS 0x10000

/* Run `op` on r, with the work-group column sums forced where the case
 * asks for them. */
static clrt_status with_col_sums(clrt__case_run *r, clrt_status (*op)(clrt__case_run *r))
{
    int saved = r->ctx->col_sum_groups;
    if (r->c->variant & COL_SUM_GROUPS)
        r->ctx->col_sum_groups = 1;
    clrt_status st = op(r);
    r->ctx->col_sum_groups = saved;
    return st;
}

static double *doubles(clrt__case_run *r, size_t n)
{
    return clrt__case_alloc(r, (n ? n : 1) * sizeof(double));
}

/* ------------------------------------------------------------------ GEMM */

/* [M, N, K]: C[M, N] = 1.5·op(A)·op(B) + 0.5·C; variant = trans_a·2 +
 * trans_b. The device tests of every backend and tile are in test_gemm.c;
 * these cases are what clrt_selftest runs through each backend. */
static const clrt__case_shape gemm_shapes[] = {
    {3, {1, 1, 1}, 0, DEV | SIM | SELF},
    {3, {7, 33, 1}, 0, DEV | SIM},
    {3, {33, 7, 257}, 0, DEV | SELF},
};

#define GEMM_ALPHA 1.5f
#define GEMM_BETA 0.5f

typedef struct gemm_io {
    clrt_tensor *a, *b, *c;
    float *ha, *hb, *hc;
    size_t ar, ac, br, bc;
} gemm_io;

static clrt_status gemm_make(clrt__case_run *r)
{
    int ta = r->c->variant >> 1, tb = r->c->variant & 1;
    size_t m = clrt__case_dim(r, 0), n = clrt__case_dim(r, 1), k = clrt__case_dim(r, 2);
    gemm_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->ar = ta ? k : m, io->ac = ta ? m : k, io->br = tb ? n : k, io->bc = tb ? k : n;
    io->ha = clrt__case_random(r, io->ar * io->ac, 1, 1.0f, 0.0f);
    io->hb = clrt__case_random(r, io->br * io->bc, 2, 1.0f, 0.0f);
    io->hc = clrt__case_random(r, m * n, 3, 1.0f, 0.0f);
    CLRT_TRY(r->st);
    const size_t da[2] = {io->ar, io->ac}, db[2] = {io->br, io->bc}, dc[2] = {m, n};
    CLRT_TRY(clrt__case_tensor(r, "A", 2, da, io->ha, false, &io->a));
    CLRT_TRY(clrt__case_tensor(r, "B", 2, db, io->hb, false, &io->b));
    return clrt__case_tensor(r, "C", 2, dc, io->hc, true, &io->c);
}

static clrt_status gemm_run(clrt__case_run *r)
{
    gemm_io *io = r->io;
    return clrt_gemm(r->ctx, r->c->variant >> 1, r->c->variant & 1, GEMM_ALPHA, io->a, io->b,
                     GEMM_BETA, io->c);
}

static clrt_status gemm_check(clrt__case_run *r)
{
    gemm_io *io = r->io;
    int ta = r->c->variant >> 1, tb = r->c->variant & 1;
    size_t m = clrt__case_dim(r, 0), n = clrt__case_dim(r, 1), k = clrt__case_dim(r, 2);
    float *want = copy_floats(r, io->hc, m * n), *terms = clrt__case_floats(r, m * n);
    float *aa = clrt__case_floats(r, io->ar * io->ac), *ab = clrt__case_floats(r, io->br * io->bc);
    double *mag = doubles(r, m * n);
    CLRT_TRY(r->st);
    clrt_ref_gemm(ta, tb, m, n, k, GEMM_ALPHA, io->ha, io->hb, GEMM_BETA, want);
    for (size_t i = 0; i < io->ar * io->ac; i++)
        aa[i] = fabsf(io->ha[i]);
    for (size_t i = 0; i < io->br * io->bc; i++)
        ab[i] = fabsf(io->hb[i]);
    clrt_ref_gemm(ta, tb, m, n, k, fabsf(GEMM_ALPHA), aa, ab, 0.0f, terms);
    for (size_t i = 0; i < m * n; i++)
        mag[i] = (double)terms[i] + fabs((double)GEMM_BETA * io->hc[i]);
    clrt__case_check(r, "C", clrt__case_got(r, io->c), want, mag, m * n, clrt__tol_gemm(k));
    return CLRT_OK;
}

/* --------------------------------------------------------------- linear */

/* [batch, in, out]; {3, 2, 40}: two whole vectors of the bias gradient
 * and a part, small enough for oclgrind. */
static const clrt__case_shape linear_shapes[] = {
    {3, {1, 1, 1}, 0, DEV | SIM},     {3, {7, 33, 5}, 0, DEV | SIM},
    {3, {3, 2, 40}, 0, DEV | SIM},    {3, {33, 7, 257}, 0, DEV},
    {3, {128, 784, 10}, 0, DEV},      {3, {7, 33, 10}, 0, SELF},
};

/* linear_forward's variant: the activation, and whether to leave the bias
 * and z out. */
#define LINEAR_NO_BIAS 0x100

typedef struct linear_io {
    clrt_tensor *x, *w, *b, *z, *y, *dy, *dx, *dw, *db;
    float *hx, *hw, *hb, *hdy, *hdx, *hdw, *hdb;
} linear_io;

static clrt_status linear_inputs(clrt__case_run *r, linear_io **out)
{
    size_t batch = clrt__case_dim(r, 0), in = clrt__case_dim(r, 1), nout = clrt__case_dim(r, 2);
    linear_io *io = *out = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hx = clrt__case_random(r, batch * in, 1, 1.0f, 0.0f);
    io->hw = clrt__case_random(r, nout * in, 2, 1.0f, 0.0f);
    io->hb = clrt__case_random(r, nout, 3, 1.0f, 0.0f);
    CLRT_TRY(r->st);
    const size_t dx[2] = {batch, in}, dw[2] = {nout, in};
    CLRT_TRY(clrt__case_tensor(r, "x", 2, dx, io->hx, false, &io->x));
    return clrt__case_tensor(r, "w", 2, dw, io->hw, false, &io->w);
}

static clrt_status linear_forward_make(clrt__case_run *r)
{
    linear_io *io;
    CLRT_TRY(linear_inputs(r, &io));
    size_t batch = clrt__case_dim(r, 0), nout = clrt__case_dim(r, 2);
    const size_t dy[2] = {batch, nout};
    if (!(r->c->variant & LINEAR_NO_BIAS)) {
        CLRT_TRY(clrt__case_tensor(r, "b", 1, &nout, io->hb, false, &io->b));
        CLRT_TRY(clrt__case_tensor(r, "z", 2, dy, NULL, true, &io->z));
    }
    return clrt__case_tensor(r, "y", 2, dy, NULL, true, &io->y);
}

static clrt_status linear_forward_run(clrt__case_run *r)
{
    linear_io *io = r->io;
    return clrt_linear_forward(r->ctx, io->x, io->w, io->b, (clrt_act)(r->c->variant & 0xff),
                               r->c->param, io->z, io->y);
}

static clrt_status linear_forward_check(clrt__case_run *r)
{
    linear_io *io = r->io;
    size_t batch = clrt__case_dim(r, 0), in = clrt__case_dim(r, 1), nout = clrt__case_dim(r, 2);
    float *z = clrt__case_floats(r, batch * nout), *y = clrt__case_floats(r, batch * nout);
    CLRT_TRY(r->st);
    clrt_ref_linear_forward(batch, in, nout, io->hx, io->hw, io->b ? io->hb : NULL,
                            (clrt_act)(r->c->variant & 0xff), r->c->param, z, y);
    clrt__case_check(r, "y", clrt__case_got(r, io->y), y, NULL, batch * nout,
                     clrt__tol_linear(in));
    if (io->z)
        clrt__case_check(r, "z", clrt__case_got(r, io->z), z, NULL, batch * nout,
                         clrt__tol_linear(in));
    return CLRT_OK;
}

/* Backward, variant = its flags; dx, dw, db start from known values so
 * CLRT_GRAD_ACCUMULATE has something to add to (and 0 something to
 * overwrite). */
static clrt_status linear_backward_make(clrt__case_run *r)
{
    linear_io *io;
    CLRT_TRY(linear_inputs(r, &io));
    size_t batch = clrt__case_dim(r, 0), in = clrt__case_dim(r, 1), nout = clrt__case_dim(r, 2);
    io->hdy = clrt__case_random(r, batch * nout, 4, 1.0f, 0.0f);
    io->hdx = clrt__case_random(r, batch * in, 5, 1.0f, 0.0f);
    io->hdw = clrt__case_random(r, nout * in, 6, 1.0f, 0.0f);
    io->hdb = clrt__case_random(r, nout, 7, 1.0f, 0.0f);
    CLRT_TRY(r->st);
    const size_t dy[2] = {batch, nout}, dx[2] = {batch, in}, dw[2] = {nout, in};
    CLRT_TRY(clrt__case_tensor(r, "dy", 2, dy, io->hdy, false, &io->dy));
    CLRT_TRY(clrt__case_tensor(r, "dx", 2, dx, io->hdx, true, &io->dx));
    CLRT_TRY(clrt__case_tensor(r, "dw", 2, dw, io->hdw, true, &io->dw));
    return clrt__case_tensor(r, "db", 1, &nout, io->hdb, true, &io->db);
}

static clrt_status linear_backward_call(clrt__case_run *r)
{
    linear_io *io = r->io;
    return clrt_linear_backward(r->ctx, io->x, io->w, io->dy, io->dx, io->dw, io->db,
                                (unsigned)(r->c->variant & ~COL_SUM_GROUPS));
}

static clrt_status linear_backward_run(clrt__case_run *r)
{
    return with_col_sums(r, linear_backward_call);
}

static clrt_status linear_backward_check(clrt__case_run *r)
{
    linear_io *io = r->io;
    size_t batch = clrt__case_dim(r, 0), in = clrt__case_dim(r, 1), nout = clrt__case_dim(r, 2);
    float *dx = copy_floats(r, io->hdx, batch * in), *dw = copy_floats(r, io->hdw, nout * in);
    float *db = copy_floats(r, io->hdb, nout);
    CLRT_TRY(r->st);
    clrt_ref_linear_backward(batch, in, nout, io->hx, io->hw, io->hdy, dx, dw, db,
                             (unsigned)(r->c->variant & ~COL_SUM_GROUPS));
    const float *gdx = clrt__case_got(r, io->dx), *gdw = clrt__case_got(r, io->dw);
    clrt__case_check(r, "dx", gdx, dx, NULL, batch * in, clrt__tol_linear(nout));
    clrt__case_check(r, "dw", gdw, dw, NULL, nout * in, clrt__tol_linear(batch));
    clrt__case_check(r, "db", clrt__case_got(r, io->db), db, NULL, nout,
                     clrt__tol_linear(batch));
    if (r->c->variant != 0)
        return CLRT_OK;
    /* Gradients not wanted are not touched. */
    float *again_dx, *again_dw;
    CLRT_TRY(clrt_linear_backward(r->ctx, io->x, io->w, io->dy, NULL, NULL, io->db, 0));
    CLRT_TRY(clrt__case_read(r, io->dx, &again_dx));
    CLRT_TRY(clrt__case_read(r, io->dw, &again_dw));
    clrt__case_check(r, "dx untouched", again_dx, gdx, NULL, batch * in, clrt__tol_bitwise());
    clrt__case_check(r, "dw untouched", again_dw, gdw, NULL, nout * in, clrt__tol_bitwise());
    return CLRT_OK;
}

/* The bias gradient by work-group column sums (COL_SUM_GROUPS), [batch,
 * in, out]: batches not a multiple of the lanes (8), 1 to 513 outputs. */
static const clrt__case_shape bias_grad_shapes[] = {
    {3, {9, 2, 1}, 0, DEV | SIM}, {3, {5, 2, 10}, 0, DEV | SIM}, {3, {3, 1, 513}, 0, DEV | SIM},
    {3, {133, 3, 10}, 0, DEV},    {3, {67, 5, 513}, 0, DEV},
};

/* Finite differences, [batch, in, out] = [3, 5, 4]: L = Σ y⊙r with y =
 * x·Wᵀ + b; dL/dθ from clrt_linear_backward with dy = r against central
 * differences of L, each L from a forward on the device. */
static const clrt__case_shape linear_fd_shapes[] = {{3, {3, 5, 4}, 0, DEV | SIM}};

#define FD_STEP 1e-2f

typedef struct linear_fd_io {
    linear_io l;
    clrt_tensor *r;
    float *hr, *y, *num[3];
} linear_fd_io;

static clrt_status linear_fd_make(clrt__case_run *r)
{
    size_t batch = clrt__case_dim(r, 0), in = clrt__case_dim(r, 1), nout = clrt__case_dim(r, 2);
    linear_fd_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->l.hx = clrt__case_random(r, batch * in, 1, 1.0f, 0.0f);
    io->l.hw = clrt__case_random(r, nout * in, 2, 1.0f, 0.0f);
    io->l.hb = clrt__case_random(r, nout, 3, 1.0f, 0.0f);
    io->hr = clrt__case_random(r, batch * nout, 4, 1.0f, 0.0f);
    io->y = clrt__case_floats(r, batch * nout);
    io->num[0] = clrt__case_floats(r, batch * in);
    io->num[1] = clrt__case_floats(r, nout * in);
    io->num[2] = clrt__case_floats(r, nout);
    CLRT_TRY(r->st);
    const size_t dx[2] = {batch, in}, dw[2] = {nout, in}, dy[2] = {batch, nout};
    CLRT_TRY(clrt__case_tensor(r, "x", 2, dx, io->l.hx, false, &io->l.x));
    CLRT_TRY(clrt__case_tensor(r, "w", 2, dw, io->l.hw, false, &io->l.w));
    CLRT_TRY(clrt__case_tensor(r, "b", 1, &nout, io->l.hb, false, &io->l.b));
    CLRT_TRY(clrt__case_tensor(r, "r", 2, dy, io->hr, false, &io->r));
    CLRT_TRY(clrt__case_tensor(r, "y", 2, dy, NULL, true, &io->l.y));
    CLRT_TRY(clrt__case_tensor(r, "dx", 2, dx, NULL, true, &io->l.dx));
    CLRT_TRY(clrt__case_tensor(r, "dw", 2, dw, NULL, true, &io->l.dw));
    return clrt__case_tensor(r, "db", 1, &nout, NULL, true, &io->l.db);
}

static clrt_status linear_fd_run(clrt__case_run *r)
{
    linear_fd_io *io = r->io;
    linear_io *l = &io->l;
    size_t ny = clrt__case_dim(r, 0) * clrt__case_dim(r, 2);
    CLRT_TRY(clrt_linear_backward(r->ctx, l->x, l->w, io->r, l->dx, l->dw, l->db, 0));
    float *host[3] = {l->hx, l->hw, l->hb};
    clrt_tensor *t[3] = {l->x, l->w, l->b};
    for (int p = 0; p < 3; p++) {
        size_t n = t[p]->numel;
        for (size_t i = 0; i < n; i++) {
            double loss[2];
            float keep = host[p][i];
            for (int side = 0; side < 2; side++) {
                host[p][i] = keep + (side ? -FD_STEP : FD_STEP);
                CLRT_TRY(clrt_tensor_write(t[p], host[p], n));
                CLRT_TRY(clrt_linear_forward(r->ctx, l->x, l->w, l->b, CLRT_ACT_IDENTITY, 0, NULL,
                                             l->y));
                CLRT_TRY(clrt_tensor_read(l->y, io->y, ny));
                loss[side] = 0;
                for (size_t k = 0; k < ny; k++)
                    loss[side] += (double)io->y[k] * io->hr[k];
            }
            host[p][i] = keep;
            CLRT_TRY(clrt_tensor_write(t[p], host[p], n));
            io->num[p][i] = (float)((loss[0] - loss[1]) / (2.0 * FD_STEP));
        }
    }
    return CLRT_OK;
}

static clrt_status linear_fd_check(clrt__case_run *r)
{
    linear_fd_io *io = r->io;
    static const char *const what[3] = {"dx", "dw", "db"};
    clrt_tensor *grads[3] = {io->l.dx, io->l.dw, io->l.db};
    clrt__case_expect(r, clrt__case_guard_intact(io->y, io->l.y->numel),
                      "clrt_tensor_read wrote past y into host memory");
    /* The backward's value is the reference here: the bound is relative to
     * it. */
    for (int p = 0; p < 3; p++)
        clrt__case_check(r, what[p], io->num[p], clrt__case_got(r, grads[p]), NULL,
                         grads[p]->numel, clrt__tol_linear_fd());
    return CLRT_OK;
}

/* ----------------------------------------------------------- activation */

/* [rows, cols] from the odd sizes 1, 7, 33, 257 and 784 × 10; inputs in
 * [-3, 3): past the bends of every activation, into saturation. */
static const clrt__case_shape act_shapes[] = {
    {2, {1, 1}, 0, DEV | SIM},   {2, {7, 33}, 0, DEV | SIM | SELF},
    {2, {1, 257}, 0, DEV | SIM}, {2, {257, 10}, 0, DEV},
    {2, {33, 10}, 0, SIM},       {2, {33, 784}, 0, DEV},
    {2, {2, 784}, 0, SIM},       {2, {784, 10}, 0, DEV},
};

#define ACT_INPUT_SCALE 3.0f

typedef struct act_io {
    clrt_tensor *x, *y, *dy, *dx, *pert, *f;
    float *hx, *hy, *hdy, *xp, *xm, *fp, *fm, *num;
} act_io;

static bool backward_needs_x(clrt_act act)
{
    return act == CLRT_ACT_RELU || act == CLRT_ACT_LEAKY_RELU || act == CLRT_ACT_SIN ||
           act == CLRT_ACT_GELU || act == CLRT_ACT_GELU_TANH;
}

static bool backward_needs_y(clrt_act act)
{
    return act == CLRT_ACT_SIGMOID || act == CLRT_ACT_TANH || act == CLRT_ACT_SOFTMAX;
}

static size_t last_dim(const clrt__case_run *r)
{
    return r->s->dims[r->s->rank - 1];
}

static clrt_status act_forward_make(clrt__case_run *r)
{
    size_t n = clrt__case_numel(r);
    act_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hx = clrt__case_random(r, n, 1, ACT_INPUT_SCALE, 0.0f);
    CLRT_TRY(r->st);
    CLRT_TRY(clrt__case_tensor(r, "x", r->s->rank, r->s->dims, io->hx, false, &io->x));
    return clrt__case_tensor(r, "y", r->s->rank, r->s->dims, NULL, true, &io->y);
}

static clrt_status act_forward_run(clrt__case_run *r)
{
    act_io *io = r->io;
    return clrt_act_forward(r->ctx, (clrt_act)r->c->variant, r->c->param, io->x, io->y);
}

static clrt_status act_forward_check(clrt__case_run *r)
{
    act_io *io = r->io;
    size_t n = clrt__case_numel(r), cols = last_dim(r);
    float *want = clrt__case_floats(r, n);
    CLRT_TRY(r->st);
    clrt_ref_act_forward((clrt_act)r->c->variant, r->c->param, n / cols, cols, io->hx, want);
    clrt__case_check(r, "y", clrt__case_got(r, io->y), want, NULL, n,
                     clrt__tol_act((clrt_act)r->c->variant, false));
    return CLRT_OK;
}

/* The backward gets y = the reference's forward of x, so only the backward
 * is judged; it is called with only the operand the activation needs (the
 * other NULL), then with both, which must give the same bits. */
static clrt_status act_backward_make(clrt__case_run *r)
{
    size_t n = clrt__case_numel(r), cols = last_dim(r);
    act_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hx = clrt__case_random(r, n, 1, ACT_INPUT_SCALE, 0.0f);
    io->hdy = clrt__case_random(r, n, 2, 1.0f, 0.0f);
    io->hy = clrt__case_floats(r, n);
    CLRT_TRY(r->st);
    clrt_ref_act_forward((clrt_act)r->c->variant, r->c->param, n / cols, cols, io->hx, io->hy);
    int rank = r->s->rank;
    const size_t *dims = r->s->dims;
    CLRT_TRY(clrt__case_tensor(r, "x", rank, dims, io->hx, false, &io->x));
    CLRT_TRY(clrt__case_tensor(r, "y", rank, dims, io->hy, false, &io->y));
    CLRT_TRY(clrt__case_tensor(r, "dy", rank, dims, io->hdy, false, &io->dy));
    return clrt__case_tensor(r, "dx", rank, dims, NULL, true, &io->dx);
}

static clrt_status act_backward_run(clrt__case_run *r)
{
    act_io *io = r->io;
    clrt_act act = (clrt_act)r->c->variant;
    return clrt_act_backward(r->ctx, act, r->c->param, backward_needs_x(act) ? io->x : NULL,
                             backward_needs_y(act) ? io->y : NULL, io->dy, io->dx);
}

static clrt_status act_backward_check(clrt__case_run *r)
{
    act_io *io = r->io;
    clrt_act act = (clrt_act)r->c->variant;
    size_t n = clrt__case_numel(r), cols = last_dim(r);
    float *want = clrt__case_floats(r, n), *both;
    CLRT_TRY(r->st);
    clrt_ref_act_backward(act, r->c->param, n / cols, cols, io->hx, io->hy, io->hdy, want);
    const float *dx = clrt__case_got(r, io->dx);
    clrt__case_check(r, "dx", dx, want, NULL, n, clrt__tol_act(act, true));
    CLRT_TRY(clrt_tensor_fill(io->dx, NAN));
    CLRT_TRY(clrt_act_backward(r->ctx, act, r->c->param, io->x, io->y, io->dy, io->dx));
    CLRT_TRY(clrt__case_read(r, io->dx, &both));
    clrt__case_check(r, "dx both", both, dx, NULL, n, clrt__tol_bitwise());
    return CLRT_OK;
}

/* Softmax forward and backward over the last dimension of ranks 1 to 4,
 * rows of length 1, large common offsets (the shape's value: max-subtraction
 * keeps them finite) and a -inf entry in the first row (masked: probability
 * 0). The backward writes dx over x. */
static const clrt__case_shape softmax_rows_shapes[] = {
    {1, {33}, 0.0f, DEV | SIM},        {1, {1}, 5.0f, DEV | SIM},
    {3, {2, 3, 7}, 0.0f, DEV | SIM},   {4, {2, 1, 3, 10}, 0.0f, DEV | SIM},
    {2, {7, 1}, -3.0f, DEV | SIM},     {2, {7, 33}, 500.0f, DEV | SIM},
    {2, {3, 257}, -1000.0f, DEV | SIM},
};

static clrt_status softmax_rows_make(clrt__case_run *r)
{
    size_t n = clrt__case_numel(r);
    act_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hx = clrt__case_random(r, n, 1, ACT_INPUT_SCALE, r->s->value);
    io->hdy = clrt__case_random(r, n, 2, 1.0f, 0.0f);
    CLRT_TRY(r->st);
    if (last_dim(r) > 2)
        io->hx[1] = -INFINITY;
    int rank = r->s->rank;
    const size_t *dims = r->s->dims;
    CLRT_TRY(clrt__case_tensor(r, "x", rank, dims, io->hx, true, &io->x));
    CLRT_TRY(clrt__case_tensor(r, "y", rank, dims, NULL, true, &io->y));
    return clrt__case_tensor(r, "dy", rank, dims, io->hdy, false, &io->dy);
}

static clrt_status softmax_rows_run(clrt__case_run *r)
{
    act_io *io = r->io;
    CLRT_TRY(clrt_act_forward(r->ctx, CLRT_ACT_SOFTMAX, 0.0f, io->x, io->y));
    return clrt_act_backward(r->ctx, CLRT_ACT_SOFTMAX, 0.0f, NULL, io->y, io->dy, io->x);
}

static clrt_status softmax_rows_check(clrt__case_run *r)
{
    act_io *io = r->io;
    size_t n = clrt__case_numel(r), cols = last_dim(r), rows = n / cols;
    float *want = clrt__case_floats(r, n), *dx = clrt__case_floats(r, n);
    CLRT_TRY(r->st);
    const float *y = clrt__case_got(r, io->y);
    clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0.0f, rows, cols, io->hx, want);
    clrt__case_check(r, "y", y, want, NULL, n, clrt__tol_act(CLRT_ACT_SOFTMAX, false));
    clrt__tol sum_tol = clrt__tol_softmax_row_sum();
    for (size_t i = 0; i < rows; i++) {
        double sum = 0.0;
        bool finite = true;
        for (size_t j = 0; j < cols; j++) {
            finite = finite && isfinite(y[i * cols + j]);
            sum += y[i * cols + j];
        }
        clrt__case_expect(r, finite, "softmax row %zu is not finite", i);
        clrt__case_expect(r, fabs(sum - 1.0) <= clrt__tol_bound(sum_tol, 1.0, 0),
                          "softmax row %zu sums to %.9g, not 1", i, sum);
    }
    if (cols > 2)
        clrt__case_expect(r, y[1] == 0.0f, "softmax of the -inf entry is %.9g, not 0",
                          (double)y[1]);
    if (cols == 1)
        for (size_t i = 0; i < n; i++)
            clrt__case_expect(r, y[i] == 1.0f, "softmax of a row of one is %.9g, not 1",
                              (double)y[i]);
    clrt_ref_act_backward(CLRT_ACT_SOFTMAX, 0.0f, rows, cols, NULL, y, io->hdy, dx);
    clrt__case_check(r, "dx", clrt__case_got(r, io->x), dx, NULL, n,
                     clrt__tol_act(CLRT_ACT_SOFTMAX, true));
    return CLRT_OK;
}

/* Finite differences on the device, [rows, cols] = [5, 7]: for each column
 * j, the forward at x ± h in column j of every row (rows are independent),
 * and Σ_k dy[r,k]·(f(x+h)[r,k] − f(x−h)[r,k]) / (2h) against dx[r,j] from
 * clrt_act_backward. Element-wise activations only see the k = j term;
 * softmax mixes the row. Inputs are kept >= 0.1 away from relu's kink. */
static const clrt__case_shape act_fd_shapes[] = {{2, {5, 7}, 0, DEV | SIM}};

static clrt_status act_fd_make(clrt__case_run *r)
{
    size_t n = clrt__case_numel(r);
    act_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hx = clrt__case_random(r, n, 1, 1.0f, 0.0f);
    io->hdy = clrt__case_random(r, n, 2, 1.0f, 0.0f);
    io->xp = clrt__case_floats(r, n);
    io->xm = clrt__case_floats(r, n);
    io->fp = clrt__case_floats(r, n);
    io->fm = clrt__case_floats(r, n);
    io->num = clrt__case_floats(r, n);
    CLRT_TRY(r->st);
    for (size_t i = 0; i < n; i++) /* |x| in [0.1, 2.1) */
        io->hx[i] = io->hx[i] < 0 ? -0.1f + 2.0f * io->hx[i] : 0.1f + 2.0f * io->hx[i];
    const size_t *d = r->s->dims;
    CLRT_TRY(clrt__case_tensor(r, "x", 2, d, io->hx, false, &io->x));
    CLRT_TRY(clrt__case_tensor(r, "y", 2, d, NULL, true, &io->y));
    CLRT_TRY(clrt__case_tensor(r, "dy", 2, d, io->hdy, false, &io->dy));
    CLRT_TRY(clrt__case_tensor(r, "dx", 2, d, NULL, true, &io->dx));
    CLRT_TRY(clrt__case_tensor(r, "x perturbed", 2, d, NULL, false, &io->pert));
    return clrt__case_tensor(r, "f", 2, d, NULL, true, &io->f);
}

static clrt_status act_fd_run(clrt__case_run *r)
{
    act_io *io = r->io;
    clrt_act act = (clrt_act)r->c->variant;
    float p = r->c->param;
    size_t rows = clrt__case_dim(r, 0), cols = clrt__case_dim(r, 1), n = rows * cols;
    CLRT_TRY(clrt_act_forward(r->ctx, act, p, io->x, io->y));
    CLRT_TRY(clrt_act_backward(r->ctx, act, p, io->x, io->y, io->dy, io->dx));
    for (size_t j = 0; j < cols; j++) {
        memcpy(io->xp, io->hx, n * sizeof *io->xp);
        memcpy(io->xm, io->hx, n * sizeof *io->xm);
        for (size_t i = 0; i < rows; i++) {
            io->xp[i * cols + j] += FD_STEP;
            io->xm[i * cols + j] -= FD_STEP;
        }
        CLRT_TRY(clrt_tensor_write(io->pert, io->xp, n));
        CLRT_TRY(clrt_act_forward(r->ctx, act, p, io->pert, io->f));
        CLRT_TRY(clrt_tensor_read(io->f, io->fp, n));
        CLRT_TRY(clrt_tensor_write(io->pert, io->xm, n));
        CLRT_TRY(clrt_act_forward(r->ctx, act, p, io->pert, io->f));
        CLRT_TRY(clrt_tensor_read(io->f, io->fm, n));
        for (size_t i = 0; i < rows; i++) {
            /* The step actually taken: x ± h is rounded in float. */
            double step = (double)io->xp[i * cols + j] - (double)io->xm[i * cols + j];
            double num = 0.0;
            for (size_t k = 0; k < cols; k++)
                num += (double)io->hdy[i * cols + k] *
                       ((double)io->fp[i * cols + k] - (double)io->fm[i * cols + k]);
            io->num[i * cols + j] = (float)(num / step);
        }
    }
    return CLRT_OK;
}

static clrt_status act_fd_check(clrt__case_run *r)
{
    act_io *io = r->io;
    size_t n = clrt__case_numel(r);
    clrt__case_expect(r, clrt__case_guard_intact(io->fp, n) && clrt__case_guard_intact(io->fm, n),
                      "clrt_tensor_read wrote past f into host memory");
    /* The backward's value is the reference: the bound is relative to it. */
    clrt__case_check(r, "dx", io->num, clrt__case_got(r, io->dx), NULL, n, clrt__tol_act_fd());
    return CLRT_OK;
}

/* ----------------------------------------------------------------- loss */

/* [rows, cols] (a loss's [batch, classes]) from the odd sizes 1, 7, 33, 257
 * and 784 × 10; [257, 784] makes the sums take two stages. */
static const clrt__case_shape loss_shapes[] = {
    {2, {1, 1}, 0, DEV | SIM},   {2, {7, 33}, 0, DEV | SIM},  {2, {1, 257}, 0, DEV | SIM},
    {2, {257, 10}, 0, DEV},      {2, {33, 10}, 0, SIM | SELF}, {2, {33, 784}, 0, DEV},
    {2, {2, 784}, 0, SIM},       {2, {784, 10}, 0, DEV},      {2, {257, 784}, 0, DEV},
    {2, {257, 33}, 0, SIM},
};

typedef struct loss_io {
    clrt_tensor *pred, *target, *labels, *loss, *grad, *pert;
    float *hp, *ht, *hl, *grad_host, *pert_host, *num;
    float expect; /* accuracy: the rows labelled with their argmax */
} loss_io;

/* Class labels in [0, classes) as floats. */
static float *random_labels(clrt__case_run *r, size_t batch, size_t classes, uint32_t stream)
{
    float *l = clrt__case_random(r, batch, stream, 1.0f, 0.0f);
    if (l)
        for (size_t i = 0; i < batch; i++) {
            size_t c = (size_t)((l[i] + 1.0f) * 0.5f * (float)classes);
            l[i] = (float)(c < classes ? c : classes - 1);
        }
    return l;
}

/* MSE, variant = the rank the [rows, cols] tensors are seen as: [n],
 * [rows, cols] or [1, rows, cols]. */
static clrt_status mse_make(clrt__case_run *r)
{
    size_t rows = clrt__case_dim(r, 0), cols = clrt__case_dim(r, 1), n = rows * cols, one = 1;
    const size_t d3[3] = {1, rows, cols};
    int rank = r->c->variant;
    const size_t *dims = rank == 1 ? &n : rank == 2 ? r->s->dims : d3;
    loss_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hp = clrt__case_random(r, n, 1, 1.0f, 0.0f);
    io->ht = clrt__case_random(r, n, 2, 1.0f, 0.0f);
    CLRT_TRY(r->st);
    CLRT_TRY(clrt__case_tensor(r, "pred", rank, dims, io->hp, false, &io->pred));
    CLRT_TRY(clrt__case_tensor(r, "target", rank, dims, io->ht, false, &io->target));
    CLRT_TRY(clrt__case_tensor(r, "loss", 1, &one, NULL, true, &io->loss));
    return clrt__case_tensor(r, "grad", rank, dims, NULL, true, &io->grad);
}

static clrt_status mse_run(clrt__case_run *r)
{
    loss_io *io = r->io;
    return clrt_loss_mse(r->ctx, io->pred, io->target, io->loss, io->grad);
}

static clrt_status mse_check(clrt__case_run *r)
{
    loss_io *io = r->io;
    size_t n = clrt__case_numel(r);
    float *grad = clrt__case_floats(r, n), *loss = clrt__case_floats(r, 1), *again;
    CLRT_TRY(r->st);
    loss[0] = clrt_ref_loss_mse(n, io->hp, io->ht, grad);
    const float *got = clrt__case_got(r, io->loss);
    clrt__case_check(r, "loss", got, loss, NULL, 1, clrt__tol_mse_loss());
    clrt__case_check(r, "grad", clrt__case_got(r, io->grad), grad, NULL, n,
                     clrt__tol_mse_grad());
    /* Without a grad: the same loss, bit for bit. */
    CLRT_TRY(clrt_tensor_fill(io->loss, NAN));
    CLRT_TRY(clrt_loss_mse(r->ctx, io->pred, io->target, io->loss, NULL));
    CLRT_TRY(clrt__case_read(r, io->loss, &again));
    clrt__case_check(r, "loss no grad", again, got, NULL, 1, clrt__tol_bitwise());
    return CLRT_OK;
}

/* Cross-entropy, logits in [-3, 3) plus the common offset `param`. */
static clrt_status ce_make(clrt__case_run *r)
{
    size_t batch = clrt__case_dim(r, 0), classes = clrt__case_dim(r, 1), one = 1;
    loss_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hp = clrt__case_random(r, batch * classes, 1, 3.0f, r->c->param);
    io->hl = random_labels(r, batch, classes, 2);
    CLRT_TRY(r->st);
    CLRT_TRY(clrt__case_tensor(r, "logits", 2, r->s->dims, io->hp, false, &io->pred));
    CLRT_TRY(clrt__case_tensor(r, "labels", 1, &batch, io->hl, false, &io->labels));
    CLRT_TRY(clrt__case_tensor(r, "loss", 1, &one, NULL, true, &io->loss));
    return clrt__case_tensor(r, "grad", 2, r->s->dims, NULL, true, &io->grad);
}

static clrt_status ce_run(clrt__case_run *r)
{
    loss_io *io = r->io;
    return clrt_loss_cross_entropy(r->ctx, io->pred, io->labels, io->loss, io->grad);
}

static clrt_status ce_check(clrt__case_run *r)
{
    loss_io *io = r->io;
    size_t batch = clrt__case_dim(r, 0), classes = clrt__case_dim(r, 1), n = batch * classes;
    float *grad = clrt__case_floats(r, n), *loss = clrt__case_floats(r, 1), *again;
    CLRT_TRY(r->st);
    loss[0] = clrt_ref_loss_cross_entropy(batch, classes, io->hp, io->hl, grad);
    const float *got = clrt__case_got(r, io->loss);
    clrt__case_check_finite(r, "loss", got, loss, 1, clrt__tol_ce_loss());
    clrt__case_check(r, "grad", clrt__case_got(r, io->grad), grad, NULL, n,
                     clrt__tol_ce_grad(batch));
    CLRT_TRY(clrt_tensor_fill(io->loss, NAN));
    CLRT_TRY(clrt_loss_cross_entropy(r->ctx, io->pred, io->labels, io->loss, NULL));
    CLRT_TRY(clrt__case_read(r, io->loss, &again));
    clrt__case_check(r, "loss no grad", again, got, NULL, 1, clrt__tol_bitwise());
    return CLRT_OK;
}

/* Accuracy: a count, so exact. Even rows are labelled with their argmax,
 * odd rows with another class. */
static clrt_status accuracy_make(clrt__case_run *r)
{
    size_t batch = clrt__case_dim(r, 0), classes = clrt__case_dim(r, 1), one = 1;
    loss_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hp = clrt__case_random(r, batch * classes, 1, 1.0f, 0.0f);
    io->hl = clrt__case_floats(r, batch);
    CLRT_TRY(r->st);
    size_t expect = 0;
    for (size_t i = 0; i < batch; i++) {
        const float *row = io->hp + i * classes;
        size_t best = 0;
        for (size_t j = 1; j < classes; j++)
            if (row[j] > row[best])
                best = j;
        if (i % 2 == 0 || classes == 1) {
            io->hl[i] = (float)best;
            expect++;
        } else {
            io->hl[i] = (float)((best + 1) % classes);
        }
    }
    io->expect = (float)expect;
    CLRT_TRY(clrt__case_tensor(r, "logits", 2, r->s->dims, io->hp, false, &io->pred));
    CLRT_TRY(clrt__case_tensor(r, "labels", 1, &batch, io->hl, false, &io->labels));
    return clrt__case_tensor(r, "correct", 1, &one, NULL, true, &io->loss);
}

static clrt_status accuracy_run(clrt__case_run *r)
{
    loss_io *io = r->io;
    return clrt_accuracy(r->ctx, io->pred, io->labels, io->loss);
}

static clrt_status accuracy_check(clrt__case_run *r)
{
    loss_io *io = r->io;
    float *ref = clrt__case_floats(r, 1);
    CLRT_TRY(r->st);
    ref[0] = clrt_ref_accuracy(clrt__case_dim(r, 0), clrt__case_dim(r, 1), io->hp, io->hl);
    const float *got = clrt__case_got(r, io->loss);
    clrt__case_check(r, "count", got, &io->expect, NULL, 1, clrt__tol_exact());
    clrt__case_check(r, "count vs reference", got, ref, NULL, 1, clrt__tol_exact());
    return CLRT_OK;
}

/* Both losses' grads (variant 0: MSE, 1: cross-entropy) by central
 * differences on the device, one element at a time: (L(p + h·e_i) −
 * L(p − h·e_i)) / 2h against grad[i], [rows, cols] = [3, 5]. */
static const clrt__case_shape loss_fd_shapes[] = {{2, {3, 5}, 0, DEV | SIM}};

static clrt_status loss_fd_make(clrt__case_run *r)
{
    size_t rows = clrt__case_dim(r, 0), cols = clrt__case_dim(r, 1), n = rows * cols, one = 1;
    loss_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->hp = clrt__case_random(r, n, 1, 1.0f, 0.0f);
    io->ht = clrt__case_random(r, n, 2, 1.0f, 0.0f);
    io->hl = random_labels(r, rows, cols, 3);
    io->pert_host = clrt__case_floats(r, n);
    io->num = clrt__case_floats(r, n);
    CLRT_TRY(r->st);
    const size_t *d = r->s->dims;
    CLRT_TRY(clrt__case_tensor(r, "pred", 2, d, io->hp, false, &io->pred));
    CLRT_TRY(clrt__case_tensor(r, "target", 2, d, io->ht, false, &io->target));
    CLRT_TRY(clrt__case_tensor(r, "labels", 1, &rows, io->hl, false, &io->labels));
    CLRT_TRY(clrt__case_tensor(r, "pred perturbed", 2, d, NULL, false, &io->pert));
    CLRT_TRY(clrt__case_tensor(r, "grad", 2, d, NULL, true, &io->grad));
    return clrt__case_tensor(r, "loss", 1, &one, NULL, true, &io->loss);
}

static clrt_status loss_of(clrt__case_run *r, const clrt_tensor *pred, clrt_tensor *grad)
{
    loss_io *io = r->io;
    if (r->c->variant == 0)
        return clrt_loss_mse(r->ctx, pred, io->target, io->loss, grad);
    return clrt_loss_cross_entropy(r->ctx, pred, io->labels, io->loss, grad);
}

static clrt_status loss_fd_run(clrt__case_run *r)
{
    loss_io *io = r->io;
    size_t n = clrt__case_numel(r);
    CLRT_TRY(loss_of(r, io->pred, io->grad));
    for (size_t i = 0; i < n; i++) {
        double l[2], x[2];
        for (int side = 0; side < 2; side++) {
            float v;
            memcpy(io->pert_host, io->hp, n * sizeof *io->hp);
            io->pert_host[i] = side == 0 ? io->hp[i] + FD_STEP : io->hp[i] - FD_STEP;
            x[side] = io->pert_host[i];
            CLRT_TRY(clrt_tensor_write(io->pert, io->pert_host, n));
            CLRT_TRY(loss_of(r, io->pert, NULL));
            CLRT_TRY(clrt_tensor_read(io->loss, &v, 1));
            l[side] = v;
        }
        io->num[i] = (float)((l[0] - l[1]) / (x[0] - x[1]));
    }
    return CLRT_OK;
}

static clrt_status loss_fd_check(clrt__case_run *r)
{
    loss_io *io = r->io;
    /* The difference quotient is the reference: the bound is relative to
     * it. */
    clrt__case_check(r, "grad", clrt__case_got(r, io->grad), io->num, NULL, clrt__case_numel(r),
                     clrt__tol_loss_fd());
    return CLRT_OK;
}

/* ---------------------------------------------------------- elementwise */

/* clrt_reduce over [rows, cols], variant = op·2 + axis; inputs in [-0.5,
 * 1.5): a common offset makes the sums grow, and their errors too. */
static const clrt__case_shape reduce_shapes[] = {
    {2, {1, 1}, 0, DEV | SIM},   {2, {7, 33}, 0, DEV | SIM}, {2, {1, 257}, 0, DEV | SIM},
    {2, {257, 1}, 0, DEV | SIM}, {2, {257, 10}, 0, DEV},     {2, {33, 10}, 0, SIM},
    {2, {33, 784}, 0, DEV},      {2, {2, 784}, 0, SIM},      {2, {784, 10}, 0, DEV},
    {2, {10, 784}, 0, DEV},      {2, {7, 257}, 0, SELF},
};

/* The work-group column sums (COL_SUM_GROUPS): rows not a multiple of the
 * lanes (8), 1 to 513 columns (a partial block, several blocks). */
static const clrt__case_shape col_sum_shapes[] = {
    {2, {1, 1}, 0, DEV | SIM},   {2, {7, 1}, 0, DEV | SIM},  {2, {9, 10}, 0, DEV | SIM},
    {2, {3, 513}, 0, DEV | SIM}, {2, {257, 10}, 0, DEV},     {2, {129, 513}, 0, DEV},
    {2, {1001, 1}, 0, DEV},
};

typedef struct ew_io {
    clrt_tensor *a, *b, *y;
    float *ha, *hb;
} ew_io;

static clrt_status reduce_make(clrt__case_run *r)
{
    int axis = r->c->variant & 1;
    size_t rows = clrt__case_dim(r, 0), cols = clrt__case_dim(r, 1), m = axis ? rows : cols;
    ew_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->ha = clrt__case_random(r, rows * cols, 1, 1.0f, 0.5f);
    CLRT_TRY(r->st);
    CLRT_TRY(clrt__case_tensor(r, "x", 2, r->s->dims, io->ha, false, &io->a));
    return clrt__case_tensor(r, "y", 1, &m, NULL, true, &io->y);
}

static clrt_status reduce_call(clrt__case_run *r)
{
    ew_io *io = r->io;
    return clrt_reduce(r->ctx, (clrt_reduce_op)((r->c->variant & 0xff) >> 1), r->c->variant & 1,
                       io->a, io->y);
}

static clrt_status reduce_run(clrt__case_run *r)
{
    return with_col_sums(r, reduce_call);
}

static clrt_status reduce_check(clrt__case_run *r)
{
    ew_io *io = r->io;
    int axis = r->c->variant & 1;
    clrt_reduce_op op = (clrt_reduce_op)((r->c->variant & 0xff) >> 1);
    size_t rows = clrt__case_dim(r, 0), cols = clrt__case_dim(r, 1);
    size_t m = axis ? rows : cols, count = axis ? cols : rows;
    float *want = clrt__case_floats(r, m);
    double *mag = doubles(r, m);
    CLRT_TRY(r->st);
    clrt_ref_reduce(op, axis, rows, cols, io->ha, want);
    for (size_t j = 0; j < m; j++)
        for (size_t k = 0; k < count; k++)
            mag[j] += fabs(axis == 0 ? io->ha[k * cols + j] : io->ha[j * cols + k]);
    clrt__case_check(r, "y", clrt__case_got(r, io->y), want, mag, m,
                     clrt__tol_reduce(op, count));
    return CLRT_OK;
}

/* add, scale, axpy over ranks 1 to 3 (variant 0, 1, 2; param = alpha). */
static const clrt__case_shape ew_shapes[] = {
    {1, {1}, 0, DEV | SIM},          {1, {7}, 0, DEV | SIM},       {1, {33}, 0, DEV | SIM},
    {1, {257}, 0, DEV | SIM},        {2, {784, 10}, 0, DEV | SIM}, {3, {7, 1, 33}, 0, DEV | SIM},
    {2, {7, 257}, 0, SELF},
};

enum { EW_ADD, EW_SCALE, EW_AXPY };

static clrt_status ew_make(clrt__case_run *r)
{
    size_t n = clrt__case_numel(r);
    int rank = r->s->rank;
    const size_t *dims = r->s->dims;
    ew_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    io->ha = clrt__case_random(r, n, 1, 1.0f, 0.0f);
    io->hb = clrt__case_random(r, n, 2, 1.0f, 0.0f);
    CLRT_TRY(r->st);
    CLRT_TRY(clrt__case_tensor(r, "a", rank, dims, io->ha, false, &io->a));
    if (r->c->variant == EW_ADD)
        CLRT_TRY(clrt__case_tensor(r, "b", rank, dims, io->hb, false, &io->b));
    /* axpy adds onto y = b. */
    return clrt__case_tensor(r, "y", rank, dims, r->c->variant == EW_AXPY ? io->hb : NULL, true,
                             &io->y);
}

static clrt_status ew_run(clrt__case_run *r)
{
    ew_io *io = r->io;
    switch (r->c->variant) {
    case EW_ADD:
        return clrt_add(r->ctx, io->a, io->b, io->y);
    case EW_SCALE:
        return clrt_scale(r->ctx, r->c->param, io->a, io->y);
    default:
        return clrt_axpy(r->ctx, r->c->param, io->a, io->y);
    }
}

static clrt_status ew_check(clrt__case_run *r)
{
    ew_io *io = r->io;
    size_t n = clrt__case_numel(r);
    float alpha = r->c->param;
    float *want = clrt__case_floats(r, n);
    double *mag = doubles(r, n);
    CLRT_TRY(r->st);
    const float *got = clrt__case_got(r, io->y);
    if (r->c->variant == EW_ADD) {
        clrt_ref_add(n, io->ha, io->hb, want);
        clrt__case_check(r, "y", got, want, NULL, n, clrt__tol_exact());
    } else if (r->c->variant == EW_SCALE) {
        clrt_ref_scale(n, alpha, io->ha, want);
        clrt__case_check(r, "y", got, want, NULL, n, clrt__tol_exact());
    } else {
        memcpy(want, io->hb, n * sizeof *want);
        clrt_ref_axpy(n, alpha, io->ha, want);
        for (size_t i = 0; i < n; i++)
            mag[i] = fabs(io->hb[i]) + fabs((double)alpha * io->ha[i]);
        clrt__case_check(r, "y", got, want, mag, n, clrt__tol_axpy());
    }
    return CLRT_OK;
}

/* ---------------------------------------------------------------- optim */

/* The shape is the optimizer's parameters: one of each size; variant = a
 * preset below. */
static const clrt__case_shape optim_shapes[] = {
    {4, {1, 7, 33, 257}, 0, DEV},
    {4, {1, 7, 33, 5}, 0, SIM},
    {1, {257}, 0, SELF},
};

#define OPTIM_STEPS 5

typedef struct optim_preset {
    clrt_optim_kind kind;
    float lr, momentum, dampening;
    int nesterov;
    float weight_decay; /* < 0: the kind's default */
    float beta1, beta2, eps; /* 0: the default */
} optim_preset;

enum {
    OPT_SGD, OPT_SGD_M, OPT_SGD_MD, OPT_SGD_NESTEROV, OPT_SGD_WD, OPT_SGD_MD_WD,
    OPT_SGD_NESTEROV_WD, OPT_ADAM, OPT_ADAM_WD, OPT_ADAM_BETAS, OPT_ADAMW, OPT_ADAMW_WD0,
    OPT_ADAMW_WD05,
};

static const optim_preset optim_presets[] = {
    [OPT_SGD] = {CLRT_OPTIM_SGD, 0.1f, 0, 0, 0, 0, 0, 0, 0},
    [OPT_SGD_M] = {CLRT_OPTIM_SGD, 0.1f, 0.9f, 0, 0, 0, 0, 0, 0},
    [OPT_SGD_MD] = {CLRT_OPTIM_SGD, 0.1f, 0.9f, 0.3f, 0, 0, 0, 0, 0},
    [OPT_SGD_NESTEROV] = {CLRT_OPTIM_SGD, 0.1f, 0.9f, 0, 1, 0, 0, 0, 0},
    [OPT_SGD_WD] = {CLRT_OPTIM_SGD, 0.1f, 0, 0, 0, 0.05f, 0, 0, 0},
    [OPT_SGD_MD_WD] = {CLRT_OPTIM_SGD, 0.1f, 0.8f, 0.1f, 0, 0.05f, 0, 0, 0},
    [OPT_SGD_NESTEROV_WD] = {CLRT_OPTIM_SGD, 0.1f, 0.8f, 0, 1, 0.05f, 0, 0, 0},
    [OPT_ADAM] = {CLRT_OPTIM_ADAM, 0.05f, 0, 0, 0, 0, 0, 0, 0},
    [OPT_ADAM_WD] = {CLRT_OPTIM_ADAM, 0.05f, 0, 0, 0, 0.05f, 0, 0, 0},
    [OPT_ADAM_BETAS] = {CLRT_OPTIM_ADAM, 0.05f, 0, 0, 0, 0.05f, 0.5f, 0.75f, 1e-3f},
    [OPT_ADAMW] = {CLRT_OPTIM_ADAMW, 0.05f, 0, 0, 0, -1, 0, 0, 0},
    [OPT_ADAMW_WD0] = {CLRT_OPTIM_ADAMW, 0.05f, 0, 0, 0, 0, 0, 0, 0},
    [OPT_ADAMW_WD05] = {CLRT_OPTIM_ADAMW, 0.05f, 0, 0, 0, 0.5f, 0, 0, 0},
};

static void optim_options(int preset, clrt_optim_options *o)
{
    const optim_preset *p = &optim_presets[preset];
    clrt_optim_options_init(o, p->kind);
    o->lr = p->lr;
    if (p->weight_decay >= 0)
        o->weight_decay = p->weight_decay;
    if (p->kind == CLRT_OPTIM_SGD) {
        o->momentum = p->momentum;
        o->dampening = p->dampening;
        o->nesterov = p->nesterov;
        return;
    }
    if (p->beta1 > 0)
        o->beta1 = p->beta1;
    if (p->beta2 > 0)
        o->beta2 = p->beta2;
    if (p->eps > 0)
        o->eps = p->eps;
}

typedef struct optim_io {
    clrt_optim_options o;
    clrt_optim *opt;
    clrt_tensor *params[4], *grads[4], *state[4][2];
    float *p0[4], *g[OPTIM_STEPS][4];
} optim_io;

static void optim_release(void *p)
{
    clrt_optim_destroy(((optim_io *)p)->opt);
}

static clrt_status optim_make(clrt__case_run *r)
{
    optim_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    r->release = optim_release;
    optim_options(r->c->variant, &io->o);
    int np = r->s->rank;
    for (int k = 0; k < np; k++) {
        size_t n = r->s->dims[k];
        char *name = clrt__case_alloc(r, 16);
        io->p0[k] = clrt__case_random(r, n, 100u + (uint32_t)k, 1.5f, 0.0f);
        for (int t = 0; t < OPTIM_STEPS; t++)
            io->g[t][k] = clrt__case_random(r, n, 1000u * (uint32_t)(t + 1) + (uint32_t)k, 1.0f,
                                            0.0f);
        CLRT_TRY(r->st);
        snprintf(name, 16, np > 1 ? "param[%d]" : "param", k);
        CLRT_TRY(clrt__case_tensor(r, name, 1, &n, io->p0[k], true, &io->params[k]));
        CLRT_TRY(clrt__case_tensor(r, "grad", 1, &n, NULL, false, &io->grads[k]));
    }
    CLRT_TRY(clrt_optim_create(r->ctx, &io->o, (size_t)np, io->params, &io->opt));
    for (int k = 0; k < np; k++) {
        for (int slot = 0; slot < 2; slot++) {
            const char *state;
            io->state[k][slot] = clrt_optim_state(io->opt, (size_t)k, slot, &state);
            if (!io->state[k][slot])
                continue;
            char *name = clrt__case_alloc(r, 32);
            CLRT_TRY(r->st);
            if (np > 1)
                snprintf(name, 32, "%s[%d]", state, k);
            else
                snprintf(name, 32, "%s", state);
            CLRT_TRY(clrt__case_watch(r, name, io->state[k][slot]));
        }
    }
    return CLRT_OK;
}

static clrt_status optim_run(clrt__case_run *r)
{
    optim_io *io = r->io;
    for (int t = 0; t < OPTIM_STEPS; t++) {
        for (int k = 0; k < r->s->rank; k++)
            CLRT_TRY(clrt_tensor_write(io->grads[k], io->g[t][k], r->s->dims[k]));
        CLRT_TRY(clrt_optim_step(io->opt, io->grads));
    }
    return CLRT_OK;
}

static clrt_status optim_check(clrt__case_run *r)
{
    optim_io *io = r->io;
    clrt__case_expect(r, clrt_optim_steps(io->opt) == OPTIM_STEPS,
                      "clrt_optim_steps is %llu after %d steps",
                      (unsigned long long)clrt_optim_steps(io->opt), OPTIM_STEPS);
    for (int k = 0; k < r->s->rank; k++) {
        size_t n = r->s->dims[k];
        float *p = copy_floats(r, io->p0[k], n), *s0 = clrt__case_floats(r, n),
              *s1 = clrt__case_floats(r, n);
        CLRT_TRY(r->st);
        for (int t = 0; t < OPTIM_STEPS; t++)
            clrt_ref_optim_step(&io->o, (uint64_t)t + 1, n, p, io->g[t][k], s0, s1);
        for (size_t i = 0; i < r->nt; i++)
            if (r->t[i].t == io->params[k])
                clrt__case_check(r, r->t[i].name, r->t[i].got, p, NULL, n,
                                 clrt__tol_optim(OPTIM_STEPS, false));
        for (int slot = 0; slot < 2; slot++) {
            if (!io->state[k][slot])
                continue;
            const char *name;
            clrt_optim_state(io->opt, (size_t)k, slot, &name);
            bool squares = strcmp(name, "exp_avg_sq") == 0;
            for (size_t i = 0; i < r->nt; i++)
                if (r->t[i].t == io->state[k][slot])
                    clrt__case_check(r, r->t[i].name, r->t[i].got, slot ? s1 : s0, NULL, n,
                                     clrt__tol_optim(OPTIM_STEPS, squares));
        }
    }
    return CLRT_OK;
}

/* ---------------------------------------------------------------- table */

#define CASE(name, family, variant, param, shapes, flags, fn)                                  \
    {name, family, variant, param, shapes, COUNT(shapes), flags, fn##_make, fn##_run, fn##_check}

/* The activations and their parameters, as the device tests run them:
 * cases named `prefix` + the activation, in `family`. */
#define ACT_CASES(prefix, family, fn, shapes, flags)                                           \
    CASE(prefix " identity", family, CLRT_ACT_IDENTITY, 0.0f, shapes, flags, fn),              \
        CASE(prefix " relu", family, CLRT_ACT_RELU, 0.0f, shapes, flags, fn),                  \
        CASE(prefix " leaky_relu(0.01)", family, CLRT_ACT_LEAKY_RELU, 0.01f, shapes, flags,   \
             fn),                                                                              \
        CASE(prefix " leaky_relu(0.2)", family, CLRT_ACT_LEAKY_RELU, 0.2f, shapes, flags, fn), \
        CASE(prefix " sigmoid", family, CLRT_ACT_SIGMOID, 0.0f, shapes, flags, fn),            \
        CASE(prefix " tanh", family, CLRT_ACT_TANH, 0.0f, shapes, flags, fn),                  \
        CASE(prefix " sin", family, CLRT_ACT_SIN, 0.0f, shapes, flags, fn),                    \
        CASE(prefix " gelu", family, CLRT_ACT_GELU, 0.0f, shapes, flags, fn),                  \
        CASE(prefix " gelu_tanh", family, CLRT_ACT_GELU_TANH, 0.0f, shapes, flags, fn),        \
        CASE(prefix " softmax", family, CLRT_ACT_SOFTMAX, 0.0f, shapes, flags, fn)

/* Linear forward with every activation (leaky slope 0.1), with bias and z
 * or with neither. */
#define LINEAR_FORWARD(act, label, flags)                                                      \
    CASE("linear_forward " label, "linear_forward", act, 0.1f, linear_shapes, flags,           \
         linear_forward),                                                                      \
        CASE("linear_forward " label " no bias", "linear_forward", (act) | LINEAR_NO_BIAS,     \
             0.1f, linear_shapes, 0, linear_forward)

#define ST CLRT__CASE_SELFTEST
#define GRAD CLRT__CASE_GRAD

const clrt__op_case clrt__op_cases[] = {
    CASE("gemm nn", "gemm", 0, 0, gemm_shapes, ST, gemm),
    CASE("gemm nt", "gemm", 1, 0, gemm_shapes, ST, gemm),
    CASE("gemm tn", "gemm", 2, 0, gemm_shapes, ST, gemm),
    CASE("gemm tt", "gemm", 3, 0, gemm_shapes, ST, gemm),

    LINEAR_FORWARD(CLRT_ACT_IDENTITY, "identity", 0),
    LINEAR_FORWARD(CLRT_ACT_RELU, "relu", ST),
    LINEAR_FORWARD(CLRT_ACT_LEAKY_RELU, "leaky_relu", 0),
    LINEAR_FORWARD(CLRT_ACT_SIGMOID, "sigmoid", 0),
    LINEAR_FORWARD(CLRT_ACT_TANH, "tanh", 0),
    LINEAR_FORWARD(CLRT_ACT_SIN, "sin", 0),
    LINEAR_FORWARD(CLRT_ACT_GELU, "gelu", 0),
    LINEAR_FORWARD(CLRT_ACT_GELU_TANH, "gelu_tanh", 0),
    LINEAR_FORWARD(CLRT_ACT_SOFTMAX, "softmax", 0),
    CASE("linear_backward", "linear_backward", 0, 0, linear_shapes, ST, linear_backward),
    CASE("linear_backward accumulate", "linear_backward", CLRT_GRAD_ACCUMULATE, 0,
         linear_shapes, 0, linear_backward),
    CASE("linear_backward col_sum_groups", "linear_backward", COL_SUM_GROUPS, 0,
         bias_grad_shapes, 0, linear_backward),
    CASE("linear_backward accumulate col_sum_groups", "linear_backward",
         CLRT_GRAD_ACCUMULATE | COL_SUM_GROUPS, 0, bias_grad_shapes, 0, linear_backward),
    CASE("linear_backward fd", "linear_fd", 0, 0, linear_fd_shapes, GRAD, linear_fd),

    ACT_CASES("act_forward", "act_forward", act_forward, act_shapes, ST),
    ACT_CASES("act_backward", "act_backward", act_backward, act_shapes, ST),
    CASE("softmax_rows", "softmax_rows", CLRT_ACT_SOFTMAX, 0, softmax_rows_shapes, 0,
         softmax_rows),
    ACT_CASES("act_backward fd", "act_fd", act_fd, act_fd_shapes, GRAD),

    CASE("loss_mse rank 1", "loss_mse", 1, 0, loss_shapes, 0, mse),
    CASE("loss_mse", "loss_mse", 2, 0, loss_shapes, ST, mse),
    CASE("loss_mse rank 3", "loss_mse", 3, 0, loss_shapes, 0, mse),
    CASE("loss_cross_entropy", "loss_cross_entropy", 0, 0.0f, loss_shapes, ST, ce),
    CASE("loss_cross_entropy +1000", "loss_cross_entropy", 0, 1000.0f, loss_shapes, 0, ce),
    CASE("loss_cross_entropy -1000", "loss_cross_entropy", 0, -1000.0f, loss_shapes, 0, ce),
    CASE("accuracy", "accuracy", 0, 0, loss_shapes, ST, accuracy),
    CASE("loss_mse fd", "loss_fd", 0, 0, loss_fd_shapes, GRAD, loss_fd),
    CASE("loss_cross_entropy fd", "loss_fd", 1, 0, loss_fd_shapes, GRAD, loss_fd),

    CASE("reduce sum axis 0", "reduce", CLRT_REDUCE_SUM * 2, 0, reduce_shapes, ST, reduce),
    CASE("reduce sum axis 1", "reduce", CLRT_REDUCE_SUM * 2 + 1, 0, reduce_shapes, ST, reduce),
    CASE("reduce mean axis 0", "reduce", CLRT_REDUCE_MEAN * 2, 0, reduce_shapes, ST, reduce),
    CASE("reduce mean axis 1", "reduce", CLRT_REDUCE_MEAN * 2 + 1, 0, reduce_shapes, ST,
         reduce),
    CASE("reduce sum axis 0 col_sum_groups", "reduce", CLRT_REDUCE_SUM * 2 | COL_SUM_GROUPS, 0,
         col_sum_shapes, 0, reduce),
    CASE("reduce mean axis 0 col_sum_groups", "reduce", CLRT_REDUCE_MEAN * 2 | COL_SUM_GROUPS,
         0, col_sum_shapes, 0, reduce),
    CASE("add", "elementwise", EW_ADD, 0, ew_shapes, ST, ew),
    CASE("scale -0.37", "elementwise", EW_SCALE, -0.37f, ew_shapes, ST, ew),
    CASE("scale 0", "elementwise", EW_SCALE, 0.0f, ew_shapes, 0, ew),
    CASE("scale 2", "elementwise", EW_SCALE, 2.0f, ew_shapes, 0, ew),
    CASE("scale 1.25", "elementwise", EW_SCALE, 1.25f, ew_shapes, 0, ew),
    CASE("axpy -0.37", "elementwise", EW_AXPY, -0.37f, ew_shapes, ST, ew),
    CASE("axpy 0", "elementwise", EW_AXPY, 0.0f, ew_shapes, 0, ew),
    CASE("axpy 2", "elementwise", EW_AXPY, 2.0f, ew_shapes, 0, ew),
    CASE("axpy 1.25", "elementwise", EW_AXPY, 1.25f, ew_shapes, 0, ew),

    CASE("optim sgd", "optim", OPT_SGD, 0, optim_shapes, 0, optim),
    CASE("optim sgd momentum", "optim", OPT_SGD_M, 0, optim_shapes, 0, optim),
    CASE("optim sgd momentum dampening", "optim", OPT_SGD_MD, 0, optim_shapes, 0, optim),
    CASE("optim sgd nesterov", "optim", OPT_SGD_NESTEROV, 0, optim_shapes, 0, optim),
    CASE("optim sgd wd", "optim", OPT_SGD_WD, 0, optim_shapes, 0, optim),
    CASE("optim sgd momentum dampening wd", "optim", OPT_SGD_MD_WD, 0, optim_shapes, 0, optim),
    CASE("optim sgd nesterov wd", "optim", OPT_SGD_NESTEROV_WD, 0, optim_shapes, ST, optim),
    CASE("optim adam", "optim", OPT_ADAM, 0, optim_shapes, 0, optim),
    CASE("optim adam wd", "optim", OPT_ADAM_WD, 0, optim_shapes, ST, optim),
    CASE("optim adam betas eps", "optim", OPT_ADAM_BETAS, 0, optim_shapes, 0, optim),
    CASE("optim adamw", "optim", OPT_ADAMW, 0, optim_shapes, ST, optim),
    CASE("optim adamw wd 0", "optim", OPT_ADAMW_WD0, 0, optim_shapes, 0, optim),
    CASE("optim adamw wd 0.5", "optim", OPT_ADAMW_WD05, 0, optim_shapes, 0, optim),
};

const size_t clrt__op_case_count = COUNT(clrt__op_cases);
