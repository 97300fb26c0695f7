/* One line of the GEMM tuning record (clrt__gemm_record_parse in
 * src/ops/gemm_tune.c), from memory, as load_record reads it: at most 255
 * bytes up to a newline. A line it accepts names a backend and a tile in
 * range, and written again the way append_record writes it, reads back
 * the same. */
#include "fuzz_util.h"

#include "ops/ops.h"

/* The key seeds carry; any 1..31 non-space bytes would do. */
static const char KEY[] = "0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char line[256];
    size_t n = size < sizeof line - 1 ? size : sizeof line - 1;
    memcpy(line, data, n);
    line[n] = '\0';
    char *eol = strchr(line, '\n');
    if (eol)
        eol[1] = '\0'; /* fgets stops there */

    char cls[48];
    clrt_gemm_backend b;
    unsigned tile;
    if (!clrt__gemm_record_parse(line, KEY, cls, &b, &tile))
        return 0;
    FUZZ_CHECK(b == CLRT_GEMM_BUILTIN || b == CLRT_GEMM_CLBLAST || b == CLRT_GEMM_HOST);
    FUZZ_CHECK(tile < clrt__gemm_tile_count());
    FUZZ_CHECK(strlen(cls) > 0 && strlen(cls) < sizeof cls);

    char again[256], cls2[48];
    snprintf(again, sizeof again, "%s %s %s %u\n", KEY, cls, clrt_gemm_backend_name(b), tile);
    clrt_gemm_backend b2;
    unsigned tile2;
    FUZZ_CHECK(clrt__gemm_record_parse(again, KEY, cls2, &b2, &tile2));
    FUZZ_CHECK(b2 == b && tile2 == tile && strcmp(cls2, cls) == 0);
    return 0;
}
