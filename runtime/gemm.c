/* gemm.c — kiln_gemm: C = alpha·op(A)·op(B) + beta·C, row-major, with A as
 * floats or as bytes (scaled while packing) and an optional epilogue run on
 * every finished micro-tile of C while it is still in L1.
 *
 * GotoBLAS/BLIS structure, one job per function.  Each thread owns a
 * rectangle of C (the team splits C into a tm × tn grid) and does, alone:
 *
 *   for each block of its op(B) column slivers (B_BUDGET floats at most)
 *     for pc over k in KC steps         (fixed order: never split across threads)
 *       pack_b: kc × NR slivers of those columns
 *       for ic over its rows in MC steps
 *         pack_a: MR × kc slivers, times alpha (and a_scale: bytes are
 *                 widened here, so the data set stays uint8)
 *         MR × NR micro-tiles, column-sliver-major; after the last k step
 *         the epilogue runs on the tile just stored, while it is in L1
 *
 * Threads share nothing they write and never wait for each other: on
 * this machine a packed B shared between cores costs more (every line
 * crossing between the L2s) than packing it twice.  C is split by columns
 * when its column slivers divide evenly among the threads — a layer's
 * output units then stay with one core from the forward product through
 * the input gradient to the weight update, so its weights and activations
 * never move between caches — and otherwise by the cheaper grid of a small
 * cost model (by rows: every thread packs all of B; by columns: all of A).
 * Products with at most 16 columns (a layer with few outputs, such as a
 * classifier's last over a few classes) and float A take a narrow AVX-512
 * path instead: 16 × 16 masked tiles reading A in place (A is used once
 * there: packing it would cost as much as the product), split by rows —
 * or, when A is a hidden layer kept in column panels, split by k:
 * each thread sums the panels it wrote and a fixed tree adds the parts
 * (narrow_panels), so the activations stay on their cores.
 *
 * Operands may be stored in column panels (kiln_rt.h: 32 columns of all
 * rows, then the next 32), as the trainer keeps its hidden layers: a
 * micro-tile never spans two panels, so only where a tile, a packed sliver
 * or a piece of k starts changes.
 *
 * Inside a training step (kiln_balance_begin), a large product split by
 * columns is shared out while it runs instead: units of a column sliver by
 * a few row slivers, each thread taking its own first and then the rest of
 * a slower thread's (claims.h; on a VM the host often slows one vCPU).
 *
 * Two ways to call it.  Outside a parallel region, kiln_gemm starts its own
 * team (none for products under PARALLEL_MIN_FLOPS).  Inside one, it is a
 * work-sharing construct like `omp for nowait`: every thread of the team
 * calls it with the same op and takes its share; the caller waits with
 * kiln_sync() before C is read.  The trainer kiln emits runs a whole
 * training step in one team this way, so no GEMM pays for waking threads.
 *
 * The micro-kernel keeps an MR × NR tile of C in registers and walks the two
 * packed slivers over kc.  It is picked once at run time: AVX-512F (8×32,
 * plus the narrow 16×16), AVX2+FMA (6×16), or portable C (4×8) — so the
 * library is fast whatever -march the runtime was compiled with.
 * KILN_GEMM_KERNEL=avx2 or =c in the environment forces a simpler kernel
 * (tests use it to check every kernel).  Results are bitwise reproducible on
 * one machine; a different kernel (another CPU) may round differently.
 *
 * Determinism: every element of C is owned by exactly one micro-tile whose
 * position depends only on (m, n, k), the kernel and the blocking constants,
 * and it is summed over k in increasing order, KC at a time, from the same
 * packed values (on the narrow path over panels: each panel in order, then
 * the panels by a tree fixed by k alone).  Threads only decide *who*
 * computes a tile, never how, so C and the pieces the epilogue sees are
 * bitwise identical for any thread count.  Edge tiles are computed
 * full-size from zero-padded slivers into a scratch tile and then merged
 * with the same formula as full tiles.
 */
#include "kiln_rt.h"
#include "claims.h"
#include "scratch.h"
#include "team.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
static int omp_get_max_threads(void) { return 1; }
static int omp_get_level(void) { return 0; }
#endif

#if defined(__x86_64__) || defined(__i386__)
#define KILN_X86 1
#include <immintrin.h>
#else
#define KILN_X86 0
#endif

/* Cache blocking (sized for 48 KiB of L1d and 1 MiB of L2 per core, as on
 * Zen 5).  A B sliver (KC × NR floats, ≤ 32 KiB) stays in L1 while the A
 * slivers of an MC × KC block (≤ 264 KiB) stream from L2.  k is cut into
 * ⌈k/KC⌉ equal steps (for example k = 784 → 4 × 196, not 3 × 256 + 16).
 * MC is a multiple of every kernel's MR (8, 6, 4).  At most B_BUDGET floats
 * of packed B (one k step × some columns) are held at once. */
enum { KC = 256, MC = 264 };
enum { MR_MAX = 8, NR_MAX = 32 };
enum { NARROW_N = 16, NARROW_MR = 16 };
#define B_BUDGET ((size_t)1 << 20)

/* Outside a parallel region, below this many multiply-adds (about 10 µs of
 * work) a GEMM runs on the calling thread only: waking a team would cost
 * more than it saves; a team it starts gets at most one thread per
 * PER_THREAD_MIN multiply-adds.  Inside a team the threads are awake
 * already, and one takes a share once there are TEAM_SHARE_MIN. */
#define PARALLEL_MIN_FLOPS (1024.0 * 1024.0)
#define PER_THREAD_MIN     (512.0 * 1024.0)
#define TEAM_SHARE_MIN     (64.0 * 1024.0)

/* ---- Where op(A) comes from --------------------------------------------------
 * Element (i, p) of op(A), times scale: alpha for floats, alpha·a_scale for
 * bytes.  Every packer computes exactly scale * (float)x, one rounding. */
typedef struct {
    const float   *f;
    const uint8_t *u8;
    size_t         lda;
    int            trans;
    float          scale;
    size_t         pstride;   /* floats in column panels (kiln_rt.h), else 0 */
} a_src;

/* Offset of element (r, c) of a stored matrix: row-major with leading
 * dimension ld, or in column panels pstride apart (ld is KILN_PANEL). */
static inline size_t at(size_t ld, size_t pstride, size_t r, size_t c)
{
    if (pstride) return c / KILN_PANEL * pstride + r * KILN_PANEL + c % KILN_PANEL;
    return r * ld + c;
}

