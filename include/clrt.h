/* clrt — a portable OpenCL runtime for training neural networks.
 *
 * Conventions (docs/design.md has the reasons):
 *  - Every fallible call returns clrt_status: CLRT_OK (0) or a negative code.
 *    clrt_status_str() names a code; clrt_ctx_errmsg() holds the detail of the
 *    last failure on a context (which call, which OpenCL error, the build log).
 *    Calls that create a context take an optional `err, errlen` buffer instead.
 *  - New objects come back through an out-parameter, set to NULL on failure.
 *  - Destroy functions accept NULL.
 *  - Tensors are row-major, contiguous, rank 1 to 4, float32 unless made as
 *    bf16 or fp16 (clrt_tensor_create_typed); the host sees float32.
 *  - docs/guide.md is the user guide, docs/design.md the design notes.
 *  - Threads: the library has no global mutable state. One context, and every
 *    tensor made from it, is used by one thread at a time.
 *  - The library never prints, aborts or exits; diagnostics go to the optional
 *    log callback in clrt_ctx_options.
 */
#ifndef CLRT_H
#define CLRT_H

#include <stddef.h>
#include <stdint.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#ifdef __APPLE__
#include <OpenCL/cl.h>
#else
#include <CL/cl.h>
#endif

#if defined(_WIN32) && defined(CLRT_BUILDING_DLL)
#define CLRT_API __declspec(dllexport)
#elif defined(__GNUC__) && defined(CLRT_BUILDING)
#define CLRT_API __attribute__((visibility("default")))
#else
#define CLRT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define CLRT_VERSION_MAJOR 0
#define CLRT_VERSION_MINOR 1
#define CLRT_VERSION_PATCH 0
#define CLRT_VERSION_STRING "0.1.0"
/* One comparable number: MAJOR * 10000 + MINOR * 100 + PATCH (0.1.0 -> 100). */
#define CLRT_VERSION_NUMBER                                                                    \
    (CLRT_VERSION_MAJOR * 10000 + CLRT_VERSION_MINOR * 100 + CLRT_VERSION_PATCH)

/* ABI rule while the major version is 0: a MINOR release may change the
 * ABI (the soname is libclrt.so.0.MINOR); a PATCH release never does.
 * Option structs only grow at their end and are filled by their _init
 * function, so code built against 0.x.y runs on 0.x.z. From 1.0 on, only a
 * MAJOR release breaks the ABI. See docs/design.md. */

/* The version of the library linked at run time, e.g. "0.1.0". */
CLRT_API const char *clrt_version(void);

/* The same as a number (CLRT_VERSION_NUMBER of the library linked at run
 * time), for checks such as clrt_version_number() >= 100. */
CLRT_API unsigned clrt_version_number(void);

/* ------------------------------------------------------------------ status */

typedef enum clrt_status {
    CLRT_OK = 0,
    CLRT_ERR_INVALID_ARG = -1,   /* NULL where an object is needed, bad flag, bad option */
    CLRT_ERR_SHAPE = -2,         /* shapes disagree, bad rank, element count overflows */
    CLRT_ERR_NO_DEVICE = -3,     /* no OpenCL device, or the selector matched none */
    CLRT_ERR_OUT_OF_MEMORY = -4, /* host or device allocation failed */
    CLRT_ERR_BUILD = -5,         /* a kernel failed to compile; the log is in the message */
    CLRT_ERR_OPENCL = -6,        /* another OpenCL call failed; see clrt_ctx_cl_error() */
    CLRT_ERR_BUSY = -7,          /* the object is still in use (a context with live tensors) */
    CLRT_ERR_IO = -8,            /* a file could not be read or written */
    CLRT_ERR_FORMAT = -9,        /* a file or buffer is corrupt or of another kind */
    CLRT_ERR_UNSUPPORTED = -10,  /* the device or build lacks what the call needs */
    CLRT_ERR_NUMERIC = -11,      /* a loss or a parameter holds NaN or an infinity */
    CLRT_ERR_DIST = -12,         /* an MPI call failed, or another rank did not answer in time */
} clrt_status;

/* A static, never-NULL name for a status ("CLRT_ERR_SHAPE"); unknown codes
 * give "CLRT_ERR_UNKNOWN". */
CLRT_API const char *clrt_status_str(clrt_status status);

/* A static name for an OpenCL error code ("CL_OUT_OF_RESOURCES"); unknown
 * codes give "CL_UNKNOWN_ERROR". */
CLRT_API const char *clrt_cl_error_str(cl_int code);

/* ----------------------------------------------------------------- devices */

#define CLRT_NAME_LEN 256

/* One OpenCL device as clrt sees it. Plain data: copy it freely. */
typedef struct clrt_device_info {
    size_t index;                          /* global index, the selector "N" */
    cl_platform_id platform_id;
    cl_device_id device_id;
    char platform[CLRT_NAME_LEN];          /* CL_PLATFORM_NAME */
    char platform_version[CLRT_NAME_LEN];  /* CL_PLATFORM_VERSION */
    char name[CLRT_NAME_LEN];              /* CL_DEVICE_NAME */
    char vendor[CLRT_NAME_LEN];            /* CL_DEVICE_VENDOR */
    char driver_version[CLRT_NAME_LEN];    /* CL_DRIVER_VERSION */
    char device_version[CLRT_NAME_LEN];    /* CL_DEVICE_VERSION */
    char opencl_c_version[CLRT_NAME_LEN];  /* CL_DEVICE_OPENCL_C_VERSION */
    cl_device_type type;                   /* CL_DEVICE_TYPE bits */
    int is_simulator;                      /* oclgrind: only picked when named */
    cl_uint compute_units;
    cl_ulong global_mem_bytes;
    cl_ulong local_mem_bytes;
    cl_ulong max_alloc_bytes;
    size_t max_work_group_size;
    int has_fp16;
    int has_fp64;
    int compiler_available;
    char selector[64];                     /* a CLRT_DEVICE string that picks this device */
} clrt_device_info;

/* Fill `out[0..cap)` with the devices of every platform, in platform order,
 * and set *count to the number found (which may exceed cap; call with cap 0
 * to count). No devices is CLRT_OK with *count 0. */
CLRT_API clrt_status clrt_device_list(clrt_device_info *out, size_t cap, size_t *count,
                                      char *err, size_t errlen);

