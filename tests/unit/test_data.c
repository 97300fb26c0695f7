/* Host datasets: arrays, IDX files (plain and gzip) and CSV written into a temp
 * directory, every header and length check, CSV header detection, CRLF,
 * ragged rows and bad labels, statistics and normalisation, and the
 * Fashion-MNIST files of Debian's dataset-fashion-mnist when installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "io/io.h"
#include "unit_util.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

/* ------------------------------------------------------------ helpers */

static char err[1024];

static int make_tmp(void **state)
{
    (void)state;
    return clrt_unit_tmp_make("data");
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile gz = gzopen(path, "wb");
    if (!gz)
        fail_msg("cannot write %s", path);
    if (len > 0)
        assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

static void write_text(const char *path, const char *text)
{
    clrt_unit_write_file(path, text, strlen(text));
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX file in memory: magic, dims, then `ndata` bytes of `data`. */
static unsigned char *idx_bytes(uint32_t magic, const uint32_t *dims, int ndims,
                                const unsigned char *data, size_t ndata, size_t *len)
{
    *len = 4 + 4 * (size_t)ndims + ndata;
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    put_be32(b, magic);
    for (int i = 0; i < ndims; i++)
        put_be32(b + 4 + 4 * i, dims[i]);
    if (ndata)
        memcpy(b + 4 + 4 * ndims, data, ndata);
    return b;
}

static void write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims,
                      int ndims, const unsigned char *data, size_t ndata)
{
    size_t len;
    unsigned char *b = idx_bytes(magic, dims, ndims, data, ndata, &len);
    if (gz)
        write_gz(path, b, len);
    else
        clrt_unit_write_file(path, b, len);
    free(b);
}

/* The small set used throughout: 3 images of 2 x 3 pixels, labels 2, 0, 7. */
static const unsigned char pixels[18] = {0,   255, 1,   128, 254, 17,  /* image 0 */
                                         3,   0,   99,  200, 255, 64,  /* image 1 */
                                         250, 5,   6,   7,   8,   9}; /* image 2 */
static const unsigned char labels3[3] = {2, 0, 7};
static const uint32_t img_dims[3] = {3, 2, 3};
static const uint32_t lab_dims[1] = {3};

static void write_small_idx(const char *images, const char *labels, int gz)
{
    write_idx(images, gz, 0x803, img_dims, 3, pixels, sizeof pixels);
    write_idx(labels, gz, 0x801, lab_dims, 1, labels3, sizeof labels3);
}

static void expect_small_set(const clrt_dataset *ds)
{
    assert_int_equal(clrt_dataset_size(ds), 3);
    assert_int_equal(clrt_dataset_features(ds), 6);
    assert_int_equal(clrt_dataset_classes(ds), 8);
    const float *x = clrt_dataset_data(ds), *y = clrt_dataset_labels(ds);
    for (size_t i = 0; i < 18; i++) {
        /* Exact: the same float32 division torchvision's ToTensor does. */
        assert_true(x[i] == (float)pixels[i] / 255.0f);
        assert_true(x[i] >= 0.0f && x[i] <= 1.0f);
    }
    assert_true(x[1] == 1.0f && x[0] == 0.0f);
    for (size_t i = 0; i < 3; i++)
        assert_true(y[i] == (float)labels3[i]);
}

/* `st` is `want`, and err mentions every string given (NULL-terminated). */
static void expect_error(clrt_status st, clrt_status want, ...)
{
    if (st != want)
        fail_msg("got %s, expected %s (message: %s)", clrt_status_str(st),
                 clrt_status_str(want), err);
    va_list ap;
    va_start(ap, want);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (!strstr(err, s))
            fail_msg("the message \"%s\" does not mention \"%s\"", err, s);
    va_end(ap);
}

static clrt_status load_idx(const char *images, const char *labels, clrt_dataset **ds)
{
    err[0] = '\0';
    *ds = (clrt_dataset *)&err; /* must be reset to NULL on failure */
    return clrt_dataset_load_idx(images, labels, ds, err, sizeof err);
}

static clrt_status load_csv(const char *path, clrt_dataset **ds)
{
    err[0] = '\0';
    *ds = (clrt_dataset *)&err;
    return clrt_dataset_load_csv(path, ds, err, sizeof err);
}

/* The status of loading images + labels, asserting *ds came back NULL. */
static clrt_status idx_fails(const char *images, const char *labels)
{
    clrt_dataset *ds;
    clrt_status st = load_idx(images, labels, &ds);
    if (st == CLRT_OK)
        clrt_dataset_destroy(ds);
    else
        assert_null(ds);
    return st;
}

static clrt_status csv_fails(const char *text)
{
    const char *path = clrt_unit_tmp_path("bad.csv");
    write_text(path, text);
    clrt_dataset *ds;
    clrt_status st = load_csv(path, &ds);
    if (st == CLRT_OK)
        clrt_dataset_destroy(ds);
    else
        assert_null(ds);
    return st;
}

/* -------------------------------------------------------------- arrays */

static void create_from_arrays(void **state)
{
    (void)state;
    float x[6] = {1, 2, 3, 4, 5, 6}, y[3] = {2, -0.0f, 4};
    clrt_dataset *ds;
    err[0] = '\0';
    clrt_status st = clrt_dataset_create(3, 2, x, y, &ds, err, sizeof err);
    if (st != CLRT_OK)
        fail_msg("%s: %s", clrt_status_str(st), err);
    x[0] = 100; /* copied, not kept */
    y[0] = 100;
    assert_int_equal(clrt_dataset_size(ds), 3);
    assert_int_equal(clrt_dataset_features(ds), 2);
    assert_int_equal(clrt_dataset_classes(ds), 5);
    assert_true(clrt_dataset_data(ds)[0] == 1 && clrt_dataset_data(ds)[5] == 6);
    assert_true(clrt_dataset_labels(ds)[0] == 2);
    assert_true(clrt_dataset_labels(ds)[1] == 0 && !signbit(clrt_dataset_labels(ds)[1]));
    clrt_dataset_destroy(ds);

    /* Empty is allowed (NULL arrays with it). */
    assert_int_equal(clrt_dataset_create(0, 4, NULL, NULL, &ds, err, sizeof err), CLRT_OK);
    assert_int_equal(clrt_dataset_size(ds), 0);
    assert_int_equal(clrt_dataset_features(ds), 4);
    assert_int_equal(clrt_dataset_classes(ds), 0);
    clrt_dataset_destroy(ds);

    /* Bad labels name their index. */
    const float bad[4] = {1.5f, -1.0f, NAN, 3e7f};
    for (int k = 0; k < 4; k++) {
        float yy[3] = {0, 1, bad[k]};
        ds = (clrt_dataset *)&err;
        expect_error(clrt_dataset_create(3, 2, x, yy, &ds, err, sizeof err), CLRT_ERR_FORMAT,
                     "label 2", NULL);
        assert_null(ds);
    }
    /* Features that are not finite are refused as the CSV reader refuses
     * them, naming row and column (from 0). */
    const float nonfinite[3] = {NAN, INFINITY, -INFINITY};
    const char *shown[3] = {"nan", "inf", "-inf"};
    float yy[3] = {0, 1, 2};
    for (int k = 0; k < 3; k++) {
        float xx[6] = {1, 2, 3, 4, 5, 6};
        xx[2 + k] = nonfinite[k]; /* row 1 column 0, row 1 column 1, row 2 column 0 */
        char where[32];
        snprintf(where, sizeof where, "row %d, column %d is", (2 + k) / 2, (2 + k) % 2);
        ds = (clrt_dataset *)&err;
        expect_error(clrt_dataset_create(3, 2, xx, yy, &ds, err, sizeof err), CLRT_ERR_FORMAT,
                     where, shown[k], "not a finite float", NULL);
        assert_null(ds);
    }
    /* The largest finite floats are fine. */
    float big[6] = {FLT_MAX, -FLT_MAX, FLT_MIN, 0, -0.0f, 1e-45f};
    assert_int_equal(clrt_dataset_create(3, 2, big, yy, &ds, err, sizeof err), CLRT_OK);
    assert_true(clrt_dataset_data(ds)[0] == FLT_MAX);
    clrt_dataset_destroy(ds);
    /* Bad arguments. */
    expect_error(clrt_dataset_create(3, 2, NULL, y, &ds, err, sizeof err), CLRT_ERR_INVALID_ARG,
                 NULL);
    expect_error(clrt_dataset_create(3, 2, x, NULL, &ds, err, sizeof err), CLRT_ERR_INVALID_ARG,
                 NULL);
    expect_error(clrt_dataset_create(3, 0, x, y, &ds, err, sizeof err), CLRT_ERR_INVALID_ARG,
                 "feature", NULL);
    expect_error(clrt_dataset_create(SIZE_MAX / 2, 3, x, y, &ds, err, sizeof err),
                 CLRT_ERR_SHAPE, NULL);
    assert_null(ds);
    assert_int_equal(clrt_dataset_create(3, 2, x, y, NULL, NULL, 0), CLRT_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- IDX */

static void idx_plain_and_gzip(void **state)
{
    (void)state;
    const char *gi = clrt_unit_tmp_path("i.gz"), *gl = clrt_unit_tmp_path("l.gz");
    const char *pi = clrt_unit_tmp_path("i.idx"), *pl = clrt_unit_tmp_path("l.idx");
    write_small_idx(gi, gl, 1);
    write_small_idx(pi, pl, 0);
    const char *pairs[3][2] = {{gi, gl}, {pi, pl}, {gi, pl}}; /* mixed too */
    for (int k = 0; k < 3; k++) {
        clrt_dataset *ds;
        clrt_status st = load_idx(pairs[k][0], pairs[k][1], &ds);
        if (st != CLRT_OK)
            fail_msg("%s: %s", clrt_status_str(st), err);
        expect_small_set(ds);
        clrt_dataset_destroy(ds);
    }
    /* The gzip file really is compressed (it starts with the gzip magic). */
    FILE *f = fopen(gi, "rb");
    assert_non_null(f);
    unsigned char m[2];
    assert_int_equal(fread(m, 1, 2, f), 2);
    fclose(f);
    assert_true(m[0] == 0x1f && m[1] == 0x8b);
}

static void idx_empty_set(void **state)
{
    (void)state;
    const uint32_t d3[3] = {0, 28, 28}, d1[1] = {0};
    const char *i = clrt_unit_tmp_path("e_i"), *l = clrt_unit_tmp_path("e_l");
    write_idx(i, 1, 0x803, d3, 3, NULL, 0);
    write_idx(l, 0, 0x801, d1, 1, NULL, 0);
    clrt_dataset *ds;
    clrt_status st = load_idx(i, l, &ds);
    if (st != CLRT_OK)
        fail_msg("%s: %s", clrt_status_str(st), err);
    assert_int_equal(clrt_dataset_size(ds), 0);
    assert_int_equal(clrt_dataset_features(ds), 784);
    assert_int_equal(clrt_dataset_classes(ds), 0);
    clrt_dataset_destroy(ds);
}

static void idx_truncated(void **state)
{
    (void)state;
    const char *l = clrt_unit_tmp_path("t_l");
    write_idx(l, 0, 0x801, lab_dims, 1, labels3, 3);
    for (int gz = 0; gz <= 1; gz++) {
        const char *i = clrt_unit_tmp_path(gz ? "t_i.gz" : "t_i");
        /* One pixel short. */
        write_idx(i, gz, 0x803, img_dims, 3, pixels, sizeof pixels - 1);
        expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, "truncated", "byte 33 of 34",
                     NULL);
        /* No data at all. */
        write_idx(i, gz, 0x803, img_dims, 3, NULL, 0);
        expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, "truncated", NULL);
        /* Cut inside the header: the dims, then the magic itself. */
        unsigned char head[10];
        size_t len;
        unsigned char *b = idx_bytes(0x803, img_dims, 3, NULL, 0, &len);
        memcpy(head, b, sizeof head);
        free(b);
        if (gz)
            write_gz(i, head, sizeof head);
        else
            clrt_unit_write_file(i, head, sizeof head);
        expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, "header", NULL);
        if (gz)
            write_gz(i, head, 2);
        else
            clrt_unit_write_file(i, head, 2);
        expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, "header", NULL);
        if (gz)
            write_gz(i, NULL, 0);
        else
            clrt_unit_write_file(i, NULL, 0);
        expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, NULL);
    }
    /* Labels one short. */
    const char *i = clrt_unit_tmp_path("t_i2");
    write_idx(i, 0, 0x803, img_dims, 3, pixels, sizeof pixels);
    write_idx(l, 1, 0x801, lab_dims, 1, labels3, 2);
    expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, l, "truncated", "labels", NULL);
}

