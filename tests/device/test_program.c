/* Programs on each device: lazy build, the base programs built as one,
 * one work-group size per 1-D kernel on CPU devices, CLRT_KERNEL_DIR, a
 * broken kernel's build log, and the on-disk binary cache (hit, corrupt
 * entry, rebuild; a forged entry with a valid crc, a folder others can
 * write). */
#include "harness.h"
#include "io/io.h"

#include <dirent.h>
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
    /* The base group, activation.cl and GEMM's up-front variants. */
    size_t all = ps.builds;
    assert_true(all > 2);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, all);
    assert_int_equal(ps.disk_hits + ps.disk_writes, 0); /* the disk cache is off here */
    clrt_test_ctx_done(ctx);
}

/* The plain float32 builds of tensor, elementwise, linear, loss and optim
 * are one program: a kernel of each after the fill builds nothing more.
 * A variant with defines, and activation.cl, are programs of their own;
 * the group is no bundle entry. clrt__programs_separate (the bundle
 * compiler) builds each file on its own. */
static void base_programs_are_one_build(void **state)
{
    (void)state;
    static const char *const kernels[][2] = {{"elementwise", "clrt_axpy"},
                                             {"linear", "clrt_bias_grad"},
                                             {"loss", "clrt_loss_sum"},
                                             {"optim", "clrt_optim_sgd"}};
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_program_stats ps;
    fill_and_check(ctx, 2.0f);
    cl_kernel k;
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        CLRT_ASSERT_OK(ctx, clrt__kernel(ctx, kernels[i][0], kernels[i][1], &k));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 1);
    assert_int_equal(clrt__program_count(ctx), 1);
    CLRT_ASSERT_OK(ctx, clrt__kernel_variant(ctx, "linear", "-D CLRT_ACT_FIXED=1", "clrt_bias_act",
                                             &k));
    CLRT_ASSERT_OK(ctx, clrt__kernel(ctx, "activation", "clrt_softmax_forward", &k));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 3);
    clrt__program_key key;
    unsigned char *bin;
    size_t len;
    assert_int_equal(clrt__program_export(ctx, 0, &key, &bin, &len), CLRT_ERR_UNSUPPORTED);
    assert_null(bin);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "clrt__programs_separate"));
    clrt_test_ctx_done(ctx);

    ctx = clrt_test_ctx();
    clrt__programs_separate(ctx);
    fill_and_check(ctx, 3.0f);
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        CLRT_ASSERT_OK(ctx, clrt__kernel(ctx, kernels[i][0], kernels[i][1], &k));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 1 + sizeof kernels / sizeof kernels[0]);
    clrt_test_ctx_done(ctx);
}

/* On a CPU device (not a simulator) a 1-D kernel runs in work-groups of
 * one size whatever its length, so that PoCL compiles it once; elsewhere
 * the driver chooses (local 0). The global size covers n in whole groups
 * (of 64 items at least). Likewise for a 2-D launch without a work-group
 * of its own, whatever its rows. */
