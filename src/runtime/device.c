/* Platform and device enumeration, capability probe, the CLRT_DEVICE selector. */
#include "runtime/runtime.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ queries */

static void trim_copy(char *dst, size_t dstlen, const char *src)
{
    while (*src && isspace((unsigned char)*src))
        src++;
    size_t n = strlen(src);
    while (n > 0 && isspace((unsigned char)src[n - 1]))
        n--;
    if (n >= dstlen)
        n = dstlen - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The length of s without the white space around it. */
static size_t trimmed_length(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    return n;
}

/* A string query of any length, trimmed into a fixed buffer (or, with
 * `whole` non-NULL, returned whole on the heap for the caller to free). */
static cl_int device_string(cl_device_id dev, cl_device_info param, char *buf, size_t len,
                            char **whole)
{
    size_t size = 0;
    cl_int rc = clGetDeviceInfo(dev, param, 0, NULL, &size);
    if (rc != CL_SUCCESS)
        return rc;
    char *tmp = malloc(size + 1);
    if (!tmp)
        return CL_OUT_OF_HOST_MEMORY;
    rc = clGetDeviceInfo(dev, param, size, tmp, NULL);
    tmp[size] = '\0';
    if (rc == CL_SUCCESS && buf)
        trim_copy(buf, len, tmp);
    if (rc == CL_SUCCESS && whole)
        *whole = tmp;
    else
        free(tmp);
    return rc;
}

static cl_int platform_string(cl_platform_id p, cl_platform_info param, char *buf, size_t len)
{
    size_t size = 0;
    cl_int rc = clGetPlatformInfo(p, param, 0, NULL, &size);
    if (rc != CL_SUCCESS)
        return rc;
    char *tmp = malloc(size + 1);
    if (!tmp)
        return CL_OUT_OF_HOST_MEMORY;
    rc = clGetPlatformInfo(p, param, size, tmp, NULL);
    tmp[size] = '\0';
    if (rc == CL_SUCCESS)
        trim_copy(buf, len, tmp);
    free(tmp);
    return rc;
}

/* Does a space-separated extension list name `ext` exactly? */
static bool has_extension(const char *list, const char *ext)
{
    size_t n = strlen(ext);
    for (const char *p = list; (p = strstr(p, ext)) != NULL; p += n) {
        bool starts = p == list || p[-1] == ' ';
        bool ends = p[n] == '\0' || p[n] == ' ';
        if (starts && ends)
            return true;
    }
    return false;
}

static bool contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0)
        return false;
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return false;
}

clrt_status clrt__device_query(cl_platform_id platform, cl_device_id device, size_t index,
                               clrt_device_info *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->index = index;
    out->platform_id = platform;
    out->device_id = device;

    cl_int rc = CL_SUCCESS;
    const char *what = "";
#define Q(expr, name)                                                                          \
    do {                                                                                       \
        rc = (expr);                                                                           \
        if (rc != CL_SUCCESS) {                                                                \
            what = name;                                                                       \
            goto fail;                                                                         \
        }                                                                                      \
    } while (0)
    Q(platform_string(platform, CL_PLATFORM_NAME, out->platform, sizeof out->platform),
      "CL_PLATFORM_NAME");
    Q(platform_string(platform, CL_PLATFORM_VERSION, out->platform_version,
                      sizeof out->platform_version),
      "CL_PLATFORM_VERSION");
    Q(device_string(device, CL_DEVICE_NAME, out->name, sizeof out->name, NULL), "CL_DEVICE_NAME");
    Q(device_string(device, CL_DEVICE_VENDOR, out->vendor, sizeof out->vendor, NULL),
      "CL_DEVICE_VENDOR");
    Q(device_string(device, CL_DRIVER_VERSION, out->driver_version, sizeof out->driver_version,
                    NULL),
      "CL_DRIVER_VERSION");
    Q(device_string(device, CL_DEVICE_VERSION, out->device_version, sizeof out->device_version,
                    NULL),
      "CL_DEVICE_VERSION");
    /* OpenCL 1.0 has no CL_DEVICE_OPENCL_C_VERSION: such a device runs
     * OpenCL C 1.0 and is listed with that, not dropped. */
    rc = device_string(device, CL_DEVICE_OPENCL_C_VERSION, out->opencl_c_version,
                       sizeof out->opencl_c_version, NULL);
    if (rc != CL_SUCCESS &&
        !clrt__device_c_version_fallback(out->device_version, out->opencl_c_version,
                                         sizeof out->opencl_c_version)) {
        what = "CL_DEVICE_OPENCL_C_VERSION";
        goto fail;
    }
    Q(clGetDeviceInfo(device, CL_DEVICE_TYPE, sizeof out->type, &out->type, NULL),
      "CL_DEVICE_TYPE");
    Q(clGetDeviceInfo(device, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof out->compute_units,
                      &out->compute_units, NULL),
      "CL_DEVICE_MAX_COMPUTE_UNITS");
    Q(clGetDeviceInfo(device, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof out->global_mem_bytes,
                      &out->global_mem_bytes, NULL),
      "CL_DEVICE_GLOBAL_MEM_SIZE");
    Q(clGetDeviceInfo(device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof out->local_mem_bytes,
                      &out->local_mem_bytes, NULL),
      "CL_DEVICE_LOCAL_MEM_SIZE");
    Q(clGetDeviceInfo(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof out->max_alloc_bytes,
                      &out->max_alloc_bytes, NULL),
      "CL_DEVICE_MAX_MEM_ALLOC_SIZE");
    Q(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof out->max_work_group_size,
                      &out->max_work_group_size, NULL),
      "CL_DEVICE_MAX_WORK_GROUP_SIZE");
    cl_bool compiler = CL_FALSE;
    Q(clGetDeviceInfo(device, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, NULL),
      "CL_DEVICE_COMPILER_AVAILABLE");
    out->compiler_available = compiler == CL_TRUE;

    char *extensions = NULL;
    Q(device_string(device, CL_DEVICE_EXTENSIONS, NULL, 0, &extensions), "CL_DEVICE_EXTENSIONS");
    out->has_fp16 = has_extension(extensions, "cl_khr_fp16");
    out->has_fp64 = has_extension(extensions, "cl_khr_fp64");
    free(extensions);
