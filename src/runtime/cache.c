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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = {'C', 'L', 'R', 'T', 'B', 'I', 'N', '\0'};
enum {
    FORMAT_VERSION = 1,
    HEADER_BYTES = 8 + 4 + 4 + 8,
    TRAILER_BYTES = 4,
    TEMP_TRIES = 16, /* fresh temp names tried before a write gives up */
};

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
    int err = errno;
    free(path);
    errno = err;
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

/* Remove the temp files that writes of `name` left when their process died
 * (a killed save): "<name>.tmp.<pid>" or "<name>.tmp.<pid>.<more>", regular
 * files of this user's, whose pid is no process (kill(pid, 0) fails with
 * ESRCH). Without CLRT__WRITE_UNIQUE_TMP this process's own
 * "<name>.tmp.<pid>" goes too: writes of one path without that flag never
 * overlap in a process (they always reused that name), so one found before
 * a write starts is a leftover. Links, FIFOs, other users' files and names
 * of another shape stay. Best effort. */
static void remove_stale_temps(int dirfd, const char *name, unsigned flags)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    size_t nlen = strlen(name);
    pid_t self = getpid();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (strncmp(n, name, nlen) != 0 || strncmp(n + nlen, ".tmp.", 5) != 0)
            continue;
        const char *digits = n + nlen + 5;
        if (*digits < '0' || *digits > '9')
            continue;
        char *end;
        errno = 0;
        long pid = strtol(digits, &end, 10);
        if (errno != 0 || pid <= 0 || (long)(pid_t)pid != pid || (*end != '\0' && *end != '.'))
            continue; /* never kill(0) or kill(-1): those name process groups */
        bool own_leftover = pid == self && *end == '\0' && !(flags & CLRT__WRITE_UNIQUE_TMP);
        if (!own_leftover && (pid == self || kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue; /* alive, or another user's (EPERM): maybe still writing */
        struct stat sb;
        if (fstatat(dirfd, n, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode) ||
            sb.st_uid != geteuid())
            continue;
        (void)unlinkat(dirfd, n, 0);
    }
    closedir(d);
}

/* Create a temp file for `name` exclusively, no link followed: first
 * "<name>.tmp.<pid>" (with CLRT__WRITE_UNIQUE_TMP "<name>.tmp.<pid>.<s>.<ns>"),
 * and if that name is taken, fresh ones "<name>.tmp.<pid>.<s>.<ns>.<try>".
 * The fd, with *tmp its name; -1 with errno (*tmp NULL only when out of
 * memory). */
static int create_temp(int dirfd, const char *name, unsigned mode, unsigned flags, char **tmp)
{
    *tmp = NULL;
    long pid = (long)getpid();
    for (int attempt = 0; attempt < TEMP_TRIES; attempt++) {
        free(*tmp);
        if (attempt == 0 && !(flags & CLRT__WRITE_UNIQUE_TMP)) {
            *tmp = clrt__strprintf("%s.tmp.%ld", name, pid);
        } else {
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            *tmp = attempt == 0 ? clrt__strprintf("%s.tmp.%ld.%lld.%ld", name, pid,
                                                  (long long)now.tv_sec, (long)now.tv_nsec)
                                : clrt__strprintf("%s.tmp.%ld.%lld.%ld.%d", name, pid,
                                                  (long long)now.tv_sec, (long)now.tv_nsec,
                                                  attempt);
        }
        if (!*tmp) {
            errno = ENOMEM;
            return -1;
        }
        int fd = openat(dirfd, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        (mode_t)mode);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1; /* errno is EEXIST */
}

clrt_status clrt__write_file_atomic_at(int dirfd, const char *name, const void *const *parts,
                                       const size_t *sizes, size_t nparts, unsigned mode,
                                       unsigned flags, clrt__write_failure *failure)
{
    if (failure) {
        failure->step = NULL;
        failure->err = 0;
        failure->tmp = NULL;
    }
    remove_stale_temps(dirfd, name, flags);
    char *tmp;
    const char *step = "create";
    int fd = create_temp(dirfd, name, mode, flags, &tmp);
    if (fd < 0 && !tmp)
        return CLRT_ERR_OUT_OF_MEMORY;
    bool ok = fd >= 0;
    if (ok) {
        step = "write";
        for (size_t i = 0; ok && i < nparts; i++)
            ok = write_all(fd, parts[i], sizes[i]) == 0;
        if (ok) {
            step = "fsync";
            ok = fsync(fd) == 0;
        }
        int saved = errno;
        if (close(fd) != 0 && ok) {
            step = "close";
            ok = false;
        } else {
            errno = saved;
        }
    }
    if (ok) {
        step = "rename";
        ok = renameat(dirfd, tmp, dirfd, name) == 0;
    }
    if (!ok) {
        int err = errno;
        if (fd >= 0)
            (void)unlinkat(dirfd, tmp, 0);
        if (failure) {
            failure->step = step;
            failure->err = err;
            failure->tmp = tmp;
            tmp = NULL;
        }
        free(tmp);
        return CLRT_ERR_IO;
    }
    /* Make the rename durable; best effort (some file systems refuse fsync
     * on a directory, and the file itself is complete). */
    if (flags & CLRT__WRITE_SYNC_DIR)
        (void)fsync(dirfd);
    free(tmp);
    return CLRT_OK;
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
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    int prefix = (int)(name - path); /* the folder part, its slash included */
    char *dir = slash ? clrt__strprintf("%.*s", slash == path ? 1 : prefix - 1, path)
                      : clrt__strdup(".");
    if (!dir)
        return CLRT_ERR_OUT_OF_MEMORY;
    int dirfd = *name ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    int err = *name ? errno : EISDIR;
    free(dir);
    if (dirfd < 0) {
        if (failure) {
            failure->step = "create";
            failure->err = err;
            failure->tmp = clrt__strprintf("%s.tmp.%ld", path, (long)getpid());
            if (!failure->tmp)
                return CLRT_ERR_OUT_OF_MEMORY;
        }
        return CLRT_ERR_IO;
    }
    clrt_status st =
        clrt__write_file_atomic_at(dirfd, name, parts, sizes, nparts, mode, flags, failure);
    close(dirfd);
    if (failure && failure->tmp) { /* name the temp file as the caller named the path */
        char *full = clrt__strprintf("%.*s%s", prefix, path, failure->tmp);
        if (full) {
            free(failure->tmp);
            failure->tmp = full;
        }
    }
    return st;
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

    /* A temp name unique per process and moment, created exclusively.
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
