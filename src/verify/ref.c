/* Plain-C reference of every op: the ground truth the device kernels are
 * compared against (tests, clrt_selftest). Clarity beats speed here:
 * straightforward loops, every sum and dot product accumulated in double,
 * the formulas of PyTorch written out. No allocation, no OpenCL. */
#include "verify/ref.h"

#include <math.h>

/* Not in strict C11's <math.h>. */
#define REF_SQRT1_2 0.70710678118654752440     /* 1/√2 */
#define REF_INV_SQRT_2PI 0.39894228040143267794 /* 1/√(2π) */
#define REF_SQRT_2_OVER_PI 0.79788456080286535588 /* √(2/π) */
#define REF_GELU_TANH_C 0.044715

/* ------------------------------------------------------------------ GEMM */

/* Element (i, p) of op(A), op(A) being [m, k]. */
static double gemm_a(int trans_a, size_t m, size_t k, const float *a, size_t i, size_t p)
{
    return trans_a ? (double)a[p * m + i] : (double)a[i * k + p];
}

/* Element (p, j) of op(B), op(B) being [k, n]. */
static double gemm_b(int trans_b, size_t n, size_t k, const float *b, size_t p, size_t j)
{
    return trans_b ? (double)b[j * k + p] : (double)b[p * n + j];
}

void clrt_ref_random(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = (float)((double)s / 2147483648.0 - 1.0);
    }
}

void clrt_ref_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                   const float *a, const float *b, float beta, float *c)
{
    for (size_t i = 0; i < m; i++) {
        for (size_t j = 0; j < n; j++) {
            double acc = 0.0;
            for (size_t p = 0; p < k; p++)
                acc += gemm_a(trans_a, m, k, a, i, p) * gemm_b(trans_b, n, k, b, p, j);
            double out = (double)alpha * acc;
            /* beta == 0: C is write-only, so a NaN or Inf there never leaks in. */
            if (beta != 0.0f)
                out += (double)beta * (double)c[i * n + j];
            c[i * n + j] = (float)out;
        }
    }
}

/* ----------------------------------------------------------- activations */

/* act(x) for the element-wise activations (not SOFTMAX). */
static double act_value(clrt_act act, double param, double x)
{
    switch (act) {
    case CLRT_ACT_IDENTITY:
        return x;
    case CLRT_ACT_RELU:
        /* torch.relu: max(x, 0), NaN stays NaN. */
        return isnan(x) ? x : (x > 0.0 ? x : 0.0);
    case CLRT_ACT_LEAKY_RELU:
        return x > 0.0 ? x : x * param;
    case CLRT_ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-x));
    case CLRT_ACT_TANH:
        return tanh(x);
    case CLRT_ACT_SIN:
        return sin(x);
    case CLRT_ACT_GELU:
        return 0.5 * x * (1.0 + erf(x * REF_SQRT1_2));
    case CLRT_ACT_GELU_TANH: {
        double inner = REF_SQRT_2_OVER_PI * (x + REF_GELU_TANH_C * x * x * x);
        return 0.5 * x * (1.0 + tanh(inner));
    }
    case CLRT_ACT_SOFTMAX: /* row-wise, handled by the callers */
    default:
        return NAN;
    }
}

/* dy · act'(x) for the element-wise activations, y = act(x). Each uses the
 * operand PyTorch's backward uses: y for sigmoid and tanh, x for the rest. */
static double act_grad(clrt_act act, double param, double x, double y, double dy)
{
    switch (act) {
    case CLRT_ACT_IDENTITY:
        return dy;
    case CLRT_ACT_RELU:
        /* threshold_backward: 0 where x <= 0 (the kink included), dy elsewhere. */
        return x <= 0.0 ? 0.0 : dy;
    case CLRT_ACT_LEAKY_RELU:
        /* leaky_relu_backward: x > 0 ? dy : dy·slope (slope at the kink). */
        return x > 0.0 ? dy : dy * param;
    case CLRT_ACT_SIGMOID:
        return dy * y * (1.0 - y);
    case CLRT_ACT_TANH:
        return dy * (1.0 - y * y);
    case CLRT_ACT_SIN:
        return dy * cos(x);
    case CLRT_ACT_GELU: {
        /* d/dx x·Φ(x) = Φ(x) + x·φ(x) */
        double cdf = 0.5 * (1.0 + erf(x * REF_SQRT1_2));
        double pdf = REF_INV_SQRT_2PI * exp(-0.5 * x * x);
        return dy * (cdf + x * pdf);
    }
    case CLRT_ACT_GELU_TANH: {
        /* y = ½x(1 + t), t = tanh(u), u = √(2/π)(x + c·x³):
         * y' = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3c·x²) */
        double u = REF_SQRT_2_OVER_PI * (x + REF_GELU_TANH_C * x * x * x);
        double t = tanh(u);
        double du = REF_SQRT_2_OVER_PI * (1.0 + 3.0 * REF_GELU_TANH_C * x * x);
        return dy * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du);
    }
    case CLRT_ACT_SOFTMAX: /* row-wise, handled by the callers */
    default:
        return NAN;
    }
}

