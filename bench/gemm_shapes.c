/* gemm_shapes.c — GFLOP/s of each GEMM shape of the reference MLP's epoch,
 * with OpenBLAS or with kiln's runtime GEMM, so the two can be compared
 * shape by shape (bench/run.sh prints them side by side with the ratio).
 *
 * One source, two programs:
 *   cc -O2 -DUSE_OPENBLAS gemm_shapes.c $(pkg-config --cflags --libs openblas)
 *   cc -O2 -DUSE_KILN -Ibuild gemm_shapes.c build/libkiln_rt.a -lz -lm -fopenmp
 * Each process uses one library only, so OpenBLAS's pthreads and kiln's
 * OpenMP threads never compete for the two cores.
 *
 * The shapes (row-major, C = op(A)·op(B), n = 256 batch rows), as in
 * bench/gemm_floor.c and in the trainer kiln emits for models/mlp.lua:
 *
 *   fwd1   X·W1     NN  m=256 n=256 k=784
 *   fwd2   H·W2     NN  m=256 n=10  k=256
 *   bwd_dH dZ2·W2ᵀ  NT  m=256 n=256 k=10
 *   dW2    Hᵀ·dZ2   TN  m=256 n=10  k=256
 *   dW1    Xᵀ·dZ1   TN  m=784 n=256 k=256
 *
 * plus "epoch": all five for one epoch (234 steps of 256 rows, one of 96).
 * kiln is timed through kiln_sgemm (floats, no epilogue); in the trainer the
 * same products go through kiln_gemm with uint8 X scaled while packing and
 * fused epilogues, which this does not measure.
 *
 * usage: gemm_shapes THREADS
 * prints one line per shape:  shape NAME M N K GFLOPS
 * (each GFLOP/s the median of 5 trials of at least 40 ms, after a warm-up).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(USE_OPENBLAS)
#include <cblas.h>
#define LIB "openblas"
static void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
                 const float *b, int ldb, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
static void set_threads(int t) { openblas_set_num_threads(t); }
#elif defined(USE_KILN)
#include <omp.h>
#include "kiln_rt.h"
#define LIB "kiln"
static void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda,
                 const float *b, int ldb, float *c, int ldc)
{
    kiln_sgemm(ta ? KILN_TRANS : KILN_NOTRANS, tb ? KILN_TRANS : KILN_NOTRANS,
               m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
static void set_threads(int t) { omp_set_num_threads(t); }
#else
#error "build with -DUSE_OPENBLAS or -DUSE_KILN"
#endif

typedef struct {
    const char *name;
    int ta, tb, m, n, k;
} shape;

static const shape shapes[] = {
    {"fwd1", 0, 0, 256, 256, 784},
    {"fwd2", 0, 0, 256, 10, 256},
    {"bwd_dH", 0, 1, 256, 256, 10},
    {"dW2", 1, 0, 256, 10, 256},
    {"dW1", 1, 0, 784, 256, 256},
};
enum { NSHAPES = sizeof shapes / sizeof shapes[0], TRIALS = 5 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *matrix(size_t count)
{
    static unsigned seed = 7;
    float *p = malloc(count * sizeof *p);
    if (!p) {
        fprintf(stderr, "gemm_shapes: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < count; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 8) * (2.0 / 16777216.0) - 1.0);
    }
    return p;
}

/* One call of shape s on matrices a (m×k or k×m), b (k×n or n×k), c (m×n). */
static void run(const shape *s, const float *a, const float *b, float *c)
{
    int lda = s->ta ? s->m : s->k;
    int ldb = s->tb ? s->k : s->n;
    gemm(s->ta, s->tb, s->m, s->n, s->k, a, lda, b, ldb, c, s->n);
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1) {
        fprintf(stderr, "usage: gemm_shapes THREADS\n");
        return 2;
    }
    set_threads(threads);
    /* big enough for every shape's operands */
    float *a = matrix(784 * 256), *b = matrix(784 * 256), *c = matrix(784 * 256);

    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &shapes[i];
        double flop = 2.0 * s->m * s->n * s->k;
        /* warm up and calibrate: iterations for ≥ 40 ms per trial */
        long iters = 1;
        for (;;) {
            double t0 = now();
            for (long r = 0; r < iters; r++) run(s, a, b, c);
            double dt = now() - t0;
            if (dt >= 0.04) break;
            iters = dt > 0.004 ? (long)(iters * 0.045 / dt) + 1 : iters * 10;
        }
        double g[TRIALS];
        for (int t = 0; t < TRIALS; t++) {
            double t0 = now();
            for (long r = 0; r < iters; r++) run(s, a, b, c);
            g[t] = flop * iters / (now() - t0) * 1e-9;
        }
        qsort(g, TRIALS, sizeof g[0], cmp);
        printf("shape %s %d %d %d %.1f\n", s->name, s->m, s->n, s->k, g[TRIALS / 2]);
        fflush(stdout);
    }

    /* one epoch of all five products, as bench/gemm_floor.c does it */
    double flop = 0, t0 = now();
    for (int row = 0; row < 60000; row += 256) {
        int n = 60000 - row < 256 ? 60000 - row : 256;
        for (int i = 0; i < NSHAPES; i++) {
            shape s = shapes[i];
            if (s.ta) s.k = n; else s.m = n;  /* the batch dimension */
            run(&s, a, b, c);
            flop += 2.0 * s.m * s.n * s.k;
        }
    }
    double dt = now() - t0;
    printf("shape epoch %d %d %d %.1f\n", 60000, 0, 0, flop / dt * 1e-9);
    printf("epoch_seconds %.4f\n", dt);
    fprintf(stderr, "gemm_shapes: %s, %d thread(s), checksum %g\n", LIB, threads, (double)c[0]);
    free(a); free(b); free(c);
    return 0;
}
