/* Inverted dropout: in training each unit is kept with probability 1 - rate
 * and scaled by 1 / (1 - rate), so inference needs no change.
 *
 * The masks come from a counter-based generator: unit j of row i of a batch
 * is dropped when hash(key, i * N + j) falls below the rate, where the key
 * is made from the seed, the update number and the stage (nn_dropout_key).
 * No generator state is carried between calls, so a mask depends on none of
 * the thread count, the row blocking or what ran before; and the backward
 * pass recomputes the mask rather than storing it. */
#include "real.h"

/* SplitMix64's finaliser: a bijection on 64 bits whose outputs pass
 * BigCrush as a counter-based generator. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#ifdef NN_REAL_FLOAT
uint64_t nn_dropout_key(uint64_t seed, int64_t step, int layer) {
    return mix64(mix64(seed + 0x9E3779B97F4A7C15ULL) ^
                 ((uint64_t)step * (uint64_t)NN_MAX_LAYERS + (uint64_t)layer));
}
#endif

/* Whether element e of the batch's (rows, N) block is kept: its uniform
 * draw in [0, 1) (53 bits) is at least the rate. */
static inline int kept(uint64_t key, uint64_t e, double rate) {
    uint64_t u = mix64(key ^ mix64(e + 0x632BE59BD9B4E019ULL));
    return (double)(u >> 11) * 0x1.0p-53 >= rate;
}

/* out = inp * mask / (1 - rate) for rows row0 .. row0 + B - 1 of a batch;
 * out may alias inp. */
void NNF(dropout_forward)(real *out, const real *inp, int B, int N, double rate, uint64_t key,
                          int64_t row0) {
    real scale = (real)(1.0 / (1.0 - rate));
    for (int i = 0; i < B; i++) {
        uint64_t e0 = (uint64_t)(row0 + i) * (uint64_t)N;
        for (int j = 0; j < N; j++) {
            int64_t k = (int64_t)i * N + j;
            out[k] = kept(key, e0 + (uint64_t)j, rate) ? inp[k] * scale : (real)0;
        }
    }
}

/* dinp = dout * mask / (1 - rate), the same mask as the forward pass. */
void NNF(dropout_backward)(real *dinp, const real *dout, int B, int N, double rate,
                           uint64_t key, int64_t row0) {
    NNF(dropout_forward)(dinp, dout, B, N, rate, key, row0);
}
