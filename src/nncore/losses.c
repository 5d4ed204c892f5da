/* Output losses. Why the output error is simply a - y: for sigmoid + binary
 * cross-entropy, softmax + categorical cross-entropy, exp + Poisson deviance
 * (and identity + squared error), dL/dz collapses to (a - y) because the activation's derivative
 * cancels against the loss's 1/a terms. So the fused pairs below never form
 * dL/da at all. Loss values are accumulated in double in both precisions. */
#include "real.h"
#include "softmax_row.h"
#include "vlog.h"

/* The log terms of a loss are formed in blocks of LOG_BLOCK into a stack
 * buffer by a loop that vectorises (vlog_f64), then added one by one in
 * element order, so the sum's rounding is the plain sequential one. */
enum { LOG_BLOCK = 256 };

static inline double clamp_prob(double p, double eps) {
    return p < eps ? eps : (p > 1.0 - eps ? 1.0 - eps : p);
}

/* total - sum_j t[j] log(p[j]) over n gathered terms, added one by one in
 * order (p is overwritten) */
static inline double subtract_log_terms(double total, double *p, const double *t, int n) {
    for (int j = 0; j < n; j++) p[j] = t[j] * vlog_f64(p[j]);
    for (int j = 0; j < n; j++) total -= p[j];
    return total;
}

/* probs (B,K) = softmax(max(logits, zmin)), overwritten; logits may alias probs.
 * Returns the sum over rows of -sum_k y log p:
 *   eps > 0: p clipped to [eps, 1-eps] first (the book's 1e-10 guard);
 *   eps = 0: log p = z - logsumexp(z), exact even for huge logits. */
NN_VECTORISE
double NNF(softmax_cross_entropy_forward)(real *probs, const real *logits, const real *y,
                                          int B, int K, real zmin, real eps) {
    double total = 0;
    if (eps > 0) {
        /* Only the nonzero targets' terms are formed: a zero target weighs a
         * finite log by 0, so skipping it changes no bit of the sum. Their
         * clipped probabilities are gathered across rows and their logs taken
         * LOG_BLOCK at a time: a one-hot row has one, and a loop over each
         * row's K logs (nine of ten of them wasted for ten classes) was most
         * of this kernel's time. */
        double pk[LOG_BLOCK], tk[LOG_BLOCK];
        int n = 0;
        for (int i = 0; i < B; i++) {
            const real *t = y + (int64_t)i * K;
            real *p = probs + (int64_t)i * K, zmax;
            softmax_row(p, logits + (int64_t)i * K, K, zmin, &zmax);
            for (int k = 0; k < K; k++) {
                if (t[k] == 0) continue;
                if (n == LOG_BLOCK) {
                    total = subtract_log_terms(total, pk, tk, n);
                    n = 0;
                }
                pk[n] = clamp_prob(p[k], eps);
                tk[n++] = t[k];
            }
        }
        return subtract_log_terms(total, pk, tk, n);
    }
    for (int i = 0; i < B; i++) {
        const real *z = logits + (int64_t)i * K;
        const real *t = y + (int64_t)i * K;
        real *p = probs + (int64_t)i * K;
        /* sum_k y_k z_k is taken before p (possibly the same memory as z) is
         * written; shifting by the row maximum later subtracts ysum * zmax */
        double yz = 0, ysum = 0;
        for (int k = 0; k < K; k++) {
            real zk = z[k] < zmin ? zmin : z[k];
            yz += (double)t[k] * zk;
            ysum += t[k];
        }
        real zmax;
        real sum = softmax_row(p, z, K, zmin, &zmax);
        yz -= ysum * (double)zmax;
        total += ysum * log((double)sum) - yz;
    }
    return total;
}

/* probs (n) = sigmoid(max(logits, zmin)), overwritten; logits may alias probs.
 * Returns sum of -(y log p + (1-y) log(1-p)):
 *   eps > 0: p clipped to [eps, 1-eps] first (the book);
 *   eps = 0: max(z,0) - z y + log(1 + exp(-|z|)), exact for any z. */
