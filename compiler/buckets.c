/* buckets.c — data parallel trainers (--mpi): the gradients in the order
 * the backward pass completes them, grouped into buckets, one per kernel
 * that completes any (the last layer's first).  The step sends each bucket
 * to the other ranks as soon as it is complete, while the rest of the
 * backward pass runs (emit.c), and the kernel listing shows where
 * (dump.c).  A gradient is complete after the last kernel that writes or
 * adds to it. */
#include <stdlib.h>

#include "kiln.h"

/* The last training kernel that writes or adds to value v's storage. */
static int last_writer(const Graph *g, int v) {
    const Value *s = storage_of(g, v);
    int last = -1;
    for (int k = 0; k < g->nkernels; k++) {
        if (!g->kernels[k].train) continue;
        for (int j = 0; j < g->kernels[k].nnodes; j++) {
            const Node *n = node(g, g->kernels[k].nodes[j]);
            for (int o = 0; o < n->nout; o++)
                if (storage_of(g, n->out[o]) == s) last = k;
        }
    }
    if (last < 0) fail("internal error: no kernel makes the gradient %s", val(g, v)->name);
    return last;
}

void buckets_plan(const Graph *g, Buckets *b) {
    int n = g->nparams;
    int *done = xcalloc((size_t)n, sizeof *done);
    b->param = xcalloc((size_t)n, sizeof *b->param);
    b->first = xcalloc((size_t)n, sizeof *b->first);
    b->count = xcalloc((size_t)n, sizeof *b->count);
    b->after = xcalloc((size_t)n, sizeof *b->after);
    b->nbuckets = 0;
    for (int p = 0; p < n; p++) done[p] = last_writer(g, val(g, g->params[p])->grad);
    /* table order: by the kernel that completes them, then by parameter order */
    int t = 0;
    for (int k = 0; k < g->nkernels; k++) {
        int first = t;
        for (int p = 0; p < n; p++)
            if (done[p] == k) b->param[t++] = p;
        if (t > first) {
            b->first[b->nbuckets] = first;
            b->count[b->nbuckets] = t - first;
            b->after[b->nbuckets] = k;
            b->nbuckets++;
        }
    }
    free(done);
}

void buckets_free(Buckets *b) {
    free(b->param);
    free(b->first);
    free(b->count);
    free(b->after);
}
