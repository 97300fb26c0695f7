/* The safetensors reader (src/io/safetensors.c) from memory: whatever the
 * bytes, clrt__safetensors_parse returns a status, and a file it accepts
 * keeps the promises its header makes (every entry inside the data, as
 * long as its shape, the entries tiling the data) and reads back. */
#include "fuzz_util.h"

#include "io/io.h"

static size_t dtype_bytes(const char *d)
{
    static const char *const one[] = {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3"};
    static const char *const two[] = {"I16", "U16", "F16", "BF16"};
    static const char *const four[] = {"I32", "U32", "F32"};
    for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
        if (strcmp(d, one[i]) == 0)
            return 1;
    for (size_t i = 0; i < sizeof two / sizeof two[0]; i++)
        if (strcmp(d, two[i]) == 0)
            return 2;
    for (size_t i = 0; i < sizeof four / sizeof four[0]; i++)
        if (strcmp(d, four[i]) == 0)
            return 4;
    return 8; /* F64, I64, U64: the reader knows no other */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clrt__safetensors f;
    char err[1024];
    clrt_status st = clrt__safetensors_parse("fuzz", data, size, &f, err, sizeof err);
    if (st != CLRT_OK) {
        FUZZ_CHECK(st == CLRT_ERR_FORMAT || st == CLRT_ERR_OUT_OF_MEMORY);
        FUZZ_CHECK(strncmp(err, "'fuzz': ", 8) == 0);
        FUZZ_CHECK(f.entries == NULL && f.count == 0);
        return 0;
    }
    FUZZ_CHECK(f.data >= data + 8 && f.data + f.data_size == data + size);
    size_t covered = 0;
    for (size_t i = 0; i < f.count; i++) {
        const clrt__st_entry *e = &f.entries[i];
        FUZZ_CHECK(e->begin <= e->end && e->end <= f.data_size);
        size_t numel = 1;
        for (size_t d = 0; d < e->rank; d++)
            numel *= (size_t)e->shape[d];
        FUZZ_CHECK(numel == e->numel);
        FUZZ_CHECK(e->end - e->begin == e->numel * dtype_bytes(e->dtype));
        covered += e->end - e->begin;
        FUZZ_CHECK(clrt__safetensors_find(&f, e->name) != NULL);
        char shape[64];
        clrt__safetensors_shape_text(e, shape, sizeof shape);
        FUZZ_CHECK(shape[0] == '[');
        if (strcmp(e->dtype, "F32") == 0) {
            float *v = malloc(e->numel ? e->numel * sizeof *v : 1);
            FUZZ_CHECK(v != NULL);
            FUZZ_CHECK(clrt__safetensors_read_f32(&f, e, v, e->numel, err, sizeof err) == CLRT_OK);
            if (e->numel > 0)
                FUZZ_CHECK(memcmp(v, f.data + e->begin, 4) == 0); /* a little-endian host */
            free(v);
        }
    }
    FUZZ_CHECK(covered == f.data_size); /* no hole, no overlap, nothing after */
    (void)clrt__safetensors_meta(&f, "checksum");
    (void)clrt__safetensors_meta(&f, "format");
    clrt__safetensors_close(&f);
    return 0;
}
