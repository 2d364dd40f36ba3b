/* gemm.c — kiln_sgemm: C = alpha·op(A)·op(B) + beta·C, row-major.
 *
 * GotoBLAS/BLIS structure, one job per function:
 *
 *   for jc over n in NC columns            (B block   kc × nc, packed, shared)
 *     for pc over k in KC steps            (fixed order: never split across threads)
 *       pack_b: KC × NR slivers
 *       for ic over m in MC rows           (A block   mc × kc, packed, shared)
 *         pack_a: MR × KC slivers, scaled by alpha
 *         run_tiles: MR × NR micro-tiles, split among the threads
 *
 * The micro-kernel keeps an MR × NR tile of C in registers and walks the two
 * packed slivers over kc.  It is picked once at run time: AVX-512F (8×32),
 * AVX2+FMA (6×16), or portable C (4×8) — so the library is fast whatever
 * -march the runtime was compiled with.  KILN_GEMM_KERNEL=avx2 or =c in the
 * environment forces a simpler kernel (tests use it to check every kernel).
 * Results are bitwise reproducible on one machine; a different kernel (another
 * CPU) may round differently.
 *
 * Determinism: every element of C is owned by exactly one micro-tile whose
 * position depends only on (m, n, k) and the blocking constants, and it is
 * summed over k in increasing order, KC at a time.  Threads only decide *who*
 * computes a tile, never how, so the result is bitwise identical for any
 * thread count.  Edge tiles are computed full-size from zero-padded slivers
 * into a scratch tile and then merged with the same formula as full tiles.
 */
#include "kiln_rt.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
static int omp_get_num_threads(void) { return 1; }
#endif

#if defined(__x86_64__) || defined(__i386__)
#define KILN_X86 1
#include <immintrin.h>
#else
#define KILN_X86 0
#endif

/* Cache blocking.  KC × NR floats of B and MR × KC of A stream through L1/L2;
 * the shared A block is at most MC × KC floats, the B block KC × NC.  k is
 * cut into ⌈k/KC⌉ equal steps (784 → 4 × 196, not 3 × 256 + 16).  MC is a
 * multiple of every kernel's MR (8, 6, 4). */
enum { KC = 256, MC = 264, NC = 1024 };
enum { MR_MAX = 8, NR_MAX = 32 };

/* Below this many multiply-adds (about 10 µs of work) a GEMM runs on the
 * calling thread only: starting a team would cost more than it saves. */
#define PARALLEL_MIN_FLOPS (1024.0 * 1024.0)

/* A micro-kernel: c[0..mr)[0..nr) = acc + beta·c, where acc = Σ_p a_p ⊗ b_p
 * over kc packed steps (a: mr floats per step, b: nr floats per step).
 * beta == 0 stores without reading c. */
typedef void (*kernel_fn)(int kc, const float *a, const float *b,
                          float *c, int ldc, float beta);
typedef struct {
    int       mr, nr;
    kernel_fn fn;
} kernel_desc;

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
__attribute__((target("avx512f")))
static void kernel_avx512_8x32(int kc, const float *a, const float *b,
                               float *c, int ldc, float beta)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00,
           c20 = c00, c21 = c00, c30 = c00, c31 = c00,
           c40 = c00, c41 = c00, c50 = c00, c51 = c00,
           c60 = c00, c61 = c00, c70 = c00, c71 = c00;
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
#endif

/* The best kernel this CPU runs; chosen once (the choice is a pure function
 * of the CPU, so every call and every thread agrees). */
static const kernel_desc *pick_kernel(void)
{
    static const kernel_desc portable = {4, 8, kernel_c_4x8};
#if KILN_X86
    static const kernel_desc avx2 = {6, 16, kernel_avx2_6x16};
    static const kernel_desc avx512 = {8, 32, kernel_avx512_8x32};
    const char *force = getenv("KILN_GEMM_KERNEL");   /* for tests/benchmarks */
    if (force && strcmp(force, "c") == 0) return &portable;
    __builtin_cpu_init();
    if (!(force && strcmp(force, "avx2") == 0) && __builtin_cpu_supports("avx512f"))
        return &avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &avx2;
#endif
    return &portable;
}

