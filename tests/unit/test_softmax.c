/* test_softmax.c — kiln_softmax_xent_rows, the loss kernel's blocks of
 * rows, against a double-precision reference: each row's loss and gradient
 * within a bound derived from float rounding, the argmax hit exact (the
 * first class of the largest logit, as on ties), for 1 to 40 classes (the
 * vector form and, past its width, the row-by-row one), blocks cut short
 * at the end of a batch, logits so far apart that exp underflows, and
 * without a gradient.  Also: a row's results must not depend on the block
 * it is computed in (the rows a thread gets change with the thread count).
 * Prints PASS/FAIL lines. */
#include "kiln_rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static float frand(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) * (1.0 / 8388608.0)) - 1.0f;   /* [-1, 1) */
}

/* n rows of `classes` logits, spread ±spread; with ties, some rows repeat
 * their largest logit in a later class. */
static void logits(float *z, uint8_t *labels, int n, int classes, float spread, int ties,
                   uint64_t *s)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < classes; j++) z[i * classes + j] = spread * frand(s);
        labels[i] = (uint8_t)((frand(s) + 1.0f) * 0.5f * (float)classes) % classes;
        if (ties && classes > 2 && i % 3 == 0) {
            int a = (int)((frand(s) + 1.0f) * 0.25f * classes) % classes, b = classes - 1;
            z[i * classes + a] = z[i * classes + b] = spread * 1.5f;
        }
    }
}

/* The blocks as a generated loss kernel visits them (from row `from` on). */
static void blocks(int from, int n, int classes, const float *z, const uint8_t *labels, float *dz,
                   float *loss, uint8_t *hit)
{
    for (int i = from; i < n; i += KILN_SOFTMAX_ROWS)
        kiln_softmax_xent_rows(i, n - i, classes, z, labels, dz, (float)n, loss, hit);
}

static void check(int n, int classes, float spread, int ties, int grad)
{
    char name[96], why[200] = "";
    snprintf(name, sizeof name, "softmax_%d_rows_%d_classes_spread_%g%s%s", n, classes, spread,
             ties ? "_ties" : "", grad ? "" : "_no_grad");
    uint64_t s = (uint64_t)n * 1000003u + (uint64_t)classes * 31u + (uint64_t)spread;
    float *z = malloc((size_t)n * classes * sizeof *z), *dz = malloc((size_t)n * classes * sizeof *dz);
    float *loss = malloc((size_t)n * sizeof *loss);
    uint8_t *labels = malloc((size_t)n), *hit = malloc((size_t)n);
    logits(z, labels, n, classes, spread, ties, &s);
    for (int i = 0; i < n * classes; i++) dz[i] = 7.0f;   /* must stay untouched without grad */
    blocks(0, n, classes, z, labels, grad ? dz : NULL, loss, hit);

    const double u = 1.0 / 16777216.0;
    for (int i = 0; i < n && !why[0]; i++) {
        const float *zi = z + (size_t)i * classes;
        int best = 0;
        for (int j = 1; j < classes; j++)
            if (zi[j] > zi[best]) best = j;
        double sum = 0;
        for (int j = 0; j < classes; j++) sum += exp((double)zi[j] - zi[best]);
        double ref = zi[best] + log(sum) - zi[labels[i]];
        /* zmax and z[label] exact; each e^x within a few ulp; the sum of
         * `classes` terms within (classes)·u; its log within that, absolute */
        double tol = 4 * u * (fabs(zi[best]) + fabs(zi[labels[i]]) + log(sum)) + (classes + 8) * u;
        if (fabs(loss[i] - ref) > tol)
            snprintf(why, sizeof why, "row %d: loss %.9g, reference %.9g (tolerance %.2g)", i, loss[i],
                     ref, tol);
        else if (hit[i] != (best == labels[i]))
            snprintf(why, sizeof why, "row %d: hit %d, but the first largest logit is class %d, label %d",
                     i, hit[i], best, labels[i]);
        for (int j = 0; j < classes && !why[0]; j++) {
            double p = exp((double)zi[j] - zi[best]) / sum;
            double want = (p - (j == labels[i])) / n, got = dz[(size_t)i * classes + j];
            double gtol = ((classes + 8) * u * p + 2 * u) / n;
            if (!grad ? got != 7.0 : fabs(got - want) > gtol)
                snprintf(why, sizeof why, "row %d class %d: gradient %.9g, reference %.9g%s", i, j, got,
                         grad ? want : 7.0, grad ? "" : " (no gradient asked: untouched)");
        }
    }
    /* the same rows in blocks that start elsewhere: the same bits */
    if (!why[0] && n > 3) {
        float *loss2 = malloc((size_t)n * sizeof *loss2), *dz2 = malloc((size_t)n * classes * sizeof *dz2);
        uint8_t *hit2 = malloc((size_t)n);
        kiln_softmax_xent_rows(0, 3, classes, z, labels, grad ? dz2 : NULL, (float)n, loss2, hit2);
        blocks(3, n, classes, z, labels, grad ? dz2 : NULL, loss2, hit2);
        if (memcmp(loss, loss2, (size_t)n * sizeof *loss) || memcmp(hit, hit2, (size_t)n) ||
            (grad && memcmp(dz, dz2, (size_t)n * classes * sizeof *dz)))
            snprintf(why, sizeof why, "rows computed in blocks from row 3 differ from blocks from row 0");
        free(loss2), free(dz2), free(hit2);
    }
    printf("%s %s%s%s\n", why[0] ? "FAIL" : "PASS", name, why[0] ? ": " : "", why);
    if (why[0]) failures++;
    free(z), free(dz), free(loss), free(labels), free(hit);
}

int main(void)
{
    static const int classes[] = { 1, 2, 3, 10, 16, 17, 24, 25, 40 };
    for (size_t c = 0; c < sizeof classes / sizeof classes[0]; c++) {
        check(256, classes[c], 4.0f, 0, 1);
        check(37, classes[c], 1.0f, 1, 1);
    }
    check(96, 10, 4.0f, 1, 0);      /* evaluation: no gradient; the reference MLP's last batch */
    check(1, 10, 2.0f, 0, 1);       /* a batch of one row */
    check(5, 10, 60.0f, 0, 1);      /* e^(z − max) underflows for most classes */
    check(40, 10, 200.0f, 1, 1);
    check(64, 10, 1e-3f, 0, 1);     /* nearly uniform */
    return failures ? 1 : 0;
}
