/* fuse.c — pass 5: group graph nodes into kernels, the functions the
 * emitted trainer calls in order.  Three rules, each fusing into the
 * kernel of a head node what would otherwise be a separate pass over memory:
 *
 *   epilogue  a GEMM op (linear, linear.grad_input) absorbs the elementwise
 *             op that alone consumes its result (an activation, or an
 *             activation's derivative): the GEMM's epilogue applies it while
 *             the tile is in cache, and the intermediate is never stored;
 *   loss      the loss and its gradient share one row loop in training
 *             (evaluation gets a loss-only kernel);
 *   update    an update of the form p ← β·p + α·∇p (sgd, with or without
 *             weight decay) goes into the kernel computing ∇p, which then
 *             writes p directly (a GEMM's alpha and beta): no gradient
 *             buffer — if nothing after it still reads the old parameter.
 *
 * Nodes without code (views such as flatten) get no kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln.h"

static const char *const phase_prefix[] = { "forward", "loss", "backward", "update" };

/* The nodes reading value v (at most max), in graph order. */
static int readers(const Graph *g, int v, int *out, int max) {
    int n = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *nd = node(g, i);
        for (int k = 0; k < nd->nin; k++)
            if (nd->in[k] == v) {
                if (n < max) out[n] = i;
                n++;
                break;
            }
    }
    return n;
}

static Kernel *new_kernel(Graph *g, int head) {
    Kernel *k = &g->kernels[g->nkernels];
    memset(k, 0, sizeof *k);
    k->id = g->nkernels++;
    k->nodes[k->nnodes++] = head;
    k->phase = node(g, head)->phase;
    k->train = k->eval = 1;
    if (k->phase == PHASE_BACKWARD || k->phase == PHASE_UPDATE) k->eval = 0;
    return k;
}

static void add(Kernel *k, int n, int *claimed) {
    k->nodes[k->nnodes++] = n;
    claimed[n] = 1;
}

/* Rule "epilogue": the single reader of head's result, if elementwise. */
static void fuse_epilogue(Graph *g, Kernel *k, int *claimed) {
    const Node *h = node(g, k->nodes[0]);
    if (!h->op->gemm_epilogue || h->nout != 1) return;
    int r[2];
    if (readers(g, h->out[0], r, 2) != 1) return;
    const Node *p = node(g, r[0]);
    if (!p->op->pointwise || p->phase != h->phase || p->in[p->op->main_input] != h->out[0]) return;
    add(k, r[0], claimed);
    val(g, h->out[0])->fused = 1;
}

/* Rule "update": every gradient head produces goes only to an update node
 * that can run in head's kernel, and no node between head and those updates
 * reads the parameters they change. */
static void fuse_updates(Graph *g, Kernel *k, int *claimed) {
    const Node *h = node(g, k->nodes[0]);
    if (!h->op->fuses_update) return;
    int ups[2];
    for (int o = 0; o < h->nout; o++) {
        int r[2];
        if (readers(g, h->out[o], r, 2) != 1) return;
        const Node *u = node(g, r[0]);
        double alpha, beta;
        if (u->phase != PHASE_UPDATE || u->in[UPDATE_GRAD] != h->out[o] || !u->op->gemm_update ||
            !u->op->gemm_update(u, &alpha, &beta))
            return;
        ups[o] = r[0];
    }
    for (int o = 0; o < h->nout; o++) {
        int param = node(g, ups[o])->in[UPDATE_PARAM];
        for (int i = h->id + 1; i < g->nnodes; i++) {
            if (i == ups[0] || (h->nout > 1 && i == ups[1])) continue;
            const Node *nd = node(g, i);
            for (int j = 0; j < nd->nin; j++)
                if (nd->in[j] == param) return;
        }
    }
    for (int o = 0; o < h->nout; o++) {
        add(k, ups[o], claimed);
        val(g, h->out[o])->fused = 1;
    }
}

/* prefix, then the labels of the first `upto` nodes, '.' made '_' */
static void name_kernel(const Graph *g, Kernel *k, const char *prefix, int upto) {
    size_t len = (size_t)snprintf(k->name, sizeof k->name, "%s", prefix);
    for (int i = 0; i < upto && len < sizeof k->name; i++) {
        const Node *n = node(g, k->nodes[i]);
        if (n->phase == PHASE_UPDATE && i > 0 && node(g, k->nodes[i - 1])->phase == PHASE_UPDATE) continue;
        /* a fused update is named by its optimizer ("sgd"), once */
        const char *label = n->phase == PHASE_UPDATE && i > 0 ? n->layer->op->name : n->label;
        len += (size_t)snprintf(k->name + len, sizeof k->name - len, "_%s", label);
    }
    for (char *c = k->name; *c; c++)
        if (*c == '.') *c = '_';
}

void fuse(Graph *g) {
    g->kernels = xcalloc((size_t)g->nnodes * 2 + 1, sizeof *g->kernels);
    g->nkernels = 0;
    int *claimed = xcalloc((size_t)g->nnodes, sizeof *claimed);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (claimed[i]) continue;
        claimed[i] = 1;
        if (!n->op->emit) continue;

        if (n->phase == PHASE_LOSS) {
            /* evaluation: the loss alone; training: loss and gradient together */
            Kernel *ev = new_kernel(g, i);
            ev->train = 0;
            name_kernel(g, ev, "loss", 1);
            int r[4], nr = readers(g, n->in[LOSS_OUTPUT], r, 4);
            for (int j = 0; j < nr && j < 4; j++) {
                const Node *gr = node(g, r[j]);
                if (gr->phase != PHASE_BACKWARD || gr->fwd != i) continue;
                Kernel *tr = new_kernel(g, i);
                tr->eval = 0;
                add(tr, r[j], claimed);
                name_kernel(g, tr, "loss_and_grad", 1);
                ev = NULL;
                break;
            }
            if (ev) ev->train = 1;   /* no gradient node: one kernel serves both */
            continue;
        }
        Kernel *k = new_kernel(g, i);
        fuse_epilogue(g, k, claimed);
        fuse_updates(g, k, claimed);
        name_kernel(g, k, phase_prefix[k->phase], k->nnodes);
    }
    free(claimed);
}
