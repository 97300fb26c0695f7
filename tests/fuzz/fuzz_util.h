/* What the fuzz targets share: libFuzzer's entry point, a check that aborts
 * (so libFuzzer, and the replay of tests/fuzz/replay.c, report it as a
 * crash with the input), and a scratch directory for the readers that take
 * a path. Each target is one file, fuzz_<name>.c, built by clang with
 * libFuzzer (-Dfuzz=enabled) and by any compiler with the replay main. */
#ifndef CLRT_FUZZ_UTIL_H
#define CLRT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property every input must keep; a broken one is a finding. */
#define FUZZ_CHECK(cond)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

/* $TMPDIR/clrt-fuzz-XXXXXX, made on first use and removed (with the files
 * fuzz_path named) at exit. */
static char fuzz_dir_name[512];
static char fuzz_files[4][600];

static inline void fuzz_cleanup(void)
{
    for (size_t i = 0; i < sizeof fuzz_files / sizeof fuzz_files[0]; i++)
        if (fuzz_files[i][0])
            unlink(fuzz_files[i]);
    if (fuzz_dir_name[0])
        rmdir(fuzz_dir_name);
}

static inline const char *fuzz_dir(void)
{
    if (!fuzz_dir_name[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(fuzz_dir_name, sizeof fuzz_dir_name, "%s/clrt-fuzz-XXXXXX",
                 base && *base == '/' ? base : "/tmp");
        if (!mkdtemp(fuzz_dir_name)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fuzz_cleanup);
    }
    return fuzz_dir_name;
}

/* "<dir>/<name>" (slot 0..3: removed at exit). */
static inline const char *fuzz_path(int slot, const char *name)
{
    snprintf(fuzz_files[slot], sizeof fuzz_files[slot], "%s/%s", fuzz_dir(), name);
    return fuzz_files[slot];
}

/* Replace `path` with data[0..size); aborts when it cannot (a broken
 * scratch directory is no finding of clrt's). */
static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

#endif
