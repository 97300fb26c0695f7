/* Optimizers on each device: several steps of SGD (plain, momentum,
 * dampening, nesterov, weight decay), Adam and AdamW against the plain-C
 * reference on odd sizes; a few steps pinned to numbers PyTorch produced;
 * option checks, gradient shape errors, learning-rate changes, state
 * tensors, resuming with clrt_optim_set_steps, and the multi-tensor
 * kernels bit for bit against the per-tensor ones. */
#include "harness.h"
#include "verify/ref.h"
#include "ops/ops.h"

#include "common.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void read_all(clrt_ctx *ctx, const clrt_tensor *t, float *out)
{
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(t, out, clrt_tensor_numel(t)));
}

/* Every element within the optimizers' bound after `steps` steps
 * (src/verify/tolerance.c: steps·1e-6 relative to max(|want|, 1), or to
 * |want| alone for the sums of squares). */
static void assert_close(const char *what, size_t index, const float *got, const float *want,
                         size_t n, size_t steps, bool squares)
{
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double tol = clrt__tol_bound(clrt__tol_optim(steps, squares), w, 0.0);
        if (!(fabs(g - w) <= tol))
            fail_msg("%s, parameter %zu, element %zu of %zu: got %.9g, want %.9g "
                     "(difference %.3g, tolerance %.3g)",
                     what, index, i, n, g, w, fabs(g - w), tol);
    }
}

static bool all_zero(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f)
            return false;
    return true;
}

/* ------------------------------------------------ against the reference */

/* Five steps of SGD (plain, momentum, dampening, nesterov, weight decay),
 * Adam and AdamW against the reference, on four parameters of odd sizes in
 * one optimizer: parameters and every state tensor (the table's optim
 * cases, src/verify/op_cases.c). */
static void matches_reference(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_test_run_cases(ctx, "optim");
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------- pinned to PyTorch */

/* The numbers below come from PyTorch itself (Debian's python3-torch,
 * torch.__version__ 1.13.0a0, CPU), running torch.optim.SGD / Adam / AdamW
 * on torch.tensor([1.0, -2.0, 0.5], dtype=float32) with the gradients
 * PIN_GRADS for 3 steps, hyper-parameters rounded to float32 first
 * (torch.tensor(x, dtype=torch.float32).item()) so torch saw the same
 * values as these float options; printed with "%.9g". */
static const float pin_p0[3] = {1.0f, -2.0f, 0.5f};
static const float pin_grads[3][3] = {{0.5f, -1.25f, 2.0f}, {-0.75f, 0.25f, 1.5f},
                                      {1.0f, -0.5f, -2.0f}};

typedef struct pin_case {
    const char *name;
    clrt_optim_options o;
    float p[3], s0[3], s1[3];
} pin_case;

static size_t make_pins(pin_case *c)
{
    size_t n = 0;
    clrt_optim_options o;

    /* SGD(lr=0.1, momentum=0.9, dampening=0.25, weight_decay=0.01) */
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.lr = 0.1f;
    o.momentum = 0.9f;
    o.dampening = 0.25f;
    o.weight_decay = 0.01f;
    c[n++] = (pin_case){"torch SGD momentum dampening weight decay", o,
                        {0.891593695f, -1.64995396f, -0.107536584f},
                        {0.670445502f, -1.26091313f, 1.13861918f}, {0}};
    /* SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01) */
    o.dampening = 0.0f;
    o.nesterov = 1;
    c[n++] = (pin_case){"torch SGD nesterov weight decay", o,
                        {0.83350867f, -1.52800095f, -0.215717852f},
                        {0.7562536f, -1.33652818f, 0.971835613f}, {0}};
    /* Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01) */
    clrt_optim_options_init(&o, CLRT_OPTIM_ADAM);
    o.lr = 0.1f;
    o.weight_decay = 0.01f;
    c[n++] = (pin_case){"torch Adam weight decay", o,
                        {0.887625813f, -1.78584504f, 0.282182753f},
                        {0.0755433515f, -0.133927435f, 0.0980667695f},
                        {0.00182664045f, 0.00193177385f, 0.0102595501f}};
    /* AdamW(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1) */
    clrt_optim_options_init(&o, CLRT_OPTIM_ADAMW);
    o.lr = 0.1f;
    o.weight_decay = 0.1f;
    c[n++] = (pin_case){"torch AdamW weight decay", o,
                        {0.862162948f, -1.73188031f, 0.270500302f},
                        {0.0730000138f, -0.128750026f, 0.0970000029f},
                        {0.00181141449f, 0.00187179004f, 0.0102396216f}};
    return n;
}

/* Both sides are float32 doing the same operations in the same order;
 * they may differ by a few ulps per operation (fused multiply-adds, the
 * device's sqrt and division), far below 1e-6 relative per step, while a
 * wrong formula (a missing bias correction, decay applied to the gradient
 * instead of the weights, dampening on the first step) moves these numbers
 * by 1e-3 or more. */
#define PIN_STEPS 3

static void matches_pytorch(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    pin_case pins[4];
    size_t npins = make_pins(pins);
    for (size_t c = 0; c < npins; c++) {
        clrt_tensor *p = clrt_test_vector(ctx, 3, pin_p0), *g = NULL;
        clrt_optim *opt;
        CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &pins[c].o, 1, &p, &opt));
        float ref_p[3], ref_s0[3] = {0}, ref_s1[3] = {0};
        memcpy(ref_p, pin_p0, sizeof ref_p);
        for (int t = 0; t < PIN_STEPS; t++) {
            clrt_tensor_destroy(g);
            g = clrt_test_vector(ctx, 3, pin_grads[t]);
            CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, &g));
            clrt_ref_optim_step(&pins[c].o, (uint64_t)t + 1, 3, ref_p, pin_grads[t], ref_s0,
                                ref_s1);
        }
        bool adam = pins[c].o.kind != CLRT_OPTIM_SGD;
        float got[3];
        char what[128];
        read_all(ctx, p, got);
        snprintf(what, sizeof what, "%s: device param", pins[c].name);
        assert_close(what, 0, got, pins[c].p, 3, PIN_STEPS, false);
        /* The reference must agree with PyTorch too. */
        snprintf(what, sizeof what, "%s: reference param", pins[c].name);
        assert_close(what, 0, ref_p, pins[c].p, 3, PIN_STEPS, false);
        for (int slot = 0; slot < (adam ? 2 : 1); slot++) {
            const float *want = slot == 0 ? pins[c].s0 : pins[c].s1;
            const char *name;
            read_all(ctx, clrt_optim_state(opt, 0, slot, &name), got);
            snprintf(what, sizeof what, "%s: device %s", pins[c].name, name);
            assert_close(what, 0, got, want, 3, PIN_STEPS, slot == 1);
            snprintf(what, sizeof what, "%s: reference %s", pins[c].name, name);
            assert_close(what, 0, slot == 0 ? ref_s0 : ref_s1, want, 3, PIN_STEPS, slot == 1);
        }
        clrt_optim_destroy(opt);
        clrt_tensor_destroy(p);
        clrt_tensor_destroy(g);
    }
    clrt_test_ctx_done(ctx);
}

