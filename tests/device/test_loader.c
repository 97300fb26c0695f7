/* The mini-batch loader on each device: every row exactly once per epoch,
 * batch contents read back against the dataset, partial last batches, the
 * shuffling order pinned to (seed, epoch), file order without shuffling,
 * no device allocation after the first epoch, batches used by device work
 * that is still queued while the next ones upload, pinned staging (forced)
 * bit-identical to the direct path, and argument errors. */
#include "harness.h"
#include "io/io.h"

#include <stdlib.h>
#include <string.h>

/* 257 rows: odd, one more than a power of two, a partial last batch for
 * every batch size tried. 5 features: not a multiple of any vector width. */
enum { N = 257, F = 5 };

/* Row i holds i + j/8 in column j (exact in float), so a row read back
 * from the device names its own index; its label is i mod 10. */
static clrt_dataset *make_dataset(size_t n)
{
    float *x = malloc((n ? n : 1) * F * sizeof *x), *y = malloc((n ? n : 1) * sizeof *y);
    assert_true(x && y);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < F; j++)
            x[i * F + j] = (float)i + (float)j / 8.0f;
        y[i] = (float)(i % 10);
    }
    clrt_dataset *ds;
    char err[512];
    clrt_status st = clrt_dataset_create(n, F, x, y, &ds, err, sizeof err);
    if (st != CLRT_OK)
        fail_msg("%s: %s", clrt_status_str(st), err);
    free(x);
    free(y);
    assert_int_equal(clrt_dataset_size(ds), n);
    assert_int_equal(clrt_dataset_features(ds), F);
    return ds;
}

/* The order the loader documents (src/io/loader.c), written out again here so a
 * change of generator, which would break exact resumption of saved runs,
 * fails this test. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static void expected_order(size_t n, int shuffle, uint64_t seed, uint64_t epoch, size_t *order)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (!shuffle)
        return;
    uint64_t state = mix64(mix64(seed) + epoch);
    for (size_t i = n - 1; i > 0; i--) {
        uint64_t bound = (uint64_t)i + 1, threshold = (0 - bound) % bound, r;
        do {
            state += 0x9E3779B97F4A7C15u;
            r = mix64(state);
        } while (r < threshold);
        size_t j = (size_t)(r % bound), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Run one epoch, checking each batch's shape and contents against the
 * dataset; the row order seen goes to `order` (n entries). */
static void run_epoch(clrt_ctx *ctx, clrt_loader *l, const clrt_dataset *ds, size_t batch,
                      uint64_t epoch, size_t *order)
{
    size_t n = clrt_dataset_size(ds);
    const float *data = clrt_dataset_data(ds), *labels = clrt_dataset_labels(ds);
    size_t eff = batch < n ? batch : n;
    size_t want_batches = (n + eff - 1) / eff;
    assert_int_equal(clrt_loader_batches(l), want_batches);
    CLRT_ASSERT_OK(ctx, clrt_loader_begin(l, epoch));
    float *hx = malloc(eff * F * sizeof *hx), *hy = malloc(eff * sizeof *hy);
    char *seen = calloc(n, 1);
    assert_true(hx && hy && seen);
    size_t pos = 0, batches = 0;
    for (;;) {
        const clrt_tensor *x, *y;
        CLRT_ASSERT_OK(ctx, clrt_loader_next(l, &x, &y));
        if (!x) {
            assert_null(y);
            break;
        }
        size_t rows = n - pos < eff ? n - pos : eff; /* the last batch is partial */
        assert_int_equal(clrt_tensor_rank(x), 2);
        assert_int_equal(clrt_tensor_dim(x, 0), rows);
        assert_int_equal(clrt_tensor_dim(x, 1), F);
        assert_int_equal(clrt_tensor_rank(y), 1);
        assert_int_equal(clrt_tensor_dim(y, 0), rows);
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(x, hx, rows * F));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(y, hy, rows));
        for (size_t r = 0; r < rows; r++) {
            float id = hx[r * F];
            assert_true(id >= 0 && id < (float)n && id == (float)(size_t)id);
            size_t i = (size_t)id;
            if (seen[i])
                fail_msg("epoch %llu: row %zu came twice", (unsigned long long)epoch, i);
            seen[i] = 1;
            assert_memory_equal(hx + r * F, data + i * F, F * sizeof(float));
            assert_true(hy[r] == labels[i]);
            order[pos + r] = i;
        }
        pos += rows;
        batches++;
    }
    assert_int_equal(pos, n);
    assert_int_equal(batches, want_batches);
    /* Past the end it stays over. */
    const clrt_tensor *x = (const clrt_tensor *)hx, *y = (const clrt_tensor *)hy;
    CLRT_ASSERT_OK(ctx, clrt_loader_next(l, &x, &y));
    assert_null(x);
    assert_null(y);
    free(seen);
    free(hx);
    free(hy);
}

