/* Whole passes over a data set: epochs of mini-batch training, and a batched
 * forward pass (prediction, validation loss). Everything runs on
 * caller-owned buffers; nothing is allocated here.
 *
 * Determinism: a batch of m rows is split into nn_row_blocks(cfg, m) row
 * blocks, a function of the network and m only. Each block's forward and
 * backward pass runs with single-threaded BLAS into the block's own gradient
 * buffer; the blocks' gradients, losses and counts are then summed in block
 * order, each thread summing one slice of the parameter vector and applying
 * the penalty and the optimizer to it (a wide first layer's SGD step is
 * taken from the blocks' products directly, in fixed parts of its rows:
 * folds_first_weight; the penalties a batch adds to its loss are summed in
 * fixed parts too: penalty_pieces). Threads only decide who computes
 * which block or part, so the same inputs give the same bits on any thread
 * count and whatever else runs beside. Forward passes work in chunks of a
 * fixed row count, chunk c on thread c % T, and their loss sums are added in
 * chunk order.
 *
 * Interruption: the calling thread calls the caller's hook (nn_hook) between
 * batches; a non-zero return stops the call before the next batch's update,
 * so the parameters are always those after a completed batch. */
#include <limits.h>
#include <string.h>
#include "real.h"
#include "parallel.h"
#include "gemm_small.h"

typedef struct {
    real *xbuf, *ybuf, *acts[NN_MAX_LAYERS], *delta[2];
    real *bn_mean[NN_MAX_LAYERS], *bn_var[NN_MAX_LAYERS]; /* the batch's statistics */
    int64_t w_off[NN_MAX_LAYERS], b_off[NN_MAX_LAYERS], st_off[NN_MAX_LAYERS];
} scratch;

/* How a pass runs its stages: training (batch statistics, dropout on) or
 * not, and for dropout the update number and the first row's place in its
 * batch. */
typedef struct {
    int training;
    int64_t step, row0;
} pass;

static const pass INFERENCE = {0, 0, 0};

/* One thread's rows: see nn_row_width. */
static void carve(const nn_config *cfg, real *work, int64_t max_rows, int gather, scratch *s) {
    int L = cfg->n_layers, widest = 0;
    real *at = work;
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
    at += 2 * (int64_t)max_rows * widest;
    for (int l = 0; l < L; l++) {
        s->bn_mean[l] = s->bn_var[l] = NULL;
        s->st_off[l] = nn_state_offset(cfg, l);
        if (cfg->kinds[l] == NN_LAYER_BATCHNORM) {
            s->bn_mean[l] = at;
            s->bn_var[l] = at + cfg->sizes[l + 1];
            at += 2 * (int64_t)cfg->sizes[l + 1];
        }
    }
    nn_param_offsets(cfg, s->w_off, s->b_off);
}

#define BIAS(base, s, l) ((s)->b_off[l] < 0 ? NULL : (base) + (s)->b_off[l])
#define WEIGHT(base, s, l) ((s)->w_off[l] < 0 ? NULL : (base) + (s)->w_off[l])

/* Whether stage l's batch normalization uses the batch's statistics (in
 * training, unless frozen: Keras runs a frozen layer in inference mode). */
static int batch_statistics(const nn_config *cfg, int l, const pass *ps) {
    return ps->training && !cfg->frozen[l];
}

/* Forward through every stage; the last stage is left as logits, its
 * activation applied by the caller (fused with the loss, or not). */
static void forward_layers(const nn_config *cfg, const real *params, const scratch *s,
                           const real *xb, int m, const pass *ps) {
    const real *inp = xb;
    const int last = cfg->n_layers - 1;
    for (int l = 0; l <= last; l++) {
        real *out = s->acts[l];
        int n = cfg->sizes[l + 1], act = l == last ? NN_LINEAR : cfg->activations[l];
        switch (cfg->kinds[l]) {
        case NN_LAYER_BATCHNORM: {
            const real *moving = params + s->st_off[l];
            if (batch_statistics(cfg, l, ps))
                NNF(batchnorm_forward_train)(out, s->bn_mean[l], s->bn_var[l], inp,
                                             WEIGHT(params, s, l), BIAS(params, s, l), m, n,
                                             cfg->bn_epsilon[l]);
            else
                NNF(batchnorm_forward_infer)(out, inp, WEIGHT(params, s, l), BIAS(params, s, l),
                                             moving, moving + n, m, n, cfg->bn_epsilon[l]);
            break;
        }
        case NN_LAYER_DROPOUT:
            if (ps->training && cfg->rates[l] > 0)
                NNF(dropout_forward)(out, inp, m, n, cfg->rates[l],
                                     nn_dropout_key(cfg->dropout_seed, ps->step, l), ps->row0);
            else
                memcpy(out, inp, sizeof(real) * (size_t)m * n);
            break;
        case NN_LAYER_ACTIVATION:
            NNF(activation_forward)(out, inp, m, n, act, (real)cfg->zmin);
            break;
        default:
            NNF(dense_forward)(out, inp, params + s->w_off[l], BIAS(params, s, l), m,
                               cfg->sizes[l], n, act, (real)cfg->zmin);
        }
        inp = out;
    }
}

static int has_activity_penalty(const nn_config *cfg, int l) {
    return cfg->activity_l1[l] != 0 || cfg->activity_l2[l] != 0;
}

/* Keras's activity penalties over m rows of stage outputs (the output
 * stage's after its activation): sum over stages of l1 sum|a| + l2 sum a^2.
 * Keras divides each batch's by its rows, so in the loss sums (rows times
 * the batch's mean) it enters as it is. */
static double activity_penalties(const nn_config *cfg, const scratch *s, int m) {
    double total = 0;
    for (int l = 0; l < cfg->n_layers; l++)
        if (has_activity_penalty(cfg, l))
            total += NNF(l1_l2_penalty_forward)(s->acts[l], (int64_t)m * cfg->sizes[l + 1],
                                                cfg->activity_l1[l], 2 * cfg->activity_l2[l]);
    return total;
}

/* Whether stage l has any of Keras's weight regularizers (penalty_pieces). */
static int has_weight_regularizer(const nn_config *cfg, int l) {
    return cfg->kernel_l1[l] != 0 || cfg->kernel_l2[l] != 0 || cfg->bias_l1[l] != 0 ||
           cfg->bias_l2[l] != 0;
}

/* The weight penalties a loss includes, over piece p of `parts` equal pieces
 * of every penalised variable (p = 0 of 1: the whole variables):
 *   NETWORK_PENALTY  the book's l1 sum|W| + l2/2 sum W^2 over every dense
 *                    stage's weights (scikit-learn's alpha as well);
 *   KERAS_PENALTIES  Keras's weight regularizers: over the trained stages
 *                    (Keras counts trainable weights only), l1 sum|v| +
 *                    l2 sum v^2 over kernels and biases.
 * out[0], out[1] receive the two sums (0 where not asked for in `which`).
 * A training batch adds its penalties in NN_ROW_BLOCKS fixed parts, part p
 * on thread p % T before that thread's row blocks, summed in part order, so
 * every thread count gives the same bits: on thread 0 alone, the chapter-7
 * model's L2 kernel regularizer (79,400 weights) took 20 us of every batch
 * while the other thread waited at the barrier. */
