/* Datasets on the host: IDX files (gzipped or not), CSV and arrays, per-feature
 * statistics and normalisation, and the loader that shuffles and uploads
 * mini-batches to a device through double-buffered staging. */
#include "io/io.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct clrt_dataset {
    size_t n;        /* rows */
    size_t features; /* columns of x */
    size_t classes;  /* 1 + the largest label (0 when empty) */
    float *x;        /* [n, features] */
    float *y;        /* [n], class indices as floats */
};

/* The loading functions have no context: their errors go into `err, errlen`. */
static clrt_status set_err(char *err, size_t errlen, clrt_status status, const char *fmt, ...)
    CLRT_PRINTF(4, 5);

static clrt_status set_err(char *err, size_t errlen, clrt_status status, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

static bool mul_fits(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return false;
    *out = a * b;
    return true;
}

/* The largest class index a float label holds exactly (2^24). */
#define MAX_LABEL 16777216.0

static bool is_class_index(double label)
{
    return label >= 0.0 && label <= MAX_LABEL && label == floor(label);
}

clrt_status clrt_dataset_create(size_t n, size_t features, const float *data,
                                const float *labels, clrt_dataset **out, char *err,
                                size_t errlen)
{
    if (out)
        *out = NULL;
    if (!out || (n > 0 && (!data || !labels)))
        return set_err(err, errlen, CLRT_ERR_INVALID_ARG,
                       "clrt_dataset_create: data, labels and out are needed");
    if (features == 0)
        return set_err(err, errlen, CLRT_ERR_INVALID_ARG,
                       "clrt_dataset_create: a dataset needs at least one feature");
    size_t count, bytes;
    if (!mul_fits(n, features, &count) || !mul_fits(count, sizeof(float), &bytes))
        return set_err(err, errlen, CLRT_ERR_SHAPE,
                       "clrt_dataset_create: %zu rows of %zu features overflow the address space",
                       n, features);
    float max_label = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_class_index(labels[i]))
            return set_err(err, errlen, CLRT_ERR_FORMAT,
                           "clrt_dataset_create: label %zu is %g, not a class index (an integer "
                           "from 0 to %.0f)",
                           i, (double)labels[i], MAX_LABEL);
        if (labels[i] > max_label)
            max_label = labels[i];
    }
    clrt_dataset *ds = calloc(1, sizeof *ds);
    if (ds && n > 0) {
        ds->x = malloc(bytes);
        ds->y = malloc(n * sizeof(float)); /* n <= count: fits */
    }
    if (!ds || (n > 0 && (!ds->x || !ds->y))) {
        clrt_dataset_destroy(ds);
        return set_err(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
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

/* ---------------------------------------------------------------- IDX
 * Header: two zero bytes, a data-type byte, a dimension count, then one
 * big-endian u32 per dimension; the data follows, row-major. Images are
 * [n, rows, cols] (magic 0x00000803), labels [n] (0x00000801), both u8. */

enum { IDX_U8 = 0x08, IDX_CHUNK = 1 << 20 };

typedef struct idx_file {
    const char *path;
    const char *what; /* "images", "labels" */
    gzFile gz;
    int ndims;
    uint32_t dims[3];
} idx_file;

static const char *idx_type_name(unsigned type)
{
    switch (type) {
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Read up to `len` bytes; *got is short only at the end of the data.
 * -1 on a read or decompression error (see gzerror). */
static int gz_read_all(gzFile gz, unsigned char *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        if (want > IDX_CHUNK)
            want = IDX_CHUNK;
        int n = gzread(gz, buf + *got, (unsigned)want);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        *got += (size_t)n;
    }
    return 0;
}

/* A read came back short or failed: say whether the file system failed
 * (CLRT_ERR_IO) or the file is cut short or corrupt (CLRT_ERR_FORMAT). */
static clrt_status idx_read_error(const idx_file *f, int failed, const char *part, size_t want,
                                  size_t got, char *err, size_t errlen)
{
    int saved_errno = errno;
    int code = Z_OK;
    const char *msg = gzerror(f->gz, &code);
    if (failed && code == Z_ERRNO)
        return set_err(err, errlen, CLRT_ERR_IO, "%s: read error in the %s: %s", f->path, part,
                       strerror(saved_errno));
    if (failed && code != Z_BUF_ERROR)
        return set_err(err, errlen, CLRT_ERR_FORMAT,
                       "%s: corrupt compressed data in the %s (zlib: %s)", f->path, part,
                       msg ? msg : "unknown error");
    return set_err(err, errlen, CLRT_ERR_FORMAT,
                   "%s: truncated: the %s ends at byte %zu of %zu", f->path, part, got, want);
}

/* Open an IDX file and check its header: u8 data of `want_ndims` dims. */
static clrt_status idx_open(idx_file *f, const char *path, const char *what, int want_ndims,
                            char *err, size_t errlen)
{
    f->path = path;
    f->what = what;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz)
        return set_err(err, errlen, CLRT_ERR_IO, "cannot open the %s file %s: %s", what, path,
                       errno ? strerror(errno) : "out of memory");
    gzbuffer(f->gz, 1u << 17); /* before the first read; a failure keeps the default */

    unsigned char head[4 + 4 * 3];
    size_t got;
    int rc = gz_read_all(f->gz, head, 4, &got);
    if (rc != 0 || got < 4)
        return idx_read_error(f, rc != 0, "IDX header", 4, got, err, errlen);
    uint32_t magic = be32(head);
    if (head[0] != 0 || head[1] != 0)
        return set_err(err, errlen, CLRT_ERR_FORMAT,
                       "%s: not an IDX file (magic 0x%08x; IDX starts with two zero bytes)",
                       path, (unsigned)magic);
    if (head[2] != IDX_U8) {
        const char *name = idx_type_name(head[2]);
        if (name)
            return set_err(err, errlen, CLRT_ERR_UNSUPPORTED,
                           "%s: IDX data type 0x%02x (%s) is not supported, only unsigned bytes "
                           "(0x08)",
                           path, (unsigned)head[2], name);
        return set_err(err, errlen, CLRT_ERR_FORMAT,
                       "%s: not an IDX file (unknown data type 0x%02x in magic 0x%08x)", path,
                       (unsigned)head[2], (unsigned)magic);
    }
    if (head[3] != want_ndims)
        return set_err(err, errlen, CLRT_ERR_FORMAT,
                       "%s: an IDX %s file has %d dimension%s (magic 0x%08x), this one has %u "
                       "(magic 0x%08x)",
                       path, what, want_ndims, want_ndims == 1 ? "" : "s",
                       (unsigned)(0x800 | want_ndims), (unsigned)head[3], (unsigned)magic);
    f->ndims = want_ndims;
    size_t dims_len = 4 * (size_t)want_ndims;
    rc = gz_read_all(f->gz, head + 4, dims_len, &got);
    if (rc != 0 || got < dims_len)
        return idx_read_error(f, rc != 0, "IDX header", 4 + dims_len, 4 + got, err, errlen);
    for (int i = 0; i < want_ndims; i++)
        f->dims[i] = be32(head + 4 + 4 * i);
    return CLRT_OK;
}

/* Read exactly `count` data bytes, converting each through `table`, into a
 * new array (NULL when count is 0); *max_byte is the largest byte seen.
 * The array grows with the data actually read, so a header that claims far
 * more than the file holds fails as truncated, not as a huge allocation. */
static clrt_status idx_read_data(idx_file *f, size_t count, const float table[256],
                                 float **out, unsigned *max_byte, char *err, size_t errlen)
{
    *out = NULL;
    *max_byte = 0;
    char part[32];
    snprintf(part, sizeof part, "%s data", f->what);
    size_t header = 4 + 4 * (size_t)f->ndims;
    unsigned char *chunk = malloc(IDX_CHUNK);
    if (!chunk)
        return set_err(err, errlen, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory", f->path);
    float *data = NULL;
    size_t cap = 0, done = 0;
    unsigned maxb = 0;
    clrt_status st = CLRT_OK;
    while (done < count) {
        size_t want = count - done < IDX_CHUNK ? count - done : IDX_CHUNK;
        size_t got;
        int rc = gz_read_all(f->gz, chunk, want, &got);
        if (rc == 0 && done + got > cap) {
            size_t new_cap = cap ? cap : (size_t)16 * IDX_CHUNK;
            while (new_cap < done + got)
                new_cap = new_cap > SIZE_MAX / 2 ? SIZE_MAX : new_cap * 2;
            if (new_cap > count)
                new_cap = count;
            float *grown = realloc(data, new_cap * sizeof *data); /* count·4 fits: checked */
            if (!grown) {
                st = set_err(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                             "%s: out of host memory for %zu values", f->path, count);
                goto out;
            }
            data = grown;
            cap = new_cap;
        }
        if (rc == 0) {
            for (size_t i = 0; i < got; i++) {
                data[done + i] = table[chunk[i]];
                if (chunk[i] > maxb)
                    maxb = chunk[i];
            }
            done += got;
        }
        if (rc != 0 || got < want) {
            st = idx_read_error(f, rc != 0, part, header + count, header + done, err, errlen);
            goto out;
        }
    }
    size_t extra;
    int rc = gz_read_all(f->gz, chunk, 1, &extra);
    if (rc != 0) {
        st = idx_read_error(f, 1, part, header + count, header + done, err, errlen);
        goto out;
    }
    if (extra > 0) {
        st = set_err(err, errlen, CLRT_ERR_FORMAT,
                     "%s: longer than its header says: data continues after the %zu bytes it "
                     "declares",
                     f->path, header + count);
        goto out;
    }
    *out = data;
    *max_byte = maxb;
    data = NULL;
out:
    free(data);
    free(chunk);
    return st;
}

clrt_status clrt_dataset_load_idx(const char *images_path, const char *labels_path,
                                  clrt_dataset **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!images_path || !labels_path || !out)
        return set_err(err, errlen, CLRT_ERR_INVALID_ARG,
                       "clrt_dataset_load_idx: images_path, labels_path and out are needed");
    idx_file img = {0}, lab = {0};
    clrt_dataset *ds = NULL;
    clrt_status st = idx_open(&img, images_path, "images", 3, err, errlen);
    if (st != CLRT_OK)
        goto out;
    st = idx_open(&lab, labels_path, "labels", 1, err, errlen);
    if (st != CLRT_OK)
        goto out;

    uint32_t n = img.dims[0], rows = img.dims[1], cols = img.dims[2];
    if (lab.dims[0] != n) {
        st = set_err(err, errlen, CLRT_ERR_FORMAT, "%s holds %u images but %s holds %u labels",
                     images_path, (unsigned)n, labels_path, (unsigned)lab.dims[0]);
        goto out;
    }
    if (rows == 0 || cols == 0) {
        st = set_err(err, errlen, CLRT_ERR_FORMAT, "%s: images of %u x %u pixels are empty",
                     images_path, (unsigned)rows, (unsigned)cols);
        goto out;
    }
    size_t features, count, bytes;
    if (!mul_fits(rows, cols, &features) || !mul_fits(n, features, &count) ||
        !mul_fits(count, sizeof(float), &bytes)) {
        st = set_err(err, errlen, CLRT_ERR_FORMAT,
                     "%s: %u images of %u x %u pixels are more than this machine can address",
                     images_path, (unsigned)n, (unsigned)rows, (unsigned)cols);
        goto out;
    }
    ds = calloc(1, sizeof *ds);
    if (!ds) {
        st = set_err(err, errlen, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a dataset");
        goto out;
    }
    ds->n = n;
    ds->features = features;

    float pixel[256], index[256];
    for (int i = 0; i < 256; i++) {
        pixel[i] = (float)i / 255.0f; /* as torchvision's ToTensor: float32 x / 255 */
        index[i] = (float)i;
    }
    unsigned max_pixel, max_label;
    st = idx_read_data(&img, count, pixel, &ds->x, &max_pixel, err, errlen);
    if (st != CLRT_OK)
        goto out;
    st = idx_read_data(&lab, n, index, &ds->y, &max_label, err, errlen);
    if (st != CLRT_OK)
        goto out;
    ds->classes = n > 0 ? (size_t)max_label + 1 : 0;
    *out = ds;
    ds = NULL;
out:
    if (img.gz)
        gzclose(img.gz);
    if (lab.gz)
        gzclose(lab.gz);
    clrt_dataset_destroy(ds);
    return st;
}

/* ---------------------------------------------------------------- CSV */

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

typedef struct csv_rows {
    float *x, *y;
    size_t n, cap, features;
    double max_label;
} csv_rows;

static bool csv_grow(csv_rows *r)
{
    if (r->n < r->cap)
        return true;
    size_t cap = r->cap ? r->cap * 2 : 256, xcount, xbytes;
    if (cap < r->cap || !mul_fits(cap, r->features, &xcount) ||
        !mul_fits(xcount, sizeof(float), &xbytes) || cap > SIZE_MAX / sizeof(float))
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

/* Parse one data row of `count` fields into the next slot of `r`. */
static clrt_status csv_row(csv_rows *r, char **fields, const char *path, size_t lineno,
                           char *err, size_t errlen)
{
    char shown[48];
    if (!csv_grow(r))
        return set_err(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                       "%s: out of host memory at line %zu", path, lineno);
    float *row = r->x + r->n * r->features;
    for (size_t j = 0; j < r->features; j++) {
        if (!parse_float(fields[j], &row[j])) {
            field_excerpt(fields[j], shown, sizeof shown);
            return set_err(err, errlen, CLRT_ERR_FORMAT,
                           "%s: line %zu, column %zu: \"%s\" is not a number", path, lineno,
                           j + 1, shown);
        }
        if (!isfinite(row[j])) {
            field_excerpt(fields[j], shown, sizeof shown);
            return set_err(err, errlen, CLRT_ERR_FORMAT,
                           "%s: line %zu, column %zu: \"%s\" is not a finite float", path,
                           lineno, j + 1, shown);
        }
    }
    size_t col = r->features;
    double label;
    if (!parse_double(fields[col], &label) || !is_class_index(label)) {
        field_excerpt(fields[col], shown, sizeof shown);
        return set_err(err, errlen, CLRT_ERR_FORMAT,
                       "%s: line %zu, column %zu: the label \"%s\" is not a class index (an "
                       "integer from 0 to %.0f)",
                       path, lineno, col + 1, shown, MAX_LABEL);
    }
    r->y[r->n] = (float)(label + 0.0); /* + 0.0 turns -0 into 0 */
    if (label > r->max_label)
        r->max_label = label;
    r->n++;
    return CLRT_OK;
}

clrt_status clrt_dataset_load_csv(const char *path, clrt_dataset **out, char *err,
                                  size_t errlen)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return set_err(err, errlen, CLRT_ERR_INVALID_ARG,
                       "clrt_dataset_load_csv: path and out are needed");
    errno = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return set_err(err, errlen, CLRT_ERR_IO, "cannot open the CSV file %s: %s", path,
                       strerror(errno));
    /* strtof follows LC_NUMERIC: parse in the "C" locale whatever the
     * program set (uselocale is per thread, so no global state changes). */
    locale_t c_numeric = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t caller_locale = c_numeric ? uselocale(c_numeric) : (locale_t)0;

    clrt_status st = CLRT_OK;
    csv_rows rows = {0};
    char *line = NULL, **fields = NULL;
    size_t line_cap = 0, fields_cap = 0;
    size_t lineno = 0, expected = 0; /* fields per row, 0 until the first row */
    size_t first_blank = 0;          /* a blank line since the last row */
    bool header = false;
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) != -1) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            st = set_err(err, errlen, CLRT_ERR_FORMAT,
                         "%s: line %zu holds a NUL byte (not a text file?)", path, lineno);
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
            st = set_err(err, errlen, CLRT_ERR_FORMAT,
                         "%s: line %zu is empty (empty lines may only end the file)", path,
                         first_blank);
            goto out;
        }

        size_t count = 1;
        for (const char *p = text; (p = strchr(p, ',')) != NULL; p++)
            count++;
        if (count > fields_cap) {
            size_t cap = count < 64 ? 64 : count;
            char **grown = cap <= SIZE_MAX / sizeof *fields
                               ? realloc(fields, cap * sizeof *fields)
                               : NULL;
            if (!grown) {
                st = set_err(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                             "%s: out of host memory at line %zu", path, lineno);
                goto out;
            }
            fields = grown;
            fields_cap = cap;
        }
        fields[0] = text;
        for (size_t j = 1; j < count; j++) {
            char *comma = strchr(fields[j - 1], ',');
            *comma = '\0';
            fields[j] = comma + 1;
        }

        if (expected == 0) {
            if (count < 2) {
                st = set_err(err, errlen, CLRT_ERR_FORMAT,
                             "%s: line %zu has 1 field; a row needs at least one feature and "
                             "then the label",
                             path, lineno);
                goto out;
            }
            expected = count;
            rows.features = count - 1;
            for (size_t j = 0; j < count && !header; j++) {
                float v;
                header = !parse_float(fields[j], &v);
            }
            if (header)
                continue;
        } else if (count != expected) {
            st = set_err(err, errlen, CLRT_ERR_FORMAT, "%s: line %zu has %zu fields, expected %zu",
                         path, lineno, count, expected);
            goto out;
        }
        st = csv_row(&rows, fields, path, lineno, err, errlen);
        if (st != CLRT_OK)
            goto out;
    }
    if (ferror(f)) {
        st = set_err(err, errlen, CLRT_ERR_IO, "%s: read error after line %zu: %s", path,
                     lineno, strerror(errno));
        goto out;
    }
    if (!feof(f)) {
        st = set_err(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                     "%s: out of host memory reading line %zu", path, lineno + 1);
        goto out;
    }
    if (rows.n == 0) {
        st = set_err(err, errlen, CLRT_ERR_FORMAT, "%s: %s", path,
                     header ? "a header but no data rows" : "no rows");
        goto out;
    }

    clrt_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        st = set_err(err, errlen, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a dataset");
        goto out;
    }
    ds->n = rows.n;
    ds->features = rows.features;
    ds->classes = (size_t)rows.max_label + 1;
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

