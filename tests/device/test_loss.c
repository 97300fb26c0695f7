/* Losses and metrics on each device: MSE, cross-entropy and accuracy
 * against the plain-C reference on odd shapes, their gradients by finite
 * differences computed on the device, out-of-range labels, determinism,
 * and argument errors. */
#include "harness.h"
#include "io/io.h"
#include "verify/ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct shape2 {
    size_t rows, cols;
} shape2;

/* Rows × cols from the odd sizes 1, 7, 33, 257 and 784 × 10; smaller on a
 * simulator, which interprets every work-item. [257, 784] makes the sums
 * take two stages. */
static const shape2 shapes_full[] = {{1, 1},   {7, 33},   {1, 257},   {257, 10},
                                     {33, 784}, {784, 10}, {257, 784}};
static const shape2 shapes_sim[] = {{1, 1}, {7, 33}, {1, 257}, {33, 10}, {2, 784}, {257, 33}};

static const shape2 *test_shapes(size_t *count)
{
    if (clrt_test_device()->is_simulator) {
        *count = sizeof shapes_sim / sizeof shapes_sim[0];
        return shapes_sim;
    }
    *count = sizeof shapes_full / sizeof shapes_full[0];
    return shapes_full;
}

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

/* MSE over every shape, also seen as rank 1 and rank 3 tensors.
 * Loss: a float sum of n squares (no cancellation), blocked per work-item,
 * then two tree levels: relative error <= depth·eps with depth <= 64 here;
 * 1e-5 relative covers it. Grad: one subtraction and one multiply, each
 * correctly rounded: 1e-6 relative. */
static void mse_matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t nshapes;
    const shape2 *shapes = test_shapes(&nshapes);
    const size_t one = 1;
    clrt_tensor *loss = clrt_test_tensor(ctx, 1, &one, NULL);
    for (size_t s = 0; s < nshapes; s++) {
        size_t n = shapes[s].rows * shapes[s].cols;
        const size_t d2[2] = {shapes[s].rows, shapes[s].cols};
        const size_t d3[3] = {1, shapes[s].rows, shapes[s].cols};
        float *pred = clrt_test_guarded(n), *target = clrt_test_guarded(n),
              *grad = clrt_test_guarded(n), *want = clrt_test_guarded(n);
        clrt_test_random(pred, n, (uint32_t)s + 1);
        clrt_test_random(target, n, (uint32_t)s + 50);
        float want_loss = clrt_ref_loss_mse(n, pred, target, want);
        for (int view = 0; view < 3; view++) {
            int rank = view + 1;
            const size_t *dims = rank == 1 ? &n : rank == 2 ? d2 : d3;
            clrt_tensor *tp = clrt_test_tensor(ctx, rank, dims, pred);
            clrt_tensor *tt = clrt_test_tensor(ctx, rank, dims, target);
            clrt_tensor *tg = clrt_test_tensor(ctx, rank, dims, NULL);
            char what[96];
            snprintf(what, sizeof what, "mse loss [%zu, %zu] rank %d", d2[0], d2[1], rank);
            CLRT_ASSERT_OK(ctx, clrt_loss_mse(ctx, tp, tt, loss, tg));
            float got = read_scalar(ctx, loss);
            clrt_test_assert_close(what, &got, &want_loss, 1, 1e-5, 0.0);
            snprintf(what, sizeof what, "mse grad [%zu, %zu] rank %d", d2[0], d2[1], rank);
            clrt_test_read_guarded(ctx, tg, grad);
            clrt_test_assert_close(what, grad, want, n, 1e-6, 1e-12);
            /* Without a grad: the same loss, bit for bit. */
            CLRT_ASSERT_OK(ctx, clrt_tensor_fill(loss, NAN));
            CLRT_ASSERT_OK(ctx, clrt_loss_mse(ctx, tp, tt, loss, NULL));
            float again = read_scalar(ctx, loss);
            assert_memory_equal(&again, &got, sizeof got);
            clrt_tensor_destroy(tp);
            clrt_tensor_destroy(tt);
            clrt_tensor_destroy(tg);
        }
        free(pred);
        free(target);
        free(grad);
        free(want);
    }
    clrt_tensor_destroy(loss);
    clrt_test_ctx_done(ctx);
}

