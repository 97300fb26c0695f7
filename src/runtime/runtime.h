/* The runtime layer: what it offers the layers above it (ops, nn, io,
 * verify). Errors and messages, devices and selectors, shapes, the disk
 * cache and atomic file writes, kernel sources and the program cache, the
 * buffer pool, contexts, tensors, kernel launches and profiling. Nothing
 * here includes a header of another layer. Not installed.
 *
 * Choke points: every OpenCL buffer allocation, program build (of a source
 * or a cached binary), kernel enqueue, host transfer or copy, and map of the
 * library calls a wrapper of cl_calls.c (clrt__cl_create_buffer, _build,
 * _enqueue_kernel, _enqueue_write/read/copy, _map/_unmap) and no driver
 * function directly; fault injection hooks there. The callers above them
 * are pool.c, program.c, launch.c, tensor.c and the host GEMM backend.
 * Two exceptions, on purpose: CLBlast enqueues its own kernels, and the
 * sentinels of verify/sentinel.c write and read buffer slack directly (an
 * instrument must not trip the faults a test armed). */
#ifndef CLRT_RUNTIME_H
#define CLRT_RUNTIME_H

#include "clrt.h"

#include <stdarg.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define CLRT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLRT_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------ error.c */

/* Format into a caller's `err, errlen` buffer (either may be NULL/0). */
void clrt__errbuf_set(char *err, size_t errlen, const char *fmt, ...) CLRT_PRINTF(3, 4);

/* Record `status` and a formatted message on ctx, pass it to the log
 * callback, and return `status`. */
clrt_status clrt__fail(clrt_ctx *ctx, clrt_status status, const char *fmt, ...)
    CLRT_PRINTF(3, 4);

/* Record a failed OpenCL call: "<call> failed: CL_NAME (code) in <detail>".
 * The status is clrt__status_from_cl(code). */
clrt_status clrt__fail_cl(clrt_ctx *ctx, cl_int code, const char *call, const char *fmt, ...)
    CLRT_PRINTF(4, 5);

/* The clrt status an OpenCL error code maps to: allocation failures ->
 * OUT_OF_MEMORY, build/compile/link failures -> BUILD, no device -> NO_DEVICE,
 * no compiler -> UNSUPPORTED, everything else -> OPENCL. */
clrt_status clrt__status_from_cl(cl_int code);

/* Send a diagnostic to the context's log callback, if any. */
void clrt__log(const clrt_ctx *ctx, clrt_log_level level, const char *fmt, ...) CLRT_PRINTF(3, 4);

