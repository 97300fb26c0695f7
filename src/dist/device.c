/* Which device a rank uses: a selector naming devices is kept, a bare type
 * word (or none) is spread over the host's devices of that kind by the
 * rank's local index. */
#include "dist/dist.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The devices of `type` that type selectors count (simulators are left out
 * of them, docs/design.md (c)). */
static size_t count_kind(const clrt_device_info *devs, size_t n, cl_device_type type)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if ((devs[i].type & type) && !devs[i].is_simulator)
            k++;
    return k;
}

clrt_status clrt_dist_device(const clrt_dist *d, const char *selector, char *out, size_t len,
                             char *err, size_t errlen)
{
    static const char fn[] = "clrt_dist_device";
    if (!d || !out || len == 0)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG,
                                 "%s: the clrt_dist and an output buffer are needed", fn);
    out[0] = '\0';
    if (!selector)
        selector = getenv("CLRT_DEVICE");
    if (!selector)
        selector = "";
    while (isspace((unsigned char)*selector))
        selector++;
    size_t n = strlen(selector);
    while (n > 0 && isspace((unsigned char)selector[n - 1]))
        n--;
    static const struct { const char *word; cl_device_type type; } kinds[] = {
        {"gpu", CL_DEVICE_TYPE_GPU},
        {"accelerator", CL_DEVICE_TYPE_ACCELERATOR},
        {"cpu", CL_DEVICE_TYPE_CPU},
    };
    int kind = -1;
    for (int k = 0; k < 3; k++)
        if (n == strlen(kinds[k].word) && strncasecmp(selector, kinds[k].word, n) == 0)
            kind = k;
    if (n > 0 && kind < 0) {
        /* A name, an index or KIND:N: the rank's own choice, as it is. */
        if (n >= len)
            return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG,
                                     "%s: the selector needs %zu bytes, out has %zu", fn, n + 1,
                                     len);
        memcpy(out, selector, n);
        out[n] = '\0';
        return CLRT_OK;
    }
    size_t count = 0;
    CLRT_TRY(clrt_device_list(NULL, 0, &count, err, errlen));
    clrt_device_info *devs = count ? calloc(count, sizeof *devs) : NULL;
    if (count && !devs)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    size_t got = 0;
    clrt_status st = count ? clrt_device_list(devs, count, &got, err, errlen) : CLRT_OK;
    if (got < count)
        count = got;
    size_t of_kind = 0;
    if (st == CLRT_OK) {
        if (kind < 0) /* the default kind: the first of GPU, accelerator, CPU present */
            for (int k = 0; k < 3 && kind < 0; k++)
                if (count_kind(devs, count, kinds[k].type) > 0)
                    kind = k;
        if (kind >= 0)
            of_kind = count_kind(devs, count, kinds[kind].type);
    }
    free(devs);
    if (st != CLRT_OK)
        return st;
    int w;
    if (of_kind == 0) /* nothing to spread over: let the context say what is missing */
        w = snprintf(out, len, "%.*s", (int)n, selector);
    else
        w = snprintf(out, len, "%s:%zu", kinds[kind].word, (size_t)d->local_rank % of_kind);
    if (w < 0 || (size_t)w >= len) {
        out[0] = '\0';
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG,
                                 "%s: the selector needs %d bytes, out has %zu", fn, w + 1, len);
    }
    return CLRT_OK;
}
