/* test_panels.c — kiln_gemm and kiln_column_sums with operands stored in
 * column panels (kiln_rt.h: KILN_PANEL columns wide, a panel stride apart),
 * as a trainer stores its hidden layers.  Each case runs the same product
 * with row-major operands and with some of A, B and C in panels, and the
 * results must be bitwise equal: alone, and inside a team of 1, 2 and 3
 * threads (with and without the balanced split).  One exception: a narrow
 * product (n ≤ 16) whose A is in panels along k sums the panels by a fixed
 * tree on the AVX-512 path — bitwise the same for every thread count, and
 * within rounding (test_gemm's bound) of the row-major sum.  The cases cover every
 * path a panel can reach: packed and balanced products, A along k and A
 * transposed, B as is and transposed, the narrow 10-column products, a C
 * with a partial last panel, k = 0, and an epilogue that must see each
 * piece where it lies; and many narrow products back to back in one team.
 * Re-runs itself for the AVX2 and portable kernels.
 * Prints PASS/FAIL lines. */
#define _POSIX_C_SOURCE 200809L
#include "kiln_rt.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
static const char *variant = "";

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;
}

/* A stored matrix: rows × cols, row-major (ld = cols) or in column panels
 * with `spare` rows of room in each (so the stride is not rows·KILN_PANEL). */
typedef struct {
    int rows, cols, paneled;
    size_t stride;   /* panel stride, floats */
    float *data;
} stored;

static size_t offset(const stored *x, int r, int c)
{
    if (!x->paneled) return (size_t)r * x->cols + c;
    return (size_t)(c / KILN_PANEL) * x->stride + (size_t)r * KILN_PANEL + c % KILN_PANEL;
}

static stored make(int rows, int cols, int paneled, uint64_t *s)
{
    enum { spare = 3 };
    int panels = (cols + KILN_PANEL - 1) / KILN_PANEL;
    stored x = { rows, cols, paneled, (size_t)(rows + spare) * KILN_PANEL, NULL };
    size_t size = paneled ? (size_t)panels * x.stride : (size_t)rows * cols;
    x.data = malloc((size > 0 ? size : 1) * sizeof *x.data);
    for (size_t i = 0; i < size; i++) x.data[i] = 12345.0f;   /* padding: never read */
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) x.data[offset(&x, r, c)] = frand(s);
    return x;
}

static stored same_values(const stored *x, int paneled)
{
    uint64_t unused = 1;
    stored y = make(x->rows, x->cols, paneled, &unused);
    for (int r = 0; r < x->rows; r++)
        for (int c = 0; c < x->cols; c++) y.data[offset(&y, r, c)] = x->data[offset(x, r, c)];
    return y;
}

/* An epilogue that leaves a mark depending on where each piece says it is. */
static void mark(const kiln_gemm_op *op, int i0, int j0, int rows, int cols, float *c, int ldc)
{
    (void)op;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            c[i * ldc + j] = 2.0f * c[i * ldc + j] + 0.25f * (float)(i0 + i) - 0.5f * (float)(j0 + j);
}

static kiln_gemm_op op_for(int ta, int tb, int m, int n, int k, float alpha, float beta,
                           const stored *a, const stored *b, stored *c, int epilogue)
{
    return (kiln_gemm_op){
        .transa = ta, .transb = tb, .m = m, .n = n, .k = k, .alpha = alpha, .beta = beta,
        .a = a->data, .lda = a->paneled ? KILN_PANEL : a->cols,
        .a_panel_stride = a->paneled ? a->stride : 0,
        .b = b->data, .ldb = b->paneled ? KILN_PANEL : b->cols,
        .b_panel_stride = b->paneled ? b->stride : 0,
        .c = c->data, .ldc = c->paneled ? KILN_PANEL : c->cols,
        .c_panel_stride = c->paneled ? c->stride : 0,
        .epilogue = epilogue ? mark : NULL,
    };
}