static inline float a_at(const a_src *s, int i, int p)
{
    size_t off = s->trans ? at(s->lda, s->pstride, (size_t)p, (size_t)i)
                          : at(s->lda, s->pstride, (size_t)i, (size_t)p);
    return s->scale * (s->f ? s->f[off] : (float)s->u8[off]);
}

/* A micro-kernel: c[0..mr)[0..nr) = acc + beta·c, where acc = Σ_p a_p ⊗ b_p
 * over kc packed steps (a: mr floats per step, b: nr floats per step).
 * beta == 0 stores without reading c. */
typedef void (*kernel_fn)(int kc, const float *a, const float *b,
                          float *c, int ldc, float beta);
/* Packers: one MR × kc sliver of op(A) (rows i0.., mr ≤ MR real), and one
 * kc × NR sliver of op(B) (columns j0.., nr ≤ NR real), zero-padded. */
typedef void (*pack_a_fn)(const a_src *s, int i0, int mr, int p0, int kc, float *dst);
typedef void (*pack_b_fn)(int transb, const float *b, size_t ldb, int p0, int kc,
                          int j0, int nr, float *dst);
typedef struct {
    const char *name;
    int         mr, nr;
    kernel_fn   fn;
    pack_a_fn   pack_a;
    pack_b_fn   pack_b;
    int         narrow;       /* the narrow AVX-512 path may be used */
} kernel_desc;

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

static void pack_a_4(const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    pack_a_any(4, s, i0, mr, p0, kc, dst);
}
static void pack_a_6(const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    pack_a_any(6, s, i0, mr, p0, kc, dst);
}
static void pack_b_8(int transb, const float *b, size_t ldb, int p0, int kc,
                     int j0, int nr, float *dst)
{
    pack_b_any(8, transb, b, ldb, p0, kc, j0, nr, dst);
}
static void pack_b_16(int transb, const float *b, size_t ldb, int p0, int kc,
                      int j0, int nr, float *dst)
{
    pack_b_any(16, transb, b, ldb, p0, kc, j0, nr, dst);
}

/* ---- Portable C micro-kernel (4 × 8) -------------------------------------- */
static void kernel_c_4x8(int kc, const float *a, const float *b,
                         float *c, int ldc, float beta)
{
    float acc[4][8] = {{0}};
    for (int p = 0; p < kc; p++, a += 4, b += 8)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 8; j++)
                acc[i][j] += a[i] * b[j];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            c[(size_t)i * ldc + j] = beta == 0.0f
                ? acc[i][j] : acc[i][j] + beta * c[(size_t)i * ldc + j];
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

static void pack_a_8_512(const a_src *s, int i0, int mr, int p0, int kc, float *dst)
{
    if (mr < 8 || s->f || s->pstride) pack_a_8(s, i0, mr, p0, kc, dst);
    else if (s->trans) pack_a_8_u8_wide_t(s->u8, s->lda, s->scale, i0, p0, kc, dst);
    else pack_a_8_u8_wide(s->u8, s->lda, s->scale, i0, p0, kc, dst);
}

__attribute__((target("avx2")))
static void pack_b_32(int transb, const float *b, size_t ldb, int p0, int kc,
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

/* ---- AVX2 + FMA micro-kernel (6 × 16) -------------------------------------- */
__attribute__((target("avx2,fma")))
static void kernel_avx2_6x16(int kc, const float *a, const float *b,
                             float *c, int ldc, float beta)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00,
           c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int p = 0; p < kc; p++, a += 6, b += 16) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), ai;
#define ROW6(i) ai = _mm256_broadcast_ss(a + i); \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0); \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);
        ROW6(0) ROW6(1) ROW6(2) ROW6(3) ROW6(4) ROW6(5)
#undef ROW6
    }
    __m256 vb = _mm256_set1_ps(beta);
#define STORE6(i) { float *ci = c + (size_t)i * ldc; \
        if (beta != 0.0f) { \
            c##i##0 = _mm256_add_ps(c##i##0, _mm256_mul_ps(vb, _mm256_loadu_ps(ci))); \
            c##i##1 = _mm256_add_ps(c##i##1, _mm256_mul_ps(vb, _mm256_loadu_ps(ci + 8))); } \
        _mm256_storeu_ps(ci, c##i##0); _mm256_storeu_ps(ci + 8, c##i##1); }
    STORE6(0) STORE6(1) STORE6(2) STORE6(3) STORE6(4) STORE6(5)
#undef STORE6
}

/* ---- AVX-512F micro-kernel (8 × 32) ------------------------------------------ */
__attribute__((target("avx512f,prfchw")))
static void kernel_avx512_8x32(int kc, const float *a, const float *b,
                               float *c, int ldc, float beta)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00,
           c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00,
           c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (int i = 0; i < 8; i++) {    /* C's lines, to be written at the end */
        __builtin_prefetch(c + (size_t)i * ldc, 1, 3);
        __builtin_prefetch(c + (size_t)i * ldc + 31, 1, 3);
    }
    for (int p = 0; p < kc; p++, a += 8, b += 32) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), ai;
#define ROW8(i) ai = _mm512_set1_ps(a[i]); \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0); \
        c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);
        ROW8(0) ROW8(1) ROW8(2) ROW8(3) ROW8(4) ROW8(5) ROW8(6) ROW8(7)
#undef ROW8
    }
    __m512 vb = _mm512_set1_ps(beta);
#define STORE8(i) { float *ci = c + (size_t)i * ldc; \
        if (beta != 0.0f) { \
            c##i##0 = _mm512_add_ps(c##i##0, _mm512_mul_ps(vb, _mm512_loadu_ps(ci))); \
            c##i##1 = _mm512_add_ps(c##i##1, _mm512_mul_ps(vb, _mm512_loadu_ps(ci + 16))); } \
        _mm512_storeu_ps(ci, c##i##0); _mm512_storeu_ps(ci + 16, c##i##1); }
    STORE8(0) STORE8(1) STORE8(2) STORE8(3) STORE8(4) STORE8(5) STORE8(6) STORE8(7)
#undef STORE8
}

/* ---- AVX-512F narrow kernels (16 rows × ≤ 16 columns) --------------------------
 * C(i0.., 0..n) = alpha·acc + beta·C over all of k at once, with b the k × 16
 * zero-padded packed op(B) and A read where it lies (16 full rows): each
 * element is one chain of fused multiply-adds, A(i, p)·b_p[j] for p in
 * order.  narrow_n keeps one zmm per row (acc_i += A(i, p)·b_p); narrow_t,
 * whose A has the 16 rows side by side, one zmm per column.  Masked stores
 * keep columns ≥ n untouched. */
/* One row of C: ci[j] = alpha·acc[j] + beta·ci[j] for the columns in mask. */
__attribute__((always_inline, target("avx512f")))
static inline void narrow_store_row(float *ci, __m512 acc, __mmask16 mask, __m512 va, __m512 vb,
                                    float beta)
{
    __m512 v = _mm512_mul_ps(va, acc);
    if (beta != 0.0f) v = _mm512_add_ps(v, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(mask, ci)));
    _mm512_mask_storeu_ps(ci, mask, v);
}
#define NARROW_STORE(i) narrow_store_row(c + (size_t)(i) * ldc, acc##i, mask, va, vb, beta);
#define NARROW_ALL(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \
        X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define NARROW_DECL(i) __m512 acc##i = _mm512_setzero_ps();

