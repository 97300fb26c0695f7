/* Activations on each device: forward and backward of every activation
 * against the plain-C reference on odd shapes, softmax over the last
 * dimension of any rank, in-place calls, finite-difference gradients
 * computed on the device, and argument errors. */
#include "harness.h"
#include "io/io.h"
#include "verify/ref.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape2 {
    size_t rows, cols;
} shape2;

/* Rows × cols from the odd sizes 1, 7, 33, 257 and 784 × 10; smaller on a
 * simulator, which interprets every work-item. */
static const shape2 shapes_full[] = {{1, 1}, {7, 33}, {1, 257}, {257, 10}, {33, 784}, {784, 10}};
static const shape2 shapes_sim[] = {{1, 1}, {7, 33}, {1, 257}, {33, 10}, {2, 784}};

static const shape2 *test_shapes(size_t *count)
{
    if (clrt_test_device()->is_simulator) {
        *count = sizeof shapes_sim / sizeof shapes_sim[0];
        return shapes_sim;
    }
    *count = sizeof shapes_full / sizeof shapes_full[0];
    return shapes_full;
}

typedef struct act_case {
    clrt_act act;
    float param;
    /* Forward tolerance |dev - ref| <= rel·|ref| + abs, and the same for the
     * backward (brel, babs). */
    double rel, abs, brel, babs;
} act_case;

/* Tolerances, device float against the reference's double rounded to float:
 *  - identity, relu: pure selections (and dy·1, dy·0): exact.
 *  - leaky_relu: one float multiply, correctly rounded on both sides: exact
 *    up to 1 ulp; 1e-6 relative.
 *  - sigmoid, tanh, sin: the OpenCL built-ins exp/tanh/sin/cos are within
 *    3–5 ulp and a division 2.5 ulp, a handful of roundings follow: 2e-6
 *    relative (~16 ulp) + 2e-7 absolute (the backward's 1 − y·y and 1 − y
 *    cancel near saturation, leaving an absolute error of a few ulp of 1).
 *  - gelu, gelu_tanh: erf is allowed 16 ulp; 1 + erf(x/√2) (and 1 + tanh)
 *    cancels for negative x, so the error is absolute: 16 ulp of 1 times
 *    |x|/2 <= 1.5 on inputs in [-3, 3): 4e-6 absolute + 2e-6 relative.
 *  - softmax: exp (3 ulp), a division (2.5 ulp) and a float sum of up to 784
 *    terms in a tree (depth <= 4 + 8 here): 1e-5 relative + 1e-8 absolute;
 *    the backward's dy − Σdy·y cancels: 1e-6 absolute. */
static const act_case act_cases[] = {
    {CLRT_ACT_IDENTITY, 0.0f, 0, 0, 0, 0},
    {CLRT_ACT_RELU, 0.0f, 0, 0, 0, 0},
    {CLRT_ACT_LEAKY_RELU, 0.01f, 1e-6, 0, 1e-6, 0},
    {CLRT_ACT_LEAKY_RELU, 0.2f, 1e-6, 0, 1e-6, 0},
    {CLRT_ACT_SIGMOID, 0.0f, 2e-6, 2e-7, 2e-6, 2e-7},
    {CLRT_ACT_TANH, 0.0f, 2e-6, 2e-7, 2e-6, 2e-7},
    {CLRT_ACT_SIN, 0.0f, 2e-6, 2e-7, 2e-6, 2e-7},
    {CLRT_ACT_GELU, 0.0f, 2e-6, 4e-6, 2e-6, 4e-6},
    {CLRT_ACT_GELU_TANH, 0.0f, 2e-6, 4e-6, 2e-6, 4e-6},
    {CLRT_ACT_SOFTMAX, 0.0f, 1e-5, 1e-8, 1e-5, 1e-6},
};
#define NCASES (sizeof act_cases / sizeof act_cases[0])

static bool backward_needs_x(clrt_act act)
{
    return act == CLRT_ACT_RELU || act == CLRT_ACT_LEAKY_RELU || act == CLRT_ACT_SIN ||
           act == CLRT_ACT_GELU || act == CLRT_ACT_GELU_TANH;
}

