/* test_expf.c — kiln_expf, the e^x the generated elementwise ops use (a
 * sigmoid), against double-precision exp: within 1.5 ulp of float over
 * [−87.3, 88] (every 97th float, and the ends), the clamps beyond, and the
 * same bits in a loop the compiler vectorizes as one element at a time.
 * Prints PASS/FAIL lines. */
#include "kiln_rt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void check(const char *name, int ok, const char *why)
{
    printf("%s expf/%s%s%s\n", ok ? "PASS" : "FAIL", name, ok ? "" : ": ", ok ? "" : why);
}

/* x's place among the floats in order (−0 and +0 are one place, as for
 * nextafterf), and the float at a place: every 97th float is every 97th place. */
static int32_t place(float x)
{
    int32_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? INT32_MIN - i : i;
}
static float at_place(int32_t p)
{
    int32_t i = p < 0 ? INT32_MIN - p : p;
    float x;
    memcpy(&x, &i, sizeof x);
    return x;
}

/* Called through a pointer: one element at a time, never vectorized. */
static float (*volatile scalar)(float) = NULL;
static float one(float x) { return kiln_expf(x); }

int main(void)
{
    char why[160] = "";
    double worst = 0;
    float at = 0;
    long n = 0;
    for (int32_t p = place(-87.3f); at_place(p) < 88.0f; p += 97, n++) {
        float x = at_place(p);
        double t = exp((double)x), ulp = nextafterf((float)t, INFINITY) - (float)t;
        double err = fabs((double)kiln_expf(x) - t) / ulp;
        if (err > worst) { worst = err; at = x; }
    }
    snprintf(why, sizeof why, "%.3f ulp at %.9g", worst, at);
    check("within-1.5-ulp", worst <= 1.5, why);
    printf("     (%ld values, worst %.3f ulp)\n", n, worst);

    int ok = kiln_expf(-1e30f) > 0 && kiln_expf(-1e30f) < 2e-38f && isfinite(kiln_expf(1e30f)) &&
             1.0f / (1.0f + kiln_expf(-100.0f)) == 1.0f && 1.0f / (1.0f + kiln_expf(100.0f)) < 1e-38f &&
             kiln_expf(0.0f) == 1.0f;
    check("clamped-ends", ok, "e^x out of range is not clamped to a finite, positive value");

    enum { N = 1000 };
    float xs[N], ys[N];
    for (int i = 0; i < N; i++) xs[i] = -40.0f + 80.0f * (float)i / N;
    for (int i = 0; i < N; i++) ys[i] = kiln_expf(xs[i]);    /* vectorized at -O3 */
    scalar = one;
    int same = 1;
    for (int i = 0; i < N; i++) same &= ys[i] == scalar(xs[i]);
    check("vector-same-as-scalar", same, "a vectorized loop gives other bits than one element at a time");
    return 0;
}
