/* The precision-generic half of test_kernels.c, written once over `real`
 * and included twice (as real.h does for the kernels themselves). Before
 * each inclusion test_kernels.c defines:
 *   real   float or double
 *   SFX    the kernels' suffix, _f32 or _f64
 *   PREC   "f32" or "f64", for messages
 *   RTOL   the parity tolerance of the precision (1e-5 or 1e-12)
 * and provides check_close(), uniform() and CAT(). Every check compares a
 * kernel with a naive loop or a direct formula evaluated in double. */

#define K(name) CAT(name, SFX)     /* the kernel under test, e.g. dense_forward_f32 */
#define T(name) CAT(name, SFX)     /* this file's checks, one copy per precision    */

static void T(fill)(real *a, int n, uint64_t *rng, double scale) {
    for (int i = 0; i < n; i++) a[i] = (real)(scale * uniform(rng));
}

/* dense_forward / dense_backward against the triple loop they replace. */
static void T(check_dense)(void) {
    enum { MB = 9, MC = 7, MO = 5 };
    static const int shapes[][3] = {{1, 1, 1}, {1, 5, 3}, {4, 1, 2}, {3, 7, 5}, {9, 4, 1}};
    real x[MB * MC], w[MC * MO], b[MO], out[MB * MO];
    real dout[MB * MO], dinp[MB * MC], dw[MC * MO], db[MO];
    uint64_t rng = 12345;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int B = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
        T(fill)(x, B * C, &rng, 1.0);
        T(fill)(w, C * OC, &rng, 1.0);
        T(fill)(b, OC, &rng, 1.0);
        T(fill)(dout, B * OC, &rng, 1.0);

        /* out (B,OC) = sigmoid(x (B,C) . w (C,OC) + b) */
        K(dense_forward)(out, x, w, b, B, C, OC, NN_SIGMOID, (real)-HUGE_VAL);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < OC; j++) {
                double z = b[j];
                for (int k = 0; k < C; k++) z += (double)x[i * C + k] * w[k * OC + j];
                check_close("dense_forward sigmoid", PREC, i * OC + j, out[i * OC + j],
                            1.0 / (1.0 + exp(-z)), RTOL);
            }

        /* no bias, no activation: the bare product */
        K(dense_forward)(out, x, w, NULL, B, C, OC, NN_LINEAR, (real)-HUGE_VAL);
        for (int i = 0; i < B; i++)
            for (int j = 0; j < OC; j++) {
                double z = 0;
                for (int k = 0; k < C; k++) z += (double)x[i * C + k] * w[k * OC + j];
                check_close("dense_forward linear", PREC, i * OC + j, out[i * OC + j], z, RTOL);
            }

        /* dinp = dout . w^T, dw = x^T . dout, db = column sums of dout */
        K(dense_backward)(dinp, dw, db, dout, x, w, B, C, OC);
        for (int i = 0; i < B; i++)
            for (int k = 0; k < C; k++) {
                double want = 0;
                for (int j = 0; j < OC; j++) want += (double)dout[i * OC + j] * w[k * OC + j];
                check_close("dense_backward dinp", PREC, i * C + k, dinp[i * C + k], want, RTOL);
            }
        for (int k = 0; k < C; k++)
            for (int j = 0; j < OC; j++) {
                double want = 0;
                for (int i = 0; i < B; i++) want += (double)x[i * C + k] * dout[i * OC + j];
                check_close("dense_backward dweight", PREC, k * OC + j, dw[k * OC + j], want, RTOL);
            }
        for (int j = 0; j < OC; j++) {
            double want = 0;
            for (int i = 0; i < B; i++) want += dout[i * OC + j];
            check_close("dense_backward dbias", PREC, j, db[j], want, RTOL);
        }
    }
}

