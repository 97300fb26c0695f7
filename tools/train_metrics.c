/* clrt-train's machine-readable output, through jansson: the --metrics
 * file (one JSON object a line, written as the run goes, flushed so that
 * `tail -f` shows it) and the --json document printed at the end. */
#include "train_report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* JSON has no NaN or infinity: a loss that is not finite is null. */
static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static bool write_line(FILE *f, json_t *obj, char *err, size_t errlen)
{
    errno = 0;
    /* 9 significant digits: a float's, which the losses are. */
    const size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9);
    bool ok = obj && json_dumpf(obj, f, flags) == 0 && fputc('\n', f) != EOF && fflush(f) == 0;
    json_decref(obj);
    if (!ok)
        snprintf(err, errlen, "cannot write the --metrics file: %s",
                 errno ? strerror(errno) : "JSON encoding failed");
    return ok;
}

bool metrics_write_step(FILE *f, const step_point *s, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s, s:I, s:i, s:o, s:o, s:o, s:o, s:o}", "kind", "step", "step",
                          (json_int_t)s->step, "epoch", (int)s->epoch, "at", number(s->at), "lr",
                          number(s->lr), "loss", number(s->loss), "samples_per_s",
                          number(s->samples_per_s), "time_s", number(s->time_s));
    return write_line(f, o, err, errlen);
}

bool metrics_write_epoch(FILE *f, const epoch_result *r, char *err, size_t errlen)
{
    json_t *o = json_pack("{s:s, s:I, s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "kind", "epoch", "step",
                          (json_int_t)r->step, "epoch", (int)r->epoch, "lr", number(r->lr), "loss",
                          number(r->train_loss), "test_loss", number(r->test_loss), "test_accuracy",
                          number(r->test_accuracy), "samples_per_s", number(r->samples_per_s),
                          "time_s", number(r->time_s));
    return write_line(f, o, err, errlen);
}

bool metrics_print_results(FILE *f, const clrt_device_info *dev, const char *gemm_backend,
                           const epoch_result *r, unsigned n, char *err, size_t errlen)
{
    json_t *epochs = json_array();
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(epochs,
                              json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "epoch", (int)r[i].epoch,
                                        "lr", r[i].lr, "train_loss", r[i].train_loss, "test_loss",
                                        r[i].test_loss, "test_accuracy", r[i].test_accuracy,
                                        "samples_per_s", r[i].samples_per_s));
    const epoch_result *last = n ? &r[n - 1] : NULL;
    json_t *root = json_pack("{s:s, s:s, s:s, s:o, s:{s:f, s:f, s:f, s:f}}", "device", dev->name,
                             "platform", dev->platform, "gemm_backend", gemm_backend, "epochs",
                             epochs, "final", "train_loss", last ? last->train_loss : 0.0,
                             "test_loss", last ? last->test_loss : 0.0, "test_accuracy",
                             last ? last->test_accuracy : 0.0, "samples_per_s",
                             last ? last->samples_per_s : 0.0);
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!text) {
        snprintf(err, errlen, "could not encode the results as JSON");
        return false;
    }
    fprintf(f, "%s\n", text);
    free(text);
    return true;
}
