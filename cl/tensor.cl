/* Kernels behind the tensor calls that OpenCL 1.2 has no command for. The
 * tensors are stored as cl/storage.h says (x: operand A; y: operand B). */
#include "common.h"
#include "storage.h"

/* x[i] = value for i < n. (clEnqueueFillBuffer exists in 1.2 but is slow or
 * broken on some drivers; a kernel behaves the same everywhere.) */
__kernel void clrt_fill(__global TYPE_A *x, const float value, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        STORE_A(x, i, value);
}

/* y[i] = x[i] converted from A's storage to B's, for i < n. */
__kernel void clrt_convert(__global const TYPE_A *x, __global TYPE_B *y, const ulong n)
{
    size_t i = get_global_id(0);
    if (i < n)
        STORE_B(y, i, LOAD_A(x, i));
}