static void one_group_size_per_1d_kernel(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    cl_kernel k;
    CLRT_ASSERT_OK(ctx, clrt__kernel(ctx, "optim", "clrt_optim_sgd", &k));
    static const size_t lengths[] = {1, 10, 64, 512, 5120, 65537, 401408};
    bool fixed = clrt__device_is_cpu(&ctx->dev) && !ctx->dev.is_simulator;
    size_t first_local = 0;
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t n = lengths[i], global, local;
        CLRT_ASSERT_OK(ctx, clrt__launch_1d_size(ctx, k, n, "test", &global, &local));
        size_t group = local > 64 ? local : 64; /* what n is rounded up to */
        if (global < n || global % group != 0 || global - n >= group)
            fail_msg("n %zu: global %zu, local %zu", n, global, local);
        if (i == 0)
            first_local = local;
        if (fixed ? local == 0 || local != first_local : local != 0)
            fail_msg("n %zu: local %zu (first %zu) on a %s device", n, local, first_local,
                     fixed ? "CPU" : "non-CPU or simulated");
    }

    /* 2-D, the work-group left to clrt (the bias pass): on a CPU device one
     * per column count whatever the rows (the batch); an explicit one kept. */
    CLRT_ASSERT_OK(ctx, clrt__kernel(ctx, "linear", "clrt_bias_grad", &k));
    static const size_t cols[] = {10, 512}, rows[] = {1, 16, 96, 128, 1000};
    for (size_t c = 0; c < 2; c++) {
        size_t first[2] = {0, 0};
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            size_t global[2], local[2];
            CLRT_ASSERT_OK(ctx, clrt__launch_2d_size(ctx, k, cols[c], rows[r], 0, 0, "test",
                                                     global, local));
            if (r == 0)
                first[0] = local[0], first[1] = local[1];
            bool ok = fixed ? local[0] == first[0] && local[1] == first[1] && local[0] > 0 &&
                                  local[1] > 0 && global[0] % local[0] == 0 &&
                                  global[1] % local[1] == 0 &&
                                  global[0] >= cols[c] && global[1] >= rows[r]
                            : local[0] == 0 && local[1] == 0 && global[0] == cols[c] &&
                                  global[1] == rows[r];
            if (!ok)
                fail_msg("%zux%zu: global %zux%zu, local %zux%zu (first %zux%zu)", cols[c],
                         rows[r], global[0], global[1], local[0], local[1], first[0], first[1]);
        }
    }
    size_t global[2], local[2];
    CLRT_ASSERT_OK(ctx, clrt__launch_2d_size(ctx, k, 10, 7, 8, 4, "test", global, local));
    assert_true(local[0] == 8 && local[1] == 4 && global[0] == 16 && global[1] == 8);
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
    copy_source(dir, "storage.h");
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
    clrt_ctx_options opt;
    clrt_test_cache_options(&opt, cache);
    clrt_ctx *ctx;
    clrt_program_stats ps;
    size_t nprog; /* programs build_all makes: the base group, activation.cl, GEMM's */

    ctx = clrt_test_ctx_with(&opt);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    nprog = ps.builds;
    assert_true(nprog > 2);
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


/* The one "*.clbin" entry in `dir` (caller frees); fails unless there is
 * exactly one. */
static char *only_entry(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *found = NULL;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 6 && strcmp(e->d_name + len - 6, ".clbin") == 0) {
            count++;
            free(found);
            found = malloc(strlen(dir) + len + 2);
            assert_non_null(found);
            sprintf(found, "%s/%s", dir, e->d_name);
        }
    }
    closedir(d);
    if (count != 1)
        fail_msg("%s holds %d cache entries, want 1", dir, count);
    return found;
}

static unsigned char *read_all(const char *path, size_t *len)
{
    char *data;
    assert_int_equal(clrt__read_file(path, &data, len), 0);
    return (unsigned char *)data;
}

static void write_all_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Fill 33 floats with `value` and return what the device wrote to the first. */
static float fill_first(clrt_ctx *ctx, float value)
{
    size_t n = 33;
    float out[33];
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &t));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(t, value));
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
    clrt_tensor_destroy(t);
    for (size_t i = 1; i < n; i++)
        assert_true(out[i] == out[0]);
    return out[0];
}

/* The stats once the context has stored what it built (which it otherwise
 * does when it ends). */
static void expect_stats(clrt_ctx *ctx, size_t builds, size_t hits, size_t writes,
                         size_t rejects)
{
    clrt_program_stats ps;
    CLRT_ASSERT_OK(ctx, clrt_ctx_store_cache(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    if (ps.builds != builds || ps.disk_hits != hits || ps.disk_writes != writes ||
        ps.disk_rejects != rejects)
        fail_msg("program stats: builds %zu, hits %zu, writes %zu, rejects %zu; want %zu, %zu, "
                 "%zu, %zu",
                 ps.builds, ps.disk_hits, ps.disk_writes, ps.disk_rejects, builds, hits, writes,
                 rejects);
}

/* Warnings and errors a context logged, counted, the last one kept. */
typedef struct log_count {
    int warnings;
    char last[1024];
} log_count;

static void count_warnings(void *user, clrt_log_level level, const char *message)
{
    log_count *c = user;
    if (level >= CLRT_LOG_WARN) {
        c->warnings++;
        snprintf(c->last, sizeof c->last, "%s", message);
    }
}

/* A program built from source is stored when the context ends, not when it
 * is built (asking PoCL for the binary compiles it again), or at
 * clrt_ctx_store_cache, once. */
static void binary_stored_later_once(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    clrt_ctx_options opt;
    clrt_test_cache_options(&opt, dir);
    clrt_program_stats ps;

    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    assert_true(fill_first(ctx, 2.5f) == 2.5f);
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 1);
    assert_int_equal(ps.disk_writes, 0);
    CLRT_ASSERT_OK(ctx, clrt_ctx_store_cache(ctx));
    CLRT_ASSERT_OK(ctx, clrt_ctx_store_cache(ctx)); /* nothing left to store */
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.disk_writes, 1);
    free(only_entry(dir));
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);

    /* Left to the context's end. */
    assert_int_equal(mkdir(dir, 0700), 0);
    ctx = clrt_test_ctx_with(&opt);
    assert_true(fill_first(ctx, 3.5f) == 3.5f);
    clrt_test_ctx_done(ctx);
    free(only_entry(dir));
    ctx = clrt_test_ctx_with(&opt);
    assert_true(fill_first(ctx, 4.5f) == 4.5f);
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 0);
    assert_int_equal(ps.disk_hits, 1);
    clrt_test_ctx_done(ctx);
    assert_int_equal(clrt_ctx_store_cache(NULL), CLRT_ERR_INVALID_ARG);
    clrt_test_rmtree(dir);
    free(dir);
}