static clrt_loader *make_loader(clrt_ctx *ctx, const clrt_dataset *ds, size_t batch,
                                int shuffle, uint64_t seed)
{
    clrt_loader_options opt;
    clrt_loader_options_init(&opt);
    opt.batch = batch;
    opt.shuffle = shuffle;
    opt.seed = seed;
    clrt_loader *l;
    CLRT_ASSERT_OK(ctx, clrt_loader_create(ctx, ds, &opt, &l));
    return l;
}

static void every_row_once(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    const size_t batches[] = {1, 7, 128, N, 1000};
    size_t order[N], want[N];
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        for (int shuffle = 0; shuffle <= 1; shuffle++) {
            clrt_loader *l = make_loader(ctx, ds, batches[b], shuffle, 42);
            for (uint64_t epoch = 0; epoch < 2; epoch++) {
                run_epoch(ctx, l, ds, batches[b], epoch, order);
                expected_order(N, shuffle, 42, epoch, want);
                assert_memory_equal(order, want, sizeof order);
            }
            clrt_loader_destroy(l);
        }
    }
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

static void partial_last_batch(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    /* 257 = 36·7 + 5 = 2·128 + 1 */
    const size_t batch[2] = {7, 128}, count[2] = {37, 3}, last[2] = {5, 1};
    for (int k = 0; k < 2; k++) {
        clrt_loader *l = make_loader(ctx, ds, batch[k], 1, 3);
        assert_int_equal(clrt_loader_batches(l), count[k]);
        for (int epoch = 0; epoch < 2; epoch++) {
            CLRT_ASSERT_OK(ctx, clrt_loader_begin(l, (uint64_t)epoch));
            const clrt_tensor *x, *y, *lx = NULL, *ly = NULL;
            size_t seen = 0;
            while (clrt_loader_next(l, &x, &y) == CLRT_OK && x) {
                seen++;
                lx = x;
                ly = y;
            }
            assert_int_equal(seen, count[k]);
            assert_int_equal(clrt_tensor_dim(lx, 0), last[k]);
            assert_int_equal(clrt_tensor_numel(lx), last[k] * F);
            assert_int_equal(clrt_tensor_numel(ly), last[k]);
        }
        clrt_loader_destroy(l);
    }
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

static int same_order(const size_t *a, const size_t *b, size_t n)
{
    return memcmp(a, b, n * sizeof *a) == 0;
}

static void order_fixed_by_seed_and_epoch(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    static size_t e0[N], e1[N], e2[N], again[N], other_seed[N], identity[N];
    clrt_loader *a = make_loader(ctx, ds, 128, 1, 1234);
    run_epoch(ctx, a, ds, 128, 0, e0);
    run_epoch(ctx, a, ds, 128, 1, e1);
    run_epoch(ctx, a, ds, 128, 2, e2);
    /* Every epoch differs from the others and from file order. */
    expected_order(N, 0, 0, 0, identity);
    assert_false(same_order(e0, e1, N));
    assert_false(same_order(e1, e2, N));
    assert_false(same_order(e0, e2, N));
    assert_false(same_order(e0, identity, N));
    /* Going back to an epoch gives its order again, whatever came between. */
    run_epoch(ctx, a, ds, 128, 1, again);
    assert_true(same_order(e1, again, N));
    clrt_loader_destroy(a);
    /* A new loader resuming at epoch 2, with another batch size: the same
     * order (it depends on seed and epoch alone). */
    clrt_loader *b = make_loader(ctx, ds, 7, 1, 1234);
    run_epoch(ctx, b, ds, 7, 2, again);
    assert_true(same_order(e2, again, N));
    clrt_loader_destroy(b);
    /* Another seed, another order. */
    clrt_loader *c = make_loader(ctx, ds, 128, 1, 1235);
    run_epoch(ctx, c, ds, 128, 0, other_seed);
    assert_false(same_order(e0, other_seed, N));
    clrt_loader_destroy(c);
    /* Without shuffling: file order in every epoch, seed or not. */
    clrt_loader *d = make_loader(ctx, ds, 7, 0, 99);
    for (uint64_t epoch = 0; epoch < 3; epoch++) {
        run_epoch(ctx, d, ds, 7, epoch * 1000, again);
        assert_true(same_order(identity, again, N));
    }
    clrt_loader_destroy(d);
    /* Before any clrt_loader_begin the loader is at epoch 0's start. */
    clrt_loader *e = make_loader(ctx, ds, 300, 1, 1234);
    const clrt_tensor *x, *y;
    CLRT_ASSERT_OK(ctx, clrt_loader_next(e, &x, &y));
    assert_non_null(x);
    float *all = malloc(N * F * sizeof *all);
    assert_non_null(all);
    CLRT_ASSERT_OK(ctx, clrt_tensor_read(x, all, N * F));
    assert_true(all[0] == (float)e0[0] && all[(N - 1) * F] == (float)e0[N - 1]);
    free(all);
    clrt_loader_destroy(e);
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

static void no_allocation_after_first_epoch(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    size_t order[N];
    for (int shuffle = 0; shuffle <= 1; shuffle++) {
        /* 37 batches: both stages and the partial batch are exercised. */
        clrt_loader *l = make_loader(ctx, ds, 7, shuffle, 5);
        clrt_memory_stats before, first, later;
        CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &before));
        run_epoch(ctx, l, ds, 7, 0, order);
        CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &first));
        /* Two stages, each with x and labels, and one partial pair. */
        assert_int_equal(first.live_tensors, before.live_tensors + 6);
        for (uint64_t epoch = 1; epoch < 3; epoch++) {
            run_epoch(ctx, l, ds, 7, epoch, order);
            CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &later));
            assert_int_equal(later.allocations, first.allocations);
            assert_int_equal(later.pool_hits, first.pool_hits);
            assert_int_equal(later.live_tensors, first.live_tensors);
            assert_int_equal(later.bytes_in_use, first.bytes_in_use);
        }
        clrt_loader_destroy(l);
        CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &later));
        assert_int_equal(later.live_tensors, before.live_tensors);
    }
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

