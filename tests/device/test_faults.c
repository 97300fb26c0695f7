/* Fault injection through the OpenCL choke points (runtime/cl_calls.c): a
 * failing allocation, build (of a source and of a cached binary), kernel
 * enqueue, transfer and map each give the mapped status and a message that
 * names the call, leak nothing, and leave the context usable; and
 * $CLRT_FAULT arms the same from the environment. Small shapes: quick on
 * oclgrind. */
#include "harness.h"
#include "ops/ops.h"
#include "verify/ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static clrt_memory_stats stats_of(clrt_ctx *ctx)
{
    clrt_memory_stats s;
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &s));
    return s;
}

/* No tensor handle and no device byte in use more than `before`. */
static void assert_no_leak(clrt_ctx *ctx, const clrt_memory_stats *before)
{
    clrt_memory_stats now = stats_of(ctx);
    assert_int_equal(now.live_tensors, before->live_tensors);
    assert_int_equal(now.bytes_in_use, before->bytes_in_use);
}

/* `got` is `want`, and the context's message and OpenCL error are those of
 * `call` failing with `code`. */
static void assert_failed(clrt_ctx *ctx, clrt_status got, clrt_status want, const char *call,
                          cl_int code)
{
    if (got != want)
        fail_msg("returned %s, want %s (%s)", clrt_status_str(got), clrt_status_str(want),
                 clrt_ctx_errmsg(ctx));
    char head[128];
    snprintf(head, sizeof head, "%s failed: %s (%d)", call, clrt_cl_error_str(code), (int)code);
    if (!strstr(clrt_ctx_errmsg(ctx), head))
        fail_msg("message \"%s\" does not start with \"%s\"", clrt_ctx_errmsg(ctx), head);
    assert_int_equal(clrt_ctx_cl_error(ctx), code);
}

/* A tensor of n floats 0, 1, 2, ... read back exactly. */
static void assert_round_trip(clrt_ctx *ctx, size_t n)
{
    float *in = clrt_test_guarded(n), *out = clrt_test_guarded(n);
    for (size_t i = 0; i < n; i++)
        in[i] = (float)i;
    clrt_tensor *t = clrt_test_vector(ctx, n, in);
    clrt_test_read_guarded(ctx, t, out);
    assert_memory_equal(in, out, n * sizeof(float));
    clrt_tensor_destroy(t);
    free(in);
    free(out);
}

static void alloc_fault(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    /* A pooled buffer needs no allocation, so a request it serves is unaffected. */
    const size_t pooled = 33, fresh = 1023;
    clrt_tensor *t = clrt_test_vector(ctx, pooled, NULL);
    clrt_tensor_destroy(t);
    clrt_memory_stats before = stats_of(ctx);

    clrt__fault_arm(ctx, CLRT__FAULT_ALLOC, 1, CL_MEM_OBJECT_ALLOCATION_FAILURE);
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &pooled, CLRT_TENSOR_UNINIT, &t));
    clrt_tensor_destroy(t);
    assert_int_equal(clrt__fault_fired(ctx, CLRT__FAULT_ALLOC), 0);
    t = (clrt_tensor *)&t; /* must come back NULL */
    assert_failed(ctx, clrt_tensor_create(ctx, 1, &fresh, CLRT_TENSOR_ZERO, &t),
                  CLRT_ERR_OUT_OF_MEMORY, "clCreateBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE);
    assert_null(t);
    /* The pool let its buffers go and asked again: the driver's answer twice. */
    assert_int_equal(clrt__fault_fired(ctx, CLRT__FAULT_ALLOC), 2);
    assert_no_leak(ctx, &before);
    assert_int_equal(stats_of(ctx).allocations, before.allocations);

    clrt__fault_disarm(ctx, CLRT__FAULT_ALLOC);
    assert_round_trip(ctx, fresh);
    assert_no_leak(ctx, &before);
    clrt_test_ctx_done(ctx);
}

/* A zero-filled tensor of 7 floats builds tensor.cl: CLRT_ERR_BUILD while
 * builds fail, zeros once they do not. */
