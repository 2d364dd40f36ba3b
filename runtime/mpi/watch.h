/* watch.h — waiting for the other ranks without hanging on a dead one
 * (watch.c): every wait of the MPI runtime goes through watch_wait, which
 * names the ranks that stopped answering and ends this one. */
#ifndef KILN_WATCH_H
#define KILN_WATCH_H

#include <mpi.h>
#include <signal.h>

/* After MPI_Init: learns every rank's host, and makes errors of
 * MPI_COMM_WORLD come back to watch_wait instead of aborting at once.
 * stopping is the trainer's signal flag (mpirun signals every rank when one
 * dies); prog names this program in messages.  0 on success. */
int  watch_start(const volatile sig_atomic_t *stopping, const char *prog);
/* Waits for a request of MPI_COMM_WORLD; if the run is stopping and the
 * others do not all come, says who did not in one line and ends the process. */
void watch_wait(MPI_Request *request);
/* Before MPI_Finalize: the watch's own requests, cancelled. */
void watch_end(void);

#endif
