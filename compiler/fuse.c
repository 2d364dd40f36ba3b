/* fuse.c — pass 5: group graph nodes into kernels, the functions the
 * emitted trainer calls in order.  Four rules, each fusing into the
 * kernel of a head node what would otherwise be a separate pass over memory:
 *
 *   epilogue  a GEMM op (linear, linear.grad_input) absorbs the elementwise
 *             op that alone consumes its result (an activation, or an
 *             activation's derivative): the GEMM's epilogue applies it while
 *             the tile is in cache, and the intermediate is never stored;
 *   loss      the loss and its gradient share one row loop in training
 *             (evaluation gets a loss-only kernel);
 *   per example  a kernel that makes its result one example at a time (a
 *             convolution) runs the pooling that reads it on each example
 *             while its planes are in cache;
 *   prologue  the other way round: an op that makes its result one
 *             example at a time (a pooling's gradient, with the elementwise
 *             ops after it) runs in the kernel that reads that result
 *             example by example (a convolution's input gradient), on each
 *             example just before it is packed;
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
    if (k->phase == PHASE_BACKWARD || k->phase == PHASE_UPDATE || node(g, head)->op->training_only) k->eval = 0;
    return k;
}

static void add(Kernel *k, int n, int *claimed) {
    k->nodes[k->nnodes++] = n;
    claimed[n] = 1;
}

/* The one node after `after` that reads value v's storage (through any of
 * its names), or -1 when none or several do. */
static int only_reader_after(const Graph *g, int v, int after) {
    const Value *s = storage_of(g, v);
    int found = -1;
    for (int i = after + 1; i < g->nnodes; i++) {
        const Node *nd = node(g, i);
        for (int k = 0; k < nd->nin; k++)
            if (storage_of(g, nd->in[k]) == s) {
                if (found >= 0) return -1;
                found = i;
                break;
            }
    }
    return found;
}

/* Whether a node after `after` and before `before` writes v's storage
 * (adds to it). */
static int written_between(const Graph *g, int v, int after, int before) {
    const Value *s = storage_of(g, v);
    for (int i = after + 1; i < before; i++)
        for (int k = 0; k < node(g, i)->nout; k++)
            if (storage_of(g, node(g, i)->out[k]) == s) return 1;
    return 0;
}

/* Whether no node after `after` touches v's storage but to read it as y. */
static int quiet_after(const Graph *g, int v, int after, int y) {
    const Value *s = storage_of(g, v);
    for (int i = after + 1; i < g->nnodes; i++) {
        int vs[KILN_NODE_VALUES], nv = node_values(node(g, i), vs);
        for (int k = 0; k < nv; k++)
            if (storage_of(g, vs[k]) == s && (vs[k] != y || k >= node(g, i)->nin)) return 0;
    }
    return 1;
}

/* Rule "epilogue": the elementwise ops that alone consume head's result,
 * one after another (relu after add after the product), while each reads
 * its predecessor's result as its main input and its other inputs are
 * ready before head runs.  A result added to later (another contribution
 * to a gradient) ends the chain: it must be stored.  A head that adds to a
 * gradient others wrote first (beta = 1) takes one op, when it is the last
 * contribution: the op's result is then stored where the sum was. */
