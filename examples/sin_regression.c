/* The seed's model: fit y = sin(w·x + b) by SGD on generated data.
 * The device comes from CLRT_DEVICE; nothing else changes between devices.
 *
 *   CLRT_DEVICE=pocl ./sin_regression [EPOCHS]
 */
#include <clrt.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N 100           /* samples, one batch */
#define TRUE_W 2.0f
#define TRUE_B 0.5f

static int fail(clrt_ctx *ctx, clrt_status st, const char *what)
{
    fprintf(stderr, "sin_regression: %s: %s: %s\n", what, clrt_status_str(st),
            ctx ? clrt_ctx_errmsg(ctx) : "");
    return 1;
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 2000;
    if (epochs < 1) {
        fprintf(stderr, "usage: sin_regression [EPOCHS]\n");
        return 2;
    }
    char err[2048];
    clrt_ctx *ctx;
    clrt_status st = clrt_ctx_create(NULL, &ctx, err, sizeof err);
    if (st != CLRT_OK) {
        fprintf(stderr, "sin_regression: %s\n", err);
        return 1;
    }

    /* x evenly over [-1, 1], y = sin(2x + 0.5). */
    float x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = -1.0f + 2.0f * (float)i / (N - 1);
        y[i] = sinf(TRUE_W * x[i] + TRUE_B);
    }
    const size_t shape[2] = {N, 1};
    clrt_tensor *tx, *ty;
    if ((st = clrt_tensor_create(ctx, 2, shape, 0, &tx)) != CLRT_OK ||
        (st = clrt_tensor_create(ctx, 2, shape, 0, &ty)) != CLRT_OK ||
        (st = clrt_tensor_write(tx, x, N)) != CLRT_OK || (st = clrt_tensor_write(ty, y, N)) != CLRT_OK)
        return fail(ctx, st, "data");

    /* One linear unit (w, b) followed by sin. */
    clrt_model *m;
    if ((st = clrt_model_create(ctx, 1, &m)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, 1)) != CLRT_OK ||
        (st = clrt_model_add_act(m, CLRT_ACT_SIN, 0)) != CLRT_OK ||
        (st = clrt_model_init(m, 1)) != CLRT_OK)
        return fail(ctx, st, "model");
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_SGD);
    oo.lr = 0.1f;
    oo.momentum = 0.9f;
    clrt_optim *opt;
    if ((st = clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m), &opt)) !=
        CLRT_OK)
        return fail(ctx, st, "optimizer");

    double loss = 0;
    for (int epoch = 1; epoch <= epochs; epoch++) {
        if ((st = clrt_model_train_step(m, opt, CLRT_LOSS_MSE, tx, ty)) != CLRT_OK)
            return fail(ctx, st, "step");
        if (epoch % 100 == 0) {
            if ((st = clrt_model_take_loss(m, &loss, NULL)) != CLRT_OK)
                return fail(ctx, st, "loss");
            printf("epoch %4d  mse %.3e\n", epoch, loss);
        }
    }
    float w, b;
    if ((st = clrt_tensor_read(clrt_model_param(m, 0, NULL), &w, 1)) != CLRT_OK ||
        (st = clrt_tensor_read(clrt_model_param(m, 1, NULL), &b, 1)) != CLRT_OK)
        return fail(ctx, st, "read");
    printf("w = %.5f (true %.1f), b = %.5f (true %.1f), final mse %.3e\n", w, TRUE_W, b, TRUE_B,
           loss);

    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_tensor_destroy(tx);
    clrt_tensor_destroy(ty);
    clrt_ctx_destroy(ctx);
    /* The full run must converge; a short one (a test) only reports. */
    return epochs < 2000 || loss < 1e-5 ? 0 : 2;
}
