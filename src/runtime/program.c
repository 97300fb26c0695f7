/* Kernel sources (embedded or from CLRT_KERNEL_DIR), build options per
 * device and element type, and the program/kernel cache: in memory per
 * context, keyed by (program, defines, element type), and on disk through
 * cache.c for devices that profit from it. A context with a bundle
 * (bundle.c) takes every program from it and compiles nothing. The plain
 * builds of the base programs are one program (BASE_GROUP). */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct kernel_slot {
    char name[64];
    cl_kernel kernel;
    size_t wg_limit; /* clrt__kernel_wg_limit, asked once; 0 until first asked */
} kernel_slot;

struct clrt_program_entry {
    char name[64];
    char defines[256]; /* extra options of this variant ("-D TILE=4"), may be "" */
    clrt_dtype dtype;  /* the element type it is built for (-D CLRT_DTYPE_F32) */
    char options[512]; /* the whole option string, and the source's hash: for a bundle */
    uint64_t source_hash[2], source_len;
    cl_program program;
    char *pending_key; /* its disk cache key while its binary waits to be stored, else NULL */
    kernel_slot *kernels;
    size_t nkernels;
};

void clrt__build_options(const clrt_device_info *dev, clrt_dtype dtype, char *buf, size_t len)
{
    int major, minor;
    clrt__device_c_version(dev, &major, &minor);
    bool cl12 = major > 1 || (major == 1 && minor >= 2);
    bool cpu = clrt__device_is_cpu(dev);
    const char *type = clrt__dtype_name(dtype);
    snprintf(buf, len,
             "%s-D CLRT_HAS_FP16=%d -D CLRT_DEVICE_CPU=%d -D CLRT_SIMULATOR=%d -D CLRT_DTYPE_%s",
             cl12 ? "-cl-std=CL1.2 " : "", dev->has_fp16 ? 1 : 0, cpu ? 1 : 0,
             dev->is_simulator ? 1 : 0, type ? type : "F32");
}

/* The base programs whose plain float32 builds (no defines) are one program
 * when built from the embedded sources: each build parses clang's OpenCL
 * header again and links the kernel library, about 0.1 s a program on
 * PoCL, where the five together take 0.04 s more than one. Not gemm.cl,
 * always built per tile and transpose pair, nor activation.cl, whose
 * plain build only softmax uses (a training step takes its per-activation
 * builds): with it, storing the group's binary (which compiles every
 * kernel in it on PoCL) took 0.5 s more. With CLRT_KERNEL_DIR,
 * a bundle or clrt__programs_separate, each is its own program. */
static const char *const base_group[] = {"tensor", "elementwise", "linear", "loss", "optim"};
enum { BASE_GROUP_COUNT = sizeof base_group / sizeof base_group[0] };
static const char BASE_GROUP[] = "+base"; /* its entry's name: no file has it */

static bool in_base_group(const char *name)
{
    for (size_t i = 0; i < BASE_GROUP_COUNT; i++)
        if (strcmp(base_group[i], name) == 0)
            return true;
    return false;
}

/* Whether this request is served by the base group's program. */
static bool grouped(const clrt_ctx *ctx, const char *name, const char *defines, clrt_dtype dtype)
{
    return !ctx->bundle && !ctx->kernel_dir && !ctx->programs_separate && !defines[0] &&
           dtype == CLRT_F32 && in_base_group(name);
}