/* ----------------------------------------------------------- options */

static void defaults_are_pytorchs(void **state)
{
    (void)state;
    clrt_optim_options o;
    memset(&o, 0x5a, sizeof o);
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    assert_int_equal(o.kind, CLRT_OPTIM_SGD);
    assert_true(o.lr == 0.01f && o.momentum == 0.0f && o.dampening == 0.0f &&
                o.weight_decay == 0.0f && o.nesterov == 0);
    memset(&o, 0x5a, sizeof o);
    clrt_optim_options_init(&o, CLRT_OPTIM_ADAM);
    assert_int_equal(o.kind, CLRT_OPTIM_ADAM);
    assert_true(o.lr == 1e-3f && o.beta1 == 0.9f && o.beta2 == 0.999f && o.eps == 1e-8f &&
                o.weight_decay == 0.0f);
    clrt_optim_options_init(&o, CLRT_OPTIM_ADAMW);
    assert_int_equal(o.kind, CLRT_OPTIM_ADAMW);
    assert_true(o.lr == 1e-3f && o.beta1 == 0.9f && o.beta2 == 0.999f && o.eps == 1e-8f &&
                o.weight_decay == 0.01f);
}

static void expect_refused(clrt_ctx *ctx, const clrt_optim_options *o, size_t n,
                           clrt_tensor *const *params, const char *says)
{
    clrt_optim *opt = (clrt_optim *)&opt;
    clrt_status st = clrt_optim_create(ctx, o, n, params, &opt);
    if (st != CLRT_ERR_INVALID_ARG)
        fail_msg("expected CLRT_ERR_INVALID_ARG mentioning \"%s\", got %s", says,
                 clrt_status_str(st));
    assert_null(opt);
    if (!strstr(clrt_ctx_errmsg(ctx), says))
        fail_msg("message \"%s\" does not mention \"%s\"", clrt_ctx_errmsg(ctx), says);
}