NN_VECTORISE
double NNF(binary_cross_entropy_forward)(real *probs, const real *logits, const real *y,
                                         int64_t n, real zmin, real eps) {
    double total = 0;
    if (eps == 0) { /* from the logits, read before probs (maybe the same memory) is written */
        for (int64_t i = 0; i < n; i++) {
            double z = logits[i] < zmin ? zmin : logits[i];
            total += (z > 0 ? z : 0) - z * (double)y[i] + log1p(exp(-fabs(z)));
        }
    }
    NNF(sigmoid_forward)(probs, logits, n, zmin);
    if (eps > 0) {
        double term[LOG_BLOCK];
        for (int64_t i0 = 0; i0 < n; i0 += LOG_BLOCK) {
            int w = n - i0 < LOG_BLOCK ? (int)(n - i0) : LOG_BLOCK;
            const real *p = probs + i0, *t = y + i0;
            int soft = 0; /* any label other than 0 and 1 in this block */
            for (int i = 0; i < w; i++) {
                /* 0/1 labels need one log: the other term is 0 times a finite log */
                double pc = clamp_prob(p[i], eps);
                term[i] = vlog_f64(t[i] == 0 ? 1.0 - pc : pc);
                soft |= t[i] != 0 && t[i] != 1;
            }
            if (soft)
                for (int i = 0; i < w; i++)
                    if (t[i] != 0 && t[i] != 1) {
                        double pc = clamp_prob(p[i], eps), ti = t[i];
                        term[i] = ti * vlog_f64(pc) + (1.0 - ti) * vlog_f64(1.0 - pc);
                    }
            for (int i = 0; i < w; i++) total -= term[i];
        }
    }
    return total;
}

/* dlogits = scale * (probs - y), for sigmoid+BCE and softmax+CE alike.
 * scale is 1/m for a batch mean. dlogits may alias probs. */
NN_VECTORISE
void NNF(cross_entropy_backward)(real *dlogits, const real *probs, const real *y,
                                 int64_t n, real scale) {
    for (int64_t i = 0; i < n; i++) dlogits[i] = scale * (probs[i] - y[i]);
}

/* Sum over rows of mean_k (out - y)^2 (Keras's mse, summed over the batch). */
double NNF(mse_forward)(const real *out, const real *y, int B, int K) {
    double total = 0;
    for (int i = 0; i < B; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) {
            double d = (double)out[(int64_t)i * K + k] - y[(int64_t)i * K + k];
            s += d * d;
        }
        total += s / K;
    }
    return total;
}

/* dout = scale * 2 (out - y); scale is 1/(m K) for the batch mean of mse. */
NN_VECTORISE
void NNF(mse_backward)(real *dout, const real *out, const real *y, int64_t n, real scale) {
    for (int64_t i = 0; i < n; i++) dout[i] = scale * (real)2 * (out[i] - y[i]);
}

/* Sum over rows and outputs of half the Poisson deviance,
 * y log(y / a) - y + a (y log(y / a) taken as 0 where y = 0), for a = exp(z).
 * Its gradient in z is a - y: see cross_entropy_backward. */
double NNF(poisson_forward)(const real *out, const real *y, int B, int K) {
    double total = 0;
    for (int64_t i = 0; i < (int64_t)B * K; i++) {
        double t = y[i], a = out[i];
        total += (t != 0 ? t * log(t / a) : 0.0) - t + a;
    }
    return total;
}

/* ---- Keras's further regression and margin losses ------------------------
 * Each is Keras 3's definition: mae, mape, huber, log_cosh, hinge and
 * squared_hinge take the mean over a row's K outputs, kl_divergence the sum.
 * Values are formed in double (both precisions), gradients dL/da in the
 * array's precision. */

/* Keras's backend.epsilon(): mape's and kl_divergence's guard */
#define KERAS_EPSILON 1e-7

/* Hinge labels: Keras turns 0/1 labels into -1/+1 (2y - 1) when a batch's
 * labels are all 0 or 1 and leaves them alone otherwise. Here a label 0 is
 * read as -1 and every other label as it is, which is the same for 0/1 and
 * for -1/+1 labels, and the same for every row split of a batch (Keras's
 * rule depends on the whole batch only for labels mixing 0 with values
 * other than 1). */
static inline double hinge_label(double y) { return y == 0 ? -1.0 : y; }

