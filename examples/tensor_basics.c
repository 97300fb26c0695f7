/* tensor_basics: the smallest clrt program. It opens a context on the
 * default device (or the one CLRT_DEVICE names), makes a 2x3 tensor, writes
 * it from the host, reads it back, fills it on the device and reads it again.
 *
 *   CLRT_DEVICE=cpu ./tensor_basics
 */
#include <clrt.h>

#include <stdio.h>

/* Stop at the first failing call; the context's message says why. */
#define CHECK(call)                                                            \
    do {                                                                       \
        st = (call);                                                           \
        if (st != CLRT_OK)                                                     \
            goto done;                                                         \
    } while (0)

static void print_row_major(const char *label, const float *v, size_t rows, size_t cols)
{
    printf("%s:\n", label);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++)
            printf(" %5.2f", v[r * cols + c]);
        printf("\n");
    }
}

int main(void)
{
    char err[2048] = "";
    clrt_ctx_options opt;
    clrt_ctx_options_init(&opt); /* device NULL: $CLRT_DEVICE, else the default */

    clrt_ctx *ctx = NULL;
    clrt_status st = clrt_ctx_create(&opt, &ctx, err, sizeof err);
    if (st != CLRT_OK) {
        /* No context yet, so the reason is in `err`. */
        fprintf(stderr, "clrt_ctx_create: %s: %s\n", clrt_status_str(st), err);
        return 1;
    }
    const clrt_device_info *dev = clrt_ctx_device(ctx);
    printf("clrt %s on %s / %s\n", clrt_version(), dev->platform, dev->name);

    const size_t shape[2] = {2, 3};
    const float host[6] = {1, 2, 3, 4, 5, 6};
    float back[6] = {0};
    clrt_tensor *t = NULL;

    CHECK(clrt_tensor_create(ctx, 2, shape, CLRT_TENSOR_UNINIT, &t));
    CHECK(clrt_tensor_write(t, host, 6)); /* blocking: `host` is copied */
    CHECK(clrt_tensor_read(t, back, 6));
    print_row_major("written then read", back, 2, 3);

    CHECK(clrt_tensor_fill(t, 0.5f));    /* enqueued on the in-order queue */
    CHECK(clrt_tensor_read(t, back, 6)); /* so this read sees the fill */
    print_row_major("after fill(0.5)", back, 2, 3);

    /* A wrong element count is refused, with a message naming the shape. */
    if (clrt_tensor_write(t, host, 5) == CLRT_ERR_SHAPE)
        printf("refused as expected: %s\n", clrt_ctx_errmsg(ctx));

done:
    if (st != CLRT_OK)
        fprintf(stderr, "%s: %s\n", clrt_status_str(st), clrt_ctx_errmsg(ctx));
    clrt_tensor_destroy(t); /* NULL is a no-op */
    clrt_status destroyed = clrt_ctx_destroy(ctx);
    if (destroyed != CLRT_OK)
        fprintf(stderr, "clrt_ctx_destroy: %s\n", clrt_status_str(destroyed));
    return st == CLRT_OK && destroyed == CLRT_OK ? 0 : 1;
}
