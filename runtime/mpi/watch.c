/* watch.c — a rank that dies must not leave the others waiting for it.
 *
 * When a rank dies (killed, crashed, or ended without MPI_Finalize),
 * mpirun sends every other rank SIGTERM, and SIGKILL a second later (Open
 * MPI's odls_base_sigkill_timeout).  By then the survivors are waiting, or
 * soon will be, for the dead rank's part of a gather that never completes,
 * and mpirun's own notice is several lines that a user must read through.
 *
 * So every wait of the runtime goes through watch_wait.  A wait that sees
 * the trainer's stop flag (or an MPI error: over TCP a dead peer's link
 * breaks) sends "here" to every other rank on a communicator of its own,
 * and listens for theirs.  After Ctrl-C every rank comes to the wait and
 * it completes.  If it is still open PATIENCE seconds later and some rank
 * has not said "here", that rank is taken for dead: the lowest rank heard
 * from names it in one line, and every survivor ends.  A wait that has
 * heard from every rank goes on waiting: they are alive, and busy.
 *
 * MPI-3 cannot ask whether a rank is alive (ULFM can, but it is not in the
 * standard), so a rank busy in one kernel for longer than PATIENCE while
 * the others wait would be named too; mpirun would kill it a moment later
 * all the same. */
#include "watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PATIENCE 0.5   /* seconds a stopping wait gives the other ranks to say "here" */

static const volatile sig_atomic_t *stopping;
static char prog[160] = "kiln";
static MPI_Comm comm = MPI_COMM_NULL;   /* the watch's own, so "here" never meets the training's messages */
static int me, ranks;
static char (*hosts)[MPI_MAX_PROCESSOR_NAME];
static int *heard;                       /* heard[r]: rank r said "here" (or is this rank) */
static int *news;                        /* where each rank's "here" lands */
static MPI_Request *calls;               /* the receives of each other rank's "here" */
static int here_said;
static volatile int broken;              /* an MPI call of MPI_COMM_WORLD failed */

static void on_error(MPI_Comm *c, int *code, ...)
{
    (void)c;
    (void)code;
    broken = 1;
}

int watch_start(const volatile sig_atomic_t *flag, const char *name)
{
    stopping = flag;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (me == 0) snprintf(prog, sizeof prog, "%s", name);
    else snprintf(prog, sizeof prog, "%s (rank %d)", name, me);
    if (MPI_Comm_dup(MPI_COMM_WORLD, &comm) != MPI_SUCCESS) return -1;
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    hosts = calloc((size_t)ranks, sizeof *hosts);
    heard = calloc((size_t)ranks, sizeof *heard);
    news = calloc((size_t)ranks, sizeof *news);
    calls = malloc(sizeof *calls * (size_t)ranks);
    if (!hosts || !heard || !news || !calls) return -1;
    for (int r = 0; r < ranks; r++) calls[r] = MPI_REQUEST_NULL;
    char host[MPI_MAX_PROCESSOR_NAME] = { 0 };
    int len;
    MPI_Get_processor_name(host, &len);
    if (MPI_Allgather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm) !=
        MPI_SUCCESS)
        return -1;
    MPI_Errhandler handler;
    MPI_Comm_create_errhandler(on_error, &handler);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, handler);
    MPI_Errhandler_free(&handler);
    return 0;
}

static void say_here(void)
{
    static int word;   /* its value is not read: that it comes is the news */
    word = me;
    for (int r = 0; r < ranks; r++) {
        if (r == me) continue;
        MPI_Request sent;
        if (MPI_Isend(&word, 1, MPI_INT, r, 0, comm, &sent) == MPI_SUCCESS) MPI_Request_free(&sent);
        MPI_Irecv(&news[r], 1, MPI_INT, r, 0, comm, &calls[r]);
    }
    heard[me] = 1;
    here_said = 1;
}

static int count_missing(void)   /* the ranks not heard from so far */
{
    int missing = 0;
    for (int r = 0; r < ranks; r++) {
        if (!heard[r] && calls[r] != MPI_REQUEST_NULL) {
            int done = 0;
            if (MPI_Test(&calls[r], &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done) heard[r] = 1;
        }
        missing += !heard[r];
    }
    return missing;
}

/* The ranks not heard from are dead (or, if every rank was heard, an MPI
 * call failed): the lowest rank heard from says so, and every survivor
 * ends (exit handlers could wait for the dead). */
static void give_up(int missing)
{
    int speaker = 0;
    while (!heard[speaker]) speaker++;
    if (speaker == me && missing == 0) {
        fflush(stdout);
        fprintf(stderr, "%s: a message between the ranks failed (an MPI error); every rank stops here\n", prog);
    } else if (speaker == me) {
        char who[400] = "";
        size_t at = 0;
        int named = 0;
        for (int r = 0; r < ranks && at < sizeof who - 80; r++) {
            if (heard[r]) continue;
            if (named == 4 && missing > 5) {
                at += (size_t)snprintf(who + at, sizeof who - at, " and %d more", missing - named);
                break;
            }
            at += (size_t)snprintf(who + at, sizeof who - at, "%s%d (on %.40s)", named ? ", " : "", r, hosts[r]);
            named++;
        }
        fflush(stdout);
        fprintf(stderr, "%s: rank%s %s stopped answering: died or was killed; every rank stops here "
                "(--resume from the last --save goes on)\n", prog, missing > 1 ? "s" : "", who);
    } else {
        fflush(stdout);
    }
    fflush(stderr);
    _exit(1);
}

void watch_wait(MPI_Request *request)
{
    double since = -1;
    for (;;) {
        int done = 0;
        if (MPI_Test(request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) broken = 1;
        if (done && !broken) return;
        if (!broken && !(stopping && *stopping)) continue;
        if (!here_said) say_here();
        int missing = count_missing();
        double now = MPI_Wtime();
        if (since < 0) since = now;
        else if (now - since > PATIENCE && (missing > 0 || broken)) give_up(missing);
    }
}

void watch_end(void)
{
    for (int r = 0; calls && r < ranks; r++)
        if (calls[r] != MPI_REQUEST_NULL) {
            MPI_Cancel(&calls[r]);
            MPI_Request_free(&calls[r]);
        }
    if (comm != MPI_COMM_NULL) MPI_Comm_free(&comm);
    free(hosts);
    free(heard);
    free(news);
    free(calls);
    hosts = NULL;
    heard = news = NULL;
    calls = NULL;
}
