/* Parameter updates over flat vectors, and the book's weight penalty. */
#include <string.h>
#include "real.h"

/* sum |v| and sum v^2 over n values, in double, in SUM_LANES interleaved
 * partial sums (element i into lane i mod SUM_LANES) added up in a fixed
 * tree at the end: a fixed order, so the same bits on every thread count
 * and CPU, and independent chains (a single chain took ~4 cycles a value:
 * 0.3 ms a batch for the 235,146 weights of scikit-learn's Fashion-MNIST
 * network, on thread 0 while the others waited). The lanes are written as
 * two 4-wide vectors: GCC left the array-of-lanes form scalar, every add a
 * separate instruction with sums spilled to the stack (79,400 float32
 * weights, Keras's chapter-7 model with an L2 regularizer, whose penalty
 * enters every batch's loss: 40 us, a quarter of the batch, on thread 0). */
enum { SUM_LANES = 8 };
typedef double sum_vec __attribute__((vector_size(4 * sizeof(double))));
typedef long long sum_bits __attribute__((vector_size(4 * sizeof(long long))));

/* lo, hi = the eight values at p, widened to double, as two 4-wide vectors
 * (a macro: a function returning a 32-byte vector changes the ABI in the
 * build without AVX). Float32 is loaded as one 8-wide vector and split:
 * as two 4-wide loads GCC built one of them as a partial load merging into
 * the register's old value (79,400 weights: 22.7 us, split 20.7 us; float64
 * 12.3 us, its values needing no conversion). */
#if defined(NN_REAL_FLOAT)
typedef float eight_reals __attribute__((vector_size(8 * sizeof(float))));
#define EIGHT_VALUES(lo, hi, p)                                                          \
    do {                                                                                 \
        eight_reals f_;                                                                  \
        memcpy(&f_, (p), sizeof f_);                                                     \
        (lo) = __builtin_convertvector(__builtin_shufflevector(f_, f_, 0, 1, 2, 3), sum_vec); \
        (hi) = __builtin_convertvector(__builtin_shufflevector(f_, f_, 4, 5, 6, 7), sum_vec); \
    } while (0)
#else
#define EIGHT_VALUES(lo, hi, p)                                                          \
    do {                                                                                 \
        memcpy(&(lo), (p), sizeof(lo));                                                  \
        memcpy(&(hi), (p) + 4, sizeof(hi));                                              \
    } while (0)
#endif

NN_VECTORISE
static void NNF(abs_and_square_sums)(const real *v, int64_t n, double *abs_sum,
                                     double *sq_sum) {
    const sum_vec sign = {-0.0, -0.0, -0.0, -0.0};
    sum_vec a0 = {0}, a1 = {0}, s0 = {0}, s1 = {0}; /* lanes 0-3 and 4-7 */
    int64_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES) {
        sum_vec x0, x1;
        EIGHT_VALUES(x0, x1, v + i);
        /* |x| by clearing the sign bit, as fabs does */
        a0 += (sum_vec)((sum_bits)x0 & ~(sum_bits)sign);
        a1 += (sum_vec)((sum_bits)x1 & ~(sum_bits)sign);
        s0 += x0 * x0;
        s1 += x1 * x1;
    }
    double a[SUM_LANES], s[SUM_LANES];
    memcpy(a, &a0, sizeof a0);
    memcpy(a + 4, &a1, sizeof a1);
    memcpy(s, &s0, sizeof s0);
    memcpy(s + 4, &s1, sizeof s1);
    for (int k = 0; i + k < n; k++) {
        double x = v[i + k];
        a[k] += fabs(x);
        s[k] += x * x;
    }
    *abs_sum = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    *sq_sum = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* l1 * sum|w| + l2/2 * sum w^2 */
double NNF(l1_l2_penalty_forward)(const real *weight, int64_t n, double l1, double l2) {
    double a, s;
    NNF(abs_and_square_sums)(weight, n, &a, &s);
    return l1 * a + l2 / 2 * s;
}

