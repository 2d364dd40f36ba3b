/* softmax.c — softmax cross-entropy for a block of up to 16 rows of logits,
 * for the loss kernel's row loop in a generated trainer: each row's loss,
 * whether its largest logit is its label, and (if asked) its part of the
 * loss gradient, in one pass.  With AVX-512 the block's rows sit side by
 * side in the lanes of a vector, one vector per class, and exp and log are
 * polynomials; else row by row with expf and logf.  A row's results depend
 * on nothing but the row, so any split of the rows among threads gives the
 * same bits. */
#include "kiln_rt.h"

#include <math.h>

/* One row, class by class: the portable form, and the one for many classes. */
static void xent_row(int classes, const float *z, int label, float *dz, float count, float *loss,
                     uint8_t *hit)
{
    int best = 0;
    for (int j = 1; j < classes; j++)
        if (z[j] > z[best]) best = j;
    float total = expf(z[0] - z[best]);   /* in class order, as the vector form */
    if (dz) dz[0] = total;
    for (int j = 1; j < classes; j++) {
        const float e = expf(z[j] - z[best]);
        total += e;
        if (dz) dz[j] = e;
    }
    *loss = z[best] + logf(total) - z[label];
    *hit = best == label;
    if (!dz) return;
    const float scale = 1.0f / (total * count);
    for (int j = 0; j < classes; j++) dz[j] *= scale;
    dz[label] -= 1.0f / count;
}

/* Rows [i0, i0 + rows), one at a time. */
static void xent_rows_each(int i0, int rows, int classes, const float *z, const uint8_t *labels,
                           float *dz, float count, float *row_loss, uint8_t *row_hit)
{
    for (int i = i0; i < i0 + rows; i++)
        xent_row(classes, z + (size_t)i * classes, labels[i], dz ? dz + (size_t)i * classes : NULL,
                 count, &row_loss[i], &row_hit[i]);
}

#if defined(__AVX512F__)
#include <immintrin.h>

enum { LANE_CLASSES_MAX = 24 };   /* more classes than this: row by row (registers run out) */

/* c[0]·x^(n−1) + … + c[n−1], by Horner's rule: one fused multiply-add a term. */
static inline __m512 horner(__m512 x, const float *c, int n)
{
    __m512 p = _mm512_set1_ps(c[0]);
    for (int i = 1; i < n; i++) p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c[i]));
    return p;
}

/* e^x for x ≤ 0 (a logit less its row's largest): x = n·ln2 + r with
 * |r| ≤ ln2/2, e^r by its Taylor polynomial to r^7, times 2^n.  Below
 * −87.3 it gives 2^−126 rather than less: a class that unlikely changes no
 * sum. */
static __m512 exp_nonpositive(__m512 x)
{
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);   /* ln 2: its high bits */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);       /* and the rest */
    static const float taylor[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24,
                                   1.0f / 6,    0.5f,       1.0f,       1.0f};
    return _mm512_scalef_ps(horner(r, taylor, sizeof taylor / sizeof *taylor), n);
}

/* log x for x ≥ 1 (a sum of exponentials, one of them 1): x = m·2^e with m
 * in [0.75, 1.5), and log m = 2·atanh((m − 1)/(m + 1)), |(m − 1)/(m + 1)|
 * ≤ 0.2, by its series to the 11th power. */
static __m512 log_atleast1(__m512 x)
{
    __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_p75_1p5, _MM_MANT_SIGN_src);
    __m512 e = _mm512_getexp_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.0f / 0.75f)));
    __m512 t = _mm512_div_ps(_mm512_sub_ps(m, _mm512_set1_ps(1.0f)),
                             _mm512_add_ps(m, _mm512_set1_ps(1.0f)));
    __m512 t2 = _mm512_mul_ps(t, t);
    static const float atanh2[] = {2.0f / 11, 2.0f / 9, 2.0f / 7, 2.0f / 5, 2.0f / 3, 2.0f};
    __m512 p = horner(t2, atanh2, sizeof atanh2 / sizeof *atanh2);
    return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693147180559945309f), _mm512_mul_ps(p, t));
}

void kiln_softmax_xent_rows(int i0, int rows, int classes, const float *z, const uint8_t *labels,
                            float *dz, float count, float *row_loss, uint8_t *row_hit)
{
    if (rows > KILN_SOFTMAX_ROWS) rows = KILN_SOFTMAX_ROWS;
    if (rows <= 0) return;
    if (classes > LANE_CLASSES_MAX) {
        xent_rows_each(i0, rows, classes, z, labels, dz, count, row_loss, row_hit);
        return;
    }
    const __mmask16 live = (__mmask16)((1u << rows) - 1);
    /* lane r: row i0 + r, read at (i0 + r)·classes + j for class j */
    const __m512i at = _mm512_mullo_epi32(
        _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(i0)),
        _mm512_set1_epi32(classes));
    const __m512i label = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(live, labels + i0));
    __m512 e[LANE_CLASSES_MAX];
    /* the largest logit of each row, and the first class that has it */
    __m512 top = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live, at, z, 4);
    __m512i best = _mm512_setzero_si512();
    e[0] = top;
    for (int j = 1; j < classes; j++) {
        e[j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live,
                                        _mm512_add_epi32(at, _mm512_set1_epi32(j)), z, 4);
        __mmask16 more = _mm512_cmp_ps_mask(e[j], top, _CMP_GT_OQ);
        top = _mm512_mask_blend_ps(more, top, e[j]);
        best = _mm512_mask_blend_epi32(more, best, _mm512_set1_epi32(j));
    }
    const __m512 zlabel = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), live,
                                                   _mm512_add_epi32(at, label), z, 4);
    __m512 total = _mm512_setzero_ps();
    for (int j = 0; j < classes; j++) {
        e[j] = exp_nonpositive(_mm512_sub_ps(e[j], top));
        total = _mm512_add_ps(total, e[j]);
    }
    total = _mm512_mask_blend_ps(live, _mm512_set1_ps(1.0f), total);   /* idle lanes: log 1 */
    _mm512_mask_storeu_ps(row_loss + i0, live,
                          _mm512_sub_ps(_mm512_add_ps(top, log_atleast1(total)), zlabel));
    _mm_mask_storeu_epi8(row_hit + i0, live,
                         _mm_maskz_set1_epi8(_mm512_cmpeq_epi32_mask(best, label), 1));
    if (!dz) return;
    const __m512 scale = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_mul_ps(total, _mm512_set1_ps(count)));
    const __m512 mean = _mm512_set1_ps(1.0f / count);
    for (int j = 0; j < classes; j++) {
        __m512 g = _mm512_mul_ps(e[j], scale);
        g = _mm512_mask_sub_ps(g, _mm512_cmpeq_epi32_mask(label, _mm512_set1_epi32(j)), g, mean);
        _mm512_mask_i32scatter_ps(dz, live, _mm512_add_epi32(at, _mm512_set1_epi32(j)), g, 4);
    }
}
#else
void kiln_softmax_xent_rows(int i0, int rows, int classes, const float *z, const uint8_t *labels,
                            float *dz, float count, float *row_loss, uint8_t *row_hit)
{
    if (rows > KILN_SOFTMAX_ROWS) rows = KILN_SOFTMAX_ROWS;
    xent_rows_each(i0, rows, classes, z, labels, dz, count, row_loss, row_hit);
}
#endif
