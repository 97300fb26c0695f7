/* The CLRT_DEVICE selector grammar (docs/DESIGN.md, "Device selection") over
 * fake device lists: no OpenCL call is made, the cl ids are NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io.h"

#define ALL_TYPES                                                                              \
    (CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_CPU | CL_DEVICE_TYPE_ACCELERATOR |                    \
     CL_DEVICE_TYPE_DEFAULT)

/* Names as the drivers report them. */
#define OCLGRIND_PLATFORM "Oclgrind", "OpenCL 1.2 (Oclgrind 21.10)"
#define OCLGRIND_DEVICE "Oclgrind Simulator", "University of Bristol", ALL_TYPES, 1
#define POCL_PLATFORM                                                                          \
    "Portable Computing Language",                                                             \
        "OpenCL 3.0 PoCL 3.1+debian  Linux, None+Asserts, RELOC, SPIR, LLVM 15.0.6, SLEEF, "   \
        "DISTRO, POCL_DEBUG"
#define POCL_DEVICE                                                                            \
    "pthread-Intel(R) Xeon(R) Platinum 8375C @ 2.90GHz", "GenuineIntel", CL_DEVICE_TYPE_CPU, 0
#define NVIDIA_PLATFORM "NVIDIA CUDA", "OpenCL 3.0 CUDA 12.2.148"
#define RTX4090 "NVIDIA GeForce RTX 4090", "NVIDIA Corporation", CL_DEVICE_TYPE_GPU, 0
#define FPGA_PLATFORM                                                                          \
    "Intel(R) FPGA SDK for OpenCL(TM)",                                                        \
        "OpenCL 1.0 Intel(R) FPGA SDK for OpenCL(TM), Version 20.3"
#define FPGA_DEVICE                                                                            \
    "pac_a10 : Intel PAC Platform (pac_ee00000)", "Intel Corp", CL_DEVICE_TYPE_ACCELERATOR, 0

/* Mesa: rusticl on llvmpipe (RUSTICL_ENABLE=llvmpipe) and on a Radeon, and
 * Clover (OpenCL C 1.1) on the same Radeon. */
#define RUSTICL_PLATFORM "rusticl", "OpenCL 3.0"
#define LLVMPIPE "llvmpipe (LLVM 15.0.6, 256 bits)", "Mesa/X.org", CL_DEVICE_TYPE_CPU, 0
#define RADEON                                                                                 \
    "AMD Radeon RX 580 Series (polaris10, LLVM 15.0.6, DRM 3.49, 6.1.0-13-amd64)", "AMD",      \
        CL_DEVICE_TYPE_GPU, 0
#define CLOVER_PLATFORM "Clover", "OpenCL 1.1 Mesa 22.3.6"
/* PoCL with POCL_DEVICES=basic: the same platform, another device. */
#define POCL_BASIC "basic-skylake-avx512-AMD EPYC", "AuthenticAMD", CL_DEVICE_TYPE_CPU, 0

static void set_dev(clrt_device_info *list, size_t i, const char *platform,
                    const char *platform_version, const char *name, const char *vendor,
                    cl_device_type type, int is_simulator)
{
    clrt_device_info *d = &list[i];
    memset(d, 0, sizeof *d);
    d->index = i;
    d->platform_id = NULL;
    d->device_id = NULL;
    snprintf(d->platform, sizeof d->platform, "%s", platform);
    snprintf(d->platform_version, sizeof d->platform_version, "%s", platform_version);
    snprintf(d->name, sizeof d->name, "%s", name);
    snprintf(d->vendor, sizeof d->vendor, "%s", vendor);
    snprintf(d->driver_version, sizeof d->driver_version, "1.0");
    snprintf(d->device_version, sizeof d->device_version, "OpenCL 1.2");
    snprintf(d->opencl_c_version, sizeof d->opencl_c_version, "OpenCL C 1.2");
    d->type = type;
    d->is_simulator = is_simulator;
    d->compiler_available = 1;
}

/* 0: oclgrind (claims every type), 1: PoCL CPU */
static size_t list_sim_then_pocl(clrt_device_info *l)
{
    set_dev(l, 0, OCLGRIND_PLATFORM, OCLGRIND_DEVICE);
    set_dev(l, 1, POCL_PLATFORM, POCL_DEVICE);
    return 2;
}

