/* clrt-info: the OpenCL platforms and devices clrt sees, their capabilities,
 * and for each the CLRT_DEVICE string that picks it.
 *
 *   clrt-info [--json] [--device SEL]
 *   clrt-info --selftest [--device SEL] [--json]
 */
#include <clrt.h>

/* What a device lacks (clrt__device_lacks) is the library's rule, not the
 * tool's: clrt-info links the static library to ask it. */
#include "runtime/runtime.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: clrt-info [--json] [--device SEL]\n"
               "       clrt-info --selftest [--device SEL] [--json]\n"
               "       clrt-info --version\n"
               "  --json        machine-readable output\n"
               "  --device SEL  show only the device SEL picks (CLRT_DEVICE grammar)\n"
               "  --selftest    run every op on the device against the plain-C reference;\n"
               "                exit status 1 if any is out of tolerance\n");
}

/* Every op against the reference on one device: a table, or JSON. */
static int selftest(const char *selector, int json)
{
    clrt_ctx_options opt;
    clrt_ctx_options_init(&opt);
    opt.device = selector;
    clrt_ctx *ctx = NULL;
    char err[4096] = "";
    clrt_status st = clrt_ctx_create(&opt, &ctx, err, sizeof err);
    if (st != CLRT_OK) {
        fprintf(stderr, "clrt-info: %s: %s\n", clrt_status_str(st), err);
        return 1;
    }
    clrt_selftest_result results[128];
    size_t count = 0, failures = 0;
    st = clrt_selftest(ctx, results, sizeof results / sizeof results[0], &count, &failures);
    if (st != CLRT_OK) {
        fprintf(stderr, "clrt-info: self-test stopped: %s: %s\n", clrt_status_str(st),
                clrt_ctx_errmsg(ctx));
        clrt_ctx_destroy(ctx);
        return 1;
    }
    if (count > sizeof results / sizeof results[0])
        count = sizeof results / sizeof results[0];
    const clrt_device_info *d = clrt_ctx_device(ctx);
    if (json) {
        json_t *checks = json_array();
        for (size_t i = 0; i < count; i++)
            json_array_append_new(checks, json_pack("{s:s, s:s, s:f, s:f, s:b}", "op",
                                                    results[i].op, "shape", results[i].shape,
                                                    "max_error", results[i].max_error,
                                                    "tolerance", results[i].tolerance, "passed",
                                                    results[i].passed));
        json_t *root = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "device", d->name, "platform",
                                 d->platform, "gemm_backend",
                                 clrt_gemm_backend_name(clrt_ctx_gemm_backend(ctx)), "checks",
                                 (json_int_t)count, "failures", (json_int_t)failures, "results",
                                 checks);
        char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            puts(text);
        free(text);
        json_decref(root);
    } else {
        printf("self-test on %s / %s (gemm backend %s)\n", d->platform, d->name,
               clrt_gemm_backend_name(clrt_ctx_gemm_backend(ctx)));
        printf("%-30s %-12s %12s %12s  %s\n", "op", "shape", "max error", "tolerance", "result");
        for (size_t i = 0; i < count; i++)
            printf("%-30s %-12s %12.3g %12.3g  %s\n", results[i].op, results[i].shape,
                   results[i].max_error, results[i].tolerance, results[i].passed ? "pass" : "FAIL");
        printf("%zu checks, %zu failed\n", count, failures);
    }
    clrt_ctx_destroy(ctx);
    return failures ? 1 : 0;
}

static const char *type_words(cl_device_type t, char *buf, size_t len)
{
    buf[0] = '\0';
    if (t & CL_DEVICE_TYPE_GPU)
        strncat(buf, "gpu ", len - strlen(buf) - 1);
    if (t & CL_DEVICE_TYPE_ACCELERATOR)
        strncat(buf, "accelerator ", len - strlen(buf) - 1);
    if (t & CL_DEVICE_TYPE_CPU)
        strncat(buf, "cpu ", len - strlen(buf) - 1);
    size_t n = strlen(buf);
    if (n)
        buf[n - 1] = '\0';
    else
        snprintf(buf, len, "other");
    return buf;
}

