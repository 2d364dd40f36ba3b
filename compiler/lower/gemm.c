/* gemm.c — emitting kiln_gemm calls: operands and epilogues (gemm.h). */
#include <stdio.h>

#include "gemm.h"
#include "loop.h"

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

void epilogue_formula(StrBuf *sb, const Graph *g, const Kernel *k, const char *inner) {
    StrBuf text = {0};
    sb_printf(&text, "%s", inner);
    for (int i = 1; i < k->nnodes; i++) {
        const Node *p = node(g, k->nodes[i]);
        StrBuf next = {0};
        sb_printf(&next, "%s(%s", p->op->name, text.data);
        for (int j = 0; j < p->nin; j++)
            if (j != p->op->main_input) sb_printf(&next, ", %s", cname(g, p->in[j]));
        sb_printf(&next, ")");
        sb_free(&text);
        text = next;
    }
    sb_printf(sb, "%s", text.data);
    sb_free(&text);
}

void gemm_epilogue(Emit *e, const Graph *g, const Kernel *k, const char *bias, long width, const char *what) {
    char name[128], at[128];
    const Node *last = node(g, k->nodes[k->nnodes - 1]);
    if (storage_of(g, last->out[0])->panels)   /* (the piece lies in one panel) */
        snprintf(at, sizeof at, "PANEL_AT(i0 + i, j0) + j");
    else
        snprintf(at, sizeof at, "(i0 + i) * %ld + j0 + j", width);
    int index = 0;   /* an op reads i0 and j0 */
    for (int i = 1; i < k->nnodes; i++) index |= node(g, k->nodes[i])->op->reads_index;
    emit(e, "/* %s, on each finished piece of the product: %s */", epilogue_name(k, name), what);
    emit(e, "static void %s(const kiln_gemm_op *op, int i0, int j0, int rows, int cols, float *c, int ldc)", name);
    emit(e, "{");
    e->indent++;
    emit(e, "(void)op;");
    if (!index) emit(e, "(void)i0;");
    if (!bias && !index) emit(e, "(void)j0;");
    emit(e, "for (int i = 0; i < rows; i++)");
    emit(e, "    for (int j = 0; j < cols; j++) {");
    if (k->nnodes == 1) {
        emit(e, "        c[i * ldc + j] += %s[j0 + j];", bias);
    } else {
        if (bias) emit(e, "        const float v = c[i * ldc + j] + %s[j0 + j];", bias);
        else emit(e, "        const float v = c[i * ldc + j];");
        e->indent += 2;
        emit_chain(e, g, k, at, "c[i * ldc + j]");
        e->indent -= 2;
    }
    emit(e, "    }");
    e->indent--;
    emit(e, "}");
    emit_blank(e);
}
