/* Contexts on each device: creation, selector errors, interop, BUSY on
 * destroy, profiling and kernel times, finish/flush, the log callback. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void create_on_device(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const clrt_device_info *d = clrt_ctx_device(ctx);
    assert_non_null(d);
    assert_string_equal(d->name, clrt_test_device()->name);
    assert_true(d->name[0] != '\0');
    assert_true(d->compute_units >= 1);
    assert_true(d->global_mem_bytes > 0);
    assert_true(d->max_work_group_size >= 1);
    assert_non_null(clrt_ctx_cl_context(ctx));
    assert_non_null(clrt_ctx_cl_queue(ctx));
    assert_string_equal(clrt_ctx_errmsg(ctx), "");
    assert_int_equal(clrt_ctx_cl_error(ctx), CL_SUCCESS);
    CLRT_ASSERT_OK(ctx, clrt_ctx_flush(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_finish(ctx));

    /* The device's advertised selector picks this very device. */
    clrt_device_info again;
    char err[1024];
    assert_int_equal(clrt_device_select(d->selector, &again, err, sizeof err), CLRT_OK);
    assert_ptr_equal(again.device_id, d->device_id);
    clrt_test_ctx_done(ctx);
}

static void bad_selectors(void **state)
{
    (void)state;
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.device = "no-such-device-anywhere";
    clrt_ctx *ctx = (clrt_ctx *)&opt;
    char err[4096] = "";
    assert_int_equal(clrt_ctx_create(&opt, &ctx, err, sizeof err), CLRT_ERR_NO_DEVICE);
    assert_null(ctx);
    /* The message names the selector and lists the devices there are. */
    assert_non_null(strstr(err, "no-such-device-anywhere"));
    assert_non_null(strstr(err, clrt_test_device()->name));

    opt.device = "gpu:x";
    assert_int_equal(clrt_ctx_create(&opt, &ctx, err, sizeof err), CLRT_ERR_INVALID_ARG);
    assert_null(ctx);
    opt.device = "4096";
    assert_int_equal(clrt_ctx_create(&opt, &ctx, err, sizeof err), CLRT_ERR_NO_DEVICE);
    assert_int_equal(clrt_ctx_create(&opt, NULL, err, sizeof err), CLRT_ERR_INVALID_ARG);
    /* A NULL error buffer is allowed. */
    assert_int_equal(clrt_ctx_create(&opt, &ctx, NULL, 0), CLRT_ERR_NO_DEVICE);
    assert_int_equal(clrt_ctx_destroy(NULL), CLRT_OK);
}

static void busy_while_tensors_live(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n = 7;
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "1 tensors still live"));
    /* Still usable after the refusal. */
    float x[7] = {1, 2, 3, 4, 5, 6, 7}, y[7];
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, x, n));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, y, n));
    assert_memory_equal(x, y, sizeof x);
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
}

/* Every kind of object made on a context keeps it: the message counts
 * each kind still live, the context stays usable, and once they are gone
 * it is destroyed. (The kinds one by one: test_loader, test_model,
 * test_optim.) */
static void busy_names_every_kind_live(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    float x[6] = {1, 2, 3, 4, 5, 6}, labels[2] = {0, 1};
    clrt_dataset *ds;
    char err[256];
    assert_int_equal(clrt_dataset_create(2, 3, x, labels, &ds, err, sizeof err), CLRT_OK);
    clrt_loader *l;
    CLRT_ASSERT_OK(ctx, clrt_loader_create(ctx, ds, NULL, &l));
    clrt_model *m;
    CLRT_ASSERT_OK(ctx, clrt_model_create(ctx, 3, &m)); /* its 2 loss tensors, its NaN flag */
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx),
                           "3 tensors, 1 loader, 1 model still live; destroy them first"));

    CLRT_ASSERT_OK(ctx, clrt_model_add_linear(m, 2));
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &oo, clrt_model_num_params(m),
                                          clrt_model_params(m), &opt));
    const clrt_tensor *bx, *by;
    CLRT_ASSERT_OK(ctx, clrt_loader_next(l, &bx, &by));
    CLRT_ASSERT_OK(ctx, clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, bx, by));
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "1 loader, 1 model, 1 optimizer still live"));

    /* In any order: each destroy leaves the rest counted. */
    clrt_loader_destroy(l);
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_null(strstr(clrt_ctx_errmsg(ctx), "loader"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "1 model, 1 optimizer still live"));
    clrt_model_destroy(m);
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), " tensors, 1 optimizer still live"));
    clrt_optim_destroy(opt);
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

static void profiling_queue(void **state)
{
    (void)state;
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.profiling = 1;
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    cl_command_queue_properties props = 0;
    assert_int_equal(clGetCommandQueueInfo(clrt_ctx_cl_queue(ctx), CL_QUEUE_PROPERTIES,
                                           sizeof props, &props, NULL),
                     CL_SUCCESS);
    assert_true(props & CL_QUEUE_PROFILING_ENABLE);
    /* An event from a transfer carries timings. */
    size_t n = 33;
    float x[33] = {0};
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    cl_event ev;
    CLRT_ASSERT_OK(ctx, clrt_tensor_write_async(t, x, n, &ev));
    assert_int_equal(clWaitForEvents(1, &ev), CL_SUCCESS);
    cl_ulong start = 0, end = 0;
    assert_int_equal(clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof start, &start,
                                             NULL),
                     CL_SUCCESS);
    assert_int_equal(
        clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL), CL_SUCCESS);
    assert_true(end >= start);
    clReleaseEvent(ev);
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
}

