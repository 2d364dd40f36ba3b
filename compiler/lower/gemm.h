/* gemm.h — emitting a call of the runtime's kiln_gemm: its operands (floats,
 * the raw input bytes scaled while packed, or buffers kept in column
 * panels) and an epilogue that applies a bias and an elementwise op to each
 * finished piece of the product.  For every op that lowers to a product:
 * linear today, convolution next. */
#ifndef KILN_LOWER_GEMM_H
#define KILN_LOWER_GEMM_H

#include "../kiln.h"

/* The line ".X = buffer, .ldX = ld," of operand X ('a', 'b' or 'c') reading
 * value v, rows ld floats apart — or, for a buffer kept in column panels,
 * its panel layout. */
void gemm_operand(Emit *e, const Graph *g, char x, int v, long ld);
/* Operand A reading value v: the raw input bytes (scaled as they are
 * packed) or floats, as gemm_operand. */
void gemm_a_operand(Emit *e, const Graph *g, int v, long ld);
/* An epilogue function for kernel k (a product, then the elementwise ops
 * fuse.c put after it, k->nodes[1…], each on its predecessor's result)
 * that adds `bias` (a per-column vector, or NULL) and applies the ops to
 * each finished piece of the product.  The ops index their other buffers
 * as (batch, width), or in column panels like C (a piece never spans two
 * panels).  `what` is the comment's formula. */
void gemm_epilogue(Emit *e, const Graph *g, const Kernel *k, const char *bias, long width, const char *what);
/* The formula of k's elementwise ops applied to inner, e.g.
 * "relu(add(inner, relu1))", into sb. */
void epilogue_formula(StrBuf *sb, const Graph *g, const Kernel *k, const char *inner);

#endif
