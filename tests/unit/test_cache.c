/* The on-disk program cache: directory choice, entry paths, store/load round
 * trips, the refusal of every corrupt, truncated or foreign entry, and of
 * every unsafe file in a shared folder (links, FIFOs, other users' files,
 * folders others can write, entries another secret vouches for); the
 * atomic writer's temp files (never through a link, stale ones removed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "unit_util.h"

/* Entry layout (src/runtime/cache.c): magic 8 | u32 format (2) | u32 key
 * length | u64 binary length | key | binary | u32 crc32 | 32-byte MAC. */
enum { FORMAT = 2, HEADER = 8 + 4 + 4 + 8, CRC = 4, MAC = 32, TRAILER = CRC + MAC };

/* ------------------------------------------------------------ helpers */

static int dir_counter;

static int make_tmp(void **state)
{
    (void)state;
    return clrt_unit_tmp_make("cache");
}

/* A fresh, not yet existing, cache directory path under the temp root. */
static void new_dir(char *out, size_t len)
{
    int n = snprintf(out, len, "%s/cache%d", clrt_unit_tmp_root(), ++dir_counter);
    assert_true(n > 0 && (size_t)n < len);
}

static unsigned char *make_binary(size_t n, unsigned seed)
{
    unsigned char *b = malloc(n);
    assert_non_null(b);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        b[i] = (unsigned char)(x >> 24);
    }
    if (n > 2)
        b[1] = 0; /* NULs must survive */
    return b;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    char *data;
    if (clrt__read_file(path, &data, len) != 0)
        fail_msg("cannot read %s", path);
    return (unsigned char *)data;
}

/* Refusals (CLRT_ERR_FORMAT, CLRT_ERR_UNSUPPORTED) seen by the load and
 * store helpers; the tests of unsafe files print how many they caused. */
static size_t refusals;

static clrt_status store(const char *dir, const char *key, const unsigned char *bin, size_t n)
{
    char why[1024];
    clrt_status st = clrt__cache_store(dir, key, bin, n, why, sizeof why);
    if (st == CLRT_ERR_UNSUPPORTED)
        refusals++;
    return st;
}

static clrt_status load(const char *dir, const char *key, unsigned char **bin, size_t *len,
                        char *why, size_t whylen)
{
    clrt_status st = clrt__cache_load(dir, key, bin, len, why, whylen);
    if (st == CLRT_ERR_FORMAT || st == CLRT_ERR_UNSUPPORTED)
        refusals++;
    return st;
}

static void store_ok(const char *dir, const char *key, const unsigned char *bin, size_t n)
{
    clrt_status st = store(dir, key, bin, n);
    if (st != CLRT_OK)
        fail_msg("store in %s: %s", dir, clrt_status_str(st));
}

static void expect_load(const char *dir, const char *key, const unsigned char *want, size_t n)
{
    unsigned char *bin = NULL;
    size_t len = 0;
    char why[1024] = "";
    clrt_status st = load(dir, key, &bin, &len, why, sizeof why);
    if (st != CLRT_OK)
        fail_msg("load from %s: %s (%s)", dir, clrt_status_str(st), why);
    assert_non_null(bin);
    assert_int_equal(len, n);
    assert_memory_equal(bin, want, n);
    free(bin);
}

static void expect_load_fails(const char *dir, const char *key, clrt_status want,
                              const char *what)
{
    unsigned char *bin = (unsigned char *)"sentinel";
    size_t len = 99;
    char why[1024] = "";
    clrt_status st = load(dir, key, &bin, &len, why, sizeof why);
    if (st != want)
        fail_msg("%s: load gave %s, want %s", what, clrt_status_str(st), clrt_status_str(want));
    if (want != CLRT_ERR_IO && !why[0])
        fail_msg("%s: refused without a reason", what);
    assert_null(bin);
    assert_int_equal(len, 0);
}

/* Names in `dir` (not . and ..), counting those that contain `part`. */
static size_t count_entries(const char *dir, const char *part, size_t *total)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t matched = 0, all = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        all++;
        if (part && strstr(e->d_name, part))
            matched++;
    }
    closedir(d);
    if (total)
        *total = all;
    return matched;
}

/* ---------------------------------------------------- directory choice */

static char *saved_env[3];
static const char *const env_names[3] = {"CLRT_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};

static int save_env(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        const char *v = getenv(env_names[i]);
        saved_env[i] = NULL;
        if (v) {
            saved_env[i] = malloc(strlen(v) + 1);
            if (!saved_env[i])
                return -1;
            strcpy(saved_env[i], v);
        }
    }
    return 0;
}

static int restore_env(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        if (saved_env[i])
            setenv(env_names[i], saved_env[i], 1);
        else
            unsetenv(env_names[i]);
        free(saved_env[i]);
        saved_env[i] = NULL;
    }
    return 0;
}

static void set_env(const char *cache, const char *xdg, const char *home)
{
    const char *v[3] = {cache, xdg, home};
    for (int i = 0; i < 3; i++) {
        if (v[i])
            assert_int_equal(setenv(env_names[i], v[i], 1), 0);
        else
            assert_int_equal(unsetenv(env_names[i]), 0);
    }
}