/* A(i, p) = a[p*lda + i]: each step's 16 consecutive floats are the 16 rows,
 * so here the rows lie in the lanes instead: one load of A a step, and one
 * accumulator a column, col_j += A(·, p) · b_p[j], for the N columns that
 * exist (the other way round, only N of a row's 16 lanes would be used).
 * Each element is the same chain of fused multiply-adds in the same order,
 * so C is bitwise what one zmm per row gives.  At the end the N × 16 sums
 * are turned back into rows and stored as above. */
__attribute__((always_inline, target("avx512f")))
static inline void narrow_t_cols(const int N, int k, const float *a, size_t lda, const float *b,
                                 float *c, int ldc, float alpha, float beta)
{
    __m512 col[NARROW_N];
    for (int j = 0; j < N; j++) col[j] = _mm512_setzero_ps();
    for (int p = 0; p < k; p++, a += lda, b += NARROW_N) {
        const __m512 ap = _mm512_loadu_ps(a);
        for (int j = 0; j < N; j++) col[j] = _mm512_fmadd_ps(ap, _mm512_set1_ps(b[j]), col[j]);
    }
    _Alignas(64) float sums[NARROW_N][NARROW_MR];   /* sums[j][i] = C(i, j) before alpha, beta */
    for (int j = 0; j < N; j++) _mm512_store_ps(sums[j], col[j]);
    const __mmask16 mask = (__mmask16)((1u << N) - 1u);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < NARROW_MR; i++) {
        _Alignas(64) float row[NARROW_N] = {0};
        for (int j = 0; j < N; j++) row[j] = sums[j][i];
        narrow_store_row(c + (size_t)i * ldc, _mm512_load_ps(row), mask, va, vb, beta);
    }
}

/* One instance of narrow_t_cols per column count, so that its accumulators
 * are registers. */
#define NARROW_T_N(N) \
    __attribute__((target("avx512f"))) \
    static void narrow_t_##N(int k, const float *a, size_t lda, const float *b, float *c, int ldc, \
                             float alpha, float beta) \
    { narrow_t_cols(N, k, a, lda, b, c, ldc, alpha, beta); }
NARROW_T_N(1) NARROW_T_N(2) NARROW_T_N(3) NARROW_T_N(4) NARROW_T_N(5) NARROW_T_N(6)
NARROW_T_N(7) NARROW_T_N(8) NARROW_T_N(9) NARROW_T_N(10) NARROW_T_N(11) NARROW_T_N(12)
NARROW_T_N(13) NARROW_T_N(14) NARROW_T_N(15) NARROW_T_N(16)
#undef NARROW_T_N

static void narrow_t(int k, const float *a, size_t lda, const float *b,
                     float *c, int ldc, int n, float alpha, float beta)
{
    typedef void (*narrow_t_fn)(int, const float *, size_t, const float *, float *, int, float,
                                float);
    static const narrow_t_fn by_n[NARROW_N + 1] = {
        NULL, narrow_t_1, narrow_t_2, narrow_t_3, narrow_t_4, narrow_t_5, narrow_t_6,
        narrow_t_7, narrow_t_8, narrow_t_9, narrow_t_10, narrow_t_11, narrow_t_12,
        narrow_t_13, narrow_t_14, narrow_t_15, narrow_t_16,
    };
    by_n[n](k, a, lda, b, c, ldc, alpha, beta);
}

/* A(i, p) = a[i*lda + p]: 16 row streams, addressed from four group
 * pointers g + {0, 1, 2, 3}·lda.  A is often rows whose columns other cores
 * just wrote (a hidden layer's activations), so each row's line NARROW_AHEAD
 * floats on is fetched ahead.  With A in column panels (pstride ≠ 0, lda =
 * KILN_PANEL), k runs through the panels one after another: the same sums
 * in the same order, from a new base at each panel. */
enum { NARROW_AHEAD = 128 };
__attribute__((target("avx512f")))
static void narrow_n(int k, const float *a, size_t lda, size_t pstride, const float *b,
                     float *c, int ldc, int n, float alpha, float beta)
{
    NARROW_ALL(NARROW_DECL)
    const float *g0 = a, *g1 = a + 4 * lda, *g2 = a + 8 * lda, *g3 = a + 12 * lda;
    const size_t l2 = 2 * lda, l3 = 3 * lda;
    for (int p = 0; p < k; p++, g0++, g1++, g2++, g3++, b += 16) {
        if (pstride && p % KILN_PANEL == 0) {   /* a new panel; fetch the next one's rows */
            const float *base = a + (size_t)(p / KILN_PANEL) * pstride;
            g0 = base, g1 = base + 4 * lda, g2 = base + 8 * lda, g3 = base + 12 * lda;
            if (p + KILN_PANEL < k)
                for (int i = 0; i < 16; i++) {
                    _mm_prefetch((const char *)(base + pstride + (size_t)i * lda), _MM_HINT_T0);
                    _mm_prefetch((const char *)(base + pstride + (size_t)i * lda + 16), _MM_HINT_T0);
                }
        } else if (!pstride && (p & 15) == 0) {   /* each row's line NARROW_AHEAD on; near the end, the next rows' */
            const float *ahead = p + NARROW_AHEAD < k ? a + p + NARROW_AHEAD
                                                      : a + 16 * lda + (p + NARROW_AHEAD - k);
            for (int i = 0; i < 16; i++)
                _mm_prefetch((const char *)(ahead + (size_t)i * lda), _MM_HINT_T0);
        }
        __m512 bp = _mm512_load_ps(b);
#define NN_STEP(i, g, o) acc##i = _mm512_fmadd_ps(_mm512_set1_ps(g[o]), bp, acc##i);
        NN_STEP(0, g0, 0) NN_STEP(1, g0, lda) NN_STEP(2, g0, l2) NN_STEP(3, g0, l3)
        NN_STEP(4, g1, 0) NN_STEP(5, g1, lda) NN_STEP(6, g1, l2) NN_STEP(7, g1, l3)
        NN_STEP(8, g2, 0) NN_STEP(9, g2, lda) NN_STEP(10, g2, l2) NN_STEP(11, g2, l3)
        NN_STEP(12, g3, 0) NN_STEP(13, g3, lda) NN_STEP(14, g3, l2) NN_STEP(15, g3, l3)
#undef NN_STEP
    }
    const __mmask16 mask = (__mmask16)((1u << n) - 1u);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    NARROW_ALL(NARROW_STORE)
}
#undef NARROW_STORE
#undef NARROW_ALL
#undef NARROW_DECL
#endif

