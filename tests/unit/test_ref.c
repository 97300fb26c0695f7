/* The plain-C reference (src/ref.c) against hand-worked cases, against
 * numbers from PyTorch 1.13 (Debian's python3-torch, float64 unless said
 * otherwise), and its backward functions against central finite differences
 * of its own forward functions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "verify/ref.h"

/* The largest array any test here uses (33·33 elements). */
#define MAXN 1089

/* ---------------------------------------------------------------- helpers */

/* Fail unless |got − want| <= atol + rtol·|want| (NaN never passes). */
static void check_close_at(const char *file, int line, const char *what, size_t index,
                           double got, double want, double rtol, double atol)
{
    double err = fabs(got - want);
    if (!(err <= atol + rtol * fabs(want))) {
        print_error("%s[%zu] = %.9g, want %.9g (|err| %.3g > %.3g + %.3g·|want|)\n", what,
                    index, got, want, err, atol, rtol);
        _fail(file, line);
    }
}

#define CHECK_CLOSE(got, want, rtol, atol) \
    check_close_at(__FILE__, __LINE__, #got, 0, (double)(got), (double)(want), rtol, atol)

static void check_array_at(const char *file, int line, const char *what, const float *got,
                           const double *want, size_t n, double rtol, double atol)
{
    for (size_t i = 0; i < n; i++)
        check_close_at(file, line, what, i, (double)got[i], want[i], rtol, atol);
}

/* got[0..n) against the double literals that follow. */
#define CHECK_ARRAY(got, rtol, atol, ...)                                                  \
    do {                                                                                   \
        const double want_[] = {__VA_ARGS__};                                              \
        check_array_at(__FILE__, __LINE__, #got, got, want_, sizeof want_ / sizeof want_[0], \
                       rtol, atol);                                                        \
    } while (0)

#define CHECK_NAN(v)                                                      \
    do {                                                                  \
        if (!isnan((double)(v))) {                                        \
            print_error("%s = %.9g, want NaN\n", #v, (double)(v));        \
            _fail(__FILE__, __LINE__);                                    \
        }                                                                 \
    } while (0)

/* A fixed pseudo-random sequence (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

static double rng_unit(void) /* [0, 1) */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 0x2545F4914F6CDD1Du) >> 11) / 9007199254740992.0;
}

static void fill_uniform(float *v, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(lo + (hi - lo) * rng_unit());
}

/* Small integers in [-4, 4]: products and sums of a few thousand of them are
 * exact in float, so GEMM results can be compared for equality. */