static void expect_dir(const char *opt, const char *want)
{
    char *got = clrt__cache_dir_resolve(opt);
    if (!want) {
        if (got)
            fail_msg("opt \"%s\": got \"%s\", want NULL", opt ? opt : "(null)", got);
        return;
    }
    if (!got)
        fail_msg("opt \"%s\": got NULL, want \"%s\"", opt ? opt : "(null)", want);
    if (strcmp(got, want) != 0)
        fail_msg("opt \"%s\": got \"%s\", want \"%s\"", opt ? opt : "(null)", got, want);
    free(got);
}

static void dir_resolve(void **state)
{
    (void)state;
    set_env("/env/cache", "/xdg", "/home/user");
    /* The option wins over everything. */
    expect_dir("off", NULL);
    expect_dir("/explicit/dir", "/explicit/dir");
    expect_dir("relative/dir", "relative/dir");
    /* Then $CLRT_CACHE_DIR. */
    expect_dir(NULL, "/env/cache");
    set_env("off", "/xdg", "/home/user");
    expect_dir(NULL, NULL);
    expect_dir("/explicit/dir", "/explicit/dir");
    /* Then $XDG_CACHE_HOME/clrt. */
    set_env(NULL, "/xdg", "/home/user");
    expect_dir(NULL, "/xdg/clrt");
    set_env("", "/xdg", "/home/user");
    expect_dir(NULL, "/xdg/clrt");
    /* Then $HOME/.cache/clrt; an empty or relative XDG_CACHE_HOME is ignored
     * (the XDG base directory rules). */
    set_env(NULL, NULL, "/home/user");
    expect_dir(NULL, "/home/user/.cache/clrt");
    set_env(NULL, "", "/home/user");
    expect_dir(NULL, "/home/user/.cache/clrt");
    set_env(NULL, "relative-xdg", "/home/user");
    expect_dir(NULL, "/home/user/.cache/clrt");
    /* Nowhere to put it: disabled. */
    set_env(NULL, NULL, NULL);
    expect_dir(NULL, NULL);
    expect_dir("off", NULL);
    expect_dir("/explicit/dir", "/explicit/dir");
}

/* ------------------------------------------------------------- paths */

static void cache_path(void **state)
{
    (void)state;
    char *a1 = clrt__cache_path("/some/dir", "key one");
    char *a2 = clrt__cache_path("/some/dir", "key one");
    char *b = clrt__cache_path("/some/dir", "key two");
    char *c = clrt__cache_path("/other", "key one");
    char *d = clrt__cache_path("/some/dir", "key onf"); /* one bit apart */
    assert_non_null(a1);
    assert_non_null(a2);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(d);
    assert_string_equal(a1, a2);
    assert_string_not_equal(a1, b);
    assert_string_not_equal(a1, d);
    /* "<dir>/<32 hex digits>.clbin" */
    const char *prefix = "/some/dir/";
    assert_int_equal(strncmp(a1, prefix, strlen(prefix)), 0);
    const char *base = a1 + strlen(prefix);
    assert_int_equal(strlen(base), 32 + strlen(".clbin"));
    for (int i = 0; i < 32; i++)
        assert_non_null(strchr("0123456789abcdef", base[i]));
    assert_string_equal(base + 32, ".clbin");
    /* The file name depends on the key only. */
    assert_string_equal(strrchr(c, '/'), strrchr(a1, '/'));
    free(a1);
    free(a2);
    free(b);
    free(c);
    free(d);
}

static void hash64(void **state)
{
    (void)state;
    /* FNV-1a 64 with seed 0: the published test values. */
    assert_true(clrt__hash64("", 0, 0) == 0xcbf29ce484222325ull);
    assert_true(clrt__hash64("a", 1, 0) == 0xaf63dc4c8601ec8cull);
    assert_true(clrt__hash64("foobar", 6, 0) == 0x85944171f73967e8ull);
    /* The seed changes the hash; the length counts. */
    assert_true(clrt__hash64("a", 1, 1) != clrt__hash64("a", 1, 0));
    assert_true(clrt__hash64("ab", 1, 0) == clrt__hash64("a", 1, 0));
    assert_true(clrt__hash64("ab", 2, 0) != clrt__hash64("a", 1, 0));
}

/* ------------------------------------------------------- round trips */

static const char *const KEY = "clrt 0.1.0\nsource 0123456789abcdef0123456789abcdef 392\n"
                               "options -cl-std=CL1.2\nplatform Portable Computing Language\n"
                               "device pthread-test\ndriver 3.1\n";

static void round_trip(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir, sizeof dir);
    size_t n = 5000;
    unsigned char *bin = make_binary(n, 1);
    store_ok(dir, KEY, bin, n);
    expect_load(dir, KEY, bin, n);

    /* The file is laid out as documented. */
    char *path = clrt__cache_path(dir, KEY);
    assert_non_null(path);
    size_t flen;
    unsigned char *file = slurp(path, &flen);
    assert_int_equal(flen, HEADER + strlen(KEY) + n + TRAILER);
    assert_memory_equal(file, "CLRTBIN\0", 8);
    assert_memory_equal(file + HEADER, KEY, strlen(KEY));
    assert_memory_equal(file + HEADER + strlen(KEY), bin, n);
    free(file);

    /* A one-byte binary and a long key work too. */
    unsigned char one = 0x5a;
    store_ok(dir, "k", &one, 1);
    expect_load(dir, "k", &one, 1);
    char *long_key = malloc(20001);
    assert_non_null(long_key);
    memset(long_key, 'K', 20000);
    long_key[20000] = '\0';
    store_ok(dir, long_key, bin, n);
    expect_load(dir, long_key, bin, n);
    /* Entries of other keys are untouched. */
    expect_load(dir, KEY, bin, n);
    free(long_key);
    free(path);
    free(bin);
}

