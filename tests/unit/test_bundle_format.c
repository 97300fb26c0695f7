/* The bundle file (src/runtime/bundle.c) without a device: a round trip,
 * the refusal of every truncation and of a flipped bit in every byte with
 * CLRT_ERR_FORMAT naming the file, of bad fields, and the identity check
 * against a device naming both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"
#include "unit_util.h"

static int make_tmp(void **state)
{
    (void)state;
    return clrt_unit_tmp_make("bundle");
}

static clrt_device_info fake_device(void)
{
    clrt_device_info d;
    memset(&d, 0, sizeof d);
    snprintf(d.platform, sizeof d.platform, "Fake Platform");
    snprintf(d.platform_version, sizeof d.platform_version, "OpenCL 1.2 fake");
    snprintf(d.name, sizeof d.name, "fake-device");
    snprintf(d.driver_version, sizeof d.driver_version, "1.0");
    d.compiler_available = 0;
    return d;
}

static const unsigned char bin_a[] = {0x7f, 'E', 'L', 'F', 0, 1, 2, 3, 0};
static const unsigned char bin_b[] = {0xde, 0xad, 0xbe, 0xef};

/* Two entries, small enough to damage every bit of. */
static const char *write_small(const char *name)
{
    clrt__bundle_entry e[2];
    memset(e, 0, sizeof e);
    snprintf(e[0].key.name, sizeof e[0].key.name, "tensor");
    snprintf(e[0].key.options, sizeof e[0].key.options, "-D CLRT_DTYPE_F32");
    e[0].key.source_hash[0] = 0x0123456789abcdefull;
    e[0].key.source_hash[1] = 0xfedcba9876543210ull;
    e[0].key.source_len = 741;
    e[0].binary = bin_a;
    e[0].binary_len = sizeof bin_a;
    snprintf(e[1].key.name, sizeof e[1].key.name, "gemm");
    snprintf(e[1].key.defines, sizeof e[1].key.defines, "-D CLRT_GEMM_ONLY=1");
    snprintf(e[1].key.options, sizeof e[1].key.options, "-D CLRT_DTYPE_F32 -D CLRT_GEMM_ONLY=1");
    e[1].key.source_len = 5;
    e[1].binary = bin_b;
    e[1].binary_len = sizeof bin_b;
    const char *path = clrt_unit_tmp_path(name);
    clrt_device_info d = fake_device();
    char err[512] = "";
    if (clrt__bundle_write(path, &d, e, 2, err, sizeof err) != CLRT_OK)
        fail_msg("clrt__bundle_write: %s", err);
    return path;
}

static void round_trip(void **state)
{
    (void)state;
    const char *path = write_small("small.clrtb");
    clrt__bundle *b = NULL;
    char err[512] = "";
    assert_int_equal(clrt__bundle_load(path, &b, err, sizeof err), CLRT_OK);
    assert_int_equal(clrt__bundle_count(b), 2);
    assert_string_equal(clrt__bundle_path(b), path);
    const clrt__bundle_entry *e = clrt__bundle_find(b, "gemm", "-D CLRT_GEMM_ONLY=1", CLRT_F32);
    assert_non_null(e);
    assert_int_equal(e->binary_len, sizeof bin_b);
    assert_memory_equal(e->binary, bin_b, sizeof bin_b);
    assert_string_equal(e->key.options, "-D CLRT_DTYPE_F32 -D CLRT_GEMM_ONLY=1");
    e = clrt__bundle_find(b, "tensor", "", CLRT_F32);
    assert_non_null(e);
    assert_memory_equal(e->binary, bin_a, sizeof bin_a);
    assert_true(e->key.source_hash[0] == 0x0123456789abcdefull);
    assert_true(e->key.source_hash[1] == 0xfedcba9876543210ull);
    assert_true(e->key.source_len == 741);
    /* Keyed by name, defines and element type. */
    assert_null(clrt__bundle_find(b, "gemm", "", CLRT_F32));
    assert_null(clrt__bundle_find(b, "tensor", "", CLRT__F16));
    assert_null(clrt__bundle_at(b, 2));

    clrt_device_info d = fake_device();
    assert_int_equal(clrt__bundle_check_device(b, &d, err, sizeof err), CLRT_OK);
    clrt_device_info other = d;
    snprintf(other.driver_version, sizeof other.driver_version, "2.0-other");
    assert_int_equal(clrt__bundle_check_device(b, &other, err, sizeof err), CLRT_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "driver"));
    assert_non_null(strstr(err, "2.0-other"));
    assert_non_null(strstr(err, "driver 1.0"));
    assert_non_null(strstr(err, "fake-device"));
    assert_non_null(strstr(err, path));
    clrt__bundle_free(b);
    clrt__bundle_free(NULL);
}

