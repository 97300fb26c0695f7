/* CSV files read into a dataset: one sample per line, the features then
 * the class label, all numbers; a first line that is not all numbers is a
 * header. In three steps: the file loop (line endings, a byte-order mark,
 * blank lines), the field splitter (clrt__csv_split) and the row handler
 * that turns a line's fields into a sample. */
#include "io/io.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_blank(const char *s)
{
    return s[strspn(s, " \t")] == '\0';
}

/* The whole field, spaces around it allowed, is one number. */
static bool parse_float(const char *field, float *v)
{
    char *end;
    errno = 0;
    *v = strtof(field, &end);
    if (end == field)
        return false;
    return is_blank(end);
}

static bool parse_double(const char *field, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(field, &end);
    if (end == field)
        return false;
    return is_blank(end);
}

/* A field for a message: at most 40 characters, spaces trimmed. */
static void field_excerpt(const char *field, char *buf, size_t len)
{
    field += strspn(field, " \t");
    size_t n = strlen(field);
    while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\t'))
        n--;
    if (n > 40)
        snprintf(buf, len, "%.37s...", field);
    else
        snprintf(buf, len, "%.*s", (int)n, field);
}

size_t clrt__csv_split(char *line, char **fields, size_t cap)
{
    size_t count = 1;
    for (const char *p = line; (p = strchr(p, ',')) != NULL; p++)
        count++;
    if (count > cap)
        return count;
    fields[0] = line;
    for (size_t j = 1; j < count; j++) {
        char *comma = strchr(fields[j - 1], ',');
        *comma = '\0';
        fields[j] = comma + 1;
    }
    return count;
}

/* The samples read so far. */
typedef struct csv_rows {
    float *x, *y;
    size_t n, cap;
    size_t features; /* per row; 0 until the first line */
    bool labeled;    /* the last column is the class label */
    bool header;     /* the first line was a header */
    double max_label;
} csv_rows;

static bool csv_grow(csv_rows *r)
{
    if (r->n < r->cap)
        return true;
    size_t cap = r->cap ? r->cap * 2 : 256, xcount, xbytes;
    if (cap < r->cap || !clrt__mul_fits(cap, r->features, &xcount) ||
        !clrt__mul_fits(xcount, sizeof(float), &xbytes) || cap > SIZE_MAX / sizeof(float))
        return false;
    float *x = realloc(r->x, xbytes);
    if (!x)
        return false;
    r->x = x;
    float *y = realloc(r->y, cap * sizeof(float));
    if (!y)
        return false;
    r->y = y;
    r->cap = cap;
    return true;
}

/* One data row, its fields already counted, as the next sample of `r`. */
static clrt_status csv_sample(csv_rows *r, char **fields, const char *path, size_t lineno,
                              char *err, size_t errlen)
{
    char shown[48];
    if (!csv_grow(r))
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                                 "%s: out of host memory at line %zu", path, lineno);
    float *row = r->x + r->n * r->features;
    for (size_t j = 0; j < r->features; j++) {
        if (!parse_float(fields[j], &row[j])) {
            field_excerpt(fields[j], shown, sizeof shown);
            return clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                     "%s: line %zu, column %zu: \"%s\" is not a number", path,
                                     lineno, j + 1, shown);
        }
        if (!isfinite(row[j])) {
            field_excerpt(fields[j], shown, sizeof shown);
            return clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                     "%s: line %zu, column %zu: \"%s\" is not a finite float", path,
                                     lineno, j + 1, shown);
        }
    }
    if (!r->labeled) {
        r->y[r->n++] = 0.0f;
        return CLRT_OK;
    }
    size_t col = r->features;
    double label;
    if (!parse_double(fields[col], &label) || !clrt__is_class_index(label)) {
        field_excerpt(fields[col], shown, sizeof shown);
        return clrt__errbuf_fail(
            err, errlen, CLRT_ERR_FORMAT,
            "%s: line %zu, column %zu: the label \"%s\" is not a class index (an "
            "integer from 0 to %.0f)",
            path, lineno, col + 1, shown, CLRT__MAX_LABEL);
    }
    r->y[r->n] = (float)(label + 0.0); /* + 0.0 turns -0 into 0 */
    if (label > r->max_label)
        r->max_label = label;
    r->n++;
    return CLRT_OK;
}

/* The row handler: the first line sets the width (and is a header when any
 * field is not a number); every other must have that width and becomes a
 * sample. */
