/* loop.h — emitting a kernel that is one elementwise op: a parallel loop
 * over its output's elements.  For activations, dropout, add and the
 * gradient copies: any op with a pointwise hook. */
#ifndef KILN_LOWER_LOOP_H
#define KILN_LOWER_LOOP_H

#include "../kiln.h"

/* Kernel k (one node) as `out[i] = expr` over the n × features elements of
 * its output, expr from its op's pointwise hook on its main input (`+=`
 * where the node adds to a gradient), the team sharing the elements;
 * `what` is the comment's formula. */
void pointwise_kernel(Emit *e, const Graph *g, const Kernel *k, const char *what);

#endif
