/* The device selector (clrt__device_pick in src/runtime/device.c) over a
 * fake device list made from the input, then a selector from the rest of
 * it. Input: a count byte (0..8 devices), per device a type byte (bit 0
 * CPU, 1 GPU, 2 accelerator, 3 default; bit 7 a simulator) and four
 * strings, each a length byte (0..63) and its bytes (platform, platform
 * version, name, vendor); the selector is what remains. The pick returns
 * a status and an index in range, and the selector clrt shows for each
 * device (clrt__device_assign_selectors) picks that device. */
#include "fuzz_util.h"

#include "runtime/runtime.h"

#define MAX_DEVICES 8

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static unsigned take_byte(reader *r)
{
    if (r->left == 0)
        return 0;
    r->left--;
    return *r->p++;
}

static void take_string(reader *r, char *out, size_t cap)
{
    size_t n = take_byte(r) % 64;
    if (n > r->left)
        n = r->left;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, r->p, n);
    out[n] = '\0'; /* an embedded NUL just ends it sooner */
    r->p += n, r->left -= n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    size_t count = take_byte(&r) % (MAX_DEVICES + 1);
    clrt_device_info list[MAX_DEVICES];
    memset(list, 0, sizeof list);
    for (size_t i = 0; i < count; i++) {
        clrt_device_info *d = &list[i];
        unsigned t = take_byte(&r);
        d->index = i;
        d->type = (t & 1 ? CL_DEVICE_TYPE_CPU : 0) | (t & 2 ? CL_DEVICE_TYPE_GPU : 0) |
                  (t & 4 ? CL_DEVICE_TYPE_ACCELERATOR : 0) | (t & 8 ? CL_DEVICE_TYPE_DEFAULT : 0);
        d->is_simulator = (t & 0x80) != 0;
        take_string(&r, d->platform, sizeof d->platform);
        take_string(&r, d->platform_version, sizeof d->platform_version);
        take_string(&r, d->name, sizeof d->name);
        take_string(&r, d->vendor, sizeof d->vendor);
    }
    char selector[512];
    size_t n = r.left < sizeof selector - 1 ? r.left : sizeof selector - 1;
    memcpy(selector, r.p, n);
    selector[n] = '\0';

    char err[4096];
    size_t index = SIZE_MAX;
    clrt_status st = clrt__device_pick(list, count, selector, &index, err, sizeof err);
    if (st == CLRT_OK)
        FUZZ_CHECK(index < count);
    else
        FUZZ_CHECK((st == CLRT_ERR_NO_DEVICE || st == CLRT_ERR_INVALID_ARG) &&
                   (strncmp(err, "device selector", 15) == 0 ||
                    /* With no device at all the message says what to install. */
                    (count == 0 && strncmp(err, "no OpenCL platform", 18) == 0)));
    /* The NULL selector (the default choice) and an error buffer too small. */
    st = clrt__device_pick(list, count, NULL, &index, err, 8);
    FUZZ_CHECK(st == CLRT_OK ? index < count : st == CLRT_ERR_NO_DEVICE);

    clrt__device_assign_selectors(list, count);
    for (size_t i = 0; i < count; i++) {
        FUZZ_CHECK(list[i].selector[0] != '\0');
        FUZZ_CHECK(clrt__device_pick(list, count, list[i].selector, &index, NULL, 0) == CLRT_OK);
        FUZZ_CHECK(index == i);
    }
    char text[1024];
    clrt__device_list_text(list, count, text, sizeof text);
    FUZZ_CHECK(strlen(text) < sizeof text);
    return 0;
}