static void idx_oversized(void **state)
{
    (void)state;
    unsigned char more[19];
    memcpy(more, pixels, 18);
    more[18] = 42;
    const char *l = clrt_unit_tmp_path("o_l");
    write_idx(l, 0, 0x801, lab_dims, 1, labels3, 3);
    for (int gz = 0; gz <= 1; gz++) {
        const char *i = clrt_unit_tmp_path(gz ? "o_i.gz" : "o_i");
        write_idx(i, gz, 0x803, img_dims, 3, more, sizeof more);
        expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, "longer than its header", NULL);
    }
    const char *i = clrt_unit_tmp_path("o_i");
    write_idx(i, 0, 0x803, img_dims, 3, pixels, 18);
    write_idx(l, 1, 0x801, lab_dims, 1, more, 4);
    expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, l, "longer than its header", NULL);
}

static void idx_wrong_magic(void **state)
{
    (void)state;
    const char *i = clrt_unit_tmp_path("m_i"), *l = clrt_unit_tmp_path("m_l");
    write_small_idx(i, l, 0);
    /* Images and labels swapped: each has the other's dimension count. */
    expect_error(idx_fails(l, i), CLRT_ERR_FORMAT, l, "0x00000801", "3 dimensions", NULL);
    /* Not IDX at all (a zip file's magic). */
    const char *z = clrt_unit_tmp_path("m_zip");
    write_text(z, "PK\x03\x04 and more bytes than a header");
    expect_error(idx_fails(z, l), CLRT_ERR_FORMAT, z, "not an IDX file", NULL);
    expect_error(idx_fails(i, z), CLRT_ERR_FORMAT, z, "not an IDX file", NULL);
    /* A known IDX type other than u8: unsupported, naming the type byte. */
    const char *f = clrt_unit_tmp_path("m_float");
    float values[18] = {0};
    write_idx(f, 1, 0x0D03, img_dims, 3, (const unsigned char *)values, sizeof values);
    expect_error(idx_fails(f, l), CLRT_ERR_UNSUPPORTED, f, "0x0d", "float32", NULL);
    write_idx(f, 0, 0x0B01, lab_dims, 1, (const unsigned char *)values, 6);
    expect_error(idx_fails(i, f), CLRT_ERR_UNSUPPORTED, f, "0x0b", NULL);
    /* An unknown type byte: not IDX. */
    write_idx(f, 0, 0x4203, img_dims, 3, pixels, 18);
    expect_error(idx_fails(f, l), CLRT_ERR_FORMAT, f, "0x42", NULL);
    /* Right type, two dimensions. */
    const uint32_t d2[2] = {3, 6};
    write_idx(f, 0, 0x802, d2, 2, pixels, 18);
    expect_error(idx_fails(f, l), CLRT_ERR_FORMAT, f, "this one has 2", NULL);
}

