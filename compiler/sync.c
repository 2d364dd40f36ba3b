/* sync.c — where a step's team must wait.  The kernels of a step run in one
 * parallel region, each splitting its work among the threads without
 * waiting at its end; the emitter puts kiln_sync() before a kernel that
 * touches memory a kernel since the last sync touched, when either of them
 * writes it (read after write, write after read, write after write).
 * Memory, not values: buffers the plan lets share arena space conflict
 * too. */
#include "kiln.h"

typedef enum { MEM_PARAMS, MEM_STATE, MEM_ARENA, MEM_OTHER } Block;

typedef struct {
    Block block;
    long  at, size;   /* floats; MEM_OTHER: one slot per value id */
    int   write;
} Access;

static Access access_of(const Graph *g, int id, int write) {
    const Value *v = storage_of(g, id);
    long size = shape_size(&v->shape) * (v->shape.batched ? g->spec->batch : 1);
    switch (v->kind) {
    case VAL_PARAM: return (Access){ MEM_PARAMS, v->offset, size, write };
    case VAL_STATE: return (Access){ MEM_STATE, v->offset, size, write };
    case VAL_ACT:
    case VAL_GRAD: return (Access){ MEM_ARENA, v->offset, value_footprint(g, v), write };
    default: return (Access){ MEM_OTHER, v->id, 1, write };   /* the batch, the loss */
    }
}

/* Everything kernel k reads and writes: its nodes' inputs and outputs, and
 * for an optimizer's update node the parameter and state it changes in
 * place.  Values fused inside the kernel have no memory. */
static int kernel_accesses(const Graph *g, const Kernel *k, Access *out, int max) {
    int n = 0;
    for (int i = 0; i < k->nnodes; i++) {
        const Node *nd = node(g, k->nodes[i]);
        for (int j = 0; j < nd->nin + nd->nout; j++) {
            int id = j < nd->nin ? nd->in[j] : nd->out[j - nd->nin];
            int write = j >= nd->nin || (nd->phase == PHASE_UPDATE && j != UPDATE_GRAD);   /* an update changes all but ∇p */
            if (storage_of(g, id)->fused) continue;
            if (n == max) fail("internal error: kernel %s touches more than %d buffers", k->name, max);
            out[n++] = access_of(g, id, write);
        }
    }
    return n;
}

int kernels_conflict(const Graph *g, const Kernel *a, const Kernel *b) {
    Access x[8 * KILN_NODE_VALUES], y[8 * KILN_NODE_VALUES];   /* a kernel's nodes × their values */
    int nx = kernel_accesses(g, a, x, 8 * KILN_NODE_VALUES), ny = kernel_accesses(g, b, y, 8 * KILN_NODE_VALUES);
    for (int i = 0; i < nx; i++)
        for (int j = 0; j < ny; j++)
            if (x[i].block == y[j].block && (x[i].write || y[j].write) && x[i].at < y[j].at + y[j].size &&
                y[j].at < x[i].at + x[i].size)
                return 1;
    return 0;
}