/* Batches handed to device work that has not run yet when the next batches
 * are gathered and uploaded: each copy must still see its own batch. */
static void pipelined_use_staged(int pinned)
{
    clrt_ctx *ctx = clrt_test_ctx();
    ctx->pinned_staging = pinned;
    clrt_dataset *ds = make_dataset(N);
    enum { B = 7, NB = (N + B - 1) / B };
    clrt_loader *l = make_loader(ctx, ds, B, 1, 77);
    clrt_tensor *cx[NB], *cy[NB];
    size_t rows[NB];
    CLRT_ASSERT_OK(ctx, clrt_loader_begin(l, 4));
    for (size_t k = 0; k < NB; k++) {
        const clrt_tensor *x, *y;
        CLRT_ASSERT_OK(ctx, clrt_loader_next(l, &x, &y));
        assert_non_null(x);
        rows[k] = clrt_tensor_dim(x, 0);
        const size_t sx[2] = {rows[k], F};
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 2, sx, 0, &cx[k]));
        CLRT_ASSERT_OK(ctx, clrt_tensor_create(ctx, 1, &rows[k], 0, &cy[k]));
        /* Enqueued, not waited for; scale runs a kernel on the batch. */
        CLRT_ASSERT_OK(ctx, clrt_tensor_copy(cx[k], x));
        CLRT_ASSERT_OK(ctx, clrt_scale(ctx, 2.0f, y, cy[k]));
    }
    CLRT_ASSERT_OK(ctx, clrt_ctx_finish(ctx));
    size_t want[N], pos = 0;
    expected_order(N, 1, 77, 4, want);
    const float *data = clrt_dataset_data(ds), *labels = clrt_dataset_labels(ds);
    float hx[B * F], hy[B];
    for (size_t k = 0; k < NB; k++) {
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(cx[k], hx, rows[k] * F));
        CLRT_ASSERT_OK(ctx, clrt_tensor_read(cy[k], hy, rows[k]));
        for (size_t r = 0; r < rows[k]; r++, pos++) {
            assert_memory_equal(hx + r * F, data + want[pos] * F, F * sizeof(float));
            assert_true(hy[r] == 2.0f * labels[want[pos]]);
        }
        clrt_tensor_destroy(cx[k]);
        clrt_tensor_destroy(cy[k]);
    }
    assert_int_equal(pos, N);
    assert_int_equal(clrt__loader_pinned(l), pinned >= 0 ? pinned : !ctx->host_unified);
    clrt_loader_destroy(l);
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