#undef Q
    /* Oclgrind interprets every work-item and claims every device type:
     * useful for checking, never a default choice. */
    out->is_simulator = contains_nocase(out->platform, "oclgrind");
    return CLRT_OK;
fail:
    clrt__errbuf_set(err, errlen, "clGetDeviceInfo(%s) failed: %s (%d)", what,
                     clrt_cl_error_str(rc), (int)rc);
    return clrt__status_from_cl(rc) == CLRT_ERR_OUT_OF_MEMORY ? CLRT_ERR_OUT_OF_MEMORY
                                                                : CLRT_ERR_OPENCL;
}

clrt_status clrt__device_enumerate(clrt_device_info **list, size_t *count, char *err,
                                   size_t errlen)
{
    *list = NULL;
    *count = 0;
    cl_uint nplat = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &nplat);
    if (rc == -1001 /* CL_PLATFORM_NOT_FOUND_KHR: the loader found no driver */ || nplat == 0)
        return CLRT_OK;
    if (rc != CL_SUCCESS) {
        clrt__errbuf_set(err, errlen, "clGetPlatformIDs failed: %s (%d)", clrt_cl_error_str(rc),
                         (int)rc);
        return CLRT_ERR_OPENCL;
    }
    cl_platform_id *plats = calloc(nplat, sizeof *plats);
    if (!plats)
        goto oom;
    rc = clGetPlatformIDs(nplat, plats, NULL);
    if (rc != CL_SUCCESS) {
        free(plats);
        clrt__errbuf_set(err, errlen, "clGetPlatformIDs failed: %s (%d)", clrt_cl_error_str(rc),
                         (int)rc);
        return CLRT_ERR_OPENCL;
    }
    clrt_device_info *out = NULL;
    size_t n = 0;
    for (cl_uint p = 0; p < nplat; p++) {
        cl_uint ndev = 0;
        rc = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &ndev);
        if (rc != CL_SUCCESS || ndev == 0)
            continue; /* a platform with no usable device is not an error */
        cl_device_id *devs = calloc(ndev, sizeof *devs);
        clrt_device_info *grown = realloc(out, (n + ndev) * sizeof *out);
        if (!devs || !grown) {
            free(devs);
            free(grown ? grown : out);
            free(plats);
            goto oom;
        }
        out = grown;
        rc = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, ndev, devs, NULL);
        for (cl_uint d = 0; rc == CL_SUCCESS && d < ndev; d++) {
            char why[256] = "";
            if (clrt__device_query(plats[p], devs[d], n, &out[n], why, sizeof why) == CLRT_OK)
                n++;
            /* A device that cannot answer basic queries is left out of the list. */
        }
        free(devs);
    }
    free(plats);
    clrt__device_assign_selectors(out, n);
    *list = out;
    *count = n;
    return CLRT_OK;
