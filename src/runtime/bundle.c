/* Bundles: the pre-built programs of one device in one file, for devices
 * that cannot compile (FPGA-class accelerators). clrt-compile writes one;
 * a context given one loads every program from it (program.c) and refuses
 * it at creation when it was made for another device, driver or clrt.
 *
 * File, little-endian integers:
 *   "CLRTBNDL" | u32 format (1) | u32 entry count |
 *   5 × (u32 length | bytes): clrt version, platform, platform version,
 *                             device, driver (the disk-cache key's fields) |
 *   u32 crc32 of everything before it
 *   then per entry:
 *   u32 dtype | u32 name length | u32 defines length | u32 options length |
 *   u64 source length | u64 source hash | u64 source hash (seeded) |
 *   u64 binary length | name | defines | options | binary |
 *   u32 crc32 of the entry from its dtype to the end of its binary
 *   and nothing after the last entry.
 *
 * The checksums are zlib's crc32, which catches a truncated or damaged
 * file, not a forged one: a bundle is code the user chose to run, as a
 * shared library is, and is trusted as one. Every length is checked against
 * what is left of the file before it is used. */
#include "runtime/runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char MAGIC[8] = {'C', 'L', 'R', 'T', 'B', 'N', 'D', 'L'};
enum {
    FORMAT_VERSION = 1,
    FIELDS = 5,
    FIELD_MAX = 4096,                    /* an identity field's length, at most */
    MAX_ENTRIES = 65536,                 /* clrt has 40-45 variants per device */
    ENTRY_FIXED = 4 * 4 + 4 * 8,         /* an entry's integers */
    ENTRY_MIN = ENTRY_FIXED + 1 + 1 + 4, /* and a name, a binary byte and the crc */
};

static const char *const field_names[FIELDS] = {"clrt", "platform", "platform version", "device",
                                                "driver"};

struct clrt__bundle {
    char *path;
    char *field[FIELDS];
    char *data; /* the whole file: the entries' binaries point into it */
    clrt__bundle_entry *entries;
    size_t count;
};

/* The identity of a device as a bundle records it, field by field. */
static void device_fields(const clrt_device_info *dev, const char *out[FIELDS])
{
    out[0] = CLRT_VERSION_STRING;
    out[1] = dev->platform;
    out[2] = dev->platform_version;
    out[3] = dev->name;
    out[4] = dev->driver_version;
}

/* ------------------------------------------------------------- writing */

