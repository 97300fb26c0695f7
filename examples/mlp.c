/* A small MLP classifier on the public API alone: three interleaved
 * spirals in the plane, 2-64-64-3 with tanh, Adam, mini-batches through a
 * loader. The device comes from CLRT_DEVICE.
 *
 *   CLRT_DEVICE=pocl ./mlp [EPOCHS]
 */
#include <clrt.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define PER_CLASS 200
#define CLASSES 3

static int fail(clrt_ctx *ctx, clrt_status st, const char *what)
{
    fprintf(stderr, "mlp: %s: %s: %s\n", what, clrt_status_str(st),
            ctx ? clrt_ctx_errmsg(ctx) : "");
    return 1;
}

int main(int argc, char **argv)
{
    int epochs = argc > 1 ? atoi(argv[1]) : 100;
    if (epochs < 1) {
        fprintf(stderr, "usage: mlp [EPOCHS]\n");
        return 2;
    }
    /* Spiral k: radius r, angle 4r + 2πk/3, a little deterministic wobble. */
    static float data[PER_CLASS * CLASSES * 2], labels[PER_CLASS * CLASSES];
    for (int k = 0; k < CLASSES; k++)
        for (int i = 0; i < PER_CLASS; i++) {
            int row = k * PER_CLASS + i;
            double r = (double)i / PER_CLASS, t = 4.0 * r + 2.0943951 * k + 0.2 * sin(97.0 * row);
            data[2 * row] = (float)(r * cos(t));
            data[2 * row + 1] = (float)(r * sin(t));
            labels[row] = (float)k;
        }

    char err[2048];
    clrt_dataset *ds;
    clrt_status st = clrt_dataset_create(PER_CLASS * CLASSES, 2, data, labels, &ds, err, sizeof err);
    if (st != CLRT_OK) {
        fprintf(stderr, "mlp: %s\n", err);
        return 1;
    }
    clrt_ctx *ctx;
    if ((st = clrt_ctx_create(NULL, &ctx, err, sizeof err)) != CLRT_OK) {
        fprintf(stderr, "mlp: %s\n", err);
        return 1;
    }

    clrt_model *m;
    if ((st = clrt_model_create(ctx, 2, &m)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, 64)) != CLRT_OK ||
        (st = clrt_model_add_act(m, CLRT_ACT_TANH, 0)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, 64)) != CLRT_OK ||
        (st = clrt_model_add_act(m, CLRT_ACT_TANH, 0)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, CLASSES)) != CLRT_OK ||
        (st = clrt_model_init(m, 42)) != CLRT_OK)
        return fail(ctx, st, "model");
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    oo.lr = 0.01f;
    clrt_optim *opt;
    if ((st = clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m), &opt)) !=
        CLRT_OK)
        return fail(ctx, st, "optimizer");
    clrt_loader_options lo;
    clrt_loader_options_init(&lo);
    lo.batch = 32;
    lo.shuffle = 1;
    lo.seed = 7;
    clrt_loader *loader;
    if ((st = clrt_loader_create(ctx, ds, &lo, &loader)) != CLRT_OK)
        return fail(ctx, st, "loader");

    double loss = 0, accuracy = 0;
    for (int epoch = 0; epoch < epochs; epoch++) {
        if ((st = clrt_loader_begin(loader, (uint64_t)epoch)) != CLRT_OK)
            return fail(ctx, st, "loader");
        for (;;) {
            const clrt_tensor *x, *y;
            if ((st = clrt_loader_next(loader, &x, &y)) != CLRT_OK)
                return fail(ctx, st, "loader");
            if (!x)
                break;
            if ((st = clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, x, y)) != CLRT_OK)
                return fail(ctx, st, "step");
        }
        /* Every epoch on short runs, every tenth on long ones. */
        if (epochs <= 10 || (epoch + 1) % 10 == 0) {
            if ((st = clrt_model_take_loss(m, &loss, NULL)) != CLRT_OK ||
                (st = clrt_model_evaluate(m, loader, NULL, &accuracy)) != CLRT_OK)
                return fail(ctx, st, "evaluate");
            printf("epoch %4d  loss %.4e  accuracy %.1f%%\n", epoch + 1, loss, 100 * accuracy);
        }
    }
    clrt_loader_destroy(loader);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_dataset_destroy(ds);
    clrt_ctx_destroy(ctx);
    return 0;
}
