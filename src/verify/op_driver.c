/* The driver of the op table: runs one case on a context — make its inputs,
 * guard its outputs with sentinels, run the op, read the outputs back into
 * guarded host memory, compute the reference, compare element by element —
 * and gives the verdict of each check. The device tests, clrt_selftest and
 * clrt-bench all run cases through here. */
#include "verify/verify.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Floats after each host array that a read must leave alone, and their
 * value (as the tests' guarded buffers). */
#define HOST_GUARD 16
#define HOST_SENTINEL (-12345.5f)

/* ------------------------------------------------------ the run's memory */

void *clrt__case_alloc(clrt__case_run *r, size_t bytes)
{
    void **room = clrt__array_room(r->mem, &r->capmem, r->nmem, sizeof *room, 32);
    if (!room)
        goto oom;
    r->mem = room;
    void *p = calloc(1, bytes ? bytes : 1);
    if (!p)
        goto oom;
    r->mem[r->nmem++] = p;
    return p;
oom:
    if (r->st == CLRT_OK)
        r->st = clrt__fail(r->ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory", r->c->name);
    return NULL;
}

float *clrt__case_floats(clrt__case_run *r, size_t n)
{
    float *p = clrt__case_alloc(r, (n + HOST_GUARD) * sizeof *p);
    if (p)
        for (size_t i = n; i < n + HOST_GUARD; i++)
            p[i] = HOST_SENTINEL;
    return p;
}

float *clrt__case_random(clrt__case_run *r, size_t n, uint32_t stream, float scale, float offset)
{
    float *p = clrt__case_floats(r, n);
    if (!p)
        return NULL;
    clrt_ref_random(p, n, r->seed + 7919u * stream);
    for (size_t i = 0; i < n; i++)
        p[i] = scale * p[i] + offset;
    return p;
}

bool clrt__case_guard_intact(const float *p, size_t n)
{
    for (size_t i = n; i < n + HOST_GUARD; i++)
        if (p[i] != HOST_SENTINEL)
            return false;
    return true;
}

/* -------------------------------------------------------------- tensors */

static clrt_status add_slot(clrt__case_run *r, const char *name, clrt_tensor *t, bool output,
                            bool owned)
{
    if (r->nt == CLRT__CASE_TENSORS) {
        if (owned)
            clrt_tensor_destroy(t);
        return clrt__fail(r->ctx, CLRT_ERR_INVALID_ARG, "%s: more than %d tensors", r->c->name,
                          CLRT__CASE_TENSORS);
    }
    r->t[r->nt].name = name;
    r->t[r->nt].t = t;
    r->t[r->nt].output = output;
    r->t[r->nt].owned = owned;
    r->t[r->nt].got = NULL;
    r->nt++;
    return CLRT_OK;
}

static clrt_status case_tensor(clrt__case_run *r, clrt_dtype dtype, const char *name, int rank,
                               const size_t *dims, float *init, bool output, clrt_tensor **out)
{
    *out = NULL;
    CLRT_TRY(r->st);
    clrt_tensor *t;
    CLRT_TRY(clrt_tensor_create_typed(r->ctx, dtype, rank, dims, CLRT_TENSOR_UNINIT, &t));
    CLRT_TRY(add_slot(r, name, t, output, true));
    if (init) {
        /* The reference then starts from the values the device holds. */
        void *stored = dtype == CLRT_F32 ? NULL : clrt__case_alloc(r, clrt__tensor_bytes(t));
        CLRT_TRY(r->st);
        if (stored) {
            clrt__to_storage(dtype, init, stored, t->numel);
            clrt__from_storage(dtype, stored, init, t->numel);
        }
        CLRT_TRY(clrt_tensor_write(t, init, t->numel));
    }
    *out = t;
    return CLRT_OK;
}

clrt_status clrt__case_tensor(clrt__case_run *r, const char *name, int rank, const size_t *dims,
                              float *init, bool output, clrt_tensor **out)
{
    return case_tensor(r, r->c->dtype, name, rank, dims, init, output, out);
}

clrt_status clrt__case_param(clrt__case_run *r, const char *name, int rank, const size_t *dims,
                             float *init, bool output, clrt_tensor **out)
{
    return case_tensor(r, CLRT_F32, name, rank, dims, init, output, out);
}

clrt_status clrt__case_watch(clrt__case_run *r, const char *name, clrt_tensor *t)
{
    CLRT_TRY(r->st);
    return add_slot(r, name, t, true, false);
}

const float *clrt__case_got(const clrt__case_run *r, const clrt_tensor *t)
{
    for (size_t i = 0; i < r->nt; i++)
        if (r->t[i].t == t)
            return r->t[i].got;
    return NULL;
}

clrt_status clrt__case_read(clrt__case_run *r, const clrt_tensor *t, float **out)
{
    *out = NULL;
    float *p = clrt__case_floats(r, t->numel);
    if (!p)
        return r->st;
    CLRT_TRY(clrt_tensor_read(t, p, t->numel));
    clrt__case_expect(r, clrt__case_guard_intact(p, t->numel),
                      "clrt_tensor_read of %zu floats wrote past them into host memory",
                      t->numel);
    *out = p;
    return CLRT_OK;
}

/* ---------------------------------------------------- checks, verdicts */

static void add_check(clrt__case_run *r, const char *what, const float *got, const float *want,
                      const double *mag, size_t n, clrt__tol tol, bool finite)
{
    if (r->nchecks == CLRT__CASE_CHECKS) {
        clrt__case_expect(r, false, "more than %d checks", CLRT__CASE_CHECKS);
        return;
    }
    /* An output stored in 16 bits was rounded once more than the float32
     * bound allows for: add its unit roundoff u (2^-8 for bf16's 8
     * significant bits, 2^-11 for fp16's 11) relative to the value, twice,
     * for an op that stores an intermediate in the output and reads it
     * again (linear + softmax). Such an intermediate (the GEMM's result
     * before the bias pass) is at most the check's magnitude Σ|terms|, so
     * 2u of that too where the check has one (its rounding passes through
     * the activation: derivatives at most 1.13, gelu's, and softmax's
     * error at most twice that of its input); and for fp16, half the
     * spacing of its subnormals (2^-25) absolute, since values below 2^-14
     * keep fewer bits. */
    for (size_t i = 0; i < r->nt; i++) {
        clrt_dtype d = r->t[i].t ? r->t[i].t->dtype : CLRT_F32;
        if (r->t[i].got != got || d == CLRT_F32)
            continue;
        double u = d == CLRT_BF16 ? 0x1p-8 : 0x1p-11;
        tol.bitwise = false;
        tol.rel += 2.0 * u;
        tol.mag += 2.0 * u;
        if (d == CLRT_F16)
            tol.abs += 0x1p-25;
    }
    clrt__check *k = &r->checks[r->nchecks++];
    snprintf(k->what, sizeof k->what, "%s", what);
    k->got = got;
    k->want = want;
    k->mag = mag;
    k->n = n;
    k->tol = tol;
    k->finite = finite;
}

void clrt__case_check(clrt__case_run *r, const char *what, const float *got, const float *want,
                      const double *mag, size_t n, clrt__tol tol)
{
    add_check(r, what, got, want, mag, n, tol, false);
}

void clrt__case_check_finite(clrt__case_run *r, const char *what, const float *got,
                             const float *want, size_t n, clrt__tol tol)
{
    add_check(r, what, got, want, NULL, n, tol, true);
}

void clrt__case_expect(clrt__case_run *r, bool ok, const char *fmt, ...)
{
    if (ok || r->failed)
        return;
    r->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->failure, sizeof r->failure, fmt, ap);
    va_end(ap);
}

size_t clrt__case_numel(const clrt__case_run *r)
{
    size_t n = 1;
    for (int i = 0; i < r->s->rank; i++)
        n *= r->s->dims[i];
    return n;
}

size_t clrt__case_dim(const clrt__case_run *r, int i)
{
    return i >= 0 && i < r->s->rank ? r->s->dims[i] : 0;
}

/* Whether element i is within its bound; *ratio says how far into it the
 * element is (error / bound: 0 for an exact match, above 1 past the bound,
 * infinite past a bound of 0 or for a NaN that should not be). */
static bool element_ok(const clrt__check *k, size_t i, double *error, double *bound,
                       double *ratio)
{
    double g = k->got[i], w = k->want[i];
    *error = fabs(g - w);
    if (isnan(*error))
        *error = INFINITY;
    *bound = 0;
    if (k->tol.bitwise) {
        bool same = memcmp(&k->got[i], &k->want[i], sizeof(float)) == 0;
        if (same)
            *error = 0;
        *ratio = same ? 0 : INFINITY;
        return same;
    }
    if (k->finite && !isfinite(g)) {
        *error = *ratio = INFINITY;
        return false;
    }
    if (g == w || (isnan(w) && isnan(g))) { /* infinities too */
        *error = *ratio = 0;
        return true;
    }
    *bound = clrt__tol_bound(k->tol, w, k->mag ? k->mag[i] : 0.0);
    bool ok = *error <= *bound;
    *ratio = *bound > 0 ? *error / *bound : *error == 0 ? 0 : INFINITY;
    return ok;
}

/* The verdict of a check, at its worst element: the one furthest into (or
 * past) its bound, the first of them. */
static void judge(const clrt__check *k, clrt__check_result *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->what, sizeof out->what, "%s", k->what);
    out->n = k->n;
    out->passed = true;
    double worst = -1;
    for (size_t i = 0; i < k->n; i++) {
        double error, bound, ratio;
        if (!element_ok(k, i, &error, &bound, &ratio))
            out->passed = false;
        if (ratio > worst) {
            worst = ratio;
            out->worst = i;
            out->got = k->got[i];
            out->want = k->want[i];
            out->error = error;
            out->bound = bound;
        }
    }
}

