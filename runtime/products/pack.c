/* pack.c — packing for kiln_gemm (products.h): one MR × kc sliver of op(A)
 * or one kc × NR sliver of op(B) at a time, in the order the micro-kernel
 * reads them, zero-padded at the edges.  A may be floats or bytes: bytes
 * are widened and scaled here (scale * (float)byte, one rounding), so the
 * data set stays uint8.  Operands in column panels (kiln_rt.h) are packed
 * piece by piece, a panel at a time.  Portable packers serve any MR or NR;
 * the MR = 8 and NR = 32 ones of the AVX-512 kernel transpose 8 × 8 blocks
 * with AVX2 and widen bytes with AVX-512F (target attributes: they build
 * whatever -march the runtime is compiled with, and run only when the
 * kernel is picked).  Also: the narrow path's operands, and each thread's
 * packing memory. */
#include "products.h"
#include "../scratch.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
#endif

/* ---- Buffers ------------------------------------------------------------------
 * Packing memory, one slot per thread number in the team (scratch.h).  The
 * slots are global, so nothing is lost when OpenMP retires a thread; the
 * price is that one team at a time may run kiln_gemm (a trainer has only
 * one).  The slot is the calling thread's, whatever share of a product it
 * computes: a thread computing a product alone (kiln_gemm_alone) inside a
 * team uses its own. */
static kiln_scratch slots[MAX_TEAM];

float *gemm_slot(size_t floats)
{
    int me = omp_get_thread_num();
    if (me >= MAX_TEAM) abort();   /* the team is capped at start */
    return kiln_scratch_room(&slots[me], floats * sizeof(float), "GEMM packing");
}

/* ---- Packing: portable --------------------------------------------------------- */

static void pack_a_any(int MR, const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    for (int p = 0; p < kc; p++, dst += MR) {
        for (int i = 0; i < mr; i++) dst[i] = a_at(s, i0 + i, p0 + p);
        for (int i = mr; i < MR; i++) dst[i] = 0.0f;
    }
}

static void pack_b_any(int NR, int transb, const float *b, size_t ldb, int p0, int kc,
                       int j0, int nr, float *dst)
{
    for (int p = 0; p < kc; p++, dst += NR) {
        if (transb) {          /* op(B)(p, j) = b[j*ldb + p] */
            const float *src = b + (size_t)j0 * ldb + (size_t)(p0 + p);
            for (int j = 0; j < nr; j++) dst[j] = src[(size_t)j * ldb];
        } else {               /* op(B)(p, j) = b[p*ldb + j]: contiguous in j */
            memcpy(dst, b + (size_t)(p0 + p) * ldb + j0, (size_t)nr * sizeof *dst);
        }
        for (int j = nr; j < NR; j++) dst[j] = 0.0f;
    }
}

void gemm_pack_a_4(const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    pack_a_any(4, s, i0, mr, p0, kc, dst);
}
void gemm_pack_a_6(const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    pack_a_any(6, s, i0, mr, p0, kc, dst);
}
void gemm_pack_b_8(int transb, const float *b, size_t ldb, int p0, int kc,
                   int j0, int nr, float *dst)
{
    pack_b_any(8, transb, b, ldb, p0, kc, j0, nr, dst);
}
void gemm_pack_b_16(int transb, const float *b, size_t ldb, int p0, int kc,
                    int j0, int nr, float *dst)
{
    pack_b_any(16, transb, b, ldb, p0, kc, j0, nr, dst);
}

#if KILN_X86
/* ---- Packing: AVX2 (for MR = 8 and NR = 32) ------------------------------------ */

/* Transpose the 8 × 8 block r[0..8) in place: r[j][i] ← r[i][j]. */
__attribute__((target("avx2")))
static inline void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/* Eight consecutive elements as floats: floats loaded, bytes widened. */
__attribute__((target("avx2")))
static inline __m256 load8_f(const float *p) { return _mm256_loadu_ps(p); }
__attribute__((target("avx2")))
static inline __m256 load8_u8(const uint8_t *p)
{
    __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)p);
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(v));
}

/* The MR = 8 packer for one element type T (float or uint8_t). */
#define PACK_A_8(NAME, T, LOAD8)                                                     \
__attribute__((target("avx2")))                                                     \
static void NAME(const T *a, size_t lda, int trans, float scale, int i0, int p0,     \
                 int kc, float *dst)                                                 \
{                                                                                    \
    const __m256 vs = _mm256_set1_ps(scale);                                         \
    if (trans) {       /* op(A)(i, p) = a[p*lda + i]: 8 contiguous rows */           \
        const T *src = a + (size_t)p0 * lda + (size_t)i0;                            \
        for (int p = 0; p < kc; p++, src += lda)                                     \
            _mm256_store_ps(dst + (size_t)p * 8, _mm256_mul_ps(vs, LOAD8(src)));     \
        return;                                                                      \
    }                  /* op(A)(i, p) = a[i*lda + p]: 8 × 8 blocks, transposed */    \
    const T *src = a + (size_t)i0 * lda + (size_t)p0;                                \
    int p = 0;                                                                       \
    for (; p + 8 <= kc; p += 8) {                                                    \
        __m256 r[8];                                                                 \
        for (int i = 0; i < 8; i++)                                                  \
            r[i] = _mm256_mul_ps(vs, LOAD8(src + (size_t)i * lda + p));              \
        transpose8(r);                                                               \
        for (int q = 0; q < 8; q++) _mm256_store_ps(dst + (size_t)(p + q) * 8, r[q]); \
    }                                                                                \
    for (; p < kc; p++)                                                              \
        for (int i = 0; i < 8; i++)                                                  \
            dst[(size_t)p * 8 + i] = scale * (float)src[(size_t)i * lda + p];        \
}
PACK_A_8(pack_a_8_f, float, load8_f)
PACK_A_8(pack_a_8_u8, uint8_t, load8_u8)
#undef PACK_A_8

