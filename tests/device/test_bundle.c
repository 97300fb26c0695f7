/* Bundles of pre-built programs on each device: a context with one loads
 * every program from it and compiles nothing; a variant it lacks is
 * CLRT_ERR_UNSUPPORTED naming it; GEMM tuning and the default tile keep to
 * the tiles it holds; CLBlast, which compiles, is refused; a bundle for
 * another device, or from other sources, is refused at context creation.
 * tests/bundle_test.py runs the same on PoCL with its compiler taken away. */
#include "harness.h"
#include "io/io.h"
#include "verify/ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Log capture: every message, to see what tuning tried. */
typedef struct captured {
    char text[16384];
    size_t used;
} captured;

static void capture(void *user, clrt_log_level level, const char *message)
{
    (void)level;
    captured *c = user;
    if (c->used < sizeof c->text)
        c->used += (size_t)snprintf(c->text + c->used, sizeof c->text - c->used, "%s\n", message);
}

static clrt_ctx *bundle_ctx(const char *path)
{
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.binaries = path;
    return clrt_test_ctx_with(&opt);
}

static void base_programs(clrt_ctx *ctx)
{
    for (size_t i = 0; i < clrt_embedded_source_count; i++)
        CLRT_ASSERT_OK(ctx,
                       clrt__program_prepare(ctx, clrt_embedded_sources[i].name, "", CLRT_F32));
}

/* The programs the tests' bundles hold, built and exported once per
 * device (asking PoCL for a binary compiles the kernels again): each
 * embedded program, the default tile's A·B and another tile's. */
static struct {
    bool ready;
    size_t device;
    clrt__bundle_entry *e;
    size_t n;
    char dflt[192], other[192]; /* the two tiles' defines */
    unsigned other_tile;
} made;

enum { BASE = 1, DEFAULT_TILE = 2, OTHER_TILE = 4 };

static void make_programs(void)
{
    if (made.ready && made.device == clrt_test_device()->index)
        return;
    for (size_t i = 0; i < made.n; i++)
        free((void *)made.e[i].binary);
    free(made.e);
    memset(&made, 0, sizeof made);
    clrt_ctx *ctx = clrt_test_ctx();
    clrt__programs_separate(ctx); /* a bundle holds each program by name */
    base_programs(ctx);
    unsigned first, end;
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    clrt__gemm_tile_defines(clrt__gemm_default_tile(ctx, 0, 0), 0, 0, made.dflt, sizeof made.dflt);
    made.other_tile = UINT32_MAX;
    for (unsigned t = first; t < end && made.other_tile == UINT32_MAX; t++) {
        clrt__gemm_tile_defines(t, 0, 0, made.other, sizeof made.other);
        if (strcmp(made.other, made.dflt) != 0)
            made.other_tile = t;
    }
    assert_true(made.other_tile != UINT32_MAX); /* every device has two builds */
    CLRT_ASSERT_OK(ctx, clrt__program_prepare(ctx, "gemm", made.dflt, CLRT_F32));
    CLRT_ASSERT_OK(ctx, clrt__program_prepare(ctx, "gemm", made.other, CLRT_F32));
    made.n = clrt__program_count(ctx);
    made.e = calloc(made.n, sizeof *made.e);
    assert_non_null(made.e);
    for (size_t i = 0; i < made.n; i++) {
        unsigned char *bin;
        CLRT_ASSERT_OK(ctx,
                       clrt__program_export(ctx, i, &made.e[i].key, &bin, &made.e[i].binary_len));
        made.e[i].binary = bin;
    }
    clrt_test_ctx_done(ctx);
    made.device = clrt_test_device()->index;
    made.ready = true;
}

static bool wanted(const clrt__program_key *k, unsigned which)
{
    if (!k->defines[0])
        return which & BASE;
    if (strcmp(k->defines, made.dflt) == 0)
        return which & DEFAULT_TILE;
    return (which & OTHER_TILE) && strcmp(k->defines, made.other) == 0;
}

