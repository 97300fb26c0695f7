/* Shared by the kernels in cl/ and by the host (src/ includes it too), so a
 * constant is defined once. Plain C preprocessor only: it must compile both
 * as OpenCL C and as C11. */
#ifndef CLRT_CL_COMMON_H
#define CLRT_CL_COMMON_H

/* Work-group size the 1-D element-wise launches round up to. */
#define CLRT_WG_1D 64

/* Parameter tensors one launch of a multi-tensor optimizer kernel updates
 * (cl/optim.cl spells out this many argument slots). */
#define CLRT_OPTIM_TENSORS 8

/* Columns per work-item of the bias gradient (float16 vectors). */
#define CLRT_BIAS_GRAD_VW 16

/* Storage codes of a tensor operand (cl/storage.h), equal to the clrt_dtype
 * values of clrt.h (checked at compile time in runtime/storage.c). */
#define CLRT_ST_F32 0
#define CLRT_ST_F16 1
#define CLRT_ST_BF16 2

/* Rows of work-items in a work-group of clrt_col_sum_groups: lane l sums
 * rows l, l + LANES, ... Fixed, so the order of the sums is the same
 * whatever the group's width (which follows the device). A power of two. */
#define CLRT_COL_SUM_LANES 8

/* Activation codes, equal to enum clrt_act in clrt.h (the host checks this
 * at compile time in ops_activation.c). */
#define CLRT_K_ACT_IDENTITY 0
#define CLRT_K_ACT_RELU 1
#define CLRT_K_ACT_LEAKY_RELU 2
#define CLRT_K_ACT_SIGMOID 3
#define CLRT_K_ACT_TANH 4
#define CLRT_K_ACT_SIN 5
#define CLRT_K_ACT_GELU 6
#define CLRT_K_ACT_GELU_TANH 7
#define CLRT_K_ACT_SOFTMAX 8

#endif