oom:
    clrt__errbuf_set(err, errlen, "out of host memory listing OpenCL devices");
    return CLRT_ERR_OUT_OF_MEMORY;
}

bool clrt__device_is_cpu(const clrt_device_info *dev)
{
    return (dev->type & CL_DEVICE_TYPE_CPU) && !(dev->type & CL_DEVICE_TYPE_GPU);
}

bool clrt__device_c_version_fallback(const char *device_version, char *buf, size_t len)
{
    int major, minor;
    if (sscanf(device_version, "OpenCL %d.%d", &major, &minor) != 2 || major != 1 || minor != 0)
        return false;
    snprintf(buf, len, "OpenCL C 1.0");
    return true;
}

void clrt__device_c_version(const clrt_device_info *dev, int *major, int *minor)
{
    /* "OpenCL C 1.2 PoCL"; unreadable text counts as the oldest, 1.0. */
    if (sscanf(dev->opencl_c_version, "OpenCL C %d.%d", major, minor) != 2)
        *major = 1, *minor = 0;
}

/* Below OpenCL C 1.2 the kernels build without -cl-std=CL1.2. */
static bool lacks_c12(const clrt_device_info *dev)
{
    int major, minor;
    clrt__device_c_version(dev, &major, &minor);
    return major < 1 || (major == 1 && minor < 2);
}

size_t clrt__device_lacks(const clrt_device_info *dev, char *buf, size_t len)
{
    size_t n = 0;
    if (buf && len)
        buf[0] = '\0';
    if (lacks_c12(dev)) {
        int major, minor;
        clrt__device_c_version(dev, &major, &minor);
        if (buf && len)
            snprintf(buf, len, "OpenCL C 1.2 (has %d.%d: the kernels build without -cl-std=CL1.2)",
                     major, minor);
        n++;
    }
    return n;
}

/* Mesa's software rasteriser (rusticl on llvmpipe): a CPU device, and a
 * correct one, but its compute path is slower than a CPU implementation
 * built for OpenCL (PoCL), so the default ranks it after them. */
static bool is_software_rasteriser(const clrt_device_info *d)
{
    return contains_nocase(d->name, "llvmpipe");
}

/* ----------------------------------------------------------- selector */

typedef enum { KIND_NONE, KIND_GPU, KIND_ACCELERATOR, KIND_CPU } device_kind;

static bool is_kind(const clrt_device_info *d, device_kind k)
{
    if (d->is_simulator)
        return false;
    switch (k) {
    case KIND_GPU: return (d->type & CL_DEVICE_TYPE_GPU) != 0;
    case KIND_ACCELERATOR: return (d->type & CL_DEVICE_TYPE_ACCELERATOR) != 0;
    case KIND_CPU: return (d->type & CL_DEVICE_TYPE_CPU) != 0;
    default: return false;
    }
}

/* How far back a device of its kind stands in the default's order (0
 * first): one with OpenCL C 1.2 before one without, and Mesa's software
 * rasteriser after the other devices of its kind. */
static int rank(const clrt_device_info *d)
{
    return 2 * lacks_c12(d) + is_software_rasteriser(d);
}

/* The index of the nth device of kind k (from 0) in rank order, list order
 * within a rank; count when there is none. */
static size_t kind_nth(const clrt_device_info *list, size_t count, device_kind k, size_t nth)
{
    for (int r = 0; r < 4; r++)
        for (size_t i = 0; i < count; i++)
            if (is_kind(&list[i], k) && rank(&list[i]) == r && nth-- == 0)
                return i;
    return count;
}

static const char *kind_word(device_kind k)
{
    switch (k) {
    case KIND_GPU: return "gpu";
    case KIND_ACCELERATOR: return "accelerator";
    case KIND_CPU: return "cpu";
    default: return "";
    }
}

/* The word clrt-info shows for a device's type. */
static const char *type_label(const clrt_device_info *d)
{
    if (d->is_simulator)
        return "simulator";
    if (d->type & CL_DEVICE_TYPE_GPU)
        return "gpu";
    if (d->type & CL_DEVICE_TYPE_ACCELERATOR)
        return "accelerator";
    if (d->type & CL_DEVICE_TYPE_CPU)
        return "cpu";
    return "other";
}

