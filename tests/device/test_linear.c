/* Linear layers on each device: forward with every activation (bias or
 * not, z or not), backward with and without accumulation, all against the
 * reference; a finite-difference check of the gradients; shape errors. */
#include "harness.h"
#include "verify/ref.h"

#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct dims3 {
    size_t batch, in, out;
} dims3;

/* {3, 2, 40}: two whole vectors of the bias gradient and a part, small enough
 * for oclgrind. */
static const dims3 sizes[] = {{1, 1, 1}, {7, 33, 5}, {3, 2, 40}, {33, 7, 257}, {128, 784, 10}};

static bool skip_size(const dims3 *d)
{
    return clrt_test_device()->is_simulator && d->batch * d->in * d->out > 5000;
}

/* A GEMM of length K then a float activation: (K+2)·eps relative to the
 * sum of |terms| (bounded here by K·max|x|·max|w| = K for inputs in [-1,1]),
 * plus a few ulps for the transcendental activations. */
static void assert_close(const char *what, const float *got, const float *want, size_t n,
                         double tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= tol * (1.0 + fabs(want[i]))))
            fail_msg("%s[%zu] = %.9g, want %.9g (tolerance %.3g)", what, i, got[i], want[i],
                     tol);
}

static void forward_every_activation(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const dims3 *d = &sizes[s];
        if (skip_size(d))
            continue;
        size_t nx = d->batch * d->in, nw = d->out * d->in, ny = d->batch * d->out;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(d->out * 4);
        float *z = malloc(ny * 4), *y = malloc(ny * 4), *zr = malloc(ny * 4), *yr = malloc(ny * 4);
        clrt_test_random(x, nx, 1);
        clrt_test_random(w, nw, 2);
        clrt_test_random(b, d->out, 3);
        clrt_tensor *tx = clrt_test_matrix(ctx, d->batch, d->in, x);
        clrt_tensor *tw = clrt_test_matrix(ctx, d->out, d->in, w);
        clrt_tensor *tb = clrt_test_vector(ctx, d->out, b);
        clrt_tensor *tz = clrt_test_matrix(ctx, d->batch, d->out, NULL);
        clrt_tensor *ty = clrt_test_matrix(ctx, d->batch, d->out, NULL);
        double tol = (double)(d->in + 2) * FLT_EPSILON * 4;
        for (int act = CLRT_ACT_IDENTITY; act <= CLRT_ACT_SOFTMAX; act++) {
            for (int variant = 0; variant < 2; variant++) {
                /* variant 0: bias and z; variant 1: neither */
                const float *bias = variant == 0 ? b : NULL;
                CLRT_ASSERT_OK(ctx, clrt_linear_forward(ctx, tx, tw, variant == 0 ? tb : NULL,
                                                        (clrt_act)act, 0.1f,
                                                        variant == 0 ? tz : NULL, ty));
                clrt_ref_linear_forward(d->batch, d->in, d->out, x, w, bias, (clrt_act)act, 0.1f,
                                        zr, yr);
                CLRT_ASSERT_OK(ctx, clrt_tensor_read(ty, y, ny));
                assert_close(clrt_act_name((clrt_act)act), y, yr, ny, tol);
                if (variant == 0) {
                    CLRT_ASSERT_OK(ctx, clrt_tensor_read(tz, z, ny));
                    assert_close("z", z, zr, ny, tol);
                }
            }
        }
        clrt_tensor_destroy(tx), clrt_tensor_destroy(tw), clrt_tensor_destroy(tb);
        clrt_tensor_destroy(tz), clrt_tensor_destroy(ty);
        free(x), free(w), free(b), free(z), free(y), free(zr), free(yr);
    }
    clrt_test_ctx_done(ctx);
}