/* 0, 1: NVIDIA GPUs with the same name, 2: PoCL CPU, 3: FPGA accelerator */
static size_t list_two_gpus(clrt_device_info *l)
{
    set_dev(l, 0, NVIDIA_PLATFORM, RTX4090);
    set_dev(l, 1, NVIDIA_PLATFORM, RTX4090);
    set_dev(l, 2, POCL_PLATFORM, POCL_DEVICE);
    set_dev(l, 3, FPGA_PLATFORM, FPGA_DEVICE);
    return 4;
}

/* 0: oclgrind only */
static size_t list_sim_only(clrt_device_info *l)
{
    set_dev(l, 0, OCLGRIND_PLATFORM, OCLGRIND_DEVICE);
    return 1;
}

/* 0: PoCL CPU, 1: FPGA, 2: oclgrind — no GPU: the default is the accelerator */
static size_t list_cpu_fpga_sim(clrt_device_info *l)
{
    set_dev(l, 0, POCL_PLATFORM, POCL_DEVICE);
    set_dev(l, 1, FPGA_PLATFORM, FPGA_DEVICE);
    set_dev(l, 2, OCLGRIND_PLATFORM, OCLGRIND_DEVICE);
    return 3;
}

/* 0: oclgrind, 1: NVIDIA, 2: another NVIDIA with a different name, 3, 4: two
 * identical PoCL CPUs (e.g. two platforms of the same ICD), 5: a second
 * oclgrind that no word can tell from the first */
static size_t list_mixed(clrt_device_info *l)
{
    set_dev(l, 0, OCLGRIND_PLATFORM, OCLGRIND_DEVICE);
    set_dev(l, 1, NVIDIA_PLATFORM, RTX4090);
    set_dev(l, 2, NVIDIA_PLATFORM, "NVIDIA RTX A6000", "NVIDIA Corporation",
            CL_DEVICE_TYPE_GPU, 0);
    set_dev(l, 3, POCL_PLATFORM, POCL_DEVICE);
    set_dev(l, 4, POCL_PLATFORM, POCL_DEVICE);
    set_dev(l, 5, OCLGRIND_PLATFORM, OCLGRIND_DEVICE);
    return 6;
}

/* The versions a device reports (set_dev gives every device 1.2). */
static void set_versions(clrt_device_info *list, size_t i, const char *device_version,
                         const char *c_version)
{
    snprintf(list[i].device_version, sizeof list[i].device_version, "%s", device_version);
    snprintf(list[i].opencl_c_version, sizeof list[i].opencl_c_version, "%s", c_version);
}

/* 0: oclgrind, 1: rusticl on llvmpipe, 2: PoCL — the software rasteriser
 * listed before PoCL, as an ICD loader may order them */
static size_t list_llvmpipe_then_pocl(clrt_device_info *l)
{
    set_dev(l, 0, OCLGRIND_PLATFORM, OCLGRIND_DEVICE);
    set_dev(l, 1, RUSTICL_PLATFORM, LLVMPIPE);
    set_versions(l, 1, "OpenCL 3.0", "OpenCL C 1.2");
    set_dev(l, 2, POCL_PLATFORM, POCL_DEVICE);
    return 3;
}

/* 0: the Radeon through Clover (OpenCL C 1.1), 1: the same through rusticl
 * (1.2), 2: PoCL's basic device */
static size_t list_clover_rusticl(clrt_device_info *l)
{
    set_dev(l, 0, CLOVER_PLATFORM, RADEON);
    set_versions(l, 0, "OpenCL 1.1 Mesa 22.3.6", "OpenCL C 1.1");
    set_dev(l, 1, RUSTICL_PLATFORM, RADEON);
    set_dev(l, 2, POCL_PLATFORM, POCL_BASIC);
    return 3;
}

/* 0: an OpenCL 1.0 accelerator (OpenCL C from the fallback), 1: PoCL */
static size_t list_opencl10(clrt_device_info *l)
{
    set_dev(l, 0, FPGA_PLATFORM, FPGA_DEVICE);
    set_versions(l, 0, "OpenCL 1.0 Intel(R) FPGA SDK for OpenCL(TM), Version 20.3",
                 "OpenCL C 1.0");
    set_dev(l, 1, POCL_PLATFORM, POCL_DEVICE);
    return 2;
}

#define MAX_DEVS 8

static int has_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return 1;
    }
    return 0;
}

