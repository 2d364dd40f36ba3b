/* kernels_c.c — the portable micro-kernel of kiln_gemm (products.h): a 4 × 8
 * tile of C kept in an array over kc packed steps, plain C that compiles
 * for any CPU; kiln_gemm runs it where the CPU has no AVX2 + FMA, or with
 * KILN_GEMM_KERNEL=c (the portable build's tests).  Its packers are the
 * portable ones (pack.c). */
#include "products.h"

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

const kernel_desc gemm_kernel_c = {"c", 4, 8, kernel_c_4x8, gemm_pack_a_4, gemm_pack_b_8, 0};
