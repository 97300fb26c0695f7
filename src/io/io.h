/* The io layer: data sets (IDX, CSV), the device loader, safetensors files
 * and checkpoints. The public API is in clrt.h; this header is what the
 * io files share and what the layers above (verify, the tools' tests) may
 * use. Includes the nn layer only. Not installed. */
#ifndef CLRT_IO_H
#define CLRT_IO_H

#include "nn/nn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ----------------------------------------------------------- dataset.c */

struct clrt_dataset {
    size_t n;        /* rows */
    size_t features; /* columns of x */
    size_t classes;  /* 1 + the largest label (0 when empty) */
    float *x;        /* [n, features] */
    float *y;        /* [n], class indices as floats */
};

/* The largest class index a float label holds exactly (2^24). */
#define CLRT__MAX_LABEL 16777216.0

/* An integer from 0 to CLRT__MAX_LABEL. */
bool clrt__is_class_index(double label);

/* *out = a * b, false when it overflows size_t. */
bool clrt__mul_fits(size_t a, size_t b, size_t *out);

/* The dataset loaders have no context: format into `err, errlen` (either
 * may be NULL/0) and return `status`. */
clrt_status clrt__io_err(char *err, size_t errlen, clrt_status status, const char *fmt, ...)
    CLRT_PRINTF(4, 5);

/* --------------------------------------------------------------- csv.c */

/* Split one CSV line (its line ending removed) at every comma, in place:
 * each comma becomes a NUL and fields[j] points at field j. Nothing else is
 * special: a quote is an ordinary character (no quoting), spaces stay in
 * the field (the number parser skips them), an empty line is one empty
 * field and a trailing comma ends the line with an empty field. Returns the
 * number of fields; when that is more than `cap`, the line is left as it
 * was and nothing is stored (call again with room for them all). */
size_t clrt__csv_split(char *line, char **fields, size_t cap);

#endif /* CLRT_IO_H */
