/* compile.c — the pipeline of DESIGN.md, passes 1–6, from a spec's path (or
 * a Spec built in C, as kiln plot does) to a planned graph ready to emit or
 * print. */
#include "kiln.h"

void compile_graph(const Spec *spec, Graph *g) {
    graph_build(g, spec);            /* 2. forward IR */
    shape_infer(g);                  /* 3. every value gets a shape */
    if (g->nparams == 0)
        fail_at(&spec->loc, "model: nothing to train (no layer has parameters); add a linear layer");
    autodiff(g);                     /* 4. backward and update nodes */
    fuse(g);                         /* 5. nodes → kernels */
    plan(g);                         /* 6. parameter block and arena */
}

void compile_spec(const char *path, long batch, int mpi, Spec *spec, Graph *g) {
    spec_load(path, spec);           /* 1. run the spec in the sandbox */
    if (batch) spec->batch = batch;  /* kiln's --batch */
    spec->mpi = mpi;                 /* kiln's --mpi */
    compile_graph(spec, g);
}