/* dweight += (l1 sign(w) + l2 w) * inv_m, the book's per-batch penalty gradient */
NN_VECTORISE
void NNF(l1_l2_penalty_backward)(real *dweight, const real *weight, int64_t n,
                                 real l1, real l2, real inv_m) {
    if (l1 == 0) { /* the common L2-only case, without the sign */
        real c = l2 * inv_m;
        for (int64_t i = 0; i < n; i++) dweight[i] += c * weight[i];
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        real w = weight[i];
        real sign = (real)((w > 0) - (w < 0));
        dweight[i] += (l1 * sign + l2 * w) * inv_m;
    }
}

/* param -= lr * grad, or with grad2 (not NULL) param -= lr * (grad + grad2):
 * the gradient of a batch whose two row blocks' gradients are summed here,
 * in the update, rather than in a pass of their own before it (the same
 * sum, rounded the same, one read and one write of the whole gradient
 * fewer per batch). */
NN_VECTORISE
void NNF(sgd_update)(real *param, const real *grad, const real *grad2, int64_t n, real lr) {
    if (grad2)
        for (int64_t i = 0; i < n; i++) param[i] -= lr * (grad[i] + grad2[i]);
    else
        for (int64_t i = 0; i < n; i++) param[i] -= lr * grad[i];
}

/* Keras's SGD with momentum: v = momentum v - lr g;
 * param += v, or with Nesterov param += momentum v - lr g. */
NN_VECTORISE
void NNF(sgd_momentum_update)(real *param, real *velocity, const real *grad, int64_t n,
                              real lr, real momentum, int nesterov) {
    for (int64_t i = 0; i < n; i++) {
        real v = momentum * velocity[i] - lr * grad[i];
        velocity[i] = v;
        param[i] += nesterov ? momentum * v - lr * grad[i] : v;
    }
}

/* Adam (Kingma & Ba, in Keras's form), step = 1 on the first update:
 * m += (1-b1)(g - m); v += (1-b2)(g^2 - v);
 * param -= lr sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + epsilon). */
NN_VECTORISE
void NNF(adam_update)(real *param, real *m, real *v, const real *grad, int64_t n,
                      real lr, real beta1, real beta2, real epsilon, int64_t step) {
    double t = (double)step;
    real alpha = (real)(lr * sqrt(1.0 - pow(beta2, t)) / (1.0 - pow(beta1, t)));
    for (int64_t i = 0; i < n; i++) {
        real g = grad[i];
        m[i] += ((real)1 - beta1) * (g - m[i]);
        v[i] += ((real)1 - beta2) * (g * g - v[i]);
        param[i] -= alpha * m[i] / (R_SQRT(v[i]) + epsilon);
    }
}

/* RMSprop in Keras's form: v = rho v + (1-rho) g^2; param -= lr g / sqrt(v + epsilon). */
NN_VECTORISE
void NNF(rmsprop_update)(real *param, real *velocity, const real *grad, int64_t n,
                         real lr, real rho, real epsilon) {
    for (int64_t i = 0; i < n; i++) {
        real g = grad[i];
        velocity[i] = rho * velocity[i] + ((real)1 - rho) * g * g;
        param[i] -= lr * g / R_SQRT(velocity[i] + epsilon);
    }
}

/* Adagrad in Keras's form: acc += g^2; param -= lr g / sqrt(acc + epsilon)
 * (acc starts at the optimizer's initial_accumulator_value). */
NN_VECTORISE
void NNF(adagrad_update)(real *param, real *accumulator, const real *grad, int64_t n,
                         real lr, real epsilon) {
    for (int64_t i = 0; i < n; i++) {
        real g = grad[i];
        accumulator[i] += g * g;
        param[i] -= lr * g / R_SQRT(accumulator[i] + epsilon);
    }
}

/* Adadelta in Keras's form: ag = rho ag + (1-rho) g^2;
 * d = -sqrt(ad + epsilon) g / sqrt(ag + epsilon); ad = rho ad + (1-rho) d^2;
 * param += lr d. */
