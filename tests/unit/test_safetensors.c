/* The safetensors reader and writer alone (src/io/safetensors.c), no
 * device and no model: a round trip of tensors of several ranks and
 * metadata, bit for bit, and the bytes other readers rely on; files of
 * other writers (other dtypes, entries out of data order); every refusal
 * of a corrupt header is CLRT_ERR_FORMAT with a message naming the problem
 * and the file; the writer's refusals of bad names and paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "unit_util.h"

static char err[1024];

static int make_tmp(void **state)
{
    (void)state;
    return clrt_unit_tmp_make("safetensors");
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A file image: the 8-byte length of `header` (as given, or `hlen` when
 * not UINT64_MAX), the header, then `data_len` bytes counting 0, 1, 2... */
static unsigned char *image(const char *header, uint64_t hlen, size_t data_len, size_t *len)
{
    size_t h = strlen(header);
    *len = 8 + h + data_len;
    unsigned char *b = malloc(*len + 1);
    assert_non_null(b);
    uint64_t v = hlen == UINT64_MAX ? h : hlen;
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < data_len; i++)
        b[8 + h + i] = (unsigned char)i;
    return b;
}

/* Parsing the image is refused with CLRT_ERR_FORMAT, and the message
 * names the file and says every string given (NULL-terminated). */
static void expect_refused(const char *what, const char *header, uint64_t hlen, size_t data_len,
                           ...)
{
    size_t len;
    unsigned char *b = image(header, hlen, data_len, &len);
    clrt__safetensors f;
    err[0] = '\0';
    clrt_status st = clrt__safetensors_parse("bad.safetensors", b, len, &f, err, sizeof err);
    free(b);
    if (st != CLRT_ERR_FORMAT)
        fail_msg("%s: got %s (%s), expected CLRT_ERR_FORMAT", what, clrt_status_str(st), err);
    if (!strstr(err, "'bad.safetensors': "))
        fail_msg("%s: the message \"%s\" does not name the file", what, err);
    va_list ap;
    va_start(ap, data_len);
    for (const char *s; (s = va_arg(ap, const char *)) != NULL;)
        if (!strstr(err, s))
            fail_msg("%s: the message \"%s\" does not say \"%s\"", what, err, s);
    va_end(ap);
    /* Closed on failure: nothing left to free, closing again is fine. */
    assert_null(f.entries);
    assert_null(f.header);
    clrt__safetensors_close(&f);
}

static void assert_same_bits(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i]) != 0)
            fail_msg("element %zu is %.9g, expected %.9g", i, (double)b[i], (double)a[i]);
}

/* ----------------------------------------------------------- round trip */

static void write_ok(const char *path, const clrt__st_tensor *t, size_t n,
                     const clrt__st_meta *meta, size_t nmeta)
{
    clrt_status st = clrt__safetensors_write(path, t, n, meta, nmeta, err, sizeof err);
    if (st != CLRT_OK)
        fail_msg("write %s: %s: %s", path, clrt_status_str(st), err);
}

static void open_ok(const char *path, clrt__safetensors *f)
{
    clrt_status st = clrt__safetensors_open(path, f, err, sizeof err);
    if (st != CLRT_OK)
        fail_msg("open %s: %s: %s", path, clrt_status_str(st), err);
}

static bool contains(const unsigned char *bytes, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(bytes + i, s, n) == 0)
            return true;
    return false;
}

