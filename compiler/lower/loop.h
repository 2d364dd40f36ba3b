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

/* The elementwise ops fused after kernel k's head (k->nodes[1…]), each on
 * its predecessor's result: given `const float v` (the head's element, at
 * flat index `at` of a (batch, features) buffer), the statements that store
 * the last op's result in dest. */
void emit_chain(Emit *e, const Graph *g, const Kernel *k, const char *at, const char *dest);
/* The same ops as a loop over one example's size elements of buf (example
 * `row`), in place: the epilogue of a kernel that is not a product. */
void epilogue_loop(Emit *e, const Graph *g, const Kernel *k, const char *buf, const char *row, long size);

#endif