static void pack_a_8(const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    if (mr < 8 || (s->pstride && !s->f)) {
        pack_a_any(8, s, i0, mr, p0, kc, dst);
    } else if (s->pstride && s->trans) {   /* the 8 rows are columns of one panel */
        pack_a_8_f(s->f + (size_t)(i0 / KILN_PANEL) * s->pstride, KILN_PANEL, 1, s->scale,
                   i0 % KILN_PANEL, p0, kc, dst);
    } else if (s->pstride) {               /* k crosses panels: a piece per panel */
        for (int p = p0; p < p0 + kc;) {
            int end = (p / KILN_PANEL + 1) * KILN_PANEL;
            if (end > p0 + kc) end = p0 + kc;
            pack_a_8_f(s->f + (size_t)(p / KILN_PANEL) * s->pstride, KILN_PANEL, 0, s->scale,
                       i0, p % KILN_PANEL, end - p, dst + (size_t)(p - p0) * 8);
            p = end;
        }
    } else if (s->f) {
        pack_a_8_f(s->f, s->lda, s->trans, s->scale, i0, p0, kc, dst);
    } else {
        pack_a_8_u8(s->u8, s->lda, s->trans, s->scale, i0, p0, kc, dst);
    }
}

/* The MR = 8 packer with AVX-512, for the input batch: op(A) = A as bytes,
 * not transposed (the first layer's forward product).  16 columns of the 8
 * rows at a time: the 8 × 16 bytes transposed while still bytes (three
 * rounds of unpacks), then each column pair widened to 16 floats and
 * scaled — about half the instructions of transposing floats.  The same
 * values as pack_a_8_u8: each is scale * (float)byte. */
__attribute__((target("avx512f")))
static void pack_a_8_u8_wide(const uint8_t *a, size_t lda, float scale, int i0, int p0, int kc,
                             float *dst)
{
    const __m512 vs = _mm512_set1_ps(scale);
    const uint8_t *src = a + (size_t)i0 * lda + (size_t)p0;
    int p = 0;
    for (; p + 16 <= kc; p += 16) {
        __m128i r[8];
        for (int i = 0; i < 8; i++)
            r[i] = _mm_loadu_si128((const __m128i *)(const void *)(src + (size_t)i * lda + p));
        __m128i t[8], u[8];
        for (int i = 0; i < 4; i++) {   /* rows 2i, 2i+1 interleaved: columns 0-7, 8-15 */
            t[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
        }
        for (int h = 0; h < 2; h++)      /* rows 4h..4h+3: columns 0-3, 4-7, 8-11, 12-15 */
            for (int c = 0; c < 2; c++) {
                u[4 * h + 2 * c] = _mm_unpacklo_epi16(t[4 * h + c], t[4 * h + 2 + c]);
                u[4 * h + 2 * c + 1] = _mm_unpackhi_epi16(t[4 * h + c], t[4 * h + 2 + c]);
            }
        for (int q = 0; q < 4; q++) {    /* all 8 rows of columns 4q..4q+3, two at a time */
            __m128i lo = _mm_unpacklo_epi32(u[q], u[4 + q]);
            __m128i hi = _mm_unpackhi_epi32(u[q], u[4 + q]);
            _mm512_storeu_ps(dst + (size_t)(p + 4 * q) * 8,
                             _mm512_mul_ps(vs, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(lo))));
            _mm512_storeu_ps(dst + (size_t)(p + 4 * q + 2) * 8,
                             _mm512_mul_ps(vs, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(hi))));
        }
    }
    if (p < kc) pack_a_8_u8(a, lda, 0, scale, i0, p0 + p, kc - p, dst + (size_t)p * 8);
}

/* op(A) = Aᵀ as bytes (the first layer's weight gradient): the 8 rows are 8
 * consecutive bytes of each row of A; two rows of A make one zmm. */
__attribute__((target("avx512f")))
static void pack_a_8_u8_wide_t(const uint8_t *a, size_t lda, float scale, int i0, int p0,
                               int kc, float *dst)
{
    const __m512 vs = _mm512_set1_ps(scale);
    const uint8_t *src = a + (size_t)p0 * lda + (size_t)i0;
    int p = 0;
    for (; p + 2 <= kc; p += 2, src += 2 * lda) {
        __m128i two = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)src),
                                         _mm_loadl_epi64((const __m128i *)(const void *)(src + lda)));
        _mm512_storeu_ps(dst + (size_t)p * 8,
                         _mm512_mul_ps(vs, _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(two))));
    }
    if (p < kc) pack_a_8_u8(a, lda, 1, scale, i0, p0 + p, kc - p, dst + (size_t)p * 8);
}

