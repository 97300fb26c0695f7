/* GEMM tuning: `auto` (and `builtin` among its tiles) times the candidates
 * once per (device, driver, shape class) and keeps the winner in the
 * context (its layer_state[CLRT__STATE_GEMM_TUNING] slot) and, when the
 * disk cache is on, in "<cache dir>/gemm-tuning.txt". gemm.c runs them. */
#include "ops/ops.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One decision of `auto`. */
typedef struct gemm_choice {
    char shape_class[48];
    clrt_gemm_backend backend;
    unsigned tile;
} gemm_choice;

typedef struct gemm_candidate {
    clrt_gemm_backend backend;
    unsigned tile;
    double best; /* seconds, of the timed rounds; +inf until one, and once it fails */
    bool failed; /* a run failed: no longer timed */
} gemm_candidate;

/* A shape class with no choice yet. It runs the device's default tile and
 * counts what that costs until timing the candidates would pay for itself
 * (lazy_choose()), then runs one candidate per call, on the call's own
 * operands, until each has had its rounds. */
typedef struct gemm_pending {
    char shape_class[48];
    unsigned long calls;
    double call_s;   /* its second call, of the default tile */
    double spent_s;  /* calls since then × call_s: the time run untuned */
    bool timing;     /* the candidates below are being timed */
    gemm_candidate cand[CLRT__GEMM_MAX_TILES + 1];
    size_t ncand, next; /* the candidate the next call runs */
    int round, rounds;
    double round_s;  /* round 1's seconds, over all candidates */
} gemm_pending;

struct clrt_gemm_tuning {
    gemm_choice *choices;
    size_t count, cap;
    gemm_pending *pending;
    size_t npending, pending_cap;
    double first_run_s; /* the slowest first run of a tile that built from source; 0: none */
    bool loaded; /* the disk record has been read */
    bool warned; /* a refused record has been logged */
};

static unsigned log2_ceil(size_t x)
{
    unsigned r = 0;
    while (((size_t)1 << r) < x)
        r++;
    return r;
}

static void shape_class(const clrt__gemm_args *g, bool builtin_only, char *buf, size_t len)
{
    /* 16-bit operands are a class of their own ("s221/": the storage codes
     * of A, B, C), timed apart: they move half the bytes. */
    char storage[16] = "";
    if (g->a->dtype != CLRT_F32 || g->b->dtype != CLRT_F32 || g->c->dtype != CLRT_F32)
        snprintf(storage, sizeof storage, "s%d%d%d/", (int)g->a->dtype, (int)g->b->dtype,
                 (int)g->c->dtype);
    snprintf(buf, len, "%s%s%c%c-m%u-n%u-k%u", storage, builtin_only ? "builtin/" : "",
             g->ta ? 't' : 'n', g->tb ? 't' : 'n', log2_ceil(g->m), log2_ceil(g->n),
             log2_ceil(g->k));
}

/* Bumped when clrt__gemm_choose() changes what it times or how it picks. */
#define TUNING_RULES 6 /* 3: vector tiles only where the device prefers float vectors; 4: no
                         * CLBlast on CPU devices, and a class times only the winners of the
                         * classes of its transposes tuned before it; 5: k-major local-memory
                         * tiles among the scalar candidates (the key has kt and the layout);
                         * 6: 8×32 vector tiles 12 and 17 in place of 6×16 */