/* sigmoid and softmax against their textbook formulas. */
static void T(check_activations)(void) {
    /* sigmoid, with the book's clip at -100: -200 must give sigmoid(-100) */
    static const double zs[] = {-200, -100, -3.5, -0.25, 0, 0.5, 7, 30};
    enum { NZ = sizeof zs / sizeof zs[0] };
    real z[NZ], a[NZ];
    for (int i = 0; i < NZ; i++) z[i] = (real)zs[i];
    K(sigmoid_forward)(a, z, NZ, (real)-100);
    for (int i = 0; i < NZ; i++) {
        double zc = zs[i] < -100 ? -100 : zs[i];
        check_close("sigmoid_forward", PREC, i, a[i], 1.0 / (1.0 + exp(-zc)), RTOL);
    }

    /* softmax (B=3, K=4) of moderate logits: exp(z) / sum exp(z) directly */
    enum { B = 3, NK = 4 };
    real logits[B * NK], p[B * NK];
    uint64_t rng = 777;
    T(fill)(logits, B * NK, &rng, 5.0);
    K(softmax_forward)(p, logits, B, NK, (real)-HUGE_VAL);
    for (int i = 0; i < B; i++) {
        double sum = 0;
        for (int k = 0; k < NK; k++) sum += exp((double)logits[i * NK + k]);
        for (int k = 0; k < NK; k++)
            check_close("softmax_forward", PREC, i * NK + k, p[i * NK + k],
                        exp((double)logits[i * NK + k]) / sum, RTOL);
    }

    /* a row whose exponentials overflow: the direct formula is inf/inf, the
     * stable kernel splits the mass between the two largest logits */
    real big[NK] = {1000, 0, -1000, 1000};
    K(softmax_forward)(p, big, 1, NK, (real)-HUGE_VAL);
    static const double want_big[NK] = {0.5, 0, 0, 0.5};
    for (int k = 0; k < NK; k++) check_close("softmax_forward huge", PREC, k, p[k], want_big[k], RTOL);
}

/* Keras's further activations against their direct formulas, evaluated in
 * double, and their derivatives against central differences of those
 * formulas; at points off every kink. */
static double T(direct_activation)(int act, double z) {
    switch (act) {
    case NN_ELU: return z > 0 ? z : exp(z) - 1;
    case NN_SELU: return 1.0507009873554805 * (z > 0 ? z : 1.6732632423543772 * (exp(z) - 1));
    case NN_GELU: return 0.5 * z * (1 + erf(z / sqrt(2.0)));
    case NN_SWISH: return z / (1 + exp(-z));
    case NN_LEAKY_RELU: return z > 0 ? z : 0.2 * z;
    case NN_SOFTPLUS: return log(1 + exp(z));
    case NN_SOFTSIGN: return z / (1 + fabs(z));
    case NN_HARD_SIGMOID: return fmin(fmax(z + 3, 0), 6) / 6;
    case NN_HARD_SILU: return z * fmin(fmax(z + 3, 0), 6) / 6;
    default: return NAN;
    }
}

static void T(check_keras_activations)(void) {
    static const int acts[] = {NN_ELU, NN_SELU, NN_GELU, NN_SWISH, NN_LEAKY_RELU, NN_SOFTPLUS,
                               NN_SOFTSIGN, NN_HARD_SIGMOID, NN_HARD_SILU};
    static const double zs[] = {-7.5, -3.5, -1.25, -0.25, 0.5, 1.75, 2.5, 4, 9};
    enum { NZ = sizeof zs / sizeof zs[0] };
    real z[NZ], a[NZ], ones[NZ], d[NZ];
    for (int i = 0; i < NZ; i++) {
        z[i] = (real)zs[i];
        ones[i] = 1;
    }
    for (size_t j = 0; j < sizeof acts / sizeof acts[0]; j++) {
        int act = acts[j];
        K(activation_forward)(a, z, 1, NZ, act, (real)-HUGE_VAL);
        K(activation_backward)(d, ones, a, z, 1, NZ, act);
        for (int i = 0; i < NZ; i++) {
            double zi = z[i], h = 1e-5;
            check_close("keras activation forward", PREC, act * 100 + i, a[i],
                        T(direct_activation)(act, zi), RTOL * 10);
            double fd = (T(direct_activation)(act, zi + h) - T(direct_activation)(act, zi - h)) / (2 * h);
            check_close("keras activation backward", PREC, act * 100 + i, d[i], fd,
                        RTOL > 1e-6 ? RTOL * 10 : 1e-8);
        }
    }
    check_true("gelu, swish and hard_silu need their input",
               nn_activation_needs_input(NN_GELU) && nn_activation_needs_input(NN_SWISH) &&
               nn_activation_needs_input(NN_HARD_SILU) && !nn_activation_needs_input(NN_ELU));
}

/* Keras's further losses on one row worked by hand: a = (0.5, 3), y = (0, 1).
 *   mae (0.5 + 2)/2 = 1.25; huber (delta 1) (0.125 + 1.5)/2 = 0.8125;
 *   hinge (labels -1, +1) (1.5 + 0)/2 = 0.75; squared hinge 2.25/2 = 1.125. */
