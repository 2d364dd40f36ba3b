/* batch.c — minibatches: rows of a data set, in the order of a shuffled
 * index, copied into the trainer's batch buffers.  kiln_gather copies on
 * the calling thread; kiln_fill_batch is the first thing a generated step
 * does, so that the step's team shares the copying (random rows of a data
 * set larger than the caches: the copy waits on memory, and two threads
 * wait at once). */
#include "kiln_rt.h"

#include <string.h>

/* Rows [r0, r1) of the batch: rows idx[r] of d into x/labels or xf/targets. */
static void copy_rows(const kiln_dataset *d, const uint32_t *idx, int r0, int r1, uint8_t *x,
                      uint8_t *labels, float *xf, float *targets)
{
    const size_t ss = (size_t)d->sample_size;
    for (int r = r0; r < r1; r++) {
        if (d->features) {
            memcpy(xf + (size_t)r * ss, d->features + (size_t)idx[r] * ss, ss * sizeof *xf);
            targets[r] = d->targets[idx[r]];
        } else {
            memcpy(x + (size_t)r * ss, d->images + (size_t)idx[r] * ss, ss);
            labels[r] = d->labels[idx[r]];
        }
    }
}

void kiln_gather(const kiln_dataset *d, const uint32_t *idx, int n, uint8_t *x, uint8_t *labels)
{
    copy_rows(d, idx, 0, n, x, labels, NULL, NULL);
}

void kiln_gather_float(const kiln_dataset *d, const uint32_t *idx, int n, float *x, float *targets)
{
    copy_rows(d, idx, 0, n, NULL, NULL, x, targets);
}

enum { ROWS_PER_TASK = 16 };

void kiln_fill_batch(const kiln_batch *b)
{
    if (!b->from) return;
    /* The buffers are the trainer's own (writable); the batch shows them
     * to the model as const. */
    uint8_t *x = (uint8_t *)b->x, *labels = (uint8_t *)b->labels;
    float *xf = (float *)b->xf, *targets = (float *)b->targets;
    int tasks = (b->n + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    #pragma omp for schedule(static) nowait
    for (int t = 0; t < tasks; t++) {
        int r0 = t * ROWS_PER_TASK, r1 = r0 + ROWS_PER_TASK < b->n ? r0 + ROWS_PER_TASK : b->n;
        copy_rows(b->from, b->idx, r0, r1, x, labels, xf, targets);
    }
}
