/* test_gemm.c — kiln_sgemm and kiln_gemm against a naive double-precision
 * reference, over many shapes, all transpose combinations, alpha/beta values
 * and padded leading dimensions; A as floats and as bytes (a_u8 × a_scale);
 * epilogues (bias + relu, and one that records every piece it is handed: each
 * element of C exactly once, holding its final value); the SGD form
 * (alpha = −lr, beta = 1); then bitwise determinism of C and of the epilogue's
 * pieces across OpenMP thread counts.  Re-runs itself once per alternative
 * micro-kernel (KILN_GEMM_KERNEL) so the AVX2 and portable kernels are
 * checked too.  Prints PASS/FAIL/SKIP lines. */
#define _POSIX_C_SOURCE 200809L
#include "kiln_rt.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* ---- kiln_gemm: bytes, epilogues ---------------------------------------------- */

static uint8_t *bytes(size_t n, uint64_t *s)
{
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        p[i] = (uint8_t)(*s >> 56);
    }
    return p;
}

/* What the recording epilogue saw: how often each element was handed over,
 * the value it held then, and the pieces in the order they came. */
typedef struct {
    int    m, n;
    int   *count;
    float *seen;
    int   (*pieces)[4];
    int    npieces, max_pieces;
    int    bad;          /* a piece outside C, or c not pointing at C(i0, j0) */
    const float *c;
    int    ldc;
    const float *bias;   /* NULL: record only; else also C += bias, relu */
    int   *who;          /* NULL, or per element: the thread that finished it */
} record;

static void record_epilogue(const kiln_gemm_op *op, int i0, int j0, int m, int n,
                            float *c, int ldc)
{
    record *r = (record *)op->ctx;
    if (i0 < 0 || j0 < 0 || m <= 0 || n <= 0 || i0 + m > r->m || j0 + n > r->n ||
        ldc != r->ldc || c != r->c + (size_t)i0 * r->ldc + j0) {
        #pragma omp atomic write
        r->bad = 1;
        return;
    }
    int slot;
    #pragma omp atomic capture
    slot = r->npieces++;
    if (slot < r->max_pieces) {
        r->pieces[slot][0] = i0; r->pieces[slot][1] = j0;
        r->pieces[slot][2] = m; r->pieces[slot][3] = n;
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            size_t e = (size_t)(i0 + i) * r->n + (size_t)(j0 + j);
            float *x = c + (size_t)i * ldc + j;
            #pragma omp atomic update
            r->count[e]++;
            r->seen[e] = *x;
            if (r->who) r->who[e] = omp_get_thread_num();
            if (r->bias) { float v = *x + r->bias[j0 + j]; *x = v > 0.0f ? v : 0.0f; }
        }
}

static void record_init(record *r, int m, int n, const float *c, int ldc, const float *bias)
{
    r->m = m; r->n = n; r->c = c; r->ldc = ldc; r->bias = bias;
    r->count = calloc((size_t)m * n, sizeof *r->count);
    r->seen = calloc((size_t)m * n, sizeof *r->seen);
    r->max_pieces = m * n;
    r->pieces = malloc((size_t)r->max_pieces * sizeof *r->pieces);
    r->npieces = 0;
    r->bad = 0;
    r->who = NULL;
}

static void record_free(record *r)
{
    free(r->count); free(r->seen); free(r->pieces);
}

static int cmp_piece(const void *x, const void *y)
{
    return memcmp(x, y, 4 * sizeof(int));
}

/* Each element exactly once, holding the value final[] (C as the product
 * leaves it, before any epilogue change); else a reason in why. */
static void record_check(const record *r, const float *final, int ldf, char *why, size_t len)
{
    if (r->bad) { snprintf(why, len, "epilogue given a piece outside C or a wrong pointer"); return; }
    for (int i = 0; i < r->m; i++)
        for (int j = 0; j < r->n; j++) {
            size_t e = (size_t)i * r->n + j;
            if (r->count[e] != 1) {
                snprintf(why, len, "epilogue saw C[%d][%d] %d times", i, j, r->count[e]);
                return;
            }
            float want = final[(size_t)i * ldf + j];
            if (memcmp(&r->seen[e], &want, sizeof want) != 0) {
                snprintf(why, len, "epilogue saw C[%d][%d] = %.9g, not its final value %.9g",
                         i, j, r->seen[e], want);
                return;
            }
        }
}

