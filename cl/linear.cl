/* The parts of a linear layer around its GEMMs: bias and activation in one
 * pass over the output, and the bias gradient. Tensors are stored as
 * cl/storage.h says (operands named at each kernel); the bias and its
 * gradient are parameters, float32 always. */
#include "common.h"
#include "act_math.h"
#include "storage.h"

/* v = t + b[col]; z (when t is z) keeps v; y = act(v). t may be y itself
 * (no z wanted), then y = act(y + b). Softmax is applied afterwards, row-wise,
 * by the activation kernels; here it is treated as identity. Launched over
 * (cols, rows), so the column comes without a division. t: operand A, y:
 * operand B (when t is y, both have y's storage). */
__kernel void clrt_bias_act(__global TYPE_A *t, __global const float *b, __global TYPE_B *y,
                            const uint rows, const uint cols, const int has_bias,
                            const int act, const float param)
{
    const size_t c = get_global_id(0), r = get_global_id(1);
    if (c >= cols || r >= rows)
        return;
    const size_t i = r * cols + c;
    float v = LOAD_A(t, i);
    if (has_bias)
        v += b[c];
    if ((__global void *)t != (__global void *)y)
        STORE_A(t, i, v);
    STORE_B(y, i, CLRT_ACT_OF(act) == CLRT_K_ACT_SOFTMAX ? v : clrt_act_f(CLRT_ACT_OF(act), v, param));
}

/* db[col] (+)= Σ_rows dy[row, col], rows in order so the result does not
 * depend on the device. Each work-item sums CLRT_BIAS_GRAD_VW adjacent
 * columns in one vector: a loop over rows inside a work-item is one that
 * PoCL does not vectorise across work-items (one column per item was 5x
 * slower). The last, partial group of columns goes one at a time. dy:
 * operand A; the sums are float whatever dy's storage. */
__kernel void clrt_bias_grad(__global const TYPE_A *dy, __global float *db, const uint rows,
                             const uint cols, const int accumulate)
{
    const size_t c = get_global_id(0) * CLRT_BIAS_GRAD_VW;
    if (c >= cols)
        return;
    if (c + CLRT_BIAS_GRAD_VW <= cols) {
        float16 s = (float16)(0.0f);
        for (uint r = 0; r < rows; r++)
            s += VLOAD_A(16, dy, (size_t)r * cols + c);
        if (accumulate)
            s = vload16(0, db + c) + s;
        vstore16(s, 0, db + c);
        return;
    }
    for (size_t j = c; j < cols; j++) {
        float s = 0.0f;
        for (uint r = 0; r < rows; r++)
            s += LOAD_A(dy, (size_t)r * cols + j);
        db[j] = accumulate ? db[j] + s : s;
    }
}