enum { NETWORK_PENALTY = 1, KERAS_PENALTIES = 2 };

static void penalty_pieces(const nn_config *cfg, const real *params, int which, int p,
                           int parts, double out[2]) {
    int64_t w_off[NN_MAX_LAYERS], b_off[NN_MAX_LAYERS];
    nn_param_offsets(cfg, w_off, b_off);
    out[0] = out[1] = 0;
#define PIECE(v, len, l1, l2)                                                            \
    NNF(l1_l2_penalty_forward)((v) + (len) * p / parts,                                  \
                               (len) * (p + 1) / parts - (len) * p / parts, (l1), (l2))
    for (int l = 0; l < cfg->n_layers; l++) {
        int64_t n = cfg->sizes[l + 1], nw = cfg->kinds[l] == NN_LAYER_DENSE ? cfg->sizes[l] * n : n;
        if ((which & NETWORK_PENALTY) && cfg->kinds[l] == NN_LAYER_DENSE &&
            (cfg->l1 != 0 || cfg->l2 != 0))
            out[0] += PIECE(params + w_off[l], nw, cfg->l1, cfg->l2);
        if (!(which & KERAS_PENALTIES) || cfg->frozen[l]) continue;
        if (w_off[l] >= 0 && (cfg->kernel_l1[l] != 0 || cfg->kernel_l2[l] != 0))
            out[1] += PIECE(params + w_off[l], nw, cfg->kernel_l1[l], 2 * cfg->kernel_l2[l]);
        if (b_off[l] >= 0 && (cfg->bias_l1[l] != 0 || cfg->bias_l2[l] != 0))
            out[1] += PIECE(params + b_off[l], n, cfg->bias_l1[l], 2 * cfg->bias_l2[l]);
    }
#undef PIECE
}

/* Which of penalty_pieces' sums a training batch adds to its loss (0: none). */
static int batch_penalty_kinds(const nn_config *cfg) {
    int which = cfg->penalty_each_batch && (cfg->l1 != 0 || cfg->l2 != 0) ? NETWORK_PENALTY : 0;
    for (int l = 0; l < cfg->n_layers; l++)
        if (has_weight_regularizer(cfg, l) && !cfg->frozen[l]) which |= KERAS_PENALTIES;
    return which;
}

/* Keras's weight regularizers over the whole variables (a forward chunk's loss) */
static double weight_penalties(const nn_config *cfg, const real *params) {
    double out[2];
    if (!(batch_penalty_kinds(cfg) & KERAS_PENALTIES))
        return 0.0; /* (this runs on every chunk: no layout walk for nothing) */
    penalty_pieces(cfg, params, KERAS_PENALTIES, 0, 1, out);
    return out[1];
}

/* Turns the last layer's logits into activations in place and, when y is
 * given, returns the batch's loss sum (losses.c). */
static double output_layer(const nn_config *cfg, real *a, const real *y, int m) {
    return NNF(output_loss_forward)(cfg, a, y, m);
}

/* output_layer over m rows, each row's loss weighted: sum_i w_i l_i, where
 * row i's weight is sw[perm[r0 + i]] (sw[r0 + i] without perm). Row by row,
 * so each row's loss is formed as in the unweighted pass. */
static double weighted_output_layer(const nn_config *cfg, real *a, const real *y, int m,
                                    const real *sw, const int64_t *perm, int64_t r0) {
    const int K = cfg->sizes[cfg->n_layers];
    double loss = 0;
    for (int i = 0; i < m; i++)
        loss += (double)sw[perm ? perm[r0 + i] : r0 + i] *
                output_layer(cfg, a + (int64_t)i * K, y + (int64_t)i * K, 1);
    return loss;
}

/* One optimizer step on the slice [lo, hi) of the flat parameter vector, at
 * learning rate lr. opt_state holds the optimizer's vectors back to back
 * (each P long); u_product: Nadam's momentum-schedule products (see
 * nadam_update). */
static void optimizer_step(const nn_config *cfg, real *params, real *opt_state,
                           const real *grads, const real *grads2, int64_t P, int64_t lo,
                           int64_t hi, int64_t step, real lr, const real *u_product) {
    int64_t n = hi - lo;
    real *s0 = opt_state + lo, *s1 = opt_state + P + lo;
    const real *g = grads + lo;
    real *p = params + lo;
    switch (cfg->optimizer) {
    case NN_OPT_MOMENTUM:
        NNF(sgd_momentum_update)(p, s0, g, n, lr, (real)cfg->momentum, cfg->nesterov);
        break;
    case NN_OPT_ADAM:
        NNF(adam_update)(p, s0, s1, g, n, lr, (real)cfg->beta1, (real)cfg->beta2,
                         (real)cfg->epsilon, step);
        break;
    case NN_OPT_RMSPROP:
        NNF(rmsprop_update)(p, s0, g, n, lr, (real)cfg->rho, (real)cfg->epsilon);
        break;
    case NN_OPT_ADAGRAD:
        NNF(adagrad_update)(p, s0, g, n, lr, (real)cfg->epsilon);
        break;
    case NN_OPT_ADADELTA:
        NNF(adadelta_update)(p, s0, s1, g, n, lr, (real)cfg->rho, (real)cfg->epsilon);
        break;
    case NN_OPT_ADAMAX:
        NNF(adamax_update)(p, s0, s1, g, n, lr, (real)cfg->beta1, (real)cfg->beta2,
                           (real)cfg->epsilon, step);
        break;
    case NN_OPT_NADAM:
        NNF(nadam_update)(p, s0, s1, g, n, lr, (real)cfg->beta1, (real)cfg->beta2,
                          (real)cfg->epsilon, step, u_product[0], u_product[1]);
        break;
    default:
        NNF(sgd_update)(p, g, grads2 ? grads2 + lo : NULL, n, lr);
    }
}

/* Nadam's running product of its momentum schedule u_k = b1 (1 - 0.5 0.96^k),
 * kept as the last entry of the optimizer state: out[0] = u_1 ... u_step (the
 * stored product times u_step, as Keras updates it before the step), out[1]
 * = out[0] u_{step+1}. Every thread forms the same values; thread 0 stores
 * out[0] once all threads have used the old one. */
static void nadam_products(const nn_config *cfg, const real *opt_state, int64_t P,
                           int64_t step, real out[2]) {
    real beta1 = (real)cfg->beta1, stored = opt_state[2 * P];
    out[0] = stored * beta1 * ((real)1 - (real)0.5 * (real)pow(0.96, (double)step));
    out[1] = out[0] * (beta1 * ((real)1 - (real)0.5 * (real)pow(0.96, (double)(step + 1))));
}