clrt_status clrt__bundle_write(const char *path, const clrt_device_info *dev,
                               const clrt__bundle_entry *entries, size_t count, char *err,
                               size_t errlen)
{
    const char *fields[FIELDS];
    device_fields(dev, fields);
    size_t head_len = 8 + 4 + 4 + 4;
    for (int f = 0; f < FIELDS; f++)
        head_len += 4 + strlen(fields[f]);
    if (count > UINT32_MAX)
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_INVALID_ARG, "bundle %s: %zu programs", path,
                                 count);
    /* Parts: the header, then per entry its integers, three strings, the
     * binary and its crc. */
    size_t nparts = 1 + 6 * count;
    const void **parts = calloc(nparts, sizeof *parts);
    size_t *sizes = calloc(nparts, sizeof *sizes);
    unsigned char *head = malloc(head_len);
    unsigned char *fixed = calloc(count ? count : 1, ENTRY_FIXED + 4);
    if (!parts || !sizes || !head || !fixed) {
        free(parts), free(sizes), free(head), free(fixed);
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_OUT_OF_MEMORY,
                                 "out of host memory writing bundle %s", path);
    }
    unsigned char *p = head;
    memcpy(p, MAGIC, 8);
    clrt__put_le32(p + 8, FORMAT_VERSION);
    clrt__put_le32(p + 12, (uint32_t)count);
    p += 16;
    for (int f = 0; f < FIELDS; f++) {
        size_t n = strlen(fields[f]);
        clrt__put_le32(p, (uint32_t)n);
        memcpy(p + 4, fields[f], n);
        p += 4 + n;
    }
    clrt__put_le32(p, clrt__crc32(0, head, (size_t)(p - head)));
    parts[0] = head;
    sizes[0] = head_len;

    for (size_t i = 0; i < count; i++) {
        const clrt__program_key *k = &entries[i].key;
        unsigned char *q = fixed + i * (ENTRY_FIXED + 4), *crc = q + ENTRY_FIXED;
        size_t ln = strlen(k->name), ld = strlen(k->defines), lo = strlen(k->options);
        clrt__put_le32(q, (uint32_t)k->dtype);
        clrt__put_le32(q + 4, (uint32_t)ln);
        clrt__put_le32(q + 8, (uint32_t)ld);
        clrt__put_le32(q + 12, (uint32_t)lo);
        clrt__put_le64(q + 16, k->source_len);
        clrt__put_le64(q + 24, k->source_hash[0]);
        clrt__put_le64(q + 32, k->source_hash[1]);
        clrt__put_le64(q + 40, (uint64_t)entries[i].binary_len);
        uint32_t c = clrt__crc32(0, q, ENTRY_FIXED);
        c = clrt__crc32(c, k->name, ln);
        c = clrt__crc32(c, k->defines, ld);
        c = clrt__crc32(c, k->options, lo);
        c = clrt__crc32(c, entries[i].binary, entries[i].binary_len);
        clrt__put_le32(crc, c);
        const void *const these[6] = {q, k->name, k->defines, k->options, entries[i].binary, crc};
        const size_t lens[6] = {ENTRY_FIXED, ln, ld, lo, entries[i].binary_len, 4};
        memcpy(&parts[1 + 6 * i], these, sizeof these);
        memcpy(&sizes[1 + 6 * i], lens, sizeof lens);
    }
    clrt__write_failure wf;
    clrt_status st = clrt__write_file_atomic(path, (const void *const *)parts, sizes, nparts, 0666,
                                             CLRT__WRITE_UNIQUE_TMP | CLRT__WRITE_SYNC_DIR, &wf);
    if (st == CLRT_ERR_OUT_OF_MEMORY) {
        clrt__errbuf_set(err, errlen, "out of host memory writing bundle %s", path);
    } else if (st != CLRT_OK) {
        char why[128];
        clrt__errno_text(wf.err, why, sizeof why);
        if (strcmp(wf.step, "rename") == 0)
            clrt__errbuf_set(err, errlen, "cannot rename %s to %s: %s", wf.tmp, path, why);
        else
            clrt__errbuf_set(err, errlen, "cannot %s %s (writing bundle %s): %s", wf.step, wf.tmp,
                             path, why);
        free(wf.tmp);
    }
    free(parts), free(sizes), free(head), free(fixed);
    return st;
}

clrt_status clrt__bundle_save(clrt_ctx *ctx, const char *path, size_t *count)
{
    *count = 0;
    size_t n = clrt__program_count(ctx);
    clrt__bundle_entry *entries = calloc(n ? n : 1, sizeof *entries);
    if (!entries)
        return clrt__fail(ctx, CLRT_ERR_OUT_OF_MEMORY, "out of host memory writing bundle %s",
                          path);
    clrt_status st = CLRT_OK;
    for (size_t i = 0; i < n && st == CLRT_OK; i++) {
        unsigned char *bin;
        st = clrt__program_export(ctx, i, &entries[i].key, &bin, &entries[i].binary_len);
        entries[i].binary = bin;
    }
    char err[1024] = "";
    if (st == CLRT_OK &&
        (st = clrt__bundle_write(path, &ctx->dev, entries, n, err, sizeof err)) != CLRT_OK)
        clrt__fail(ctx, st, "%s", err);
    for (size_t i = 0; i < n; i++)
        free((void *)entries[i].binary);
    free(entries);
    if (st == CLRT_OK)
        *count = n;
    return st;
}

/* ------------------------------------------------------------- reading */

/* A cursor over the file: every read checks what is left first. */
typedef struct reader {
    const unsigned char *p;
    size_t at, len;
} reader;

static bool take(reader *r, size_t n, const unsigned char **out)
{
    if (n > r->len - r->at)
        return false;
    *out = r->p + r->at;
    r->at += n;
    return true;
}

static bool take32(reader *r, uint32_t *v)
{
    const unsigned char *q;
    if (!take(r, 4, &q))
        return false;
    *v = clrt__get_le32(q);
    return true;
}

