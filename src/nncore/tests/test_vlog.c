/* vlog_f64 (vlog.h), the vectorisable log the losses use, against glibc's
 * log: within 1 ulp over the whole double range (a random sweep of bit
 * patterns, so every exponent and subnormals are hit), densely around 1
 * (where log is near 0 and relative error is hardest to keep) and over the
 * probabilities the losses take logs of; libm's special values exactly.
 * Also checks that a loop over an array gives the same bits as single calls
 * (the loop is what the compiler vectorises), and that the baseline and the
 * x86-64-v3 build of that loop agree bit for bit. Exits 1 on any failure. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fixed_stream.h"
#include "ulp_checks.h"
#include "vlog.h"

/* y[i] = vlog_f64(x[i]): the shape of the losses' loops */
__attribute__((noinline)) static void vlog_array(double *y, const double *x, int n) {
    for (int i = 0; i < n; i++) y[i] = vlog_f64(x[i]);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_V3 1
/* the same loop as the library's x86-64-v3 target clone compiles it */
__attribute__((noinline, target("arch=x86-64-v3"))) static void vlog_array_v3(double *y,
                                                                             const double *x,
                                                                             int n) {
    for (int i = 0; i < n; i++) y[i] = vlog_f64(x[i]);
}
#else
#define HAVE_V3 0
#endif

int main(void) {
    double worst = 0, worst_x = 0;
    uint64_t state = 2024;
    for (int i = 0; i < 4000000; i++) { /* random positive finite doubles */
        uint64_t bits = ((uint64_t)((uniform(&state) + 1) * 0x1p62)) & 0x7fffffffffffffffULL;
        double x;
        memcpy(&x, &bits, sizeof x);
        if (!(x < INFINITY)) continue;
        double u = ulps64(vlog_f64(x), log(x));
        if (u > worst) worst = u, worst_x = x;
    }
    for (int i = 0; i <= 2000000; i++) { /* around 1, and the losses' (0, 1] */
        double near1 = 1 - 1e-6 + 2e-6 * i / 2000000.0, prob = 1e-10 + (1 - 2e-10) * i / 2000000.0;
        double u = fmax(ulps64(vlog_f64(near1), log(near1)), ulps64(vlog_f64(prob), log(prob)));
        if (u > worst) worst = u, worst_x = i;
    }
    printf("vlog_f64: worst %.3g ulp from glibc's log (at %.17g)\n", worst, worst_x);
    check_true("vlog_f64 within 1 ulp of log", worst <= 1.0);
    check_true("vlog_f64(1) == 0", vlog_f64(1.0) == 0.0 && !signbit(vlog_f64(1.0)));
    check_true("vlog_f64(0) == -inf", vlog_f64(0.0) == -HUGE_VAL);
    check_true("vlog_f64(-0) == -inf", vlog_f64(-0.0) == -HUGE_VAL);
    check_true("vlog_f64(-1) is NaN", isnan(vlog_f64(-1.0)));
    check_true("vlog_f64(-inf) is NaN", isnan(vlog_f64(-HUGE_VAL)));
    check_true("vlog_f64(inf) == inf", vlog_f64(HUGE_VAL) == HUGE_VAL);
    check_true("vlog_f64(NaN) is NaN", isnan(vlog_f64(NAN)));
    check_true("vlog_f64(smallest subnormal) == log", vlog_f64(0x1p-1074) == log(0x1p-1074));
    check_true("vlog_f64(largest double) == log", ulps64(vlog_f64(0x1.fffffffffffffp1023), log(0x1.fffffffffffffp1023)) <= 1);

    enum { N = 1003 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = i % 7 == 0 ? 0x1p-1060 * i : 1e-12 + i * 0.37;
    vlog_array(y, x, N);
    int same = 1;
    for (int i = 0; i < N; i++) {
        double one = vlog_f64(x[i]);
        same &= memcmp(&one, &y[i], sizeof one) == 0;
    }
    check_true("vlog_f64 in a loop == single calls", same);
#if HAVE_V3
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        double v3[N];
        vlog_array_v3(v3, x, N);
        check_true("vlog_f64: the baseline and x86-64-v3 builds give the same bits",
                   memcmp(v3, y, sizeof y) == 0);
    }
#endif
    printf("test_vlog: %s\n", n_failures ? "FAILED" : "all checks passed");
    return n_failures ? 1 : 0;
}