/* A stage's trainable variables: v = 0 its weight (W, or gamma), v = 1 its
 * bias (b, or beta). Returns the length (0: none) and sets *off. */
static int64_t stage_variable(const nn_config *cfg, const scratch *s, int l, int v,
                              int64_t *off) {
    int64_t n = cfg->sizes[l + 1];
    *off = v ? s->b_off[l] : s->w_off[l];
    if (*off < 0) return 0;
    return v == 0 && cfg->kinds[l] == NN_LAYER_DENSE ? (int64_t)cfg->sizes[l] * n : n;
}

/* The penalties' gradients on the part of the slice [lo, hi) in stage l:
 * the book's (l1 sign W + l2 W)/m on dense weights (m: the batch's rows, or
 * its weight sum when rows are weighted), and Keras's regularizers'
 * l1 sign v + 2 l2 v on kernels and biases; skip_weight: only the bias's
 * (the weight's step is folded: folds_first_weight). */
static void penalty_gradients(const nn_config *cfg, const scratch *s, real *grads,
                              const real *params, int l, int64_t lo, int64_t hi, double m,
                              int skip_weight) {
    for (int v = skip_weight; v < 2; v++) {
        int64_t off, len = stage_variable(cfg, s, l, v, &off);
        double l1 = v ? cfg->bias_l1[l] : cfg->kernel_l1[l];
        double l2 = v ? cfg->bias_l2[l] : cfg->kernel_l2[l];
        int64_t a = off < lo ? lo : off, b = off + len > hi ? hi : off + len;
        if (!len || a >= b) continue;
        if (v == 0 && cfg->kinds[l] == NN_LAYER_DENSE && (cfg->l1 != 0 || cfg->l2 != 0))
            NNF(l1_l2_penalty_backward)(grads + a, params + a, b - a, (real)cfg->l1,
                                        (real)cfg->l2, (real)(1.0 / m));
        if (l1 != 0 || l2 != 0)
            NNF(l1_l2_penalty_backward)(grads + a, params + a, b - a, (real)l1, (real)(2 * l2),
                                        (real)1);
    }
}

/* Whether a batch of two row blocks can have their gradients summed inside
 * the optimizer step rather than in a pass of their own before it: plain
 * SGD, and nothing between the sum and the step that reads the sum (no
 * weight penalty, clipping or weight decay). The sum and its rounding are
 * the same; what goes is a read and a write of the whole gradient per
 * batch. On the chapter-7 Keras model (80k weights, batch 32: two blocks of
 * 16 rows) one thread's half took 8.5-11.8 us as a sum pass then the
 * update, 5.7-6.9 us as one update summing the two (best of 200, in L2):
 * some 3% of that model's epoch. */
static int sums_in_step(const nn_config *cfg) {
    if (cfg->optimizer != NN_OPT_SGD || cfg->l1 != 0 || cfg->l2 != 0 || cfg->clipvalue > 0 ||
        cfg->clipnorm > 0 || cfg->global_clipnorm > 0 || cfg->weight_decay != 0)
        return 0;
    for (int l = 0; l < cfg->n_layers; l++)
        if (has_weight_regularizer(cfg, l)) return 0;
    return 1;
}

static int clips_by_norm(const nn_config *cfg) {
    return cfg->clipnorm > 0 || cfg->global_clipnorm > 0;
}

/* Whether a batch of m rows takes stage 0's weight step inside the product
 * that forms its gradient over the whole batch (dense_weight_sgd_step),
 * instead of storing the gradient and stepping from it: under SGD without
 * momentum or clipping, whose step on that weight is then linear in it (an
 * L2 penalty and weight decay only scale it: see first_weight_keep; an L1
 * penalty's sign(W) does not fold), for a dense, trainable first stage
 * whose gradient product per row block would go to OpenBLAS (the wide
 * ones: our small kernels overwrite their output and have no beta form).
 * A function of the network, m and the small-GEMM mode, never of the
 * thread count. */
static int folds_first_weight(const nn_config *cfg, int m) {
    if (!nn_first_weight_foldable(cfg)) return 0;
    const int blocks = nn_row_blocks(cfg, m);
    return !nn_gemm_uses_small(NN_GEMM_TN, cfg->sizes[0], cfg->sizes[1], (m + blocks - 1) / blocks);
}

#ifdef NN_REAL_FLOAT /* precision-free: defined once, in the float build */
int nn_folds_first_weight(const nn_config *cfg, int64_t m) {
    return m >= 1 && m <= INT_MAX && folds_first_weight(cfg, (int)m);
}
#endif

/* What a folded step multiplies stage 0's weight by before subtracting
 * lr times its gradient: the separate step would apply the weight decay
 * (W -= lr wd W) and then W -= lr (g + p), with p the penalties' gradient,
 * the book's l2 W / m (m: the batch's rows or weight sum) and Keras's
 * 2 l2 W; together W (1 - lr (wd + l2 / m + 2 l2')) - lr g. */
static double first_weight_keep(const nn_config *cfg, double lr, double m) {
    return 1.0 - lr * (cfg->weight_decay + cfg->l2 / m + 2.0 * cfg->kernel_l2[0]);
}

/* Keras's gradient clipping by norm, formed once per update by one thread
 * (the norms span the whole of each variable): scales[2 l + v] for stage
 * l's variable v, g * clipnorm / max(|g|, clipnorm) per variable, or
 * clip * min(1 / |all g|, 1 / clip) for all of them (global_clipnorm). */
static void clip_scales(const nn_config *cfg, const scratch *s, const real *grads,
                        double *scales) {
    double total = 0;
    for (int l = 0; l < cfg->n_layers; l++)
        for (int v = 0; v < 2; v++) {
            int64_t off, len = stage_variable(cfg, s, l, v, &off);
            double ss = len && !cfg->frozen[l] ? NNF(sum_of_squares)(grads + off, len) : 0;
            scales[2 * l + v] = cfg->clipnorm / fmax(sqrt(ss), cfg->clipnorm);
            total += ss;
        }
    if (cfg->clipnorm > 0) return;
    double norm = sqrt(total), c = cfg->global_clipnorm;
    for (int i = 0; i < 2 * cfg->n_layers; i++) scales[i] = c * fmin(1.0 / norm, 1.0 / c);
}

/* Clipping, the weight decay and the optimizer step on [a, b), a part of
 * one stage's variables; scale: the clip-by-norm factor, or NULL for none. */
static void update_range(const nn_config *cfg, real *params, real *opt_state, real *grads,
                         const real *grads2, int64_t P, int64_t a, int64_t b, int64_t step,
                         real lr, const real *u_product, const double *scale) {
    if (scale)
        NNF(scale_values)(grads + a, b - a, (real)*scale);
    else if (cfg->clipvalue > 0)
        NNF(clip_values)(grads + a, b - a, (real)cfg->clipvalue);
    if (cfg->weight_decay != 0)
        NNF(weight_decay_update)(params + a, b - a, (real)cfg->weight_decay, lr);
    optimizer_step(cfg, params, opt_state, grads, grads2, P, a, b, step, lr, u_product);
}