static bool backward_needs_y(clrt_act act)
{
    return act == CLRT_ACT_SIGMOID || act == CLRT_ACT_TANH || act == CLRT_ACT_SOFTMAX;
}

/* Inputs in [-3, 3): past the bends of every activation, into saturation. */
static void random_inputs(float *x, size_t n, uint32_t seed)
{
    clrt_test_random(x, n, seed);
    for (size_t i = 0; i < n; i++)
        x[i] *= 3.0f;
}

static void names(void **state)
{
    (void)state;
    static const char *const want[] = {"identity", "relu", "leaky_relu", "sigmoid", "tanh",
                                       "sin",      "gelu", "gelu_tanh",  "softmax"};
    for (int a = 0; a <= CLRT_ACT_SOFTMAX; a++) {
        assert_non_null(clrt_act_name((clrt_act)a));
        assert_string_equal(clrt_act_name((clrt_act)a), want[a]);
    }
    assert_null(clrt_act_name((clrt_act)(CLRT_ACT_SOFTMAX + 1)));
    assert_null(clrt_act_name((clrt_act)-1));
}

static void forward_and_backward_match_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t nshapes;
    const shape2 *shapes = test_shapes(&nshapes);
    for (size_t s = 0; s < nshapes; s++) {
        const size_t dims[2] = {shapes[s].rows, shapes[s].cols};
        size_t n = dims[0] * dims[1];
        float *x = clrt_test_guarded(n), *dy = clrt_test_guarded(n), *y = clrt_test_guarded(n),
              *dx = clrt_test_guarded(n);
        float *want = clrt_test_guarded(n);
        random_inputs(x, n, (uint32_t)(s + 1));
        clrt_test_random(dy, n, (uint32_t)(s + 100));
        clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, x);
        clrt_tensor *tdy = clrt_test_tensor(ctx, 2, dims, dy);
        clrt_tensor *ty = clrt_test_tensor(ctx, 2, dims, NULL);
        clrt_tensor *tdx = clrt_test_tensor(ctx, 2, dims, NULL);
        for (size_t c = 0; c < NCASES; c++) {
            const act_case *ac = &act_cases[c];
            char what[128];
            snprintf(what, sizeof what, "%s(%g) forward [%zu, %zu]", clrt_act_name(ac->act),
                     (double)ac->param, dims[0], dims[1]);
            CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, ac->act, ac->param, tx, ty));
            clrt_test_read_guarded(ctx, ty, y);
            clrt_ref_act_forward(ac->act, ac->param, dims[0], dims[1], x, want);
            clrt_test_assert_close(what, y, want, n, ac->rel, ac->abs);

            /* Only the operand the activation needs; the other is NULL. The
             * reference gets the device's y, so only the backward is judged. */
            snprintf(what, sizeof what, "%s(%g) backward [%zu, %zu]", clrt_act_name(ac->act),
                     (double)ac->param, dims[0], dims[1]);
            const clrt_tensor *bx = backward_needs_x(ac->act) ? tx : NULL;
            const clrt_tensor *by = backward_needs_y(ac->act) ? ty : NULL;
            CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, ac->act, ac->param, bx, by, tdy, tdx));
            clrt_test_read_guarded(ctx, tdx, dx);
            clrt_ref_act_backward(ac->act, ac->param, dims[0], dims[1], x, y, dy, want);
            clrt_test_assert_close(what, dx, want, n, ac->brel, ac->babs);

            /* Both given: the same result, bit for bit. */
            float *dx2 = clrt_test_guarded(n);
            CLRT_ASSERT_OK(ctx, clrt_tensor_fill(tdx, NAN));
            CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, ac->act, ac->param, tx, ty, tdy, tdx));
            clrt_test_read_guarded(ctx, tdx, dx2);
            assert_memory_equal(dx, dx2, n * sizeof *dx);
            free(dx2);
        }
        clrt_tensor_destroy(tx);
        clrt_tensor_destroy(ty);
        clrt_tensor_destroy(tdy);
        clrt_tensor_destroy(tdx);
        free(x);
        free(dy);
        free(y);
        free(dx);
        free(want);
    }
    clrt_test_ctx_done(ctx);
}