/* pick() must give CLRT_OK and `want`. */
static void expect_pick(const clrt_device_info *l, size_t n, const char *sel, size_t want)
{
    size_t got = (size_t)-1;
    char err[4096] = "";
    clrt_status st = clrt__device_pick(l, n, sel, &got, err, sizeof err);
    if (st != CLRT_OK)
        fail_msg("selector \"%s\": %s (%s), want device %zu", sel ? sel : "(null)",
                 clrt_status_str(st), err, want);
    if (got != want)
        fail_msg("selector \"%s\" picked %zu, want %zu", sel ? sel : "(null)", got, want);
}

/* pick() must fail with `want`; returns nothing, the message goes to err. */
static void expect_fail(const clrt_device_info *l, size_t n, const char *sel, clrt_status want,
                        char *err, size_t errlen)
{
    size_t got = (size_t)-1;
    clrt_status st = clrt__device_pick(l, n, sel, &got, err, errlen);
    if (st != want)
        fail_msg("selector \"%s\": got %s (device %zu), want %s", sel ? sel : "(null)",
                 clrt_status_str(st), got, clrt_status_str(want));
}

static void expect_fail_simple(const clrt_device_info *l, size_t n, const char *sel,
                               clrt_status want)
{
    char err[4096] = "";
    expect_fail(l, n, sel, want, err, sizeof err);
    assert_true(strlen(err) > 0);
}

static void simulator_then_pocl(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_sim_then_pocl(l);
    /* The default never takes the simulator, though it claims to be a GPU. */
    expect_pick(l, n, NULL, 1);
    expect_pick(l, n, "", 1);
    expect_pick(l, n, "   ", 1);
    expect_pick(l, n, "cpu", 1);
    expect_pick(l, n, "cpu:0", 1);
    expect_fail_simple(l, n, "gpu", CLRT_ERR_NO_DEVICE);
    expect_fail_simple(l, n, "accelerator", CLRT_ERR_NO_DEVICE);
    expect_fail_simple(l, n, "cpu:1", CLRT_ERR_NO_DEVICE);
    /* Named, or by index, it is picked. */
    expect_pick(l, n, "oclgrind", 0);
    expect_pick(l, n, "OCLGRIND", 0);
    expect_pick(l, n, "Simulator", 0);  /* device name */
    expect_pick(l, n, "bristol", 0);    /* vendor */
    expect_pick(l, n, "0", 0);
    expect_pick(l, n, "1", 1);
    /* PoCL by platform version, platform name, device name, vendor. */
    expect_pick(l, n, "pocl", 1);
    expect_pick(l, n, "PoCL", 1);
    expect_pick(l, n, "portable computing", 1);
    expect_pick(l, n, "xeon", 1);
    expect_pick(l, n, "genuineintel", 1);
    expect_fail_simple(l, n, "2", CLRT_ERR_NO_DEVICE);
}

static void two_gpus_pocl_fpga(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_two_gpus(l);
    expect_pick(l, n, NULL, 0);
    expect_pick(l, n, "", 0);
    expect_pick(l, n, "gpu", 0);
    expect_pick(l, n, "gpu:0", 0);
    expect_pick(l, n, "gpu:1", 1);
    expect_pick(l, n, "  GPU:1 ", 1);
    expect_pick(l, n, "\tGpu:1\n", 1);
    expect_fail_simple(l, n, "gpu:2", CLRT_ERR_NO_DEVICE);
    expect_pick(l, n, "cpu", 2);
    expect_pick(l, n, "CPU:0", 2);
    expect_fail_simple(l, n, "cpu:1", CLRT_ERR_NO_DEVICE);
    expect_pick(l, n, "accelerator", 3);
    expect_pick(l, n, "Accelerator:0", 3);
    expect_fail_simple(l, n, "accelerator:1", CLRT_ERR_NO_DEVICE);
    /* Global indices count every device, whatever its type. */
    expect_pick(l, n, "0", 0);
    expect_pick(l, n, "1", 1);
    expect_pick(l, n, "2", 2);
    expect_pick(l, n, "3", 3);
    expect_pick(l, n, " 3 ", 3);
    expect_fail_simple(l, n, "4", CLRT_ERR_NO_DEVICE);
    expect_fail_simple(l, n, "99999", CLRT_ERR_NO_DEVICE);
    /* Names: the first match in list order. */
    expect_pick(l, n, "nvidia", 0);
    expect_pick(l, n, "NVIDIA", 0);
    expect_pick(l, n, "cuda", 0);
    expect_pick(l, n, "geforce rtx", 0);
    expect_pick(l, n, "pocl", 2);
    expect_pick(l, n, "pthread", 2);
    expect_pick(l, n, "fpga", 3);
    expect_pick(l, n, "PAC_A10", 3);
    expect_pick(l, n, "intel corp", 3);
    /* "intel" is in PoCL's device name before the FPGA's platform name. */
    expect_pick(l, n, "intel", 2);
    /* Words that start like a type are names, not types. */
    expect_fail_simple(l, n, "gpux", CLRT_ERR_NO_DEVICE);
    expect_fail_simple(l, n, "cpus", CLRT_ERR_NO_DEVICE);
}

