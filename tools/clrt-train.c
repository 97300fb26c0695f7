/* clrt-train: train an MLP classifier on Fashion-MNIST or CSV data on any
 * OpenCL device. The README's main command runs it with its defaults:
 * 784-512-512-10, relu, SGD with momentum 0.9, cosine learning-rate decay,
 * 10 epochs, batch 128. Run with --help for the options. */
#include "train_report.h"

#include <clrt.h>

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Where Debian's dataset-fashion-mnist puts the files. */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_PACKAGE "dataset-fashion-mnist"
#define MAX_HIDDEN 16

typedef enum { SCHEDULE_CONSTANT, SCHEDULE_COSINE, SCHEDULE_STEP } lr_schedule;

typedef struct options {
    const char *device, *data, *data_dir, *train_csv, *test_csv;
    size_t hidden[MAX_HIDDEN], nhidden;
    clrt_act act;
    unsigned epochs;
    size_t batch;
    double lr, momentum, weight_decay;
    int lr_set, momentum_set;
    clrt_optim_kind optimizer;
    lr_schedule schedule;
    uint64_t seed;
    int shuffle, normalize, json, distributed;
    const char *init, *save, *resume, *plot, *metrics;
    size_t log_every;
    clrt_dtype precision; /* activation storage (clrt_ctx_options.precision) */
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: clrt-train [options]\n"
            "  --device SEL            OpenCL device (CLRT_DEVICE grammar; default $CLRT_DEVICE)\n"
            "  --data fashion-mnist    the default data set, from Debian's " FASHION_PACKAGE "\n"
            "  --data-dir DIR          where its files are (default " FASHION_DIR ")\n"
            "  --train-csv F --test-csv F\n"
            "                          CSV data: numbers, last column the class label\n"
            "  --layers 512,512        hidden layer widths (\"\" for none)\n"
            "  --act relu              relu, leaky_relu, sigmoid, tanh, sin, gelu, gelu_tanh\n"
            "  --epochs 10  --batch 128\n"
            "  --optimizer sgd         sgd, adam or adamw\n"
            "  --lr X                  default 0.05 for sgd, 0.001 for adam/adamw\n"
            "  --momentum 0.9          sgd only\n"
            "  --weight-decay W        default 0 (adamw: 0.01)\n"
            "  --lr-schedule cosine    cosine (decay to 0 over the run), step (x0.1 at 50%%\n"
            "                          and 75%%) or constant\n"
            "  --seed S                initialisation and shuffling seed (default 0)\n"
            "  --no-shuffle            batches in file order\n"
            "  --normalize             standardise features with training-set statistics\n"
            "  --init F.safetensors    start from these weights (e.g. exported from PyTorch)\n"
            "  --save F.safetensors    save model, optimizer and position after each epoch\n"
            "  --resume F.safetensors  continue a saved run where it stopped\n"
            "  --plot F.svg            loss (per step and per epoch) and accuracy as an SVG chart\n"
            "  --metrics F.jsonl       one JSON object per logged step and per epoch\n"
            "  --log-every N           steps between two logged points (default 20)\n"
            "  --precision f32         storage of activations and gradients: f32, bf16 or\n"
            "                          f16 (float32 arithmetic and weights either way)\n"
            "  --json                  print the results as JSON on stdout\n"
            "  --version               print clrt's version and exit\n"
            "  --distributed           data parallel over MPI, one rank per device (run under\n"
            "                          mpirun -np N; --batch is the global batch; rank 0 prints\n"
            "                          and saves; docs/training.md)\n");
}

/* What main has made, released in order by die() as by a normal end. An
 * exit with work still queued (the zero fill of a layer's weights, say)
 * left PoCL's worker threads compiling or running it while the process
 * tore down the compiler under them: signal 11 or 6 instead of status 1. */
static struct {
    clrt_ctx *ctx;
    clrt_model *model;
    clrt_optim *opt;
    clrt_loader *loader[2];
    clrt_dataset *data[2];
    train_log *log;
} made;

/* Destroy everything in `made`, the context last (it waits for the queue);
 * false when the context could not be destroyed (the message is printed,
 * and the queue is drained all the same). */