/* Clipping, the weight decay and the optimizer step on the slice [lo, hi)
 * of the parameter vector, stage by stage, skipping frozen stages (their
 * parameters and optimizer state stay as they are) and batch-normalization
 * statistics. scales: see clip_scales (NULL unless clipping by norm);
 * step: this update's number (1 = the first). Without per-variable scales
 * every step is elementwise, so a stage's weight and bias (adjacent in the
 * parameter vector) are updated by one call each: the same bits, half the
 * calls, which counts for small networks. grads2: the second row block's
 * gradients when the step sums them in (sums_in_step), else NULL.
 * skip_first_weight: stage 0's weight is stepped elsewhere (see
 * folds_first_weight). */
static void update_slice(const nn_config *cfg, const scratch *s, real *params,
                         real *opt_state, real *grads, const real *grads2, int64_t P,
                         int64_t lo, int64_t hi, int64_t step, const double *scales,
                         int skip_first_weight) {
    real lr = (real)nn_learning_rate(cfg, step - 1), u_product[2] = {0, 0};
    if (cfg->optimizer == NN_OPT_NADAM) nadam_products(cfg, opt_state, P, step, u_product);
    for (int l = 0; l < cfg->n_layers; l++) {
        if (cfg->frozen[l]) continue;
        int64_t off[2], len[2];
        for (int v = 0; v < 2; v++) len[v] = stage_variable(cfg, s, l, v, &off[v]);
        if (l == 0 && skip_first_weight) len[0] = 0;
        if (!scales && len[0] && len[1] && off[0] + len[0] == off[1]) {
            len[0] += len[1]; /* one range: the weight, then the bias */
            len[1] = 0;
        }
        for (int v = 0; v < 2; v++) {
            int64_t a = off[v] < lo ? lo : off[v], b = off[v] + len[v] > hi ? hi : off[v] + len[v];
            if (!len[v] || a >= b) continue;
            update_range(cfg, params, opt_state, grads, grads2, P, a, b, step, lr, u_product,
                         scales ? &scales[2 * l + v] : NULL);
        }
    }
}

/* Backward through the stages, from delta = dL/dlogits of the last stage
 * (the batch mean's 1/m folded in) down to the first stage's parameters:
 * their gradients overwrite grads. All gradients are formed before any
 * parameter moves, so each stage's error uses the parameters of the
 * forward pass. delta and spare are the two delta buffers (clobbered).
 * dz0: NULL, or stage 0 (dense) leaves its weight gradient unformed and
 * writes its dL/dz (mt rows) to dz0 instead, from which the batch's step is
 * taken (see folds_first_weight). */
static void stages_backward(const nn_config *cfg, const scratch *s, real *grads,
                            const real *params, const real *xb, int mt, int m, real *delta,
                            real *spare, const pass *ps, real *dz0) {
    const int last = cfg->n_layers - 1;
    for (int l = last; l >= 0; l--) {
        const real *inp = l ? s->acts[l - 1] : xb;
        int n = cfg->sizes[l + 1], act = cfg->activations[l];
        /* delta holds dL/d(stage l's output) here (dL/dlogits for the last) */
        if (l != last && has_activity_penalty(cfg, l))
            NNF(l1_l2_penalty_backward)(delta, s->acts[l], (int64_t)mt * n,
                                        (real)cfg->activity_l1[l],
                                        (real)(2 * cfg->activity_l2[l]), (real)(1.0 / m));
        switch (cfg->kinds[l]) {
        case NN_LAYER_BATCHNORM: {
            int batch = batch_statistics(cfg, l, ps);
            const real *moving = params + s->st_off[l];
            NNF(batchnorm_backward)(delta, WEIGHT(grads, s, l), BIAS(grads, s, l), delta, inp,
                                    batch ? s->bn_mean[l] : moving,
                                    batch ? s->bn_var[l] : moving + n, WEIGHT(params, s, l),
                                    mt, n, cfg->bn_epsilon[l], batch);
            break;
        }
        case NN_LAYER_DROPOUT:
            if (l && cfg->rates[l] > 0)
                NNF(dropout_backward)(delta, delta, mt, n, cfg->rates[l],
                                      nn_dropout_key(cfg->dropout_seed, ps->step, l), ps->row0);
            break;
        case NN_LAYER_ACTIVATION:
            if (l && l != last)
                NNF(activation_backward)(delta, delta, s->acts[l], inp, mt, n, act);
            break;
        default: {
            /* a folded stage 0's dL/dz goes where the batch's step reads it */
            real *dz = !l && dz0 ? dz0 : delta;
            if (l != last) NNF(activation_backward)(dz, delta, s->acts[l], NULL, mt, n, act);
            else if (dz != delta) memcpy(dz, delta, sizeof(real) * (size_t)mt * n);
            delta = dz;
            real *dinp = l ? spare : NULL;
            NNF(dense_backward)(dinp, !l && dz0 ? NULL : grads + s->w_off[l],
                                BIAS(grads, s, l), delta, inp, params + s->w_off[l], mt,
                                cfg->sizes[l], n);
            if (l) {
                spare = delta;
                delta = dinp;
            }
        }
        }
    }
}

/* The gather prefetches each next row only when x is at least this large:
 * then rows come from beyond L2 (Fashion-MNIST's float32 epoch: best 0.154
 * -> 0.142 s with the prefetch). A smaller x sits in L2 after the first
 * epoch, and for its rows the prefetch loop cost more than the copy (the
 * 87 KB of breast cancer's 30 features: 820 of the epoch loop's own 2600
 * instructions per 32-row batch, 2.7% of the core's). */
#define PREFETCH_MIN_BYTES (256 * 1024)

/* Forward and backward of rows [r0, r0+mt) of a batch of m rows: gradients of
 * the batch-mean loss from these rows (overwriting grads). Rows come from
 * perm when given (gathered into fold_x when given, else s->xbuf), else
 * straight from x. Returns the
 * rows' loss sum, taken before any update, and sets counts (unless NULL: a
 * caller that wants none) to their metric counts
 * predictions.
 * With sample weights sw (NULL: none) the batch's loss is the weighted mean
 * sum_i w_i l_i / wsum (wsum: the whole batch's weight sum): row i's error is
 * scaled by w_i m / wsum, and the returned sum is m / wsum times the rows'
 * weighted loss sum, so an epoch's total stays "rows times mean loss" per
 * batch (scikit-learn's sample_weight). prefetch: fetch each next gathered
 * row ahead (see PREFETCH_MIN_BYTES). fold_x, fold_dz: NULL, or stage 0's
 * weight gradient is left unformed, and these rows' places in the whole
 * batch's gathered rows (fold_x, when rows are gathered) and stage-0 dL/dz
 * (fold_dz), from which the batch's step is taken (folds_first_weight). */