static void check_build_fault(clrt_ctx *ctx, unsigned long fired)
{
    const size_t n = 7;
    clrt_memory_stats before = stats_of(ctx);
    clrt_tensor *t = (clrt_tensor *)&t;
    clrt__fault_arm(ctx, CLRT__FAULT_BUILD, 1, CL_SUCCESS);
    assert_failed(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_ZERO, &t), CLRT_ERR_BUILD,
                  "clBuildProgram", CL_BUILD_PROGRAM_FAILURE);
    assert_null(t);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "tensor.cl"));
    assert_int_equal(clrt__fault_fired(ctx, CLRT__FAULT_BUILD), fired);
    assert_no_leak(ctx, &before);

    clrt__fault_disarm(ctx, CLRT__FAULT_BUILD);
    float out[7 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(out, n);
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_ZERO, &t));
    clrt_test_read_guarded(ctx, t, out);
    for (size_t i = 0; i < n; i++)
        assert_true(out[i] == 0.0f);
    clrt_tensor_destroy(t);
    assert_no_leak(ctx, &before);
}

static void build_fault(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_program_stats ps;
    check_build_fault(ctx, 1);
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 1); /* the failed build was not cached as built */
    clrt_test_ctx_done(ctx);
}

/* A cached binary is loaded through the same choke point: its build fails,
 * is counted as refused, and the build from source that follows fails too. */
static void build_fault_cached_binary(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    clrt_ctx_options opt;
    clrt_test_cache_options(&opt, dir);
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    const size_t n = 7;
    clrt_tensor *t;
    /* Builds tensor.cl and stores its binary. */
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_ZERO, &t));
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);

    ctx = clrt_test_ctx_with(&opt);
    check_build_fault(ctx, 2);
    clrt_program_stats ps;
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.disk_rejects, 1);
    assert_int_equal(ps.disk_hits, 1); /* once disarmed */
    assert_int_equal(ps.builds, 0);
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);
    free(dir);
}

/* C = A·B of 7×3 by 3×5 through the builtin kernels (too small to tune), and
 * the reference's answer. */
typedef struct small_gemm {
    float a[21], b[15], want[35];
    clrt_tensor *ta, *tb, *tc;
} small_gemm;

static void small_gemm_init(clrt_ctx *ctx, small_gemm *g)
{
    clrt_test_random(g->a, 21, 3);
    clrt_test_random(g->b, 15, 4);
    memset(g->want, 0, sizeof g->want);
    clrt_ref_gemm(0, 0, 7, 5, 3, 1.0f, g->a, g->b, 0.0f, g->want);
    g->ta = clrt_test_matrix(ctx, 7, 3, g->a);
    g->tb = clrt_test_matrix(ctx, 3, 5, g->b);
    g->tc = clrt_test_matrix(ctx, 7, 5, NULL);
}

static clrt_status small_gemm_run(clrt_ctx *ctx, small_gemm *g)
{
    return clrt_gemm(ctx, 0, 0, 1.0f, g->ta, g->tb, 0.0f, g->tc);
}

/* K = 3: each element is three products summed in float, within a few
 * float32 roundings (~1e-7 each) of the double reference; 1e-5 leaves room
 * for any summation order or fused multiply-add. */
static void small_gemm_check(clrt_ctx *ctx, small_gemm *g)
{
    float got[35 + CLRT_TEST_GUARD];
    clrt_test_fill_sentinel(got, 35);
    CLRT_ASSERT_OK(ctx, small_gemm_run(ctx, g));
    clrt_test_read_guarded(ctx, g->tc, got);
    clrt_test_assert_tol("gemm after the fault", got, g->want, 35,
                         (clrt__tol){.rel = 1e-5, .abs = 1e-5});
}

static void small_gemm_done(small_gemm *g)
{
    clrt_tensor_destroy(g->ta);
    clrt_tensor_destroy(g->tb);
    clrt_tensor_destroy(g->tc);
}