/* The best kernel this CPU runs; chosen once (the choice is a pure function
 * of the CPU and the environment, so every call and every thread agrees). */
static const kernel_desc *pick_kernel(void)
{
    static const kernel_desc portable = {"c", 4, 8, kernel_c_4x8, pack_a_4, pack_b_8, 0};
#if KILN_X86
    static const kernel_desc avx2 = {"avx2", 6, 16, kernel_avx2_6x16, pack_a_6, pack_b_16, 0};
    static const kernel_desc avx512 = {"avx512", 8, 32, kernel_avx512_8x32, pack_a_8_512, pack_b_32,
                                       1};
    const char *force = getenv("KILN_GEMM_KERNEL");   /* for tests/benchmarks */
    if (force && strcmp(force, "c") == 0) return &portable;
    __builtin_cpu_init();
    int has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!(force && strcmp(force, "avx2") == 0) && has_avx2 && __builtin_cpu_supports("avx512f"))
        return &avx512;
    if (has_avx2) return &avx2;
#endif
    return &portable;
}

static const kernel_desc *kernel(void)
{
    static const kernel_desc *kd;
    const kernel_desc *k;
    #pragma omp atomic read
    k = kd;
    if (!k) {
        k = pick_kernel();
        #pragma omp atomic write
        kd = k;
    }
    return k;
}

/* ---- Buffers ------------------------------------------------------------------
 * Packing memory, one slot per thread number in the team (scratch.h).  The
 * slots are global, so nothing is lost when OpenMP retires a thread; the
 * price is that one team at a time may run kiln_gemm (a trainer has only
 * one). */
enum { MAX_TEAM = KILN_MAX_THREADS };     /* threads beyond this take no share */
static kiln_scratch slots[MAX_TEAM];

static float *slot(int me, size_t floats)
{
    return kiln_scratch_room(&slots[me], floats * sizeof(float), "GEMM packing");
}

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }   /* floats → 64 bytes */

/* ---- The packed path ------------------------------------------------------------ */

typedef struct {
    const kiln_gemm_op *op;
    const kernel_desc  *kd;
    a_src A;
    int m, n, k;
    int kc;                 /* k step: k split evenly into ⌈k/KC⌉ parts */
    int sm, sn;             /* row and column slivers of C */
    int nb;                 /* B slivers packed at once (B_BUDGET) */
    int tm, tn;             /* threads split C into a tm × tn grid */
    size_t a_size, slice;   /* per thread: a_size floats for A, then B */
} gemm_job;

static double ceil_div_d(double a, double b) { return (double)(long)((a + b - 1) / b); }

/* One micro-tile: full tiles go straight to C; edge tiles go through a
 * scratch tile and are merged with the kernel's own formula. */
static void run_tile(const kernel_desc *kd, int kc, const float *ap, const float *bp,
                     float *c, int ldc, int mr, int nr, float beta)
{
    if (mr == kd->mr && nr == kd->nr) {
        kd->fn(kc, ap, bp, c, ldc, beta);
        return;
    }
    _Alignas(64) float tile[MR_MAX * NR_MAX];
    kd->fn(kc, ap, bp, tile, kd->nr, 0.0f);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float *cij = c + (size_t)i * ldc + j;
            float acc = tile[i * kd->nr + j];
            *cij = beta == 0.0f ? acc : acc + beta * *cij;
        }
}

/* op(B)(p, j) = B(j, p) with B in column panels: one element at a time. */
static void pack_b_paneled_t(const kiln_gemm_op *op, int NR, int p0, int kc, int j0, int nr,
                             float *dst)
{
    for (int p = 0; p < kc; p++, dst += NR)
        for (int j = 0; j < NR; j++)
            dst[j] = j < nr ? op->b[at(0, op->b_panel_stride, (size_t)(j0 + j), (size_t)(p0 + p))]
                            : 0.0f;
}

/* Where C(i, j) lies (in a panel when C is stored in column panels; a
 * micro-tile never crosses one, as NR divides KILN_PANEL). */
static float *c_at(const kiln_gemm_op *op, int i, int j)
{
    return op->c + at((size_t)op->ldc, op->c_panel_stride, (size_t)i, (size_t)j);
}

/* Pack the k rows [pc, pc + kc) of B slivers [s0, s1) into dst, kc × NR
 * floats apiece, sliver s0 first. */
static void pack_b_slivers(const gemm_job *g, int s0, int s1, int pc, int kc, float *dst)
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

/* The k step [pc, pc + kc) of the rectangle of C made of row slivers
 * [r0, r1) and column slivers [s0, s1), whose B is packed at bp (sliver s0
 * first): A packed MC rows at a time into ap, then the micro-tiles; after
 * the last k step, each tile's epilogue while the tile is in L1. */
