/* Whole passes over a data set: epochs of mini-batch training, and a batched
 * forward pass (prediction, validation loss). Everything runs on
 * caller-owned buffers; nothing is allocated here.
 *
 * Threads: when a batch is big enough (cfg->parallel_min_flops), its rows
 * are split across T threads, each running the forward and backward pass of
 * its slice with single-threaded BLAS into its own gradient buffer; then each
 * thread sums one slice of the parameter vector across the buffers and
 * applies the penalty and the optimizer to that slice. The element-wise
 * passes and the row gather thus run in parallel too, instead of leaving the
 * BLAS's second thread spinning. The sums are taken in a fixed order, so a
 * given T always gives the same result. */
#include <string.h>
#include "real.h"
#include "parallel.h"

typedef struct {
    real *grads, *xbuf, *ybuf, *acts[NN_MAX_LAYERS], *delta[2];
    int64_t w_off[NN_MAX_LAYERS], b_off[NN_MAX_LAYERS];
} scratch;

static void carve(const nn_config *cfg, real *work, int max_rows, int gather, scratch *s) {
    int L = cfg->n_layers, widest = 0;
    real *at = work;
    s->grads = at;
    at += nn_param_count(cfg);
    s->xbuf = s->ybuf = NULL;
    if (gather) {
        s->xbuf = at;
        at += (int64_t)max_rows * cfg->sizes[0];
        s->ybuf = at;
        at += (int64_t)max_rows * cfg->sizes[L];
    }
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
    if (y && cfg->loss == NN_LOSS_BCE) /* per sample: the mean over its K units */
        return NNF(binary_cross_entropy_forward)(a, a, y, (int64_t)m * K, zmin, eps) / K;
    NNF(activation_forward)(a, a, m, K, act, zmin);
    if (y && cfg->loss == NN_LOSS_POISSON) return NNF(poisson_forward)(a, y, m, K);
    return y ? NNF(mse_forward)(a, y, m, K) : 0.0;
}

/* One optimizer step on the slice [lo, hi) of the flat parameter vector. */
static void optimizer_step(const nn_config *cfg, real *params, real *opt_state,
                           const real *grads, int64_t P, int64_t lo, int64_t hi,
                           int64_t step) {
    real lr = (real)cfg->learning_rate;
    int64_t n = hi - lo;
    switch (cfg->optimizer) {
    case NN_OPT_MOMENTUM:
        NNF(sgd_momentum_update)(params + lo, opt_state + lo, grads + lo, n, lr,
                                 (real)cfg->momentum, cfg->nesterov);
        break;
    case NN_OPT_ADAM:
        NNF(adam_update)(params + lo, opt_state + lo, opt_state + P + lo, grads + lo, n, lr,
                         (real)cfg->beta1, (real)cfg->beta2, (real)cfg->epsilon, step);
        break;
    case NN_OPT_RMSPROP:
        NNF(rmsprop_update)(params + lo, opt_state + lo, grads + lo, n, lr, (real)cfg->rho,
                            (real)cfg->epsilon);
        break;
    default:
        NNF(sgd_update)(params + lo, grads + lo, n, lr);
    }
}

/* The book's penalty gradient, (l1 sign W + l2 W)/m, on the weights that fall
 * in [lo, hi) (biases are not penalised); m is the batch's row count, or its
 * weight sum when rows are weighted. */
static void penalty_step(const nn_config *cfg, const scratch *s, real *grads,
                         const real *params, int64_t lo, int64_t hi, double m) {
    if (cfg->l1 == 0 && cfg->l2 == 0) return;
    for (int l = 0; l < cfg->n_layers; l++) {
        int64_t a = s->w_off[l], b = a + (int64_t)cfg->sizes[l] * cfg->sizes[l + 1];
        if (a < lo) a = lo;
        if (b > hi) b = hi;
        if (a < b)
            NNF(l1_l2_penalty_backward)(grads + a, params + a, b - a, (real)cfg->l1,
                                        (real)cfg->l2, (real)(1.0 / m));
    }
}

