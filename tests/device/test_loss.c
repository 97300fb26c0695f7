/* Losses and metrics on each device: MSE, cross-entropy and accuracy
 * against the plain-C reference on odd shapes, their gradients by finite
 * differences computed on the device, out-of-range labels, determinism,
 * and argument errors. */
#include "harness.h"
#include "io/io.h"
#include "ops/ops.h"
#include "verify/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float read_scalar(clrt_ctx *ctx, const clrt_tensor *t)
{
    float v;
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, &v, 1));
    return v;
}

/* Class labels in [0, classes) as floats. */
static void random_labels(float *labels, size_t batch, size_t classes, uint32_t seed)
{
    clrt_test_random(labels, batch, seed);
    for (size_t i = 0; i < batch; i++) {
        size_t l = (size_t)((labels[i] + 1.0f) * 0.5f * (float)classes);
        labels[i] = (float)(l < classes ? l : classes - 1);
    }
}

/* MSE over every shape, also seen as rank 1 and rank 3 tensors; without a
 * grad the same loss, bit for bit (the table's loss_mse cases,
 * src/verify/op_cases.c). */
static void mse_matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "loss_mse");
    clrt_test_ctx_done(ctx);
}

/* Cross-entropy over every shape (batch × classes), logits in [-3, 3) and
 * with a common offset of ±1000: a finite loss, its grad, and without a
 * grad the same loss, bit for bit. */
static void cross_entropy_matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "loss_cross_entropy");
    clrt_test_ctx_done(ctx);
}

/* A label outside [0, classes), or not an integer, makes the loss NaN and
 * its grad row NaN; the other rows' grads are (softmax − onehot)/batch. */
static void cross_entropy_bad_labels(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t batch = 3, classes = 4, one = 1;
    const size_t dims[2] = {batch, classes};
    float logits[12], grad[12 + CLRT_TEST_GUARD], soft[4];
    clrt_test_fill_sentinel(grad, 12);
    clrt_test_random(logits, 12, 61);
    const float bad[] = {4.0f, -1.0f, 1.5f, NAN, INFINITY, 1e30f};
    clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, logits);
    clrt_tensor *tg = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *loss = clrt_test_tensor(ctx, 1, &one, NULL);
    clrt_tensor *tl = clrt_test_tensor(ctx, 1, &batch, NULL);
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        const float labels[3] = {2.0f, bad[b], 0.0f};
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(tl, labels, batch));
        CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, tx, tl, loss, tg));
        assert_true(isnan(read_scalar(ctx, loss)));
        clrt_test_read_guarded(ctx, tg, grad);
        for (size_t j = 0; j < classes; j++)
            assert_true(isnan(grad[classes + j]));
        for (size_t r = 0; r < batch; r += 2) {
            clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0.0f, 1, classes, logits + r * classes, soft);
            for (size_t j = 0; j < classes; j++)
                soft[j] = (soft[j] - (j == (size_t)labels[r] ? 1.0f : 0.0f)) / (float)batch;
            /* As in cross_entropy_matches_reference, with the absolute part
             * of a batch of 1. */
            clrt_test_assert_tol("grad row with a good label", grad + r * classes, soft, classes,
                                 clrt__tol_ce_grad(1));
        }
        /* Accuracy never counts a bad label. Rows 0 and 2 are labelled with
         * their own argmax below, so exactly 2 are right. */
        float lab2[3];
        for (size_t r = 0; r < batch; r++) {
            size_t best = 0;
            for (size_t j = 1; j < classes; j++)
                if (logits[r * classes + j] > logits[r * classes + best])
                    best = j;
            lab2[r] = r == 1 ? bad[b] : (float)best;
        }
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(tl, lab2, batch));
        CLRT_ASSERT_OK(ctx, clrt_accuracy(ctx, tx, tl, loss));
        assert_true(read_scalar(ctx, loss) == 2.0f);
    }
    clrt_tensor_destroy(tx);
    clrt_tensor_destroy(tg);
    clrt_tensor_destroy(loss);
    clrt_tensor_destroy(tl);
    clrt_test_ctx_done(ctx);
}

/* Accuracy: a count, so exact. Over every shape (the table's accuracy
 * cases: even rows labelled with their argmax, odd rows with another
 * class), then ties, which go to the first maximum, and NaN, which counts as
 * the maximum (torch.argmax). */