/* What the record is valid for: the device and driver, and this clrt. */
static void device_key(const clrt_ctx *ctx, char *buf, size_t len)
{
    /* The tile table is part of the key: a record's tile index means
     * nothing to a build with other tiles. So are the version of the rules
     * clrt__gemm_choose() follows (TUNING_RULES), so that a change to them
     * (such as leaving the host backend out) does not reuse older choices,
     * and the embedded gemm.cl, whose timings the choices are. */
    const clrt_source *src = clrt__embedded_source("gemm");
    unsigned long long kernels =
        src ? (unsigned long long)clrt__hash64(src->data, src->len, 0) : 0;
    char text[2048];
    int used = snprintf(text, sizeof text, "%s|%d|%016llx|%s|%s|%s|", CLRT_VERSION_STRING,
                        TUNING_RULES, kernels, ctx->dev.platform, ctx->dev.name,
                        ctx->dev.driver_version);
    for (unsigned i = 0; i < clrt__gemm_tile_count() && used > 0 && (size_t)used < sizeof text;
         i++) {
        const clrt__gemm_tile *t = clrt__gemm_tile_at(i);
        used += snprintf(text + used, sizeof text - (size_t)used, "%u.%u.%u.%u.%u.%u.%u,",
                         t->tm, t->tn, t->lx, t->ly, t->vw, t->kt, t->kmajor);
    }
    snprintf(buf, len, "%016llx", (unsigned long long)clrt__hash64(text, strlen(text), 7));
}

static void tuning_free(void *data)
{
    struct clrt_gemm_tuning *t = data;
    if (t) {
        free(t->choices);
        free(t->pending);
    }
    free(t);
}

/* The context's tuning state, made on first use; NULL when out of memory. */
static struct clrt_gemm_tuning *tuning_of(clrt_ctx *ctx)
{
    clrt__layer_state *slot = &ctx->layer_state[CLRT__STATE_GEMM_TUNING];
    if (!slot->data) {
        slot->data = calloc(1, sizeof(struct clrt_gemm_tuning));
        slot->release = tuning_free;
    }
    return slot->data;
}

static void remember(clrt_ctx *ctx, const char *cls, clrt_gemm_backend b, unsigned tile)
{
    struct clrt_gemm_tuning *t = tuning_of(ctx);
    if (!t)
        return;
    gemm_choice *room = clrt__array_room(t->choices, &t->cap, t->count, sizeof *room, 16);
    if (!room)
        return; /* then it is timed again next time: slower, not wrong */
    t->choices = room;
    gemm_choice *c = &t->choices[t->count++];
    snprintf(c->shape_class, sizeof c->shape_class, "%s", cls);
    c->backend = b;
    c->tile = tile;
}

/* The record, "<cache dir>/gemm-tuning.txt", on every device; CLRT_CACHE=off
 * or CLRT_CACHE_DIR=off turn it off with the cache. It is opened through
 * the cache folder's checks (cache.c): in a folder of the user's that no
 * one else can write, never through a link, and used only as a regular
 * file of the user's that no one else can write; appends create it 0600.
 * A refused record is logged once and tuning runs without it. NULL when
 * there is none to use. */
static FILE *open_record(clrt_ctx *ctx, bool append)
{
    if (!ctx->cache_dir || !clrt__disk_cache_wanted(&ctx->dev))
        return NULL;
    char why[1024];
    bool refused;
    int fd = -1, dirfd = clrt__cache_dir_open(ctx->cache_dir, append, &refused, why, sizeof why);
    if (dirfd >= 0) {
        struct stat sb;
        fd = clrt__open_private(dirfd, ctx->cache_dir, "gemm-tuning.txt",
                                append ? O_WRONLY | O_APPEND | O_CREAT : O_RDONLY, 0600, &sb, why,
                                sizeof why);
        refused = fd < 0 && errno != ENOENT;
        close(dirfd);
    }
    struct clrt_gemm_tuning *t = tuning_of(ctx);
    if (refused && t && !t->warned) {
        t->warned = true;
        clrt__log(ctx, CLRT_LOG_WARN, "GEMM tuning record not used: %s", why);
    }
    FILE *f = fd >= 0 ? fdopen(fd, append ? "a" : "r") : NULL;
    if (fd >= 0 && !f)
        close(fd);
    return f;
}

