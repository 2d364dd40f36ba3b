/* plan.c — pass 6: the static memory plan.  Parameters are laid out in one
 * block (the order checkpoints use).  Every activation and gradient that
 * still needs a buffer after fusion gets a slice of one arena, sized for a
 * full batch; two buffers share memory when their lifetimes — from the
 * kernel that first writes one to the kernel that last reads it, in the
 * order the training step runs them — do not overlap.  Placement is
 * first-fit in order of first write: deterministic, and optimal for a
 * chain of layers.  Slices are 16-float (64-byte) aligned. */
#include <stdlib.h>

#include "kiln.h"

static long align16(long n) { return (n + 15) & ~15L; }

static int stored(const Value *v) {
    return (v->kind == VAL_ACT || v->kind == VAL_GRAD) && v->alias < 0 && !v->fused;
}

static long footprint(const Graph *g, const Value *v) {
    return align16(shape_size(&v->shape) * (v->shape.batched ? g->spec->batch : 1));
}

/* first/last: the kernels that touch each stored value (through aliases). */
static void lifetimes(Graph *g) {
    for (int i = 0; i < g->nvals; i++) val(g, i)->first = val(g, i)->last = -1;
    for (int k = 0; k < g->nkernels; k++) {
        const Kernel *kr = &g->kernels[k];
        for (int j = 0; j < kr->nnodes; j++) {
            const Node *n = node(g, kr->nodes[j]);
            int vs[6], nv = node_values(n, vs);
            for (int a = 0; a < nv; a++) {
                Value *v = (Value *)storage_of(g, vs[a]);
                if (v->first < 0) v->first = k;
                v->last = k;
            }
        }
    }
}

static int overlaps(long a0, long a1, long b0, long b1) { return a0 < b1 && b0 < a1; }

/* Values ids[0..n) back to back in one block; returns its size in floats. */
static long lay_out(Graph *g, const int *ids, int n) {
    long at = 0;
    for (int i = 0; i < n; i++) {
        Value *v = val(g, ids[i]);
        v->offset = at;
        at += align16(shape_size(&v->shape));
    }
    return at;
}

void plan(Graph *g) {
    g->params_size = lay_out(g, g->params, g->nparams);
    g->state_size = lay_out(g, g->state, g->nstate);

    lifetimes(g);
    int *placed = xcalloc((size_t)g->nvals, sizeof *placed);
    int nplaced = 0;
    g->arena_size = g->arena_unshared = 0;
    /* values in order of first write (ties: creation order) */
    for (int k = 0; k < g->nkernels; k++) {
        for (int i = 0; i < g->nvals; i++) {
            Value *v = val(g, i);
            if (!stored(v) || v->first != k) continue;
            long size = footprint(g, v);
            g->arena_unshared += size;
            /* lowest offset (0 or the end of a placed buffer) clear of every
             * placed buffer alive at the same time */
            long best = -1;
            for (int c = -1; c < nplaced; c++) {
                long at = c < 0 ? 0 : val(g, placed[c])->offset + footprint(g, val(g, placed[c]));
                int clash = 0;
                for (int o = 0; o < nplaced && !clash; o++) {
                    const Value *w = val(g, placed[o]);
                    int alive = !(w->last < v->first || v->last < w->first);
                    clash = alive && overlaps(at, at + size, w->offset, w->offset + footprint(g, w));
                }
                if (!clash && (best < 0 || at < best)) best = at;
            }
            v->offset = best;
            placed[nplaced++] = i;
            if (best + size > g->arena_size) g->arena_size = best + size;
        }
    }
    /* stored values no kernel touches (none today) still get a slice */
    for (int i = 0; i < g->nvals; i++) {
        Value *v = val(g, i);
        if (stored(v) && v->first < 0) {
            v->offset = g->arena_size;
            g->arena_size += footprint(g, v);
        }
    }
    free(placed);

    /* the plan's promise, checked: buffers alive at once never overlap */
    for (int i = 0; i < g->nvals; i++)
        for (int j = i + 1; j < g->nvals; j++) {
            const Value *a = val(g, i), *b = val(g, j);
            if (!stored(a) || !stored(b) || a->last < b->first || b->last < a->first) continue;
            if (overlaps(a->offset, a->offset + footprint(g, a), b->offset, b->offset + footprint(g, b)))
                fail("internal error: memory plan puts %s and %s in the same place", a->name, b->name);
        }
}
