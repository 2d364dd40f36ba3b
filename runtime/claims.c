/* claims.c — the claim words behind claims.h, and the bracket the trainer
 * puts around its steps (kiln_balance_begin / kiln_balance_end).
 *
 * A claim word holds one thread's remaining range of one call: the bracket's
 * serial number (32 bits), then lo and hi (16 bits each).  A word whose
 * serial is not the current bracket's is untouched in this bracket: whoever
 * comes first — the owner or a thief — sets it to the full range while
 * taking its unit, with one compare-and-swap.  The owner takes lo, thieves
 * take hi − 1, so a unit is taken exactly once.  Each thread's words sit on
 * cache lines of their own: an owner taking its units touches no line
 * another thread reads until that thread starts stealing. */
#include "kiln_rt.h"
#include "claims.h"

#include <stdatomic.h>
#include <stdint.h>

static struct {
    _Alignas(64) _Atomic uint64_t word[CLAIMS_MAX_CALLS];
    unsigned seen;     /* the bracket this thread's count belongs to */
    int      calls;    /* in-team kiln_gemm calls so far in that bracket */
} per_thread[CLAIMS_MAX_TEAM];

/* Written only outside parallel regions (by the thread that runs the trainer). */
static atomic_uint bracket;    /* serial number of the current bracket */
static atomic_int  balancing;  /* inside kiln_balance_begin/_end */

void kiln_balance_begin(void)
{
    unsigned r = atomic_load_explicit(&bracket, memory_order_relaxed) + 1;
    if (r == 0) r = 1;   /* 0 is what a word never touched holds */
    atomic_store_explicit(&bracket, r, memory_order_relaxed);
    atomic_store_explicit(&balancing, 1, memory_order_relaxed);
}

void kiln_balance_end(void)
{
    atomic_store_explicit(&balancing, 0, memory_order_relaxed);
}

int claims_open(int me, int nthreads)
{
    if (!atomic_load_explicit(&balancing, memory_order_relaxed) || nthreads > CLAIMS_MAX_TEAM ||
        me >= CLAIMS_MAX_TEAM)
        return -1;
    unsigned r = atomic_load_explicit(&bracket, memory_order_relaxed);
    if (per_thread[me].seen != r) {
        per_thread[me].seen = r;
        per_thread[me].calls = 0;
    }
    int call = per_thread[me].calls++;
    return call < CLAIMS_MAX_CALLS ? call : -1;
}

static uint64_t pack(unsigned r, int lo, int hi)
{
    return (uint64_t)r << 32 | (uint64_t)(unsigned)lo << 16 | (uint64_t)(unsigned)hi;
}

/* Take one unit from the front (front != 0) or the back of owner's range. */
static int take(int call, int owner, int lo0, int hi0, int front, int min_left,
                int cheap_lo, int cheap_hi)
{
    _Atomic uint64_t *w = &per_thread[owner].word[call];
    const unsigned r = atomic_load_explicit(&bracket, memory_order_relaxed);
    uint64_t old = atomic_load_explicit(w, memory_order_acquire);
    for (;;) {
        int lo = lo0, hi = hi0;
        if ((unsigned)(old >> 32) == r) {
            lo = (int)(old >> 16 & 0xffff);
            hi = (int)(old & 0xffff);
        }
        int left = hi - lo;
        if (left <= 0) return -1;
        int unit = front ? lo : hi - 1;
        if (!front && left < min_left && !(unit >= cheap_lo && unit < cheap_hi)) return -1;
        uint64_t now = front ? pack(r, lo + 1, hi) : pack(r, lo, hi - 1);
        if (atomic_compare_exchange_weak_explicit(w, &old, now, memory_order_acq_rel,
                                                  memory_order_acquire))
            return unit;
    }
}

int claims_take_own(int call, int owner, int lo, int hi)
{
    return take(call, owner, lo, hi, 1, 1, 0, 0);
}

int claims_steal(int call, int victim, int lo, int hi, int min_left, int cheap_lo, int cheap_hi)
{
    return take(call, victim, lo, hi, 0, min_left, cheap_lo, cheap_hi);
}
