/* plan.c — pass 6: the static memory plan.  Parameters are laid out in one
 * block (the order checkpoints use).  Every activation and gradient that
 * still needs a buffer after fusion gets a slice of one arena, sized for a
 * full batch; two buffers share memory when their lifetimes — from the
 * kernel that first writes one to the kernel that last reads it, in the
 * order the training step runs them — do not overlap.  Placement is
 * first-fit in order of first write: deterministic, and optimal for a
 * chain of layers.  Slices are 16-float (64-byte) aligned.
 *
 * A hidden layer's buffers are kept in column panels when every kernel
 * that touches them can address them so (choose_panels). */
#include <stdlib.h>

#include "kiln.h"
#include "ops/ops.h"

/* The bytes of static arrays (params, state and arena together) a trainer
 * can hold.  Under the x86-64 small code model that gcc and ld use by
 * default, a program's code and static data must fit in 2 GiB.  Measured
 * with gcc 12 -O3 (PIE, the Debian default): a trainer links while its
 * text + data + bss stay under 2^31 bytes, 64 KiB more and ld fails with
 * "relocation truncated to fit"; the runtime's own code and data take
 * about 0.75 MiB of it.  The 16 MiB of margin covers that, the per-row
 * arrays of the loss (a few bytes × the batch), the runtime growing, a
 * non-PIE build (loaded at 4 MiB) and sanitizers' redzones. */
#define KILN_MAX_STATIC_BYTES ((2L << 30) - (16L << 20))

static long align16(long n) { return (n + 15) & ~15L; }

static int stored(const Value *v) {
    return (v->kind == VAL_ACT || v->kind == VAL_GRAD) && v->alias < 0 && !v->fused;
}

long value_footprint(const Graph *g, const Value *v) {
    if (v->panels) return align16((long)v->panels * KILN_PANEL_WIDTH * g->spec->batch);
    return align16(shape_size(&v->shape) * (v->shape.batched ? g->spec->batch : 1));
}

/* Whether node j of kernel k may touch batch buffers kept in panels: the
 * head of a GEMM kernel whose op addresses its operands that way, or a
 * pointwise op its epilogue applies (dropout aside: its masks are keyed by
 * the element's place in memory). */
static int panels_ok(const Graph *g, const Kernel *k, int j) {
    const Node *head = node(g, k->nodes[0]), *n = node(g, k->nodes[j]);
    if (j == 0) return head->op->panels;
    return head->op->panels && n->op->pointwise && !n->op->training_mode;
}

static int is_batch_buffer(const Value *v) {
    return stored(v) && v->shape.batched && v->shape.rank == 1;
}

/* A value set to row-major; returns 1 if it was in panels. */
static int unpanel(Value *v) {
    int was = v->panels != 0;
    v->panels = 0;
    return was;
}

/* Column panels.  The threads split a hidden layer's (batch, F) buffers by
 * columns; row-major, each thread's part of a row sits between the others'
 * parts, and cores writing alternate pieces of the same rows slow each
 * other down (and fetch each other's lines).  In panels of
 * KILN_PANEL_WIDTH columns — all rows of a panel, then the next panel —
 * each thread's columns are one block.  Only buffers wider than one panel,
 * and only if every kernel touching them handles panels; an epilogue
 * reads its buffers at C's index, so those share C's layout. */