/* How messages name a program: "tensor.cl", or the group's files. */
static void program_label(const char *name, char *buf, size_t len)
{
    if (strcmp(name, BASE_GROUP) != 0) {
        snprintf(buf, len, "%s.cl", name);
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < BASE_GROUP_COUNT && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s.cl", i ? ", " : "", base_group[i]);
    if (used < len)
        snprintf(buf + used, len - used, " (one program)");
}

void clrt__programs_separate(clrt_ctx *ctx)
{
    ctx->programs_separate = true;
}

const clrt_source *clrt__embedded_source(const char *name)
{
    for (size_t i = 0; i < clrt_embedded_source_count; i++)
        if (strcmp(clrt_embedded_sources[i].name, name) == 0)
            return &clrt_embedded_sources[i];
    return NULL;
}

/* The base group's source: its members' embedded sources one after the
 * other (their shared headers have include guards). */
static clrt_status group_source(clrt_ctx *ctx, const char **src, size_t *len)
{
    const clrt_source *member[BASE_GROUP_COUNT];
    size_t total = 0;
    for (size_t i = 0; i < BASE_GROUP_COUNT; i++) {
        member[i] = clrt__embedded_source(base_group[i]);
        if (!member[i])
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "no kernel program named \"%s\"",
                              base_group[i]);
        total += member[i]->len + 1;
    }
    char *text = malloc(total + 1);
    if (!text)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for kernel sources");
    size_t used = 0;
    for (size_t i = 0; i < BASE_GROUP_COUNT; i++) {
        memcpy(text + used, member[i]->data, member[i]->len);
        used += member[i]->len;
        text[used++] = '\n';
    }
    text[used] = '\0';
    *src = text;
    *len = used;
    return CLRT_OK;
}

/* The source of program `name`, include-expanded, NUL-terminated; *owned
 * tells whether the caller frees it. */
static clrt_status program_source(clrt_ctx *ctx, const char *name, const char **src,
                                  size_t *len, bool *owned)
{
    *owned = false;
    if (strcmp(name, BASE_GROUP) == 0) {
        CLRT_TRY(group_source(ctx, src, len));
        *owned = true;
        return CLRT_OK;
    }
    if (!ctx->kernel_dir) {
        const clrt_source *e = clrt__embedded_source(name);
        if (!e)
            return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "no kernel program named \"%s\"", name);
        *src = (const char *)e->data;
        *len = e->len;
        return CLRT_OK;
    }
    char path[4096], file[128];
    snprintf(file, sizeof file, "%s.cl", name);
    snprintf(path, sizeof path, "%s/%s", ctx->kernel_dir, file);
    char *raw;
    size_t raw_len;
    if (clrt__read_file(path, &raw, &raw_len) != 0)
        return clrt__fail(ctx, CLRT_ERR_IO, "cannot read kernel source %s (CLRT_KERNEL_DIR)", path);
    char *text, why[512] = "";
    int rc = clrt__expand_includes(file, raw, raw_len, ctx->kernel_dir, &text, len, why, sizeof why);
    free(raw);
    if (rc != 0)
        return clrt__fail(ctx, CLRT_ERR_IO, "kernel source %s: %s", path, why);
    *src = text;
    *owned = true;
    return CLRT_OK;
}

/* Everything a compiled binary depends on, as text: the disk cache key. */
static char *cache_key(const clrt_ctx *ctx, const char *src, size_t len, const char *options)
{
    const clrt_device_info *d = &ctx->dev;
    const char *fmt = "clrt %s\nsource %016llx%016llx %zu\noptions %s\nplatform %s\n"
                      "platform-version %s\ndevice %s\ndriver %s\n";
    unsigned long long h1 = clrt__hash64(src, len, 0), h2 = clrt__hash64(src, len, 0x51ed27ull);
    int n = snprintf(NULL, 0, fmt, CLRT_VERSION_STRING, h1, h2, len, options, d->platform,
                     d->platform_version, d->name, d->driver_version);
    char *key = n > 0 ? malloc((size_t)n + 1) : NULL;
    if (key)
        snprintf(key, (size_t)n + 1, fmt, CLRT_VERSION_STRING, h1, h2, len, options, d->platform,
                 d->platform_version, d->name, d->driver_version);
    return key;
}

static clrt_status build_failure(clrt_ctx *ctx, cl_program prog, cl_int rc, const char *name,
                                 const char *options)
{
    size_t size = 0;
    char *log = NULL;
    if (clGetProgramBuildInfo(prog, ctx->dev.device_id, CL_PROGRAM_BUILD_LOG, 0, NULL, &size) ==
            CL_SUCCESS &&
        (log = malloc(size + 1)) != NULL) {
        if (clGetProgramBuildInfo(prog, ctx->dev.device_id, CL_PROGRAM_BUILD_LOG, size, log,
                                  NULL) != CL_SUCCESS)
            size = 0;
        log[size] = '\0';
    }
    ctx->cl_error = rc;
    char label[256];
    program_label(name, label, sizeof label);
    clrt_status st = clrt__fail(ctx, CLRT_ERR_BUILD,
                                "clBuildProgram failed: %s (%d) building %s for %s with "
                                "options \"%s\"; build log:\n%s",
                                clrt_cl_error_str(rc), (int)rc, label, ctx->dev.name, options,
                                log && log[0] ? log : "(the compiler gave no log)");
    free(log);
    return st;
}

