/* The op table and its driver on each device: the table is well formed, its
 * GEMM cases pass (the other families run in test_linear, test_activation,
 * test_loss, test_elementwise and test_optim), clrt_selftest runs it and
 * passes, and the driver's checks can fail: a wrong value, a NaN, a sign of
 * zero, and a write past a tensor's end caught by the sentinels. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the table */

static bool in_family(const char *family)
{
    static const char *const tested[] = {
        "gemm",         "linear_forward", "linear_backward",    "linear_fd",
        "act_forward",  "act_backward",   "softmax_rows",       "act_fd",
        "loss_mse",     "loss_cross_entropy", "accuracy",       "loss_fd",
        "reduce",       "elementwise",    "optim",
    };
    for (size_t i = 0; i < sizeof tested / sizeof tested[0]; i++)
        if (strcmp(family, tested[i]) == 0)
            return true;
    return false;
}

/* Unique names that fit a result; every case has shapes for a device and
 * for a simulator, in a family some device test runs; a self-test case has
 * a self-test shape. */
static void table_is_well_formed(void **state)
{
    (void)state;
    assert_true(clrt__op_case_count >= 90);
    size_t selftest_cases = 0, grad_cases = 0;
    for (size_t i = 0; i < clrt__op_case_count; i++) {
        const clrt__op_case *c = &clrt__op_cases[i];
        assert_non_null(c->name);
        assert_non_null(c->make);
        assert_non_null(c->run);
        assert_non_null(c->check);
        assert_true(strlen(c->name) < sizeof((clrt__case_result *)0)->name);
        if (!in_family(c->family))
            fail_msg("case %s: family %s is run by no device test", c->name, c->family);
        for (size_t j = 0; j < i; j++)
            if (strcmp(clrt__op_cases[j].name, c->name) == 0)
                fail_msg("two cases are named %s", c->name);
        unsigned where = 0;
        for (size_t s = 0; s < c->nshapes; s++) {
            where |= c->shapes[s].where;
            assert_true(c->shapes[s].rank >= 1 && c->shapes[s].rank <= 4);
        }
        if (!(where & CLRT__ON_DEVICE) || !(where & CLRT__ON_SIM))
            fail_msg("case %s has no shape for a device or for a simulator", c->name);
        if (c->flags & CLRT__CASE_SELFTEST) {
            selftest_cases++;
            if (!(where & CLRT__ON_SELFTEST))
                fail_msg("self-test case %s has no self-test shape", c->name);
        }
        grad_cases += (c->flags & CLRT__CASE_GRAD) != 0;
    }
    /* gemm 4, linear 2, activations 20, losses 3, reduce 4, elementwise 3,
     * optimizers 3. */
    assert_int_equal(selftest_cases, 39);
    /* linear 1, activations 10, losses 2. */
    assert_int_equal(grad_cases, 13);
}

/* The GEMM cases with the context's own backend (every backend and tile
 * are tested in test_gemm). */
static void gemm_cases(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "gemm");
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------------- selftest */

static bool has_op(const clrt_selftest_result *r, size_t n, const char *op, const char *shape)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].op, op) == 0 && strcmp(r[i].shape, shape) == 0)
            return true;
    return false;
}

/* clrt_selftest on the device: every result passes, is named, and names
 * what it checked. Not on a simulator: the self-test's fixed shapes (a GEMM
 * of 33×7×257) are larger than the device tests let a simulator run, and
 * its cases run there at the simulator's shapes in the other tests. */
