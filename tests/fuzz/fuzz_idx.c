/* The IDX reader (src/io/idx.c), which takes paths: the input is split in
 * two files, images and labels (the first two bytes, little-endian, say
 * how many bytes go to the images; the rest are the labels), each gzipped
 * or not as the bytes themselves say. Whatever they hold,
 * clrt_dataset_load_idx returns a status, and a data set it accepts is
 * what the headers declare. */
#include "fuzz_util.h"

#include "io/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)(data[0] | data[1] << 8);
    data += 2, size -= 2;
    if (split > size)
        split = size;
    const char *images = fuzz_path(0, "images.idx"), *labels = fuzz_path(1, "labels.idx");
    fuzz_write(images, data, split);
    fuzz_write(labels, data + split, size - split);

    clrt_dataset *ds = (clrt_dataset *)&ds;
    char err[1024];
    clrt_status st = clrt_dataset_load_idx(images, labels, &ds, err, sizeof err);
    if (st != CLRT_OK) {
        FUZZ_CHECK(ds == NULL);
        FUZZ_CHECK(st == CLRT_ERR_FORMAT || st == CLRT_ERR_UNSUPPORTED ||
                   st == CLRT_ERR_OUT_OF_MEMORY);
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    size_t n = clrt_dataset_size(ds), features = clrt_dataset_features(ds);
    FUZZ_CHECK(features > 0);
    const float *x = clrt_dataset_data(ds), *y = clrt_dataset_labels(ds);
    float most = -1;
    for (size_t i = 0; i < n * features; i++)
        FUZZ_CHECK(x[i] >= 0.0f && x[i] <= 1.0f);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(y[i] >= 0.0f && y[i] <= 255.0f && y[i] == (float)(int)y[i]);
        most = y[i] > most ? y[i] : most;
    }
    FUZZ_CHECK(clrt_dataset_classes(ds) == (n ? (size_t)most + 1 : 0));
    clrt_dataset_destroy(ds);
    return 0;
}
