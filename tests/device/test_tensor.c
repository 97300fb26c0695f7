/* Tensors on each device: round trips of odd sizes, fill, copy, views,
 * shape errors, async transfers, the pool, interop wrapping, the element
 * type and the kernel variants per type. */
#include "harness.h"
#include "io/io.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const size_t odd_sizes[] = {0, 1, 7, 1023};

static void round_trip_odd_sizes(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    for (size_t k = 0; k < sizeof odd_sizes / sizeof odd_sizes[0]; k++) {
        size_t n = odd_sizes[k];
        float *in = clrt_test_guarded(n), *out = clrt_test_guarded(n);
        clrt_test_random(in, n, (uint32_t)n + 1);
        clrt_tensor *t;
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_UNINIT, &t));
        assert_int_equal(clrt_tensor_numel(t), n);
        assert_int_equal(clrt_tensor_rank(t), 1);
        assert_int_equal(clrt_tensor_dim(t, 0), n);
        assert_int_equal(clrt_tensor_dim(t, 1), 0);
        assert_true(n == 0 ? clrt_tensor_cl_mem(t) == NULL : clrt_tensor_cl_mem(t) != NULL);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, in, n));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
        if (n > 0)
            assert_memory_equal(in, out, n * sizeof(float));
        clrt_test_assert_guard(out, n);
        clrt_tensor_destroy(t);
        free(in);
        free(out);
    }
    clrt_test_ctx_done(ctx);
}

static void round_trip_ranks(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t shapes[4][4] = {{33, 1, 1, 1}, {7, 33, 1, 1}, {3, 5, 7, 1}, {2, 3, 5, 7}};
    for (int rank = 1; rank <= 4; rank++) {
        size_t n = 1;
        for (int i = 0; i < rank; i++)
            n *= shapes[rank - 1][i];
        float *in = clrt_test_guarded(n), *out = clrt_test_guarded(n);
        clrt_test_random(in, n, (uint32_t)rank);
        clrt_tensor *t;
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, rank, shapes[rank - 1], 0, &t));
        assert_int_equal(clrt_tensor_rank(t), rank);
        assert_int_equal(clrt_tensor_numel(t), n);
        for (int i = 0; i < rank; i++)
            assert_int_equal(clrt_tensor_dim(t, i), shapes[rank - 1][i]);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, in, n));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
        assert_memory_equal(in, out, n * sizeof(float));
        clrt_test_assert_guard(out, n);
        clrt_tensor_destroy(t);
        free(in);
        free(out);
    }
    clrt_test_ctx_done(ctx);
}

static void zeroed_and_fill(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    for (size_t k = 0; k < sizeof odd_sizes / sizeof odd_sizes[0]; k++) {
        size_t n = odd_sizes[k];
        /* Two neighbours, so a fill that overruns its buffer shows up. */
        clrt_tensor *t, *next;
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_ZERO, &t));
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_ZERO, &next));
        float *out = clrt_test_guarded(n);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
        for (size_t i = 0; i < n; i++)
            assert_true(out[i] == 0.0f);
        CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, 2.5f));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
        for (size_t i = 0; i < n; i++)
            assert_true(out[i] == 2.5f);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(next, out, n));
        for (size_t i = 0; i < n; i++)
            assert_true(out[i] == 0.0f);
        clrt_test_assert_guard(out, n);
        /* Special values go through unchanged. */
        CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, -FLT_MAX));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
        for (size_t i = 0; i < n; i++)
            assert_true(out[i] == -FLT_MAX);
        clrt_tensor_destroy(t);
        clrt_tensor_destroy(next);
        free(out);
    }
    clrt_test_ctx_done(ctx);
}

