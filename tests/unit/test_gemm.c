/* test_gemm.c — kiln_sgemm against a naive double-precision reference, over
 * many shapes, all transpose combinations, alpha/beta values and padded
 * leading dimensions; then bitwise determinism across OpenMP thread counts.
 * Re-runs itself once per alternative micro-kernel (KILN_GEMM_KERNEL) so the
 * AVX2 and portable kernels are checked too.  Prints PASS/FAIL/SKIP lines. */
#define _POSIX_C_SOURCE 200809L
#include "kiln_rt.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
static const char *variant = "";   /* kernel under test, for case names */

static float frand(uint64_t *s)    /* deterministic values in [-1, 1) */
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

static float *matrix(size_t n, uint64_t *s)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = frand(s);
    return p;
}

/* op(X)(i, j) for a row-major X with leading dimension ld. */
static float at(const float *x, int ld, int trans, int i, int j)
{
    return trans ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

/* One case.  Tolerance: a float dot product of length k has rounding error at
 * most about k·u·Σ|a·b| (u = 2⁻²⁴, the standard γ_k bound), plus one rounding
 * each for alpha, beta·C and the final add.  We allow 2·(k+3)·u times the
 * magnitudes: never exceeded by a correct kernel in any summation order,
 * while any indexing bug produces errors of order the values themselves. */
static void check(int ta, int tb, int m, int n, int k, float alpha, float beta,
                  int pad)
{
    uint64_t s = (uint64_t)m * 1000003u + (uint64_t)n * 1009u + (uint64_t)k;
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t asz = (size_t)(ta ? k : m) * lda, bsz = (size_t)(tb ? n : k) * ldb;
    size_t csz = (size_t)m * ldc;
    float *a = matrix(asz, &s), *b = matrix(bsz, &s), *c = matrix(csz, &s);
    float *c0 = malloc(csz * sizeof *c0);
    if (beta == 0.0f)   /* beta == 0 must not read C: poison it */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] = NAN;
    memcpy(c0, c, csz * sizeof *c);

    kiln_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    const double u = ldexp(1.0, -24);
    double worst = 0;
    char why[200] = "";
    for (int i = 0; i < m && !why[0]; i++) {
        for (int j = 0; j < ldc; j++) {
            float got = c[(size_t)i * ldc + j];
            if (j >= n) {   /* padding between rows must be untouched */
                if (memcmp(&got, &c0[(size_t)i * ldc + j], sizeof got) != 0)
                    snprintf(why, sizeof why, "padding C[%d][%d] was written", i, j);
                continue;
            }
            double sum = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                double t = (double)at(a, lda, ta, i, p) * at(b, ldb, tb, p, j);
                sum += t;
                mag += fabs(t);
            }
            double ref = alpha * sum, cin = c0[(size_t)i * ldc + j];
            mag = fabs(alpha) * mag;
            if (beta != 0.0f) { ref += beta * cin; mag += fabs(beta * cin); }
            double tol = 2.0 * (k + 3) * u * mag + 1e-30;
            double err = fabs(got - ref);
            if (!(err <= tol)) {
                snprintf(why, sizeof why, "C[%d][%d] = %.9g, expected %.9g (tolerance %.3g)",
                         i, j, got, ref, tol);
                break;
            }
            if (err / tol > worst) worst = err / tol;
        }
    }
    char name[120];
    snprintf(name, sizeof name, "gemm%s_%c%c_%dx%dx%d_alpha%g_beta%g%s", variant,
             ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, beta, pad ? "_padded" : "");
    if (why[0]) { printf("FAIL %s: %s\n", name, why); failures++; }
    else printf("PASS %s (max error %.2f of tolerance)\n", name, worst);
    free(a); free(b); free(c); free(c0);
}

/* Same product with 1, 2, 3 and 4 threads must give the same bits. */
static void determinism(int ta, int tb, int m, int n, int k)
{
    uint64_t s = 42;
    int lda = ta ? m : k, ldb = tb ? k : n;
    float *a = matrix((size_t)m * k, &s), *b = matrix((size_t)k * n, &s);
    float *ref = malloc((size_t)m * n * sizeof *ref), *c = malloc((size_t)m * n * sizeof *c);
    char name[100], why[100] = "";
    snprintf(name, sizeof name, "gemm%s_deterministic_%c%c_%dx%dx%d", variant,
             ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    kiln_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, ref, n);
    for (int t = 2; t <= 4 && !why[0]; t++) {
        omp_set_num_threads(t);
        kiln_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
        if (memcmp(c, ref, (size_t)m * n * sizeof *c) != 0)
            snprintf(why, sizeof why, "%d threads differ from 1 thread", t);
    }
    omp_set_num_threads(saved);
    if (why[0]) { printf("FAIL %s: %s\n", name, why); failures++; }
    else printf("PASS %s (1-4 threads bitwise equal)\n", name);
    free(a); free(b); free(ref); free(c);
}

/* Run this program again with another kernel forced; its lines go to our
 * stdout, its exit status tells whether it passed. */
static void rerun(const char *kernel)
{
    char self[4000], cmd[4200];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0 || memchr(self, '\'', (size_t)len)) {
        printf("SKIP gemm_%s_kernel: cannot find this program's path\n", kernel);
        return;
    }
    self[len] = 0;
    snprintf(cmd, sizeof cmd, "KILN_GEMM_KERNEL=%s '%s'", kernel, self);
    fflush(stdout);
    if (system(cmd) != 0) {
        printf("FAIL gemm_%s_kernel: the run with KILN_GEMM_KERNEL=%s failed\n", kernel, kernel);
        failures++;
    }
}

int main(void)
{
    const char *forced = getenv("KILN_GEMM_KERNEL");
    static char tag[32];
    if (forced) { snprintf(tag, sizeof tag, "_%s", forced); variant = tag; }

    /* Shapes: tiny, odd, tile/block edges, and the reference MLP's shapes
     * (batch 256 and the last partial batch of 96). */
    static const int shapes[][3] = {
        {1, 1, 1}, {3, 2, 5}, {2, 3, 1}, {7, 13, 17}, {8, 32, 1}, {9, 33, 257},
        {17, 31, 300}, {1, 100, 3}, {100, 1, 3}, {33, 65, 513},
        {256, 256, 784}, {256, 10, 256}, {784, 256, 256}, {256, 256, 10},
        {96, 256, 784}, {96, 10, 256}, {784, 256, 96}, {256, 784, 10},
        {265, 1030, 40},
    };
    static const float alphas[] = {1.0f, -0.5f, 1.5f};
    static const float betas[] = {0.0f, 1.0f, 0.5f};
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    for (int s = 0; s < nshapes; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        int big = (double)m * n * k > 1e6;
        for (int t = 0; t < 4; t++) {
            int ta = t >> 1, tb = t & 1;
            if (big) {   /* keep the run short: one alpha/beta pair per combo */
                check(ta, tb, m, n, k, alphas[t % 3], betas[t % 3], t == 3);
            } else {     /* every alpha and every beta, padded or not */
                for (int i = 0; i < 3; i++)
                    check(ta, tb, m, n, k, alphas[i], betas[(i + t) % 3], (i + t) % 2);
            }
        }
    }
    determinism(0, 0, 256, 256, 784);
    determinism(1, 0, 784, 256, 256);
    determinism(0, 1, 256, 256, 10);
    determinism(0, 0, 96, 10, 256);
    determinism(1, 1, 300, 70, 600);

    if (!forced) {
        rerun("avx2");
        rerun("c");
    }
    return failures ? 1 : 0;
}