/* Write the programs `which` selects, after `edit` changed them (NULL:
 * none), as a bundle for `dev` (NULL: this device) at <dir>/name. */
static char *write_bundle(const char *dir, const char *name, unsigned which,
                          const clrt_device_info *dev, void (*edit)(clrt__bundle_entry *, size_t *))
{
    make_programs();
    clrt__bundle_entry *e = calloc(made.n, sizeof *e);
    assert_non_null(e);
    size_t n = 0;
    for (size_t i = 0; i < made.n; i++)
        if (wanted(&made.e[i].key, which))
            e[n++] = made.e[i];
    if (edit)
        edit(e, &n);
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    assert_non_null(path);
    sprintf(path, "%s/%s", dir, name);
    char err[1024] = "";
    if (clrt__bundle_write(path, dev ? dev : clrt_test_device(), e, n, err, sizeof err) != CLRT_OK)
        fail_msg("clrt__bundle_write: %s", err);
    free(e);
    return path;
}

/* C = A·B on the device against the reference (nn). */
static void gemm_nn_checked(clrt_ctx *ctx, size_t m, size_t n, size_t k)
{
    float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *want = malloc(m * n * 4);
    float *got = clrt_test_guarded(m * n);
    assert_non_null(a), assert_non_null(b), assert_non_null(want);
    clrt_test_random(a, m * k, 21);
    clrt_test_random(b, k * n, 22);
    clrt_ref_gemm(0, 0, m, n, k, 1.0f, a, b, 0.0f, want);
    clrt_tensor *ta = clrt_test_matrix(ctx, m, k, a), *tb = clrt_test_matrix(ctx, k, n, b);
    clrt_tensor *tc = clrt_test_matrix(ctx, m, n, NULL);
    CLRT_ASSERT_OK(ctx, clrt_gemm(ctx, 0, 0, 1.0f, ta, tb, 0.0f, tc));
    clrt_test_read_guarded(ctx, tc, got);
    /* Inputs in [-1, 1]: linear forward's bound, (K+2)·4ε of 1 + |ref|. */
    clrt_test_assert_tol("gemm from a bundle", got, want, m * n, clrt__tol_linear(k));
    clrt_tensor_destroy(ta), clrt_tensor_destroy(tb), clrt_tensor_destroy(tc);
    free(a), free(b), free(want), free(got);
}

static void loads_and_compiles_nothing(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char *path = write_bundle(dir, "all.clrtb", BASE | DEFAULT_TILE, NULL, NULL);
    clrt_ctx *ctx = bundle_ctx(path);
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx));
    gemm_nn_checked(ctx, 7, 33, 5);
    clrt_program_stats ps;
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 0);
    assert_int_equal(ps.disk_hits, 0);
    assert_true(ctx->bundle_loads > clrt_embedded_source_count); /* and the default tile */
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
}

static void missing_variant_is_unsupported(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char *path = write_bundle(dir, "base.clrtb", BASE | DEFAULT_TILE, NULL, NULL);
    clrt_ctx *ctx = bundle_ctx(path);

    /* The activation builds are not in it. */
    size_t n = 9;
    clrt_tensor *x = clrt_test_vector(ctx, n, NULL), *y = clrt_test_vector(ctx, n, NULL);
    assert_int_equal(clrt_act_forward(ctx, CLRT_ACT_RELU, 0, x, y), CLRT_ERR_UNSUPPORTED);
    const char *msg = clrt_ctx_errmsg(ctx);
    assert_non_null(strstr(msg, "activation.cl"));
    assert_non_null(strstr(msg, "-D CLRT_ACT_FIXED=1"));
    assert_non_null(strstr(msg, path));

    /* Nor GEMM's transposed builds (a GEMM too small to be tuned). */
    clrt_tensor *a = clrt_test_matrix(ctx, 3, 2, NULL), *b = clrt_test_matrix(ctx, 3, 4, NULL);
    clrt_tensor *c = clrt_test_matrix(ctx, 2, 4, NULL);
    assert_int_equal(clrt_gemm(ctx, 1, 0, 1.0f, a, b, 0.0f, c), CLRT_ERR_UNSUPPORTED);
    char want[192];
    clrt__gemm_tile_defines(clrt__gemm_default_tile(ctx, 1, 0), 1, 0, want, sizeof want);
    msg = clrt_ctx_errmsg(ctx);
    assert_non_null(strstr(msg, "gemm.cl"));
    assert_non_null(strstr(msg, want));
    clrt_program_stats ps;
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 0);
    clrt_tensor_destroy(x), clrt_tensor_destroy(y);
    clrt_tensor_destroy(a), clrt_tensor_destroy(b), clrt_tensor_destroy(c);
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
}

