/* Optimizer updates, torch.optim semantics (1.13's single-tensor path).
 * The per-tensor kernels: one work-item per element, 1-D over n with the
 * global size rounded up to CLRT_WG_1D; the multi-tensor forms at the end
 * do the same per element over up to CLRT_OPTIM_TENSORS tensors a launch.
 * Every per-step scalar (bias corrections, 1 - beta, -lr) is computed on
 * the host in double and arrives here as a float, as PyTorch turns its
 * Python scalars into the tensor's float type. The operations
 * follow PyTorch's order so float32 results agree to a few ulps. */
#include "common.h"

#if defined(__OPENCL_C_VERSION__) && __OPENCL_C_VERSION__ >= 120
#define CLRT_OPTIM_FN static inline
#else
#define CLRT_OPTIM_FN inline __attribute__((always_inline))
#endif

/* Each rule updates element i in one function, which the per-tensor and
 * the multi-tensor kernels both call, so the two give the same bits. */

/* SGD without momentum: p -= lr·(g + wd·p). */
CLRT_OPTIM_FN void clrt_sgd_element(__global float *p, __global const float *g, size_t i,
                                    float lr, float wd)
{
    float pi = p[i];
    float d = g[i];
    if (wd != 0.0f)
        d = d + wd * pi;
    p[i] = pi + (-lr) * d;
}

/* SGD with momentum. d = g + wd·p; on the first step buf = d, later
 * buf = momentum·buf + (1 - dampening)·d; the step is buf, or with nesterov
 * d + momentum·buf; p -= lr·step. `first` is non-zero on the first step
 * (the buffer is then written without being read). */
CLRT_OPTIM_FN void clrt_sgd_momentum_element(__global float *p, __global const float *g,
                                             __global float *buf, size_t i, float lr, float wd,
                                             float momentum, float one_minus_dampening,
                                             int nesterov, int first)
{
    float pi = p[i];
    float d = g[i];
    if (wd != 0.0f)
        d = d + wd * pi;
    float b = first ? d : buf[i] * momentum + one_minus_dampening * d;
    buf[i] = b;
    float st = nesterov ? d + momentum * b : b;
    p[i] = pi + (-lr) * st;
}

/* Adam and AdamW. `wd` is Adam's coupled weight decay (g += wd·p; 0 for
 * AdamW), `decay` AdamW's decoupled factor 1 - lr·wd (1 for Adam), applied
 * to p before the update:
 *   m = beta1·m + (1 - beta1)·g
 *   v = beta2·v + (1 - beta2)·g²
 *   p -= step_size·m / (sqrt(v) / bias2_sqrt + eps)
 * with step_size = lr / (1 - beta1^t) and bias2_sqrt = sqrt(1 - beta2^t). */
CLRT_OPTIM_FN void clrt_adam_element(__global float *p, __global const float *g,
                                     __global float *m, __global float *v, size_t i, float wd,
                                     float decay, float beta1, float one_minus_beta1, float beta2,
                                     float one_minus_beta2, float step_size, float bias2_sqrt,
                                     float eps)
{
    float pi = p[i];
    float gi = g[i];
    if (wd != 0.0f)
        gi = gi + wd * pi;
    if (decay != 1.0f)
        pi = pi * decay;
    float mi = m[i] * beta1 + one_minus_beta1 * gi;
    float vi = v[i] * beta2 + one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float denom = sqrt(vi) / bias2_sqrt + eps;
    p[i] = pi + ((-step_size) * mi) / denom;
}

__kernel void clrt_optim_sgd(__global float *p, __global const float *g, const float lr,
                             const float wd, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        clrt_sgd_element(p, g, i, lr, wd);
}

__kernel void clrt_optim_sgd_momentum(__global float *p, __global const float *g,
                                      __global float *buf, const float lr, const float wd,
                                      const float momentum, const float one_minus_dampening,
                                      const int nesterov, const int first, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        clrt_sgd_momentum_element(p, g, buf, i, lr, wd, momentum, one_minus_dampening, nesterov,
                                  first);
}

__kernel void clrt_optim_adam(__global float *p, __global const float *g, __global float *m,
                              __global float *v, const float wd, const float decay,
                              const float beta1, const float one_minus_beta1, const float beta2,
                              const float one_minus_beta2, const float step_size,
                              const float bias2_sqrt, const float eps, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        clrt_adam_element(p, g, m, v, i, wd, decay, beta1, one_minus_beta1, beta2,
                          one_minus_beta2, step_size, bias2_sqrt, eps);
}