/* What to install when the loader lists no device: the Debian packages,
 * and where the loader looked. */
static void no_device_text(char *buf, size_t len)
{
    const char *dir = getenv("OCL_ICD_VENDORS");
    snprintf(buf, len,
             "no OpenCL platform or device found: the OpenCL loader found no driver in %s%s. "
             "Install one: on Debian, apt-get install pocl-opencl-icd ocl-icd-libopencl1 (PoCL, "
             "the CPU); for an NVIDIA GPU, the driver's OpenCL ICD (nvidia-opencl-icd, with the "
             "NVIDIA driver); mesa-opencl-icd for Mesa's drivers. clinfo lists what the loader "
             "sees",
             dir && *dir ? dir : "/etc/OpenCL/vendors",
             dir && *dir ? " (OCL_ICD_VENDORS)" : " (its .icd files)");
}

void clrt__device_list_text(const clrt_device_info *list, size_t count, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    buf[0] = '\0';
    if (count == 0) {
        char text[1024];
        no_device_text(text, sizeof text);
        snprintf(buf, len, "  %s", text);
        return;
    }
    size_t used = 0;
    for (size_t i = 0; i < count && used + 1 < len; i++) {
        char lacks[256];
        bool short_of = clrt__device_lacks(&list[i], lacks, sizeof lacks) > 0;
        int w = snprintf(buf + used, len - used, "%s  %zu  %-11s %s / %s  (select with \"%s\")%s%s",
                         i ? "\n" : "", list[i].index, type_label(&list[i]), list[i].platform,
                         list[i].name, list[i].selector, short_of ? "; lacks " : "",
                         short_of ? lacks : "");
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static bool parse_index(const char *s, size_t *out)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

/* The optimal string alignment distance between a and b (edits of one
 * letter, swaps of two neighbours), case-insensitive; the first 63 letters
 * of each are compared. */
static size_t edit_distance(const char *a, const char *b)
{
    enum { MAX = 64 };
    size_t la = strlen(a), lb = strlen(b);
    la = la < MAX - 1 ? la : MAX - 1;
    lb = lb < MAX - 1 ? lb : MAX - 1;
    unsigned char d[MAX][MAX];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            unsigned best = d[i - 1][j - 1] + (ca != cb);
            if (d[i - 1][j] + 1u < best)
                best = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < best)
                best = d[i][j - 1] + 1u;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                cb == tolower((unsigned char)a[i - 2]) && d[i - 2][j - 2] + 1u < best)
                best = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)best;
        }
    return d[la][lb];
}

/* Keep `word` (n letters of text) as the closest so far if it is nearer to
 * sel than the best. */