/* Pick one device by selector (the CLRT_DEVICE grammar): "gpu", "cpu",
 * "accelerator", "gpu:1" (the second GPU), a global index "2", or any other
 * text matched case-insensitively against platform and device names.
 * NULL or "" picks the first GPU, else accelerator, else CPU, never a
 * simulator. A selector that matches nothing is CLRT_ERR_NO_DEVICE with the
 * list of devices in `err`; one longer than 127 characters (white space
 * around it not counted) is CLRT_ERR_INVALID_ARG, never cut and matched. */
CLRT_API clrt_status clrt_device_select(const char *selector, clrt_device_info *out,
                                        char *err, size_t errlen);

/* ---------------------------------------------------------------- contexts */

typedef struct clrt_ctx clrt_ctx;

typedef enum clrt_log_level {
    CLRT_LOG_DEBUG = 0,
    CLRT_LOG_INFO = 1,
    CLRT_LOG_WARN = 2,
    CLRT_LOG_ERROR = 3,
} clrt_log_level;

typedef void (*clrt_log_fn)(void *user, clrt_log_level level, const char *message);

typedef struct clrt_ctx_options {
    const char *device;      /* selector; NULL: $CLRT_DEVICE, else the default choice */
    int profiling;           /* non-zero: queue with CL_QUEUE_PROFILING_ENABLE */
    const char *kernel_dir;  /* NULL: $CLRT_KERNEL_DIR, else the embedded kernels */
    const char *cache_dir;   /* NULL: $CLRT_CACHE_DIR, else XDG; "off" disables the disk cache */
    int gemm;                /* a clrt_gemm_backend; CLRT_GEMM_AUTO: $CLRT_GEMM, else auto */
    clrt_log_fn log;         /* optional diagnostics sink */
    void *log_user;
    /* A bundle of pre-built programs (clrt-compile's output) to load every
     * program from, compiling nothing; NULL or "": $CLRT_BINARIES, else none;
     * "off": none. Needed on a device without a compiler. A bundle made for
     * another device, driver or clrt is refused by clrt_ctx_create with
     * CLRT_ERR_UNSUPPORTED, a damaged one with CLRT_ERR_FORMAT. */
    const char *binaries;
    /* Storage of the activations and activation gradients a model makes on
     * this context: CLRT_F32 (the default), CLRT_BF16 or CLRT_F16. The
     * arithmetic stays float32, and parameters, their gradients, optimizer
     * state and checkpoints stay float32 (the master weights). 16-bit
     * tensors run on clrt's builtin kernels only: CLBlast and the host
     * BLAS take float32, so a GEMM with a 16-bit operand uses `builtin`
     * whatever the backend. Another value is CLRT_ERR_INVALID_ARG. */
    int precision;
} clrt_ctx_options;

/* Set every option to its default. Always call before filling in fields. */
CLRT_API void clrt_ctx_options_init(clrt_ctx_options *opt);

/* Create a context and an in-order queue on the selected device. `opt` may be
 * NULL for the defaults. On failure *out is NULL and `err` says why. A
 * device without a compiler and no bundle is CLRT_ERR_UNSUPPORTED. */
CLRT_API clrt_status clrt_ctx_create(const clrt_ctx_options *opt, clrt_ctx **out,
                                     char *err, size_t errlen);

/* Wrap an existing context and queue (the queue must be on a device of the
 * context). Both are retained here and released by clrt_ctx_destroy. */
CLRT_API clrt_status clrt_ctx_create_from_cl(cl_context context, cl_command_queue queue,
                                             const clrt_ctx_options *opt, clrt_ctx **out,
                                             char *err, size_t errlen);

/* Wait for the queue, release everything. NULL is a no-op. A context on
 * which a tensor, loader, model or optimizer still lives is left untouched
 * and usable, and CLRT_ERR_BUSY is returned, the message saying what lives
 * ("2 tensors, 1 loader, 1 model still live"). */
CLRT_API clrt_status clrt_ctx_destroy(clrt_ctx *ctx);

/* clFinish / clFlush on the context's queue. */
CLRT_API clrt_status clrt_ctx_finish(clrt_ctx *ctx);
CLRT_API clrt_status clrt_ctx_flush(clrt_ctx *ctx);

/* Device time per kernel, to see where a training step's time goes. */
typedef struct clrt_kernel_time {
    char name[64];            /* the kernel's function name; "CLBlastSgemm" for CLBlast's GEMMs */
    unsigned long long calls;
    double seconds;           /* device time, summed from each event's START to END */
} clrt_kernel_time;

/* Waits for the queue, then fills times[0..cap) with the kernels clrt enqueued since the
 * context was made or since the last call, most time first; *count is the number of
 * distinct kernels (it may exceed cap). The record then starts again empty. The runs
 * of GEMM tuning (the first GEMM of each shape class) are counted like any other.
 * CLRT_ERR_UNSUPPORTED when the queue has no profiling (clrt_ctx_options.profiling);
 * CLRT_ERR_INVALID_ARG for a NULL ctx or count, or NULL times with cap > 0. */
CLRT_API clrt_status clrt_ctx_kernel_times(clrt_ctx *ctx, clrt_kernel_time *times, size_t cap,
                                           size_t *count);

/* The message of the last failure on this context ("" if none). Valid until
 * the next failing call on the context. Never NULL. */
CLRT_API const char *clrt_ctx_errmsg(const clrt_ctx *ctx);

/* The raw OpenCL code of the last failing OpenCL call (CL_SUCCESS if none). */
CLRT_API cl_int clrt_ctx_cl_error(const clrt_ctx *ctx);

/* The device the context runs on. */
CLRT_API const clrt_device_info *clrt_ctx_device(const clrt_ctx *ctx);

/* The OpenCL objects underneath, for interop; still owned by the context. */
CLRT_API cl_context clrt_ctx_cl_context(const clrt_ctx *ctx);
CLRT_API cl_command_queue clrt_ctx_cl_queue(const clrt_ctx *ctx);

typedef struct clrt_memory_stats {
    size_t bytes_in_use;     /* device bytes held by live tensors */
    size_t bytes_pooled;     /* device bytes freed by tensors, kept for reuse */
    size_t peak_bytes;       /* the most device bytes held at once (in use + pooled) */
    size_t allocations;      /* clCreateBuffer calls made so far */
    size_t pool_hits;        /* tensor creations served from the pool */
    size_t live_tensors;     /* tensor handles (views included) not yet destroyed */
} clrt_memory_stats;