/* how: 0 alone, else a team of `how` threads (balanced when bal). */
static void run(const kiln_gemm_op *op, int how, int bal)
{
    if (how == 0) {
        kiln_gemm(op);
        return;
    }
    if (bal) kiln_balance_begin();
    #pragma omp parallel num_threads(how)
    kiln_gemm(op);
    if (bal) kiln_balance_end();
}

static int equal(const stored *x, const stored *y, const char *what, char *why, size_t len)
{
    for (int r = 0; r < x->rows; r++)
        for (int c = 0; c < x->cols; c++) {
            float u = x->data[offset(x, r, c)], v = y->data[offset(y, r, c)];
            if (memcmp(&u, &v, sizeof u) != 0) {
                snprintf(why, len, "C(%d, %d) is %.9g in panels, %.9g %s", r, c, v, u, what);
                return 0;
            }
        }
    return 1;
}

/* Within rounding of the row-major result: a float sum of k products errs
 * by at most about (k+3)·u·Σ|terms| (u = 2⁻²⁴); twice that, twice again for
 * the epilogue's doubling, plus its own roundings. */
static int close_enough(const stored *ref, const stored *got, const stored *a, const stored *b,
                        const stored *c0, int ta, int tb, int k, float alpha, float beta,
                        char *why, size_t len)
{
    const double u = 1.0 / 16777216.0;
    for (int i = 0; i < ref->rows; i++)
        for (int j = 0; j < ref->cols; j++) {
            double mag = fabs((double)beta * c0->data[offset(c0, i, j)]);
            for (int p = 0; p < k; p++)
                mag += fabs((double)alpha * a->data[ta ? offset(a, p, i) : offset(a, i, p)] *
                            b->data[tb ? offset(b, j, p) : offset(b, p, j)]);
            double r = ref->data[offset(ref, i, j)], g = got->data[offset(got, i, j)];
            double tol = 4.0 * (k + 3) * u * mag + 4.0 * u * (fabs(r) + i + j);
            if (fabs(r - g) > tol) {
                snprintf(why, len, "C(%d, %d) is %.9g in panels, %.9g row-major (beyond %.3g)", i,
                         j, g, r, tol);
                return 0;
            }
        }
    return 1;
}

/* pa/pb/pc: which operands are in panels. */
static void check(const char *name, int ta, int tb, int m, int n, int k, float alpha, float beta,
                  int pa, int pb, int pc, int epilogue)
{
    uint64_t s = (uint64_t)m * 7919u + (uint64_t)n * 31u + (uint64_t)k;
    stored a = make(ta ? k : m, ta ? m : k, 0, &s), b = make(tb ? n : k, tb ? k : n, 0, &s);
    stored c0 = make(m, n, 0, &s);
    stored ref = same_values(&c0, 0);
    kiln_gemm_op op = op_for(ta, tb, m, n, k, alpha, beta, &a, &b, &ref, epilogue);
    kiln_gemm(&op);

    stored ap = same_values(&a, pa), bp = same_values(&b, pb);
    char why[200] = "";
    int ok = 1;
    const char *kernel = getenv("KILN_GEMM_KERNEL");
    int tree = pa && !ta && n <= 16 && k > 0 && !kernel;   /* the AVX-512 narrow path's tree */
    stored first = same_values(&c0, pc);
    static const int hows[][2] = { {0, 0}, {1, 0}, {2, 0}, {3, 0}, {2, 1}, {3, 1} };
    for (size_t h = 0; ok && h < sizeof hows / sizeof hows[0]; h++) {
        stored cp = same_values(&c0, pc);
        kiln_gemm_op pop = op_for(ta, tb, m, n, k, alpha, beta, &ap, &bp, &cp, epilogue);
        run(&pop, hows[h][0], hows[h][1]);
        if (h == 0) memcpy(first.data, cp.data, (pc ? (size_t)((n + KILN_PANEL - 1) / KILN_PANEL) * cp.stride
                                                    : (size_t)m * n) * sizeof *cp.data);
        if (tree ? !equal(&first, &cp, "alone", why, sizeof why) ||
                       !close_enough(&ref, &cp, &a, &b, &c0, ta, tb, k, alpha, beta, why, sizeof why)
                 : !equal(&ref, &cp, "row-major", why, sizeof why)) {
            ok = 0;
            size_t used = strlen(why);
            snprintf(why + used, sizeof why - used, " (%s%d threads%s)", hows[h][0] ? "" : "alone, ",
                     hows[h][0], hows[h][1] ? ", balanced" : "");
        }
        free(cp.data);
    }
    printf("%s panels%s_%s_%c%c_%dx%dx%d_%s%s%s%s: %s\n", ok ? "PASS" : "FAIL", variant, name,
           ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, pa ? "A" : "", pb ? "B" : "", pc ? "C" : "",
           epilogue ? "_epilogue" : "",
           ok ? (tree ? "a fixed tree: bitwise equal for any thread count, rounding from row-major"
                      : "bitwise equal to row-major") : why);
    if (!ok) failures++;
    free(a.data), free(b.data), free(c0.data), free(ref.data), free(ap.data), free(bp.data);
    free(first.data);
}