static void load_missing(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir, sizeof dir);
    /* No directory at all. */
    expect_load_fails(dir, KEY, CLRT_ERR_IO, "missing directory");
    /* A directory with another key's entry. */
    unsigned char bin[3] = {1, 2, 3};
    store_ok(dir, "another key", bin, sizeof bin);
    expect_load_fails(dir, KEY, CLRT_ERR_IO, "missing entry");
}

/* Store a fresh entry for KEY in a new directory; return its path and
 * bytes (the caller frees both). */
static char *fresh_entry(char *dir, size_t dirlen, unsigned char **file, size_t *flen,
                         size_t bin_len)
{
    new_dir(dir, dirlen);
    unsigned char *bin = make_binary(bin_len, 7);
    store_ok(dir, KEY, bin, bin_len);
    expect_load(dir, KEY, bin, bin_len);
    free(bin);
    char *path = clrt__cache_path(dir, KEY);
    assert_non_null(path);
    *file = slurp(path, flen);
    return path;
}

/* Write `data` over the entry and expect CLRT_ERR_FORMAT. */
static void expect_rejected(const char *dir, const char *path, const unsigned char *data,
                            size_t len, const char *what)
{
    clrt_unit_write_file(path, data, len);
    expect_load_fails(dir, KEY, CLRT_ERR_FORMAT, what);
}

static void corrupt_entries_are_refused(void **state)
{
    (void)state;
    char dir[4096];
    unsigned char *file;
    size_t flen;
    const size_t n = 1000;
    char *path = fresh_entry(dir, sizeof dir, &file, &flen, n);
    const size_t klen = strlen(KEY);
    assert_int_equal(flen, HEADER + klen + n + TRAILER);
    unsigned char *bad = malloc(flen + 16);
    assert_non_null(bad);

    /* One flipped bit anywhere in the binary part, key part, trailer, header. */
    static const size_t bin_offsets[] = {0, 1, 499, 999};
    for (size_t i = 0; i < sizeof bin_offsets / sizeof bin_offsets[0]; i++) {
        memcpy(bad, file, flen);
        bad[HEADER + klen + bin_offsets[i]] ^= 0x01;
        expect_rejected(dir, path, bad, flen, "flipped binary byte");
    }
    static const size_t key_offsets[] = {0, 5, 40};
    for (size_t i = 0; i < sizeof key_offsets / sizeof key_offsets[0]; i++) {
        memcpy(bad, file, flen);
        bad[HEADER + key_offsets[i]] ^= 0x20;
        expect_rejected(dir, path, bad, flen, "flipped key byte");
    }
    memcpy(bad, file, flen);
    bad[flen - 1] ^= 0x80;
    expect_rejected(dir, path, bad, flen, "flipped checksum byte");
    for (size_t off = 0; off < HEADER; off++) {
        memcpy(bad, file, flen);
        bad[off] ^= 0x04;
        expect_rejected(dir, path, bad, flen, "flipped header byte");
    }

    /* Truncated at every kind of boundary, and empty. */
    static const size_t cuts[] = {1, TRAILER, TRAILER + 1, TRAILER + 500};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        expect_rejected(dir, path, file, flen - cuts[i], "truncated");
    expect_rejected(dir, path, file, HEADER + klen, "truncated after the key");
    expect_rejected(dir, path, file, HEADER, "header only");
    expect_rejected(dir, path, file, 10, "truncated header");
    expect_rejected(dir, path, file, 0, "empty file");

    /* Extra bytes after the trailer. */
    memcpy(bad, file, flen);
    memset(bad + flen, 0, 16);
    expect_rejected(dir, path, bad, flen + 16, "trailing bytes");

    /* Another magic: an ELF file, and text. */
    memcpy(bad, file, flen);
    memcpy(bad, "\177ELF\2\1\1\0", 8);
    expect_rejected(dir, path, bad, flen, "ELF magic");
    const char *text = "this is not a cache entry, only some text long enough";
    expect_rejected(dir, path, (const unsigned char *)text, strlen(text), "text");

    /* A later format version. */
    memcpy(bad, file, flen);
    bad[8] = FORMAT + 1;
    expect_rejected(dir, path, bad, flen, "format 3");

    /* Rewritten whole, the entry is trusted again. */
    clrt_unit_write_file(path, file, flen);
    unsigned char *bin = make_binary(n, 7);
    expect_load(dir, KEY, bin, n);
    free(bin);

    free(bad);
    free(file);
    free(path);
}