static void fill_int(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((int)(rng_unit() * 9.0) - 4);
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* ------------------------------------------------------------------- GEMM */

/* A = [[1,2,3],[4,5,6]] (2x3), B = [[7,8],[9,10],[11,12]] (3x2):
 * A·B = [[1·7+2·9+3·11, 1·8+2·10+3·12], [4·7+5·9+6·11, 4·8+5·10+6·12]]
 *     = [[58, 64], [139, 154]]. */
static const float gemm_a[] = {1, 2, 3, 4, 5, 6};
static const float gemm_at[] = {1, 4, 2, 5, 3, 6}; /* Aᵀ stored [3,2] */
static const float gemm_b[] = {7, 8, 9, 10, 11, 12};
static const float gemm_bt[] = {7, 9, 11, 8, 10, 12}; /* Bᵀ stored [2,3] */

static void gemm_2x3_by_3x2(void **state)
{
    (void)state;
    float c[4] = {NAN, NAN, NAN, NAN};
    clrt_ref_gemm(0, 0, 2, 2, 3, 1.0f, gemm_a, gemm_b, 0.0f, c);
    CHECK_ARRAY(c, 0, 0, 58, 64, 139, 154);
    /* alpha 2, beta 0.5 on C0 = [[1,2],[3,4]]: 2·AB + C0/2. */
    float c2[4] = {1, 2, 3, 4};
    clrt_ref_gemm(0, 0, 2, 2, 3, 2.0f, gemm_a, gemm_b, 0.5f, c2);
    CHECK_ARRAY(c2, 0, 0, 116.5, 129, 279.5, 310);
    /* Bᵀ·Aᵀ = (A·B)ᵀ = [[58,139],[64,154]], from the same storage. */
    float ct[4];
    clrt_ref_gemm(1, 1, 2, 2, 3, 1.0f, gemm_b, gemm_a, 0.0f, ct);
    CHECK_ARRAY(ct, 0, 0, 58, 139, 64, 154);
    /* A·Aᵀ (2x2, k=3) = [[14, 32], [32, 77]]; Aᵀ·A (3x3, k=2). */
    float aat[4];
    clrt_ref_gemm(0, 1, 2, 2, 3, 1.0f, gemm_a, gemm_a, 0.0f, aat);
    CHECK_ARRAY(aat, 0, 0, 14, 32, 32, 77);
    float ata[9];
    clrt_ref_gemm(1, 0, 3, 3, 2, 1.0f, gemm_a, gemm_a, 0.0f, ata);
    CHECK_ARRAY(ata, 0, 0, 17, 22, 27, 22, 29, 36, 27, 36, 45);
}

static void gemm_each_transpose(void **state)
{
    (void)state;
    for (int ta = 0; ta <= 1; ta++)
        for (int tb = 0; tb <= 1; tb++) {
            float c[4] = {1, 2, 3, 4};
            clrt_ref_gemm(ta, tb, 2, 2, 3, -1.0f, ta ? gemm_at : gemm_a, tb ? gemm_bt : gemm_b,
                          2.0f, c);
            /* −A·B + 2·C0 */
            CHECK_ARRAY(c, 0, 0, -56, -60, -133, -146);
        }
}

static void gemm_beta_zero_ignores_c(void **state)
{
    (void)state;
    float c[4] = {NAN, INFINITY, -INFINITY, NAN};
    clrt_ref_gemm(0, 0, 2, 2, 3, 1.0f, gemm_a, gemm_b, 0.0f, c);
    CHECK_ARRAY(c, 0, 0, 58, 64, 139, 154);
    /* beta != 0 does read C: a NaN there propagates. */
    float c2[4] = {NAN, 0, 0, 0};
    clrt_ref_gemm(0, 0, 2, 2, 3, 1.0f, gemm_a, gemm_b, 1.0f, c2);
    CHECK_NAN(c2[0]);
    CHECK_ARRAY(c2 + 1, 0, 0, 64, 139, 154);
    /* K = 0: the product is empty, C = beta·C. */
    float c3[4] = {1, 2, 3, 4};
    clrt_ref_gemm(0, 0, 2, 2, 0, 1.0f, gemm_a, gemm_b, 3.0f, c3);
    CHECK_ARRAY(c3, 0, 0, 3, 6, 9, 12);
    float c4[4] = {NAN, NAN, NAN, NAN};
    clrt_ref_gemm(0, 0, 2, 2, 0, 1.0f, gemm_a, gemm_b, 0.0f, c4);
    CHECK_ARRAY(c4, 0, 0, 0, 0, 0, 0);
}

/* Odd shapes, each transpose: op(A) and op(B) are built first, then stored
 * transposed when asked, so an indexing slip in the reference shows. Integer
 * entries make every result exact: compared for equality. */
static void gemm_odd_shapes(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {{1, 1, 1}, {7, 33, 1}, {33, 7, 7}, {1, 33, 33},
                                       {33, 1, 7}, {7, 7, 33}};
    rng_seed(11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float opa[MAXN], opb[MAXN], a[MAXN], b[MAXN], c0[MAXN], c[MAXN];
        double want[MAXN];
        fill_int(opa, m * k);
        fill_int(opb, k * n);
        fill_int(c0, m * n);
        for (int ta = 0; ta <= 1; ta++)
            for (int tb = 0; tb <= 1; tb++) {
                for (size_t i = 0; i < m; i++)
                    for (size_t p = 0; p < k; p++)
                        a[ta ? p * m + i : i * k + p] = opa[i * k + p];
                for (size_t p = 0; p < k; p++)
                    for (size_t j = 0; j < n; j++)
                        b[tb ? j * k + p : p * n + j] = opb[p * n + j];
                for (size_t i = 0; i < m; i++)
                    for (size_t j = 0; j < n; j++) {
                        double acc = 0.0;
                        for (size_t p = 0; p < k; p++)
                            acc += (double)opa[i * k + p] * (double)opb[p * n + j];
                        want[i * n + j] = 2.0 * acc - 3.0 * c0[i * n + j];
                    }
                memcpy(c, c0, m * n * sizeof c[0]);
                clrt_ref_gemm(ta, tb, m, n, k, 2.0f, a, b, -3.0f, c);
                check_array_at(__FILE__, __LINE__, "c", c, want, m * n, 0, 0);
            }
    }
}

/* 2^24 + 1 + 1 + 1 + 1: float accumulation loses every 1 (2^24 + 1 rounds
 * back to 2^24); double accumulation gives 16777220, exact in float. */
static void gemm_accumulates_in_double(void **state)
{
    (void)state;
    const float a[5] = {16777216.0f, 1, 1, 1, 1};
    const float ones[5] = {1, 1, 1, 1, 1};
    float c[1];
    clrt_ref_gemm(0, 0, 1, 1, 5, 1.0f, a, ones, 0.0f, c);
    CHECK_CLOSE(c[0], 16777220.0, 0, 0);
}

/* ------------------------------------------------------------ activations */

#define NPTS 7
static const float act_x[NPTS] = {-2.0f, -1.0f, -0.25f, 0.0f, 0.5f, 1.0f, 3.0f};

typedef struct act_case {
    clrt_act act;
    float param;
    double y[NPTS];  /* act(x), torch 1.13 float64 */
    double dy[NPTS]; /* act'(x), torch.autograd, float64 (at 0: PyTorch's choice) */
} act_case;

static const act_case act_cases[] = {
    {CLRT_ACT_IDENTITY, 0.0f, {-2, -1, -0.25, 0, 0.5, 1, 3}, {1, 1, 1, 1, 1, 1, 1}},
    {CLRT_ACT_RELU, 0.0f, {0, 0, 0, 0, 0.5, 1, 3}, {0, 0, 0, 0, 1, 1, 1}},
    {CLRT_ACT_LEAKY_RELU, 0.1f, {-0.2, -0.1, -0.025, 0, 0.5, 1, 3},
     {0.1, 0.1, 0.1, 0.1, 1, 1, 1}},
    {CLRT_ACT_SIGMOID, 0.0f,
     {0.119202922, 0.2689414214, 0.4378234991, 0.5, 0.6224593312, 0.7310585786, 0.9525741268},
     {0.1049935854, 0.1966119332, 0.2461340827, 0.25, 0.2350037122, 0.1966119332,
      0.04517665973}},
    {CLRT_ACT_TANH, 0.0f,
     {-0.9640275801, -0.761594156, -0.2449186624, 0, 0.4621171573, 0.761594156, 0.9950547537},
     {0.07065082485, 0.4199743416, 0.9400148488, 1, 0.786447733, 0.4199743416,
      0.009866037165}},
    {CLRT_ACT_SIN, 0.0f,
     {-0.9092974268, -0.8414709848, -0.2474039593, 0, 0.4794255386, 0.8414709848,
      0.1411200081},
     {-0.4161468365, 0.5403023059, 0.9689124217, 1, 0.8775825619, 0.5403023059,
      -0.9899924966}},
    {CLRT_ACT_GELU, 0.0f,
     {-0.0455002639, -0.1586552539, -0.1003234186, 0, 0.3457312306, 0.8413447461,
      2.995950306},
     {-0.08523180108, -0.08331547059, 0.3046266451, 0.5, 0.8674951247, 1.083315471,
      1.011945647}},
    {CLRT_ACT_GELU_TANH, 0.0f,
     {-0.04540230591, -0.1588080094, -0.1003246493, 0, 0.3457140098, 0.8411919906,
      2.996362608},
     {-0.08609925662, -0.08296408385, 0.3046459048, 0.5, 0.8673699035, 1.082964084,
      1.011584167}},
};

/* Tolerance against torch: the reference rounds each result to float once
 * (relative 6e-8) and the torch figures carry 10 significant digits; sigmoid
 * and tanh derivatives come from the float y, which adds a few ulps. */
#define TORCH_RTOL 1e-6
#define TORCH_ATOL 1e-7

static void act_forward_known(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof act_cases / sizeof act_cases[0]; c++) {
        const act_case *ac = &act_cases[c];
        float y[NPTS];
        clrt_ref_act_forward(ac->act, ac->param, 1, NPTS, act_x, y);
        check_array_at(__FILE__, __LINE__, clrt_act_name(ac->act), y, ac->y, NPTS, TORCH_RTOL,
                       TORCH_ATOL);
        /* Element-wise: the rows/cols split does not matter; in place works. */
        float yy[NPTS];
        memcpy(yy, act_x, sizeof yy);
        clrt_ref_act_forward(ac->act, ac->param, NPTS, 1, yy, yy);
        for (size_t i = 0; i < NPTS; i++)
            CHECK_CLOSE(yy[i], y[i], 0, 0);
    }
    /* Saturation: no overflow, no NaN. */
    const float big[2] = {-100.0f, 100.0f};
    float s[2];
    clrt_ref_act_forward(CLRT_ACT_SIGMOID, 0, 1, 2, big, s);
    CHECK_ARRAY(s, 0, 1e-30, 0, 1);
    clrt_ref_act_forward(CLRT_ACT_TANH, 0, 1, 2, big, s);
    CHECK_ARRAY(s, 0, 0, -1, 1);
    clrt_ref_act_forward(CLRT_ACT_GELU, 0, 1, 2, big, s);
    CHECK_ARRAY(s, 0, 0, 0, 100);
    clrt_ref_act_forward(CLRT_ACT_GELU_TANH, 0, 1, 2, big, s);
    CHECK_ARRAY(s, 0, 0, 0, 100);
    /* relu keeps NaN, as torch.relu. */
    const float nan1[1] = {NAN};
    float r[1];
    clrt_ref_act_forward(CLRT_ACT_RELU, 0, 1, 1, nan1, r);
    CHECK_NAN(r[0]);
}

/* Backward at the same points, dy = 1.5 (so the factor dy is checked), with
 * NULL for the operand the activation does not need (clrt.h: x for relu,
 * leaky_relu, sin, gelu, gelu_tanh; y for sigmoid, tanh, softmax). */
static void act_backward_known(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof act_cases / sizeof act_cases[0]; c++) {
        const act_case *ac = &act_cases[c];
        int needs_y = ac->act == CLRT_ACT_SIGMOID || ac->act == CLRT_ACT_TANH;
        float y[NPTS], dy[NPTS], dx[NPTS];
        double want[NPTS];
        clrt_ref_act_forward(ac->act, ac->param, 1, NPTS, act_x, y);
        for (size_t i = 0; i < NPTS; i++) {
            dy[i] = 1.5f;
            want[i] = 1.5 * ac->dy[i];
        }
        clrt_ref_act_backward(ac->act, ac->param, 1, NPTS, needs_y ? NULL : act_x,
                              needs_y ? y : NULL, dy, dx);
        check_array_at(__FILE__, __LINE__, clrt_act_name(ac->act), dx, want, NPTS, TORCH_RTOL,
                       TORCH_ATOL);
        /* dx may be dy. */
        clrt_ref_act_backward(ac->act, ac->param, NPTS, 1, needs_y ? NULL : act_x,
                              needs_y ? y : NULL, dy, dy);
        for (size_t i = 0; i < NPTS; i++)
            CHECK_CLOSE(dy[i], dx[i], 0, 0);
    }
    /* The kinks, as PyTorch: relu'(0) = 0, leaky_relu'(0) = slope. */
    const float zero[1] = {0.0f}, one[1] = {1.0f};
    float g[1];
    clrt_ref_act_backward(CLRT_ACT_RELU, 0, 1, 1, zero, NULL, one, g);
    CHECK_CLOSE(g[0], 0.0, 0, 0);
    clrt_ref_act_backward(CLRT_ACT_LEAKY_RELU, 0.25f, 1, 1, zero, NULL, one, g);
    CHECK_CLOSE(g[0], 0.25, 0, 0);
}

