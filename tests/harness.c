/* nftw is an XSI extension of POSIX 2008. */
#define _XOPEN_SOURCE 700

#include "harness.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static clrt_device_info current;
static char simulator_log[256];
static int simulator_log_ours; /* created here, so removed here */

const clrt_device_info *clrt_test_device(void)
{
    return &current;
}

static void log_to_stderr(void *user, clrt_log_level level, const char *message)
{
    (void)user;
    if (level >= CLRT_LOG_WARN)
        fprintf(stderr, "clrt log: %s\n", message);
}

void clrt_test_options(clrt_ctx_options *opt)
{
    clrt_ctx_options_init(opt);
    static char selector[32];
    snprintf(selector, sizeof selector, "%zu", current.index);
    opt->device = selector;
    opt->cache_dir = "off";
    opt->log = log_to_stderr;
}

void clrt_test_cache_options(clrt_ctx_options *opt, const char *dir)
{
    unsetenv("CLRT_CACHE");
    clrt_test_options(opt);
    opt->cache_dir = dir;
}

clrt_ctx *clrt_test_ctx_with(const clrt_ctx_options *opt)
{
    clrt_ctx *ctx = NULL;
    char err[4096] = "";
    clrt_status st = clrt_ctx_create(opt, &ctx, err, sizeof err);
    if (st != CLRT_OK)
        fail_msg("clrt_ctx_create on %s: %s: %s", current.name, clrt_status_str(st), err);
    return ctx;
}

clrt_ctx *clrt_test_ctx(void)
{
    clrt_ctx_options opt;
    clrt_test_options(&opt);
    return clrt_test_ctx_with(&opt);
}

void clrt_test_ctx_done(clrt_ctx *ctx)
{
    CLRT_ASSERT_OK(ctx, clrt_ctx_finish(ctx));
    clrt_status st = clrt_ctx_destroy(ctx);
    if (st != CLRT_OK)
        fail_msg("clrt_ctx_destroy: %s: %s", clrt_status_str(st), clrt_ctx_errmsg(ctx));
    clrt_test_check_simulator_log();
}

void clrt_test_check_simulator_log(void)
{
    if (!current.is_simulator || !simulator_log[0])
        return;
    FILE *f = fopen(simulator_log, "r");
    if (!f)
        return;
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    if (n > 0) {
        clrt_test_discard_simulator_log();
        fprintf(stderr, "oclgrind reported:\n%s%s\n", text,
                n == sizeof text - 1 ? "\n(log cut here)" : "");
        fail_msg("oclgrind reported errors on %s (see above)", current.name);
    }
}

void clrt_test_discard_simulator_log(void)
{
    /* A log that does not exist yet has nothing to forget. */
    if (simulator_log[0] && truncate(simulator_log, 0) != 0 && access(simulator_log, F_OK) == 0)
        fprintf(stderr, "cannot truncate %s\n", simulator_log);
}

void clrt_test_random(float *x, size_t n, uint32_t seed)
{
    clrt_ref_random(x, n, seed);
}

void clrt_test_fill_sentinel(float *p, size_t n)
{
    for (size_t i = 0; i < n + CLRT_TEST_GUARD; i++)
        p[i] = CLRT_TEST_SENTINEL;
}

float *clrt_test_guarded(size_t n)
{
    float *p = malloc((n + CLRT_TEST_GUARD) * sizeof *p);
    assert_non_null(p);
    clrt_test_fill_sentinel(p, n);
    return p;
}

void clrt_test_assert_guard(const float *p, size_t n)
{
    for (size_t i = n; i < n + CLRT_TEST_GUARD; i++)
        assert_true(p[i] == CLRT_TEST_SENTINEL);
}

clrt_tensor *clrt_test_tensor(clrt_ctx *ctx, int rank, const size_t *shape, const float *data)
{
    clrt_tensor *t;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, rank, shape, CLRT_TENSOR_UNINIT, &t));
    if (data)
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(t, data, clrt_tensor_numel(t)));
    return t;
}

clrt_tensor *clrt_test_matrix(clrt_ctx *ctx, size_t rows, size_t cols, const float *data)
{
    const size_t dims[2] = {rows, cols};
    return clrt_test_tensor(ctx, 2, dims, data);
}

clrt_tensor *clrt_test_vector(clrt_ctx *ctx, size_t n, const float *data)
{
    return clrt_test_tensor(ctx, 1, &n, data);
}

void clrt_test_read_guarded(clrt_ctx *ctx, const clrt_tensor *t, float *out)
{
    size_t n = clrt_tensor_numel(t);
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, n));
    clrt_test_assert_guard(out, n);
}

void clrt_test_assert_tol(const char *what, const float *got, const float *want, size_t n,
                          clrt__tol tol)
{
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (tol.bitwise) {
            if (memcmp(&got[i], &want[i], sizeof *got) != 0)
                fail_msg("%s: element %zu is %.9g, expected the bits of %.9g", what, i, g, w);
            continue;
        }
        if (g == w || (isnan(w) && isnan(g)))
            continue;
        double bound = clrt__tol_bound(tol, w, 0.0);
        if (!(fabs(g - w) <= bound))
            fail_msg("%s: element %zu is %.9g, expected %.9g (|diff| %.3g > %.3g)", what, i, g, w,
                     fabs(g - w), bound);
    }
}

