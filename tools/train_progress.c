/* clrt-train's progress bar and summary line, for a terminal only (the
 * caller decides): the bar redraws itself in place with "\r" and is erased
 * before each epoch's line. */
#include "train_report.h"

#include <math.h>

#define BAR_WIDTH 20

void progress_clock(char *buf, size_t len, double seconds)
{
    unsigned long s = seconds > 0 && isfinite(seconds) ? (unsigned long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
}

/* epoch 3/10 [=========>          ] 240/469  41234 samples/s  loss 0.3521  ETA 1:05
 * (the figures once the epoch's first point is in; ETA: the run's time left) */
void progress_draw(FILE *f, const progress_state *p)
{
    size_t filled = p->batches ? BAR_WIDTH * p->done / p->batches : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    for (size_t i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '=' : i == filled ? '>' : ' ';
    bar[BAR_WIDTH] = '\0';
    fprintf(f, "\r\033[Kepoch %u/%u [%s] %zu/%zu", p->epoch, p->epochs, bar, p->done, p->batches);
    if (p->samples_per_s >= 0)
        fprintf(f, "  %.0f samples/s", p->samples_per_s);
    if (p->loss >= 0 || isnan(p->loss))
        fprintf(f, "  loss %.4f", p->loss);
    if (p->eta_s >= 0) {
        char eta[32];
        progress_clock(eta, sizeof eta, p->eta_s);
        fprintf(f, "  ETA %s", eta);
    }
    fflush(f);
}

void progress_erase(FILE *f)
{
    fputs("\r\033[K", f);
    fflush(f);
}

/* done in 1:23 (83.4 s): best test accuracy 89.15% at epoch 10; checkpoint F */
void progress_summary(FILE *f, double total_s, const epoch_result *r, unsigned n,
                      const char *checkpoint)
{
    char clock[32];
    progress_clock(clock, sizeof clock, total_s);
    fprintf(f, "done in %s (%.1f s)", clock, total_s);
    unsigned best = 0;
    for (unsigned i = 1; i < n; i++)
        if (r[i].test_accuracy > r[best].test_accuracy)
            best = i;
    if (n > 0)
        fprintf(f, ": best test accuracy %.2f%% at epoch %u", 100 * r[best].test_accuracy,
                r[best].epoch);
    if (checkpoint)
        fprintf(f, "; checkpoint in %s\n", checkpoint);
    else
        fprintf(f, "; no checkpoint (no --save)\n");
    fflush(f);
}
