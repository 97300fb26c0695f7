/* The on-disk program binary cache: the folder and file checks, the entry
 * format, the per-user secret, atomic writes, and a load that never trusts
 * a corrupt, foreign or unsafe entry.
 *
 * Entry file "<dir>/<32 hex digits>.clbin", little-endian:
 *   "CLRTBIN\0" | u32 format (2) | u32 key length | u64 binary length |
 *   key bytes | binary bytes | u32 crc32 of key and binary |
 *   32-byte keyed BLAKE2b of every byte before it
 * The key is the whole text the entry was built for (source hash, options,
 * platform, device, driver, clrt version); a load compares it byte for byte,
 * so a hash collision or a file copied from elsewhere is rejected. The crc32
 * tells damage; the MAC, keyed by the 32 random bytes of "<dir>/mac-secret",
 * tells that this user wrote the entry for this key, so nothing else ever
 * reaches the driver (a crc anyone can recompute). Every file is opened
 * relative to the folder's descriptor, never through a link, without
 * blocking, and used only as a regular file of this user's that group and
 * others cannot write; the folder itself must be the user's and closed to
 * writes by others. */
#include "runtime/runtime.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = {'C', 'L', 'R', 'T', 'B', 'I', 'N', '\0'};
enum {
    FORMAT_VERSION = 2, /* 1 had no MAC: its entries are refused and rebuilt */
    HEADER_BYTES = 8 + 4 + 4 + 8,
    CRC_BYTES = 4,
    MAC_BYTES = 32,
    TRAILER_BYTES = CRC_BYTES + MAC_BYTES,
    SECRET_BYTES = 32,
    TEMP_TRIES = 16, /* fresh temp names tried before a write gives up */
};
_Static_assert(MAC_BYTES >= crypto_generichash_BYTES_MIN &&
                   MAC_BYTES <= crypto_generichash_BYTES_MAX,
               "a BLAKE2b tag length");
_Static_assert(SECRET_BYTES == crypto_generichash_KEYBYTES, "a BLAKE2b key");
static const char SECRET_NAME[] = "mac-secret";

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

/* "<32 hex digits>.clbin": two 64-bit FNV-1a hashes of the key text. */
static void entry_name(const char *key, char *buf, size_t len)
{
    size_t klen = strlen(key);
    snprintf(buf, len, "%016llx%016llx.clbin", (unsigned long long)clrt__hash64(key, klen, 0),
             (unsigned long long)clrt__hash64(key, klen, 0x9e3779b97f4a7c15ull));
}