static void default_prefers_accelerator_over_cpu(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_cpu_fpga_sim(l);
    expect_pick(l, n, NULL, 1);
    expect_pick(l, n, "", 1);
    expect_pick(l, n, "cpu", 0);
    expect_pick(l, n, "accelerator", 1);
    expect_fail_simple(l, n, "gpu", CLRT_ERR_NO_DEVICE);
    expect_pick(l, n, "oclgrind", 2);
    expect_pick(l, n, "2", 2);

    /* Only a CPU besides the simulator: the CPU. */
    set_dev(l, 0, OCLGRIND_PLATFORM, OCLGRIND_DEVICE);
    set_dev(l, 1, POCL_PLATFORM, POCL_DEVICE);
    expect_pick(l, 2, NULL, 1);

    /* A GPU after the CPU and the accelerator still wins. */
    n = list_cpu_fpga_sim(l);
    set_dev(l, 3, NVIDIA_PLATFORM, RTX4090);
    expect_pick(l, 4, NULL, 3);
    expect_pick(l, 4, "gpu", 3);
    expect_pick(l, 4, "gpu:0", 3);
}

/* The default takes PoCL over rusticl's llvmpipe wherever they are listed,
 * and the type word goes the same way; llvmpipe is still a CPU device,
 * picked by name, by cpu:1, or by default when it is the only one. */
static void llvmpipe_after_pocl(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_llvmpipe_then_pocl(l);
    expect_pick(l, n, NULL, 2);
    expect_pick(l, n, "", 2);
    expect_pick(l, n, "cpu", 2);
    expect_pick(l, n, "cpu:0", 2);
    expect_pick(l, n, "cpu:1", 1);
    expect_fail_simple(l, n, "cpu:2", CLRT_ERR_NO_DEVICE);
    expect_pick(l, n, "rusticl", 1);
    expect_pick(l, n, "llvmpipe", 1);
    expect_pick(l, n, "mesa", 1);
    expect_pick(l, n, "pocl", 2);
    expect_pick(l, n, "1", 1);
    clrt__device_assign_selectors(l, n);
    assert_string_equal(l[0].selector, "oclgrind");
    assert_string_equal(l[1].selector, "rusticl");
    assert_string_equal(l[2].selector, "cpu");

    /* Listed after PoCL: the same choices. */
    set_dev(l, 0, POCL_PLATFORM, POCL_DEVICE);
    set_dev(l, 1, RUSTICL_PLATFORM, LLVMPIPE);
    expect_pick(l, 2, NULL, 0);
    expect_pick(l, 2, "cpu:1", 1);

    /* Alone (beside the simulator), llvmpipe is the default. */
    set_dev(l, 0, OCLGRIND_PLATFORM, OCLGRIND_DEVICE);
    set_dev(l, 1, RUSTICL_PLATFORM, LLVMPIPE);
    expect_pick(l, 2, NULL, 1);
    expect_pick(l, 2, "cpu", 1);

    /* PoCL's basic device (POCL_DEVICES=basic) is picked by its name. */
    n = list_clover_rusticl(l);
    expect_pick(l, n, "basic", 2);
    expect_pick(l, n, "cpu", 2);
}

/* A device with OpenCL C 1.1 (Clover) comes after one with 1.2 of its kind
 * (the same GPU through rusticl), but a GPU still before a CPU. */
