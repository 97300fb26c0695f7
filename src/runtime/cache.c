/* The on-disk program binary cache: directory choice, entry format, atomic
 * store, and a load that never trusts a corrupt or foreign entry.
 *
 * Entry file "<dir>/<32 hex digits>.clbin", little-endian:
 *   "CLRTBIN\0" | u32 format (1) | u32 key length | u64 binary length |
 *   key bytes | binary bytes | u32 crc32 of key and binary
 * The key is the whole text the entry was built for (source hash, options,
 * platform, device, driver, clrt version); a load compares it byte for byte,
 * so a hash collision or a file copied from elsewhere is rejected. */
#include "runtime/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = {'C', 'L', 'R', 'T', 'B', 'I', 'N', '\0'};
enum { FORMAT_VERSION = 1, HEADER_BYTES = 8 + 4 + 4 + 8, TRAILER_BYTES = 4 };

uint64_t clrt__hash64(const void *data, size_t len, uint64_t seed)
{
    /* FNV-1a, 64 bit, with the seed folded into the offset basis. */
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

char *clrt__cache_dir_resolve(const char *opt)
{
    const char *v = opt && *opt ? opt : getenv("CLRT_CACHE_DIR");
    if (v && *v)
        return strcmp(v, "off") == 0 ? NULL : clrt__strdup(v);
    const char *xdg = getenv("XDG_CACHE_HOME");
    if (xdg && *xdg == '/')
        return clrt__strprintf("%s/clrt", xdg);
    const char *home = getenv("HOME");
    if (home && *home == '/')
        return clrt__strprintf("%s/.cache/clrt", home);
    return NULL;
}

char *clrt__cache_path(const char *dir, const char *key)
{
    size_t klen = strlen(key);
    char name[64];
    snprintf(name, sizeof name, "/%016llx%016llx.clbin",
             (unsigned long long)clrt__hash64(key, klen, 0),
             (unsigned long long)clrt__hash64(key, klen, 0x9e3779b97f4a7c15ull));
    return clrt__strprintf("%s%s", dir, name);
}

void clrt__put_le32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

void clrt__put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

uint32_t clrt__get_le32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint64_t clrt__get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint32_t clrt__crc32(uint32_t crc, const void *data, size_t len)
{
    uLong c = crc;
    const Bytef *p = data;
    /* zlib takes uInt lengths: feed large inputs in pieces. */
    for (size_t off = 0; off < len;) {
        uInt n = (uInt)(len - off > 0x40000000u ? 0x40000000u : len - off);
        c = crc32(c, p + off, n);
        off += n;
    }
    return (uint32_t)c;
}

static uint32_t checksum(const char *key, size_t klen, const unsigned char *bin, size_t blen)
{
    return clrt__crc32(clrt__crc32(0, key, klen), bin, blen);
}

clrt_status clrt__cache_load(const char *dir, const char *key, unsigned char **bin,
                             size_t *bin_len)
{
    *bin = NULL;
    *bin_len = 0;
    char *path = clrt__cache_path(dir, key);
    if (!path)
        return CLRT_ERR_OUT_OF_MEMORY;
    char *data;
    size_t len;
    int rc = clrt__read_file(path, &data, &len);
    free(path);
    if (rc != 0)
        return CLRT_ERR_IO;

    const unsigned char *p = (const unsigned char *)data;
    size_t klen = strlen(key);
    clrt_status st = CLRT_ERR_FORMAT;
    if (len < HEADER_BYTES + TRAILER_BYTES || memcmp(p, MAGIC, 8) != 0 ||
        clrt__get_le32(p + 8) != FORMAT_VERSION || clrt__get_le32(p + 12) != klen)
        goto done;
    uint64_t blen = clrt__get_le64(p + 16);
    size_t fixed = HEADER_BYTES + TRAILER_BYTES + klen;
    if (fixed > len || blen != (uint64_t)(len - fixed) || blen == 0)
        goto done;
    if (memcmp(p + HEADER_BYTES, key, klen) != 0)
        goto done;
    const unsigned char *b = p + HEADER_BYTES + klen;
    if (clrt__get_le32(b + blen) != checksum(key, klen, b, (size_t)blen))
        goto done;
    unsigned char *copy = malloc((size_t)blen);
    if (!copy) {
        st = CLRT_ERR_OUT_OF_MEMORY;
        goto done;
    }
    memcpy(copy, b, (size_t)blen);
    *bin = copy;
    *bin_len = (size_t)blen;
    st = CLRT_OK;
done:
    free(data);
    return st;
}

int clrt__make_dirs(const char *dir)
{
    char *path = clrt__strdup(dir);
    if (!path)
        return -1;
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            rc = -1;
            break;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(path);
    return rc;
}

static int write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The file-write fault of clrt__fault_file_writes: thread-local, so a test
 * arming it reaches its own thread's writes only. */
static _Thread_local unsigned long file_fault_nth, file_fault_calls, file_fault_fired;
static _Thread_local int file_fault_errno;

void clrt__fault_file_writes(unsigned long nth, int err)
{
    file_fault_nth = nth;
    file_fault_calls = 0;
    file_fault_errno = err ? err : EIO;
}

unsigned long clrt__fault_file_writes_fired(void)
{
    return file_fault_fired;
}

/* true, with errno set, when this step of a write is to fail. */
static bool file_fault(void)
{
    if (file_fault_nth == 0 || ++file_fault_calls < file_fault_nth)
        return false;
    file_fault_fired++;
    errno = file_fault_errno;
    return true;
}

/* "<path>.tmp.<pid>", or with CLRT__WRITE_UNIQUE_TMP
 * "<path>.tmp.<pid>.<seconds>.<nanoseconds>" (caller frees). */
static char *temp_name(const char *path, unsigned flags)
{
    size_t len = strlen(path) + 48;
    char *tmp = malloc(len);
    if (!tmp)
        return NULL;
    if (flags & CLRT__WRITE_UNIQUE_TMP) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(tmp, len, "%s.tmp.%ld.%lld.%ld", path, (long)getpid(), (long long)now.tv_sec,
                 (long)now.tv_nsec);
    } else {
        snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    }
    return tmp;
}

