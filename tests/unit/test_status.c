/* Status names, OpenCL error names, the OpenCL -> clrt status mapping, the
 * per-context error message and the run-time version. No device needed: the
 * context used here is a zeroed struct with no OpenCL objects in it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

typedef struct named_status {
    clrt_status status;
    const char *name;
} named_status;

#define STATUS(x) {x, #x}
static const named_status all_statuses[] = {
    STATUS(CLRT_OK),
    STATUS(CLRT_ERR_INVALID_ARG),
    STATUS(CLRT_ERR_SHAPE),
    STATUS(CLRT_ERR_NO_DEVICE),
    STATUS(CLRT_ERR_OUT_OF_MEMORY),
    STATUS(CLRT_ERR_BUILD),
    STATUS(CLRT_ERR_OPENCL),
    STATUS(CLRT_ERR_BUSY),
    STATUS(CLRT_ERR_IO),
    STATUS(CLRT_ERR_FORMAT),
    STATUS(CLRT_ERR_UNSUPPORTED),
    STATUS(CLRT_ERR_NUMERIC),
    STATUS(CLRT_ERR_DIST),
};
#undef STATUS
#define N_STATUSES (sizeof all_statuses / sizeof all_statuses[0])

/* Each status is named after its enumerator, and no two share a name. */
static void status_names_are_the_enumerators(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_STATUSES; i++) {
        const char *s = clrt_status_str(all_statuses[i].status);
        assert_non_null(s);
        assert_string_equal(s, all_statuses[i].name);
        assert_string_not_equal(s, "CLRT_ERR_UNKNOWN");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(s, clrt_status_str(all_statuses[j].status));
    }
}

/* The codes are 0 and consecutive negatives: everything from the lowest
 * named code to 0 has a real name (guards against a new enumerator that was
 * forgotten in clrt_status_str). */
static void every_code_in_range_is_named(void **state)
{
    (void)state;
    int lowest = 0;
    for (size_t i = 0; i < N_STATUSES; i++)
        if ((int)all_statuses[i].status < lowest)
            lowest = (int)all_statuses[i].status;
    assert_int_equal(lowest, -(int)(N_STATUSES - 1));
    for (int code = lowest; code <= 0; code++)
        assert_string_not_equal(clrt_status_str((clrt_status)code), "CLRT_ERR_UNKNOWN");
}

static void unknown_status_codes(void **state)
{
    (void)state;
    static const int unknown[] = {1, 2, 77, -13, -14, -1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = clrt_status_str((clrt_status)unknown[i]);
        assert_non_null(s);
        assert_string_equal(s, "CLRT_ERR_UNKNOWN");
    }
}

