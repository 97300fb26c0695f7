/* Reductions and element-wise arithmetic on each device: clrt_reduce over
 * both axes, clrt_add, clrt_scale and clrt_axpy against the plain-C
 * reference on odd shapes, in place, on empty tensors, and argument errors. */
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
static const shape2 shapes_full[] = {{1, 1},   {7, 33},   {1, 257},  {257, 1},
                                     {257, 10}, {33, 784}, {784, 10}, {10, 784}};
static const shape2 shapes_sim[] = {{1, 1}, {7, 33}, {1, 257}, {257, 1}, {33, 10}, {2, 784}};

static const shape2 *test_shapes(size_t *count)
{
    if (clrt_test_device()->is_simulator) {
        *count = sizeof shapes_sim / sizeof shapes_sim[0];
        return shapes_sim;
    }
    *count = sizeof shapes_full / sizeof shapes_full[0];
    return shapes_full;
}

static void assert_equal_floats(const char *what, const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(got[i] == want[i] || (isnan(got[i]) && isnan(want[i]))))
            fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, (double)got[i],
                     (double)want[i]);
}

/* clrt_reduce against the reference. Each output is a float sum of `count`
 * terms in order, so |error| <= (count − 1)·u·Σ|x| with u = 2^-24 (the
 * classic bound of recursive summation); the mean adds a division (2.5 ulp
 * in OpenCL). Tolerance per output: count·u·Σ|x| (/count for the mean) +
 * 4 ulp of the result. */
static void reduce_matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t nshapes;
    const shape2 *shapes = test_shapes(&nshapes);
    const double u = FLT_EPSILON / 2;
    for (size_t s = 0; s < nshapes; s++) {
        size_t rows = shapes[s].rows, cols = shapes[s].cols, n = rows * cols;
        const size_t dims[2] = {rows, cols};
        float *x = clrt_test_guarded(n);
        clrt_test_random(x, n, (uint32_t)s + 1);
        for (size_t i = 0; i < n; i++) /* a common offset: sums grow, errors too */
            x[i] += 0.5f;
        clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, x);
        for (int axis = 0; axis < 2; axis++) {
            size_t m = axis == 0 ? cols : rows, count = axis == 0 ? rows : cols;
            float *got = clrt_test_guarded(m), *want = clrt_test_guarded(m);
            clrt_tensor *ty = clrt_test_tensor(ctx, 1, &m, NULL);
            for (int op = CLRT_REDUCE_SUM; op <= CLRT_REDUCE_MEAN; op++) {
                CLRT_ASSERT_OK(ctx, clrt_reduce(ctx, (clrt_reduce_op)op, axis, tx, ty));
                clrt_test_read_guarded(ctx, ty, got);
                clrt_ref_reduce((clrt_reduce_op)op, axis, rows, cols, x, want);
                for (size_t j = 0; j < m; j++) {
                    double abs_sum = 0.0;
                    for (size_t k = 0; k < count; k++)
                        abs_sum += fabs(axis == 0 ? x[k * cols + j] : x[j * cols + k]);
                    double tol = (double)count * u * abs_sum;
                    if (op == CLRT_REDUCE_MEAN)
                        tol /= (double)count;
                    tol += 4.0 * FLT_EPSILON * fabs(want[j]);
                    if (!(fabs((double)got[j] - (double)want[j]) <= tol))
                        fail_msg("%s axis %d of [%zu, %zu]: output %zu is %.9g, expected %.9g "
                                 "(tolerance %.3g)",
                                 op == CLRT_REDUCE_SUM ? "sum" : "mean", axis, rows, cols, j,
                                 (double)got[j], (double)want[j], tol);
                }
            }
            clrt_tensor_destroy(ty);
            free(got);
            free(want);
        }
        clrt_tensor_destroy(tx);
        free(x);
    }
    clrt_test_ctx_done(ctx);
}

/* Sums over no terms are 0, means over none NaN (as torch); an output with
 * no elements is fine. */
