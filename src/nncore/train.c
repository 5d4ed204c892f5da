/* Whole passes over a data set: one epoch of mini-batch training, and a
 * batched forward pass (prediction, validation loss). Everything runs on
 * caller-owned buffers; nothing is allocated here. */
#include <string.h>
#include "real.h"

typedef struct {
    real *grads, *xbuf, *ybuf, *acts[NN_MAX_LAYERS], *delta[2];
    int64_t w_off[NN_MAX_LAYERS], b_off[NN_MAX_LAYERS];
} scratch;

static void carve(const nn_config *cfg, real *work, int max_rows, scratch *s) {
    int L = cfg->n_layers, widest = 0;
    real *at = work;
    s->grads = at;
    at += nn_param_count(cfg);
    s->xbuf = at;
    at += (int64_t)max_rows * cfg->sizes[0];
    s->ybuf = at;
    at += (int64_t)max_rows * cfg->sizes[L];
    for (int l = 0; l < L; l++) {
        s->acts[l] = at;
        at += (int64_t)max_rows * cfg->sizes[l + 1];
        if (cfg->sizes[l + 1] > widest) widest = cfg->sizes[l + 1];
    }
    s->delta[0] = at;
    s->delta[1] = at + (int64_t)max_rows * widest;
    nn_param_offsets(cfg, s->w_off, s->b_off);
}

#define BIAS(base, s, l) ((s)->b_off[l] < 0 ? NULL : (base) + (s)->b_off[l])

/* Forward through every layer; the last layer is left as logits (z), its
 * activation applied by the caller (fused with the loss, or not). */
static void forward_layers(const nn_config *cfg, const real *params, const scratch *s,
                           const real *xb, int m) {
    const real *inp = xb;
    for (int l = 0; l < cfg->n_layers; l++) {
        int act = l == cfg->n_layers - 1 ? NN_LINEAR : cfg->activations[l];
        NNF(dense_forward)(s->acts[l], inp, params + s->w_off[l], BIAS(params, s, l),
                           m, cfg->sizes[l], cfg->sizes[l + 1], act, (real)cfg->zmin);
        inp = s->acts[l];
    }
}

/* Turns the last layer's logits into activations in place and, when y is
 * given, returns the batch's loss sum. */
static double output_layer(const nn_config *cfg, real *a, const real *y, int m) {
    int K = cfg->sizes[cfg->n_layers], act = cfg->activations[cfg->n_layers - 1];
    real zmin = (real)cfg->zmin, eps = (real)cfg->eps;
    if (y && cfg->loss == NN_LOSS_CE)
        return NNF(softmax_cross_entropy_forward)(a, a, y, m, K, zmin, eps);
    if (y && cfg->loss == NN_LOSS_BCE)
        return NNF(binary_cross_entropy_forward)(a, a, y, (int64_t)m * K, zmin, eps);
    NNF(activation_forward)(a, a, m, K, act, zmin);
    return y ? NNF(mse_forward)(a, y, m, K) : 0.0;
}

static void optimizer_step(const nn_config *cfg, real *params, real *opt_state,
                           const real *grads, int64_t P, int64_t step) {
    real lr = (real)cfg->learning_rate;
    switch (cfg->optimizer) {
    case NN_OPT_MOMENTUM:
        NNF(sgd_momentum_update)(params, opt_state, grads, P, lr, (real)cfg->momentum,
                                 cfg->nesterov);
        break;
    case NN_OPT_ADAM:
        NNF(adam_update)(params, opt_state, opt_state + P, grads, P, lr, (real)cfg->beta1,
                         (real)cfg->beta2, (real)cfg->epsilon, step);
        break;
    case NN_OPT_RMSPROP:
        NNF(rmsprop_update)(params, opt_state, grads, P, lr, (real)cfg->rho,
                            (real)cfg->epsilon);
        break;
    default:
        NNF(sgd_update)(params, grads, P, lr);
    }
}

