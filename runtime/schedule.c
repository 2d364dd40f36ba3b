/* schedule.c — the learning rate of an epoch under the spec's schedule
 * (kiln_rt.h gives the formulas: PyTorch's StepLR, LinearLR warm-up and
 * CosineAnnealingLR, stepped once an epoch).  The closed forms, in double:
 * PyTorch steps its schedulers by multiplying, which agrees to rounding. */
#include "kiln_rt.h"

#include <math.h>

double kiln_lr_at(const kiln_schedule *s, double lr, long epoch)
{
    long t = epoch - 1;
    if (s->kind == KILN_LR_STEP) return lr * pow(s->gamma, (double)(t / s->every));
    if (s->kind != KILN_LR_COSINE) return lr;
    if (t < s->warmup) return lr * (double)(t + 1) / (double)(s->warmup + 1);
    const double pi = 3.14159265358979323846;
    double span = (double)(s->epochs - s->warmup), x = (double)(t - s->warmup);
    return s->min_lr + (lr - s->min_lr) * (1 + cos(pi * x / span)) / 2;
}