/* -------------------------------------------------------------- loader
 * The order of epoch e with shuffling is fixed by (seed, e) alone:
 *   state = mix(mix(seed) + e), mix being splitmix64's finaliser;
 *   each draw is splitmix64: state += 0x9E3779B97F4A7C15, output mix(state);
 *   uniform(b) rejects draws below (2^64 - b) mod b, returns draw mod b;
 *   order = 0..n-1, then for i = n-1 down to 1: swap order[i], order[uniform(i+1)].
 * Only 64-bit integer arithmetic: the same order on every machine, and a
 * resumed run sees exactly the order an uninterrupted one would.
 *
 * Staging: two stages alternate (batch k uses stage k mod 2). Each has a
 * host buffer, device tensors for a full batch and, made on first need,
 * for the shorter last batch. The host buffer is refilled only after the
 * write from its previous use has completed; the device tensors are
 * overwritten only by a write enqueued after everything the caller enqueued
 * on the previous batch from them (the queue is in order). So gathering
 * batch k+1 on the host overlaps the device's work on batch k. */

typedef struct loader_stage {
    float *hx, *hy;        /* host staging: [batch, features], [batch] */
    clrt_tensor *x, *y;    /* a full batch on the device */
    clrt_tensor *px, *py;  /* the last, partial batch (n mod batch rows) */
    cl_event pending[2];   /* the writes from hx and hy, until known done */
} loader_stage;