static bool release_made(void)
{
    for (int i = 0; i < 2; i++)
        clrt_loader_destroy(made.loader[i]);
    clrt_optim_destroy(made.opt);
    train_log_destroy(made.log);
    clrt_model_destroy(made.model);
    for (int i = 0; i < 2; i++)
        clrt_dataset_destroy(made.data[i]);
    bool ok = true;
    if (made.ctx) {
        clrt_status st = clrt_ctx_destroy(made.ctx);
        if (st != CLRT_OK) {
            fprintf(stderr, "clrt-train: releasing the context: %s: %s\n", clrt_status_str(st),
                    clrt_ctx_errmsg(made.ctx));
            clrt_ctx_finish(made.ctx);
            ok = false;
        }
    }
    memset(&made, 0, sizeof made);
    return ok;
}

static void die(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("clrt-train: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    release_made(); /* after the message: it may be the context's */
    exit(code);
}

static double parse_double(const char *opt, const char *v)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d))
        die(2, "%s needs a number, got \"%s\"", opt, v);
    return d;
}

/* A learning rate: finite, positive, and a float once converted (the
 * optimizer's lr is a float; 1e39 would become infinity, 1e-50 zero). */
static double parse_lr(const char *opt, const char *v)
{
    double d = parse_double(opt, v);
    if (!(d > 0))
        die(2, "%s must be positive, got \"%s\"", opt, v);
    if (d > FLT_MAX)
        die(2, "%s %s overflows float (at most %.8g)", opt, v, (double)FLT_MAX);
    if ((float)d == 0.0f)
        die(2, "%s %s is 0 as a float (at least %.8g)", opt, v, (double)FLT_TRUE_MIN);
    return d;
}

static unsigned long long parse_uint(const char *opt, const char *v)
{
    char *end = NULL;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-')
        die(2, "%s needs a non-negative integer, got \"%s\"", opt, v);
    return u;
}

static void parse_layers(options *o, const char *v)
{
    o->nhidden = 0;
    const char *p = v;
    while (*p) {
        char *end = NULL;
        errno = 0;
        unsigned long long w = strtoull(p, &end, 10);
        if (errno || end == p || w == 0 || (*end && *end != ','))
            die(2, "--layers needs comma-separated positive widths, got \"%s\"", v);
        if (o->nhidden == MAX_HIDDEN)
            die(2, "--layers: at most %d hidden layers", MAX_HIDDEN);
        o->hidden[o->nhidden++] = (size_t)w;
        p = *end ? end + 1 : end;
    }
}

static clrt_act parse_act(const char *v)
{
    for (int a = CLRT_ACT_RELU; a <= CLRT_ACT_GELU_TANH; a++)
        if (strcmp(v, clrt_act_name((clrt_act)a)) == 0)
            return (clrt_act)a;
    die(2, "--act: unknown activation \"%s\"", v);
    return CLRT_ACT_RELU;
}

