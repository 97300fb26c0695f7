/* Kernels behind the tensor calls that OpenCL 1.2 has no command for. */
#include "common.h"

/* x[i] = value for i < n. (clEnqueueFillBuffer exists in 1.2 but is slow or
 * broken on some drivers; a kernel behaves the same everywhere.) */
__kernel void clrt_fill(__global float *x, const float value, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        x[i] = value;
}
