/* schedule.c — learning-rate schedules, the value of an optimizer's lr,
 * as PyTorch defines them; the rate changes between epochs (t counts them
 * from 0), never inside one:
 *
 *   step_lr {lr, every, gamma = 0.1}
 *     lr · gamma^⌊t / every⌋                         (StepLR)
 *   cosine_lr {lr, epochs = the spec's, warmup = 0, min_lr = 0}
 *     t < warmup:  lr · (t + 1) / (warmup + 1)      (LinearLR from 1/(warmup+1))
 *     after:       min_lr + (lr − min_lr) · (1 + cos(π · (t − warmup) / (epochs − warmup))) / 2
 *                                                    (CosineAnnealingLR, T_max = epochs − warmup)
 *
 * The trainer computes the rate (runtime/schedule.c) from the schedule the
 * generated C describes; here the spec's call is checked and described. */
#include <stdio.h>

#include "ops.h"

void rate_check(Call *c, const char *what, double lr) {
    if (!(lr > 0) || lr > 1e6) call_fail(c, "%s must be above 0 and at most 1e6, got %g", what, lr);
}

/* A whole number of epochs from lo to 10^6, or fail. */
static long check_epochs(Call *c, const char *what, double v, long lo) {
    if (v != (double)(long)v || v < (double)lo || v > 1e6)
        call_fail(c, "%s must be a whole number from %ld to 1000000, got %g", what, lo, v);
    return (long)v;
}

static const char *const step_opts[] = { "lr", "every", "gamma", NULL };

static void step_parse(Call *c, Layer *out) {
    Rate *r = out->attr;
    double every;
    call_max_args(c, 1);
    *r = (Rate){ .op = &op_step_lr, .gamma = 0.1, .loc = c->loc };
    if (!call_opts(c, 1, step_opts) || !call_opt_number(c, 1, "lr", &r->lr) ||
        !call_opt_number(c, 1, "every", &every))
        call_fail(c, "needs a base rate and a period, e.g. step_lr {lr = 0.1, every = 5, gamma = 0.1}");
    rate_check(c, "lr", r->lr);
    r->every = check_epochs(c, "every", every, 1);
    call_opt_number(c, 1, "gamma", &r->gamma);
    if (!(r->gamma > 0) || r->gamma > 1) call_fail(c, "gamma must be above 0 and at most 1, got %g", r->gamma);
}

static const char *const cosine_opts[] = { "lr", "epochs", "warmup", "min_lr", NULL };

static void cosine_parse(Call *c, Layer *out) {
    Rate *r = out->attr;
    double v;
    call_max_args(c, 1);
    *r = (Rate){ .op = &op_cosine_lr, .loc = c->loc };
    if (!call_opts(c, 1, cosine_opts) || !call_opt_number(c, 1, "lr", &r->lr))
        call_fail(c, "needs a base rate, e.g. cosine_lr {lr = 0.1, warmup = 2}");
    rate_check(c, "lr", r->lr);
    if (call_opt_number(c, 1, "epochs", &v)) r->epochs = check_epochs(c, "epochs", v, 1);
    if (call_opt_number(c, 1, "warmup", &v)) r->warmup = check_epochs(c, "warmup", v, 0);
    if (call_opt_number(c, 1, "min_lr", &r->min_lr) && (r->min_lr < 0 || r->min_lr > r->lr))
        call_fail(c, "min_lr must be from 0 to lr (%g), got %g", r->lr, r->min_lr);
    if (r->epochs && r->warmup >= r->epochs)
        call_fail(c, "warmup (%ld) must be below epochs (%ld): the cosine needs at least one epoch", r->warmup,
                  r->epochs);
}

void rate_resolve(Rate *r, long spec_epochs) {
    if (r->op != &op_cosine_lr || r->epochs) return;
    if (r->warmup >= spec_epochs)
        fail_at(&r->loc, "cosine_lr: warmup (%ld) must be below the epochs it spans (the model's epochs, %ld); "
                "give cosine_lr {epochs = N} with N above %ld, or the model more epochs", r->warmup, spec_epochs,
                r->warmup);
    r->epochs = spec_epochs;
}

const char *rate_describe(const Rate *r, char *buf, size_t n) {
    if (r->op == &op_step_lr)
        snprintf(buf, n, "step_lr {lr = %g, every = %ld, gamma = %g}", r->lr, r->every, r->gamma);
    else if (r->op == &op_cosine_lr)
        snprintf(buf, n, "cosine_lr {lr = %g, epochs = %ld, warmup = %ld, min_lr = %g}", r->lr, r->epochs, r->warmup,
                 r->min_lr);
    else snprintf(buf, n, "%g", r->lr);
    return buf;
}

void rate_emit(Emit *e, const Rate *r) {
    char lr[40], x[40];
    double_literal(lr, r->lr);
    if (r->op == &op_step_lr)
        emit(e, "    .schedule = { .kind = KILN_LR_STEP, .lr = %s, .every = %ld, .gamma = %s },", lr, r->every,
             double_literal(x, r->gamma));
    else if (r->op == &op_cosine_lr)
        emit(e, "    .schedule = { .kind = KILN_LR_COSINE, .lr = %s, .epochs = %ld, .warmup = %ld, .min_lr = %s },", lr,
             r->epochs, r->warmup, double_literal(x, r->min_lr));
    else emit(e, "    .schedule = { .kind = KILN_LR_CONSTANT, .lr = %s },", lr);
}

const OpDef op_step_lr = { .name = "step_lr", .kind = OP_SCHEDULE, .attr_size = sizeof(Rate), .parse = step_parse };
const OpDef op_cosine_lr = {
    .name = "cosine_lr", .kind = OP_SCHEDULE, .attr_size = sizeof(Rate), .parse = cosine_parse,
};