static void parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->data = "fashion-mnist";
    o->data_dir = FASHION_DIR;
    o->hidden[0] = 512, o->hidden[1] = 512, o->nhidden = 2;
    o->act = CLRT_ACT_RELU;
    o->epochs = 10;
    o->batch = 128;
    o->optimizer = CLRT_OPTIM_SGD;
    o->schedule = SCHEDULE_COSINE;
    o->shuffle = 1;
    o->weight_decay = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        if (strcmp(a, "--version") == 0) {
            printf("clrt-train %s\n", clrt_version());
            exit(0);
        }
        if (strcmp(a, "--no-shuffle") == 0) {
            o->shuffle = 0;
            continue;
        }
        if (strcmp(a, "--normalize") == 0) {
            o->normalize = 1;
            continue;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--distributed") == 0) {
            o->distributed = 1;
            continue;
        }
        if (i + 1 >= argc || strncmp(a, "--", 2) != 0) {
            usage(stderr);
            die(2, "unknown or incomplete option \"%s\"", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--device") == 0)
            o->device = v;
        else if (strcmp(a, "--data") == 0)
            o->data = v;
        else if (strcmp(a, "--data-dir") == 0)
            o->data_dir = v;
        else if (strcmp(a, "--train-csv") == 0)
            o->train_csv = v;
        else if (strcmp(a, "--test-csv") == 0)
            o->test_csv = v;
        else if (strcmp(a, "--layers") == 0)
            parse_layers(o, v);
        else if (strcmp(a, "--act") == 0)
            o->act = parse_act(v);
        else if (strcmp(a, "--epochs") == 0) {
            unsigned long long n = parse_uint(a, v);
            if (n > CLRT_MAX_EPOCH || n > UINT_MAX)
                die(2, "--epochs %s is more than a checkpoint records (%u)", v, CLRT_MAX_EPOCH);
            o->epochs = (unsigned)n;
        } else if (strcmp(a, "--batch") == 0)
            o->batch = (size_t)parse_uint(a, v);
        else if (strcmp(a, "--lr") == 0)
            o->lr = parse_lr(a, v), o->lr_set = 1;
        else if (strcmp(a, "--momentum") == 0)
            o->momentum = parse_double(a, v), o->momentum_set = 1;
        else if (strcmp(a, "--weight-decay") == 0) {
            o->weight_decay = parse_double(a, v);
            if (o->weight_decay < 0)
                die(2, "--weight-decay must not be negative");
        }
        else if (strcmp(a, "--seed") == 0)
            o->seed = parse_uint(a, v);
        else if (strcmp(a, "--init") == 0)
            o->init = v;
        else if (strcmp(a, "--save") == 0)
            o->save = v;
        else if (strcmp(a, "--resume") == 0)
            o->resume = v;
        else if (strcmp(a, "--plot") == 0)
            o->plot = v;
        else if (strcmp(a, "--metrics") == 0)
            o->metrics = v;
        else if (strcmp(a, "--log-every") == 0) {
            o->log_every = (size_t)parse_uint(a, v);
            if (o->log_every == 0)
                die(2, "--log-every must be at least 1");
        }
        else if (strcmp(a, "--optimizer") == 0) {
            if (strcmp(v, "sgd") == 0)
                o->optimizer = CLRT_OPTIM_SGD;
            else if (strcmp(v, "adam") == 0)
                o->optimizer = CLRT_OPTIM_ADAM;
            else if (strcmp(v, "adamw") == 0)
                o->optimizer = CLRT_OPTIM_ADAMW;
            else
                die(2, "--optimizer: expected sgd, adam or adamw, got \"%s\"", v);
        } else if (strcmp(a, "--precision") == 0) {
            if (strcmp(v, "f32") == 0)
                o->precision = CLRT_F32;
            else if (strcmp(v, "bf16") == 0)
                o->precision = CLRT_BF16;
            else if (strcmp(v, "f16") == 0 || strcmp(v, "fp16") == 0)
                o->precision = CLRT_F16;
            else
                die(2, "--precision: expected f32, bf16 or f16, got \"%s\"", v);
        } else if (strcmp(a, "--lr-schedule") == 0) {
            if (strcmp(v, "cosine") == 0)
                o->schedule = SCHEDULE_COSINE;
            else if (strcmp(v, "step") == 0)
                o->schedule = SCHEDULE_STEP;
            else if (strcmp(v, "constant") == 0)
                o->schedule = SCHEDULE_CONSTANT;
            else
                die(2, "--lr-schedule: expected cosine, step or constant, got \"%s\"", v);
        } else {
            usage(stderr);
            die(2, "unknown option \"%s\"", a);
        }
    }
    if ((o->train_csv != NULL) != (o->test_csv != NULL))
        die(2, "--train-csv and --test-csv go together");
    if (o->batch == 0)
        die(2, "--batch must be at least 1");
    if (!o->lr_set)
        o->lr = o->optimizer == CLRT_OPTIM_SGD ? 0.05 : 1e-3;
    if (!o->momentum_set)
        o->momentum = o->optimizer == CLRT_OPTIM_SGD ? 0.9 : 0.0;
    if (o->momentum < 0)
        die(2, "--momentum must not be negative");
}