bool clrt__gemm_record_parse(const char *line, const char *key, char cls[48],
                             clrt_gemm_backend *b, unsigned *tile)
{
    /* The tile is read as text and converted here: sscanf's %u is undefined
     * for a number past UINT_MAX and takes "-1" as one. */
    char k[32], name[16], digits[16];
    int end = 0;
    if (sscanf(line, "%31s %47s %15s %15s%n", k, cls, name, digits, &end) != 4 ||
        strcmp(k, key) != 0 || (line[end] != '\0' && !isspace((unsigned char)line[end])))
        return false;
    size_t len = strlen(digits);
    if (len == 0 || len > 6 || strspn(digits, "0123456789") != len)
        return false;
    *tile = (unsigned)strtoul(digits, NULL, 10); /* at most 6 digits: no overflow */
    for (int i = CLRT_GEMM_BUILTIN; i <= CLRT_GEMM_HOST; i++)
        if (strcmp(name, clrt_gemm_backend_name((clrt_gemm_backend)i)) == 0 &&
            *tile < clrt__gemm_tile_count()) {
            *b = (clrt_gemm_backend)i;
            return true;
        }
    return false;
}

/* Lines "<device key> <shape class> <backend name> <tile>"; lines for other
 * devices or that do not parse are skipped: the record is a hint. */
static void load_record(clrt_ctx *ctx)
{
    FILE *f = open_record(ctx, false);
    if (!f)
        return;
    char key[32], line[256];
    device_key(ctx, key, sizeof key);
    while (fgets(line, sizeof line, f)) {
        char cls[48];
        clrt_gemm_backend b;
        unsigned tile;
        if (clrt__gemm_record_parse(line, key, cls, &b, &tile) &&
            !clrt__gemm_backend_unavailable(ctx, b))
            remember(ctx, cls, b, tile);
    }
    fclose(f);
}

static void append_record(clrt_ctx *ctx, const char *cls, clrt_gemm_backend b, unsigned tile)
{
    /* Appends of one short line are atomic enough for a hint file; a torn
     * line fails to parse and is skipped. */
    FILE *f = open_record(ctx, true);
    if (f) {
        char key[32];
        device_key(ctx, key, sizeof key);
        fprintf(f, "%s %s %s %u\n", key, cls, clrt_gemm_backend_name(b), tile);
        fclose(f);
    }
}

/* What a candidate's first run is reckoned to cost before any tile has
 * been built from source in the context (its tiles all came from the
 * caches, whose first runs say nothing of a candidate's cold compile):
 * about what one cost on a cold PoCL (3.4 s a transpose pair for 5 builds
 * and 8 first launches, PERFORMANCE.md). */
#define TUNE_FIRST_RUN_GUESS_S 0.3

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One run of g on (b, tile) alone on the queue: what was queued before it
 * is waited for first. *dt: its seconds, +inf if it failed; *built (may be
 * NULL): whether it built a program from source. */
static clrt_status timed_run(clrt_ctx *ctx, const clrt__gemm_args *g, clrt_gemm_backend b,
                             unsigned tile, double *dt, bool *built)
{
    *dt = INFINITY;
    clrt_program_stats before, after;
    CLRT_TRY(clrt_ctx_program_stats(ctx, &before));
    CLRT_TRY(clrt_ctx_finish(ctx));
    double t0 = now_seconds();
    CLRT_TRY(clrt__gemm_run(ctx, g, b, tile));
    CLRT_TRY(clrt_ctx_finish(ctx));
    *dt = now_seconds() - t0;
    CLRT_TRY(clrt_ctx_program_stats(ctx, &after));
    if (built)
        *built = after.builds > before.builds;
    return CLRT_OK;
}

/* The cost of a candidate's first run: measured where a tile was built
 * from source, else the guess. */
static double first_run_cost(const struct clrt_gemm_tuning *t)
{
    return t->first_run_s > 0 ? t->first_run_s : TUNE_FIRST_RUN_GUESS_S;
}