static void consider(const char *sel, const char *word, size_t n, size_t device,
                     size_t *best_dist, size_t *best_dev, char *best_word, size_t best_len)
{
    char w[64];
    if (n < 2 || n >= sizeof w)
        return;
    memcpy(w, word, n);
    w[n] = '\0';
    size_t dist = edit_distance(sel, w);
    if (dist < *best_dist) {
        *best_dist = dist, *best_dev = device;
        snprintf(best_word, best_len, "%s", w);
        for (char *p = best_word; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
}

/* The selector or name word of a device nearest to sel: a typo ("pcol",
 * "nvida") or the wrong kind ("gpu" where there is only a CPU). False when
 * none is within a third of sel's letters (one edit at least). */
static bool closest_match(const clrt_device_info *list, size_t count, const char *sel,
                          size_t *device, char *word, size_t wordlen)
{
    size_t best = SIZE_MAX;
    for (size_t i = 0; i < count; i++) {
        const clrt_device_info *d = &list[i];
        consider(sel, d->selector, strlen(d->selector), i, &best, device, word, wordlen);
        const char *texts[] = {d->platform, d->platform_version, d->name, d->vendor};
        for (size_t t = 0; t < sizeof texts / sizeof texts[0]; t++)
            for (const char *p = texts[t]; *p;) {
                while (*p && !isalnum((unsigned char)*p))
                    p++;
                const char *start = p;
                while (*p && isalnum((unsigned char)*p))
                    p++;
                consider(sel, start, (size_t)(p - start), i, &best, device, word, wordlen);
            }
    }
    size_t allowed = strlen(sel) / 3;
    return best <= (allowed > 1 ? allowed : 1);
}

/* The failure of a selector: why, a hint, then the device list. */
static clrt_status report(const clrt_device_info *list, size_t count, const char *selector,
                          clrt_status status, const char *why, const char *hint, char *err,
                          size_t errlen)
{
    if (!err || !errlen)
        return status;
    if (count == 0) {
        char text[1024];
        no_device_text(text, sizeof text);
        clrt__errbuf_set(err, errlen, "%s", text);
        return status;
    }
    char devices[2048];
    clrt__device_list_text(list, count, devices, sizeof devices);
    clrt__errbuf_set(err, errlen, "device selector \"%s\" %s%s; devices:\n%s", selector, why,
                     hint, devices);
    return status;
}

static clrt_status no_match(const clrt_device_info *list, size_t count, const char *selector,
                            clrt_status status, const char *why, char *err, size_t errlen)
{
    return report(list, count, selector, status, why, "", err, errlen);
}

/* A selector that names no device: the list, and the closest match. */
static clrt_status matches_none(const clrt_device_info *list, size_t count, const char *selector,
                                char *err, size_t errlen)
{
    char hint[1024] = "", word[64];
    size_t i;
    if (err && errlen && closest_match(list, count, selector, &i, word, sizeof word))
        snprintf(hint, sizeof hint, "; the closest match is \"%s\", device %zu (%s / %s)", word,
                 list[i].index, list[i].platform, list[i].name);
    /* A GPU asked for and none listed: most often its driver's ICD is
     * what is missing. */
    bool gpu_listed = kind_nth(list, count, KIND_GPU, 0) < count;
    if (err && errlen && !gpu_listed &&
        (strncmp(selector, "gpu", 3) == 0 || contains_nocase(selector, "nvidia")))
        snprintf(hint + strlen(hint), sizeof hint - strlen(hint),
                 "; no GPU is listed: install its driver's OpenCL ICD (NVIDIA: the driver's "
                 "nvidia-opencl-icd; Intel: intel-opencl-icd)");
    return report(list, count, selector, CLRT_ERR_NO_DEVICE, "matches no device", hint, err,
                  errlen);
}

clrt_status clrt__device_pick(const clrt_device_info *list, size_t count, const char *selector,
                              size_t *index, char *err, size_t errlen)
{
    /* 127 characters, spaces around them not counted, as clrt.h says: no
     * selector the grammar knows is longer, and a cut one could pick a
     * device it does not name. */
    char sel[128];
    size_t len = trimmed_length(selector ? selector : "");
    if (len >= sizeof sel) {
        char shown[48], why[96];
        trim_copy(shown, 41, selector);
        snprintf(shown + strlen(shown), sizeof shown - strlen(shown), "...");
        snprintf(why, sizeof why, "is %zu characters long; a selector has at most %zu", len,
                 sizeof sel - 1);
        return no_match(list, count, shown, CLRT_ERR_INVALID_ARG, why, err, errlen);
    }
    trim_copy(sel, sizeof sel, selector ? selector : "");
    for (char *p = sel; *p; p++)
        *p = (char)tolower((unsigned char)*p);

    if (sel[0] == '\0') {
        static const device_kind order[] = {KIND_GPU, KIND_ACCELERATOR, KIND_CPU};
        for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
            size_t i = kind_nth(list, count, order[k], 0);
            if (i < count) {
                *index = i;
                return CLRT_OK;
            }
        }
        return no_match(list, count, "", CLRT_ERR_NO_DEVICE,
                        "(the default) found no GPU, accelerator or CPU device; simulators such "
                        "as oclgrind are used only when named",
                        err, errlen);
    }

    size_t n;
    if (parse_index(sel, &n)) {
        if (n < count) {
            *index = n;
            return CLRT_OK;
        }
        return no_match(list, count, sel, CLRT_ERR_NO_DEVICE, "is past the last device", err,
                        errlen);
    }

    static const device_kind kinds[] = {KIND_GPU, KIND_ACCELERATOR, KIND_CPU};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        const char *word = kind_word(kinds[k]);
        size_t wl = strlen(word);
        if (strncmp(sel, word, wl) != 0 || (sel[wl] != '\0' && sel[wl] != ':'))
            continue;
        size_t nth = 0;
        if (sel[wl] == ':' && !parse_index(sel + wl + 1, &nth))
            return no_match(list, count, sel, CLRT_ERR_INVALID_ARG,
                            "is malformed (expected TYPE:N with N a number)", err, errlen);
        size_t i = kind_nth(list, count, kinds[k], nth);
        if (i < count) {
            *index = i;
            return CLRT_OK;
        }
        return matches_none(list, count, sel, err, errlen);
    }

    for (size_t i = 0; i < count; i++) {
        const clrt_device_info *d = &list[i];
        if (contains_nocase(d->platform, sel) || contains_nocase(d->name, sel) ||
            contains_nocase(d->vendor, sel) || contains_nocase(d->platform_version, sel)) {
            *index = i;
            return CLRT_OK;
        }
    }
    return matches_none(list, count, sel, err, errlen);
}