static void round_trip(void **state)
{
    (void)state;
    const char *path = clrt_unit_tmp_path("rt.safetensors");
    /* Values a lossy or byte-swapping path would change: 1.0 (bytes
     * 00 00 80 3f), -0, a subnormal, the largest float, a NaN with a
     * payload. */
    float w[6] = {1.0f, -0.0f, 1e-40f, 3.4028235e38f, 0.0f, -7.25f};
    const uint32_t nan_bits = 0x7fc01234u;
    memcpy(&w[4], &nan_bits, 4);
    const float b[3] = {0.5f, -1.5f, 2.0f};
    const float scalar = 42.0f;
    const size_t ws[2] = {2, 3}, bs[1] = {3}, es[2] = {0, 5};
    const clrt__st_tensor t[] = {
        {"layer.weight", 2, ws, w},
        {"layer.bias", 1, bs, b},
        {"count", 0, NULL, &scalar},
        {"empty", 2, es, NULL},
    };
    const clrt__st_meta meta[] = {{"format", "test-1"}, {"note", "caf\xc3\xa9 \"quoted\""}};
    write_ok(path, t, 4, meta, 2);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "rt.safetensors.tmp.%ld", (long)getpid());
    assert_int_equal(access(clrt_unit_tmp_path(tmp), F_OK), -1); /* renamed, not left behind */

    /* The bytes: the header padded so the data starts at a multiple of 8,
     * then the tensors' little-endian floats back to back, in the order
     * given. */
    size_t len;
    unsigned char *bytes = clrt_unit_read_file(path, &len);
    uint64_t hlen = get_le64(bytes);
    assert_int_equal((8 + hlen) % 8, 0);
    assert_int_equal(len, 8 + hlen + 4 * (6 + 3 + 1));
    const unsigned char one_le[4] = {0x00, 0x00, 0x80, 0x3f};
    assert_memory_equal(bytes + 8 + hlen, one_le, 4);
    assert_true(contains(bytes, len, "__metadata__"));
    free(bytes);

    clrt__safetensors f;
    open_ok(path, &f);
    assert_int_equal(f.count, 4);
    assert_int_equal(f.data_size, 40);
    /* The checksum a writer can put in its metadata is the data's crc32. */
    assert_true(clrt__safetensors_crc32(t, 4) == clrt__crc32(0, f.data, f.data_size));

    const clrt__st_entry *e = clrt__safetensors_find(&f, "layer.weight");
    assert_non_null(e);
    assert_string_equal(e->dtype, "F32");
    assert_int_equal(e->rank, 2);
    assert_true(e->shape[0] == 2 && e->shape[1] == 3);
    assert_int_equal(e->numel, 6);
    assert_int_equal(e->begin, 0);
    assert_int_equal(e->end, 24);
    float got[6];
    memset(got, 0xee, sizeof got);
    assert_int_equal(clrt__safetensors_read_f32(&f, e, got, 6, err, sizeof err), CLRT_OK);
    assert_same_bits(w, got, 6);
    char shape[32];
    clrt__safetensors_shape_text(e, shape, sizeof shape);
    assert_string_equal(shape, "[2, 3]");

    e = clrt__safetensors_find(&f, "layer.bias");
    assert_non_null(e);
    assert_int_equal(e->begin, 24);
    assert_int_equal(clrt__safetensors_read_f32(&f, e, got, 3, err, sizeof err), CLRT_OK);
    assert_same_bits(b, got, 3);
    /* Asking for another size is refused, not a short or long copy. */
    assert_int_equal(clrt__safetensors_read_f32(&f, e, got, 2, err, sizeof err),
                     CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "layer.bias"));

    e = clrt__safetensors_find(&f, "count");
    assert_non_null(e);
    assert_int_equal(e->rank, 0);
    assert_int_equal(e->numel, 1);
    assert_int_equal(clrt__safetensors_read_f32(&f, e, got, 1, err, sizeof err), CLRT_OK);
    assert_true(got[0] == 42.0f);
    clrt__safetensors_shape_text(e, shape, sizeof shape);
    assert_string_equal(shape, "[]");

    e = clrt__safetensors_find(&f, "empty");
    assert_non_null(e);
    assert_int_equal(e->numel, 0);
    assert_int_equal(e->begin, e->end);
    assert_int_equal(clrt__safetensors_read_f32(&f, e, NULL, 0, err, sizeof err), CLRT_OK);

    assert_null(clrt__safetensors_find(&f, "layer"));
    assert_null(clrt__safetensors_find(&f, "__metadata__"));
    assert_string_equal(clrt__safetensors_meta(&f, "format"), "test-1");
    assert_string_equal(clrt__safetensors_meta(&f, "note"), "caf\xc3\xa9 \"quoted\"");
    assert_null(clrt__safetensors_meta(&f, "missing"));
    clrt__safetensors_close(&f);
    clrt__safetensors_close(&f); /* closing twice is fine */

    /* Writing again replaces the file; no metadata, no __metadata__. */
    write_ok(path, t + 1, 1, NULL, 0);
    open_ok(path, &f);
    assert_int_equal(f.count, 1);
    assert_int_equal(f.data_size, 12);
    assert_null(clrt__safetensors_meta(&f, "format"));
    clrt__safetensors_close(&f);
    bytes = clrt_unit_read_file(path, &len);
    assert_false(contains(bytes, len, "__metadata__"));
    free(bytes);
}