static void enqueue_fault(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_BUILTIN));
    small_gemm g;
    small_gemm_init(ctx, &g);
    clrt_memory_stats before = stats_of(ctx);

    clrt__fault_arm(ctx, CLRT__FAULT_ENQUEUE, 1, CL_INVALID_OPERATION);
    assert_failed(ctx, small_gemm_run(ctx, &g), CLRT_ERR_OPENCL, "clEnqueueNDRangeKernel",
                  CL_INVALID_OPERATION);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "clrt_gemm"));

    /* The second launch fails, as a device out of resources: the first
     * zero-filled tensor is made, the second comes back NULL. */
    const size_t n = 9;
    clrt_tensor *t1, *t2 = (clrt_tensor *)&t2;
    clrt__fault_arm(ctx, CLRT__FAULT_ENQUEUE, 2, CL_OUT_OF_RESOURCES);
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_ZERO, &t1));
    assert_failed(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_ZERO, &t2),
                  CLRT_ERR_OUT_OF_MEMORY, "clEnqueueNDRangeKernel", CL_OUT_OF_RESOURCES);
    assert_null(t2);
    assert_int_equal(clrt__fault_fired(ctx, CLRT__FAULT_ENQUEUE), 2);
    clrt_tensor_destroy(t1);
    assert_no_leak(ctx, &before);

    clrt__fault_disarm(ctx, CLRT__FAULT_ENQUEUE);
    small_gemm_check(ctx, &g);
    assert_no_leak(ctx, &before);
    small_gemm_done(&g);
    clrt_test_ctx_done(ctx);
}

static void transfer_fault(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t n = 7;
    float in[7] = {1, 2, 3, 4, 5, 6, 7}, out[7 + CLRT_TEST_GUARD];
    clrt_tensor *t = clrt_test_vector(ctx, n, NULL), *u = clrt_test_vector(ctx, n, NULL);
    clrt_memory_stats before = stats_of(ctx);

    /* The write is call 1 and goes through; the read, call 2, fails and
     * leaves the host buffer alone. */
    clrt__fault_arm(ctx, CLRT__FAULT_TRANSFER, 2, CL_OUT_OF_RESOURCES);
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, in, n));
    clrt_test_fill_sentinel(out, n);
    assert_failed(ctx, clrt_tensor_read(t, out, n), CLRT_ERR_OUT_OF_MEMORY,
                  "clEnqueueReadBuffer", CL_OUT_OF_RESOURCES);
    for (size_t i = 0; i < n + CLRT_TEST_GUARD; i++)
        assert_true(out[i] == CLRT_TEST_SENTINEL);
    cl_event ev = (cl_event)&ev;
    assert_failed(ctx, clrt_tensor_write_async(u, in, n, &ev), CLRT_ERR_OUT_OF_MEMORY,
                  "clEnqueueWriteBuffer", CL_OUT_OF_RESOURCES);
    assert_null(ev);
    clrt__fault_arm(ctx, CLRT__FAULT_TRANSFER, 1, CL_INVALID_MEM_OBJECT);
    assert_failed(ctx, clrt_tensor_copy(u, t), CLRT_ERR_OPENCL, "clEnqueueCopyBuffer",
                  CL_INVALID_MEM_OBJECT);
    assert_no_leak(ctx, &before);

    clrt__fault_disarm(ctx, CLRT__FAULT_TRANSFER);
    CLRT_ASSERT_OK(ctx, clrt_tensor_copy(u, t));
    clrt_test_read_guarded(ctx, u, out);
    assert_memory_equal(in, out, sizeof in);
    clrt_tensor_destroy(t);
    clrt_tensor_destroy(u);
    clrt_test_ctx_done(ctx);
}

static void map_fault(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    if (clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_HOST) != CLRT_OK) {
        /* No host CBLAS in this build, or not a CPU device: nothing maps. */
        clrt_test_ctx_done(ctx);
        skip();
    }
    small_gemm g;
    small_gemm_init(ctx, &g);
    clrt_memory_stats before = stats_of(ctx);

    /* B's map fails; A's, made already, is undone. */
    clrt__fault_arm(ctx, CLRT__FAULT_MAP, 2, CL_SUCCESS);
    assert_failed(ctx, small_gemm_run(ctx, &g), CLRT_ERR_OPENCL, "clEnqueueMapBuffer",
                  CL_MAP_FAILURE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "host backend"));
    assert_int_equal(clrt__fault_fired(ctx, CLRT__FAULT_MAP), 1);
    CLRT_ASSERT_OK(ctx, clrt_ctx_finish(ctx));
    cl_uint maps = 1;
    assert_int_equal(clGetMemObjectInfo(clrt_tensor_cl_mem(g.ta), CL_MEM_MAP_COUNT, sizeof maps,
                                        &maps, NULL),
                     CL_SUCCESS);
    assert_int_equal(maps, 0);
    assert_no_leak(ctx, &before);

    clrt__fault_disarm(ctx, CLRT__FAULT_MAP);
    small_gemm_check(ctx, &g);
    small_gemm_done(&g);
    clrt_test_ctx_done(ctx);
}