static void accuracy_counts(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "accuracy");
    const size_t one = 1;
    clrt_tensor *correct = clrt_test_tensor(ctx, 1, &one, NULL);

    /* Ties and NaN. */
    const size_t dims[2] = {4, 3}, batch = 4;
    const float logits[12] = {1, 1, 1,  0, 2, 2,  0, NAN, 5,  NAN, NAN, 9};
    const float labels[4] = {0, 1, 1, 0};
    clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, logits);
    clrt_tensor *tl = clrt_test_tensor(ctx, 1, &batch, labels);
    CLRT_ASSERT_OK(ctx, clrt_accuracy(ctx, tx, tl, correct));
    assert_true(read_scalar(ctx, correct) == 4.0f);
    assert_true(clrt_ref_accuracy(4, 3, logits, labels) == 4.0f);
    const float shifted[4] = {1, 2, 2, 1};
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(tl, shifted, 4));
    CLRT_ASSERT_OK(ctx, clrt_accuracy(ctx, tx, tl, correct));
    assert_true(read_scalar(ctx, correct) == 0.0f);
    clrt_tensor_destroy(tx);
    clrt_tensor_destroy(tl);
    clrt_tensor_destroy(correct);
    clrt_test_ctx_done(ctx);
}

/* Both losses' grads by central differences on the device, one element at
 * a time (the table's loss_fd cases). */
static void loss_gradients_by_finite_differences(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "loss_fd");
    clrt_test_ctx_done(ctx);
}

/* The same call again gives the same bits: the sums have a fixed order.
 * Many rows, so the sums take two stages (checked against the reference). */
static void many_rows_deterministic(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t batch = clrt_test_device()->is_simulator ? 257 : 4099;
    const size_t classes = 10, one = 1, dims[2] = {batch, classes};
    float *logits = clrt_test_guarded(batch * classes), *labels = clrt_test_guarded(batch);
    clrt_test_random(logits, batch * classes, 91);
    random_labels(labels, batch, classes, 92);
    clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, logits);
    clrt_tensor *tl = clrt_test_tensor(ctx, 1, &batch, labels);
    clrt_tensor *tt = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *loss = clrt_test_tensor(ctx, 1, &one, NULL);
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(tt, 0.25f));
    float first[2] = {0, 0};
    for (int rep = 0; rep < 3; rep++) {
        float v[2];
        CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, tx, tl, loss, NULL));
        v[0] = read_scalar(ctx, loss);
        CLRT_ASSERT_OK(ctx, clrt_loss_mse(ctx, tx, tt, loss, NULL));
        v[1] = read_scalar(ctx, loss);
        if (rep == 0) {
            memcpy(first, v, sizeof v);
            /* With > 4096 rows the row losses are summed in two stages;
             * bounds as in the *_matches_reference tests. */
            float want = clrt_ref_loss_cross_entropy(batch, classes, logits, labels, NULL);
            clrt_test_assert_tol("cross-entropy, many rows", &v[0], &want, 1, clrt__tol_ce_loss());
            float *quarter = clrt_test_guarded(batch * classes);
            for (size_t i = 0; i < batch * classes; i++)
                quarter[i] = 0.25f;
            want = clrt_ref_loss_mse(batch * classes, logits, quarter, NULL);
            clrt_test_assert_tol("mse, many elements", &v[1], &want, 1, clrt__tol_mse_loss());
            free(quarter);
        } else {
            assert_memory_equal(v, first, sizeof v);
        }
    }
    clrt_tensor_destroy(tx);
    clrt_tensor_destroy(tl);
    clrt_tensor_destroy(tt);
    clrt_tensor_destroy(loss);
    free(logits);
    free(labels);
    clrt_test_ctx_done(ctx);
}

/* Cross-entropy in one launch (clrt_ce_mean, where one work-group sums the
 * row losses) against the row losses and their sum apart (two launches):
 * the same loss and gradient bits, with and without a gradient, bad labels
 * among good ones, on odd shapes up to the most rows one group sums and
 * past them (where both take the two launches); and one launch counted by
 * profiling where the one-launch form applies. */
