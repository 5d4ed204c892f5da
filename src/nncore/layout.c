/* Where things live: the flat parameter vector and the scratch buffer. */
#include <math.h>
#include "nncore.h"

int nn_check_config(const nn_config *cfg) {
    if (!cfg || cfg->n_layers < 1 || cfg->n_layers > NN_MAX_LAYERS) return NN_EINVAL;
    for (int l = 0; l <= cfg->n_layers; l++)
        if (cfg->sizes[l] < 1) return NN_EINVAL;
    for (int l = 0; l < cfg->n_layers; l++) {
        int kind = cfg->kinds[l], act = cfg->activations[l];
        if (act < NN_LINEAR || act >= NN_ACTIVATION_COUNT) return NN_EINVAL;
        /* a dense stage keeps only its output: no activation whose backward
         * needs its input (those run as activation stages) */
        if (kind == NN_LAYER_DENSE && nn_activation_needs_input(act)) return NN_EINVAL;
        if (kind < NN_LAYER_DENSE || kind > NN_LAYER_ACTIVATION) return NN_EINVAL;
        if (kind != NN_LAYER_DENSE && cfg->sizes[l + 1] != cfg->sizes[l]) return NN_EINVAL;
        /* batch normalization and dropout compute no activation of their own */
        if ((kind == NN_LAYER_BATCHNORM || kind == NN_LAYER_DROPOUT) && act != NN_LINEAR)
            return NN_EINVAL;
        if (kind == NN_LAYER_DROPOUT && !(cfg->rates[l] >= 0 && cfg->rates[l] < 1))
            return NN_EINVAL;
        if (kind == NN_LAYER_BATCHNORM &&
            !(cfg->bn_epsilon[l] > 0 && cfg->bn_momentum[l] >= 0 && cfg->bn_momentum[l] <= 1))
            return NN_EINVAL;
        /* softmax couples a row's units: only the output may use it */
        if (act == NN_SOFTMAX && l != cfg->n_layers - 1 && kind == NN_LAYER_ACTIVATION)
            return NN_EINVAL;
        double regs[6] = {cfg->kernel_l1[l], cfg->kernel_l2[l], cfg->bias_l1[l],
                          cfg->bias_l2[l], cfg->activity_l1[l], cfg->activity_l2[l]};
        for (int r = 0; r < 6; r++)
            if (!(regs[r] >= 0 && regs[r] < HUGE_VAL)) return NN_EINVAL;
    }
    if (!(cfg->clipnorm >= 0 && cfg->global_clipnorm >= 0 && cfg->clipvalue >= 0))
        return NN_EINVAL;
    if (cfg->auc_bins < 0 || cfg->auc_bins == 1 || cfg->auc_bins > NN_MAX_AUC_BINS)
        return NN_EINVAL;
    int last = cfg->activations[cfg->n_layers - 1];
    /* the output's activation is applied in place of its logits */
    if (nn_activation_needs_input(last)) return NN_EINVAL;
    /* the fused output pairs: the loss kernel itself applies the activation */
    if (cfg->loss == NN_LOSS_BCE && last != NN_SIGMOID) return NN_EINVAL;
    if (cfg->loss == NN_LOSS_CE && last != NN_SOFTMAX) return NN_EINVAL;
    /* the Poisson error a - y holds for an exponential output only */
    if (cfg->loss == NN_LOSS_POISSON && last != NN_EXP) return NN_EINVAL;
    if (cfg->loss < NN_LOSS_BCE || cfg->loss >= NN_LOSS_COUNT) return NN_EINVAL;
    if (cfg->optimizer < NN_OPT_SGD || cfg->optimizer > NN_OPT_NADAM) return NN_EINVAL;
    if (cfg->lr_schedule < NN_LR_CONSTANT || cfg->lr_schedule > NN_LR_COSINE) return NN_EINVAL;
    if ((cfg->lr_schedule == NN_LR_EXPONENTIAL || cfg->lr_schedule == NN_LR_COSINE) &&
        !(cfg->lr_decay_steps > 0))
        return NN_EINVAL;
    if (cfg->lr_schedule == NN_LR_PIECEWISE &&
        (cfg->lr_pieces < 1 || cfg->lr_pieces > NN_MAX_PIECES))
        return NN_EINVAL;
    if (!(cfg->eps >= 0 && cfg->eps < 0.5)) return NN_EINVAL;
    return NN_OK;
}

