/* plan.c — pass 6: the static memory plan.  Parameters are laid out in one
 * block (the order checkpoints use); every activation and gradient that
 * needs storage gets a slice of one arena, sized for a full batch.  Views
 * (aliases) share their source's slice; the input batch and the labels come
 * from the runtime.  Slices are 16-float aligned (64 bytes). */
#include "kiln.h"

static long align16(long n) { return (n + 15) & ~15L; }

void plan(Graph *g) {
    long p = 0;
    for (int i = 0; i < g->nparams; i++) {
        Value *v = val(g, g->params[i]);
        v->offset = p;
        p += align16(shape_size(&v->shape));
    }
    g->params_size = p;

    long a = 0;
    for (int i = 0; i < g->nvals; i++) {
        Value *v = val(g, i);
        if ((v->kind != VAL_ACT && v->kind != VAL_GRAD) || v->alias >= 0) continue;
        v->offset = a;
        a += align16(shape_size(&v->shape) * (v->shape.batched ? g->spec->batch : 1));
    }
    g->arena_size = a;
}
