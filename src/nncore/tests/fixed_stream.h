/* xorshift64*: a fixed stream of doubles in [-1, 1), the same on every
 * platform, for the C tests and microbenchmarks. */
#ifndef NN_FIXED_STREAM_H
#define NN_FIXED_STREAM_H

#include <stdint.h>

static double uniform(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

#endif
