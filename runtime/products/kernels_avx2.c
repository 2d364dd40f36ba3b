/* kernels_avx2.c — the AVX2 + FMA micro-kernel of kiln_gemm (products.h): a
 * 6 × 16 tile of C in twelve ymm registers over kc packed steps.  kiln_gemm
 * runs it where the CPU has AVX2 and FMA but not AVX-512F, or with
 * KILN_GEMM_KERNEL=avx2.  Compiled with a target attribute, so it builds
 * whatever -march the runtime is compiled with.  Its packers are the
 * portable ones (pack.c). */
#include "products.h"

#if KILN_X86
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

const kernel_desc gemm_kernel_avx2 = {"avx2", 6, 16, kernel_avx2_6x16, gemm_pack_a_6,
                                      gemm_pack_b_16, 0};
#endif