CLRT_API clrt_status clrt_ctx_memory_stats(const clrt_ctx *ctx, clrt_memory_stats *out);

/* Release every pooled buffer to the device. */
CLRT_API clrt_status clrt_ctx_trim(clrt_ctx *ctx);

typedef struct clrt_program_stats {
    size_t builds;       /* programs compiled from source */
    size_t disk_hits;    /* programs loaded from the on-disk binary cache */
    size_t disk_writes;  /* binaries stored in the on-disk cache */
    size_t disk_rejects; /* cache entries found corrupt or foreign and ignored */
} clrt_program_stats;

CLRT_API clrt_status clrt_ctx_program_stats(const clrt_ctx *ctx, clrt_program_stats *out);

/* Build every embedded program now, and the device's default GEMM tile,
 * instead of on first use (the activation and other tile variants are
 * still built when first used). */
CLRT_API clrt_status clrt_ctx_build_all(clrt_ctx *ctx);

/* Store now, in the on-disk cache, the binaries of the programs this
 * context has compiled and not stored yet. They are otherwise stored when
 * the context is destroyed (and by clrt_ctx_build_all): asking a driver for
 * a binary can cost as much as the build (PoCL compiles the kernels again),
 * so it is kept off the way to the first training step. For a process that
 * may not end cleanly. Storage trouble is logged, never an error. */
CLRT_API clrt_status clrt_ctx_store_cache(clrt_ctx *ctx);

/* ----------------------------------------------------------------- tensors */

#define CLRT_MAX_RANK 4

typedef struct clrt_tensor clrt_tensor;

/* A tensor's element type: how its elements are stored. Every op computes
 * in float32 whatever its tensors' storage, and the host sees float32:
 * reads and writes convert. A 16-bit store rounds to nearest even. */
typedef enum clrt_dtype {
    CLRT_F32 = 0,  /* IEEE float32 */
    CLRT_F16 = 1,  /* IEEE half (binary16): 11 significant bits, up to 65504 */
    CLRT_BF16 = 2, /* bfloat16, float32's top 16 bits: 8 significant bits, float32's range */
} clrt_dtype;

/* "f32", "f16", "bf16"; NULL for a value that names no type. */
CLRT_API const char *clrt_dtype_name(clrt_dtype dtype);

typedef enum clrt_tensor_flags {
    CLRT_TENSOR_UNINIT = 0, /* contents undefined until written */
    CLRT_TENSOR_ZERO = 1,   /* filled with 0.0f (enqueued, not waited for) */
} clrt_tensor_flags;

/* Create a float32 tensor of `rank` (1..4) dimensions `shape[0..rank)`.
 * Zero-sized dimensions are allowed. CLRT_ERR_SHAPE for a bad rank or an
 * element count whose byte size overflows; CLRT_ERR_OUT_OF_MEMORY when the
 * device cannot hold it. The buffer may come from the context's pool. */
CLRT_API clrt_status clrt_tensor_create(clrt_ctx *ctx, int rank, const size_t *shape,
                                        unsigned flags, clrt_tensor **out);

/* The same with elements stored as `dtype`; CLRT_ERR_INVALID_ARG for a
 * dtype that names no type. The ops take such tensors where they say so
 * (linear, GEMM with the builtin kernels, activations, losses, accuracy,
 * reductions, element-wise arithmetic); the optimizers take float32
 * only. */
CLRT_API clrt_status clrt_tensor_create_typed(clrt_ctx *ctx, clrt_dtype dtype, int rank,
                                              const size_t *shape, unsigned flags,
                                              clrt_tensor **out);

/* Wrap an existing buffer of at least numel*4 bytes; `mem` is retained and
 * released when the tensor is destroyed. */
CLRT_API clrt_status clrt_tensor_from_cl(clrt_ctx *ctx, cl_mem mem, int rank,
                                         const size_t *shape, clrt_tensor **out);

/* A view with another shape of the same element count sharing the buffer.
 * The buffer lives until the last tensor on it is destroyed. */
CLRT_API clrt_status clrt_tensor_reshape(clrt_tensor *t, int rank, const size_t *shape,
                                         clrt_tensor **out);

/* Release the handle (waits for nothing; the buffer returns to the pool once
 * no view uses it). NULL is a no-op. */
CLRT_API void clrt_tensor_destroy(clrt_tensor *t);

CLRT_API int clrt_tensor_rank(const clrt_tensor *t);
/* Dimension i, or 0 when i is out of range. */
CLRT_API size_t clrt_tensor_dim(const clrt_tensor *t, int i);
CLRT_API size_t clrt_tensor_numel(const clrt_tensor *t);
CLRT_API clrt_ctx *clrt_tensor_ctx(const clrt_tensor *t);
/* The element type (CLRT_F32 for NULL). */
CLRT_API clrt_dtype clrt_tensor_dtype(const clrt_tensor *t);
/* The buffer, for interop, owned by the tensor; NULL for an empty tensor.
 * Once the last tensor on it is destroyed the buffer goes back to the pool
 * and may hold another tensor's data, even if the caller retained it. */
CLRT_API cl_mem clrt_tensor_cl_mem(const clrt_tensor *t);

/* Copy `count` floats (must equal numel) between host and tensor, blocking.
 * A 16-bit tensor converts on the host (writes round to nearest even). */
CLRT_API clrt_status clrt_tensor_write(clrt_tensor *t, const float *src, size_t count);
CLRT_API clrt_status clrt_tensor_read(const clrt_tensor *t, float *dst, size_t count);

/* The same without blocking: `host` must stay valid and untouched until
 * *event (a new reference the caller releases) completes. `event` may be
 * NULL, in which case only clrt_ctx_finish tells when it is done. With
 * count 0 nothing is enqueued and *event is set to NULL. On a 16-bit
 * tensor, which converts on the host, the transfer is done on return and
 * *event is set to NULL. */
CLRT_API clrt_status clrt_tensor_write_async(clrt_tensor *t, const float *src, size_t count,
                                             cl_event *event);
CLRT_API clrt_status clrt_tensor_read_async(const clrt_tensor *t, float *dst, size_t count,
                                            cl_event *event);

/* Set every element to `value` (enqueued). */
CLRT_API clrt_status clrt_tensor_fill(clrt_tensor *t, float value);

/* dst = src; the shapes and element types must be equal (enqueued). */
CLRT_API clrt_status clrt_tensor_copy(clrt_tensor *dst, const clrt_tensor *src);