/* The entry named `name` among times[0..n), or NULL. */
static const clrt_kernel_time *find_time(const clrt_kernel_time *times, size_t n,
                                         const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(times[i].name, name) == 0)
            return &times[i];
    return NULL;
}

/* Every entry is a real kernel with a plausible time, most time first. A
 * few tiny launches take far less than a minute even on oclgrind: more
 * means a unit slip (nanoseconds reported as seconds) or a wrapped
 * END - START. */
static void check_times(const clrt_kernel_time *times, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(times[i].name[0] != '\0');
        assert_non_null(memchr(times[i].name, '\0', sizeof times[i].name));
        assert_true(times[i].calls >= 1);
        assert_true(isfinite(times[i].seconds));
        assert_true(times[i].seconds >= 0 && times[i].seconds < 60);
        if (i > 0 && times[i - 1].seconds < times[i].seconds)
            fail_msg("kernel times out of order: %s %.9g s before %s %.9g s", times[i - 1].name,
                     times[i - 1].seconds, times[i].name, times[i].seconds);
    }
}

static void kernel_times(void **state)
{
    (void)state;
    clrt_kernel_time times[16];
    size_t count = 99;

    /* Without a profiling queue there are no times to give. */
    clrt_ctx *plain = clrt_test_ctx();
    assert_int_equal(clrt_ctx_kernel_times(plain, times, 16, &count), CLRT_ERR_UNSUPPORTED);
    assert_int_equal(count, 0);
    assert_non_null(strstr(clrt_ctx_errmsg(plain), "profiling"));
    assert_int_equal(clrt_ctx_kernel_times(plain, times, 16, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_ctx_kernel_times(NULL, times, 16, &count), CLRT_ERR_INVALID_ARG);
    clrt_test_ctx_done(plain);

    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.profiling = 1;
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    assert_int_equal(clrt_ctx_kernel_times(ctx, NULL, 1, &count), CLRT_ERR_INVALID_ARG);
    /* Nothing launched yet. */
    CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, NULL, 0, &count));
    assert_int_equal(count, 0);

    /* Two fills and a GEMM of odd shapes. The builtin backend, whatever
     * `auto` would choose here, so the GEMM is a kernel of clrt's own. */
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_BUILTIN));
    float a[3 * 5], b[5 * 7];
    clrt_test_random(a, 3 * 5, 1);
    clrt_test_random(b, 5 * 7, 2);
    clrt_tensor *ta = clrt_test_matrix(ctx, 3, 5, a), *tb = clrt_test_matrix(ctx, 5, 7, b);
    clrt_tensor *tc = clrt_test_matrix(ctx, 3, 7, NULL);
    /* The first GEMM of a shape times candidate tiles (fills included);
     * discard those launches, as a benchmark discards its warm-up. */
    CLRT_ASSERT_OK(ctx, clrt_gemm(ctx, 0, 0, 1.0f, ta, tb, 0.0f, tc));
    CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, NULL, 0, &count));
    assert_true(count >= 1);
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(tc, 1.0f));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(tc, 2.0f));
    CLRT_ASSERT_OK(ctx, clrt_gemm(ctx, 0, 0, 1.0f, ta, tb, 0.5f, tc));
    memset(times, 0, sizeof times);
    CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, times, 16, &count));
    assert_true(count >= 2 && count <= 16);
    check_times(times, count);
    const clrt_kernel_time *fill = find_time(times, count, "clrt_fill");
    assert_non_null(fill);
    assert_true(fill->calls == 2);
    const clrt_kernel_time *gemm = NULL;
    for (size_t i = 0; i < count; i++)
        if (strncmp(times[i].name, "clrt_gemm", 9) == 0)
            gemm = &times[i];
    if (!gemm)
        fail_msg("no clrt_gemm* kernel among %zu (first: %s)", count, times[0].name);
    assert_true(gemm->calls >= 1);
    for (size_t i = count; i < 16; i++)
        assert_true(times[i].calls == 0); /* untouched past count */

    /* More work read through cap 1: *count still says how many kernels,
     * and only times[0] is written. */
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(tc, 3.0f));
    CLRT_ASSERT_OK(ctx, clrt_gemm(ctx, 0, 0, 1.0f, ta, tb, 0.0f, tc));
    memset(times, 0, sizeof times);
    times[1].calls = 12345;
    CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, times, 1, &count));
    assert_true(count > 1);
    check_times(times, 1);
    assert_true(times[1].calls == 12345);

    /* That call emptied the record. */
    CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, times, 16, &count));
    assert_int_equal(count, 0);

    /* Past the bound on pending events the older ones are folded in as the
     * launches go; none is lost. */
    const unsigned long long fills = 1100;
    for (unsigned long long i = 0; i < fills; i++)
        CLRT_ASSERT_OK(ctx, clrt_tensor_fill(tc, (float)i));
    CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, times, 16, &count));
    assert_int_equal(count, 1);
    assert_string_equal(times[0].name, "clrt_fill");
    assert_true(times[0].calls == fills);
    check_times(times, 1);

    /* Events still pending at destruction are released with the context. */
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(tc, 4.0f));
    clrt_tensor_destroy(ta);
    clrt_tensor_destroy(tb);
    clrt_tensor_destroy(tc);
    clrt_test_ctx_done(ctx);
}