static void idx_count_mismatch(void **state)
{
    (void)state;
    const char *i = clrt_unit_tmp_path("c_i"), *l = clrt_unit_tmp_path("c_l");
    write_idx(i, 1, 0x803, img_dims, 3, pixels, 18);
    const uint32_t two[1] = {2};
    write_idx(l, 1, 0x801, two, 1, labels3, 2);
    expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, l, "3 images", "2 labels", NULL);
}

static void idx_missing_file(void **state)
{
    (void)state;
    const char *i = clrt_unit_tmp_path("x_i"), *l = clrt_unit_tmp_path("x_l");
    write_small_idx(i, l, 1);
    const char *none = clrt_unit_tmp_path("no-such-file.gz");
    expect_error(idx_fails(none, l), CLRT_ERR_IO, none, "No such file", NULL);
    expect_error(idx_fails(i, none), CLRT_ERR_IO, none, NULL);
    /* A directory opens but cannot be read. */
    expect_error(idx_fails(clrt_unit_tmp_root(), l), CLRT_ERR_IO, clrt_unit_tmp_root(), NULL);
    clrt_dataset *ds = NULL;
    assert_int_equal(clrt_dataset_load_idx(NULL, l, &ds, err, sizeof err), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_dataset_load_idx(i, l, NULL, NULL, 0), CLRT_ERR_INVALID_ARG);
}