/* Cross-entropy over every shape (batch × classes), logits in [-3, 3) and
 * with a common offset of ±1000 (max-subtraction keeps it finite and exact:
 * max − logit[label] of two nearby floats is exact).
 * Loss: per row (max − x[label]) + log Σ exp(x − max), exp and log within
 * 3 ulp, a float sum of <= 257 terms in a tree, then a mean over rows in a
 * tree; rows are positive, so the mean's relative error is small: 1e-5
 * relative + 1e-6 absolute (a row loss near 0 is a difference).
 * Grad: (softmax − onehot)/batch: exp, a division, a sum: 1e-5 relative +
 * 1e-7/batch absolute (softmax − 1 cancels). */
static void cross_entropy_matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t nshapes;
    const shape2 *shapes = test_shapes(&nshapes);
    const size_t one = 1;
    const float offsets[] = {0.0f, 1000.0f, -1000.0f};
    clrt_tensor *loss = clrt_test_tensor(ctx, 1, &one, NULL);
    for (size_t s = 0; s < nshapes; s++) {
        size_t batch = shapes[s].rows, classes = shapes[s].cols, n = batch * classes;
        const size_t dims[2] = {batch, classes};
        float *logits = clrt_test_guarded(n), *labels = clrt_test_guarded(batch),
              *grad = clrt_test_guarded(n), *want = clrt_test_guarded(n);
        random_labels(labels, batch, classes, (uint32_t)s + 9);
        clrt_tensor *tl = clrt_test_tensor(ctx, 1, &batch, labels);
        clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, NULL);
        clrt_tensor *tg = clrt_test_tensor(ctx, 2, dims, NULL);
        for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
            clrt_test_random(logits, n, (uint32_t)s + 3);
            for (size_t i = 0; i < n; i++)
                logits[i] = 3.0f * logits[i] + offsets[o];
            CLRT_ASSERT_OK(ctx, clrt_tensor_write(tx, logits, n));
            float want_loss = clrt_ref_loss_cross_entropy(batch, classes, logits, labels, want);
            char what[96];
            snprintf(what, sizeof what, "cross-entropy loss [%zu, %zu] offset %g", batch,
                     classes, (double)offsets[o]);
            CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, tx, tl, loss, tg));
            float got = read_scalar(ctx, loss);
            assert_true(isfinite(got));
            clrt_test_assert_close(what, &got, &want_loss, 1, 1e-5, 1e-6);
            snprintf(what, sizeof what, "cross-entropy grad [%zu, %zu] offset %g", batch,
                     classes, (double)offsets[o]);
            clrt_test_read_guarded(ctx, tg, grad);
            clrt_test_assert_close(what, grad, want, n, 1e-5, 1e-7 / (double)batch);
            /* Without a grad: the same loss, bit for bit. */
            CLRT_ASSERT_OK(ctx, clrt_tensor_fill(loss, NAN));
            CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, tx, tl, loss, NULL));
            float again = read_scalar(ctx, loss);
            assert_memory_equal(&again, &got, sizeof got);
        }
        clrt_tensor_destroy(tl);
        clrt_tensor_destroy(tx);
        clrt_tensor_destroy(tg);
        free(logits);
        free(labels);
        free(grad);
        free(want);
    }
    clrt_tensor_destroy(loss);
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
            /* As in cross_entropy_matches_reference. */
            clrt_test_assert_close("grad row with a good label", grad + r * classes, soft, classes,
                                   1e-5, 1e-7);
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

/* Accuracy: a count, so exact. Even rows are labelled with their argmax,
 * odd rows with another class; ties go to the first maximum, NaN counts as
 * the maximum (torch.argmax). */