static void copy_and_shape_errors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s34[2] = {3, 4}, s43[2] = {4, 3};
    float in[12], out[12];
    clrt_test_random(in, 12, 7);
    clrt_tensor *a, *b, *c;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s34, 0, &a));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s34, CLRT_TENSOR_ZERO, &b));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s43, 0, &c));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(a, in, 12));
    CLRT_ASSERT_OK(ctx, clrt_tensor_copy(b, a));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(b, out, 12));
    assert_memory_equal(in, out, sizeof in);

    /* Same element count, other shape: refused, with both shapes named. */
    assert_int_equal(clrt_tensor_copy(c, a), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[4, 3]"));
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[3, 4]"));
    /* Wrong counts and NULL pointers on transfers. */
    assert_int_equal(clrt_tensor_write(a, in, 11), CLRT_ERR_SHAPE);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "11 floats"));
    assert_int_equal(clrt_tensor_read(a, out, 13), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_tensor_write(a, NULL, 12), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_tensor_copy(NULL, a), CLRT_ERR_INVALID_ARG);
    /* A failed call loses nothing: a is intact. */
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(a, out, 12));
    assert_memory_equal(in, out, sizeof in);

    const size_t bad_rank[5] = {1, 1, 1, 1, 1};
    clrt_tensor *t = (clrt_tensor *)&t;
    assert_int_equal(clrt_tensor_create(ctx, 0, bad_rank, 0, &t), CLRT_ERR_SHAPE);
    assert_null(t);
    assert_int_equal(clrt_tensor_create(ctx, 5, bad_rank, 0, &t), CLRT_ERR_SHAPE);
    assert_int_equal(clrt_tensor_create(ctx, 1, NULL, 0, &t), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_tensor_create(ctx, 2, s34, 0x80, &t), CLRT_ERR_INVALID_ARG);
    const size_t overflow[2] = {SIZE_MAX / 8, 16};
    assert_int_equal(clrt_tensor_create(ctx, 2, overflow, 0, &t), CLRT_ERR_SHAPE);
    assert_null(t);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "more elements"));
    /* Valid but larger than the device allows in one buffer. */
    const size_t huge[1] = {(size_t)(clrt_ctx_device(ctx)->max_alloc_bytes / 4) + 1};
    assert_int_equal(clrt_tensor_create(ctx, 1, huge, 0, &t), CLRT_ERR_OUT_OF_MEMORY);
    assert_null(t);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "CL_DEVICE_MAX_MEM_ALLOC_SIZE"));

    clrt_tensor_destroy(a);
    clrt_tensor_destroy(b);
    clrt_tensor_destroy(c);
    clrt_tensor_destroy(NULL);
    clrt_test_ctx_done(ctx);
}

static void reshape_views_share_data(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s[2] = {6, 5}, flat[1] = {30}, s3[3] = {2, 3, 5}, bad[2] = {7, 5};
    float in[30], out[30];
    clrt_test_random(in, 30, 3);
    clrt_tensor *t, *v, *w;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s, CLRT_TENSOR_ZERO, &t));
    CLRT_ASSERT_OK(ctx, clrt_tensor_reshape(t, 1, flat, &v));
    assert_ptr_equal(clrt_tensor_cl_mem(t), clrt_tensor_cl_mem(v));
    assert_int_equal(clrt_tensor_rank(v), 1);
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(v, in, 30));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, 30));
    assert_memory_equal(in, out, sizeof in);

    w = (clrt_tensor *)&w;
    assert_int_equal(clrt_tensor_reshape(t, 2, bad, &w), CLRT_ERR_SHAPE);
    assert_null(w);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "[7, 5]"));

    /* The buffer outlives the tensor it came from while a view uses it. */
    clrt_memory_stats ms;
    CLRT_ASSERT_OK(ctx, clrt_tensor_reshape(v, 3, s3, &w));
    clrt_tensor_destroy(t);
    clrt_tensor_destroy(v);
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.live_tensors, 1);
    assert_int_equal(ms.bytes_pooled, 0);
    memset(out, 0, sizeof out);
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(w, out, 30));
    assert_memory_equal(in, out, sizeof in);
    clrt_tensor_destroy(w);
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.live_tensors, 0);
    assert_true(ms.bytes_pooled >= sizeof in);
    clrt_test_ctx_done(ctx);
}

