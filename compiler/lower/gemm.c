/* gemm.c — emitting kiln_gemm calls: operands and epilogues (gemm.h). */
#include <stdio.h>

#include "gemm.h"

void gemm_operand(Emit *e, const Graph *g, char x, int v, long ld) {
    if (storage_of(g, v)->panels)
        emit(e, "    .%c = %s, .ld%c = KILN_PANEL, .%c_panel_stride = PANEL_STRIDE,", x, cname(g, v), x, x);
    else
        emit(e, "    .%c = %s, .ld%c = %ld,", x, cname(g, v), x, ld);
}

void gemm_a_operand(Emit *e, const Graph *g, int v, long ld) {
    if (storage_of(g, v)->kind == VAL_INPUT && storage_of(g, v)->bytes)
        emit(e, "    .a_u8 = %s, .a_scale = INPUT_SCALE, .lda = %ld,", cname(g, v), ld);
    else
        gemm_operand(e, g, 'a', v, ld);
}

void gemm_epilogue(Emit *e, const Graph *g, const Kernel *k, const char *bias, const Node *p, long width,
                   const char *what) {
    char name[128];
    StrBuf expr = {0};
    if (p) {
        char at[128];
        if (storage_of(g, p->out[0])->panels)   /* (the piece lies in one panel) */
            snprintf(at, sizeof at, "PANEL_AT(i0 + i, j0) + j");
        else
            snprintf(at, sizeof at, "(i0 + i) * %ld + j0 + j", width);
        p->op->pointwise(&expr, g, p, "v", at);
    }
    int index = p && p->op->reads_index;   /* the expression reads i0 and j0 */
    emit(e, "/* %s, on each finished piece of the product: %s */", epilogue_name(k, name), what);
    emit(e, "static void %s(const kiln_gemm_op *op, int i0, int j0, int rows, int cols, float *c, int ldc)", name);
    emit(e, "{");
    e->indent++;
    emit(e, "(void)op;");
    if (!index) emit(e, "(void)i0;");
    if (!bias && !index) emit(e, "(void)j0;");
    emit(e, "for (int i = 0; i < rows; i++)");
    emit(e, "    for (int j = 0; j < cols; j++) {");
    if (!p) {
        emit(e, "        c[i * ldc + j] += %s[j0 + j];", bias);
    } else {
        if (bias) emit(e, "        const float v = c[i * ldc + j] + %s[j0 + j];", bias);
        else emit(e, "        const float v = c[i * ldc + j];");
        emit(e, "        c[i * ldc + j] = %s;", expr.data);
    }
    emit(e, "    }");
    e->indent--;
    emit(e, "}");
    emit_blank(e);
    sb_free(&expr);
}
