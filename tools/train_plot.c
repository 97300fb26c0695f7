/* clrt-train --plot: an SVG of two charts side by side. Left, the loss:
 * the training loss of every logged point (faint) and its exponential
 * moving average, under the train and test loss of each epoch. Right, the
 * test accuracy of each epoch, on an axis fitted to its values. Both have
 * ticks with values, gridlines and a legend; the x axis is the epoch. The
 * loss axis leaves out the highest 2% of the step points (see
 * high_quantile). */
#include "train_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 960.0
#define HEIGHT 400.0
#define PANEL (WIDTH / 2)
#define LEFT 64.0 /* room for the y tick values and label */
#define RIGHT 20.0
#define TOP 40.0
#define BOTTOM 56.0
/* TensorBoard's default smoothing: the step loss is noisy at one point in
 * 20 steps, and 0.6 keeps the turns of the curve in place. */
#define EMA_WEIGHT 0.6

#define COLOR_STEP_RAW "#a9c4e8"
#define COLOR_STEP_EMA "#4a86d0"
#define COLOR_TRAIN "#1b3d7a"
#define COLOR_TEST "#e07020"
#define COLOR_ACCURACY "#2a9050"

typedef struct axis {
    double lo, hi, step; /* the range drawn, ticks every `step` from lo */
    int decimals;        /* of the tick values */
} axis;

typedef struct frame {
    double x0, y0, w, h; /* the plot area, y0 at its top */
    axis x, y;
} frame;