/* Softmax of one row of `cols`, max-subtracted; y may be x. Three passes
 * (max, sum, write) so no temporary array is needed however long the row. */
static void softmax_row(size_t cols, const float *x, float *y)
{
    if (cols == 0)
        return;
    /* A NaN anywhere makes the whole row NaN (through the sum), as torch. */
    float max = x[0];
    for (size_t j = 1; j < cols; j++)
        if (x[j] > max)
            max = x[j];
    double sum = 0.0;
    for (size_t j = 0; j < cols; j++)
        sum += exp((double)x[j] - (double)max);
    for (size_t j = 0; j < cols; j++)
        y[j] = (float)(exp((double)x[j] - (double)max) / sum);
}

/* dx = y ⊙ (dy − Σ dy⊙y) over one row; dx may be dy (each dx[j] is written
 * after the only read of dy[j] that follows the dot product). */
static void softmax_row_backward(size_t cols, const float *y, const float *dy, float *dx)
{
    double dot = 0.0;
    for (size_t j = 0; j < cols; j++)
        dot += (double)dy[j] * (double)y[j];
    for (size_t j = 0; j < cols; j++)
        dx[j] = (float)((double)y[j] * ((double)dy[j] - dot));
}

void clrt_ref_act_forward(clrt_act act, float param, size_t rows, size_t cols, const float *x,
                          float *y)
{
    if (act == CLRT_ACT_SOFTMAX) {
        for (size_t r = 0; r < rows; r++)
            softmax_row(cols, x + r * cols, y + r * cols);
        return;
    }
    size_t count = rows * cols;
    for (size_t i = 0; i < count; i++)
        y[i] = (float)act_value(act, (double)param, (double)x[i]);
}

void clrt_ref_act_backward(clrt_act act, float param, size_t rows, size_t cols, const float *x,
                           const float *y, const float *dy, float *dx)
{
    if (act == CLRT_ACT_SOFTMAX) {
        for (size_t r = 0; r < rows; r++)
            softmax_row_backward(cols, y + r * cols, dy + r * cols, dx + r * cols);
        return;
    }
    size_t count = rows * cols;
    for (size_t i = 0; i < count; i++) {
        /* Only the operand the activation needs is read (the other may be NULL). */
        double xi = (act == CLRT_ACT_SIGMOID || act == CLRT_ACT_TANH || act == CLRT_ACT_IDENTITY)
                        ? 0.0
                        : (double)x[i];
        double yi = (act == CLRT_ACT_SIGMOID || act == CLRT_ACT_TANH) ? (double)y[i] : 0.0;
        dx[i] = (float)act_grad(act, (double)param, xi, yi, (double)dy[i]);
    }
}

/* ---------------------------------------------------------------- linear */

void clrt_ref_linear_forward(size_t batch, size_t in, size_t out, const float *x, const float *w,
                             const float *b, clrt_act act, float param, float *z, float *y)
{
    for (size_t i = 0; i < batch; i++) {
        float *yrow = y + i * out;
        /* z row into y first (rounded to float, as the device stores z), then
         * the activation in place: softmax needs the whole row. */
        for (size_t o = 0; o < out; o++) {
            double acc = b ? (double)b[o] : 0.0;
            for (size_t p = 0; p < in; p++)
                acc += (double)x[i * in + p] * (double)w[o * in + p];
            yrow[o] = (float)acc;
            if (z)
                z[i * out + o] = yrow[o];
        }
        clrt_ref_act_forward(act, param, 1, out, yrow, yrow);
    }
}