static bool take64(reader *r, uint64_t *v)
{
    const unsigned char *q;
    if (!take(r, 8, &q))
        return false;
    *v = clrt__get_le64(q);
    return true;
}

/* A string of `n` bytes into buf[cap]: no NUL inside, shorter than cap. */
static bool take_text(reader *r, uint32_t n, char *buf, size_t cap)
{
    const unsigned char *q;
    if (n >= cap || !take(r, n, &q) || memchr(q, '\0', n))
        return false;
    memcpy(buf, q, n);
    buf[n] = '\0';
    return true;
}

void clrt__bundle_free(clrt__bundle *b)
{
    if (!b)
        return;
    for (int f = 0; f < FIELDS; f++)
        free(b->field[f]);
    free(b->entries);
    free(b->data);
    free(b->path);
    free(b);
}

#define CORRUPT(...)                                                                               \
    do {                                                                                           \
        st = CLRT_ERR_FORMAT;                                                                      \
        snprintf(why, sizeof why, __VA_ARGS__);                                                    \
        goto fail;                                                                                 \
    } while (0)

clrt_status clrt__bundle_load(const char *path, clrt__bundle **out, char *err, size_t errlen)
{
    *out = NULL;
    clrt_status st = CLRT_ERR_OUT_OF_MEMORY;
    char why[512] = "out of host memory";
    clrt__bundle *b = calloc(1, sizeof *b);
    if (!b || !(b->path = clrt__strdup(path)))
        goto fail;
    size_t len;
    errno = 0;
    if (clrt__read_file(path, &b->data, &len) != 0) {
        char text[128];
        clrt__errno_text(errno ? errno : EIO, text, sizeof text);
        clrt__bundle_free(b);
        return clrt__errbuf_fail(err, errlen, CLRT_ERR_IO, "cannot read bundle %s: %s", path, text);
    }
    reader r = {(const unsigned char *)b->data, 0, len};
    const unsigned char *magic;
    uint32_t version, count;
    if (!take(&r, 8, &magic) || memcmp(magic, MAGIC, 8) != 0)
        CORRUPT("not a clrt bundle (no CLRTBNDL magic)");
    if (!take32(&r, &version) || !take32(&r, &count))
        CORRUPT("the header is cut short at byte %zu", r.at);
    if (version != FORMAT_VERSION)
        CORRUPT("format %u, this clrt reads format %d", (unsigned)version, FORMAT_VERSION);
    for (int f = 0; f < FIELDS; f++) {
        uint32_t n;
        if (!take32(&r, &n))
            CORRUPT("the header is cut short at byte %zu", r.at);
        if (n > FIELD_MAX || n > r.len - r.at)
            CORRUPT("the %s field's length %u runs past the header or the file (%zu bytes)",
                    field_names[f], (unsigned)n, len);
        if (!(b->field[f] = malloc((size_t)n + 1)))
            goto nomem;
        if (!take_text(&r, n, b->field[f], (size_t)n + 1))
            CORRUPT("the %s field holds a NUL byte", field_names[f]);
    }
    size_t head_len = r.at;
    uint32_t crc;
    if (!take32(&r, &crc))
        CORRUPT("the header is cut short at byte %zu", r.at);
    if (crc != clrt__crc32(0, r.p, head_len))
        CORRUPT("the header's checksum does not match: the file is damaged");
    if (count > MAX_ENTRIES || count > (r.len - r.at) / ENTRY_MIN)
        CORRUPT("%u programs: more than a bundle holds (%d) or than fit in the %zu bytes left",
                (unsigned)count, MAX_ENTRIES, r.len - r.at);
    b->entries = calloc(count ? count : 1, sizeof *b->entries);
    if (!b->entries)
        goto nomem;

    for (uint32_t i = 0; i < count; i++) {
        clrt__bundle_entry *e = &b->entries[i];
        clrt__program_key *k = &e->key;
        size_t start = r.at;
        uint32_t dtype, ln, ld, lo;
        uint64_t blen;
        if (!take32(&r, &dtype) || !take32(&r, &ln) || !take32(&r, &ld) || !take32(&r, &lo) ||
            !take64(&r, &k->source_len) || !take64(&r, &k->source_hash[0]) ||
            !take64(&r, &k->source_hash[1]) || !take64(&r, &blen))
            CORRUPT("program %u of %u is cut short at byte %zu", (unsigned)i + 1, (unsigned)count,
                    r.at);
        k->dtype = (clrt_dtype)dtype;
        if (ln == 0 || !take_text(&r, ln, k->name, sizeof k->name))
            CORRUPT("program %u of %u: bad name (length %u at byte %zu)", (unsigned)i + 1,
                    (unsigned)count, (unsigned)ln, start);
        if (!take_text(&r, ld, k->defines, sizeof k->defines) ||
            !take_text(&r, lo, k->options, sizeof k->options))
            CORRUPT("program %u of %u (%s): bad defines or options (lengths %u, %u)",
                    (unsigned)i + 1, (unsigned)count, k->name, (unsigned)ld, (unsigned)lo);
        if (!clrt__dtype_name(k->dtype))
            CORRUPT("program %s: element type %u names no type", k->name, (unsigned)dtype);
        const unsigned char *bin;
        if (blen == 0 || blen > r.len - r.at || !take(&r, (size_t)blen, &bin))
            CORRUPT("program %s \"%s\": its binary of %llu bytes runs past the end of the file "
                    "(%zu bytes)",
                    k->name, k->defines, (unsigned long long)blen, len);
        size_t end = r.at;
        if (!take32(&r, &crc))
            CORRUPT("program %s \"%s\": its checksum is cut off", k->name, k->defines);
        if (crc != clrt__crc32(0, r.p + start, end - start))
            CORRUPT("program %s \"%s\": the checksum does not match: the file is damaged", k->name,
                    k->defines);
        if (clrt__bundle_find(b, k->name, k->defines, k->dtype))
            CORRUPT("program %s \"%s\" (%s) is in it twice", k->name, k->defines,
                    clrt__dtype_name(k->dtype));
        e->binary = bin;
        e->binary_len = (size_t)blen;
        b->count = i + 1;
    }
    if (r.at != r.len)
        CORRUPT("%zu bytes after the last program", r.len - r.at);
    *out = b;
    return CLRT_OK;
nomem:
    st = CLRT_ERR_OUT_OF_MEMORY;
    snprintf(why, sizeof why, "out of host memory");
fail:
    clrt__bundle_free(b);
    return clrt__errbuf_fail(err, errlen, st, "bundle %s: %s", path, why);
}