/* softmax([1,2,3]) = e^(x−3)/(e^−2 + e^−1 + 1) = [0.09003057317, 0.2447284711,
 * 0.6652409558]; [-1,0,1] and [1000,1001,1002] are shifts of it (the second
 * overflows exp without the max subtraction). */
static void softmax_known(void **state)
{
    (void)state;
    const float x[9] = {1, 2, 3, -1, 0, 1, 1000, 1001, 1002};
    float y[9];
    clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0, 3, 3, x, y);
    for (int r = 0; r < 3; r++)
        CHECK_ARRAY(y + 3 * r, TORCH_RTOL, 0, 0.09003057317038045, 0.2447284710547976,
                    0.6652409557748218);
    /* Rows are independent: as one row of 9 the result differs. */
    float y9[9];
    clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0, 1, 9, x, y9);
    CHECK_CLOSE(y9[8], 0.6652409557748218, TORCH_RTOL, 0);
    CHECK_CLOSE(y9[0], 0.0, 0, 1e-30);
    /* One column: every y is 1. A row of -inf equals: NaN as torch. */
    float one[7];
    clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0, 7, 1, x, one);
    CHECK_ARRAY(one, 0, 0, 1, 1, 1, 1, 1, 1, 1);
    const float ninf[2] = {-INFINITY, -INFINITY};
    float yn[2];
    clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0, 1, 2, ninf, yn);
    CHECK_NAN(yn[0]);
    CHECK_NAN(yn[1]);
    /* Odd shapes: every row sums to 1, in place. */
    static const size_t shapes[][2] = {{1, 1}, {7, 33}, {33, 7}, {1, 257}};
    rng_seed(5);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1];
        float v[MAXN];
        fill_uniform(v, rows * cols, -10, 10);
        clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0, rows, cols, v, v);
        for (size_t r = 0; r < rows; r++) {
            double sum = 0.0;
            for (size_t j = 0; j < cols; j++) {
                if (!(v[r * cols + j] >= 0.0f && v[r * cols + j] <= 1.0f))
                    fail_msg("softmax %zux%zu: y = %g", rows, cols, (double)v[r * cols + j]);
                sum += v[r * cols + j];
            }
            /* cols float roundings of at most 6e-8 each */
            CHECK_CLOSE(sum, 1.0, 0, 1e-6 * (double)cols / 33.0 + 1e-7);
        }
    }
}

/* Jacobian-vector product of softmax, torch.autograd (float64):
 * y = softmax([1,2,3]), dy = [1,0,−1]: dx = y ⊙ (dy − Σ dy⊙y) with
 * Σ dy⊙y = 0.0900306 − 0.6652410 = −0.5752104, so dx = [0.1418170936,
 * 0.1407703575, −0.2825874511]. A constant dy gives dx = 0. */
static void softmax_backward_known(void **state)
{
    (void)state;
    const float x[6] = {1, 2, 3, -1, 0, 1};
    const float dy[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    float y[6], dx[6];
    clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0, 2, 3, x, y);
    clrt_ref_act_backward(CLRT_ACT_SOFTMAX, 0, 2, 3, NULL, y, dy, dx);
    CHECK_ARRAY(dx, TORCH_RTOL, 1e-8, 0.14181709360981212, 0.1407703574696301,
                -0.2825874510794423, 0, 0, 0);
    /* dx may be dy. */
    float d[6];
    memcpy(d, dy, sizeof d);
    clrt_ref_act_backward(CLRT_ACT_SOFTMAX, 0, 2, 3, NULL, y, d, d);
    for (int i = 0; i < 6; i++)
        CHECK_CLOSE(d[i], dx[i], 0, 0);
}

/* ------------------------------------------------- finite-difference checks
 *
 * Central differences d ≈ (L(v+h) − L(v−h)) / (v₊ − v₋) on the float inputs,
 * dividing by the step actually taken (v ± h rounded to float). The forward
 * results are float, so L carries rounding noise of about ulp(|y|) per term
 * that moves: with h = 1e-3 and |y| ≲ 3 that is up to 2·2.4e-7/2e-3 ≈ 2.4e-4
 * in d for one element, a few times more where a whole row or column moves;
 * truncation (h²/6·|f'''|) stays below 1e-6. Hence the tolerance
 * |d − grad| <= FD_ATOL + FD_RTOL·|grad| (rel 1e-2 for float32 central
 * differences, abs 1e-3 for the noise), far below what a wrong factor, sign
 * or index would give. Losses and linear layers use h = 1e-2: the returned
 * loss itself is float (noise 2.4e-7/2e-2 ≈ 1e-5) and their gradients are
 * small (≈ 1/batch), while their curvature is mild enough for truncation to
 * stay below 1e-5. Seen: activations 6.5e-5, linear 1.0e-4, mse 3.9e-5,
 * cross-entropy 1.9e-5 at most (printed by each check). */
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3

static double fd_max_err; /* the largest |d − grad| seen, for the record */

static void fd_check_at(const char *file, int line, const char *what, size_t index, double fd,
                        double an, double atol)
{
    double err = fabs(fd - an);
    if (err > fd_max_err)
        fd_max_err = err;
    check_close_at(file, line, what, index, an, fd, FD_RTOL, atol);
}

static double act_objective(clrt_act act, float param, size_t rows, size_t cols, const float *x,
                            const float *r)
{
    float y[MAXN];
    clrt_ref_act_forward(act, param, rows, cols, x, y);
    return dot_d(y, r, rows * cols);
}

/* L = Σ act(x) ⊙ r; dL/dx from clrt_ref_act_backward with dy = r. */
static void act_gradcheck(clrt_act act, float param, size_t rows, size_t cols)
{
    const float h = 1e-3f;
    size_t n = rows * cols;
    float x[MAXN], y[MAXN], r[MAXN], dx[MAXN];
    fill_uniform(x, n, -2.5, 2.5);
    fill_uniform(r, n, -1, 1);
    if (act == CLRT_ACT_RELU || act == CLRT_ACT_LEAKY_RELU)
        for (size_t i = 0; i < n; i++) /* away from the kink: |x| >= 0.1 >> h */
            if (fabsf(x[i]) < 0.1f)
                x[i] += x[i] < 0 ? -0.1f : 0.1f;
    clrt_ref_act_forward(act, param, rows, cols, x, y);
    clrt_ref_act_backward(act, param, rows, cols, x, y, r, dx);
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        float xp = keep + h, xm = keep - h;
        x[i] = xp;
        double lp = act_objective(act, param, rows, cols, x, r);
        x[i] = xm;
        double lm = act_objective(act, param, rows, cols, x, r);
        x[i] = keep;
        fd_check_at(__FILE__, __LINE__, clrt_act_name(act), i,
                    (lp - lm) / ((double)xp - (double)xm), dx[i], FD_ATOL);
    }
}

static void act_gradients_fd(void **state)
{
    (void)state;
    static const size_t shapes[][2] = {{1, 1}, {7, 33}, {33, 7}, {1, 33}};
    static const struct {
        clrt_act act;
        float param;
    } acts[] = {{CLRT_ACT_IDENTITY, 0},  {CLRT_ACT_RELU, 0},       {CLRT_ACT_LEAKY_RELU, 0.01f},
                {CLRT_ACT_LEAKY_RELU, 0.3f}, {CLRT_ACT_SIGMOID, 0}, {CLRT_ACT_TANH, 0},
                {CLRT_ACT_SIN, 0},       {CLRT_ACT_GELU, 0},       {CLRT_ACT_GELU_TANH, 0},
                {CLRT_ACT_SOFTMAX, 0}};
    rng_seed(21);
    fd_max_err = 0;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            act_gradcheck(acts[a].act, acts[a].param, shapes[s][0], shapes[s][1]);
    print_message("activations: largest |fd - grad| %.3g\n", fd_max_err);
}

