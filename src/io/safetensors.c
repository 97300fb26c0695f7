/* The safetensors format (https://github.com/huggingface/safetensors),
 * reading and writing, with no idea of models or optimizers:
 *   u64 N, little-endian | N bytes of JSON header (a writer pads it with
 *   spaces so 8 + N is a multiple of 8) | the data section: the tensors'
 *   bytes, back to back, little-endian.
 * The header maps each tensor name to
 *   {"dtype":"F32","shape":[out,in],"data_offsets":[begin,end]}
 * (offsets relative to the data section) and "__metadata__" to an object of
 * string values.
 *
 * Reading trusts nothing before it is checked: the header length against
 * the file size (and the safetensors library's 100 MB limit), the JSON
 * (jansson, duplicate keys refused), every entry's dtype, shape and
 * offsets (each range inside the data section, its length the shape's
 * byte size), and, as the format requires, the ranges tiling the data
 * section exactly: no overlap, no hole, nothing after. Each refusal is
 * CLRT_ERR_FORMAT and names the first offending item and the file. */
#include "io/io.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define METADATA_KEY "__metadata__"
#define MAX_HEADER_BYTES 100000000ull /* the safetensors library's own limit */

/* Where messages go: "'<path>': <why>" into err. */
typedef struct reporter {
    const char *path;
    char *err;
    size_t errlen;
} reporter;

static clrt_status refuse(const reporter *R, clrt_status st, const char *fmt, ...)
    CLRT_PRINTF(3, 4);
static clrt_status refuse(const reporter *R, clrt_status st, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clrt__errbuf_set(R->err, R->errlen, "'%s': %s", R->path, msg);
    return st;
}

static bool host_is_little_endian(void)
{
    const uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Host floats to little-endian bytes. */
static void floats_to_le(const float *in, unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t u;
        memcpy(&u, &in[i], 4);
        for (int b = 0; b < 4; b++)
            p[b] = (unsigned char)(u >> (8 * b));
    }
}

/* Little-endian bytes (any alignment) to host floats. */
static void le_to_floats(const unsigned char *p, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&out[i], &u, 4);
    }
}

static void shape_text(const uint64_t *shape, size_t rank, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (size_t i = 0; i < rank && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)shape[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
}

void clrt__safetensors_shape_text(const clrt__st_entry *e, char *buf, size_t len)
{
    shape_text(e->shape, e->rank, buf, len);
}

/* ------------------------------------------------------------- reading */

static size_t dtype_size(const char *d)
{
    static const struct {
        const char *name;
        size_t size;
    } table[] = {{"BOOL", 1},    {"U8", 1},      {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
                 {"I16", 2},     {"U16", 2},     {"F16", 2}, {"BF16", 2},    {"I32", 4},
                 {"U32", 4},     {"F32", 4},     {"F64", 8}, {"I64", 8},     {"U64", 8}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(d, table[i].name) == 0)
            return table[i].size;
    return 0;
}

static clrt_status read_whole(const reporter *R, unsigned char **out, size_t *len)
{
    char why[128];
    *out = NULL;
    *len = 0;
    int fd = open(R->path, O_RDONLY);
    if (fd < 0) {
        clrt__errno_text(errno, why, sizeof why);
        return refuse(R, CLRT_ERR_IO, "cannot open: %s", why);
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return refuse(R, CLRT_ERR_IO, "not a regular file");
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size >= SIZE_MAX) {
        close(fd);
        return refuse(R, CLRT_ERR_OUT_OF_MEMORY, "too large to read");
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return refuse(R, CLRT_ERR_OUT_OF_MEMORY, "no host memory for %zu bytes", size);
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                clrt__errno_text(errno, why, sizeof why);
            else
                snprintf(why, sizeof why, "the file shrank while being read");
            free(buf);
            close(fd);
            return refuse(R, CLRT_ERR_IO, "cannot read: %s", why);
        }
        got += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = size;
    return CLRT_OK;
}

/* One entry of the header, checked; its dims go to `dims` (room for the
 * shape array's length, counted beforehand). */
static clrt_status parse_entry(const reporter *R, const char *name, const json_t *v,
                               size_t data_size, uint64_t *dims, clrt__st_entry *e)
{
    const clrt_status F = CLRT_ERR_FORMAT;
    if (!json_is_object(v))
        return refuse(R, F, "tensor '%s' is not a JSON object", name);
    const json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
                 *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt))
        return refuse(R, F, "tensor '%s' has no dtype string", name);
    size_t es = dtype_size(json_string_value(dt));
    if (es == 0)
        return refuse(R, F, "tensor '%s' has an unknown dtype \"%s\"", name,
                      json_string_value(dt));
    if (!json_is_array(sh))
        return refuse(R, F, "tensor '%s' has no shape array", name);
    size_t rank = json_array_size(sh);
    bool zero = false;
    for (size_t i = 0; i < rank; i++) {
        const json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return refuse(R, F, "the shape of tensor '%s' is not a list of non-negative integers",
                          name);
        dims[i] = (uint64_t)json_integer_value(d);
        zero = zero || dims[i] == 0;
    }
    size_t numel = zero ? 0 : 1;
    for (size_t i = 0; !zero && i < rank; i++) {
        if (dims[i] > SIZE_MAX / es / numel)
            return refuse(R, F, "the shape of tensor '%s' is too large", name);
        numel *= (size_t)dims[i];
    }
    if (!json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)) || !json_is_integer(json_array_get(off, 1)))
        return refuse(R, F, "the data_offsets of tensor '%s' are not two integers", name);
    long long b = (long long)json_integer_value(json_array_get(off, 0));
    long long end = (long long)json_integer_value(json_array_get(off, 1));
    if (b < 0 || end < b)
        return refuse(R, F, "the data_offsets [%lld, %lld] of tensor '%s' are not an ascending "
                      "pair of non-negative integers", b, end, name);
    if ((unsigned long long)end > (unsigned long long)data_size)
        return refuse(R, F, "the data_offsets [%lld, %lld] of tensor '%s' run past the %zu "
                      "bytes of data", b, end, name, data_size);
    if ((size_t)(end - b) != numel * es) {
        char s[128];
        shape_text(dims, rank, s, sizeof s);
        return refuse(R, F, "tensor '%s' is %s %s (%zu bytes) but its data_offsets [%lld, %lld] "
                      "span %lld bytes", name, json_string_value(dt), s, numel * es, b, end,
                      end - b);
    }
    *e = (clrt__st_entry){name, json_string_value(dt), rank, dims, numel, (size_t)b,
                          (size_t)end};
    return CLRT_OK;
}