/* Softmax forward and backward over the last dimension of ranks 1, 3 and
 * 4, rows of length 1, large common offsets (max-subtraction keeps them
 * finite) and -inf entries (masked: probability 0). */
static void softmax_rows_any_rank(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const struct {
        int rank;
        size_t shape[4];
        float offset;
    } cases[] = {
        {1, {33}, 0.0f},
        {1, {1}, 5.0f},
        {3, {2, 3, 7}, 0.0f},
        {4, {2, 1, 3, 10}, 0.0f},
        {2, {7, 1}, -3.0f},
        {2, {7, 33}, 500.0f},
        {2, {3, 257}, -1000.0f},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = 1;
        for (int i = 0; i < cases[c].rank; i++)
            n *= cases[c].shape[i];
        size_t cols = cases[c].shape[cases[c].rank - 1], rows = n / cols;
        float *x = clrt_test_guarded(n), *y = clrt_test_guarded(n), *want = clrt_test_guarded(n);
        random_inputs(x, n, (uint32_t)(c + 7));
        for (size_t i = 0; i < n; i++)
            x[i] += cases[c].offset;
        if (cols > 2)
            x[1] = -INFINITY; /* one masked entry in the first row */
        clrt_tensor *tx = clrt_test_tensor(ctx, cases[c].rank, cases[c].shape, x);
        clrt_tensor *ty = clrt_test_tensor(ctx, cases[c].rank, cases[c].shape, NULL);
        CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, CLRT_ACT_SOFTMAX, 0.0f, tx, ty));
        clrt_test_read_guarded(ctx, ty, y);
        clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0.0f, rows, cols, x, want);
        char what[64];
        snprintf(what, sizeof what, "softmax case %zu", c);
        /* As in act_cases: exp, a division and a tree sum of <= 257 terms. */
        clrt_test_assert_close(what, y, want, n, 1e-5, 1e-8);
        for (size_t r = 0; r < rows; r++) {
            double sum = 0.0;
            for (size_t j = 0; j < cols; j++) {
                assert_true(isfinite(y[r * cols + j]));
                sum += y[r * cols + j];
            }
            /* Each row is a distribution: rounding of <= 257 terms. */
            assert_true(fabs(sum - 1.0) < 1e-5);
        }
        if (cols > 2)
            assert_true(y[1] == 0.0f);
        if (cols == 1)
            for (size_t i = 0; i < n; i++)
                assert_true(y[i] == 1.0f);

        /* The backward takes the same rows (tolerance as in act_cases). */
        float *dy = clrt_test_guarded(n), *dx = clrt_test_guarded(n);
        clrt_test_random(dy, n, (uint32_t)(c + 70));
        clrt_tensor *tdy = clrt_test_tensor(ctx, cases[c].rank, cases[c].shape, dy);
        CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, CLRT_ACT_SOFTMAX, 0.0f, NULL, ty, tdy, tx));
        clrt_test_read_guarded(ctx, tx, dx);
        clrt_ref_act_backward(CLRT_ACT_SOFTMAX, 0.0f, rows, cols, NULL, y, dy, want);
        snprintf(what, sizeof what, "softmax backward case %zu", c);
        clrt_test_assert_close(what, dx, want, n, 1e-5, 1e-6);
        clrt_tensor_destroy(tdy);
        clrt_tensor_destroy(tx);
        clrt_tensor_destroy(ty);
        free(x);
        free(y);
        free(dy);
        free(dx);
        free(want);
    }
    clrt_test_ctx_done(ctx);
}