static void opencl_c_11_ranks_after_12(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_clover_rusticl(l);
    expect_pick(l, n, NULL, 1);
    expect_pick(l, n, "gpu", 1);
    expect_pick(l, n, "gpu:0", 1);
    expect_pick(l, n, "gpu:1", 0);
    expect_pick(l, n, "clover", 0);
    expect_pick(l, n, "rusticl", 1);
    clrt__device_assign_selectors(l, n);
    assert_string_equal(l[0].selector, "clover");
    assert_string_equal(l[1].selector, "gpu");
    assert_string_equal(l[2].selector, "cpu");

    set_dev(l, 1, POCL_PLATFORM, POCL_DEVICE);
    expect_pick(l, 2, NULL, 0);
    expect_pick(l, 2, "gpu", 0);
}

/* An OpenCL 1.0 or 1.1 device is listed, with what it lacks, not dropped. */
static void old_devices_listed_with_what_they_lack(void **state)
{
    (void)state;
    char buf[256];
    /* OpenCL 1.0 has no CL_DEVICE_OPENCL_C_VERSION: its devices run 1.0. */
    assert_true(clrt__device_c_version_fallback("OpenCL 1.0 Intel(R) FPGA SDK", buf, sizeof buf));
    assert_string_equal(buf, "OpenCL C 1.0");
    assert_false(clrt__device_c_version_fallback("OpenCL 1.1 Mesa 22.3.6", buf, sizeof buf));
    assert_false(clrt__device_c_version_fallback("OpenCL 3.0", buf, sizeof buf));
    assert_false(clrt__device_c_version_fallback("", buf, sizeof buf));

    clrt_device_info l[MAX_DEVS];
    size_t n = list_opencl10(l);
    int major = 0, minor = 0;
    clrt__device_c_version(&l[0], &major, &minor);
    assert_int_equal(major, 1);
    assert_int_equal(minor, 0);
    clrt__device_c_version(&l[1], &major, &minor);
    assert_int_equal(major, 1);
    assert_int_equal(minor, 2);
    assert_int_equal(clrt__device_lacks(&l[0], buf, sizeof buf), 1);
    assert_non_null(strstr(buf, "OpenCL C 1.2 (has 1.0"));
    assert_int_equal(clrt__device_lacks(&l[1], buf, sizeof buf), 0);
    assert_string_equal(buf, "");
    set_versions(l, 1, "OpenCL 3.0", "OpenCL C 3.0");
    assert_int_equal(clrt__device_lacks(&l[1], buf, sizeof buf), 0);
    set_versions(l, 1, "OpenCL 3.0", "");
    assert_int_equal(clrt__device_lacks(&l[1], NULL, 0), 1); /* unreadable: the oldest */
    /* The accelerator is still the default (the kernels build as 1.0 or
     * 1.1 C, and only devices of the same kind are ranked). */
    n = list_opencl10(l);
    expect_pick(l, n, NULL, 0);

    /* The list names it and what it lacks; devices that lack nothing say
     * nothing. */
    clrt__device_assign_selectors(l, n);
    char text[4096];
    clrt__device_list_text(l, n, text, sizeof text);
    const char *nl = strchr(text, '\n');
    assert_non_null(nl);
    assert_non_null(strstr(text, "pac_a10"));
    const char *lacks = strstr(text, "lacks OpenCL C 1.2 (has 1.0");
    assert_true(lacks && lacks < nl);
    assert_null(strstr(nl, "lacks"));

    n = list_clover_rusticl(l);
    clrt__device_assign_selectors(l, n);
    clrt__device_list_text(l, n, text, sizeof text);
    nl = strchr(text, '\n');
    lacks = strstr(text, "lacks OpenCL C 1.2 (has 1.1");
    assert_true(nl && lacks && lacks < nl);
    assert_null(strstr(nl, "lacks"));
}

static void simulator_only(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_sim_only(l);
    char err[4096] = "";
    expect_fail(l, n, NULL, CLRT_ERR_NO_DEVICE, err, sizeof err);
    assert_non_null(strstr(err, "Oclgrind Simulator"));
    expect_fail(l, n, "", CLRT_ERR_NO_DEVICE, err, sizeof err);
    expect_fail_simple(l, n, "gpu", CLRT_ERR_NO_DEVICE);
    expect_fail_simple(l, n, "cpu", CLRT_ERR_NO_DEVICE);
    expect_fail_simple(l, n, "accelerator", CLRT_ERR_NO_DEVICE);
    expect_pick(l, n, "oclgrind", 0);
    expect_pick(l, n, "Oclgrind", 0);
    expect_pick(l, n, "0", 0);
    expect_fail_simple(l, n, "1", CLRT_ERR_NO_DEVICE);
}