static double block_gradients(const nn_config *cfg, const scratch *s, real *grads,
                              const real *params, const real *x, const real *y,
                              const int64_t *perm, int64_t r0, int mt, int m,
                              int64_t *counts, const real *sw, double wsum,
                              const pass *ps, int prefetch, real *fold_x, real *fold_dz) {
    const int L = cfg->n_layers, F = cfg->sizes[0], K = cfg->sizes[L];
    const real *xb = x + r0 * F, *yb = y + r0 * K;
    real *xdst = fold_x ? fold_x : s->xbuf;
    if (perm) {
        for (int i = 0; i < mt; i++) {
            int64_t r = perm[r0 + i];
            if (prefetch && i + 1 < mt) {
                /* the next row, which is anywhere in x: its lines are on the
                 * way while this one is copied */
                const char *next = (const char *)(x + perm[r0 + i + 1] * F);
                for (size_t b = 0; b < sizeof(real) * (size_t)F; b += 64)
                    __builtin_prefetch(next + b);
            }
            memcpy(xdst + (int64_t)i * F, x + r * F, sizeof(real) * F);
            if (K == 1) /* one target: a call to copy one number costs more than the copy */
                s->ybuf[i] = y[r];
            else
                memcpy(s->ybuf + (int64_t)i * K, y + r * K, sizeof(real) * K);
        }
        xb = xdst;
        yb = s->ybuf;
    }
    forward_layers(cfg, params, s, xb, mt, ps);
    real *a_out = s->acts[L - 1];
    double loss = sw ? weighted_output_layer(cfg, a_out, yb, mt, sw, perm, r0) * (m / wsum)
                     : output_layer(cfg, a_out, yb, mt);
    loss += activity_penalties(cfg, s, mt);
    if (counts) {
        NNF(metric_counts)(cfg, a_out, yb, mt, K, counts);
        if (cfg->auc_bins) {
            int64_t *pos = counts + NN_COUNTS, *neg = pos + cfg->auc_bins;
            memset(pos, 0, sizeof(int64_t) * 2 * (size_t)cfg->auc_bins);
            NNF(auc_histogram)(cfg, a_out, yb, mt, K, pos, neg);
        }
    }

    /* delta = dL/dz of the last layer, with the batch mean's 1/m folded in */
    real *delta = s->delta[0], *spare = s->delta[1];
    NNF(output_loss_backward)(cfg, delta, a_out, yb, mt, m);
    if (sw)
        for (int i = 0; i < mt; i++) {
            real f = (real)(sw[perm ? perm[r0 + i] : r0 + i] * (m / wsum));
            for (int k = 0; k < K; k++) delta[(int64_t)i * K + k] *= f;
        }
    if (has_activity_penalty(cfg, L - 1)) {
        /* the output's penalty is on its activations: through their Jacobian */
        int64_t n = (int64_t)mt * K;
        for (int64_t i = 0; i < n; i++) spare[i] = 0;
        NNF(l1_l2_penalty_backward)(spare, a_out, n, (real)cfg->activity_l1[L - 1],
                                    (real)(2 * cfg->activity_l2[L - 1]), (real)(1.0 / m));
        NNF(activation_backward)(spare, spare, a_out, NULL, mt, K, cfg->activations[L - 1]);
        for (int64_t i = 0; i < n; i++) delta[i] += spare[i];
    }
    stages_backward(cfg, s, grads, params, xb, mt, m, delta, spare, ps, fold_dz);
    return loss;
}

/* The forward pass of m rows (one chunk) on one scratch: outputs (logits or
 * activations) into out when not NULL, and the chunk's loss sum against y
 * (0 without y). Prediction, evaluation and the validation pass of training
 * all come through here. */
static double forward_chunk(const nn_config *cfg, const scratch *s, const real *params,
                            const real *x, int m, real *out, int logits, const real *y,
                            const real *sw) {
    const int L = cfg->n_layers, K = cfg->sizes[L];
    forward_layers(cfg, params, s, x, m, &INFERENCE);
    real *a_out = s->acts[L - 1];
    if (out && logits) memcpy(out, a_out, sizeof(real) * (size_t)m * K);
    double loss = y && sw ? weighted_output_layer(cfg, a_out, y, m, sw, NULL, 0)
                          : output_layer(cfg, a_out, y, m);
    if (out && !logits) memcpy(out, a_out, sizeof(real) * (size_t)m * K);
    /* Keras's evaluation loss includes the regularization penalties */
    if (y) loss += activity_penalties(cfg, s, m) + m * weight_penalties(cfg, params);
    return loss;
}

/* The book's penalty l1*sum|W| + l2/2*sum W^2 over every dense stage's weights. */
double NNF(network_penalty)(const nn_config *cfg, const real *params) {
    double out[2];
    if (cfg->l1 == 0 && cfg->l2 == 0) return 0.0;
    penalty_pieces(cfg, params, NETWORK_PENALTY, 0, 1, out);
    return out[0];
}

/* ---- one call's work, shared by its threads -------------------------------- */

typedef struct {
    const nn_config *cfg;
    real *params, *opt_state;
    int T;                            /* threads */
    scratch s[NN_MAX_THREADS];
    real *grads[NN_ROW_BLOCKS];       /* one gradient buffer per row block */
    /* a folded batch's gathered rows (batch_size x s0) and stage-0 dL/dz
     * (batch_size x s1), every block's in row order (folds_first_weight) */
    real *fold_x, *fold_dz;
    nn_barrier barrier;
    const nn_hook *hook;
    atomic_int stop;                  /* set by the hook's caller, thread 0 */
    /* training */
    const real *x, *y, *sw;           /* sw: sample weights, or NULL */
    int64_t n;
    const int64_t *perms;
    int n_epochs, batch_size, epochs_done;
    int64_t step;
    double block_loss[NN_ROW_BLOCKS];
    double penalty_part[NN_ROW_BLOCKS][2]; /* see penalty_pieces */
    int64_t block_counts[NN_ROW_BLOCKS][NN_COUNTS + 2 * NN_MAX_AUC_BINS];
    double *loss_sums, *penalties, *val_sums;
    int64_t *counts;                  /* nn_counts_len(cfg) per epoch */
    double clip_scale[2 * NN_MAX_LAYERS]; /* see clip_scales */
    /* a forward pass (validation, prediction); swf: its rows' weights or NULL */
    const real *xf, *yf, *swf;
    int64_t nf;
    int chunk_rows;
    real *out;
    int logits;
    double *chunk_loss;
} job;

/* Carves the workspace: `blocks` gradient buffers, then one scratch region
 * of `rows` rows per row block or thread, whichever are more (thread t's
 * forward passes use region t), then, for training (batch_size > 0) where
 * the first stage's step may be folded, a whole batch's gathered rows and
 * stage-0 dL/dz, which stay there until the batch's update
 * (folds_first_weight; nn_train_workspace_len). */