/* y == x forward and dx == dy backward give the out-of-place results. */
static void in_place(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t dims[2] = {7, 33};
    const size_t n = 7 * 33;
    float *x = clrt_test_guarded(n), *dy = clrt_test_guarded(n), *want = clrt_test_guarded(n),
          *got = clrt_test_guarded(n);
    random_inputs(x, n, 21);
    clrt_test_random(dy, n, 22);
    clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, x);
    clrt_tensor *ty = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *tdy = clrt_test_tensor(ctx, 2, dims, dy);
    clrt_tensor *tdx = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *tin = clrt_test_tensor(ctx, 2, dims, NULL);
    for (size_t c = 0; c < NCASES; c++) {
        const act_case *ac = &act_cases[c];
        /* Out of place first: the expected values. */
        CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, ac->act, ac->param, tx, ty));
        clrt_test_read_guarded(ctx, ty, want);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(tin, x, n));
        CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, ac->act, ac->param, tin, tin));
        clrt_test_read_guarded(ctx, tin, got);
        assert_memory_equal(got, want, n * sizeof *got);

        CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, ac->act, ac->param, tx, ty, tdy, tdx));
        clrt_test_read_guarded(ctx, tdx, want);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(tin, dy, n));
        CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, ac->act, ac->param, tx, ty, tin, tin));
        clrt_test_read_guarded(ctx, tin, got);
        assert_memory_equal(got, want, n * sizeof *got);
    }
    clrt_tensor_destroy(tx);
    clrt_tensor_destroy(ty);
    clrt_tensor_destroy(tdy);
    clrt_tensor_destroy(tdx);
    clrt_tensor_destroy(tin);
    free(x);
    free(dy);
    free(want);
    free(got);
    clrt_test_ctx_done(ctx);
}

/* The kinks take PyTorch's one-sided values: relu' = 0 and leaky_relu' =
 * slope at x = 0 (and -0); relu keeps NaN. */
static void kinks_and_nan(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t n = 4;
    const float x[4] = {0.0f, -0.0f, 1e-30f, -1e-30f};
    const float dy[4] = {2.0f, 3.0f, 5.0f, 7.0f};
    float got[4 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(got, n);
    clrt_tensor *tx = clrt_test_tensor(ctx, 1, &n, x), *tdy = clrt_test_tensor(ctx, 1, &n, dy);
    clrt_tensor *tdx = clrt_test_tensor(ctx, 1, &n, NULL);
    CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, CLRT_ACT_RELU, 0.0f, tx, NULL, tdy, tdx));
    clrt_test_read_guarded(ctx, tdx, got);
    assert_true(got[0] == 0.0f && got[1] == 0.0f && got[2] == 5.0f && got[3] == 0.0f);
    CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, CLRT_ACT_LEAKY_RELU, 0.5f, tx, NULL, tdy, tdx));
    clrt_test_read_guarded(ctx, tdx, got);
    assert_true(got[0] == 1.0f && got[1] == 1.5f && got[2] == 5.0f && got[3] == 3.5f);

    const float special[4] = {NAN, -2.0f, INFINITY, -INFINITY};
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tx, special, n));
    CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, CLRT_ACT_RELU, 0.0f, tx, tdx));
    clrt_test_read_guarded(ctx, tdx, got);
    assert_true(isnan(got[0]) && got[1] == 0.0f && got[2] == INFINITY && got[3] == 0.0f);
    /* Saturation gives exact limits, not NaN. */
    CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, CLRT_ACT_SIGMOID, 0.0f, tx, tdx));
    clrt_test_read_guarded(ctx, tdx, got);
    assert_true(isnan(got[0]) && got[2] == 1.0f && got[3] == 0.0f);
    CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, CLRT_ACT_TANH, 0.0f, tx, tdx));
    clrt_test_read_guarded(ctx, tdx, got);
    if (!(got[2] == 1.0f && got[3] == -1.0f))
        fail_msg("tanh(+-inf) = %.9g, %.9g", (double)got[2], (double)got[3]);
    /* ... and where the rounded value is ±1, with gelu_tanh's tail 0. */
    const float big[4] = {9.5f, -20.0f, -30.0f, 30.0f};
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tx, big, n));
    CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, CLRT_ACT_TANH, 0.0f, tx, tdx));
    clrt_test_read_guarded(ctx, tdx, got);
    assert_true(got[0] == 1.0f && got[1] == -1.0f && got[2] == -1.0f && got[3] == 1.0f);
    CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, CLRT_ACT_GELU_TANH, 0.0f, tx, tdx));
    clrt_test_read_guarded(ctx, tdx, got);
    assert_true(got[0] == 9.5f && got[1] == 0.0f && got[2] == 0.0f && got[3] == 30.0f);
    clrt_tensor_destroy(tx);
    clrt_tensor_destroy(tdy);
    clrt_tensor_destroy(tdx);
    clrt_test_ctx_done(ctx);
}

