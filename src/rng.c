/*
 * rng.c: xoshiro256** (Blackman and Vigna), seeded through splitmix64.
 */
#include "rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void crnn_rng_seed(crnn_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t crnn_rng_next(crnn_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float crnn_rng_uniform(crnn_rng *rng)
{
    return (float)(crnn_rng_next(rng) >> 40) * (1.0f / 16777216.0f);
}

double crnn_rng_uniform_double(crnn_rng *rng)
{
    return (double)(crnn_rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}