static bool picks(const clrt_device_info *list, size_t count, const char *sel, size_t want)
{
    size_t got;
    return clrt__device_pick(list, count, sel, &got, NULL, 0) == CLRT_OK && got == want;
}

/* Try each alphanumeric word of `text` (3+ letters, not all digits) as a
 * selector; take the first one that picks device i. */
static bool word_selector(const clrt_device_info *list, size_t count, size_t i, const char *text,
                          char *out, size_t outlen)
{
    const char *p = text;
    while (*p) {
        while (*p && !isalnum((unsigned char)*p))
            p++;
        const char *start = p;
        bool digits_only = true;
        while (*p && isalnum((unsigned char)*p)) {
            digits_only = digits_only && isdigit((unsigned char)*p);
            p++;
        }
        size_t n = (size_t)(p - start);
        if (n < 3 || digits_only || n >= outlen)
            continue;
        char word[64];
        if (n >= sizeof word)
            continue;
        for (size_t k = 0; k < n; k++)
            word[k] = (char)tolower((unsigned char)start[k]);
        word[n] = '\0';
        if (strcmp(word, "opencl") == 0)
            continue;
        if (picks(list, count, word, i)) {
            snprintf(out, outlen, "%s", word);
            return true;
        }
    }
    return false;
}

void clrt__device_assign_selectors(clrt_device_info *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        clrt_device_info *d = &list[i];
        char *out = d->selector;
        size_t outlen = sizeof d->selector;
        static const device_kind kinds[] = {KIND_GPU, KIND_ACCELERATOR, KIND_CPU};
        bool done = false;
        for (size_t k = 0; k < 3 && !done; k++) {
            if (!is_kind(d, kinds[k]))
                continue;
            if (picks(list, count, kind_word(kinds[k]), i)) {
                snprintf(out, outlen, "%s", kind_word(kinds[k]));
                done = true;
            }
        }
        /* Platform words first: "pocl" (from the version string), "oclgrind", "nvidia". */
        done = done || word_selector(list, count, i, d->platform, out, outlen) ||
               word_selector(list, count, i, d->platform_version, out, outlen) ||
               word_selector(list, count, i, d->name, out, outlen);
        for (size_t k = 0; k < 3 && !done; k++) {
            if (!is_kind(d, kinds[k]))
                continue;
            size_t nth = 0;
            while (nth < count && kind_nth(list, count, kinds[k], nth) != i)
                nth++;
            snprintf(out, outlen, "%s:%zu", kind_word(kinds[k]), nth);
            done = picks(list, count, out, i);
        }
        if (!done)
            snprintf(out, outlen, "%zu", d->index);
    }
}

/* ----------------------------------------------------------- public */

clrt_status clrt_device_list(clrt_device_info *out, size_t cap, size_t *count, char *err,
                             size_t errlen)
{
    if (!count || (cap > 0 && !out)) {
        clrt__errbuf_set(err, errlen, "clrt_device_list: count is NULL or out is NULL with cap %zu",
                         cap);
        return CLRT_ERR_INVALID_ARG;
    }
    clrt_device_info *list;
    size_t n;
    CLRT_TRY(clrt__device_enumerate(&list, &n, err, errlen));
    for (size_t i = 0; i < n && i < cap; i++)
        out[i] = list[i];
    *count = n;
    free(list);
    return CLRT_OK;
}

clrt_status clrt_device_select(const char *selector, clrt_device_info *out, char *err,
                               size_t errlen)
{
    if (!out) {
        clrt__errbuf_set(err, errlen, "clrt_device_select: out is NULL");
        return CLRT_ERR_INVALID_ARG;
    }
    clrt_device_info *list;
    size_t n, i;
    CLRT_TRY(clrt__device_enumerate(&list, &n, err, errlen));
    clrt_status st = clrt__device_pick(list, n, selector, &i, err, errlen);
    if (st == CLRT_OK)
        *out = list[i];
    free(list);
    return st;
}
