/* loop.c — emitting elementwise kernels (loop.h). */
#include <stdio.h>

#include "../ops/ops.h"
#include "loop.h"

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