/* dst = src converted to dst's element type (rounded to nearest even); the
 * shapes must be equal, the types may be (enqueued). */
CLRT_API clrt_status clrt_tensor_convert(clrt_tensor *dst, const clrt_tensor *src);

/* -------------------------------------------------------------- operations
 * Every op enqueues on the context's queue and returns without waiting; a
 * later read (or clrt_ctx_finish) sees its result. Shapes are checked before
 * anything is enqueued: a mismatch is CLRT_ERR_SHAPE naming the shapes.
 * Outputs must not alias inputs unless the op says so. Tensors of one call
 * must belong to one context. */

/* ---- GEMM */

typedef enum clrt_gemm_backend {
    CLRT_GEMM_AUTO = 0,    /* time the candidates once per device and shape class */
    CLRT_GEMM_BUILTIN = 1, /* clrt's kernels in cl/gemm.cl */
    CLRT_GEMM_CLBLAST = 2, /* CLBlastSgemm on the same buffers */
    CLRT_GEMM_HOST = 3,    /* CPU devices only: map the buffers, call the host CBLAS */
} clrt_gemm_backend;

/* The storage a model's activations and their gradients get on this context
 * (clrt_ctx_options.precision); CLRT_F32 for NULL. */
CLRT_API int clrt_ctx_precision(const clrt_ctx *ctx);

/* The backend this context uses (from clrt_ctx_options.gemm or $CLRT_GEMM). */
CLRT_API clrt_gemm_backend clrt_ctx_gemm_backend(const clrt_ctx *ctx);

/* Choose the backend; CLRT_ERR_UNSUPPORTED if it cannot run on this context
 * (CLBlast not built in, host BLAS on a non-CPU device). */
CLRT_API clrt_status clrt_ctx_set_gemm_backend(clrt_ctx *ctx, clrt_gemm_backend backend);

/* "auto", "builtin", "clblast", "host" */
CLRT_API const char *clrt_gemm_backend_name(clrt_gemm_backend backend);

/* C = alpha·op(A)·op(B) + beta·C with op(X) = X or Xᵀ; A, B, C rank 2.
 * op(A) is [M, K], op(B) is [K, N], C is [M, N]. C must not alias A or B.
 * beta = 0 ignores C's old contents (NaN included). */
CLRT_API clrt_status clrt_gemm(clrt_ctx *ctx, int trans_a, int trans_b, float alpha,
                               const clrt_tensor *a, const clrt_tensor *b, float beta,
                               clrt_tensor *c);

/* ---- activations */

typedef enum clrt_act {
    CLRT_ACT_IDENTITY = 0,
    CLRT_ACT_RELU = 1,
    CLRT_ACT_LEAKY_RELU = 2, /* param: negative slope (PyTorch default 0.01) */
    CLRT_ACT_SIGMOID = 3,
    CLRT_ACT_TANH = 4,
    CLRT_ACT_SIN = 5,
    CLRT_ACT_GELU = 6,       /* exact: x·Φ(x) with erf */
    CLRT_ACT_GELU_TANH = 7,  /* PyTorch's approximate='tanh' */
    CLRT_ACT_SOFTMAX = 8,    /* row-wise over the last dimension, max-subtracted */
} clrt_act;

/* "relu", "gelu_tanh", ...; NULL for an unknown value. */
CLRT_API const char *clrt_act_name(clrt_act act);

/* y = act(x); same shapes; y may be x. `param` is used by LEAKY_RELU only. */
CLRT_API clrt_status clrt_act_forward(clrt_ctx *ctx, clrt_act act, float param,
                                      const clrt_tensor *x, clrt_tensor *y);

/* dx = dy · act'(x) (softmax: the Jacobian-vector product). x is needed by
 * RELU, LEAKY_RELU, SIN, GELU, GELU_TANH; y = act(x) by SIGMOID, TANH,
 * SOFTMAX; the other may be NULL. dx may be dy. */
CLRT_API clrt_status clrt_act_backward(clrt_ctx *ctx, clrt_act act, float param,
                                       const clrt_tensor *x, const clrt_tensor *y,
                                       const clrt_tensor *dy, clrt_tensor *dx);

/* ---- linear layers (PyTorch layout: W is [out, in]) */

/* y = act(x·Wᵀ + b) in one pass over y. x [batch, in], w [out, in], b [out]
 * or NULL, y [batch, out]. `z` (NULL or [batch, out]) receives x·Wᵀ + b, for
 * the backward of activations that need it. act IDENTITY is a plain linear. */
CLRT_API clrt_status clrt_linear_forward(clrt_ctx *ctx, const clrt_tensor *x,
                                         const clrt_tensor *w, const clrt_tensor *b,
                                         clrt_act act, float act_param, clrt_tensor *z,
                                         clrt_tensor *y);

/* Gradient flags */
#define CLRT_GRAD_ACCUMULATE 1u /* add into dx/dw/db instead of overwriting */

/* Backward of y = x·Wᵀ + b given dy [batch, out]: dx = dy·W [batch, in],
 * dw = dyᵀ·x [out, in], db = column sums of dy [out]. Any of dx, dw, db may
 * be NULL (not wanted). */
CLRT_API clrt_status clrt_linear_backward(clrt_ctx *ctx, const clrt_tensor *x,
                                          const clrt_tensor *w, const clrt_tensor *dy,
                                          clrt_tensor *dx, clrt_tensor *dw, clrt_tensor *db,
                                          unsigned flags);

/* ---- losses and metrics (results stay on the device) */

/* loss[0] = mean((pred - target)²) over all elements; grad (NULL: not
 * wanted) = 2·(pred - target)/n, shaped like pred. loss has one element. */
CLRT_API clrt_status clrt_loss_mse(clrt_ctx *ctx, const clrt_tensor *pred,
                                   const clrt_tensor *target, clrt_tensor *loss,
                                   clrt_tensor *grad);

/* torch.nn.CrossEntropyLoss (mean): logits [batch, classes], labels [batch]
 * holding class indices as floats (exact up to 2^24). loss[0] = mean over
 * rows of logsumexp(row) - row[label]; grad (NULL: not wanted) =
 * (softmax(row) - onehot(label)) / batch. A label outside [0, classes)
 * makes loss NaN and its grad row NaN. */
CLRT_API clrt_status clrt_loss_cross_entropy(clrt_ctx *ctx, const clrt_tensor *logits,
                                             const clrt_tensor *labels, clrt_tensor *loss,
                                             clrt_tensor *grad);

