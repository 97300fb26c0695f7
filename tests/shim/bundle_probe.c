/* The program tests/bundle_test.py runs, with and without the no_compiler
 * shim, on the device $CLRT_DEVICE names (and the bundle $CLRT_BINARIES
 * names, if any). It uses the public API and the OpenCL API only, as an
 * application would.
 *
 *   bundle_probe raw    the driver as the shim shows it: prints
 *                       "compiler_available=0|1" and "source_build=CL_...";
 *                       exit 77 when the device is not there
 *   bundle_probe ctx    clrt_ctx_create: prints "status=CLRT_..." and
 *                       "message=..."; exit 0 when it succeeds, 3 when not
 *   bundle_probe train  a context, clrt_ctx_build_all, and training steps
 *                       whose GEMMs are large enough to be tuned; prints
 *                       "loss=..." per step and "builds=N disk_hits=N" */
#include <clrt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int raw(void)
{
    char err[2048] = "";
    clrt_device_info d;
    clrt_status st = clrt_device_select(getenv("CLRT_DEVICE"), &d, err, sizeof err);
    if (st != CLRT_OK) {
        fprintf(stderr, "bundle_probe: %s\n", err);
        return st == CLRT_ERR_NO_DEVICE ? 77 : 1;
    }
    cl_bool compiler = CL_TRUE;
    cl_int rc = clGetDeviceInfo(d.device_id, CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler,
                                &compiler, NULL);
    if (rc != CL_SUCCESS) {
        fprintf(stderr, "bundle_probe: clGetDeviceInfo: %s\n", clrt_cl_error_str(rc));
        return 1;
    }
    printf("compiler_available=%d\n", compiler == CL_TRUE);
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)d.platform_id, 0};
    cl_context c = clCreateContext(props, 1, &d.device_id, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) {
        fprintf(stderr, "bundle_probe: clCreateContext: %s\n", clrt_cl_error_str(rc));
        return 1;
    }
    const char *src = "kernel void k(global float *x) { x[get_global_id(0)] = 1.0f; }\n";
    cl_program p = clCreateProgramWithSource(c, 1, &src, NULL, &rc);
    if (rc == CL_SUCCESS)
        rc = clBuildProgram(p, 1, &d.device_id, "", NULL, NULL);
    printf("source_build=%s\n", rc == CL_SUCCESS ? "CL_SUCCESS" : clrt_cl_error_str(rc));
    if (p)
        clReleaseProgram(p);
    clReleaseContext(c);
    return 0;
}

static int context(void)
{
    char err[4096] = "";
    clrt_ctx *ctx = NULL;
    clrt_status st = clrt_ctx_create(NULL, &ctx, err, sizeof err);
    printf("status=%s\nmessage=%s\n", clrt_status_str(st), err);
    clrt_ctx_destroy(ctx);
    return st == CLRT_OK ? 0 : 3;
}

static int failed(clrt_ctx *ctx, clrt_status st, const char *what)
{
    printf("status=%s\nmessage=%s: %s\n", clrt_status_str(st), what, clrt_ctx_errmsg(ctx));
    return 3;
}

static int train(void)
{
    char err[4096] = "";
    clrt_ctx *ctx = NULL;
    clrt_status st = clrt_ctx_create(NULL, &ctx, err, sizeof err);
    if (st != CLRT_OK) {
        printf("status=%s\nmessage=%s\n", clrt_status_str(st), err);
        return 3;
    }
    if ((st = clrt_ctx_build_all(ctx)) != CLRT_OK)
        return failed(ctx, st, "build_all");
    enum { N = 96, IN = 40, CLASSES = 5 };
    static float x[N * IN], y[N];
    for (int i = 0; i < N; i++) {
        y[i] = (float)(i % CLASSES);
        for (int j = 0; j < IN; j++)
            x[i * IN + j] = (float)((i * 31 + j * 17) % 23) / 23.0f - 0.5f + 0.1f * y[i];
    }
    clrt_model *m = NULL;
    clrt_optim *opt = NULL;
    clrt_tensor *tx = NULL, *ty = NULL;
    const size_t xs[2] = {N, IN}, ys[1] = {N};
    clrt_optim_options oo;
    clrt_optim_options_init(&oo, CLRT_OPTIM_ADAM);
    if ((st = clrt_model_create(ctx, IN, &m)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, 48)) != CLRT_OK ||
        (st = clrt_model_add_act(m, CLRT_ACT_GELU, 0)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, 32)) != CLRT_OK ||
        (st = clrt_model_add_act(m, CLRT_ACT_SIGMOID, 0)) != CLRT_OK ||
        (st = clrt_model_add_linear(m, CLASSES)) != CLRT_OK ||
        (st = clrt_model_init(m, 3)) != CLRT_OK ||
        (st = clrt_optim_create(ctx, &oo, clrt_model_num_params(m), clrt_model_params(m), &opt)) !=
            CLRT_OK ||
        (st = clrt_tensor_create(ctx, 2, xs, 0, &tx)) != CLRT_OK ||
        (st = clrt_tensor_create(ctx, 1, ys, 0, &ty)) != CLRT_OK ||
        (st = clrt_tensor_write(tx, x, N * IN)) != CLRT_OK ||
        (st = clrt_tensor_write(ty, y, N)) != CLRT_OK)
        return failed(ctx, st, "setup");
    for (int step = 0; step < 5; step++) {
        double loss;
        if ((st = clrt_model_train_step(m, opt, CLRT_LOSS_CROSS_ENTROPY, tx, ty)) != CLRT_OK ||
            (st = clrt_model_take_loss(m, &loss, NULL)) != CLRT_OK)
            return failed(ctx, st, "step");
        printf("loss=%.9g\n", loss);
    }
    clrt_program_stats ps;
    if ((st = clrt_ctx_program_stats(ctx, &ps)) != CLRT_OK)
        return failed(ctx, st, "stats");
    printf("builds=%zu disk_hits=%zu\n", ps.builds, ps.disk_hits);
    clrt_tensor_destroy(tx);
    clrt_tensor_destroy(ty);
    clrt_optim_destroy(opt);
    clrt_model_destroy(m);
    clrt_ctx_destroy(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    if (strcmp(mode, "raw") == 0)
        return raw();
    if (strcmp(mode, "ctx") == 0)
        return context();
    if (strcmp(mode, "train") == 0)
        return train();
    fprintf(stderr, "usage: bundle_probe raw|ctx|train\n");
    return 2;
}