static void async_transfers(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n = 257;
    float in[257], out[257];
    clrt_test_random(in, n, 11);
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    cl_event wrote, read;
    CLRT_ASSERT_OK(ctx, clrt_tensor_write_async(t, in, n, &wrote));
    assert_non_null(wrote);
    CLRT_ASSERT_OK(ctx, clrt_tensor_read_async(t, out, n, &read));
    assert_non_null(read);
    assert_int_equal(clWaitForEvents(1, &read), CL_SUCCESS);
    assert_memory_equal(in, out, sizeof in);
    clReleaseEvent(wrote);
    clReleaseEvent(read);
    /* Without an event, finish is the way to know. */
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, 1.0f));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read_async(t, out, n, NULL));
    CLRT_ASSERT_OK(ctx, clrt_ctx_finish(ctx));
    for (size_t i = 0; i < n; i++)
        assert_true(out[i] == 1.0f);
    cl_event none = (cl_event)&none;
    assert_int_equal(clrt_tensor_read_async(t, out, n + 1, &none), CLRT_ERR_SHAPE);
    assert_null(none);
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
}

static void pool_reuses_buffers(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_memory_stats s0, s1, s2, s3;
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &s0));
    assert_int_equal(s0.allocations, 0);
    assert_int_equal(s0.bytes_in_use, 0);

    /* 4000 and 3600 bytes share a size class; a simulator sizes exactly. */
    size_t n = 1000, m = clrt_ctx_device(ctx)->is_simulator ? 1000 : 900;
    size_t cap = clrt__pool_capacity(ctx, n * 4);
    assert_int_equal(cap, clrt__pool_capacity(ctx, m * 4));
    assert_true(cap >= n * 4 && cap <= n * 5);
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &s1));
    assert_int_equal(s1.allocations, 1);
    assert_int_equal(s1.bytes_in_use, cap);
    assert_int_equal(s1.live_tensors, 1);
    cl_mem first = clrt_tensor_cl_mem(t);
    clrt_tensor_destroy(t);

    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &s2));
    assert_int_equal(s2.bytes_in_use, 0);
    assert_int_equal(s2.bytes_pooled, cap);
    assert_int_equal(s2.live_tensors, 0);

    /* Many steps of create/destroy allocate nothing more. */
    for (int step = 0; step < 50; step++) {
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &m, 0, &t));
        assert_ptr_equal(clrt_tensor_cl_mem(t), first);
        clrt_tensor_destroy(t);
    }
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &s3));
    assert_int_equal(s3.allocations, 1);
    assert_int_equal(s3.pool_hits, 50);
    assert_int_equal(s3.peak_bytes, cap);

    /* A different class allocates; trim gives the pool back. */
    size_t big = 5000;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &big, 0, &t));
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &s3));
    assert_int_equal(s3.allocations, 2);
    assert_int_equal(s3.peak_bytes, s3.bytes_in_use + s3.bytes_pooled);
    CLRT_ASSERT_OK(ctx, clrt_ctx_trim(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &s3));
    assert_int_equal(s3.bytes_pooled, 0);
    assert_int_equal(s3.bytes_in_use, clrt__pool_capacity(ctx, big * 4));
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
}

static cl_uint mem_refs_of(void *mem)
{
    cl_uint refs = 0;
    assert_int_equal(clGetMemObjectInfo(mem, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL),
                     CL_SUCCESS);
    return refs;
}

