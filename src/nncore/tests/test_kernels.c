/* C unit tests of the nncore kernels, with no Python in the way.
 *
 * Each kernel is checked in float and double against a naive loop or a
 * direct formula (kernel_checks.h, included once per precision), the losses
 * against a tiny example worked by hand, and the whole training step against
 * central differences: one SGD step of network_train_epoch must move the
 * parameters by exactly -lr times the numerical gradient of the loss.
 *
 * Prints every mismatch and exits 1 if there was any, 0 otherwise.
 * Build and run: cmake -DNNBOOK_CTEST=ON ...; ctest --output-on-failure */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nncore.h"
#include "fixed_stream.h"
#include "vexp.h"
#include "vlogistic_avx2.h"

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

static int n_checks, n_failures;

/* got must equal want to rtol, relative to max(1, |want|): values near zero
 * (a product that cancels) are held to an absolute rtol instead. */
static void check_close(const char *what, const char *prec, int index, double got,
                        double want, double rtol) {
    n_checks++;
    double tol = rtol * fmax(1.0, fabs(want));
    if (!(fabs(got - want) <= tol)) {   /* written so that NaN fails too */
        n_failures++;
        printf("FAIL %s [%s] at %d: got %.17g, want %.17g (|diff| %.3g > tol %.3g)\n", what,
               prec, index, got, want, fabs(got - want), tol);
    }
}

static void check_true(const char *what, int ok) {
    n_checks++;
    if (!ok) {
        n_failures++;
        printf("FAIL %s\n", what);
    }
}


#define real float
#define SFX _f32
#define PREC "f32"
#define RTOL 1e-5
#include "kernel_checks.h"
#undef real
#undef SFX
#undef PREC
#undef RTOL

#define real double
#define SFX _f64
#define PREC "f64"
#define RTOL 1e-12
#include "kernel_checks.h"
#undef real
#undef SFX
#undef PREC
#undef RTOL

/* ---- one training step against central differences (float64) ---------- */

enum { ROWS = 5, FEATURES = 3, HIDDEN = 4 };

/* A 3-4-1 sigmoid network with binary cross-entropy and the book's penalty,
 * trained by plain SGD on one full batch. */
static nn_config fd_network(void) {
    nn_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_layers = 2;
    cfg.sizes[0] = FEATURES;
    cfg.sizes[1] = HIDDEN;
    cfg.sizes[2] = 1;
    cfg.activations[0] = cfg.activations[1] = NN_SIGMOID;
    cfg.has_bias[0] = cfg.has_bias[1] = 1;
    cfg.loss = NN_LOSS_BCE;
    cfg.zmin = -HUGE_VAL;
    cfg.eps = 0;            /* the exact loss: the clip would make it non-smooth */
    cfg.l1 = 0.01;
    cfg.l2 = 0.1;
    cfg.optimizer = NN_OPT_SGD;
    cfg.learning_rate = 0.5;
    return cfg;
}

/* What one step minimises: (sum of the loss terms + penalty) / m. The
 * penalty gradient the core adds per batch is (l1 sign W + l2 W) / m, the
 * derivative of l1 sum|W| + l2/2 sum W^2 divided by m. */
static double objective(const nn_config *cfg, const double *params, double *work,
                        const double *x, const double *y) {
    double loss_sum = 0, penalty = 0;
    double chunk_loss[1];
    network_forward_f64(cfg, params, work, ROWS, 1, x, ROWS, NULL, 0, y, NULL, chunk_loss, NULL, &loss_sum);
    int64_t w_off[NN_MAX_LAYERS], b_off[NN_MAX_LAYERS];
    nn_param_offsets(cfg, w_off, b_off);
    for (int l = 0; l < cfg->n_layers; l++)
        penalty += l1_l2_penalty_forward_f64(params + w_off[l],
                                             (int64_t)cfg->sizes[l] * cfg->sizes[l + 1],
                                             cfg->l1, cfg->l2);
    return (loss_sum + penalty) / ROWS;
}