static void idx_huge_dims(void **state)
{
    (void)state;
    const char *i = clrt_unit_tmp_path("h_i"), *l = clrt_unit_tmp_path("h_l");
    /* n·rows·cols overflows 64 bits: refused before any allocation. */
    const uint32_t huge[3] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    const uint32_t nhuge[1] = {0xFFFFFFFFu};
    write_idx(i, 0, 0x803, huge, 3, pixels, 18);
    write_idx(l, 0, 0x801, nhuge, 1, labels3, 3);
    expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, "4294967295", "address", NULL);
    /* Addressable but far more than the file holds (4 billion images of
     * 28 x 28, 12 TB of floats): truncated, not an attempt to allocate. */
    const uint32_t big[3] = {0xFFFFFFFFu, 28, 28};
    write_idx(i, 1, 0x803, big, 3, pixels, 18);
    expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, "truncated", "byte 34 of", NULL);
    /* Empty images. */
    const uint32_t flat[3] = {3, 0, 6};
    write_idx(i, 0, 0x803, flat, 3, NULL, 0);
    write_idx(l, 0, 0x801, lab_dims, 1, labels3, 3);
    expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, "empty", NULL);
}

static void idx_corrupt_gzip(void **state)
{
    (void)state;
    const char *i = clrt_unit_tmp_path("z_i.gz"), *l = clrt_unit_tmp_path("z_l");
    unsigned char big[3000];
    for (size_t k = 0; k < sizeof big; k++)
        big[k] = (unsigned char)(k * 7 + k / 13);
    const uint32_t dims[3] = {3, 20, 50};
    write_idx(i, 1, 0x803, dims, 3, big, sizeof big);
    write_idx(l, 0, 0x801, lab_dims, 1, labels3, 3);
    clrt_dataset *ds;
    assert_int_equal(load_idx(i, l, &ds), CLRT_OK);
    clrt_dataset_destroy(ds);
    /* Flip bytes of the compressed stream (past the 10-byte gzip header). */
    size_t len;
    char *gzdata;
    assert_int_equal(clrt__read_file(i, &gzdata, &len), 0);
    assert_true(len > 40);
    for (size_t k = 20; k < len - 8; k += 3)
        gzdata[k] = (char)(gzdata[k] ^ 0x5a);
    clrt_unit_write_file(i, gzdata, len);
    free(gzdata);
    expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, NULL);
    /* A gzip stream cut in half. */
    write_idx(i, 1, 0x803, dims, 3, big, sizeof big);
    assert_int_equal(clrt__read_file(i, &gzdata, &len), 0);
    clrt_unit_write_file(i, gzdata, len / 2);
    free(gzdata);
    expect_error(idx_fails(i, l), CLRT_ERR_FORMAT, i, NULL);
}

/* ---------------------------------------------------------------- CSV */

static clrt_dataset *csv_ok(const char *text)
{
    const char *path = clrt_unit_tmp_path("ok.csv");
    write_text(path, text);
    clrt_dataset *ds;
    clrt_status st = load_csv(path, &ds);
    if (st != CLRT_OK)
        fail_msg("%s: %s", clrt_status_str(st), err);
    return ds;
}

/* The field splitter alone: commas and nothing else. */
static void expect_split(const char *line, size_t n, ...)
{
    char buf[128];
    char *fields[8];
    snprintf(buf, sizeof buf, "%s", line);
    size_t count = clrt__csv_split(buf, fields, 8);
    if (count != n)
        fail_msg("\"%s\": %zu fields, expected %zu", line, count, n);
    va_list ap;
    va_start(ap, n);
    for (size_t j = 0; j < n; j++) {
        const char *want = va_arg(ap, const char *);
        if (strcmp(fields[j], want) != 0)
            fail_msg("\"%s\": field %zu is \"%s\", expected \"%s\"", line, j, fields[j], want);
    }
    va_end(ap);
}