/* One epoch on carved scratch: for each batch (rows perm[start:start+m], or
 * consecutive rows when perm is NULL): forward, loss, backward, penalty, one
 * optimizer step. Returns the sum of every batch's loss terms, each taken on
 * that batch's activations before its update. */
static double run_epoch(const nn_config *cfg, const scratch *s, real *params, real *opt_state,
                        const real *x, const real *y, int64_t n, const int64_t *perm,
                        int batch_size, int64_t *step) {
    const int L = cfg->n_layers, F = cfg->sizes[0], K = cfg->sizes[L];
    const int64_t P = nn_param_count(cfg);
    double total = 0;

    for (int64_t start = 0; start < n; start += batch_size) {
        int m = (int)(n - start < batch_size ? n - start : batch_size);
        const real *xb = x + start * F, *yb = y + start * K;
        if (perm) {
            for (int i = 0; i < m; i++) {
                int64_t r = perm[start + i];
                memcpy(s->xbuf + (int64_t)i * F, x + r * F, sizeof(real) * F);
                memcpy(s->ybuf + (int64_t)i * K, y + r * K, sizeof(real) * K);
            }
            xb = s->xbuf;
            yb = s->ybuf;
        }

        forward_layers(cfg, params, s, xb, m);
        real *a_out = s->acts[L - 1];
        total += output_layer(cfg, a_out, yb, m);

        /* delta = dL/dz of the last layer, with the batch mean's 1/m folded in */
        real *delta = s->delta[0], *spare = s->delta[1];
        if (cfg->loss == NN_LOSS_MSE) {
            NNF(mse_backward)(delta, a_out, yb, (int64_t)m * K, (real)(1.0 / ((double)m * K)));
            NNF(activation_backward)(delta, delta, a_out, m, K, cfg->activations[L - 1]);
        } else {
            NNF(cross_entropy_backward)(delta, a_out, yb, (int64_t)m * K, (real)(1.0 / m));
        }
        /* all gradients are formed before any weight moves, so the hidden
         * error uses each W as it was in the forward pass */
        for (int l = L - 1; l >= 0; l--) {
            const real *inp = l ? s->acts[l - 1] : xb;
            real *dinp = l ? spare : NULL;
            NNF(dense_backward)(dinp, s->grads + s->w_off[l], BIAS(s->grads, s, l), delta, inp,
                                params + s->w_off[l], m, cfg->sizes[l], cfg->sizes[l + 1]);
            if (l) {
                NNF(activation_backward)(dinp, dinp, s->acts[l - 1], m, cfg->sizes[l],
                                         cfg->activations[l - 1]);
                spare = delta;
                delta = dinp;
            }
        }
        if (cfg->l1 != 0 || cfg->l2 != 0)
            for (int l = 0; l < L; l++)
                NNF(l1_l2_penalty_backward)(s->grads + s->w_off[l], params + s->w_off[l],
                                            (int64_t)cfg->sizes[l] * cfg->sizes[l + 1],
                                            (real)cfg->l1, (real)cfg->l2, (real)(1.0 / m));
        *step += 1;
        optimizer_step(cfg, params, opt_state, s->grads, P, *step);
    }
    return total;
}

/* Forward over n rows in chunks of max_rows on carved scratch; see network_forward. */
static double forward_rows(const nn_config *cfg, const scratch *s, const real *params,
                           int max_rows, const real *x, int64_t n, real *out, int logits,
                           const real *y) {
    const int L = cfg->n_layers, F = cfg->sizes[0], K = cfg->sizes[L];
    double total = 0;
    for (int64_t start = 0; start < n; start += max_rows) {
        int m = (int)(n - start < max_rows ? n - start : max_rows);
        forward_layers(cfg, params, s, x + start * F, m);
        real *a_out = s->acts[L - 1];
        if (out && logits) memcpy(out + start * K, a_out, sizeof(real) * (size_t)m * K);
        total += output_layer(cfg, a_out, y ? y + start * K : NULL, m);
        if (out && !logits) memcpy(out + start * K, a_out, sizeof(real) * (size_t)m * K);
    }
    return total;
}