/* ------------------------------------------------------------------ linear */

/* x = [[1,2],[−1,0.5]] (batch 2, in 2), W = [[1,0],[0,1],[1,1]] (out 3),
 * b = [0.5,−1,0]: z = x·Wᵀ + b = [[1.5, 1, 3], [−0.5, −0.5, −0.5]]. */
static const float lin_x[4] = {1, 2, -1, 0.5f};
static const float lin_w[6] = {1, 0, 0, 1, 1, 1};
static const float lin_b[3] = {0.5f, -1, 0};

static void linear_forward_known(void **state)
{
    (void)state;
    float z[6], y[6];
    clrt_ref_linear_forward(2, 2, 3, lin_x, lin_w, lin_b, CLRT_ACT_IDENTITY, 0, z, y);
    CHECK_ARRAY(z, 0, 0, 1.5, 1, 3, -0.5, -0.5, -0.5);
    CHECK_ARRAY(y, 0, 0, 1.5, 1, 3, -0.5, -0.5, -0.5);
    clrt_ref_linear_forward(2, 2, 3, lin_x, lin_w, lin_b, CLRT_ACT_RELU, 0, z, y);
    CHECK_ARRAY(z, 0, 0, 1.5, 1, 3, -0.5, -0.5, -0.5);
    CHECK_ARRAY(y, 0, 0, 1.5, 1, 3, 0, 0, 0);
    /* No bias, no z. */
    clrt_ref_linear_forward(2, 2, 3, lin_x, lin_w, NULL, CLRT_ACT_LEAKY_RELU, 0.5f, NULL, y);
    CHECK_ARRAY(y, 0, 0, 1, 2, 3, -0.5, 0.5, -0.25);
    /* Softmax over each row of `out`: row 0 = softmax([1.5,1,3]), i.e.
     * e^(z−3)/(e^−1.5 + e^−2 + 1) = [0.1642516276, 0.09962364806,
     * 0.7361247243] (torch.softmax, float64); row 1 is constant: 1/3 each. */
    clrt_ref_linear_forward(2, 2, 3, lin_x, lin_w, lin_b, CLRT_ACT_SOFTMAX, 0, z, y);
    CHECK_ARRAY(z, 0, 0, 1.5, 1, 3, -0.5, -0.5, -0.5);
    CHECK_ARRAY(y, 1e-6, 0, 0.1642516276, 0.09962364806, 0.7361247243, 1.0 / 3, 1.0 / 3,
                1.0 / 3);
}

/* Odd shapes against gemm + bias + act; integer inputs, so z is exact. */
static void linear_forward_odd_shapes(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {{1, 1, 1}, {7, 33, 1}, {33, 7, 7}, {1, 33, 33}, {33, 1, 7}};
    rng_seed(31);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t batch = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        float x[MAXN], w[MAXN], b[MAXN], z[MAXN], y[MAXN], want_y[MAXN];
        double want_z[MAXN];
        fill_int(x, batch * in);
        fill_int(w, out * in);
        fill_int(b, out);
        for (size_t i = 0; i < batch; i++)
            for (size_t o = 0; o < out; o++) {
                double acc = b[o];
                for (size_t p = 0; p < in; p++)
                    acc += (double)x[i * in + p] * (double)w[o * in + p];
                want_z[i * out + o] = acc;
            }
        clrt_ref_linear_forward(batch, in, out, x, w, b, CLRT_ACT_TANH, 0, z, y);
        check_array_at(__FILE__, __LINE__, "z", z, want_z, batch * out, 0, 0);
        clrt_ref_act_forward(CLRT_ACT_TANH, 0, batch, out, z, want_y);
        for (size_t i = 0; i < batch * out; i++)
            CHECK_CLOSE(y[i], want_y[i], 0, 0);
        clrt_ref_linear_forward(batch, in, out, x, w, b, CLRT_ACT_SOFTMAX, 0, NULL, y);
        clrt_ref_act_forward(CLRT_ACT_SOFTMAX, 0, batch, out, z, want_y);
        for (size_t i = 0; i < batch * out; i++)
            CHECK_CLOSE(y[i], want_y[i], 0, 0);
    }
}

/* dy = [[1,0,2],[0,−1,1]] on the layer above:
 * dx = dy·W  = [[1·[1,0] + 2·[1,1]], [−1·[0,1] + 1·[1,1]]] = [[3,2],[1,0]]
 * dw = dyᵀ·x = [[1·[1,2]], [−1·[−1,0.5]], [2·[1,2] + 1·[−1,0.5]]]
 *            = [[1,2],[1,−0.5],[1,4.5]]
 * db = column sums = [1,−1,3]. */