static void T(check_keras_losses_example)(void) {
    real a[2] = {0.5, 3}, y[2] = {0, 1};
    check_close("mae hand example", PREC, 0, K(elementwise_loss_forward)(NN_LOSS_MAE, a, y, 1, 2, 1.0), 1.25, RTOL);
    check_close("huber hand example", PREC, 0, K(elementwise_loss_forward)(NN_LOSS_HUBER, a, y, 1, 2, 1.0), 0.8125, RTOL);
    check_close("hinge hand example", PREC, 0, K(elementwise_loss_forward)(NN_LOSS_HINGE, a, y, 1, 2, 1.0), 0.75, RTOL);
    check_close("squared hinge hand example", PREC, 0,
                K(elementwise_loss_forward)(NN_LOSS_SQUARED_HINGE, a, y, 1, 2, 1.0), 1.125, RTOL);
}

/* Cross-entropy values on examples small enough to work by hand. */
static void T(check_cross_entropy_example)(void) {
    /* Softmax CE, B=2, K=3, logits chosen as logs so the exponentials are integers:
     *   row 0: z = (0, ln 2, ln 5) -> e^z = (1, 2, 5), sum 8 -> p = (1/8, 1/4, 5/8);
     *          y = (0, 0, 1)  -> loss -ln(5/8) = ln 1.6 = 0.470003629245736
     *   row 1: z = (ln 3, ln 3, ln 2) -> e^z = (3, 3, 2), sum 8 -> p = (3/8, 3/8, 1/4);
     *          y = (1, 0, 0)  -> loss -ln(3/8) = ln(8/3) = 0.980829253011726
     *   total = ln(64/15) = 1.450832882257462 */
    real z[6] = {0, (real)log(2.0), (real)log(5.0), (real)log(3.0), (real)log(3.0), (real)log(2.0)};
    real y[6] = {0, 0, 1, 1, 0, 0};
    real p[6];
    static const double want_p[6] = {0.125, 0.25, 0.625, 0.375, 0.375, 0.25};
    for (int pass = 0; pass < 2; pass++) {
        /* eps = 0 (exact log-softmax) and the book's eps = 1e-10 (no p is
         * near the clip here, so both give the same value) */
        real eps = pass ? (real)1e-10 : 0;
        double loss = K(softmax_cross_entropy_forward)(p, z, y, 2, 3, (real)-HUGE_VAL, eps);
        check_close("softmax CE hand example loss", PREC, pass, loss, 1.450832882257462, RTOL);
        for (int i = 0; i < 6; i++) check_close("softmax CE hand example probs", PREC, i, p[i], want_p[i], RTOL);
    }

    /* Binary CE, n=2: z = (0, ln 3) -> p = (1/2, 3/4); y = (1, 0)
     *   loss = -ln(1/2) - ln(1 - 3/4) = ln 2 + ln 4 = ln 8 = 2.079441541679836 */
    real bz[2] = {0, (real)log(3.0)}, by[2] = {1, 0}, bp[2];
    double loss = K(binary_cross_entropy_forward)(bp, bz, by, 2, (real)-HUGE_VAL, 0);
    check_close("binary CE hand example loss", PREC, 0, loss, 2.079441541679836, RTOL);
    check_close("binary CE hand example probs", PREC, 0, bp[0], 0.5, RTOL);
    check_close("binary CE hand example probs", PREC, 1, bp[1], 0.75, RTOL);

    /* A confidently wrong logit z = -200 with y = 1:
     *   exact (eps = 0, no clip): max(z,0) - z y + ln(1 + e^-|z|) = 0 + 200 + ~0 = 200
     *   the book (zmin -100, eps 1e-10): p = sigmoid(-100) ~ 3.7e-44 clipped up
     *   to 1e-10 -> -ln(1e-10) = 23.025850929940457 (1e-10 as the precision
     *   holds it: in float32 that is 1.0000000133e-10, a 6e-10 relative change) */
    real wz[1] = {-200}, wy[1] = {1}, wp[1];
    loss = K(binary_cross_entropy_forward)(wp, wz, wy, 1, (real)-HUGE_VAL, 0);
    check_close("binary CE exact at z=-200", PREC, 0, loss, 200.0, RTOL);
    loss = K(binary_cross_entropy_forward)(wp, wz, wy, 1, (real)-100, (real)1e-10);
    check_close("binary CE book clip at z=-200", PREC, 0, loss, -log((double)(real)1e-10), RTOL);
}

static void T(check_all)(void) {
    T(check_dense)();
    T(check_activations)();
    T(check_cross_entropy_example)();
    T(check_keras_activations)();
    T(check_keras_losses_example)();
}

#undef K
#undef T
