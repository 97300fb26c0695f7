/* Kernel times: the events of launches on a profiling queue, folded into
 * per-kernel totals that clrt_ctx_kernel_times reports. */
#include "runtime/runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events kept before the oldest are folded, so a long run holds bounded host
 * memory and driver event objects. */
#define PENDING_MAX 1024

#define NAME_LEN sizeof ((clrt_kernel_time *)0)->name

typedef struct pending_event {
    cl_event ev;
    char name[NAME_LEN];
} pending_event;

struct clrt_profile {
    pending_event pending[PENDING_MAX]; /* in enqueue order */
    size_t npending;
    clrt_kernel_time *totals;           /* one per kernel name, unsorted */
    size_t ntotals, cap;
};

/* The totals entry for `name`, added if new; NULL when the list cannot grow. */
static clrt_kernel_time *total_for(struct clrt_profile *p, const char *name)
{
    for (size_t i = 0; i < p->ntotals; i++)
        if (strcmp(p->totals[i].name, name) == 0)
            return &p->totals[i];
    clrt_kernel_time *room = clrt__array_room(p->totals, &p->cap, p->ntotals, sizeof *room, 32);
    if (!room)
        return NULL;
    p->totals = room;
    clrt_kernel_time *t = &p->totals[p->ntotals++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, sizeof t->name);
    return t;
}

/* Add the first n pending events, which have completed, to the totals and
 * release them. */
static void fold(clrt_ctx *ctx, size_t n)
{
    struct clrt_profile *p = ctx->profile;
    size_t untimed = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
        pending_event *e = &p->pending[i];
        cl_ulong start = 0, end = 0;
        cl_int rc = clGetEventProfilingInfo(e->ev, CL_PROFILING_COMMAND_START, sizeof start,
                                            &start, NULL);
        if (rc == CL_SUCCESS)
            rc = clGetEventProfilingInfo(e->ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
        clReleaseEvent(e->ev);
        clrt_kernel_time *t = total_for(p, e->name);
        if (!t) {
            dropped++;
            continue;
        }
        /* A launch without times (a command that failed) still ran: count it. */
        t->calls++;
        if (rc == CL_SUCCESS && end >= start)
            t->seconds += (double)(end - start) * 1e-9;
        else
            untimed++;
    }
    memmove(p->pending, p->pending + n, (p->npending - n) * sizeof *p->pending);
    p->npending -= n;
    if (untimed)
        clrt__log(ctx, CLRT_LOG_WARN, "kernel times: %zu launches had no profiling times",
                  untimed);
    if (dropped)
        clrt__log(ctx, CLRT_LOG_WARN, "kernel times: out of host memory, %zu launches dropped",
                  dropped);
}

void clrt__profile_record(clrt_ctx *ctx, const char *name, cl_event ev)
{
    struct clrt_profile *p = ctx->profile;
    if (!p) {
        p = ctx->profile = calloc(1, sizeof *p);
        if (!p) {
            /* A diagnostic must not fail the launch it describes. */
            clReleaseEvent(ev);
            return;
        }
    }
    if (p->npending == PENDING_MAX) {
        /* Wait for the older half only: the queue is in order, so the rest
         * are done too once it is, while the newer half keeps the device
         * busy (a clFinish would leave it idle until the next launch). */
        size_t half = PENDING_MAX / 2;
        clFlush(ctx->queue);
        clWaitForEvents(1, &p->pending[half - 1].ev);
        fold(ctx, half);
    }
    pending_event *e = &p->pending[p->npending++];
    e->ev = ev;
    snprintf(e->name, sizeof e->name, "%s", name);
}

void clrt__profile_kernel(clrt_ctx *ctx, cl_kernel kernel, cl_event ev)
{
    /* Room for any name clrt gives a kernel; a longer one fails the query
     * and is recorded under a placeholder rather than not at all. */
    char name[256];
    if (clGetKernelInfo(kernel, CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL) != CL_SUCCESS)
        snprintf(name, sizeof name, "(unnamed kernel)");
    clrt__profile_record(ctx, name, ev);
}

void clrt__profile_release(clrt_ctx *ctx)
{
    struct clrt_profile *p = ctx->profile;
    if (!p)
        return;
    for (size_t i = 0; i < p->npending; i++)
        clReleaseEvent(p->pending[i].ev);
    free(p->totals);
    free(p);
    ctx->profile = NULL;
}

/* Most time first; ties by calls, then name, so the order is reproducible. */
static int by_time(const void *a, const void *b)
{
    const clrt_kernel_time *x = a, *y = b;
    if (x->seconds != y->seconds)
        return x->seconds > y->seconds ? -1 : 1;
    if (x->calls != y->calls)
        return x->calls > y->calls ? -1 : 1;
    return strcmp(x->name, y->name);
}

clrt_status clrt_ctx_kernel_times(clrt_ctx *ctx, clrt_kernel_time *times, size_t cap,
                                  size_t *count)
{
    if (count)
        *count = 0;
    if (!ctx)
        return CLRT_ERR_INVALID_ARG;
    if (!count || (cap && !times))
        return clrt__fail(ctx, CLRT_ERR_INVALID_ARG,
                          "clrt_ctx_kernel_times: count is NULL, or times is NULL with cap %zu",
                          cap);
    if (!ctx->profiling)
        return clrt__fail(ctx, CLRT_ERR_UNSUPPORTED,
                          "clrt_ctx_kernel_times: the queue has no profiling "
                          "(set clrt_ctx_options.profiling)");
    clrt_status st = CLRT_OK;
    CLRT_CL_GOTO(ctx, st, clFinish(ctx->queue), out);
    struct clrt_profile *p = ctx->profile;
    if (!p)
        goto out;
    fold(ctx, p->npending);
    if (p->ntotals)
        qsort(p->totals, p->ntotals, sizeof *p->totals, by_time);
    size_t n = p->ntotals < cap ? p->ntotals : cap;
    if (n)
        memcpy(times, p->totals, n * sizeof *times);
    *count = p->ntotals;
    p->ntotals = 0;
out:
    return st;
}