static void csv_split_fields(void **state)
{
    (void)state;
    expect_split("1,2,3", 3, "1", "2", "3");
    expect_split("42", 1, "42");
    /* Blank: an empty line is one empty field; empty fields stay. */
    expect_split("", 1, "");
    expect_split(",", 2, "", "");
    expect_split("1,,2", 3, "1", "", "2");
    /* Spaces and tabs are kept for the number parser to skip. */
    expect_split(" 1 ,\t2\t, 3", 3, " 1 ", "\t2\t", " 3");
    /* Trailing: a comma at the end is one more, empty, field. */
    expect_split("1,2,", 3, "1", "2", "");
    /* No quoting: a quote is an ordinary character, a quoted comma splits. */
    expect_split("\"a,b\",0", 3, "\"a", "b\"", "0");
    expect_split("\"1\",2", 2, "\"1\"", "2");
    /* A carriage return is not a line ending here (the loader strips it). */
    expect_split("1,2\r", 2, "1", "2\r");

    /* Too little room: the count, the line unchanged, nothing stored. */
    char line[] = "1,2,3,4";
    char *fields[3] = {NULL, NULL, NULL};
    assert_int_equal(clrt__csv_split(line, fields, 3), 4);
    assert_string_equal(line, "1,2,3,4");
    assert_null(fields[0]);
    assert_int_equal(clrt__csv_split(line, fields, 0), 4);
    /* In place: fields point into the line, commas became NULs. */
    char *room[4];
    assert_int_equal(clrt__csv_split(line, room, 4), 4);
    assert_ptr_equal(room[0], line);
    assert_ptr_equal(room[3], line + 6);
    assert_int_equal(line[1], '\0');

    /* The loader on the same cases: a quoted number is not a number, a
     * quoted header is a header, and a trailing comma's empty field is not
     * a number either, so a first line ending in one is a header. */
    expect_error(csv_fails("1,2,0\n\"1\",2,0\n"), CLRT_ERR_FORMAT, "line 2, column 1",
                 "\"1\"", NULL);
    clrt_dataset *ds = csv_ok("\"x\",\"y\"\n1,0\n");
    assert_int_equal(clrt_dataset_size(ds), 1);
    assert_int_equal(clrt_dataset_features(ds), 1);
    clrt_dataset_destroy(ds);
    expect_error(csv_fails("1,0,\n"), CLRT_ERR_FORMAT, "a header but no data rows", NULL);
    expect_error(csv_fails("1,0\n1,0,\n"), CLRT_ERR_FORMAT, "line 2 has 3 fields, expected 2",
                 NULL);
}

static void csv_numbers(void **state)
{
    (void)state;
    clrt_dataset *ds = csv_ok("1,2,3\n4.5,-6e-1,0\n0.1,1e3,3\n");
    assert_int_equal(clrt_dataset_size(ds), 3);
    assert_int_equal(clrt_dataset_features(ds), 2);
    assert_int_equal(clrt_dataset_classes(ds), 4);
    const float *x = clrt_dataset_data(ds), *y = clrt_dataset_labels(ds);
    const float want[6] = {1, 2, 4.5f, -0.6f, 0.1f, 1000};
    for (int k = 0; k < 6; k++)
        assert_true(x[k] == want[k]); /* strtof: correctly rounded */
    assert_true(y[0] == 3 && y[1] == 0 && y[2] == 3);
    clrt_dataset_destroy(ds);
}

static void csv_header_detection(void **state)
{
    (void)state;
    /* A text first row is a header... */
    clrt_dataset *ds = csv_ok("sepal,petal,label\n1,2,1\n3,4,0\n");
    assert_int_equal(clrt_dataset_size(ds), 2);
    assert_true(clrt_dataset_data(ds)[0] == 1.0f);
    clrt_dataset_destroy(ds);
    /* ...so is one where only some fields are text... */
    ds = csv_ok("x1,2,3\n5,6,1\n");
    assert_int_equal(clrt_dataset_size(ds), 1);
    assert_true(clrt_dataset_data(ds)[0] == 5.0f);
    clrt_dataset_destroy(ds);
    /* ...but a numeric first row is data. */
    ds = csv_ok("7,8,2\n5,6,1\n");
    assert_int_equal(clrt_dataset_size(ds), 2);
    assert_true(clrt_dataset_data(ds)[0] == 7.0f);
    assert_int_equal(clrt_dataset_classes(ds), 3);
    clrt_dataset_destroy(ds);
    /* A UTF-8 byte-order mark before the header is ignored. */
    ds = csv_ok("\xEF\xBB\xBF" "a,b\n0.5,1\n");
    assert_int_equal(clrt_dataset_size(ds), 1);
    assert_int_equal(clrt_dataset_features(ds), 1);
    clrt_dataset_destroy(ds);
}

static void csv_crlf_spaces_blank_end(void **state)
{
    (void)state;
    const char *texts[] = {
        "a,b,c\r\n 1 , 2\t,3 \r\n4,5,0\r\n\r\n\r\n",
        "a,b,c\n1,2,3\n4,5,0", /* no final newline */
        "1 ,2, 3\n4,5,0\n\n  \n\t\n",
    };
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        clrt_dataset *ds = csv_ok(texts[k]);
        assert_int_equal(clrt_dataset_size(ds), 2);
        assert_int_equal(clrt_dataset_features(ds), 2);
        const float *x = clrt_dataset_data(ds), *y = clrt_dataset_labels(ds);
        assert_true(x[0] == 1 && x[1] == 2 && x[2] == 4 && x[3] == 5);
        assert_true(y[0] == 3 && y[1] == 0);
        clrt_dataset_destroy(ds);
    }
}

static void csv_ragged_rows(void **state)
{
    (void)state;
    expect_error(csv_fails("1,2,3\n4,5\n"), CLRT_ERR_FORMAT, "line 2 has 2 fields, expected 3",
                 NULL);
    expect_error(csv_fails("a,b,c\n1,2,3\n4,5,6,7\n"), CLRT_ERR_FORMAT,
                 "line 3 has 4 fields, expected 3", NULL);
    /* A trailing comma is one more (empty) field. */
    expect_error(csv_fails("1,2,3\n1,2,3,\n"), CLRT_ERR_FORMAT, "line 2 has 4 fields", NULL);
    /* An empty line inside the data. */
    expect_error(csv_fails("1,2,3\n\n4,5,6\n"), CLRT_ERR_FORMAT, "line 2 is empty", NULL);
    /* A row needs a feature and a label. */
    expect_error(csv_fails("label\n1\n"), CLRT_ERR_FORMAT, "line 1 has 1 field", NULL);
}