static void check_train_step_against_finite_differences(void) {
    nn_config cfg = fd_network();
    check_true("fd network config is valid", nn_check_config(&cfg) == NN_OK);
    const int64_t P = nn_param_count(&cfg);
    double *params = malloc(sizeof(double) * P), *stepped = malloc(sizeof(double) * P);
    double *grad = malloc(sizeof(double) * P);
    double *work = malloc(sizeof(double) * nn_train_workspace_len(&cfg, ROWS, 1, 1, 0));
    double x[ROWS * FEATURES], y[ROWS] = {0, 1, 1, 0, 1};
    uint64_t rng = 2024;
    for (int i = 0; i < ROWS * FEATURES; i++) x[i] = 2 * uniform(&rng);
    for (int64_t i = 0; i < P; i++) {
        params[i] = uniform(&rng);
        if (fabs(params[i]) < 0.05) params[i] += 0.1;  /* keep sign(W) off its jump */
    }

    /* the numerical gradient, by central differences */
    const double h = 1e-6;
    for (int64_t i = 0; i < P; i++) {
        double keep = params[i];
        params[i] = keep + h;
        double up = objective(&cfg, params, work, x, y);
        params[i] = keep - h;
        double down = objective(&cfg, params, work, x, y);
        params[i] = keep;
        grad[i] = (up - down) / (2 * h);
    }
    double loss_before = 0;
    double chunk_loss[1];
    network_forward_f64(&cfg, params, work, ROWS, 1, x, ROWS, NULL, 0, y, NULL, chunk_loss, NULL, &loss_before);

    /* one step of the core: stepped = params - lr * its gradient */
    memcpy(stepped, params, sizeof(double) * P);
    int64_t step = 0;
    double loss_sum = 0;
    int rc = network_train_epoch_f64(&cfg, stepped, NULL, work, 1, x, y, ROWS, NULL, ROWS,
                                     &step, &loss_sum, NULL);
    check_true("network_train_epoch_f64 returns NN_OK", rc == NN_OK);
    check_true("one batch is one step", step == 1);
    check_close("train step loss = forward loss before the step", "f64", 0, loss_sum,
                loss_before, 1e-12);

    /* the gradient the step implies, against the numerical one, relative to
     * the largest gradient entry (central differences are good to ~1e-9) */
    double scale = 0;
    for (int64_t i = 0; i < P; i++) scale = fmax(scale, fabs(grad[i]));
    for (int64_t i = 0; i < P; i++) {
        double implied = (params[i] - stepped[i]) / cfg.learning_rate;
        check_close("train step gradient vs central differences", "f64", (int)i,
                    implied / scale, grad[i] / scale, 1e-6);
    }

    /* the float32 core takes the same step, to float32 accuracy */
    float *params32 = malloc(sizeof(float) * P);
    float *work32 = malloc(sizeof(float) * nn_train_workspace_len(&cfg, ROWS, 1, 1, 0));
    float x32[ROWS * FEATURES], y32[ROWS];
    for (int64_t i = 0; i < P; i++) params32[i] = (float)params[i];
    for (int i = 0; i < ROWS * FEATURES; i++) x32[i] = (float)x[i];
    for (int i = 0; i < ROWS; i++) y32[i] = (float)y[i];
    step = 0;
    rc = network_train_epoch_f32(&cfg, params32, NULL, work32, 1, x32, y32, ROWS, NULL,
                                 ROWS, &step, &loss_sum, NULL);
    check_true("network_train_epoch_f32 returns NN_OK", rc == NN_OK);
    for (int64_t i = 0; i < P; i++)
        check_close("f32 train step vs f64 train step", "f32", (int)i, params32[i], stepped[i],
                    1e-5);

    free(params);
    free(stepped);
    free(grad);
    free(work);
    free(params32);
    free(work32);
}

/* ---- vexp: the vectorisable exp, against libm, in ulps ----------------- */

static double ulps64(double got, double want) {
    if (got == want) return 0;
    if (isinf(want) || isinf(got) || isnan(got)) return INFINITY;
    return fabs(got - want) / (nextafter(want, INFINITY) - want);
}