static void linear_backward_known(void **state)
{
    (void)state;
    const float dy[6] = {1, 0, 2, 0, -1, 1};
    float dx[4] = {NAN, NAN, NAN, NAN};
    float dw[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    float db[3] = {NAN, NAN, NAN};
    clrt_ref_linear_backward(2, 2, 3, lin_x, lin_w, dy, dx, dw, db, 0);
    CHECK_ARRAY(dx, 0, 0, 3, 2, 1, 0);
    CHECK_ARRAY(dw, 0, 0, 1, 2, 1, -0.5, 1, 4.5);
    CHECK_ARRAY(db, 0, 0, 1, -1, 3);
    /* CLRT_GRAD_ACCUMULATE adds into what is there. */
    float adx[4] = {10, 20, 30, 40};
    float adw[6] = {1, 1, 1, 1, 1, 1};
    float adb[3] = {-1, -2, -3};
    clrt_ref_linear_backward(2, 2, 3, lin_x, lin_w, dy, adx, adw, adb, CLRT_GRAD_ACCUMULATE);
    CHECK_ARRAY(adx, 0, 0, 13, 22, 31, 40);
    CHECK_ARRAY(adw, 0, 0, 2, 3, 2, 0.5, 2, 5.5);
    CHECK_ARRAY(adb, 0, 0, 0, -3, 0);
    /* NULL outputs are skipped; the others are still computed. */
    float only_db[3] = {NAN, NAN, NAN};
    clrt_ref_linear_backward(2, 2, 3, lin_x, lin_w, dy, NULL, NULL, only_db, 0);
    CHECK_ARRAY(only_db, 0, 0, 1, -1, 3);
    float only_dx[4] = {0, 0, 0, 0};
    clrt_ref_linear_backward(2, 2, 3, lin_x, lin_w, dy, only_dx, NULL, NULL, 0);
    CHECK_ARRAY(only_dx, 0, 0, 3, 2, 1, 0);
    /* batch 0: dw and db are empty sums (0), or unchanged when accumulating. */
    float zw[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, zb[3] = {5, 6, 7};
    clrt_ref_linear_backward(0, 2, 3, lin_x, lin_w, dy, NULL, zw, NULL, 0);
    CHECK_ARRAY(zw, 0, 0, 0, 0, 0, 0, 0, 0);
    clrt_ref_linear_backward(0, 2, 3, lin_x, lin_w, dy, NULL, NULL, zb, CLRT_GRAD_ACCUMULATE);
    CHECK_ARRAY(zb, 0, 0, 5, 6, 7);
}

typedef struct lin_problem {
    size_t batch, in, out;
    clrt_act act;
    float x[MAXN], w[MAXN], b[MAXN], r[MAXN];
} lin_problem;

/* L = Σ act(x·Wᵀ + b) ⊙ r */
static double lin_objective(const lin_problem *lp)
{
    float y[MAXN];
    clrt_ref_linear_forward(lp->batch, lp->in, lp->out, lp->x, lp->w, lp->b, lp->act, 0, NULL, y);
    return dot_d(y, lp->r, lp->batch * lp->out);
}

/* Central difference of L in v[i] (v one of lp's arrays). */
static double lin_fd(lin_problem *lp, float *v, size_t i)
{
    const float h = 1e-2f;
    float keep = v[i], vp = keep + h, vm = keep - h;
    v[i] = vp;
    double lplus = lin_objective(lp);
    v[i] = vm;
    double lminus = lin_objective(lp);
    v[i] = keep;
    return (lplus - lminus) / ((double)vp - (double)vm);
}

/* dz = act_backward(z, y, r), then the linear backward of dz; checked against
 * central differences, then again with CLRT_GRAD_ACCUMULATE onto g0. */
static void linear_gradcheck(lin_problem *lp)
{
    size_t nb = lp->batch, ni = lp->in, no = lp->out;
    float z[MAXN], y[MAXN], dz[MAXN], dx[MAXN], dw[MAXN], db[MAXN];
    fill_uniform(lp->x, nb * ni, -1, 1);
    fill_uniform(lp->w, no * ni, -1, 1);
    fill_uniform(lp->b, no, -1, 1);
    fill_uniform(lp->r, nb * no, -1, 1);
    clrt_ref_linear_forward(nb, ni, no, lp->x, lp->w, lp->b, lp->act, 0, z, y);
    clrt_ref_act_backward(lp->act, 0, nb, no, z, y, lp->r, dz);
    for (size_t i = 0; i < MAXN; i++)
        dx[i] = dw[i] = db[i] = NAN; /* overwritten without the flag */
    clrt_ref_linear_backward(nb, ni, no, lp->x, lp->w, dz, dx, dw, db, 0);
    for (size_t i = 0; i < nb * ni; i++)
        fd_check_at(__FILE__, __LINE__, "dx", i, lin_fd(lp, lp->x, i), dx[i], FD_ATOL);
    for (size_t i = 0; i < no * ni; i++)
        fd_check_at(__FILE__, __LINE__, "dw", i, lin_fd(lp, lp->w, i), dw[i], FD_ATOL);
    for (size_t i = 0; i < no; i++)
        fd_check_at(__FILE__, __LINE__, "db", i, lin_fd(lp, lp->b, i), db[i], FD_ATOL);

    float ax[MAXN], aw[MAXN], ab[MAXN];
    for (size_t i = 0; i < MAXN; i++) {
        ax[i] = 0.5f;
        aw[i] = -0.25f;
        ab[i] = 2.0f;
    }
    clrt_ref_linear_backward(nb, ni, no, lp->x, lp->w, dz, ax, aw, ab, CLRT_GRAD_ACCUMULATE);
    for (size_t i = 0; i < nb * ni; i++)
        check_close_at(__FILE__, __LINE__, "acc dx", i, ax[i], 0.5 + (double)dx[i], 1e-6, 1e-7);
    for (size_t i = 0; i < no * ni; i++)
        check_close_at(__FILE__, __LINE__, "acc dw", i, aw[i], -0.25 + (double)dw[i], 1e-6, 1e-7);
    for (size_t i = 0; i < no; i++)
        check_close_at(__FILE__, __LINE__, "acc db", i, ab[i], 2.0 + (double)db[i], 1e-6, 1e-7);
}

static void linear_gradients_fd(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {{1, 1, 1}, {7, 33, 1}, {1, 7, 33}, {33, 7, 7}, {7, 1, 33}};
    static const clrt_act acts[] = {CLRT_ACT_IDENTITY, CLRT_ACT_TANH, CLRT_ACT_GELU,
                                    CLRT_ACT_SOFTMAX};
    static lin_problem lp;
    rng_seed(41);
    fd_max_err = 0;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            lp.batch = shapes[s][0];
            lp.in = shapes[s][1];
            lp.out = shapes[s][2];
            lp.act = acts[a];
            linear_gradcheck(&lp);
        }
    print_message("linear: largest |fd - grad| %.3g\n", fd_max_err);
}

/* ------------------------------------------------------------------ losses */

/* pred [1,2,3], target [1,1,1]: (0 + 1 + 4)/3 = 5/3; grad 2(p−t)/3. */
static void mse_known(void **state)
{
    (void)state;
    const float p[3] = {1, 2, 3}, t[3] = {1, 1, 1};
    float g[3] = {NAN, NAN, NAN};
    CHECK_CLOSE(clrt_ref_loss_mse(3, p, t, g), 5.0 / 3.0, 1e-7, 0);
    CHECK_ARRAY(g, 1e-7, 0, 0, 2.0 / 3.0, 4.0 / 3.0);
    CHECK_CLOSE(clrt_ref_loss_mse(3, p, t, NULL), 5.0 / 3.0, 1e-7, 0);
    const float p1[1] = {-0.5f}, t1[1] = {1.5f};
    float g1[1];
    CHECK_CLOSE(clrt_ref_loss_mse(1, p1, t1, g1), 4.0, 0, 0);
    CHECK_CLOSE(g1[0], -4.0, 0, 0);
    CHECK_NAN(clrt_ref_loss_mse(0, p, t, NULL)); /* the mean of nothing, as torch */
}

static void mse_gradients_fd(void **state)
{
    (void)state;
    static const size_t sizes[] = {1, 7, 33, 257};
    const float h = 1e-2f;
    rng_seed(51);
    fd_max_err = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        float p[MAXN], t[MAXN], g[MAXN];
        fill_uniform(p, n, -2, 2);
        fill_uniform(t, n, -2, 2);
        clrt_ref_loss_mse(n, p, t, g);
        for (size_t i = 0; i < n; i++) {
            float keep = p[i], pp = keep + h, pm = keep - h;
            p[i] = pp;
            double lp = clrt_ref_loss_mse(n, p, t, NULL);
            p[i] = pm;
            double lm = clrt_ref_loss_mse(n, p, t, NULL);
            p[i] = keep;
            /* The loss is quadratic, so the only error is the float rounding
             * of L: ulp(L)/(2h) is ≈ 1e-5 from n = 7 on, up to 1e-4 at n = 1
             * (L ≲ 16), where the grads are ≲ 8 and rel 1e-2 covers it. */
            fd_check_at(__FILE__, __LINE__, "mse grad", i, (lp - lm) / ((double)pp - (double)pm),
                        g[i], 1e-4);
        }
    }
    print_message("mse: largest |fd - grad| %.3g\n", fd_max_err);
}

/* torch.nn.functional.cross_entropy, float64: logits [1,2,3] label 2 gives
 * log(e¹+e²+e³) − 3 = 0.40760596; label 0 gives 2.40760596; the mean of both
 * is 1.407605964 and the grad (softmax − onehot)/2 is
 * [[0.0450152866, 0.1223642355, −0.1673795221],
 *  [−0.4549847134, 0.1223642355, 0.3326204779]]. */