static void csv_bad_labels_and_values(void **state)
{
    (void)state;
    const char *path = clrt_unit_tmp_path("bad.csv");
    expect_error(csv_fails("1,2,1.5\n"), CLRT_ERR_FORMAT, path, "line 1, column 3", "1.5",
                 NULL);
    expect_error(csv_fails("h1,h2,y\n1,2,0\n1,2,-1\n"), CLRT_ERR_FORMAT, "line 3, column 3",
                 "-1", NULL);
    expect_error(csv_fails("1,2,0\n1,2,cat\n"), CLRT_ERR_FORMAT, "line 2, column 3", "cat",
                 NULL);
    expect_error(csv_fails("1,2,0\n1,2,\n"), CLRT_ERR_FORMAT, "line 2, column 3", NULL);
    expect_error(csv_fails("1,2,0\n1,2,1e9\n"), CLRT_ERR_FORMAT, "line 2, column 3", NULL);
    expect_error(csv_fails("1,2,0\n1,2,nan\n"), CLRT_ERR_FORMAT, "line 2, column 3", NULL);
    /* Features: not a number, trailing junk, not finite, out of float range. */
    expect_error(csv_fails("1,2,0\nabc,2,0\n"), CLRT_ERR_FORMAT, "line 2, column 1", "abc",
                 NULL);
    expect_error(csv_fails("1,2,0\n1,2x,0\n"), CLRT_ERR_FORMAT, "line 2, column 2", "2x",
                 NULL);
    expect_error(csv_fails("1,2,0\n1,\"2\",0\n"), CLRT_ERR_FORMAT, "line 2, column 2", NULL);
    expect_error(csv_fails("1,2,0\n1,nan,0\n"), CLRT_ERR_FORMAT, "line 2, column 2",
                 "finite", NULL);
    expect_error(csv_fails("1,2,0\n1e39,2,0\n"), CLRT_ERR_FORMAT, "line 2, column 1", "finite",
                 NULL);
    expect_error(csv_fails("1,2,0\n1,,0\n"), CLRT_ERR_FORMAT, "line 2, column 2", NULL);
    /* Integral labels written as floats are fine, and -0 is 0. */
    clrt_dataset *ds = csv_ok("1,2,3.0\n1,2,-0\n");
    assert_true(clrt_dataset_labels(ds)[0] == 3.0f);
    assert_true(clrt_dataset_labels(ds)[1] == 0.0f && !signbit(clrt_dataset_labels(ds)[1]));
    clrt_dataset_destroy(ds);
}

static void csv_no_rows_and_missing(void **state)
{
    (void)state;
    expect_error(csv_fails(""), CLRT_ERR_FORMAT, "no rows", NULL);
    expect_error(csv_fails("\n\n"), CLRT_ERR_FORMAT, "no rows", NULL);
    expect_error(csv_fails("a,b,label\n"), CLRT_ERR_FORMAT, "no data rows", NULL);
    const char *nul = clrt_unit_tmp_path("nul.csv");
    clrt_unit_write_file(nul, "1,2,0\n\0,3,1\n", 12);
    clrt_dataset *ds;
    expect_error(load_csv(nul, &ds), CLRT_ERR_FORMAT, "line 2", "NUL", NULL);
    assert_null(ds);
    const char *none = clrt_unit_tmp_path("none.csv");
    expect_error(load_csv(none, &ds), CLRT_ERR_IO, none, "No such file", NULL);
    assert_null(ds);
    expect_error(load_csv(clrt_unit_tmp_root(), &ds), CLRT_ERR_IO, clrt_unit_tmp_root(), NULL);
    assert_null(ds);
    assert_int_equal(clrt_dataset_load_csv(NULL, &ds, NULL, 0), CLRT_ERR_INVALID_ARG);
}

static void csv_long_lines(void **state)
{
    (void)state;
    /* 3000 features, lines of ~30 kB: no fixed line length. */
    enum { F = 3000, N = 5 };
    size_t cap = (size_t)(F + 1) * 12 * (N + 1) + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t len = 0;
    for (int j = 0; j < F; j++)
        len += (size_t)snprintf(text + len, cap - len, "feature_%d,", j);
    len += (size_t)snprintf(text + len, cap - len, "label\r\n");
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < F; j++)
            len += (size_t)snprintf(text + len, cap - len, "%d.25,", i * F + j);
        len += (size_t)snprintf(text + len, cap - len, "%d\r\n", i);
    }
    assert_true(len < cap);
    clrt_dataset *ds = csv_ok(text);
    free(text);
    assert_int_equal(clrt_dataset_size(ds), N);
    assert_int_equal(clrt_dataset_features(ds), F);
    assert_int_equal(clrt_dataset_classes(ds), N);
    const float *x = clrt_dataset_data(ds);
    for (int k = 0; k < N * F; k++)
        assert_true(x[k] == (float)k + 0.25f);
    clrt_dataset_destroy(ds);
}