/* The cache folder is refused (not the user's, or writable by others): the
 * disk cache, and the GEMM tuning record beside it, are off for the rest of
 * this context's life, said once. */
static void cache_folder_refused(clrt_ctx *ctx, const char *why)
{
    ctx->prog_stats.disk_rejects++;
    clrt__log(ctx, CLRT_LOG_WARN, "program cache off: %s", why);
    free(ctx->cache_dir);
    ctx->cache_dir = NULL;
}

/* Try the disk cache: a program built from a stored binary, or NULL. Each
 * refused entry is counted, logged and rebuilt from source. */
static cl_program load_cached(clrt_ctx *ctx, const char *key, const char *options)
{
    unsigned char *bin;
    size_t bin_len;
    char why[1024];
    clrt_status st = clrt__cache_load(ctx->cache_dir, key, &bin, &bin_len, why, sizeof why);
    if (st == CLRT_ERR_UNSUPPORTED)
        cache_folder_refused(ctx, why);
    if (st == CLRT_ERR_FORMAT) {
        ctx->prog_stats.disk_rejects++;
        clrt__log(ctx, CLRT_LOG_WARN, "cached binary refused: %s; rebuilding", why);
    }
    if (st != CLRT_OK)
        return NULL;
    const unsigned char *bins[1] = {bin};
    cl_int bin_status = CL_SUCCESS, rc = CL_SUCCESS;
    cl_program prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->dev.device_id, &bin_len,
                                                bins, &bin_status, &rc);
    free(bin);
    if (rc == CL_SUCCESS && bin_status == CL_SUCCESS)
        rc = clrt__cl_build(ctx, prog, options);
    if (rc != CL_SUCCESS || bin_status != CL_SUCCESS) {
        /* The driver refused a binary that passed our checks: rebuild. */
        if (prog)
            clReleaseProgram(prog);
        ctx->prog_stats.disk_rejects++;
        clrt__log(ctx, CLRT_LOG_WARN, "cached binary refused by the driver (%s); rebuilding",
                  clrt_cl_error_str(rc != CL_SUCCESS ? rc : bin_status));
        return NULL;
    }
    ctx->prog_stats.disk_hits++;
    return prog;
}

static void store_cached(clrt_ctx *ctx, cl_program prog, const char *key)
{
    size_t bin_len = 0;
    if (!ctx->cache_dir || /* turned off by a refused folder */
        clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bin_len, &bin_len, NULL) !=
            CL_SUCCESS ||
        bin_len == 0)
        return;
    unsigned char *bin = malloc(bin_len);
    if (!bin)
        return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS) {
        char why[1024];
        clrt_status st = clrt__cache_store(ctx->cache_dir, key, bin, bin_len, why, sizeof why);
        if (st == CLRT_OK)
            ctx->prog_stats.disk_writes++;
        else if (st == CLRT_ERR_UNSUPPORTED)
            cache_folder_refused(ctx, why);
        else
            clrt__log(ctx, CLRT_LOG_WARN, "could not write the program cache in %s: %s",
                      ctx->cache_dir, why[0] ? why : clrt_status_str(st));
    }
    free(bin);
}

/* The options a variant is built with: the device's, then its defines. */
static void variant_options(const clrt_ctx *ctx, const char *defines, clrt_dtype dtype,
                            char *options, size_t len)
{
    clrt__build_options(&ctx->dev, dtype, options, len);
    if (defines[0]) {
        size_t used = strlen(options);
        snprintf(options + used, len - used, " %s", defines);
    }
}

static void hash_source(const char *src, size_t len, clrt__program_key *k)
{
    /* The disk cache key's two hashes. */
    k->source_hash[0] = clrt__hash64(src, len, 0);
    k->source_hash[1] = clrt__hash64(src, len, 0x51ed27ull);
    k->source_len = len;
}

