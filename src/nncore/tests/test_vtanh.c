/* vtanh_f64 / vtanh_f32 (vtanh.h), the vectorisable tanh of the tanh
 * activation, against the exact value (long double tanhl for doubles,
 * double tanh for floats): within 2.5 ulp over the whole range (random bit
 * patterns, so every exponent and subnormals are hit), densely over
 * [-22, 22] where the activation's inputs live, and around 0 (where
 * relative accuracy is hardest to keep). glibc's own tanh is up to 2.2 ulp
 * from tanhl on the same sweep, so it is the yardstick only for special
 * values, which must equal libm's exactly.
 * Each check runs twice: through the baseline build of the header and
 * through a loop compiled for x86-64-v3 (AVX2 + FMA contraction), which is
 * what the library's target clones run on such CPUs. Also checks that a
 * loop gives the same bits as single calls in the same build, and that the
 * two builds give the same bits. Exits 1 on any
 * failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fixed_stream.h"
#include "ulp_checks.h"
#include "vtanh.h"

/* distance from the exact value, in ulps of the correctly rounded result */
static double err64(double got, long double exact) {
    double w = (double)exact;
    if (isnan(got) || signbit(got) != signbit(w)) return INFINITY;
    double ulp = w == 0 ? 0x1p-1074 : nextafter(fabs(w), INFINITY) - fabs(w);
    return (double)(fabsl((long double)got - exact) / ulp);
}

static double err32(float got, double exact) {
    float w = (float)exact;
    if (isnan(got) || signbit(got) != signbit(w)) return INFINITY;
    double ulp = w == 0 ? 0x1p-149 : nextafterf(fabsf(w), INFINITY) - fabsf(w);
    return fabs((double)got - exact) / ulp;
}

/* the activation's loop shape, once per build */
__attribute__((noinline)) static void tanh64_base(double *y, const double *x, int n) {
    for (int i = 0; i < n; i++) y[i] = vtanh_f64(x[i]);
}
__attribute__((noinline)) static void tanh32_base(float *y, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] = vtanh_f32(x[i]);
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_V3 1
__attribute__((noinline, target("arch=x86-64-v3"))) static void tanh64_v3(double *y,
                                                                          const double *x, int n) {
    for (int i = 0; i < n; i++) y[i] = vtanh_f64(x[i]);
}
__attribute__((noinline, target("arch=x86-64-v3"))) static void tanh32_v3(float *y,
                                                                         const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] = vtanh_f32(x[i]);
}
#else
#define HAVE_V3 0
#endif

enum { N = 1 << 16 };
static double x64[N], y64[N];
static float x32[N], y32[N];

static double worst64(void (*f)(double *, const double *, int), int n) {
    double w = 0;
    f(y64, x64, n);
    for (int i = 0; i < n; i++) w = fmax(w, err64(y64[i], tanhl(x64[i])));
    return w;
}

static double worst32(void (*f)(float *, const float *, int), int n) {
    double w = 0;
    f(y32, x32, n);
    for (int i = 0; i < n; i++) w = fmax(w, err32(y32[i], tanh(x32[i])));
    return w;
}