size_t clrt_test_run_cases(clrt_ctx *ctx, const char *family)
{
    unsigned where = clrt__case_where(ctx);
    size_t cases = 0, checks = 0, elements = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < clrt__op_case_count; i++) {
        const clrt__op_case *c = &clrt__op_cases[i];
        if (strcmp(c->family, family) != 0)
            continue;
        for (size_t j = 0; j < c->nshapes; j++) {
            if (!(c->shapes[j].where & where))
                continue;
            clrt__case_result res;
            clrt_status st = clrt__case_run_one(ctx, c, &c->shapes[j], &res);
            if (st != CLRT_OK)
                fail_msg("%s %s could not run: %s: %s", res.name, res.shape, clrt_status_str(st),
                         clrt_ctx_errmsg(ctx));
            if (!res.passed) {
                for (size_t k = 0; k < res.nchecks; k++)
                    fprintf(stderr, "  %s %s %s: max error %.3g, bound %.3g at element %zu: %s\n",
                            res.name, res.shape, res.checks[k].what, res.checks[k].error,
                            res.checks[k].bound, res.checks[k].worst,
                            res.checks[k].passed ? "pass" : "FAIL");
                fail_msg("%s", res.failure);
            }
            cases++;
            checks += res.nchecks;
            for (size_t k = 0; k < res.nchecks; k++)
                elements += res.checks[k].n;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "%s on %s: %zu cases, %zu checks, %zu elements compared in %.2f s\n", family,
            current.name, cases, checks, elements,
            (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    if (cases == 0)
        fail_msg("the op table has no %s case for %s", family, current.name);
    return checks;
}

cl_uint clrt_test_settled(cl_uint (*refs)(void *), void *obj, cl_uint want)
{
    cl_uint n = refs(obj);
    for (int i = 0; i < 500 && n != want; i++) {
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
        n = refs(obj);
    }
    return n;
}

char *clrt_test_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/clrt-test-XXXXXX", base && *base ? base : "/tmp");
    char *dir = mkdtemp(tmpl);
    if (!dir)
        fail_msg("mkdtemp failed");
    char *copy = malloc(strlen(dir) + 1);
    assert_non_null(copy);
    strcpy(copy, dir);
    return copy;
}

char *clrt_test_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    assert_non_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void clrt_test_rmtree(const char *dir)
{
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Checks on, a log file to read: set before the first OpenCL call so the
 * simulator sees them whenever it starts. A user's own settings win. */
static void configure_simulator(void)
{
    setenv("OCLGRIND_CHECK_API", "1", 0);
    setenv("OCLGRIND_DATA_RACES", "1", 0);
    setenv("OCLGRIND_UNINITIALIZED", "1", 0);
    const char *log = getenv("OCLGRIND_LOG");
    if (!log) {
        const char *base = getenv("TMPDIR");
        snprintf(simulator_log, sizeof simulator_log, "%s/clrt-oclgrind-%ld.log",
                 base && *base ? base : "/tmp", (long)getpid());
        setenv("OCLGRIND_LOG", simulator_log, 1);
        simulator_log_ours = 1;
    } else {
        snprintf(simulator_log, sizeof simulator_log, "%s", log);
    }
}

int clrt_test_main(const char *suite, const struct CMUnitTest *tests, size_t count)
{
    configure_simulator();
    char err[4096] = "";
    size_t ndev = 0;
    if (clrt_device_list(NULL, 0, &ndev, err, sizeof err) != CLRT_OK) {
        fprintf(stderr, "%s: %s\n", suite, err);
        return 1;
    }
    clrt_device_info *all = calloc(ndev ? ndev : 1, sizeof *all);
    if (!all || clrt_device_list(all, ndev, &ndev, err, sizeof err) != CLRT_OK)
        return 1;

    /* The devices to run on: the named ones, else all. */
    const char *wanted = getenv("CLRT_TEST_DEVICES");
    clrt_device_info *run = calloc(ndev ? ndev : 1, sizeof *run);
    size_t nrun = 0;
    if (!run)
        return 1;
    if (wanted && *wanted) {
        char list[1024];
        snprintf(list, sizeof list, "%s", wanted);
        for (char *save = NULL, *sel = strtok_r(list, ",", &save); sel;
             sel = strtok_r(NULL, ",", &save)) {
            clrt_device_info d;
            if (clrt_device_select(sel, &d, err, sizeof err) != CLRT_OK) {
                /* Named but absent: a failure, so a broken matrix is noticed. */
                fprintf(stderr, "%s: CLRT_TEST_DEVICES names \"%s\": %s\n", suite, sel, err);
                return 1;
            }
            run[nrun++] = d;
        }
    } else {
        memcpy(run, all, ndev * sizeof *all);
        nrun = ndev;
    }
    free(all);
    if (nrun == 0) {
        fprintf(stderr, "%s: no OpenCL device found; skipping\n", suite);
        free(run);
        return 77;
    }

    int failures = 0;
    for (size_t i = 0; i < nrun; i++) {
        current = run[i];
        clrt_test_discard_simulator_log();
        char name[256];
        snprintf(name, sizeof name, "%s@%s", suite, current.selector);
        failures += _cmocka_run_group_tests(name, tests, count, NULL, NULL);
    }
    if (simulator_log_ours)
        unlink(simulator_log);
    free(run);
    return failures ? 1 : 0;
}
