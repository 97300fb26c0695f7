/* The io layer: data sets (IDX, CSV), the device loader, safetensors files
 * and checkpoints. The public API is in clrt.h; this header is what the
 * io files share and what the layers above (verify, the tools' tests) may
 * use. Includes the nn layer only. Not installed. */
#ifndef CLRT_IO_H
#define CLRT_IO_H

#include "nn/nn.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------- safetensors.c
 * The safetensors format alone (https://github.com/huggingface/safetensors),
 * knowing nothing of models: u64 N (little-endian) | N bytes of JSON header
 * | the data section. The header maps each tensor name to
 * {"dtype":..., "shape":[...], "data_offsets":[begin, end]} (offsets into
 * the data section) and "__metadata__" to an object of strings. Functions
 * with `err, errlen` write "'<path>': <what is wrong>" there. */

/* One tensor entry of a checked header. */
typedef struct clrt__st_entry {
    const char *name;      /* the header's key */
    const char *dtype;     /* one the format defines: "F32", "I64", "BF16", ... */
    size_t rank;
    const uint64_t *shape; /* rank dims */
    size_t numel;
    size_t begin, end;     /* byte range in the data section */
} clrt__st_entry;

/* A parsed file. Everything it points to lives until clrt__safetensors_close. */
typedef struct clrt__safetensors {
    const char *path;            /* for messages; the caller's string */
    const unsigned char *data;   /* the data section */
    size_t data_size;
    clrt__st_entry *entries;     /* in header order */
    size_t count;
    /* private */
    unsigned char *owned;        /* the file's bytes, when read by _open */
    uint64_t *dims;              /* the entries' shapes */
    struct json_t *header;       /* jansson's parse of the header */
    const struct json_t *meta;
} clrt__safetensors;

/* Check `size` bytes as a safetensors file (borrowed: they must outlive
 * *f): the header length against the size (and the format's 100 MB limit),
 * the JSON (duplicate keys refused), __metadata__ an object of strings,
 * every entry's dtype, shape and offsets (inside the data section, as long
 * as the shape's byte size) and the entries tiling the data section with
 * no overlap, hole or trailing bytes. CLRT_ERR_FORMAT naming the first
 * problem, CLRT_ERR_OUT_OF_MEMORY; *f is then closed. */
clrt_status clrt__safetensors_parse(const char *path, const unsigned char *bytes, size_t size,
                                    clrt__safetensors *f, char *err, size_t errlen);

/* Read the file at `path` whole and parse it. CLRT_ERR_IO when it cannot
 * be opened or read or is not a regular file; else as _parse. */
clrt_status clrt__safetensors_open(const char *path, clrt__safetensors *f, char *err,
                                   size_t errlen);

/* Free what _parse or _open made; a zeroed or closed *f is fine. */
void clrt__safetensors_close(clrt__safetensors *f);

/* The entry named `name`, or NULL. */
const clrt__st_entry *clrt__safetensors_find(const clrt__safetensors *f, const char *name);

/* The __metadata__ value of `key`, or NULL when there is none. */
const char *clrt__safetensors_meta(const clrt__safetensors *f, const char *key);

/* Entry e's data (an F32 entry of n elements) as host floats. CLRT_ERR_FORMAT
 * for another dtype, CLRT_ERR_INVALID_ARG when n is not its size. */
clrt_status clrt__safetensors_read_f32(const clrt__safetensors *f, const clrt__st_entry *e,
                                       float *out, size_t n, char *err, size_t errlen);

/* "[7, 33]" */
void clrt__safetensors_shape_text(const clrt__st_entry *e, char *buf, size_t len);

/* A tensor to write: host floats of `shape` (rank 0: one float). */
typedef struct clrt__st_tensor {
    const char *name;
    int rank;
    const size_t *shape;
    const float *data;
} clrt__st_tensor;

typedef struct clrt__st_meta {
    const char *key, *value;
} clrt__st_meta;

/* The crc32 (zlib's) of the data section clrt__safetensors_write lays down
 * for t[0..n): the tensors' little-endian bytes back to back. */
uint32_t clrt__safetensors_crc32(const clrt__st_tensor *t, size_t n);

/* Write t[0..n) (F32, data back to back in that order) and the metadata
 * strings (none: no __metadata__) to `path` whole or not at all: a temp
 * file "<path>.tmp.<pid>" beside it, fsynced, renamed over `path`, the
 * directory fsynced. CLRT_ERR_INVALID_ARG for a missing, empty, duplicate
 * or "__metadata__" name or key, a negative rank or a size past what a file
 * can hold; CLRT_ERR_IO naming the step and file; CLRT_ERR_OUT_OF_MEMORY. */
clrt_status clrt__safetensors_write(const char *path, const clrt__st_tensor *t, size_t n,
                                    const clrt__st_meta *meta, size_t nmeta, char *err,
                                    size_t errlen);

/* ------------------------------------------------------- checkpoint.c */

/* The model a clrt checkpoint's metadata describes, for clrt_model_load:
 * *is_clrt false (and nothing else set) for a safetensors file clrt did not
 * write; else its layer list (*layers, *count: the caller frees *layers)
 * and input width ("in_features", else the first layer's). A clrt format
 * this clrt does not read, a missing, empty or malformed list is
 * CLRT_ERR_FORMAT with a message "<fn>: '<path>': ..." on ctx. The widths
 * are the file's word: the caller checks them against its tensors. */
clrt_status clrt__checkpoint_layer_list(clrt_ctx *ctx, const char *fn, const clrt__safetensors *f,
                                        bool *is_clrt, clrt__layer_record **layers,
                                        size_t *count, uint64_t *in_features);

/* ----------------------------------------------------------- dataset.c */

struct clrt_dataset {
    size_t n;        /* rows */
    size_t features; /* columns of x */
    size_t classes;  /* 1 + the largest label (0 when empty) */
    float *x;        /* [n, features] */
    float *y;        /* [n], class indices as floats */
};

/* The largest class index a float label holds exactly (2^24). */
#define CLRT__MAX_LABEL 16777216.0

/* An integer from 0 to CLRT__MAX_LABEL. */
bool clrt__is_class_index(double label);

/* *out = a * b, false when it overflows size_t. */
bool clrt__mul_fits(size_t a, size_t b, size_t *out);

/* --------------------------------------------------------------- csv.c */

/* Split one CSV line (its line ending removed) at every comma, in place:
 * each comma becomes a NUL and fields[j] points at field j. Nothing else is
 * special: a quote is an ordinary character (no quoting), spaces stay in
 * the field (the number parser skips them), an empty line is one empty
 * field and a trailing comma ends the line with an empty field. Returns the
 * number of fields; when that is more than `cap`, the line is left as it
 * was and nothing is stored (call again with room for them all). */
size_t clrt__csv_split(char *line, char **fields, size_t cap);

/* A CSV of features only (no label column), as clrt_dataset_load_csv reads
 * one otherwise: the same header detection, line endings and refusals. The
 * dataset's labels are all 0 and its classes 0. */
clrt_status clrt__csv_load_features(const char *path, clrt_dataset **out, char *err,
                                    size_t errlen);

/* ------------------------------------------------------------ loader.c */

/* Whether the loader stages its uploads through pinned, mapped buffers:
 * on devices that do not share host memory, or as ctx->pinned_staging
 * forces when it was made (tests). */
bool clrt__loader_pinned(const clrt_loader *l);

#endif /* CLRT_IO_H */
