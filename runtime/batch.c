/* batch.c — minibatches: rows of a data set, in the order of a shuffled
 * index, copied out for the kernels.  kiln_gather copies into the caller's
 * buffers; kiln_fill_batch is the first thing a generated step does, and
 * gives each thread of the step its own copy of the whole batch (the
 * kernels split their work by output columns, so every thread reads every
 * row; on a machine whose cores sit far apart, reading rows another core
 * just wrote can cost more than copying them twice: bench/README.md,
 * "Measurements behind the runtime's choices"). */
#include "kiln_rt.h"
#include "scratch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
#endif

/* Ask for the cache lines of one row (a hint: no effect on results). */
static void prefetch_row(const char *row, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(row + off, 0, 3);
    __builtin_prefetch(row + bytes - 1, 0, 3);
}

/* Rows [r0, r1) of the batch: rows idx[r] of d into x/labels or xf/targets.
 * The rows lie anywhere in a data set far larger than the caches, so each
 * would cost a trip to memory, one after another: the row ROWS_AHEAD on is
 * fetched while this one is copied.  (Fetching the next batch's rows ahead,
 * a few lines per micro-tile of the step's big products, was tried and
 * lost: the products that issued them slowed more than the copy gained.) */
enum { ROWS_AHEAD = 16 };
static void copy_rows(const kiln_dataset *d, const uint32_t *idx, int r0, int r1, uint8_t *x,
                      uint8_t *labels, float *xf, float *targets)
{
    const size_t ss = (size_t)d->sample_size;
    const size_t bytes = d->features ? ss * sizeof *xf : ss;
    const char *base = d->features ? (const char *)d->features : (const char *)d->images;
    for (int r = r0; r < r1 && r < r0 + ROWS_AHEAD; r++)
        prefetch_row(base + (size_t)idx[r] * bytes, bytes);
    for (int r = r0; r < r1; r++) {
        if (r + ROWS_AHEAD < r1) prefetch_row(base + (size_t)idx[r + ROWS_AHEAD] * bytes, bytes);
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
 * (or targets), kept between steps (scratch.h). */
static struct { kiln_scratch rows, labels; } copies[KILN_MAX_THREADS];

kiln_rows kiln_fill_batch(const kiln_batch *b)
{
    if (!b->from) return (kiln_rows){ b->x, b->labels, b->xf, b->targets };
    int me = omp_get_thread_num();
    if (me >= KILN_MAX_THREADS) {
        fprintf(stderr, "kiln: thread %d is past the runtime's limit of %d threads; run with "
                "fewer (--threads)\n", me, KILN_MAX_THREADS);
        exit(1);
    }
    static const char what[] = "a copy of the minibatch";
    const kiln_dataset *d = b->from;
    const size_t n = b->n > 0 ? (size_t)b->n : 0, ss = (size_t)d->sample_size;
    if (d->features) {
        float *xf = kiln_scratch_room(&copies[me].rows, n * ss * sizeof *xf, what);
        float *targets = kiln_scratch_room(&copies[me].labels, n * sizeof *targets, what);
        copy_rows(d, b->idx, 0, b->n, NULL, NULL, xf, targets);
        return (kiln_rows){ NULL, NULL, xf, targets };
    }
    uint8_t *x = kiln_scratch_room(&copies[me].rows, n * ss, what);
    uint8_t *labels = kiln_scratch_room(&copies[me].labels, n, what);
    copy_rows(d, b->idx, 0, b->n, x, labels, NULL, NULL);
    return (kiln_rows){ x, labels, NULL, NULL };
}