static void selftest_passes(void **state)
{
    (void)state;
    if (clrt_test_device()->is_simulator)
        skip();
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_gemm_backend before = clrt_ctx_gemm_backend(ctx);
    enum { CAP = 256 };
    clrt_selftest_result *r = calloc(CAP, sizeof *r);
    assert_non_null(r);
    size_t count = 0, failures = 99;
    CLRT_ASSERT_OK(ctx, clrt_selftest(ctx, r, CAP, &count, &failures));
    assert_true(count > 60 && count <= CAP);
    for (size_t i = 0; i < count; i++) {
        if (!r[i].passed)
            fail_msg("self-test %s %s: error %.3g over %.3g", r[i].op, r[i].shape,
                     r[i].max_error, r[i].tolerance);
        assert_true(r[i].op[0] != '\0' && r[i].shape[0] == '[');
        /* Not cut to fit. */
        assert_true(strlen(r[i].op) < sizeof r[i].op - 1);
        assert_true(r[i].max_error <= r[i].tolerance);
        for (size_t j = 0; j < i; j++)
            if (strcmp(r[i].op, r[j].op) == 0 && strcmp(r[i].shape, r[j].shape) == 0)
                fail_msg("self-test result %s %s twice", r[i].op, r[i].shape);
    }
    assert_int_equal(failures, 0);
    /* Each op and shape named, GEMM per backend. */
    assert_true(has_op(r, count, "gemm nt (builtin)", "[33, 7, 257]"));
    assert_true(has_op(r, count, "gemm tt (builtin)", "[1, 1, 1]"));
    assert_true(has_op(r, count, "linear_forward relu y", "[7, 33, 10]"));
    assert_true(has_op(r, count, "linear_backward dw", "[7, 33, 10]"));
    assert_true(has_op(r, count, "act_backward gelu dx", "[7, 33]"));
    assert_true(has_op(r, count, "loss_cross_entropy grad", "[33, 10]"));
    assert_true(has_op(r, count, "reduce mean axis 1", "[7, 257]"));
    assert_true(has_op(r, count, "axpy -0.37", "[7, 257]"));
    assert_true(has_op(r, count, "optim adam wd exp_avg_sq", "[257]"));
    assert_int_equal(clrt_ctx_gemm_backend(ctx), before);

    /* Fewer slots than checks: the count is still all of them. */
    size_t count2 = 0, failures2 = 99;
    CLRT_ASSERT_OK(ctx, clrt_selftest(ctx, r, 3, &count2, &failures2));
    assert_int_equal(count2, count);
    assert_int_equal(failures2, 0);
    assert_int_equal(clrt_selftest(ctx, NULL, 3, &count2, &failures2), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_selftest(ctx, r, 3, NULL, &failures2), CLRT_ERR_INVALID_ARG);
    free(r);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------------ sentinels */

static void write_floats(clrt_ctx *ctx, const clrt_tensor *t, size_t offset, const float *v,
                         size_t n)
{
    cl_int rc = clEnqueueWriteBuffer(clrt_ctx_cl_queue(ctx), clrt_tensor_cl_mem(t), CL_TRUE,
                                     offset, n * sizeof *v, v, 0, NULL, NULL);
    assert_int_equal(rc, CL_SUCCESS);
}

/* A range of a buffer filled with the sentinel reads back intact; a word
 * overwritten in it (the first, one inside, the last) is found, with its
 * offset and value. Works on every device: the range lies inside the
 * tensor's own 64 floats. */
static void sentinel_range_can_fail(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_tensor *t = clrt_test_vector(ctx, 64, NULL);
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, 0.0f));
    cl_mem mem = clrt_tensor_cl_mem(t);
    size_t at;
    uint32_t value;
    const size_t offsets[3] = {128, 160, 252};
    const float v = 3.5f;
    for (int k = 0; k < 3; k++) {
        CLRT_ASSERT_OK(ctx, clrt__sentinel_fill_range(ctx, mem, 128, 128));
        CLRT_ASSERT_OK(ctx, clrt__sentinel_check_range(ctx, mem, 128, 128, &at, &value));
        assert_true(at == SIZE_MAX);
        write_floats(ctx, t, offsets[k], &v, 1);
        CLRT_ASSERT_OK(ctx, clrt__sentinel_check_range(ctx, mem, 128, 128, &at, &value));
        assert_int_equal(at, offsets[k]);
        assert_int_equal(value, clrt__f32_bits(v));
        /* The words before the range are not the sentinel's business. */
        CLRT_ASSERT_OK(ctx, clrt__sentinel_check_range(ctx, mem, offsets[k] + 4,
                                                       256 - offsets[k] - 4, &at, &value));
        assert_true(at == SIZE_MAX);
    }
    /* Only whole words. */
    assert_int_equal(clrt__sentinel_fill_range(ctx, mem, 130, 8), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt__sentinel_check_range(ctx, mem, 128, 6, &at, &value),
                     CLRT_ERR_INVALID_ARG);
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
}

/* A pooled tensor's slack: intact after an op that keeps to its elements,
 * caught when something writes the first element past them. A simulator's
 * exact buffers have no slack: nothing to guard, nothing reported. */
static void sentinel_guards_the_slack(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_tensor *t = clrt_test_vector(ctx, 7, NULL);
    size_t used = clrt__tensor_bytes(t), at;
    uint32_t value;
    assert_int_equal(used, 28);
    CLRT_ASSERT_OK(ctx, clrt__sentinel_fill(ctx, t));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, 1.0f));
    CLRT_ASSERT_OK(ctx, clrt__sentinel_check(ctx, t, &at, &value));
    assert_true(at == SIZE_MAX);
    if (clrt_test_device()->is_simulator) {
        assert_int_equal(t->buf->capacity, used);
    } else {
        assert_true(t->buf->capacity >= used + 4);
        const float v = -2.25f;
        write_floats(ctx, t, used, &v, 1);
        CLRT_ASSERT_OK(ctx, clrt__sentinel_check(ctx, t, &at, &value));
        assert_int_equal(at, used);
        assert_int_equal(value, clrt__f32_bits(v));
    }
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
}

/* A made-up case: y = 1 over [7] elements; variant 1 also writes 3.5 one
 * element past y's end, variant 2 compares against a wrong reference,
 * variant 3 checks a NaN and variant 4 a −0 bit for bit against +0. */