static void wrap_existing_buffer(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    cl_int rc;
    cl_mem mem = clCreateBuffer(clrt_ctx_cl_context(ctx), CL_MEM_READ_WRITE, 64 * sizeof(float),
                                NULL, &rc);
    assert_int_equal(rc, CL_SUCCESS);
    const size_t s[2] = {8, 8}, too_big[2] = {8, 9};
    clrt_tensor *t;
    assert_int_equal(clrt_tensor_from_cl(ctx, mem, 2, too_big, &t), CLRT_ERR_SHAPE);
    CLRT_ASSERT_OK(ctx, clrt_tensor_from_cl(ctx, mem, 2, s, &t));
    assert_ptr_equal(clrt_tensor_cl_mem(t), mem);
    cl_uint refs = 0;
    clGetMemObjectInfo(mem, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL);
    assert_int_equal(refs, 2);
    float in[64], out[64];
    clrt_test_random(in, 64, 5);
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, in, 64));
    assert_int_equal(clEnqueueReadBuffer(clrt_ctx_cl_queue(ctx), mem, CL_TRUE, 0, sizeof out, out,
                                         0, NULL, NULL),
                     CL_SUCCESS);
    assert_memory_equal(in, out, sizeof in);
    clrt_tensor_destroy(t);
    assert_int_equal(clrt_test_settled(mem_refs_of, mem, 1), 1);
    clrt_memory_stats ms;
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.bytes_pooled, 0); /* a wrapped buffer is never pooled */
    clReleaseMemObject(mem);
    clrt_test_ctx_done(ctx);
}

/* Every tensor is float32, whichever way it was made, and its byte size
 * is numel × 4. */
static void dtype_of_tensors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s[2] = {3, 7}, flat = 21, none = 0;
    clrt_tensor *t, *view, *wrapped, *empty;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s, CLRT_TENSOR_UNINIT, &t));
    CLRT_ASSERT_OK(ctx, clrt_tensor_reshape(t, 1, &flat, &view));
    CLRT_ASSERT_OK(ctx, clrt_tensor_from_cl(ctx, clrt_tensor_cl_mem(t), 2, s, &wrapped));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &none, CLRT_TENSOR_UNINIT, &empty));
    const clrt_tensor *all[] = {t, view, wrapped};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(clrt_tensor_dtype(all[i]), CLRT_F32);
        assert_int_equal(clrt__tensor_bytes(all[i]), 84);
    }
    assert_int_equal(clrt_tensor_dtype(empty), CLRT_F32);
    assert_int_equal(clrt__tensor_bytes(empty), 0);
    assert_int_equal(clrt_tensor_dtype(NULL), CLRT_F32);
    assert_int_equal(clrt__dtype_size(CLRT_F32), sizeof(float));
    assert_int_equal(clrt__dtype_size(CLRT__F16), 2);
    assert_int_equal(clrt__dtype_size((clrt_dtype)77), 0);
    assert_null(clrt__dtype_name((clrt_dtype)77));
    /* A copy keeps the type and moves numel × 4 bytes. */
    float in[21], out[21];
    clrt_test_random(in, 21, 9);
    clrt_tensor *copy;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s, CLRT_TENSOR_UNINIT, &copy));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, in, 21));
    CLRT_ASSERT_OK(ctx, clrt_tensor_copy(copy, t));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(copy, out, 21));
    assert_memory_equal(in, out, sizeof in);
    clrt_tensor_destroy(copy);
    clrt_tensor_destroy(empty);
    clrt_tensor_destroy(wrapped);
    clrt_tensor_destroy(view);
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
}

/* The element type is part of a kernel variant's key: one program with the
 * same defines for two types is two builds and two kernels, each cached. */