struct clrt_loader {
    clrt_ctx *ctx;
    const clrt_dataset *ds;
    size_t batch;    /* rows per batch, at most n */
    size_t batches;  /* ceil(n / batch) */
    size_t next;     /* the next batch of the epoch */
    int shuffle;
    uint64_t seed;
    size_t *order;   /* the epoch's row order */
    loader_stage stage[2];
};

#define SPLITMIX_GAMMA 0x9E3779B97F4A7C15u

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *state)
{
    *state += SPLITMIX_GAMMA;
    return mix64(*state);
}

/* Uniform in [0, bound), bound >= 1, without modulo bias. */
static uint64_t uniform_below(uint64_t *state, uint64_t bound)
{
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t r = splitmix64(state);
        if (r >= threshold)
            return r % bound;
    }
}

static void loader_order(clrt_loader *l, uint64_t epoch)
{
    size_t n = l->ds->n;
    for (size_t i = 0; i < n; i++)
        l->order[i] = i;
    if (!l->shuffle)
        return;
    uint64_t state = mix64(mix64(l->seed) + epoch);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)uniform_below(&state, (uint64_t)i + 1);
        size_t t = l->order[i];
        l->order[i] = l->order[j];
        l->order[j] = t;
    }
}

void clrt_loader_options_init(clrt_loader_options *opt)
{
    if (!opt)
        return;
    memset(opt, 0, sizeof *opt);
    opt->batch = 128;
    opt->shuffle = 0;
    opt->seed = 0;
}

