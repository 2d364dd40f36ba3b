/* core_probe.c — how two cores of this machine behave together, printed in
 * the bench header so that a slow 2-thread figure can be told apart from a
 * slow trainer:
 *   - the round trip of a cache line between thread 0 and thread 1 (one
 *     writes a counter, the other answers): on a VM this changes when the
 *     host moves the vCPUs (tens of ns on neighbouring cores, hundreds when
 *     they sit far apart), and every barrier and every cache line that
 *     changes cores in a 2-thread step pays it;
 *   - FMA throughput with 1 and with 2 threads (registers only, no memory):
 *     2 threads give 2× when the two CPUs are two real cores; one thread's
 *     rate in GFLOP/s (2 FLOP per lane of each FMA; the fastest of 5 short
 *     runs, as other work only ever slows one down) is the peak that the
 *     bench's "of peak" figures divide by;
 *   - what it costs a thread to rewrite 128 KB it wrote before, when the
 *     other thread has read it in between, against when it has not: the
 *     price a 2-thread step pays on every buffer one core writes and the
 *     other reads (the hidden activations, each step).
 *
 * usage: core_probe        prints  "round_trip_ns N", "fma_scaling X",
 *                                  "fma_gflops G", "rewrite_us A" and
 *                                  "rewrite_read_us B"
 * build: cc -O3 -fopenmp -march=native -mprefer-vector-width=512 core_probe.c -lm */
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Alignas(64) atomic_long ball;

/* The mean round trip over many exchanges, after a warm-up. */
static double round_trip_ns(void)
{
    enum { WARM = 20000, N = 200000 };
    double t = 0;
    atomic_store(&ball, 0);
    #pragma omp parallel num_threads(2)
    {
        int me = omp_get_thread_num();
        double t0 = 0;
        for (long i = 0; i < WARM + N; i++) {
            if (me == 0 && i == WARM) t0 = omp_get_wtime();
            long want = 2 * i + me;           /* thread 0 serves even, 1 odd */
            while (atomic_load_explicit(&ball, memory_order_acquire) != want) {}
            atomic_store_explicit(&ball, want + 1, memory_order_release);
        }
        if (me == 0) t = omp_get_wtime() - t0;
    }
    return t / N * 1e9;
}

/* Seconds for `iters` rounds of 12 × 16 independent FMA chains on each of
 * `threads` threads (fmaf, vectorized by the compiler with -march=native). */
static double fma_seconds(int threads, long iters)
{
    double t0 = omp_get_wtime();
    float sink = 0;
    #pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
        float acc[12][16];
        for (int i = 0; i < 12; i++)
            for (int j = 0; j < 16; j++) acc[i][j] = (float)(i + j) * 1e-3f;
        for (long k = 0; k < iters; k++)
            for (int i = 0; i < 12; i++)
                for (int j = 0; j < 16; j++) acc[i][j] = fmaf(acc[i][j], 0.9999f, 1e-4f);
        for (int i = 0; i < 12; i++)
            for (int j = 0; j < 16; j++) sink += acc[i][j];
    }
    double t = omp_get_wtime() - t0;
    return sink == 12345.0f ? t + 1 : t;   /* keep the work */
}

/* Median µs for thread 0 to add 1 to every word of a 128 KiB block it
 * wrote last, after thread 1 has read the block (reader != 0) or not. */
static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static double rewrite_us(int reader)
{
    enum { WORDS = 128 * 1024 / 4, ROUNDS = 400 };
    static _Alignas(64) unsigned block[WORDS];
    static double t[ROUNDS];
    static _Alignas(64) atomic_int turn;
    atomic_store(&turn, 0);
    #pragma omp parallel num_threads(2)
    {
        int me = omp_get_thread_num();
        unsigned sink = 0;
        for (int r = 0; r < ROUNDS; r++) {
            /* thread 0 writes, hands over (3r+1); thread 1 reads or not, hands
             * back (3r+2); thread 0 rewrites, timed, and starts the next round */
            if (me == 0) {
                for (int i = 0; i < WORDS; i++) block[i] = (unsigned)(i + r);
                atomic_store_explicit(&turn, 3 * r + 1, memory_order_release);
                while (atomic_load_explicit(&turn, memory_order_acquire) != 3 * r + 2) {}
                double t0 = omp_get_wtime();
                for (int i = 0; i < WORDS; i++) block[i] += 1;
                t[r] = omp_get_wtime() - t0;
            } else {
                while (atomic_load_explicit(&turn, memory_order_acquire) != 3 * r + 1) {}
                if (reader)
                    for (int i = 0; i < WORDS; i++) sink |= block[i];
                atomic_store_explicit(&turn, 3 * r + 2, memory_order_release);
            }
        }
        if (sink == 12345u) printf("#\n");   /* keep the reads */
    }
    qsort(t, ROUNDS, sizeof *t, cmp_double);
    return t[ROUNDS / 2] * 1e6;
}

int main(void)
{
    printf("round_trip_ns %.0f\n", round_trip_ns());
    const long iters = 100000000;                /* about 0.2 s each */
    fma_seconds(2, iters / 10);                  /* wake both cores up first */
    double one = fma_seconds(1, iters), two = fma_seconds(2, iters);
    printf("fma_scaling %.2f\n", 2.0 * one / two);   /* work per second, 2 threads over 1 */
    double peak = 0;   /* one thread's FMA peak: the fastest of 5 shorter runs */
    for (int r = 0; r < 5; r++) {
        double gflops = 12.0 * 16 * 2 * (iters / 5) / fma_seconds(1, iters / 5) / 1e9;
        if (gflops > peak) peak = gflops;
    }
    printf("fma_gflops %.1f\n", peak);
    printf("rewrite_us %.1f\n", rewrite_us(0));
    printf("rewrite_read_us %.1f\n", rewrite_us(1));
    return 0;
}