static void cross_entropy_known(void **state)
{
    (void)state;
    const float one[3] = {1, 2, 3}, lab2[1] = {2};
    float g1[3];
    CHECK_CLOSE(clrt_ref_loss_cross_entropy(1, 3, one, lab2, g1), 0.40760596444438, 1e-7, 0);
    CHECK_ARRAY(g1, 1e-6, 0, 0.09003057317038045, 0.2447284710547976, 0.6652409557748218 - 1);

    const float two[6] = {1, 2, 3, 1, 2, 3}, labs[2] = {2, 0};
    float g[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    CHECK_CLOSE(clrt_ref_loss_cross_entropy(2, 3, two, labs, g), 1.407605964, 1e-7, 0);
    CHECK_ARRAY(g, 1e-6, 0, 0.04501528658519022, 0.12236423552739882, -0.1673795221125891,
                -0.4549847134148098, 0.12236423552739882, 0.3326204778874109);
    CHECK_CLOSE(clrt_ref_loss_cross_entropy(2, 3, two, labs, NULL), 1.407605964, 1e-7, 0);

    /* Max subtraction: the same numbers 1000 higher (exp(1002) overflows). */
    const float big[3] = {1001, 1002, 1003};
    float gb[3];
    CHECK_CLOSE(clrt_ref_loss_cross_entropy(1, 3, big, lab2, gb), 0.40760596444438, 1e-5, 0);
    CHECK_ARRAY(gb, 1e-6, 0, 0.09003057317038045, 0.2447284710547976, 0.6652409557748218 - 1);
    /* One class: loss 0, grad 0. */
    const float single[1] = {5}, lab0[1] = {0};
    float gs[1] = {NAN};
    CHECK_CLOSE(clrt_ref_loss_cross_entropy(1, 1, single, lab0, gs), 0.0, 0, 0);
    CHECK_CLOSE(gs[0], 0.0, 0, 0);
}

/* A label that is not an integer in [0, classes) makes the loss NaN and its
 * grad row NaN; the other rows keep their grad (still divided by the full
 * batch). */
static void cross_entropy_bad_labels(void **state)
{
    (void)state;
    const float bad[] = {-1.0f, 3.0f, 1.5f, NAN, INFINITY, -INFINITY, 1e30f};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const float logits[6] = {1, 2, 3, 1, 2, 3};
        const float labels[2] = {2, bad[k]};
        float g[6];
        CHECK_NAN(clrt_ref_loss_cross_entropy(2, 3, logits, labels, g));
        CHECK_ARRAY(g, 1e-6, 0, 0.04501528658519022, 0.12236423552739882, -0.1673795221125891);
        for (int j = 3; j < 6; j++)
            CHECK_NAN(g[j]);
    }
}

static void cross_entropy_gradients_fd(void **state)
{
    (void)state;
    static const size_t shapes[][2] = {{1, 1}, {1, 7}, {7, 33}, {33, 7}, {33, 1}};
    const float h = 1e-2f;
    rng_seed(61);
    fd_max_err = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t batch = shapes[s][0], classes = shapes[s][1];
        float x[MAXN], labels[33], g[MAXN];
        fill_uniform(x, batch * classes, -3, 3);
        for (size_t i = 0; i < batch; i++)
            labels[i] = (float)(size_t)(rng_unit() * (double)classes);
        clrt_ref_loss_cross_entropy(batch, classes, x, labels, g);
        for (size_t i = 0; i < batch * classes; i++) {
            float keep = x[i], xp = keep + h, xm = keep - h;
            x[i] = xp;
            double lp = clrt_ref_loss_cross_entropy(batch, classes, x, labels, NULL);
            x[i] = xm;
            double lm = clrt_ref_loss_cross_entropy(batch, classes, x, labels, NULL);
            x[i] = keep;
            /* grads are ≈ 1/(batch·classes) here (≈ 4e-3 at 33x7): abs 1e-4
             * is 8x the rounding noise of the float loss (L ≲ 4: 2.4e-7/2h
             * = 1.2e-5) and far above the truncation (< 2e-6). */
            fd_check_at(__FILE__, __LINE__, "ce grad", i, (lp - lm) / ((double)xp - (double)xm),
                        g[i], 1e-4);
        }
    }
    print_message("cross-entropy: largest |fd - grad| %.3g\n", fd_max_err);
}

/* The first maximal index counts: [3,3,1] predicts 0, not 1. */
static void accuracy_known(void **state)
{
    (void)state;
    const float logits[15] = {3, 3, 1,    /* argmax 0 (tie) */
                              0, 1, 2,    /* argmax 2 */
                              -1, -5, -2, /* argmax 0 */
                              7, 7, 7,    /* argmax 0 */
                              0, 9, 1};   /* argmax 1 */
    const float right[5] = {0, 2, 0, 0, 1};
    const float wrong[5] = {1, 1, 2, 2, 0};
    CHECK_CLOSE(clrt_ref_accuracy(5, 3, logits, right), 5.0, 0, 0);
    CHECK_CLOSE(clrt_ref_accuracy(5, 3, logits, wrong), 0.0, 0, 0);
    const float mixed[5] = {0, 1, 0, 2, 1};
    CHECK_CLOSE(clrt_ref_accuracy(5, 3, logits, mixed), 3.0, 0, 0);
    /* Labels that are no class never count. */
    const float bad[5] = {-0.0f, 2.5f, NAN, 3, 1};
    CHECK_CLOSE(clrt_ref_accuracy(5, 3, logits, bad), 2.0, 0, 0);
    /* Odd shapes: one column always predicts class 0. */
    float ones[33], zeros[33];
    for (int i = 0; i < 33; i++) {
        ones[i] = (float)i;
        zeros[i] = 0;
    }
    CHECK_CLOSE(clrt_ref_accuracy(33, 1, ones, zeros), 33.0, 0, 0);
    /* One row of 33 rising values: argmax 32. */
    const float l32[1] = {32}, l31[1] = {31};
    CHECK_CLOSE(clrt_ref_accuracy(1, 33, ones, l32), 1.0, 0, 0);
    CHECK_CLOSE(clrt_ref_accuracy(1, 33, ones, l31), 0.0, 0, 0);
}

/* -------------------------------------------------------- reduce and co. */

static void reduce_known(void **state)
{
    (void)state;
    const float x[6] = {1, 2, 3, 4, 5, 6}; /* [[1,2,3],[4,5,6]] */
    float y[3];
    clrt_ref_reduce(CLRT_REDUCE_SUM, 0, 2, 3, x, y);
    CHECK_ARRAY(y, 0, 0, 5, 7, 9);
    clrt_ref_reduce(CLRT_REDUCE_MEAN, 0, 2, 3, x, y);
    CHECK_ARRAY(y, 0, 0, 2.5, 3.5, 4.5);
    clrt_ref_reduce(CLRT_REDUCE_SUM, 1, 2, 3, x, y);
    CHECK_ARRAY(y, 0, 0, 6, 15);
    clrt_ref_reduce(CLRT_REDUCE_MEAN, 1, 2, 3, x, y);
    CHECK_ARRAY(y, 0, 0, 2, 5);
    /* Double accumulation: 2^24 + 4·1 (see gemm_accumulates_in_double). */
    const float big[5] = {16777216.0f, 1, 1, 1, 1};
    float s[1];
    clrt_ref_reduce(CLRT_REDUCE_SUM, 1, 1, 5, big, s);
    CHECK_CLOSE(s[0], 16777220.0, 0, 0);
    clrt_ref_reduce(CLRT_REDUCE_SUM, 0, 5, 1, big, s);
    CHECK_CLOSE(s[0], 16777220.0, 0, 0);
    clrt_ref_reduce(CLRT_REDUCE_MEAN, 0, 5, 1, big, s);
    CHECK_CLOSE(s[0], 16777220.0 / 5.0, 1e-7, 0);
}

/* x[i][j] = i + 100·j on odd shapes: the sums are known in closed form. */
static void reduce_odd_shapes(void **state)
{
    (void)state;
    static const size_t shapes[][2] = {{1, 1}, {1, 7}, {33, 1}, {7, 33}, {33, 7}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1];
        float x[MAXN], y[MAXN];
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                x[i * cols + j] = (float)(i + 100 * j);
        double tri_r = (double)rows * (double)(rows - 1) / 2.0; /* Σ i */
        double tri_c = (double)cols * (double)(cols - 1) / 2.0; /* Σ j */
        clrt_ref_reduce(CLRT_REDUCE_SUM, 0, rows, cols, x, y);
        for (size_t j = 0; j < cols; j++)
            check_close_at(__FILE__, __LINE__, "sum0", j, y[j], tri_r + 100.0 * j * rows, 0, 0);
        clrt_ref_reduce(CLRT_REDUCE_MEAN, 0, rows, cols, x, y);
        for (size_t j = 0; j < cols; j++)
            check_close_at(__FILE__, __LINE__, "mean0", j, y[j], tri_r / rows + 100.0 * j, 1e-7,
                           0);
        clrt_ref_reduce(CLRT_REDUCE_SUM, 1, rows, cols, x, y);
        for (size_t i = 0; i < rows; i++)
            check_close_at(__FILE__, __LINE__, "sum1", i, y[i], (double)i * cols + 100.0 * tri_c,
                           0, 0);
        clrt_ref_reduce(CLRT_REDUCE_MEAN, 1, rows, cols, x, y);
        for (size_t i = 0; i < rows; i++)
            check_close_at(__FILE__, __LINE__, "mean1", i, y[i], (double)i + 100.0 * tri_c / cols,
                           1e-7, 0);
    }
}