static void empty_list(void **state)
{
    (void)state;
    char err[4096] = "";
    size_t got;
    assert_int_equal(clrt__device_pick(NULL, 0, NULL, &got, err, sizeof err),
                     CLRT_ERR_NO_DEVICE);
    assert_non_null(strstr(err, "no OpenCL platform or device found"));
    assert_int_equal(clrt__device_pick(NULL, 0, "0", &got, err, sizeof err),
                     CLRT_ERR_NO_DEVICE);
    assert_int_equal(clrt__device_pick(NULL, 0, "gpu", &got, NULL, 0), CLRT_ERR_NO_DEVICE);
    assert_int_equal(clrt__device_pick(NULL, 0, "pocl", &got, NULL, 0), CLRT_ERR_NO_DEVICE);

    char text[1024];
    clrt__device_list_text(NULL, 0, text, sizeof text);
    assert_non_null(strstr(text, "no OpenCL platform or device found"));
}

/* No device at all: what to install (the Debian packages, the NVIDIA ICD)
 * and where the loader looked, the OCL_ICD_VENDORS folder when it is set. */
static void no_platform_says_what_to_install(void **state)
{
    (void)state;
    char err[4096] = "";
    size_t got;
    const char *saved = getenv("OCL_ICD_VENDORS");
    char keep[1024] = "";
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    unsetenv("OCL_ICD_VENDORS");
    assert_int_equal(clrt__device_pick(NULL, 0, "pocl", &got, err, sizeof err),
                     CLRT_ERR_NO_DEVICE);
    static const char *const want[] = {"pocl-opencl-icd", "ocl-icd-libopencl1",
                                       "nvidia-opencl-icd", "/etc/OpenCL/vendors"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(err, want[i]))
            fail_msg("\"%s\" not in \"%s\"", want[i], err);
    setenv("OCL_ICD_VENDORS", "/nowhere/vendors", 1);
    assert_int_equal(clrt__device_pick(NULL, 0, NULL, &got, err, sizeof err), CLRT_ERR_NO_DEVICE);
    assert_non_null(strstr(err, "/nowhere/vendors (OCL_ICD_VENDORS)"));
    if (saved)
        setenv("OCL_ICD_VENDORS", keep, 1);
    else
        unsetenv("OCL_ICD_VENDORS");
}

/* A selector that names no device: the list, and the nearest selector or
 * name word when one is close (a typo, the wrong kind); none otherwise. */