/* Finite differences on the device: for each column j, the forward at x ±
 * h in column j of every row (rows are independent), and
 * Σ_k dy[r,k]·(f(x+h)[r,k] − f(x−h)[r,k]) / (2h) against dx[r,j] from
 * clrt_act_backward. Element-wise activations only see the k = j term;
 * softmax mixes the row. Inputs are kept >= 0.1 away from relu's kink.
 * h = 1e-2 in float: the truncation error h²/6·|f'''| is <= 4e-5 for these
 * functions (|f'''| <= 2), the rounding error eps·Σ|dy·f|/h <= 1e-4; a
 * wrong derivative is off by far more than the 1e-3 absolute + 1e-3
 * relative tolerance. */
static void gradients_by_finite_differences(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t rows = 5, cols = 7, n = 35;
    const size_t dims[2] = {rows, cols};
    const float h = 1e-2f;
    float x[35], dy[35], xp[35], xm[35];
    float fp[35 + CLRT_TEST_GUARD], fm[35 + CLRT_TEST_GUARD], dx[35 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(fp, n);
    clrt_test_fill_sentinel(fm, n);
    clrt_test_fill_sentinel(dx, n);
    clrt_test_random(x, n, 31);
    for (size_t i = 0; i < n; i++) /* |x| in [0.1, 2.1) */
        x[i] = x[i] < 0 ? -0.1f + 2.0f * x[i] : 0.1f + 2.0f * x[i];
    clrt_test_random(dy, n, 32);
    clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, x);
    clrt_tensor *ty = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *tdy = clrt_test_tensor(ctx, 2, dims, dy);
    clrt_tensor *tdx = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *tpert = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *tf = clrt_test_tensor(ctx, 2, dims, NULL);
    for (size_t c = 0; c < NCASES; c++) {
        const act_case *ac = &act_cases[c];
        CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, ac->act, ac->param, tx, ty));
        CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, ac->act, ac->param, tx, ty, tdy, tdx));
        clrt_test_read_guarded(ctx, tdx, dx);
        for (size_t j = 0; j < cols; j++) {
            memcpy(xp, x, sizeof x);
            memcpy(xm, x, sizeof x);
            for (size_t r = 0; r < rows; r++) {
                xp[r * cols + j] += h;
                xm[r * cols + j] -= h;
            }
            CLRT_ASSERT_OK(ctx, clrt_tensor_write(tpert, xp, n));
            CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, ac->act, ac->param, tpert, tf));
            clrt_test_read_guarded(ctx, tf, fp);
            CLRT_ASSERT_OK(ctx, clrt_tensor_write(tpert, xm, n));
            CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, ac->act, ac->param, tpert, tf));
            clrt_test_read_guarded(ctx, tf, fm);
            for (size_t r = 0; r < rows; r++) {
                /* The step actually taken: x ± h is rounded in float. */
                double step = (double)xp[r * cols + j] - (double)xm[r * cols + j];
                double num = 0.0;
                for (size_t k = 0; k < cols; k++)
                    num += (double)dy[r * cols + k] *
                           ((double)fp[r * cols + k] - (double)fm[r * cols + k]);
                num /= step;
                double ana = dx[r * cols + j];
                if (!(fabs(num - ana) <= 1e-3 + 1e-3 * fabs(ana)))
                    fail_msg("%s(%g): d/dx[%zu,%zu] is %.7g by finite differences, %.7g by "
                             "clrt_act_backward",
                             clrt_act_name(ac->act), (double)ac->param, r, j, num, ana);
            }
        }
    }
    clrt_tensor_destroy(tx);
    clrt_tensor_destroy(ty);
    clrt_tensor_destroy(tdy);
    clrt_tensor_destroy(tdx);
    clrt_tensor_destroy(tpert);
    clrt_tensor_destroy(tf);
    clrt_test_ctx_done(ctx);
}