/* A bundle without the device's default tile: the untuned GEMM runs a
 * tile the bundle has. */
static void default_tile_from_the_bundle(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char *path = write_bundle(dir, "other.clrtb", BASE | OTHER_TILE, NULL, NULL);
    clrt_ctx *ctx = bundle_ctx(path);
    char d[192], want[192];
    clrt__gemm_tile_defines(clrt__gemm_default_tile(ctx, 0, 0), 0, 0, d, sizeof d);
    snprintf(want, sizeof want, "%s", made.other);
    assert_string_equal(d, want);
    gemm_nn_checked(ctx, 7, 9, 5);                /* below the tuning volume */
    CLRT_ASSERT_OK(ctx, clrt_ctx_build_all(ctx)); /* its up-front tile is that one too */
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
}

/* Tuning times only the tiles in the bundle: nothing it tries is missing. */
static void tuning_keeps_to_bundled_tiles(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char *path = write_bundle(dir, "two.clrtb", BASE | DEFAULT_TILE | OTHER_TILE, NULL, NULL);
    captured log = {{0}, 0};
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.binaries = path;
    opt.log = capture;
    opt.log_user = &log;
    clrt_ctx *ctx = clrt_test_ctx_with(&opt);
    ctx->gemm_tune_at_once = true; /* tuned on this one call */
    CLRT_ASSERT_OK(ctx, clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_AUTO));
    gemm_nn_checked(ctx, 40, 48, 64); /* tuned where tuning runs (not on a simulator) */
    if (strstr(log.text, "is not in bundle"))
        fail_msg("tuning tried a tile the bundle lacks:\n%s", log.text);
    clrt_program_stats ps;
    CLRT_ASSERT_OK(ctx, clrt_ctx_program_stats(ctx, &ps));
    assert_int_equal(ps.builds, 0);
    clrt_test_ctx_done(ctx);
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
}

static void clblast_refused(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char *path = write_bundle(dir, "base.clrtb", BASE, NULL, NULL);
    clrt_ctx *plain = clrt_test_ctx();
    bool have_clblast = clrt__gemm_backend_unavailable(plain, CLRT_GEMM_CLBLAST) == NULL;
    clrt_test_ctx_done(plain);

    clrt_ctx *ctx = bundle_ctx(path);
    assert_non_null(clrt__gemm_backend_unavailable(ctx, CLRT_GEMM_CLBLAST));
    assert_int_equal(clrt_ctx_set_gemm_backend(ctx, CLRT_GEMM_CLBLAST), CLRT_ERR_UNSUPPORTED);
    if (have_clblast)
        assert_non_null(strstr(clrt_ctx_errmsg(ctx), "bundle"));
    clrt_test_ctx_done(ctx);

    /* CLRT_GEMM=clblast with a bundle: refused at creation. */
    setenv("CLRT_GEMM", "clblast", 1);
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.binaries = path;
    char err[2048] = "";
    clrt_ctx *none = NULL;
    assert_int_equal(clrt_ctx_create(&opt, &none, err, sizeof err), CLRT_ERR_UNSUPPORTED);
    unsetenv("CLRT_GEMM");
    assert_null(none);
    if (have_clblast)
        assert_non_null(strstr(err, "bundle"));
    clrt_test_rmtree(dir);
    free(path);
    free(dir);
}

