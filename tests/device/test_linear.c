/* Linear layers on each device: forward with every activation (bias or
 * not, z or not), backward with and without accumulation, all against the
 * reference; a finite-difference check of the gradients; shape errors. */
#include "harness.h"

#include <string.h>

/* Forward with every activation, with bias and z or neither, on odd
 * shapes: the op table's linear_forward cases (src/verify/op_cases.c). */
static void forward_every_activation(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "linear_forward");
    clrt_test_ctx_done(ctx);
}

/* Backward with and without accumulation; gradients not wanted are not
 * touched. */
static void backward_against_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "linear_backward");
    clrt_test_ctx_done(ctx);
}

/* dL/dθ of L = Σ y⊙r from clrt_linear_backward against central
 * differences of L computed on the device (the table's linear_fd case). */
static void finite_differences(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "linear_fd");
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