/* One kiln_gemm case.  A is bytes (u8) or floats; with bias, the epilogue
 * adds bias[j] and applies relu.  Checked against the double reference with
 * the same tolerance as check(), and the epilogue's bookkeeping against a
 * second run without epilogue (which must give the same bits). */
static void check_op(int u8, int ta, int tb, int m, int n, int k, float alpha, float beta,
                     float scale, int pad, int with_bias)
{
    uint64_t s = (uint64_t)m * 7919u + (uint64_t)n * 104729u + (uint64_t)k * 31u + (uint64_t)u8;
    int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    size_t asz = (size_t)(ta ? k : m) * lda, bsz = (size_t)(tb ? n : k) * ldb;
    size_t csz = (size_t)m * ldc;
    uint8_t *au = u8 ? bytes(asz, &s) : NULL;
    float *af = u8 ? NULL : matrix(asz, &s);
    float *b = matrix(bsz, &s), *c = matrix(csz, &s), *bias = matrix((size_t)n, &s);
    float *c0 = malloc(csz * sizeof *c0), *plain = malloc(csz * sizeof *plain);
    if (beta == 0.0f)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] = NAN;
    memcpy(c0, c, csz * sizeof *c);
    memcpy(plain, c, csz * sizeof *c);

    record r;
    record_init(&r, m, n, c, ldc, with_bias ? bias : NULL);
    kiln_gemm_op op = {.transa = ta, .transb = tb, .m = m, .n = n, .k = k, .alpha = alpha,
                       .beta = beta, .a = af, .a_u8 = au, .a_scale = scale, .lda = lda, .b = b,
                       .ldb = ldb, .c = c, .ldc = ldc, .epilogue = record_epilogue, .ctx = &r};
    kiln_gemm(&op);
    kiln_gemm_op op2 = op;
    op2.c = plain;
    op2.epilogue = NULL;
    op2.ctx = NULL;
    kiln_gemm(&op2);

    const double u = ldexp(1.0, -24);
    double worst = 0;
    char why[200] = "";
    record_check(&r, plain, ldc, why, sizeof why);
    for (int i = 0; i < m && !why[0]; i++) {
        for (int j = 0; j < ldc; j++) {
            float got = c[(size_t)i * ldc + j];
            if (j >= n) {
                if (memcmp(&got, &c0[(size_t)i * ldc + j], sizeof got) != 0)
                    snprintf(why, sizeof why, "padding C[%d][%d] was written", i, j);
                continue;
            }
            double sum = 0, mag = 0;
            for (int p = 0; p < k; p++) {
                size_t off = ta ? (size_t)p * lda + i : (size_t)i * lda + p;
                double av = u8 ? (double)scale * au[off] : af[off];
                double t = av * at(b, ldb, tb, p, j);
                sum += t;
                mag += fabs(t);
            }
            double ref = alpha * sum, cin = c0[(size_t)i * ldc + j];
            mag = fabs(alpha) * mag;
            if (beta != 0.0f) { ref += beta * cin; mag += fabs(beta * cin); }
            double tol = 2.0 * (k + 4) * u * mag + 1e-30;
            if (with_bias) {     /* relu(x + bias): 1-Lipschitz, one more rounding */
                ref = ref + bias[j];
                ref = ref > 0 ? ref : 0;
                tol += 2 * u * (mag + fabs(bias[j]));
            }
            double err = fabs(got - ref);
            if (!(err <= tol)) {
                snprintf(why, sizeof why, "C[%d][%d] = %.9g, expected %.9g (tolerance %.3g)",
                         i, j, got, ref, tol);
                break;
            }
            if (err / tol > worst) worst = err / tol;
        }
    }
    char name[160];
    snprintf(name, sizeof name, "gemm%s_%s%s_%c%c_%dx%dx%d_alpha%g_beta%g%s", variant,
             u8 ? "u8" : "f32", with_bias ? "_bias_relu" : "_epilogue",
             ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, beta, pad ? "_padded" : "");
    if (why[0]) { printf("FAIL %s: %s\n", name, why); failures++; }
    else printf("PASS %s (max error %.2f of tolerance)\n", name, worst);
    record_free(&r);
    free(au); free(af); free(b); free(c); free(bias); free(c0); free(plain);
}

/* Degenerate products (k = 0, alpha = 0) still scale C and run the epilogue
 * on every element once. */