static void entry_of_another_key_is_refused(void **state)
{
    (void)state;
    char dir[4096];
    unsigned char *file;
    size_t flen;
    char *path = fresh_entry(dir, sizeof dir, &file, &flen, 300);

    /* Copied to where another key's entry lives: same key length, and not. */
    char other_same_len[1024];
    snprintf(other_same_len, sizeof other_same_len, "%s", KEY);
    other_same_len[strlen(KEY) - 2] ^= 0x01;
    const char *other_keys[] = {other_same_len, "short key", "a much longer key than KEY ... "
                                                             "a much longer key than KEY ... "
                                                             "a much longer key than KEY ... "
                                                             "a much longer key than KEY ..."};
    for (size_t i = 0; i < sizeof other_keys / sizeof other_keys[0]; i++) {
        char *other_path = clrt__cache_path(dir, other_keys[i]);
        assert_non_null(other_path);
        assert_string_not_equal(other_path, path);
        clrt_unit_write_file(other_path, file, flen);
        expect_load_fails(dir, other_keys[i], CLRT_ERR_FORMAT, other_keys[i]);
        free(other_path);
    }
    free(file);
    free(path);
}

/* ------------------------------------------------------------ storing */

static void store_creates_private_dirs(void **state)
{
    (void)state;
    mode_t old = umask(022);
    char top[4096], dir[4200];
    new_dir(top, sizeof top);
    snprintf(dir, sizeof dir, "%s/a/b/c", top);
    unsigned char bin[16] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
    clrt_status st = store(dir, KEY, bin, sizeof bin);
    umask(old);
    assert_int_equal(st, CLRT_OK);
    expect_load(dir, KEY, bin, sizeof bin);

    /* Every level made here has mode 0700. */
    char level[4200];
    const char *suffixes[] = {"", "/a", "/a/b", "/a/b/c"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(level, sizeof level, "%s%s", top, suffixes[i]);
        struct stat sb;
        assert_int_equal(stat(level, &sb), 0);
        assert_true(S_ISDIR(sb.st_mode));
        if ((sb.st_mode & 07777) != 0700)
            fail_msg("%s has mode %04o, want 0700", level, (unsigned)(sb.st_mode & 07777));
    }
    /* The entry is readable by its owner only. */
    char *path = clrt__cache_path(dir, KEY);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 077, 0);
    free(path);

    /* A trailing slash works too. */
    snprintf(dir, sizeof dir, "%s/d/", top);
    assert_int_equal(store(dir, KEY, bin, sizeof bin), CLRT_OK);
    expect_load(dir, KEY, bin, sizeof bin);
}

static void store_leaves_no_temp_files(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir, sizeof dir);
    for (unsigned i = 0; i < 5; i++) {
        char key[32];
        snprintf(key, sizeof key, "key %u", i);
        unsigned char *bin = make_binary(100 + i, i);
        store_ok(dir, key, bin, 100 + i);
        free(bin);
    }
    size_t total;
    assert_int_equal(count_entries(dir, ".tmp.", &total), 0);
    assert_int_equal(count_entries(dir, ".clbin", NULL), 5);
    assert_int_equal(count_entries(dir, "mac-secret", NULL), 1);
    assert_int_equal(total, 5 + 1); /* the entries and the folder's secret */
}

static void second_store_replaces_first(void **state)
{
    (void)state;
    char dir[4096];
    new_dir(dir, sizeof dir);
    unsigned char *first = make_binary(4000, 1);
    unsigned char *second = make_binary(123, 2);
    store_ok(dir, KEY, first, 4000);
    expect_load(dir, KEY, first, 4000);
    store_ok(dir, KEY, second, 123);
    expect_load(dir, KEY, second, 123);
    size_t total;
    assert_int_equal(count_entries(dir, ".tmp.", &total), 0);
    assert_int_equal(count_entries(dir, "mac-secret", NULL), 1);
    assert_int_equal(total, 1 + 1); /* the entry and the folder's secret */
    /* And back to a longer one. */
    store_ok(dir, KEY, first, 4000);
    expect_load(dir, KEY, first, 4000);
    free(first);
    free(second);
}

static void store_fails_where_it_cannot_write(void **state)
{
    (void)state;
    char file_path[4096], dir[4200];
    new_dir(file_path, sizeof file_path);
    clrt_unit_write_file(file_path, (const unsigned char *)"x", 1);
    /* A regular file where a directory should be. */
    unsigned char bin[4] = {1, 2, 3, 4};
    assert_int_equal(store(file_path, KEY, bin, sizeof bin), CLRT_ERR_IO);
    snprintf(dir, sizeof dir, "%s/below", file_path);
    assert_int_equal(store(dir, KEY, bin, sizeof bin), CLRT_ERR_IO);
}


/* ------------------------------------------------- temp files, links */

static void write_text_file(const char *path, const char *text)
{
    clrt_unit_write_file(path, text, strlen(text));
}

static void expect_text_file(const char *path, const char *want)
{
    size_t len;
    unsigned char *got = clrt_unit_read_file(path, &len);
    if (len != strlen(want) || memcmp(got, want, len) != 0)
        fail_msg("%s holds \"%.*s\", want \"%s\"", path, (int)len, (const char *)got, want);
    free(got);
}

