/* autodiff.c — pass 4: reverse-mode differentiation at build time.
 * Walks the forward graph backwards, asking each op's gradient rule to
 * append the nodes that compute its inputs' gradients, then asks the
 * optimizer to append one update node per parameter.  The result is plain
 * graph nodes: the trainer runs them as straight-line code, with no tape.
 *
 * On a DAG a value read by several nodes gets the sum of their
 * contributions, in the order the reverse walk meets them (so the same
 * for any thread count): the first contribution writes the gradient, each
 * later one adds to it in place (a GEMM with beta = 1, an elementwise +=),
 * never through a separate sum of buffers.  An identity contribution
 * (flatten, add) makes the gradient share its source's storage instead of
 * copying it.  Sharing is checked once the walk is done: if some node would
 * write through one name of a storage while another name of it is still to
 * be read, that sharing is undone (a copy instead) and the walk redone. */
#include <stdio.h>
#include <stdlib.h>

#include "kiln.h"
#include "ops/ops.h"

static const char *no_alias;   /* forward values whose gradient may not share storage (this walk) */

int grad_of(Graph *g, int v) {
    if (val(g, v)->grad < 0) {
        char name[80];
        snprintf(name, sizeof name, "d.%s", val(g, v)->name);
        int d = graph_value(g, VAL_GRAD, name);
        val(g, d)->shape = val(g, v)->shape;
        val(g, d)->of = v;
        val(g, v)->grad = d;
    }
    return val(g, v)->grad;
}

void grad_result(Graph *g, Node *n, int x) {
    int d = grad_of(g, x);
    if (val(g, d)->contributions++ == 0) node_result(g, n, d);
    else node_accumulate(g, n, d);
}

void grad_pass(Graph *g, const Node *fwd, int x, int dy) {
    int d = grad_of(g, x);
    if (val(g, d)->contributions == 0 && !no_alias[x]) {
        val(g, d)->alias = dy;
        val(g, d)->contributions = 1;
        return;
    }
    char label[80];
    snprintf(label, sizeof label, "%s.grad_pass", fwd->label);
    Node *c = graph_node(g, &node_grad_pass, fwd->layer, PHASE_BACKWARD, label);
    node_input(g, c, dy);
    grad_result(g, c, x);
}

/* The reverse walk over the first nforward nodes, then the updates. */
static void differentiate(Graph *g, int nforward) {
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

/* Whether y is x or shares x's storage by way of x (x is one of its aliases'
 * sources): what y holds was defined by what was written through x. */
static int derives(const Graph *g, int x, int y) {
    for (; y >= 0; y = val(g, y)->alias)
        if (y == x) return 1;
    return 0;
}

/* The forward value whose gradient must stop sharing storage for the
 * backward nodes to be right, or -1.  A conflict: a node reads through a
 * name y what a node before it (or itself, unless it works element by
 * element) wrote through another name x that y does not derive from. */
static int sharing_conflict(const Graph *g, int nforward) {
    /* per storage, the names written through so far: a list in head/next */
    int *head = malloc(sizeof *head * (size_t)g->nvals);
    int *name = calloc((size_t)g->nnodes * 2, sizeof *name), *next = calloc((size_t)g->nnodes * 2, sizeof *next);
    int nnames = 0, found = -1;
    for (int v = 0; v < g->nvals; v++) head[v] = -1;
    for (int i = nforward; i < g->nnodes && found < 0; i++) {
        const Node *n = node(g, i);
        for (int k = 0; k < n->nin && found < 0; k++) {
            int y = n->in[k], s = storage_of(g, y)->id;
            for (int w = head[s]; w >= 0 && found < 0; w = next[w])
                if (!derives(g, name[w], y)) found = val(g, name[w])->alias >= 0 ? name[w] : y;
            for (int o = 0; o < n->nout && found < 0 && !n->op->inplace; o++)
                if (n->out[o] != y && storage_of(g, n->out[o])->id == s)
                    found = val(g, n->out[o])->alias >= 0 ? n->out[o] : y;
        }
        for (int o = 0; o < n->nout; o++) {
            int x = n->out[o], s = storage_of(g, x)->id, seen = 0;
            for (int w = head[s]; w >= 0; w = next[w]) seen |= name[w] == x;
            if (seen) continue;
            name[nnames] = x;
            next[nnames] = head[s];
            head[s] = nnames++;
        }
    }
    free(head), free(name), free(next);
    if (found >= 0 && val(g, found)->of < 0)
        fail("internal error: autodiff: %s is read after another name of its storage was written", val(g, found)->name);
    return found < 0 ? -1 : val(g, found)->of;
}

void autodiff(Graph *g) {
    int nforward = g->nnodes, nvals = g->nvals, nstate = g->nstate;
    char *forbid = calloc((size_t)nvals, 1);
    no_alias = forbid;
    for (;;) {
        differentiate(g, nforward);
        int x = sharing_conflict(g, nforward);
        if (x < 0) break;
        if (x >= nvals || forbid[x]) fail("internal error: autodiff cannot untangle the gradient of %s", val(g, x)->name);
        forbid[x] = 1;
        /* back to the forward graph, and again */
        g->nnodes = nforward;
        g->nvals = nvals;
        g->nstate = nstate;
        for (int i = 0; i < nvals; i++) val(g, i)->grad = -1;
    }
    free(forbid);
    no_alias = NULL;
}