static void invalid_options_refused(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n = 3;
    clrt_tensor *p, *q;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, CLRT_TENSOR_ZERO, &p));
    clrt_memory_stats before, after;
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &before));
    clrt_optim_options o;

    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.lr = -0.1f;
    expect_refused(ctx, &o, 1, &p, "learning rate");
    o.lr = NAN;
    expect_refused(ctx, &o, 1, &p, "learning rate");
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.momentum = -0.5f;
    expect_refused(ctx, &o, 1, &p, "momentum");
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.weight_decay = -1e-4f;
    expect_refused(ctx, &o, 1, &p, "weight_decay");
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.nesterov = 1;
    expect_refused(ctx, &o, 1, &p, "nesterov");
    o.momentum = 0.9f;
    o.dampening = 0.1f;
    expect_refused(ctx, &o, 1, &p, "nesterov");

    const clrt_optim_kind adams[2] = {CLRT_OPTIM_ADAM, CLRT_OPTIM_ADAMW};
    for (int a = 0; a < 2; a++) {
        clrt_optim_options_init(&o, adams[a]);
        o.lr = -1e-3f;
        expect_refused(ctx, &o, 1, &p, "learning rate");
        clrt_optim_options_init(&o, adams[a]);
        o.beta1 = 1.0f;
        expect_refused(ctx, &o, 1, &p, "beta1");
        o.beta1 = -0.1f;
        expect_refused(ctx, &o, 1, &p, "beta1");
        clrt_optim_options_init(&o, adams[a]);
        o.beta2 = 1.0f;
        expect_refused(ctx, &o, 1, &p, "beta2");
        o.beta2 = NAN;
        expect_refused(ctx, &o, 1, &p, "beta2");
        clrt_optim_options_init(&o, adams[a]);
        o.eps = -1e-8f;
        expect_refused(ctx, &o, 1, &p, "eps");
        clrt_optim_options_init(&o, adams[a]);
        o.weight_decay = -0.01f;
        expect_refused(ctx, &o, 1, &p, "weight_decay");
    }
    /* Boundary values PyTorch accepts are accepted. */
    clrt_optim *opt;
    clrt_optim_options_init(&o, CLRT_OPTIM_ADAM);
    o.lr = 0.0f;
    o.beta1 = 0.0f;
    o.beta2 = 0.0f;
    o.eps = 0.0f;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 1, &p, &opt));
    clrt_optim_destroy(opt);
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.dampening = 0.5f; /* without nesterov, any dampening */
    o.momentum = 0.9f;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 1, &p, &opt));
    clrt_optim_destroy(opt);

    /* The kind, the parameter list and the arguments. */
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.kind = (clrt_optim_kind)7;
    expect_refused(ctx, &o, 1, &p, "kind");
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    expect_refused(ctx, &o, 0, &p, "empty");
    expect_refused(ctx, &o, 1, NULL, "empty");
    clrt_tensor *with_null[2] = {p, NULL};
    expect_refused(ctx, &o, 2, with_null, "params[1] is NULL");
    clrt_tensor *twice[2] = {p, p};
    expect_refused(ctx, &o, 2, twice, "share");
    clrt_tensor *view;
    CLRT_ASSERT_OK(ctx, clrt_tensor_reshape(p, 1, &n, &view));
    clrt_tensor *aliased[2] = {p, view};
    expect_refused(ctx, &o, 2, aliased, "params[0] and params[1]");
    clrt_tensor_destroy(view);
    opt = (clrt_optim *)&opt;
    assert_int_equal(clrt_optim_create(ctx, NULL, 1, &p, &opt), CLRT_ERR_INVALID_ARG);
    assert_null(opt);
    assert_int_equal(clrt_optim_create(ctx, &o, 1, &p, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_optim_create(NULL, &o, 1, &p, &opt), CLRT_ERR_INVALID_ARG);

    /* A parameter of another context. */
    clrt_ctx *other = clrt_test_ctx();
    CLRT_ASSERT_OK(other, clrt_tensor_create(other, 1, &n, CLRT_TENSOR_ZERO, &q));
    clrt_tensor *mixed[2] = {p, q};
    expect_refused(ctx, &o, 2, mixed, "another context");
    clrt_tensor_destroy(q);
    clrt_test_ctx_done(other);

    /* Nothing was left behind by the refusals. */
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &after));
    assert_int_equal(after.live_tensors, before.live_tensors);
    clrt_optim_destroy(NULL);
    clrt_tensor_destroy(p);
    clrt_test_ctx_done(ctx);
}

/* ---------------------------------------------------- gradient errors */

static void grad_shape_mismatch_updates_nothing(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s0[1] = {7}, s1[2] = {3, 5}, s2[2] = {3, 11}, s2t[2] = {11, 3};
    const size_t *shapes[3] = {s0, s1, s2};
    const int ranks[3] = {1, 2, 2};
    float init[33], grad[33], got[33];
    clrt_test_random(init, 33, 5);
    clrt_test_random(grad, 33, 6);
    clrt_tensor *params[3], *grads[3], *wrong, *foreign;
    for (int k = 0; k < 3; k++) {
        params[k] = clrt_test_tensor(ctx, ranks[k], shapes[k], init);
        grads[k] = clrt_test_tensor(ctx, ranks[k], shapes[k], grad);
    }
    wrong = clrt_test_tensor(ctx, 2, s2t, grad); /* same element count, other shape */
    clrt_optim_options o;
    clrt_optim_options_init(&o, CLRT_OPTIM_ADAM);
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 3, params, &opt));

    /* The bad gradient is the last one: an implementation that updated as it
     * went would have changed params[0] and params[1] already. */
    clrt_tensor *bad[3] = {grads[0], grads[1], wrong};
    assert_int_equal(clrt_optim_step(opt, bad), CLRT_ERR_SHAPE);
    const char *msg = clrt_ctx_errmsg(ctx);
    assert_non_null(strstr(msg, "grads[2]"));
    assert_non_null(strstr(msg, "[11, 3]"));
    assert_non_null(strstr(msg, "[3, 11]"));
    clrt_tensor *missing[3] = {grads[0], NULL, grads[2]};
    assert_int_equal(clrt_optim_step(opt, missing), CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "grads[1]"));
    assert_int_equal(clrt_optim_step(opt, NULL), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_optim_step(NULL, grads), CLRT_ERR_INVALID_ARG);
    clrt_ctx *other = clrt_test_ctx();
    foreign = clrt_test_tensor(other, 2, s2, grad);
    clrt_tensor *mixed[3] = {grads[0], grads[1], foreign};
    assert_int_equal(clrt_optim_step(opt, mixed), CLRT_ERR_INVALID_ARG);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "another context"));

    assert_int_equal(clrt_optim_steps(opt), 0);
    for (int k = 0; k < 3; k++) {
        size_t n = clrt_tensor_numel(params[k]);
        read_all(ctx, params[k], got);
        assert_memory_equal(got, init, n * sizeof(float));
        for (int slot = 0; slot < 2; slot++) {
            read_all(ctx, clrt_optim_state(opt, (size_t)k, slot, NULL), got);
            assert_true(all_zero(got, n));
        }
    }
    /* The right gradients still work afterwards. */
    CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, grads));
    assert_int_equal(clrt_optim_steps(opt), 1);
    read_all(ctx, params[2], got);
    assert_memory_not_equal(got, init, 33 * sizeof(float));

    clrt_optim_destroy(opt);
    for (int k = 0; k < 3; k++) {
        clrt_tensor_destroy(params[k]);
        clrt_tensor_destroy(grads[k]);
    }
    clrt_tensor_destroy(wrong);
    clrt_tensor_destroy(foreign);
    clrt_test_ctx_done(other);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------- learning rate */

