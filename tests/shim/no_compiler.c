/* An LD_PRELOAD layer over the OpenCL ICD loader that makes every device
 * look like one without a compiler (an FPGA-class accelerator), on PoCL:
 *
 *  - clGetDeviceInfo reports CL_DEVICE_COMPILER_AVAILABLE and
 *    CL_DEVICE_LINKER_AVAILABLE as CL_FALSE;
 *  - clBuildProgram of a program made by clCreateProgramWithSource fails
 *    with CL_COMPILER_NOT_AVAILABLE, as the specification says such a
 *    device fails it; clCompileProgram fails the same way and
 *    clLinkProgram with CL_LINKER_NOT_AVAILABLE;
 *  - programs made by clCreateProgramWithBinary build as usual.
 *
 * It defines those entry points of libOpenCL.so.1 and passes on to the
 * loader's own (dlsym RTLD_NEXT), so it sees the calls clrt, CLBlast and
 * a test make through the loader; the loader reaches the driver through
 * its dispatch table, which the driver's own calls never leave, so PoCL
 * itself is untouched. It counts what it saw and, at exit, appends one
 * line to $CLRT_SHIM_REPORT when that is set:
 *
 *   no_compiler compiler_queries=N source_programs=N source_builds_refused=N
 *   binary_programs=N binary_builds=N
 *
 * so a test can assert that it really intercepted (and that nothing was
 * compiled). A test instrument: it prints nothing, and aborts only when the
 * loader's entry points cannot be found (a shim that cannot pass calls on
 * must not let a test pass). */
#define _GNU_SOURCE
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long compiler_queries, source_programs, source_builds_refused;
static unsigned long binary_programs, binary_builds;

/* The programs made from source and not yet seen reused for a binary one
 * (an address freed and handed out again). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cl_program *sources;
static size_t nsources, cap;

/* *slot = the next definition of `name` (the loader's), copied as POSIX
 * allows (ISO C has no cast from an object to a function pointer). */
static void resolve(void *slot, size_t size, const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f || size != sizeof f) {
        fprintf(stderr, "no_compiler shim: %s not found after the shim\n", name);
        abort();
    }
    memcpy(slot, &f, size);
}

static void count(unsigned long *c)
{
    __atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static void forget(cl_program p)
{
    for (size_t i = 0; i < nsources; i++)
        if (sources[i] == p)
            sources[i] = sources[--nsources];
}

static void remember(cl_program p)
{
    pthread_mutex_lock(&lock);
    forget(p);
    if (nsources == cap) {
        size_t n = cap ? 2 * cap : 64;
        cl_program *grown = realloc(sources, n * sizeof *grown);
        if (!grown)
            abort(); /* a test instrument that cannot keep count must not pass */
        sources = grown;
        cap = n;
    }
    sources[nsources++] = p;
    pthread_mutex_unlock(&lock);
}

static int from_source(cl_program p)
{
    int found = 0;
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nsources && !found; i++)
        found = sources[i] == p;
    pthread_mutex_unlock(&lock);
    return found;
}

CL_API_ENTRY cl_int CL_API_CALL clGetDeviceInfo(cl_device_id device, cl_device_info param,
                                                size_t size, void *value, size_t *size_ret)
{
    typedef cl_int (*fn)(cl_device_id, cl_device_info, size_t, void *, size_t *);
    static fn real;
    if (!real)
        resolve((void *)&real, sizeof real, "clGetDeviceInfo");
    cl_int rc = real(device, param, size, value, size_ret);
    if (rc == CL_SUCCESS &&
        (param == CL_DEVICE_COMPILER_AVAILABLE || param == CL_DEVICE_LINKER_AVAILABLE)) {
        count(&compiler_queries);
        if (value && size >= sizeof(cl_bool))
            *(cl_bool *)value = CL_FALSE;
    }
    return rc;
}

CL_API_ENTRY cl_program CL_API_CALL clCreateProgramWithSource(cl_context context, cl_uint n,
                                                              const char **strings,
                                                              const size_t *lengths, cl_int *rc)
{
    typedef cl_program (*fn)(cl_context, cl_uint, const char **, const size_t *, cl_int *);
    static fn real;
    if (!real)
        resolve((void *)&real, sizeof real, "clCreateProgramWithSource");
    count(&source_programs);
    cl_program p = real(context, n, strings, lengths, rc);
    if (p)
        remember(p);
    return p;
}

CL_API_ENTRY cl_program CL_API_CALL clCreateProgramWithBinary(cl_context context, cl_uint ndev,
                                                              const cl_device_id *devices,
                                                              const size_t *lengths,
                                                              const unsigned char **binaries,
                                                              cl_int *status, cl_int *rc)
{
    typedef cl_program (*fn)(cl_context, cl_uint, const cl_device_id *, const size_t *,
                             const unsigned char **, cl_int *, cl_int *);
    static fn real;
    if (!real)
        resolve((void *)&real, sizeof real, "clCreateProgramWithBinary");
    count(&binary_programs);
    cl_program p = real(context, ndev, devices, lengths, binaries, status, rc);
    if (p) {
        pthread_mutex_lock(&lock);
        forget(p);
        pthread_mutex_unlock(&lock);
    }
    return p;
}

CL_API_ENTRY cl_int CL_API_CALL clBuildProgram(cl_program program, cl_uint ndev,
                                               const cl_device_id *devices, const char *options,
                                               void(CL_CALLBACK *notify)(cl_program, void *),
                                               void *user)
{
    typedef cl_int (*fn)(cl_program, cl_uint, const cl_device_id *, const char *,
                         void(CL_CALLBACK *)(cl_program, void *), void *);
    static fn real;
    if (!real)
        resolve((void *)&real, sizeof real, "clBuildProgram");
    if (from_source(program)) {
        count(&source_builds_refused);
        return CL_COMPILER_NOT_AVAILABLE;
    }
    count(&binary_builds);
    return real(program, ndev, devices, options, notify, user);
}

CL_API_ENTRY cl_int CL_API_CALL clCompileProgram(cl_program program, cl_uint ndev,
                                                 const cl_device_id *devices, const char *options,
                                                 cl_uint nheaders, const cl_program *headers,
                                                 const char **names,
                                                 void(CL_CALLBACK *notify)(cl_program, void *),
                                                 void *user)
{
    (void)program, (void)ndev, (void)devices, (void)options, (void)nheaders, (void)headers;
    (void)names, (void)notify, (void)user;
    count(&source_builds_refused);
    return CL_COMPILER_NOT_AVAILABLE;
}

CL_API_ENTRY cl_program CL_API_CALL clLinkProgram(cl_context context, cl_uint ndev,
                                                  const cl_device_id *devices, const char *options,
                                                  cl_uint nprograms, const cl_program *programs,
                                                  void(CL_CALLBACK *notify)(cl_program, void *),
                                                  void *user, cl_int *rc)
{
    (void)context, (void)ndev, (void)devices, (void)options, (void)nprograms, (void)programs;
    (void)notify, (void)user;
    count(&source_builds_refused);
    if (rc)
        *rc = CL_LINKER_NOT_AVAILABLE;
    return NULL;
}

__attribute__((destructor)) static void report(void)
{
    const char *path = getenv("CLRT_SHIM_REPORT");
    FILE *f = path && *path ? fopen(path, "a") : NULL;
    if (!f)
        return;
    fprintf(f,
            "no_compiler compiler_queries=%lu source_programs=%lu source_builds_refused=%lu "
            "binary_programs=%lu binary_builds=%lu\n",
            compiler_queries, source_programs, source_builds_refused, binary_programs,
            binary_builds);
    fclose(f);
}
