/* reduce.c — reductions over the batch with a fixed order: column sums for
 * bias gradients (and, fused, bias updates).  Threads split the columns,
 * never the rows, so every sum adds the same numbers in the same order
 * whatever the thread count.  Like kiln_gemm, it may be called from every
 * thread of a team (it is then a work-sharing loop that does not wait at
 * its end: kiln_sync() does) or from outside one. */
#include "kiln_rt.h"

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_level(void) { return 0; }
#endif

enum { COLS_PER_TASK = 64 };

/* The columns of the threads that run this: static, contiguous blocks of
 * tasks (so a thread keeps the columns it had in the layer's GEMMs). */
static void column_sums_share(int rows, int cols, const float *a, int lda, size_t pstride,
                              float alpha, float beta, float *out)
{
    const int per = pstride ? KILN_PANEL : COLS_PER_TASK;   /* in panels: a task each */
    const size_t ld = pstride ? KILN_PANEL : (size_t)lda;
    int tasks = (cols + per - 1) / per;
    #pragma omp for schedule(static) nowait
    for (int t = 0; t < tasks; t++) {
        int j0 = t * per;
        int w = cols - j0 < per ? cols - j0 : per;
        const float *first = pstride ? a + (size_t)t * pstride : a + j0;   /* row 0, column j0 */
        float sum[COLS_PER_TASK] = {0};
        for (int i = 0; i < rows; i++) {
            const float *row = first + (size_t)i * ld;
            for (int j = 0; j < w; j++) sum[j] += row[j];
        }
        for (int j = 0; j < w; j++)
            out[j0 + j] = beta == 0.0f ? alpha * sum[j] : beta * out[j0 + j] + alpha * sum[j];
    }
}

void kiln_column_sums(int rows, int cols, const float *a, int lda, float alpha, float beta,
                      float *out)
{
    kiln_column_sums_paneled(rows, cols, a, lda, 0, alpha, beta, out);
}

void kiln_column_sums_paneled(int rows, int cols, const float *a, int lda, size_t pstride,
                              float alpha, float beta, float *out)
{
    if (omp_get_level() > 0 || (long)rows * cols <= 65536) {
        column_sums_share(rows, cols, a, lda, pstride, alpha, beta, out);
        return;
    }
    #pragma omp parallel
    column_sums_share(rows, cols, a, lda, pstride, alpha, beta, out);
}