static void cross_entropy_one_launch_equals_two(void **state)
{
    (void)state;
    clrt_ctx_options co;
    clrt_test_options(&co);
    co.profiling = 1;
    clrt_ctx *ctx = clrt_test_ctx_with(&co);
    bool sim = clrt_test_device()->is_simulator;
    static const size_t shapes[][2] = {{1, 1}, {1, 10}, {3, 7}, {128, 10}, {257, 13},
                                       {4096, 10}, {4097, 3}};
    const size_t one = 1;
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++) {
        const size_t batch = shapes[c][0], classes = shapes[c][1];
        if (sim && batch * classes > 4000)
            continue;
        const size_t dims[2] = {batch, classes}, n = batch * classes;
        float *logits = clrt_test_guarded(n), *labels = clrt_test_guarded(batch);
        clrt_test_random(logits, n, 300u + (uint32_t)c);
        random_labels(labels, batch, classes, 400u + (uint32_t)c);
        if (batch > 2 && c % 2 == 1)
            labels[batch / 2] = (float)classes; /* out of range: NaN loss and row */
        clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, logits);
        clrt_tensor *tl = clrt_test_tensor(ctx, 1, &batch, labels);
        clrt_tensor *grad[2] = {clrt_test_tensor(ctx, 2, dims, NULL),
                                clrt_test_tensor(ctx, 2, dims, NULL)};
        clrt_tensor *loss[2] = {clrt_test_tensor(ctx, 1, &one, NULL),
                                clrt_test_tensor(ctx, 1, &one, NULL)};
        for (int with_grad = 0; with_grad < 2; with_grad++) {
            clrt_kernel_time times[8];
            size_t ntimes;
            size_t one_launch_rows;
            CLRT_ASSERT_OK(ctx, clrt__ce_mean_max_rows(ctx, tx, tl, with_grad ? grad[0] : NULL,
                                                       &one_launch_rows));
            /* 4096 where a reduction group is 256 items (PoCL, oclgrind),
             * 512 on rusticl's 32. */
            assert_true(one_launch_rows >= 512);
            for (int apart = 0; apart < 2; apart++) {
                ctx->ce_rows_apart = apart != 0;
                CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, NULL, 0, &ntimes));
                CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, tx, tl, loss[apart],
                                                            with_grad ? grad[apart] : NULL));
                CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, times, 8, &ntimes));
                if (!apart && batch <= one_launch_rows) {
                    assert_int_equal(ntimes, 1);
                    assert_string_equal(times[0].name, "clrt_ce_mean");
                    assert_int_equal(times[0].calls, 1);
                } else {
                    assert_true(ntimes >= 2);
                }
            }
            ctx->ce_rows_apart = false;
            float l[2];
            for (int i = 0; i < 2; i++)
                l[i] = read_scalar(ctx, loss[i]);
            if (memcmp(&l[0], &l[1], sizeof l[0]) != 0)
                fail_msg("%zux%zu%s: loss %.9g in one launch, %.9g in two", batch, classes,
                         with_grad ? " with grad" : "", (double)l[0], (double)l[1]);
            if (!with_grad)
                continue;
            float *g0 = clrt_test_guarded(n), *g1 = clrt_test_guarded(n);
            clrt_test_read_guarded(ctx, grad[0], g0);
            clrt_test_read_guarded(ctx, grad[1], g1);
            for (size_t i = 0; i < n; i++)
                if (memcmp(&g0[i], &g1[i], sizeof g0[i]) != 0)
                    fail_msg("%zux%zu: grad element %zu %.9g in one launch, %.9g in two", batch,
                             classes, i, (double)g0[i], (double)g1[i]);
            free(g0);
            free(g1);
        }
        clrt_tensor_destroy(tx);
        clrt_tensor_destroy(tl);
        for (int i = 0; i < 2; i++) {
            clrt_tensor_destroy(grad[i]);
            clrt_tensor_destroy(loss[i]);
        }
        free(logits);
        free(labels);
    }
    clrt_test_ctx_done(ctx);
}