/* correct[0] = number of rows whose first argmax equals the label. */
CLRT_API clrt_status clrt_accuracy(clrt_ctx *ctx, const clrt_tensor *logits,
                                   const clrt_tensor *labels, clrt_tensor *correct);

/* ---- reductions and element-wise */

typedef enum clrt_reduce_op { CLRT_REDUCE_SUM = 0, CLRT_REDUCE_MEAN = 1 } clrt_reduce_op;

/* Reduce a rank-2 x [rows, cols] along `axis` (0: y[cols] over rows, as
 * torch.sum(x, 0); 1: y[rows] over columns). */
CLRT_API clrt_status clrt_reduce(clrt_ctx *ctx, clrt_reduce_op op, int axis,
                                 const clrt_tensor *x, clrt_tensor *y);

/* y = a + b (same shapes; y may be a or b). */
CLRT_API clrt_status clrt_add(clrt_ctx *ctx, const clrt_tensor *a, const clrt_tensor *b,
                              clrt_tensor *y);
/* y = alpha·x (y may be x). */
CLRT_API clrt_status clrt_scale(clrt_ctx *ctx, float alpha, const clrt_tensor *x,
                                clrt_tensor *y);
/* y += alpha·x */
CLRT_API clrt_status clrt_axpy(clrt_ctx *ctx, float alpha, const clrt_tensor *x,
                               clrt_tensor *y);

/* ---- optimizers (torch.optim.SGD, Adam, AdamW update rules) */

typedef struct clrt_optim clrt_optim;

typedef enum clrt_optim_kind {
    CLRT_OPTIM_SGD = 0,
    CLRT_OPTIM_ADAM = 1,
    CLRT_OPTIM_ADAMW = 2,
} clrt_optim_kind;

typedef struct clrt_optim_options {
    clrt_optim_kind kind;
    float lr;
    float weight_decay; /* SGD/Adam: added to the gradient; AdamW: decoupled */
    float momentum;     /* SGD */
    float dampening;    /* SGD */
    int nesterov;       /* SGD: needs momentum > 0 and dampening 0 */
    float beta1, beta2, eps; /* Adam, AdamW */
} clrt_optim_options;

/* PyTorch's defaults for `kind` (SGD: lr 0.01, the rest 0; Adam: lr 1e-3,
 * betas 0.9/0.999, eps 1e-8, weight_decay 0; AdamW: the same with
 * weight_decay 0.01). */
CLRT_API void clrt_optim_options_init(clrt_optim_options *opt, clrt_optim_kind kind);

/* An optimizer over a fixed list of parameters (not owned). Its state
 * tensors (momentum, Adam moments) are created here, zeroed. */
CLRT_API clrt_status clrt_optim_create(clrt_ctx *ctx, const clrt_optim_options *opt,
                                       size_t nparams, clrt_tensor *const *params,
                                       clrt_optim **out);
CLRT_API void clrt_optim_destroy(clrt_optim *opt);

/* One update of every parameter from its gradient (grads[i] shaped like
 * params[i]). `grads` must hold as many tensors as the optimizer has
 * parameters (the nparams it was made with): the array's length cannot be
 * checked, only each entry's shape and context. Past UINT64_MAX steps it is
 * CLRT_ERR_INVALID_ARG and nothing moves. */
CLRT_API clrt_status clrt_optim_step(clrt_optim *opt, clrt_tensor *const *grads);

/* The options the optimizer was made with (lr as currently set). */
CLRT_API clrt_status clrt_optim_get_options(const clrt_optim *opt, clrt_optim_options *out);

/* Learning rate for the following steps (schedules); a negative or NaN rate
 * is CLRT_ERR_INVALID_ARG and the old one stays. */
CLRT_API clrt_status clrt_optim_set_lr(clrt_optim *opt, float lr);
CLRT_API float clrt_optim_lr(const clrt_optim *opt);
/* Steps taken so far: Adam's bias correction uses it, and SGD's first step
 * (steps == 0) sets the momentum buffer to the gradient. To resume, copy
 * the state tensors back and call clrt_optim_set_steps (UINT64_MAX, which
 * leaves no room for another step, is CLRT_ERR_INVALID_ARG). */
CLRT_API uint64_t clrt_optim_steps(const clrt_optim *opt);
CLRT_API clrt_status clrt_optim_set_steps(clrt_optim *opt, uint64_t steps);

/* State tensor `slot` of parameter `i` (SGD: slot 0 momentum_buffer; Adam:
 * slot 0 exp_avg, slot 1 exp_avg_sq), owned by the optimizer; NULL when
 * there is none (SGD without momentum; *name is then NULL). The name is
 * PyTorch's. Parameters sharing a buffer are refused at creation. */
CLRT_API clrt_tensor *clrt_optim_state(const clrt_optim *opt, size_t i, int slot,
                                       const char **name);

/* ------------------------------------------------------------------ models
 * A sequential stack of linear and activation layers (an nn.Sequential).
 * Layer i of the stack is named "i" as in PyTorch: the parameters of a
 * linear layer at position 2 are "2.weight" [out, in] and "2.bias" [out]. */

typedef struct clrt_model clrt_model;

/* An empty model taking `in_features` inputs per sample. */
CLRT_API clrt_status clrt_model_create(clrt_ctx *ctx, size_t in_features, clrt_model **out);
/* Destroys the model's parameters, gradients and work tensors. NULL is a no-op. */
CLRT_API void clrt_model_destroy(clrt_model *m);

/* Append nn.Linear(current width, out_features) with bias; its parameters
 * are created zeroed (see clrt_model_init). */
CLRT_API clrt_status clrt_model_add_linear(clrt_model *m, size_t out_features);
/* Append an activation (param: leaky_relu's slope). */
CLRT_API clrt_status clrt_model_add_act(clrt_model *m, clrt_act act, float param);

/* PyTorch's default nn.Linear initialisation, U(-1/√in, 1/√in) for weight
 * and bias, from a seed (the same seed gives the same weights everywhere). */
CLRT_API clrt_status clrt_model_init(clrt_model *m, uint64_t seed);

typedef enum clrt_layer_kind { CLRT_LAYER_LINEAR = 0, CLRT_LAYER_ACT = 1 } clrt_layer_kind;