/* Correct predictions in a (m, K) against y, taken on the batch's
 * activations before its update, so an epoch's count is Keras's running
 * training accuracy: for binary outputs (one unit, or binary cross-entropy
 * over several) the elements where a > 0.5 agrees with y > 0.5; otherwise
 * the rows whose argmax agrees. */
static int64_t count_correct(const nn_config *cfg, const real *a, const real *y, int m,
                             int K) {
    int64_t hits = 0;
    if (K == 1 || cfg->loss == NN_LOSS_BCE) {
        for (int64_t i = 0; i < (int64_t)m * K; i++)
            hits += (a[i] > (real)0.5) == (y[i] > (real)0.5);
        return hits;
    }
    for (int i = 0; i < m; i++) {
        const real *ai = a + (int64_t)i * K, *yi = y + (int64_t)i * K;
        int pa = 0, py = 0;
        for (int k = 1; k < K; k++) {
            if (ai[k] > ai[pa]) pa = k;
            if (yi[k] > yi[py]) py = k;
        }
        hits += pa == py;
    }
    return hits;
}

/* Forward and backward of rows [r0, r0+mt) of a batch of m rows: gradients of
 * the batch-mean loss from these rows (overwriting s->grads). Rows come from
 * perm when given (gathered into s->xbuf), else straight from x. Returns the
 * rows' loss sum, taken before any update, and adds their correct
 * predictions to *hits.
 * With sample weights sw (NULL: none) the batch's loss is the weighted mean
 * sum_i w_i l_i / wsum (wsum: the whole batch's weight sum): row i's error is
 * scaled by w_i m / wsum, and the returned sum is m times the rows' share of
 * that mean, so an epoch's total stays "rows times mean loss" per batch. */
static double slice_gradients(const nn_config *cfg, const scratch *s, const real *params,
                              const real *x, const real *y, const int64_t *perm,
                              int64_t r0, int mt, int m, int64_t *hits,
                              const real *sw, double wsum) {
    const int L = cfg->n_layers, F = cfg->sizes[0], K = cfg->sizes[L];
    const real *xb = x + r0 * F, *yb = y + r0 * K;
    if (perm) {
        for (int i = 0; i < mt; i++) {
            int64_t r = perm[r0 + i];
            memcpy(s->xbuf + (int64_t)i * F, x + r * F, sizeof(real) * F);
            memcpy(s->ybuf + (int64_t)i * K, y + r * K, sizeof(real) * K);
        }
        xb = s->xbuf;
        yb = s->ybuf;
    }
    forward_layers(cfg, params, s, xb, mt);
    real *a_out = s->acts[L - 1];
    double loss = 0;
    if (sw) { /* row by row, to weigh each row's loss */
        for (int i = 0; i < mt; i++)
            loss += (double)sw[perm ? perm[r0 + i] : r0 + i] *
                    output_layer(cfg, a_out + (int64_t)i * K, yb + (int64_t)i * K, 1);
        loss *= m / wsum;
    } else {
        loss = output_layer(cfg, a_out, yb, mt);
    }
    *hits += count_correct(cfg, a_out, yb, mt, K);

    /* delta = dL/dz of the last layer, with the batch mean's 1/m folded in */
    real *delta = s->delta[0], *spare = s->delta[1];
    if (cfg->loss == NN_LOSS_MSE) {
        NNF(mse_backward)(delta, a_out, yb, (int64_t)mt * K, (real)(1.0 / ((double)m * K)));
        NNF(activation_backward)(delta, delta, a_out, mt, K, cfg->activations[L - 1]);
    } else {
        /* binary cross-entropy is averaged over a sample's K units (Keras's
         * multi-label form; the book's networks have K = 1) */
        double per = cfg->loss == NN_LOSS_BCE ? (double)m * K : (double)m;
        NNF(cross_entropy_backward)(delta, a_out, yb, (int64_t)mt * K, (real)(1.0 / per));
    }
    if (sw)
        for (int i = 0; i < mt; i++) {
            real f = (real)(sw[perm ? perm[r0 + i] : r0 + i] * (m / wsum));
            for (int k = 0; k < K; k++) delta[(int64_t)i * K + k] *= f;
        }
    /* all gradients are formed before any weight moves, so the hidden error
     * uses each W as it was in the forward pass */
    for (int l = L - 1; l >= 0; l--) {
        const real *inp = l ? s->acts[l - 1] : xb;
        real *dinp = l ? spare : NULL;
        NNF(dense_backward)(dinp, s->grads + s->w_off[l], BIAS(s->grads, s, l), delta, inp,
                            params + s->w_off[l], mt, cfg->sizes[l], cfg->sizes[l + 1]);
        if (l) {
            NNF(activation_backward)(dinp, dinp, s->acts[l - 1], mt, cfg->sizes[l],
                                     cfg->activations[l - 1]);
            spare = delta;
            delta = dinp;
        }
    }
    return loss;
}