static void plan(job *j, const nn_config *cfg, real *work, int blocks, int64_t rows, int T,
                 int gather, int batch_size) {
    const int64_t P = nn_param_count(cfg);
    j->cfg = cfg;
    j->T = T;
    for (int k = 0; k < blocks; k++) j->grads[k] = work + k * P;
    real *regions = work + (int64_t)blocks * P;
    int64_t region = rows * nn_row_width(cfg, gather) + nn_scratch_extra(cfg);
    const int n_regions = blocks > T ? blocks : T;
    for (int r = 0; r < n_regions; r++)
        carve(cfg, regions + r * region, rows, gather, &j->s[r]);
    j->fold_x = j->fold_dz = NULL;
    if (batch_size > 0 && nn_first_weight_foldable(cfg)) { /* see nn_train_workspace_len */
        real *at = regions + n_regions * region;
        if (gather) {
            j->fold_x = at;
            at += (int64_t)batch_size * cfg->sizes[0];
        }
        j->fold_dz = at;
    }
    nn_barrier_init(&j->barrier, T);
    atomic_init(&j->stop, 0);
}

/* Thread 0's clock for the hook: when it last called it, and how often it
 * reads the time: every `stride` batches (or chunks), doubling while reads
 * come less than a sixteenth of the interval apart and halving when more
 * than a quarter, at most HOOK_MAX_STRIDE. Reading it after every batch
 * cost about 1% of breast cancer's 30-10-1 epoch (one read per 3 us batch,
 * some 16,000 in a 50 ms interval); now the hook is called at most about
 * an eighth of its interval late, and the cap bounds the wait should
 * batches turn slow mid-call. */
#define HOOK_MAX_STRIDE 64
typedef struct {
    double last, read; /* the last call and the last read of the time */
    int countdown, stride;
} hook_clock;

static hook_clock hook_clock_start(const job *j, int t) {
    double now = t == 0 && j->hook ? nn_seconds() : 0;
    hook_clock c = {now, now, 1, 1};
    return c;
}

/* Thread 0, after a batch: whether the hook is due (see hook_clock). */
static int hook_due(const job *j, hook_clock *c) {
    const nn_hook *h = j->hook;
    if (!h || !h->fn) return 0;
    if (h->interval <= 0) return 1;
    if (--c->countdown > 0) return 0;
    const double now = nn_seconds(), gap = now - c->read;
    c->read = now;
    if (gap < h->interval / 16 && c->stride < HOOK_MAX_STRIDE) c->stride *= 2;
    else if (gap > h->interval / 4 && c->stride > 1) c->stride /= 2;
    c->countdown = c->stride;
    if (now - c->last < h->interval) return 0;
    c->last = now;
    return 1;
}

static void call_hook(job *j, const nn_progress *p) {
    if (j->hook->fn(j->hook->ctx, p)) atomic_store_explicit(&j->stop, 1, memory_order_relaxed);
}

static int stopped(job *j) { return atomic_load_explicit(&j->stop, memory_order_relaxed); }

/* Thread t's share of a forward pass: chunks t, t+T, ...; each chunk's loss
 * into chunk_loss[c]. Stops between chunks once the stop flag is set. */
static void forward_part(job *j, int t, int epoch) {
    const int L = j->cfg->n_layers, F = j->cfg->sizes[0], K = j->cfg->sizes[L];
    const int64_t chunks = (j->nf + j->chunk_rows - 1) / j->chunk_rows;
    hook_clock clock = hook_clock_start(j, t);
    for (int64_t c = t; c < chunks && !stopped(j); c += j->T) {
        int64_t r0 = c * j->chunk_rows;
        int m = (int)(j->nf - r0 < j->chunk_rows ? j->nf - r0 : j->chunk_rows);
        double loss = forward_chunk(j->cfg, &j->s[t], j->params, j->xf + r0 * F, m,
                                    j->out ? j->out + r0 * K : NULL, j->logits,
                                    j->yf ? j->yf + r0 * K : NULL,
                                    j->swf ? j->swf + r0 : NULL);
        if (j->chunk_loss) j->chunk_loss[c] = loss;
        if (t == 0 && hook_due(j, &clock)) {
            nn_progress p = {epoch, c + 1, chunks, r0 + m, 0.0, 0, {0}};
            call_hook(j, &p);
        }
    }
}

/* Stage 0's weight step for a folded batch of m rows from `start` on
 * (folds_first_weight), at update number step, wsum: what the batch's loss
 * is divided by (see first_weight_keep): W = keep W - lr X^T dZ over the
 * whole batch, one product per part of the weight's rows (the layer's
 * inputs), NN_ROW_BLOCKS fixed parts, part p on thread p % T. The parts
 * depend on the network alone, so every thread count makes the same calls
 * and gets the same bits. One product over the batch's rows, where each
 * block's rows were a product of their own: the chapter-7 Keras model's
 * part (392 x 100 weights, 32 rows) took 37.6 us against 50.0 us as two
 * 16-row products (best of 7 x 50, one OpenBLAS thread), each of which read
 * and wrote the part's 157 KB. */
static void first_weight_steps(job *j, int t, int64_t start, int m, int64_t step, double wsum) {
    const nn_config *cfg = j->cfg;
    const int F = cfg->sizes[0], H = cfg->sizes[1];
    const double lr = nn_learning_rate(cfg, step - 1);
    const real keep = (real)first_weight_keep(cfg, lr, wsum);
    const real *rows = j->fold_x ? j->fold_x : j->x + start * F; /* gathered, or in order in x */
    real *w = j->params + j->s[0].w_off[0];
    for (int p = t; p < NN_ROW_BLOCKS; p += j->T) {
        const int f0 = F * p / NN_ROW_BLOCKS, f1 = F * (p + 1) / NN_ROW_BLOCKS;
        if (f1 > f0)
            NNF(dense_weight_sgd_step)(w + (int64_t)f0 * H, j->fold_dz, rows + f0, m, f1 - f0, H,
                                       F, (real)lr, keep);
    }
}

static double chunk_total(const job *j) {
    double total = 0;
    if (!j->chunk_loss) return 0;
    for (int64_t c = 0; c < (j->nf + j->chunk_rows - 1) / j->chunk_rows; c++)
        total += j->chunk_loss[c];
    return total;
}