static void set_lr_takes_effect_next_step(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    /* Plain SGD on values where every product and difference is exact. */
    const float p0[2] = {1.0f, 2.0f}, g1[2] = {0.5f, -0.25f}, g2[2] = {1.0f, 1.0f};
    clrt_tensor *p = clrt_test_vector(ctx, 2, p0), *g = clrt_test_vector(ctx, 2, g1);
    clrt_optim_options o;
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.lr = 0.5f;
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 1, &p, &opt));
    assert_true(clrt_optim_lr(opt) == 0.5f);
    CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, &g));
    float got[2];
    read_all(ctx, p, got);
    assert_true(got[0] == 0.75f && got[1] == 2.125f);
    CLRT_ASSERT_OK(ctx, clrt_optim_set_lr(opt, 0.25f));
    assert_true(clrt_optim_lr(opt) == 0.25f);
    CLRT_ASSERT_OK(ctx, clrt_tensor_write(g, g2, 2));
    CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, &g));
    read_all(ctx, p, got);
    assert_true(got[0] == 0.5f && got[1] == 1.875f);
    /* An invalid rate is refused: the old one stays, the context says why. */
    assert_int_equal(clrt_optim_set_lr(opt, -1.0f), CLRT_ERR_INVALID_ARG);
    assert_true(clrt_optim_lr(opt) == 0.25f);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "clrt_optim_set_lr"));
    assert_int_equal(clrt_optim_set_lr(opt, NAN), CLRT_ERR_INVALID_ARG);
    assert_true(clrt_optim_lr(opt) == 0.25f);
    assert_int_equal(clrt_optim_set_lr(NULL, 1.0f), CLRT_ERR_INVALID_ARG);
    assert_true(clrt_optim_lr(NULL) == 0.0f);
    clrt_optim_destroy(opt);
    clrt_tensor_destroy(p);
    clrt_tensor_destroy(g);

    /* AdamW uses lr twice (decay factor and step size): a changed rate must
     * reach both, as the reference run with the same schedule shows. */
    size_t n = 33;
    float pr[33], gr[33], m[33] = {0}, v[33] = {0}, dev[33];
    clrt_test_random(pr, n, 21);
    p = clrt_test_vector(ctx, n, pr);
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &g));
    clrt_optim_options_init(&o, CLRT_OPTIM_ADAMW);
    o.lr = 0.01f;
    o.weight_decay = 0.5f;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 1, &p, &opt));
    const float lrs[3] = {0.01f, 0.2f, 0.05f};
    for (int t = 0; t < 3; t++) {
        CLRT_ASSERT_OK(ctx, clrt_optim_set_lr(opt, lrs[t]));
        o.lr = lrs[t];
        clrt_test_random(gr, n, 30u + (uint32_t)t);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(g, gr, n));
        CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, &g));
        clrt_ref_optim_step(&o, (uint64_t)t + 1, n, pr, gr, m, v);
    }
    read_all(ctx, p, dev);
    assert_close("AdamW with a changing lr: param", 0, dev, pr, n, 3, false);
    clrt_optim_destroy(opt);
    clrt_tensor_destroy(p);
    clrt_tensor_destroy(g);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------- state tensors */

