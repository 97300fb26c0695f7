/* clrt_selftest: the op table's self-test cases (op_cases.c) on the user's
 * device against the plain-C reference, on small odd shapes, with the
 * bounds the device tests use. The same comparison the device tests make,
 * packaged for `clrt-info --selftest`. */
#include "verify/verify.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct selftest {
    clrt_selftest_result *results;
    size_t cap, count, failures;
} selftest;

static void add(selftest *s, const char *op, const char *shape, double error, double tol,
                bool passed)
{
    s->failures += !passed;
    if (s->count < s->cap) {
        clrt_selftest_result *r = &s->results[s->count];
        snprintf(r->op, sizeof r->op, "%s", op);
        snprintf(r->shape, sizeof r->shape, "%s", shape);
        r->max_error = error;
        r->tolerance = tol;
        r->passed = passed;
    }
    s->count++;
}

/* One result per check, named "<case> <check>" (the case alone when it has
 * one check) plus `suffix`; error and bound relative to 1 + |reference| at
 * the check's worst element. A failure outside the checks (a sentinel, a
 * property) is one more result. */
static void record(selftest *s, const clrt__case_result *res, const char *suffix)
{
    char op[96];
    bool checks_passed = true;
    for (size_t i = 0; i < res->nchecks; i++) {
        const clrt__check_result *k = &res->checks[i];
        if (res->nchecks == 1)
            snprintf(op, sizeof op, "%s%s", res->name, suffix);
        else
            snprintf(op, sizeof op, "%s %s%s", res->name, k->what, suffix);
        double scale = 1.0 + fabs(k->want);
        if (!isfinite(scale))
            scale = 1.0;
        add(s, op, res->shape, k->error / scale, k->bound / scale, k->passed);
        checks_passed = checks_passed && k->passed;
    }
    if (!res->passed && checks_passed) {
        snprintf(op, sizeof op, "%s%s", res->name, suffix);
        add(s, op, res->shape, INFINITY, 0.0, false);
    }
}

/* Every self-test case of the table whose family is (gemm) or is not
 * (!gemm) "gemm", at its self-test shapes. */
static clrt_status run_cases(clrt_ctx *ctx, selftest *s, bool gemm, const char *suffix)
{
    for (size_t i = 0; i < clrt__op_case_count; i++) {
        const clrt__op_case *c = &clrt__op_cases[i];
        if (!(c->flags & CLRT__CASE_SELFTEST) || (strcmp(c->family, "gemm") == 0) != gemm)
            continue;
        for (size_t j = 0; j < c->nshapes; j++) {
            if (!(c->shapes[j].where & CLRT__ON_SELFTEST))
                continue;
            clrt__case_result res;
            CLRT_TRY(clrt__case_run_one(ctx, c, &c->shapes[j], &res));
            record(s, &res, suffix);
        }
    }
    return CLRT_OK;
}

clrt_status clrt_selftest(clrt_ctx *ctx, clrt_selftest_result *results, size_t cap,
                          size_t *count, size_t *failures)
{
    if (!ctx || !count || !failures || (cap && !results))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt_selftest: bad arguments");
    selftest s = {results, cap, 0, 0};
    clrt_status st = CLRT_OK;
    /* GEMM through every backend this build and device offer. */
    clrt_gemm_backend chosen = ctx->gemm_backend;
    for (int b = CLRT_GEMM_BUILTIN; b <= CLRT_GEMM_HOST && st == CLRT_OK; b++) {
        if (b != CLRT_GEMM_BUILTIN && ctx->dev.is_simulator)
            continue;
        if (clrt_ctx_set_gemm_backend(ctx, (clrt_gemm_backend)b) != CLRT_OK) {
            /* Not built in or not for this device: not a failure. */
            ctx->errmsg_fallback[0] = '\0';
            if (ctx->errmsg)
                ctx->errmsg[0] = '\0';
            continue;
        }
        char suffix[32];
        snprintf(suffix, sizeof suffix, " (%s)", clrt_gemm_backend_name((clrt_gemm_backend)b));
        st = run_cases(ctx, &s, true, suffix);
    }
    ctx->gemm_backend = chosen;
    if (st == CLRT_OK)
        st = run_cases(ctx, &s, false, "");
    *count = s.count;
    *failures = s.failures;
    return st;
}
