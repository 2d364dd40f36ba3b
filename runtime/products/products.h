/* products.h — what the files of runtime/products/ share: the packed GEMM
 * behind kiln_gemm (kiln_rt.h), one job per file.  Internal to the runtime:
 * generated trainers see only kiln_rt.h.
 *
 *   gemm.c            kiln_gemm and kiln_sgemm: which path a product takes,
 *                     which micro-kernel this CPU runs
 *   pack.c            packing op(A) and op(B) into slivers (bytes scaled,
 *                     column panels); each thread's packing memory
 *   kernels_c.c       the portable micro-kernel (4 × 8)
 *   kernels_avx2.c    the AVX2 + FMA micro-kernel (6 × 16)
 *   kernels_avx512.c  the AVX-512F micro-kernel (8 × 32)
 *   narrow.c          products with at most 16 columns (AVX-512F), A read
 *                     in place
 *   share.c           how a team splits a product: the grid, the balanced
 *                     path (claims.h), the panel tree of the narrow path
 *
 * Functions one file gives the others are named gemm_*; the rest stay
 * static in their file. */
#ifndef KILN_PRODUCTS_H
#define KILN_PRODUCTS_H

#include "../kiln_rt.h"

#include <stddef.h>
#include <stdint.h>

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

enum { MAX_TEAM = KILN_MAX_THREADS };     /* threads beyond this take no share */

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

/* Where C(i, j) lies (in a panel when C is stored in column panels; a
 * micro-tile never crosses one, as NR divides KILN_PANEL). */
static inline float *c_at(const kiln_gemm_op *op, int i, int j)
{
    return op->c + at((size_t)op->ldc, op->c_panel_stride, (size_t)i, (size_t)j);
}

static inline size_t round16(size_t n) { return (n + 15) / 16 * 16; }   /* floats → 64 bytes */

/* ---- A micro-kernel and its packers, one set per instruction set -------------
 * A micro-kernel: c[0..mr)[0..nr) = acc + beta·c, where acc = Σ_p a_p ⊗ b_p
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

/* kernels_c.c, kernels_avx2.c, kernels_avx512.c (gemm.c picks one) */
extern const kernel_desc gemm_kernel_c;
#if KILN_X86
extern const kernel_desc gemm_kernel_avx2;
extern const kernel_desc gemm_kernel_avx512;
#endif

/* ---- A product cut into micro-tiles (share.c runs it, pack.c packs it) ------- */
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

/* ---- pack.c -------------------------------------------------------------------- */

/* The calling thread's packing memory, at least floats of it, 64-byte
 * aligned (its old contents are not kept).  One slot per thread number of
 * the team (scratch.h), so one team at a time may run kiln_gemm. */
float *gemm_slot(size_t floats);

/* The packers of each kernel (kernel_desc): A for MR = 4, 6, 8; B for NR =
 * 8, 16, 32 (the MR = 8 and NR = 32 ones with AVX2 and AVX-512F
 * instructions). */
void gemm_pack_a_4(const a_src *s, int i0, int mr, int p0, int kc, float *dst);
void gemm_pack_a_6(const a_src *s, int i0, int mr, int p0, int kc, float *dst);
void gemm_pack_b_8(int transb, const float *b, size_t ldb, int p0, int kc,
                   int j0, int nr, float *dst);
void gemm_pack_b_16(int transb, const float *b, size_t ldb, int p0, int kc,
                    int j0, int nr, float *dst);
#if KILN_X86
void gemm_pack_a_8_512(const a_src *s, int i0, int mr, int p0, int kc, float *dst);
void gemm_pack_b_32(int transb, const float *b, size_t ldb, int p0, int kc,
                    int j0, int nr, float *dst);
#endif

/* The k rows [pc, pc + kc) of g's B slivers [s0, s1) into dst, kc × NR
 * floats apiece, sliver s0 first. */
void gemm_pack_b_slivers(const gemm_job *g, int s0, int s1, int pc, int kc, float *dst);

#if KILN_X86
/* The narrow path's operands: rows [i0, i0 + mr) of op(A), mr < 16, as a
 * zero-padded 16-row sliver; all of op(B), k × n with n ≤ 16, packed k × 16
 * zero-padded. */
void gemm_pack_a_16(const a_src *s, int i0, int mr, int p0, int kc, float *dst);
void gemm_pack_b_narrow(const kiln_gemm_op *op, float *dst);

/* ---- narrow.c ------------------------------------------------------------------ */

/* Thread me's share of a narrow product (n ≤ 16, float A) split by rows
 * among w threads. */
void gemm_narrow(const kiln_gemm_op *op, int me, int w);

/* Row blocks [b0, b1) of NARROW_MR rows; bp is op(B) packed k × 16;
 * scratch (16·k floats) is this thread's, for a last partial block. */
void gemm_narrow_rows(const kiln_gemm_op *op, int b0, int b1, const float *bp, float *scratch);
#endif

/* ---- share.c ------------------------------------------------------------------- */

/* Thread me's share of the tiled product (kernel kd) when w threads split
 * it; call is the number claims_open gave this call, or -1. */
void gemm_tiled(const kiln_gemm_op *op, const kernel_desc *kd, int me, int w, int call);

#if KILN_X86
/* Thread me's share of a narrow product whose A lies in column panels along
 * k, split by k among nthreads threads: every thread of the team calls it
 * (it waits for the others with kiln_sync). */
void gemm_narrow_panels(const kiln_gemm_op *op, int me, int nthreads);
#endif

#endif