static json_t *device_json(const clrt_device_info *d, int is_default)
{
    char types[64], lacks[256];
    int short_of = clrt__device_lacks(d, lacks, sizeof lacks) > 0;
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I, s:I, "
                     "s:I, s:I, s:b, s:b, s:b, s:b, s:s?}",
                     "index", (json_int_t)d->index, "selector", d->selector, "platform",
                     d->platform, "platform_version", d->platform_version, "name", d->name,
                     "vendor", d->vendor, "type", type_words(d->type, types, sizeof types),
                     "driver_version", d->driver_version, "device_version", d->device_version,
                     "opencl_c_version", d->opencl_c_version, "simulator", d->is_simulator,
                     "compute_units",
                     (json_int_t)d->compute_units, "global_mem_bytes",
                     (json_int_t)d->global_mem_bytes, "local_mem_bytes",
                     (json_int_t)d->local_mem_bytes, "max_alloc_bytes",
                     (json_int_t)d->max_alloc_bytes, "max_work_group_size",
                     (json_int_t)d->max_work_group_size, "fp16", d->has_fp16, "fp64",
                     d->has_fp64, "compiler_available", d->compiler_available, "default",
                     is_default, "lacks", short_of ? lacks : NULL);
}

static void device_text(const clrt_device_info *d, int is_default)
{
    char types[64];
    printf("[%zu] %s / %s%s\n", d->index, d->platform, d->name, is_default ? "  (default)" : "");
    printf("    select with     CLRT_DEVICE=%s\n", d->selector);
    printf("    type            %s%s\n", type_words(d->type, types, sizeof types),
           d->is_simulator ? " (simulator: used only when named)" : "");
    printf("    vendor          %s\n", d->vendor);
    printf("    versions        %s; driver %s; %s\n", d->device_version, d->driver_version,
           d->opencl_c_version);
    printf("    compute units   %u, max work-group %zu\n", d->compute_units,
           d->max_work_group_size);
    printf("    memory          %.1f MiB global, %.1f KiB local, %.1f MiB max allocation\n",
           (double)d->global_mem_bytes / 1048576.0, (double)d->local_mem_bytes / 1024.0,
           (double)d->max_alloc_bytes / 1048576.0);
    printf("    fp16 %s, fp64 %s, compiler %s\n", d->has_fp16 ? "yes" : "no",
           d->has_fp64 ? "yes" : "no", d->compiler_available ? "yes" : "no");
    char lacks[256];
    if (clrt__device_lacks(d, lacks, sizeof lacks) > 0)
        printf("    lacks           %s\n", lacks);
}

int main(int argc, char **argv)
{
    int json = 0, self = 0;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--selftest") == 0) {
            self = 1;
        } else if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
            only = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("clrt-info %s\n", clrt_version());
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }

    if (self)
        return selftest(only, json);

    char err[4096] = "";
    size_t count = 0;
    if (clrt_device_list(NULL, 0, &count, err, sizeof err) != CLRT_OK) {
        fprintf(stderr, "clrt-info: %s\n", err);
        return 1;
    }
    clrt_device_info *list = calloc(count ? count : 1, sizeof *list);
    if (!list || clrt_device_list(list, count, &count, err, sizeof err) != CLRT_OK) {
        fprintf(stderr, "clrt-info: %s\n", list ? err : "out of memory");
        free(list);
        return 1;
    }
    /* Which device a context made with no selector would use. */
    const char *env = getenv("CLRT_DEVICE");
    clrt_device_info chosen;
    int have_default = clrt_device_select(env, &chosen, NULL, 0) == CLRT_OK;

    clrt_device_info picked;
    if (only && clrt_device_select(only, &picked, err, sizeof err) != CLRT_OK) {
        fprintf(stderr, "clrt-info: %s\n", err);
        free(list);
        return 1;
    }

    int rc = 0;
    if (json) {
        json_t *devices = json_array();
        for (size_t i = 0; i < count; i++) {
            if (only && list[i].index != picked.index)
                continue;
            int is_default = have_default && chosen.index == list[i].index;
            json_array_append_new(devices, device_json(&list[i], is_default));
        }
        json_t *root = json_pack("{s:s, s:s?, s:o}", "clrt_version", clrt_version(),
                                 "clrt_device", env, "devices", devices);
        char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text) {
            puts(text);
            free(text);
        } else {
            fprintf(stderr, "clrt-info: could not encode JSON\n");
            rc = 1;
        }
        json_decref(root);
    } else {
        printf("clrt %s: %zu OpenCL device%s\n", clrt_version(), count, count == 1 ? "" : "s");
        for (size_t i = 0; i < count; i++) {
            if (only && list[i].index != picked.index)
                continue;
            device_text(&list[i], have_default && chosen.index == list[i].index);
        }
        if (count == 0) {
            /* The library's message says which packages to install and
             * where the loader looked. */
            clrt_device_select(NULL, &chosen, err, sizeof err);
            printf("%s\n", err);
        }
        else if (!have_default)
            printf("no default device: CLRT_DEVICE%s%s%s matches nothing usable\n",
                   env ? "=\"" : " unset,", env ? env : "", env ? "\"" : "");
    }
    free(list);
    return rc;
}