clrt_status clrt_loader_create(clrt_ctx *ctx, const clrt_dataset *ds,
                               const clrt_loader_options *opt, clrt_loader **out)
{
    if (out)
        *out = NULL;
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    if (!ds || !out)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_loader_create: ds and out are needed");
    clrt_loader_options defaults;
    if (!opt) {
        clrt_loader_options_init(&defaults);
        opt = &defaults;
    }
    if (opt->batch < 1)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_loader_create: the batch size is 0; it must be at least 1");
    if (ds->n == 0 || ds->features == 0)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_loader_create: the dataset is empty (%zu rows of %zu features)",
                          ds->n, ds->features);
    clrt_loader *l = calloc(1, sizeof *l);
    size_t order_bytes;
    if (l && mul_fits(ds->n, sizeof *l->order, &order_bytes))
        l->order = malloc(order_bytes);
    if (!l || !l->order) {
        free(l);
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY,
                          "clrt_loader_create: out of host memory for %zu rows", ds->n);
    }
    l->ctx = ctx;
    l->ds = ds;
    /* A batch larger than the dataset is the whole dataset: no tensor
     * bigger than the data, and no partial batch. */
    l->batch = opt->batch < ds->n ? opt->batch : ds->n;
    l->batches = ds->n / l->batch + (ds->n % l->batch != 0);
    l->shuffle = opt->shuffle != 0;
    l->seed = opt->seed;
    loader_order(l, 0); /* usable before the first clrt_loader_begin: epoch 0 */
    *out = l;
    return CLRT_OK;
}

