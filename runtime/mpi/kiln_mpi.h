/* kiln_mpi.h — what a trainer built with kiln build --mpi adds to kiln_rt.h:
 * Open MPI behind the runtime's kiln_dist (runtime/mpi/mpi.c, built into
 * libkiln_mpi.a with mpicc), and the gradient sum its training step calls
 * between the backward pass and the updates. */
#ifndef KILN_MPI_H
#define KILN_MPI_H

#include "kiln_rt.h"

extern const kiln_dist kiln_mpi;

/* The step's gradient table, grads[0..table) of sizes[i] floats, goes to
 * the other ranks in buckets, in table order, each as soon as it is
 * complete: kiln_mpi_post sends the next count of them, scaled by this
 * rank's share of the minibatch (its rows / all rows); kiln_mpi_progress
 * lets the sends move while kernels run; kiln_mpi_sum sends the rest,
 * waits for all and leaves in grads every rank's, summed in rank order: the
 * same bits on every rank.  Every rank posts the same buckets; called by the
 * main thread only (the step's master; MPI_THREAD_FUNNELED). */
void kiln_mpi_post(float *const *grads, const long *sizes, int count, int table, float share);
void kiln_mpi_progress(void);
void kiln_mpi_sum(float *const *grads, const long *sizes, int table, float share);

#endif
