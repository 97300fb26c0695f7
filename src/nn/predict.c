/* Inference over host rows: upload a batch, the model's forward pass, read
 * the outputs back, batch after batch, with the host waiting only every
 * few batches. The model has no layer that trains differently from how it
 * evaluates (no dropout, no batch norm), so evaluation mode is the
 * training forward pass itself, and the speed of the two is the same but
 * for the transfers (docs/PERFORMANCE.md measures it). */
#include "nn/nn.h"

#include <stdint.h>

/* Batches enqueued before the host waits: enough to keep the device busy
 * while the host enqueues, few enough to bound the queue. */
#define BATCHES_IN_FLIGHT 8

clrt_status clrt_model_predict(clrt_model *m, const float *x, size_t rows, size_t batch,
                               float *y)
{
    static const char fn[] = "clrt_model_predict";
    if (!m)
        return CLRT_ERR_INVALID_ARG;
    if (rows > 0 && (!x || !y))
        return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG, "%s: x and y are needed", fn);
    if (m->nlayers == 0)
        return clrt__fail(m->ctx, CLRT_ERR_INVALID_ARG, "%s: the model has no layers", fn);
    if (batch == 0)
        batch = CLRT_PREDICT_BATCH;
    if (rows == 0)
        return CLRT_OK;
    if (batch > rows)
        batch = rows;
    const size_t in = m->in, out = clrt_model_out_features(m);
    /* Offsets into x and y must not overflow (in and out are not 0). */
    if (rows > SIZE_MAX / in || rows > SIZE_MAX / out)
        return clrt__fail(m->ctx, CLRT_ERR_SHAPE, "%s: %zu rows of %zu inputs and %zu outputs "
                          "overflow", fn, rows, in, out);

    clrt_tensor *xb = NULL, *xtail = NULL;
    const size_t full[2] = {batch, in}, tail[2] = {rows % batch, in};
    clrt_status st = clrt_tensor_create(m->ctx, 2, full, 0, &xb);
    if (st == CLRT_OK && tail[0] > 0)
        st = clrt_tensor_create(m->ctx, 2, tail, 0, &xtail);
    size_t done = 0;
    for (size_t b = 0; st == CLRT_OK && done < rows; b++) {
        size_t n = rows - done < batch ? rows - done : batch;
        clrt_tensor *xt = n == batch ? xb : xtail;
        const clrt_tensor *yt;
        /* One input tensor is enough: the queue is in order, so the next
         * upload into it waits for this forward pass. */
        st = clrt_tensor_write_async(xt, x + done * in, n * in, NULL);
        if (st == CLRT_OK)
            st = clrt_model_forward(m, xt, &yt);
        if (st == CLRT_OK)
            st = clrt_tensor_read_async(yt, y + done * out, n * out, NULL);
        if (st == CLRT_OK && (b + 1) % BATCHES_IN_FLIGHT == 0)
            st = clrt_ctx_finish(m->ctx);
        done += n;
    }
    /* Wait whatever happened: the device may still read x or write y. */
    clrt_status fin = clrt_ctx_finish(m->ctx);
    if (st == CLRT_OK)
        st = fin;
    /* The forward pass kept the input, which is gone: a backward pass now
     * needs a forward pass of its own first. */
    m->x = NULL;
    clrt_tensor_destroy(xb);
    clrt_tensor_destroy(xtail);
    return st;
}