static void kernel_variants_per_dtype(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    char options[512];
    clrt__build_options(clrt_ctx_device(ctx), CLRT_F32, options, sizeof options);
    assert_non_null(strstr(options, " -D CLRT_DTYPE_F32"));
    clrt__build_options(clrt_ctx_device(ctx), CLRT__F16, options, sizeof options);
    assert_non_null(strstr(options, " -D CLRT_DTYPE_F16"));

    static const char defines[] = "-D CLRT_TEST_VARIANT=1";
    clrt_program_stats before, after;
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &before));
    cl_kernel f32, f16, again;
    CLRT_ASSERT_OK(ctx, clrt__kernel_variant_typed(ctx, "tensor", defines, CLRT_F32, "clrt_fill",
                                                   &f32));
    CLRT_ASSERT_OK(ctx, clrt__kernel_variant_typed(ctx, "tensor", defines, CLRT__F16,
                                                   "clrt_fill", &f16));
    assert_true(f32 != NULL && f16 != NULL && f32 != f16);
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &after));
    assert_int_equal(after.builds, before.builds + 2);

    /* Both are cached; the untyped lookup is the float32 one. */
    CLRT_ASSERT_OK(ctx, clrt__kernel_variant_typed(ctx, "tensor", defines, CLRT__F16,
                                                   "clrt_fill", &again));
    assert_ptr_equal(again, f16);
    CLRT_ASSERT_OK(ctx, clrt__kernel_variant(ctx, "tensor", defines, "clrt_fill", &again));
    assert_ptr_equal(again, f32);
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &after));
    assert_int_equal(after.builds, before.builds + 2);

    /* A value that names no type builds nothing. */
    assert_int_equal(clrt__kernel_variant_typed(ctx, "tensor", defines, (clrt_dtype)77,
                                                "clrt_fill", &again),
                     CLRT_ERR_INVALID_ARG);
    assert_null(again);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "names no type"));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &after));
    assert_int_equal(after.builds, before.builds + 2);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------ 16-bit storage */

/* The floats the device conversions are checked on: the named cases of
 * tests/unit/test_storage.c (ties, overflow, subnormals, NaN, infinities)
 * and a stride over every float bit pattern. */
static float *conversion_inputs(size_t *n)
{
    static const uint32_t named[] = {
        0x3f808000u, 0x3f818000u, 0x3f808001u, /* bf16: tie, tie up, above a tie */
        0x3f801000u, 0x3f803000u, 0x3f801001u, /* fp16: the same */
        0x80000000u, 0x7f800000u, 0xff800000u, 0x477fe000u, 0x477fefffu, 0x477ff000u,
        0x49742400u, 0x7f7fffffu, 0x33800000u, 0x33000000u, 0x33400000u, 0xb4400000u,
        0x387fffc0u, 0x00000001u, 0x00008000u, 0x00018000u, 0x00010001u, 0x7f800001u,
        0xff800001u, 0x7fc00000u, 0x3eaaaaabu, 0xc0200000u};
    size_t nn = sizeof named / sizeof named[0], stride = 65537, ns = 0x100000000ull / stride + 1;
    float *v = malloc((nn + ns) * sizeof *v);
    assert_non_null(v);
    memcpy(v, named, sizeof named);
    for (size_t i = 0; i < ns; i++) {
        uint32_t u = (uint32_t)(i * stride);
        memcpy(&v[nn + i], &u, sizeof u);
    }
    *n = nn + ns;
    return v;
}

/* float32 -> 16 bits on the device (clrt_tensor_convert, the kernels'
 * stores) gives the host conversion's bits; a NaN stays a NaN of its sign
 * (fp16's payload is the driver's to choose). */
