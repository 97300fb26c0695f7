/* Element-wise activations and their derivatives, PyTorch's formulas, as
 * inline OpenCL C functions. Included by cl/activation.cl and cl/linear.cl
 * (the fused linear + bias + activation kernel), so it stands alone.
 *
 *   clrt_act_f(act, x, param)      y = act(x)
 *   clrt_act_df(act, x, y, param)  dy/dx at x, given y = act(x)
 *
 * `act` is a CLRT_K_ACT_* code; `param` is the negative slope of LEAKY_RELU
 * and ignored otherwise. clrt_act_df reads x for RELU, LEAKY_RELU, SIN,
 * GELU, GELU_TANH and y for SIGMOID, TANH; the other argument may be
 * anything. SOFTMAX is not element-wise: the callers normalise rows
 * themselves; here it (and an unknown code) passes x through with
 * derivative 1. No fast-math: the built-ins keep their OpenCL precision. */
#ifndef CLRT_CL_ACT_MATH_H
#define CLRT_CL_ACT_MATH_H

#include "common.h"

/* `static` is allowed on functions from OpenCL C 1.2; before that a plain
 * C99 `inline` emits no out-of-line copy, so inlining is forced. */
#if defined(__OPENCL_C_VERSION__) && __OPENCL_C_VERSION__ >= 120
#define CLRT_ACT_FN static inline
#else
#define CLRT_ACT_FN inline __attribute__((always_inline))
#endif

#define CLRT_ACT_SQRT1_2 0.70710678118654752440f      /* 1/√2 */
#define CLRT_ACT_INV_SQRT_2PI 0.39894228040143267794f /* 1/√(2π) */
#define CLRT_ACT_SQRT_2_PI 0.79788456080286535588f    /* √(2/π), PyTorch's kBeta */
#define CLRT_ACT_GELU_KAPPA 0.044715f                 /* PyTorch's kKappa */

/* tanh, exactly ±1 where the correctly rounded result is (|x| > 9.1): PoCL
 * 3.1's tanh gives 0.99999994 even at ±inf. Within the OpenCL error bound
 * either way, but devices then agree and the backward's 1 − y² is 0. */
CLRT_ACT_FN float clrt_act_tanh(float x)
{
    return fabs(x) > 9.1f ? copysign(1.0f, x) : tanh(x);
}

CLRT_ACT_FN float clrt_act_f(int act, float x, float param)
{
    switch (act) {
    case CLRT_K_ACT_RELU:
        /* x > 0 ? x : 0, but NaN stays NaN as in torch.relu. */
        return x > 0.0f || isnan(x) ? x : 0.0f;
    case CLRT_K_ACT_LEAKY_RELU:
        return x > 0.0f ? x : x * param;
    case CLRT_K_ACT_SIGMOID:
        return 1.0f / (1.0f + exp(-x));
    case CLRT_K_ACT_TANH:
        return clrt_act_tanh(x);
    case CLRT_K_ACT_SIN:
        return sin(x);
    case CLRT_K_ACT_GELU:
        return 0.5f * x * (1.0f + erf(x * CLRT_ACT_SQRT1_2));
    case CLRT_K_ACT_GELU_TANH: {
        float inner = CLRT_ACT_SQRT_2_PI * (x + CLRT_ACT_GELU_KAPPA * x * x * x);
        return 0.5f * x * (1.0f + clrt_act_tanh(inner));
    }
    case CLRT_K_ACT_IDENTITY:
    default:
        return x;
    }
}

CLRT_ACT_FN float clrt_act_df(int act, float x, float y, float param)
{
    switch (act) {
    case CLRT_K_ACT_RELU:
        /* As torch's threshold_backward: 0 where x <= 0 (so at 0 too), and
         * NaN lets the gradient through. */
        return x <= 0.0f ? 0.0f : 1.0f;
    case CLRT_K_ACT_LEAKY_RELU:
        return x > 0.0f ? 1.0f : param;
    case CLRT_K_ACT_SIGMOID:
        return y * (1.0f - y);
    case CLRT_K_ACT_TANH:
        return 1.0f - y * y;
    case CLRT_K_ACT_SIN:
        return cos(x);
    case CLRT_K_ACT_GELU: {
        /* Φ(x) + x·φ(x) */
        float cdf = 0.5f * (1.0f + erf(x * CLRT_ACT_SQRT1_2));
        float pdf = CLRT_ACT_INV_SQRT_2PI * exp(-0.5f * x * x);
        return cdf + x * pdf;
    }
    case CLRT_K_ACT_GELU_TANH: {
        /* PyTorch's GeluBackward with approximate='tanh'. */
        float x_sq = x * x;
        float inner = CLRT_ACT_SQRT_2_PI * (x + CLRT_ACT_GELU_KAPPA * x_sq * x);
        float t = clrt_act_tanh(inner);
        float left = 0.5f * x;
        float right = 1.0f + t;
        float left_derivative = 0.5f * right;
        float right_derivative = left * (1.0f - t * t) * CLRT_ACT_SQRT_2_PI *
                                 (1.0f + 3.0f * CLRT_ACT_GELU_KAPPA * x_sq);
        return left_derivative + right_derivative;
    }
    case CLRT_K_ACT_IDENTITY:
    default:
        return 1.0f;
    }
}

/* A program built with -D CLRT_ACT_FIXED=<code> serves that activation
 * only: its kernels read the code through CLRT_ACT_OF and ignore their
 * `act` argument, so the compiler drops the switch and can vectorise across
 * work-items (PoCL: 2-4x faster element-wise passes). */
#ifdef CLRT_ACT_FIXED
#define CLRT_ACT_OF(act) CLRT_ACT_FIXED
#else
#define CLRT_ACT_OF(act) (act)
#endif

#endif