static void state_tensors_and_names(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    const size_t s0[2] = {3, 5}, s1[1] = {7};
    clrt_tensor *params[2];
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, s0, CLRT_TENSOR_ZERO, &params[0]));
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, s1, CLRT_TENSOR_ZERO, &params[1]));
    clrt_memory_stats base, ms;
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &base));
    clrt_optim_options o;
    clrt_optim *opt;
    const char *name = "unset";
    float got[15];

    /* SGD without momentum keeps no state. */
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 2, params, &opt));
    assert_null(clrt_optim_state(opt, 0, 0, &name));
    assert_null(name);
    assert_null(clrt_optim_state(opt, 1, 0, NULL));
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.live_tensors, base.live_tensors);
    clrt_optim_destroy(opt);

    /* SGD with momentum: one buffer per parameter, shaped like it, zeroed. */
    o.momentum = 0.9f;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 2, params, &opt));
    for (size_t i = 0; i < 2; i++) {
        clrt_tensor *b = clrt_optim_state(opt, i, 0, &name);
        assert_non_null(b);
        assert_string_equal(name, "momentum_buffer");
        assert_int_equal(clrt_tensor_rank(b), clrt_tensor_rank(params[i]));
        for (int d = 0; d < clrt_tensor_rank(b); d++)
            assert_int_equal(clrt_tensor_dim(b, d), clrt_tensor_dim(params[i], d));
        assert_ptr_not_equal(clrt_tensor_cl_mem(b), clrt_tensor_cl_mem(params[i]));
        read_all(ctx, b, got);
        assert_true(all_zero(got, clrt_tensor_numel(b)));
        name = "unset";
        assert_null(clrt_optim_state(opt, i, 1, &name));
        assert_null(name);
    }
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.live_tensors, base.live_tensors + 2);
    clrt_optim_destroy(opt);

    /* Adam and AdamW: exp_avg and exp_avg_sq. */
    const clrt_optim_kind adams[2] = {CLRT_OPTIM_ADAM, CLRT_OPTIM_ADAMW};
    for (int a = 0; a < 2; a++) {
        clrt_optim_options_init(&o, adams[a]);
        CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 2, params, &opt));
        for (size_t i = 0; i < 2; i++) {
            clrt_tensor *m = clrt_optim_state(opt, i, 0, &name);
            assert_non_null(m);
            assert_string_equal(name, "exp_avg");
            clrt_tensor *v = clrt_optim_state(opt, i, 1, &name);
            assert_non_null(v);
            assert_string_equal(name, "exp_avg_sq");
            assert_ptr_not_equal(m, v);
            assert_int_equal(clrt_tensor_numel(m), clrt_tensor_numel(params[i]));
            assert_int_equal(clrt_tensor_numel(v), clrt_tensor_numel(params[i]));
            read_all(ctx, m, got);
            assert_true(all_zero(got, clrt_tensor_numel(m)));
            read_all(ctx, v, got);
            assert_true(all_zero(got, clrt_tensor_numel(v)));
        }
        /* Out of range: no parameter 2, no slot 2 or -1. */
        name = "unset";
        assert_null(clrt_optim_state(opt, 2, 0, &name));
        assert_null(name);
        assert_null(clrt_optim_state(opt, 0, 2, NULL));
        assert_null(clrt_optim_state(opt, 0, -1, NULL));
        CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
        assert_int_equal(ms.live_tensors, base.live_tensors + 4);
        clrt_optim_destroy(opt);
    }
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.live_tensors, base.live_tensors);
    assert_null(clrt_optim_state(NULL, 0, 0, NULL));
    clrt_tensor_destroy(params[0]);
    clrt_tensor_destroy(params[1]);
    clrt_test_ctx_done(ctx);
}

/* The optimizer keeps its own copy of the parameter array, and skips an
 * empty parameter. */
static void params_array_is_copied(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n = 7, zero = 0;
    float p0[7], g0[7], got[7], want[7];
    clrt_test_random(p0, n, 41);
    clrt_test_random(g0, n, 42);
    clrt_tensor *list[2], *grads[2];
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &zero, 0, &list[0]));
    list[1] = clrt_test_vector(ctx, n, p0);
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &zero, 0, &grads[0]));
    grads[1] = clrt_test_vector(ctx, n, g0);
    clrt_tensor *p = list[1], *empty = list[0];
    clrt_optim_options o;
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    o.lr = 0.5f;
    o.momentum = 0.9f;
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 2, list, &opt));
    list[0] = list[1] = NULL;
    CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, grads));
    read_all(ctx, p, got);
    for (size_t i = 0; i < n; i++)
        want[i] = p0[i] - 0.5f * g0[i]; /* first step: buf = g */
    assert_close("SGD first step", 1, got, want, n, 1, false);
    clrt_optim_destroy(opt);
    clrt_tensor_destroy(p);
    clrt_tensor_destroy(empty);
    clrt_tensor_destroy(grads[0]);
    clrt_tensor_destroy(grads[1]);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------------------------------- resume */

#define RESUME_N 33

/* Run steps [from, to) of a fixed gradient sequence. */
static void run_steps(clrt_ctx *ctx, clrt_optim *opt, clrt_tensor *g, int from, int to)
{
    float gr[RESUME_N];
    for (int t = from; t < to; t++) {
        clrt_test_random(gr, RESUME_N, 500u + (uint32_t)t);
        CLRT_ASSERT_OK(ctx, clrt_tensor_write(g, gr, RESUME_N));
        CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, &g));
    }
}

/* Two steps, then a fresh optimizer on copies of the parameter and state
 * finishes two more; with set_steps(2) it must end bit for bit where four
 * uninterrupted steps end, and without it (step count 0: Adam's bias
 * correction restarts, SGD treats the step as the first) somewhere else. */