static void pipelined_device_use(void **state)
{
    (void)state;
    pipelined_use_staged(-1); /* the device's own choice */
}

/* Every batch a loader hands out over epochs 0 and 1, x then labels, read
 * back one after the other into one array (2·(N·F + N) floats). */
static float *all_batches(clrt_ctx *ctx, clrt_loader *l)
{
    size_t total = 2 * (N * F + N), pos = 0;
    float *out = malloc(total * sizeof *out);
    assert_non_null(out);
    for (uint64_t epoch = 0; epoch < 2; epoch++) {
        CLRT_ASSERT_OK(ctx, clrt_loader_begin(l, epoch));
        for (;;) {
            const clrt_tensor *x, *y;
            CLRT_ASSERT_OK(ctx, clrt_loader_next(l, &x, &y));
            if (!x)
                break;
            size_t rows = clrt_tensor_dim(x, 0);
            assert_true(pos + rows * (F + 1) <= total);
            CLRT_ASSERT_OK(ctx, clrt_tensor_read(x, out + pos, rows * F));
            CLRT_ASSERT_OK(ctx, clrt_tensor_read(y, out + pos + rows * F, rows));
            pos += rows * (F + 1);
        }
    }
    assert_int_equal(pos, total);
    return out;
}

/* Pinned staging, the path of devices that do not share host memory
 * (CL_DEVICE_HOST_UNIFIED_MEMORY false), forced here since the devices
 * here all share it: the same batches, bit for bit, as the direct path,
 * every row once in the documented order, and batches still in use by
 * queued work while the next ones upload. */
static void pinned_staging_matches_direct(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    const size_t batches[] = {1, 7, 128, N};
    size_t order[N], want[N];
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++) {
        for (int shuffle = 0; shuffle <= 1; shuffle++) {
            float *got[2];
            for (int pinned = 0; pinned <= 1; pinned++) {
                ctx->pinned_staging = pinned;
                clrt_loader *l = make_loader(ctx, ds, batches[b], shuffle, 9);
                assert_int_equal(clrt__loader_pinned(l), pinned);
                got[pinned] = all_batches(ctx, l);
                run_epoch(ctx, l, ds, batches[b], 3, order);
                expected_order(N, shuffle, 9, 3, want);
                assert_memory_equal(order, want, sizeof order);
                clrt_loader_destroy(l);
            }
            if (memcmp(got[0], got[1], 2 * (N * F + N) * sizeof(float)) != 0)
                fail_msg("batch %zu, shuffle %d: pinned staging differs from the direct path",
                         batches[b], shuffle);
            free(got[0]);
            free(got[1]);
        }
    }
    ctx->pinned_staging = -1;
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
    pipelined_use_staged(1);
}

/* A pinned staging buffer that cannot be made or mapped fails that
 * clrt_loader_next with a message and leaks nothing; the next call, the
 * fault gone, goes on. */
static void pinned_staging_failures(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    ctx->pinned_staging = 1;
    const clrt__fault_kind kinds[] = {CLRT__FAULT_ALLOC, CLRT__FAULT_MAP};
    for (size_t i = 0; i < 2; i++) {
        clrt_loader *l = make_loader(ctx, ds, 7, 1, 3);
        const clrt_tensor *x, *y;
        clrt__fault_arm(ctx, kinds[i], 1, CL_SUCCESS);
        clrt_status st = clrt_loader_next(l, &x, &y);
        clrt__fault_disarm(ctx, kinds[i]);
        assert_int_not_equal(st, CLRT_OK);
        assert_null(x);
        assert_non_null(strstr(clrt_ctx_errmsg(ctx), "pinned staging buffer"));
        size_t order[N], want[N];
        run_epoch(ctx, l, ds, 7, 0, order);
        expected_order(N, 1, 3, 0, want);
        assert_memory_equal(order, want, sizeof order);
        clrt_loader_destroy(l);
    }
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

static void destroy_mid_epoch(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    clrt_loader *l = make_loader(ctx, ds, 7, 1, 1);
    const clrt_tensor *x, *y;
    for (int k = 0; k < 3; k++)
        CLRT_ASSERT_OK(ctx, clrt_loader_next(l, &x, &y));
    /* Uploads may still be pending: destroy waits for them, then frees. */
    clrt_loader_destroy(l);
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx); /* refused (BUSY) if a loader tensor lived on */
}

