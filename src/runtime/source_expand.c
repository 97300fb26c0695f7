/* Expansion of local `#include "file"` lines in kernel sources. Used by the
 * build-time embedder (tools/clrt-embed.c) and, for CLRT_KERNEL_DIR, at run
 * time, so both produce the same text. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INCLUDE_DEPTH 8

typedef struct text_buf {
    char *p;
    size_t len, cap;
    bool oom;
} text_buf;

static void put(text_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->oom = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void putf(text_buf *b, const char *fmt, const char *name, size_t line)
{
    char tmp[512];
    int n = snprintf(tmp, sizeof tmp, fmt, line, name);
    if (n > 0)
        put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

int clrt__read_file(const char *path, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    text_buf b = {0};
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        put(&b, chunk, n);
    int bad = ferror(f) || b.oom;
    fclose(f);
    if (bad) {
        free(b.p);
        return -1;
    }
    if (!b.p)
        put(&b, "", 0);
    if (b.oom)
        return -1;
    *data = b.p;
    *len = b.len;
    return 0;
}

/* If `line` is `#include "name"`, copy the name out and return true. */
static bool local_include(const char *line, size_t len, char *name, size_t namelen)
{
    const char *p = line, *end = line + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p != '#')
        return false;
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if ((size_t)(end - p) < 7 || strncmp(p, "include", 7) != 0)
        return false;
    p += 7;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p != '"')
        return false;
    const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));
    if (!q)
        return false;
    if ((size_t)(q - p - 1) >= namelen) {
        name[0] = '\0'; /* too long: the caller reports it */
        return true;
    }
    memcpy(name, p + 1, (size_t)(q - p - 1));
    name[q - p - 1] = '\0';
    return true;
}

static int expand(text_buf *out, const char *file_name, const char *text, size_t len,
                  const char *include_dir, int depth, char *err, size_t errlen)
{
    size_t line_no = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line_no++;
        char name[256];
        if (!local_include(p, line_len, name, sizeof name)) {
            put(out, p, line_len);
            put(out, "\n", 1);
        } else {
            if (depth >= MAX_INCLUDE_DEPTH) {
                clrt__errbuf_set(err, errlen, "%s:%zu: includes nest deeper than %d (a cycle?)",
                                 file_name, line_no, MAX_INCLUDE_DEPTH);
                return -1;
            }
            if (name[0] == '\0') {
                clrt__errbuf_set(err, errlen, "%s:%zu: #include name is empty or too long",
                                 file_name, line_no);
                return -1;
            }
            if (name[0] == '/' || strstr(name, "..")) {
                clrt__errbuf_set(err, errlen,
                                 "%s:%zu: #include \"%s\" must name a file in the kernel folder",
                                 file_name, line_no, name);
                return -1;
            }
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", include_dir ? include_dir : ".", name);
            char *inc;
            size_t inc_len;
            if (clrt__read_file(path, &inc, &inc_len) != 0) {
                clrt__errbuf_set(err, errlen, "%s:%zu: cannot read included file %s", file_name,
                                 line_no, path);
                return -1;
            }
            putf(out, "#line %zu \"%s\"\n", name, 1);
            int rc = expand(out, name, inc, inc_len, include_dir, depth + 1, err, errlen);
            free(inc);
            if (rc != 0)
                return rc;
            putf(out, "#line %zu \"%s\"\n", file_name, line_no + 1);
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int clrt__expand_includes(const char *file_name, const char *text, size_t len,
                          const char *include_dir, char **out, size_t *out_len, char *err,
                          size_t errlen)
{
    *out = NULL;
    *out_len = 0;
    text_buf b = {0};
    put(&b, "", 0);
    int rc = expand(&b, file_name, text, len, include_dir, 0, err, errlen);
    if (rc == 0 && b.oom) {
        clrt__errbuf_set(err, errlen, "out of memory expanding %s", file_name);
        rc = -1;
    }
    if (rc != 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}