static void resume_with_set_steps(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n = RESUME_N;
    float p0[RESUME_N], straight[RESUME_N], resumed[RESUME_N], restarted[RESUME_N];
    clrt_test_random(p0, n, 77);
    clrt_optim_options cases[3];
    clrt_optim_options_init(&cases[0], CLRT_OPTIM_ADAM);
    cases[0].lr = 0.05f;
    clrt_optim_options_init(&cases[1], CLRT_OPTIM_ADAMW);
    cases[1].lr = 0.05f;
    clrt_optim_options_init(&cases[2], CLRT_OPTIM_SGD);
    cases[2].lr = 0.1f;
    cases[2].momentum = 0.9f;
    cases[2].dampening = 0.5f;
    clrt_tensor *g;
    CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &g));

    for (int c = 0; c < 3; c++) {
        const clrt_optim_options *o = &cases[c];
        int nslots = o->kind == CLRT_OPTIM_SGD ? 1 : 2;
        /* Four steps in one go. */
        clrt_tensor *p = clrt_test_vector(ctx, n, p0);
        clrt_optim *opt;
        CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, o, 1, &p, &opt));
        run_steps(ctx, opt, g, 0, 4);
        assert_int_equal(clrt_optim_steps(opt), 4);
        read_all(ctx, p, straight);
        clrt_optim_destroy(opt);
        clrt_tensor_destroy(p);

        /* Two steps, then two more in a fresh optimizer, with and without
         * the step count carried over. */
        p = clrt_test_vector(ctx, n, p0);
        CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, o, 1, &p, &opt));
        run_steps(ctx, opt, g, 0, 2);
        for (int with_steps = 1; with_steps >= 0; with_steps--) {
            clrt_tensor *q;
            CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &n, 0, &q));
            CLRT_ASSERT_OK(ctx, clrt_tensor_copy(q, p));
            clrt_optim *fresh;
            CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, o, 1, &q, &fresh));
            for (int slot = 0; slot < nslots; slot++) {
                const char *name_old, *name_new;
                clrt_tensor *from = clrt_optim_state(opt, 0, slot, &name_old);
                clrt_tensor *to = clrt_optim_state(fresh, 0, slot, &name_new);
                assert_non_null(from);
                assert_non_null(to);
                assert_string_equal(name_old, name_new);
                CLRT_ASSERT_OK(ctx, clrt_tensor_copy(to, from));
            }
            if (with_steps) {
                CLRT_ASSERT_OK(ctx, clrt_optim_set_steps(fresh, clrt_optim_steps(opt)));
                assert_int_equal(clrt_optim_steps(fresh), 2);
            }
            run_steps(ctx, fresh, g, 2, 4);
            assert_int_equal(clrt_optim_steps(fresh), with_steps ? 4 : 2);
            read_all(ctx, q, with_steps ? resumed : restarted);
            clrt_optim_destroy(fresh);
            clrt_tensor_destroy(q);
        }
        assert_memory_equal(resumed, straight, sizeof straight);
        assert_memory_not_equal(restarted, straight, sizeof straight);
        clrt_optim_destroy(opt);
        clrt_tensor_destroy(p);
    }
    assert_int_equal(clrt_optim_set_steps(NULL, 1), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_optim_steps(NULL), 0);
    clrt_tensor_destroy(g);
    clrt_test_ctx_done(ctx);
}

/* The step count ends at UINT64_MAX: one more step would wrap it to 0,
 * which restarts SGD's momentum buffer and Adam's bias correction. The
 * step is refused with the parameter and count unchanged. */
static void step_count_does_not_wrap(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n = 7;
    float p0[7], g0[7], before[7], after[7];
    clrt_test_random(p0, n, 31);
    clrt_test_random(g0, n, 32);
    clrt_optim_kind kinds[2] = {CLRT_OPTIM_SGD, CLRT_OPTIM_ADAM};
    for (int c = 0; c < 2; c++) {
        clrt_optim_options o;
        clrt_optim_options_init(&o, kinds[c]);
        o.momentum = kinds[c] == CLRT_OPTIM_SGD ? 0.9f : 0.0f;
        clrt_tensor *p = clrt_test_vector(ctx, n, p0), *g = clrt_test_vector(ctx, n, g0);
        clrt_optim *opt;
        CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 1, &p, &opt));
        assert_int_equal(clrt_optim_set_steps(opt, UINT64_MAX), CLRT_ERR_INVALID_ARG);
        assert_non_null(strstr(clrt_ctx_errmsg(ctx), "no room"));
        CLRT_ASSERT_OK(ctx, clrt_optim_set_steps(opt, UINT64_MAX - 1));
        CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, &g)); /* the last step there is room for */
        assert_true(clrt_optim_steps(opt) == UINT64_MAX);
        read_all(ctx, p, before);
        assert_int_equal(clrt_optim_step(opt, &g), CLRT_ERR_INVALID_ARG);
        assert_non_null(strstr(clrt_ctx_errmsg(ctx), "18446744073709551615 steps"));
        assert_true(clrt_optim_steps(opt) == UINT64_MAX);
        read_all(ctx, p, after);
        assert_memory_equal(before, after, sizeof before);
        /* A lower count lets it go on. */
        CLRT_ASSERT_OK(ctx, clrt_optim_set_steps(opt, 5));
        CLRT_ASSERT_OK(ctx, clrt_optim_step(opt, &g));
        assert_int_equal(clrt_optim_steps(opt), 6);
        clrt_optim_destroy(opt);
        clrt_tensor_destroy(p), clrt_tensor_destroy(g);
    }
    clrt_test_ctx_done(ctx);
}

