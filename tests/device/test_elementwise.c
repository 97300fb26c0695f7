/* Reductions and element-wise arithmetic on each device: clrt_reduce over
 * both axes, clrt_add, clrt_scale and clrt_axpy against the plain-C
 * reference on odd shapes, in place, on empty tensors, and argument errors. */
#include "harness.h"
#include "io/io.h"
#include "verify/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clrt_reduce over both axes, sum and mean, against the reference on odd
 * shapes (the table's reduce cases, src/verify/op_cases.c; the bound of
 * recursive summation is in src/verify/tolerance.c). */
static void reduce_matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "reduce");
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

/* add and scale (exact: one correctly rounded operation) and axpy (fma or
 * not, within 2u·(|y| + |α·x|)) over ranks 1 to 3, several alphas (the
 * table's elementwise cases). */
static void elementwise_matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "elementwise");
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
    clrt_test_assert_tol("add into a", got, want, n, clrt__tol_exact());
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(ta, a, n));
    CLRT_ASSERT_OK(ctx, clrt_add(ctx, ta, tb, tb)); /* y == b */
    clrt_test_read_guarded(ctx, tb, got);
    clrt_test_assert_tol("add into b", got, want, n, clrt__tol_exact());
    CLRT_ASSERT_OK(ctx, clrt_add(ctx, ta, ta, ta)); /* y == a == b */
    clrt_test_read_guarded(ctx, ta, got);
    clrt_ref_add(n, a, a, want);
    clrt_test_assert_tol("add a to itself", got, want, n, clrt__tol_exact());

    CLRT_ASSERT_OK(ctx, clrt_tensor_write(ta, a, n));
    CLRT_ASSERT_OK(ctx, clrt_scale(ctx, -3.0f, ta, ta));
    clrt_test_read_guarded(ctx, ta, got);
    clrt_ref_scale(n, -3.0f, a, want);
    clrt_test_assert_tol("scale in place", got, want, n, clrt__tol_exact());

    /* y += 0.5·y: y·1.5, exact for these inputs (one rounding either way:
     * y + 0.5y with 0.5y exact). */
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(ta, a, n));
    CLRT_ASSERT_OK(ctx, clrt_axpy(ctx, 0.5f, ta, ta));
    clrt_test_read_guarded(ctx, ta, got);
    memcpy(want, a, n * sizeof *want);
    clrt_ref_axpy(n, 0.5f, a, want);
    clrt_test_assert_tol("axpy of y onto itself", got, want, n, clrt__tol_exact());

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