/* The layout of one stage's parameters from `at` on: its weight (W, or
 * gamma), bias (b, or beta), batch-normalization state (-1: none), and the
 * offset after it. */
static int64_t stage_layout(const nn_config *cfg, int l, int64_t at, int64_t *w, int64_t *b,
                            int64_t *state) {
    int64_t n = cfg->sizes[l + 1];
    *w = *b = *state = -1;
    switch (cfg->kinds[l]) {
    case NN_LAYER_DENSE:
        *w = at;
        at += (int64_t)cfg->sizes[l] * n;
        if (cfg->has_bias[l]) {
            *b = at;
            at += n;
        }
        return at;
    case NN_LAYER_BATCHNORM:
        if (cfg->bn_scale[l]) {
            *w = at;
            at += n;
        }
        if (cfg->has_bias[l]) {
            *b = at;
            at += n;
        }
        *state = at;
        return at + 2 * n;
    default:
        return at;
    }
}

int64_t nn_counts_len(const nn_config *cfg) {
    return NN_COUNTS + 2 * (int64_t)cfg->auc_bins;
}

int64_t nn_param_count(const nn_config *cfg) {
    int64_t at = 0, w, b, state;
    for (int l = 0; l < cfg->n_layers; l++) at = stage_layout(cfg, l, at, &w, &b, &state);
    return at;
}

void nn_param_offsets(const nn_config *cfg, int64_t *w_off, int64_t *b_off) {
    int64_t at = 0, state;
    for (int l = 0; l < cfg->n_layers; l++) at = stage_layout(cfg, l, at, &w_off[l], &b_off[l], &state);
}

int64_t nn_state_offset(const nn_config *cfg, int layer) {
    int64_t at = 0, w, b, state = -1;
    for (int l = 0; l <= layer && l < cfg->n_layers; l++) at = stage_layout(cfg, l, at, &w, &b, &state);
    return state;
}

int nn_has_batchnorm(const nn_config *cfg) {
    for (int l = 0; l < cfg->n_layers; l++)
        if (cfg->kinds[l] == NN_LAYER_BATCHNORM) return 1;
    return 0;
}

/* Each batch-normalization stage's batch mean and variance. */
int64_t nn_scratch_extra(const nn_config *cfg) {
    int64_t total = 0;
    for (int l = 0; l < cfg->n_layers; l++)
        if (cfg->kinds[l] == NN_LAYER_BATCHNORM) total += 2 * (int64_t)cfg->sizes[l + 1];
    return total;
}

int nn_optimizer_slots(const nn_config *cfg) {
    switch (cfg->optimizer) {
    case NN_OPT_MOMENTUM: return 1;
    case NN_OPT_ADAM: return 2;
    case NN_OPT_RMSPROP: return 1;
    case NN_OPT_ADAGRAD: return 1;
    case NN_OPT_ADADELTA: return 2;
    case NN_OPT_ADAMAX: return 2;
    case NN_OPT_NADAM: return 2;
    default: return 0;
    }
}

int64_t nn_optimizer_state_len(const nn_config *cfg) {
    return nn_optimizer_slots(cfg) * nn_param_count(cfg) + (cfg->optimizer == NN_OPT_NADAM);
}

/* Keras's ExponentialDecay, PiecewiseConstantDecay and CosineDecay (no
 * warm-up), at step = the number of earlier updates. */
double nn_learning_rate(const nn_config *cfg, int64_t iterations) {
    double lr = cfg->learning_rate, step = (double)iterations;
    switch (cfg->lr_schedule) {
    case NN_LR_EXPONENTIAL: {
        double p = step / cfg->lr_decay_steps;
        if (cfg->lr_staircase) p = floor(p);
        return lr * pow(cfg->lr_decay_rate, p);
    }
    case NN_LR_PIECEWISE:
        for (int i = 0; i < cfg->lr_pieces; i++)
            if (step <= cfg->lr_boundaries[i]) return cfg->lr_values[i];
        return cfg->lr_values[cfg->lr_pieces];
    case NN_LR_COSINE: {
        double s = step < cfg->lr_decay_steps ? step : cfg->lr_decay_steps;
        double cosine = 0.5 * (1.0 + cos(3.14159265358979323846 * s / cfg->lr_decay_steps));
        return lr * ((1.0 - cfg->lr_alpha) * cosine + cfg->lr_alpha);
    }
    default:
        return lr;
    }
}

