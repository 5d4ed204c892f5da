/* Parameter updates over flat vectors, and the book's weight penalty. */
#include "real.h"

/* l1 * sum|w| + l2/2 * sum w^2 */
double NNF(l1_l2_penalty_forward)(const real *weight, int64_t n, double l1, double l2) {
    double a = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        a += R_FABS(weight[i]);
        s += (double)weight[i] * weight[i];
    }
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

/* param -= lr * grad */
NN_VECTORISE
void NNF(sgd_update)(real *param, const real *grad, int64_t n, real lr) {
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