/* ---------------------------------------------------- other writers' files */

/* Entries of other dtypes, out of data order, an F32 entry at an offset
 * that is not a multiple of 4: all read. */
static void other_dtypes_and_order(void **state)
{
    (void)state;
    const char *h = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[6,14]},"
                    "\"half\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                    "\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[14,22]},"
                    "\"__metadata__\":{\"k\":\"v\"}}";
    size_t len;
    unsigned char *b = image(h, UINT64_MAX, 22, &len);
    /* b's floats: 1.0 and -2.0 at data bytes 6..14. */
    const unsigned char f[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0};
    memcpy(b + 8 + strlen(h) + 6, f, 8);
    clrt__safetensors st;
    clrt_status rc = clrt__safetensors_parse("other.safetensors", b, len, &st, err, sizeof err);
    if (rc != CLRT_OK)
        fail_msg("%s", err);
    assert_int_equal(st.count, 3);
    /* Header order kept. */
    assert_string_equal(st.entries[0].name, "b");
    assert_string_equal(st.entries[1].name, "half");
    assert_string_equal(st.entries[1].dtype, "F16");
    assert_int_equal(st.entries[2].numel, 1);
    float got[2];
    assert_int_equal(clrt__safetensors_read_f32(&st, &st.entries[0], got, 2, err, sizeof err),
                     CLRT_OK);
    assert_true(got[0] == 1.0f && got[1] == -2.0f);
    /* Another dtype is not read as floats. */
    assert_int_equal(clrt__safetensors_read_f32(&st, &st.entries[2], got, 1, err, sizeof err),
                     CLRT_ERR_FORMAT);
    assert_non_null(strstr(err, "'n' is I64"));
    assert_non_null(strstr(err, "other.safetensors"));
    assert_string_equal(clrt__safetensors_meta(&st, "k"), "v");
    clrt__safetensors_close(&st);
    free(b);

    /* An empty file of tensors: just "{}". */
    b = image("{}", UINT64_MAX, 0, &len);
    assert_int_equal(clrt__safetensors_parse("e", b, len, &st, err, sizeof err), CLRT_OK);
    assert_int_equal(st.count, 0);
    clrt__safetensors_close(&st);
    free(b);
}

/* ------------------------------------------------------------- refusals */

