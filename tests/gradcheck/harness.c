/* harness.c — gradient check: the backward pass kiln emitted agrees with
 * central finite differences of the forward pass it emitted.
 *
 * Built once per spec in tests/gradcheck/, with the generated trainer
 * included (-DMODEL_C='"path.c"').  Specs use sgd{lr = 1}, so one
 * train_step moves every parameter by exactly its gradient:
 *   analytic g = p_before − p_after          (the real, emitted update path)
 *   numeric  g = (L(p + h) − L(p − h)) / 2h  (forward_loss in training mode:
 *                                             dropout draws the same mask)
 *
 * Tolerance: |analytic − numeric| ≤ 2e-3 + 2e-2·|numeric|, h = 1e-3.  The
 * forward pass is float32, so L (≈ 1) is known to about 1e-7; divided by 2h
 * that is ~1e-4 of noise in the difference quotient, and the O(h²)
 * truncation term is ~1e-6 for these small smooth nets.  A wrong gradient rule (missing
 * term, wrong sign or scale, transposed product, 1/n forgotten) is off by
 * about the gradient itself (≥ 5%), far outside this band: the harness
 * proves that by requiring the same check to FAIL on the gradient scaled
 * by 1.05.  An element that fails while its one-sided differences disagree
 * by more than ATOL, and still do at h/4 (a ReLU kink: for a smooth loss the
 * gap is h·L'' and shrinks with h), is skipped and counted; more than 2%
 * skipped is a failure.
 *
 * Each spec is checked on a full batch and on a partial one (n < BATCH),
 * which exercises the 1/n scaling of the loss gradient. */
#define KILN_NO_MAIN
#include MODEL_C

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H 1e-3f
#define ATOL 2e-3
#define RTOL 2e-2

static int check(const char *name, int n, double scale, int report) {
    const kiln_model *m = &model;
    kiln_rng rng;
    kiln_rng_seed(&rng, 1234 + (uint64_t)n);
    m->init(&rng);

    static uint8_t x[BATCH * 4096], labels[BATCH];
    static float xf[BATCH * 4096], targets[BATCH * 64];
    for (int i = 0; i < n * m->input_size; i++) {
        x[i] = (uint8_t)(kiln_rng_next(&rng) >> 56);
        xf[i] = (float)(2 * kiln_rng_uniform(&rng) - 1);
    }
    for (int i = 0; i < n; i++) labels[i] = (uint8_t)(kiln_rng_next(&rng) % (uint64_t)(m->classes ? m->classes : 1));
    for (int i = 0; i < n * 64; i++) targets[i] = (float)kiln_rng_normal(&rng);
    kiln_batch b = { .n = n, .x = x, .labels = labels, .xf = xf, .targets = targets };   /* image or regression data, as the model reads */

    size_t total = 0;
    for (int t = 0; t < m->ntensors; t++) total += m->tensors[t].size;
    float *before = malloc(total * sizeof *before), *grad = malloc(total * sizeof *grad);
    size_t off = 0;
    for (int t = 0; t < m->ntensors; t++) {
        memcpy(before + off, m->tensors[t].data, m->tensors[t].size * sizeof(float));
        off += m->tensors[t].size;
    }
    int correct = 0;
    const uint64_t step = steps;   /* dropout's masks are drawn per step */
    m->train_step(&b, &correct);
    steps = step;
    off = 0;
    for (int t = 0; t < m->ntensors; t++) {
        for (size_t i = 0; i < m->tensors[t].size; i++) {
            grad[off + i] = (before[off + i] - m->tensors[t].data[i]) * (float)scale;
#ifdef WEIGHT_DECAY   /* the step was lr·(∇p + wd·p) with lr = 1 */
            grad[off + i] -= (float)(WEIGHT_DECAY * scale) * before[off + i];
#endif
        }
        memcpy(m->tensors[t].data, before + off, m->tensors[t].size * sizeof(float));
        off += m->tensors[t].size;
    }

    int bad = 0;
    size_t kinks = 0, checked = 0;
    double worst = 0;
    const char *worst_name = "";
    size_t worst_i = 0;
    off = 0;
    float l0 = forward_loss(&b, &correct, 1);
    for (int t = 0; t < m->ntensors; t++) {
        float *p = m->tensors[t].data;
        for (size_t i = 0; i < m->tensors[t].size; i++) {
            float keep = p[i], up = keep + H, down = keep - H;   /* steps as float can take them */
            p[i] = up;
            double lp = forward_loss(&b, &correct, 1);
            p[i] = down;
            double lm = forward_loss(&b, &correct, 1);
            p[i] = keep;
            double num = (lp - lm) / ((double)up - (double)down);
            double right = (lp - l0) / ((double)up - keep), left = (l0 - lm) / ((double)keep - down);
            double err = fabs(grad[off + i] - num), tol = ATOL + RTOL * fabs(num);
            if (err > tol && fabs(right - left) > ATOL) {
                /* a mismatch where L' jumps? For a smooth loss right − left is
                 * h·L'' and shrinks with h; a kink within h/4 keeps it. */
                float up4 = keep + H / 4, down4 = keep - H / 4;
                p[i] = up4;
                double lp4 = forward_loss(&b, &correct, 1);
                p[i] = down4;
                double lm4 = forward_loss(&b, &correct, 1);
                p[i] = keep;
                double d4 = (lp4 - l0) / ((double)up4 - keep) - (l0 - lm4) / ((double)keep - down4);
                if (fabs(d4) > 0.7 * fabs(right - left)) { kinks++; continue; }
            }
            checked++;
            if (err / tol > worst) { worst = err / tol; worst_name = m->tensors[t].name; worst_i = i; }
            if (err > tol) bad++;
        }
        off += m->tensors[t].size;
    }
    int ok = bad == 0 && kinks * 50 <= checked + kinks;
    if (report) {
        if (ok) printf("PASS gradcheck/%s/n=%d (%zu values, worst at %.2f of tolerance, %zu kinks skipped)\n", name, n,
                       checked, worst, kinks);
        else printf("FAIL gradcheck/%s/n=%d: %d of %zu values off (worst %s[%zu] at %.1f× tolerance), %zu kinks\n",
                    name, n, bad, checked, worst_name, worst_i, worst, kinks);
    }
    free(before);
    free(grad);
    return ok;
}

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : model.name;
    if (model.input_size > 4096) { printf("FAIL gradcheck/%s: input too large for the harness\n", name); return 1; }
    int ok = 1;
    int sizes[2] = { BATCH, BATCH > 1 ? BATCH / 2 + 1 : 1 };
    for (int k = 0; k < 2; k++) {
        ok &= check(name, sizes[k], 1.0, 1);
        /* the same check must reject a gradient that is 5% off */
        if (check(name, sizes[k], 1.05, 0)) {
            printf("FAIL gradcheck/%s/n=%d/sensitivity: a gradient scaled by 1.05 still passed\n", name, sizes[k]);
            ok = 0;
        } else {
            printf("PASS gradcheck/%s/n=%d/sensitivity (a 5%% error is caught)\n", name, sizes[k]);
        }
    }
    return ok ? 0 : 1;
}