/* Forward over n rows in chunks of max_rows on one scratch; see network_forward. */
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

/* ---- one call's work, shared by its threads -------------------------------- */

typedef struct {
    const nn_config *cfg;
    real *params, *opt_state;
    int T, rows;                      /* threads; rows each thread's scratch holds */
    scratch s[NN_MAX_THREADS];
    nn_barrier barrier;
    /* training */
    const real *x, *y, *sw;  /* sw: sample weights, or NULL */
    int64_t n;
    const int64_t *perms;
    int n_epochs, batch_size;
    int64_t step;
    /* a forward pass (validation, prediction) */
    const real *xf, *yf;
    int64_t nf;
    real *out;
    int logits;
    /* results */
    double part[NN_MAX_THREADS], val_part[NN_MAX_THREADS];
    int64_t hits_part[NN_MAX_THREADS];
    double *loss_sums, *penalties, *val_sums;
    int64_t *correct;
} job;

/* Splits the workspace into one scratch per thread. */
static void plan(job *j, const nn_config *cfg, real *work, int max_rows, int T, int gather) {
    j->cfg = cfg;
    j->T = T;
    j->rows = (max_rows + T - 1) / T;
    int64_t region = nn_param_count(cfg) + (int64_t)j->rows * nn_row_width(cfg, gather);
    for (int t = 0; t < T; t++) carve(cfg, work + t * region, j->rows, gather, &j->s[t]);
    nn_barrier_init(&j->barrier, T);
}

/* How many threads a batch of `rows` rows is worth: the BLAS's thread count
 * (what nnbook.set_num_threads and threadpoolctl set), capped by the
 * workspace, and 1 below cfg->parallel_min_flops of forward work. */
static int threads_for(const nn_config *cfg, int64_t rows, int cap) {
    double flops = 0;
    for (int l = 0; l < cfg->n_layers; l++)
        flops += 2.0 * cfg->sizes[l] * cfg->sizes[l + 1];
    if (flops * rows < cfg->parallel_min_flops) return 1;
    int T = nn_get_num_threads();
    if (T > cap) T = cap;
    if (T > NN_MAX_THREADS) T = NN_MAX_THREADS;
    if (T > rows) T = (int)rows;
    return T < 1 ? 1 : T;
}

static double forward_slice(job *j, int t) {
    int64_t r0 = j->nf * t / j->T, r1 = j->nf * (t + 1) / j->T;
    const int F = j->cfg->sizes[0], K = j->cfg->sizes[j->cfg->n_layers];
    if (r1 <= r0) return 0.0;
    return forward_rows(j->cfg, &j->s[t], j->params, j->rows, j->xf + r0 * F, r1 - r0,
                        j->out ? j->out + r0 * K : NULL, j->logits,
                        j->yf ? j->yf + r0 * K : NULL);
}

