/* Every op's error bound in one place: how far the device's float32 result
 * may be from the reference's double computation rounded to float, element
 * by element, and why. The device tests, clrt_selftest and the docs
 * (docs/ops.md) all take their bounds from here. ε is FLT_EPSILON = 2^-23,
 * u = ε/2 = 2^-24; the bound's form is in verify.h (clrt__tol). */
#include "verify/verify.h"

#include <float.h>
#include <math.h>

double clrt__tol_bound(clrt__tol tol, double want, double m)
{
    return tol.rel * fmax(fabs(want), tol.floor) + tol.abs + tol.mag * m;
}

/* Pure selections and single correctly rounded operations (add, scale,
 * accuracy's count, relu): the device equals the reference exactly. */
clrt__tol clrt__tol_exact(void)
{
    return (clrt__tol){0, 0, 0, 0, false};
}

/* Two device results that must agree bit for bit (the same op reached
 * another way: both operands given, in place, without a grad). */
clrt__tol clrt__tol_bitwise(void)
{
    return (clrt__tol){0, 0, 0, 0, true};
}

/* GEMM: a float dot product of length K is within (K+2)·ε of the exact
 * one relative to Σ|terms|: m_i = |α|·Σ_p |a_ip·b_pj| + |β·c_ij|, the
 * second covering the rounding of β·C (2ε·|β·c| <= (K+2)·ε·|β·c|). The
 * tiny absolute term lets an exact 0 match an exact 0 whatever m_i is. */
clrt__tol clrt__tol_gemm(size_t k)
{
    return (clrt__tol){0, 0, 1e-30, (double)(k + 2) * FLT_EPSILON, false};
}

/* Linear forward (a GEMM of length K = in, then a float activation) and
 * backward (lengths out for dx, batch for dw and db): (K+2)·ε relative to
 * the sum of |terms|, which is bounded by K·max|x|·max|w| = K for inputs in
 * [-1, 1]; a factor 4 of margin covers the transcendental activations' few
 * ulps. Stated relative to 1 + |ref|: (K+2)·4ε·(1 + |ref|). */
clrt__tol clrt__tol_linear(size_t k)
{
    double t = (double)(k + 2) * FLT_EPSILON * 4;
    return (clrt__tol){t, 0, t, 0, false};
}

/* Activations, device float against the reference's double rounded to
 * float, inputs in [-3, 3):
 *  - identity, relu: pure selections (and dy·1, dy·0): exact.
 *  - leaky_relu: one float multiply, correctly rounded on both sides: exact
 *    up to 1 ulp; 1e-6 relative.
 *  - sigmoid, tanh, sin: the OpenCL built-ins exp/tanh/sin/cos are within
 *    3–5 ulp and a division 2.5 ulp, a handful of roundings follow: 2e-6
 *    relative (~16 ulp) + 2e-7 absolute (the backward's 1 − y·y and 1 − y
 *    cancel near saturation, leaving an absolute error of a few ulp of 1).
 *  - gelu, gelu_tanh: erf is allowed 16 ulp; 1 + erf(x/√2) (and 1 + tanh)
 *    cancels for negative x, so the error is absolute: 16 ulp of 1 times
 *    |x|/2 <= 1.5 on inputs in [-3, 3): 4e-6 absolute + 2e-6 relative.
 *  - softmax: exp (3 ulp), a division (2.5 ulp) and a float sum of up to 784
 *    terms in a tree (depth <= 4 + 8 here): 1e-5 relative + 1e-8 absolute;
 *    the backward's dy − Σdy·y cancels: 1e-6 absolute.
 * An unknown activation gets nothing: it must not run at all. */
clrt__tol clrt__tol_act(clrt_act act, bool backward)
{
    switch (act) {
    case CLRT_ACT_IDENTITY:
    case CLRT_ACT_RELU:
        return clrt__tol_exact();
    case CLRT_ACT_LEAKY_RELU:
        return (clrt__tol){1e-6, 0, 0, 0, false};
    case CLRT_ACT_SIGMOID:
    case CLRT_ACT_TANH:
    case CLRT_ACT_SIN:
        return (clrt__tol){2e-6, 0, 2e-7, 0, false};
    case CLRT_ACT_GELU:
    case CLRT_ACT_GELU_TANH:
        return (clrt__tol){2e-6, 0, 4e-6, 0, false};
    case CLRT_ACT_SOFTMAX:
        return (clrt__tol){1e-5, 0, backward ? 1e-6 : 1e-8, 0, false};
    }
    return clrt__tol_exact();
}

/* Each softmax row is a distribution: the rounding of <= 257 terms of a
 * float sum, |Σ_j y_j − 1| <= 1e-5. */
clrt__tol clrt__tol_softmax_row_sum(void)
{
    return (clrt__tol){0, 0, 1e-5, 0, false};
}

/* MSE loss: a float sum of n squares (no cancellation), blocked per
 * work-item, then two tree levels: relative error <= depth·ε with depth <=
 * 64 here; 1e-5 relative covers it. */