static void train_thread(void *arg, int t) {
    job *j = arg;
    const nn_config *cfg = j->cfg;
    const int T = j->T;
    const int64_t P = nn_param_count(cfg), lo = P * t / T, hi = P * (t + 1) / T;
    const int64_t batches = (j->n + j->batch_size - 1) / j->batch_size;
    const scratch *s = &j->s[t]; /* for the layout; block k's rows use j->s[k] */
    real *grads = j->grads[0]; /* the blocks are summed into block 0's buffer,
                                * or inside the step (sums_in_step) */
    int64_t step = j->step;
    hook_clock clock = hook_clock_start(j, t);
    const int prefetch = (double)j->n * cfg->sizes[0] * sizeof(real) >= PREFETCH_MIN_BYTES;
    const int sum_in_step = sums_in_step(cfg), F = cfg->sizes[0], H = cfg->sizes[1];
    const int batch_penalty_sums = batch_penalty_kinds(cfg);
    int64_t first_weight_off, first_weight_len = stage_variable(cfg, s, 0, 0, &first_weight_off);

    for (int e = 0; e < j->n_epochs; e++) {
        const int64_t *perm = j->perms ? j->perms + (int64_t)e * j->n : NULL;
        double loss = 0, batch_penalties = 0;
        const int64_t C = nn_counts_len(cfg);
        int64_t counts[NN_COUNTS + 2 * NN_MAX_AUC_BINS], b = 0;
        memset(counts, 0, sizeof(int64_t) * (size_t)C);
        for (int64_t start = 0; start < j->n; start += j->batch_size, b++) {
            int m = (int)(j->n - start < j->batch_size ? j->n - start : j->batch_size);
            int blocks = nn_row_blocks(cfg, m), fold = folds_first_weight(cfg, m);
            /* what the batch's weighted loss is divided by: its rows, or its
             * weight sum, formed in row order on every thread */
            double wsum = m;
            if (j->sw && !cfg->weight_over_rows) {
                wsum = 0;
                for (int i = 0; i < m; i++) wsum += j->sw[perm ? perm[start + i] : start + i];
            }
            /* nobody updates the parameters before the barrier below */
            if (batch_penalty_sums)
                for (int p = t; p < NN_ROW_BLOCKS; p += T)
                    penalty_pieces(cfg, j->params, batch_penalty_sums, p, NN_ROW_BLOCKS,
                                   j->penalty_part[p]);
            for (int k = t; k < blocks; k += T) {
                int64_t r0 = start + (int64_t)m * k / blocks;
                int64_t r1 = start + (int64_t)m * (k + 1) / blocks;
                pass ps = {1, step + 1, r0 - start};
                j->block_loss[k] = block_gradients(cfg, &j->s[k], j->grads[k], j->params, j->x,
                                                   j->y, perm, r0, (int)(r1 - r0), m,
                                                   j->counts ? j->block_counts[k] : NULL,
                                                   j->sw, wsum, &ps, prefetch,
                                                   fold && j->fold_x ? j->fold_x + (r0 - start) * F
                                                                     : NULL,
                                                   fold ? j->fold_dz + (r0 - start) * H : NULL);
            }
            nn_barrier_wait(&j->barrier);
            /* thread 0 set the flag (if at all) before this barrier */
            if (stopped(j)) goto out;
            /* two blocks under plain SGD: summed in the step (sums_in_step) */
            const real *grads2 = blocks == 2 && sum_in_step ? j->grads[1] : NULL;
            /* (a folded stage-0 weight has no gradient to sum: its range is skipped) */
            const int64_t skip_from = fold ? first_weight_off : hi;
            const int64_t skip_to = fold ? first_weight_off + first_weight_len : hi;
            for (int k = 1; k < blocks && !grads2; k++) {
                const real *g = j->grads[k];
                for (int64_t i = lo; i < (hi < skip_from ? hi : skip_from); i++) grads[i] += g[i];
                for (int64_t i = lo > skip_to ? lo : skip_to; i < hi; i++) grads[i] += g[i];
            }
            step += 1;
            for (int l = 0; l < cfg->n_layers; l++)
                if (!cfg->frozen[l])
                    penalty_gradients(cfg, s, grads, j->params, l, lo, hi, wsum, l == 0 && fold);
            if (clips_by_norm(cfg)) { /* the norms need every slice's gradients */
                nn_barrier_wait(&j->barrier);
                if (t == 0) clip_scales(cfg, s, grads, j->clip_scale);
                nn_barrier_wait(&j->barrier);
            }
            update_slice(cfg, s, j->params, j->opt_state, grads, grads2, P, lo, hi, step,
                         clips_by_norm(cfg) ? j->clip_scale : NULL, fold);
            if (fold) first_weight_steps(j, t, start, m, step, wsum);
            if (t == 0) {
                /* one block with batch normalization: its statistics are thread 0's */
                for (int l = 0; l < cfg->n_layers; l++)
                    if (cfg->kinds[l] == NN_LAYER_BATCHNORM && !cfg->frozen[l]) {
                        real *moving = j->params + s->st_off[l];
                        NNF(batchnorm_update_moving)(moving, moving + cfg->sizes[l + 1],
                                                     s->bn_mean[l], s->bn_var[l],
                                                     cfg->sizes[l + 1], cfg->bn_momentum[l]);
                    }
                if (batch_penalty_sums) {
                    double part_sums[2] = {0, 0};
                    for (int p = 0; p < NN_ROW_BLOCKS; p++)
                        for (int i = 0; i < 2; i++) part_sums[i] += j->penalty_part[p][i];
                    batch_penalties += part_sums[0] * (m / wsum);
                    loss += m * part_sums[1];
                }
                for (int k = 0; k < blocks; k++) {
                    loss += j->block_loss[k];
                    for (int64_t c = 0; c < C; c++) counts[c] += j->block_counts[k][c];
                }
            }
            nn_barrier_wait(&j->barrier);
            if (t == 0 && cfg->optimizer == NN_OPT_NADAM) {
                /* every thread has read the old product (before the barrier) */
                real u_product[2];
                nadam_products(cfg, j->opt_state, P, step, u_product);
                j->opt_state[2 * P] = u_product[0];
            }
            if (t == 0 && hook_due(j, &clock)) {
                nn_progress p = {e, b + 1, batches, start + m, loss,
                                 counts[NN_COUNT_CORRECT], {0}};
                memcpy(p.counts, counts, sizeof p.counts);
                call_hook(j, &p);
            }
        }
        /* every batch is applied; a stop before the validation pass is done
         * leaves the epoch uncounted (its validation loss is missing) */
        if (j->xf) {
            forward_part(j, t, e);
            nn_barrier_wait(&j->barrier); /* every chunk's loss is in */
            if (stopped(j)) goto out;
        }
        /* Without a validation pass no barrier is needed here, and a
         * full-batch epoch saves one of its three: the parameters are final
         * since the last batch's closing barrier (thread 0 reads them for the
         * penalty before it reaches the next batch's first barrier, and
         * nobody writes them before that), and a stop the hook set after the
         * last batch reaches every thread at that first barrier. */
        if (t == 0) {
            j->loss_sums[e] = loss;
            if (j->counts) memcpy(j->counts + e * C, counts, sizeof(int64_t) * (size_t)C);
            j->penalties[e] = cfg->penalty_each_batch ? batch_penalties
                                                      : NNF(network_penalty)(cfg, j->params);
            if (j->xf) j->val_sums[e] = chunk_total(j);
            j->epochs_done = e + 1;
        }
    }
out:
    if (t == 0) j->step = step;
}

static void forward_thread(void *arg, int t) {
    forward_part((job *)arg, t, -1);
}