/* ------------------------------------------------------------- the run */

static uint32_t seed_of(const clrt__op_case *c, const clrt__case_shape *s)
{
    uint32_t h = 2166136261u; /* FNV-1a over the name, then the dims */
    for (const char *p = c->name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (int i = 0; i < s->rank; i++)
        h = (h ^ (uint32_t)s->dims[i]) * 16777619u;
    return h;
}

clrt_status clrt__case_prepare(clrt_ctx *ctx, const clrt__op_case *c, const clrt__case_shape *s,
                               clrt__case_run **out)
{
    *out = NULL;
    if (!ctx || !c || !s)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt__case_prepare: bad arguments");
    clrt__case_run *r = calloc(1, sizeof *r);
    if (!r)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "%s: out of host memory", c->name);
    r->ctx = ctx;
    r->c = c;
    r->s = s;
    r->seed = seed_of(c, s);
    clrt_status st = c->make(r);
    if (st == CLRT_OK)
        st = r->st;
    if (st != CLRT_OK) {
        clrt__case_free(r);
        return st;
    }
    *out = r;
    return CLRT_OK;
}

clrt_status clrt__case_device(clrt__case_run *r)
{
    return r->c->run(r);
}

void clrt__case_free(clrt__case_run *r)
{
    if (!r)
        return;
    if (r->release && r->io)
        r->release(r->io);
    for (size_t i = r->nt; i-- > 0;)
        if (r->t[i].owned)
            clrt_tensor_destroy(r->t[i].t);
    for (size_t i = 0; i < r->nmem; i++)
        free(r->mem[i]);
    free(r->mem);
    free(r);
}

