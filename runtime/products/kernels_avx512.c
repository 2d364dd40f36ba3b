/* kernels_avx512.c — the AVX-512F micro-kernel of kiln_gemm (products.h): an
 * 8 × 32 tile of C in sixteen zmm registers over kc packed steps, C's lines
 * fetched ahead for the store.  kiln_gemm runs it where the CPU has
 * AVX-512F (and AVX2 + FMA), unless KILN_GEMM_KERNEL says otherwise; with
 * it, products with at most 16 columns take the narrow path (narrow.c).
 * Compiled with a target attribute, so it builds whatever -march the
 * runtime is compiled with.  Its packers (MR = 8, NR = 32) are in pack.c. */
#include "products.h"

#if KILN_X86
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

const kernel_desc gemm_kernel_avx512 = {"avx512", 8, 32, kernel_avx512_8x32, gemm_pack_a_8_512,
                                        gemm_pack_b_32, 1};
#endif
