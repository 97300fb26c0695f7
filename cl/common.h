/* Shared by the kernels in cl/ and by the host (src/ includes it too), so a
 * constant is defined once. Plain C preprocessor only: it must compile both
 * as OpenCL C and as C11. */
#ifndef CLRT_CL_COMMON_H
#define CLRT_CL_COMMON_H

/* Work-group size the 1-D element-wise launches round up to. */
#define CLRT_WG_1D 64

#endif