static void compute_step(const gemm_job *g, int r0, int r1, int s0, int s1, int pc, int kc,
                         const float *bp, float *ap)
{
    const kiln_gemm_op *op = g->op;
    const kernel_desc *kd = g->kd;
    const int MR = kd->mr, NR = kd->nr, ldc = op->ldc;
    const int row_end = r1 * MR < g->m ? r1 * MR : g->m;
    const int last = pc + kc == g->k;
    const float beta = pc == 0 ? op->beta : 1.0f;
    for (int ic = r0 * MR; ic < row_end; ic += MC) {
        int mc = row_end - ic < MC ? row_end - ic : MC;
        int slivers = (mc + MR - 1) / MR;
        for (int a = 0; a < slivers; a++) {
            int mr = mc - a * MR < MR ? mc - a * MR : MR;
            kd->pack_a(&g->A, ic + a * MR, mr, pc, kc, ap + (size_t)a * MR * kc);
        }
        for (int s = s0; s < s1; s++) {
            int j = s * NR, nr = g->n - j < NR ? g->n - j : NR;
            const float *b = bp + (size_t)(s - s0) * NR * kc;
            for (int a = 0; a < slivers; a++) {
                int i = ic + a * MR, mr = mc - a * MR < MR ? mc - a * MR : MR;
                float *c = c_at(op, i, j);
                run_tile(kd, kc, ap + (size_t)a * MR * kc, b, c, ldc, mr, nr, beta);
                if (last && op->epilogue) op->epilogue(op, i, j, mr, nr, c, ldc);
            }
        }
    }
}

/* Thread me of the tm × tn grid computes its rectangle of C: for each block
 * of nb of its B slivers and each k step, it packs that part of B, then its
 * A rows MC at a time, so threads share nothing they write and never wait
 * for each other.  (Sharing packed B across cores costs more than packing
 * it twice: every line would cross between the cores' L2s.) */
static void gemm_packed(const gemm_job *g, int me)
{
    int ti = me / g->tn, tj = me % g->tn;
    int r0 = (int)((long)g->sm * ti / g->tm), r1 = (int)((long)g->sm * (ti + 1) / g->tm);
    int c0 = (int)((long)g->sn * tj / g->tn), c1 = (int)((long)g->sn * (tj + 1) / g->tn);
    if (r0 >= r1 || c0 >= c1) return;
    float *ap = slot(me, g->slice), *bp = ap + g->a_size;
    for (int S0 = c0; S0 < c1; S0 += g->nb) {
        int S1 = c1 - S0 < g->nb ? c1 : S0 + g->nb;
        for (int pc = 0; pc < g->k; pc += g->kc) {
            int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
            pack_b_slivers(g, S0, S1, pc, kc, bp);
            compute_step(g, r0, r1, S0, S1, pc, kc, bp, ap);
        }
    }
}

/* ---- The balanced path -----------------------------------------------------------
 * In a training step (a bracket opened by kiln_balance_begin), a large product
 * split by columns is cut finer: each thread's column slivers into units of
 * CHUNK row slivers, which it takes in order, and a thread done with its own
 * takes the others' units from their far end (claims.h).  On a VM the host
 * often slows one vCPU for a whole run; the other then does part of its work
 * instead of waiting at the next kiln_sync.  Results do not change: a unit
 * is computed the same way whoever takes it.  Each thread packs all of A,
 * every k step, before its first unit (the static path packs all of A too,
 * one k step at a time), and B a sliver at a time, all k steps, when its
 * next unit lies in another sliver — so a stolen sliver's B is packed twice.
 * Stealing an owner's last unit would cost the thief a B sliver for one
 * unit, so a thief takes it only when it holds that sliver already. */
enum { CHUNK = 8 };                        /* row slivers per unit */
#define BALANCE_MIN_FLOPS (4.0 * 1024.0 * 1024.0)
#define A_ALL_BUDGET ((size_t)256 * 1024)  /* floats of A packed at once */

/* Floats of all of op(A) packed for every k step (layout: k step, then row
 * sliver; each sliver MR × kc, kc floats apart at full size). */
static size_t a_all_size(const gemm_job *g)
{
    size_t ksteps = (size_t)((g->k + g->kc - 1) / g->kc);
    return round16(ksteps * (size_t)g->sm * g->kd->mr * g->kc);
}

static int balanced_fits(const gemm_job *g, int w, int call)
{
    return call >= 0 && w > 1 && g->tm == 1 && g->tn == w &&
           (double)g->m * g->n * g->k >= BALANCE_MIN_FLOPS && a_all_size(g) <= A_ALL_BUDGET &&
           (long)g->sn * ((g->sm + CHUNK - 1) / CHUNK) <= CLAIMS_MAX_UNITS;
}

/* Unit (sliver s, row slivers [a0, a1)), all k steps, with all of A packed
 * at ap and sliver s of B, every k step, at bp. */
static void compute_unit(const gemm_job *g, const float *ap, const float *bp, int s, int a0,
                         int a1)
{
    const kiln_gemm_op *op = g->op;
    const kernel_desc *kd = g->kd;
    const int MR = kd->mr, NR = kd->nr, ldc = op->ldc;
    const int j = s * NR, nr = g->n - j < NR ? g->n - j : NR;
    for (int q = 0, pc = 0; pc < g->k; q++, pc += g->kc) {
        int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
        int last = pc + kc == g->k;
        float beta = pc == 0 ? op->beta : 1.0f;
        const float *b = bp + (size_t)q * NR * g->kc;
        for (int a = a0; a < a1; a++) {
            int i = a * MR, mr = g->m - i < MR ? g->m - i : MR;
            float *c = c_at(op, i, j);
            run_tile(kd, kc, ap + ((size_t)q * g->sm + a) * MR * g->kc, b, c, ldc, mr, nr, beta);
            if (last && op->epilogue) op->epilogue(op, i, j, mr, nr, c, ldc);
        }
    }
}

/* The first unit of thread t's own, of w: units are numbered sliver by
 * sliver, per_sliver to a sliver, and t owns the slivers of the static
 * column split. */
static int first_unit(const gemm_job *g, int t, int w, int per_sliver)
{
    return (int)((long)g->sn * t / w) * per_sliver;
}