#define T(name, dtype, shape, b, e)                                                            \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void corrupt_headers_refused(void **state)
{
    (void)state;
    const char *two = "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[1]", 8, 12) "}";
    /* The good file these edits start from parses. */
    size_t len;
    unsigned char *good = image(two, UINT64_MAX, 12, &len);
    clrt__safetensors f;
    assert_int_equal(clrt__safetensors_parse("good", good, len, &f, err, sizeof err), CLRT_OK);
    assert_int_equal(f.count, 2);
    clrt__safetensors_close(&f);
    free(good);

    /* The length and the header. */
    expect_refused("header length past the file", two, 1000, 12, "header length 1000",
                   "runs past the end of the file", NULL);
    expect_refused("header length 2^63", two, 1ull << 63, 12, "runs past the end", NULL);
    expect_refused("empty header", "", UINT64_MAX, 0, "not valid JSON", NULL);
    {
        clrt__safetensors g;
        const unsigned char five[5] = {1, 0, 0, 0, 0};
        assert_int_equal(clrt__safetensors_parse("short", five, 5, &g, err, sizeof err),
                         CLRT_ERR_FORMAT);
        assert_non_null(strstr(err, "'short': "));
        assert_non_null(strstr(err, "shorter than the 8-byte header length"));
    }
    expect_refused("not JSON", "{\"a\":", UINT64_MAX, 0, "not valid JSON", NULL);
    expect_refused("an array", "[1,2]", UINT64_MAX, 0, "not a JSON object", NULL);
    expect_refused("duplicate key",
                   "{" T("a", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 0, 4) "}", UINT64_MAX, 4,
                   "duplicate", NULL);
    expect_refused("metadata not an object", "{\"__metadata__\":[]}", UINT64_MAX, 0,
                   "__metadata__ is not a JSON object", NULL);
    expect_refused("metadata value not a string", "{\"__metadata__\":{\"epoch\":3}}",
                   UINT64_MAX, 0, "\"epoch\" is not a string", NULL);

    /* Entries. */
    expect_refused("unknown dtype", "{" T("a", "Q7", "[2]", 0, 8) "}", UINT64_MAX, 8,
                   "tensor 'a' has an unknown dtype \"Q7\"", NULL);
    expect_refused("no dtype", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", UINT64_MAX, 8,
                   "tensor 'a' has no dtype", NULL);
    expect_refused("entry not an object", "{\"a\":4}", UINT64_MAX, 0,
                   "tensor 'a' is not a JSON object", NULL);
    expect_refused("shape not an array", "{" T("a", "F32", "\"[2]\"", 0, 8) "}", UINT64_MAX, 8,
                   "no shape array", NULL);
    expect_refused("negative dimension", "{" T("a", "F32", "[-2]", 0, 8) "}", UINT64_MAX, 8,
                   "non-negative integers", NULL);
    expect_refused("shape too large", "{" T("a", "F32", "[4611686018427387904,4]", 0, 8) "}",
                   UINT64_MAX, 8, "too large", NULL);
    expect_refused("shape and byte size disagree", "{" T("a", "F32", "[3]", 0, 8) "}",
                   UINT64_MAX, 8, "tensor 'a' is F32 [3] (12 bytes)",
                   "data_offsets [0, 8] span 8 bytes", NULL);
    expect_refused("shape and byte size disagree, another dtype",
                   "{" T("a", "F16", "[2, 2]", 0, 4) "}", UINT64_MAX, 4, "F16 [2, 2] (8 bytes)",
                   "span 4 bytes", NULL);
    expect_refused("offsets not two integers", "{" T("a", "F32", "[2]", 0, 8.5) "}", UINT64_MAX,
                   8, "not two integers", NULL);
    expect_refused("offsets descending", "{" T("a", "F32", "[0]", 8, 0) "}", UINT64_MAX, 8,
                   "not an ascending pair", NULL);
    expect_refused("offsets past the data", "{" T("a", "F32", "[2]", 4, 12) "}", UINT64_MAX, 8,
                   "[4, 12] of tensor 'a' run past the 8 bytes of data", NULL);

    /* The tiling of the data section. */
    expect_refused("overlap", "{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[2]", 4, 12) "}",
                   UINT64_MAX, 12, "tensors 'a' and 'b' overlap", NULL);
    expect_refused("same range twice",
                   "{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 0, 4) "}", UINT64_MAX, 4,
                   "overlap", NULL);
    expect_refused("gap", "{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 8, 12) "}",
                   UINT64_MAX, 12, "bytes 4..8 of the data belong to no tensor",
                   "a hole before tensor 'b'", NULL);
    expect_refused("hole at the start", "{" T("b", "F32", "[1]", 4, 8) "}", UINT64_MAX, 8,
                   "bytes 0..4", NULL);
    expect_refused("trailing bytes", two, UINT64_MAX, 16, "the last 4 bytes of the data",
                   "end at byte 12 of 16", NULL);
    expect_refused("data but no tensors", "{}", UINT64_MAX, 4, "the last 4 bytes", NULL);
}