static void argument_errors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s34[2] = {3, 4}, s43[2] = {4, 3}, three = 3, four = 4, one = 1, two = 2;
    const size_t s11[2] = {1, 1};
    float x[12], keep[12], got[12 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(got, 12);
    clrt_test_random(x, 12, 101);
    for (size_t i = 0; i < 12; i++)
        keep[i] = -7.0f;
    const float labels[3] = {0, 1, 2};
    clrt_tensor *a = clrt_test_tensor(ctx, 2, s34, x), *b = clrt_test_tensor(ctx, 2, s43, x);
    clrt_tensor *g = clrt_test_tensor(ctx, 2, s34, keep);
    clrt_tensor *gb = clrt_test_tensor(ctx, 2, s43, keep);
    clrt_tensor *loss = clrt_test_tensor(ctx, 1, &one, keep);
    clrt_tensor *loss2 = clrt_test_tensor(ctx, 1, &two, keep);
    clrt_tensor *lab = clrt_test_tensor(ctx, 1, &three, labels);
    clrt_tensor *lab4 = clrt_test_tensor(ctx, 1, &four, x);
    clrt_tensor *vec = clrt_test_tensor(ctx, 1, &four, x);

    /* Shapes: refused before anything is enqueued, outputs untouched. */
    assert_int_equal(clrt_loss_mse(ctx, a, b, loss, g), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[3, 4]"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[4, 3]"));
    assert_int_equal(clrt_loss_mse(ctx, a, a, loss2, g), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "one element"));
    assert_int_equal(clrt_loss_mse(ctx, a, a, loss, gb), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_loss_cross_entropy(ctx, a, lab4, loss, g), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_loss_cross_entropy(ctx, vec, lab4, loss, NULL), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_loss_cross_entropy(ctx, a, lab, loss2, g), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_loss_cross_entropy(ctx, a, lab, loss, gb), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_loss_cross_entropy(ctx, a, a, loss, g), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_accuracy(ctx, a, lab4, loss), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_accuracy(ctx, a, lab, loss2), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_accuracy(ctx, vec, lab, loss), CLRT_ERR_SHAPE);

    /* NULL where a tensor is needed. */
    assert_int_equal(clrt_loss_mse(NULL, a, a, loss, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loss_mse(ctx, NULL, a, loss, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loss_mse(ctx, a, NULL, loss, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loss_mse(ctx, a, a, NULL, g), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loss_cross_entropy(NULL, a, lab, loss, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loss_cross_entropy(ctx, NULL, lab, loss, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loss_cross_entropy(ctx, a, NULL, loss, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loss_cross_entropy(ctx, a, lab, NULL, g), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_accuracy(NULL, a, lab, loss), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_accuracy(ctx, NULL, lab, loss), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_accuracy(ctx, a, NULL, loss), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_accuracy(ctx, a, lab, NULL), CLRT_ERR_INVALID_ARG);

    clrt_test_read_guarded(ctx, g, got);
    assert_memory_equal(got, keep, 12 * sizeof *got);
    clrt_test_read_guarded(ctx, gb, got);
    assert_memory_equal(got, keep, 12 * sizeof *got);
    assert_true(read_scalar(ctx, loss) == keep[0]);
    float got2[2 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(got2, 2);
    clrt_test_read_guarded(ctx, loss2, got2);
    assert_true(got2[0] == keep[0] && got2[1] == keep[1]);

    /* Tensors of another context. */
    clrt_ctx *other = clrt_test_ctx();
    clrt_tensor *o;
    CLRT_ASSERT_OK(other, clrt_tensor_create(other, 1, &one, 0, &o));
    assert_int_equal(clrt_loss_mse(ctx, a, a, o, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loss_cross_entropy(ctx, a, lab, o, NULL), CLRT_ERR_INVALID_ARG);
    clrt_tensor_destroy(o);
    clrt_test_ctx_done(other);

    /* A [1, 1] loss tensor is one element too. */
    clrt_tensor *loss11 = clrt_test_tensor(ctx, 2, s11, NULL);
    CLRT_ASSERT_OK(ctx, clrt_loss_mse(ctx, a, a, loss11, NULL));
    assert_true(read_scalar(ctx, loss11) == 0.0f); /* pred == target */

    /* Empty: the mean of nothing is NaN (torch); no rows are right. */
    const size_t s0[2] = {0, 4}, zero = 0;
    clrt_tensor *e = clrt_test_tensor(ctx, 2, s0, NULL);
    clrt_tensor *el = clrt_test_tensor(ctx, 1, &zero, NULL);
    CLRT_ASSERT_OK(ctx, clrt_loss_mse(ctx, e, e, loss, e));
    assert_true(isnan(read_scalar(ctx, loss)));
    CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, e, el, loss, e));
    assert_true(isnan(read_scalar(ctx, loss)));
    CLRT_ASSERT_OK(ctx, clrt_accuracy(ctx, e, el, loss));
    assert_true(read_scalar(ctx, loss) == 0.0f);
    clrt_tensor_destroy(e);
    clrt_tensor_destroy(el);
    clrt_tensor_destroy(loss11);

    clrt_tensor_destroy(a);
    clrt_tensor_destroy(b);
    clrt_tensor_destroy(g);
    clrt_tensor_destroy(gb);
    clrt_tensor_destroy(loss);
    clrt_tensor_destroy(loss2);
    clrt_tensor_destroy(lab);
    clrt_tensor_destroy(lab4);
    clrt_tensor_destroy(vec);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mse_matches_reference),
        cmocka_unit_test(cross_entropy_matches_reference),
        cmocka_unit_test(cross_entropy_bad_labels),
        cmocka_unit_test(accuracy_counts),
        cmocka_unit_test(loss_gradients_by_finite_differences),
        cmocka_unit_test(many_rows_deterministic),
        cmocka_unit_test(argument_errors),
        cmocka_unit_test(cross_entropy_one_launch_equals_two),
    };
    return clrt_test_main("loss", tests, sizeof tests / sizeof tests[0]);
}