/* old + sum when accumulating, sum otherwise. */
static float grad_store(float old, double sum, unsigned flags)
{
    return (float)((flags & CLRT_GRAD_ACCUMULATE) ? (double)old + sum : sum);
}

void clrt_ref_linear_backward(size_t batch, size_t in, size_t out, const float *x, const float *w,
                              const float *dy, float *dx, float *dw, float *db, unsigned flags)
{
    if (dx) { /* dx = dy·W: [batch, out]·[out, in] */
        for (size_t i = 0; i < batch; i++)
            for (size_t p = 0; p < in; p++) {
                double acc = 0.0;
                for (size_t o = 0; o < out; o++)
                    acc += (double)dy[i * out + o] * (double)w[o * in + p];
                dx[i * in + p] = grad_store(dx[i * in + p], acc, flags);
            }
    }
    if (dw) { /* dw = dyᵀ·x: [out, batch]·[batch, in] */
        for (size_t o = 0; o < out; o++)
            for (size_t p = 0; p < in; p++) {
                double acc = 0.0;
                for (size_t i = 0; i < batch; i++)
                    acc += (double)dy[i * out + o] * (double)x[i * in + p];
                dw[o * in + p] = grad_store(dw[o * in + p], acc, flags);
            }
    }
    if (db) { /* db = column sums of dy */
        for (size_t o = 0; o < out; o++) {
            double acc = 0.0;
            for (size_t i = 0; i < batch; i++)
                acc += (double)dy[i * out + o];
            db[o] = grad_store(db[o], acc, flags);
        }
    }
}

/* ---------------------------------------------------------------- losses */

float clrt_ref_loss_mse(size_t n, const float *pred, const float *target, float *grad)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)target[i];
        sum += d * d;
        if (grad)
            grad[i] = (float)(2.0 * d / (double)n);
    }
    return (float)(sum / (double)n); /* n = 0: NaN, as torch's mean of nothing */
}

/* A label is valid when it is an integer in [0, classes); NaN and ±Inf are not. */
static int label_valid(float label, size_t classes)
{
    double l = (double)label;
    return isfinite(l) && l == floor(l) && l >= 0.0 && l < (double)classes;
}

float clrt_ref_loss_cross_entropy(size_t batch, size_t classes, const float *logits,
                                  const float *labels, float *grad)
{
    double total = 0.0;
    for (size_t i = 0; i < batch; i++) {
        const float *row = logits + i * classes;
        float *grow = grad ? grad + i * classes : NULL;
        if (!label_valid(labels[i], classes)) {
            total = NAN;
            if (grow)
                for (size_t j = 0; j < classes; j++)
                    grow[j] = NAN;
            continue;
        }
        size_t label = (size_t)labels[i];
        /* lse = max + log Σ exp(x − max) */
        double max = (double)row[0];
        for (size_t j = 1; j < classes; j++)
            if ((double)row[j] > max)
                max = (double)row[j];
        double sum = 0.0;
        for (size_t j = 0; j < classes; j++)
            sum += exp((double)row[j] - max);
        double lse = max + log(sum);
        total += lse - (double)row[label];
        if (grow)
            for (size_t j = 0; j < classes; j++) {
                double p = exp((double)row[j] - max) / sum;
                grow[j] = (float)((p - (j == label ? 1.0 : 0.0)) / (double)batch);
            }
    }
    return (float)(total / (double)batch); /* batch = 0: NaN, as torch */
}

float clrt_ref_accuracy(size_t batch, size_t classes, const float *logits, const float *labels)
{
    double correct = 0.0;
    for (size_t i = 0; i < batch; i++) {
        const float *row = logits + i * classes;
        if (classes == 0 || !label_valid(labels[i], classes))
            continue;
        /* First maximal index; as torch.argmax, the first NaN counts as the maximum. */
        size_t best = 0;
        for (size_t j = 1; j < classes && !isnan(row[best]); j++)
            if (isnan(row[j]) || row[j] > row[best])
                best = j;
        if (best == (size_t)labels[i])
            correct += 1.0;
    }
    return (float)correct;
}

/* ---------------------------------------------------- reduce, element-wise */

