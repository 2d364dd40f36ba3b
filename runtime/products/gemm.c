/* gemm.c — kiln_gemm: C = alpha·op(A)·op(B) + beta·C, row-major, with A as
 * floats or as bytes (scaled while packing) and an optional epilogue run on
 * every finished micro-tile of C while it is still in L1.  This file holds
 * the entry points (kiln_gemm, kiln_sgemm) and picks the path a product
 * takes and the micro-kernel; the rest of runtime/products/ (products.h)
 * packs (pack.c), multiplies (kernels_*.c, narrow.c) and splits the work
 * among a team (share.c).
 *
 * GotoBLAS/BLIS structure, one job per function: op(A) and op(B) packed
 * into slivers a micro-kernel walks, each thread owning its part of C
 * (share.c).  Products with at most 16 columns (a layer with few outputs,
 * such as a classifier's last over a few classes) and float A take a
 * narrow AVX-512 path instead (narrow.c): 16 × 16 masked tiles reading A
 * in place, split by rows — or, when A is a hidden layer kept in column
 * panels, split by k: each thread sums the panels it wrote and a fixed tree
 * adds the parts (share.c), so the activations stay on their cores.
 *
 * Operands may be stored in column panels (kiln_rt.h: 32 columns of all
 * rows, then the next 32), as the trainer keeps its hidden layers: a
 * micro-tile never spans two panels, so only where a tile, a packed sliver
 * or a piece of k starts changes.
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
#include "products.h"
#include "../claims.h"

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

/* Outside a parallel region, below this many multiply-adds (a few
 * microseconds of work) a GEMM runs on the calling thread only: waking a team would cost
 * more than it saves; a team it starts gets at most one thread per
 * PER_THREAD_MIN multiply-adds.  Inside a team the threads are awake
 * already, and one takes a share once there are TEAM_SHARE_MIN. */
#define PARALLEL_MIN_FLOPS (1024.0 * 1024.0)
#define PER_THREAD_MIN     (512.0 * 1024.0)
#define TEAM_SHARE_MIN     (64.0 * 1024.0)

/* The best kernel this CPU runs; chosen once (the choice is a pure function
 * of the CPU and the environment, so every call and every thread agrees). */
static const kernel_desc *pick_kernel(void)
{
#if KILN_X86
    const char *force = getenv("KILN_GEMM_KERNEL");   /* for tests/benchmarks */
    if (force && strcmp(force, "c") == 0) return &gemm_kernel_c;
    __builtin_cpu_init();
    int has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (!(force && strcmp(force, "avx2") == 0) && has_avx2 && __builtin_cpu_supports("avx512f"))
        return &gemm_kernel_avx512;
    if (has_avx2) return &gemm_kernel_avx2;
#endif
    return &gemm_kernel_c;
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

/* C = beta·C for the degenerate cases (k == 0 or alpha == 0). */
static void scale_c(int m, int n, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + (size_t)i * ldc + j;
            *cij = beta == 0.0f ? 0.0f : beta * *cij;
        }
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
        gemm_narrow_panels(op, me, nthreads);   /* every thread: it waits for the others */
        return;
    }
#endif
    int w = workers((double)m * n * k, nthreads, per);
    if (me >= w) return;
#if KILN_X86
    if (kd->narrow && n <= NARROW_N && op->a) {
        gemm_narrow(op, me, w);
        return;
    }
#endif
    gemm_tiled(op, kd, me, w, call);
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

void kiln_gemm_alone(const kiln_gemm_op *op)
{
    gemm_share(op, 0, 1, PER_THREAD_MIN, -1);
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
