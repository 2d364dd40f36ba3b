/* expf.h — kiln_expf, e^x for elementwise ops (sigmoid): the trainers'
 * (through kiln_rt.h), and copied as text into the C that kiln export
 * writes, so that an exported model computes the trainer's values to the
 * bit.  Self-contained but for <stdint.h>.
 *
 * Within 1.5 ulp of e^x (x clamped to [−87.3, 88]: a sigmoid's 0 and 1 come
 * out the same), branch-free, so a loop over elements applying it is
 * vectorized by the C compiler where libm's expf would be a call per
 * element.  x = k·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor series to
 * degree 7, 2^k put into the exponent's bits.  The same bits for an element
 * whether it is computed in a vector or alone. */
#ifndef KILN_EXPF_H
#define KILN_EXPF_H

static inline float kiln_expf(float x)
{
    x = x < -87.3f ? -87.3f : x > 88.0f ? 88.0f : x;
    const float k = (x * 1.44269504f + 12582912.0f) - 12582912.0f;   /* round(x / ln 2) */
    const float r = (x - k * 0.693145751953125f) - k * 1.428606765330187e-06f;
    const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f +
                    r * (8.33333333e-3f + r * (1.38888889e-3f + r * 1.98412698e-4f))))));
    union { uint32_t u; float f; } two_k = { .u = (uint32_t)((int32_t)k + 127) << 23 };
    return p * two_k.f;
}

#endif