static void check_degenerate(int k, float alpha)
{
    int m = 5, n = 7;
    uint64_t s = 9;
    float *a = matrix(64, &s), *b = matrix(64, &s), *c = matrix((size_t)m * n, &s);
    float *want = malloc((size_t)m * n * sizeof *want);
    for (int i = 0; i < m * n; i++) want[i] = 0.5f * c[i];
    record r;
    record_init(&r, m, n, c, n, NULL);
    kiln_gemm_op op = {.m = m, .n = n, .k = k, .alpha = alpha, .beta = 0.5f, .a = a,
                       .a_scale = 1.0f, .lda = k > 0 ? k : 1, .b = b, .ldb = n, .c = c, .ldc = n,
                       .epilogue = record_epilogue, .ctx = &r};
    kiln_gemm(&op);
    char why[200] = "", name[100];
    record_check(&r, want, n, why, sizeof why);
    if (!why[0] && memcmp(c, want, (size_t)m * n * sizeof *c) != 0)
        snprintf(why, sizeof why, "C is not beta*C");
    snprintf(name, sizeof name, "gemm%s_degenerate_k%d_alpha%g", variant, k, alpha);
    if (why[0]) { printf("FAIL %s: %s\n", name, why); failures++; }
    else printf("PASS %s\n", name);
    record_free(&r);
    free(a); free(b); free(c); free(want);
}

/* The SGD form: W ← W − lr·Xᵀ·dZ, ten steps straight into W (beta = 1), with
 * X as bytes; compared with the same steps done in double. */
static void check_sgd(int m, int n, int k)
{
    uint64_t s = 77;
    const float lr = 0.01f, scale = 1.0f / 255.0f;
    uint8_t *x = bytes((size_t)k * m, &s);           /* k × m: op(A) = Xᵀ */
    float *dz = matrix((size_t)k * n, &s), *w = matrix((size_t)m * n, &s);
    double *ref = malloc((size_t)m * n * sizeof *ref), *mag = calloc((size_t)m * n, sizeof *mag);
    for (size_t e = 0; e < (size_t)m * n; e++) ref[e] = w[e];
    for (int step = 0; step < 10; step++) {
        kiln_gemm_op op = {.transa = KILN_TRANS, .m = m, .n = n, .k = k, .alpha = -lr,
                           .beta = 1.0f, .a_u8 = x, .a_scale = scale, .lda = m, .b = dz, .ldb = n,
                           .c = w, .ldc = n};
        kiln_gemm(&op);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double sum = 0, mg = 0;
                for (int p = 0; p < k; p++) {
                    double t = (double)scale * x[(size_t)p * m + i] * dz[(size_t)p * n + j];
                    sum += t;
                    mg += fabs(t);
                }
                size_t e = (size_t)i * n + j;
                ref[e] -= lr * sum;
                mag[e] += lr * mg + fabs(ref[e]);
            }
        for (size_t e = 0; e < (size_t)k * n; e++) dz[e] = -0.5f * dz[e] + 0.25f;
    }
    const double u = ldexp(1.0, -24);
    char why[200] = "", name[100];
    for (size_t e = 0; e < (size_t)m * n && !why[0]; e++) {
        double tol = 2.0 * (k + 4) * u * mag[e] + 1e-30;
        if (!(fabs(w[e] - ref[e]) <= tol))
            snprintf(why, sizeof why, "W[%zu] = %.9g after 10 steps, expected %.9g (tolerance %.3g)",
                     e, w[e], ref[e], tol);
    }
    snprintf(name, sizeof name, "gemm%s_sgd_u8_TN_%dx%dx%d_alpha-lr_beta1", variant, m, n, k);
    if (why[0]) { printf("FAIL %s: %s\n", name, why); failures++; }
    else printf("PASS %s\n", name);
    free(x); free(dz); free(w); free(ref); free(mag);
}

/* The operands of one kiln_gemm case, drawn from a seed: A as bytes or
 * floats, B, C's starting values and a bias row; and the op over them that
 * writes into c through record_epilogue. */
typedef struct {
    int       ta, tb, m, n, k, lda, ldb;
    size_t    csz;
    uint8_t  *au;
    float    *af, *b, *c_in, *bias;
} operands;

