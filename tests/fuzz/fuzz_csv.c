/* The CSV loader (src/io/csv.c), which takes a path: the input is the
 * file. Whatever it holds, clrt_dataset_load_csv returns a status, and a
 * data set it accepts holds finite features and class-index labels. */
#include "fuzz_util.h"

#include "io/io.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_path(0, "data.csv");
    fuzz_write(path, data, size);
    clrt_dataset *ds = (clrt_dataset *)&ds;
    char err[1024];
    clrt_status st = clrt_dataset_load_csv(path, &ds, err, sizeof err);
    if (st != CLRT_OK) {
        FUZZ_CHECK(ds == NULL);
        FUZZ_CHECK(st == CLRT_ERR_FORMAT || st == CLRT_ERR_OUT_OF_MEMORY);
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    size_t n = clrt_dataset_size(ds), features = clrt_dataset_features(ds);
    FUZZ_CHECK(n > 0 && features > 0);
    const float *x = clrt_dataset_data(ds), *y = clrt_dataset_labels(ds);
    float most = 0;
    for (size_t i = 0; i < n * features; i++)
        FUZZ_CHECK(isfinite(x[i]));
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(clrt__is_class_index(y[i]) && !signbit(y[i]));
        most = y[i] > most ? y[i] : most;
    }
    FUZZ_CHECK(clrt_dataset_classes(ds) == (size_t)most + 1);
    clrt_dataset_destroy(ds);
    return 0;
}
