/* The training run of the migration test (tests/migrate.py), on the public
 * API alone: three interleaved spirals, 2-32-32-3 with tanh and relu,
 * mini-batches of 32 through a shuffling loader. It trains up to epoch
 * EPOCHS on the device in CLRT_DEVICE, from scratch or from a checkpoint
 * (model, optimizer state and position, which may come from another
 * device), prints each epoch's loss and saves a checkpoint at the end.
 *
 *   CLRT_DEVICE=pocl migrate_train sgd|adam EPOCHS OUT.safetensors [IN.safetensors]
 */
#include <clrt.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PER_CLASS 48
#define CLASSES 3
#define SEED 7

static int fail(clrt_ctx *ctx, clrt_status st, const char *what)
{
    fprintf(stderr, "migrate_train: %s: %s: %s\n", what, clrt_status_str(st),
            ctx ? clrt_ctx_errmsg(ctx) : "");
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5 || (strcmp(argv[1], "sgd") != 0 && strcmp(argv[1], "adam") != 0) ||
        atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: migrate_train sgd|adam EPOCHS OUT.safetensors [IN.safetensors]\n");
        return 2;
    }
    int adam = strcmp(argv[1], "adam") == 0, epochs = atoi(argv[2]);
    const char *out = argv[3], *in = argc == 5 ? argv[4] : NULL;

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
    clrt_status st = clrt_dataset_create(PER_CLASS * CLASSES, 2, data, labels, &ds, err,
                                         sizeof err);
    if (st != CLRT_OK) {
        fprintf(stderr, "migrate_train: %s\n", err);
        return 1;
    }
    clrt_ctx *ctx;
    if ((st = clrt_ctx_create(NULL, &ctx, err, sizeof err)) != CLRT_OK) {
        fprintf(stderr, "migrate_train: %s\n", err);
        return 1;
    }
    clrt_model *m;
    if ((st = clrt_model_create(ctx, 2, &m)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, 32)) != CLRT_OK ||
        (st = clrt_model_add_act(m, CLRT_ACT_TANH, 0)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, 32)) != CLRT_OK ||
        (st = clrt_model_add_act(m, CLRT_ACT_RELU, 0)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, CLASSES)) != CLRT_OK ||
        (st = clrt_model_init(m, 42)) != CLRT_OK)
        return fail(ctx, st, "model");
    /* SGD with momentum, Nesterov and weight decay, or Adam: either way
     * the optimizer carries state (and a step count) across the move. */
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, adam ? CLRT_OPTIM_ADAM : CLRT_OPTIM_SGD);
    oo.lr = adam ? 0.01f : 0.1f;
    if (!adam) {
        oo.momentum = 0.9f;
        oo.nesterov = 1;
        oo.weight_decay = 1e-4f;
    }
    clrt_optim *opt;
    if ((st = clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m), &opt)) !=
        CLRT_OK)
        return fail(ctx, st, "optimizer");

    uint64_t first = 0;
    if (in) {
        clrt_train_state ts;
        if ((st = clrt_checkpoint_load(in, m, opt, &ts, 0)) != CLRT_OK)
            return fail(ctx, st, in);
        if (ts.seed != SEED) {
            fprintf(stderr, "migrate_train: %s has seed %llu, not %d\n", in,
                    (unsigned long long)ts.seed, SEED);
            return 1;
        }
        first = ts.epoch;
    }

    clrt_loader_options lo;
    clrt_loader_options_init(&lo);
    lo.batch = 32;
    lo.shuffle = 1;
    lo.seed = SEED;
    clrt_loader *loader;
    if ((st = clrt_loader_create(ctx, ds, &lo, &loader)) != CLRT_OK)
        return fail(ctx, st, "loader");
    for (uint64_t e = first; e < (uint64_t)epochs; e++) {
        if ((st = clrt_loader_begin(loader, e)) != CLRT_OK)
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
        double loss = 0;
        if ((st = clrt_model_take_loss(m, &loss, NULL)) != CLRT_OK)
            return fail(ctx, st, "loss");
        printf("epoch %llu loss %.9e\n", (unsigned long long)e + 1, loss);
    }
    clrt_train_state ts = {(uint64_t)epochs, SEED, clrt_optim_lr(opt)};
    if ((st = clrt_checkpoint_save(out, m, opt, &ts)) != CLRT_OK)
        return fail(ctx, st, out);
    clrt_loader_destroy(loader);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_dataset_destroy(ds);
    clrt_ctx_destroy(ctx);
    return 0;
}