static void accuracy_counts(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t nshapes;
    const shape2 *shapes = test_shapes(&nshapes);
    const size_t one = 1;
    clrt_tensor *correct = clrt_test_tensor(ctx, 1, &one, NULL);
    for (size_t s = 0; s < nshapes; s++) {
        size_t batch = shapes[s].rows, classes = shapes[s].cols, n = batch * classes;
        const size_t dims[2] = {batch, classes};
        float *logits = clrt_test_guarded(n), *labels = clrt_test_guarded(batch);
        clrt_test_random(logits, n, (uint32_t)s + 71);
        size_t expect = 0;
        for (size_t r = 0; r < batch; r++) {
            const float *row = logits + r * classes;
            size_t best = 0;
            for (size_t j = 1; j < classes; j++)
                if (row[j] > row[best])
                    best = j;
            if (r % 2 == 0 || classes == 1) {
                labels[r] = (float)best;
                expect++;
            } else {
                labels[r] = (float)((best + 1) % classes);
            }
        }
        clrt_tensor *tx = clrt_test_tensor(ctx, 2, dims, logits);
        clrt_tensor *tl = clrt_test_tensor(ctx, 1, &batch, labels);
        CLRT_ASSERT_OK(ctx, clrt_accuracy(ctx, tx, tl, correct));
        float got = read_scalar(ctx, correct);
        assert_true(got == (float)expect);
        assert_true(got == clrt_ref_accuracy(batch, classes, logits, labels));
        clrt_tensor_destroy(tx);
        clrt_tensor_destroy(tl);
        free(logits);
        free(labels);
    }

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
 * a time: (L(p + h·e_i) − L(p − h·e_i)) / 2h against grad[i], h = 1e-2.
 * MSE is quadratic, so the difference quotient is exact but for rounding;
 * cross-entropy's truncation error h²/6·|L'''| is < 1e-5. The rounding of
 * L (~0.5–2, 1e-7 relative) divided by 2h gives ~1e-5; the 2e-4 absolute +
 * 1e-3 relative tolerance is far below a wrong grad (a missing 1/n or 1/batch
 * is off by 3× or more here). */
static void loss_gradients_by_finite_differences(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t rows = 3, cols = 5, n = 15, one = 1;
    const size_t dims[2] = {rows, cols};
    const float h = 1e-2f;
    float p[15], t[15], labels[3], grad[15 + CLRT_TEST_GUARD], pert[15];
    clrt_test_fill_sentinel(grad, 15);
    clrt_test_random(p, n, 81);
    clrt_test_random(t, n, 82);
    random_labels(labels, rows, cols, 83);
    clrt_tensor *tp = clrt_test_tensor(ctx, 2, dims, p), *tt = clrt_test_tensor(ctx, 2, dims, t);
    clrt_tensor *tg = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *tpert = clrt_test_tensor(ctx, 2, dims, NULL);
    clrt_tensor *tl = clrt_test_tensor(ctx, 1, &rows, labels);
    clrt_tensor *loss = clrt_test_tensor(ctx, 1, &one, NULL);
    for (int which = 0; which < 2; which++) {
        const char *name = which == 0 ? "mse" : "cross-entropy";
        if (which == 0)
            CLRT_ASSERT_OK(ctx, clrt_loss_mse(ctx, tp, tt, loss, tg));
        else
            CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, tp, tl, loss, tg));
        clrt_test_read_guarded(ctx, tg, grad);
        for (size_t i = 0; i < n; i++) {
            double l[2], x[2];
            for (int side = 0; side < 2; side++) {
                memcpy(pert, p, sizeof p);
                pert[i] = side == 0 ? p[i] + h : p[i] - h;
                x[side] = pert[i];
                CLRT_ASSERT_OK(ctx, clrt_tensor_write(tpert, pert, n));
                if (which == 0)
                    CLRT_ASSERT_OK(ctx, clrt_loss_mse(ctx, tpert, tt, loss, NULL));
                else
                    CLRT_ASSERT_OK(ctx, clrt_loss_cross_entropy(ctx, tpert, tl, loss, NULL));
                l[side] = read_scalar(ctx, loss);
            }
            double num = (l[0] - l[1]) / (x[0] - x[1]);
            if (!(fabs(num - grad[i]) <= 2e-4 + 1e-3 * fabs(num)))
                fail_msg("%s: dL/dp[%zu] is %.7g by finite differences, %.7g from the loss",
                         name, i, num, (double)grad[i]);
        }
    }
    clrt_tensor_destroy(tp);
    clrt_tensor_destroy(tt);
    clrt_tensor_destroy(tg);
    clrt_tensor_destroy(tpert);
    clrt_tensor_destroy(tl);
    clrt_tensor_destroy(loss);
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
             * tolerances as in the *_matches_reference tests. */
            float want = clrt_ref_loss_cross_entropy(batch, classes, logits, labels, NULL);
            clrt_test_assert_close("cross-entropy, many rows", &v[0], &want, 1, 1e-5, 1e-6);
            float *quarter = clrt_test_guarded(batch * classes);
            for (size_t i = 0; i < batch * classes; i++)
                quarter[i] = 0.25f;
            want = clrt_ref_loss_mse(batch * classes, logits, quarter, NULL);
            clrt_test_assert_close("mse, many elements", &v[1], &want, 1, 1e-5, 0.0);
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
    };
    return clrt_test_main("loss", tests, sizeof tests / sizeof tests[0]);
}