/* The penalty l1*sum|W| + l2/2*sum W^2 over every layer's weights. */
double NNF(network_penalty)(const nn_config *cfg, const real *params) {
    if (cfg->l1 == 0 && cfg->l2 == 0) return 0.0;
    int64_t w_off[NN_MAX_LAYERS], b_off[NN_MAX_LAYERS];
    nn_param_offsets(cfg, w_off, b_off);
    double total = 0;
    for (int l = 0; l < cfg->n_layers; l++)
        total += NNF(l1_l2_penalty_forward)(params + w_off[l],
                                            (int64_t)cfg->sizes[l] * cfg->sizes[l + 1],
                                            cfg->l1, cfg->l2);
    return total;
}

/* One epoch. x (n, s0), y (n, sL); perm: row order or NULL. *loss_sum = the
 * sum of the batches' loss terms; *step counts updates (Adam's t). */
int NNF(network_train_epoch)(const nn_config *cfg, real *params, real *opt_state,
                             real *work, int max_rows, const real *x, const real *y,
                             int64_t n, const int64_t *perm, int batch_size,
                             int64_t *step, double *loss_sum) {
    if (nn_check_config(cfg) != NN_OK || n < 1 || batch_size < 1 || batch_size > max_rows)
        return NN_EINVAL;
    scratch s;
    carve(cfg, work, max_rows, &s);
    *loss_sum = run_epoch(cfg, &s, params, opt_state, x, y, n, perm, batch_size, step);
    return NN_OK;
}

/* n_epochs epochs in one call, so small networks do not pay Python's
 * per-epoch overhead. perms: n_epochs rows of n indices (epoch e uses row e),
 * or NULL for the rows in order. For each epoch e: loss_sums[e] = the train
 * loss sum, penalties[e] = the penalty after the epoch and, when x_val is not
 * NULL, val_loss_sums[e] = the loss sum over x_val (n_val rows) after it. */
int NNF(network_train_epochs)(const nn_config *cfg, real *params, real *opt_state, real *work,
                              int max_rows, const real *x, const real *y, int64_t n,
                              const int64_t *perms, int n_epochs, int batch_size,
                              const real *x_val, const real *y_val, int64_t n_val,
                              int64_t *step, double *loss_sums, double *penalties,
                              double *val_loss_sums) {
    if (nn_check_config(cfg) != NN_OK || n < 1 || batch_size < 1 || batch_size > max_rows ||
        n_epochs < 0 || (x_val && n_val < 1))
        return NN_EINVAL;
    scratch s;
    carve(cfg, work, max_rows, &s);
    for (int e = 0; e < n_epochs; e++) {
        loss_sums[e] = run_epoch(cfg, &s, params, opt_state, x, y, n,
                                 perms ? perms + (int64_t)e * n : NULL, batch_size, step);
        penalties[e] = NNF(network_penalty)(cfg, params);
        if (x_val)
            val_loss_sums[e] = forward_rows(cfg, &s, params, max_rows, x_val, n_val, NULL, 0,
                                            y_val);
    }
    return NN_OK;
}

/* Forward over n rows in chunks of max_rows. out (n, sL), when not NULL,
 * receives the logits (logits != 0) or the output activations. When y is not
 * NULL, *loss_sum = the sum of the loss terms over all rows. */
int NNF(network_forward)(const nn_config *cfg, const real *params, real *work, int max_rows,
                         const real *x, int64_t n, real *out, int logits, const real *y,
                         double *loss_sum) {
    if (nn_check_config(cfg) != NN_OK || n < 1 || max_rows < 1) return NN_EINVAL;
    scratch s;
    carve(cfg, work, max_rows, &s);
    double total = forward_rows(cfg, &s, params, max_rows, x, n, out, logits, y);
    if (loss_sum) *loss_sum = total;
    return NN_OK;
}