/* A loader that has not given a batch holds no tensor, yet uses its
 * context on the next clrt_loader_next: destroying the context under it is
 * refused, and the loader still works after. */
static void context_busy_while_loader_lives(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    clrt_memory_stats ms;
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.live_tensors, 0);
    clrt_loader *l = make_loader(ctx, ds, 16, 1, 3);
    CLRT_ASSERT_OK(ctx, clrt_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.live_tensors, 0); /* nothing uploaded yet */
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "1 loader still live; destroy them first"));
    const clrt_tensor *x, *y;
    CLRT_ASSERT_OK(ctx, clrt_loader_next(l, &x, &y));
    assert_non_null(x);
    assert_int_equal(clrt_tensor_dim(x, 0), 16);
    /* Its batch tensors and a tensor of the caller's: all counted. */
    clrt_tensor *t = clrt_test_vector(ctx, 3, NULL);
    clrt_loader *l2 = make_loader(ctx, ds, 8, 0, 0);
    assert_int_equal(clrt_ctx_destroy(ctx), CLRT_ERR_BUSY);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "3 tensors, 2 loaders still live"));
    clrt_tensor_destroy(t);
    clrt_loader_destroy(l2);
    clrt_loader_destroy(l);
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

/* Data-parallel shards: shard s keeps rows [rows*s/S, rows*(s+1)/S) of
 * every batch of the unsharded order, so the shards of a batch, in shard
 * order, are that batch, and each row is seen once per epoch across them.
 * 257 rows in batches of 10: the last batch, 7 rows, splits unevenly. */
static void shards_split_every_batch(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(N);
    enum { B = 10 };
    static size_t order[N];
    expected_order(N, 1, 99, 1, order);
    float *hx = malloc(B * F * sizeof *hx);
    assert_non_null(hx);
    for (size_t shards = 2; shards <= 3; shards++) {
        size_t total_rows = 0, pos[3] = {0, 0, 0};
        clrt_loader *l[3] = {NULL, NULL, NULL};
        for (size_t s = 0; s < shards; s++) {
            clrt_loader_options opt;
            clrt_loader_options_init(&opt);
            opt.batch = B, opt.shuffle = 1, opt.seed = 99, opt.shards = shards, opt.shard = s;
            CLRT_ASSERT_OK(ctx, clrt_loader_create(ctx, ds, &opt, &l[s]));
            assert_int_equal(clrt_loader_batches(l[s]), (N + B - 1) / B);
            total_rows += clrt_loader_rows(l[s]);
            CLRT_ASSERT_OK(ctx, clrt_loader_begin(l[s], 1));
        }
        assert_int_equal(total_rows, N);
        for (size_t k = 0; k < (N + B - 1) / B; k++) {
            size_t rows = N - k * B < B ? N - k * B : B, at = k * B;
            for (size_t s = 0; s < shards; s++) {
                const clrt_tensor *x, *y;
                CLRT_ASSERT_OK(ctx, clrt_loader_next(l[s], &x, &y));
                assert_non_null(x);
                size_t want = rows * (s + 1) / shards - rows * s / shards;
                assert_int_equal(clrt_tensor_dim(x, 0), want);
                assert_int_equal(clrt_tensor_dim(y, 0), want);
                CLRT_ASSERT_OK(ctx, clrt_tensor_read(x, hx, want * F));
                for (size_t r = 0; r < want; r++)
                    assert_int_equal((size_t)hx[r * F], order[at++]);
                pos[s] += want;
            }
            assert_int_equal(at, k * B + rows);
        }
        for (size_t s = 0; s < shards; s++) {
            const clrt_tensor *x, *y;
            CLRT_ASSERT_OK(ctx, clrt_loader_next(l[s], &x, &y));
            assert_null(x); /* the epoch is over on every shard at once */
            assert_int_equal(pos[s], clrt_loader_rows(l[s]));
            clrt_loader_destroy(l[s]);
        }
    }
    free(hx);
    /* A batch or last batch too small to give every shard a row, and a
     * shard that does not exist, are refused with a message. */
    static const size_t bad[][3] = {{2, 3, 0},   /* batch 2 over 3 shards */
                                    {254, 4, 0}, /* last batch 257 - 254 = 3 rows, 4 shards */
                                    {10, 3, 3}}; /* shard 3 of 3 */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clrt_loader_options opt;
        clrt_loader_options_init(&opt);
        opt.batch = bad[i][0], opt.shards = bad[i][1], opt.shard = bad[i][2];
        clrt_loader *l = (clrt_loader *)&opt;
        assert_int_equal(clrt_loader_create(ctx, ds, &opt, &l), CLRT_ERR_INVALID_ARG);
        assert_null(l);
        assert_non_null(strstr(clrt_ctx_errmsg(ctx), "shard"));
    }
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