static void device_narrowing_matches_host(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n;
    float *in = conversion_inputs(&n);
    uint16_t *got = malloc(n * sizeof *got);
    assert_non_null(got);
    const clrt_dtype types[2] = {CLRT_BF16, CLRT_F16};
    clrt_tensor *src;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_UNINIT, &src));
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(src, in, n));
    for (int k = 0; k < 2; k++) {
        clrt_tensor *dst;
        CLRT_ASSERT_OK(ctx, clrt_tensor_create_typed(ctx, types[k], 1, &n, 0, &dst));
        assert_int_equal(clrt_tensor_dtype(dst), types[k]);
        assert_int_equal(clrt__tensor_bytes(dst), 2 * n);
        CLRT_ASSERT_OK(ctx, clrt_tensor_convert(dst, src));
        assert_int_equal(clrt__cl_enqueue_read(ctx, clrt_tensor_cl_mem(dst), CL_TRUE, 2 * n, got,
                                               NULL),
                         CL_SUCCESS);
        for (size_t i = 0; i < n; i++) {
            bool bf = types[k] == CLRT_BF16;
            uint16_t want = bf ? clrt__bf16_from_f32(in[i]) : clrt__f16_from_f32(in[i]);
            if (isnan(in[i])) {
                float back = bf ? clrt__bf16_to_f32(got[i]) : clrt__f16_to_f32(got[i]);
                if (!isnan(back) || (got[i] >> 15) != (want >> 15))
                    fail_msg("%s of NaN 0x%08x on the device is 0x%04x", clrt_dtype_name(types[k]),
                             clrt__f32_bits(in[i]), got[i]);
            } else if (got[i] != want) {
                fail_msg("%s of 0x%08x (%.9g) on the device is 0x%04x, on the host 0x%04x",
                         clrt_dtype_name(types[k]), clrt__f32_bits(in[i]), (double)in[i], got[i],
                         want);
            }
        }
        clrt_tensor_destroy(dst);
    }
    clrt_tensor_destroy(src);
    free(got);
    free(in);
    clrt_test_ctx_done(ctx);
}

/* Every 16-bit pattern widens on the device (the kernels' loads) to the
 * host's float, bit for bit (NaN: a NaN). */
static void device_widening_matches_host(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n = 0x10000;
    uint16_t *pat = malloc(n * sizeof *pat);
    float *got = malloc(n * sizeof *got);
    assert_true(pat && got);
    for (size_t i = 0; i < n; i++)
        pat[i] = (uint16_t)i;
    const clrt_dtype types[2] = {CLRT_BF16, CLRT_F16};
    clrt_tensor *dst;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_UNINIT, &dst));
    for (int k = 0; k < 2; k++) {
        clrt_tensor *src;
        CLRT_ASSERT_OK(ctx, clrt_tensor_create_typed(ctx, types[k], 1, &n, 0, &src));
        assert_int_equal(clrt__cl_enqueue_write(ctx, clrt_tensor_cl_mem(src), CL_TRUE, 2 * n, pat,
                                                NULL),
                         CL_SUCCESS);
        CLRT_ASSERT_OK(ctx, clrt_tensor_convert(dst, src));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(dst, got, n));
        for (size_t i = 0; i < n; i++) {
            float want = types[k] == CLRT_BF16 ? clrt__bf16_to_f32(pat[i])
                                               : clrt__f16_to_f32(pat[i]);
            bool ok = isnan(want) ? isnan(got[i]) : clrt__f32_bits(got[i]) == clrt__f32_bits(want);
            if (!ok)
                fail_msg("%s 0x%04zx widens on the device to 0x%08x, on the host 0x%08x",
                         clrt_dtype_name(types[k]), i, clrt__f32_bits(got[i]),
                         clrt__f32_bits(want));
        }
        clrt_tensor_destroy(src);
    }
    clrt_tensor_destroy(dst);
    free(pat);
    free(got);
    clrt_test_ctx_done(ctx);
}

/* 16-bit tensors: transfers round on the way in, fill and copy keep the
 * storage, a copy between types is refused (convert is the call), the
 * async forms complete on return, and a bad type is refused. */
