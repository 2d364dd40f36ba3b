/* init.c — parameter initializers: normal(mean, std), uniform(lo, hi),
 * zeros(), and the rules xavier() (Glorot uniform: ±√(6 / (fan_in +
 * fan_out))) and kaiming() (He normal for ReLU: std √(2 / fan_in)), which
 * the layer resolves into uniform or normal once it knows its fan-in and
 * fan-out.  Each writes one runtime fill call into the trainer's init();
 * draws come from the trainer's seeded RNG in parameter order. */
#include <math.h>

#include "ops.h"

static void normal_parse(Call *c, Layer *out) {
    call_max_args(c, 2);
    out->init = (Init){ &op_normal, call_number(c, 1, "mean"), call_number(c, 2, "std"), c->loc };
    if (out->init.b < 0) call_fail(c, "std must be 0 or more, got %g", out->init.b);
}

static void uniform_parse(Call *c, Layer *out) {
    call_max_args(c, 2);
    out->init = (Init){ &op_uniform, call_number(c, 1, "lo"), call_number(c, 2, "hi"), c->loc };
    if (out->init.a > out->init.b) call_fail(c, "lo (%g) is above hi (%g)", out->init.a, out->init.b);
}

static void zeros_parse(Call *c, Layer *out) {
    call_max_args(c, 0);
    out->init = (Init){ &op_zeros, 0, 0, c->loc };
}

static void xavier_parse(Call *c, Layer *out) {
    call_max_args(c, 0);
    out->init = (Init){ &op_xavier, 0, 0, c->loc };
}

static void kaiming_parse(Call *c, Layer *out) {
    call_max_args(c, 0);
    out->init = (Init){ &op_kaiming, 0, 0, c->loc };
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

static void zeros_emit(Emit *e, const Init *in, const char *t, long size) {
    (void)in;
    emit(e, "kiln_fill_constant(%s, %ld, 0.0f);", t, size);
}

const OpDef op_normal = { .name = "normal", .kind = OP_INIT, .parse = normal_parse, .emit_init = normal_emit };
const OpDef op_uniform = { .name = "uniform", .kind = OP_INIT, .parse = uniform_parse, .emit_init = uniform_emit };
const OpDef op_xavier = { .name = "xavier", .kind = OP_INIT, .parse = xavier_parse, .resolve = xavier_resolve };
const OpDef op_kaiming = { .name = "kaiming", .kind = OP_INIT, .parse = kaiming_parse, .resolve = kaiming_resolve };
const OpDef op_zeros = { .name = "zeros", .kind = OP_INIT, .parse = zeros_parse, .emit_init = zeros_emit };