static double ulps32(float got, float want) {
    if (got == want) return 0;
    if (isinf(want) || isinf(got) || isnan(got)) return INFINITY;
    return fabsf(got - want) / (nextafterf(want, INFINITY) - want);
}

/* exp and the logistic function over an array (y, yf: 2n long), in the
 * baseline build and as the library's x86-64-v3 target clone compiles it:
 * they must agree bit for bit (every fused step in vexp.h is an explicit
 * fma) */
__attribute__((noinline)) static void vexp_array(double *y, float *yf, const double *x, int n) {
    for (int i = 0; i < n; i++) y[i] = vexp_f64(x[i]), yf[i] = vexp_f32((float)x[i]);
    for (int i = 0; i < n; i++) y[n + i] = vlogistic_f64(x[i]), yf[n + i] = vlogistic_f32((float)x[i] / 8);
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_V3 1
__attribute__((noinline, target("arch=x86-64-v3"))) static void vexp_array_v3(double *y,
                                                                             float *yf,
                                                                             const double *x,
                                                                             int n) {
    for (int i = 0; i < n; i++) y[i] = vexp_f64(x[i]), yf[i] = vexp_f32((float)x[i]);
    for (int i = 0; i < n; i++) y[n + i] = vlogistic_f64(x[i]), yf[n + i] = vlogistic_f32((float)x[i] / 8);
}
#else
#define HAVE_V3 0
#endif

static void check_vexp_builds_agree(void) {
#if HAVE_V3
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
    enum { N = 4001 };
    static double x[N], y[2 * N], y3[2 * N];
    static float yf[2 * N], yf3[2 * N];
    for (int i = 0; i < N; i++) x[i] = -750.0 + 1465.0 * i / (N - 1);
    vexp_array(y, yf, x, N);
    vexp_array_v3(y3, yf3, x, N);
    check_true("vexp, vlogistic: the baseline and x86-64-v3 builds give the same bits",
               memcmp(y, y3, sizeof y) == 0 && memcmp(yf, yf3, sizeof yf) == 0);
#endif
}

/* vlogistic: 1 / (1 + vexp(-z)) bit for bit where that can differ from 0
 * and 1, exactly 1 and 0 beyond */
static void check_vlogistic(void) {
    int same = 1, same32 = 1;
    for (int i = 0; i <= 200000; i++) {
        double z = -760.0 + 820.0 * i / 200000.0;
        double want = z < -708.0 ? 0.0 : 1.0 / (1.0 + vexp_f64(-z)), got = vlogistic_f64(z);
        same &= memcmp(&got, &want, sizeof got) == 0;
        float zf = (float)(-100.0 + 130.0 * i / 200000.0);
        float want32 = zf < -87.0f ? 0.0f : 1.0f / (1.0f + vexp_f32(-zf)), got32 = vlogistic_f32(zf);
        same32 &= memcmp(&got32, &want32, sizeof got32) == 0;
    }
    check_true("vlogistic_f64 == 1 / (1 + vexp_f64(-z)) above -708, 0 below", same);
    check_true("vlogistic_f32 == 1 / (1 + vexp_f32(-z)) above -87, 0 below", same32);
    check_true("vlogistic_f64(+-inf) == 1, 0", vlogistic_f64(INFINITY) == 1.0 &&
                                                 vlogistic_f64(-INFINITY) == 0.0);
    check_true("vlogistic(NaN) is NaN", isnan(vlogistic_f64(NAN)) && isnan(vlogistic_f32(NAN)));
    check_true("vlogistic_f64(0) == 0.5", vlogistic_f64(0.0) == 0.5 && vlogistic_f32(0.0f) == 0.5f);
}

/* vlogistic_avx2.h's intrinsics against the scalar vlogistic they restate,
 * bit for bit: a sweep over every range the function treats apart (the
 * clamps at -40/708 and -18/87 on -z, the zero below -708/-87, overflow of
 * exp), the book's zmin clip and none, NaN (any NaN: its sign and payload
 * are not the function's), infinities and signed zeros, at lengths that
 * leave 0 to 7 values for the scalar loop. */
static void check_vlogistic_avx2(void) {
#if NN_HAVE_VLOGISTIC_AVX2
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return;
    enum { N = 60000 };
    static double x[N], y[N];
    static float xf[N], yf[N];
    for (int i = 0; i < N; i++) {
        x[i] = -760.0 + 820.0 * i / (N - 1);
        xf[i] = (float)(-110.0 + 140.0 * i / (N - 1));
    }
    const double specials[] = {NAN, -NAN, INFINITY, -INFINITY, 0.0, -0.0, -708.0, -40.0, 40.0,
                               708.0, -100.0, 1e300, -1e300, 5e-324};
    for (int i = 0; i < (int)(sizeof specials / sizeof specials[0]); i++) {
        x[7 * i + 3] = specials[i];
        xf[7 * i + 3] = (float)specials[i];
    }
    x[200] = -87.0, xf[200] = -87.0f, x[201] = -18.0, xf[201] = 18.0f;
    const double zmins[] = {-HUGE_VAL, -100.0};
    int same = 1, same32 = 1, counts = 1;
    for (int c = 0; c < 2; c++)
        for (int n = N - 7; n <= N; n++) {
            int64_t done = vlogistic_array_avx2_f64(y, x, n, zmins[c]);
            int64_t done32 = vlogistic_array_avx2_f32(yf, xf, n, (float)zmins[c]);
            counts &= done == n / 4 * 4 && done32 == n / 8 * 8;
            for (int64_t i = 0; i < done; i++) {
                double z = x[i] < zmins[c] ? zmins[c] : x[i], want = vlogistic_f64(z);
                same &= memcmp(&y[i], &want, sizeof want) == 0 || (isnan(y[i]) && isnan(want));
            }
            for (int64_t i = 0; i < done32; i++) {
                float z = xf[i] < (float)zmins[c] ? (float)zmins[c] : xf[i];
                float want = vlogistic_f32(z);
                same32 &= memcmp(&yf[i], &want, sizeof want) == 0 || (isnan(yf[i]) && isnan(want));
            }
        }
    check_true("vlogistic_array_avx2_f64 == vlogistic_f64 bit for bit", same);
    check_true("vlogistic_array_avx2_f32 == vlogistic_f32 bit for bit", same32);
    check_true("vlogistic_array_avx2 does the whole vectors and no more", counts);
#endif
}

static void check_vexp(void) {
    /* a sweep across the whole range, through overflow and gradual underflow */
    double worst64 = 0, worst32 = 0;
    for (int i = 0; i <= 400000; i++) {
        double x = -760.0 + 1480.0 * i / 400000.0;
        worst64 = fmax(worst64, ulps64(vexp_f64(x), exp(x)));
        float xf = (float)(-110.0 + 210.0 * i / 400000.0);
        worst32 = fmax(worst32, ulps32(vexp_f32(xf), expf(xf)));
    }
    check_true("vexp_f64 within 1 ulp of exp over [-760, 720]", worst64 <= 1.0);
    check_true("vexp_f32 within 1 ulp of expf over [-110, 100]", worst32 <= 1.0);
    check_true("vexp_f64(0) == 1", vexp_f64(0.0) == 1.0);
    check_true("vexp_f64(1e4) == inf", isinf(vexp_f64(1e4)));
    check_true("vexp_f64(-1e4) == 0", vexp_f64(-1e4) == 0.0);
    check_true("vexp_f64(NaN) is NaN", isnan(vexp_f64(NAN)));
    check_true("vexp_f32(1e4) == inf", isinf(vexp_f32(1e4f)));
    check_true("vexp_f32(-1e4) == 0", vexp_f32(-1e4f) == 0.0f);
    check_true("vexp_f32(NaN) is NaN", isnan(vexp_f32(NAN)));
}

int main(void) {
    check_vexp();
    check_vexp_builds_agree();
    check_vlogistic();
    check_vlogistic_avx2();
    check_all_f32();
    check_all_f64();
    check_train_step_against_finite_differences();
    printf("test_kernels: %d checks, %d failed\n", n_checks, n_failures);
    return n_failures ? 1 : 0;
}
