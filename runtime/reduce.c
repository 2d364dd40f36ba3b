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
static void column_sums_share(int rows, int cols, const float *a, int lda, float alpha,
                              float beta, float *out)
{
    int tasks = (cols + COLS_PER_TASK - 1) / COLS_PER_TASK;
    #pragma omp for schedule(static) nowait
    for (int t = 0; t < tasks; t++) {
        int j0 = t * COLS_PER_TASK;
        int w = cols - j0 < COLS_PER_TASK ? cols - j0 : COLS_PER_TASK;
        float sum[COLS_PER_TASK] = {0};
        for (int i = 0; i < rows; i++) {
            const float *row = a + (size_t)i * lda + j0;
            for (int j = 0; j < w; j++) sum[j] += row[j];
        }
        for (int j = 0; j < w; j++)
            out[j0 + j] = beta == 0.0f ? alpha * sum[j] : beta * out[j0 + j] + alpha * sum[j];
    }
}

void kiln_column_sums(int rows, int cols, const float *a, int lda, float alpha, float beta,
                      float *out)
{
    if (omp_get_level() > 0 || (long)rows * cols <= 65536) {
        column_sums_share(rows, cols, a, lda, alpha, beta, out);
        return;
    }
    #pragma omp parallel
    column_sums_share(rows, cols, a, lda, alpha, beta, out);
}
