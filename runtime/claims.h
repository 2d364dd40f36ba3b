/* claims.h — work a team shares out while it runs: each thread owns a range
 * of units of a call, takes them from the front, and once its own are gone
 * takes another thread's from the back.  Used by kiln_gemm's balanced path
 * (products/share.c) inside the training steps the trainer brackets with
 * kiln_balance_begin / kiln_balance_end.  Internal to the runtime.
 *
 * Every thread of the team calls claims_open once per in-team kiln_gemm
 * call, in the same order, so the k-th call of a bracket has the same number
 * on every thread; a unit's claim word is tagged with the bracket, so words
 * left by an earlier bracket read as untouched and need no reset. */
#ifndef KILN_CLAIMS_H
#define KILN_CLAIMS_H

enum {
    CLAIMS_MAX_UNITS = 65535,   /* units of one call, numbered from 0 */
    CLAIMS_MAX_CALLS = 32,      /* calls per bracket that may claim units */
    CLAIMS_MAX_TEAM  = 16,      /* threads of a team that may */
};

/* The number of this call in the bracket (every thread of the team calls it
 * first thing, for every in-team kiln_gemm), or -1 when units cannot be
 * claimed: outside kiln_balance_begin/_end, a team too large, or more calls
 * in the bracket than there are claim words. */
int claims_open(int me, int nthreads);

/* The next unit of thread owner's range [lo, hi) for call `call`, taken
 * from the front (by its owner) — or -1 once the range is empty. */
int claims_take_own(int call, int owner, int lo, int hi);

/* The last unit of thread victim's range [lo, hi), taken by another thread
 * — or -1 when fewer than min_left units are left, unless the last one lies
 * in [cheap_lo, cheap_hi) (the thief holds what it needs for it: then one
 * left is enough).  The owner is busy with a unit it took already, so
 * taking its very last one can cost the thief more than waiting. */
int claims_steal(int call, int victim, int lo, int hi, int min_left, int cheap_lo, int cheap_hi);

#endif
