/* The disk-cache entry reader (clrt__cache_load in src/runtime/cache.c),
 * through a scratch cache directory: the input is a key (up to the first
 * newline) and then the bytes of the entry file for that key. Whatever
 * they are, the load returns a status and hands out a binary only with
 * CLRT_OK; and the same key and bytes stored with clrt__cache_store load
 * back equal. Written against the two functions' signatures alone, so a
 * change of the entry format needs no change here. Since entries carry a
 * keyed MAC, a fuzzed entry passes only the checks before the MAC (the
 * file, the header's lengths); the round trip exercises the rest. */
#include "fuzz_util.h"

#include "runtime/runtime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || nl == data || memchr(data, '\0', (size_t)(nl - data)))
        return 0; /* a key is a non-empty C string */
    size_t klen = (size_t)(nl - data);
    char *key = malloc(klen + 1);
    FUZZ_CHECK(key != NULL);
    memcpy(key, data, klen);
    key[klen] = '\0';
    const uint8_t *entry = nl + 1;
    size_t entry_len = size - klen - 1;

    const char *dir = fuzz_dir();
    char *path = clrt__cache_path(dir, key);
    FUZZ_CHECK(path != NULL);
    fuzz_write(path, entry, entry_len);
    unsigned char *bin = (unsigned char *)&bin;
    size_t bin_len = 1;
    char why[512];
    clrt_status st = clrt__cache_load(dir, key, &bin, &bin_len, why, sizeof why);
    if (st == CLRT_OK) {
        FUZZ_CHECK(bin != NULL && bin_len > 0 && bin_len < entry_len);
        free(bin);
    } else {
        FUZZ_CHECK(st == CLRT_ERR_FORMAT || st == CLRT_ERR_OUT_OF_MEMORY);
        FUZZ_CHECK(bin == NULL && bin_len == 0);
    }

    /* A store of these bytes as a binary, then a load: the same bytes. */
    if (entry_len > 0) {
        FUZZ_CHECK(clrt__cache_store(dir, key, entry, entry_len, why, sizeof why) == CLRT_OK);
        FUZZ_CHECK(clrt__cache_load(dir, key, &bin, &bin_len, why, sizeof why) == CLRT_OK);
        FUZZ_CHECK(bin_len == entry_len && memcmp(bin, entry, entry_len) == 0);
        free(bin);
    }
    unlink(path);
    free(path);
    free(key);
    return 0;
}