static void expect_format(const char *path, const char *what)
{
    clrt__bundle *b = (clrt__bundle *)&b; /* must come back NULL */
    char err[512] = "";
    clrt_status st = clrt__bundle_load(path, &b, err, sizeof err);
    if (st != CLRT_ERR_FORMAT)
        fail_msg("%s: %s (%s), not CLRT_ERR_FORMAT", what, clrt_status_str(st), err);
    assert_null(b);
    if (!strstr(err, path))
        fail_msg("%s: the message does not name the file: %s", what, err);
}

static void every_truncation(void **state)
{
    (void)state;
    size_t len;
    unsigned char *data = clrt_unit_read_file(write_small("full.clrtb"), &len);
    const char *cut = clrt_unit_tmp_path("cut.clrtb");
    for (size_t n = 0; n < len; n++) {
        char what[64];
        snprintf(what, sizeof what, "cut to %zu of %zu bytes", n, len);
        clrt_unit_write_file(cut, data, n);
        expect_format(cut, what);
    }
    free(data);
}

static void every_bit_flipped(void **state)
{
    (void)state;
    size_t len;
    unsigned char *data = clrt_unit_read_file(write_small("whole.clrtb"), &len);
    const char *bad = clrt_unit_tmp_path("flipped.clrtb");
    /* Every byte, each with another of its bits (a file write and read per
     * case: every bit of every byte would take seconds). */
    for (size_t i = 0; i < len; i++) {
        unsigned char bit = (unsigned char)(1u << (i % 8));
        data[i] ^= bit;
        clrt_unit_write_file(bad, data, len);
        char what[64];
        snprintf(what, sizeof what, "bit %zu of byte %zu flipped", i % 8, i);
        expect_format(bad, what);
        data[i] ^= bit;
    }
    /* And bytes after the end. */
    unsigned char *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, data, len);
    longer[len] = 0;
    clrt_unit_write_file(bad, longer, len + 1);
    expect_format(bad, "a byte appended");
    free(longer);
    free(data);
}

static void duplicate_and_absent(void **state)
{
    (void)state;
    clrt__bundle_entry e[2];
    memset(e, 0, sizeof e);
    for (int i = 0; i < 2; i++) {
        snprintf(e[i].key.name, sizeof e[i].key.name, "loss");
        e[i].binary = bin_b;
        e[i].binary_len = sizeof bin_b;
    }
    const char *path = clrt_unit_tmp_path("twice.clrtb");
    clrt_device_info d = fake_device();
    char err[512] = "";
    assert_int_equal(clrt__bundle_write(path, &d, e, 2, err, sizeof err), CLRT_OK);
    expect_format(path, "the same program twice");

    clrt__bundle *b = NULL;
    assert_int_equal(clrt__bundle_load(clrt_unit_tmp_path("none.clrtb"), &b, err, sizeof err),
                     CLRT_ERR_IO);
    assert_null(b);
    assert_non_null(strstr(err, "none.clrtb"));

    /* A write that cannot happen: CLRT_ERR_IO, the file not made. */
    char where[1024];
    snprintf(where, sizeof where, "%s/no/such/dir/x.clrtb", clrt_unit_tmp_root());
    assert_int_equal(clrt__bundle_write(where, &d, e, 1, err, sizeof err), CLRT_ERR_IO);
    assert_non_null(strstr(err, where));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(every_truncation),
        cmocka_unit_test(every_bit_flipped),
        cmocka_unit_test(duplicate_and_absent),
    };
    return cmocka_run_group_tests_name("unit-bundle-format", tests, make_tmp,
                                       clrt_unit_tmp_teardown);
}