static void fuse_epilogue(Graph *g, Kernel *k, int *claimed) {
    const Node *h = node(g, k->nodes[0]);
    if (!h->op->gemm_epilogue || h->nout != 1) return;
    int x = h->out[0], last = h->id, adds = h->acc[0];
    if (!adds && val(g, x)->contributions > 1) return;
    if (adds && written_between(g, x, h->id, g->nnodes)) return;   /* not the last contribution */
    while (k->nnodes < 8) {
        int r = only_reader_after(g, x, last);
        if (r < 0) return;
        Node *p = node(g, r);
        if (!p->op->pointwise || p->phase != h->phase || p->acc[0]) return;
        if (p->op->commutative && p->in[1] == x) {   /* the product's value becomes the main input */
            p->in[1] = p->in[0];
            p->in[0] = x;
        }
        if (p->in[p->op->main_input] != x) return;
        for (int j = 0; j < p->nin; j++) {
            if (j == p->op->main_input) continue;
            if (storage_of(g, p->in[j]) == storage_of(g, x)) return;   /* x is read only as the main input */
            if (storage_of(g, p->in[j])->producer > h->id || written_between(g, p->in[j], h->id, r))
                return;   /* complete before the epilogue runs */
        }
        if (adds && (val(g, p->out[0])->contributions > 1 || !quiet_after(g, x, r, p->out[0]))) return;
        add(k, r, claimed);
        if (adds) {   /* stored where the sum is: the chain ends here */
            val(g, p->out[0])->alias = x;
            return;
        }
        val(g, x)->fused = 1;
        if (val(g, p->out[0])->contributions > 1) return;   /* added to later: stored */
        x = p->out[0];
        last = r;
    }
}

/* Rule "per example": a kernel that makes its result example by example
 * (a convolution and its epilogue) takes the first op of its phase that
 * reads the result, when that op also works one example at a time (a
 * pooling; batch norm's statistics): it runs on each example's planes right
 * after they are written.  Other readers (batch norm's normalization) come
 * after the kernel; the result stays stored for them and for backward. */
static void fuse_per_example(Graph *g, Kernel *k, int *claimed) {
    const Node *h = node(g, k->nodes[0]), *last = node(g, k->nodes[k->nnodes - 1]);
    if (!h->op->hosts_examples || k->nnodes >= 8 || last->nout != 1 || last->acc[0]) return;
    int x = last->out[0], r[8], nr = readers(g, x, r, 8), found = -1;
    if (val(g, x)->fused || val(g, x)->contributions > 1 || nr > 8) return;
    for (int j = 0; j < nr && found < 0; j++)   /* readers come in graph order */
        if (node(g, r[j])->phase == h->phase) found = r[j];
    if (found < 0 || claimed[found]) return;
    const Node *p = node(g, found);
    if (!p->op->emit_example || p->acc[0] || written_between(g, x, last->id, found)) return;
    for (int j = 0; j < p->nin; j++)   /* its other inputs (max pooling's x) are ready before the kernel */
        if (p->in[j] != x && (storage_of(g, p->in[j])->producer > h->id || written_between(g, p->in[j], h->id, found)))
            return;
    add(k, found, claimed);
    /* and the elementwise ops that alone consume its result, run in place on the example's planes */
    int y = p->out[0], after = found;
    while (k->nnodes < 8 && val(g, y)->contributions <= 1) {
        int r2 = only_reader_after(g, y, after);
        if (r2 < 0) return;
        Node *q = node(g, r2);
        if (!q->op->pointwise || q->phase != h->phase || q->acc[0] || q->in[q->op->main_input] != y) return;
        for (int j = 0; j < q->nin; j++)
            if (j != q->op->main_input &&
                (storage_of(g, q->in[j]) == storage_of(g, y) || storage_of(g, q->in[j])->producer > h->id ||
                 written_between(g, q->in[j], h->id, r2)))
                return;
        add(k, r2, claimed);
        val(g, y)->fused = 1;
        y = q->out[0];
        after = r2;
    }
}

/* Rule "prologue": node n, an op that works one example at a time, and
 * the elementwise ops that alone consume its result, one after another,
 * when the first node to read the last result is a kernel head that hosts
 * a prologue and every node reading it comes at or after that head; none
 * of their inputs changes in between.  Returns that head (the chain in
 * chain[], its length in *len), or -1. */
