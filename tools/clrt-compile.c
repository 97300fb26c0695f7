/* clrt-compile: build every program variant clrt can ask for on one device
 * and write them all into one bundle file, for devices that cannot compile
 * at run time (FPGA-class accelerators). A context given the bundle
 * (clrt_ctx_options.binaries or $CLRT_BINARIES) loads its programs from it
 * and never calls the compiler.
 *
 *   clrt-compile --device SEL -o kernels.clrtb [--verbose]
 *
 * It links the static library: the list of variants and the bundle writer
 * are internals (ops/build_all.c, runtime/bundle.c). */
#include "ops/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: clrt-compile [--device SEL] -o FILE [--verbose]\n"
               "  Build every program clrt can ask for on the device (each kernel file, each\n"
               "  per-activation build, each GEMM tile and transpose the device may pick) and\n"
               "  write them as one bundle. A context given the bundle (clrt_ctx_options.binaries\n"
               "  or CLRT_BINARIES=FILE) loads every program from it and compiles nothing; it\n"
               "  refuses a bundle made for another device, driver or clrt.\n"
               "  --device SEL  the device (CLRT_DEVICE grammar; default $CLRT_DEVICE); it must\n"
               "                be able to compile\n"
               "  -o FILE       the bundle to write (replaced whole, or not at all)\n"
               "  --verbose     list the programs written\n"
               "  --version     print the version\n");
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *device = getenv("CLRT_DEVICE"), *out = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("clrt-compile %s\n", clrt_version());
            return 0;
        } else if (strcmp(a, "--verbose") == 0) {
            verbose = 1;
        } else if (strcmp(a, "--device") == 0 && i + 1 < argc) {
            device = argv[++i];
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else {
            usage(stderr);
            fprintf(stderr, "clrt-compile: unknown or incomplete option \"%s\"\n", a);
            return 2;
        }
    }
    if (!out) {
        usage(stderr);
        fprintf(stderr, "clrt-compile: -o FILE is needed\n");
        return 2;
    }

    char err[4096] = "";
    clrt_device_info dev;
    clrt_status st = clrt_device_select(device, &dev, err, sizeof err);
    if (st != CLRT_OK) {
        fprintf(stderr, "clrt-compile: %s: %s\n", clrt_status_str(st), err);
        return 1;
    }
    if (!dev.compiler_available) {
        fprintf(stderr,
                "clrt-compile: %s / %s has no OpenCL C compiler (CL_DEVICE_COMPILER_AVAILABLE "
                "is false): run clrt-compile where this device and driver can compile\n",
                dev.platform, dev.name);
        return 1;
    }
    clrt_ctx_options opt;
    clrt_ctx_options_init(&opt);
    opt.device = device;
    opt.binaries = "off"; /* compile, whatever CLRT_BINARIES says */
    /* Every program from source: a binary PoCL gives of a program it loaded
     * from clrt's disk cache differs from that of a fresh build. */
    opt.cache_dir = "off";
    opt.gemm = CLRT_GEMM_BUILTIN; /* no CLBlast, whatever CLRT_GEMM says */
    clrt_ctx *ctx = NULL;
    if ((st = clrt_ctx_create(&opt, &ctx, err, sizeof err)) != CLRT_OK) {
        fprintf(stderr, "clrt-compile: %s: %s\n", clrt_status_str(st), err);
        return 1;
    }
    double t0 = now_seconds();
    size_t count = 0;
    st = clrt__bundle_compile(ctx, out, &count);
    if (st != CLRT_OK) {
        fprintf(stderr, "clrt-compile: %s: %s\n", clrt_status_str(st), clrt_ctx_errmsg(ctx));
        clrt_ctx_destroy(ctx);
        return 1;
    }
    double dt = now_seconds() - t0;
    const clrt_device_info *d = clrt_ctx_device(ctx);

    /* Read it back as a context would: what was written is what loads. */
    clrt__bundle *b = NULL;
    if ((st = clrt__bundle_load(out, &b, err, sizeof err)) != CLRT_OK ||
        (st = clrt__bundle_check_device(b, d, err, sizeof err)) != CLRT_OK) {
        fprintf(stderr, "clrt-compile: reading %s back: %s: %s\n", out, clrt_status_str(st), err);
        clrt__bundle_free(b);
        clrt_ctx_destroy(ctx);
        return 1;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < clrt__bundle_count(b); i++) {
        const clrt__bundle_entry *e = clrt__bundle_at(b, i);
        bytes += e->binary_len;
        if (verbose)
            printf("  %-12s %-80s %9zu bytes\n", e->key.name,
                   e->key.defines[0] ? e->key.defines : "(plain)", e->binary_len);
    }
    printf("clrt-compile: %zu programs for %s / %s (driver %s) in %.1f s: %s, %.1f MB of "
           "binaries\n",
           count, d->platform, d->name, d->driver_version, dt, out, (double)bytes / 1e6);
    clrt__bundle_free(b);
    clrt_ctx_destroy(ctx);
    return 0;
}
