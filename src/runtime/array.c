/* Growable arrays: the one growth rule of the caches, lists and pools
 * that append items one at a time. */
#include "runtime/runtime.h"

#include <stdint.h>
#include <stdlib.h>

void *clrt__array_room(void *items, size_t *cap, size_t count, size_t size, size_t first)
{
    if (count < *cap)
        return items;
    size_t grown = *cap ? 2 * *cap : first;
    if (grown < *cap || grown > SIZE_MAX / size)
        return NULL;
    void *p = realloc(items, grown * size);
    if (p)
        *cap = grown;
    return p;
}
