/* Row orders for mini-batch epochs, drawn exactly as NumPy's legacy
 * numpy.random.RandomState(seed).permutation(n) draws them: MT19937, a
 * Fisher-Yates shuffle of 0..n-1 from the last element down, each bound
 * drawn by masked rejection. NumPy keeps RandomState's stream frozen for
 * compatibility (NEP 19), so the book's RandomState(42) orders come out of
 * C without one Python call per epoch. The state (key, pos) is the one
 * RandomState.get_state() shows, and is advanced in place. */
#include "nncore.h"

#define MT_N 624
#define MT_M 397

/* The next MT_N words, as MT19937 forms them in place: word i from words
 * i, i+1 and i+M (mod N), in order i = 0..N-1, so the last M-1 words use
 * words already renewed. Written as three loops over the index ranges
 * instead of taking indices mod N, which is the same sequence of
 * operations in the same order (the same words) but lets the compiler
 * vectorise the first two loops. Rarely called (once per MT_N draws), so
 * kept out of line. */
static uint32_t mt_mix(uint32_t upper, uint32_t lower, uint32_t far) {
    uint32_t y = (upper & 0x80000000u) | (lower & 0x7fffffffu);
    return far ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
}

static __attribute__((noinline)) void mt_refill(uint32_t *key) {
    int i = 0;
    for (; i < MT_N - MT_M; i++) key[i] = mt_mix(key[i], key[i + 1], key[i + MT_M]);
    for (; i < MT_N - 1; i++) key[i] = mt_mix(key[i], key[i + 1], key[i + MT_M - MT_N]);
    key[MT_N - 1] = mt_mix(key[MT_N - 1], key[0], key[MT_M - 1]);
}

/* MT19937's output for one word of the state */
static inline uint32_t mt_temper(uint32_t y) {
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

static inline uint32_t mt_next32(uint32_t *key, int *pos) {
    if (__builtin_expect(*pos >= MT_N, 0)) {
        mt_refill(key);
        *pos = 0;
    }
    return mt_temper(key[(*pos)++]);
}

/* The smallest all-ones mask (2^k - 1) that covers max. */
static inline uint64_t covering_mask(uint64_t max) {
    uint64_t mask = max;
    mask |= mask >> 1;
    mask |= mask >> 2;
    mask |= mask >> 4;
    mask |= mask >> 8;
    mask |= mask >> 16;
    mask |= mask >> 32;
    return mask;
}

/* A uniform integer in [0, max]: draw under covering_mask(max), reject
 * above max (NumPy's legacy bounded draw). */
static uint64_t mt_interval(uint32_t *key, int *pos, uint64_t max) {
    if (max == 0) return 0;
    uint64_t mask = covering_mask(max), value;
    if (max <= 0xffffffffu) {
        while ((value = (mt_next32(key, pos) & mask)) > max) {
        }
    } else {
        do {
            uint64_t hi = mt_next32(key, pos);
            value = ((hi << 32) | mt_next32(key, pos)) & mask;
        } while (value > max);
    }
    return value;
}

/* MT19937's outputs (the state's words, tempered), a whole state's worth
 * at a time: tempering every word of a fresh state is one loop that
 * vectorises, and leaves each draw of the shuffle below a load. */
static void mt_temper_all(const uint32_t *key, uint32_t *out) {
    for (int i = 0; i < MT_N; i++) out[i] = mt_temper(key[i]);
}

/* The shuffle of a (n elements) for n - 1 < 2^32: mt_interval's draws for
 * i = n-1 down to 1, the same words in the same order, with the outputs
 * tempered a state at a time (mt_temper_all) and the mask carried from one
 * bound to the next (the smallest all-ones mask >= i only ever shrinks)
 * instead of rebuilt for each. A rejected draw (above i) swaps a[i] with
 * itself and keeps i, so the loop has no branch on the draw: whether a draw
 * is rejected is random (up to half of them are), and each mispredicted
 * branch cost more than the swap. 500 permutations of 364 rows (the book's
 * breast-cancer fit, with the 0.1 ms of the Python call around them) took
 * 1.78 ms through mt_interval and 1.32 ms with the tempering and mask as
 * here; then, best of 30 interleaved runs, 1.22-1.31 ms with a branch per
 * draw and 0.74-0.84 ms without. */
static void shuffle32(int64_t *a, int64_t n, uint32_t *key, int *pos, uint32_t *out) {
    uint32_t mask = (uint32_t)covering_mask((uint64_t)(n - 1));
    uint32_t i = (uint32_t)(n - 1);
    int p = *pos;
    while (i > 0) {
        while ((mask >> 1) >= i) mask >>= 1;
        if (__builtin_expect(p >= MT_N, 0)) {
            mt_refill(key);
            mt_temper_all(key, out);
            p = 0;
        }
        const uint32_t w = out[p++] & mask;
        const uint32_t keep = w <= i;
        const uint32_t j = keep ? w : i;
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
        i -= keep;
    }
    *pos = p;
}

/* out (count, n): `count` successive permutations of 0..n-1. */
int nn_legacy_permutations(uint32_t *key, int *pos, int64_t n, int count, int64_t *out) {
    if (n < 0 || count < 0 || *pos < 0 || *pos > MT_N) return NN_EINVAL;
    uint32_t words[MT_N]; /* the current state's outputs, for shuffle32 */
    mt_temper_all(key, words);
    for (int c = 0; c < count; c++) {
        int64_t *a = out + (int64_t)c * n;
        for (int64_t i = 0; i < n; i++) a[i] = i;
        if (n - 1 <= 0xffffffffLL) {
            if (n > 1) shuffle32(a, n, key, pos, words);
            continue;
        }
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)mt_interval(key, pos, (uint64_t)i);
            int64_t t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
    return NN_OK;
}
