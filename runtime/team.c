/* team.c — kiln_sync(): the barrier between the kernels of a training step.
 *
 * A trainer kiln emits runs each step in one OpenMP parallel region; every
 * kernel splits its work among the team without waiting at its end (GEMMs,
 * `omp for nowait`), and the generated code calls kiln_sync() only between
 * kernels where one reads or writes what another wrote.  A step has dozens
 * of them, so the barrier is kiln's own: a counter and a generation number
 * on their own cache lines, several times cheaper than libgomp's
 * (bench/README.md, "Measurements behind the runtime's choices").  A
 * thread that has waited long (more threads than cores) yields its core
 * instead of spinning.
 *
 * Only one team at a time may use it (as with kiln_gemm's packing memory):
 * a trainer has one. */
#include "kiln_rt.h"
#include "team.h"

#include <sched.h>
#include <stdatomic.h>

#ifdef _OPENMP
#include <omp.h>
#else
static int omp_get_num_threads(void) { return 1; }
#endif

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define relax() _mm_pause()
#else
#define relax() ((void)0)
#endif

enum { SPINS_BEFORE_YIELD = 4000 };   /* pauses: tens of µs */

static struct {
    _Alignas(64) atomic_uint arrived;      /* threads at the barrier now */
    _Alignas(64) atomic_uint generation;   /* barriers completed */
} team_barrier;

void kiln_sync(void)
{
    const unsigned n = (unsigned)omp_get_num_threads();
    if (n <= 1) return;
    /* Read the generation before arriving: the last thread to arrive moves
     * it on only after everyone has, so it cannot be missed. */
    unsigned gen = atomic_load_explicit(&team_barrier.generation, memory_order_acquire);
    if (atomic_fetch_add_explicit(&team_barrier.arrived, 1, memory_order_acq_rel) == n - 1) {
        atomic_store_explicit(&team_barrier.arrived, 0, memory_order_relaxed);
        atomic_store_explicit(&team_barrier.generation, gen + 1, memory_order_release);
        return;
    }
    for (unsigned spins = 0;
         atomic_load_explicit(&team_barrier.generation, memory_order_acquire) == gen; spins++) {
        if (spins < SPINS_BEFORE_YIELD) relax();
        else sched_yield();
    }
}

unsigned kiln_sync_round(void)
{
    return atomic_load_explicit(&team_barrier.generation, memory_order_acquire);
}