/* Make a rename in the directory of `path` durable; best effort (some file
 * systems refuse fsync on a directory, and the file itself is complete). */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t len = slash ? (size_t)(slash == path ? 1 : slash - path) : 1;
    char *dir = malloc(len + 1);
    if (!dir)
        return;
    memcpy(dir, slash ? path : ".", len);
    dir[len] = '\0';
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

clrt_status clrt__write_file_atomic(const char *path, const void *const *parts,
                                    const size_t *sizes, size_t nparts, unsigned mode,
                                    unsigned flags, clrt__write_failure *failure)
{
    if (failure) {
        failure->step = NULL;
        failure->err = 0;
        failure->tmp = NULL;
    }
    char *tmp = temp_name(path, flags);
    if (!tmp)
        return CLRT_ERR_OUT_OF_MEMORY;
    const char *step = "create";
    int excl = flags & CLRT__WRITE_UNIQUE_TMP ? O_EXCL : O_TRUNC;
    int fd = file_fault() ? -1 : open(tmp, O_WRONLY | O_CREAT | excl, (mode_t)mode);
    bool ok = fd >= 0;
    if (ok) {
        step = "write";
        for (size_t i = 0; ok && i < nparts; i++)
            ok = !file_fault() && write_all(fd, parts[i], sizes[i]) == 0;
        if (ok) {
            step = "fsync";
            ok = !file_fault() && fsync(fd) == 0;
        }
        int saved = errno;
        if ((close(fd) != 0 || (ok && file_fault())) && ok) {
            step = "close";
            ok = false;
        } else {
            errno = saved;
        }
    }
    if (ok) {
        step = "rename";
        ok = !file_fault() && rename(tmp, path) == 0;
    }
    if (!ok) {
        int err = errno;
        if (fd >= 0)
            unlink(tmp);
        if (failure) {
            failure->step = step;
            failure->err = err;
            failure->tmp = tmp;
            tmp = NULL;
        }
        free(tmp);
        return CLRT_ERR_IO;
    }
    if (flags & CLRT__WRITE_SYNC_DIR)
        sync_parent_dir(path);
    free(tmp);
    return CLRT_OK;
}

clrt_status clrt__cache_store(const char *dir, const char *key, const unsigned char *bin,
                              size_t bin_len)
{
    if (!dir || !*dir || !key || !bin || bin_len == 0)
        return CLRT_ERR_INVALID_ARG; /* an empty binary could never be loaded */
    if (clrt__make_dirs(dir) != 0)
        return CLRT_ERR_IO;
    char *path = clrt__cache_path(dir, key);
    if (!path)
        return CLRT_ERR_OUT_OF_MEMORY;

    size_t klen = strlen(key);
    unsigned char header[HEADER_BYTES], trailer[TRAILER_BYTES];
    memcpy(header, MAGIC, 8);
    clrt__put_le32(header + 8, FORMAT_VERSION);
    clrt__put_le32(header + 12, (uint32_t)klen);
    clrt__put_le64(header + 16, (uint64_t)bin_len);
    clrt__put_le32(trailer, checksum(key, klen, bin, bin_len));

    /* A temp name unique per process and moment; O_EXCL refuses a clash.
     * Concurrent writers of one entry each rename a complete file. */
    const void *const parts[4] = {header, key, bin, trailer};
    const size_t sizes[4] = {sizeof header, klen, bin_len, sizeof trailer};
    clrt_status st =
        clrt__write_file_atomic(path, parts, sizes, 4, 0600, CLRT__WRITE_UNIQUE_TMP, NULL);
    free(path);
    return st;
}

bool clrt__disk_cache_wanted(const clrt_device_info *dev)
{
    /* Used on PoCL too, although PoCL keeps a kernel cache of its own: a
     * warm PoCL build still runs clang's preprocessor to find its entry
     * (about 60 ms a program), where loading our binary does not. Warm
     * start-up 0.25 s -> 0.07 s; the price is a cold start about 30 %
     * longer, since asking PoCL for a binary compiles the program's
     * kernels a second time. */
    (void)dev;
    const char *mode = getenv("CLRT_CACHE");
    return !(mode && strcmp(mode, "off") == 0);
}
