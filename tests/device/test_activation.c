/* Activations on each device: forward and backward of every activation
 * against the plain-C reference on odd shapes, softmax over the last
 * dimension of any rank, in-place calls, finite-difference gradients
 * computed on the device, and argument errors. */
#include "harness.h"
#include "io/io.h"
#include "verify/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The activations and parameters the table runs (its act_forward cases,
 * src/verify/op_cases.c), for the tests below that need only the list. */
static size_t act_list(clrt_act *acts, float *params, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < clrt__op_case_count && n < cap; i++)
        if (strcmp(clrt__op_cases[i].family, "act_forward") == 0) {
            acts[n] = (clrt_act)clrt__op_cases[i].variant;
            params[n++] = clrt__op_cases[i].param;
        }
    return n;
}

#define MAX_ACTS 16

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

/* Forward and backward of every activation against the reference on odd
 * shapes: the backward with only the operand it needs, and with both (the
 * same bits). */
static void forward_and_backward_match_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "act_forward");
    clrt_test_run_cases(ctx, "act_backward");
    clrt_test_ctx_done(ctx);
}

/* Softmax forward and backward over the last dimension of ranks 1, 3 and
 * 4, rows of length 1, large common offsets (max-subtraction keeps them
 * finite) and -inf entries (masked: probability 0); each row a
 * distribution. */
static void softmax_rows_any_rank(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "softmax_rows");
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
    clrt_act acts[MAX_ACTS];
    float params[MAX_ACTS];
    size_t nacts = act_list(acts, params, MAX_ACTS);
    assert_true(nacts >= 10);
    for (size_t c = 0; c < nacts; c++) {
        /* Out of place first: the expected values. */
        CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, acts[c], params[c], tx, ty));
        clrt_test_read_guarded(ctx, ty, want);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(tin, x, n));
        CLRT_ASSERT_OK(ctx, clrt_act_forward(ctx, acts[c], params[c], tin, tin));
        clrt_test_read_guarded(ctx, tin, got);
        assert_memory_equal(got, want, n * sizeof *got);

        CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, acts[c], params[c], tx, ty, tdy, tdx));
        clrt_test_read_guarded(ctx, tdx, want);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(tin, dy, n));
        CLRT_ASSERT_OK(ctx, clrt_act_backward(ctx, acts[c], params[c], tx, ty, tin, tin));
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

/* Gradients by central finite differences computed with the device's own
 * forward, every activation (the table's act_fd cases). */
static void gradients_by_finite_differences(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "act_fd");
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
