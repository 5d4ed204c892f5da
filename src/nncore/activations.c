/* Activations, each a forward/backward pair. Derivatives are written from
 * the forward output a where the output determines them (as the book does:
 * sigmoid' = a(1-a)), so the backward pass of a dense layer needs no copy of
 * the pre-activation z. gelu, swish and hard_silu are not monotonic, so a
 * does not determine z: their backward takes the input z as well
 * (nn_activation_needs_input), and they run as activation stages, which keep
 * their input. Every out may alias its inp; every dinp may alias its dout.
 * Formulas and constants are Keras 3's (TensorFlow backend). */
#include "real.h"
#include "softmax_row.h"
#include "gemm_small.h"
#include "vlogistic_avx2.h"

/* out[i] = 1 / (1 + exp(-max(inp[i], zmin))). The book clips z at -100 so
 * exp(-z) cannot overflow in float64; pass -HUGE_VAL for no clip. On an
 * AVX2 CPU without AVX-512 the whole vectors go through the intrinsics of
 * vlogistic_avx2.h (the same bits, a shorter chain), the rest through
 * this loop. */
NN_VECTORISE
void NNF(sigmoid_forward)(real *out, const real *inp, int64_t n, real zmin) {
    int64_t i = 0;
#if NN_HAVE_VLOGISTIC_AVX2
    if (nn_small_gemm_variant() == NN_SMALL_GEMM_AVX2)
        i = NNF(vlogistic_array_avx2)(out, inp, n, zmin);
#endif
    for (; i < n; i++) {
        real z = inp[i];
        out[i] = R_LOGISTIC(z < zmin ? zmin : z);
    }
}

/* dinp[i] = dout[i] * a(1-a) */
NN_VECTORISE
void NNF(sigmoid_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * out[i] * ((real)1 - out[i]);
}

NN_VECTORISE
void NNF(tanh_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = R_TANH(inp[i]);
}

/* dinp[i] = dout[i] * (1 - a^2) */
NN_VECTORISE
void NNF(tanh_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * ((real)1 - out[i] * out[i]);
}

NN_VECTORISE
void NNF(relu_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : (real)0;
}

/* dinp[i] = dout[i] where a > 0, else 0 (the subgradient at 0 is taken as 0) */
NN_VECTORISE
void NNF(relu_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] = out[i] > 0 ? dout[i] : (real)0;
}

/* out[i] = exp(inp[i]) (the exponential output of a Poisson regression) */
NN_VECTORISE
void NNF(exp_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = R_VEXP(inp[i]);
}

/* dinp[i] = dout[i] * a: exp is its own derivative */
NN_VECTORISE
void NNF(exp_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * out[i];
}

/* out (B,K) = row-wise softmax of max(inp, zmin); equals exp(z)/sum(exp(z))
 * wherever that is finite. out may alias inp. */
NN_VECTORISE
void NNF(softmax_forward)(real *out, const real *inp, int B, int K, real zmin) {
    real zmax;
    for (int i = 0; i < B; i++)
        softmax_row(out + (int64_t)i * K, inp + (int64_t)i * K, K, zmin, &zmax);
}

/* dinp (B,K) = a * (dout - sum_k dout*a), the softmax Jacobian applied row by row */
void NNF(softmax_backward)(real *dinp, const real *dout, const real *out, int B, int K) {
    for (int i = 0; i < B; i++) {
        const real *g = dout + (int64_t)i * K;
        const real *a = out + (int64_t)i * K;
        real *d = dinp + (int64_t)i * K;
        real dot = 0;
        for (int k = 0; k < K; k++) dot += g[k] * a[k];
        for (int k = 0; k < K; k++) d[k] = a[k] * (g[k] - dot);
    }
}

/* ---- Keras's further activations --------------------------------------- */

/* elu (alpha 1): out = z for z > 0, else exp(z) - 1 (expm1: exact near 0). */
static void NNF(elu_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : R_EXPM1(inp[i]);
}

/* dinp = dout where a >= 0, else dout * (a + 1) (= exp(z)); TensorFlow's EluGrad */
NN_VECTORISE
static void NNF(elu_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] = out[i] < 0 ? dout[i] * (out[i] + (real)1) : dout[i];
}

/* selu: scale * z for z > 0, else scale * alpha * (exp(z) - 1), with
 * TensorFlow's constants (scale * alpha given as one constant, as there). */
