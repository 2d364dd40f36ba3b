/* autodiff.c — pass 4: reverse-mode differentiation at build time.
 * Walks the forward graph backwards, asking each op's gradient rule to
 * append the nodes that compute its inputs' gradients, then asks the
 * optimizer to append one update node per parameter.  The result is plain
 * graph nodes: the trainer runs them as straight-line code, with no tape. */
#include <stdio.h>

#include "kiln.h"

int grad_of(Graph *g, int v) {
    if (val(g, v)->grad < 0) {
        char name[80];
        snprintf(name, sizeof name, "d.%s", val(g, v)->name);
        int d = graph_value(g, VAL_GRAD, name);
        val(g, d)->shape = val(g, v)->shape;
        val(g, v)->grad = d;
    }
    return val(g, v)->grad;
}

void autodiff(Graph *g) {
    int nforward = g->nnodes;

    /* which values lie on a path from a parameter to the loss */
    for (int i = 0; i < nforward; i++) {
        Node *n = node(g, i);
        int any = 0;
        for (int k = 0; k < n->nin; k++) any |= val(g, n->in[k])->needs_grad;
        for (int k = 0; k < n->nout; k++) val(g, n->out[k])->needs_grad = any;
    }

    for (int i = nforward - 1; i >= 0; i--) {
        Node *n = node(g, i);
        int any = 0;
        for (int k = 0; k < n->nin; k++) any |= val(g, n->in[k])->needs_grad;
        if (!any) continue;
        if (!n->op->grad) fail_at(&n->layer->loc, "%s: kiln cannot differentiate this op yet", n->label);
        int first = g->nnodes;
        Node copy = *n;   /* the rule appends nodes: n may move */
        copy.op->grad(g, &copy);
        for (int k = first; k < g->nnodes; k++) {
            node(g, k)->phase = PHASE_BACKWARD;
            node(g, k)->fwd = i;
        }
    }

    const Layer *opt = &g->spec->optimizer;
    for (int p = 0; p < g->nparams; p++) {
        int param = g->params[p];
        if (val(g, param)->grad < 0) continue;   /* does not affect the loss */
        int first = g->nnodes;
        opt->op->optim->update(g, opt, param, val(g, param)->grad);
        for (int k = first; k < g->nnodes; k++) node(g, k)->phase = PHASE_UPDATE;
    }
}