static void gemm_balanced(const gemm_job *g, int me, int w, int call)
{
    const int MR = g->kd->mr, NR = g->kd->nr;
    const int per_sliver = (g->sm + CHUNK - 1) / CHUNK;   /* units */
    const size_t a_all = a_all_size(g);
    const int ksteps = (g->k + g->kc - 1) / g->kc;
    float *ap = slot(me, a_all + round16((size_t)ksteps * NR * g->kc)), *bp = ap + a_all;
    for (int q = 0, pc = 0; pc < g->k; q++, pc += g->kc) {
        int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
        for (int a = 0; a < g->sm; a++) {
            int mr = g->m - a * MR < MR ? g->m - a * MR : MR;
            g->kd->pack_a(&g->A, a * MR, mr, pc, kc, ap + ((size_t)q * g->sm + a) * MR * g->kc);
        }
    }
    int have = -1;   /* the sliver of B packed at bp */
    for (;;) {
        int u = claims_take_own(call, me, first_unit(g, me, w, per_sliver),
                                first_unit(g, me + 1, w, per_sliver));
        for (int v = 1; u < 0 && v < w; v++) {   /* then the others', from their far end */
            int t = (me + v) % w;
            u = claims_steal(call, t, first_unit(g, t, w, per_sliver),
                             first_unit(g, t + 1, w, per_sliver), 2, have * per_sliver,
                             (have + 1) * per_sliver);
        }
        if (u < 0) return;
        int s = u / per_sliver, r = u % per_sliver;
        if (s != have) {
            for (int q = 0, pc = 0; pc < g->k; q++, pc += g->kc) {
                int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
                pack_b_slivers(g, s, s + 1, pc, kc, bp + (size_t)q * NR * g->kc);
            }
            have = s;
        }
        int a1 = (r + 1) * CHUNK < g->sm ? (r + 1) * CHUNK : g->sm;
        compute_unit(g, ap, bp, s, r * CHUNK, a1);
    }
}

/* Rough cost, in multiply-adds, of the busiest thread of a tm × tn grid: its
 * tiles and its packing (A is packed again for every block of nb B slivers).
 * A packed element costs about PACK_U8, PACK_F32 or PACK_B multiply-adds
 * (measured on Zen 5: bytes are cheap to read; B is a large float matrix
 * streaming from L3, so packing it twice costs more than packing A twice). */
enum { PACK_U8 = 6, PACK_F32 = 12, PACK_B = 16 };
static double grid_cost(const gemm_job *g, int tm, int tn)
{
    const int MR = g->kd->mr, NR = g->kd->nr;
    double rows = (g->sm + tm - 1) / tm, cols = (g->sn + tn - 1) / tn;
    double blocks = ceil_div_d(cols, g->nb);
    double pack_a = g->A.f ? PACK_F32 : PACK_U8;
    return rows * cols * MR * NR * g->k
           + pack_a * blocks * rows * MR * g->k + PACK_B * cols * NR * g->k;
}

/* ---- The narrow path (n ≤ 16, A as floats, AVX-512) ------------------------------ */
#if KILN_X86
/* op(B), k × n with n ≤ 16, packed k × 16 zero-padded: one masked load per
 * row (a plain copy loop would become a memcpy call per row of n floats). */
__attribute__((target("avx512f")))
static void pack_b_narrow(const kiln_gemm_op *op, float *dst)
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

/* Row blocks [b0, b1) of NARROW_MR rows; bp is op(B) packed k × 16;
 * scratch (16·k floats) is this thread's, for a last partial block. */
static void narrow_rows(const kiln_gemm_op *op, int b0, int b1, const float *bp,
                        float *scratch)
{
    const int m = op->m, n = op->n, k = op->k, ldc = op->ldc;
    for (int blk = b0; blk < b1; blk++) {
        int i0 = blk * NARROW_MR, mr = m - i0 < NARROW_MR ? m - i0 : NARROW_MR;
        float *c = c_at(op, i0, 0);
        const size_t ps = op->a_panel_stride;
        if (mr == NARROW_MR) {   /* (16 rows of op(A) in one panel: 16 divides KILN_PANEL) */
            if (op->transa)
                narrow_t(k, op->a + at(0, ps, 0, (size_t)i0), (size_t)op->lda, bp, c, ldc, n,
                         op->alpha, op->beta);
            else
                narrow_n(k, op->a + at((size_t)op->lda, ps, (size_t)i0, 0), (size_t)op->lda, ps,
                         bp, c, ldc, n, op->alpha, op->beta);
        } else {  /* last rows: copy them, zero-padded, then as a full block */
            _Alignas(64) float t[NARROW_MR * NARROW_N];
            a_src src = {op->a, NULL, (size_t)op->lda, op->transa != KILN_NOTRANS, 1.0f, ps};
            pack_a_any(NARROW_MR, &src, i0, mr, 0, k, scratch);
            narrow_t(k, scratch, NARROW_MR, bp, t, NARROW_N, NARROW_N, op->alpha, 0.0f);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < n; j++) {
                    float *cij = c + (size_t)i * ldc + j;
                    float v = t[i * NARROW_N + j];   /* alpha·acc, as in the kernel */
                    *cij = op->beta == 0.0f ? v : v + op->beta * *cij;
                }
        }
        if (op->epilogue) op->epilogue(op, i0, 0, mr, n, c, ldc);
    }
}
#endif

#if KILN_X86
/* ---- The narrow path with A in column panels along k: a fixed sum tree -------
 * C (m × n, n ≤ 16) = alpha·A·B + beta·C with A's k columns in panels: a
 * hidden layer's panels feeding a layer with few outputs (a classifier's
 * last, over its classes).  Each panel's part of the sum is a leaf (leaves
 * of 4 panels measured slower at 2 threads), and the P leaves are added in
 * a fixed binary tree (each range [lo, hi) split at its middle).  Thread t
 * of w takes the panels [P·t/w, P·(t+1)/w) — the columns the split of the
 * layer before gave it, so the activations it reads are the ones it wrote —
 * and sums them for all rows, keeping each tree node that lies wholly in
 * its range.  After a kiln_sync each thread
 * finishes the tree for its own blocks of rows from the nodes the threads
 * kept.  The tree does not depend on w, so C is bitwise the same for any
 * thread count, and only a few KB of partial sums change cores instead of
 * the activations.  Node memory: at most 2·depth kept nodes and depth
 * temporaries at once, plus the sum.
 *
 * The kept nodes live in memory of their own, two sets a thread, used in
 * turn by the parity of the team's barrier count (kiln_sync_round, the same
 * on every thread between two kiln_syncs): a thread through one product may
 * start the next while the others still read its nodes of this one, and
 * cannot reach a third before they have passed the second's kiln_sync. */
enum { TREE_KEPT_MAX = 64 };
typedef struct { int lo, hi; const float *sum; } tree_node;
static struct {
    tree_node node[TREE_KEPT_MAX];
    int n;
} tree_kept[2][MAX_TEAM];
static kiln_scratch tree_memory[2][MAX_TEAM];

typedef struct {
    const kiln_gemm_op *op;
    int set;                /* which of the two sets of kept nodes */
    float *bp;              /* all of op(B), packed k × 16 */
    float *scratch;         /* this thread's: a last partial block's rows */
    float *next;            /* this thread's free node memory */
    size_t node_floats;     /* m × 16 */
} tree_job;

