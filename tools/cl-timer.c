/* cl-timer: an LD_PRELOAD library that times the OpenCL calls a cold start
 * waits on, for developers (built, not installed):
 *
 *   LD_PRELOAD=build/tools/libcl-timer.so clrt-bench train --device pocl
 *
 * One line per call on stderr (or appended to $CL_TIMER_OUT): seconds since
 * the library was loaded, the call, its own seconds and what it worked on.
 * Timed: clGetPlatformIDs (the first loads the drivers), clCreateContext,
 * clCreateProgramWithSource/Binary, clBuildProgram, clGetProgramInfo for
 * binaries, and the first launch of each kernel at each local size, as a
 * clFinish before it (not counted), the enqueue and a clFinish after (PoCL
 * compiles a kernel per work-group size there; a launch that leaves the
 * local size to the driver counts as new at each new global size). At exit, the totals. It
 * adds a finish around first launches only, so the times are those of a
 * run that waits for each new kernel. */
#define _GNU_SOURCE
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { KIND_PLATFORM, KIND_CONTEXT, KIND_CREATE, KIND_BUILD, KIND_BINARY, KIND_LAUNCH, KINDS };
static const char *const kind_names[KINDS] = {
    "clGetPlatformIDs",          "clCreateContext",       "clCreateProgramWith*",
    "clBuildProgram",           "clGetProgramInfo(binaries)", "first launches (+clFinish)"};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static double t_load, totals[KINDS];
static unsigned counts[KINDS];
static FILE *out;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void report(int kind, double t0, double dt, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&lock);
    totals[kind] += dt;
    counts[kind]++;
    fprintf(out, "cl-timer %8.3f %-28s %7.3f s  %s\n", t0 - t_load, kind_names[kind], dt, what);
    fflush(out);
    pthread_mutex_unlock(&lock);
}

static void *next(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        fprintf(stderr, "cl-timer: no %s after this library\n", name);
        abort();
    }
    return f;
}

__attribute__((constructor)) static void timer_load(void)
{
    t_load = now();
    const char *path = getenv("CL_TIMER_OUT");
    out = path && *path ? fopen(path, "a") : NULL;
    if (!out)
        out = stderr;
}

__attribute__((destructor)) static void timer_unload(void)
{
    unsigned calls = 0;
    for (int k = 0; k < KINDS; k++)
        calls += counts[k];
    if (calls == 0)
        return; /* a tool the driver ran (the linker), which inherited LD_PRELOAD */
    fprintf(out, "cl-timer totals after %.3f s:\n", now() - t_load);
    for (int k = 0; k < KINDS; k++)
        fprintf(out, "cl-timer   %-28s %4u calls %7.3f s\n", kind_names[k], counts[k], totals[k]);
    fflush(out);
}

/* The first names of a program's kernels: which program a line is about. */
static void program_names(cl_program p, char *buf, size_t len)
{
    buf[0] = '\0';
    size_t n = 0;
    if (clGetProgramInfo(p, CL_PROGRAM_KERNEL_NAMES, 0, NULL, &n) != CL_SUCCESS || n == 0)
        return;
    char *names = malloc(n);
    if (names && clGetProgramInfo(p, CL_PROGRAM_KERNEL_NAMES, n, names, NULL) == CL_SUCCESS)
        snprintf(buf, len, "%.60s%s", names, n > 61 ? "..." : "");
    free(names);
}

cl_int clGetPlatformIDs(cl_uint num, cl_platform_id *platforms, cl_uint *num_platforms)
{
    static cl_int (*real)(cl_uint, cl_platform_id *, cl_uint *);
    if (!real)
        *(void **)&real = next("clGetPlatformIDs");
    double t0 = now();
    cl_int rc = real(num, platforms, num_platforms);
    report(KIND_PLATFORM, t0, now() - t0, "");
    return rc;
}

cl_context clCreateContext(const cl_context_properties *props, cl_uint ndev,
                           const cl_device_id *devs,
                           void(CL_CALLBACK *notify)(const char *, const void *, size_t, void *),
                           void *user, cl_int *rc)
{
    static cl_context (*real)(const cl_context_properties *, cl_uint, const cl_device_id *,
                              void(CL_CALLBACK *)(const char *, const void *, size_t, void *),
                              void *, cl_int *);
    if (!real)
        *(void **)&real = next("clCreateContext");
    double t0 = now();
    cl_context c = real(props, ndev, devs, notify, user, rc);
    report(KIND_CONTEXT, t0, now() - t0, "");
    return c;
}

cl_program clCreateProgramWithSource(cl_context c, cl_uint n, const char **strings,
                                     const size_t *lengths, cl_int *rc)
{
    static cl_program (*real)(cl_context, cl_uint, const char **, const size_t *, cl_int *);
    if (!real)
        *(void **)&real = next("clCreateProgramWithSource");
    double t0 = now();
    cl_program p = real(c, n, strings, lengths, rc);
    size_t bytes = 0;
    for (cl_uint i = 0; i < n; i++)
        bytes += lengths && lengths[i] ? lengths[i] : strlen(strings[i]);
    report(KIND_CREATE, t0, now() - t0, "source, %zu bytes", bytes);
    return p;
}

