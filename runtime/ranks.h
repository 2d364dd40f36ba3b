/* ranks.h — the trainer's side of data parallel training (kiln build
 * --mpi): which rows are this rank's, sums over the ranks, one model on
 * every rank, and the start-up check that the ranks run the same trainer
 * on the same data.  A single-process trainer is rank 0 of 1, and then
 * every call here is free and does nothing.  Internal to the runtime. */
#ifndef KILN_RANKS_H
#define KILN_RANKS_H

#include "kiln_rt.h"

typedef struct {
    const kiln_dist *dist;   /* NULL: one process */
    int rank, size;
} kiln_ranks;

/* Starts the message library when the model has one (m->dist); 0, or -1
 * when it cannot start.  stopping: the flag the trainer's signal handler
 * sets, which the library's waits watch (kiln_dist.start). */
int  ranks_start(kiln_ranks *r, const kiln_model *m, int *argc, char ***argv,
                 const volatile sig_atomic_t *stopping);
/* Ends it: when rc is not 0, by ending every rank with status rc (a rank
 * that failed alone must not leave the others waiting). */
void ranks_end(const kiln_ranks *r, int rc);
/* This rank's rows [*lo, *hi) of n: consecutive shares, the first n % size
 * ranks one row more. */
void ranks_share(const kiln_ranks *r, int n, int *lo, int *hi);
/* v[0..n) summed over the ranks, the same bits on every rank. */
void ranks_sum(const kiln_ranks *r, double *v, int n);
/* Rank 0's parameters, state, step count and dropout key on every rank
 * (state only: batch norm's running statistics, which each rank updates
 * from its own rows, as PyTorch's DistributedDataParallel takes rank 0's). */
void ranks_same_model(const kiln_ranks *r, const kiln_model *m, int state_only);
/* -1 when every rank runs this trainer (the same model, plan and batch) on
 * the same data, seed and epochs; else the first rank that does not. */
int  ranks_differ(const kiln_ranks *r, const kiln_model *m, uint32_t data_crc, uint64_t seed, int epochs);

#endif