static void csv_ignores_program_locale(void **state)
{
    (void)state;
    /* A program that set a locale with a decimal comma still reads "1.5". */
    const char *names[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "de_DE"};
    const char *set = NULL;
    for (size_t k = 0; k < sizeof names / sizeof names[0] && !set; k++)
        set = setlocale(LC_NUMERIC, names[k]);
    if (!set) {
        print_message("no locale with a decimal comma installed; skipping\n");
        skip();
    }
    clrt_dataset *ds = csv_ok("1.5,2.25,1\n");
    setlocale(LC_NUMERIC, "C");
    assert_true(clrt_dataset_data(ds)[0] == 1.5f && clrt_dataset_data(ds)[1] == 2.25f);
    clrt_dataset_destroy(ds);
}

/* --------------------------------------------------- stats, normalize */

static void stats_and_normalize(void **state)
{
    (void)state;
    clrt_dataset *ds = csv_ok("f0,f1,f2,y\n1,10,5,0\n2,20,5,1\n3,30,5,0\n6,40,5,1\n");
    float mean[3], std[3];
    assert_int_equal(clrt_dataset_stats(ds, mean, std), CLRT_OK);
    /* Population std: f0 deviations -2,-1,0,3 → sqrt(14/4); f1 ±5, ±15 →
     * sqrt(125); f2 constant → 1. Float rounding of the results: 1 ulp. */
    const double want_mean[3] = {3, 25, 5}, want_std[3] = {sqrt(3.5), sqrt(125.0), 1};
    for (int j = 0; j < 3; j++) {
        assert_true(mean[j] == (float)want_mean[j]);
        assert_true(std[j] == (float)want_std[j]);
    }
    assert_int_equal(clrt_dataset_normalize(ds, mean, std), CLRT_OK);
    const float raw[4][3] = {{1, 10, 5}, {2, 20, 5}, {3, 30, 5}, {6, 40, 5}};
    const float *x = clrt_dataset_data(ds);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            assert_true(x[i * 3 + j] == (raw[i][j] - mean[j]) / std[j]);
    /* Normalised: mean 0, std 1 (the constant feature: 0 and 1), to float
     * rounding of four values. */
    float m2[3], s2[3];
    assert_int_equal(clrt_dataset_stats(ds, m2, s2), CLRT_OK);
    for (int j = 0; j < 3; j++) {
        assert_true(fabsf(m2[j]) < 1e-6f);
        assert_true(fabsf(s2[j] - 1.0f) < 1e-6f);
    }
    /* Labels are untouched. */
    assert_true(clrt_dataset_labels(ds)[3] == 1.0f);

    /* Bad arguments: refused, and nothing changes. */
    float before[12];
    memcpy(before, x, sizeof before);
    const float zero_std[3] = {1, 0, 1}, nan_mean[3] = {0, NAN, 0};
    assert_int_equal(clrt_dataset_normalize(ds, mean, zero_std), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_dataset_normalize(ds, nan_mean, std), CLRT_ERR_INVALID_ARG);
    assert_memory_equal(before, x, sizeof before);
    assert_int_equal(clrt_dataset_stats(NULL, mean, std), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_dataset_stats(ds, NULL, std), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_dataset_normalize(ds, mean, NULL), CLRT_ERR_INVALID_ARG);
    clrt_dataset_destroy(ds);
}

static void stats_accumulate_in_double(void **state)
{
    (void)state;
    /* 20001 rows alternating 1000.25 and 1000.75 (exact in float): a float
     * running sum passes 2^24, where its spacing is 2, and loses the
     * quarters; a double sum stays exact. The mean is
     * (10001·1000.25 + 10000·1000.75) / 20001, rounded once. */
    enum { N = 20001 };
    char *text = malloc((size_t)N * 16 + 16);
    assert_non_null(text);
    size_t len = 0;
    for (int i = 0; i < N; i++)
        len += (size_t)sprintf(text + len, "%s,%d\n", i % 2 ? "1000.75" : "1000.25", i % 2);
    clrt_dataset *ds = csv_ok(text);
    free(text);
    float mean, std;
    assert_int_equal(clrt_dataset_stats(ds, &mean, &std), CLRT_OK);
    double m = (10001.0 * 1000.25 + 10000.0 * 1000.75) / N;
    double var = (10001.0 * (1000.25 - m) * (1000.25 - m) + 10000.0 * (1000.75 - m) * (1000.75 - m)) / N;
    assert_true(mean == (float)m);
    /* The two-pass variance is exact up to double rounding: 1 float ulp. */
    assert_true(fabs(std - sqrt(var)) <= 1e-7 * sqrt(var) + 1e-12);
    clrt_dataset_destroy(ds);
}

static void accessors_accept_null(void **state)
{
    (void)state;
    assert_int_equal(clrt_dataset_size(NULL), 0);
    assert_int_equal(clrt_dataset_features(NULL), 0);
    assert_int_equal(clrt_dataset_classes(NULL), 0);
    assert_null(clrt_dataset_data(NULL));
    assert_null(clrt_dataset_labels(NULL));
    clrt_dataset_destroy(NULL);
    clrt_loader_options o;
    memset(&o, 0xff, sizeof o);
    clrt_loader_options_init(&o);
    assert_int_equal(o.batch, 128);
    assert_int_equal(o.shuffle, 0);
    assert_int_equal(o.seed, 0);
}

/* ------------------------------------------------------- Fashion-MNIST */

static int file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