void gemm_pack_a_8_512(const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    if (mr < 8 || s->f || s->pstride) pack_a_8(s, i0, mr, p0, kc, dst);
    else if (s->trans) pack_a_8_u8_wide_t(s->u8, s->lda, s->scale, i0, p0, kc, dst);
    else pack_a_8_u8_wide(s->u8, s->lda, s->scale, i0, p0, kc, dst);
}

__attribute__((target("avx2")))
void gemm_pack_b_32(int transb, const float *b, size_t ldb, int p0, int kc,
                    int j0, int nr, float *dst)
{
    if (nr < 32) { pack_b_any(32, transb, b, ldb, p0, kc, j0, nr, dst); return; }
    if (!transb) {             /* op(B)(p, j) = b[p*ldb + j]: rows of 32 */
        const float *src = b + (size_t)p0 * ldb + j0;
        for (int p = 0; p < kc; p++, src += ldb, dst += 32)
            for (int j = 0; j < 32; j += 8) _mm256_store_ps(dst + j, _mm256_loadu_ps(src + j));
        return;
    }
    /* op(B)(p, j) = b[j*ldb + p]: 8 columns × 8 steps at a time, transposed. */
    int p = 0;
    for (; p + 8 <= kc; p += 8)
        for (int jg = 0; jg < 32; jg += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; j++)
                r[j] = _mm256_loadu_ps(b + (size_t)(j0 + jg + j) * ldb + (size_t)(p0 + p));
            transpose8(r);
            for (int q = 0; q < 8; q++) _mm256_store_ps(dst + (size_t)(p + q) * 32 + jg, r[q]);
        }
    if (p < kc) pack_b_any(32, transb, b, ldb, p0 + p, kc - p, j0, nr, dst + (size_t)p * 32);
}
#endif

/* ---- Operands in column panels ------------------------------------------------ */

/* op(B)(p, j) = B(j, p) with B in column panels: one element at a time. */
static void pack_b_paneled_t(const kiln_gemm_op *op, int NR, int p0, int kc, int j0, int nr,
                             float *dst)
{
    for (int p = 0; p < kc; p++, dst += NR)
        for (int j = 0; j < NR; j++)
            dst[j] = j < nr ? op->b[at(0, op->b_panel_stride, (size_t)(j0 + j), (size_t)(p0 + p))]
                            : 0.0f;
}

/* Pack the k rows [pc, pc + kc) of B slivers [s0, s1) into dst, kc × NR
 * floats apiece, sliver s0 first. */
void gemm_pack_b_slivers(const gemm_job *g, int s0, int s1, int pc, int kc, float *dst)
{
    const kiln_gemm_op *op = g->op;
    const int NR = g->kd->nr;
    for (int s = s0; s < s1; s++) {
        int j0 = s * NR, nr = g->n - j0 < NR ? g->n - j0 : NR;
        float *d = dst + (size_t)(s - s0) * NR * kc;
        if (!op->b_panel_stride)
            g->kd->pack_b(op->transb != KILN_NOTRANS, op->b, (size_t)op->ldb, pc, kc, j0, nr, d);
        else if (op->transb == KILN_NOTRANS)   /* a sliver lies in one panel: NR divides it */
            g->kd->pack_b(0, op->b + (size_t)(j0 / KILN_PANEL) * op->b_panel_stride,
                          KILN_PANEL, pc, kc, j0 % KILN_PANEL, nr, d);
        else
            pack_b_paneled_t(op, NR, pc, kc, j0, nr, d);
    }
}

#if KILN_X86
/* ---- The narrow path's operands (n ≤ 16, AVX-512) ----------------------------- */

/* The last rows of op(A), fewer than NARROW_MR: one zero-padded sliver. */
void gemm_pack_a_16(const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    pack_a_any(NARROW_MR, s, i0, mr, p0, kc, dst);
}

/* op(B), k × n with n ≤ 16, packed k × 16 zero-padded: one masked load per
 * row (a plain copy loop would become a memcpy call per row of n floats). */
__attribute__((target("avx512f")))
void gemm_pack_b_narrow(const kiln_gemm_op *op, float *dst)
{
    if (op->transb != KILN_NOTRANS) {
        if (op->b_panel_stride) pack_b_paneled_t(op, NARROW_N, 0, op->k, 0, op->n, dst);
        else pack_b_any(NARROW_N, 1, op->b, (size_t)op->ldb, 0, op->k, 0, op->n, dst);
        return;
    }
    const __mmask16 mask = (__mmask16)((1u << op->n) - 1);
    const float *src = op->b;
    for (int p = 0; p < op->k; p++, src += op->ldb, dst += NARROW_N)
        _mm512_store_ps(dst, _mm512_maskz_loadu_ps(mask, src));
}
#endif
