/* gemm_floor.c — the GEMM-only floor for one epoch of the reference MLP.
 *
 * Does exactly the matrix products of one training epoch of models/mlp.lua
 * (Fashion-MNIST, 60000 samples, batch 256 → 235 steps, the last one 96
 * rows; 784 → 256 → 10) with OpenBLAS's cblas_sgemm, row-major, and nothing
 * else: no bias, activation, softmax, update or data gathering.  Per step,
 * with n rows in the batch:
 *
 *   forward   Z1  = X · W1       (n×784 · 784×256)
 *             Z2  = H · W2       (n×256 · 256×10)
 *   backward  dH  = dZ2 · W2ᵀ    (n×10  · 10×256)
 *             dW2 = Hᵀ · dZ2     (256×n · n×10)
 *             dW1 = Xᵀ · dZ1     (784×n · n×256)
 *
 * That is 2·m·n·k summed over all products = 60000 · (4·784·256 + 6·256·10)
 * = 49,090,560,000 FLOP per epoch.  No kernel of a trainer can do less, so a
 * trainer's epoch divided by this is "how far from the BLAS floor" it is.
 *
 * usage: gemm_floor [THREADS [EPOCHS]]      (defaults 1 and 2)
 * Prints, like a kiln trainer with --verbose, one line per epoch on stderr:
 *   epoch N: train 0.391 s
 * The first epoch also pays for first-touch page faults and OpenBLAS's
 * buffer allocation and thread start; bench/run.sh uses the last.
 *
 * build: cc -O2 gemm_floor.c $(pkg-config --cflags --libs openblas)
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { SAMPLES = 60000, BATCH = 256, IN = 784, HID = 256, OUT = 10 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *matrix(size_t count, unsigned *seed)
{
    float *p = malloc(count * sizeof *p);
    if (!p) {
        fprintf(stderr, "gemm_floor: out of memory\n");
        exit(1);
    }
    /* small values in [-1, 1): no denormals, no overflow */
    for (size_t i = 0; i < count; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)((*seed >> 8) * (2.0 / 16777216.0) - 1.0);
    }
    return p;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    int epochs = argc > 2 ? atoi(argv[2]) : 2;
    if (threads < 1 || epochs < 1) {
        fprintf(stderr, "usage: gemm_floor [THREADS [EPOCHS]]\n");
        return 2;
    }
    openblas_set_num_threads(threads);

    unsigned seed = 1;
    float *x = matrix((size_t)BATCH * IN, &seed);    /* one batch of inputs */
    float *w1 = matrix((size_t)IN * HID, &seed);
    float *w2 = matrix((size_t)HID * OUT, &seed);
    float *h = matrix((size_t)BATCH * HID, &seed);   /* Z1, then H */
    float *z2 = matrix((size_t)BATCH * OUT, &seed);
    float *dz2 = matrix((size_t)BATCH * OUT, &seed);
    float *dz1 = matrix((size_t)BATCH * HID, &seed); /* dH, then dZ1 */
    float *dw1 = matrix((size_t)IN * HID, &seed);
    float *dw2 = matrix((size_t)HID * OUT, &seed);

    fprintf(stderr, "gemm_floor: %d thread(s), OpenBLAS %s (core %s)\n", threads,
            openblas_get_config(), openblas_get_corename());
    for (int e = 1; e <= epochs; e++) {
        double t0 = now();
        for (int s = 0; s < SAMPLES; s += BATCH) {
            int n = SAMPLES - s < BATCH ? SAMPLES - s : BATCH;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, HID, IN,
                        1.0f, x, IN, w1, HID, 0.0f, h, HID);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, OUT, HID,
                        1.0f, h, HID, w2, OUT, 0.0f, z2, OUT);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, HID, OUT,
                        1.0f, dz2, OUT, w2, OUT, 0.0f, dz1, HID);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, HID, OUT, n,
                        1.0f, h, HID, dz2, OUT, 0.0f, dw2, OUT);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, IN, HID, n,
                        1.0f, x, IN, dz1, HID, 0.0f, dw1, HID);
        }
        fprintf(stderr, "epoch %d: train %.4f s\n", e, now() - t0);
    }
    /* keep the results observable */
    printf("checksum %g\n", (double)(dw1[0] + dw2[0] + z2[0]));
    free(x); free(w1); free(w2); free(h); free(z2); free(dz2); free(dz1); free(dw1); free(dw2);
    return 0;
}