static int prologue_host(const Graph *g, int n, int *chain, int *len) {
    const Node *p = node(g, n);
    if (!p->op->emit_example || p->phase != PHASE_BACKWARD || p->nout != 1 || p->acc[0]) return -1;
    int y = p->out[0];
    *len = 0;
    chain[(*len)++] = n;
    for (;;) {
        if (val(g, y)->contributions > 1) return -1;
        int r[8], nr = readers(g, y, r, 8);
        if (nr < 1 || nr > 8) return -1;
        const Node *q = node(g, r[0]);   /* the first reader, in graph order */
        if (q->op->hosts_prologue && q->in[0] == y && q->phase == p->phase) {
            for (int j = 0; j < *len; j++) {   /* the chain's inputs stay as they are until q */
                const Node *c = node(g, chain[j]);
                for (int i = 0; i < c->nin; i++)
                    if (written_between(g, c->in[i], chain[j], r[0])) return -1;
            }
            return r[0];
        }
        if (nr != 1 || !q->op->pointwise || q->phase != p->phase || q->acc[0] || q->in[q->op->main_input] != y ||
            *len >= 4)
            return -1;
        for (int j = 0; j < q->nin; j++)
            if (j != q->op->main_input && storage_of(g, q->in[j]) == storage_of(g, y)) return -1;
        chain[(*len)++] = r[0];
        y = q->out[0];
    }
}

/* Rule "update": every gradient head produces goes only to an update node
 * that can run in head's kernel, and no node between head and those updates
 * reads the parameters they change. */
static void fuse_updates(Graph *g, Kernel *k, int *claimed) {
    const Node *h = node(g, k->nodes[0]);
    /* data parallel: the ranks' gradients are summed between the backward
     * pass and the updates, so an update cannot run inside its gradient's product */
    if (!h->op->fuses_update || g->spec->mpi) return;
    int ups[2];
    for (int o = 0; o < h->nout; o++) {
        int r[2];
        if (readers(g, h->out[o], r, 2) != 1) return;
        const Node *u = node(g, r[0]);
        GemmUpdate how;
        if (u->phase != PHASE_UPDATE || u->in[UPDATE_GRAD] != h->out[o] || !u->op->gemm_update ||
            !u->op->gemm_update(u, &how))
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

/* prefix, then the labels of the first `upto` nodes (a prologue's
 * first: they run first), '.' made '_' */
static void name_kernel(const Graph *g, Kernel *k, const char *prefix, int upto) {
    size_t len = (size_t)snprintf(k->name, sizeof k->name, "%s", prefix);
    for (int o = 0; o < upto && len < sizeof k->name; o++) {
        int i = o < k->nprologue ? k->nnodes - k->nprologue + o : o - k->nprologue;
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
    int *prologue = xcalloc((size_t)g->nnodes * 4, sizeof *prologue), *nprologue = xcalloc((size_t)g->nnodes, sizeof *nprologue);
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (claimed[i]) continue;
        claimed[i] = 1;
        if (!n->op->emit) continue;

        int chain[4], len, host = prologue_host(g, i, chain, &len);
        if (host >= 0 && !claimed[host] && !nprologue[host]) {   /* runs later, in host's kernel */
            for (int j = 0; j < len; j++) {
                prologue[host * 4 + j] = chain[j];
                claimed[chain[j]] = 1;
                if (j + 1 < len) val(g, node(g, chain[j])->out[0])->fused = 1;
            }
            nprologue[host] = len;
            continue;
        }

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
        fuse_per_example(g, k, claimed);
        fuse_updates(g, k, claimed);
        if (k->nnodes + nprologue[i] > 8) fail("internal error: kernel %s: no room for its prologue", n->label);
        for (int j = 0; j < nprologue[i]; j++) {
            k->nodes[k->nnodes++] = prologue[i * 4 + j];
            k->nprologue++;
        }
        nprologue[i] = 0;   /* placed */
        name_kernel(g, k, phase_prefix[k->phase], k->nnodes);
    }
    for (int i = 0; i < g->nnodes; i++)
        if (nprologue[i]) fail("internal error: %s: its prologue has no kernel", node(g, i)->label);
    free(claimed);
    free(prologue);
    free(nprologue);
}