static cl_uint context_refs(cl_context c)
{
    cl_uint refs = 0;
    assert_int_equal(clGetContextInfo(c, CL_CONTEXT_REFERENCE_COUNT, sizeof refs, &refs, NULL),
                     CL_SUCCESS);
    return refs;
}

static cl_uint queue_refs(cl_command_queue q)
{
    cl_uint refs = 0;
    assert_int_equal(clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof refs, &refs, NULL),
                     CL_SUCCESS);
    return refs;
}

static cl_uint context_refs_of(void *c)
{
    return context_refs(c);
}

static cl_uint queue_refs_of(void *q)
{
    return queue_refs(q);
}

static void interop_from_cl(void **state)
{
    (void)state;
    const clrt_device_info *d = clrt_test_device();
    cl_int rc;
    cl_context cctx = clCreateContext(NULL, 1, &d->device_id, NULL, NULL, &rc);
    assert_int_equal(rc, CL_SUCCESS);
    cl_command_queue q = clCreateCommandQueue(cctx, d->device_id, 0, &rc);
    assert_int_equal(rc, CL_SUCCESS);
    /* Ours, and the queue's on some drivers; nothing else holds them yet. */
    const cl_uint ctx_base = context_refs(cctx), queue_base = queue_refs(q);
    assert_true(ctx_base >= 1);
    assert_int_equal(queue_base, 1);

    clrt_ctx_options opt;
    clrt_test_options(&opt);
    clrt_ctx *ctx;
    char err[1024];
    assert_int_equal(clrt_ctx_create_from_cl(cctx, q, &opt, &ctx, err, sizeof err), CLRT_OK);
    assert_ptr_equal(clrt_ctx_cl_context(ctx), cctx);
    assert_ptr_equal(clrt_ctx_cl_queue(ctx), q);
    assert_ptr_equal(clrt_ctx_device(ctx)->device_id, d->device_id);
    assert_string_equal(clrt_ctx_device(ctx)->selector, d->selector);
    /* clrt holds both (its programs may hold more context references). */
    assert_true(context_refs(cctx) >= ctx_base + 1);
    assert_true(queue_refs(q) >= queue_base + 1);

    size_t n = 7;
    float x[7] = {7, 6, 5, 4, 3, 2, 1}, y[7];
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, x, n));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, 3.0f));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, y, n));
    for (size_t i = 0; i < n; i++)
        assert_true(y[i] == 3.0f);
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
    /* clrt released exactly what it retained, and everything it made on the
     * context: the counts are back where they were; ours are still valid. */
    assert_int_equal(clrt_test_settled(context_refs_of, cctx, ctx_base), ctx_base);
    assert_int_equal(clrt_test_settled(queue_refs_of, q, queue_base), queue_base);
    clReleaseCommandQueue(q);
    clReleaseContext(cctx);

    /* Mismatched or missing objects are refused. */
    assert_int_equal(clrt_ctx_create_from_cl(NULL, NULL, &opt, &ctx, err, sizeof err),
                     CLRT_ERR_INVALID_ARG);
    assert_null(ctx);
}

typedef struct log_capture {
    int errors;
    char last[512];
} log_capture;

static void capture(void *user, clrt_log_level level, const char *message)
{
    log_capture *c = user;
    if (level == CLRT_LOG_ERROR) {
        c->errors++;
        snprintf(c->last, sizeof c->last, "%s", message);
    }
}

static void log_callback_gets_errors(void **state)
{
    (void)state;
    log_capture cap = {0};
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.log = capture;
    opt.log_user = &cap;
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    const size_t s[2] = {2, 3};
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s, 0, &t));
    float x[5] = {0};
    assert_int_equal(clrt_tensor_write(t, x, 5), CLRT_ERR_SHAPE);
    assert_int_equal(cap.errors, 1);
    assert_non_null(strstr(cap.last, "CLRT_ERR_SHAPE"));
    assert_non_null(strstr(cap.last, "[2, 3]"));
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_on_device),
        cmocka_unit_test(bad_selectors),
        cmocka_unit_test(busy_while_tensors_live),
        cmocka_unit_test(busy_names_every_kind_live),
        cmocka_unit_test(profiling_queue),
        cmocka_unit_test(kernel_times),
        cmocka_unit_test(interop_from_cl),
        cmocka_unit_test(log_callback_gets_errors),
    };
    return clrt_test_main("context", tests, sizeof tests / sizeof tests[0]);
}