static void open_errors(void **state)
{
    (void)state;
    clrt__safetensors f;
    const char *none = clrt_unit_tmp_path("none.safetensors");
    assert_int_equal(clrt__safetensors_open(none, &f, err, sizeof err), CLRT_ERR_IO);
    assert_non_null(strstr(err, none));
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(clrt__safetensors_open(clrt_unit_tmp_root(), &f, err, sizeof err),
                     CLRT_ERR_IO);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(clrt__safetensors_open(NULL, &f, err, sizeof err), CLRT_ERR_INVALID_ARG);
    /* A corrupt file on disk: the same refusal as in memory, with its path. */
    const char *bad = clrt_unit_tmp_path("bad.safetensors");
    size_t len;
    unsigned char *b = image("{}", 1u << 20, 0, &len);
    clrt_unit_write_file(bad, b, len);
    free(b);
    assert_int_equal(clrt__safetensors_open(bad, &f, err, sizeof err), CLRT_ERR_FORMAT);
    assert_non_null(strstr(err, bad));
    assert_non_null(strstr(err, "runs past the end"));
    assert_null(f.owned);
}

/* -------------------------------------------------- the writer's refusals */

static void writer_refusals(void **state)
{
    (void)state;
    const char *path = clrt_unit_tmp_path("w.safetensors");
    const float v[2] = {1, 2};
    const size_t s2[1] = {2};
    const struct {
        const char *what;
        clrt__st_tensor t[2];
        size_t n;
        clrt__st_meta meta[2];
        size_t nmeta;
        const char *needle;
    } cases[] = {
        {"duplicate name", {{"a", 1, s2, v}, {"a", 1, s2, v}}, 2, {{0}}, 0, "'a' appears twice"},
        {"empty name", {{"", 1, s2, v}}, 1, {{0}}, 0, "no name"},
        {"no name", {{NULL, 1, s2, v}}, 1, {{0}}, 0, "no name"},
        {"the metadata key", {{"__metadata__", 1, s2, v}}, 1, {{0}}, 0, "__metadata__"},
        {"negative rank", {{"a", -1, s2, v}}, 1, {{0}}, 0, "negative rank"},
        {"no data", {{"a", 1, s2, NULL}}, 1, {{0}}, 0, "no data"},
        {"duplicate key", {{"a", 1, s2, v}}, 1, {{"k", "1"}, {"k", "2"}}, 2, "\"k\" appears twice"},
        {"no value", {{"a", 1, s2, v}}, 1, {{"k", NULL}}, 1, "no key or no value"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        err[0] = '\0';
        clrt_status st = clrt__safetensors_write(path, cases[c].t, cases[c].n, cases[c].meta,
                                                 cases[c].nmeta, err, sizeof err);
        if (st != CLRT_ERR_INVALID_ARG || !strstr(err, cases[c].needle) || !strstr(err, path))
            fail_msg("%s: %s \"%s\", expected CLRT_ERR_INVALID_ARG \"%s\"", cases[c].what,
                     clrt_status_str(st), err, cases[c].needle);
        /* Nothing written. */
        assert_int_equal(access(path, F_OK), -1);
    }

    /* A path that cannot be written: CLRT_ERR_IO naming the step and file. */
    const char *missing = clrt_unit_tmp_path("no-such-dir/w.safetensors");
    clrt__st_tensor t = {"a", 1, s2, v};
    assert_int_equal(clrt__safetensors_write(missing, &t, 1, NULL, 0, err, sizeof err),
                     CLRT_ERR_IO);
    assert_non_null(strstr(err, "cannot create"));
    assert_non_null(strstr(err, "no-such-dir"));
    assert_int_equal(clrt__safetensors_write(clrt_unit_tmp_root(), &t, 1, NULL, 0, err,
                                             sizeof err),
                     CLRT_ERR_IO);
    assert_non_null(strstr(err, "cannot rename"));
    assert_int_equal(clrt__safetensors_write("", &t, 1, NULL, 0, err, sizeof err),
                     CLRT_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(other_dtypes_and_order),
        cmocka_unit_test(corrupt_headers_refused),
        cmocka_unit_test(open_errors),
        cmocka_unit_test(writer_refusals),
    };
    return cmocka_run_group_tests_name("safetensors", tests, make_tmp, clrt_unit_tmp_teardown);
}