/* ---- Packing ------------------------------------------------------------------ */

/* Pack rows [i0, i0+mr) × cols [p0, p0+kc) of op(A), times alpha, as one
 * sliver: dst[p*MR + i].  Rows past the matrix (mr < MR) are zero. */
static void pack_a(int MR, int transa, const float *a, int lda, int i0, int mr,
                   int p0, int kc, float alpha, float *dst)
{
    for (int p = 0; p < kc; p++, dst += MR) {
        if (transa) {          /* op(A)(i, p) = a[p*lda + i]: contiguous in i */
            const float *src = a + (size_t)(p0 + p) * lda + i0;
            for (int i = 0; i < mr; i++) dst[i] = alpha * src[i];
        } else {               /* op(A)(i, p) = a[i*lda + p] */
            const float *src = a + (size_t)i0 * lda + p0 + p;
            for (int i = 0; i < mr; i++) dst[i] = alpha * src[(size_t)i * lda];
        }
        for (int i = mr; i < MR; i++) dst[i] = 0.0f;
    }
}

/* Pack rows [p0, p0+kc) × cols [j0, j0+nr) of op(B) as one sliver:
 * dst[p*NR + j].  Columns past the matrix (nr < NR) are zero. */
static void pack_b(int NR, int transb, const float *b, int ldb, int p0, int kc,
                   int j0, int nr, float *dst)
{
    for (int p = 0; p < kc; p++, dst += NR) {
        if (transb) {          /* op(B)(p, j) = b[j*ldb + p] */
            const float *src = b + (size_t)j0 * ldb + p0 + p;
            for (int j = 0; j < nr; j++) dst[j] = src[(size_t)j * ldb];
        } else {               /* op(B)(p, j) = b[p*ldb + j]: contiguous in j */
            memcpy(dst, b + (size_t)(p0 + p) * ldb + j0, (size_t)nr * sizeof *dst);
        }
        for (int j = nr; j < NR; j++) dst[j] = 0.0f;
    }
}

/* ---- The loops around the micro-kernel ------------------------------------------ */

typedef struct {
    const kernel_desc *kd;
    int transa, transb, m, n, k;
    float alpha, beta;
    const float *a, *b;
    int lda, ldb, ldc;
    float *c;
    int kc;                   /* k step: k split evenly into ⌈k/KC⌉ parts */
    float *apack, *bpack;     /* shared by all threads of one call */
} gemm_job;

/* One micro-tile: full tiles go straight to C; edge tiles go through a
 * scratch tile and are merged with the kernel's own formula. */
static void run_tile(const gemm_job *g, int kc, const float *ap, const float *bp,
                     float *c, int mr, int nr, float beta)
{
    const kernel_desc *kd = g->kd;
    if (mr == kd->mr && nr == kd->nr) {
        kd->fn(kc, ap, bp, c, g->ldc, beta);
        return;
    }
    _Alignas(64) float tile[MR_MAX * NR_MAX];
    kd->fn(kc, ap, bp, tile, kd->nr, 0.0f);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float *cij = c + (size_t)i * g->ldc + j;
            float acc = tile[i * kd->nr + j];
            *cij = beta == 0.0f ? acc : acc + beta * *cij;
        }
}

/* The tiles [t0, t1) of one packed mc × nc block, numbered column-sliver-major
 * so that a thread reuses one B sliver across consecutive A slivers. */
static void run_tiles(const gemm_job *g, int ic, int mc, int jc, int nc,
                      int kc, float beta, int t0, int t1)
{
    const int MR = g->kd->mr, NR = g->kd->nr;
    const int tiles_m = (mc + MR - 1) / MR;
    for (int t = t0; t < t1; t++) {
        int ir = (t % tiles_m) * MR, jr = (t / tiles_m) * NR;
        int mr = mc - ir < MR ? mc - ir : MR;
        int nr = nc - jr < NR ? nc - jr : NR;
        run_tile(g, kc, g->apack + (size_t)ir * kc, g->bpack + (size_t)jr * kc,
                 g->c + (size_t)(ic + ir) * g->ldc + jc + jr, mr, nr, beta);
    }
}