/* What makes a bundled binary unusable for key `k`, or NULL: options or
 * source other than this context's. */
static const char *bundled_mismatch(const clrt__program_key *have, const clrt__program_key *k)
{
    if (strcmp(have->options, k->options) != 0)
        return "options";
    if (have->source_len != k->source_len || have->source_hash[0] != k->source_hash[0] ||
        have->source_hash[1] != k->source_hash[1])
        return "source";
    return NULL;
}

/* Program `k` from the context's bundle, through the driver's binary
 * loader: nothing is compiled, and a variant missing from the bundle is
 * CLRT_ERR_UNSUPPORTED naming it. */
static clrt_status load_bundled(clrt_ctx *ctx, const clrt__program_key *k, cl_program *out)
{
    *out = NULL;
    const char *path = clrt__bundle_path(ctx->bundle);
    const clrt__bundle_entry *e = clrt__bundle_find(ctx->bundle, k->name, k->defines, k->dtype);
    if (!e)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                          "program %s.cl with defines \"%s\" (%s) is not in bundle %s, and a "
                          "context with a bundle compiles nothing: make the bundle with this "
                          "clrt's clrt-compile",
                          k->name, k->defines, clrt__dtype_name(k->dtype), path);
    const char *what = bundled_mismatch(&e->key, k);
    if (what && strcmp(what, "options") == 0)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                          "program %s.cl with defines \"%s\" in bundle %s was built with the "
                          "options \"%s\", this context's are \"%s\": make the bundle with "
                          "this clrt's clrt-compile",
                          k->name, k->defines, path, e->key.options, k->options);
    if (what)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                          "program %s.cl with defines \"%s\" in bundle %s was built from "
                          "another %s.cl than this context's (%s): make the bundle with this "
                          "clrt's clrt-compile",
                          k->name, k->defines, path, k->name,
                          ctx->kernel_dir ? "CLRT_KERNEL_DIR is set" : "another clrt build");
    const unsigned char *bins[1] = {e->binary};
    size_t bin_len = e->binary_len;
    cl_int bin_status = CL_SUCCESS, rc = CL_SUCCESS;
    cl_program prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->dev.device_id, &bin_len,
                                                bins, &bin_status, &rc);
    if (rc == CL_SUCCESS && bin_status != CL_SUCCESS)
        rc = bin_status;
    if (rc != CL_SUCCESS) {
        if (prog)
            clReleaseProgram(prog);
        return clrt__fail_cl(ctx, rc, "clCreateProgramWithBinary",
                             "program %s.cl with defines \"%s\" from bundle %s", k->name,
                             k->defines, path);
    }
    rc = clrt__cl_build(ctx, prog, k->options);
    if (rc != CL_SUCCESS) {
        clrt_status st = build_failure(ctx, prog, rc, k->name, k->options);
        clReleaseProgram(prog);
        return st;
    }
    ctx->bundle_loads++;
    clrt__log(ctx, CLRT_LOG_DEBUG, "loaded %s.cl \"%s\" from bundle %s", k->name, k->defines, path);
    *out = prog;
    return CLRT_OK;
}

/* A program built from source goes to the disk cache later, not here:
 * asking PoCL for a binary compiles every kernel of the program a second
 * time (0.15-1.1 s a program on this machine, as long as the build), so
 * storing at once doubled the cold start. *pending gets the key for
 * clrt__programs_store_pending(), which the context's end and
 * clrt_ctx_build_all() call. */