#define SELU_SCALE ((real)1.0507009873554804934193349852946)
#define SELU_SCALE_ALPHA ((real)1.7580993408473768599402175208123)
static void NNF(selu_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        out[i] = inp[i] > 0 ? SELU_SCALE * inp[i] : SELU_SCALE_ALPHA * R_EXPM1(inp[i]);
}

/* dinp = dout * scale where a >= 0, else dout * (a + scale * alpha) (= scale alpha e^z) */
NN_VECTORISE
static void NNF(selu_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        dinp[i] = out[i] < 0 ? dout[i] * (out[i] + SELU_SCALE_ALPHA) : dout[i] * SELU_SCALE;
}

/* gelu, Keras's default exact form: out = z/2 * erfc(-z/sqrt 2) (= z Phi(z);
 * erfc rather than 1 + erf keeps the left tail accurate, as TensorFlow does). */
#define INV_SQRT2 ((real)0.70710678118654752440)
#define INV_SQRT_2PI ((real)0.39894228040143267794)
static void NNF(gelu_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        out[i] = (real)0.5 * inp[i] * R_ERFC(-inp[i] * INV_SQRT2);
}

/* dinp = dout * (Phi(z) + z phi(z)), phi the standard normal density; needs z */
static void NNF(gelu_backward)(real *dinp, const real *dout, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        real z = inp[i];
        real cdf = (real)0.5 * R_ERFC(-z * INV_SQRT2);
        real pdf = INV_SQRT_2PI * R_EXP((real)-0.5 * z * z);
        dinp[i] = dout[i] * (cdf + z * pdf);
    }
}

/* sigmoid(z) and 1 - sigmoid(z) from one exp(-|z|), which never overflows:
 * p = 1/(1 + e) = sigmoid(|z|), q = e p = sigmoid(-|z|). */
static inline void sigmoid_pair(real z, real *s, real *one_minus_s) {
    real e = R_VEXP(-R_FABS(z));
    real p = (real)1 / ((real)1 + e), q = e * p;
    *s = z >= 0 ? p : q;
    *one_minus_s = z >= 0 ? q : p;
}

/* swish = silu: out = z sigmoid(z) */
NN_VECTORISE
static void NNF(swish_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        real s, t;
        sigmoid_pair(inp[i], &s, &t);
        out[i] = inp[i] * s;
    }
}

/* dinp = dout * s (1 + z (1 - s)), s = sigmoid(z); needs z */
NN_VECTORISE
static void NNF(swish_backward)(real *dinp, const real *dout, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        real s, t;
        sigmoid_pair(inp[i], &s, &t);
        dinp[i] = dout[i] * (s * ((real)1 + inp[i] * t));
    }
}

/* leaky_relu with Keras's default for the name, negative_slope 0.2 */
#define LEAKY_SLOPE ((real)0.2)
NN_VECTORISE
static void NNF(leaky_relu_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] > 0 ? inp[i] : LEAKY_SLOPE * inp[i];
}

/* dinp = dout where a > 0, else 0.2 dout (z = 0 takes the slope, as TensorFlow) */
NN_VECTORISE
static void NNF(leaky_relu_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] = out[i] > 0 ? dout[i] : LEAKY_SLOPE * dout[i];
}

/* softplus: out = log(1 + exp(z)) = max(z, 0) + log1p(exp(-|z|)), exact for any z */
static void NNF(softplus_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        real z = inp[i];
        out[i] = (z > 0 ? z : (real)0) + R_LOG1P(R_VEXP(-R_FABS(z)));
    }
}

/* dinp = dout * sigmoid(z), and sigmoid(z) = 1 - exp(-a) = -expm1(-a) from
 * the output (expm1: accurate where a is tiny, i.e. for very negative z) */
static void NNF(softplus_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * -R_EXPM1(-out[i]);
}

/* softsign: out = z / (1 + |z|) */
NN_VECTORISE
static void NNF(softsign_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] / ((real)1 + R_FABS(inp[i]));
}

/* dinp = dout / (1 + |z|)^2 = dout (1 - |a|)^2 from the output */
NN_VECTORISE
static void NNF(softsign_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        real r = (real)1 - R_FABS(out[i]);
        dinp[i] = dout[i] * (r * r);
    }
}

/* hard_sigmoid, Keras 3's: relu6(z + 3) / 6 */
static inline real relu6(real t) { return t < 0 ? (real)0 : (t > 6 ? (real)6 : t); }

NN_VECTORISE
static void NNF(hard_sigmoid_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = relu6(inp[i] + (real)3) / (real)6;
}

/* dinp = dout / 6 where 0 < a < 1 (relu6's gradient is 0 at both kinks) */
NN_VECTORISE
static void NNF(hard_sigmoid_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        dinp[i] = out[i] > 0 && out[i] < 1 ? dout[i] / (real)6 : (real)0;
}

