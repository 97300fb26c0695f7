/* IDX files (MNIST's format), gzipped or not, read into a dataset:
 * images [n, rows, cols] of u8 scaled to [0, 1], labels [n] of u8. */
#include "io/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
    if (failed && code == Z_ERRNO) {
        char why[128];
        clrt__errno_text(saved_errno, why, sizeof why);
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_IO, "%s: read error in the %s: %s", f->path,
                                 part, why);
    }
    if (failed && code != Z_BUF_ERROR)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                 "%s: corrupt compressed data in the %s (zlib: %s)", f->path, part,
                                 msg ? msg : "unknown error");
    return clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                             "%s: truncated: the %s ends at byte %zu of %zu", f->path, part, got,
                             want);
}

/* Open an IDX file and check its header: u8 data of `want_ndims` dims. */
static clrt_status idx_open(idx_file *f, const char *path, const char *what, int want_ndims,
                            char *err, size_t errlen)
{
    f->path = path;
    f->what = what;
    errno = 0;
    f->gz = gzopen(path, "rb");
    if (!f->gz) {
        char why[128] = "out of memory";
        if (errno)
            clrt__errno_text(errno, why, sizeof why);
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_IO, "cannot open the %s file %s: %s", what,
                                 path, why);
    }
    gzbuffer(f->gz, 1u << 17); /* before the first read; a failure keeps the default */

    unsigned char head[4 + 4 * 3];
    size_t got;
    int rc = gz_read_all(f->gz, head, 4, &got);
    if (rc != 0 || got < 4)
        return idx_read_error(f, rc != 0, "IDX header", 4, got, err, errlen);
    uint32_t magic = be32(head);
    if (head[0] != 0 || head[1] != 0)
        return clrt__errbuf_fail(
            err, errlen, CLRT_ERR_FORMAT,
            "%s: not an IDX file (magic 0x%08x; IDX starts with two zero bytes)", path,
            (unsigned)magic);
    if (head[2] != IDX_U8) {
        const char *name = idx_type_name(head[2]);
        if (name)
            return clrt__errbuf_fail(
                err, errlen, CLRT_ERR_UNSUPPORTED,
                "%s: IDX data type 0x%02x (%s) is not supported, only unsigned "
                "bytes (0x08)",
                path, (unsigned)head[2], name);
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                                 "%s: not an IDX file (unknown data type 0x%02x in magic 0x%08x)",
                                 path, (unsigned)head[2], (unsigned)magic);
    }
    if (head[3] != want_ndims)
        return clrt__errbuf_fail(
            err, errlen, CLRT_ERR_FORMAT,
            "%s: an IDX %s file has %d dimension%s (magic 0x%08x), this one has %u "
            "(magic 0x%08x)",
            path, what, want_ndims, want_ndims == 1 ? "" : "s", (unsigned)(0x800 | want_ndims),
            (unsigned)head[3], (unsigned)magic);
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
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory",
                                 f->path);
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
                st = clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
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
        st = clrt__errbuf_fail(
            err, errlen, CLRT_ERR_FORMAT,
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
        return clrt__errbuf_fail(
            err, errlen, CLRT_ERR_INVALID_ARG,
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
        st = clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                               "%s holds %u images but %s holds %u labels", images_path,
                               (unsigned)n, labels_path, (unsigned)lab.dims[0]);
        goto out;
    }
    if (rows == 0 || cols == 0) {
        st = clrt__errbuf_fail(err, errlen, CLRT_ERR_FORMAT,
                               "%s: images of %u x %u pixels are empty", images_path,
                               (unsigned)rows, (unsigned)cols);
        goto out;
    }
    size_t features, count, bytes;
    if (!clrt__mul_fits(rows, cols, &features) || !clrt__mul_fits(n, features, &count) ||
        !clrt__mul_fits(count, sizeof(float), &bytes)) {
        st = clrt__errbuf_fail(
            err, errlen, CLRT_ERR_FORMAT,
            "%s: %u images of %u x %u pixels are more than this machine can address", images_path,
            (unsigned)n, (unsigned)rows, (unsigned)cols);
        goto out;
    }
    ds = calloc(1, sizeof *ds);
    if (!ds) {
        st = clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                               "out of host memory for a dataset");
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