static void cl_error_names(void **state)
{
    (void)state;
    assert_string_equal(clrt_cl_error_str(CL_SUCCESS), "CL_SUCCESS");
    assert_string_equal(clrt_cl_error_str(CL_DEVICE_NOT_FOUND), "CL_DEVICE_NOT_FOUND");
    assert_string_equal(clrt_cl_error_str(CL_MEM_OBJECT_ALLOCATION_FAILURE),
                        "CL_MEM_OBJECT_ALLOCATION_FAILURE");
    assert_string_equal(clrt_cl_error_str(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    assert_string_equal(clrt_cl_error_str(CL_OUT_OF_HOST_MEMORY), "CL_OUT_OF_HOST_MEMORY");
    assert_string_equal(clrt_cl_error_str(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    assert_string_equal(clrt_cl_error_str(CL_INVALID_VALUE), "CL_INVALID_VALUE");
    assert_string_equal(clrt_cl_error_str(CL_INVALID_KERNEL_NAME), "CL_INVALID_KERNEL_NAME");
    assert_string_equal(clrt_cl_error_str(CL_INVALID_WORK_GROUP_SIZE),
                        "CL_INVALID_WORK_GROUP_SIZE");
    assert_string_equal(clrt_cl_error_str(CL_INVALID_DEVICE_PARTITION_COUNT),
                        "CL_INVALID_DEVICE_PARTITION_COUNT");
    /* Codes newer than the 1.2 headers, by value. */
    assert_string_equal(clrt_cl_error_str(-72), "CL_MAX_SIZE_RESTRICTION_EXCEEDED");
    assert_string_equal(clrt_cl_error_str(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
}

static void cl_error_unknown_codes(void **state)
{
    (void)state;
    /* -20..-29 are unassigned in every OpenCL version; 1 and large codes too. */
    static const cl_int unknown[] = {1, 42, -20, -25, -29, -73, -999, -9999, INT_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *s = clrt_cl_error_str(unknown[i]);
        assert_non_null(s);
        assert_string_equal(s, "CL_UNKNOWN_ERROR");
    }
}

/* Every named OpenCL code has a distinct "CL_..." name. */
static void cl_error_names_distinct(void **state)
{
    (void)state;
    const char *seen[80];
    size_t n = 0;
    for (cl_int code = 0; code >= -72; code--) {
        const char *s = clrt_cl_error_str(code);
        assert_non_null(s);
        assert_int_equal(strncmp(s, "CL_", 3), 0);
        if (strcmp(s, "CL_UNKNOWN_ERROR") == 0)
            continue;
        for (size_t j = 0; j < n; j++)
            assert_string_not_equal(s, seen[j]);
        seen[n++] = s;
    }
    /* 0..-19, -30..-68 in 1.2, -69..-72 later. */
    assert_int_equal(n, 20 + 39 + 4);
}

static void status_from_cl(void **state)
{
    (void)state;
    assert_int_equal(clrt__status_from_cl(CL_SUCCESS), CLRT_OK);
    /* Allocation failures. */
    assert_int_equal(clrt__status_from_cl(CL_MEM_OBJECT_ALLOCATION_FAILURE),
                     CLRT_ERR_OUT_OF_MEMORY);
    assert_int_equal(clrt__status_from_cl(CL_OUT_OF_RESOURCES), CLRT_ERR_OUT_OF_MEMORY);
    assert_int_equal(clrt__status_from_cl(CL_OUT_OF_HOST_MEMORY), CLRT_ERR_OUT_OF_MEMORY);
    /* Compiler failures. */
    assert_int_equal(clrt__status_from_cl(CL_BUILD_PROGRAM_FAILURE), CLRT_ERR_BUILD);
    assert_int_equal(clrt__status_from_cl(CL_COMPILE_PROGRAM_FAILURE), CLRT_ERR_BUILD);
    assert_int_equal(clrt__status_from_cl(CL_LINK_PROGRAM_FAILURE), CLRT_ERR_BUILD);
    /* A device that is absent, or without a compiler. */
    assert_int_equal(clrt__status_from_cl(CL_DEVICE_NOT_FOUND), CLRT_ERR_NO_DEVICE);
    assert_int_equal(clrt__status_from_cl(CL_DEVICE_NOT_AVAILABLE), CLRT_ERR_NO_DEVICE);
    assert_int_equal(clrt__status_from_cl(CL_COMPILER_NOT_AVAILABLE), CLRT_ERR_UNSUPPORTED);
    /* Everything else. */
    static const cl_int other[] = {CL_INVALID_VALUE,      CL_INVALID_KERNEL_ARGS,
                                   CL_INVALID_MEM_OBJECT, CL_INVALID_WORK_GROUP_SIZE,
                                   CL_MAP_FAILURE,        CL_INVALID_BINARY,
                                   -72,                   -1001,
                                   -9999,                 1};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        assert_int_equal(clrt__status_from_cl(other[i]), CLRT_ERR_OPENCL);
}

static void version(void **state)
{
    (void)state;
    assert_non_null(clrt_version());
    assert_string_equal(clrt_version(), CLRT_VERSION_STRING);
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", CLRT_VERSION_MAJOR, CLRT_VERSION_MINOR,
             CLRT_VERSION_PATCH);
    assert_string_equal(clrt_version(), expect);
    assert_int_equal(clrt_version_number(), CLRT_VERSION_NUMBER);
    assert_int_equal(clrt_version_number(),
                     CLRT_VERSION_MAJOR * 10000 + CLRT_VERSION_MINOR * 100 + CLRT_VERSION_PATCH);
#if CLRT_VERSION_NUMBER < 100
#error "CLRT_VERSION_NUMBER is below 0.1.0"
#endif
}

static void errbuf_set(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'x', sizeof buf);
    clrt__errbuf_set(buf, 0, "%s", "ignored");
    assert_int_equal(buf[0], 'x'); /* errlen 0: nothing written */
    clrt__errbuf_set(NULL, 100, "%s", "ignored"); /* must not crash */
    clrt__errbuf_set(buf, sizeof buf, "%d-%s", 12, "ab");
    assert_string_equal(buf, "12-ab");
    clrt__errbuf_set(buf, sizeof buf, "%s", "a long message");
    assert_string_equal(buf, "a long "); /* truncated, terminated */
}

/* ---- per-context message, on a context struct with no OpenCL objects */

typedef struct log_record {
    int calls;
    clrt_log_level level;
    char message[256];
} log_record;

static void record_log(void *user, clrt_log_level level, const char *message)
{
    log_record *r = user;
    r->calls++;
    r->level = level;
    snprintf(r->message, sizeof r->message, "%s", message);
}

static void ctx_messages(void **state)
{
    (void)state;
    assert_string_equal(clrt_ctx_errmsg(NULL), "no context");
    assert_int_equal(clrt_ctx_cl_error(NULL), CL_INVALID_CONTEXT);

    clrt_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    log_record rec = {0};
    ctx->log = record_log;
    ctx->log_user = &rec;
    assert_string_equal(clrt_ctx_errmsg(ctx), "");
    assert_int_equal(clrt_ctx_cl_error(ctx), CL_SUCCESS);

    assert_int_equal(clrt__fail(ctx, CLRT_ERR_SHAPE, "shapes %s and %s differ", "[2]", "[3]"),
                     CLRT_ERR_SHAPE);
    assert_string_equal(clrt_ctx_errmsg(ctx), "shapes [2] and [3] differ");
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.level, CLRT_LOG_ERROR);
    assert_string_equal(rec.message, "CLRT_ERR_SHAPE: shapes [2] and [3] differ");

    /* A longer message grows the buffer; a shorter one replaces it whole. */
    char long_text[3000];
    memset(long_text, 'm', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    clrt__fail(ctx, CLRT_ERR_BUILD, "log: %s", long_text);
    assert_int_equal(strlen(clrt_ctx_errmsg(ctx)), strlen("log: ") + sizeof long_text - 1);
    clrt__fail(ctx, CLRT_ERR_IO, "short");
    assert_string_equal(clrt_ctx_errmsg(ctx), "short");

    /* An OpenCL failure keeps the function name of the call, the code by
     * name and number, and the raw code. */
    clrt_status st = clrt__fail_cl(ctx, CL_MEM_OBJECT_ALLOCATION_FAILURE,
                                   "clCreateBuffer(ctx->context, flags, n, NULL, &rc)",
                                   "tensor of %d floats", 7);
    assert_int_equal(st, CLRT_ERR_OUT_OF_MEMORY);
    assert_string_equal(clrt_ctx_errmsg(ctx),
                        "clCreateBuffer failed: CL_MEM_OBJECT_ALLOCATION_FAILURE (-4) in "
                        "tensor of 7 floats");
    assert_int_equal(clrt_ctx_cl_error(ctx), CL_MEM_OBJECT_ALLOCATION_FAILURE);
    assert_int_equal(rec.calls, 4);

    st = clrt__fail_cl(ctx, CL_INVALID_KERNEL_ARGS, "clEnqueueNDRangeKernel", "fill");
    assert_int_equal(st, CLRT_ERR_OPENCL);
    assert_string_equal(clrt_ctx_errmsg(ctx),
                        "clEnqueueNDRangeKernel failed: CL_INVALID_KERNEL_ARGS (-52) in fill");
    assert_int_equal(clrt_ctx_cl_error(ctx), CL_INVALID_KERNEL_ARGS);

    /* Without a context only the status comes back. */
    assert_int_equal(clrt__fail(NULL, CLRT_ERR_BUSY, "x"), CLRT_ERR_BUSY);
    assert_int_equal(clrt__fail_cl(NULL, CL_BUILD_PROGRAM_FAILURE, "clBuildProgram", "x"),
                     CLRT_ERR_BUILD);

    free(ctx->errmsg);
    free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(status_names_are_the_enumerators),
        cmocka_unit_test(every_code_in_range_is_named),
        cmocka_unit_test(unknown_status_codes),
        cmocka_unit_test(cl_error_names),
        cmocka_unit_test(cl_error_unknown_codes),
        cmocka_unit_test(cl_error_names_distinct),
        cmocka_unit_test(status_from_cl),
        cmocka_unit_test(version),
        cmocka_unit_test(errbuf_set),
        cmocka_unit_test(ctx_messages),
    };
    return cmocka_run_group_tests_name("unit-status", tests, NULL, NULL);
}