/* A context made with $CLRT_FAULT set; the variable is gone again before
 * anything is asserted. */
static clrt_status create_with_env(const char *value, clrt_ctx **ctx, char *err, size_t errlen)
{
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    setenv("CLRT_FAULT", value, 1);
    clrt_status st = clrt_ctx_create(&opt, ctx, err, errlen);
    unsetenv("CLRT_FAULT");
    return st;
}

static clrt_ctx *ctx_with_env(const char *value)
{
    char err[512] = "";
    clrt_ctx *ctx;
    clrt_status st = create_with_env(value, &ctx, err, sizeof err);
    if (st != CLRT_OK)
        fail_msg("CLRT_FAULT=\"%s\": %s, %s", value, clrt_status_str(st), err);
    return ctx;
}

static void environment_arms_faults(void **state)
{
    (void)state;
    clrt_ctx *ctx = ctx_with_env("alloc:3");
    /* Three sizes of three size classes: three allocations, the third fails. */
    const size_t sizes[3] = {1, 200, 3000};
    clrt_tensor *t[3];
    for (int i = 0; i < 2; i++)
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &sizes[i], CLRT_TENSOR_UNINIT, &t[i]));
    assert_failed(ctx, clrt_tensor_create(ctx, 1, &sizes[2], CLRT_TENSOR_UNINIT, &t[2]),
                  CLRT_ERR_OUT_OF_MEMORY, "clCreateBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE);
    assert_null(t[2]);
    clrt_tensor_destroy(t[0]);
    clrt_tensor_destroy(t[1]);
    clrt_test_ctx_done(ctx);

    ctx = ctx_with_env("enqueue:1:-59,transfer:2");
    assert_true(ctx->faults.armed);
    assert_int_equal(ctx->faults.kind[CLRT__FAULT_ENQUEUE].nth, 1);
    assert_int_equal(ctx->faults.kind[CLRT__FAULT_ENQUEUE].error, CL_INVALID_OPERATION);
    assert_int_equal(ctx->faults.kind[CLRT__FAULT_TRANSFER].nth, 2);
    assert_int_equal(ctx->faults.kind[CLRT__FAULT_TRANSFER].error, CL_OUT_OF_RESOURCES);
    assert_int_equal(ctx->faults.kind[CLRT__FAULT_ALLOC].nth, 0);
    clrt_test_ctx_done(ctx);

    /* Without the variable, or empty, nothing is armed. */
    ctx = clrt_test_ctx();
    assert_false(ctx->faults.armed);
    clrt_test_ctx_done(ctx);
    ctx = ctx_with_env("");
    assert_false(ctx->faults.armed);
    clrt_test_ctx_done(ctx);

    static const char *const bad[] = {"alloc", "alloc:0", "alloc:x", "allocate:1", "alloc:3:5",
                                      "alloc:3;build:1", "map:-1", "build:1,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[512] = "";
        ctx = (clrt_ctx *)&ctx;
        clrt_status st = create_with_env(bad[i], &ctx, err, sizeof err);
        if (st != CLRT_ERR_INVALID_ARG || ctx != NULL || !strstr(err, "CLRT_FAULT="))
            fail_msg("CLRT_FAULT=\"%s\": %s, \"%s\"", bad[i], clrt_status_str(st), err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alloc_fault),
        cmocka_unit_test(build_fault),
        cmocka_unit_test(build_fault_cached_binary),
        cmocka_unit_test(enqueue_fault),
        cmocka_unit_test(transfer_fault),
        cmocka_unit_test(map_fault),
        cmocka_unit_test(environment_arms_faults),
    };
    return clrt_test_main("faults", tests, sizeof tests / sizeof tests[0]);
}