static clrt_status csv_fields(csv_rows *r, char **fields, size_t count, const char *path,
                              size_t lineno, char *err, size_t errlen)
{
    const size_t label_cols = r->labeled ? 1 : 0;
    if (r->features == 0) {
        if (count < 1 + label_cols)
            return clrt__errbuf_fail(
                err, errlen, CLRT_ERR_FORMAT,
                "%s: line %zu has 1 field; a row needs at least one feature and "
                "then the label",
                path, lineno);
        r->features = count - label_cols;
        for (size_t j = 0; j < count && !r->header; j++) {
            float v;
            r->header = !parse_float(fields[j], &v);
        }
        if (r->header)
            return CLRT_OK;
    } else if (count != r->features + label_cols) {
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                 "%s: line %zu has %zu fields, expected %zu", path, lineno, count,
                                 r->features + label_cols);
    }
    return csv_sample(r, fields, path, lineno, err, errlen);
}

/* The file loop of both readers; `labeled`: the last column is the label. */
static clrt_status csv_load(const char *fn, const char *path, bool labeled, clrt_dataset **out,
                            char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG,
                                 "%s: path and out are needed", fn);
    errno = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        char why[128];
        clrt__errno_text(errno, why, sizeof why);
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_IO, "cannot open the CSV file %s: %s", path,
                                 why);
    }
    /* strtof follows LC_NUMERIC: parse in the "C" locale whatever the
     * program set (uselocale is per thread, so no global state changes). */
    locale_t c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t caller_locale = c_numeric ? uselocale(c_numeric) : (locale_t)0;

    clrt_status st = CLRT_OK;
    csv_rows rows = {.labeled = labeled};
    char *line = NULL, **fields = NULL;
    size_t line_cap = 0, fields_cap = 0, lineno = 0;
    size_t first_blank = 0; /* a blank line since the last row */
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) != -1) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            st = clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                   "%s: line %zu holds a NUL byte (not a text file?)", path,
                                   lineno);
            goto out;
        }
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        char *text = line;
        if (lineno == 1 && strncmp(text, "\xEF\xBB\xBF", 3) == 0)
            text += 3; /* a UTF-8 byte-order mark */
        if (is_blank(text)) {
            if (!first_blank)
                first_blank = lineno;
            continue;
        }
        if (first_blank) {
            st = clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                   "%s: line %zu is empty (empty lines may only end the file)",
                                   path, first_blank);
            goto out;
        }

        size_t count = clrt__csv_split(text, fields, fields_cap);
        if (count > fields_cap) {
            size_t cap = count < 64 ? 64 : count;
            char **grown = cap <= SIZE_MAX / sizeof *fields
                               ? realloc(fields, cap * sizeof *fields)
                               : NULL;
            if (!grown) {
                st = clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                                       "%s: out of host memory at line %zu", path, lineno);
                goto out;
            }
            fields = grown;
            fields_cap = cap;
            clrt__csv_split(text, fields, fields_cap);
        }
        st = csv_fields(&rows, fields, count, path, lineno, err, errlen);
        if (st != CLRT_OK)
            goto out;
    }
    if (ferror(f)) {
        char why[128];
        clrt__errno_text(errno, why, sizeof why);
        st = clrt__errbuf_fail(err, errlen, CLRT_ERR_IO, "%s: read error after line %zu: %s", path,
                               lineno, why);
        goto out;
    }
    if (!feof(f)) {
        st = clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                               "%s: out of host memory reading line %zu", path, lineno + 1);
        goto out;
    }
    if (rows.n == 0) {
        st = clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT, "%s: %s", path,
                               rows.header ? "a header but no data rows" : "no rows");
        goto out;
    }

    clrt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        st = clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                               "out of host memory for a dataset");
        goto out;
    }
    ds->n = rows.n;
    ds->features = rows.features;
    ds->classes = labeled ? (size_t)rows.max_label + 1 : 0;
    /* Give back the growth slack. */
    float *x = realloc(rows.x, rows.n * rows.features * sizeof(float));
    float *y = realloc(rows.y, rows.n * sizeof(float));
    ds->x = x ? x : rows.x;
    ds->y = y ? y : rows.y;
    rows.x = rows.y = NULL;
    *out = ds;
out:
    free(rows.x);
    free(rows.y);
    free(fields);
    free(line);
    fclose(f);
    if (c_numeric) {
        uselocale(caller_locale);
        freelocale(c_numeric);
    }
    return st;
}

clrt_status clrt_dataset_load_csv(const char *path, clrt_dataset **out, char *err,
                                  size_t errlen)
{
    return csv_load("clrt_dataset_load_csv", path, true, out, err, errlen);
}

clrt_status clrt__csv_load_features(const char *path, clrt_dataset **out, char *err,
                                    size_t errlen)
{
    return csv_load("clrt__csv_load_features", path, false, out, err, errlen);
}