static void typed_tensor_calls(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t n = 7;
    float in[7] = {1.0f / 3.0f, -2.5f, 70000.0f, 0x1p-20f, 1.0f + 0x1p-8f, -0.0f, 1e-3f};
    float out[7];
    const clrt_dtype types[2] = {CLRT_BF16, CLRT_F16};
    for (int k = 0; k < 2; k++) {
        bool bf = types[k] == CLRT_BF16;
        clrt_tensor *t, *u, *f32;
        CLRT_ASSERT_OK(ctx, clrt_tensor_create_typed(ctx, types[k], 1, &n, CLRT_TENSOR_ZERO, &t));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
        for (size_t i = 0; i < n; i++)
            assert_true(out[i] == 0.0f);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, in, n));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
        for (size_t i = 0; i < n; i++) {
            float want = bf ? clrt__bf16_to_f32(clrt__bf16_from_f32(in[i]))
                            : clrt__f16_to_f32(clrt__f16_from_f32(in[i]));
            assert_int_equal(clrt__f32_bits(out[i]), clrt__f32_bits(want));
        }
        cl_event ev = (cl_event)1;
        CLRT_ASSERT_OK(ctx, clrt_tensor_read_async(t, out, n, &ev));
        assert_null(ev);
        CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, 1.0f / 3.0f));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
        float third = bf ? clrt__bf16_to_f32(clrt__bf16_from_f32(1.0f / 3.0f))
                         : clrt__f16_to_f32(clrt__f16_from_f32(1.0f / 3.0f));
        assert_true(out[6] == third && out[0] == third);
        CLRT_ASSERT_OK(ctx, clrt_tensor_create_typed(ctx, types[k], 1, &n, 0, &u));
        CLRT_ASSERT_OK(ctx, clrt_tensor_copy(u, t));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(u, out, n));
        assert_true(out[3] == third);
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &f32));
        assert_int_equal(clrt_tensor_copy(f32, t), CLRT_ERR_INVALID_ARG);
        CLRT_ASSERT_OK(ctx, clrt_tensor_convert(f32, t));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(f32, out, n));
        assert_true(out[5] == third);
        clrt_tensor_destroy(f32);
        clrt_tensor_destroy(u);
        clrt_tensor_destroy(t);
    }
    clrt_tensor *bad = (clrt_tensor *)1;
    assert_int_equal(clrt_tensor_create_typed(ctx, (clrt_dtype)9, 1, &n, 0, &bad),
                     CLRT_ERR_INVALID_ARG);
    assert_null(bad);
    /* The optimizers step float32 master weights only, and say so. */
    clrt_tensor *p16;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create_typed(ctx, CLRT_BF16, 1, &n, CLRT_TENSOR_ZERO, &p16));
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_SGD);
    clrt_optim *opt = (clrt_optim *)1;
    assert_int_equal(clrt_optim_create(ctx, &oo, 1, &p16, &opt), CLRT_ERR_INVALID_ARG);
    assert_null(opt);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "stored as bf16"));
    clrt_tensor_destroy(p16);
    /* A precision that names no storage is refused when the context is made. */
    clrt_ctx_options o;
    clrt_test_options(&o);
    o.precision = 7;
    clrt_ctx *none = (clrt_ctx *)1;
    char err[512] = "";
    assert_int_equal(clrt_ctx_create(&o, &none, err, sizeof err), CLRT_ERR_INVALID_ARG);
    assert_null(none);
    assert_non_null(strstr(err, "precision 7"));
    assert_int_equal(clrt_ctx_precision(ctx), CLRT_F32);
    assert_string_equal(clrt_dtype_name(CLRT_BF16), "bf16");
    assert_string_equal(clrt_dtype_name(CLRT_F16), "f16");
    assert_null(clrt_dtype_name((clrt_dtype)9));
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_odd_sizes),
        cmocka_unit_test(round_trip_ranks),
        cmocka_unit_test(zeroed_and_fill),
        cmocka_unit_test(copy_and_shape_errors),
        cmocka_unit_test(reshape_views_share_data),
        cmocka_unit_test(async_transfers),
        cmocka_unit_test(pool_reuses_buffers),
        cmocka_unit_test(wrap_existing_buffer),
        cmocka_unit_test(dtype_of_tensors),
        cmocka_unit_test(kernel_variants_per_dtype),
        cmocka_unit_test(device_narrowing_matches_host),
        cmocka_unit_test(device_widening_matches_host),
        cmocka_unit_test(typed_tensor_calls),
    };
    return clrt_test_main("tensor", tests, sizeof tests / sizeof tests[0]);
}