void clrt_ref_reduce(clrt_reduce_op op, int axis, size_t rows, size_t cols, const float *x,
                     float *y)
{
    if (axis == 0) { /* y[cols]: over rows */
        for (size_t j = 0; j < cols; j++) {
            double acc = 0.0;
            for (size_t i = 0; i < rows; i++)
                acc += (double)x[i * cols + j];
            y[j] = (float)(op == CLRT_REDUCE_MEAN ? acc / (double)rows : acc);
        }
    } else if (axis == 1) { /* y[rows]: over columns */
        for (size_t i = 0; i < rows; i++) {
            double acc = 0.0;
            for (size_t j = 0; j < cols; j++)
                acc += (double)x[i * cols + j];
            y[i] = (float)(op == CLRT_REDUCE_MEAN ? acc / (double)cols : acc);
        }
    }
}

void clrt_ref_add(size_t n, const float *a, const float *b, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)a[i] + (double)b[i]);
}

void clrt_ref_scale(size_t n, float alpha, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)alpha * (double)x[i]);
}

void clrt_ref_axpy(size_t n, float alpha, const float *x, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = (float)((double)y[i] + (double)alpha * (double)x[i]);
}

/* ------------------------------------------------------------- optimizers */

/* torch.optim.SGD: g = grad + wd·p; with momentum, buf = g on the first step,
 * else momentum·buf + (1 − dampening)·g, and g = nesterov ? g + momentum·buf
 * : buf; p −= lr·g. */
static void sgd_step(const clrt_optim_options *opt, uint64_t step, size_t n, float *param,
                     const float *grad, float *buf)
{
    double lr = (double)opt->lr, wd = (double)opt->weight_decay;
    double momentum = (double)opt->momentum, dampening = (double)opt->dampening;
    for (size_t i = 0; i < n; i++) {
        double p = (double)param[i];
        double g = (double)grad[i];
        if (wd != 0.0)
            g += wd * p;
        if (momentum != 0.0) {
            double b = step <= 1 ? g : momentum * (double)buf[i] + (1.0 - dampening) * g;
            buf[i] = (float)b;
            g = opt->nesterov ? g + momentum * b : b;
        }
        param[i] = (float)(p - lr * g);
    }
}

/* torch.optim.Adam / AdamW (amsgrad off): Adam adds wd·p to the gradient,
 * AdamW first scales p by 1 − lr·wd; then
 * m = β1·m + (1 − β1)·g, v = β2·v + (1 − β2)·g²,
 * p −= lr/(1 − β1^t) · m / (√v/√(1 − β2^t) + eps). */
static void adam_step(const clrt_optim_options *opt, uint64_t step, size_t n, float *param,
                      const float *grad, float *exp_avg, float *exp_avg_sq)
{
    int decoupled = opt->kind == CLRT_OPTIM_ADAMW;
    double lr = (double)opt->lr, wd = (double)opt->weight_decay;
    double beta1 = (double)opt->beta1, beta2 = (double)opt->beta2, eps = (double)opt->eps;
    double t = (double)step;
    double bias1 = 1.0 - pow(beta1, t);
    double bias2_sqrt = sqrt(1.0 - pow(beta2, t));
    double step_size = lr / bias1;
    for (size_t i = 0; i < n; i++) {
        double p = (double)param[i];
        double g = (double)grad[i];
        if (decoupled)
            p *= 1.0 - lr * wd;
        else if (wd != 0.0)
            g += wd * p;
        double m = beta1 * (double)exp_avg[i] + (1.0 - beta1) * g;
        double v = beta2 * (double)exp_avg_sq[i] + (1.0 - beta2) * g * g;
        exp_avg[i] = (float)m;
        exp_avg_sq[i] = (float)v;
        double denom = sqrt(v) / bias2_sqrt + eps;
        param[i] = (float)(p - step_size * m / denom);
    }
}

void clrt_ref_optim_step(const clrt_optim_options *opt, uint64_t step, size_t n, float *param,
                         const float *grad, float *state0, float *state1)
{
    switch (opt->kind) {
    case CLRT_OPTIM_SGD:
        sgd_step(opt, step, n, param, grad, state0);
        break;
    case CLRT_OPTIM_ADAM:
    case CLRT_OPTIM_ADAMW:
        adam_step(opt, step, n, param, grad, state0, state1);
        break;
    }
}