/* A crc32 is no proof of who wrote an entry. The fill program's entry is
 * replaced by the binary of another source, whose fill writes 42, under the
 * fill's own key: first in the old format with its crc recomputed, then in
 * the current one with a MAC made under another folder's secret. The entry
 * is refused each time (one reject), the program rebuilt from source, and
 * the fill still gives 1.5. */
static void forged_entry_is_rebuilt(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char cache[1024], forger[1024], other[1024], kdir[1024];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    snprintf(forger, sizeof forger, "%s/forger", dir);
    snprintf(other, sizeof other, "%s/other", dir);
    snprintf(kdir, sizeof kdir, "%s/kernels", dir);
    assert_int_equal(mkdir(kdir, 0700), 0);
    copy_source(kdir, "common.h");
    write_text(kdir, "tensor.cl",
               "#include \"common.h\"\n"
               "__kernel void clrt_fill(__global float *x, const float value, const ulong n)\n"
               "{\n"
               "    size_t i = get_global_id(0);\n"
               "    if (i < n)\n"
               "        x[i] = 42.0f;\n"
               "}\n");
    clrt_ctx_options opt;
    clrt_test_cache_options(&opt, cache);

    /* The victim's entry for the fill program, and its key. */
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    assert_true(fill_first(ctx, 1.5f) == 1.5f);
    expect_stats(ctx, 1, 0, 1, 0);
    clrt_test_ctx_done(ctx);
    char *entry = only_entry(cache);
    size_t elen;
    unsigned char *good = read_all(entry, &elen);
    assert_true(elen > 24);
    size_t klen = (size_t)clrt__get_le32(good + 12);
    assert_true(24 + klen < elen);
    char *key = malloc(klen + 1);
    assert_non_null(key);
    memcpy(key, good + 24, klen);
    key[klen] = '\0';

    /* The forger's binary: the same kernel name and arguments, writing 42. */
    clrt_ctx_options fopt = opt;
    fopt.cache_dir = forger;
    fopt.kernel_dir = kdir;
    ctx = clrt_test_ctx_with(&fopt);
    assert_true(fill_first(ctx, 1.5f) == 42.0f);
    clrt_test_ctx_done(ctx);
    char *fentry = only_entry(forger);
    size_t flen;
    unsigned char *fdata = read_all(fentry, &flen);
    size_t fklen = (size_t)clrt__get_le32(fdata + 12);
    size_t blen = (size_t)clrt__get_le64(fdata + 16);
    assert_true(24 + fklen + blen < flen);
    const unsigned char *bin42 = fdata + 24 + fklen;

    /* 1. The old format (magic, 1, key length, binary length, key, binary,
     * crc32 of key and binary): all the old reader checked. */
    size_t olen = 24 + klen + blen + 4;
    unsigned char *old = malloc(olen);
    assert_non_null(old);
    memcpy(old, "CLRTBIN\0", 8);
    clrt__put_le32(old + 8, 1);
    clrt__put_le32(old + 12, (uint32_t)klen);
    clrt__put_le64(old + 16, blen);
    memcpy(old + 24, key, klen);
    memcpy(old + 24 + klen, bin42, blen);
    clrt__put_le32(old + 24 + klen + blen, clrt__crc32(clrt__crc32(0, key, klen), bin42, blen));
    write_all_bytes(entry, old, olen);
    log_count logs = {0, ""};
    opt.log = count_warnings;
    opt.log_user = &logs;
    ctx = clrt_test_ctx_with(&opt);
    float got = fill_first(ctx, 1.5f);
    if (got != 1.5f)
        fail_msg("fill 1.5 gave %g from a forged entry (old format, crc recomputed)", got);
    expect_stats(ctx, 1, 0, 1, 1);
    clrt_test_ctx_done(ctx);
    print_message("forged_entry_is_rebuilt: old format: 1 refusal (%s)\n", logs.last);
    assert_int_equal(logs.warnings, 1);

    /* 2. The current format, its MAC made under another folder's secret for
     * exactly this key and binary: what a forger's own clrt writes. */
    char why[1024];
    assert_int_equal(clrt__cache_store(other, key, bin42, blen, why, sizeof why), CLRT_OK);
    char *oentry = clrt__cache_path(other, key);
    size_t len2;
    unsigned char *forged = read_all(oentry, &len2);
    write_all_bytes(entry, forged, len2);
    logs.warnings = 0;
    ctx = clrt_test_ctx_with(&opt);
    got = fill_first(ctx, 1.5f);
    if (got != 1.5f)
        fail_msg("fill 1.5 gave %g from a forged entry (another secret's MAC)", got);
    expect_stats(ctx, 1, 0, 1, 1);
    clrt_test_ctx_done(ctx);
    print_message("forged_entry_is_rebuilt: another secret: 1 refusal (%s)\n", logs.last);
    assert_int_equal(logs.warnings, 1);

    /* The rewritten entry is the victim's own again: a hit. */
    ctx = clrt_test_ctx_with(&opt);
    assert_true(fill_first(ctx, 1.5f) == 1.5f);
    expect_stats(ctx, 0, 1, 0, 0);
    clrt_test_ctx_done(ctx);

    free(forged);
    free(oentry);
    free(old);
    free(fdata);
    free(fentry);
    free(key);
    free(good);
    free(entry);
    clrt_test_rmtree(dir);
    free(dir);
}