static void argument_errors(void **state)
{
    (void)state;
    clrt_ctx *ctx = clrt_test_ctx();
    clrt_dataset *ds = make_dataset(3);
    clrt_loader_options opt;
    clrt_loader_options_init(&opt);
    assert_int_equal(opt.batch, 128);
    assert_int_equal(opt.shuffle, 0);
    assert_int_equal(opt.seed, 0);
    clrt_loader *l = (clrt_loader *)ds;
    opt.batch = 0;
    assert_int_equal(clrt_loader_create(ctx, ds, &opt, &l), CLRT_ERR_INVALID_ARG);
    assert_null(l);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "batch"));
    opt.batch = 2;
    assert_int_equal(clrt_loader_create(NULL, ds, &opt, &l), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loader_create(ctx, NULL, &opt, &l), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loader_create(ctx, ds, &opt, NULL), CLRT_ERR_INVALID_ARG);

    /* An empty dataset cannot be batched. */
    clrt_dataset *empty = make_dataset(0);
    assert_int_equal(clrt_loader_create(ctx, empty, &opt, &l), CLRT_ERR_INVALID_ARG);
    assert_null(l);
    assert_non_null(strstr(clrt_ctx_errmsg(ctx), "empty"));
    clrt_dataset_destroy(empty);

    /* NULL options: the defaults (batch 128 > 3 rows: one batch of 3). */
    CLRT_ASSERT_OK(ctx, clrt_loader_create(ctx, ds, NULL, &l));
    assert_int_equal(clrt_loader_batches(l), 1);
    const clrt_tensor *x = NULL, *y = NULL;
    assert_int_equal(clrt_loader_next(l, NULL, &y), CLRT_ERR_INVALID_ARG);
    assert_null(y);
    assert_int_equal(clrt_loader_next(l, &x, NULL), CLRT_ERR_INVALID_ARG);
    assert_null(x);
    assert_int_equal(clrt_loader_next(NULL, &x, &y), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loader_begin(NULL, 0), CLRT_ERR_INVALID_ARG);
    assert_int_equal(clrt_loader_batches(NULL), 0);
    CLRT_ASSERT_OK(ctx, clrt_loader_next(l, &x, &y));
    assert_int_equal(clrt_tensor_dim(x, 0), 3);
    clrt_loader_destroy(l);
    clrt_loader_destroy(NULL);
    clrt_dataset_destroy(ds);
    clrt_test_ctx_done(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_once),
        cmocka_unit_test(partial_last_batch),
        cmocka_unit_test(order_fixed_by_seed_and_epoch),
        cmocka_unit_test(no_allocation_after_first_epoch),
        cmocka_unit_test(pipelined_device_use),
        cmocka_unit_test(pinned_staging_matches_direct),
        cmocka_unit_test(pinned_staging_failures),
        cmocka_unit_test(destroy_mid_epoch),
        cmocka_unit_test(context_busy_while_loader_lives),
        cmocka_unit_test(shards_split_every_batch),
        cmocka_unit_test(argument_errors),
    };
    return clrt_test_main("loader", tests, sizeof tests / sizeof tests[0]);
}