typedef struct clrt_layer_info {
    clrt_layer_kind kind;
    size_t in, out;   /* widths before and after the layer */
    clrt_act act;     /* activations */
    float act_param;
} clrt_layer_info;

CLRT_API clrt_ctx *clrt_model_ctx(const clrt_model *m);
CLRT_API size_t clrt_model_num_layers(const clrt_model *m);
CLRT_API clrt_status clrt_model_layer(const clrt_model *m, size_t i, clrt_layer_info *out);
CLRT_API size_t clrt_model_in_features(const clrt_model *m);
CLRT_API size_t clrt_model_out_features(const clrt_model *m);

/* Parameters in order ("0.weight", "0.bias", "2.weight", ...): the tensor
 * (owned by the model), its gradient, and its state_dict name. */
CLRT_API size_t clrt_model_num_params(const clrt_model *m);
CLRT_API clrt_tensor *clrt_model_param(const clrt_model *m, size_t i, const char **name);
CLRT_API clrt_tensor *clrt_model_grad(const clrt_model *m, size_t i);

/* Forward pass of x [batch, in]; *y [batch, out] is owned by the model and
 * valid until the next forward. Linear layers followed by an activation run
 * fused. The model keeps x (not a copy): it must stay alive, unchanged,
 * until the backward pass that follows. */
CLRT_API clrt_status clrt_model_forward(clrt_model *m, const clrt_tensor *x,
                                        const clrt_tensor **y);

/* Backward pass from dy = dL/dy of the last forward; gradients are
 * overwritten (flags 0) or accumulated (CLRT_GRAD_ACCUMULATE). */
CLRT_API clrt_status clrt_model_backward(clrt_model *m, const clrt_tensor *dy, unsigned flags);

/* Set every gradient to zero (before backward passes that accumulate). */
CLRT_API clrt_status clrt_model_zero_grad(clrt_model *m);

typedef enum clrt_loss_kind { CLRT_LOSS_CROSS_ENTROPY = 0, CLRT_LOSS_MSE = 1 } clrt_loss_kind;

/* One training step: forward, loss against `target` (class indices [batch]
 * for cross-entropy, values [batch, out] for MSE), backward, the gradient
 * hook if one is set, optimizer step. Everything is enqueued; nothing is
 * read back. The loss joins a running sum read by clrt_model_take_loss.
 * `opt` must be over this model's parameters (clrt_optim_create with
 * clrt_model_params, after the last layer is added): an optimizer over any
 * other tensors is CLRT_ERR_INVALID_ARG before anything runs. A hook's error
 * status is returned as is, with the optimizer not stepped and the loss not
 * counted. */
CLRT_API clrt_status clrt_model_train_step(clrt_model *m, clrt_optim *opt, clrt_loss_kind loss,
                                           const clrt_tensor *x, const clrt_tensor *target);

/* Called by clrt_model_train_step between the backward pass and the
 * optimizer step with the model's gradients (grads[i] is clrt_model_grad(m,
 * i), count clrt_model_num_params(m)), to change them in place: average
 * them across data-parallel ranks, clip them. Return CLRT_OK to go on. */
typedef clrt_status (*clrt_grad_hook)(clrt_model *m, clrt_tensor *const *grads, size_t count,
                                      void *user);

/* Set the model's gradient hook and the `user` pointer passed to it; NULL
 * removes it. CLRT_ERR_INVALID_ARG for a NULL model. */
CLRT_API clrt_status clrt_model_set_grad_hook(clrt_model *m, clrt_grad_hook hook, void *user);

/* The mean loss of the steps since the last call (blocking read), and how
 * many samples it covers; then the running sum restarts. It also checks the
 * parameters on the device (one pass each, one word read back): a running
 * loss or a parameter holding NaN or an infinity is CLRT_ERR_NUMERIC, the
 * message naming the loss or the first such parameter, with *mean_loss and
 * *samples set and the sum restarted all the same. */
CLRT_API clrt_status clrt_model_take_loss(clrt_model *m, double *mean_loss, size_t *samples);

/* CLRT_OK when every parameter is finite; CLRT_ERR_NUMERIC naming the first
 * parameter (in clrt_model_param order) that holds NaN or an infinity, and
 * its first such element. Blocking: a pass over each parameter on the
 * device, then one word read back. Call it before saving a checkpoint. */
CLRT_API clrt_status clrt_model_check_finite(clrt_model *m);

/* The parameter array, for clrt_optim_create. */
CLRT_API clrt_tensor *const *clrt_model_params(const clrt_model *m);

/* Rows per batch clrt_model_predict uses when given 0. */
#define CLRT_PREDICT_BATCH 256

/* Forward pass over `rows` samples of host memory x [rows, in_features]
 * into host memory y [rows, out_features] (the raw outputs: logits for a
 * classifier), `batch` rows at a time (0: CLRT_PREDICT_BATCH), the last
 * batch holding what is left. Blocking; x and y are the caller's. clrt's
 * layers evaluate as they train (no dropout or batch norm), so this is the
 * training forward pass; it replaces the model's last forward, so a
 * backward pass needs a forward of its own after it. CLRT_ERR_INVALID_ARG
 * for a model without layers or NULL x or y with rows > 0. */
CLRT_API clrt_status clrt_model_predict(clrt_model *m, const float *x, size_t rows, size_t batch,
                                        float *y);

/* How clrt_model_load builds a model from a file without clrt's layer list
 * (a PyTorch nn.Sequential of Linear layers, whose state_dict does not say
 * which activations sit between them). Ignored for a clrt checkpoint. */
typedef struct clrt_model_load_options {
    clrt_act act;          /* the layer between two Linear layers (default CLRT_ACT_RELU) */
    float act_param;       /* its parameter: leaky_relu's slope (default 0.01) */
    clrt_act final_act;    /* after the last Linear layer; CLRT_ACT_IDENTITY (the default): none */
    float final_act_param;
} clrt_model_load_options;

CLRT_API void clrt_model_load_options_init(clrt_model_load_options *opt);

/* A new model (*out, the caller destroys it) built and filled from a
 * safetensors file: a clrt checkpoint from its layer list, or the
 * state_dict of a PyTorch nn.Sequential of Linear layers ("0.weight" [out,
 * in], "0.bias" [out], "2.weight", ...; a position with no tensors between
 * two Linear layers is opt->act). `opt` may be NULL for the defaults.
 * CLRT_ERR_IO when the file cannot be read, CLRT_ERR_FORMAT for a corrupt
 * file or tensors that do not make a model (widths that do not chain, not
 * F32), CLRT_ERR_UNSUPPORTED for a model clrt cannot hold (other tensors,
 * a Linear layer without bias, two layers without parameters in a row),
 * each naming the file and the item; *out is then NULL. */