static void sweep(const char *build, void (*f64)(double *, const double *, int),
                  void (*f32)(float *, const float *, int)) {
    uint64_t state = 77;
    double w64 = 0, w32 = 0;
    for (int round = 0; round < 64; round++) {
        for (int i = 0; i < N; i++) {
            double u = uniform(&state);
            if (round % 4 == 0) { /* any finite bit pattern, either sign */
                uint64_t bits = (uint64_t)((u + 1) * 0x1p63);
                memcpy(&x64[i], &bits, sizeof bits);
                if (!isfinite(x64[i])) x64[i] = u;
                uint32_t b32 = (uint32_t)(bits >> 32);
                memcpy(&x32[i], &b32, sizeof b32);
                if (!isfinite(x32[i])) x32[i] = (float)u;
            } else if (round % 4 == 1) { /* around 0 */
                x64[i] = u * 1e-3;
                x32[i] = (float)(u * 1e-3);
            } else { /* the activation's range, and a little past tanh = 1 */
                x64[i] = u * 22;
                x32[i] = (float)(u * 12);
            }
        }
        w64 = fmax(w64, worst64(f64, N));
        w32 = fmax(w32, worst32(f32, N));
    }
    printf("%s: vtanh_f64 worst %.3g ulp from the exact tanh, vtanh_f32 worst %.3g\n", build,
           w64, w32);
    char what[96];
    snprintf(what, sizeof what, "%s vtanh_f64 within 2.5 ulp of the exact tanh", build);
    check_true(what, w64 <= 2.5);
    snprintf(what, sizeof what, "%s vtanh_f32 within 2.5 ulp of the exact tanh", build);
    check_true(what, w32 <= 2.5);

    /* special values */
    static const double sp[] = {0.0, -0.0, INFINITY, -INFINITY, 20.0, -20.0, 1e300, -1e300,
                                0x1p-1074, -0x1p-1074, 0x1p-1022};
    enum { NS = sizeof sp / sizeof sp[0] };
    for (int i = 0; i < NS; i++) x64[i] = sp[i], x32[i] = (float)sp[i];
    f64(y64, x64, NS);
    f32(y32, x32, NS);
    int ok = 1;
    for (int i = 0; i < NS; i++)
        ok &= ulps64(y64[i], tanh(x64[i])) == 0 && ulps32(y32[i], tanhf(x32[i])) == 0 &&
              signbit(y64[i]) == signbit(x64[i]) && signbit(y32[i]) == signbit(x32[i]);
    snprintf(what, sizeof what, "%s vtanh special values equal libm's", build);
    check_true(what, ok);
    x64[0] = NAN;
    x32[0] = NAN;
    f64(y64, x64, 1);
    f32(y32, x32, 1);
    snprintf(what, sizeof what, "%s vtanh(NaN) is NaN", build);
    check_true(what, isnan(y64[0]) && isnan(y32[0]));
}

int main(void) {
    sweep("baseline", tanh64_base, tanh32_base);
#if HAVE_V3
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        sweep("x86-64-v3", tanh64_v3, tanh32_v3);
    else
        printf("x86-64-v3: not run (this CPU lacks AVX2/FMA)\n");
#endif
    /* a loop gives the same bits as single calls (baseline build) */
    for (int i = 0; i < 1003; i++) x64[i] = -9 + i * 0.0183, x32[i] = (float)x64[i];
    tanh64_base(y64, x64, 1003);
    tanh32_base(y32, x32, 1003);
    int same = 1;
    for (int i = 0; i < 1003; i++) {
        double one = vtanh_f64(x64[i]);
        float one32 = vtanh_f32(x32[i]);
        same &= memcmp(&one, &y64[i], sizeof one) == 0 && memcmp(&one32, &y32[i], sizeof one32) == 0;
    }
    check_true("vtanh in a loop == single calls", same);
#if HAVE_V3
    /* the builds give the same bits: every fused step is an explicit fma,
     * the instruction in the v3 build and libm's exact fma in the baseline */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        static double v3_64[N];
        static float v3_32[N];
        uint64_t state = 5;
        for (int i = 0; i < N; i++) x64[i] = uniform(&state) * 22, x32[i] = (float)(uniform(&state) * 12);
        tanh64_base(y64, x64, N);
        tanh32_base(y32, x32, N);
        tanh64_v3(v3_64, x64, N);
        tanh32_v3(v3_32, x32, N);
        check_true("vtanh: the baseline and x86-64-v3 builds give the same bits",
                   memcmp(y64, v3_64, sizeof y64) == 0 && memcmp(y32, v3_32, sizeof y32) == 0);
    }
#endif
    printf("test_vtanh: %s\n", n_failures ? "FAILED" : "all checks passed");
    return n_failures ? 1 : 0;
}