static bool is_link(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode);
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static clrt_status write_atomic(const char *path, const char *text, unsigned flags)
{
    const void *const parts[1] = {text};
    const size_t sizes[1] = {strlen(text)};
    clrt__write_failure wf;
    clrt_status st = clrt__write_file_atomic(path, parts, sizes, 1, 0600, flags, &wf);
    if (st != CLRT_OK) {
        fprintf(stderr, "write %s failed at %s: %s\n", path, wf.step ? wf.step : "-",
                strerror(wf.err));
        free(wf.tmp);
    }
    return st;
}

/* A planted link at the temp name "<path>.tmp.<pid>" is neither written
 * through nor renamed into place: its target keeps its bytes, a dangling
 * link creates nothing, and the write still succeeds under another name. */
static void temp_link_is_not_followed(void **state)
{
    (void)state;
    char dir[4096], path[4200], tmp[4300], victim[4200], path2[4200], tmp2[4300], made[4200];
    new_dir(dir, sizeof dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    write_text_file(victim, "precious");
    assert_int_equal(symlink(victim, tmp), 0);
    snprintf(made, sizeof made, "%s/made-through-a-link", dir);
    snprintf(path2, sizeof path2, "%s/out2.bin", dir);
    snprintf(tmp2, sizeof tmp2, "%s.tmp.%ld", path2, (long)getpid());
    assert_int_equal(symlink(made, tmp2), 0);

    assert_int_equal(write_atomic(path, "new contents", 0), CLRT_OK);
    assert_int_equal(write_atomic(path2, "more contents", CLRT__WRITE_SYNC_DIR), CLRT_OK);
    expect_text_file(victim, "precious");
    assert_false(exists(made));
    assert_false(is_link(path));
    assert_false(is_link(path2));
    expect_text_file(path, "new contents");
    expect_text_file(path2, "more contents");
    /* The links are left as they were (not regular files: not ours to
     * remove), and no temp file of the writes is left. */
    assert_true(is_link(tmp));
    assert_true(is_link(tmp2));
    size_t total;
    assert_int_equal(count_entries(dir, ".tmp.", &total), 2);
    assert_int_equal(total, 5);
}

/* A pid no process has: a child that has exited and been reaped. */
static long dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(kill(pid, 0) != 0 && errno == ESRCH);
    return (long)pid;
}

/* Temp files of a path whose process is gone are removed by the next write
 * of that path; those of live processes, this process's unique ones, other
 * paths', names of another shape, links, FIFOs and other users' files stay. */
static void stale_temps_are_removed(void **state)
{
    (void)state;
    char dir[4096], path[4200], name[4400], victim[4200];
    new_dir(dir, sizeof dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    write_text_file(victim, "precious");
    long dead = dead_pid(), live = (long)getppid(), self = (long)getpid();

    static const char *const gone_fmt[] = {"%s.tmp.%ld", "%s.tmp.%ld.1.2", "%s.tmp.%ld.1.2.3"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof name, gone_fmt[i], path, dead);
        write_text_file(name, "half a save");
    }
    char kept[16][4400];
    size_t nkept = 0;
    snprintf(kept[nkept++], sizeof kept[0], "%s.tmp.%ld", path, live);
    snprintf(kept[nkept++], sizeof kept[0], "%s.tmp.%ld.7.8", path, live);
    snprintf(kept[nkept++], sizeof kept[0], "%s.tmp.%ld.9.9", path, self);
    snprintf(kept[nkept++], sizeof kept[0], "%s.tmp.%ldx", path, dead);
    snprintf(kept[nkept++], sizeof kept[0], "%s.tmp.0", path);
    snprintf(kept[nkept++], sizeof kept[0], "%s.tmp.-1", path);
    snprintf(kept[nkept++], sizeof kept[0], "%s/other.tmp.%ld", dir, dead);
    snprintf(kept[nkept++], sizeof kept[0], "%s.tmpx.%ld", path, dead);
    for (size_t i = 0; i < nkept; i++)
        write_text_file(kept[i], "not stale");
    snprintf(kept[nkept], sizeof kept[0], "%s.tmp.%ld.link", path, dead);
    assert_int_equal(symlink(victim, kept[nkept++]), 0);
    snprintf(kept[nkept], sizeof kept[0], "%s.tmp.%ld.fifo", path, dead);
    assert_int_equal(mkfifo(kept[nkept++], 0600), 0);
    if (geteuid() == 0) { /* only root can give a file away */
        snprintf(kept[nkept], sizeof kept[0], "%s.tmp.%ld.theirs", path, dead);
        write_text_file(kept[nkept], "another user's");
        assert_int_equal(chown(kept[nkept++], 65534, 65534), 0);
    }

    assert_int_equal(write_atomic(path, "saved", 0), CLRT_OK);
    expect_text_file(path, "saved");
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof name, gone_fmt[i], path, dead);
        if (exists(name))
            fail_msg("%s (pid %ld is gone) was not removed", name, dead);
    }
    for (size_t i = 0; i < nkept; i++)
        if (!exists(kept[i]))
            fail_msg("%s was removed", kept[i]);
    expect_text_file(victim, "precious");

    /* This process's own pid-only temp name is a leftover of an earlier
     * write (such writes of one path never overlap): removed, as the old
     * writer truncated and reused it. */
    snprintf(name, sizeof name, "%s.tmp.%ld", path, self);
    write_text_file(name, "left by this process");
    assert_int_equal(write_atomic(path, "saved again", 0), CLRT_OK);
    assert_false(exists(name));
    expect_text_file(path, "saved again");

    /* Cache entries are written the same way. */
    char cache[4096], *entry;
    new_dir(cache, sizeof cache);
    unsigned char bin[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    store_ok(cache, KEY, bin, sizeof bin);
    entry = clrt__cache_path(cache, KEY);
    snprintf(name, sizeof name, "%s.tmp.%ld.1700000000.5", entry, dead);
    write_text_file(name, "a killed build's");
    store_ok(cache, KEY, bin, sizeof bin);
    assert_false(exists(name));
    assert_int_equal(count_entries(cache, ".tmp.", NULL), 0);
    free(entry);
}