static void choose_panels(Graph *g) {
    for (int i = 0; i < g->nvals; i++) {
        Value *v = val(g, i);
        long f = v->shape.dim[0];
        v->panels = is_batch_buffer(v) && f > KILN_PANEL_WIDTH
                        ? (int)((f + KILN_PANEL_WIDTH - 1) / KILN_PANEL_WIDTH) : 0;
    }
    for (int k = 0; k < g->nkernels; k++) {
        const Kernel *kr = &g->kernels[k];
        for (int j = 0; j < kr->nnodes; j++) {
            if (panels_ok(g, kr, j)) continue;
            int vs[KILN_NODE_VALUES], nv = node_values(node(g, kr->nodes[j]), vs);
            for (int a = 0; a < nv; a++) unpanel((Value *)storage_of(g, vs[a]));
        }
    }
    for (int changed = 1; changed;) {   /* an epilogue's buffers: all in panels or none */
        changed = 0;
        for (int k = 0; k < g->nkernels; k++) {
            const Kernel *kr = &g->kernels[k];
            const Node *head = node(g, kr->nodes[0]);
            if (!head->op->panels || kr->nnodes < 2) continue;
            int ids[8 * KILN_NODE_VALUES], n = 0, any_rowmajor = 0;   /* a kernel's nodes × their values */
            for (int j = 1; j < kr->nnodes; j++) {
                int vs[KILN_NODE_VALUES], nv = node_values(node(g, kr->nodes[j]), vs);
                for (int a = 0; a < nv; a++) {
                    const Value *v = storage_of(g, vs[a]);
                    if (!is_batch_buffer(v)) continue;
                    ids[n++] = v->id;
                    if (!v->panels) any_rowmajor = 1;
                }
            }
            for (int j = 0; any_rowmajor && j < n; j++) changed |= unpanel(val(g, ids[j]));
        }
    }
}

/* first/last: the kernels that touch each stored value (through aliases). */
static void lifetimes(Graph *g) {
    for (int i = 0; i < g->nvals; i++) val(g, i)->first = val(g, i)->last = -1;
    for (int k = 0; k < g->nkernels; k++) {
        const Kernel *kr = &g->kernels[k];
        for (int j = 0; j < kr->nnodes; j++) {
            const Node *n = node(g, kr->nodes[j]);
            int vs[KILN_NODE_VALUES], nv = node_values(n, vs);
            for (int a = 0; a < nv; a++) {
                Value *v = (Value *)storage_of(g, vs[a]);
                if (v->first < 0) v->first = k;
                v->last = k;
            }
        }
    }
}

static int overlaps(long a0, long a1, long b0, long b1) { return a0 < b1 && b0 < a1; }

/* Values ids[0..n) back to back in one block; returns its size in floats. */
static long lay_out(Graph *g, const int *ids, int n) {
    long at = 0;
    for (int i = 0; i < n; i++) {
        Value *v = val(g, ids[i]);
        v->offset = at;
        at += align16(shape_size(&v->shape));
    }
    return at;
}

/* Floats that parameter p takes with its optimizer state (*state) and its
 * gradient's buffer, when it has one (*grad: an update fused into the
 * product that computes the gradient needs none); *user becomes the
 * forward node (the layer) that reads p. */
static long param_floats(const Graph *g, int p, long *state, long *grad, const Node **user) {
    const Value *dp = val(g, p)->grad >= 0 ? storage_of(g, val(g, p)->grad) : NULL;
    *grad = dp && stored(dp) ? value_footprint(g, dp) : 0;
    *state = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = node(g, i);
        if (n->phase == PHASE_FORWARD && !*user)
            for (int j = 0; j < n->nin; j++) *user = n->in[j] == p ? n : *user;
        if (n->phase == PHASE_UPDATE && n->in[UPDATE_PARAM] == p)
            for (int j = UPDATE_STATE; j < n->nin; j++) *state += align16(shape_size(&val(g, n->in[j])->shape));
    }
    return align16(shape_size(&val(g, p)->shape));
}

/* What passes kiln's checks must build: a model whose static arrays
 * (parameters, optimizer state, arena) would not link is refused here.
 * The layer is named whose parameters — with what grows with them: their
 * gradients' buffers and the optimizer's state — cross the limit; else the
 * model's line, for the arena its batch sizes. */