static void train_thread(void *arg, int t) {
    job *j = arg;
    const nn_config *cfg = j->cfg;
    const int T = j->T;
    const int64_t P = nn_param_count(cfg), lo = P * t / T, hi = P * (t + 1) / T;
    const scratch *s = &j->s[t];
    real *grads = j->s[0].grads; /* the slices are summed into thread 0's buffer */
    int64_t step = j->step;

    for (int e = 0; e < j->n_epochs; e++) {
        const int64_t *perm = j->perms ? j->perms + (int64_t)e * j->n : NULL;
        double loss = 0, batch_penalties = 0;
        int64_t hits = 0;
        for (int64_t start = 0; start < j->n; start += j->batch_size) {
            int m = (int)(j->n - start < j->batch_size ? j->n - start : j->batch_size);
            int64_t r0 = start + (int64_t)m * t / T, r1 = start + (int64_t)m * (t + 1) / T;
            double wsum = m; /* the batch's weight sum, in row order on every thread */
            if (j->sw) {
                wsum = 0;
                for (int i = 0; i < m; i++) wsum += j->sw[perm ? perm[start + i] : start + i];
            }
            /* no thread updates the parameters before the barrier below */
            if (t == 0 && cfg->penalty_each_batch)
                batch_penalties += NNF(network_penalty)(cfg, j->params) * (m / wsum);
            if (r1 > r0)
                loss += slice_gradients(cfg, s, j->params, j->x, j->y, perm, r0,
                                        (int)(r1 - r0), m, &hits, j->sw, wsum);
            else
                memset(s->grads, 0, sizeof(real) * (size_t)P);
            nn_barrier_wait(&j->barrier);
            for (int u = 1; u < T; u++) {
                const real *g = j->s[u].grads;
                for (int64_t i = lo; i < hi; i++) grads[i] += g[i];
            }
            penalty_step(cfg, s, grads, j->params, lo, hi, wsum);
            step += 1;
            optimizer_step(cfg, j->params, j->opt_state, grads, P, lo, hi, step);
            nn_barrier_wait(&j->barrier);
        }
        j->part[t] = loss;
        j->hits_part[t] = hits;
        if (j->xf) j->val_part[t] = forward_slice(j, t);
        nn_barrier_wait(&j->barrier);
        if (t == 0) {
            double total = 0, val = 0;
            int64_t right = 0;
            for (int u = 0; u < T; u++) {
                total += j->part[u];
                val += j->val_part[u];
                right += j->hits_part[u];
            }
            j->loss_sums[e] = total;
            if (j->correct) j->correct[e] = right;
            j->penalties[e] = cfg->penalty_each_batch ? batch_penalties
                                                      : NNF(network_penalty)(cfg, j->params);
            if (j->xf) j->val_sums[e] = val;
        }
    }
    if (t == 0) j->step = step;
}

static void forward_thread(void *arg, int t) {
    job *j = arg;
    j->part[t] = forward_slice(j, t);
}

/* n_epochs epochs in one call, so small networks do not pay Python's
 * per-epoch overhead. x (n, s0), y (n, sL); perms: n_epochs rows of n
 * indices (epoch e uses row e), or NULL for the rows in order. For each
 * epoch e: loss_sums[e] = the sum of its batches' loss terms (each taken
 * before that batch's update), penalties[e] = the penalty after the epoch
 * and, when x_val is not NULL, val_loss_sums[e] = the loss sum over x_val
 * (n_val rows) after it; correct[e] (when not NULL) = the rows predicted
 * right, each before its batch's update (see count_correct). *step counts
 * updates (Adam's t). The workspace must hold nn_workspace_len(cfg,
 * max_rows, threads, perms != NULL). */
int NNF(network_train_epochs)(const nn_config *cfg, real *params, real *opt_state, real *work,
                              int max_rows, int threads, const real *x, const real *y,
                              int64_t n, const int64_t *perms, int n_epochs, int batch_size,
                              const real *x_val, const real *y_val, int64_t n_val,
                              int64_t *step, double *loss_sums, double *penalties,
                              double *val_loss_sums, int64_t *correct) {
    return NNF(network_train_epochs_weighted)(cfg, params, opt_state, work, max_rows, threads,
                                              x, y, n, perms, n_epochs, batch_size, x_val,
                                              y_val, n_val, step, loss_sums, penalties,
                                              val_loss_sums, correct, NULL);
}

