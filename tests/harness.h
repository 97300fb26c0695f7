/* Device-test harness: runs a CMocka group once per device named in
 * CLRT_TEST_DEVICES (comma-separated selectors; default every device found),
 * and on oclgrind fails a test that made the simulator report anything. */
#ifndef CLRT_TEST_HARNESS_H
#define CLRT_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "clrt.h"

/* Run `tests` on every device; returns the process exit status (77: no
 * device, so meson reports a skip). */
int clrt_test_main(const char *suite, const struct CMUnitTest *tests, size_t count);

/* The device the running group is on. */
const clrt_device_info *clrt_test_device(void);

/* Default options for the current device: disk cache off, errors logged. */
void clrt_test_options(clrt_ctx_options *opt);

/* A context on the current device with clrt_test_options(); fails the test
 * if it cannot be made. */
clrt_ctx *clrt_test_ctx(void);

/* Destroy a context made by clrt_test_ctx (asserting success) and check
 * that oclgrind reported nothing meanwhile. */
void clrt_test_ctx_done(clrt_ctx *ctx);

/* Fail the test if oclgrind logged anything since the last check. */
void clrt_test_check_simulator_log(void);

/* Forget what oclgrind logged so far (for tests that provoke OpenCL errors
 * on purpose, which its API checker reports). */
void clrt_test_discard_simulator_log(void);

/* Deterministic pseudo-random floats in [-1, 1). */
void clrt_test_random(float *x, size_t n, uint32_t seed);

/* A fresh temporary directory (caller removes it with clrt_test_rmtree). */
char *clrt_test_tempdir(void);
void clrt_test_rmtree(const char *dir);

#define CLRT_ASSERT_OK(ctx, expr)                                                            \
    do {                                                                                     \
        clrt_status st_ = (expr);                                                            \
        if (st_ != CLRT_OK)                                                                  \
            fail_msg("%s returned %s: %s", #expr, clrt_status_str(st_), clrt_ctx_errmsg(ctx)); \
    } while (0)

#endif