static int entry_order(const void *pa, const void *pb)
{
    const clrt__st_entry *a = *(const clrt__st_entry *const *)pa;
    const clrt__st_entry *b = *(const clrt__st_entry *const *)pb;
    if (a->begin != b->begin)
        return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end)
        return a->end < b->end ? -1 : 1;
    return 0;
}

/* The ranges tile [0, data_size) exactly (the safetensors rule: no overlap,
 * no hole, which also makes a file longer than its tensors corrupt). */
static clrt_status check_tiling(const reporter *R, const clrt__st_entry *entries, size_t n,
                                size_t data_size)
{
    const clrt__st_entry **order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return refuse(R, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = &entries[i];
    qsort(order, n, sizeof *order, entry_order);
    size_t at = 0;
    const clrt__st_entry *prev = NULL;
    clrt_status st = CLRT_OK;
    for (size_t i = 0; i < n && st == CLRT_OK; i++) {
        const clrt__st_entry *e = order[i];
        if (e->begin < at)
            st = refuse(R, CLRT_ERR_FORMAT, "tensors '%s' and '%s' overlap (bytes %zu..%zu and "
                        "%zu..%zu of the data)", prev->name, e->name, prev->begin, prev->end,
                        e->begin, e->end);
        else if (e->begin > at)
            st = refuse(R, CLRT_ERR_FORMAT, "bytes %zu..%zu of the data belong to no tensor "
                        "(a hole before tensor '%s')", at, e->begin, e->name);
        if (e->end > at || !prev) {
            at = e->end;
            prev = e;
        }
    }
    if (st == CLRT_OK && at != data_size)
        st = refuse(R, CLRT_ERR_FORMAT, "the last %zu bytes of the data belong to no tensor "
                    "(the tensors end at byte %zu of %zu)", data_size - at, at, data_size);
    free(order);
    return st;
}

/* The header: a JSON object whose __metadata__, if any, holds strings. */
static clrt_status parse_header(const reporter *R, const unsigned char *bytes, size_t size,
                                clrt__safetensors *f)
{
    const clrt_status F = CLRT_ERR_FORMAT;
    if (size < 8)
        return refuse(R, F, "not a safetensors file: %zu bytes, shorter than the 8-byte header "
                      "length", size);
    uint64_t hlen = clrt__get_le64(bytes);
    if (hlen > (uint64_t)(size - 8))
        return refuse(R, F, "the header length %llu runs past the end of the file (%zu bytes)",
                      (unsigned long long)hlen, size);
    if (hlen > MAX_HEADER_BYTES)
        return refuse(R, F, "the header length %llu is over the %llu-byte limit",
                      (unsigned long long)hlen, MAX_HEADER_BYTES);
    f->data = bytes + 8 + hlen;
    f->data_size = size - 8 - (size_t)hlen;
    json_error_t jerr;
    f->header = json_loadb((const char *)bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->header)
        return refuse(R, F, "the header is not valid JSON: %s (byte %d of the header)", jerr.text,
                      jerr.position);
    if (!json_is_object(f->header))
        return refuse(R, F, "the header is not a JSON object");

    const json_t *meta = json_object_get(f->header, METADATA_KEY);
    if (meta) {
        if (!json_is_object(meta))
            return refuse(R, F, "%s is not a JSON object", METADATA_KEY);
        const char *key;
        const json_t *value;
        json_object_foreach((json_t *)meta, key, value) {
            if (!json_is_string(value))
                return refuse(R, F, "%s value \"%s\" is not a string", METADATA_KEY, key);
        }
    }
    f->meta = meta;
    return CLRT_OK;
}

/* Every tensor entry, then the tiling of the data section. */
static clrt_status parse_entries(const reporter *R, clrt__safetensors *f)
{
    size_t ndims = 0;
    const char *key;
    json_t *value;
    json_object_foreach(f->header, key, value) {
        const json_t *sh = json_object_get(value, "shape");
        ndims += json_is_array(sh) ? json_array_size(sh) : 0;
    }
    f->entries = calloc(json_object_size(f->header) + 1, sizeof *f->entries);
    f->dims = calloc(ndims + 1, sizeof *f->dims);
    if (!f->entries || !f->dims)
        return refuse(R, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
    size_t used = 0;
    json_object_foreach(f->header, key, value) {
        if (strcmp(key, METADATA_KEY) == 0)
            continue;
        clrt__st_entry *e = &f->entries[f->count];
        CLRT_TRY(parse_entry(R, key, value, f->data_size, f->dims + used, e));
        used += e->rank;
        f->count++;
    }
    return check_tiling(R, f->entries, f->count, f->data_size);
}

clrt_status clrt__safetensors_parse(const char *path, const unsigned char *bytes, size_t size,
                                    clrt__safetensors *f, char *err, size_t errlen)
{
    if (!f)
        return CLRT_ERR_INVALID_ARG;
    memset(f, 0, sizeof *f);
    f->path = path ? path : "";
    const reporter R = {f->path, err, errlen};
    if (!bytes && size > 0)
        return refuse(&R, CLRT_ERR_INVALID_ARG, "no bytes to parse");
    clrt_status st = parse_header(&R, bytes, size, f);
    if (st == CLRT_OK)
        st = parse_entries(&R, f);
    if (st != CLRT_OK)
        clrt__safetensors_close(f);
    return st;
}

clrt_status clrt__safetensors_open(const char *path, clrt__safetensors *f, char *err,
                                   size_t errlen)
{
    if (!f)
        return CLRT_ERR_INVALID_ARG;
    memset(f, 0, sizeof *f);
    if (!path || !*path) {
        clrt__errbuf_set(err, errlen, "no path");
        return CLRT_ERR_INVALID_ARG;
    }
    const reporter R = {path, err, errlen};
    unsigned char *bytes;
    size_t size;
    CLRT_TRY(read_whole(&R, &bytes, &size));
    clrt_status st = clrt__safetensors_parse(path, bytes, size, f, err, errlen);
    if (st != CLRT_OK) {
        free(bytes);
        return st;
    }
    f->owned = bytes;
    return CLRT_OK;
}

void clrt__safetensors_close(clrt__safetensors *f)
{
    if (!f)
        return;
    json_decref(f->header);
    free(f->entries);
    free(f->dims);
    free(f->owned);
    memset(f, 0, sizeof *f);
}

const clrt__st_entry *clrt__safetensors_find(const clrt__safetensors *f, const char *name)
{
    for (size_t i = 0; f && name && i < f->count; i++)
        if (strcmp(f->entries[i].name, name) == 0)
            return &f->entries[i];
    return NULL;
}

const char *clrt__safetensors_meta(const clrt__safetensors *f, const char *key)
{
    return f && key ? json_string_value(json_object_get(f->meta, key)) : NULL;
}

clrt_status clrt__safetensors_read_f32(const clrt__safetensors *f, const clrt__st_entry *e,
                                       float *out, size_t n, char *err, size_t errlen)
{
    const reporter R = {f && f->path ? f->path : "", err, errlen};
    if (!f || !e || (n > 0 && !out))
        return refuse(&R, CLRT_ERR_INVALID_ARG, "no entry or no output to read into");
    if (strcmp(e->dtype, "F32") != 0)
        return refuse(&R, CLRT_ERR_FORMAT, "tensor '%s' is %s, not F32", e->name, e->dtype);
    if (n != e->numel)
        return refuse(&R, CLRT_ERR_INVALID_ARG, "tensor '%s' has %zu elements, not %zu", e->name,
                      e->numel, n);
    le_to_floats(f->data + e->begin, out, n);
    return CLRT_OK;
}

/* ------------------------------------------------------------- writing */

/* t's element count; false for a negative rank or one past size_t bytes. */
static bool tensor_numel(const clrt__st_tensor *t, size_t *numel)
{
    if (t->rank < 0 || (t->rank > 0 && !t->shape))
        return false;
    size_t n = 1;
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] == 0)
            n = 0;
    for (int d = 0; n && d < t->rank; d++) {
        if (t->shape[d] > SIZE_MAX / 4 / n)
            return false;
        n *= t->shape[d];
    }
    *numel = n;
    return true;
}