cl_program clCreateProgramWithBinary(cl_context c, cl_uint n, const cl_device_id *devs,
                                     const size_t *lengths, const unsigned char **bins,
                                     cl_int *status, cl_int *rc)
{
    static cl_program (*real)(cl_context, cl_uint, const cl_device_id *, const size_t *,
                              const unsigned char **, cl_int *, cl_int *);
    if (!real)
        *(void **)&real = next("clCreateProgramWithBinary");
    double t0 = now();
    cl_program p = real(c, n, devs, lengths, bins, status, rc);
    report(KIND_CREATE, t0, now() - t0, "binary, %zu bytes", n ? lengths[0] : 0);
    return p;
}

cl_int clBuildProgram(cl_program p, cl_uint ndev, const cl_device_id *devs, const char *options,
                      void(CL_CALLBACK *notify)(cl_program, void *), void *user)
{
    static cl_int (*real)(cl_program, cl_uint, const cl_device_id *, const char *,
                          void(CL_CALLBACK *)(cl_program, void *), void *);
    if (!real)
        *(void **)&real = next("clBuildProgram");
    double t0 = now();
    cl_int rc = real(p, ndev, devs, options, notify, user);
    double dt = now() - t0;
    char names[80];
    program_names(p, names, sizeof names);
    report(KIND_BUILD, t0, dt, "[%s] %s", names, options ? options : "");
    return rc;
}

cl_int clGetProgramInfo(cl_program p, cl_program_info what, size_t size, void *value,
                        size_t *ret)
{
    static cl_int (*real)(cl_program, cl_program_info, size_t, void *, size_t *);
    if (!real)
        *(void **)&real = next("clGetProgramInfo");
    if (what != CL_PROGRAM_BINARY_SIZES && what != CL_PROGRAM_BINARIES)
        return real(p, what, size, value, ret);
    double t0 = now();
    cl_int rc = real(p, what, size, value, ret);
    double dt = now() - t0;
    char names[80];
    program_names(p, names, sizeof names);
    report(KIND_BINARY, t0, dt, "%s [%s]",
           what == CL_PROGRAM_BINARY_SIZES ? "BINARY_SIZES" : "BINARIES", names);
    return rc;
}

/* The (kernel, local size) pairs launched so far. */
typedef struct seen {
    cl_kernel kernel;
    size_t local[3], global[3]; /* global only where the driver picks the local size */
} seen;
static seen *launched;
static size_t nlaunched, caplaunched;

static int first_launch(cl_kernel k, cl_uint dims, const size_t *global, const size_t *local)
{
    seen s = {k, {0, 0, 0}, {0, 0, 0}};
    for (cl_uint d = 0; d < dims && d < 3; d++) {
        if (local)
            s.local[d] = local[d];
        else
            s.global[d] = global[d];
    }
    pthread_mutex_lock(&lock);
    int first = 1;
    for (size_t i = 0; i < nlaunched && first; i++)
        first = memcmp(&launched[i], &s, sizeof s) != 0;
    if (first && nlaunched == caplaunched) {
        size_t cap = caplaunched ? 2 * caplaunched : 64;
        seen *grown = realloc(launched, cap * sizeof *grown);
        if (grown) {
            launched = grown;
            caplaunched = cap;
        }
    }
    if (first && nlaunched < caplaunched)
        launched[nlaunched++] = s;
    pthread_mutex_unlock(&lock);
    return first;
}

cl_int clEnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dims,
                              const size_t *offset, const size_t *global, const size_t *local,
                              cl_uint nwait, const cl_event *wait, cl_event *ev)
{
    static cl_int (*real)(cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *,
                          const size_t *, cl_uint, const cl_event *, cl_event *);
    if (!real)
        *(void **)&real = next("clEnqueueNDRangeKernel");
    if (!first_launch(k, dims, global, local))
        return real(q, k, dims, offset, global, local, nwait, wait, ev);
    clFinish(q);
    double t0 = now();
    cl_int rc = real(q, k, dims, offset, global, local, nwait, wait, ev);
    clFinish(q);
    double dt = now() - t0;
    char name[64] = "";
    clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL);
    char shape[96];
    int used = snprintf(shape, sizeof shape, "global");
    for (cl_uint d = 0; d < dims && used < (int)sizeof shape; d++)
        used += snprintf(shape + used, sizeof shape - (size_t)used, "%c%zu", d ? 'x' : ' ',
                         global[d]);
    used += snprintf(shape + used, sizeof shape - (size_t)used, " local");
    for (cl_uint d = 0; d < dims && used < (int)sizeof shape; d++)
        if (local)
            used += snprintf(shape + used, sizeof shape - (size_t)used, "%c%zu", d ? 'x' : ' ',
                             local[d]);
        else if (d == 0)
            used += snprintf(shape + used, sizeof shape - (size_t)used, " (driver's)");
    report(KIND_LAUNCH, t0, dt, "%s %s", name, shape);
    return rc;
}