/* Wait until the device no longer reads the stage's host buffers. */
static clrt_status stage_wait(clrt_ctx *ctx, loader_stage *s)
{
    cl_event events[2];
    cl_uint count = 0;
    for (int i = 0; i < 2; i++)
        if (s->pending[i])
            events[count++] = s->pending[i];
    clrt_status st = CLRT_OK;
    if (count > 0) {
        cl_int rc = clWaitForEvents(count, events);
        if (rc != CL_SUCCESS)
            st = clrt__fail_cl(ctx, rc, "clWaitForEvents",
                               "clrt_loader_next: the upload of an earlier batch");
    }
    for (int i = 0; i < 2; i++) {
        if (s->pending[i])
            clReleaseEvent(s->pending[i]);
        s->pending[i] = NULL;
    }
    return st;
}

void clrt_loader_destroy(clrt_loader *l)
{
    if (!l)
        return;
    for (int k = 0; k < 2; k++) {
        loader_stage *s = &l->stage[k];
        stage_wait(l->ctx, s); /* the host buffers must outlive their writes */
        clrt_tensor_destroy(s->x);
        clrt_tensor_destroy(s->y);
        clrt_tensor_destroy(s->px);
        clrt_tensor_destroy(s->py);
        free(s->hx);
        free(s->hy);
    }
    free(l->order);
    free(l);
}