/* hard_silu = hard_swish: out = z * hard_sigmoid(z) */
NN_VECTORISE
static void NNF(hard_silu_forward)(real *out, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = inp[i] * (relu6(inp[i] + (real)3) / (real)6);
}

/* dinp = dout * (hard_sigmoid(z) + z/6 inside (-3, 3)) (the product rule, with
 * relu6's gradient 0 at its kinks, as TensorFlow differentiates it); needs z */
NN_VECTORISE
static void NNF(hard_silu_backward)(real *dinp, const real *dout, const real *inp, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        real z = inp[i], t = z + (real)3;
        real slope = t > 0 && t < 6 ? z / (real)6 : (real)0;
        dinp[i] = dout[i] * (relu6(t) / (real)6 + slope);
    }
}

/* ---- dispatch by enum nn_activation -------------------------------------- */

/* out (B,N) = act(inp (B,N)); softmax row-wise; zmin clips sigmoid and softmax only */
void NNF(activation_forward)(real *out, const real *inp, int B, int N, int act, real zmin) {
    int64_t n = (int64_t)B * N;
    switch (act) {
    case NN_SIGMOID: NNF(sigmoid_forward)(out, inp, n, zmin); break;
    case NN_TANH: NNF(tanh_forward)(out, inp, n); break;
    case NN_RELU: NNF(relu_forward)(out, inp, n); break;
    case NN_SOFTMAX: NNF(softmax_forward)(out, inp, B, N, zmin); break;
    case NN_EXP: NNF(exp_forward)(out, inp, n); break;
    case NN_ELU: NNF(elu_forward)(out, inp, n); break;
    case NN_SELU: NNF(selu_forward)(out, inp, n); break;
    case NN_GELU: NNF(gelu_forward)(out, inp, n); break;
    case NN_SWISH: NNF(swish_forward)(out, inp, n); break;
    case NN_LEAKY_RELU: NNF(leaky_relu_forward)(out, inp, n); break;
    case NN_SOFTPLUS: NNF(softplus_forward)(out, inp, n); break;
    case NN_SOFTSIGN: NNF(softsign_forward)(out, inp, n); break;
    case NN_HARD_SIGMOID: NNF(hard_sigmoid_forward)(out, inp, n); break;
    case NN_HARD_SILU: NNF(hard_silu_forward)(out, inp, n); break;
    default:
        if (out != inp)
            for (int64_t i = 0; i < n; i++) out[i] = inp[i];
    }
}

/* dinp (B,N) = dout (B,N) * act'(z), from the forward output out = act(z)
 * and, for the activations nn_activation_needs_input names, from the forward
 * input inp = z (NULL is allowed for the others). dinp may alias dout, out
 * or inp: every element is read before it is written. */
void NNF(activation_backward)(real *dinp, const real *dout, const real *out, const real *inp,
                              int B, int N, int act) {
    int64_t n = (int64_t)B * N;
    switch (act) {
    case NN_SIGMOID: NNF(sigmoid_backward)(dinp, dout, out, n); break;
    case NN_TANH: NNF(tanh_backward)(dinp, dout, out, n); break;
    case NN_RELU: NNF(relu_backward)(dinp, dout, out, n); break;
    case NN_SOFTMAX: NNF(softmax_backward)(dinp, dout, out, B, N); break;
    case NN_EXP: NNF(exp_backward)(dinp, dout, out, n); break;
    case NN_ELU: NNF(elu_backward)(dinp, dout, out, n); break;
    case NN_SELU: NNF(selu_backward)(dinp, dout, out, n); break;
    case NN_GELU: NNF(gelu_backward)(dinp, dout, inp, n); break;
    case NN_SWISH: NNF(swish_backward)(dinp, dout, inp, n); break;
    case NN_LEAKY_RELU: NNF(leaky_relu_backward)(dinp, dout, out, n); break;
    case NN_SOFTPLUS: NNF(softplus_backward)(dinp, dout, out, n); break;
    case NN_SOFTSIGN: NNF(softsign_backward)(dinp, dout, out, n); break;
    case NN_HARD_SIGMOID: NNF(hard_sigmoid_backward)(dinp, dout, out, n); break;
    case NN_HARD_SILU: NNF(hard_silu_backward)(dinp, dout, inp, n); break;
    default:
        if (dinp != dout)
            for (int64_t i = 0; i < n; i++) dinp[i] = dout[i];
    }
}
