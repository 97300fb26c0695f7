/* Plain-C reference of every op (double accumulation), used by the tests
 * and by clrt_selftest. Arrays are row-major float32 on the host, shaped as
 * the device op documents in clrt.h. No allocation, no OpenCL. */
#ifndef CLRT_REF_H
#define CLRT_REF_H

#include "clrt.h"

/* Deterministic pseudo-random floats in [-1, 1) from a seed (xorshift32):
 * the inputs of the self-test and of the tests (tools/check-torch-checkpoint.py
 * reproduces the same sequence). */
void clrt_ref_random(float *x, size_t n, uint32_t seed);

/* C[M,N] = alpha·op(A)·op(B) + beta·C; A is [M,K] (trans_a: [K,M]), B is
 * [K,N] (trans_b: [N,K]). beta = 0 ignores C's old contents. */
void clrt_ref_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                   const float *a, const float *b, float beta, float *c);

/* Element-wise act over rows×cols (softmax: per row of `cols`, max-subtracted;
 * a row holding NaN, or only -inf, gives NaN as torch). y may be x. An
 * unknown act writes NaN. */
void clrt_ref_act_forward(clrt_act act, float param, size_t rows, size_t cols, const float *x,
                          float *y);
/* dx from x, y = act(x) and dy, as clrt_act_backward: only x is read for
 * RELU, LEAKY_RELU, SIN, GELU, GELU_TANH, only y for SIGMOID, TANH, SOFTMAX
 * (the other may be NULL; IDENTITY reads neither). dx may be dy. At the kink
 * relu' = 0 and leaky_relu' = param, as PyTorch. */
void clrt_ref_act_backward(clrt_act act, float param, size_t rows, size_t cols, const float *x,
                           const float *y, const float *dy, float *dx);

/* z = x·Wᵀ + b (z may be NULL), y = act(z) with act applied to z rounded to
 * float (softmax: per row of `out`). b may be NULL. */
void clrt_ref_linear_forward(size_t batch, size_t in, size_t out, const float *x, const float *w,
                             const float *b, clrt_act act, float param, float *z, float *y);
/* dx, dw, db (each may be NULL) as clrt_linear_backward; flags
 * CLRT_GRAD_ACCUMULATE adds into them. */
void clrt_ref_linear_backward(size_t batch, size_t in, size_t out, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db, unsigned flags);

/* Returns the loss; grad (NULL: skipped) as clrt_loss_mse. n = 0: NaN. */
float clrt_ref_loss_mse(size_t n, const float *pred, const float *target, float *grad);
/* Returns the loss; grad (NULL: skipped) as clrt_loss_cross_entropy: a label
 * that is not an integer in [0, classes) (NaN, ±Inf, 1.5, -1, classes) makes
 * the loss NaN and its grad row NaN; the other rows keep (softmax −
 * onehot)/batch. batch = 0: NaN. */
float clrt_ref_loss_cross_entropy(size_t batch, size_t classes, const float *logits,
                                  const float *labels, float *grad);
/* Number of rows whose first argmax equals the label. As torch.argmax, the
 * first NaN of a row counts as its maximum; a label that is no class never
 * counts. */
float clrt_ref_accuracy(size_t batch, size_t classes, const float *logits, const float *labels);

/* axis 0: y[cols] over rows, axis 1: y[rows] over columns; another axis
 * leaves y untouched. MEAN over no elements is NaN. */
void clrt_ref_reduce(clrt_reduce_op op, int axis, size_t rows, size_t cols, const float *x,
                     float *y);
/* y may alias the inputs in these three. */
void clrt_ref_add(size_t n, const float *a, const float *b, float *y);
void clrt_ref_scale(size_t n, float alpha, const float *x, float *y);
void clrt_ref_axpy(size_t n, float alpha, const float *x, float *y);

/* One optimizer update of n elements, torch.optim semantics. `step` is the
 * 1-based number of this update (>= 1; SGD's momentum buffer starts as the
 * gradient on step 1, whatever state0 holds). state0: SGD momentum_buffer
 * (unused, may be NULL, when momentum is 0) / Adam exp_avg; state1: Adam
 * exp_avg_sq (unused by SGD). Computed in double from the float options
 * (so 1 − beta2 is 1 − 0.999f, not 1 − 0.999 as torch's double), stored
 * float. */
void clrt_ref_optim_step(const clrt_optim_options *opt, uint64_t step, size_t n, float *param,
                         const float *grad, float *state0, float *state1);

#endif
