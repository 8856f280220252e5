/*
 * rng.h: a small explicit-state random generator (xoshiro256**, seeded with
 * splitmix64). Its whole state is four words, saved in snapshots so a resumed
 * run draws the same numbers. No global state.
 */
#ifndef CRNN_RNG_H
#define CRNN_RNG_H

#include <stdint.h>

typedef struct crnn_rng {
    uint64_t s[4];
} crnn_rng;

void crnn_rng_seed(crnn_rng *rng, uint64_t seed);
uint64_t crnn_rng_next(crnn_rng *rng);
/* Uniform in [0, 1) with 24 random bits (exact in float). */
float crnn_rng_uniform(crnn_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double crnn_rng_uniform_double(crnn_rng *rng);

#endif