static void backward_against_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const dims3 *d = &sizes[s];
        if (skip_size(d))
            continue;
        size_t nx = d->batch * d->in, nw = d->out * d->in, ny = d->batch * d->out;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *dy = malloc(ny * 4);
        float *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc(d->out * 4);
        float *rdx = malloc(nx * 4), *rdw = malloc(nw * 4), *rdb = malloc(d->out * 4);
        clrt_test_random(x, nx, 4);
        clrt_test_random(w, nw, 5);
        clrt_test_random(dy, ny, 6);
        clrt_tensor *tx = clrt_test_matrix(ctx, d->batch, d->in, x);
        clrt_tensor *tw = clrt_test_matrix(ctx, d->out, d->in, w);
        clrt_tensor *tdy = clrt_test_matrix(ctx, d->batch, d->out, dy);
        /* Start from known gradients so accumulation has something to add to. */
        clrt_test_random(rdx, nx, 7);
        clrt_test_random(rdw, nw, 8);
        clrt_test_random(rdb, d->out, 9);
        clrt_tensor *tdx = clrt_test_matrix(ctx, d->batch, d->in, rdx);
        clrt_tensor *tdw = clrt_test_matrix(ctx, d->out, d->in, rdw);
        clrt_tensor *tdb = clrt_test_vector(ctx, d->out, rdb);
        for (unsigned flags = 0; flags <= CLRT_GRAD_ACCUMULATE; flags++) {
            CLRT_ASSERT_OK(ctx, clrt_linear_backward(ctx, tx, tw, tdy, tdx, tdw, tdb, flags));
            clrt_ref_linear_backward(d->batch, d->in, d->out, x, w, dy, rdx, rdw, rdb, flags);
            CLRT_ASSERT_OK(ctx, clrt_tensor_read(tdx, dx, nx));
            CLRT_ASSERT_OK(ctx, clrt_tensor_read(tdw, dw, nw));
            CLRT_ASSERT_OK(ctx, clrt_tensor_read(tdb, db, d->out));
            assert_close("dx", dx, rdx, nx, (double)(d->out + 2) * FLT_EPSILON * 4);
            assert_close("dw", dw, rdw, nw, (double)(d->batch + 2) * FLT_EPSILON * 4);
            assert_close("db", db, rdb, d->out, (double)(d->batch + 2) * FLT_EPSILON * 4);
            /* Keep the device values as the next round's starting point. */
            memcpy(rdx, dx, nx * 4), memcpy(rdw, dw, nw * 4), memcpy(rdb, db, d->out * 4);
        }
        /* Gradients not wanted are not touched. */
        CLRT_ASSERT_OK(ctx, clrt_linear_backward(ctx, tx, tw, tdy, NULL, NULL, tdb, 0));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(tdx, dx, nx));
        assert_memory_equal(dx, rdx, nx * 4);
        clrt_tensor_destroy(tx), clrt_tensor_destroy(tw), clrt_tensor_destroy(tdy);
        clrt_tensor_destroy(tdx), clrt_tensor_destroy(tdw), clrt_tensor_destroy(tdb);
        free(x), free(w), free(dy), free(dx), free(dw), free(db), free(rdx), free(rdw), free(rdb);
    }
    clrt_test_ctx_done(ctx);
}

/* L = Σ y⊙r with y = x·Wᵀ + b; dL/dθ from clrt_linear_backward with dy = r
 * against central differences of L computed on the device. In float with
 * h = 1e-2 the difference quotient of this linear L is exact up to rounding
 * of L (~ n·eps·Σ|y r| / h): tolerance 1e-2 absolute + relative. */