uint32_t clrt__safetensors_crc32(const clrt__st_tensor *t, size_t n)
{
    const bool le = host_is_little_endian();
    unsigned char chunk[4096];
    uint32_t crc = 0;
    for (size_t k = 0; k < n; k++) {
        size_t numel;
        if (!tensor_numel(&t[k], &numel) || numel == 0)
            continue;
        if (le) {
            crc = clrt__crc32(crc, t[k].data, 4 * numel);
            continue;
        }
        for (size_t at = 0; at < numel; at += sizeof chunk / 4) {
            size_t m = numel - at < sizeof chunk / 4 ? numel - at : sizeof chunk / 4;
            floats_to_le(t[k].data + at, chunk, m);
            crc = clrt__crc32(crc, chunk, 4 * m);
        }
    }
    return crc;
}

/* The header text for t[0..n) and the metadata (caller frees); the data
 * section will be *data_size bytes. NULL with *st set on failure. */
static char *build_header(const reporter *R, const clrt__st_tensor *t, size_t n,
                          const clrt__st_meta *meta, size_t nmeta, size_t *data_size,
                          clrt_status *st)
{
    const clrt_status A = CLRT_ERR_INVALID_ARG;
    json_t *root = json_object();
    char *text = NULL;
    *st = CLRT_ERR_OUT_OF_MEMORY;
    bool ok = root != NULL;
    /* Each object is attached to its parent as soon as it exists, so a
     * failure half-way leaks nothing: json_decref(root) frees it all. */
    if (ok && nmeta > 0) {
        json_t *m = json_object();
        ok = m && json_object_set_new(root, METADATA_KEY, m) == 0;
        for (size_t i = 0; ok && i < nmeta; i++) {
            if (!meta[i].key || !meta[i].value) {
                *st = refuse(R, A, "metadata entry %zu has no key or no value", i);
                goto done;
            }
            if (json_object_get(m, meta[i].key)) {
                *st = refuse(R, A, "metadata key \"%s\" appears twice", meta[i].key);
                goto done;
            }
            ok = json_object_set_new(m, meta[i].key, json_string(meta[i].value)) == 0;
        }
    }
    size_t total = 0;
    for (size_t k = 0; ok && k < n; k++) {
        const char *name = t[k].name;
        size_t numel;
        if (!name || !*name || strcmp(name, METADATA_KEY) == 0) {
            *st = refuse(R, A, "tensor %zu has no name (or is named %s)", k, METADATA_KEY);
            goto done;
        }
        if (json_object_get(root, name)) {
            *st = refuse(R, A, "tensor '%s' appears twice", name);
            goto done;
        }
        if (!tensor_numel(&t[k], &numel)) {
            *st = refuse(R, A, "tensor '%s' has a negative rank or too many elements", name);
            goto done;
        }
        if (numel > 0 && !t[k].data) {
            *st = refuse(R, A, "tensor '%s' has no data", name);
            goto done;
        }
        if (4 * numel > (size_t)LLONG_MAX - total) {
            *st = refuse(R, A, "the tensors are too large for one file");
            goto done;
        }
        json_t *e = NULL, *shape = NULL, *off = NULL;
        ok = (e = json_object()) && json_object_set_new(root, name, e) == 0 &&
             json_object_set_new(e, "dtype", json_string("F32")) == 0 &&
             (shape = json_array()) && json_object_set_new(e, "shape", shape) == 0 &&
             (off = json_array()) && json_object_set_new(e, "data_offsets", off) == 0;
        for (int d = 0; ok && d < t[k].rank; d++)
            ok = json_array_append_new(shape, json_integer((json_int_t)t[k].shape[d])) == 0;
        ok = ok && json_array_append_new(off, json_integer((json_int_t)total)) == 0 &&
             json_array_append_new(off, json_integer((json_int_t)(total + 4 * numel))) == 0;
        total += 4 * numel;
    }
    text = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    if (!text) {
        *st = refuse(R, CLRT_ERR_OUT_OF_MEMORY, "out of memory building the header");
        goto done;
    }
    *data_size = total;
    *st = CLRT_OK;
done:
    json_decref(root);
    return text;
}

