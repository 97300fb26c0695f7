/* Tree reductions over a work-group whose size is a power of two, in a
 * fixed order (deterministic), for the kernels that reduce rows or partial
 * sums (cl/activation.cl, cl/loss.cl). Every item calls them with its value
 * and gets the group's result; `buf` holds get_local_size(0) floats and is
 * free again when they return (the last barrier orders the reads of buf[0]
 * before any later write).
 *
 * Plain (not static) definitions: each .cl file is its own program, so a
 * program holds one copy. */
#ifndef CLRT_CL_REDUCE_H
#define CLRT_CL_REDUCE_H

#include "common.h"

float clrt_group_max(__local float *buf, float v)
{
    const size_t l = get_local_id(0);
    buf[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (l < s)
            buf[l] = fmax(buf[l], buf[l + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = buf[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

float clrt_group_sum(__local float *buf, float v)
{
    const size_t l = get_local_id(0);
    buf[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (size_t s = get_local_size(0) / 2; s > 0; s >>= 1) {
        if (l < s)
            buf[l] += buf[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = buf[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

#endif