static operands operands_make(int u8, int ta, int tb, int m, int n, int k, uint64_t s)
{
    operands o = {ta, tb, m, n, k, ta ? m : k, tb ? k : n, (size_t)m * n, NULL, NULL, NULL,
                  NULL, NULL};
    size_t asz = (size_t)m * k;
    o.au = u8 ? bytes(asz, &s) : NULL;
    o.af = u8 ? NULL : matrix(asz, &s);
    o.b = matrix((size_t)k * n, &s);
    o.c_in = matrix(o.csz, &s);
    o.bias = matrix((size_t)n, &s);
    return o;
}

static kiln_gemm_op operands_op(const operands *o, float alpha, float beta, float *c, record *r)
{
    return (kiln_gemm_op){.transa = o->ta, .transb = o->tb, .m = o->m, .n = o->n, .k = o->k,
                          .alpha = alpha, .beta = beta, .a = o->af, .a_u8 = o->au,
                          .a_scale = 1.0f / 255.0f, .lda = o->lda, .b = o->b, .ldb = o->ldb,
                          .c = c, .ldc = o->n, .epilogue = record_epilogue, .ctx = r};
}

static void operands_free(operands *o)
{
    free(o->au); free(o->af); free(o->b); free(o->c_in); free(o->bias);
}

/* kiln_gemm with 1, 2, 3 and 4 threads, each called from outside a parallel
 * region (it starts its own team) and from every thread of a team (it is
 * then a work-sharing construct, finished by kiln_sync): C, the pieces the
 * epilogue is handed and the values it sees in them must be bitwise the
 * same.  u8: A as bytes; with_bias: the epilogue rewrites C (bias + relu). */