clrt_status clrt__safetensors_write(const char *path, const clrt__st_tensor *t, size_t n,
                                    const clrt__st_meta *meta, size_t nmeta, char *err,
                                    size_t errlen)
{
    static const char spaces[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
    if (!path || !*path) {
        clrt__errbuf_set(err, errlen, "no path");
        return CLRT_ERR_INVALID_ARG;
    }
    const reporter R = {path, err, errlen};
    if ((n > 0 && !t) || (nmeta > 0 && !meta))
        return refuse(&R, CLRT_ERR_INVALID_ARG, "no tensors or no metadata array");
    clrt_status st;
    size_t data_size = 0;
    char *header = build_header(&R, t, n, meta, nmeta, &data_size, &st);
    if (!header)
        return st;

    /* Parts: the length, the header, its padding, then the data: the
     * tensors' own floats on a little-endian host, a converted copy on
     * another. */
    const bool le = host_is_little_endian();
    size_t nparts = 3 + (le ? n : 1);
    const void **parts = calloc(nparts, sizeof *parts);
    size_t *sizes = calloc(nparts, sizeof *sizes);
    unsigned char *copy = le ? NULL : malloc(data_size ? data_size : 1);
    if (!parts || !sizes || (!le && !copy)) {
        st = refuse(&R, CLRT_ERR_OUT_OF_MEMORY, "out of memory");
        goto done;
    }
    size_t header_len = strlen(header), pad = (8 - header_len % 8) % 8;
    unsigned char len8[8];
    clrt__put_le64(len8, (uint64_t)header_len + pad);
    parts[0] = len8;
    sizes[0] = 8;
    parts[1] = header;
    sizes[1] = header_len;
    parts[2] = spaces;
    sizes[2] = pad;
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        size_t numel;
        tensor_numel(&t[k], &numel); /* checked by build_header */
        if (le) {
            parts[3 + k] = t[k].data ? (const void *)t[k].data : (const void *)spaces;
            sizes[3 + k] = 4 * numel;
        } else {
            floats_to_le(t[k].data, copy + at, numel);
        }
        at += 4 * numel;
    }
    if (!le) {
        parts[3] = copy;
        sizes[3] = data_size;
    }

    clrt__write_failure wf;
    st = clrt__write_file_atomic(path, (const void *const *)parts, sizes, nparts, 0666,
                                 CLRT__WRITE_SYNC_DIR, &wf);
    if (st == CLRT_ERR_OUT_OF_MEMORY) {
        refuse(&R, st, "out of memory");
    } else if (st != CLRT_OK) {
        char why[128];
        clrt__errno_text(wf.err, why, sizeof why);
        if (strcmp(wf.step, "rename") == 0)
            clrt__errbuf_set(err, errlen, "cannot rename '%s' to '%s': %s", wf.tmp, path, why);
        else
            clrt__errbuf_set(err, errlen, "cannot %s '%s': %s", wf.step, wf.tmp, why);
        free(wf.tmp);
    }
done:
    free(copy);
    free(sizes);
    free(parts);
    free(header);
    return st;
}