/* ------------------------------------------------ folders and entries */

/* A folder its group or others can write, or another user's, is not used:
 * loads and stores are refused (CLRT_ERR_UNSUPPORTED) and nothing is
 * written there. */
static void shared_folder_is_refused(void **state)
{
    (void)state;
    size_t before = refusals;
    char dir[4096];
    new_dir(dir, sizeof dir);
    unsigned char *bin = make_binary(300, 3), *other = make_binary(200, 4);
    store_ok(dir, KEY, bin, 300);
    static const unsigned modes[] = {0770, 0720, 0702, 0777, 01777};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(dir, modes[i]), 0);
        expect_load_fails(dir, KEY, CLRT_ERR_UNSUPPORTED, "folder writable by others");
        assert_int_equal(store(dir, "another key", other, 200), CLRT_ERR_UNSUPPORTED);
    }
    size_t total;
    assert_int_equal(count_entries(dir, ".clbin", &total), 1); /* nothing was stored */
    assert_int_equal(total, 2);
    /* Readable by others is not a risk: used. */
    assert_int_equal(chmod(dir, 0755), 0);
    expect_load(dir, KEY, bin, 300);

    /* Not this user's. */
    if (geteuid() == 0) {
        assert_int_equal(chmod(dir, 0700), 0);
        assert_int_equal(chown(dir, 65534, 65534), 0);
        expect_load_fails(dir, KEY, CLRT_ERR_UNSUPPORTED, "another user's folder");
        assert_int_equal(store(dir, KEY, bin, 300), CLRT_ERR_UNSUPPORTED);
        assert_int_equal(chown(dir, 0, 0), 0);
        expect_load(dir, KEY, bin, 300);
    } else {
        expect_load_fails("/", KEY, CLRT_ERR_UNSUPPORTED, "root's folder");
    }
    print_message("shared_folder_is_refused: %zu refusals\n", refusals - before);
    free(bin);
    free(other);
}

/* An entry that is a FIFO is refused at once, not waited on (the alarm
 * ends the test if the load blocks). */
static void fifo_entry_does_not_block(void **state)
{
    (void)state;
    size_t before = refusals;
    char dir[4096];
    new_dir(dir, sizeof dir);
    unsigned char bin[4] = {4, 3, 2, 1};
    store_ok(dir, "another key", bin, sizeof bin); /* the folder and its secret */
    char *path = clrt__cache_path(dir, KEY);
    assert_int_equal(mkfifo(path, 0600), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    alarm(10);
    expect_load_fails(dir, KEY, CLRT_ERR_FORMAT, "FIFO entry");
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    assert_true(s < 2.0);
    /* A store replaces it with a real entry. */
    store_ok(dir, KEY, bin, sizeof bin);
    expect_load(dir, KEY, bin, sizeof bin);
    print_message("fifo_entry_does_not_block: %zu refusals, %.3f ms\n", refusals - before,
                  s * 1e3);
    free(path);
}

/* An entry that is a symbolic link is refused, whatever it points at: a
 * valid entry of this user's elsewhere, or /dev/zero (which a reader that
 * followed it would read until memory ran out). */
static void link_entries_are_refused(void **state)
{
    (void)state;
    size_t before = refusals;
    char dir[4096], elsewhere[4200];
    unsigned char *file;
    size_t flen;
    char *path = fresh_entry(dir, sizeof dir, &file, &flen, 500);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", dir);
    assert_int_equal(rename(path, elsewhere), 0);
    assert_int_equal(symlink(elsewhere, path), 0);
    expect_load_fails(dir, KEY, CLRT_ERR_FORMAT, "link to a valid entry");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(symlink("/dev/zero", path), 0);
    alarm(10);
    expect_load_fails(dir, KEY, CLRT_ERR_FORMAT, "link to /dev/zero");
    alarm(0);
    /* Nor is a folder at the entry's name. */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkdir(path, 0700), 0);
    expect_load_fails(dir, KEY, CLRT_ERR_FORMAT, "a folder as the entry");
    print_message("link_entries_are_refused: %zu refusals\n", refusals - before);
    free(file);
    free(path);
}