clrt__tol clrt__tol_mse_loss(void)
{
    return (clrt__tol){1e-5, 0, 0, 0, false};
}

/* MSE grad: one subtraction and one multiply, each correctly rounded: 1e-6
 * relative (and 1e-12 absolute for an exact 0). */
clrt__tol clrt__tol_mse_grad(void)
{
    return (clrt__tol){1e-6, 0, 1e-12, 0, false};
}

/* Cross-entropy loss, logits in [-3, 3) plus a common offset of ±1000
 * (max-subtraction keeps it finite and exact: max − logit[label] of two
 * nearby floats is exact): per row (max − x[label]) + log Σ exp(x − max),
 * exp and log within 3 ulp, a float sum of <= 784 terms in a tree, then a
 * mean over rows in a tree; rows are positive, so the mean's relative error
 * is small: 1e-5 relative + 1e-6 absolute (a row loss near 0 is a
 * difference). */
clrt__tol clrt__tol_ce_loss(void)
{
    return (clrt__tol){1e-5, 0, 1e-6, 0, false};
}

/* Cross-entropy grad (softmax − onehot)/batch: exp, a division, a sum:
 * 1e-5 relative + 1e-7/batch absolute (softmax − 1 cancels). */
clrt__tol clrt__tol_ce_grad(size_t batch)
{
    return (clrt__tol){1e-5, 0, 1e-7 / (double)(batch ? batch : 1), 0, false};
}

/* clrt_reduce: each output is a float sum of `count` terms, so |error| <=
 * (count − 1)·u·Σ|x| (the classic bound of recursive summation); the mean
 * adds a division (2.5 ulp in OpenCL). Per output: count·u·Σ|x| (/count
 * for the mean), m_i = Σ|x| of the output's line, + 4ε·|ref|. */
clrt__tol clrt__tol_reduce(clrt_reduce_op op, size_t count)
{
    double u = FLT_EPSILON / 2;
    double mag = op == CLRT_REDUCE_MEAN ? u : (double)count * u;
    return (clrt__tol){4.0 * FLT_EPSILON, 0, 0, mag, false};
}

/* axpy: y + α·x may or may not be contracted to an fma by the device
 * compiler; either way |error| <= 2u·(|y| + |α·x|) = ε·m_i. */
clrt__tol clrt__tol_axpy(void)
{
    return (clrt__tol){0, 0, 0, FLT_EPSILON, false};
}

/* Optimizers: float32 on the device against a reference that keeps the
 * same float32 parameters and state between steps but computes each update
 * in double. One step rounds the parameter, the state and a handful of
 * intermediate terms to float32 (each within a few ulps, 2^-23 ≈ 1.2e-7
 * relative; the device's sqrt and division may be off by up to 3 ulps), so
 * the two drift apart by well under 1e-6 relative per step. Parameters,
 * momentum and exp_avg are O(1) quantities that can cancel towards 0, so
 * their error is measured against max(|ref|, 1); exp_avg_sq (`squares`) is
 * a sum of positive terms and is compared purely relatively. */
clrt__tol clrt__tol_optim(size_t steps, bool squares)
{
    return (clrt__tol){(double)steps * 1e-6, squares ? 0.0 : 1.0, 0, 0, false};
}

/* Linear layer, L = Σ y⊙r with y = x·Wᵀ + b: dL/dθ from
 * clrt_linear_backward against central differences of L computed on the
 * device. In float with h = 1e-2 the difference quotient of this linear L is
 * exact up to the rounding of L (~ n·ε·Σ|y r| / h): 1e-2·(1 + |backward|). */
clrt__tol clrt__tol_linear_fd(void)
{
    return (clrt__tol){1e-2, 0, 1e-2, 0, false};
}

/* Activations by central differences, h = 1e-2 in float, inputs >= 0.1
 * away from relu's kink: the truncation error h²/6·|f'''| is <= 4e-5 for
 * these functions (|f'''| <= 2), the rounding error ε·Σ|dy·f|/h <= 1e-4; a
 * wrong derivative is off by far more than 1e-3 absolute + 1e-3 relative
 * (to the backward's value). */
clrt__tol clrt__tol_act_fd(void)
{
    return (clrt__tol){1e-3, 0, 1e-3, 0, false};
}

/* Loss grads by central differences, h = 1e-2: MSE is quadratic, so the
 * difference quotient is exact but for rounding; cross-entropy's truncation
 * error h²/6·|L'''| is < 1e-5. The rounding of L (~0.5–2, 1e-7 relative)
 * divided by 2h gives ~1e-5; 2e-4 absolute + 1e-3 relative (to the
 * difference quotient) is far below a wrong grad (a missing 1/n or 1/batch
 * is off by 3× or more here). */
clrt__tol clrt__tol_loss_fd(void)
{
    return (clrt__tol){1e-3, 0, 2e-4, 0, false};
}