/* ------------------------------------------------- multi-tensor forms
 * One launch updates up to CLRT_OPTIM_TENSORS parameter tensors, so a
 * step costs one launch per eight tensors instead of one per tensor.
 * Tensor j's elements are work-groups [s_j, s_{j+1}) (s_0 = 0; an unused
 * slot has s_j = ULONG_MAX and is never chosen): each group belongs to
 * one tensor, so the buffers chosen below are the same for all its
 * work-items and PoCL still vectorises across them. Element i of the
 * chosen tensor is then updated by the rule's element function, the one
 * the per-tensor kernel calls, so the results are bit-identical to it. */

#define CLRT_SLOTS(X) X(0), X(1), X(2), X(3), X(4), X(5), X(6), X(7)

/* v = slot 0's v##0, then the v##j of the last slot j whose first group
 * grp has reached. One conditional expression per variable and slot: LLVM
 * turns each into a select (it leaves a branch that sets more than three
 * variables as a branch, which keeps PoCL from vectorising), and the
 * selects, uniform, leave the work-item loop. */
#define CLRT_PICK(v)                                                                              \
    v = grp >= s1 ? v##1 : v;                                                                     \
    v = grp >= s2 ? v##2 : v;                                                                     \
    v = grp >= s3 ? v##3 : v;                                                                     \
    v = grp >= s4 ? v##4 : v;                                                                     \
    v = grp >= s5 ? v##5 : v;                                                                     \
    v = grp >= s6 ? v##6 : v;                                                                     \
    v = grp >= s7 ? v##7 : v;

/* The element of the chosen tensor this work-item updates. */
#define CLRT_SLOT_INDEX(start) ((get_group_id(0) - (start)) * get_local_size(0) + get_local_id(0))

#define CLRT_SGD_SLOT(j) __global float *p##j, __global const float *g##j, const ulong n##j, \
                         const ulong s##j

__kernel void clrt_optim_sgd_multi(const float lr, const float wd, CLRT_SLOTS(CLRT_SGD_SLOT))
{
    const ulong grp = get_group_id(0);
    __global float *p = p0;
    __global const float *g = g0;
    ulong n = n0;
    CLRT_PICK(p) CLRT_PICK(g) CLRT_PICK(n)
    ulong s = s0;
    CLRT_PICK(s)
    size_t i = CLRT_SLOT_INDEX(s);
    if (i < n)
        clrt_sgd_element(p, g, i, lr, wd);
}

#define CLRT_MOMENTUM_SLOT(j) __global float *p##j, __global const float *g##j, \
                              __global float *buf##j, const ulong n##j, const ulong s##j

__kernel void clrt_optim_sgd_momentum_multi(const float lr, const float wd, const float momentum,
                                            const float one_minus_dampening, const int nesterov,
                                            const int first, CLRT_SLOTS(CLRT_MOMENTUM_SLOT))
{
    const ulong grp = get_group_id(0);
    __global float *p = p0, *buf = buf0;
    __global const float *g = g0;
    ulong n = n0;
    CLRT_PICK(p) CLRT_PICK(g) CLRT_PICK(buf) CLRT_PICK(n)
    ulong s = s0;
    CLRT_PICK(s)
    size_t i = CLRT_SLOT_INDEX(s);
    if (i < n)
        clrt_sgd_momentum_element(p, g, buf, i, lr, wd, momentum, one_minus_dampening, nesterov,
                                  first);
}

#define CLRT_ADAM_SLOT(j) __global float *p##j, __global const float *g##j, __global float *m##j, \
                          __global float *v##j, const ulong n##j, const ulong s##j

__kernel void clrt_optim_adam_multi(const float wd, const float decay, const float beta1,
                                    const float one_minus_beta1, const float beta2,
                                    const float one_minus_beta2, const float step_size,
                                    const float bias2_sqrt, const float eps,
                                    CLRT_SLOTS(CLRT_ADAM_SLOT))
{
    const ulong grp = get_group_id(0);
    __global float *p = p0, *m = m0, *v = v0;
    __global const float *g = g0;
    ulong n = n0;
    CLRT_PICK(p) CLRT_PICK(g) CLRT_PICK(m) CLRT_PICK(v) CLRT_PICK(n)
    ulong s = s0;
    CLRT_PICK(s)
    size_t i = CLRT_SLOT_INDEX(s);
    if (i < n)
        clrt_adam_element(p, g, m, v, i, wd, decay, beta1, one_minus_beta1, beta2,
                          one_minus_beta2, step_size, bias2_sqrt, eps);
}