/* 1, 2 or 5 times a power of ten, near range / ticks. */
static double nice_step(double range, int ticks)
{
    double raw = range / ticks, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* An axis over [lo, hi] whose ends are ticks: about `ticks` of them. */
static axis fit_axis(double lo, double hi, int ticks, double min_step)
{
    if (!(hi > lo)) {
        double pad = lo != 0 ? fabs(lo) * 0.05 : 0.5;
        lo -= pad, hi += pad;
    }
    axis a;
    a.step = fmax(nice_step(hi - lo, ticks), min_step);
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    if (a.hi <= a.lo)
        a.hi = a.lo + a.step;
    a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    return a;
}

static double px(const frame *f, double v)
{
    return f->x0 + (v - f->x.lo) / (f->x.hi - f->x.lo) * f->w;
}

static double py(const frame *f, double v)
{
    return f->y0 + f->h - (v - f->y.lo) / (f->y.hi - f->y.lo) * f->h;
}

/* Gridlines, tick values, the frame and the axis labels. */
static void draw_axes(FILE *o, const frame *f, const char *title, const char *ylabel,
                      const char *yunit)
{
    fprintf(o,
            "<text class=\"title\" x=\"%.1f\" y=\"%.1f\" font-size=\"14\" "
            "font-weight=\"bold\">%s</text>\n",
            f->x0, f->y0 - 14, title);
    fprintf(o, "<g class=\"grid\" stroke=\"#e2e2e2\" stroke-width=\"1\">\n");
    for (double v = f->x.lo; v <= f->x.hi + f->x.step / 2; v += f->x.step)
        fprintf(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", px(f, v), f->y0,
                px(f, v), f->y0 + f->h);
    for (double v = f->y.lo; v <= f->y.hi + f->y.step / 2; v += f->y.step)
        fprintf(o, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", f->x0, py(f, v),
                f->x0 + f->w, py(f, v));
    fprintf(o, "</g>\n<g class=\"xticks\" text-anchor=\"middle\" fill=\"#333\">\n");
    for (double v = f->x.lo; v <= f->x.hi + f->x.step / 2; v += f->x.step)
        fprintf(o, "<text x=\"%.2f\" y=\"%.2f\">%.*f</text>\n", px(f, v), f->y0 + f->h + 16,
                f->x.decimals, v);
    fprintf(o, "</g>\n<g class=\"yticks\" text-anchor=\"end\" fill=\"#333\">\n");
    for (double v = f->y.lo; v <= f->y.hi + f->y.step / 2; v += f->y.step)
        fprintf(o, "<text x=\"%.2f\" y=\"%.2f\">%.*f%s</text>\n", f->x0 - 6, py(f, v) + 4,
                f->y.decimals, v, yunit);
    fprintf(o, "</g>\n");
    fprintf(o,
            "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
            "stroke=\"#555\"/>\n",
            f->x0, f->y0, f->w, f->h);
    fprintf(o, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">epoch</text>\n",
            f->x0 + f->w / 2, f->y0 + f->h + 38);
    fprintf(o,
            "<text text-anchor=\"middle\" transform=\"translate(%.2f,%.2f) rotate(-90)\">"
            "%s</text>\n",
            f->x0 - 48, f->y0 + f->h / 2, ylabel);
}

/* A line through (x[i], y[i]), points that are not finite left out; with
 * `dots`, a circle on each. */
static void draw_series(FILE *o, const frame *f, const char *id, const char *color, double width,
                        const double *x, const double *y, size_t n, bool dots)
{
    fprintf(o,
            "<polyline class=\"series\" id=\"%s\" fill=\"none\" stroke=\"%s\" "
            "stroke-width=\"%g\" stroke-linejoin=\"round\" points=\"",
            id, color, width);
    for (size_t i = 0; i < n; i++)
        if (isfinite(y[i]))
            fprintf(o, "%s%.2f,%.2f", i ? " " : "", px(f, x[i]), py(f, y[i]));
    fprintf(o, "\"/>\n");
    for (size_t i = 0; dots && i < n; i++)
        if (isfinite(y[i]))
            fprintf(o, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n", px(f, x[i]),
                    py(f, y[i]), color);
}

typedef struct legend_entry {
    const char *label, *color;
    double width;
} legend_entry;

/* A box of entries in the plot area's top (or bottom) right corner. */
static void draw_legend(FILE *o, const frame *f, const legend_entry *e, int n, bool bottom)
{
    const double row = 18, w = 190, h = row * n + 8;
    double x = f->x0 + f->w - w - 8, y = bottom ? f->y0 + f->h - h - 8 : f->y0 + 8;
    fprintf(o,
            "<g class=\"legend\">\n<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" "
            "fill=\"white\" fill-opacity=\"0.9\" stroke=\"#bbb\"/>\n",
            x, y, w, h);
    for (int i = 0; i < n; i++) {
        double ly = y + 4 + row * i + row / 2;
        fprintf(o,
                "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
                "stroke-width=\"%g\"/>\n",
                x + 8, ly, x + 32, ly, e[i].color, e[i].width);
        fprintf(o, "<text x=\"%.2f\" y=\"%.2f\">%s</text>\n", x + 40, ly + 4, e[i].label);
    }
    fprintf(o, "</g>\n");
}

static void range_of(const double *v, size_t n, double *lo, double *hi)
{
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            *lo = fmin(*lo, v[i]), *hi = fmax(*hi, v[i]);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value below which 98% of the finite values lie (-INFINITY for none):
 * the loss axis ignores the few highest step points, those of a run's
 * first steps, as TensorBoard's "ignore outliers" does, so that the curve
 * after them is not flattened. `tmp` has room for n values. */
static double high_quantile(const double *v, size_t n, double *tmp)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            tmp[m++] = v[i];
    if (m == 0)
        return -INFINITY;
    qsort(tmp, m, sizeof *tmp, compare_doubles);
    return tmp[(size_t)(0.98 * (double)(m - 1))];
}

static void draw_charts(FILE *o, const step_point *steps, size_t nsteps, const epoch_result *r,
                        unsigned n, unsigned first_epoch, double *buf)
{
    double *sx = buf, *sraw = sx + nsteps, *sema = sraw + nsteps;
    double *ex = sema + nsteps, *etrain = ex + n, *etest = etrain + n, *eacc = etest + n;
    double *tmp = eacc + n;
    /* The average as TensorBoard smooths: debiased, so it starts at the
     * first value instead of rising from 0. */
    double avg = 0, weight = 0;
    for (size_t i = 0; i < nsteps; i++) {
        sx[i] = steps[i].at, sraw[i] = steps[i].loss;
        if (isfinite(sraw[i])) {
            avg = EMA_WEIGHT * avg + (1 - EMA_WEIGHT) * sraw[i];
            weight = EMA_WEIGHT * weight + (1 - EMA_WEIGHT);
        }
        sema[i] = weight > 0 ? avg / weight : NAN;
    }
    unsigned best = 0;
    for (unsigned i = 0; i < n; i++) {
        ex[i] = r[i].epoch, etrain[i] = r[i].train_loss, etest[i] = r[i].test_loss;
        eacc[i] = 100 * r[i].test_accuracy;
        if (eacc[i] > eacc[best])
            best = i;
    }
    double xlo = first_epoch, xhi = first_epoch + (double)n;
    axis xaxis = fit_axis(xlo, xhi, n < 10 ? (int)n : 8, 1);
    xaxis.lo = xlo, xaxis.hi = xlo + ceil((xhi - xlo) / xaxis.step) * xaxis.step;

    double lo = INFINITY, hi = -INFINITY, raw_hi = -INFINITY;
    range_of(sraw, nsteps, &lo, &raw_hi);
    hi = high_quantile(sraw, nsteps, tmp);
    range_of(etrain, n, &lo, &hi);
    range_of(etest, n, &lo, &hi);
    if (!isfinite(lo))
        lo = 0, hi = 1;
    frame loss = {LEFT,
                  TOP,
                  PANEL - LEFT - RIGHT,
                  HEIGHT - TOP - BOTTOM,
                  xaxis,
                  fit_axis(fmax(0, lo - 0.03 * (hi - lo)), hi + 0.03 * (hi - lo), 6, 0)};
    fprintf(o, "<g id=\"loss\">\n");
    draw_axes(o, &loss, "loss", "cross-entropy loss", "");
    legend_entry le[4];
    int nle = 0;
    if (nsteps > 0) {
        /* Clipped to the plot area: the points above the axis leave it. */
        fprintf(o,
                "<clipPath id=\"loss-area\"><rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
                "height=\"%.2f\"/></clipPath>\n<g clip-path=\"url(#loss-area)\">\n",
                loss.x0, loss.y0, loss.w, loss.h);
        draw_series(o, &loss, "train-loss-points", COLOR_STEP_RAW, 1, sx, sraw, nsteps, false);
        draw_series(o, &loss, "train-loss-smoothed", COLOR_STEP_EMA, 1.5, sx, sema, nsteps, false);
        fprintf(o, "</g>\n");
        le[nle++] = (legend_entry){"train, per step", COLOR_STEP_RAW, 1};
        le[nle++] = (legend_entry){"train, per step (EMA)", COLOR_STEP_EMA, 1.5};
    }
    draw_series(o, &loss, "train-loss-epoch", COLOR_TRAIN, 2.5, ex, etrain, n, true);
    draw_series(o, &loss, "test-loss-epoch", COLOR_TEST, 2.5, ex, etest, n, true);
    le[nle++] = (legend_entry){"train, per epoch", COLOR_TRAIN, 2.5};
    le[nle++] = (legend_entry){"test, per epoch", COLOR_TEST, 2.5};
    draw_legend(o, &loss, le, nle, false);
    fprintf(o, "</g>\n");

    lo = INFINITY, hi = -INFINITY;
    range_of(eacc, n, &lo, &hi);
    if (!isfinite(lo))
        lo = 0, hi = 100;
    double pad = fmax(0.1 * (hi - lo), 0.5); /* a flat curve still gets an axis */
    axis yacc = fit_axis(fmax(0, lo - pad), fmin(100, hi + pad), 6, 0.01);
    frame acc = {PANEL + LEFT, TOP, PANEL - LEFT - RIGHT, HEIGHT - TOP - BOTTOM, xaxis, yacc};
    char title[96];
    if (isfinite(eacc[best]))
        snprintf(title, sizeof title, "test accuracy (best %.2f%%, epoch %u)", eacc[best],
                 r[best].epoch);
    else
        snprintf(title, sizeof title, "test accuracy");
    fprintf(o, "<g id=\"accuracy\">\n");
    draw_axes(o, &acc, title, "test accuracy", "%");
    draw_series(o, &acc, "test-accuracy-epoch", COLOR_ACCURACY, 2.5, ex, eacc, n, true);
    legend_entry la = {"test, per epoch", COLOR_ACCURACY, 2.5};
    draw_legend(o, &acc, &la, 1, true);
    fprintf(o, "</g>\n");
}

bool plot_write_svg(const char *path, const step_point *steps, size_t nsteps, const epoch_result *r,
                    unsigned n, unsigned first_epoch, char *err, size_t errlen)
{
    double *buf = malloc((4 * nsteps + 4 * (size_t)n + 1) * sizeof *buf);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    FILE *o = fopen(path, "w");
    if (!o) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        free(buf);
        return false;
    }
    fprintf(o,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
            "viewBox=\"0 0 %g %g\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
            "font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            WIDTH, HEIGHT, WIDTH, HEIGHT);
    draw_charts(o, steps, nsteps, r, n, first_epoch, buf);
    fprintf(o, "</svg>\n");
    free(buf);
    bool ok = !ferror(o);
    if (fclose(o) != 0)
        ok = false;
    if (!ok)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return ok;
}