static clrt_status build_program(clrt_ctx *ctx, clrt__program_key *k, cl_program *out,
                                 char **pending)
{
    *out = NULL;
    *pending = NULL;
    const char *name = k->name;
    const char *src;
    size_t len;
    bool owned;
    CLRT_TRY(program_source(ctx, name, &src, &len, &owned));
    const char *options = k->options;
    variant_options(ctx, k->defines, k->dtype, k->options, sizeof k->options);
    hash_source(src, len, k);

    clrt_status st = CLRT_OK;
    char *key = NULL;
    cl_program prog = NULL;
    if (ctx->bundle) {
        st = load_bundled(ctx, k, &prog);
        if (st == CLRT_OK)
            *out = prog;
        goto done;
    }
    if (ctx->cache_dir && clrt__disk_cache_wanted(&ctx->dev)) {
        key = cache_key(ctx, src, len, options);
        if (key)
            prog = load_cached(ctx, key, options);
    }
    if (!prog && !ctx->dev.compiler_available) {
        /* Context creation refuses such a device without a bundle: a
         * guard, so that its compiler is never asked for. */
        char label[256];
        program_label(name, label, sizeof label);
        st = clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                        "device %s has no compiler and no pre-built binary of %s was found: "
                        "give the context a bundle (clrt-compile)",
                        ctx->dev.name, label);
        goto done;
    }
    if (!prog) {
        cl_int rc;
        prog = clCreateProgramWithSource(ctx->context, 1, &src, &len, &rc);
        if (rc != CL_SUCCESS) {
            st = clrt__fail_cl(ctx, rc, "clCreateProgramWithSource", "program %s", name);
            goto done;
        }
        rc = clrt__cl_build(ctx, prog, options);
        if (rc != CL_SUCCESS) {
            st = build_failure(ctx, prog, rc, name, options);
            clReleaseProgram(prog);
            prog = NULL;
            goto done;
        }
        ctx->prog_stats.builds++;
        char label[256];
        program_label(name, label, sizeof label);
        clrt__log(ctx, CLRT_LOG_DEBUG, "built %s for %s", label, ctx->dev.name);
        *pending = key;
        key = NULL;
    }
    *out = prog;
done:
    free(key);
    if (owned)
        free((char *)src);
    return st;
}

static clrt_status program_entry(clrt_ctx *ctx, const char *name, const char *defines,
                                 clrt_dtype dtype, clrt_program_entry **out)
{
    clrt_program_cache *c = &ctx->programs;
    if (grouped(ctx, name, defines, dtype))
        name = BASE_GROUP;
    for (size_t i = 0; i < c->count; i++)
        if (c->entries[i].dtype == dtype && strcmp(c->entries[i].name, name) == 0 &&
            strcmp(c->entries[i].defines, defines) == 0) {
            *out = &c->entries[i];
            return CLRT_OK;
        }
    if (strlen(name) >= sizeof c->entries[0].name ||
        strlen(defines) >= sizeof c->entries[0].defines)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "kernel program name \"%s\" or its options \"%s\" are too long", name,
                          defines);
    if (!clrt__dtype_name(dtype))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "kernel program %s: element type %d names no type", name, (int)dtype);
    clrt_program_entry *room = clrt__array_room(c->entries, &c->cap, c->count, sizeof *room, 8);
    if (!room)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory caching programs");
    c->entries = room;
    clrt__program_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.name, sizeof k.name, "%s", name);
    snprintf(k.defines, sizeof k.defines, "%s", defines);
    k.dtype = dtype;
    cl_program prog;
    char *pending;
    CLRT_TRY(build_program(ctx, &k, &prog, &pending));
    clrt_program_entry *e = &c->entries[c->count++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->defines, sizeof e->defines, "%s", defines);
    e->dtype = dtype;
    memcpy(e->options, k.options, sizeof e->options);
    memcpy(e->source_hash, k.source_hash, sizeof e->source_hash);
    e->source_len = k.source_len;
    e->program = prog;
    e->pending_key = pending;
    *out = e;
    return CLRT_OK;
}

void clrt__programs_store_pending(clrt_ctx *ctx)
{
    clrt_program_cache *c = &ctx->programs;
    for (size_t i = 0; i < c->count; i++) {
        clrt_program_entry *e = &c->entries[i];
        if (e->pending_key)
            store_cached(ctx, e->program, e->pending_key);
        free(e->pending_key);
        e->pending_key = NULL;
    }
}

clrt_status clrt__kernel(clrt_ctx *ctx, const char *program_name, const char *kernel_name,
                         cl_kernel *out)
{
    return clrt__kernel_variant(ctx, program_name, "", kernel_name, out);
}

clrt_status clrt__kernel_variant(clrt_ctx *ctx, const char *program_name, const char *defines,
                                 const char *kernel_name, cl_kernel *out)
{
    return clrt__kernel_variant_typed(ctx, program_name, defines, CLRT_F32, kernel_name, out);
}