/* An entry its group or others can write, or another user's, is refused. */
static void entry_open_to_others_is_refused(void **state)
{
    (void)state;
    size_t before = refusals;
    char dir[4096];
    unsigned char *file;
    size_t flen;
    char *path = fresh_entry(dir, sizeof dir, &file, &flen, 400);
    unsigned char *bin = make_binary(400, 7);
    static const unsigned modes[] = {0620, 0602, 0666};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(path, modes[i]), 0);
        expect_load_fails(dir, KEY, CLRT_ERR_FORMAT, "entry writable by others");
    }
    assert_int_equal(chmod(path, 0644), 0); /* readable by others: a binary is no secret */
    expect_load(dir, KEY, bin, 400);
    if (geteuid() == 0) {
        assert_int_equal(chmod(path, 0600), 0);
        assert_int_equal(chown(path, 65534, 65534), 0);
        expect_load_fails(dir, KEY, CLRT_ERR_FORMAT, "another user's entry");
    }
    print_message("entry_open_to_others_is_refused: %zu refusals\n", refusals - before);
    free(bin);
    free(file);
    free(path);
}

/* Bytes read(2) by this process so far (/proc/self/io), or -1. */
static long long bytes_read(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    if (!f)
        return -1;
    long long n = -1;
    if (fscanf(f, "rchar: %lld", &n) != 1)
        n = -1;
    fclose(f);
    return n;
}

/* A header whose lengths disagree with the file's size is refused before
 * the rest is read: claiming more than the file holds, or far less than a
 * huge (sparse) file holds. */
static void header_bounds_the_read(void **state)
{
    (void)state;
    size_t before = refusals;
    char dir[4096];
    unsigned char *file;
    size_t flen;
    const size_t n = 1000;
    char *path = fresh_entry(dir, sizeof dir, &file, &flen, n);
    unsigned char *bad = malloc(flen);
    assert_non_null(bad);
    static const uint64_t claims[] = {1000 + 1, 1000 + 1000000, 1ull << 40, UINT64_MAX};
    for (size_t i = 0; i < sizeof claims / sizeof claims[0]; i++) {
        memcpy(bad, file, flen);
        clrt__put_le64(bad + 16, claims[i]);
        expect_rejected(dir, path, bad, flen, "header claims more than the file");
    }

    /* The valid entry at the start of a 64 MiB file: refused, having read
     * no more than its header. */
    const off_t huge = 64ll << 20;
    clrt_unit_write_file(path, file, flen);
    assert_int_equal(truncate(path, huge), 0);
    long long r0 = bytes_read();
    expect_load_fails(dir, KEY, CLRT_ERR_FORMAT, "file longer than its header says");
    long long r1 = bytes_read();
    if (r0 >= 0 && r1 >= 0) {
        print_message("header_bounds_the_read: %lld bytes read for a %lld-byte file\n", r1 - r0,
                      (long long)huge);
        if (r1 - r0 > 65536)
            fail_msg("read %lld bytes of a refused %lld-byte entry", r1 - r0, (long long)huge);
    }
    print_message("header_bounds_the_read: %zu refusals\n", refusals - before);
    free(bad);
    free(file);
    free(path);
}

/* ----------------------------------------------------- the secret, MACs */

static void secret_path(const char *dir, char *out, size_t len)
{
    snprintf(out, len, "%s/mac-secret", dir);
}

/* Each folder's secret is 32 random bytes in a regular file of mode 0600,
 * whatever the umask, made once and kept. */