CLRT_API clrt_status clrt_model_load(clrt_ctx *ctx, const char *path,
                                     const clrt_model_load_options *opt, clrt_model **out);

/* ---------------------------------------------------------------- datasets
 * Host-side data: features float [n, dim] and labels (class indices). */

typedef struct clrt_dataset clrt_dataset;

/* IDX image and label files (gzip or not), as MNIST and Fashion-MNIST ship;
 * pixels are scaled to [0, 1]. */
CLRT_API clrt_status clrt_dataset_load_idx(const char *images_path, const char *labels_path,
                                           clrt_dataset **out, char *err, size_t errlen);
/* CSV: comma-separated numbers, an optional header row (detected: a first
 * row that does not parse as numbers), the last column the integer class
 * label. A ragged row or a bad label is CLRT_ERR_FORMAT naming the line. */
CLRT_API clrt_status clrt_dataset_load_csv(const char *path, clrt_dataset **out, char *err,
                                           size_t errlen);
/* A dataset from memory: `data` [n, features] and `labels` [n] (integer
 * class indices as floats) are copied. A bad label, or a NaN or infinite
 * feature (as the CSV reader refuses), is CLRT_ERR_FORMAT naming it. */
CLRT_API clrt_status clrt_dataset_create(size_t n, size_t features, const float *data,
                                         const float *labels, clrt_dataset **out, char *err,
                                         size_t errlen);
CLRT_API void clrt_dataset_destroy(clrt_dataset *ds);

CLRT_API size_t clrt_dataset_size(const clrt_dataset *ds);
CLRT_API size_t clrt_dataset_features(const clrt_dataset *ds);
/* 1 + the largest label. */
CLRT_API size_t clrt_dataset_classes(const clrt_dataset *ds);
/* Row-major [size, features] and [size] (labels as floats). */
CLRT_API const float *clrt_dataset_data(const clrt_dataset *ds);
CLRT_API const float *clrt_dataset_labels(const clrt_dataset *ds);

/* Per-feature mean and standard deviation (population) of `ds` into
 * mean[features], std[features]; a constant feature gets std 1. */
CLRT_API clrt_status clrt_dataset_stats(const clrt_dataset *ds, float *mean, float *std);
/* x = (x - mean) / std for every feature, in place. */
CLRT_API clrt_status clrt_dataset_normalize(clrt_dataset *ds, const float *mean,
                                            const float *std);

/* Mini-batches of a dataset on a device. Batches go in file order, or in a
 * permutation fixed by (seed, epoch) when shuffling, so a resumed run sees
 * the same order; the last partial batch is used (PyTorch's DataLoader
 * default). Uploads go through reused staging buffers, the next batch
 * uploading while the current one is in use. */
typedef struct clrt_loader clrt_loader;

typedef struct clrt_loader_options {
    size_t batch;   /* rows per batch (default 128); with shards, the global batch */
    int shuffle;    /* non-zero: shuffle each epoch */
    uint64_t seed;  /* shuffling seed */
    /* Data-parallel sharding (default 1 and 0: none). Every shard takes the
     * same batches in the same order, and shard s of `shards` keeps rows
     * [rows*s/shards, rows*(s+1)/shards) of each: the shards of a batch
     * together are the unsharded batch, so each sample is seen once per
     * epoch across them. Every batch must give each shard a row: a batch
     * smaller than `shards`, or a last partial batch that is, is
     * CLRT_ERR_INVALID_ARG at creation. */
    size_t shards;
    size_t shard;
} clrt_loader_options;

CLRT_API void clrt_loader_options_init(clrt_loader_options *opt);
/* The dataset must outlive the loader. */
CLRT_API clrt_status clrt_loader_create(clrt_ctx *ctx, const clrt_dataset *ds,
                                        const clrt_loader_options *opt, clrt_loader **out);
CLRT_API void clrt_loader_destroy(clrt_loader *l);
/* Start epoch `epoch` (0-based) from its first batch. */
CLRT_API clrt_status clrt_loader_begin(clrt_loader *l, uint64_t epoch);
/* The next batch: *x [rows, features], *labels [rows], owned by the loader
 * and valid until the next call. *x is NULL when the epoch is over. */
CLRT_API clrt_status clrt_loader_next(clrt_loader *l, const clrt_tensor **x,
                                      const clrt_tensor **labels);
CLRT_API size_t clrt_loader_batches(const clrt_loader *l);
/* The rows this loader gives per epoch (its shard's, when sharded). */
CLRT_API size_t clrt_loader_rows(const clrt_loader *l);

/* Mean loss and accuracy of the model over every batch of the loader's
 * epoch 0 order (cross-entropy on class labels). It restarts the loader:
 * use a loader of its own, not one in the middle of a training epoch. A
 * loss that is NaN or infinite is CLRT_ERR_NUMERIC (with *loss and
 * *accuracy set), the message naming the first non-finite parameter if
 * there is one. */
CLRT_API clrt_status clrt_model_evaluate(clrt_model *m, clrt_loader *l, double *loss,
                                         double *accuracy);

/* ------------------------------------------------------------- checkpoints
 * safetensors files: tensors named like a PyTorch nn.Sequential state_dict
 * ("0.weight", ...) so torch's load_state_dict takes them; optimizer state
 * as "optim.<param>.<state name>"; the layer list, training position and
 * two checksums (of the data, and of the header, which holds the data's) in
 * __metadata__. Written to a temp file, fsynced, renamed. */

/* The most epochs a checkpoint records: a run's epoch count fits 32 bits. */
#define CLRT_MAX_EPOCH 4294967295u

typedef struct clrt_train_state {
    uint64_t epoch;        /* epochs completed, at most CLRT_MAX_EPOCH */
    uint64_t seed;         /* the shuffling seed of the run */
    double lr;             /* the learning rate in force */
} clrt_train_state;

/* Save the model, and the optimizer's state if opt is non-NULL, and `state`
 * if non-NULL (CLRT_ERR_INVALID_ARG for an epoch past CLRT_MAX_EPOCH or an
 * lr that is not finite). */
CLRT_API clrt_status clrt_checkpoint_save(const char *path, const clrt_model *m,
                                          const clrt_optim *opt, const clrt_train_state *state);