static void reduce_empty(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s05[2] = {0, 5}, s50[2] = {5, 0}, five = 5, zero = 0;
    float got[5 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(got, 5);
    clrt_tensor *e05 = clrt_test_tensor(ctx, 2, s05, NULL);
    clrt_tensor *e50 = clrt_test_tensor(ctx, 2, s50, NULL);
    clrt_tensor *y5 = clrt_test_tensor(ctx, 1, &five, NULL);
    clrt_tensor *y0 = clrt_test_tensor(ctx, 1, &zero, NULL);
    for (int axis = 0; axis < 2; axis++) {
        clrt_tensor *x = axis == 0 ? e05 : e50;
        CLRT_ASSERT_OK(ctx, clrt_reduce(ctx, CLRT_REDUCE_SUM, axis, x, y5));
        clrt_test_read_guarded(ctx, y5, got);
        for (size_t i = 0; i < 5; i++)
            assert_true(got[i] == 0.0f);
        CLRT_ASSERT_OK(ctx, clrt_reduce(ctx, CLRT_REDUCE_MEAN, axis, x, y5));
        clrt_test_read_guarded(ctx, y5, got);
        for (size_t i = 0; i < 5; i++)
            assert_true(isnan(got[i]));
        CLRT_ASSERT_OK(ctx, clrt_reduce(ctx, CLRT_REDUCE_MEAN, 1 - axis, x, y0));
    }
    clrt_tensor_destroy(e05);
    clrt_tensor_destroy(e50);
    clrt_tensor_destroy(y5);
    clrt_tensor_destroy(y0);
    clrt_test_ctx_done(ctx);
}

/* add, scale: one correctly rounded float operation (OpenCL requires + and
 * × to round correctly; the inputs are far from denormals), so the device
 * equals the reference's double result rounded to float exactly.
 * axpy: y + α·x may or may not be contracted to an fma by the device
 * compiler; either way |error| <= 2u·(|y| + |α·x|), u = 2^-24. */
static void elementwise_matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const struct {
        int rank;
        size_t shape[3];
    } cases[] = {{1, {1}}, {1, {7}}, {1, {33}}, {1, {257}}, {2, {784, 10}}, {3, {7, 1, 33}}};
    const float alphas[] = {-0.37f, 0.0f, 2.0f, 1.25f};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = 1;
        for (int i = 0; i < cases[c].rank; i++)
            n *= cases[c].shape[i];
        float *a = clrt_test_guarded(n), *b = clrt_test_guarded(n), *got = clrt_test_guarded(n),
              *want = clrt_test_guarded(n);
        clrt_test_random(a, n, (uint32_t)c + 11);
        clrt_test_random(b, n, (uint32_t)c + 12);
        clrt_tensor *ta = clrt_test_tensor(ctx, cases[c].rank, cases[c].shape, a);
        clrt_tensor *tb = clrt_test_tensor(ctx, cases[c].rank, cases[c].shape, b);
        clrt_tensor *ty = clrt_test_tensor(ctx, cases[c].rank, cases[c].shape, NULL);
        char what[64];
        snprintf(what, sizeof what, "add, %zu elements", n);
        CLRT_ASSERT_OK(ctx, clrt_add(ctx, ta, tb, ty));
        clrt_test_read_guarded(ctx, ty, got);
        clrt_ref_add(n, a, b, want);
        assert_equal_floats(what, got, want, n);
        for (size_t k = 0; k < sizeof alphas / sizeof alphas[0]; k++) {
            float alpha = alphas[k];
            snprintf(what, sizeof what, "scale by %g, %zu elements", (double)alpha, n);
            CLRT_ASSERT_OK(ctx, clrt_scale(ctx, alpha, ta, ty));
            clrt_test_read_guarded(ctx, ty, got);
            clrt_ref_scale(n, alpha, a, want);
            assert_equal_floats(what, got, want, n);

            CLRT_ASSERT_OK(ctx, clrt_tensor_write(ty, b, n));
            CLRT_ASSERT_OK(ctx, clrt_axpy(ctx, alpha, ta, ty));
            clrt_test_read_guarded(ctx, ty, got);
            memcpy(want, b, n * sizeof *want);
            clrt_ref_axpy(n, alpha, a, want);
            for (size_t i = 0; i < n; i++) {
                double tol = FLT_EPSILON * (fabs(b[i]) + fabs((double)alpha * a[i]));
                if (!(fabs((double)got[i] - (double)want[i]) <= tol))
                    fail_msg("axpy by %g, %zu elements: element %zu is %.9g, expected %.9g",
                             (double)alpha, n, i, (double)got[i], (double)want[i]);
            }
        }
        clrt_tensor_destroy(ta);
        clrt_tensor_destroy(tb);
        clrt_tensor_destroy(ty);
        free(a);
        free(b);
        free(got);
        free(want);
    }
    clrt_test_ctx_done(ctx);
}