/* GEMMs with M·N·K below this run the default tile untimed: at a few
 * thousand multiply-adds the launch is the whole cost, and timing would
 * compile every candidate (the sin model's start-up, 100×1×1, spent most
 * of its cold start there). */
#define TUNE_MIN_VOLUME 4096

/* Time budget for the timed rounds of one shape class (see rounds_for()). */
#define TUNE_SECONDS 0.02

/* Whether a shape class of the same transposes (and the same builtin_only)
 * has a choice already, in this context or from the record; if so,
 * learned[t] marks its winning tiles and the device's default tile. A new
 * class then times only those: every other candidate is a compile on first
 * run (PoCL compiles a kernel per work-group size, and the whole-row tiles
 * have one per shape), and the MLP's 8 classes in 3 transposes paid for 8
 * each, about 0.3 s apiece on PoCL. */
static bool similar_class_winners(const clrt_ctx *ctx, const struct clrt_gemm_tuning *tuning,
                                  const clrt__gemm_args *g, bool builtin_only,
                                  bool learned[CLRT__GEMM_MAX_TILES])
{
    char prefix[48];
    shape_class(g, builtin_only, prefix, sizeof prefix);
    /* "nt-", "builtin/nt-", "s221/builtin/nt-": 16-bit classes learn from their own */
    size_t plen = (size_t)(strchr(prefix, '-') - prefix) + 1;
    bool any = false;
    memset(learned, 0, CLRT__GEMM_MAX_TILES * sizeof *learned);
    for (size_t i = 0; i < tuning->count; i++) {
        const gemm_choice *c = &tuning->choices[i];
        if (strncmp(c->shape_class, prefix, plen) != 0 || c->backend != CLRT_GEMM_BUILTIN ||
            c->tile >= CLRT__GEMM_MAX_TILES)
            continue;
        learned[c->tile] = true;
        any = true;
    }
    if (any)
        learned[clrt__gemm_default_tile(ctx, g->ta, g->tb)] = true;
    return any;
}

/* The candidates for g's class: the device's tiles that a bundle holds
 * and the device accepts (or, once a class of the same transposes has a
 * choice, only its winners and the default), and CLBlast on GPUs. Their
 * fit is checked here, which builds them: only when timing starts. */
static clrt_status collect_candidates(clrt_ctx *ctx, const struct clrt_gemm_tuning *tuning,
                                      const clrt__gemm_args *g, bool builtin_only,
                                      bool check_fit, gemm_candidate *cand, size_t *ncand)
{
    *ncand = 0;
    unsigned first, end;
    bool learned[CLRT__GEMM_MAX_TILES];
    bool similar = similar_class_winners(ctx, tuning, g, builtin_only, learned);
    clrt__gemm_candidate_tiles(ctx, &first, &end);
    for (unsigned t = first; t < end; t++) {
        if (!clrt__gemm_tile_available(ctx, t, g->ta, g->tb)) /* a bundle may lack some */
            continue;
        if (similar && !learned[t])
            continue;
        /* Nor one whose local memory or work-group the device refuses. */
        bool fits = true;
        if (check_fit)
            CLRT_TRY(clrt__gemm_tile_fits(ctx, t, g->ta, g->tb, &fits));
        if (fits)
            cand[(*ncand)++] = (gemm_candidate){CLRT_GEMM_BUILTIN, t, INFINITY, false};
    }
    /* Not the host backend: its blocking maps drain the queue, a cost to
     * everything queued around it that a GEMM timed alone does not show.
     * Taken for one shape class where it timed faster, it cut clrt-train
     * from 47k to 25k samples/s on PoCL, and still did when it had to time
     * 1.5x faster. It stays available by name. */
    /* Nor CLBlast on CPU devices: its kernels, made for GPUs, ran 2.5-13x
     * slower than the builtin tiles on every shape measured on PoCL, and
     * timing it cost the cold start 5 s (its build, and the binary CLBlast
     * asks of PoCL for its own cache). It stays available by name. */
    if (!builtin_only && !clrt__device_is_cpu(&ctx->dev) &&
        !clrt__gemm_backend_unavailable(ctx, CLRT_GEMM_CLBLAST))
        cand[(*ncand)++] = (gemm_candidate){CLRT_GEMM_CLBLAST, 0, INFINITY, false};
    return CLRT_OK;
}

