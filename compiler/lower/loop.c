/* loop.c — emitting elementwise kernels (loop.h). */
#include <stdio.h>

#include "../ops/ops.h"
#include "gemm.h"
#include "loop.h"

void emit_chain(Emit *e, const Graph *g, const Kernel *k, const char *at, const char *dest) {
    char in[16] = "v";
    for (int i = 1; i < k->nnodes; i++) {   /* each op on its predecessor's result */
        const Node *p = node(g, k->nodes[i]);
        StrBuf expr = {0};
        p->op->pointwise(&expr, g, p, in, at);
        if (i + 1 < k->nnodes) {
            emit(e, "const float v%d = %s;", i, expr.data);
            snprintf(in, sizeof in, "v%d", i);
        } else {
            emit(e, "%s = %s;", dest, expr.data);
        }
        sb_free(&expr);
    }
}

void epilogue_loop(Emit *e, const Graph *g, const Kernel *k, const char *buf, const char *row, long size) {
    char at[96], dest[64];
    StrBuf formula = {0};
    epilogue_formula(&formula, g, k, buf);
    snprintf(at, sizeof at, "(size_t)%s * %ld + p", row, size);
    snprintf(dest, sizeof dest, "%s[p]", buf);
    emit(e, "for (int p = 0; p < %ld; p++) {  /* %s, in place */", size, formula.data);
    e->indent++;
    emit(e, "const float v = %s[p];", buf);
    emit_chain(e, g, k, at, dest);
    e->indent--;
    emit(e, "}");
    sb_free(&formula);
}

void pointwise_kernel(Emit *e, const Graph *g, const Kernel *k, const char *what) {
    const Node *n = node(g, k->nodes[0]);
    const char *y = cname(g, n->out[0]);
    char elem[96];
    snprintf(elem, sizeof elem, "%s[i]", cname(g, n->in[n->op->main_input]));
    StrBuf body = {0};
    n->op->pointwise(&body, g, n, elem, "i");
    kernel_begin(e, g, k);
    emit(e, "/* %s */", what);
    emit(e, "#pragma omp for nowait");
    emit(e, "for (int i = 0; i < n * %ld; i++)", features(g, n->out[0]));
    emit(e, "    %s[i] %s %s;", y, assign_op(n, 0), body.data);
    kernel_end(e);
    sb_free(&body);
}