/* Call an OpenCL function returning cl_int; on failure record it and jump. */
#define CLRT_CL_GOTO(ctx, status, expr, label)                                                 \
    do {                                                                                       \
        cl_int clrt_cl_rc_ = (expr);                                                           \
        if (clrt_cl_rc_ != CL_SUCCESS) {                                                       \
            (status) = clrt__fail_cl((ctx), clrt_cl_rc_, #expr, "%s", __func__);               \
            goto label;                                                                        \
        }                                                                                      \
    } while (0)

/* Return early on a non-OK status. */
#define CLRT_TRY(expr)                                                                         \
    do {                                                                                       \
        clrt_status clrt_try_st_ = (expr);                                                     \
        if (clrt_try_st_ != CLRT_OK)                                                           \
            return clrt_try_st_;                                                               \
    } while (0)

/* Format into `err, errlen` as clrt__errbuf_set does and return `status`:
 * the one error setter of functions that have no context yet. */
clrt_status clrt__errbuf_fail(char *err, size_t errlen, clrt_status status, const char *fmt, ...)
    CLRT_PRINTF(4, 5);

/* ------------------------------------------------------------ array.c */

/* Room for one more item in an array `items` of *cap items of `size` bytes,
 * `count` of them in use: `items` itself while there is room, else the
 * array moved to twice *cap items (`first` when *cap is 0), *cap updated.
 * NULL when memory or size_t runs out; `items` is then still valid and
 * *cap unchanged. */
void *clrt__array_room(void *items, size_t *cap, size_t count, size_t size, size_t first);

/* ------------------------------------------------------------- text.c */

/* A copy of s (NULL for NULL or no memory); the caller frees it. */
char *clrt__strdup(const char *s);

/* printf into a new string (NULL when out of memory); the caller frees it. */
char *clrt__strprintf(const char *fmt, ...) CLRT_PRINTF(1, 2);

/* errno `err` as text in buf (thread-safe, unlike strerror). */
void clrt__errno_text(int err, char *buf, size_t len);

/* -------------------------------------------------------------- rng.c */

/* splitmix64's finaliser, and one draw (state += the golden gamma, then
 * mixed): the library's only seeded generator. */
uint64_t clrt__splitmix64_mix(uint64_t z);
uint64_t clrt__splitmix64(uint64_t *state);

/* ----------------------------------------------------------- device.c */

/* Every device of every platform, in a new array the caller frees. */
clrt_status clrt__device_enumerate(clrt_device_info **list, size_t *count, char *err,
                                   size_t errlen);

/* Fill `out` from the OpenCL queries of one device. */
clrt_status clrt__device_query(cl_platform_id platform, cl_device_id device, size_t index,
                               clrt_device_info *out, char *err, size_t errlen);

/* The selector grammar over a given list (pure: unit-tested on fake lists).
 * CLRT_ERR_NO_DEVICE when nothing matches, CLRT_ERR_INVALID_ARG for a
 * malformed selector ("gpu:x"); `err` then lists the devices. */
clrt_status clrt__device_pick(const clrt_device_info *list, size_t count, const char *selector,
                              size_t *index, char *err, size_t errlen);

/* A CPU device (and not also a GPU): what the host GEMM backend, the CPU
 * GEMM kernels and the CLRT_DEVICE_CPU build define key on. */
bool clrt__device_is_cpu(const clrt_device_info *dev);

/* The OpenCL C version of a device whose CL_DEVICE_OPENCL_C_VERSION query
 * failed: "OpenCL C 1.0" for an OpenCL 1.0 device (which has no such
 * query), into buf; false for any other version (the failure stands). */
bool clrt__device_c_version_fallback(const char *device_version, char *buf, size_t len);

/* The device's OpenCL C version as numbers (1.0 when unreadable). */
void clrt__device_c_version(const clrt_device_info *dev, int *major, int *minor);

/* What clrt's kernels want and the device lacks, as text for clrt-info
 * (into buf, "" when nothing); returns how many things. */
size_t clrt__device_lacks(const clrt_device_info *dev, char *buf, size_t len);

/* Fill list[i].selector with the shortest selector that picks device i. */
void clrt__device_assign_selectors(clrt_device_info *list, size_t count);

/* One line per device ("  0  cpu  Portable Computing Language / pthread-..."). */
void clrt__device_list_text(const clrt_device_info *list, size_t count, char *buf, size_t len);

/* ------------------------------------------------------------ shape.c */

/* Validate rank and dims, computing the element count; the byte size must
 * fit in size_t. On failure writes the reason to `why`. */
clrt_status clrt__shape_numel(int rank, const size_t *shape, size_t *numel, char *why,
                              size_t whylen);

/* "[3, 4]" */
void clrt__shape_str(int rank, const size_t *shape, char *buf, size_t len);

/* ------------------------------------------------------------ cache.c */

/* The cache directory to use: `opt` ("off" disables), else $CLRT_CACHE_DIR,
 * else $XDG_CACHE_HOME/clrt, else $HOME/.cache/clrt. NULL when disabled or
 * when no home is known. The caller frees the string. */
char *clrt__cache_dir_resolve(const char *opt);

uint64_t clrt__hash64(const void *data, size_t len, uint64_t seed);

/* Little-endian integers in bytes, whatever the host's order (cache
 * entries, safetensors checkpoints). */
void clrt__put_le32(unsigned char *p, uint32_t v);
void clrt__put_le64(unsigned char *p, uint64_t v);
uint32_t clrt__get_le32(const unsigned char *p);
uint64_t clrt__get_le64(const unsigned char *p);

/* zlib's crc32 of `data` continued from `crc` (0 to start), for any
 * length (zlib itself takes uInt lengths). */
uint32_t clrt__crc32(uint32_t crc, const void *data, size_t len);

/* The cache folder `dir` as a descriptor (O_DIRECTORY), after creating its
 * missing levels with mode 0700 when `create`. A folder that is not the
 * user's or that its group or others can write is refused: -1 with
 * *refused true and errno EPERM. Other failures (missing, not a folder):
 * -1 with errno, *refused false. `why` (may be NULL) says which. */
int clrt__cache_dir_open(const char *dir, bool create, bool *refused, char *why, size_t whylen);

struct stat;

/* Open `name` in the folder `dirfd` (named `dir` in messages) with `flags`
 * (O_CREAT uses `mode`) plus O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC: a link is
 * not followed and a FIFO does not block. The fd, with *sb its fstat, only
 * for a regular file owned by the user that group and others cannot write;
 * else -1 with errno ENOENT (missing), ELOOP (a link), EPERM (refused) or
 * the open's own, and `why` saying which. */
int clrt__open_private(int dirfd, const char *dir, const char *name, int flags, unsigned mode,
                       struct stat *sb, char *why, size_t whylen);

/* Look up an entry. CLRT_OK: *bin (caller frees) holds the binary.
 * CLRT_ERR_IO: no entry. CLRT_ERR_FORMAT: an entry exists but is refused --
 * corrupt, truncated, of another format or key, not a regular file of the
 * user's closed to others, longer or shorter than its header says, or not
 * vouched for by the folder's secret (keyed BLAKE2b) -- and must not be used.
 * CLRT_ERR_UNSUPPORTED: the folder itself is refused (clrt__cache_dir_open).
 * `why` (may be NULL) says what was refused. Reads at most what the header
 * claims; never blocks on a FIFO. */
clrt_status clrt__cache_load(const char *dir, const char *key, unsigned char **bin,
                             size_t *bin_len, char *why, size_t whylen);

/* Store atomically (exclusive temp file, fsync, rename), creating `dir` with
 * mode 0700 and, on first use, its secret "mac-secret" (32 random bytes,
 * mode 0600). CLRT_ERR_UNSUPPORTED for a refused folder, CLRT_ERR_IO with
 * `why` for any other failure. */
clrt_status clrt__cache_store(const char *dir, const char *key, const unsigned char *bin,
                              size_t bin_len, char *why, size_t whylen);

/* Flags of clrt__write_file_atomic. Every temp file is created with
 * O_EXCL | O_NOFOLLOW, so a planted file or link at its name is never
 * written through; a taken name is passed over for a fresh one
 * "<path>.tmp.<pid>.<s>.<ns>.<try>". Before writing, temp files of `path`
 * whose process is gone ("<path>.tmp.<pid>[.<more>]", regular files of the
 * user's, kill(pid, 0) failing with ESRCH) are removed. */
enum {
    /* Temp name "<path>.tmp.<pid>.<seconds>.<nanoseconds>", so concurrent
     * writers in one process never share one; without it "<path>.tmp.<pid>",
     * and a stale one of this process is removed first. */
    CLRT__WRITE_UNIQUE_TMP = 1u << 0,
    /* After the rename, fsync the directory too (best effort). */
    CLRT__WRITE_SYNC_DIR = 1u << 1,
    /* Link the temp file to `path` instead of renaming it: an existing file
     * wins (CLRT_ERR_IO, step "link", EEXIST) and stays as it is. */
    CLRT__WRITE_NO_REPLACE = 1u << 2,
};

/* Where clrt__write_file_atomic failed, for the caller's message. */
typedef struct clrt__write_failure {
    const char *step; /* "create", "write", "fsync", "close", "rename" or "link" */
    int err;          /* errno of that step */
    char *tmp;        /* the temp file's name (removed by then); caller frees */
} clrt__write_failure;

/* Replace `path` whole or not at all: write parts[0..nparts) in order to a
 * temp file beside it (created with `mode`, less the umask), fsync, close,
 * rename over `path`. CLRT_OK; CLRT_ERR_OUT_OF_MEMORY; CLRT_ERR_IO with the
 * temp file removed and, when `failure` is not NULL, *failure filled in. */
clrt_status clrt__write_file_atomic(const char *path, const void *const *parts,
                                    const size_t *sizes, size_t nparts, unsigned mode,
                                    unsigned flags, clrt__write_failure *failure);

/* The same for `name` in the folder `dirfd`; failure->tmp is then the temp
 * file's name in that folder. */
clrt_status clrt__write_file_atomic_at(int dirfd, const char *name, const void *const *parts,
                                       const size_t *sizes, size_t nparts, unsigned mode,
                                       unsigned flags, clrt__write_failure *failure);

/* Tests only (tests/device/test_fault_walk.c): from the nth step on (n >= 1;
 * 0 disarms) of the clrt__write_file_atomic calls this thread makes, each
 * step (create, each part's write, fsync, close, rename) fails with errno
 * `err` (0: EIO) before its system call, as the system would fail it.
 * Thread-local rather than per context: the writer has no context. */
void clrt__fault_file_writes(unsigned long nth, int err);

/* Steps this thread's writes failed on purpose so far. */
unsigned long clrt__fault_file_writes_fired(void);

/* mkdir -p, each level it creates with mode 0700; 0 on success, else -1
 * with errno. */
int clrt__make_dirs(const char *dir);

/* The file an entry for `key` lives in: "<dir>/<hash>.clbin" (caller frees). */
char *clrt__cache_path(const char *dir, const char *key);

/* The disk cache applies to this device: on everywhere (PoCL included)
 * unless CLRT_CACHE=off. */
bool clrt__disk_cache_wanted(const clrt_device_info *dev);

/* ---------------------------------------------------- source_expand.c */

/* Expand `#include "name"` lines of `text` with files from `include_dir`,
 * recursively (depth 8), emitting #line markers so compiler messages keep
 * file names and lines. `<...>` includes are left alone. 0 on success, with
 * *out (NUL-terminated, caller frees); -1 with a message in `err`. */
int clrt__expand_includes(const char *file_name, const char *text, size_t len,
                          const char *include_dir, char **out, size_t *out_len, char *err,
                          size_t errlen);

/* Read a whole file; 0 on success (caller frees *data, NUL-terminated). */
int clrt__read_file(const char *path, char **data, size_t *len);

/* ---------------------------------------------------------- program.c */

typedef struct clrt_source {
    const char *name; /* "tensor" for cl/tensor.cl */
    const unsigned char *data;
    size_t len;
} clrt_source;

/* Generated at build time from the cl/ sources by tools/clrt-embed. */
extern const clrt_source clrt_embedded_sources[];
extern const size_t clrt_embedded_source_count;

/* The embedded source of program `name`; NULL if there is none. */
const clrt_source *clrt__embedded_source(const char *name);

typedef struct clrt_program_entry clrt_program_entry;

typedef struct clrt_program_cache {
    clrt_program_entry *entries;
    size_t count, cap;
} clrt_program_cache;

/* The compiler options clrt uses for a device and element type
 * (deterministic): "-cl-std=CL1.2 -D CLRT_HAS_FP16=0 -D CLRT_DEVICE_CPU=1
 * -D CLRT_SIMULATOR=0 -D CLRT_DTYPE_F32". */
void clrt__build_options(const clrt_device_info *dev, clrt_dtype dtype, char *buf, size_t len);

/* The kernel `kernel_name` of program `program_name` for float32, building
 * the program on first use. The kernel belongs to the context's cache. */
clrt_status clrt__kernel(clrt_ctx *ctx, const char *program_name, const char *kernel_name,
                         cl_kernel *out);

/* The same for a variant of the program compiled with extra `defines`
 * ("-D CLRT_GEMM_TM=4 ..."); each variant is built and cached on its own. */
clrt_status clrt__kernel_variant(clrt_ctx *ctx, const char *program_name, const char *defines,
                                 const char *kernel_name, cl_kernel *out);

/* The same for element type `dtype` (its -D CLRT_DTYPE_<name> is in the
 * options): the cache is keyed by (program, defines, dtype), so the variants
 * of one program for two types are two builds. CLRT_ERR_INVALID_ARG for a
 * dtype that names no type. */
clrt_status clrt__kernel_variant_typed(clrt_ctx *ctx, const char *program_name,
                                       const char *defines, clrt_dtype dtype,
                                       const char *kernel_name, cl_kernel *out);

/* clrt__kernel_variant (float32) with the kernel's work-group limit
 * (clrt__kernel_wg_limit), asked of the driver once per kernel and kept
 * with it: the GEMM plans every launch with it. */
clrt_status clrt__kernel_variant_limit(clrt_ctx *ctx, const char *program_name,
                                       const char *defines, clrt_dtype dtype,
                                       const char *kernel_name, cl_kernel *out,
                                       size_t *wg_limit);

/* Build program `program_name` with extra `defines` (NULL or "" for the
 * base program) for element type `dtype` unless the context has it
 * already; clrt_ctx_build_all and the bundle compiler. */
clrt_status clrt__program_prepare(clrt_ctx *ctx, const char *program_name, const char *defines,
                                  clrt_dtype dtype);

/* The context can have this program without compiling anything it should
 * not: always without a bundle, else when the bundle holds it. The GEMM
 * tuner asks before it times a tile. */
bool clrt__program_available(const clrt_ctx *ctx, const char *program_name, const char *defines,
                             clrt_dtype dtype);

void clrt__programs_release(clrt_program_cache *cache);

/* From now on each program of this context is built on its own, the base
 * programs too (program.c builds their plain builds as one): the bundle
 * compiler, whose bundle holds each program by name. */
void clrt__programs_separate(clrt_ctx *ctx);

/* Store in the disk cache the binaries of the programs this context built
 * from source and has not stored yet (program.c defers them off the path
 * to the first step); the context's end and clrt_ctx_build_all call it. */
void clrt__programs_store_pending(clrt_ctx *ctx);

/* What a program binary was built from, besides the device: the program
 * cache's key (name, defines, element type), the whole option string and
 * the hash of the source (the disk cache key's two FNV-1a hashes). */
typedef struct clrt__program_key {
    char name[64];
    char defines[256];
    clrt_dtype dtype;
    char options[512];
    uint64_t source_hash[2];
    uint64_t source_len;
} clrt__program_key;

/* The programs in the context's cache, in the order they were built. */
size_t clrt__program_count(const clrt_ctx *ctx);

/* Program i's key and its binary for the context's device (*bin: caller
 * frees), as clGetProgramInfo gives it. */
clrt_status clrt__program_export(clrt_ctx *ctx, size_t i, clrt__program_key *key,
                                 unsigned char **bin, size_t *bin_len);

/* Context creation with a bundle: every embedded program is in it as its
 * base variant, and every entry was built from this clrt's source of its
 * program with the options this context would use. CLRT_ERR_UNSUPPORTED
 * naming what differs or is missing. */
clrt_status clrt__programs_check_bundle(clrt_ctx *ctx, char *err, size_t errlen);

/* ----------------------------------------------------------- bundle.c */

/* A bundle: the pre-built programs of one device and driver in one file,
 * made by clrt-compile, for devices without a compiler (format in
 * bundle.c). A context given one loads every program from it with
 * clCreateProgramWithBinary and compiles nothing. */
typedef struct clrt__bundle clrt__bundle;

typedef struct clrt__bundle_entry {
    clrt__program_key key;
    const unsigned char *binary; /* in the bundle's memory */
    size_t binary_len;
} clrt__bundle_entry;

/* Write `entries` as a bundle for device `dev` at `path`, atomically (temp
 * file, fsync, rename). CLRT_ERR_IO or CLRT_ERR_OUT_OF_MEMORY with `err`. */
clrt_status clrt__bundle_write(const char *path, const clrt_device_info *dev,
                               const clrt__bundle_entry *entries, size_t count, char *err,
                               size_t errlen);

/* Every program in ctx's program cache as a bundle at `path`; *count: how
 * many. The message goes to ctx. */
clrt_status clrt__bundle_save(clrt_ctx *ctx, const char *path, size_t *count);

/* Read a bundle whole and check it: every length and offset against the
 * file's size, every checksum, every field. CLRT_ERR_IO (cannot read),
 * CLRT_ERR_FORMAT (corrupt: the path and the problem in `err`),
 * CLRT_ERR_OUT_OF_MEMORY. */
clrt_status clrt__bundle_load(const char *path, clrt__bundle **out, char *err, size_t errlen);

void clrt__bundle_free(clrt__bundle *b);

/* CLRT_OK when `b` was made for this device, driver, platform and clrt;
 * else CLRT_ERR_UNSUPPORTED with both identities in `err`. */
clrt_status clrt__bundle_check_device(const clrt__bundle *b, const clrt_device_info *dev, char *err,
                                      size_t errlen);

/* The entry keyed (name, defines, dtype), or NULL. */
const clrt__bundle_entry *clrt__bundle_find(const clrt__bundle *b, const char *name,
                                            const char *defines, clrt_dtype dtype);

size_t clrt__bundle_count(const clrt__bundle *b);
const clrt__bundle_entry *clrt__bundle_at(const clrt__bundle *b, size_t i);
const char *clrt__bundle_path(const clrt__bundle *b);

/* ------------------------------------------------------------- pool.c */

typedef struct clrt_buffer {
    cl_mem mem;        /* NULL for an empty tensor */
    size_t capacity;   /* bytes allocated (a size class), 0 for external buffers */
    int refs;          /* tensors (views included) using it */
    bool external;     /* wrapped with clrt_tensor_from_cl: never pooled */
} clrt_buffer;

typedef struct clrt_pool_slot {
    cl_mem mem;
    size_t capacity;
} clrt_pool_slot;

typedef struct clrt_pool {
    clrt_pool_slot *free;
    size_t count, cap;
} clrt_pool;

/* The capacity a request of `bytes` is rounded up to (quarter-power-of-two
 * classes: at most 25% waste, few distinct sizes to reuse). */
size_t clrt__pool_size_class(size_t bytes);

/* The capacity this context allocates for a request of `bytes`: the size
 * class, or the exact size on a simulator. */
size_t clrt__pool_capacity(const clrt_ctx *ctx, size_t bytes);

/* A buffer of at least `bytes`, from the pool or newly allocated. */
clrt_status clrt__pool_acquire(clrt_ctx *ctx, size_t bytes, clrt_buffer **out);

/* Drop one reference; the last returns the memory to the pool. */
void clrt__pool_release(clrt_ctx *ctx, clrt_buffer *buf);

void clrt__pool_trim(clrt_ctx *ctx);

/* --------------------------------------------------------- cl_calls.c */

/* Fault injection: a test arms a kind of call on one context, and from the
 * nth call of that kind on (counted from the arming) each fails with the
 * armed OpenCL error before reaching the driver, as the driver would fail,
 * until it is disarmed. Whole programs arm it from the environment, read
 * once when a context is made:
 *
 *   CLRT_FAULT=kind:n[:code][,kind:n[:code]...]
 *
 * kind: alloc (clCreateBuffer), build (clBuildProgram, of a source or a
 * cached binary), enqueue (clEnqueueNDRangeKernel), transfer
 * (clEnqueueWriteBuffer, ReadBuffer, CopyBuffer) or map
 * (clEnqueueMapBuffer); n >= 1; code a negative OpenCL error, by default
 * CL_MEM_OBJECT_ALLOCATION_FAILURE, CL_BUILD_PROGRAM_FAILURE,
 * CL_OUT_OF_RESOURCES (enqueue, transfer) and CL_MAP_FAILURE.
 * "CLRT_FAULT=alloc:3": the third buffer allocation and all later ones
 * fail. A malformed value fails context creation with
 * CLRT_ERR_INVALID_ARG. Unmaps are never failed. */
typedef enum clrt__fault_kind {
    CLRT__FAULT_ALLOC,
    CLRT__FAULT_BUILD,
    CLRT__FAULT_ENQUEUE,
    CLRT__FAULT_TRANSFER,
    CLRT__FAULT_MAP,
    CLRT__FAULT_KINDS
} clrt__fault_kind;

typedef struct clrt__fault {
    unsigned long nth;   /* 0: disarmed; else the first call that fails */
    unsigned long calls; /* calls of this kind since it was armed */
    unsigned long fired; /* calls failed on purpose, over the context's life */
    cl_int error;
} clrt__fault;

typedef struct clrt__faults {
    bool armed; /* some kind is: the wrappers' one test when none is */
    clrt__fault kind[CLRT__FAULT_KINDS];
} clrt__faults;

/* Arm `kind` (nth >= 1; nth 0 disarms), restarting its count; `error`
 * CL_SUCCESS takes the kind's default. */
void clrt__fault_arm(clrt_ctx *ctx, clrt__fault_kind kind, unsigned long nth, cl_int error);
void clrt__fault_disarm(clrt_ctx *ctx, clrt__fault_kind kind);

/* How many calls of `kind` were failed on purpose. */
unsigned long clrt__fault_fired(const clrt_ctx *ctx, clrt__fault_kind kind);

/* Arm from $CLRT_FAULT (context creation: the message goes to `err`). */
clrt_status clrt__faults_from_env(clrt_ctx *ctx, char *err, size_t errlen);

/* The wrapped calls: the driver's result, or the injected error with
 * nothing done (*out NULL, no event). The transfers and the copy start at
 * offset 0; maps block. */
cl_int clrt__cl_create_buffer(clrt_ctx *ctx, size_t bytes, cl_mem *out); /* read-write */
/* A read-write buffer the driver allocates in host memory it can reach
 * directly (CL_MEM_ALLOC_HOST_PTR: pinned, on a GPU), for staging uploads
 * through its mapping; counted as an alloc for fault injection. */
cl_int clrt__cl_create_pinned(clrt_ctx *ctx, size_t bytes, cl_mem *out);
cl_int clrt__cl_build(clrt_ctx *ctx, cl_program prog, const char *options);
cl_int clrt__cl_enqueue_kernel(clrt_ctx *ctx, cl_kernel kernel, cl_uint dims,
                               const size_t *global, const size_t *local, cl_event *ev);
cl_int clrt__cl_enqueue_write(clrt_ctx *ctx, cl_mem mem, cl_bool blocking, size_t bytes,
                              const void *src, cl_event *ev);
cl_int clrt__cl_enqueue_read(clrt_ctx *ctx, cl_mem mem, cl_bool blocking, size_t bytes, void *dst,
                             cl_event *ev);
cl_int clrt__cl_enqueue_copy(clrt_ctx *ctx, cl_mem src, cl_mem dst, size_t bytes);
void *clrt__cl_map(clrt_ctx *ctx, cl_mem mem, cl_map_flags flags, size_t bytes, cl_int *rc);
cl_int clrt__cl_unmap(clrt_ctx *ctx, cl_mem mem, void *p);

/* ---------------------------------------------------------- context.c */

/* State a layer above keeps per context (the GEMM tuner's choices): the
 * context frees it with `release` when it is destroyed and knows nothing
 * else of it, so the runtime never calls up into the layers above. */
typedef enum clrt__layer_state_id {
    CLRT__STATE_GEMM_TUNING,
    CLRT__STATE_COUNT
} clrt__layer_state_id;

typedef struct clrt__layer_state {
    void *data;
    void (*release)(void *data);
} clrt__layer_state;

/* Objects of the layers above made on a context, counted by their create
 * and destroy (tensors are counted in mem.live_tensors) so clrt_ctx_destroy
 * refuses while one lives instead of leaving it a dangling context. */
typedef enum clrt__live_kind {
    CLRT__LIVE_LOADER,
    CLRT__LIVE_MODEL,
    CLRT__LIVE_OPTIM,
    CLRT__LIVE_KINDS
} clrt__live_kind;

struct clrt_ctx {
    clrt_device_info dev;
    cl_context context;
    cl_command_queue queue;
    bool profiling;

    char *kernel_dir;   /* NULL: embedded sources */
    char *cache_dir;    /* NULL: disk cache off */
    clrt_log_fn log;
    void *log_user;

    char *errmsg;       /* heap, grows as needed */
    size_t errmsg_cap;
    char errmsg_fallback[256]; /* used when the heap message cannot be grown */
    cl_int cl_error;
    unsigned long errmsg_serial; /* counts messages set: tells whether a callee set one */

    cl_uint float_vector_width; /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT */
    clrt_gemm_backend gemm_backend; /* backend.c */
    int gemm_tile;      /* builtin configuration forced by tests; -1: the device's default */
    int col_sum_groups; /* tests: 1 forces the work-group column sums, 0 the per-column; -1 */
    bool ce_rows_apart; /* tests: cross-entropy as row losses, then their sum (two launches) */
    int pinned_staging; /* tests: 1 forces the loader's pinned staging, 0 forbids it; -1: where
                         * the device does not share host memory (host_unified false) */
    bool host_unified;  /* CL_DEVICE_HOST_UNIFIED_MEMORY (true when the query fails) */
    clrt_dtype precision; /* clrt_ctx_options.precision: a model's activation storage */
    bool tuning;        /* the GEMM tuner is timing candidates: their failures log at DEBUG */
    bool gemm_tune_at_once; /* tests, clrt-bench gemm: a new GEMM shape class times its
                             * candidates on its first call, not once it pays (gemm_tune.c) */
    double gemm_tune_cost_s; /* tests: what timing a new class is reckoned to cost, in
                              * seconds, against its untuned time; < 0: as measured */
    struct clrt_profile *profile; /* profile.c: kernel times; NULL until the first record */
    clrt__layer_state layer_state[CLRT__STATE_COUNT];
    size_t live[CLRT__LIVE_KINDS]; /* loaders, models, optimizers not yet destroyed */
    clrt__faults faults; /* cl_calls.c: nothing armed unless a test or $CLRT_FAULT arms it */

    clrt_pool pool;
    clrt_memory_stats mem;
    clrt_program_cache programs;
    clrt_program_stats prog_stats;
    bool programs_separate; /* clrt__programs_separate: no base group */

    clrt__bundle *bundle; /* bundle.c: NULL, or every program comes from it */
    size_t bundle_loads;  /* programs loaded from the bundle */
};

/* ---------------------------------------------------------- backend.c */

/* Resolve the context's GEMM backend from the option value or $CLRT_GEMM
 * (context creation: the message goes to `err`). */
clrt_status clrt__gemm_backend_resolve(clrt_ctx *ctx, int option, char *err, size_t errlen);

/* NULL when backend `b` can run on this context's device, else why not. */
const char *clrt__gemm_backend_unavailable(const clrt_ctx *ctx, clrt_gemm_backend b);

/* ----------------------------------------------------------- launch.c */

/* Set kernel arguments 0.. from a type string: 'm' tensor (its cl_mem),
 * 'f' float (passed as double), 'i' int, 'u' unsigned, 'l' size_t as
 * cl_ulong, 'L' local memory of size_t bytes. */
clrt_status clrt__set_args(clrt_ctx *ctx, cl_kernel kernel, const char *what, const char *types,
                           ...);

/* The same from argument `first` on: kernels whose arguments repeat in
 * slots (the multi-tensor optimizers) set one slot at a time. */
clrt_status clrt__set_args_from(clrt_ctx *ctx, cl_kernel kernel, const char *what, unsigned first,
                                const char *types, ...);

/* The largest work-group of a 1-D launch on a CPU device (PoCL allows 4096). */
enum { CLRT_WG_1D_CPU = 4096 };

/* The sizes clrt__launch_1d enqueues `kernel` over n work-items with: the
 * global size rounded up to a multiple of 64 and *local 0 (the driver's
 * choice); on a CPU device one work-group size per kernel whatever n, and
 * the global size whole groups of it (launch.c says why). */
clrt_status clrt__launch_1d_size(clrt_ctx *ctx, cl_kernel kernel, size_t n, const char *what,
                                 size_t *global, size_t *local);

/* Enqueue a 1-D kernel over n work-items (clrt__launch_1d_size). */
clrt_status clrt__launch_1d(clrt_ctx *ctx, cl_kernel kernel, size_t n, const char *what);

/* The sizes clrt__launch_2d enqueues with: l0, l1 non-zero, the global size
 * rounded up to multiples of them; 0, the driver's choice (local 0, 0),
 * except on a CPU device (not a simulator), where the work-group depends on
 * the kernel and g0 alone (launch.c says why) and the grid is padded to it:
 * a kernel launched with 0, 0 must check its range. */
clrt_status clrt__launch_2d_size(clrt_ctx *ctx, cl_kernel kernel, size_t g0, size_t g1,
                                 size_t l0, size_t l1, const char *what, size_t global[2],
                                 size_t local[2]);

/* Enqueue a 2-D kernel over g0 x g1 work-items (clrt__launch_2d_size). */
clrt_status clrt__launch_2d(clrt_ctx *ctx, cl_kernel kernel, size_t g0, size_t g1, size_t l0,
                            size_t l1, const char *what);

/* The most work-items a work-group of `k` may have here: its
 * CL_KERNEL_WORK_GROUP_SIZE, no more than the device's maximum. */
clrt_status clrt__kernel_wg_limit(clrt_ctx *ctx, cl_kernel k, const char *what, size_t *n);

/* A work-group size for a tree-reducing kernel `k`: the power of two
 * covering `cover`, at most `max` (a power of two), halved while the kernel
 * or the device allows less. On any usual device it depends on `cover` and
 * `max` alone, so a reduction's summation order (and result) does too. */
clrt_status clrt__pow2_group_size(clrt_ctx *ctx, cl_kernel k, size_t cover, size_t max,
                                  const char *what, size_t *wg);

/* ---------------------------------------------------------- profile.c */

/* Keep the event of a launch of kernel `name` (on a profiling queue) for
 * clrt_ctx_kernel_times; takes ownership of `ev`. Never fails: when memory
 * runs out the event is released and the launch goes uncounted. */
void clrt__profile_record(clrt_ctx *ctx, const char *name, cl_event ev);

/* The same, named by the kernel's CL_KERNEL_FUNCTION_NAME. */
void clrt__profile_kernel(clrt_ctx *ctx, cl_kernel kernel, cl_event ev);

/* Release the pending events and the totals (context destruction). */
void clrt__profile_release(clrt_ctx *ctx);

/* ----------------------------------------------------------- tensor.c */

struct clrt_tensor {
    clrt_ctx *ctx;
    clrt_buffer *buf;
    clrt_dtype dtype;
    int rank;
    size_t shape[CLRT_MAX_RANK];
    size_t numel;
};

/* The name the first tests of the dtype seam used for CLRT_F16. */
#define CLRT__F16 CLRT_F16

/* The bytes of one element of `dtype`; 0 for a value that names no type. */
size_t clrt__dtype_size(clrt_dtype dtype);

/* The type's name, "F32", as in its build define CLRT_DTYPE_F32; NULL for
 * a value that names no type. */
const char *clrt__dtype_name(clrt_dtype dtype);

/* The bytes of t's elements (numel times the element size): transfers,
 * copies, maps and buffer requests use it, never numel * sizeof(float). */
size_t clrt__tensor_bytes(const clrt_tensor *t);

/* ---------------------------------------------------------- storage.c */

/* A float's bit pattern, and the float of a bit pattern. */
uint32_t clrt__f32_bits(float v);
float clrt__f32_from_bits(uint32_t u);

/* float32 to and from fp16 / bf16 bits, rounding to nearest even as the
 * kernels' stores do (cl/storage.h); a NaN stays a quiet NaN. */
uint16_t clrt__bf16_from_f32(float v);
float clrt__bf16_to_f32(uint16_t h);
uint16_t clrt__f16_from_f32(float v);
float clrt__f16_to_f32(uint16_t h);

/* n floats to n elements of `dtype` and back (host memory). */
void clrt__to_storage(clrt_dtype dtype, const float *src, void *dst, size_t n);
void clrt__from_storage(clrt_dtype dtype, const void *src, float *dst, size_t n);

/* `defines` followed by "-D CLRT_ST_<letter>=<code>" for each operand that
 * is not float32, the operands ops[0..n) being A, B, C, D in that order (a
 * NULL one is float32). Returns the first 16-bit operand's type, else
 * CLRT_F32: the element type the program is keyed and built for. */
clrt_dtype clrt__storage_defines(const char *defines, const clrt_tensor *const *ops, size_t n,
                                 char *buf, size_t len);

/* Kernel `kernel_name` of `program_name` + `defines` built for the storage
 * of its tensor operands ops[0..n) (cl/storage.h): an all-float32 call gets
 * the plain build. */
clrt_status clrt__storage_kernel(clrt_ctx *ctx, const char *program_name, const char *defines,
                                 const char *kernel_name, const clrt_tensor *const *ops, size_t n,
                                 cl_kernel *out);

#endif /* CLRT_RUNTIME_H */