/* SGD without momentum holds no tensor of its own, yet points at its
 * context: destroying the context under it is refused. */
static void context_busy_while_optimizer_lives(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    size_t n = 5;
    clrt_tensor *p = clrt_test_vector(ctx, n, NULL), *g = clrt_test_vector(ctx, n, NULL);
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(p, 1.0f));
    CLRT_ASSERT_OK(ctx, clrt_tensor_fill(g, 0.5f));
    clrt_optim_options o;
    clrt_optim_options_init(&o, CLRT_OPTIM_SGD);
    clrt_optim *opt;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 1, &p, &opt));
    assert_null(clrt_optim_state(opt, 0, 0, NULL));
    clrt_tensor_destroy(p), clrt_tensor_destroy(g);
    /* Only the optimizer is left. */
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "1 optimizer still live"));
    assert_null(strstr(clrt_ctx_errmsg(ctx), "tensors"));
    /* The context is still usable, and the optimizer with it. */
    p = clrt_test_vector(ctx, n, NULL);
    clrt_optim *second;
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, &o, 1, &p, &second));
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "1 tensors, 2 optimizers still live"));
    clrt_optim_destroy(second);
    clrt_optim_destroy(opt);
    clrt_tensor_destroy(p);
    clrt_test_ctx_done(ctx);
}

/* ------------------------------------- multi-tensor = per-tensor, bit for bit */

/* Parameter sizes for the multi-tensor check: odd ones, whole and partial
 * work-groups (64), and empty tensors; the simulator gets small ones. */
static const size_t multi_sizes[] = {65, 0, 1, 64, 63, 129, 257, 7, 1000, 3, 0, 2, 513, 31, 77,
                                     128, 5};
static const size_t multi_sizes_sim[] = {65, 0, 1, 64, 63, 9, 33, 7, 100, 3, 0, 2, 70, 31, 17,
                                         12, 5};
#define MULTI_MAX (sizeof multi_sizes / sizeof multi_sizes[0])
#define MULTI_STEPS 3

/* Every option each kind takes: plain, weight decay, momentum (first and
 * later steps), dampening, nesterov, coupled and decoupled decay. */
static size_t multi_options(clrt_optim_options *o)
{
    size_t n = 0;
    clrt_optim_options_init(&o[n], CLRT_OPTIM_SGD);
    o[n++].lr = 0.1f;
    o[n] = o[n - 1];
    o[n++].weight_decay = 0.05f;
    o[n] = o[n - 2];
    o[n++].momentum = 0.9f;
    o[n] = o[n - 1];
    o[n].dampening = 0.3f;
    o[n++].weight_decay = 0.05f;
    o[n] = o[n - 2];
    o[n].nesterov = 1;
    o[n++].weight_decay = 0.05f;
    clrt_optim_options_init(&o[n], CLRT_OPTIM_ADAM);
    o[n++].lr = 0.05f;
    o[n] = o[n - 1];
    o[n].weight_decay = 0.05f;
    o[n].beta1 = 0.5f;
    o[n].beta2 = 0.75f;
    o[n++].eps = 1e-3f;
    clrt_optim_options_init(&o[n], CLRT_OPTIM_ADAMW);
    o[n++].lr = 0.05f;
    o[n] = o[n - 1];
    o[n++].weight_decay = 0.0f;
    return n;
}

/* The bits of every element of a and b equal (NaN patterns included). */
static void assert_same_bits(clrt_ctx *ctx, const char *what, size_t k, const clrt_tensor *a,
                             const clrt_tensor *b, size_t n, float *ha, float *hb)
{
    if (n == 0)
        return;
    read_all(ctx, a, ha);
    read_all(ctx, b, hb);
    for (size_t i = 0; i < n; i++)
        if (memcmp(&ha[i], &hb[i], sizeof ha[i]) != 0)
            fail_msg("%s, tensor %zu, element %zu of %zu: multi-tensor %.9g, per-tensor %.9g", what,
                     k, i, n, (double)ha[i], (double)hb[i]);
}

/* One optimizer over `count` parameters stepping with the multi-tensor
 * kernels, one over copies of them with the per-tensor kernels: after
 * each step, parameters and every state tensor agree bit for bit, and the
 * multi-tensor one made one launch per CLRT_OPTIM_TENSORS non-empty
 * tensors (counted by profiling). */
