/* Losses and metrics, and the finiteness flag. Every scalar result is a sum
 * reduced in a fixed order (strided per item, then a tree per work-group,
 * then one work-group over the groups' partial sums), so a result depends
 * on the shape alone, never on timing, and no two items write one place;
 * only the finiteness flag is shared, through an atomic max, whose result
 * is the same in any order. Tensor operands are stored as cl/storage.h
 * says, named A, B, C in the order of each kernel's tensor arguments; the
 * partial sums and per-row results the host makes are float32. */
#include "common.h"
#include "reduce.h"
#include "storage.h"

/* out[g] = (Σ in[i] over the items of group g, each striding by the global
 * size) / divisor. With one work-group: out[0] = Σ in / divisor. */
__kernel void clrt_loss_sum(__global const float *in, const ulong n, const float divisor,
                            __global float *out, __local float *scratch)
{
    float acc = 0.0f;
    for (size_t i = get_global_id(0); i < n; i += get_global_size(0))
        acc += in[i];
    acc = clrt_group_sum(scratch, acc);
    if (get_local_id(0) == 0)
        out[get_group_id(0)] = acc / divisor;
}

/* MSE stage 1: partial[g] = Σ (pred - target)² over group g's elements, and
 * grad[i] = 2·(pred[i] - target[i])/n when has_grad. grad may alias pred or
 * target: an item writes only the element it has just read. */
__kernel void clrt_mse_partial(__global const TYPE_A *pred, __global const TYPE_B *target,
                               __global TYPE_C *grad, const int has_grad, const ulong n,
                               __global float *partial, __local float *scratch)
{
    const float gscale = 2.0f / (float)n;
    float acc = 0.0f;
    for (size_t i = get_global_id(0); i < n; i += get_global_size(0)) {
        float d = LOAD_A(pred, i) - LOAD_B(target, i);
        if (has_grad)
            STORE_C(grad, i, gscale * d);
        acc += d * d;
    }
    acc = clrt_group_sum(scratch, acc);
    if (get_local_id(0) == 0)
        partial[get_group_id(0)] = acc;
}

/* The class index a float label holds, or `classes` when it is not an
 * integer in [0, classes). */
size_t clrt_loss_label(float lab, ulong classes)
{
    if (!(lab >= 0.0f && lab < (float)classes && lab == floor(lab)))
        return classes;
    size_t li = (size_t)lab;
    return li < classes ? li : classes; /* (float)classes may have rounded up */
}

/* Cross-entropy of row r: its loss logsumexp(row) - row[label] (NaN for a
 * bad label) and, when has_grad, the grad row (softmax(row) -
 * onehot(label)) / batch (NaN for a bad label). Computed as (max -
 * row[label]) + log Σ exp(row - max): the difference of two nearby large
 * logits is exact, so a large common offset costs no precision. grad may
 * alias logits: the row is fully read before it is written. */
float clrt_ce_row(__global const TYPE_A *logits, __global const TYPE_B *labels,
                  __global TYPE_C *grad, const int has_grad, const ulong batch,
                  const ulong classes, const size_t r)
{
    __global const TYPE_A *x = logits + r * classes;
    float m = -INFINITY;
    for (size_t j = 0; j < classes; j++)
        m = fmax(m, LOAD_A(x, j));
    float s = 0.0f;
    for (size_t j = 0; j < classes; j++)
        s += exp(LOAD_A(x, j) - m);
    size_t li = clrt_loss_label(LOAD_B(labels, r), classes);
    bool ok = li < classes;
    float xl = ok ? LOAD_A(x, li) : 0.0f;
    if (has_grad) {
        __global TYPE_C *g = grad + r * classes;
        const float fb = (float)batch;
        for (size_t j = 0; j < classes; j++) {
            float p = exp(LOAD_A(x, j) - m) / s;
            STORE_C(g, j, ok ? (p - (j == li ? 1.0f : 0.0f)) / fb : NAN);
        }
    }
    return ok ? (m - xl) + log(s) : NAN;
}

/* Cross-entropy, one item per row: rowloss[r] and the grad row, as
 * clrt_ce_row computes them. */
__kernel void clrt_ce_rows(__global const TYPE_A *logits, __global const TYPE_B *labels,
                           __global TYPE_C *grad, const int has_grad, const ulong batch,
                           const ulong classes, __global float *rowloss)
{
    size_t r = get_global_id(0);
    if (r >= batch)
        return;
    rowloss[r] = clrt_ce_row(logits, labels, grad, has_grad, batch, classes, r);
}

/* clrt_ce_rows and the one-group clrt_loss_sum after it in one launch, for
 * a batch one group sums: launched as that sum (one group of the size it
 * would have), item l takes rows l, l + size, ... as clrt_loss_sum's item l
 * takes their losses, and the tree and the division are its own, so
 * loss[0] has the same bits without the row losses going through memory. */
__kernel void clrt_ce_mean(__global const TYPE_A *logits, __global const TYPE_B *labels,
                           __global TYPE_C *grad, const int has_grad, const ulong batch,
                           const ulong classes, const float divisor, __global float *loss,
                           __local float *scratch)
{
    float acc = 0.0f;
    for (size_t r = get_global_id(0); r < batch; r += get_global_size(0))
        acc += clrt_ce_row(logits, labels, grad, has_grad, batch, classes, r);
    acc = clrt_group_sum(scratch, acc);
    if (get_local_id(0) == 0)
        loss[0] = acc / divisor;
}

/* Accuracy, one item per row: rowcorrect[r] = 1 when the first argmax of the
 * row equals the label, else 0 (a bad label is never right). */
__kernel void clrt_accuracy_rows(__global const TYPE_A *logits, __global const TYPE_B *labels,
                                 const ulong batch, const ulong classes,
                                 __global float *rowcorrect)
{
    size_t r = get_global_id(0);
    if (r >= batch)
        return;
    __global const TYPE_A *x = logits + r * classes;
    size_t li = clrt_loss_label(LOAD_B(labels, r), classes);
    /* The first maximal index; as torch.argmax, the first NaN is the maximum. */
    size_t best = 0;
    float xb = LOAD_A(x, 0);
    for (size_t j = 1; j < classes && !isnan(xb); j++) {
        float xj = LOAD_A(x, j);
        if (isnan(xj) || xj > xb)
            best = j, xb = xj;
    }
    rowcorrect[r] = li < classes && best == li ? 1.0f : 0.0f;
}

/* Finiteness: *flag = max(*flag, tag) when any of x[0..n) is NaN or ±Inf.
 * Items stride by the global size; a group reduces its items' findings and
 * only a group that found one touches the flag, with one atomic, so a check
 * of finite data writes nothing and the flag's order never matters. The
 * flag's 32 bits are read as an unsigned integer (0 when cleared). */
__kernel void clrt_nonfinite_flag(__global const TYPE_A *x, const ulong n, const uint tag,
                                  __global uint *flag, __local float *scratch)
{
    float bad = 0.0f;
    for (size_t i = get_global_id(0); i < n; i += get_global_size(0))
        bad = isfinite(LOAD_A(x, i)) ? bad : 1.0f;
    bad = clrt_group_max(scratch, bad);
    if (get_local_id(0) == 0 && bad > 0.0f)
        atomic_max(flag, tag);
}
