/* clrt-predict: a model from a file (a clrt checkpoint, or PyTorch's
 * safetensors of an nn.Sequential of Linear layers) run over the rows of a
 * CSV of features; one line per row: the class (the index of the largest
 * output, the first on a tie, as torch.argmax) or, with --probabilities,
 * the softmax of the outputs, comma-separated; with --outputs the raw
 * outputs (9 significant digits: a float read back exactly).
 *
 * It links the static library for the features-only CSV reader of the io
 * layer (clrt__csv_load_features); the rest is the public API.
 *
 * Exit status: 0 done; 1 a file, model or device error (the message on
 * stderr); 2 a bad command line. */
#include "io/io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct args {
    const char *model, *csv, *device, *act;
    size_t batch;
    int probabilities, outputs;
} args;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clrt-predict --model F.safetensors|F.ckpt --csv X.csv\n"
            "                    [--probabilities | --outputs] [--device SEL] [--batch N]\n"
            "                    [--act NAME]\n"
            "       clrt-predict --version | --help\n"
            "Prints the class of each row of X.csv (features only, one row per sample, an\n"
            "optional header line), or with --probabilities the softmax of the model's\n"
            "outputs, or with --outputs the outputs themselves. --act: the activation between the Linear layers of a PyTorch file\n"
            "(default relu; a clrt checkpoint records its own). --batch: rows per batch\n"
            "(default %d). See clrt-predict(1).\n",
            CLRT_PREDICT_BATCH);
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '-' || end == s || *end || errno || v == 0 || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

/* 0: parsed; 1: --help or --version done; 2: a usage error. */
static int parse(int argc, char **argv, args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            usage(stdout);
            return 1;
        } else if (strcmp(o, "--version") == 0) {
            printf("clrt-predict %s\n", clrt_version());
            return 1;
        } else if (strcmp(o, "--probabilities") == 0) {
            a->probabilities = 1;
        } else if (strcmp(o, "--outputs") == 0) {
            a->outputs = 1;
        } else if (strcmp(o, "--model") == 0 && has_value) {
            a->model = argv[++i];
        } else if (strcmp(o, "--csv") == 0 && has_value) {
            a->csv = argv[++i];
        } else if (strcmp(o, "--device") == 0 && has_value) {
            a->device = argv[++i];
        } else if (strcmp(o, "--act") == 0 && has_value) {
            a->act = argv[++i];
        } else if (strcmp(o, "--batch") == 0 && has_value) {
            if (!parse_size(argv[++i], &a->batch)) {
                fprintf(stderr, "clrt-predict: --batch takes a positive integer, not \"%s\"\n",
                        argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "clrt-predict: %s \"%s\"\n",
                    strncmp(o, "--", 2) == 0 && !has_value ? "a value is missing after"
                                                           : "unknown argument",
                    o);
            usage(stderr);
            return 2;
        }
    }
    if (a->probabilities && a->outputs) {
        fprintf(stderr, "clrt-predict: --probabilities and --outputs exclude each other\n");
        return 2;
    }
    if (!a->model || !a->csv) {
        fprintf(stderr, "clrt-predict: --model and --csv are needed\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

static bool act_by_name(const char *name, clrt_act *act)
{
    for (int k = 0; clrt_act_name((clrt_act)k); k++)
        if (strcmp(name, clrt_act_name((clrt_act)k)) == 0) {
            *act = (clrt_act)k;
            return true;
        }
    return false;
}

/* One output row as a line: the argmax, the softmax (in double, the
 * largest output subtracted first) or the outputs. */
static void print_row(const float *o, size_t n, const args *a)
{
    if (a->outputs) {
        for (size_t j = 0; j < n; j++)
            printf("%s%.9g", j ? "," : "", (double)o[j]);
        printf("\n");
        return;
    }
    size_t best = 0;
    for (size_t j = 1; j < n; j++)
        if (o[j] > o[best])
            best = j;
    if (!a->probabilities) {
        printf("%zu\n", best);
        return;
    }
    double sum = 0;
    for (size_t j = 0; j < n; j++)
        sum += exp((double)o[j] - (double)o[best]);
    for (size_t j = 0; j < n; j++)
        printf("%s%.6g", j ? "," : "", exp((double)o[j] - (double)o[best]) / sum);
    printf("\n");
}

int main(int argc, char **argv)
{
    args a = {0};
    int pr = parse(argc, argv, &a);
    if (pr)
        return pr == 1 ? 0 : 2;
    clrt_model_load_options lo;
    clrt_model_load_options_init(&lo);
    if (a.act && !act_by_name(a.act, &lo.act)) {
        fprintf(stderr, "clrt-predict: --act: \"%s\" is not an activation (relu, tanh, "
                "sigmoid, gelu, leaky_relu, identity, ...)\n", a.act);
        return 2;
    }

    char err[4096] = "";
    clrt_dataset *ds = NULL;
    if (clrt__csv_load_features(a.csv, &ds, err, sizeof err) != CLRT_OK) {
        fprintf(stderr, "clrt-predict: %s\n", err);
        return 1;
    }
    clrt_ctx_options copt;
    clrt_ctx_options_init(&copt);
    copt.device = a.device;
    clrt_ctx *ctx = NULL;
    if (clrt_ctx_create(&copt, &ctx, err, sizeof err) != CLRT_OK) {
        fprintf(stderr, "clrt-predict: %s\n", err);
        clrt_dataset_destroy(ds);
        return 1;
    }
    int rc = 1;
    clrt_model *m = NULL;
    float *y = NULL;
    const size_t rows = clrt_dataset_size(ds), cols = clrt_dataset_features(ds);
    if (clrt_model_load(ctx, a.model, &lo, &m) != CLRT_OK) {
        fprintf(stderr, "clrt-predict: %s\n", clrt_ctx_errmsg(ctx));
        goto done;
    }
    const size_t in = clrt_model_in_features(m), out = clrt_model_out_features(m);
    if (cols != in) {
        fprintf(stderr, "clrt-predict: %s has %zu columns, the model in %s takes %zu inputs%s\n",
                a.csv, cols, a.model, in,
                cols == in + 1 ? " (is the last column a label? clrt-predict reads features "
                                 "only)"
                               : "");
        goto done;
    }
    y = rows <= SIZE_MAX / sizeof *y / out ? malloc(rows * out * sizeof *y) : NULL;
    if (!y) {
        fprintf(stderr, "clrt-predict: no host memory for %zu outputs\n", rows * out);
        goto done;
    }
    if (clrt_model_predict(m, clrt_dataset_data(ds), rows, a.batch, y) != CLRT_OK) {
        fprintf(stderr, "clrt-predict: %s\n", clrt_ctx_errmsg(ctx));
        goto done;
    }
    for (size_t r = 0; r < rows; r++)
        print_row(y + r * out, out, &a);
    rc = fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    if (rc)
        fprintf(stderr, "clrt-predict: cannot write the predictions: %s\n", strerror(errno));
done:
    free(y);
    clrt_model_destroy(m);
    clrt_ctx_destroy(ctx);
    clrt_dataset_destroy(ds);
    return rc;
}