/* Scratch rows (see train.c): for each row a thread holds at once, the
 * gathered x (s0) and y (sL) when rows are gathered by a permutation, every
 * layer's activations, and two delta rows as wide as the widest layer. */
int64_t nn_row_width(const nn_config *cfg, int gather) {
    int L = cfg->n_layers;
    int64_t widest = 0, acts = 0;
    for (int l = 1; l <= L; l++) {
        if (cfg->sizes[l] > widest) widest = cfg->sizes[l];
        acts += cfg->sizes[l];
    }
    return (gather ? cfg->sizes[0] + cfg->sizes[L] : 0) + acts + 2 * widest;
}

static double forward_flops_per_row(const nn_config *cfg) {
    double flops = 0;
    for (int l = 0; l < cfg->n_layers; l++)
        if (cfg->kinds[l] == NN_LAYER_DENSE) flops += 2.0 * cfg->sizes[l] * cfg->sizes[l + 1];
    return flops;
}

/* Blocks of at least NN_MIN_BLOCK_ROWS rows, at most NN_ROW_BLOCKS of them,
 * and one block when the batch's forward pass is below
 * cfg->parallel_min_flops (threads cost more than they give on tiny
 * batches) or batch normalization needs the whole batch's statistics. A
 * function of (cfg, m) alone: see NN_ROW_BLOCKS. */
int nn_row_blocks(const nn_config *cfg, int64_t m) {
    if (m < 1 || forward_flops_per_row(cfg) * (double)m < cfg->parallel_min_flops ||
        nn_has_batchnorm(cfg))
        return 1;
    int64_t blocks = m / NN_MIN_BLOCK_ROWS;
    if (blocks > NN_ROW_BLOCKS) blocks = NN_ROW_BLOCKS;
    return blocks < 1 ? 1 : (int)blocks;
}

/* The most rows one block of any batch of at most batch_size rows holds
 * (the last batch of an epoch is shorter and may be blocked differently). */
static int64_t block_rows_cap(const nn_config *cfg, int batch_size) {
    int64_t cap = 1;
    for (int64_t m = 1; m <= batch_size; m++) {
        int nb = nn_row_blocks(cfg, m);
        int64_t rows = (m + nb - 1) / nb;
        if (rows > cap) cap = rows;
    }
    return cap;
}

static int clamp_threads(int threads) {
    return threads < 1 ? 1 : threads > NN_MAX_THREADS ? NN_MAX_THREADS : threads;
}

int nn_first_weight_foldable(const nn_config *cfg) {
    return cfg->optimizer == NN_OPT_SGD && !(cfg->clipvalue > 0) && !(cfg->clipnorm > 0) &&
           !(cfg->global_clipnorm > 0) && cfg->kinds[0] == NN_LAYER_DENSE && !cfg->frozen[0] &&
           cfg->l1 == 0 && cfg->kernel_l1[0] == 0;
}

/* One gradient buffer per row block, then one scratch region per row block
 * (training uses no more threads than blocks), holding a block's rows or a
 * validation chunk's, whichever is larger; then, where the first stage's
 * step may be folded, a whole batch's gathered rows and first-stage dL/dz
 * (nn_first_weight_foldable). */
int64_t nn_train_workspace_len(const nn_config *cfg, int batch_size, int threads, int gather,
                               int fwd_rows) {
    (void)threads;
    int blocks = nn_row_blocks(cfg, batch_size);
    int64_t rows = block_rows_cap(cfg, batch_size);
    if (fwd_rows > rows) rows = fwd_rows;
    int64_t fold = nn_first_weight_foldable(cfg)
                       ? (int64_t)batch_size * ((gather ? cfg->sizes[0] : 0) + cfg->sizes[1])
                       : 0;
    return (int64_t)blocks * nn_param_count(cfg) +
           (int64_t)blocks * (rows * nn_row_width(cfg, gather) + nn_scratch_extra(cfg)) + fold;
}

int64_t nn_forward_workspace_len(const nn_config *cfg, int chunk_rows, int threads) {
    return (int64_t)clamp_threads(threads) *
           ((int64_t)chunk_rows * nn_row_width(cfg, 0) + nn_scratch_extra(cfg));
}