/* y may be a or b (add), x (scale); axpy with x == y doubles-and-more. */
static void in_place(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t n = 257;
    float *a = clrt_test_guarded(n), *b = clrt_test_guarded(n), *got = clrt_test_guarded(n),
          *want = clrt_test_guarded(n);
    clrt_test_random(a, n, 21);
    clrt_test_random(b, n, 22);
    clrt_tensor *ta = clrt_test_tensor(ctx, 1, &n, a), *tb = clrt_test_tensor(ctx, 1, &n, b);

    clrt_ref_add(n, a, b, want);
    CLRT_ASSERT_OK(ctx, clrt_add(ctx, ta, tb, ta)); /* y == a */
    clrt_test_read_guarded(ctx, ta, got);
    assert_equal_floats("add into a", got, want, n);
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(ta, a, n));
    CLRT_ASSERT_OK(ctx, clrt_add(ctx, ta, tb, tb)); /* y == b */
    clrt_test_read_guarded(ctx, tb, got);
    assert_equal_floats("add into b", got, want, n);
    CLRT_ASSERT_OK(ctx, clrt_add(ctx, ta, ta, ta)); /* y == a == b */
    clrt_test_read_guarded(ctx, ta, got);
    clrt_ref_add(n, a, a, want);
    assert_equal_floats("add a to itself", got, want, n);

    CLRT_ASSERT_OK(ctx, clrt_tensor_write(ta, a, n));
    CLRT_ASSERT_OK(ctx, clrt_scale(ctx, -3.0f, ta, ta));
    clrt_test_read_guarded(ctx, ta, got);
    clrt_ref_scale(n, -3.0f, a, want);
    assert_equal_floats("scale in place", got, want, n);

    /* y += 0.5·y: y·1.5, exact for these inputs (one rounding either way:
     * y + 0.5y with 0.5y exact). */
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(ta, a, n));
    CLRT_ASSERT_OK(ctx, clrt_axpy(ctx, 0.5f, ta, ta));
    clrt_test_read_guarded(ctx, ta, got);
    memcpy(want, a, n * sizeof *want);
    clrt_ref_axpy(n, 0.5f, a, want);
    assert_equal_floats("axpy of y onto itself", got, want, n);

    clrt_tensor_destroy(ta);
    clrt_tensor_destroy(tb);
    free(a);
    free(b);
    free(got);
    free(want);
    clrt_test_ctx_done(ctx);
}