static void finite_differences(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t batch = 3, in = 5, out = 4, nx = batch * in, nw = out * in, ny = batch * out;
    float x[15], w[20], b[4], r[12], y[12], dx[15], dw[20], db[4];
    clrt_test_random(x, nx, 10);
    clrt_test_random(w, nw, 11);
    clrt_test_random(b, out, 12);
    clrt_test_random(r, ny, 13);
    clrt_tensor *tx = clrt_test_matrix(ctx, batch, in, x), *tw = clrt_test_matrix(ctx, out, in, w);
    clrt_tensor *tb = clrt_test_vector(ctx, out, b), *ty = clrt_test_matrix(ctx, batch, out, NULL);
    clrt_tensor *tr = clrt_test_matrix(ctx, batch, out, r);
    clrt_tensor *tdx = clrt_test_matrix(ctx, batch, in, NULL);
    clrt_tensor *tdw = clrt_test_matrix(ctx, out, in, NULL);
    clrt_tensor *tdb = clrt_test_vector(ctx, out, NULL);
    CLRT_ASSERT_OK(ctx, clrt_linear_backward(ctx, tx, tw, tr, tdx, tdw, tdb, 0));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(tdx, dx, nx));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(tdw, dw, nw));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(tdb, db, out));

    struct {
        const char *name;
        float *host;
        clrt_tensor *t;
        size_t n;
        const float *grad;
    } params[] = {{"x", x, tx, nx, dx}, {"w", w, tw, nw, dw}, {"b", b, tb, out, db}};
    const float h = 1e-2f;
    for (size_t p = 0; p < 3; p++) {
        for (size_t i = 0; i < params[p].n; i++) {
            double l[2];
            for (int side = 0; side < 2; side++) {
                float keep = params[p].host[i];
                params[p].host[i] = keep + (side ? -h : h);
                CLRT_ASSERT_OK(ctx, clrt_tensor_write(params[p].t, params[p].host, params[p].n));
                CLRT_ASSERT_OK(ctx, clrt_linear_forward(ctx, tx, tw, tb, CLRT_ACT_IDENTITY, 0,
                                                        NULL, ty));
                CLRT_ASSERT_OK(ctx, clrt_tensor_read(ty, y, ny));
                params[p].host[i] = keep;
                l[side] = 0;
                for (size_t k = 0; k < ny; k++)
                    l[side] += (double)y[k] * r[k];
            }
            CLRT_ASSERT_OK(ctx, clrt_tensor_write(params[p].t, params[p].host, params[p].n));
            double numeric = (l[0] - l[1]) / (2.0 * h);
            double analytic = params[p].grad[i];
            if (fabs(numeric - analytic) > 1e-2 * (1.0 + fabs(analytic)))
                fail_msg("d%s[%zu]: finite difference %.6g, backward %.6g", params[p].name, i,
                         numeric, analytic);
        }
    }
    clrt_tensor_destroy(tx), clrt_tensor_destroy(tw), clrt_tensor_destroy(tb);
    clrt_tensor_destroy(ty), clrt_tensor_destroy(tr), clrt_tensor_destroy(tdx);
    clrt_tensor_destroy(tdw), clrt_tensor_destroy(tdb);
    clrt_test_ctx_done(ctx);
}

static void shape_errors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_tensor *x = clrt_test_matrix(ctx, 4, 3, NULL), *w = clrt_test_matrix(ctx, 2, 3, NULL);
    clrt_tensor *wbad = clrt_test_matrix(ctx, 2, 4, NULL), *y = clrt_test_matrix(ctx, 4, 2, NULL);
    clrt_tensor *ybad = clrt_test_matrix(ctx, 4, 3, NULL), *b = clrt_test_vector(ctx, 2, NULL);
    clrt_tensor *bbad = clrt_test_vector(ctx, 3, NULL);
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(x, 1.0f));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(w, 1.0f));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(b, 1.0f));
    CLRT_ASSERT_OK(ctx, clrt_linear_forward(ctx, x, w, b, CLRT_ACT_RELU, 0, NULL, y));
    assert_int_equal(clrt_linear_forward(ctx, x, wbad, b, CLRT_ACT_RELU, 0, NULL, y),
                     CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[2, 4]"));
    assert_int_equal(clrt_linear_forward(ctx, x, w, bbad, CLRT_ACT_RELU, 0, NULL, y),
                     CLRT_ERR_SHAPE);
    assert_int_equal(clrt_linear_forward(ctx, x, w, b, CLRT_ACT_RELU, 0, NULL, ybad),
                     CLRT_ERR_SHAPE);
    assert_int_equal(clrt_linear_forward(ctx, x, w, b, (clrt_act)99, 0, NULL, y),
                     CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_linear_backward(ctx, x, w, ybad, NULL, NULL, NULL, 0), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_linear_backward(ctx, x, w, y, NULL, NULL, bbad, 0), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_linear_backward(ctx, x, w, y, NULL, NULL, NULL, 8), CLRT_ERR_INVALID_ARG);
    /* y = 1·3 + 1 everywhere, untouched by the refused calls. */
    float out[8];
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(y, out, 8));
    for (int i = 0; i < 8; i++)
        assert_true(out[i] == 4.0f);
    clrt_tensor_destroy(x), clrt_tensor_destroy(w), clrt_tensor_destroy(wbad);
    clrt_tensor_destroy(y), clrt_tensor_destroy(ybad), clrt_tensor_destroy(b);
    clrt_tensor_destroy(bbad);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forward_every_activation),
        cmocka_unit_test(backward_against_reference),
        cmocka_unit_test(finite_differences),
        cmocka_unit_test(shape_errors),
    };
    return clrt_test_main("linear", tests, sizeof tests / sizeof tests[0]);
}