char *clrt__cache_path(const char *dir, const char *key)
{
    char name[48];
    entry_name(key, name, sizeof name);
    return clrt__strprintf("%s/%s", dir, name);
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

/* ------------------------------------------------ folders and files */

int clrt__cache_dir_open(const char *dir, bool create, bool *refused, char *why, size_t whylen)
{
    *refused = false;
    char text[128];
    if (create && clrt__make_dirs(dir) != 0) {
        int err = errno;
        clrt__errno_text(err, text, sizeof text);
        clrt__errbuf_set(why, whylen, "cannot create the folder %s: %s", dir, text);
        errno = err;
        return -1;
    }
    /* A link as the folder itself is followed (~/.cache/clrt may point at a
     * scratch disk); the folder it reaches is what is checked. */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int err = errno;
        clrt__errno_text(err, text, sizeof text);
        clrt__errbuf_set(why, whylen, "cannot open the folder %s: %s", dir, text);
        if (fd >= 0)
            close(fd);
        errno = err;
        return -1;
    }
    if (sb.st_uid != geteuid()) {
        clrt__errbuf_set(why, whylen,
                         "the folder %s belongs to uid %lu, not to this user (uid %lu)", dir,
                         (unsigned long)sb.st_uid, (unsigned long)geteuid());
        *refused = true;
    } else if (sb.st_mode & (S_IWGRP | S_IWOTH)) {
        clrt__errbuf_set(why, whylen,
                         "the folder %s is writable by its group or by others (mode %04o)", dir,
                         (unsigned)(sb.st_mode & 07777));
        *refused = true;
    }
    if (*refused) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

int clrt__open_private(int dirfd, const char *dir, const char *name, int flags, unsigned mode,
                       struct stat *sb, char *why, size_t whylen)
{
    /* O_NOFOLLOW: a planted link is refused, not followed; O_NONBLOCK: a FIFO
     * opens at once (and is then refused) instead of waiting for a writer. */
    int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) {
        int err = errno;
        char text[128];
        clrt__errno_text(err, text, sizeof text);
        if (err == ELOOP)
            clrt__errbuf_set(why, whylen, "%s/%s is a symbolic link", dir, name);
        else
            clrt__errbuf_set(why, whylen, "cannot open %s/%s: %s", dir, name, text);
        errno = err;
        return -1;
    }
    const char *bad = NULL;
    if (fstat(fd, sb) != 0)
        bad = "cannot be examined";
    else if (!S_ISREG(sb->st_mode))
        bad = "is not a regular file";
    else if (sb->st_uid != geteuid())
        bad = "belongs to another user";
    else if (sb->st_mode & (S_IWGRP | S_IWOTH))
        bad = "is writable by its group or by others";
    if (bad) {
        clrt__errbuf_set(why, whylen, "%s/%s %s", dir, name, bad);
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}

/* Read exactly `len` bytes; 0, or -1 on an error or an early end. */
static int read_exact(int fd, void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ------------------------------------------------------- the secret */

/* 0: *secret holds the folder's secret; 1: there is none yet; -1: it is
 * refused or unreadable (why says which). */
static int secret_read(int dirfd, const char *dir, unsigned char *secret, char *why, size_t whylen)
{
    struct stat sb;
    int fd = clrt__open_private(dirfd, dir, SECRET_NAME, O_RDONLY, 0, &sb, why, whylen);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    int rc = -1;
    if (sb.st_mode & 077) /* a secret others can read is none */
        clrt__errbuf_set(why, whylen, "%s/%s can be read by its group or by others (mode %04o)",
                         dir, SECRET_NAME, (unsigned)(sb.st_mode & 07777));
    else if (sb.st_size != SECRET_BYTES)
        clrt__errbuf_set(why, whylen, "%s/%s holds %lld bytes, not %d", dir, SECRET_NAME,
                         (long long)sb.st_size, SECRET_BYTES);
    else if (read_exact(fd, secret, SECRET_BYTES) != 0)
        clrt__errbuf_set(why, whylen, "cannot read %s/%s", dir, SECRET_NAME);
    else
        rc = 0;
    close(fd);
    return rc;
}

/* The folder's secret; with `create`, made when there is none: random bytes
 * written to an exclusive temp file and linked to its name, so a reader
 * never sees part of one, and of two processes making it at once the first
 * link wins and both use it. 0, 1 (none, and not `create`), or -1. */
static int secret_get(int dirfd, const char *dir, bool create, unsigned char *secret, char *why,
                      size_t whylen)
{
    if (sodium_init() < 0) { /* thread-safe, and cheap after the first call */
        clrt__errbuf_set(why, whylen, "libsodium failed to start");
        return -1;
    }
    int rc = secret_read(dirfd, dir, secret, why, whylen);
    if (rc != 1 || !create)
        return rc;
    unsigned char fresh[SECRET_BYTES];
    randombytes_buf(fresh, sizeof fresh);
    const void *const parts[1] = {fresh};
    const size_t sizes[1] = {sizeof fresh};
    clrt__write_failure wf;
    clrt_status st = clrt__write_file_atomic_at(
        dirfd, SECRET_NAME, parts, sizes, 1, 0600,
        CLRT__WRITE_UNIQUE_TMP | CLRT__WRITE_NO_REPLACE | CLRT__WRITE_SYNC_DIR, &wf);
    sodium_memzero(fresh, sizeof fresh);
    bool lost_race = st == CLRT_ERR_IO && strcmp(wf.step, "link") == 0 && wf.err == EEXIST;
    if (st != CLRT_OK && !lost_race) {
        char text[128] = "out of memory";
        if (st == CLRT_ERR_IO)
            clrt__errno_text(wf.err, text, sizeof text);
        clrt__errbuf_set(why, whylen, "cannot make %s/%s: %s", dir, SECRET_NAME, text);
        if (st == CLRT_ERR_IO)
            free(wf.tmp);
        return -1;
    }
    if (st == CLRT_ERR_IO)
        free(wf.tmp);
    return secret_read(dirfd, dir, secret, why, whylen) == 0 ? 0 : -1;
}

/* Keyed BLAKE2b (libsodium's crypto_generichash, a MAC in keyed mode) under
 * the secret of header, key, binary and crc: the whole entry before the
 * tag, so no length, key or byte can change unseen. Three times as fast as
 * libsodium's HMAC-SHA-256 here (1.06 against 0.36 GB/s), which a warm
 * start pays for every binary it loads. */
static void entry_mac(const unsigned char *secret, const unsigned char *header, const char *key,
                      size_t klen, const unsigned char *bin, size_t blen,
                      const unsigned char *crc, unsigned char *out)
{
    crypto_generichash_state s;
    crypto_generichash_init(&s, secret, SECRET_BYTES, MAC_BYTES);
    crypto_generichash_update(&s, header, HEADER_BYTES);
    crypto_generichash_update(&s, (const unsigned char *)key, klen);
    crypto_generichash_update(&s, bin, blen);
    crypto_generichash_update(&s, crc, CRC_BYTES);
    crypto_generichash_final(&s, out, MAC_BYTES);
    sodium_memzero(&s, sizeof s);
}

/* -------------------------------------------------------- load, store */

clrt_status clrt__cache_load(const char *dir, const char *key, unsigned char **bin,
                             size_t *bin_len, char *why, size_t whylen)
{
    *bin = NULL;
    *bin_len = 0;
    clrt__errbuf_set(why, whylen, "%s", "");
    bool refused;
    int dirfd = clrt__cache_dir_open(dir, false, &refused, why, whylen);
    if (dirfd < 0)
        return refused ? CLRT_ERR_UNSUPPORTED : CLRT_ERR_IO;
    char name[48];
    entry_name(key, name, sizeof name);
    struct stat sb;
    int fd = clrt__open_private(dirfd, dir, name, O_RDONLY, 0, &sb, why, whylen);
    if (fd < 0) {
        clrt_status st = errno == ENOENT ? CLRT_ERR_IO : CLRT_ERR_FORMAT;
        close(dirfd);
        return st;
    }

    size_t klen = strlen(key);
    unsigned char header[HEADER_BYTES], secret[SECRET_BYTES], mac[MAC_BYTES];
    unsigned char *data = NULL;
    clrt_status st = CLRT_ERR_FORMAT;
    if (read_exact(fd, header, sizeof header) != 0) {
        clrt__errbuf_set(why, whylen, "%s/%s is shorter than an entry's header", dir, name);
        goto done;
    }
    if (memcmp(header, MAGIC, 8) != 0) {
        clrt__errbuf_set(why, whylen, "%s/%s is not a clrt cache entry", dir, name);
        goto done;
    }
    if (clrt__get_le32(header + 8) != FORMAT_VERSION) {
        clrt__errbuf_set(why, whylen, "%s/%s has format %lu; this clrt reads format %d", dir,
                         name, (unsigned long)clrt__get_le32(header + 8), FORMAT_VERSION);
        goto done;
    }
    /* The header's lengths must add up to the file's size: nothing past
     * what the header claims is read, nor more than the file holds, and a
     * bad length is refused before anything is allocated for it. */
    uint64_t blen = clrt__get_le64(header + 16), rest = (uint64_t)klen + TRAILER_BYTES;
    if (clrt__get_le32(header + 12) != klen) {
        clrt__errbuf_set(why, whylen, "%s/%s was made for another key", dir, name);
        goto done;
    }
    if (blen == 0 || blen > (uint64_t)SIZE_MAX - HEADER_BYTES - rest || sb.st_size < 0 ||
        (uint64_t)sb.st_size != HEADER_BYTES + rest + blen) {
        clrt__errbuf_set(why, whylen,
                         "%s/%s holds %lld bytes, which its header's binary of %llu bytes "
                         "does not fill exactly",
                         dir, name, (long long)sb.st_size, (unsigned long long)blen);
        goto done;
    }
    size_t n = (size_t)(rest + blen);
    data = malloc(n);
    if (!data) {
        st = CLRT_ERR_OUT_OF_MEMORY;
        goto done;
    }
    if (read_exact(fd, data, n) != 0) {
        clrt__errbuf_set(why, whylen, "%s/%s changed while it was read", dir, name);
        goto done;
    }
    const unsigned char *b = data + klen, *crc = b + blen, *tag = crc + CRC_BYTES;
    if (memcmp(data, key, klen) != 0) {
        clrt__errbuf_set(why, whylen, "%s/%s was made for another key", dir, name);
        goto done;
    }
    if (clrt__get_le32(crc) != checksum(key, klen, b, (size_t)blen)) {
        clrt__errbuf_set(why, whylen, "%s/%s is damaged (its crc32 does not match)", dir, name);
        goto done;
    }
    int rc = secret_get(dirfd, dir, false, secret, why, whylen);
    if (rc == 1)
        clrt__errbuf_set(why, whylen, "%s/%s cannot be checked: the folder has no %s", dir, name,
                         SECRET_NAME);
    if (rc != 0)
        goto done;
    entry_mac(secret, header, key, klen, b, (size_t)blen, crc, mac);
    if (crypto_verify_32(mac, tag) != 0) { /* constant time */
        clrt__errbuf_set(why, whylen,
                         "%s/%s was not written by this user (its MAC does not match %s)", dir,
                         name, SECRET_NAME);
        goto done;
    }
    memmove(data, b, (size_t)blen);
    *bin = data;
    *bin_len = (size_t)blen;
    data = NULL;
    st = CLRT_OK;
done:
    sodium_memzero(secret, sizeof secret);
    free(data);
    close(fd);
    close(dirfd);
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
    int fd;
    if (file_fault()) { /* the create step fails as the system would fail it */
        int err = errno;
        tmp = clrt__strprintf("%s.tmp.%ld", name, (long)getpid());
        errno = err;
        fd = -1;
    } else {
        fd = create_temp(dirfd, name, mode, flags, &tmp);
    }
    if (fd < 0 && !tmp)
        return CLRT_ERR_OUT_OF_MEMORY;
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
    if (ok && (flags & CLRT__WRITE_NO_REPLACE)) {
        step = "link";
        ok = !file_fault() && linkat(dirfd, tmp, dirfd, name, 0) == 0;
        int saved = errno;
        (void)unlinkat(dirfd, tmp, 0);
        errno = saved;
    } else if (ok) {
        step = "rename";
        ok = !file_fault() && renameat(dirfd, tmp, dirfd, name) == 0;
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
                              size_t bin_len, char *why, size_t whylen)
{
    clrt__errbuf_set(why, whylen, "%s", "");
    if (!dir || !*dir || !key || !bin || bin_len == 0)
        return CLRT_ERR_INVALID_ARG; /* an empty binary could never be loaded */
    bool refused;
    int dirfd = clrt__cache_dir_open(dir, true, &refused, why, whylen);
    if (dirfd < 0)
        return refused ? CLRT_ERR_UNSUPPORTED : CLRT_ERR_IO;
    unsigned char secret[SECRET_BYTES];
    if (secret_get(dirfd, dir, true, secret, why, whylen) != 0) {
        close(dirfd);
        return CLRT_ERR_IO;
    }

    size_t klen = strlen(key);
    unsigned char header[HEADER_BYTES], crc[CRC_BYTES], mac[MAC_BYTES];
    memcpy(header, MAGIC, 8);
    clrt__put_le32(header + 8, FORMAT_VERSION);
    clrt__put_le32(header + 12, (uint32_t)klen);
    clrt__put_le64(header + 16, (uint64_t)bin_len);
    clrt__put_le32(crc, checksum(key, klen, bin, bin_len));
    entry_mac(secret, header, key, klen, bin, bin_len, crc, mac);
    sodium_memzero(secret, sizeof secret);

    /* A temp name unique per process and moment, created exclusively.
     * Concurrent writers of one entry each rename a complete file. */
    char name[48];
    entry_name(key, name, sizeof name);
    const void *const parts[5] = {header, key, bin, crc, mac};
    const size_t sizes[5] = {sizeof header, klen, bin_len, sizeof crc, sizeof mac};
    clrt__write_failure wf;
    clrt_status st = clrt__write_file_atomic_at(dirfd, name, parts, sizes, 5, 0600,
                                                CLRT__WRITE_UNIQUE_TMP, &wf);
    close(dirfd);
    if (st == CLRT_ERR_IO) {
        char text[128];
        clrt__errno_text(wf.err, text, sizeof text);
        clrt__errbuf_set(why, whylen, "cannot %s %s/%s: %s", wf.step, dir, wf.tmp, text);
        free(wf.tmp);
    }
    return st;
}

bool clrt__disk_cache_wanted(const clrt_device_info *dev)
{
    /* Used on PoCL too, although PoCL keeps a kernel cache of its own: a
     * warm PoCL build still runs clang's preprocessor to find its entry
     * (about 60 ms a program), where loading our binary does not. Warm
     * start-up 0.25 s -> 0.07 s. Asking PoCL for a binary compiles the
     * program's kernels a second time, so program.c stores binaries when
     * the context ends, off the path to the first step. */
    (void)dev;
    const char *mode = getenv("CLRT_CACHE");
    return !(mode && strcmp(mode, "off") == 0);
}
