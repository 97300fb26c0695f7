/* Datasets on the host: made from arrays, their accessors, per-feature
 * statistics and normalisation. The file readers are idx.c and csv.c, the
 * device loader loader.c. */
#include "io/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool clrt__mul_fits(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return false;
    *out = a * b;
    return true;
}

bool clrt__is_class_index(double label)
{
    return label >= 0.0 && label <= CLRT__MAX_LABEL && label == floor(label);
}

clrt_status clrt_dataset_create(size_t n, size_t features, const float *data,
                                const float *labels, clrt_dataset **out, char *err,
                                size_t errlen)
{
    if (out)
        *out = NULL;
    if (!out || (n > 0 && (!data || !labels)))
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG,
                                 "clrt_dataset_create: data, labels and out are needed");
    if (features == 0)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG,
                                 "clrt_dataset_create: a dataset needs at least one feature");
    size_t count, bytes;
    if (!clrt__mul_fits(n, features, &count) || !clrt__mul_fits(count, sizeof(float), &bytes))
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_SHAPE,
                                 "clrt_dataset_create: %zu rows of %zu features overflow the "
                                 "address space",
                                 n, features);
    float max_label = 0;
    for (size_t i = 0; i < n; i++) {
        if (!clrt__is_class_index(labels[i]))
            return clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                     "clrt_dataset_create: label %zu is %g, not a class index (an "
                                     "integer from 0 to %.0f)",
                                     i, (double)labels[i], CLRT__MAX_LABEL);
        if (labels[i] > max_label)
            max_label = labels[i];
    }
    /* As the CSV reader refuses them: a NaN or infinite feature makes every
     * loss and gradient it reaches NaN, far from where it came in. */
    for (size_t k = 0; k < count; k++)
        if (!isfinite(data[k]))
            return clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                     "clrt_dataset_create: row %zu, column %zu is %g, not a "
                                     "finite float (rows and columns counted from 0)",
                                     k / features, k % features, (double)data[k]);
    clrt_dataset *ds = calloc(1, sizeof *ds);
    if (ds && n > 0) {
        ds->x = malloc(bytes);
        ds->y = malloc(n * sizeof(float)); /* n <= count: fits */
    }
    if (!ds || (n > 0 && (!ds->x || !ds->y))) {
        clrt_dataset_destroy(ds);
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                                 "clrt_dataset_create: out of host memory for %zu x %zu floats", n,
                                 features);
    }
    ds->n = n;
    ds->features = features;
    ds->classes = n > 0 ? (size_t)max_label + 1 : 0;
    if (n > 0) {
        memcpy(ds->x, data, bytes);
        for (size_t i = 0; i < n; i++)
            ds->y[i] = labels[i] + 0.0f; /* + 0 turns -0 into 0 */
    }
    *out = ds;
    return CLRT_OK;
}

void clrt_dataset_destroy(clrt_dataset *ds)
{
    if (!ds)
        return;
    free(ds->x);
    free(ds->y);
    free(ds);
}

size_t clrt_dataset_size(const clrt_dataset *ds)
{
    return ds ? ds->n : 0;
}

size_t clrt_dataset_features(const clrt_dataset *ds)
{
    return ds ? ds->features : 0;
}

size_t clrt_dataset_classes(const clrt_dataset *ds)
{
    return ds ? ds->classes : 0;
}

const float *clrt_dataset_data(const clrt_dataset *ds)
{
    return ds ? ds->x : NULL;
}

const float *clrt_dataset_labels(const clrt_dataset *ds)
{
    return ds ? ds->y : NULL;
}

/* ---------------------------------------------------------- statistics */

clrt_status clrt_dataset_stats(const clrt_dataset *ds, float *mean, float *std)
{
    if (!ds || !mean || !std || ds->n == 0)
        return CLRT_ERR_INVALID_ARG;
    size_t n = ds->n, d = ds->features;
    double *sum = calloc(d, sizeof *sum), *sq = calloc(d, sizeof *sq);
    if (!sum || !sq) {
        free(sum);
        free(sq);
        return CLRT_ERR_OUT_OF_MEMORY;
    }
    /* Two passes in double: the mean, then squared deviations from it (no
     * cancellation, unlike E[x²] - E[x]²). */
    for (size_t i = 0; i < n; i++) {
        const float *row = ds->x + i * d;
        for (size_t j = 0; j < d; j++)
            sum[j] += row[j];
    }
    for (size_t j = 0; j < d; j++)
        sum[j] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        const float *row = ds->x + i * d;
        for (size_t j = 0; j < d; j++) {
            double dev = row[j] - sum[j];
            sq[j] += dev * dev;
        }
    }
    for (size_t j = 0; j < d; j++) {
        mean[j] = (float)sum[j];
        float s = (float)sqrt(sq[j] / (double)n);
        std[j] = s == 0.0f ? 1.0f : s; /* a constant feature is left as it is, less its mean */
    }
    free(sum);
    free(sq);
    return CLRT_OK;
}

clrt_status clrt_dataset_normalize(clrt_dataset *ds, const float *mean, const float *std)
{
    if (!ds || !mean || !std)
        return CLRT_ERR_INVALID_ARG;
    size_t d = ds->features;
    for (size_t j = 0; j < d; j++)
        if (!isfinite(mean[j]) || !isfinite(std[j]) || std[j] == 0.0f)
            return CLRT_ERR_INVALID_ARG; /* checked first: nothing is half-normalised */
    for (size_t i = 0; i < ds->n; i++) {
        float *row = ds->x + i * d;
        for (size_t j = 0; j < d; j++)
            row[j] = (row[j] - mean[j]) / std[j];
    }
    return CLRT_OK;
}