static void other_source(clrt__bundle_entry *e, size_t *count)
{
    (void)count;
    e[0].key.source_hash[1] ^= 1;
}

static void drop_first(clrt__bundle_entry *e, size_t *count)
{
    memmove(e, e + 1, (*count - 1) * sizeof *e);
    (*count)--;
}

static clrt_status create_with(const char *path, char *err, size_t errlen)
{
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    opt.binaries = path;
    clrt_ctx *ctx = NULL;
    clrt_status st = clrt_ctx_create(&opt, &ctx, err, errlen);
    if (st == CLRT_OK)
        clrt_test_ctx_done(ctx);
    else
        assert_null(ctx);
    return st;
}

static void foreign_bundles_refused(void **state)
{
    (void)state;
    char *dir = clrt_test_tempdir();
    char err[4096];
    const clrt_device_info *dev = clrt_test_device();

    /* Another device and driver: both identities in the message. */
    clrt_device_info other = *dev;
    snprintf(other.name, sizeof other.name, "Another Device 9000");
    snprintf(other.driver_version, sizeof other.driver_version, "9.9.9");
    char *path = write_bundle(dir, "x.clrtb", BASE, &other, NULL);
    assert_int_equal(create_with(path, err, sizeof err), CLRT_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "Another Device 9000"));
    assert_non_null(strstr(err, "9.9.9"));
    assert_non_null(strstr(err, dev->name));
    assert_non_null(strstr(err, dev->driver_version));
    assert_non_null(strstr(err, path));
    free(path);

    /* Built from another source of a program. */
    path = write_bundle(dir, "x.clrtb", BASE, NULL, other_source);
    assert_int_equal(create_with(path, err, sizeof err), CLRT_ERR_UNSUPPORTED);
    assert_non_null(strstr(err, "source"));
    free(path);

    /* Without one of the programs: named. */
    path = write_bundle(dir, "x.clrtb", BASE, NULL, drop_first);
    assert_int_equal(create_with(path, err, sizeof err), CLRT_ERR_UNSUPPORTED);
    char first[80];
    snprintf(first, sizeof first, "(%s.cl)", made.e[0].key.name);
    assert_non_null(strstr(err, first));
    free(path);

    /* As made: accepted. And a file that is not there: CLRT_ERR_IO. */
    path = write_bundle(dir, "x.clrtb", BASE, NULL, NULL);
    assert_int_equal(create_with(path, err, sizeof err), CLRT_OK);
    free(path);
    char absent[1024];
    snprintf(absent, sizeof absent, "%s/absent.clrtb", dir);
    assert_int_equal(create_with(absent, err, sizeof err), CLRT_ERR_IO);
    assert_non_null(strstr(err, absent));

    /* $CLRT_BINARIES when the option is unset; "off" overrides it. */
    setenv("CLRT_BINARIES", absent, 1);
    assert_int_equal(create_with(NULL, err, sizeof err), CLRT_ERR_IO);
    assert_int_equal(create_with("off", err, sizeof err), CLRT_OK);
    unsetenv("CLRT_BINARIES");
    clrt_test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_and_compiles_nothing),
        cmocka_unit_test(missing_variant_is_unsupported),
        cmocka_unit_test(default_tile_from_the_bundle),
        cmocka_unit_test(tuning_keeps_to_bundled_tiles),
        cmocka_unit_test(clblast_refused),
        cmocka_unit_test(foreign_bundles_refused),
    };
    return clrt_test_main("bundle", tests, sizeof tests / sizeof tests[0]);
}
