/* clrt-train's progress bar and summary line, for a terminal only (the
 * caller decides): the bar redraws itself in place with "\r" and is erased
 * before each epoch's line. */
#include "train_report.h"

#include <math.h>
#include <string.h>
#include <sys/ioctl.h>

/* The bar takes what the line leaves of the terminal's width, up to this. */
#define BAR_MAX 30

/* The terminal's columns; 80 when it does not say. */
static size_t terminal_columns(FILE *f)
{
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

void progress_clock(char *buf, size_t len, double seconds)
{
    unsigned long s = seconds > 0 && isfinite(seconds) ? (unsigned long)(seconds + 0.5) : 0;
    if (s >= 3600)
        snprintf(buf, len, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, len, "%lu:%02lu", s / 60, s % 60);
}

/* epoch 3/10 [=========>          ] 240/469  41234 samples/s  loss 0.3521  ETA 1:05
 * (the figures once the epoch's first point is in; ETA: the run's time left),
 * on one line of the terminal: a line that wrapped would not be erased. */
void progress_draw(FILE *f, const progress_state *p)
{
    char head[64], tail[192];
    int hn = snprintf(head, sizeof head, "epoch %u/%u [", p->epoch, p->epochs);
    int tn = snprintf(tail, sizeof tail, "] %zu/%zu", p->done, p->batches);
    if (p->samples_per_s >= 0)
        tn += snprintf(tail + tn, sizeof tail - (size_t)tn, "  %.0f samples/s", p->samples_per_s);
    if (p->loss >= 0 || isnan(p->loss))
        tn += snprintf(tail + tn, sizeof tail - (size_t)tn, "  loss %.4f", p->loss);
    if (p->eta_s >= 0) {
        char eta[32];
        progress_clock(eta, sizeof eta, p->eta_s);
        snprintf(tail + tn, sizeof tail - (size_t)tn, "  ETA %s", eta);
    }
    /* One column short of the width: writing the last one wraps on some terminals. */
    size_t cols = terminal_columns(f), used = (size_t)hn + strlen(tail) + 1;
    size_t width = cols > used ? cols - used : 0;
    width = width < BAR_MAX ? width : BAR_MAX;
    size_t filled = p->batches ? width * p->done / p->batches : width;
    char bar[BAR_MAX + 1];
    for (size_t i = 0; i < width; i++)
        bar[i] = i < filled ? '=' : i == filled ? '>' : ' ';
    bar[width] = '\0';
    fprintf(f, "\r\033[K%s%s%s", head, bar, tail);
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