static void fashion_mnist(void **state)
{
    (void)state;
    static const char *sets[2][2] = {
        {FASHION_DIR "/train-images-idx3-ubyte.gz", FASHION_DIR "/train-labels-idx1-ubyte.gz"},
        {FASHION_DIR "/t10k-images-idx3-ubyte.gz", FASHION_DIR "/t10k-labels-idx1-ubyte.gz"},
    };
    static const size_t sizes[2] = {60000, 10000};
    for (int k = 0; k < 2; k++)
        if (!file_exists(sets[k][0]) || !file_exists(sets[k][1])) {
            print_message("Fashion-MNIST not installed (Debian package dataset-fashion-mnist); "
                          "skipping\n");
            skip();
        }
    for (int k = 0; k < 2; k++) {
        clrt_dataset *ds;
        clrt_status st = load_idx(sets[k][0], sets[k][1], &ds);
        if (st != CLRT_OK)
            fail_msg("%s: %s", clrt_status_str(st), err);
        assert_int_equal(clrt_dataset_size(ds), sizes[k]);
        assert_int_equal(clrt_dataset_features(ds), 784);
        assert_int_equal(clrt_dataset_classes(ds), 10);
        const float *x = clrt_dataset_data(ds), *y = clrt_dataset_labels(ds);
        /* Balanced classes: 6000 / 1000 of each; pixels span [0, 1]. */
        size_t per_class[10] = {0};
        for (size_t i = 0; i < sizes[k]; i++) {
            assert_true(y[i] >= 0 && y[i] <= 9 && y[i] == floorf(y[i]));
            per_class[(int)y[i]]++;
        }
        for (int c = 0; c < 10; c++)
            assert_int_equal(per_class[c], sizes[k] / 10);
        float lo = 1, hi = 0;
        for (size_t i = 0; i < sizes[k] * 784; i++) {
            lo = x[i] < lo ? x[i] : lo;
            hi = x[i] > hi ? x[i] : hi;
        }
        assert_true(lo == 0.0f && hi == 1.0f);
        /* The first sample of both sets is an ankle boot (class 9). */
        assert_true(y[0] == 9.0f);
        clrt_dataset_destroy(ds);
    }
}

/* The features-only reader clrt-predict uses: every column a feature, the
 * same header detection, and the same refusals, naming the line. */
static void csv_features_only(void **state)
{
    (void)state;
    const char *path = clrt_unit_tmp_path("x.csv");
    write_text(path, "f0,f1,f2\n1,2,3\n4.5, 5 ,6\n");
    clrt_dataset *ds = (clrt_dataset *)&err;
    assert_int_equal(clrt__csv_load_features(path, &ds, err, sizeof err), CLRT_OK);
    assert_int_equal(clrt_dataset_size(ds), 2);
    assert_int_equal(clrt_dataset_features(ds), 3);
    assert_int_equal(clrt_dataset_classes(ds), 0);
    const float *x = clrt_dataset_data(ds);
    assert_true(x[0] == 1 && x[2] == 3 && x[3] == 4.5f && x[5] == 6);
    assert_true(clrt_dataset_labels(ds)[1] == 0);
    clrt_dataset_destroy(ds);
    /* One column is a model of one input. */
    write_text(path, "7\n8\n");
    assert_int_equal(clrt__csv_load_features(path, &ds, err, sizeof err), CLRT_OK);
    assert_int_equal(clrt_dataset_features(ds), 1);
    clrt_dataset_destroy(ds);
    write_text(path, "1,2,3\n4,5\n");
    ds = (clrt_dataset *)&err;
    expect_error(clrt__csv_load_features(path, &ds, err, sizeof err), CLRT_ERR_FORMAT,
                 "line 2 has 2 fields, expected 3", NULL);
    assert_null(ds);
    write_text(path, "1,2\n3,x\n");
    expect_error(clrt__csv_load_features(path, &ds, err, sizeof err), CLRT_ERR_FORMAT,
                 "line 2, column 2", "is not a number", NULL);
    expect_error(clrt__csv_load_features(clrt_unit_tmp_path("none.csv"), &ds, err, sizeof err),
                 CLRT_ERR_IO, "cannot open", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_from_arrays),
        cmocka_unit_test(idx_plain_and_gzip),
        cmocka_unit_test(idx_empty_set),
        cmocka_unit_test(idx_truncated),
        cmocka_unit_test(idx_oversized),
        cmocka_unit_test(idx_wrong_magic),
        cmocka_unit_test(idx_count_mismatch),
        cmocka_unit_test(idx_missing_file),
        cmocka_unit_test(idx_huge_dims),
        cmocka_unit_test(idx_corrupt_gzip),
        cmocka_unit_test(csv_split_fields),
        cmocka_unit_test(csv_numbers),
        cmocka_unit_test(csv_header_detection),
        cmocka_unit_test(csv_crlf_spaces_blank_end),
        cmocka_unit_test(csv_ragged_rows),
        cmocka_unit_test(csv_bad_labels_and_values),
        cmocka_unit_test(csv_no_rows_and_missing),
        cmocka_unit_test(csv_long_lines),
        cmocka_unit_test(csv_ignores_program_locale),
        cmocka_unit_test(csv_features_only),
        cmocka_unit_test(stats_and_normalize),
        cmocka_unit_test(stats_accumulate_in_double),
        cmocka_unit_test(accessors_accept_null),
        cmocka_unit_test(fashion_mnist),
    };
    return cmocka_run_group_tests_name("data", tests, make_tmp, clrt_unit_tmp_teardown);
}