/* Column sums of a (rows × cols) in panels against row-major, alone and in
 * teams. */
static void check_sums(int rows, int cols)
{
    uint64_t s = (uint64_t)rows * 131u + (uint64_t)cols;
    stored a = make(rows, cols, 0, &s), ap = same_values(&a, 1);
    float *ref = malloc((size_t)cols * sizeof *ref), *got = malloc((size_t)cols * sizeof *got);
    for (int j = 0; j < cols; j++) ref[j] = got[j] = frand(&s);
    kiln_column_sums(rows, cols, a.data, cols, -0.5f, 1.0f, ref);
    int ok = 1;
    for (int t = 0; t <= 3 && ok; t++) {
        float *out = malloc((size_t)cols * sizeof *out);
        memcpy(out, got, (size_t)cols * sizeof *out);
        if (t == 0) {
            kiln_column_sums_paneled(rows, cols, ap.data, KILN_PANEL, ap.stride, -0.5f, 1.0f, out);
        } else {
            #pragma omp parallel num_threads(t)
            kiln_column_sums_paneled(rows, cols, ap.data, KILN_PANEL, ap.stride, -0.5f, 1.0f, out);
        }
        ok = memcmp(out, ref, (size_t)cols * sizeof *out) == 0;
        free(out);
    }
    printf("%s panels_column_sums_%dx%d\n", ok ? "PASS" : "FAIL", rows, cols);
    if (!ok) failures++;
    free(a.data), free(ap.data), free(ref), free(got);
}

/* Many narrow products over A in panels, one after another inside one team
 * with no kiln_sync between them (as a step may run them), each on its own
 * A, B and C: each C must be bitwise the C of the same product alone.  A
 * thread through one product starts the next while the others may still
 * read its partial sums of this one; with more threads than cores they are
 * often descheduled mid-read.  Partial sums overwritten too soon change C. */