static float *tree_buffer(tree_job *t)
{
    float *b = t->next;
    t->next += t->node_floats;
    return b;
}

/* dst (m × 16) = the sum of panels [lo, hi), by the tree. */
static void tree_sum(tree_job *t, int lo, int hi, float *dst)
{
    const kiln_gemm_op *op = t->op;
    if (hi - lo == 1) {   /* a leaf: one panel's columns of A, row-major with ld KILN_PANEL */
        int p0 = lo * KILN_PANEL, kc = op->k - p0 < KILN_PANEL ? op->k - p0 : KILN_PANEL;
        kiln_gemm_op leaf = {.m = op->m, .n = op->n, .k = kc, .alpha = 1.0f,
                             .a = op->a + (size_t)lo * op->a_panel_stride, .lda = KILN_PANEL,
                             .c = dst, .ldc = NARROW_N};
        narrow_rows(&leaf, 0, (op->m + NARROW_MR - 1) / NARROW_MR, t->bp + (size_t)p0 * NARROW_N,
                    t->scratch);
        return;
    }
    int mid = (lo + hi) / 2;
    float *right = tree_buffer(t);
    tree_sum(t, lo, mid, dst);
    tree_sum(t, mid, hi, right);
    for (size_t i = 0; i < t->node_floats; i++) dst[i] += right[i];
    t->next = right;   /* free it again */
}

/* Keep the nodes of [lo, hi) that lie wholly in [a, b) (the largest ones). */
static void tree_keep(tree_job *t, int me, int lo, int hi, int a, int b)
{
    if (hi <= a || b <= lo) return;
    if (a <= lo && hi <= b) {
        float *sum = tree_buffer(t);
        tree_sum(t, lo, hi, sum);
        if (tree_kept[t->set][me].n == TREE_KEPT_MAX) {
            fprintf(stderr, "kiln: kiln_gemm: more than %d partial sums per thread\n", TREE_KEPT_MAX);
            exit(1);
        }
        tree_kept[t->set][me].node[tree_kept[t->set][me].n++] = (tree_node){lo, hi, sum};
        return;
    }
    int mid = (lo + hi) / 2;
    tree_keep(t, me, lo, mid, a, b);
    tree_keep(t, me, mid, hi, a, b);
}

static const float *tree_find(int set, int w, int lo, int hi)
{
    for (int t = 0; t < w; t++)
        for (int i = 0; i < tree_kept[set][t].n; i++)
            if (tree_kept[set][t].node[i].lo == lo && tree_kept[set][t].node[i].hi == hi)
                return tree_kept[set][t].node[i].sum;
    return NULL;
}

/* out[i·16 + j] for rows [r0, r1) = node [lo, hi), from the kept nodes. */
static void tree_finish(tree_job *t, int w, int lo, int hi, int r0, int r1, float *out)
{
    const float *kept = tree_find(t->set, w, lo, hi);
    size_t a = (size_t)r0 * NARROW_N, b = (size_t)r1 * NARROW_N;
    if (kept) {
        memcpy(out + a, kept + a, (b - a) * sizeof *out);
        return;
    }
    if (hi - lo == 1) {   /* every panel lies in some thread's range: cannot happen */
        fprintf(stderr, "kiln: internal error: kiln_gemm: no thread summed panel %d\n", lo);
        exit(1);
    }
    int mid = (lo + hi) / 2;
    float *right = tree_buffer(t);
    tree_finish(t, w, lo, mid, r0, r1, out);
    tree_finish(t, w, mid, hi, r0, r1, right);
    for (size_t i = a; i < b; i++) out[i] += right[i];
    t->next = right;
}

static void narrow_panels(const kiln_gemm_op *op, int me, int nthreads)
{
    const int m = op->m, n = op->n, k = op->k;
    const int panels = (k + KILN_PANEL - 1) / KILN_PANEL;
    int w = nthreads < panels ? nthreads : panels;
    if (w > MAX_TEAM) w = MAX_TEAM;
    const int set = (int)(kiln_sync_round() & 1);
    tree_job t = {op, set, NULL, NULL, NULL, round16((size_t)m * NARROW_N)};
    int depth = 1;
    while ((1 << depth) < panels) depth++;
    size_t packed = round16((size_t)k * NARROW_N), rows = round16((size_t)k * NARROW_MR);
    if (me < w) {
        t.bp = slot(me, packed + rows), t.scratch = t.bp + packed;
        t.next = kiln_scratch_room(&tree_memory[set][me],
                                   (size_t)(3 * depth + 4) * t.node_floats * sizeof(float),
                                   "GEMM partial sums");
        pack_b_narrow(op, t.bp);
        tree_kept[set][me].n = 0;
        tree_keep(&t, me, 0, panels, (int)((long)panels * me / w), (int)((long)panels * (me + 1) / w));
    }
    kiln_sync();   /* every kept node is written */
    if (me >= w) return;
    int blocks = (m + NARROW_MR - 1) / NARROW_MR;
    int r0 = (int)((long)blocks * me / w) * NARROW_MR, r1 = (int)((long)blocks * (me + 1) / w) * NARROW_MR;
    if (r1 > m) r1 = m;
    float *sum = tree_buffer(&t);
    tree_finish(&t, w, 0, panels, r0, r1, sum);
    for (int i = r0; i < r1; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c_at(op, i, j), v = op->alpha * sum[(size_t)i * NARROW_N + j];
            *cij = op->beta == 0.0f ? v : v + op->beta * *cij;
        }
    if (op->epilogue)
        for (int i = r0; i < r1; i += NARROW_MR) {
            int mr = r1 - i < NARROW_MR ? r1 - i : NARROW_MR;
            op->epilogue(op, i, 0, mr, n, c_at(op, i, 0), op->ldc);
        }
}
#endif

/* C = beta·C for the degenerate cases (k == 0 or alpha == 0). */
static void scale_c(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + (size_t)i * ldc + j;
            *cij = beta == 0.0f ? 0.0f : beta * *cij;
        }
}

/* A small float A that every thread of a column split reads whole (such as
 * the output gradient of a layer with few outputs): its rows were written by
 * several cores, and each line another core holds costs a round trip
 * between them.  Asking for all its lines at once lets those trips overlap
 * instead of coming one by one as the packer reaches them. */
