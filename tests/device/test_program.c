/* Programs on each device: lazy build, CLRT_KERNEL_DIR, a broken kernel's
 * build log, and the on-disk binary cache (hit, corrupt entry, rebuild). */
#include "harness.h"
#include "io/io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void copy_source(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/cl/%s", CLRT_SOURCE_DIR, name);
    char *text;
    size_t len;
    assert_int_equal(clrt__read_file(path, &text, &len), 0);
    write_text(dir, name, text);
    free(text);
}

static void fill_and_check(clrt_ctx *ctx, float value)
{
    size_t n = 33;
    float out[33];
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, value));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
    for (size_t i = 0; i < n; i++)
        assert_true(out[i] == value);
    clrt_tensor_destroy(t);
}

static void lazy_build_once_per_context(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_program_stats ps;
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 0); /* nothing is compiled until used */
    fill_and_check(ctx, 4.0f);
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 1);
    fill_and_check(ctx, -1.0f);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    /* Every embedded program, plus GEMM's tile variants. */
    size_t all = ps.builds;
    assert_true(all > clrt_embedded_source_count);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, all);
    assert_int_equal(ps.disk_hits + ps.disk_writes, 0); /* the disk cache is off here */
    clrt_test_ctx_done(ctx);
}

static void broken_kernel_reports_build_log(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    copy_source(dir, "common.h");
    write_text(dir, "tensor.cl",
               "#include \"common.h\"\n"
               "__kernel void clrt_fill(__global float *x, const float value, const ulong n)\n"
               "{\n"
               "    x[get_global_id(0)] = value + clrt_undeclared_symbol;\n"
               "}\n");
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.kernel_dir = dir;
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    size_t n = 7;
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    assert_int_equal(clrt_tensor_fill(t, 1.0f), CLRT_ERR_BUILD);
    const char *msg = clrt_ctx_errmsg(ctx);
    /* The compiler's own words, with the file and the failing identifier. */
    assert_non_null(strstr(msg, "clrt_undeclared_symbol"));
    assert_non_null(strstr(msg, "tensor.cl"));
    assert_non_null(strstr(msg, "build log"));
    assert_int_equal(clrt_ctx_cl_error(ctx), CL_BUILD_PROGRAM_FAILURE);
    /* Nothing else is lost: transfers still work. */
    float x[7] = {1, 2, 3, 4, 5, 6, 7}, y[7];
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, x, n));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, y, n));
    assert_memory_equal(x, y, sizeof x);
    /* And a second try fails the same way rather than using a half-built program. */
    assert_int_equal(clrt_tensor_fill(t, 1.0f), CLRT_ERR_BUILD);
    clrt_tensor_destroy(t);
    clrt_test_discard_simulator_log(); /* its API checker reports the failed build */
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);
    free(dir);
}

static void kernel_dir_sources(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    copy_source(dir, "common.h");
    copy_source(dir, "tensor.cl");
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.kernel_dir = dir;
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    fill_and_check(ctx, 9.0f);
    clrt_test_ctx_done(ctx);

    /* A folder without the file: an I/O error naming the path. */
    char path[1024];
    snprintf(path, sizeof path, "%s/tensor.cl", dir);
    remove(path);
    ctx = clrt_test_ctx_with(&opt);
    size_t n = 3;
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    assert_int_equal(clrt_tensor_fill(t, 1.0f), CLRT_ERR_IO);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), path));
    clrt_tensor_destroy(t);
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);
    free(dir);
}

/* Flip one byte in the middle of every cache entry in `dir`. */
static int corrupt_entries(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls %s/*.clbin 2>/dev/null", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char path[1024];
    int count = 0;
    while (fgets(path, sizeof path, p)) {
        path[strcspn(path, "\n")] = '\0';
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, size / 2, SEEK_SET);
        int c = fgetc(f);
        fseek(f, size / 2, SEEK_SET);
        fputc(c ^ 0x5a, f);
        fclose(f);
        count++;
    }
    pclose(p);
    return count;
}

static void disk_cache_hit_in_second_context(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char cache[1024];
    snprintf(cache, sizeof cache, "%s/nested/cache", dir);
    unsetenv("CLRT_CACHE"); /* "off" in the environment would skip what this tests */
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.cache_dir = cache;
    clrt_ctx *ctx;
    clrt_program_stats ps;
    size_t nprog; /* programs build_all makes: the embedded ones and GEMM's variants */

    ctx = clrt_test_ctx_with(&opt);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    nprog = ps.builds;
    assert_true(nprog > clrt_embedded_source_count);
    assert_int_equal(ps.disk_writes, nprog);
    assert_int_equal(ps.disk_hits, 0);
    clrt_test_ctx_done(ctx);
    struct stat st;
    assert_int_equal(stat(cache, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* A second context loads binaries instead of compiling. */
    ctx = clrt_test_ctx_with(&opt);
    fill_and_check(ctx, 5.0f);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 0);
    assert_int_equal(ps.disk_hits, nprog);
    clrt_test_ctx_done(ctx);

    /* A corrupt entry is ignored, rebuilt and rewritten, never used. */
    assert_int_equal(corrupt_entries(cache), (int)nprog);
    ctx = clrt_test_ctx_with(&opt);
    fill_and_check(ctx, 6.0f);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.disk_rejects, nprog);
    assert_int_equal(ps.builds, nprog);
    assert_int_equal(ps.disk_writes, nprog);
    clrt_test_ctx_done(ctx);

    ctx = clrt_test_ctx_with(&opt);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.disk_hits, nprog);
    assert_int_equal(ps.builds, 0);
    clrt_test_ctx_done(ctx);

    clrt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lazy_build_once_per_context),
        cmocka_unit_test(broken_kernel_reports_build_log),
        cmocka_unit_test(kernel_dir_sources),
        cmocka_unit_test(disk_cache_hit_in_second_context),
    };
    return clrt_test_main("program", tests, sizeof tests / sizeof tests[0]);
}