/* Check every output's sentinels; the first overwritten one fails the case
 * naming the output, the offset and the value found. */
static clrt_status check_sentinels(clrt__case_run *r, const char *when)
{
    for (size_t i = 0; i < r->nt; i++) {
        if (!r->t[i].output)
            continue;
        size_t at;
        uint32_t value;
        CLRT_TRY(clrt__sentinel_check(r->ctx, r->t[i].t, &at, &value));
        if (at != SIZE_MAX) {
            float f;
            memcpy(&f, &value, sizeof f);
            size_t used = clrt__tensor_bytes(r->t[i].t);
            clrt__case_expect(r, false,
                              "%s wrote past output %s %s: byte %zu of its buffer (element %zu, "
                              "%zu past its %zu) holds 0x%08x (%.9g), not the sentinel 0x%08x",
                              r->c->name, r->t[i].name, when, at, at / 4, (at - used) / 4,
                              r->t[i].t->numel, (unsigned)value, (double)f,
                              (unsigned)CLRT__SENTINEL);
        }
    }
    return CLRT_OK;
}

static clrt_status run_checked(clrt__case_run *r)
{
    for (size_t i = 0; i < r->nt; i++)
        if (r->t[i].output)
            CLRT_TRY(clrt__sentinel_fill(r->ctx, r->t[i].t));
    CLRT_TRY(r->c->run(r));
    CLRT_TRY(check_sentinels(r, "during the op"));
    for (size_t i = 0; i < r->nt; i++)
        if (r->t[i].output)
            CLRT_TRY(clrt__case_read(r, r->t[i].t, &r->t[i].got));
    CLRT_TRY(r->c->check(r));
    CLRT_TRY(r->st);
    /* The check may have run the op again another way. */
    return check_sentinels(r, "in its check");
}

static void describe_failure(const clrt__case_result *res, const clrt__check_result *k, char *buf,
                             size_t len)
{
    snprintf(buf, len, "%s %s: %s[%zu] of %zu is %.9g, expected %.9g (|diff| %.3g, bound %.3g%s)",
             res->name, res->shape, k->what, k->worst, k->n, k->got, k->want, k->error, k->bound,
             k->bound == 0 ? ": exact" : "");
}

clrt_status clrt__case_run_one(clrt_ctx *ctx, const clrt__op_case *c, const clrt__case_shape *s,
                               clrt__case_result *res)
{
    if (!res)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "clrt__case_run_one: no result");
    memset(res, 0, sizeof *res);
    snprintf(res->name, sizeof res->name, "%s", c ? c->name : "?");
    if (s)
        clrt__shape_str(s->rank, s->dims, res->shape, sizeof res->shape);
    clrt__case_run *r;
    CLRT_TRY(clrt__case_prepare(ctx, c, s, &r));
    clrt_status st = run_checked(r);
    if (st != CLRT_OK) {
        clrt__case_free(r);
        return st;
    }
    res->passed = !r->failed;
    if (r->failed)
        snprintf(res->failure, sizeof res->failure, "%s %s: %s", res->name, res->shape,
                 r->failure);
    res->nchecks = r->nchecks;
    for (size_t i = 0; i < r->nchecks; i++) {
        judge(&r->checks[i], &res->checks[i]);
        if (!res->checks[i].passed && res->passed) {
            res->passed = false;
            describe_failure(res, &res->checks[i], res->failure, sizeof res->failure);
        }
    }
    clrt__case_free(r);
    return CLRT_OK;
}