/* The learning rate of epoch e (0-based) of `total`. */
static double scheduled_lr(const options *o, unsigned e)
{
    switch (o->schedule) {
    case SCHEDULE_COSINE: return o->lr * 0.5 * (1.0 + cos(3.14159265358979323846 * e / o->epochs));
    case SCHEDULE_STEP:
        return o->lr * (e >= o->epochs * 3 / 4 ? 0.01 : e >= o->epochs / 2 ? 0.1 : 1.0);
    default: return o->lr;
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void check(clrt_status st, clrt_ctx *ctx, const char *what)
{
    if (st != CLRT_OK)
        die(1, "%s: %s: %s", what, clrt_status_str(st), ctx ? clrt_ctx_errmsg(ctx) : "");
}

/* What went wrong when a loss or a weight stopped being finite: the first
 * thing of the epoch, and the library's message naming the tensor. */
typedef struct numeric_fault {
    char what[64];
    char detail[1024];
} numeric_fault;

/* CLRT_ERR_NUMERIC ends the run once the epoch's line is out (recorded in
 * *nf, unless something earlier in the epoch was); any other failure now.
 * `value` is the loss the call gave: finite when a weight is the cause. */
static void note_numeric(clrt_status st, clrt_ctx *ctx, const char *call, const char *loss,
                         double value, numeric_fault *nf)
{
    if (st != CLRT_ERR_NUMERIC) {
        check(st, ctx, call);
        return;
    }
    if (nf->what[0])
        return;
    if (isnan(value) || isinf(value))
        snprintf(nf->what, sizeof nf->what, "%s is %s", loss, isnan(value) ? "NaN" : "infinite");
    else
        snprintf(nf->what, sizeof nf->what, "the weights are not finite");
    snprintf(nf->detail, sizeof nf->detail, "%s", clrt_ctx_errmsg(ctx));
}

/* The end of a run whose epoch e (0-based) went non-finite: what, and
 * where the last good checkpoint is (never overwritten by this epoch). */
static void stop_numeric(const options *o, unsigned e, const numeric_fault *nf, bool saved,
                         unsigned long long saved_epoch)
{
    char kept[1024];
    if (!o->save)
        snprintf(kept, sizeof kept, "no checkpoint is written (no --save)");
    else if (saved)
        snprintf(kept, sizeof kept, "the last good checkpoint, epoch %llu, is kept in %s",
                 saved_epoch, o->save);
    else
        snprintf(kept, sizeof kept, "nothing was saved to %s", o->save);
    die(1, "epoch %u: %s; %s; try a smaller --lr (%s)", e + 1, nf->what, kept, nf->detail);
}

/* ---- --distributed: the run's ranks (NULL without the option). */
static clrt_dist *dist;

/* Under mpirun, a rank that fails or dies makes the launcher end the job:
 * it sends the other ranks SIGTERM (then SIGKILL). Say so on the way out,
 * so each rank's stderr tells why it stopped. */
static char sigterm_text[160];

static void on_sigterm(int sig)
{
    (void)sig;
    ssize_t w = write(STDERR_FILENO, sigterm_text, strlen(sigterm_text));
    (void)w;
    _exit(1);
}

/* Join the ranks, pick this rank's device into sel, and keep rank 0 alone
 * printing and writing files. */
static void dist_start(options *o, char *sel, size_t len)
{
    char err[1024] = "";
    if (clrt_dist_create(NULL, &dist, err, sizeof err) != CLRT_OK)
        die(1, "--distributed: %s", err);
    int rank = clrt_dist_rank(dist);
    snprintf(sigterm_text, sizeof sigterm_text,
             "clrt-train: rank %d: stopped by SIGTERM (under mpirun: another rank failed, see "
             "its message)\n", rank);
    signal(SIGTERM, on_sigterm);
    if (clrt_dist_device(dist, o->device, sel, len, err, sizeof err) != CLRT_OK)
        die(1, "rank %d: %s", rank, err);
    if (rank != 0) {
        if (!freopen("/dev/null", "w", stdout))
            die(1, "rank %d: cannot silence stdout", rank);
        o->json = 0, o->save = NULL, o->plot = NULL, o->metrics = NULL;
    }
}

/* What the gradient all-reduce cost, on rank 0 (docs/PERFORMANCE.md). */
static void dist_report(FILE *out)
{
    clrt_dist_stats ds;
    if (clrt_dist_rank(dist) != 0 || clrt_dist_get_stats(dist, &ds) != CLRT_OK || !ds.steps)
        return;
    double k = (double)ds.steps;
    fprintf(out, "all-reduce: %llu steps, %.0f bytes per step; per step %.3f ms waiting for "
                 "backward, %.3f ms copying gradients to and from the device, %.3f ms in MPI\n",
            (unsigned long long)ds.steps, (double)ds.bytes / k, 1e3 * ds.wait_s / k,
            1e3 * ds.copy_s / k, 1e3 * ds.reduce_s / k);
}

static clrt_status take_loss(clrt_model *m, double *mean, size_t *samples)
{
    return dist ? clrt_dist_take_loss(dist, m, mean, samples)
                : clrt_model_take_loss(m, mean, samples);
}

static clrt_status evaluate(clrt_model *m, clrt_loader *l, double *loss, double *accuracy)
{
    return dist ? clrt_dist_evaluate(dist, m, l, loss, accuracy)
                : clrt_model_evaluate(m, l, loss, accuracy);
}

/* The epoch's training loss so far: a sum over the points read. */
typedef struct loss_tally {
    double sum;
    size_t samples;
} loss_tally;

/* The mean training loss of the steps since the last call (a blocking
 * read), added to the tally and logged as a point after `done` steps. */
static void take_train_loss(clrt_model *m, clrt_ctx *ctx, train_log *log, size_t done,
                            loss_tally *t, numeric_fault *nf)
{
    double loss = 0;
    size_t samples = 0;
    clrt_status st = take_loss(m, &loss, &samples);
    note_numeric(st, ctx, "loss", "the training loss", loss, nf);
    t->sum += loss * (double)samples;
    t->samples += samples;
    char err[1024];
    if (!train_log_step(log, done, loss, samples, err, sizeof err))
        die(1, "%s", err);
}

static void load_data(const options *o, clrt_dataset **train, clrt_dataset **test)
{
    char err[1024] = "";
    clrt_status st;
    if (o->train_csv) {
        if ((st = clrt_dataset_load_csv(o->train_csv, train, err, sizeof err)) != CLRT_OK ||
            (st = clrt_dataset_load_csv(o->test_csv, test, err, sizeof err)) != CLRT_OK)
            die(1, "%s", err);
    } else if (strcmp(o->data, "fashion-mnist") == 0) {
        static const char *const names[4] = {
            "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
        char f[4][4096];
        for (int i = 0; i < 4; i++) {
            snprintf(f[i], sizeof f[i], "%s/%s", o->data_dir, names[i]);
            if (access(f[i], R_OK) != 0)
                die(1, "Fashion-MNIST is not in %s (%s: %s); install Debian's package: "
                       "apt-get install " FASHION_PACKAGE "%s",
                    o->data_dir, names[i], strerror(errno),
                    strcmp(o->data_dir, FASHION_DIR) ? " (it puts the files in " FASHION_DIR
                                                       "), or give --data-dir"
                                                     : "");
        }
        if ((st = clrt_dataset_load_idx(f[0], f[1], train, err, sizeof err)) != CLRT_OK ||
            (st = clrt_dataset_load_idx(f[2], f[3], test, err, sizeof err)) != CLRT_OK)
            die(1, "%s", err);
    } else {
        die(2, "--data: only fashion-mnist is built in; use --train-csv/--test-csv for others");
    }
    if (clrt_dataset_features(*train) != clrt_dataset_features(*test))
        die(1, "the training data has %zu features, the test data %zu",
            clrt_dataset_features(*train), clrt_dataset_features(*test));
    if (o->normalize) {
        size_t nf = clrt_dataset_features(*train);
        float *mean = malloc(nf * sizeof *mean), *std = malloc(nf * sizeof *std);
        if (!mean || !std)
            die(1, "out of memory");
        if (clrt_dataset_stats(*train, mean, std) != CLRT_OK ||
            clrt_dataset_normalize(*train, mean, std) != CLRT_OK ||
            clrt_dataset_normalize(*test, mean, std) != CLRT_OK)
            die(1, "--normalize failed");
        free(mean);
        free(std);
    }
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);

    clrt_dataset *train = NULL, *test = NULL;
    load_data(&o, &train, &test);
    made.data[0] = train, made.data[1] = test;
    size_t classes = clrt_dataset_classes(train);
    if (clrt_dataset_classes(test) > classes)
        die(1, "the test data has label %zu, but the training data only %zu classes",
            clrt_dataset_classes(test) - 1, classes);

    clrt_ctx_options copt;
    clrt_ctx_options_init(&copt);
    copt.device = o.device;
    copt.precision = (int)o.precision;
    char rank_device[128];
    if (o.distributed) {
        dist_start(&o, rank_device, sizeof rank_device);
        copt.device = rank_device;
    }
    clrt_ctx *ctx = NULL;
    char err[4096] = "";
    if (clrt_ctx_create(&copt, &ctx, err, sizeof err) != CLRT_OK)
        die(1, "%s", err);
    made.ctx = ctx;
    const clrt_device_info *dev = clrt_ctx_device(ctx);

    clrt_model *m = NULL;
    check(clrt_model_create(ctx, clrt_dataset_features(train), &m), ctx, "model");
    made.model = m;
    for (size_t i = 0; i < o.nhidden; i++) {
        check(clrt_model_add_linear(m, o.hidden[i]), ctx, "model");
        check(clrt_model_add_act(m, o.act, o.act == CLRT_ACT_LEAKY_RELU ? 0.01f : 0.0f), ctx,
              "model");
    }
    check(clrt_model_add_linear(m, classes), ctx, "model");
    check(clrt_model_init(m, o.seed), ctx, "init");
    if (o.init)
        check(clrt_checkpoint_load(o.init, m, NULL, NULL, CLRT_CHECKPOINT_WEIGHTS_ONLY), ctx,
              o.init);

    clrt_optim_options oo;
    clrt_optim_options_init(&oo, o.optimizer);
    oo.lr = (float)o.lr;
    if (o.optimizer == CLRT_OPTIM_SGD)
        oo.momentum = (float)o.momentum;
    if (o.weight_decay >= 0)
        oo.weight_decay = (float)o.weight_decay;
    clrt_optim *opt = NULL;
    check(clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m), &opt), ctx,
          "optimizer");
    made.opt = opt;

    unsigned first_epoch = 0;
    bool saved = false; /* the --save file holds a good checkpoint of this run's */
    unsigned long long saved_epoch = 0;
    if (o.resume) {
        /* A file without a training position leaves ts as it is. */
        clrt_train_state ts = {UINT64_MAX, 0, 0};
        check(clrt_checkpoint_load(o.resume, m, opt, &ts, 0), ctx, o.resume);
        if (ts.epoch == UINT64_MAX)
            die(1, "%s holds no training position (epoch, seed): use --init to start from its "
                   "weights", o.resume);
        if (ts.seed != o.seed)
            die(1, "%s was trained with --seed %llu, not %llu", o.resume,
                (unsigned long long)ts.seed, (unsigned long long)o.seed);
        if (ts.epoch >= o.epochs) /* compared before narrowing it to first_epoch */
            die(1, "%s has already done %llu epochs of %u", o.resume, (unsigned long long)ts.epoch,
                o.epochs);
        first_epoch = (unsigned)ts.epoch;
        if (o.save && strcmp(o.save, o.resume) == 0)
            saved = true, saved_epoch = ts.epoch;
    }

    if (dist)
        check(clrt_dist_attach(dist, m, opt), ctx, "--distributed");

    clrt_loader_options lo;
    clrt_loader_options_init(&lo);
    lo.batch = o.batch;
    lo.shards = dist ? (size_t)clrt_dist_size(dist) : 1;
    lo.shard = dist ? (size_t)clrt_dist_rank(dist) : 0;
    lo.shuffle = o.shuffle;
    lo.seed = o.seed;
    clrt_loader *train_loader = NULL, *test_loader = NULL;
    check(clrt_loader_create(ctx, train, &lo, &train_loader), ctx, "loader");
    made.loader[0] = train_loader;
    lo.shuffle = 0;
    check(clrt_loader_create(ctx, test, &lo, &test_loader), ctx, "loader");
    made.loader[1] = test_loader;

    FILE *out = o.json ? stderr : stdout;
    fprintf(out, "clrt-train on %s / %s: %zu train, %zu test samples, %zu features, %zu classes\n",
            dev->platform, dev->name, clrt_dataset_size(train), clrt_dataset_size(test),
            clrt_dataset_features(train), classes);
    if (dist)
        fprintf(out, "data parallel: %d rank%s, global batch %zu\n", clrt_dist_size(dist),
                clrt_dist_size(dist) == 1 ? "" : "s", o.batch);

    bool bar = !o.json && isatty(STDERR_FILENO) && clrt_dist_rank(dist) <= 0; /* rank 0 alone */
    train_log_options lopt = {.bar = bar, .metrics_path = o.metrics,
                              .plot_path = o.plot, .first_epoch = first_epoch, .epochs = o.epochs,
                              .batches = clrt_loader_batches(train_loader),
                              .log_every = o.log_every};
    if (!train_log_open(&lopt, &made.log, err, sizeof err))
        die(1, "%s", err);
    train_log *log = made.log;
    size_t log_every = train_log_interval(log);
    for (unsigned e = first_epoch; e < o.epochs; e++) {
        epoch_result res = {.epoch = e + 1, .lr = scheduled_lr(&o, e)}, *r = &res;
        check(clrt_optim_set_lr(opt, (float)r->lr), ctx, "learning rate");
        check(clrt_loader_begin(train_loader, e), ctx, "loader");
        train_log_epoch_begin(log, e, r->lr);
        double t0 = now_seconds();
        size_t done = 0;
        loss_tally tally = {0, 0};
        numeric_fault nf = {"", ""};
        for (;;) {
            const clrt_tensor *x, *y;
            check(clrt_loader_next(train_loader, &x, &y), ctx, "loader");
            if (!x)
                break;
            check(clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, x, y), ctx,
                  "training step");
            done++;
            if (log_every && done % log_every == 0)
                take_train_loss(m, ctx, log, done, &tally, &nf);
        }
        take_train_loss(m, ctx, log, done, &tally, &nf);
        r->train_loss = tally.samples ? tally.sum / (double)tally.samples : 0;
        double dt = now_seconds() - t0;
        r->samples_per_s = dt > 0 ? (double)tally.samples / dt : 0;
        clrt_status st = evaluate(m, test_loader, &r->test_loss, &r->test_accuracy);
        note_numeric(st, ctx, "evaluation", "the test loss", r->test_loss, &nf);
        if (!train_log_epoch_end(log, r, err, sizeof err))
            die(1, "%s", err);
        fprintf(out,
                "epoch %2u/%u  lr %.4g  train loss %.4f  test loss %.4f  test accuracy %.2f%%  "
                "%.0f samples/s\n",
                e + 1, o.epochs, r->lr, r->train_loss, r->test_loss, 100 * r->test_accuracy,
                r->samples_per_s);
        fflush(out); /* one line per epoch, also through a pipe */
        if (nf.what[0])
            stop_numeric(&o, e, &nf, saved, saved_epoch);
        if (o.save) {
            /* clrt_model_take_loss checked the weights too; this is the
             * save's own guard, beside it, so the file is never replaced
             * by weights that are not finite. */
            note_numeric(clrt_model_check_finite(m), ctx, "weights", "", 0.0, &nf);
            if (nf.what[0])
                stop_numeric(&o, e, &nf, saved, saved_epoch);
            clrt_train_state ts = {e + 1, o.seed, r->lr};
            check(clrt_checkpoint_save(o.save, m, opt, &ts), ctx, o.save);
            saved = true, saved_epoch = e + 1;
        }
    }
    if (dist)
        dist_report(out);
    if (!train_log_finish(log, saved ? o.save : NULL, err, sizeof err))
        die(1, "%s", err);
    unsigned ran = 0;
    const epoch_result *results = train_log_epochs(log, &ran);
    if (o.json && !metrics_print_results(stdout, dev,
                                         clrt_gemm_backend_name(clrt_ctx_gemm_backend(ctx)),
                                         results, ran, err, sizeof err))
        die(1, "%s", err);
    bool released = release_made();
    clrt_dist_destroy(dist); /* not on die(): MPI's finalise would wait for the others */
    return released ? 0 : 1;
}