/* The cached slot of a kernel, made (and the program built) on first use. */
static clrt_status kernel_slot_of(clrt_ctx *ctx, const char *program_name, const char *defines,
                                  clrt_dtype dtype, const char *kernel_name, kernel_slot **out)
{
    clrt_program_entry *e;
    CLRT_TRY(program_entry(ctx, program_name, defines ? defines : "", dtype, &e));
    for (size_t i = 0; i < e->nkernels; i++)
        if (strcmp(e->kernels[i].name, kernel_name) == 0) {
            *out = &e->kernels[i];
            return CLRT_OK;
        }
    if (strlen(kernel_name) >= sizeof e->kernels[0].name)
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG, "kernel name \"%s\" is too long", kernel_name);
    kernel_slot *grown = realloc(e->kernels, (e->nkernels + 1) * sizeof *grown);
    if (!grown)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory caching kernels");
    e->kernels = grown;
    cl_int rc;
    cl_kernel k = clCreateKernel(e->program, kernel_name, &rc);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(ctx, rc, "clCreateKernel", "kernel %s of %s.cl", kernel_name,
                             program_name);
    kernel_slot *slot = &e->kernels[e->nkernels++];
    memset(slot, 0, sizeof *slot);
    snprintf(slot->name, sizeof slot->name, "%s", kernel_name);
    slot->kernel = k;
    *out = slot;
    return CLRT_OK;
}

clrt_status clrt__kernel_variant_typed(clrt_ctx *ctx, const char *program_name,
                                       const char *defines, clrt_dtype dtype,
                                       const char *kernel_name, cl_kernel *out)
{
    *out = NULL;
    kernel_slot *slot;
    CLRT_TRY(kernel_slot_of(ctx, program_name, defines, dtype, kernel_name, &slot));
    *out = slot->kernel;
    return CLRT_OK;
}

clrt_status clrt__kernel_variant_limit(clrt_ctx *ctx, const char *program_name,
                                       const char *defines, clrt_dtype dtype,
                                       const char *kernel_name, cl_kernel *out,
                                       size_t *wg_limit)
{
    *out = NULL;
    kernel_slot *slot;
    CLRT_TRY(kernel_slot_of(ctx, program_name, defines, dtype, kernel_name, &slot));
    if (slot->wg_limit == 0)
        CLRT_TRY(clrt__kernel_wg_limit(ctx, slot->kernel, kernel_name, &slot->wg_limit));
    *out = slot->kernel;
    *wg_limit = slot->wg_limit;
    return CLRT_OK;
}

void clrt__programs_release(clrt_program_cache *cache)
{
    for (size_t i = 0; i < cache->count; i++) {
        clrt_program_entry *e = &cache->entries[i];
        for (size_t k = 0; k < e->nkernels; k++)
            clReleaseKernel(e->kernels[k].kernel);
        free(e->kernels);
        free(e->pending_key);
        clReleaseProgram(e->program);
    }
    free(cache->entries);
    memset(cache, 0, sizeof *cache);
}

clrt_status clrt__program_prepare(clrt_ctx *ctx, const char *program_name, const char *defines,
                                  clrt_dtype dtype)
{
    clrt_program_entry *e;
    return program_entry(ctx, program_name, defines ? defines : "", dtype, &e);
}

bool clrt__program_available(const clrt_ctx *ctx, const char *program_name, const char *defines,
                             clrt_dtype dtype)
{
    return !ctx->bundle ||
           clrt__bundle_find(ctx->bundle, program_name, defines ? defines : "", dtype) != NULL;
}

size_t clrt__program_count(const clrt_ctx *ctx)
{
    return ctx->programs.count;
}

