/* The parts of a linear layer around its GEMMs: bias and activation in one
 * pass over the output, and the bias gradient. */
#include "common.h"
#include "act_math.h"

/* v = t + b[col]; z (when t is z) keeps v; y = act(v). t may be y itself
 * (no z wanted), then y = act(y + b). Softmax is applied afterwards, row-wise,
 * by the activation kernels; here it is treated as identity. */
__kernel void clrt_bias_act(__global float *t, __global const float *b, __global float *y,
                            const ulong rows, const uint cols, const int has_bias,
                            const int act, const float param)
{
    size_t i = get_global_id(0);
    if (i >= rows * cols)
        return;
    float v = t[i];
    if (has_bias)
        v += b[i % cols];
    if (t != y)
        t[i] = v;
    y[i] = act == CLRT_K_ACT_SOFTMAX ? v : clrt_act_f(act, v, param);
}

/* db[col] (+)= Σ_rows dy[row, col]; one work-item per column, rows in order
 * so the result does not depend on the device. */
__kernel void clrt_bias_grad(__global const float *dy, __global float *db, const uint rows,
                             const uint cols, const int accumulate)
{
    size_t c = get_global_id(0);
    if (c >= cols)
        return;
    float s = 0.0f;
    for (uint r = 0; r < rows; r++)
        s += dy[(size_t)r * cols + c];
    db[c] = accumulate ? db[c] + s : s;
}