/* network_train_epochs with a weight per row of x (sample_weight, n values;
 * NULL: all rows weigh 1, the batch mean). Each batch's loss is then the
 * weighted mean sum_i w_i l_i / W (W: the batch's weight sum), its gradient
 * that mean's gradient plus the penalty's divided by W (scikit-learn's
 * sample_weight). loss_sums[e] and penalties[e] hold, per batch, m/W times
 * the weighted sums (m rows): the batch's weighted mean times its rows. */
int NNF(network_train_epochs_weighted)(const nn_config *cfg, real *params, real *opt_state,
                                       real *work, int max_rows, int threads, const real *x,
                                       const real *y, int64_t n, const int64_t *perms,
                                       int n_epochs, int batch_size, const real *x_val,
                                       const real *y_val, int64_t n_val, int64_t *step,
                                       double *loss_sums, double *penalties,
                                       double *val_loss_sums, int64_t *correct,
                                       const real *sample_weight) {
    if (nn_check_config(cfg) != NN_OK || n < 1 || batch_size < 1 || batch_size > max_rows ||
        n_epochs < 0 || threads < 1 || (x_val && n_val < 1))
        return NN_EINVAL;
    job j;
    int T = threads_for(cfg, batch_size, threads);
    plan(&j, cfg, work, max_rows, T, perms != NULL);
    j.params = params;
    j.opt_state = opt_state;
    j.x = x;
    j.y = y;
    j.sw = sample_weight;
    j.n = n;
    j.perms = perms;
    j.n_epochs = n_epochs;
    j.batch_size = batch_size;
    j.step = *step;
    j.xf = x_val;
    j.yf = y_val;
    j.nf = n_val;
    j.out = NULL;
    j.logits = 0;
    j.loss_sums = loss_sums;
    j.penalties = penalties;
    j.val_sums = val_loss_sums;
    j.correct = correct;
    for (int t = 0; t < T; t++) j.val_part[t] = 0;
    if (nn_run_parallel(T, train_thread, &j) != NN_OK) { /* no threads: run on one */
        plan(&j, cfg, work, max_rows, 1, perms != NULL);
        nn_run_parallel(1, train_thread, &j);
    }
    *step = j.step;
    return NN_OK;
}

/* One epoch; see network_train_epochs. *loss_sum = the sum of its batches'
 * loss terms; *correct (when not NULL) = the rows predicted right. */
int NNF(network_train_epoch)(const nn_config *cfg, real *params, real *opt_state,
                             real *work, int max_rows, int threads, const real *x,
                             const real *y, int64_t n, const int64_t *perm, int batch_size,
                             int64_t *step, double *loss_sum, int64_t *correct) {
    double penalty;
    return NNF(network_train_epochs)(cfg, params, opt_state, work, max_rows, threads, x, y, n,
                                     perm, 1, batch_size, NULL, NULL, 0, step, loss_sum,
                                     &penalty, NULL, correct);
}

/* Forward over n rows in chunks of at most max_rows per thread. out (n, sL),
 * when not NULL, receives the logits (logits != 0) or the output
 * activations. When y is not NULL, *loss_sum = the sum of the loss terms. */
int NNF(network_forward)(const nn_config *cfg, const real *params, real *work, int max_rows,
                         int threads, const real *x, int64_t n, real *out, int logits,
                         const real *y, double *loss_sum) {
    if (nn_check_config(cfg) != NN_OK || n < 1 || max_rows < 1 || threads < 1)
        return NN_EINVAL;
    job j;
    int64_t rows = n < max_rows ? n : max_rows;
    int T = threads_for(cfg, rows, threads);
    plan(&j, cfg, work, max_rows, T, 0);
    j.params = (real *)params; /* only read on this path */
    j.xf = x;
    j.yf = y;
    j.nf = n;
    j.out = out;
    j.logits = logits;
    if (nn_run_parallel(T, forward_thread, &j) != NN_OK) {
        plan(&j, cfg, work, max_rows, 1, 0);
        nn_run_parallel(1, forward_thread, &j);
    }
    double total = 0;
    for (int t = 0; t < j.T; t++) total += j.part[t];
    if (loss_sum) *loss_sum = total;
    return NN_OK;
}