static void secret_file_is_private(void **state)
{
    (void)state;
    char a[4096], b[4096], sa[4200], sb_path[4200];
    new_dir(a, sizeof a);
    new_dir(b, sizeof b);
    unsigned char bin[5] = {1, 2, 3, 4, 5};
    mode_t old = umask(0);
    store_ok(a, KEY, bin, sizeof bin);
    umask(old);
    store_ok(b, KEY, bin, sizeof bin);
    secret_path(a, sa, sizeof sa);
    secret_path(b, sb_path, sizeof sb_path);
    struct stat st;
    assert_int_equal(lstat(sa, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    if ((st.st_mode & 07777) != 0600)
        fail_msg("%s has mode %04o, want 0600", sa, (unsigned)(st.st_mode & 07777));
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_size, 32);
    size_t la, lb;
    unsigned char *ka = clrt_unit_read_file(sa, &la), *kb = clrt_unit_read_file(sb_path, &lb);
    assert_int_equal(la, 32);
    assert_int_equal(lb, 32);
    assert_memory_not_equal(ka, kb, 32); /* random per folder */
    /* Later stores keep it. */
    store_ok(a, "another key", bin, sizeof bin);
    size_t la2;
    unsigned char *ka2 = clrt_unit_read_file(sa, &la2);
    assert_int_equal(la2, 32);
    assert_memory_equal(ka, ka2, 32);
    free(ka);
    free(kb);
    free(ka2);
}

/* Build an entry of format 1 (no MAC; the crc recomputed as that format
 * did): what a forger could always make. */
static unsigned char *old_format_entry(const char *key, const unsigned char *bin, size_t n,
                                       size_t *len)
{
    size_t klen = strlen(key);
    *len = HEADER + klen + n + 4;
    unsigned char *e = malloc(*len);
    assert_non_null(e);
    memcpy(e, "CLRTBIN\0", 8);
    clrt__put_le32(e + 8, 1);
    clrt__put_le32(e + 12, (uint32_t)klen);
    clrt__put_le64(e + 16, n);
    memcpy(e + HEADER, key, klen);
    memcpy(e + HEADER + klen, bin, n);
    clrt__put_le32(e + HEADER + klen + n, clrt__crc32(clrt__crc32(0, key, klen), bin, n));
    return e;
}

/* Only entries the folder's secret vouches for are used: an entry with a
 * valid crc32 made under another folder's secret, one of the old format
 * (no MAC), one with its MAC cut or zeroed, and any entry once the secret
 * is gone, refused or swapped for a link are all refused. */
static void entries_of_another_secret_are_refused(void **state)
{
    (void)state;
    size_t before = refusals;
    char a[4096], b[4096], sa[4200], sb_path[4200];
    unsigned char *file;
    size_t flen;
    const size_t n = 600;
    char *path = fresh_entry(a, sizeof a, &file, &flen, n);
    unsigned char *mine = make_binary(n, 7), *theirs = make_binary(n, 42);
    new_dir(b, sizeof b);
    store_ok(b, KEY, theirs, n);
    char *other = clrt__cache_path(b, KEY);
    size_t olen;
    unsigned char *forged = clrt_unit_read_file(other, &olen);
    assert_int_equal(olen, flen);
    /* Its crc32 is right: the format alone cannot tell it from ours. */
    const size_t klen = strlen(KEY);
    assert_true(clrt__get_le32(forged + HEADER + klen + n) ==
                clrt__crc32(clrt__crc32(0, KEY, klen), theirs, n));
    expect_rejected(a, path, forged, olen, "entry made under another secret");

    size_t vlen;
    unsigned char *v1 = old_format_entry(KEY, theirs, n, &vlen);
    expect_rejected(a, path, v1, vlen, "format 1 entry, crc recomputed");
    memcpy(forged, file, flen);
    memcpy(forged + HEADER + klen, theirs, n);
    clrt__put_le32(forged + HEADER + klen + n, clrt__crc32(clrt__crc32(0, KEY, klen), theirs, n));
    expect_rejected(a, path, forged, flen, "binary swapped, crc recomputed, old MAC");
    memset(forged + flen - MAC, 0, MAC);
    expect_rejected(a, path, forged, flen, "MAC zeroed");
    memcpy(forged, file, flen);
    expect_rejected(a, path, forged, flen - MAC, "MAC cut off");
    /* Put back whole, ours is used again. */
    clrt_unit_write_file(path, file, flen);
    expect_load(a, KEY, mine, n);

    /* The secret is refused when others can read it, when it is a link (to
     * the other folder's, whose entry is copied in), when it is missing. */
    secret_path(a, sa, sizeof sa);
    secret_path(b, sb_path, sizeof sb_path);
    assert_int_equal(chmod(sa, 0640), 0);
    expect_load_fails(a, KEY, CLRT_ERR_FORMAT, "secret readable by its group");
    assert_int_equal(store(a, "another key", mine, n), CLRT_ERR_IO);
    assert_int_equal(chmod(sa, 0600), 0);
    expect_load(a, KEY, mine, n);
    char saved[4300];
    snprintf(saved, sizeof saved, "%s.saved", sa);
    assert_int_equal(rename(sa, saved), 0);
    assert_int_equal(symlink(sb_path, sa), 0);
    unsigned char *theirs_file = clrt_unit_read_file(other, &olen);
    clrt_unit_write_file(path, theirs_file, olen);
    expect_load_fails(a, KEY, CLRT_ERR_FORMAT, "secret a link to another folder's");
    assert_int_equal(unlink(sa), 0);
    expect_load_fails(a, KEY, CLRT_ERR_FORMAT, "no secret");
    /* A store makes a new secret; the entry it writes is used. */
    store_ok(a, KEY, mine, n);
    expect_load(a, KEY, mine, n);
    print_message("entries_of_another_secret_are_refused: %zu refusals\n", refusals - before);
    free(theirs_file);
    free(v1);
    free(forged);
    free(other);
    free(mine);
    free(theirs);
    free(file);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(dir_resolve, save_env, restore_env),
        cmocka_unit_test(cache_path),
        cmocka_unit_test(hash64),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(load_missing),
        cmocka_unit_test(corrupt_entries_are_refused),
        cmocka_unit_test(entry_of_another_key_is_refused),
        cmocka_unit_test(store_creates_private_dirs),
        cmocka_unit_test(store_leaves_no_temp_files),
        cmocka_unit_test(second_store_replaces_first),
        cmocka_unit_test(store_fails_where_it_cannot_write),
        cmocka_unit_test(temp_link_is_not_followed),
        cmocka_unit_test(stale_temps_are_removed),
        cmocka_unit_test(shared_folder_is_refused),
        cmocka_unit_test(fifo_entry_does_not_block),
        cmocka_unit_test(link_entries_are_refused),
        cmocka_unit_test(entry_open_to_others_is_refused),
        cmocka_unit_test(header_bounds_the_read),
        cmocka_unit_test(secret_file_is_private),
        cmocka_unit_test(entries_of_another_secret_are_refused),
    };
    return cmocka_run_group_tests_name("unit-cache", tests, make_tmp, clrt_unit_tmp_teardown);
}
