/* mpi.c — data parallel training over MPI: the runtime's kiln_dist for
 * Open MPI (or any MPI-3 library: only standard calls), and the gradient sum
 * of a training step.  Built with mpicc into libkiln_mpi.a; only trainers
 * built with kiln build --mpi link it.
 *
 * A step's gradients go out in buckets as soon as the backward pass has
 * made them (the last layer's first): kiln_mpi_post starts a non-blocking
 * gather of each, the step's master thread calls kiln_mpi_progress between
 * kernels (Open MPI makes no progress in the background), and kiln_mpi_sum
 * waits for them all after the backward pass and adds them up.
 *
 * Sums are made in rank order by every rank itself: the ranks' values are
 * gathered (MPI_Allgather) and each rank adds them up, rank 0's first.  An
 * MPI_Allreduce would add them in an order its algorithm picks (by message
 * size and rank count, and free to change between versions), so two runs
 * could differ in the last bits; gathering costs each rank (ranks − 1)
 * times the gradient's bytes instead of about twice, which is the same at
 * 2 ranks and what bench/scaling.md's model charges at more.
 *
 * Every wait is a non-blocking call's, waited for by watch_wait (watch.c),
 * so that a rank that died is named and does not leave the others hanging. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_mpi.h"
#include "watch.h"

static int ranks = 1;
static double waited;   /* seconds spent waiting for the gradients */

/* A buffer kept between calls, grown as needed (the step calls in a loop). */
static void *grown(void **p, size_t *cap, size_t bytes)
{
    if (bytes > *cap) {
        void *q = realloc(*p, bytes);
        if (!q) {
            fprintf(stderr, "kiln: out of memory for the ranks' gradients (%zu bytes)\n", bytes);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        *p = q;
        *cap = bytes;
    }
    return *p;
}

static int start(int *argc, char ***argv, int *rank, int *size, const volatile sig_atomic_t *stopping)
{
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return -1;
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    ranks = *size;
    const char *name = *argc > 0 && (*argv)[0] ? (*argv)[0] : "kiln";
    const char *slash = strrchr(name, '/');
    return watch_start(stopping, slash ? slash + 1 : name);
}

static void finish(void)
{
    watch_end();
    MPI_Finalize();
}

static void sum(double *v, int n)
{
    static void *all;
    static size_t cap;
    double *a = grown(&all, &cap, sizeof(double) * (size_t)n * (size_t)ranks);
    MPI_Request r;
    MPI_Iallgather(v, n, MPI_DOUBLE, a, n, MPI_DOUBLE, MPI_COMM_WORLD, &r);
    watch_wait(&r);
    for (int i = 0; i < n; i++) {
        double s = a[i];
        for (int r = 1; r < ranks; r++) s += a[(size_t)r * (size_t)n + (size_t)i];
        v[i] = s;
    }
}

static void broadcast(void *p, size_t bytes)
{
    for (size_t at = 0; at < bytes;) {   /* in pieces a count of int can say */
        size_t piece = bytes - at < (size_t)1 << 30 ? bytes - at : (size_t)1 << 30;
        MPI_Request r;
        MPI_Ibcast((char *)p + at, (int)piece, MPI_BYTE, 0, MPI_COMM_WORLD, &r);
        watch_wait(&r);
        at += piece;
    }
}

static int first_different(const void *p, size_t bytes)
{
    static void *all;
    static size_t cap;
    char *a = grown(&all, &cap, bytes * (size_t)ranks);
    MPI_Request r;
    MPI_Iallgather(p, (int)bytes, MPI_BYTE, a, (int)bytes, MPI_BYTE, MPI_COMM_WORLD, &r);
    watch_wait(&r);
    for (int r = 1; r < ranks; r++)
        if (memcmp(a, a + (size_t)r * bytes, bytes) != 0) return r;
    return -1;
}

static void stop_all(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

static double waited_so_far(void) { return waited; }

const kiln_dist kiln_mpi = {
    .start = start, .finish = finish, .sum = sum, .broadcast = broadcast,
    .first_different = first_different, .abort = stop_all, .waited = waited_so_far,
};

/* The step's buckets: consecutive entries of its gradient table, posted
 * in table order (next: the first not yet posted), each gathered by its own
 * MPI_Iallgather into a region of its own: the packed table's floats from
 * offset on, mine in send, every rank's one after the other in recv. */
typedef struct { int first, count; size_t offset, floats; MPI_Request request; } bucket;
static bucket *buckets;
static int nbuckets, next;
static size_t posted;   /* floats of the table posted so far this step */
static void *send_buf, *recv_buf, *bucket_buf;
static size_t send_cap, recv_cap, bucket_cap;

/* Room for a table of count gradients (made before the step's first post). */
static void make_room(const long *sizes, int count)
{
    size_t total = 0;
    for (int i = 0; i < count; i++) total += (size_t)sizes[i];
    grown(&send_buf, &send_cap, sizeof(float) * total);
    grown(&recv_buf, &recv_cap, sizeof(float) * total * (size_t)ranks);
    buckets = grown(&bucket_buf, &bucket_cap, sizeof *buckets * (size_t)count);
}

void kiln_mpi_post(float *const *grads, const long *sizes, int count, int table, float share)
{
    if (next == 0) make_room(sizes, table);
    bucket *b = &buckets[nbuckets++];
    *b = (bucket){ .first = next, .count = count, .offset = posted };
    float *mine = (float *)send_buf + posted;
    for (int i = next; i < next + count; i++)
        for (long k = 0; k < sizes[i]; k++) mine[b->floats++] = share * grads[i][k];
    MPI_Iallgather(mine, (int)b->floats, MPI_FLOAT, (float *)recv_buf + posted * (size_t)ranks, (int)b->floats,
                   MPI_FLOAT, MPI_COMM_WORLD, &b->request);
    next += count;
    posted += b->floats;
}

void kiln_mpi_progress(void)
{
    for (int i = 0; i < nbuckets; i++) {
        int done;
        MPI_Test(&buckets[i].request, &done, MPI_STATUS_IGNORE);
    }
}

void kiln_mpi_sum(float *const *grads, const long *sizes, int count, float share)
{
    if (next < count) kiln_mpi_post(grads, sizes, count - next, count, share);
    for (int i = 0; i < nbuckets; i++) {
        const bucket *b = &buckets[i];
        double t0 = MPI_Wtime();
        watch_wait(&buckets[i].request);
        waited += MPI_Wtime() - t0;
        const float *all = (const float *)recv_buf + b->offset * (size_t)ranks;
        size_t at = 0;
        for (int t = b->first; t < b->first + b->count; t++) {
            float *g = grads[t];
            const float *from = all + at;
            long n = sizes[t];
            size_t stride = b->floats;
            #pragma omp parallel for schedule(static)
            for (long k = 0; k < n; k++) {
                float s = from[k];   /* rank 0's, then each next rank's */
                for (int r = 1; r < ranks; r++) s += from[(size_t)r * stride + (size_t)k];
                g[k] = s;
            }
            at += (size_t)n;
        }
    }
    nbuckets = next = 0;
    posted = 0;
}
