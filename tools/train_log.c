/* The points of a clrt-train run (a mean loss every few steps, the figures
 * of each epoch), passed on as they come to the progress bar and the
 * --metrics file, and kept for the --plot chart and the summary line. */
#include "train_report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Steps between two points unless --log-every says otherwise: a blocking
 * read of the loss (and the library's finiteness check) every 20 steps
 * costs little, and gives Fashion-MNIST's 469 steps 23 points an epoch. */
#define DEFAULT_LOG_EVERY 20

struct train_log {
    train_log_options o;
    FILE *metrics;
    double t_start, t_epoch, t_point; /* the run's start, the epoch's, the last point's */
    unsigned epoch;                   /* the epoch under way, from 1 */
    double lr;
    double epoch_loss_sum; /* over the epoch's points so far, loss x samples */
    size_t epoch_samples;
    size_t done;       /* steps of the epoch at the last point */
    step_point *steps; /* kept for the chart */
    size_t nsteps, capsteps;
    epoch_result *epochs;
    unsigned nepochs;
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

bool train_log_open(const train_log_options *o, train_log **out, char *err, size_t errlen)
{
    *out = NULL;
    train_log *log = calloc(1, sizeof *log);
    unsigned run = o->epochs > o->first_epoch ? o->epochs - o->first_epoch : 0;
    if (!log || !(log->epochs = calloc(run ? run : 1, sizeof *log->epochs))) {
        free(log);
        snprintf(err, errlen, "out of memory");
        return false;
    }
    log->o = *o;
    if (log->o.log_every == 0)
        log->o.log_every = DEFAULT_LOG_EVERY;
    if (o->metrics_path && !(log->metrics = fopen(o->metrics_path, "w"))) {
        snprintf(err, errlen, "cannot write %s: %s", o->metrics_path, strerror(errno));
        train_log_destroy(log);
        return false;
    }
    log->t_start = now_seconds();
    *out = log;
    return true;
}

size_t train_log_interval(const train_log *log)
{
    return log->o.bar || log->o.metrics_path || log->o.plot_path ? log->o.log_every : 0;
}

static void draw(const train_log *log, size_t done)
{
    if (!log->o.bar)
        return;
    /* Time left: the seconds per step of this invocation so far (its test
     * passes included) times the steps still to run. */
    uint64_t run_steps = (uint64_t)(log->o.epochs - log->o.first_epoch) * log->o.batches;
    uint64_t ran = (uint64_t)(log->epoch - 1 - log->o.first_epoch) * log->o.batches + done;
    double t = now_seconds(), elapsed = t - log->t_start, in_epoch = t - log->t_epoch;
    progress_state p = {
        .epoch = log->epoch,
        .epochs = log->o.epochs,
        .done = done,
        .batches = log->o.batches,
        /* The epoch's rate so far: steadier than the last point's. */
        .samples_per_s = done && in_epoch > 0 ? (double)log->epoch_samples / in_epoch : -1,
        .loss = log->epoch_samples ? log->epoch_loss_sum / (double)log->epoch_samples : -1,
        .eta_s = ran ? elapsed / (double)ran * (double)(run_steps - ran) : -1,
    };
    progress_draw(stderr, &p);
}

void train_log_epoch_begin(train_log *log, unsigned epoch, double lr)
{
    log->epoch = epoch + 1;
    log->lr = lr;
    log->epoch_loss_sum = 0;
    log->epoch_samples = 0;
    log->done = 0;
    log->t_epoch = log->t_point = now_seconds();
    draw(log, 0);
}

static uint64_t run_step(const train_log *log, size_t done)
{
    return (uint64_t)(log->epoch - 1) * log->o.batches + done;
}

bool train_log_step(train_log *log, size_t done, double loss, size_t samples, char *err,
                    size_t errlen)
{
    if (samples == 0)
        return true;
    double t = now_seconds(), dt = t - log->t_point;
    log->t_point = t;
    log->epoch_loss_sum += loss * (double)samples;
    log->epoch_samples += samples;
    step_point s = {
        .step = run_step(log, done),
        .epoch = log->epoch,
        .at = (double)(log->epoch - 1) + (double)done / (double)log->o.batches,
        .lr = log->lr,
        .loss = loss,
        .samples_per_s = dt > 0 ? (double)samples / dt : 0,
        .time_s = t - log->t_start,
    };
    log->done = done;
    draw(log, done);
    if (log->metrics && !metrics_write_step(log->metrics, &s, err, errlen))
        return false;
    if (log->o.plot_path) {
        if (log->nsteps == log->capsteps) {
            size_t cap = log->capsteps ? 2 * log->capsteps : 256;
            step_point *grown = realloc(log->steps, cap * sizeof *grown);
            if (!grown) {
                snprintf(err, errlen, "out of memory");
                return false;
            }
            log->steps = grown, log->capsteps = cap;
        }
        log->steps[log->nsteps++] = s;
    }
    return true;
}

bool train_log_epoch_end(train_log *log, epoch_result *r, char *err, size_t errlen)
{
    if (log->o.bar)
        progress_erase(stderr);
    r->step = run_step(log, log->o.batches);
    r->time_s = now_seconds() - log->t_start;
    if (log->nepochs < log->o.epochs - log->o.first_epoch)
        log->epochs[log->nepochs++] = *r;
    return !log->metrics || metrics_write_epoch(log->metrics, r, err, errlen);
}

const epoch_result *train_log_epochs(const train_log *log, unsigned *count)
{
    *count = log->nepochs;
    return log->epochs;
}

bool train_log_finish(train_log *log, const char *checkpoint, char *err, size_t errlen)
{
    if (log->o.plot_path && log->nepochs > 0 &&
        !plot_write_svg(log->o.plot_path, log->steps, log->nsteps, log->epochs, log->nepochs,
                        log->o.first_epoch, err, errlen))
        return false;
    if (log->o.bar)
        progress_summary(stderr, now_seconds() - log->t_start, log->epochs, log->nepochs,
                         checkpoint);
    if (log->metrics) {
        FILE *f = log->metrics;
        log->metrics = NULL;
        if (fclose(f) != 0) {
            snprintf(err, errlen, "cannot write %s: %s", log->o.metrics_path, strerror(errno));
            return false;
        }
    }
    return true;
}

void train_log_destroy(train_log *log)
{
    if (!log)
        return;
    if (log->metrics)
        fclose(log->metrics);
    free(log->steps);
    free(log->epochs);
    free(log);
}