clrt_status clrt__program_export(clrt_ctx *ctx, size_t i, clrt__program_key *key,
                                 unsigned char **bin, size_t *bin_len)
{
    *bin = NULL;
    *bin_len = 0;
    const clrt_program_entry *e = &ctx->programs.entries[i];
    if (strcmp(e->name, BASE_GROUP) == 0)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                          "the base programs of this context were built as one program, and a "
                          "bundle holds each by its name: call clrt__programs_separate before "
                          "building them");
    memset(key, 0, sizeof *key);
    snprintf(key->name, sizeof key->name, "%s", e->name);
    snprintf(key->defines, sizeof key->defines, "%s", e->defines);
    key->dtype = e->dtype;
    memcpy(key->options, e->options, sizeof key->options);
    memcpy(key->source_hash, e->source_hash, sizeof key->source_hash);
    key->source_len = e->source_len;
    size_t len = 0;
    cl_int rc = clGetProgramInfo(e->program, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL);
    if (rc != CL_SUCCESS)
        return clrt__fail_cl(ctx, rc, "clGetProgramInfo(CL_PROGRAM_BINARY_SIZES)", "%s.cl \"%s\"",
                             e->name, e->defines);
    if (len == 0)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                          "the driver gives no binary of %s.cl \"%s\" on %s, so it cannot go "
                          "into a bundle",
                          e->name, e->defines, ctx->dev.name);
    unsigned char *data = malloc(len);
    if (!data)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory for a %zu-byte binary",
                          len);
    unsigned char *bins[1] = {data};
    rc = clGetProgramInfo(e->program, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL);
    if (rc != CL_SUCCESS) {
        free(data);
        return clrt__fail_cl(ctx, rc, "clGetProgramInfo(CL_PROGRAM_BINARIES)", "%s.cl \"%s\"",
                             e->name, e->defines);
    }
    *bin = data;
    *bin_len = len;
    return CLRT_OK;
}

clrt_status clrt__programs_check_bundle(clrt_ctx *ctx, char *err, size_t errlen)
{
    const clrt__bundle *b = ctx->bundle;
    const char *path = clrt__bundle_path(b);
    char missing[512] = "";
    size_t nmissing = 0, used = 0;
    for (size_t i = 0; i < clrt_embedded_source_count; i++) {
        const char *name = clrt_embedded_sources[i].name;
        if (clrt__bundle_find(b, name, "", CLRT_F32))
            continue;
        nmissing++;
        if (used < sizeof missing)
            used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%s.cl",
                                     used ? ", " : "", name);
    }
    if (nmissing)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_UNSUPPORTED,
                                 "bundle %s lacks %zu of the %zu programs of this clrt (%s): "
                                 "make it with this clrt's clrt-compile",
                                 path, nmissing, clrt_embedded_source_count, missing);
    /* Each entry against this context's source and options of its program,
     * each source read and hashed once. */
    for (size_t i = 0; i < clrt_embedded_source_count; i++) {
        const char *name = clrt_embedded_sources[i].name;
        const char *src;
        size_t len;
        bool owned;
        clrt_status st = program_source(ctx, name, &src, &len, &owned);
        if (st != CLRT_OK)
            return clrt__errbuf_fail(err, errlen, st, "%s", clrt_ctx_errmsg(ctx));
        clrt__program_key k;
        hash_source(src, len, &k);
        if (owned)
            free((char *)src);
        for (size_t j = 0; j < clrt__bundle_count(b); j++) {
            const clrt__program_key *have = &clrt__bundle_at(b, j)->key;
            if (strcmp(have->name, name) != 0)
                continue;
            variant_options(ctx, have->defines, have->dtype, k.options, sizeof k.options);
            const char *what = bundled_mismatch(have, &k);
            if (what)
                return clrt__errbuf_fail(
                    err, errlen, CLRT_ERR_UNSUPPORTED,
                    "bundle %s: %s.cl with defines \"%s\" was built from another %s than this "
                    "context's (%s): make the bundle with this clrt's clrt-compile",
                    path, name, have->defines, what,
                    strcmp(what, "source") == 0
                        ? (ctx->kernel_dir ? "CLRT_KERNEL_DIR is set" : "another clrt build")
                        : "the option strings differ");
        }
    }
    return CLRT_OK;
}

clrt_status clrt_ctx_store_cache(clrt_ctx *ctx)
{
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    clrt__programs_store_pending(ctx);
    return CLRT_OK;
}

clrt_status clrt_ctx_program_stats(const clrt_ctx *ctx, clrt_program_stats *out)
{
    if (!ctx || !out)
        return CLRT_ERR_INVALID_ARG;
    *out = ctx->prog_stats;
    return CLRT_OK;
}