NN_VECTORISE
void NNF(adadelta_update)(real *param, real *acc_grad, real *acc_delta, const real *grad,
                          int64_t n, real lr, real rho, real epsilon) {
    for (int64_t i = 0; i < n; i++) {
        real g = grad[i];
        acc_grad[i] = rho * acc_grad[i] + ((real)1 - rho) * (g * g);
        real d = -(R_SQRT(acc_delta[i] + epsilon) * g / R_SQRT(acc_grad[i] + epsilon));
        acc_delta[i] = rho * acc_delta[i] + ((real)1 - rho) * (d * d);
        param[i] += lr * d;
    }
}

/* Adamax in Keras's form (step = 1 on the first update): m += (g - m)(1-b1);
 * u = max(b2 u, |g|); param -= lr m / ((1 - b1^t)(u + epsilon)). */
NN_VECTORISE
void NNF(adamax_update)(real *param, real *m, real *u, const real *grad, int64_t n,
                        real lr, real beta1, real beta2, real epsilon, int64_t step) {
    real correction = (real)1 - (real)pow(beta1, (double)step);
    for (int64_t i = 0; i < n; i++) {
        real g = grad[i];
        m[i] += (g - m[i]) * ((real)1 - beta1);
        real decayed = beta2 * u[i], a = R_FABS(g);
        u[i] = decayed > a ? decayed : a;
        param[i] -= lr * m[i] / (correction * (u[i] + epsilon));
    }
}

/* Nadam in Keras's form (step = 1 on the first update), with the momentum
 * schedule u_k = b1 (1 - 0.5 * 0.96^k): u_product_t = u_1 ... u_t and
 * u_product_t1 = u_product_t u_{t+1}, formed by the caller.
 * m += (g - m)(1-b1); v += (g^2 - v)(1-b2);
 * param -= lr (u_{t+1} m / (1 - u_product_t1) + (1 - u_t) g / (1 - u_product_t))
 *          / (sqrt(v / (1 - b2^t)) + epsilon). */
NN_VECTORISE
void NNF(nadam_update)(real *param, real *m, real *v, const real *grad, int64_t n,
                       real lr, real beta1, real beta2, real epsilon, int64_t step,
                       real u_product_t, real u_product_t1) {
    real u_t = beta1 * ((real)1 - (real)0.5 * (real)pow(0.96, (double)step));
    real u_t1 = beta1 * ((real)1 - (real)0.5 * (real)pow(0.96, (double)(step + 1)));
    real beta2_power = (real)pow(beta2, (double)step);
    for (int64_t i = 0; i < n; i++) {
        real g = grad[i];
        m[i] += (g - m[i]) * ((real)1 - beta1);
        v[i] += (g * g - v[i]) * ((real)1 - beta2);
        real m_hat = u_t1 * m[i] / ((real)1 - u_product_t1) +
                     ((real)1 - u_t) * g / ((real)1 - u_product_t);
        real v_hat = v[i] / ((real)1 - beta2_power);
        param[i] -= m_hat * lr / (R_SQRT(v_hat) + epsilon);
    }
}

/* Keras's decoupled weight decay, applied before the update:
 * param -= param * weight_decay * lr. */
NN_VECTORISE
void NNF(weight_decay_update)(real *param, int64_t n, real weight_decay, real lr) {
    for (int64_t i = 0; i < n; i++) param[i] -= param[i] * weight_decay * lr;
}

/* Gradient clipping (Keras's clipnorm, global_clipnorm, clipvalue). */
double NNF(sum_of_squares)(const real *v, int64_t n) {
    double a, s;
    NNF(abs_and_square_sums)(v, n, &a, &s);
    return s;
}

NN_VECTORISE
void NNF(scale_values)(real *v, int64_t n, real factor) {
    for (int64_t i = 0; i < n; i++) v[i] *= factor;
}

NN_VECTORISE
void NNF(clip_values)(real *v, int64_t n, real limit) {
    for (int64_t i = 0; i < n; i++) v[i] = v[i] < -limit ? -limit : v[i] > limit ? limit : v[i];
}