static void check_back_to_back(int threads, int calls)
{
    enum { M = 256, N = 10, K = 256, AS = 4 };
    uint64_t s = 99u + (uint64_t)threads;
    stored a[AS];
    for (int i = 0; i < AS; i++) a[i] = make(M, K, 1, &s);
    stored *b = malloc((size_t)calls * sizeof *b), *ref = malloc((size_t)calls * sizeof *ref),
           *got = malloc((size_t)calls * sizeof *got);
    kiln_gemm_op *op = malloc((size_t)calls * sizeof *op);
    for (int c = 0; c < calls; c++) {
        b[c] = make(K, N, 0, &s);
        ref[c] = make(M, N, 0, &s);
        got[c] = same_values(&ref[c], 0);
        kiln_gemm_op alone = op_for(0, 0, M, N, K, 1.0f, 0.0f, &a[c % AS], &b[c], &ref[c], 1);
        kiln_gemm(&alone);
        op[c] = op_for(0, 0, M, N, K, 1.0f, 0.0f, &a[c % AS], &b[c], &got[c], 1);
    }
    #pragma omp parallel num_threads(threads)
    for (int c = 0; c < calls; c++) kiln_gemm(&op[c]);
    char why[200] = "";
    int ok = 1;
    for (int c = 0; c < calls && ok; c++)
        if (!equal(&ref[c], &got[c], "alone", why, sizeof why)) {
            ok = 0;
            size_t used = strlen(why);
            snprintf(why + used, sizeof why - used, " (product %d of %d)", c + 1, calls);
        }
    printf("%s panels%s_narrow_back_to_back_%d_threads_%d_products%s%s\n", ok ? "PASS" : "FAIL",
           variant, threads, calls, ok ? "" : ": ", why);
    if (!ok) failures++;
    for (int i = 0; i < AS; i++) free(a[i].data);
    for (int c = 0; c < calls; c++) free(b[c].data), free(ref[c].data), free(got[c].data);
    free(b), free(ref), free(got), free(op);
}

static void all_cases(void)
{
    /* the reference MLP's products, with its hidden layer in panels */
    check("forward_hidden", 0, 0, 256, 256, 784, 1.0f, 0.0f, 0, 0, 1, 1);
    check("forward_classes", 0, 0, 256, 10, 256, 1.0f, 0.0f, 1, 0, 0, 1);
    check("grad_input", 0, 1, 256, 256, 10, 1.0f, 0.0f, 0, 0, 1, 1);
    check("grad_weights_classes", 1, 0, 256, 10, 256, -0.1f, 1.0f, 1, 0, 0, 0);
    check("grad_weights_hidden", 1, 0, 784, 256, 256, -0.1f, 1.0f, 0, 1, 0, 0);
    check("last_batch", 0, 0, 96, 10, 256, 1.0f, 0.0f, 1, 0, 0, 1);
    /* a hidden layer feeding another: A in panels along k, C in panels */
    check("hidden_to_hidden", 0, 0, 256, 128, 256, 1.0f, 0.0f, 1, 0, 1, 1);
    check("hidden_grad_input", 0, 1, 256, 256, 128, 1.0f, 0.0f, 1, 0, 1, 0);
    /* odd shapes: partial panels, k across panel edges, B transposed in panels */
    check("odd", 0, 0, 37, 70, 45, 0.5f, 0.5f, 1, 1, 1, 1);
    check("odd", 1, 0, 70, 45, 37, 0.5f, 0.0f, 1, 1, 1, 0);
    check("odd", 0, 1, 45, 37, 70, 1.5f, 1.0f, 1, 1, 1, 1);
    check("odd", 1, 1, 33, 33, 33, -1.0f, 0.5f, 1, 1, 1, 0);
    check("narrow_c", 0, 0, 50, 7, 70, 1.0f, 0.5f, 1, 1, 1, 1);
    check("empty_k", 0, 0, 20, 70, 0, 1.0f, 0.5f, 1, 1, 1, 1);
    check_sums(256, 256);
    check_sums(37, 70);
    check_back_to_back(2, 400);
    check_back_to_back(3, 400);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *forced = getenv("KILN_GEMM_KERNEL");
    if (forced) {
        static char name[32];
        snprintf(name, sizeof name, "_%s", forced);
        variant = name;
    }
    all_cases();
    if (!forced) {   /* and again with each simpler kernel */
        static const char *const kernels[] = { "avx2", "c" };
        for (int i = 0; i < 2; i++) {
            char cmd[4096];
            snprintf(cmd, sizeof cmd, "KILN_GEMM_KERNEL=%s '%s'", kernels[i], argv[0]);
            fflush(stdout);
            if (system(cmd) != 0) {
                printf("FAIL panels_%s_kernel: the run with KILN_GEMM_KERNEL=%s failed\n",
                       kernels[i], kernels[i]);
                failures++;
            }
        }
    }
    return failures ? 1 : 0;
}