static void argument_errors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s34[2] = {3, 4}, s43[2] = {4, 3};
    float x[12], keep[12], got[12 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(got, 12);
    clrt_test_random(x, 12, 41);
    for (size_t i = 0; i < 12; i++)
        keep[i] = -7.0f;
    clrt_tensor *a = clrt_test_tensor(ctx, 2, s34, x), *b = clrt_test_tensor(ctx, 2, s43, keep);
    clrt_tensor *c = clrt_test_tensor(ctx, 2, s34, keep);

    /* Same element count, other shape: refused, both shapes named, the
     * output untouched. */
    assert_int_equal(clrt_act_forward(ctx, CLRT_ACT_RELU, 0.0f, a, b), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[3, 4]"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[4, 3]"));
    assert_int_equal(clrt_act_forward(ctx, CLRT_ACT_SOFTMAX, 0.0f, a, b), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_RELU, 0.0f, a, NULL, a, b), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_RELU, 0.0f, b, NULL, a, c), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_TANH, 0.0f, NULL, b, a, c), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_SOFTMAX, 0.0f, NULL, b, a, c),
                     CLRT_ERR_SHAPE);
    clrt_test_read_guarded(ctx, b, got);
    assert_memory_equal(got, keep, sizeof keep);
    clrt_test_read_guarded(ctx, c, got);
    assert_memory_equal(got, keep, sizeof keep);

    /* NULL and unknown arguments. */
    assert_int_equal(clrt_act_forward(NULL, CLRT_ACT_RELU, 0.0f, a, c), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_forward(ctx, CLRT_ACT_RELU, 0.0f, NULL, c), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_forward(ctx, CLRT_ACT_RELU, 0.0f, a, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_forward(ctx, (clrt_act)99, 0.0f, a, c), CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "99"));
    assert_int_equal(clrt_act_backward(ctx, (clrt_act)-1, 0.0f, a, a, a, c),
                     CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_RELU, 0.0f, a, NULL, NULL, c),
                     CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_RELU, 0.0f, a, NULL, a, NULL),
                     CLRT_ERR_INVALID_ARG);
    /* The operand an activation's backward needs must be there. */
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_RELU, 0.0f, NULL, a, a, c),
                     CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_GELU, 0.0f, NULL, a, a, c),
                     CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_SIGMOID, 0.0f, a, NULL, a, c),
                     CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_SOFTMAX, 0.0f, a, NULL, a, c),
                     CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "softmax"));
    clrt_test_read_guarded(ctx, c, got);
    assert_memory_equal(got, keep, sizeof keep);

    /* Identity needs neither: dx = dy. */
    CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, CLRT_ACT_IDENTITY, 0.0f, NULL, NULL, a, c));
    clrt_test_read_guarded(ctx, c, got);
    assert_memory_equal(got, x, sizeof x);

    /* A tensor of another context. */
    clrt_ctx *other = clrt_test_ctx();
    clrt_tensor *o;
    CLRT_ASSERT_OK(other, clrt_tensor_create(other, 2, s34, 0, &o));
    assert_int_equal(clrt_act_forward(ctx, CLRT_ACT_RELU, 0.0f, o, c), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_act_backward(ctx, CLRT_ACT_RELU, 0.0f, o, NULL, a, c),
                     CLRT_ERR_INVALID_ARG);
    clrt_tensor_destroy(o);
    clrt_test_ctx_done(other);

    /* Empty tensors: nothing to do, no error. */
    const size_t s0[2] = {0, 5};
    clrt_tensor *e;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s0, 0, &e));
    CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, CLRT_ACT_SOFTMAX, 0.0f, e, e));
    CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, CLRT_ACT_GELU, 0.0f, e, e));
    CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, CLRT_ACT_SOFTMAX, 0.0f, NULL, e, e, e));
    clrt_tensor_destroy(e);

    clrt_tensor_destroy(a);
    clrt_tensor_destroy(b);
    clrt_tensor_destroy(c);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(forward_and_backward_match_reference),
        cmocka_unit_test(softmax_rows_any_rank),
        cmocka_unit_test(in_place),
        cmocka_unit_test(kinks_and_nan),
        cmocka_unit_test(gradients_by_finite_differences),
        cmocka_unit_test(argument_errors),
    };
    return clrt_test_main("activation", tests, sizeof tests / sizeof tests[0]);
}