/* log(cosh(x)) without cancellation: for |x| < 1 as log1p(cosh x - 1) with
 * cosh x - 1 = em^2 / (2 (1 + em)), em = expm1(|x|); beyond, as
 * |x| + log1p(exp(-2|x|)) - log 2 (Keras's formula; its log 2 is rounded to
 * float32 unless floatx is float64, nnbook keeps log 2 exact). */
static inline double log_cosh(double x) {
    double ax = fabs(x);
    if (ax < 1.0) {
        double em = expm1(ax);
        return log1p(em * em / (2.0 * (1.0 + em)));
    }
    return ax + log1p(exp(-2.0 * ax)) - 0.69314718055994530942;
}

/* One element's loss term l(a, y) of an elementwise loss (huber: delta). */
static inline double loss_term(int loss, double a, double y, double delta, double eps) {
    switch (loss) {
    case NN_LOSS_MAE: return fabs(a - y);
    case NN_LOSS_MAPE: return 100.0 * fabs((y - a) / fmax(fabs(y), eps));
    case NN_LOSS_HUBER: {
        double e = fabs(a - y);
        return e <= delta ? 0.5 * e * e : delta * e - 0.5 * delta * delta;
    }
    case NN_LOSS_LOG_COSH: return log_cosh(a - y);
    case NN_LOSS_KLD: {
        /* y and a clipped to [eps, 1]: a zero label adds eps log(eps / a) */
        double t = y < eps ? eps : (y > 1 ? 1 : y), p = a < eps ? eps : (a > 1 ? 1 : a);
        return t * log(t / p);
    }
    case NN_LOSS_HINGE: return fmax(1.0 - hinge_label(y) * a, 0.0);
    case NN_LOSS_SQUARED_HINGE: {
        double h = fmax(1.0 - hinge_label(y) * a, 0.0);
        return h * h;
    }
    default: return 0.0;
    }
}

/* Sum over the B rows of `loss` between out (B,K) and y (B,K): per row the
 * mean of its K terms, or their sum for kl_divergence. */
double NNF(elementwise_loss_forward)(int loss, const real *out, const real *y, int B, int K,
                                     double huber_delta) {
    const double eps = (double)(real)KERAS_EPSILON; /* the constant in the array's precision */
    double total = 0;
    for (int i = 0; i < B; i++) {
        const real *a = out + (int64_t)i * K, *t = y + (int64_t)i * K;
        double s = 0;
        for (int k = 0; k < K; k++) s += loss_term(loss, a[k], t[k], huber_delta, eps);
        total += loss == NN_LOSS_KLD ? s : s / K;
    }
    return total;
}

/* dout (n) = scale * dl/da of `loss`'s term at (out, y): scale is 1/(m K) for
 * a batch mean of a mean over K, 1/m for kl_divergence. At kinks the
 * gradient is TensorFlow's: |.|' (0) = 0; the hinge's max(u, 0) passes u's
 * gradient at u = 0; huber takes the quadratic branch at |e| = delta; a
 * clip passes the gradient at its bounds. dout may alias out. */
NN_VECTORISE
void NNF(elementwise_loss_backward)(int loss, real *dout, const real *out, const real *y,
                                    int64_t n, real scale, real huber_delta) {
    const real eps = (real)KERAS_EPSILON, one = 1, zero = 0;
    switch (loss) {
    case NN_LOSS_MAE:
        for (int64_t i = 0; i < n; i++) {
            real d = out[i] - y[i];
            dout[i] = scale * (d > 0 ? one : (d < 0 ? -one : zero));
        }
        break;
    case NN_LOSS_MAPE:
        for (int64_t i = 0; i < n; i++) {
            real d = out[i] - y[i], ay = R_FABS(y[i]);
            real sign = d > 0 ? one : (d < 0 ? -one : zero);
            dout[i] = scale * ((real)100 * sign / (ay > eps ? ay : eps));
        }
        break;
    case NN_LOSS_HUBER:
        for (int64_t i = 0; i < n; i++) {
            real e = out[i] - y[i];
            real g = R_FABS(e) <= huber_delta ? e : (e > 0 ? huber_delta : -huber_delta);
            dout[i] = scale * g;
        }
        break;
    case NN_LOSS_LOG_COSH: /* d/dx log cosh x = tanh x */
        for (int64_t i = 0; i < n; i++) dout[i] = scale * R_TANH(out[i] - y[i]);
        break;
    case NN_LOSS_KLD: /* d/da of t log(t / a) = -t / a inside the clip */
        for (int64_t i = 0; i < n; i++) {
            real t = y[i] < eps ? eps : (y[i] > one ? one : y[i]), a = out[i];
            dout[i] = a >= eps && a <= one ? scale * (-t / a) : zero;
        }
        break;
    case NN_LOSS_HINGE:
        for (int64_t i = 0; i < n; i++) {
            real t = y[i] == 0 ? -one : y[i];
            dout[i] = one - t * out[i] >= 0 ? scale * -t : zero;
        }
        break;
    case NN_LOSS_SQUARED_HINGE:
        for (int64_t i = 0; i < n; i++) {
            real t = y[i] == 0 ? -one : y[i], h = one - t * out[i];
            dout[i] = h > 0 ? scale * ((real)-2 * t * h) : zero;
        }
        break;
    default:
        for (int64_t i = 0; i < n; i++) dout[i] = zero;
    }
}