static void no_match_names_the_closest(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_sim_then_pocl(l);
    clrt__device_assign_selectors(l, n);
    char err[4096] = "";
    static const struct {
        const char *selector, *closest;
        size_t device;
    } cases[] = {
        {"pcol", "pocl", 1},         /* two letters swapped */
        {"oclgrnd", "oclgrind", 0},  /* one left out */
        {"gpu", "cpu", 1},           /* the wrong kind */
        {"Portable Computng", NULL, 0}, /* a phrase is not a word: no guess */
        {"nvidia", NULL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        expect_fail(l, n, cases[i].selector, CLRT_ERR_NO_DEVICE, err, sizeof err);
        assert_non_null(strstr(err, "matches no device"));
        assert_non_null(strstr(err, "(select with \"cpu\")")); /* the list */
        const char *hint = strstr(err, "the closest match is");
        if (!cases[i].closest) {
            if (hint)
                fail_msg("%s: no guess expected: %s", cases[i].selector, err);
            continue;
        }
        char want[128];
        snprintf(want, sizeof want, "the closest match is \"%s\", device %zu (%s", cases[i].closest,
                 cases[i].device, l[cases[i].device].platform);
        if (!hint || strncmp(hint, want, strlen(want)) != 0)
            fail_msg("%s: expected \"%s\" in \"%s\"", cases[i].selector, want, err);
    }
    /* No GPU listed and one asked for: its driver's ICD. */
    expect_fail(l, n, "nvidia", CLRT_ERR_NO_DEVICE, err, sizeof err);
    assert_non_null(strstr(err, "no GPU is listed"));
    assert_non_null(strstr(err, "nvidia-opencl-icd"));
    /* With a GPU listed, a wrong name gets no such hint. */
    n = list_two_gpus(l);
    clrt__device_assign_selectors(l, n);
    expect_fail(l, n, "radeon", CLRT_ERR_NO_DEVICE, err, sizeof err);
    assert_null(strstr(err, "no GPU is listed"));
}

static void no_match_lists_devices(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_two_gpus(l);
    clrt__device_assign_selectors(l, n);
    char err[4096] = "";
    expect_fail(l, n, "Radeon", CLRT_ERR_NO_DEVICE, err, sizeof err);
    /* The selector (lower-cased is fine) and every device. */
    assert_true(has_nocase(err, "radeon"));
    for (size_t i = 0; i < n; i++) {
        if (!strstr(err, l[i].name))
            fail_msg("device %zu (%s) missing from: %s", i, l[i].name, err);
        if (!strstr(err, l[i].platform))
            fail_msg("platform %zu (%s) missing from: %s", i, l[i].platform, err);
    }

    /* Past the end: the same list. */
    expect_fail(l, n, "7", CLRT_ERR_NO_DEVICE, err, sizeof err);
    assert_non_null(strstr(err, "7"));
    assert_non_null(strstr(err, "NVIDIA GeForce RTX 4090"));
    assert_non_null(strstr(err, "pac_a10"));

    /* A small or absent buffer is safe. */
    char small[24];
    memset(small, 'z', sizeof small);
    expect_fail(l, n, "radeon", CLRT_ERR_NO_DEVICE, small, 16);
    assert_true(strlen(small) < 16);
    assert_int_equal(small[16], 'z');
    expect_fail(l, n, "radeon", CLRT_ERR_NO_DEVICE, NULL, 0);
    expect_fail(l, n, "radeon", CLRT_ERR_NO_DEVICE, small, 0);
}

static void malformed_selectors(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_two_gpus(l);
    static const char *bad[] = {"gpu:x", "gpu:", "GPU:-1", "gpu:1x", "gpu:1:2", "cpu:one",
                                "accelerator:+1", "gpu: 1", "gpu:0x1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[4096] = "";
        expect_fail(l, n, bad[i], CLRT_ERR_INVALID_ARG, err, sizeof err);
        /* The message names the devices too. */
        if (!strstr(err, "NVIDIA GeForce RTX 4090"))
            fail_msg("\"%s\": devices missing from: %s", bad[i], err);
    }
}

/* A selector has at most 127 characters (spaces around it not counted):
 * a longer one is CLRT_ERR_INVALID_ARG saying so, with its length and the
 * start of it, never cut to 127 and matched. */
static void selector_length_limit(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_two_gpus(l);
    char sel[512], err[4096];
    /* 127 characters that a device name contains: accepted. */
    memset(sel, 'x', sizeof sel);
    snprintf(l[3].name, sizeof l[3].name, "pac_a10 %.*s", 127, sel);
    snprintf(sel, sizeof sel, "%.*s", 127, l[3].name + 8);
    expect_pick(l, n, sel, 3);
    /* With spaces around it: the same 127. */
    char padded[600];
    snprintf(padded, sizeof padded, "   %s\t ", sel);
    expect_pick(l, n, padded, 3);
    /* 128 characters, the first 127 of which name that device: refused. */
    snprintf(sel, sizeof sel, "%.*sy", 127, l[3].name + 8);
    err[0] = '\0';
    expect_fail(l, n, sel, CLRT_ERR_INVALID_ARG, err, sizeof err);
    if (!strstr(err, "is 128 characters long; a selector has at most 127"))
        fail_msg("no length in: %s", err);
    if (!strstr(err, "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\""))
        fail_msg("the selector's start is missing from: %s", err);
    if (!strstr(err, "NVIDIA GeForce RTX 4090"))
        fail_msg("devices missing from: %s", err);
    /* Far longer: the same. */
    memset(sel, 'g', sizeof sel - 1);
    sel[sizeof sel - 1] = '\0';
    expect_fail(l, n, sel, CLRT_ERR_INVALID_ARG, err, sizeof err);
    if (!strstr(err, "is 511 characters long"))
        fail_msg("no length in: %s", err);
    expect_fail_simple(l, n, sel, CLRT_ERR_INVALID_ARG);
}

static void assigned_selectors_pick_their_device(void **state)
{
    (void)state;
    size_t (*const lists[])(clrt_device_info *) = {
        list_sim_then_pocl, list_two_gpus,           list_sim_only,      list_cpu_fpga_sim,
        list_mixed,         list_llvmpipe_then_pocl, list_clover_rusticl, list_opencl10};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        clrt_device_info l[MAX_DEVS];
        size_t n = lists[k](l);
        clrt__device_assign_selectors(l, n);
        for (size_t i = 0; i < n; i++) {
            assert_true(strlen(l[i].selector) > 0);
            assert_true(strlen(l[i].selector) < sizeof l[i].selector);
            size_t got = (size_t)-1;
            char err[4096] = "";
            clrt_status st = clrt__device_pick(l, n, l[i].selector, &got, err, sizeof err);
            if (st != CLRT_OK || got != i)
                fail_msg("list %zu device %zu: selector \"%s\" gives %s, device %zu (%s)", k, i,
                         l[i].selector, clrt_status_str(st), got, err);
        }
    }
}