static void argument_errors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s34[2] = {3, 4}, s43[2] = {4, 3}, s14[2] = {1, 4}, s234[3] = {2, 3, 4};
    const size_t three = 3, four = 4, twelve = 12;
    float x[24], keep[12], got[12 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(got, 12);
    clrt_test_random(x, 24, 31);
    for (size_t i = 0; i < 12; i++)
        keep[i] = -7.0f;
    clrt_tensor *a = clrt_test_tensor(ctx, 2, s34, x), *b = clrt_test_tensor(ctx, 2, s43, keep);
    clrt_tensor *flat = clrt_test_tensor(ctx, 1, &twelve, keep);
    clrt_tensor *r3 = clrt_test_tensor(ctx, 3, s234, x);
    clrt_tensor *y3 = clrt_test_tensor(ctx, 1, &three, keep);
    clrt_tensor *y4 = clrt_test_tensor(ctx, 1, &four, keep);
    clrt_tensor *y14 = clrt_test_tensor(ctx, 2, s14, keep);

    /* reduce: x must be rank 2, y rank 1 of the kept dimension. */
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, 0, flat, y4), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, 0, r3, y4), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, 0, a, y3), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[3]"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[4]"));
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_MEAN, 1, a, y4), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, 0, a, y14), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, 2, a, y4), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, -1, a, y4), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_reduce(ctx, (clrt_reduce_op)7, 0, a, y4), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_reduce(NULL, CLRT_REDUCE_SUM, 0, a, y4), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, 0, NULL, y4), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, 0, a, NULL), CLRT_ERR_INVALID_ARG);

    /* Element-wise: same shapes (not only the same count). */
    assert_int_equal(clrt_add(ctx, a, b, b), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[3, 4]"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[4, 3]"));
    assert_int_equal(clrt_add(ctx, a, a, b), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_add(ctx, a, a, flat), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_scale(ctx, 2.0f, a, b), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_axpy(ctx, 2.0f, a, flat), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_add(NULL, a, a, a), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_add(ctx, NULL, a, a), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_add(ctx, a, NULL, a), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_add(ctx, a, a, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_scale(NULL, 2.0f, a, a), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_scale(ctx, 2.0f, NULL, a), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_scale(ctx, 2.0f, a, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_axpy(NULL, 2.0f, a, b), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_axpy(ctx, 2.0f, NULL, a), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_axpy(ctx, 2.0f, a, NULL), CLRT_ERR_INVALID_ARG);

    /* A tensor of another context. */
    clrt_ctx *other = clrt_test_ctx();
    clrt_tensor *o;
    CLRT_ASSERT_OK(other, clrt_tensor_create(other, 2, s34, 0, &o));
    assert_int_equal(clrt_add(ctx, a, o, a), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_reduce(ctx, CLRT_REDUCE_SUM, 0, o, y4), CLRT_ERR_INVALID_ARG);
    clrt_tensor_destroy(o);
    clrt_test_ctx_done(other);

    /* Nothing was written by a refused call. */
    clrt_test_read_guarded(ctx, b, got);
    assert_memory_equal(got, keep, 12 * sizeof *got);
    clrt_test_read_guarded(ctx, flat, got);
    assert_memory_equal(got, keep, 12 * sizeof *got);
    float small[4 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(small, 4);
    clrt_test_read_guarded(ctx, y3, small);
    assert_memory_equal(small, keep, 3 * sizeof *small);
    clrt_test_read_guarded(ctx, y4, small);
    assert_memory_equal(small, keep, 4 * sizeof *small);
    clrt_test_read_guarded(ctx, y14, small);
    assert_memory_equal(small, keep, 4 * sizeof *small);
    float x34[12 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(x34, 12);
    clrt_test_read_guarded(ctx, a, x34);
    assert_memory_equal(x34, x, 12 * sizeof *x34);

    clrt_tensor_destroy(a);
    clrt_tensor_destroy(b);
    clrt_tensor_destroy(flat);
    clrt_tensor_destroy(r3);
    clrt_tensor_destroy(y3);
    clrt_tensor_destroy(y4);
    clrt_tensor_destroy(y14);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reduce_matches_reference),
        cmocka_unit_test(reduce_empty),
        cmocka_unit_test(elementwise_matches_reference),
        cmocka_unit_test(in_place),
        cmocka_unit_test(argument_errors),
    };
    return clrt_test_main("elementwise", tests, sizeof tests / sizeof tests[0]);
}