typedef struct fake_io {
    clrt_tensor *y;
    float want[8];
} fake_io;

static const clrt__case_shape fake_shapes[] = {{1, {7}, 0, CLRT__ON_DEVICE | CLRT__ON_SIM}};

static clrt_status fake_make(clrt__case_run *r)
{
    fake_io *io = r->io = clrt__case_alloc(r, sizeof *io);
    if (!io)
        return r->st;
    return clrt__case_tensor(r, "y", 1, r->s->dims, NULL, true, &io->y);
}

static clrt_status fake_run(clrt__case_run *r)
{
    fake_io *io = r->io;
    CLRT_TRY(clrt_tensor_fill(io->y, 1.0f));
    if (r->c->variant == 1) {
        const float v = 3.5f;
        cl_int rc = clEnqueueWriteBuffer(r->ctx->queue, io->y->buf->mem, CL_TRUE,
                                         clrt__tensor_bytes(io->y), sizeof v, &v, 0, NULL,
                                         NULL);
        if (rc != CL_SUCCESS)
            return clrt__fail_cl(r->ctx, rc, "clEnqueueWriteBuffer", "past y");
    }
    return CLRT_OK;
}

static clrt_status fake_check(clrt__case_run *r)
{
    fake_io *io = r->io;
    float *got = (float *)clrt__case_got(r, io->y);
    for (int i = 0; i < 7; i++)
        io->want[i] = 1.0f;
    clrt__tol tol = clrt__tol_exact();
    if (r->c->variant == 2)
        io->want[5] = 1.0f + 1e-6f;
    if (r->c->variant == 3)
        got[2] = NAN;
    if (r->c->variant == 4) {
        got[6] = -0.0f;
        io->want[6] = 0.0f;
        tol = clrt__tol_bitwise();
    }
    clrt__case_check(r, "y", got, io->want, NULL, 7, tol);
    return CLRT_OK;
}

static clrt__op_case fake_case(const char *name, int variant)
{
    return (clrt__op_case){name, "fake", variant, 0, fake_shapes, 1, 0,
                           fake_make, fake_run, fake_check, CLRT_F32};
}

static void driver_passes_and_fails(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt__case_result res;
    clrt__op_case honest = fake_case("fake honest", 0);
    CLRT_ASSERT_OK(ctx, clrt__case_run_one(ctx, &honest, &fake_shapes[0], &res));
    if (!res.passed)
        fail_msg("%s", res.failure);
    assert_int_equal(res.nchecks, 1);
    assert_string_equal(res.shape, "[7]");
    assert_true(res.checks[0].passed && res.checks[0].error == 0);

    clrt__op_case wrong = fake_case("fake wrong value", 2);
    CLRT_ASSERT_OK(ctx, clrt__case_run_one(ctx, &wrong, &fake_shapes[0], &res));
    assert_false(res.passed);
    assert_false(res.checks[0].passed);
    assert_int_equal(res.checks[0].worst, 5);
    assert_non_null(strstr(res.failure, "fake wrong value [7]: y[5]"));

    clrt__op_case nan = fake_case("fake nan", 3);
    CLRT_ASSERT_OK(ctx, clrt__case_run_one(ctx, &nan, &fake_shapes[0], &res));
    assert_false(res.passed);
    assert_int_equal(res.checks[0].worst, 2);
    assert_true(isinf(res.checks[0].error));

    clrt__op_case zero = fake_case("fake negative zero", 4);
    CLRT_ASSERT_OK(ctx, clrt__case_run_one(ctx, &zero, &fake_shapes[0], &res));
    assert_false(res.passed);
    assert_int_equal(res.checks[0].worst, 6);

    /* An op writing one element past its output: the sentinel in the
     * pool's slack catches it, naming the case, the output, the offset and
     * the value. A simulator's exact buffer has no slack to write into (its
     * own checker reports an overrun there). */
    if (!clrt_test_device()->is_simulator) {
        clrt__op_case overrun = fake_case("fake overrun", 1);
        CLRT_ASSERT_OK(ctx, clrt__case_run_one(ctx, &overrun, &fake_shapes[0], &res));
        assert_false(res.passed);
        assert_non_null(strstr(res.failure, "fake overrun wrote past output y"));
        assert_non_null(strstr(res.failure, "byte 28"));
        assert_non_null(strstr(res.failure, "0x40600000 (3.5)"));
    }
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_is_well_formed),
        cmocka_unit_test(gemm_cases),
        cmocka_unit_test(selftest_passes),
        cmocka_unit_test(sentinel_range_can_fail),
        cmocka_unit_test(sentinel_guards_the_slack),
        cmocka_unit_test(driver_passes_and_fails),
    };
    return clrt_test_main("ops", tests, sizeof tests / sizeof tests[0]);
}
