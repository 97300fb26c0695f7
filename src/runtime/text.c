/* Small string helpers every layer shares: a copy, a printf into a new
 * string, and errno as text without strerror's shared buffer. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *clrt__strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

char *clrt__strprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void clrt__errno_text(int err, char *buf, size_t len)
{
    /* The XSI strerror_r (_POSIX_C_SOURCE 200809L): strerror's static buffer
     * is shared by every thread of the host program. */
    if (len > 0 && strerror_r(err, buf, len) != 0)
        snprintf(buf, len, "error %d", err);
}
