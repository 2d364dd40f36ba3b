/* kiln_mpi.h — what a trainer built with kiln build --mpi adds to kiln_rt.h:
 * Open MPI behind the runtime's kiln_dist (runtime/mpi/mpi.c, built into
 * libkiln_mpi.a with mpicc), and the gradient sum its training step calls
 * between the backward pass and the updates. */
#ifndef KILN_MPI_H
#define KILN_MPI_H

#include "kiln_rt.h"

extern const kiln_dist kiln_mpi;

/* Every rank's gradients, each scaled by its share of the minibatch (its
 * rows / all rows), summed over the ranks in rank order into grads[0..count)
 * (sizes[i] floats each): afterwards every rank holds the same sums, to the
 * bit.  Called by the step's master thread, outside its parallel region. */
void kiln_mpi_sum_gradients(float *const *grads, const long *sizes, int count, float share);

#endif