/* Rounds over all candidates rather than each one's runs in a row: a burst
 * of load from elsewhere on the machine then slows every candidate once
 * instead of one candidate throughout. Round 0 warms up (and compiles); the
 * best of the others counts. Small GEMMs, where a burst weighs most, get
 * more rounds: as many as fit in TUNE_SECONDS, from 3 to 20, from round 1's
 * time over all candidates. */
static int rounds_for(double round_s)
{
    double fit = round_s > 0 ? TUNE_SECONDS / round_s : 20;
    return 1 + (fit < 3 ? 3 : fit > 20 ? 20 : (int)fit);
}

/* The fastest candidate becomes the class's choice, in the context and the
 * record. */
static void settle(clrt_ctx *ctx, const char *cls, const gemm_candidate *cand, size_t ncand,
                   clrt_gemm_backend *b, unsigned *tile)
{
    double best = INFINITY;
    for (size_t i = 0; i < ncand; i++)
        if (cand[i].best < best)
            best = cand[i].best, *b = cand[i].backend, *tile = cand[i].tile;
    if (isinf(best)) {
        /* All failed: the default runs and reports why. Remembered in this
         * context, so later calls do not time again, but not on disk: the
         * cause may pass. */
        *b = CLRT_GEMM_BUILTIN;
        *tile = UINT32_MAX;
        remember(ctx, cls, CLRT_GEMM_BUILTIN, UINT32_MAX);
        return;
    }
    clrt__log(ctx, CLRT_LOG_INFO, "gemm %s: %s (tile %u) in %.3g ms", cls,
              clrt_gemm_backend_name(*b), *tile, best * 1e3);
    remember(ctx, cls, *b, *tile);
    append_record(ctx, cls, *b, *tile);
}

/* ctx->gemm_tune_at_once: every candidate timed now, on a scratch C, in
 * this one call; the call itself then runs the winner. */
static clrt_status tune_at_once(clrt_ctx *ctx, struct clrt_gemm_tuning *tuning,
                                const clrt__gemm_args *g, bool builtin_only, const char *cls,
                                clrt_gemm_backend *b, unsigned *tile)
{
    gemm_candidate cand[CLRT__GEMM_MAX_TILES + 1];
    size_t ncand;
    CLRT_TRY(collect_candidates(ctx, tuning, g, builtin_only, true, cand, &ncand));
    if (ncand == 0)
        return CLRT_OK; /* a bundle without this transpose: the default says what is missing */
    clrt_tensor *scratch;
    if (clrt_tensor_create_typed(ctx, g->c->dtype, 2, g->c->shape, CLRT_TENSOR_ZERO, &scratch) !=
        CLRT_OK)
        return CLRT_OK; /* no room to time: the default runs, untuned this once */
    clrt__gemm_args trial = *g;
    trial.c = scratch;
    trial.beta = 0.0f;
    int rounds = 4;
    ctx->tuning = true;
    for (int round = 0; round < rounds; round++) {
        double t0 = now_seconds();
        for (size_t i = 0; i < ncand; i++) {
            if (cand[i].failed)
                continue;
            double dt;
            if (timed_run(ctx, &trial, cand[i].backend, cand[i].tile, &dt, NULL) != CLRT_OK)
                cand[i].failed = true, cand[i].best = INFINITY;
            else if (round > 0 && dt < cand[i].best)
                cand[i].best = dt;
        }
        if (round == 1)
            rounds = rounds_for(now_seconds() - t0);
    }
    ctx->tuning = false;
    clrt_tensor_destroy(scratch);
    settle(ctx, cls, cand, ncand, b, tile);
    return CLRT_OK;
}