/* A cache folder its group or others can write is not used: the programs
 * build from source, nothing is read or written there, one refusal is
 * counted and one warning logged for the context. */
static void shared_cache_folder_is_off(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char cache[1024];
    snprintf(cache, sizeof cache, "%s/cache", dir);
    log_count logs = {0, ""};
    clrt_ctx_options opt;
    clrt_test_cache_options(&opt, cache);
    opt.log = count_warnings;
    opt.log_user = &logs;
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    fill_and_check(ctx, 2.0f); /* makes the folder and the fill's entry */
    clrt_test_ctx_done(ctx);
    char *entry = only_entry(cache);
    free(entry);
    assert_int_equal(logs.warnings, 0);

    assert_int_equal(chmod(cache, 0777), 0);
    ctx = clrt_test_ctx_with(&opt);
    fill_and_check(ctx, 3.0f);
    fill_and_check(ctx, -1.0f);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    clrt_program_stats ps;
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_true(ps.builds > 2);
    assert_int_equal(ps.disk_hits, 0);
    assert_int_equal(ps.disk_writes, 0);
    assert_int_equal(ps.disk_rejects, 1);
    clrt_test_ctx_done(ctx);
    assert_int_equal(logs.warnings, 1);
    assert_non_null(strstr(logs.last, "writable by its group or by others"));
    print_message("shared_cache_folder_is_off: %zu builds, 1 refusal (%s)\n", ps.builds,
                  logs.last);
    entry = only_entry(cache); /* still only the one from before */
    free(entry);
    clrt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lazy_build_once_per_context),
        cmocka_unit_test(base_programs_are_one_build),
        cmocka_unit_test(one_group_size_per_1d_kernel),
        cmocka_unit_test(broken_kernel_reports_build_log),
        cmocka_unit_test(kernel_dir_sources),
        cmocka_unit_test(disk_cache_hit_in_second_context),
        cmocka_unit_test(binary_stored_later_once),
        cmocka_unit_test(forged_entry_is_rebuilt),
        cmocka_unit_test(shared_cache_folder_is_off),
    };
    return clrt_test_main("program", tests, sizeof tests / sizeof tests[0]);
}
