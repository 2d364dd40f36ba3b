/* rng.c — kiln's seeded random numbers: xoshiro256** (Blackman & Vigna)
 * seeded through splitmix64, uniform and normal draws, tensor fill helpers
 * and an unbiased Fisher–Yates shuffle.  Only one thread ever draws, so a
 * seed fixes every number on every machine and for every thread count. */
#include "kiln_rt.h"

#include <math.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/* splitmix64 expands one 64-bit seed into the four words of state; it never
 * yields the all-zero state xoshiro must avoid. */
void kiln_rng_seed(kiln_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        r->s[i] = z ^ (z >> 31);
    }
}

uint64_t kiln_rng_next(kiln_rng *r)
{
    uint64_t *s = r->s;
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

/* The top 53 bits as a double in [0, 1): every value is a multiple of 2⁻⁵³. */
double kiln_rng_uniform(kiln_rng *r)
{
    return (double)(kiln_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Box–Muller.  Each call draws two uniforms and returns the cosine branch;
 * the sine branch is not cached (kiln_rng has no room for it, and this keeps
 * every call's cost and stream position the same).  u1 is taken from (0, 1]
 * so log never sees 0. */
double kiln_rng_normal(kiln_rng *r)
{
    double u1 = 1.0 - kiln_rng_uniform(r);
    double u2 = kiln_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void kiln_fill_normal(float *p, size_t n, double mean, double std, kiln_rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)(mean + std * kiln_rng_normal(r));
}

void kiln_fill_uniform(float *p, size_t n, double lo, double hi, kiln_rng *r)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * kiln_rng_uniform(r));
}

void kiln_fill_constant(float *p, size_t n, float value)
{
    for (size_t i = 0; i < n; i++) p[i] = value;
}

/* A uniform integer in [0, bound), bound ≤ 2³², without modulo bias
 * (Lemire, "Fast random integer generation in an interval", 2019). */
static uint64_t bounded(kiln_rng *r, uint64_t bound)
{
    uint64_t x = kiln_rng_next(r) >> 32;
    uint64_t m = x * bound;
    uint32_t low = (uint32_t)m;
    if (low < bound) {
        uint32_t threshold = (uint32_t)((0x100000000ULL - bound) % bound);
        while (low < threshold) {
            x = kiln_rng_next(r) >> 32;
            m = x * bound;
            low = (uint32_t)m;
        }
    }
    return m >> 32;
}

/* Fisher–Yates: permutes perm[0..n) in place (n ≤ 2³²). */
void kiln_shuffle(uint32_t *perm, size_t n, kiln_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)bounded(r, (uint64_t)i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
