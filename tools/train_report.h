/* What clrt-train reports while and after it trains: the progress bar and
 * summary line (train_progress.c), the --metrics JSON lines and the --json
 * document (train_metrics.c), the --plot chart (train_plot.c), and the log
 * that feeds them (train_log.c). Tool code: it prints, the library never
 * does. Failures return false with a message in err. */
#ifndef CLRT_TRAIN_REPORT_H
#define CLRT_TRAIN_REPORT_H

#include <clrt.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One epoch's figures; `epoch` counts from 1 over the whole run, `step` is
 * the run's training steps done at its end, `time_s` the seconds since
 * this invocation began training. */
typedef struct epoch_result {
    unsigned epoch;
    uint64_t step;
    double lr, train_loss, test_loss, test_accuracy, samples_per_s, time_s;
} epoch_result;

/* The mean training loss of the steps since the last point: `step` as
 * above, `at` its place in epochs (2.5: half way through epoch 3). */
typedef struct step_point {
    uint64_t step;
    unsigned epoch;
    double at, lr, loss, samples_per_s, time_s;
} step_point;

/* ---- train_log.c: the points of a run, handed to the reports. */

typedef struct train_log_options {
    bool bar;                 /* progress bar and summary line on stderr */
    const char *metrics_path; /* --metrics, or NULL */
    const char *plot_path;    /* --plot, or NULL */
    unsigned first_epoch;     /* epochs done before this invocation (--resume) */
    unsigned epochs;          /* epochs of the whole run */
    size_t batches;           /* training steps per epoch */
    size_t log_every;         /* steps between two points (0: the default) */
} train_log_options;

typedef struct train_log train_log;

bool train_log_open(const train_log_options *o, train_log **out, char *err, size_t errlen);
/* Steps between two points when the log wants them; 0 when it needs only
 * the epochs (no bar, no --metrics, no --plot): the loss is then read once
 * per epoch, as without reports. */
size_t train_log_interval(const train_log *log);
void train_log_epoch_begin(train_log *log, unsigned epoch, double lr);
/* `done` steps of the epoch are finished, and the `samples` since the last
 * point had mean loss `loss`. */
bool train_log_step(train_log *log, size_t done, double loss, size_t samples, char *err,
                    size_t errlen);
/* Fills r->step and r->time_s, erases the bar. */
bool train_log_epoch_end(train_log *log, epoch_result *r, char *err, size_t errlen);
/* The epochs so far, in order. */
const epoch_result *train_log_epochs(const train_log *log, unsigned *count);
/* Writes the chart and the summary line (`checkpoint`: the --save file or
 * NULL) and closes the metrics file. */
bool train_log_finish(train_log *log, const char *checkpoint, char *err, size_t errlen);
void train_log_destroy(train_log *log);

/* ---- train_progress.c: the bar and the summary line (a terminal only). */

typedef struct progress_state {
    unsigned epoch, epochs; /* epoch counts from 1 */
    size_t done, batches;
    double samples_per_s, loss;
    double eta_s; /* the run's time left; negative when not known yet */
} progress_state;

void progress_draw(FILE *f, const progress_state *p);
void progress_erase(FILE *f);
void progress_summary(FILE *f, double total_s, const epoch_result *r, unsigned n,
                      const char *checkpoint);
/* "1:05", "12:00:09": seconds as a clock. */
void progress_clock(char *buf, size_t len, double seconds);

/* ---- train_metrics.c: --metrics JSON lines and the --json document. */

bool metrics_write_step(FILE *f, const step_point *s, char *err, size_t errlen);
bool metrics_write_epoch(FILE *f, const epoch_result *r, char *err, size_t errlen);
bool metrics_print_results(FILE *f, const clrt_device_info *dev, const char *gemm_backend,
                           const epoch_result *r, unsigned n, char *err, size_t errlen);

/* ---- train_plot.c: the --plot SVG. */

bool plot_write_svg(const char *path, const step_point *steps, size_t nsteps, const epoch_result *r,
                    unsigned n, unsigned first_epoch, char *err, size_t errlen);

#endif