enum { SMALL_A_BYTES = 64 * 1024 };
static void prefetch_small_a(const kiln_gemm_op *op)
{
    if (!op->a || op->a_panel_stride) return;
    size_t rows = op->transa ? (size_t)op->k : (size_t)op->m;
    size_t cols = op->transa ? (size_t)op->m : (size_t)op->k;
    size_t bytes = ((rows - 1) * (size_t)op->lda + cols) * sizeof(float);
    if (bytes > SMALL_A_BYTES) return;
    const char *p = (const char *)op->a;
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

/* A matrix in column panels is addressed KILN_PANEL floats a row. */
static void check_panels(const kiln_gemm_op *op)
{
    if ((op->a_panel_stride && op->lda != KILN_PANEL) ||
        (op->b_panel_stride && op->ldb != KILN_PANEL) ||
        (op->c_panel_stride && op->ldc != KILN_PANEL)) {
        fprintf(stderr, "kiln: kiln_gemm: an operand in column panels must have its leading "
                "dimension set to KILN_PANEL (%d)\n", KILN_PANEL);
        exit(1);
    }
}

/* How many of a team's nthreads take a share of a product of this many
 * multiply-adds: at most one per `per` of them, and at least one. */
static int workers(double flops, int nthreads, double per)
{
    double most = flops / per;
    int w = most < nthreads ? (int)most : nthreads;
    if (w > MAX_TEAM) w = MAX_TEAM;
    return w < 1 ? 1 : w;
}

/* The grid for w threads: columns when the column slivers split evenly
 * (output units stay on one core across the products of a step), else the
 * cheapest by grid_cost, rows first on a tie. */
static void choose_grid(gemm_job *g, int w)
{
    g->tm = w;
    g->tn = 1;
    if (w <= 1) return;
    if (g->sn % w == 0) {
        g->tm = 1;
        g->tn = w;
        return;
    }
    double best = 0;
    for (int tm = w; tm >= 1; tm--) {
        if (w % tm) continue;
        double cost = grid_cost(g, tm, w / tm);
        if (tm == w || cost < best) { best = cost; g->tm = tm; g->tn = w / tm; }
    }
}

/* Thread me's share of the product when nthreads threads split it (each
 * calls this with the same op; the split is a pure function of op and
 * nthreads).  per: multiply-adds worth one more thread. */
static void gemm_share(const kiln_gemm_op *op, int me, int nthreads, double per, int call)
{
    const int m = op->m, n = op->n, k = op->k;
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || op->alpha == 0.0f) {
        if (me == 0) {   /* a panel at a time when C is in panels */
            int w = op->c_panel_stride ? KILN_PANEL : n;
            for (int j = 0; j < n; j += w) {
                int cols = n - j < w ? n - j : w;
                scale_c(m, cols, op->beta, c_at(op, 0, j), op->ldc);
                if (op->epilogue) op->epilogue(op, 0, j, m, cols, c_at(op, 0, j), op->ldc);
            }
        }
        return;
    }
    check_panels(op);
    const kernel_desc *kd = kernel();
#if KILN_X86
    if (kd->narrow && n <= NARROW_N && op->a && op->a_panel_stride && !op->transa) {
        narrow_panels(op, me, nthreads);   /* every thread: it waits for the others */
        return;
    }
#endif
    int w = workers((double)m * n * k, nthreads, per);
    if (me >= w) return;

#if KILN_X86
    if (kd->narrow && n <= NARROW_N && op->a) {
        int blocks = (m + NARROW_MR - 1) / NARROW_MR;
        if (w > blocks) w = blocks;
        if (me >= w) return;
        size_t packed = round16((size_t)k * NARROW_MR);   /* B, then scratch for a last block */
        float *bp = slot(me, 2 * packed);
        pack_b_narrow(op, bp);
        narrow_rows(op, (int)((long)blocks * me / w), (int)((long)blocks * (me + 1) / w), bp,
                    bp + packed);
        return;
    }
#endif

    int ksteps = (k + KC - 1) / KC;
    gemm_job g = {0};
    g.op = op;
    g.kd = kd;
    g.A.f = op->a;
    g.A.u8 = op->a ? NULL : op->a_u8;
    g.A.lda = (size_t)op->lda;
    g.A.trans = op->transa != KILN_NOTRANS;
    g.A.scale = op->a ? op->alpha : op->alpha * op->a_scale;
    g.A.pstride = op->a_panel_stride;
    g.m = m; g.n = n; g.k = k;
    g.kc = (k + ksteps - 1) / ksteps;
    g.sm = (m + kd->mr - 1) / kd->mr;
    g.sn = (n + kd->nr - 1) / kd->nr;
    size_t per_sliver = (size_t)kd->nr * g.kc;   /* one k step of one B sliver */
    g.nb = B_BUDGET / per_sliver > 1 ? (int)(B_BUDGET / per_sliver) : 1;
    if (g.nb > g.sn) g.nb = g.sn;
    if (w > g.sm * g.sn) w = g.sm * g.sn;
    if (me >= w) return;
    choose_grid(&g, w);
    if (balanced_fits(&g, w, call)) {
        gemm_balanced(&g, me, w, call);
        return;
    }
    g.a_size = round16((size_t)MC * g.kc);
    g.slice = g.a_size + round16((size_t)g.nb * per_sliver);
    if (g.tn > 1) prefetch_small_a(op);
    gemm_packed(&g, me);
}

void kiln_gemm(const kiln_gemm_op *op)
{
    if (omp_get_level() > 0) {    /* every thread of the team is here: share */
        int me = omp_get_thread_num(), nthreads = omp_get_num_threads();
        gemm_share(op, me, nthreads, TEAM_SHARE_MIN, claims_open(me, nthreads));
        return;
    }
    double flops = (double)op->m * op->n * op->k;
    int team = flops < PARALLEL_MIN_FLOPS ? 1 : workers(flops, omp_get_max_threads(), PER_THREAD_MIN);
    if (team <= 1) {
        gemm_share(op, 0, 1, PER_THREAD_MIN, -1);
        return;
    }
    #pragma omp parallel num_threads(team)
    gemm_share(op, omp_get_thread_num(), omp_get_num_threads(), PER_THREAD_MIN, -1);
}

void kiln_sgemm(int transa, int transb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc)
{
    kiln_gemm_op op = {.transa = transa, .transb = transb, .m = m, .n = n, .k = k,
                       .alpha = alpha, .beta = beta, .a = a, .a_scale = 1.0f, .lda = lda,
                       .b = b, .ldb = ldb, .c = c, .ldc = ldc};
    kiln_gemm(&op);
}
