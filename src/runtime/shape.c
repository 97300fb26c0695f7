/* Shape validation and formatting shared by every op that takes tensors. */
#include "runtime/runtime.h"

#include <stdint.h>
#include <stdio.h>

clrt_status clrt__shape_numel(int rank, const size_t *shape, size_t *numel, char *why,
                              size_t whylen)
{
    if (rank < 1 || rank > CLRT_MAX_RANK) {
        clrt__errbuf_set(why, whylen, "rank %d is outside 1..%d", rank, CLRT_MAX_RANK);
        return CLRT_ERR_SHAPE;
    }
    if (!shape) {
        clrt__errbuf_set(why, whylen, "shape is NULL");
        return CLRT_ERR_INVALID_ARG;
    }
    /* Bound the byte size, not only the count: every tensor is float32. */
    const size_t max_elems = SIZE_MAX / sizeof(float);
    for (int i = 0; i < rank; i++)
        if (shape[i] == 0) {
            *numel = 0; /* empty whatever the other dimensions are */
            return CLRT_OK;
        }
    size_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (shape[i] != 0 && n > max_elems / shape[i]) {
            char s[160];
            clrt__shape_str(rank, shape, s, sizeof s);
            clrt__errbuf_set(why, whylen, "shape %s has more elements than memory can address", s);
            return CLRT_ERR_SHAPE;
        }
        n *= shape[i];
    }
    *numel = n;
    return CLRT_OK;
}

void clrt__shape_str(int rank, const size_t *shape, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    size_t used = 0;
    int w = snprintf(buf, len, "[");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; shape && i < rank && i < CLRT_MAX_RANK && used < len; i++) {
        w = snprintf(buf + used, len - used, "%s%zu", i ? ", " : "", shape[i]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
    if (used < len)
        snprintf(buf + used, len - used, "]");
}