static void multi_equals_per_tensor_for(clrt_ctx *ctx, const clrt_optim_options *o,
                                        size_t count, const char *what)
{
    const size_t *sizes = clrt_test_device()->is_simulator ? multi_sizes_sim : multi_sizes;
    clrt_tensor *p[2][MULTI_MAX], *g[MULTI_MAX];
    size_t most = 1, nonempty = 0;
    for (size_t k = 0; k < count; k++) {
        most = sizes[k] > most ? sizes[k] : most;
        nonempty += sizes[k] > 0;
    }
    float *h = malloc(most * sizeof *h), *h2 = malloc(most * sizeof *h2);
    assert_non_null(h);
    assert_non_null(h2);
    for (size_t k = 0; k < count; k++) {
        clrt_test_random(h, sizes[k], 7u + (uint32_t)k);
        for (int side = 0; side < 2; side++)
            p[side][k] = clrt_test_vector(ctx, sizes[k], sizes[k] ? h : NULL);
        g[k] = clrt_test_vector(ctx, sizes[k], NULL);
    }
    clrt_optim *opt[2];
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, o, count, p[0], &opt[0]));
    CLRT_ASSERT_OK(ctx, clrt_optim_create(ctx, o, count, p[1], &opt[1]));
    clrt__optim_set_per_tensor(opt[1], true);
    clrt_kernel_time times[16];
    size_t ntimes;
    for (int t = 0; t < MULTI_STEPS; t++) {
        for (size_t k = 0; k < count; k++) {
            if (sizes[k] == 0)
                continue;
            clrt_test_random(h, sizes[k], 100u * (uint32_t)(t + 1) + (uint32_t)k);
            CLRT_ASSERT_OK(ctx, clrt_tensor_write(g[k], h, sizes[k]));
        }
        CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, NULL, 0, &ntimes)); /* forget so far */
        CLRT_ASSERT_OK(ctx, clrt_optim_step(opt[0], g));
        CLRT_ASSERT_OK(ctx, clrt_ctx_kernel_times(ctx, times, 16, &ntimes));
        unsigned long long launches = 0;
        for (size_t i = 0; i < ntimes && i < 16; i++) {
            assert_non_null(strstr(times[i].name, "_multi"));
            launches += times[i].calls;
        }
        assert_int_equal(launches, (nonempty + CLRT_OPTIM_TENSORS - 1) / CLRT_OPTIM_TENSORS);
        CLRT_ASSERT_OK(ctx, clrt_optim_step(opt[1], g));
        for (size_t k = 0; k < count; k++) {
            char label[160];
            snprintf(label, sizeof label, "%s, %zu tensors, step %d: param", what, count, t + 1);
            assert_same_bits(ctx, label, k, p[0][k], p[1][k], sizes[k], h, h2);
            for (int slot = 0; slot < 2; slot++) {
                const char *name;
                const clrt_tensor *s0 = clrt_optim_state(opt[0], k, slot, &name);
                const clrt_tensor *s1 = clrt_optim_state(opt[1], k, slot, NULL);
                if (!s0)
                    continue;
                snprintf(label, sizeof label, "%s, %zu tensors, step %d: %s", what, count, t + 1,
                         name);
                assert_same_bits(ctx, label, k, s0, s1, sizes[k], h, h2);
            }
        }
    }
    clrt_optim_destroy(opt[0]);
    clrt_optim_destroy(opt[1]);
    for (size_t k = 0; k < count; k++) {
        clrt_tensor_destroy(p[0][k]);
        clrt_tensor_destroy(p[1][k]);
        clrt_tensor_destroy(g[k]);
    }
    free(h);
    free(h2);
}

/* Every kind and option, at tensor counts below, at, just above and past
 * two launches' worth of CLRT_OPTIM_TENSORS, empty tensors among them. */
static void multi_tensor_equals_per_tensor(void **state)
{
    (void)state;
    clrt_ctx_options co;
    clrt_test_options(&co);
    co.profiling = 1;
    clrt_ctx *ctx = clrt_test_ctx_with(&co);
    clrt_optim_options o[16];
    size_t nopts = multi_options(o);
    static const size_t counts[] = {1, 3, CLRT_OPTIM_TENSORS, CLRT_OPTIM_TENSORS + 1, MULTI_MAX};
    _Static_assert(MULTI_MAX > 2 * CLRT_OPTIM_TENSORS, "the last count needs three launches");
    for (size_t c = 0; c < nopts; c++) {
        char what[96];
        snprintf(what, sizeof what, "%s lr %g momentum %g dampening %g nesterov %d wd %g",
                 o[c].kind == CLRT_OPTIM_SGD ? "SGD" : o[c].kind == CLRT_OPTIM_ADAM ? "Adam"
                                                                                     : "AdamW",
                 (double)o[c].lr, (double)o[c].momentum, (double)o[c].dampening, o[c].nesterov,
                 (double)o[c].weight_decay);
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
            multi_equals_per_tensor_for(ctx, &o[c], counts[i], what);
    }
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_pytorchs),
        cmocka_unit_test(matches_reference),
        cmocka_unit_test(matches_pytorch),
        cmocka_unit_test(invalid_options_refused),
        cmocka_unit_test(grad_shape_mismatch_updates_nothing),
        cmocka_unit_test(set_lr_takes_effect_next_step),
        cmocka_unit_test(state_tensors_and_names),
        cmocka_unit_test(params_array_is_copied),
        cmocka_unit_test(resume_with_set_steps),
        cmocka_unit_test(step_count_does_not_wrap),
        cmocka_unit_test(context_busy_while_optimizer_lives),
        cmocka_unit_test(multi_tensor_equals_per_tensor),
    };
    return clrt_test_main("optim", tests, sizeof tests / sizeof tests[0]);
}