/* n_epochs epochs in one call, so small networks do not pay Python's
 * per-epoch overhead. x (n, s0), y (n, sL); perms: n_epochs rows of n
 * indices (epoch e uses row e), or NULL for the rows in order. For each
 * completed epoch e: loss_sums[e] = the sum of its batches' loss terms (each
 * taken before that batch's update), penalties[e] = the penalty after the
 * epoch and, when x_val is not NULL, val_loss_sums[e] = the loss sum over
 * x_val (n_val rows, in chunks of fwd_rows, val_chunk_loss holding one entry
 * per chunk) after it; counts[e * nn_counts_len(cfg) ...] = the epoch's
 * metric counts (see metric_counts: correct rows, top-k hits, true and false
 * positives, false negatives; then the AUC histograms), each batch's taken
 * before its update; with counts NULL none are formed (a pass over every
 * batch's outputs saved) and the hook's progress reports zeros. *step counts updates
 * (Adam's t); *epochs_done the epochs completed. sample_weight (n values,
 * or NULL for none) weighs each row as block_gradients says. Returns NN_STOPPED when the
 * hook stopped the call: then *epochs_done < n_epochs and the parameters are
 * those after the last completed batch. The workspace must hold
 * nn_train_workspace_len(cfg, batch_size, threads, perms != NULL,
 * x_val ? min(fwd_rows, n_val) : 0). */
int NNF(network_train_epochs)(const nn_config *cfg, real *params, real *opt_state, real *work,
                              int threads, const real *x, const real *y, int64_t n,
                              const int64_t *perms, int n_epochs, int batch_size,
                              const real *x_val, const real *y_val, int64_t n_val,
                              int fwd_rows, double *val_chunk_loss,
                              const real *sample_weight, const nn_hook *hook,
                              int64_t *step, int *epochs_done, double *loss_sums,
                              double *penalties, double *val_loss_sums, int64_t *counts) {
    if (nn_check_config(cfg) != NN_OK || n < 1 || batch_size < 1 || n_epochs < 0 ||
        threads < 1 || (x_val && (n_val < 1 || fwd_rows < 1 || !val_chunk_loss)))
        return NN_EINVAL;
    job j;
    int blocks = nn_row_blocks(cfg, batch_size);
    int T = nn_clamp_threads(threads, blocks);
    int64_t rows = 1;
    for (int64_t m = 1; m <= batch_size; m++) { /* the largest block of any batch */
        int nb = nn_row_blocks(cfg, m);
        if ((m + nb - 1) / nb > rows) rows = (m + nb - 1) / nb;
    }
    /* the validation pass's chunks (no more rows than x_val has) */
    if (x_val && (fwd_rows < n_val ? fwd_rows : n_val) > rows) rows = fwd_rows < n_val ? fwd_rows : n_val;
    plan(&j, cfg, work, blocks, rows, T, perms != NULL, batch_size);
    j.params = params;
    j.opt_state = opt_state;
    j.hook = hook;
    j.x = x;
    j.y = y;
    j.sw = sample_weight;
    j.n = n;
    j.perms = perms;
    j.n_epochs = n_epochs;
    j.batch_size = batch_size;
    j.epochs_done = 0;
    j.step = *step;
    j.xf = x_val;
    j.yf = y_val;
    j.swf = NULL;
    j.nf = n_val;
    j.chunk_rows = fwd_rows;
    j.out = NULL;
    j.logits = 0;
    j.chunk_loss = val_chunk_loss;
    j.loss_sums = loss_sums;
    j.penalties = penalties;
    j.val_sums = val_loss_sums;
    j.counts = counts;
    memset(j.block_counts, 0, sizeof j.block_counts);
    if (nn_run_parallel(T, train_thread, &j) != NN_OK) { /* no threads: run on one */
        plan(&j, cfg, work, blocks, rows, 1, perms != NULL, batch_size);
        nn_run_parallel(1, train_thread, &j);
    }
    *step = j.step;
    *epochs_done = j.epochs_done;
    return j.epochs_done < n_epochs ? NN_STOPPED : NN_OK;
}

/* One epoch without validation or hook; see network_train_epochs. */
int NNF(network_train_epoch)(const nn_config *cfg, real *params, real *opt_state, real *work,
                             int threads, const real *x, const real *y, int64_t n,
                             const int64_t *perm, int batch_size, int64_t *step,
                             double *loss_sum, int64_t *correct) {
    double penalty;
    int done;
    int64_t counts[NN_COUNTS + 2 * NN_MAX_AUC_BINS] = {0};
    int rc = NNF(network_train_epochs)(cfg, params, opt_state, work, threads, x, y, n, perm, 1,
                                       batch_size, NULL, NULL, 0, 0, NULL, NULL, NULL, step,
                                       &done, loss_sum, &penalty, NULL, counts);
    if (correct) *correct = counts[NN_COUNT_CORRECT];
    return rc;
}

/* Forward over n rows in chunks of chunk_rows. out (n, sL), when not NULL,
 * receives the logits (logits != 0) or the output activations. When y is not
 * NULL, chunk_loss (one entry per chunk) receives each chunk's loss sum and
 * *loss_sum their sum in chunk order; with sample_weight (n values, or NULL)
 * each row's loss is weighted: sum_i w_i l_i. Returns NN_STOPPED if the hook stopped
 * it (out then holds only some chunks). The workspace must hold
 * nn_forward_workspace_len(cfg, min(chunk_rows, n), threads). */
int NNF(network_forward)(const nn_config *cfg, const real *params, real *work, int chunk_rows,
                         int threads, const real *x, int64_t n, real *out, int logits,
                         const real *y, const real *sample_weight, double *chunk_loss,
                         const nn_hook *hook, double *loss_sum) {
    if (nn_check_config(cfg) != NN_OK || n < 1 || chunk_rows < 1 || threads < 1 ||
        (y && !chunk_loss))
        return NN_EINVAL;
    job j;
    int64_t chunks = (n + chunk_rows - 1) / chunk_rows;
    int T = nn_clamp_threads(threads, chunks);
    if (nn_row_blocks(cfg, n) == 1) T = 1; /* too little work for threads */
    int64_t rows = chunk_rows < n ? chunk_rows : n;
    plan(&j, cfg, work, 0, rows, T, 0, 0);
    j.params = (real *)params; /* only read on this path */
    j.hook = hook;
    j.xf = x;
    j.yf = y;
    j.swf = sample_weight;
    j.nf = n;
    j.chunk_rows = chunk_rows;
    j.out = out;
    j.logits = logits;
    j.chunk_loss = y ? chunk_loss : NULL;
    if (nn_run_parallel(T, forward_thread, &j) != NN_OK) {
        plan(&j, cfg, work, 0, rows, 1, 0, 0);
        nn_run_parallel(1, forward_thread, &j);
    }
    if (stopped(&j)) return NN_STOPPED;
    if (loss_sum) *loss_sum = chunk_total(&j);
    return NN_OK;
}