/* The whole blocked product, executed by each of nthreads threads (thread
 * `me`).  Packing is shared work split by sliver; barriers separate packing
 * from use.  With nthreads == 1 the barriers are never reached. */
static void gemm_blocked(const gemm_job *g, int me, int nthreads)
{
    const int MR = g->kd->mr, NR = g->kd->nr;
    for (int jc = 0; jc < g->n; jc += NC) {
        int nc = g->n - jc < NC ? g->n - jc : NC;
        int slivers_b = (nc + NR - 1) / NR;
        for (int pc = 0; pc < g->k; pc += g->kc) {
            int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
            float beta = pc == 0 ? g->beta : 1.0f;
            for (int s = slivers_b * me / nthreads; s < slivers_b * (me + 1) / nthreads; s++) {
                int nr = nc - s * NR < NR ? nc - s * NR : NR;
                pack_b(NR, g->transb, g->b, g->ldb, pc, kc, jc + s * NR, nr,
                       g->bpack + (size_t)s * NR * kc);
            }
            for (int ic = 0; ic < g->m; ic += MC) {
                int mc = g->m - ic < MC ? g->m - ic : MC;
                int slivers_a = (mc + MR - 1) / MR;
                for (int s = slivers_a * me / nthreads; s < slivers_a * (me + 1) / nthreads; s++) {
                    int mr = mc - s * MR < MR ? mc - s * MR : MR;
                    pack_a(MR, g->transa, g->a, g->lda, ic + s * MR, mr, pc, kc,
                           g->alpha, g->apack + (size_t)s * MR * kc);
                }
                if (nthreads > 1) {
                    #pragma omp barrier
                }
                long tiles = (long)slivers_a * slivers_b;
                int t0 = (int)(tiles * me / nthreads);
                int t1 = (int)(tiles * (me + 1) / nthreads);
                run_tiles(g, ic, mc, jc, nc, kc, beta, t0, t1);
                if (nthreads > 1) {
                    #pragma omp barrier
                }
            }
        }
    }
}

/* Pack buffers, kept per calling thread and grown on demand (a GEMM per layer
 * per step would otherwise pay for fresh pages every call). */
static float *grow(float **buf, size_t *cap, size_t need)
{
    if (need > *cap) {
        free(*buf);
        size_t bytes = (need * sizeof(float) + 63) / 64 * 64;
        *buf = aligned_alloc(64, bytes);
        *cap = *buf ? need : 0;
    }
    return *buf;
}

/* C = beta·C for the degenerate cases (k == 0 or alpha == 0). */
static void scale_c(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + (size_t)i * ldc + j;
            *cij = beta == 0.0f ? 0.0f : beta * *cij;
        }
}

void kiln_sgemm(int transa, int transb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta,
                float *c, int ldc)
{
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || alpha == 0.0f) { scale_c(m, n, beta, c, ldc); return; }

    static const kernel_desc *kd;
    #pragma omp critical(kiln_gemm_pick)
    if (!kd) kd = pick_kernel();

    static _Thread_local float *abuf, *bbuf;
    static _Thread_local size_t acap, bcap;
    int mc_max = m < MC ? m : MC, nc_max = n < NC ? n : NC;
    int ksteps = (k + KC - 1) / KC, kc_max = (k + ksteps - 1) / ksteps;
    size_t asize = (size_t)(mc_max + kd->mr - 1) / kd->mr * kd->mr * kc_max;
    size_t bsize = (size_t)(nc_max + kd->nr - 1) / kd->nr * kd->nr * kc_max;
    gemm_job g = {kd, transa != KILN_NOTRANS, transb != KILN_NOTRANS, m, n, k,
                  alpha, beta, a, b, lda, ldb, ldc, c, kc_max,
                  grow(&abuf, &acap, asize), grow(&bbuf, &bcap, bsize)};
    if (!g.apack || !g.bpack) abort();   /* a few hundred KiB: cannot happen */

    double flops = (double)m * n * k;
    if (flops < PARALLEL_MIN_FLOPS) {
        gemm_blocked(&g, 0, 1);
        return;
    }
    #pragma omp parallel
    {
        gemm_blocked(&g, omp_get_thread_num(), omp_get_num_threads());
    }
}
