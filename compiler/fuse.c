/* fuse.c — pass 5: group graph nodes into kernels, the functions the
 * emitted trainer calls in order.  For now each node that computes
 * something is its own kernel; nodes without code (views such as flatten)
 * have none.  Later fusion rules merge neighbours here and nowhere else. */
#include <stdio.h>
#include <string.h>

#include "kiln.h"

static const char *const phase_prefix[] = { "forward", "loss", "backward", "update" };

void fuse(Graph *g) {
    g->kernels = xcalloc((size_t)g->nnodes + 1, sizeof *g->kernels);
    g->nkernels = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (!n->op->emit) continue;
        Kernel *k = &g->kernels[g->nkernels];
        k->id = g->nkernels++;
        k->nodes[k->nnodes++] = i;
        k->phase = n->phase;
        snprintf(k->name, sizeof k->name, "%s_%s", phase_prefix[n->phase], n->label);
        for (char *c = k->name; *c; c++)
            if (*c == '.') *c = '_';
    }
}