static void elementwise_known(void **state)
{
    (void)state;
    const float a[3] = {1, -2, 0.5f}, b[3] = {0.25f, 2, -4};
    float y[3];
    clrt_ref_add(3, a, b, y);
    CHECK_ARRAY(y, 0, 0, 1.25, 0, -3.5);
    clrt_ref_scale(3, -2.0f, a, y);
    CHECK_ARRAY(y, 0, 0, -2, 4, -1);
    float acc[3] = {1, 1, 1};
    clrt_ref_axpy(3, 0.5f, b, acc);
    CHECK_ARRAY(acc, 0, 0, 1.125, 2, -1);
    /* In place: y may be an input. */
    float v[3] = {1, -2, 0.5f};
    clrt_ref_add(3, v, v, v);
    CHECK_ARRAY(v, 0, 0, 2, -4, 1);
    clrt_ref_scale(3, 0.25f, v, v);
    CHECK_ARRAY(v, 0, 0, 0.5, -1, 0.25);
    clrt_ref_axpy(3, -1.0f, v, v);
    CHECK_ARRAY(v, 0, 0, 0, 0, 0);
}

/* ------------------------------------------------------------- optimizers */

static void sgd_options(clrt_optim_options *o, float lr, float momentum, float dampening,
                        int nesterov, float wd)
{
    memset(o, 0, sizeof *o);
    o->kind = CLRT_OPTIM_SGD;
    o->lr = lr;
    o->momentum = momentum;
    o->dampening = dampening;
    o->nesterov = nesterov;
    o->weight_decay = wd;
}

static void adam_options(clrt_optim_options *o, clrt_optim_kind kind, float lr, float beta1,
                         float beta2, float eps, float wd)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->lr = lr;
    o->beta1 = beta1;
    o->beta2 = beta2;
    o->eps = eps;
    o->weight_decay = wd;
}

/* Worked by hand (single parameter, lr 0.1):
 *  plain:      p = 1, g = 0.1: p = 1 − 0.01 = 0.99.
 *  wd 0.5:     p = 2, g = 0: g' = 0 + 0.5·2 = 1, p = 1.9.
 *  momentum 0.9, dampening 0.5, p = 1, g = 0.5 twice:
 *              step 1: buf = g = 0.5 (no dampening on the first step), p = 0.95;
 *              step 2: buf = 0.9·0.5 + 0.5·0.5 = 0.7, p = 0.95 − 0.07 = 0.88.
 *  nesterov, momentum 0.9, p = 1, g = 1 twice:
 *              step 1: buf = 1, g' = 1 + 0.9·1 = 1.9, p = 0.81;
 *              step 2: buf = 0.9 + 1 = 1.9, g' = 1 + 0.9·1.9 = 2.71, p = 0.539. */
static void sgd_by_hand(void **state)
{
    (void)state;
    clrt_optim_options o;
    float p[1], g[1], buf[1];

    sgd_options(&o, 0.1f, 0, 0, 0, 0);
    p[0] = 1;
    g[0] = 0.1f;
    clrt_ref_optim_step(&o, 1, 1, p, g, NULL, NULL); /* no momentum: no state */
    CHECK_CLOSE(p[0], 0.99, 1e-7, 0);

    sgd_options(&o, 0.1f, 0, 0, 0, 0.5f);
    p[0] = 2;
    g[0] = 0;
    clrt_ref_optim_step(&o, 1, 1, p, g, NULL, NULL);
    CHECK_CLOSE(p[0], 1.9, 1e-7, 0);

    sgd_options(&o, 0.1f, 0.9f, 0.5f, 0, 0);
    p[0] = 1;
    g[0] = 0.5f;
    buf[0] = NAN; /* ignored on step 1 */
    clrt_ref_optim_step(&o, 1, 1, p, g, buf, NULL);
    CHECK_CLOSE(buf[0], 0.5, 1e-7, 0);
    CHECK_CLOSE(p[0], 0.95, 1e-7, 0);
    clrt_ref_optim_step(&o, 2, 1, p, g, buf, NULL);
    CHECK_CLOSE(buf[0], 0.7, 1e-7, 0);
    CHECK_CLOSE(p[0], 0.88, 1e-7, 0);

    sgd_options(&o, 0.1f, 0.9f, 0, 1, 0);
    p[0] = 1;
    g[0] = 1;
    buf[0] = 0;
    clrt_ref_optim_step(&o, 1, 1, p, g, buf, NULL);
    CHECK_CLOSE(buf[0], 1.0, 1e-7, 0);
    CHECK_CLOSE(p[0], 0.81, 1e-7, 0);
    clrt_ref_optim_step(&o, 2, 1, p, g, buf, NULL);
    CHECK_CLOSE(buf[0], 1.9, 1e-7, 0);
    CHECK_CLOSE(p[0], 0.539, 1e-6, 0);
}

/* Adam's first step is lr·g/(|g| + eps) ≈ lr·sign(g) whatever β: m/(1−β1) = g
 * and √(v/(1−β2)) = |g|. AdamW first scales p by 1 − lr·wd. */
static void adam_by_hand(void **state)
{
    (void)state;
    clrt_optim_options o;
    float p[2] = {1, 1}, g[2] = {0.5f, -3}, m[2] = {0, 0}, v[2] = {0, 0};
    adam_options(&o, CLRT_OPTIM_ADAM, 0.1f, 0.9f, 0.999f, 1e-8f, 0);
    clrt_ref_optim_step(&o, 1, 2, p, g, m, v);
    CHECK_ARRAY(p, 1e-7, 0, 0.9, 1.1);
    CHECK_ARRAY(m, 1e-6, 0, 0.05, -0.3);
    /* 1 − β2 is 1 − 0.999f = 0.00099998713 (β are floats in the options), not
     * 0.001: 1.3e-5 relative, which the bias correction divides out of p. */
    CHECK_ARRAY(v, 3e-5, 0, 0.001 * 0.25, 0.001 * 9);

    float q[2] = {1, 1}, m2[2] = {0, 0}, v2[2] = {0, 0};
    adam_options(&o, CLRT_OPTIM_ADAMW, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f);
    clrt_ref_optim_step(&o, 1, 2, q, g, m2, v2);
    CHECK_ARRAY(q, 1e-7, 0, 0.99 - 0.1, 0.99 + 0.1);
    /* Adam's weight decay goes into the gradient instead: g' = g + 0.1·p
     * = [0.6, −2.9], and the first step still moves by lr·sign(g'). */
    float r[2] = {1, 1}, m3[2] = {0, 0}, v3[2] = {0, 0};
    adam_options(&o, CLRT_OPTIM_ADAM, 0.1f, 0.9f, 0.999f, 1e-8f, 0.1f);
    clrt_ref_optim_step(&o, 1, 2, r, g, m3, v3);
    CHECK_ARRAY(r, 1e-7, 0, 0.9, 1.1);
    CHECK_ARRAY(m3, 1e-6, 0, 0.06, -0.29);
}

