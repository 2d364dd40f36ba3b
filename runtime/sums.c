/* sums.c — sums along one row of floats in a fixed order that vectorizes:
 * sixteen running sums, one per vector lane (element p goes to sum p mod
 * 16), added pairwise at the end.  A plain `s += v[p]` loop is one chain
 * of dependent additions (C does not let the compiler reorder them) and
 * runs at one addition per latency; these run a vector per cycle and give
 * the same result for any thread count, as the order is the row's own.
 * Batch norm's per-example statistics and parameter gradients use them. */
#include "kiln_rt.h"

enum { LANES = 16 };

/* The sixteen lanes added pairwise: 8 + 8, 4 + 4, 2 + 2, 1 + 1. */
static float lanes_total(float *acc)
{
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++) acc[j] += acc[j + w];
    return acc[0];
}

float kiln_sum(const float *v, int n)
{
    float acc[LANES] = {0};
    int p = 0;
    for (; p + LANES <= n; p += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += v[p + j];
    for (int j = 0; p + j < n; j++) acc[j] += v[p + j];
    return lanes_total(acc);
}

float kiln_sum_sqdev(const float *v, int n, float m)
{
    float acc[LANES] = {0};
    int p = 0;
    for (; p + LANES <= n; p += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += (v[p + j] - m) * (v[p + j] - m);
    for (int j = 0; p + j < n; j++) acc[j] += (v[p + j] - m) * (v[p + j] - m);
    return lanes_total(acc);
}

void kiln_sum_dy_dev(const float *dy, const float *x, int n, float m, float *sum_dy, float *sum_dy_dev)
{
    float a[LANES] = {0}, b[LANES] = {0};
    int p = 0;
    for (; p + LANES <= n; p += LANES)
        for (int j = 0; j < LANES; j++) {
            a[j] += dy[p + j];
            b[j] += dy[p + j] * (x[p + j] - m);
        }
    for (int j = 0; p + j < n; j++) {
        a[j] += dy[p + j];
        b[j] += dy[p + j] * (x[p + j] - m);
    }
    *sum_dy = lanes_total(a);
    *sum_dy_dev = lanes_total(b);
}