#define CLRT_CHECKPOINT_WEIGHTS_ONLY 1u /* ignore optimizer and training state */

/* Load into an existing model of the same layers (and optimizer, and state,
 * each when non-NULL and present in the file). Every offset, length, dtype
 * and shape is checked before anything is written to the model, and every
 * number of the metadata against the range of what it sets: a mismatch is
 * CLRT_ERR_FORMAT (a corrupt or edited file, a checksum that does not
 * match) or CLRT_ERR_SHAPE (another model), naming the first offending
 * tensor or field, and the model is left untouched. */
CLRT_API clrt_status clrt_checkpoint_load(const char *path, clrt_model *m, clrt_optim *opt,
                                          clrt_train_state *state, unsigned flags);

/* ----------------------------------------------------------- data parallel
 * Data-parallel training over MPI, one rank per device (docs/training.md).
 * Built when meson finds MPI (option `mpi`); a build without it answers
 * every clrt_dist call that can fail with CLRT_ERR_UNSUPPORTED. Each rank
 * holds the whole model and takes its shard of every global batch
 * (clrt_loader_options.shards = size, .shard = rank); the gradient hook
 * averages the gradients over the ranks in one fused all-reduce per step.
 * Calls marked collective must be made by every rank, in the same order.
 * A collective whose peers do not all arrive within the timeout returns
 * CLRT_ERR_DIST instead of waiting for ever. One thread calls MPI. */

typedef struct clrt_dist clrt_dist;

typedef struct clrt_dist_options {
    /* The address of an MPI_Comm (duplicated, so the caller's stays free
     * for its own traffic); NULL: MPI_COMM_WORLD. A pointer, so that this
     * header needs no mpi.h. */
    const void *comm;
    /* The longest wait, in seconds, for the other ranks in one collective
     * (the first step waits for every rank's kernel builds); 0: the
     * default, $CLRT_DIST_TIMEOUT, else 600. */
    double timeout_s;
} clrt_dist_options;

CLRT_API void clrt_dist_options_init(clrt_dist_options *opt);
/* Join the ranks of the communicator, initialising MPI first if the
 * application has not (clrt_dist_destroy then finalises it). Collective. */
CLRT_API clrt_status clrt_dist_create(const clrt_dist_options *opt, clrt_dist **out, char *err,
                                      size_t errlen);
/* Free the communicator and buffers; finalise MPI if create initialised it
 * (collective then). NULL is a no-op. After a failed collective, exit
 * without it: MPI's finalise would wait for the ranks that are gone. */
CLRT_API void clrt_dist_destroy(clrt_dist *d);

/* This rank, the number of ranks, and this rank's index among the ranks on
 * its host (-1 / 0 for NULL). */
CLRT_API int clrt_dist_rank(const clrt_dist *d);
CLRT_API int clrt_dist_size(const clrt_dist *d);
CLRT_API int clrt_dist_local_rank(const clrt_dist *d);

/* The device selector this rank should use, into out[len]: `selector`
 * (NULL: $CLRT_DEVICE) as it is when it names devices itself; a bare type
 * word ("gpu", "cpu", "accelerator"), or nothing (the default kind: GPU,
 * else accelerator, else CPU), becomes "KIND:i" with i the local rank
 * modulo the devices of that kind, so the ranks of a host spread over its
 * GPUs. CLRT_ERR_INVALID_ARG when out is too short. */
CLRT_API clrt_status clrt_dist_device(const clrt_dist *d, const char *selector, char *out,
                                      size_t len, char *err, size_t errlen);

/* Make every rank start from rank 0's parameters, optimizer state and step
 * count (one broadcast), and set the model's gradient hook to the
 * averaging all-reduce. The models must have the same parameter shapes on
 * every rank (checked). Collective. */
CLRT_API clrt_status clrt_dist_attach(clrt_dist *d, clrt_model *m, clrt_optim *opt);

/* clrt_model_take_loss over every rank: the mean loss per sample of all
 * ranks' steps since the last call and their total samples. Collective. */
CLRT_API clrt_status clrt_dist_take_loss(clrt_dist *d, clrt_model *m, double *mean_loss,
                                         size_t *samples);

/* clrt_model_evaluate over every rank's (sharded) loader: loss and
 * accuracy per sample of the whole data set. Collective. */
CLRT_API clrt_status clrt_dist_evaluate(clrt_dist *d, clrt_model *m, clrt_loader *l,
                                        double *loss, double *accuracy);

/* Agree on an outcome: each rank passes its own status. CLRT_OK when every
 * rank passed CLRT_OK; a rank that passed an error gets it back; the others
 * get CLRT_ERR_DIST naming the first rank that failed (message in ctx, if
 * given). For steps only some ranks do, such as rank 0 saving. Collective. */
CLRT_API clrt_status clrt_dist_agree(clrt_dist *d, clrt_ctx *ctx, clrt_status status);

/* What the gradient all-reduce has done so far on this rank. */
typedef struct clrt_dist_stats {
    uint64_t steps;        /* all-reduces of the gradients (none with one rank) */
    uint64_t bytes;        /* payload bytes all-reduced (sent by the algorithm: more) */
    double wait_s;         /* waiting for the device to finish the step's backward */
    double copy_s;         /* reading gradients to the host, scaling, writing them back */
    double reduce_s;       /* in MPI, waiting for and summing with the other ranks */
} clrt_dist_stats;

CLRT_API clrt_status clrt_dist_get_stats(const clrt_dist *d, clrt_dist_stats *out);

/* ---- self-test */

typedef struct clrt_selftest_result {
    char op[40];        /* "gemm nt (builtin)", "act_backward gelu", ... */
    char shape[40];     /* "[7, 33]" */
    double max_error;   /* |device - reference| / (1 + |reference|) at the worst element */
    double tolerance;   /* that element's bound, scaled the same way */
    int passed;
} clrt_selftest_result;

/* Run every op on the context's device on small odd shapes and compare with
 * the plain-C reference. Fills results[0..cap) and sets *count to the
 * number of checks and *failures to those over tolerance. CLRT_OK means the
 * checks ran (look at *failures); an error means an op itself failed. */
CLRT_API clrt_status clrt_selftest(clrt_ctx *ctx, clrt_selftest_result *results, size_t cap,
                                   size_t *count, size_t *failures);

#ifdef __cplusplus
}
#endif
#endif /* CLRT_H */
