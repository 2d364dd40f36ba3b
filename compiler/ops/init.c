/* init.c — parameter initializers: normal(mean, std), uniform(lo, hi),
 * zeros(), and the rules xavier() (Glorot uniform: ±√(6 / (fan_in +
 * fan_out))) and kaiming() (He normal for ReLU: std √(2 / fan_in)), which
 * the layer resolves into uniform or normal once it knows its fan-in and
 * fan-out.  Each writes one runtime fill call into the trainer's init();
 * draws come from the trainer's seeded RNG in parameter order. */
#include <math.h>

#include "ops.h"

/* An initializer's attributes are an Init: the op, its two numbers and
 * where the spec wrote it. */
static void normal_parse(Call *c, Layer *out) {
    Init *in = out->attr;
    call_max_args(c, 2);
    *in = (Init){ &op_normal, call_number(c, 1, "mean"), call_number(c, 2, "std"), c->loc };
    if (in->b < 0) call_fail(c, "std must be 0 or more, got %g", in->b);
}

static void uniform_parse(Call *c, Layer *out) {
    Init *in = out->attr;
    call_max_args(c, 2);
    *in = (Init){ &op_uniform, call_number(c, 1, "lo"), call_number(c, 2, "hi"), c->loc };
    if (in->a > in->b) call_fail(c, "lo (%g) is above hi (%g)", in->a, in->b);
}

/* zeros(), xavier(), kaiming(): no arguments */
static void rule_parse(Call *c, Layer *out) {
    call_max_args(c, 0);
    *(Init *)out->attr = (Init){ out->op, 0, 0, c->loc };
}

static void xavier_resolve(Init *in, long fan_in, long fan_out) {
    double bound = sqrt(6.0 / (double)(fan_in + fan_out));
    *in = (Init){ &op_uniform, -bound, bound, in->loc };
}

static void kaiming_resolve(Init *in, long fan_in, long fan_out) {
    (void)fan_out;
    *in = (Init){ &op_normal, 0.0, sqrt(2.0 / (double)fan_in), in->loc };
}

static void normal_emit(Emit *e, const Init *in, const char *t, long size) {
    emit(e, "kiln_fill_normal(%s, %ld, %.17g, %.17g, rng);", t, size, in->a, in->b);
}

static void uniform_emit(Emit *e, const Init *in, const char *t, long size) {
    emit(e, "kiln_fill_uniform(%s, %ld, %.17g, %.17g, rng);", t, size, in->a, in->b);
}

/* zeros() in a spec; kiln's own constants (batch norm's scale of 1) set a. */
static void zeros_emit(Emit *e, const Init *in, const char *t, long size) {
    char v[40];
    emit(e, "kiln_fill_constant(%s, %ld, %s);", t, size, float_literal(v, in->a));
}

static const InitOp init_normal = { .emit_init = normal_emit, .draws = 1 };
static const InitOp init_uniform = { .emit_init = uniform_emit, .draws = 1 };
static const InitOp init_zeros = { .emit_init = zeros_emit };
static const InitOp init_xavier = { .resolve = xavier_resolve };
static const InitOp init_kaiming = { .resolve = kaiming_resolve };

#define INIT_OP(NAME, PARSE) \
    const OpDef op_##NAME = { .name = #NAME, .kind = OP_INIT, .attr_size = sizeof(Init), .parse = PARSE, .init = &init_##NAME };
INIT_OP(normal, normal_parse)
INIT_OP(uniform, uniform_parse)
INIT_OP(zeros, rule_parse)
INIT_OP(xavier, rule_parse)
INIT_OP(kaiming, rule_parse)