static void determinism_op(int u8, int ta, int tb, int m, int n, int k, float alpha,
                           float beta, int with_bias)
{
    operands o = operands_make(u8, ta, tb, m, n, k, 4242);
    size_t csz = o.csz;
    float *ref = malloc(csz * sizeof *ref), *c = malloc(csz * sizeof *c);
    float *seen = malloc(csz * sizeof *seen);
    int (*pieces)[4] = NULL;
    int npieces = 0;
    char name[160], why[200] = "";
    snprintf(name, sizeof name, "gemm%s_deterministic_%s%s_%c%c_%dx%dx%d", variant,
             u8 ? "u8" : "f32", with_bias ? "_bias_relu" : "_epilogue",
             ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
    int saved = omp_get_max_threads();
    for (int run = 0; run < 8 && !why[0]; run++) {
        int t = run / 2 + 1, team = run % 2;
        omp_set_num_threads(t);
        float *out = run == 0 ? ref : c;
        memcpy(out, o.c_in, csz * sizeof *out);
        record r;
        record_init(&r, m, n, out, n, with_bias ? o.bias : NULL);
        kiln_gemm_op op = operands_op(&o, alpha, beta, out, &r);
        if (team) {
            #pragma omp parallel
            {
                kiln_gemm(&op);
                kiln_sync();
            }
        } else {
            kiln_gemm(&op);
        }
        if (r.bad || r.npieces > r.max_pieces) {
            snprintf(why, sizeof why, "%d threads%s: bad pieces", t, team ? " in a team" : "");
        } else {
            qsort(r.pieces, (size_t)r.npieces, sizeof *r.pieces, cmp_piece);
            if (run == 0) {
                memcpy(seen, r.seen, csz * sizeof *seen);
                npieces = r.npieces;
                pieces = malloc((size_t)(npieces ? npieces : 1) * sizeof *pieces);
                memcpy(pieces, r.pieces, (size_t)npieces * sizeof *pieces);
            } else if (memcmp(c, ref, csz * sizeof *c) != 0) {
                snprintf(why, sizeof why, "%d threads%s: C differs from 1 thread", t,
                         team ? " in a team" : "");
            } else if (r.npieces != npieces ||
                       memcmp(r.pieces, pieces, (size_t)npieces * sizeof *pieces) != 0) {
                snprintf(why, sizeof why, "%d threads%s: the epilogue got other pieces", t,
                         team ? " in a team" : "");
            } else if (memcmp(r.seen, seen, csz * sizeof *seen) != 0) {
                snprintf(why, sizeof why, "%d threads%s: the epilogue saw other values", t,
                         team ? " in a team" : "");
            }
        }
        record_free(&r);
    }
    omp_set_num_threads(saved);
    if (why[0]) { printf("FAIL %s: %s\n", name, why); failures++; }
    else printf("PASS %s (1-4 threads, alone and in a team, bitwise equal, %d pieces)\n", name, npieces);
    operands_free(&o);
    free(ref); free(c); free(seen);
    free(pieces);
}

/* kiln_gemm inside kiln_balance_begin/_end, where the threads of a team
 * share out a large product's work as they go: two products per region,
 * with 2, 3 and 4 threads, all starting together or all but thread 0
 * starting only once thread 0 is through both (it then takes over their
 * units, and must have finished more than half of each product).  C, the
 * pieces the epilogue is handed and the values it sees must be bitwise
 * those of one thread outside any bracket, and each element finished
 * exactly once. */
static void balanced_op(int u8, int ta, int tb, int m, int n, int k, float alpha, float beta,
                        int with_bias)
{
    operands o = operands_make(u8, ta, tb, m, n, k, 777);
    size_t csz = o.csz;
    float *ref = malloc(csz * sizeof *ref), *c[2] = {malloc(csz * sizeof(float)),
                                                     malloc(csz * sizeof(float))};
    char name[160], why[200] = "";
    snprintf(name, sizeof name, "gemm%s_balanced_%s%s_%c%c_%dx%dx%d", variant,
             u8 ? "u8" : "f32", with_bias ? "_bias_relu" : "_epilogue",
             ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    memcpy(ref, o.c_in, csz * sizeof *ref);
    record r0;
    record_init(&r0, m, n, ref, n, with_bias ? o.bias : NULL);
    kiln_gemm_op op0 = operands_op(&o, alpha, beta, ref, &r0);
    kiln_gemm(&op0);
    qsort(r0.pieces, (size_t)r0.npieces, sizeof *r0.pieces, cmp_piece);
    for (int run = 0; run < 6 && !why[0]; run++) {
        int t = run / 2 + 2, late = run % 2;
        record r[2];
        kiln_gemm_op op[2];
        for (int p = 0; p < 2; p++) {
            memcpy(c[p], o.c_in, csz * sizeof(float));
            record_init(&r[p], m, n, c[p], n, with_bias ? o.bias : NULL);
            r[p].who = calloc(csz, sizeof *r[p].who);
            op[p] = operands_op(&o, alpha, beta, c[p], &r[p]);
        }
        int first_done = 0;
        kiln_balance_begin();
        #pragma omp parallel num_threads(t)
        {
            int me = omp_get_thread_num(), go = !late || me == 0;
            while (!go) {            /* late: until thread 0 is through both */
                struct timespec pause = {0, 1000 * 1000};
                nanosleep(&pause, NULL);
                #pragma omp atomic read
                go = first_done;
            }
            kiln_gemm(&op[0]);
            kiln_gemm(&op[1]);
            if (me == 0) {
                #pragma omp atomic write
                first_done = 1;
            }
            kiln_sync();
        }
        kiln_balance_end();
        for (int p = 0; p < 2 && !why[0]; p++) {
            long by_first = 0;
            for (size_t e = 0; e < csz; e++) by_first += r[p].who[e] == 0;
            qsort(r[p].pieces, (size_t)r[p].npieces, sizeof *r[p].pieces, cmp_piece);
            const char *what = NULL;
            if (r[p].bad || r[p].npieces != r0.npieces ||
                memcmp(r[p].pieces, r0.pieces, (size_t)r0.npieces * sizeof *r0.pieces) != 0)
                what = "the epilogue got other pieces";
            else if (memcmp(c[p], ref, csz * sizeof *ref) != 0)
                what = "C differs from 1 thread";
            else if (memcmp(r[p].seen, r0.seen, csz * sizeof *r0.seen) != 0)
                what = "the epilogue saw other values";
            for (size_t e = 0; e < csz && !what; e++)
                if (r[p].count[e] != 1) what = "an element was finished more than once";
            if (!what && late && by_first * 2 <= (long)csz)
                what = "thread 0 took over none of the late threads' work";
            if (what)
                snprintf(why, sizeof why, "%d threads%s, product %d: %s", t,
                         late ? ", all but one late" : "", p + 1, what);
        }
        for (int p = 0; p < 2; p++) {
            free(r[p].who);
            record_free(&r[p]);
        }
    }
    omp_set_num_threads(saved);
    if (why[0]) { printf("FAIL %s: %s\n", name, why); failures++; }
    else printf("PASS %s (2-4 threads, together and late, bitwise equal to 1)\n", name);
    record_free(&r0);
    operands_free(&o);
    free(ref); free(c[0]); free(c[1]);
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

    /* kiln_gemm: bytes (both transa), epilogues, odd shapes and the
     * reference MLP's products as the trainer makes them. */
    static const int op_shapes[][3] = {
        {1, 1, 1}, {3, 2, 5}, {7, 13, 17}, {9, 33, 257}, {17, 31, 300}, {33, 65, 513},
        {100, 1, 3}, {17, 16, 40}, {31, 15, 100}, {16, 17, 9}, {265, 1030, 40},
        {96, 256, 784}, {784, 256, 96},
        {256, 10, 256}, {96, 10, 256}, {256, 256, 10}, {96, 256, 10},
    };
    int nops = (int)(sizeof op_shapes / sizeof op_shapes[0]);
    for (int s = 0; s < nops; s++) {
        int m = op_shapes[s][0], n = op_shapes[s][1], k = op_shapes[s][2];
        int big = (double)m * n * k > 1e6;
        for (int t = 0; t < 4; t++) {
            int ta = t >> 1, tb = t & 1;
            if (!big || tb == 0)   /* keep the run short: bytes with B as is */
                check_op(1, ta, tb, m, n, k, alphas[t % 3], betas[(t + s) % 3], 1.0f / 255.0f,
                         (t + s) % 2, t == 0);
            if (!big)
                check_op(0, ta, tb, m, n, k, alphas[(t + 1) % 3], betas[t % 3], 1.0f,
                         t % 2, t != 1);
        }
    }
    /* The trainer's calls, exactly: NN u8 with bias+relu, TN u8 SGD update,
     * NN/TN floats into 10 columns, NT with an epilogue. */
    check_op(1, 0, 0, 256, 256, 784, 1.0f, 0.0f, 1.0f / 255.0f, 0, 1);
    check_op(1, 1, 0, 784, 256, 256, -0.01f, 1.0f, 1.0f / 255.0f, 0, 0);
    check_op(1, 1, 0, 784, 256, 96, -0.01f, 1.0f, 1.0f / 255.0f, 0, 0);
    check_op(0, 0, 0, 256, 10, 256, 1.0f, 0.0f, 1.0f, 0, 1);
    check_op(0, 1, 0, 256, 10, 256, -0.01f, 1.0f, 1.0f, 0, 0);
    check_op(0, 0, 1, 256, 256, 10, 1.0f, 0.0f, 1.0f, 0, 0);
    check_op(1, 0, 0, 3, 5, 7, 1.0f, 0.5f, 2.5f, 1, 1);     /* a_scale other than 1/255 */
    check_degenerate(0, 1.0f);
    check_degenerate(3, 0.0f);
    check_sgd(300, 64, 96);
    check_sgd(37, 10, 19);

    determinism_op(1, 0, 0, 256, 256, 784, 1.0f, 0.0f, 1);
    determinism_op(1, 1, 0, 784, 256, 256, -0.01f, 1.0f, 0);
    determinism_op(1, 0, 0, 96, 256, 784, 1.0f, 0.0f, 0);
    determinism_op(0, 0, 1, 256, 256, 10, 1.0f, 0.0f, 1);
    determinism_op(0, 0, 0, 2000, 10, 100, 1.0f, 0.0f, 1);   /* narrow, threaded */
    determinism_op(0, 1, 0, 2001, 13, 90, -0.5f, 1.0f, 0);
    determinism_op(1, 1, 1, 300, 70, 600, 1.5f, 0.5f, 1);
    determinism_op(0, 0, 0, 24, 1030, 300, 1.0f, 0.0f, 0);   /* wide: split by columns */
    determinism_op(1, 0, 1, 1030, 40, 300, 1.0f, 0.5f, 0);   /* tall: split by rows */

    /* Shared out at run time (kiln_balance_begin): 384 columns make whole
     * slivers for 2, 3 and 4 threads with every kernel; products above the
     * 4M multiply-adds the balanced path needs, with partial row slivers,
     * partial units and one or two k steps. */
    balanced_op(1, 0, 0, 128, 384, 392, 1.0f, 0.0f, 1);
    balanced_op(1, 1, 0, 392, 384, 128, -0.01f, 1.0f, 0);
    balanced_op(0, 0, 1, 250, 384, 100, 1.5f, 0.5f, 0);

    if (!forced) {
        rerun("avx2");
        rerun("c");
    }
    return failures ? 1 : 0;
}
