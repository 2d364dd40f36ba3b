/* batch.c — minibatches: rows of a data set, in the order of a shuffled
 * index, copied out for the kernels.  kiln_gather copies into the caller's
 * buffers; kiln_fill_batch is the first thing a generated step does, and
 * gives each thread of the step its own copy of the whole batch (the
 * kernels split their work by output columns, so every thread reads every
 * row; on a machine whose cores sit far apart, reading rows another core
 * just wrote cost more than copying them twice). */
#include "kiln_rt.h"

#include <stdio.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
#endif

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

/* Each thread's copy of the minibatch: rows (bytes or floats) and labels
 * (or targets), grown on demand by its own thread and kept. */
typedef struct { void *p; size_t cap; } buffer;
static struct { buffer rows, labels; } copies[KILN_MAX_THREADS];

static void *room(buffer *b, size_t bytes)
{
    if (bytes > b->cap) {
        free(b->p);
        b->p = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!b->p) {
            fprintf(stderr, "kiln: out of memory for a copy of the minibatch (%zu bytes)\n", bytes);
            exit(1);
        }
        b->cap = bytes;
    }
    return b->p;
}

kiln_rows kiln_fill_batch(const kiln_batch *b)
{
    if (!b->from) return (kiln_rows){ b->x, b->labels, b->xf, b->targets };
    int me = omp_get_thread_num();
    if (me >= KILN_MAX_THREADS) {
        fprintf(stderr, "kiln: thread %d is past the runtime's limit of %d threads; run with "
                "fewer (--threads)\n", me, KILN_MAX_THREADS);
        exit(1);
    }
    const kiln_dataset *d = b->from;
    const size_t n = b->n > 0 ? (size_t)b->n : 0, ss = (size_t)d->sample_size;
    if (d->features) {
        float *xf = room(&copies[me].rows, n * ss * sizeof *xf);
        float *targets = room(&copies[me].labels, n * sizeof *targets);
        copy_rows(d, b->idx, 0, b->n, NULL, NULL, xf, targets);
        return (kiln_rows){ NULL, NULL, xf, targets };
    }
    uint8_t *x = room(&copies[me].rows, n * ss);
    uint8_t *labels = room(&copies[me].labels, n);
    copy_rows(d, b->idx, 0, b->n, x, labels, NULL, NULL);
    return (kiln_rows){ x, labels, NULL, NULL };
}
