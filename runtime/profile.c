/* profile.c — the trainer's --profile: where a training step's time goes,
 * kernel by kernel (kiln_rt.h).
 *
 * The generated train_step marks the end of each of its parts (the
 * minibatch copy, then each kernel) and of each wait at a kiln_sync; every
 * thread adds the time since its previous mark to its own row, so a part's
 * work and the wait after it are measured on each thread apart.  The
 * report gives their means over the threads, per step, and the slowest
 * thread's work beside them: a part whose slowest thread is far above the
 * mean is split unevenly, and the others wait for it at the next sync.
 * Off, a mark is one predictable branch. */
#include "kiln_rt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_thread_num(void) { return 0; }
static int omp_get_max_threads(void) { return 1; }
#include <time.h>
static double omp_get_wtime(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
#endif

int kiln_profiling;

typedef struct {
    double last;                      /* this thread's previous mark */
    double *work, *wait;              /* seconds, per part */
    char   pad[64];                   /* threads' rows on lines of their own */
} thread_row;

static thread_row *rows;
static int nthreads, nparts;
static long steps;

int kiln_profile_enable(int parts)
{
    nthreads = omp_get_max_threads();
    nparts = parts;
    rows = calloc((size_t)nthreads, sizeof *rows);
    if (!rows) return -1;
    for (int t = 0; t < nthreads; t++) {
        rows[t].work = calloc((size_t)parts, sizeof(double));
        rows[t].wait = calloc((size_t)parts, sizeof(double));
        if (!rows[t].work || !rows[t].wait) return -1;
    }
    kiln_profiling = 1;
    return 0;
}

void kiln_profile_start(void)
{
    int me = omp_get_thread_num();
    if (me >= nthreads) return;
    rows[me].last = omp_get_wtime();
    if (me == 0) steps++;
}

void kiln_profile_mark(int part, int waited)
{
    int me = omp_get_thread_num();
    if (me >= nthreads || part < 0 || part >= nparts) return;
    double now = omp_get_wtime();
    (waited ? rows[me].wait : rows[me].work)[part] += now - rows[me].last;
    rows[me].last = now;
}

void kiln_profile_end(int part)
{
    kiln_sync();   /* the wait the parallel region's end would have hidden */
    kiln_profile_mark(part, 1);
}

void kiln_profile_report(const char *const *names, double train_seconds)
{
    FILE *out = stderr;
    if (!kiln_profiling || steps == 0) return;
    double total_work = 0, total_wait = 0;
    for (int p = 0; p < nparts; p++)
        for (int t = 0; t < nthreads; t++) total_work += rows[t].work[p], total_wait += rows[t].wait[p];
    double per = 1e3 / (double)steps / nthreads;   /* seconds summed over threads → ms per step, mean */
    double total = (total_work + total_wait) * per;
    fprintf(out, "time per training step by part (--profile): %ld steps, %d thread%s; ms per step,\n", steps,
            nthreads, nthreads == 1 ? "" : "s");
    fprintf(out, "mean over threads of the work and of the wait at the next sync, the slowest thread's work\n");
    fprintf(out, "%7s %7s %7s %6s  %s\n", "work", "wait", "slowest", "share", "part");
    for (int p = 0; p < nparts; p++) {
        double work = 0, wait = 0, slowest = 0;
        for (int t = 0; t < nthreads; t++) {
            work += rows[t].work[p], wait += rows[t].wait[p];
            if (rows[t].work[p] > slowest) slowest = rows[t].work[p];
        }
        fprintf(out, "%7.3f %7.3f %7.3f %5.1f%%  %s\n", work * per, wait * per, slowest * 1e3 / (double)steps,
                total > 0 ? 100.0 * (work + wait) * per / total : 0.0, names[p]);
    }
    fprintf(out, "%7.3f %7.3f %7s %5.1f%%  total: the step's parallel region\n", total_work * per,
            total_wait * per, "", 100.0);
    fprintf(out, "%7.3f %7s %7s %6s  the whole step, as the epochs' training time over the steps\n",
            train_seconds * 1e3 / (double)steps, "", "", "");
}