/* The class's pending entry, made on its first call; NULL when out of memory. */
static gemm_pending *pending_of(struct clrt_gemm_tuning *t, const char *cls)
{
    for (size_t i = 0; i < t->npending; i++)
        if (strcmp(t->pending[i].shape_class, cls) == 0)
            return &t->pending[i];
    gemm_pending *room =
        clrt__array_room(t->pending, &t->pending_cap, t->npending, sizeof *room, 8);
    if (!room)
        return NULL;
    t->pending = room;
    gemm_pending *p = &t->pending[t->npending++];
    memset(p, 0, sizeof *p);
    snprintf(p->shape_class, sizeof p->shape_class, "%s", cls);
    return p;
}

static void drop_pending(struct clrt_gemm_tuning *t, gemm_pending *p)
{
    *p = t->pending[--t->npending];
}

/* The lazy rule, a ski rental: a class runs the default tile until the
 * time it has run untuned (calls × its measured second call) reaches what
 * timing its candidates would cost (a first run each, costed at the
 * slowest first run of a tile this context built from source: on a cold
 * PoCL a build and a first-launch compile, some 0.3 s, against well under
 * a millisecond per call; a class's own first call may find its program
 * built by another class, and a tile from the caches starts quickly where
 * a candidate would compile, so neither counts). Tuning only then
 * keeps the time lost to it within the time run, whatever the run's
 * length: a short run (the first step of a cold start, a 2-epoch job)
 * never waits for compiles it could not win back, and a long one tunes
 * once its GEMMs have run about as long as the tuning takes. Then each
 * call runs one candidate on its own operands, so no step is spent on
 * timing alone and the compiles come one per call, not all in one;
 * every candidate sums in the same order (the tiles agree bitwise), so the
 * results do not depend on which one ran. The first two calls are timed
 * alone on the queue (a finish before and after) to measure the costs. */