clrt_status clrt__bundle_check_device(const clrt__bundle *b, const clrt_device_info *dev, char *err,
                                      size_t errlen)
{
    const char *mine[FIELDS];
    device_fields(dev, mine);
    for (int f = 0; f < FIELDS; f++)
        if (strcmp(b->field[f], mine[f]) != 0)
            return clrt__errbuf_fail(
                err, errlen, CLRT_ERR_UNSUPPORTED,
                "bundle %s was made for another %s: for %s / %s (driver %s, %s, clrt %s), but "
                "this context is on %s / %s (driver %s, %s, clrt %s); make one for this "
                "device with clrt-compile",
                b->path, field_names[f], b->field[1], b->field[3], b->field[4], b->field[2],
                b->field[0], mine[1], mine[3], mine[4], mine[2], mine[0]);
    return CLRT_OK;
}

const clrt__bundle_entry *clrt__bundle_find(const clrt__bundle *b, const char *name,
                                            const char *defines, clrt_dtype dtype)
{
    for (size_t i = 0; i < b->count; i++) {
        const clrt__program_key *k = &b->entries[i].key;
        if (k->dtype == dtype && strcmp(k->name, name) == 0 && strcmp(k->defines, defines) == 0)
            return &b->entries[i];
    }
    return NULL;
}

size_t clrt__bundle_count(const clrt__bundle *b)
{
    return b->count;
}

const clrt__bundle_entry *clrt__bundle_at(const clrt__bundle *b, size_t i)
{
    return i < b->count ? &b->entries[i] : NULL;
}

const char *clrt__bundle_path(const clrt__bundle *b)
{
    return b->path;
}
