/* Writes the seed inputs of tests/fuzz/corpus/<target>/ (run once; the
 * files are committed): safetensors files and a cache entry made by the
 * library's own writers, and small valid inputs of the other formats in
 * the framing each target reads (see the comment at the top of each
 * fuzz_<target>.c). Regression inputs found by fuzzing are added beside
 * them by hand, named regress-*.
 *
 *   make_seeds CORPUS-DIR */
#include "io/io.h"
#include "ops/ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char *root;

static void die(const char *what)
{
    fprintf(stderr, "make_seeds: %s\n", what);
    exit(1);
}

static void put(const char *target, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0)
        die(path);
}

static void put_text(const char *target, const char *name, const char *text)
{
    put(target, name, text, strlen(text));
}

/* A file the library wrote, as bytes, prefixed by `prefix`. */
static void put_file(const char *target, const char *name, const char *prefix, const char *path)
{
    char *data;
    size_t len;
    if (clrt__read_file(path, &data, &len) != 0)
        die(path);
    size_t plen = strlen(prefix);
    char *all = malloc(plen + len);
    if (!all)
        die("out of memory");
    memcpy(all, prefix, plen);
    memcpy(all + plen, data, len);
    put(target, name, all, plen + len);
    free(all);
    free(data);
}

static void safetensors_seeds(const char *tmp)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/seed.safetensors", tmp);
    const size_t w_shape[2] = {3, 2}, b_shape[1] = {3}, empty_shape[2] = {0, 4};
    const float w[6] = {0.5f, -1.0f, 2.0f, 0.25f, -0.125f, 3.0f}, b[3] = {1, 2, 3};
    const clrt__st_tensor model[2] = {{"0.weight", 2, w_shape, w}, {"0.bias", 1, b_shape, b}};
    char crc[16];
    snprintf(crc, sizeof crc, "%08lx", (unsigned long)clrt__safetensors_crc32(model, 2));
    const clrt__st_meta meta[4] = {{"format", "clrt-checkpoint-1"},
                                   {"in_features", "2"},
                                   {"layers", "[{\"type\":\"linear\",\"in\":2,\"out\":3}]"},
                                   {"checksum", crc}};
    char err[512];
    if (clrt__safetensors_write(path, model, 2, meta, 4, err, sizeof err) != CLRT_OK)
        die(err);
    put_file("safetensors", "checkpoint.safetensors", "", path);
    const clrt__st_tensor odd[2] = {{"empty", 2, empty_shape, NULL}, {"scalar", 0, NULL, b}};
    if (clrt__safetensors_write(path, odd, 2, NULL, 0, err, sizeof err) != CLRT_OK)
        die(err);
    put_file("safetensors", "empty-and-scalar.safetensors", "", path);
    if (clrt__safetensors_write(path, NULL, 0, NULL, 0, err, sizeof err) != CLRT_OK)
        die(err);
    put_file("safetensors", "no-tensors.safetensors", "", path);
    /* Another dtype, as torch writes it (the reader accepts it; checkpoints skip it). */
    static const char i64[] = "{\"t\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
    unsigned char buf[8 + sizeof i64 - 1 + 16] = {0};
    clrt__put_le64(buf, sizeof i64 - 1);
    memcpy(buf + 8, i64, sizeof i64 - 1);
    buf[8 + sizeof i64 - 1] = 7;
    put("safetensors", "i64.safetensors", buf, sizeof buf);
    unlink(path);
}

static void cache_seeds(const char *tmp)
{
    const char *key = "clrt 0.1.0|src 0123abcd|-cl-std=CL1.2|Portable Computing Language|cpu";
    const unsigned char bin[24] = "\x7f"
                                  "ELF binary of a program";
    char why[512];
    if (clrt__cache_store(tmp, key, bin, sizeof bin, why, sizeof why) != CLRT_OK)
        die(why);
    char *path = clrt__cache_path(tmp, key), prefix[256];
    snprintf(prefix, sizeof prefix, "%s\n", key);
    put_file("cache", "entry", prefix, path);
    unlink(path);
    free(path);
}

/* The IDX framing of fuzz_idx.c: u16 image bytes, images, labels. */
static void idx_pair(const char *name, const unsigned char *img, size_t img_len,
                     const unsigned char *lab, size_t lab_len)
{
    unsigned char buf[512];
    if (2 + img_len + lab_len > sizeof buf)
        die("idx seed too large");
    buf[0] = (unsigned char)img_len, buf[1] = (unsigned char)(img_len >> 8);
    memcpy(buf + 2, img, img_len);
    memcpy(buf + 2 + img_len, lab, lab_len);
    put("idx", name, buf, 2 + img_len + lab_len);
}

static size_t gzip_bytes(const char *tmp, const unsigned char *in, size_t len, unsigned char *out,
                         size_t cap)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/seed.gz", tmp);
    gzFile gz = gzopen(path, "wb9");
    if (!gz || gzwrite(gz, in, (unsigned)len) != (int)len || gzclose(gz) != Z_OK)
        die("gzip");
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(out, 1, cap, f) : 0;
    if (f)
        fclose(f);
    unlink(path);
    return n;
}