/* Three steps on p0 = [1, −2, 0.5] with grads g1 = [0.1, −0.2, 0.3],
 * g2 = [−0.4, 0.5, 0.05], g3 = [0.2, 0.1, −0.3]. Expected values printed by
 * torch 1.13's torch.optim (Debian python3-torch 1.13.1, float32 tensors, the
 * state after step 3 from optimizer.state). Tolerances:
 *  - params rel 1e-6: torch rounds every intermediate to float32 and takes
 *    its hyper-parameters as doubles (0.9), the reference rounds only the
 *    stored results and gets floats (0.9f); they differ by a few ulps
 *    (seen: 1.2e-7 relative at most).
 *  - momentum_buffer / exp_avg also abs 1e-7: they are differences of terms
 *    up to ~0.5, so a few ulps of those (≈ 3e-8 each) is the absolute noise
 *    on a result of ~0.025.
 *  - exp_avg_sq rel 3e-5: 1 − β2 from the float β2 = 0.999f is 0.00099998713,
 *    1.3e-5 off torch's 1 − 0.999; the bias correction divides the same
 *    factor out again, so the params are not affected. */
#define OPT_P_RTOL 1e-6
#define OPT_S0_RTOL 1e-6
#define OPT_S0_ATOL 1e-7
#define OPT_S1_RTOL 3e-5

static const float opt_p0[3] = {1.0f, -2.0f, 0.5f};
static const float opt_g[3][3] = {{0.1f, -0.2f, 0.3f}, {-0.4f, 0.5f, 0.05f}, {0.2f, 0.1f, -0.3f}};

typedef struct opt_case {
    const char *name;
    clrt_optim_options o;
    double p[3][3];   /* params after steps 1, 2, 3 */
    double s0[3];     /* momentum_buffer / exp_avg after step 3 */
    double s1[3];     /* exp_avg_sq after step 3 */
} opt_case;

static void run_opt_case(const opt_case *c, int has_s0, int has_s1)
{
    float p[3], s0[3] = {0, 0, 0}, s1[3] = {0, 0, 0};
    memcpy(p, opt_p0, sizeof p);
    for (int t = 0; t < 3; t++) {
        clrt_ref_optim_step(&c->o, (uint64_t)t + 1, 3, p, opt_g[t], has_s0 ? s0 : NULL,
                            has_s1 ? s1 : NULL);
        check_array_at(__FILE__, __LINE__, c->name, p, c->p[t], 3, OPT_P_RTOL, 0);
    }
    if (has_s0)
        check_array_at(__FILE__, __LINE__, "state0", s0, c->s0, 3, OPT_S0_RTOL, OPT_S0_ATOL);
    if (has_s1)
        check_array_at(__FILE__, __LINE__, "state1", s1, c->s1, 3, OPT_S1_RTOL, 0);
}

static void sgd_torch(void **state)
{
    (void)state;
    opt_case c;
    memset(&c, 0, sizeof c);

    /* torch.optim.SGD(lr=0.1) */
    c.name = "sgd";
    sgd_options(&c.o, 0.1f, 0, 0, 0, 0);
    const double plain[3][3] = {{0.99000001, -1.98000002, 0.469999999},
                                {1.02999997, -2.02999997, 0.465000004},
                                {1.00999999, -2.03999996, 0.495000005}};
    memcpy(c.p, plain, sizeof plain);
    run_opt_case(&c, 0, 0);

    /* torch.optim.SGD(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01) */
    c.name = "sgd momentum dampening wd";
    sgd_options(&c.o, 0.1f, 0.9f, 0.1f, 0, 0.01f);
    const double mom[3][3] = {{0.989000022, -1.97800004, 0.469500005},
                              {1.01420987, -2.00141978, 0.437127441},
                              {1.01798594, -2.02969623, 0.434598744}};
    const double mom_buf[3] = {-0.0377612151, 0.282765388, 0.0252871104};
    memcpy(c.p, mom, sizeof mom);
    memcpy(c.s0, mom_buf, sizeof mom_buf);
    run_opt_case(&c, 1, 0);

    /* torch.optim.SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05) */
    c.name = "sgd nesterov wd";
    sgd_options(&c.o, 0.1f, 0.9f, 0, 1, 0.05f);
    const double nes[3][3] = {{0.971499979, -1.94299996, 0.438250005},
                              {1.02612078, -1.9952414, 0.398261636},
                              {0.995903075, -2.00604749, 0.421960741}};
    const double nes_buf[3] = {0.0565235764, 0.119802915, 0.0478843153};
    memcpy(c.p, nes, sizeof nes);
    memcpy(c.s0, nes_buf, sizeof nes_buf);
    run_opt_case(&c, 1, 0);
}

static void adam_torch(void **state)
{
    (void)state;
    opt_case c;
    memset(&c, 0, sizeof c);

    /* torch.optim.Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1) */
    c.name = "adam wd";
    adam_options(&c.o, CLRT_OPTIM_ADAM, 0.01f, 0.9f, 0.999f, 1e-8f, 0.1f);
    const double adam[3][3] = {{0.99000001, -1.99000001, 0.49000001},
                               {0.992491901, -1.98912275, 0.481526315},
                               {0.989899337, -1.98721826, 0.479781598}};
    const double adam_m[3] = {0.0190349221, -0.0152012287, 0.012075264};
    const double adam_v[3] = {0.000219980531, 0.000259974215, 0.000195473476};
    memcpy(c.p, adam, sizeof adam);
    memcpy(c.s0, adam_m, sizeof adam_m);
    memcpy(c.s1, adam_v, sizeof adam_v);
    run_opt_case(&c, 1, 1);

    /* torch.optim.AdamW(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1) */
    c.name = "adamw";
    adam_options(&c.o, CLRT_OPTIM_ADAMW, 0.01f, 0.8f, 0.99f, 1e-6f, 0.1f);
    const double adamw[3][3] = {{0.989000082, -1.98800004, 0.489500046},
                                {0.994095325, -1.99096358, 0.481501192},
                                {0.99396807, -1.99379635, 0.482149601}};
    const double adamw_m[3] = {-0.0112000015, 0.0744000077, -0.0135999965};
    const double adamw_v[3] = {0.00208201027, 0.00296704005, 0.00180684018};
    memcpy(c.p, adamw, sizeof adamw);
    memcpy(c.s0, adamw_m, sizeof adamw_m);
    memcpy(c.s1, adamw_v, sizeof adamw_v);
    run_opt_case(&c, 1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemm_2x3_by_3x2),
        cmocka_unit_test(gemm_each_transpose),
        cmocka_unit_test(gemm_beta_zero_ignores_c),
        cmocka_unit_test(gemm_odd_shapes),
        cmocka_unit_test(gemm_accumulates_in_double),
        cmocka_unit_test(act_forward_known),
        cmocka_unit_test(act_backward_known),
        cmocka_unit_test(softmax_known),
        cmocka_unit_test(softmax_backward_known),
        cmocka_unit_test(act_gradients_fd),
        cmocka_unit_test(linear_forward_known),
        cmocka_unit_test(linear_forward_odd_shapes),
        cmocka_unit_test(linear_backward_known),
        cmocka_unit_test(linear_gradients_fd),
        cmocka_unit_test(mse_known),
        cmocka_unit_test(mse_gradients_fd),
        cmocka_unit_test(cross_entropy_known),
        cmocka_unit_test(cross_entropy_bad_labels),
        cmocka_unit_test(cross_entropy_gradients_fd),
        cmocka_unit_test(accuracy_known),
        cmocka_unit_test(reduce_known),
        cmocka_unit_test(reduce_odd_shapes),
        cmocka_unit_test(elementwise_known),
        cmocka_unit_test(sgd_by_hand),
        cmocka_unit_test(adam_by_hand),
        cmocka_unit_test(sgd_torch),
        cmocka_unit_test(adam_torch),
    };
    return cmocka_run_group_tests_name("unit-ref", tests, NULL, NULL);
}
