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
#include "verify/verify.h"

/* Run `tests` on every device; returns the process exit status (77: no
 * device, so meson reports a skip). */
int clrt_test_main(const char *suite, const struct CMUnitTest *tests, size_t count);

/* The device the running group is on. */
const clrt_device_info *clrt_test_device(void);

/* Default options for the current device: disk cache off, errors logged. */
void clrt_test_options(clrt_ctx_options *opt);

/* The same with the disk cache in `dir`, and CLRT_CACHE unset: "off" in
 * the environment would skip the cache the test checks. */
void clrt_test_cache_options(clrt_ctx_options *opt, const char *dir);

/* A context on the current device with clrt_test_options(); fails the test
 * if it cannot be made. */
clrt_ctx *clrt_test_ctx(void);

/* The same with options of the test's own (start from clrt_test_options). */
clrt_ctx *clrt_test_ctx_with(const clrt_ctx_options *opt);

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

/* Host buffers with a guard zone of CLRT_TEST_GUARD floats after the `n`
 * in use, all set to CLRT_TEST_SENTINEL, to catch overruns. */
#define CLRT_TEST_GUARD 16
#define CLRT_TEST_SENTINEL (-12345.5f)

/* Set p[0, n + CLRT_TEST_GUARD) to CLRT_TEST_SENTINEL (a caller's array of
 * that size). */
void clrt_test_fill_sentinel(float *p, size_t n);

/* malloc'ed room for n floats plus the guard, all sentinel; caller frees. */
float *clrt_test_guarded(size_t n);

/* Fail the test if anything wrote past p[n - 1] into the guard. */
void clrt_test_assert_guard(const float *p, size_t n);

/* A tensor of this shape (contents undefined), written from `data`
 * (numel floats) when data is not NULL; fails the test on any error. */
clrt_tensor *clrt_test_tensor(clrt_ctx *ctx, int rank, const size_t *shape, const float *data);

/* clrt_test_tensor of rank 2 (rows × cols) and rank 1 (n). */
clrt_tensor *clrt_test_matrix(clrt_ctx *ctx, size_t rows, size_t cols, const float *data);
clrt_tensor *clrt_test_vector(clrt_ctx *ctx, size_t n, const float *data);

/* Read all of t into `out`, a guarded buffer, and check its guard. */
void clrt_test_read_guarded(clrt_ctx *ctx, const clrt_tensor *t, float *out);

/* Every element within the bound `tol` (src/verify/tolerance.c states each
 * op's), NaN only matching NaN; fails naming `what`, the element, both
 * values and the bound. */
void clrt_test_assert_tol(const char *what, const float *got, const float *want, size_t n,
                          clrt__tol tol);

/* Run every case of `family` in the op table (src/verify/op_cases.c) on
 * ctx at the shapes for the current device (small ones on a simulator):
 * seeded inputs, sentinels around the outputs, the op, the reference, the
 * comparison. Fails the test at the first case that fails (or cannot run),
 * naming it, its shape and the element; prints how many cases, checks and
 * elements were compared. Fails when the family has no case here. Returns
 * the number of checks made. */
size_t clrt_test_run_cases(clrt_ctx *ctx, const char *family);

/* A fresh temporary directory (caller removes it with clrt_test_rmtree). */
/* A reference count (refs(obj)) once it has come back to `want`, or what it
 * is after 5 s. Drivers drop the references that buffers, kernels and
 * finished commands hold a moment after those are released (rusticl, from
 * a worker thread: a context read 6 right after clrt_ctx_destroy and 2
 * about 10 ms later; PoCL, on a loaded machine, once still held a queue): a
 * count that never comes back is a leak. */
cl_uint clrt_test_settled(cl_uint (*refs)(void *), void *obj, cl_uint want);

char *clrt_test_tempdir(void);
/* "dir/name" in a new string (free it); fails the test when out of memory. */
char *clrt_test_path(const char *dir, const char *name);
void clrt_test_rmtree(const char *dir);

#define CLRT_ASSERT_OK(ctx, expr)                                                            \
    do {                                                                                     \
        clrt_status st_ = (expr);                                                            \
        if (st_ != CLRT_OK)                                                                  \
            fail_msg("%s returned %s: %s", #expr, clrt_status_str(st_), clrt_ctx_errmsg(ctx)); \
    } while (0)

#endif