static void assigned_selectors_are_readable(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_two_gpus(l);
    clrt__device_assign_selectors(l, n);
    assert_string_equal(l[0].selector, "gpu");
    assert_string_equal(l[1].selector, "gpu:1");
    assert_string_equal(l[2].selector, "cpu");
    assert_string_equal(l[3].selector, "accelerator");

    n = list_sim_then_pocl(l);
    clrt__device_assign_selectors(l, n);
    assert_string_equal(l[0].selector, "oclgrind");
    assert_string_equal(l[1].selector, "cpu");

    n = list_mixed(l);
    clrt__device_assign_selectors(l, n);
    assert_string_equal(l[0].selector, "oclgrind");
    assert_string_equal(l[1].selector, "gpu");
    assert_string_equal(l[3].selector, "cpu");
    assert_string_equal(l[4].selector, "cpu:1");
    /* No word tells the second oclgrind apart: its index does. */
    assert_string_equal(l[5].selector, "5");
}

static void list_text(void **state)
{
    (void)state;
    clrt_device_info l[MAX_DEVS];
    size_t n = list_mixed(l);
    clrt__device_assign_selectors(l, n);
    char text[8192];
    clrt__device_list_text(l, n, text, sizeof text);

    /* One line per device, in order, each with its index, kind, platform,
     * name and selector. */
    const char *line = text;
    static const char *kinds[] = {"simulator", "gpu", "gpu", "cpu", "cpu", "simulator"};
    for (size_t i = 0; i < n; i++) {
        assert_non_null(line);
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char one[1024];
        assert_true(len < sizeof one);
        memcpy(one, line, len);
        one[len] = '\0';
        char idx[32], sel[96];
        snprintf(idx, sizeof idx, " %zu ", i);
        snprintf(sel, sizeof sel, "\"%s\"", l[i].selector);
        if (!strstr(one, idx) || !strstr(one, kinds[i]) || !strstr(one, l[i].platform) ||
            !strstr(one, l[i].name) || !strstr(one, sel))
            fail_msg("line %zu is \"%s\"", i, one);
        line = nl ? nl + 1 : NULL;
    }
    assert_null(line); /* no line more than devices */

    /* Truncation into a small buffer stays inside it and keeps a prefix. */
    for (size_t len = 1; len < 80; len++) {
        char small[96];
        memset(small, 'z', sizeof small);
        clrt__device_list_text(l, n, small, len);
        assert_true(strlen(small) < len);
        assert_int_equal(strncmp(small, text, strlen(small)), 0);
        assert_int_equal(small[len], 'z');
    }
    char untouched = 'q';
    clrt__device_list_text(l, n, &untouched, 0);
    assert_int_equal(untouched, 'q');
    clrt__device_list_text(l, n, NULL, 100); /* must not crash */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simulator_then_pocl),
        cmocka_unit_test(two_gpus_pocl_fpga),
        cmocka_unit_test(default_prefers_accelerator_over_cpu),
        cmocka_unit_test(llvmpipe_after_pocl),
        cmocka_unit_test(opencl_c_11_ranks_after_12),
        cmocka_unit_test(old_devices_listed_with_what_they_lack),
        cmocka_unit_test(simulator_only),
        cmocka_unit_test(empty_list),
        cmocka_unit_test(no_platform_says_what_to_install),
        cmocka_unit_test(no_match_names_the_closest),
        cmocka_unit_test(no_match_lists_devices),
        cmocka_unit_test(malformed_selectors),
        cmocka_unit_test(selector_length_limit),
        cmocka_unit_test(assigned_selectors_pick_their_device),
        cmocka_unit_test(assigned_selectors_are_readable),
        cmocka_unit_test(list_text),
    };
    return cmocka_run_group_tests_name("unit-selector", tests, NULL, NULL);
}