static void idx_seeds(const char *tmp)
{
    /* Two images of 2 x 3 pixels and their two labels. */
    static const unsigned char img[16 + 12] = {0, 0, 8, 3,   0,   0, 0, 2, 0, 0, 0, 2, 0, 0,
                                               0, 3, 0, 255, 128, 1, 2, 3, 9, 8, 7, 6, 5, 4};
    static const unsigned char lab[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 1, 9};
    idx_pair("two-images", img, sizeof img, lab, sizeof lab);
    unsigned char gimg[256], glab[256];
    size_t gi = gzip_bytes(tmp, img, sizeof img, gimg, sizeof gimg);
    size_t gl = gzip_bytes(tmp, lab, sizeof lab, glab, sizeof glab);
    idx_pair("two-images-gzip", gimg, gi, glab, gl);
    static const unsigned char img0[16] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
    static const unsigned char lab0[8] = {0, 0, 8, 1, 0, 0, 0, 0};
    idx_pair("no-images", img0, sizeof img0, lab0, sizeof lab0);
}

static void csv_seeds(void)
{
    put_text("csv", "header", "x,y,label\n0.5,1,0\n-2,3e2,1\n7,0.25,2\n");
    put_text("csv", "crlf-bom",
             "\xEF\xBB\xBF"
             "1,2,3,0\r\n4,5,6,1\r\n\r\n");
    put_text("csv", "spaces", " 1.5 ,\t-0 , 3\n2, 4 ,1\n");
    put_text("csv", "not-finite", "1,inf,0\n");
    put_text("csv", "one-feature", "0x1p-3,16777216\n");
    put_text("csv_split", "fields", "1,2.5,,x,\"q\" , 3");
    put_text("csv_split", "empty", "");
    put_text("csv_split", "commas", ",,,,");
}

static void gemm_record_seeds(void)
{
    /* As append_record writes them (the key is fuzz_gemm_record.c's). */
    put_text("gemm_record", "builtin", "0123456789abcdef nt-m5-n6-k1 builtin 4\n");
    put_text("gemm_record", "clblast", "0123456789abcdef builtin/nn-m10-n10-k9 clblast 0\n");
    put_text("gemm_record", "host", "0123456789abcdef tn-m7-n7-k7 host 1");
    put_text("gemm_record", "other-device", "fedcba9876543210 nn-m1-n1-k1 builtin 0\n");
}

/* The framing of fuzz_device_pick.c. */
static void device_seed(const char *name, const char *const *devices, size_t n,
                        const char *selector)
{
    unsigned char buf[1024];
    size_t at = 0;
    buf[at++] = (unsigned char)n;
    for (size_t i = 0; i < n; i++) {
        const char *d = devices[i];
        buf[at++] = (unsigned char)d[0];
        d++;
        for (int s = 0; s < 4; s++) {
            const char *end = strchr(d, '|');
            size_t len = end ? (size_t)(end - d) : strlen(d);
            buf[at++] = (unsigned char)len;
            memcpy(buf + at, d, len);
            at += len;
            d += len + (end ? 1 : 0);
        }
    }
    memcpy(buf + at, selector, strlen(selector));
    put("device_pick", name, buf, at + strlen(selector));
}

static void device_seeds(void)
{
    /* Type byte, then platform|platform version|name|vendor. */
    const char *const machine[2] = {
        "\x87Oclgrind|OpenCL 1.2 (Oclgrind 21.10)|Oclgrind Simulator|Oclgrind",
        "\x01Portable Computing Language|OpenCL 3.0 PoCL 3.1|pthread-skylake|AuthenticAMD"};
    device_seed("pocl", machine, 2, "pocl");
    device_seed("default", machine, 2, "");
    device_seed("index", machine, 2, "0");
    const char *const gpus[3] = {"\x02NVIDIA CUDA|OpenCL 3.0 CUDA|NVIDIA H200|NVIDIA",
                                 "\x02NVIDIA CUDA|OpenCL 3.0 CUDA|NVIDIA H200|NVIDIA",
                                 "\x01Intel(R) OpenCL|OpenCL 3.0|Xeon|Intel(R) Corporation"};
    device_seed("gpu-1", gpus, 3, "gpu:1");
    device_seed("accelerator", gpus, 3, " Accelerator ");
    device_seed("bad-index", gpus, 3, "gpu:x");
}

int main(int argc, char **argv)
{
    if (argc != 2)
        die("usage: make_seeds CORPUS-DIR");
    root = argv[1];
    char tmp[] = "/tmp/clrt-seeds-XXXXXX";
    if (!mkdtemp(tmp))
        die("mkdtemp");
    safetensors_seeds(tmp);
    cache_seeds(tmp);
    idx_seeds(tmp);
    csv_seeds();
    gemm_record_seeds();
    device_seeds();
    rmdir(tmp);
    return 0;
}