clrt_status clrt_loader_begin(clrt_loader *l, uint64_t epoch)
{
    if (!l)
        return CLRT_ERR_INVALID_ARG;
    loader_order(l, epoch);
    l->next = 0;
    return CLRT_OK;
}

size_t clrt_loader_batches(const clrt_loader *l)
{
    return l ? l->batches : 0;
}

/* The stage's host buffers and the device tensors for a batch of `rows`. */
static clrt_status stage_prepare(clrt_loader *l, loader_stage *s, size_t rows,
                                 clrt_tensor **tx, clrt_tensor **ty)
{
    size_t d = l->ds->features;
    if (!s->hx) {
        /* batch <= n, so batch·features floats fit as the dataset does. */
        s->hx = malloc(l->batch * d * sizeof(float));
        s->hy = malloc(l->batch * sizeof(float));
        if (!s->hx || !s->hy) {
            free(s->hx);
            free(s->hy);
            s->hx = s->hy = NULL;
            return clrt__fail(l->ctx, CLRT_ERR_OUT_OF_MEMORY,
                              "clrt_loader_next: out of host memory for a staging buffer of "
                              "%zu x %zu floats",
                              l->batch, d);
        }
    }
    bool full = rows == l->batch;
    clrt_tensor **x = full ? &s->x : &s->px, **y = full ? &s->y : &s->py;
    if (!*x) {
        const size_t shape[2] = {rows, d};
        CLRT_TRY(clrt_tensor_create(l->ctx, 2, shape, CLRT_TENSOR_UNINIT, x));
    }
    if (!*y)
        CLRT_TRY(clrt_tensor_create(l->ctx, 1, &rows, CLRT_TENSOR_UNINIT, y));
    *tx = *x;
    *ty = *y;
    return CLRT_OK;
}