static clrt_status lazy_choose(clrt_ctx *ctx, struct clrt_gemm_tuning *tuning,
                               const clrt__gemm_args *g, bool builtin_only, const char *cls,
                               bool *ran)
{
    gemm_pending *p = pending_of(tuning, cls);
    if (!p)
        return CLRT_OK; /* no room to keep count: the default, untuned */
    if (!p->timing) {
        p->calls++;
        if (p->calls <= 2) {
            double dt;
            bool built;
            *ran = true;
            CLRT_TRY(timed_run(ctx, g, CLRT_GEMM_BUILTIN, UINT32_MAX, &dt, &built));
            if (p->calls == 1 && built && dt > tuning->first_run_s)
                tuning->first_run_s = dt;
            else if (p->calls == 2)
                p->call_s = dt;
            return CLRT_OK;
        }
        p->spent_s += p->call_s;
        if (p->spent_s < ctx->gemm_tune_cost_s)
            return CLRT_OK; /* the default tile, queued as usual */
        if (ctx->gemm_tune_cost_s < 0) {
            if (p->spent_s < first_run_cost(tuning))
                return CLRT_OK; /* below a single candidate's cost */
            /* The candidates as they stand now (fewer once a class of the
             * same transposes has chosen), without the fit check, which
             * would build them. */
            gemm_candidate cand[CLRT__GEMM_MAX_TILES + 1];
            size_t ncand;
            CLRT_TRY(collect_candidates(ctx, tuning, g, builtin_only, false, cand, &ncand));
            if (p->spent_s < (double)ncand * first_run_cost(tuning))
                return CLRT_OK;
        }
        CLRT_TRY(collect_candidates(ctx, tuning, g, builtin_only, true, p->cand, &p->ncand));
        if (p->ncand == 0) {
            remember(ctx, cls, CLRT_GEMM_BUILTIN, UINT32_MAX); /* a bundle lacks them all */
            drop_pending(tuning, p);
            return CLRT_OK;
        }
        p->timing = true;
        p->next = 0;
        p->round = 0;
        p->rounds = 4;
        p->round_s = 0;
    }
    /* This call runs the next candidate still standing. */
    while (p->next < p->ncand && p->cand[p->next].failed)
        p->next++;
    *ran = true;
    clrt_status st = CLRT_ERR_OPENCL;
    if (p->next < p->ncand) {
        gemm_candidate *c = &p->cand[p->next];
        double dt;
        bool built = false;
        ctx->tuning = true;
        st = timed_run(ctx, g, c->backend, c->tile, &dt, &built);
        ctx->tuning = false;
        if (st != CLRT_OK)
            c->failed = true, c->best = INFINITY;
        else if (p->round > 0 && dt < c->best)
            c->best = dt;
        else if (p->round == 0 && built && dt > tuning->first_run_s)
            tuning->first_run_s = dt; /* a compile: what the next class's will cost */
        if (p->round == 1 && st == CLRT_OK)
            p->round_s += dt;
        p->next++;
    }
    while (p->next < p->ncand && p->cand[p->next].failed)
        p->next++;
    if (p->next >= p->ncand) { /* a round done */
        if (p->round == 1)
            p->rounds = rounds_for(p->round_s);
        p->next = 0;
        bool standing = false;
        for (size_t i = 0; i < p->ncand; i++)
            standing |= !p->cand[i].failed;
        if (++p->round >= p->rounds || !standing) {
            clrt_gemm_backend cb;
            unsigned ct;
            settle(ctx, cls, p->cand, p->ncand, &cb, &ct);
            drop_pending(tuning, p);
        }
    }
    /* A candidate that failed leaves the call to the default, which reports
     * its own failure if it has one. */
    return st == CLRT_OK ? CLRT_OK : clrt__gemm_run(ctx, g, CLRT_GEMM_BUILTIN, UINT32_MAX);
}

/* builtin_only: the choice among the builtin tiles that the builtin backend
 * makes, kept apart from auto's choice among all backends. */
clrt_status clrt__gemm_choose(clrt_ctx *ctx, const clrt__gemm_args *g, bool builtin_only,
                              clrt_gemm_backend *b, unsigned *tile, bool *ran)
{
    *b = CLRT_GEMM_BUILTIN;
    *tile = UINT32_MAX;
    *ran = false;
    if (ctx->dev.is_simulator)
        return CLRT_OK; /* timings of an interpreter mean nothing */
    if (builtin_only && ctx->gemm_tile >= 0)
        return CLRT_OK; /* a tile forced by a test */
    if ((double)g->m * (double)g->n * (double)g->k < TUNE_MIN_VOLUME)
        return CLRT_OK; /* all launch latency: nothing to win, compiles to save */
    struct clrt_gemm_tuning *tuning = tuning_of(ctx);
    if (!tuning)
        return CLRT_OK;
    if (!tuning->loaded) {
        tuning->loaded = true;
        load_record(ctx);
    }
    char cls[48];
    shape_class(g, builtin_only, cls, sizeof cls);
    for (size_t i = 0; i < tuning->count; i++) {
        gemm_choice *c = &tuning->choices[i];
        /* A recorded tile that a bundle lacks is timed again among those it has. */
        if (strcmp(c->shape_class, cls) == 0 &&
            (c->backend != CLRT_GEMM_BUILTIN || c->tile == UINT32_MAX ||
             clrt__gemm_tile_available(ctx, c->tile, g->ta, g->tb))) {
            *b = c->backend;
            *tile = c->tile;
            return CLRT_OK;
        }
    }
    if (ctx->gemm_tune_at_once)
        return tune_at_once(ctx, tuning, g, builtin_only, cls, b, tile);
    return lazy_choose(ctx, tuning, g, builtin_only, cls, ran);
}
