/* reduce.c — reductions over the batch with a fixed order: column sums for
 * bias gradients (and, fused, bias updates).  Threads split the columns,
 * never the rows, so every sum adds the same numbers in the same order
 * whatever the thread count. */
#include "kiln_rt.h"

enum { COLS_PER_TASK = 64 };

void kiln_column_sums(int rows, int cols, const float *a, int lda, float alpha, float beta,
                      float *out)
{
    int tasks = (cols + COLS_PER_TASK - 1) / COLS_PER_TASK;
    #pragma omp parallel for if ((long)rows * cols > 65536)
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