clrt_status clrt_loader_next(clrt_loader *l, const clrt_tensor **x, const clrt_tensor **labels)
{
    if (x)
        *x = NULL;
    if (labels)
        *labels = NULL;
    if (!l)
        return CLRT_ERR_INVALID_ARG;
    if (!x || !labels)
        return clrt__fail(l->ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_loader_next: x and labels are needed");
    if (l->next >= l->batches)
        return CLRT_OK; /* the epoch is over */

    const clrt_dataset *ds = l->ds;
    size_t d = ds->features, start = l->next * l->batch;
    size_t rows = ds->n - start < l->batch ? ds->n - start : l->batch;
    loader_stage *s = &l->stage[l->next % 2];
    CLRT_TRY(stage_wait(l->ctx, s));
    clrt_tensor *tx = NULL, *ty = NULL;
    CLRT_TRY(stage_prepare(l, s, rows, &tx, &ty));

    const size_t *idx = l->order + start;
    if (!l->shuffle) {
        memcpy(s->hx, ds->x + start * d, rows * d * sizeof(float));
        memcpy(s->hy, ds->y + start, rows * sizeof(float));
    } else {
        for (size_t r = 0; r < rows; r++) {
            memcpy(s->hx + r * d, ds->x + idx[r] * d, d * sizeof(float));
            s->hy[r] = ds->y[idx[r]];
        }
    }
    CLRT_TRY(clrt_tensor_write_async(tx, s->hx, rows * d, &s->pending[0]));
    CLRT_TRY(clrt_tensor_write_async(ty, s->hy, rows, &s->pending[1]));
    /* Start the upload now, while the host goes on (GPU drivers batch
     * commands until a flush). */
    cl_int rc = clFlush(l->ctx->queue);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(l->ctx, rc, "clFlush", "clrt_loader_next");
    l->next++;
    *x = tx;
    *labels = ty;
    return CLRT_OK;
}

static clrt_status loader_source(void *source, const clrt_tensor **x, const clrt_tensor **labels)
{
    return clrt_loader_next(source, x, labels);
}

clrt_status clrt_model_evaluate(clrt_model *m, clrt_loader *l, double *loss, double *accuracy)
{
    if (!m || !l)
        return clrt__fail(m ? clrt_model_ctx(m) : NULL, CLRT_ERR_INVALID_ARG,
                          "clrt_model_evaluate: model and loader are needed");
    CLRT_TRY(clrt_loader_begin(l, 0));
    return clrt__model_evaluate_batches(m, loader_source, l, loss, accuracy);
}