static void check_static_size(const Graph *g) {
    const double mib = 1 << 20;
    const long limit = KILN_MAX_STATIC_BYTES / (long)sizeof(float);
    if (g->params_size + g->state_size + g->arena_size <= limit) return;
    char call[64];
    long with_grads = 0, state = 0, grad = 0, any_grad = 0;
    for (int i = 0; i < g->nparams; i++) {
        const Node *user = NULL;
        with_grads += param_floats(g, g->params[i], &state, &grad, &user) + state + grad;
        any_grad |= grad;
        const char *also = any_grad && g->nstate ? ", their gradients and optimizer state"
                           : any_grad            ? " and their gradients"
                           : g->nstate           ? " and their optimizer state" : "";
        if (with_grads > limit && user)
            fail_at(&user->layer->loc, "%s: with this layer the parameters%s take %.1f MiB, above the %.0f MiB a "
                    "trainer's static arrays can hold; use fewer or smaller layers", layer_call(user, call), also,
                    (double)with_grads * sizeof(float) / mib, KILN_MAX_STATIC_BYTES / mib);
    }
    fail_at(&g->spec->loc, "model: batch %ld needs %.1f MiB of buffers besides %.1f MiB of parameters%s, above the "
            "%.0f MiB a trainer's static arrays can hold; use %s", g->spec->batch,
            (double)g->arena_size * sizeof(float) / mib, (double)(g->params_size + g->state_size) * sizeof(float) / mib,
            g->nstate ? " and their optimizer state" : "", KILN_MAX_STATIC_BYTES / mib,
            g->spec->batch > 1 ? "a smaller batch" : "fewer or smaller layers");
}

void plan(Graph *g) {
    g->params_size = lay_out(g, g->params, g->nparams);
    g->state_size = lay_out(g, g->state, g->nstate);

    choose_panels(g);
    lifetimes(g);
    int *placed = xcalloc((size_t)g->nvals, sizeof *placed);
    int nplaced = 0;
    g->arena_size = g->arena_unshared = 0;
    /* values in order of first write (ties: creation order) */
    for (int k = 0; k < g->nkernels; k++) {
        for (int i = 0; i < g->nvals; i++) {
            Value *v = val(g, i);
            if (!stored(v) || v->first != k) continue;
            long size = value_footprint(g, v);
            g->arena_unshared += size;
            /* lowest offset (0 or the end of a placed buffer) clear of every
             * placed buffer alive at the same time */
            long best = -1;
            for (int c = -1; c < nplaced; c++) {
                long at = c < 0 ? 0 : val(g, placed[c])->offset + value_footprint(g, val(g, placed[c]));
                int clash = 0;
                for (int o = 0; o < nplaced && !clash; o++) {
                    const Value *w = val(g, placed[o]);
                    int alive = !(w->last < v->first || v->last < w->first);
                    clash = alive && overlaps(at, at + size, w->offset, w->offset + value_footprint(g, w));
                }
                if (!clash && (best < 0 || at < best)) best = at;
            }
            v->offset = best;
            placed[nplaced++] = i;
            if (best + size > g->arena_size) g->arena_size = best + size;
        }
    }
    /* stored values no kernel touches (none today) still get a slice */
    for (int i = 0; i < g->nvals; i++) {
        Value *v = val(g, i);
        if (stored(v) && v->first < 0) {
            v->offset = g->arena_size;
            g->arena_size += value_footprint(g, v);
        }
    }
    free(placed);

    /* the plan's promise, checked: buffers alive at once never overlap */
    for (int i = 0; i < g->nvals; i++)
        for (int j = i + 1; j < g->nvals; j++) {
            const Value *a = val(g, i), *b = val(g, j);
            if (!stored(a) || !stored(b) || a->last < b->first || b->last < a->first) continue;
            if (overlaps(a->offset, a->offset + value_footprint(g, a), b->offset,
                         b->offset + value_footprint(g, b)))
                fail("internal error: memory plan puts %s and %s in the same place", a->name, b->name);
        }
    check_static_size(g);
}