/* ---- the output layer: activation, loss and its gradient ------------------ */

/* The activation the loss is taken through: the last layer's. */
static inline int output_activation(const nn_config *cfg) {
    return cfg->activations[cfg->n_layers - 1];
}

/* a (m,K): the last layer's logits, overwritten by its activations. With y
 * (m,K) returns the rows' loss sum (each row's loss as Keras forms it), else
 * 0. Cross-entropies are fused with their activation (see the top of this
 * file); binary cross-entropy is averaged over a row's K units (Keras's
 * multi-label form). */
double NNF(output_loss_forward)(const nn_config *cfg, real *a, const real *y, int m) {
    int K = cfg->sizes[cfg->n_layers], act = output_activation(cfg);
    real zmin = (real)cfg->zmin, eps = (real)cfg->eps;
    if (y && cfg->loss == NN_LOSS_CE)
        return NNF(softmax_cross_entropy_forward)(a, a, y, m, K, zmin, eps);
    if (y && cfg->loss == NN_LOSS_BCE) /* per sample: the mean over its K units */
        return NNF(binary_cross_entropy_forward)(a, a, y, (int64_t)m * K, zmin, eps) / K;
    NNF(activation_forward)(a, a, m, K, act, zmin);
    if (!y) return 0.0;
    switch (cfg->loss) {
    case NN_LOSS_MSE: return NNF(mse_forward)(a, y, m, K);
    case NN_LOSS_POISSON: return NNF(poisson_forward)(a, y, m, K);
    default: return NNF(elementwise_loss_forward)(cfg->loss, a, y, m, K, cfg->huber_delta);
    }
}

/* delta (mt,K) = dL/dz of the last layer's logits for mt rows of a batch of
 * m rows, whose loss is the mean over its rows (the 1/m folded in); a (mt,K)
 * are the output activations, y (mt,K) the targets. delta must not alias a
 * (the activation's backward reads a after delta is written). */
void NNF(output_loss_backward)(const nn_config *cfg, real *delta, const real *a, const real *y,
                               int mt, double m) {
    const int K = cfg->sizes[cfg->n_layers];
    const int64_t n = (int64_t)mt * K;
    switch (cfg->loss) {
    case NN_LOSS_BCE: /* the fused pairs: dL/dz = (a - y) / m, / K for the mean over units */
        NNF(cross_entropy_backward)(delta, a, y, n, (real)(1.0 / (m * K)));
        return;
    case NN_LOSS_CE:
    case NN_LOSS_POISSON:
        NNF(cross_entropy_backward)(delta, a, y, n, (real)(1.0 / m));
        return;
    case NN_LOSS_MSE:
        NNF(mse_backward)(delta, a, y, n, (real)(1.0 / (m * K)));
        break;
    default: /* dL/da, then through the activation */
        NNF(elementwise_loss_backward)(cfg->loss, delta, a, y, n,
                                       (real)(1.0 / (cfg->loss == NN_LOSS_KLD ? m : m * K)),
                                       (real)cfg->huber_delta);
    }
    NNF(activation_backward)(delta, delta, a, NULL, mt, K, output_activation(cfg));
}
