/* Activations, each a forward/backward pair. Derivatives are written from
 * the forward output a (as the book does: sigmoid' = a(1-a)), so the backward
 * pass needs no copy of the pre-activation z. Every out may alias its inp. */
#include "real.h"
#include "softmax_row.h"

/* out[i] = 1 / (1 + exp(-max(inp[i], zmin))). The book clips z at -100 so
 * exp(-z) cannot overflow in float64; pass -HUGE_VAL for no clip. */
NN_VECTORISE
void NNF(sigmoid_forward)(real *out, const real *inp, int64_t n, real zmin) {
    for (int64_t i = 0; i < n; i++) {
        real z = inp[i];
        z = z < zmin ? zmin : z;
        out[i] = (real)1 / ((real)1 + R_VEXP(-z));
    }
}

/* dinp[i] = dout[i] * a(1-a) */
NN_VECTORISE
void NNF(sigmoid_backward)(real *dinp, const real *dout, const real *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) dinp[i] = dout[i] * out[i] * ((real)1 - out[i]);
}

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

void NNF(activation_forward)(real *out, const real *inp, int B, int N, int act, real zmin) {
    int64_t n = (int64_t)B * N;
    switch (act) {
    case NN_SIGMOID: NNF(sigmoid_forward)(out, inp, n, zmin); break;
    case NN_TANH: NNF(tanh_forward)(out, inp, n); break;
    case NN_RELU: NNF(relu_forward)(out, inp, n); break;
    case NN_SOFTMAX: NNF(softmax_forward)(out, inp, B, N, zmin); break;
    case NN_EXP: NNF(exp_forward)(out, inp, n); break;
    default:
        if (out != inp)
            for (int64_t i = 0; i < n; i++) out[i] = inp[i];
    }
}

void NNF(activation_backward)(real *dinp, const real *dout, const real *out, int B, int N, int act) {
    int64_t n = (int64_t)B * N;
    switch (act) {
    case NN_SIGMOID: NNF(sigmoid_backward)(dinp, dout, out, n); break;
    case NN_TANH: NNF(tanh_backward)(dinp, dout, out, n); break;
    case NN_RELU: NNF(relu_backward)(dinp, dout, out, n); break;
    case NN_SOFTMAX: NNF(softmax_backward)(dinp, dout, out, B, N); break;
    case NN_EXP: NNF(exp_backward)(dinp, dout, out, n); break;
    default:
        if (dinp != dout)
            for (int64_t i = 0; i < n; i++) dinp[i] = dout[i];
    }
}
