/* shape.c — pass 3: give every value a shape before any code is emitted.
 * Each op's shape rule checks its inputs and sets its outputs (creating
 * parameters as it goes); a mismatch fails at the layer's line in the spec. */
#include "kiln.h"

void shape_infer(Graph *g) {
    for (int i = 0; i < g->nnodes; i++) {
        Node *n = node(g, i);
        n->op->shape(g, n);
        for (int k = 0; k < n->nout; k++) {
            const Value *v = val(g, n->out[k]);
            long per = shape_size(&v->shape);
            if (per > KILN_MAX_TENSOR || (v->shape.batched && per * g->spec->batch > KILN_MAX_TENSOR))
                fail_at(&n->layer->loc, "%s: output holds %ld values per example at batch %ld, above kiln's "
                        "limit of %ld values per tensor", n->label, per, g->spec->batch, KILN_MAX_TENSOR);
        }
    }
}
