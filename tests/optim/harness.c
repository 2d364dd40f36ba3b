/* harness.c — optimizer steps checked against values worked out here,
 * independently of kiln: a one-layer softmax regression (3 inputs, 3
 * classes, batch 4), whose gradient this file computes in double
 * (dz = (softmax(xW + b) − onehot)/n, dW = xᵀdz, db = Σ dz), then applies the
 * optimizer's published update rule (PyTorch's SGD with momentum and weight
 * decay, Adam with bias correction) in double for 5 steps, comparing every
 * parameter after each of kiln's train_step calls.  Bound: relative
 * difference ≤ 1e-5 of max(|p|, 0.1): float32 arithmetic over 5 steps
 * rounds at ~1e-7; a wrong rule (no bias correction, momentum off by a
 * step, decay on the wrong term) moves parameters by ≥ 1e-3.  After step 2
 * the rate changes to 0.3·LR, as a schedule changes it between epochs (the
 * trainer writes *model.learning_rate): every update must read it.
 * The optimizer comes in as -D flags from the spec's "-- harness:" line. */
#define KILN_NO_MAIN
#include MODEL_C

#include <stdio.h>
#include <string.h>

#ifndef MOMENTUM
#define MOMENTUM 0.0
#endif
#ifndef WD
#define WD 0.0
#endif

enum { IN = 3, OUT = 3, N = 4, STEPS = 5, P = IN * OUT + OUT };

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "optim";
    const kiln_model *m = &model;
    if (m->ntensors != 2 || m->tensors[0].size != IN * OUT || m->tensors[1].size != OUT) {
        printf("FAIL optim/%s: expects linear(3) on 3 inputs\n", name);
        return 1;
    }
    kiln_rng rng;
    kiln_rng_seed(&rng, 42);
    m->init(&rng);
    double p[P], v1[P] = {0};   /* W (in, out) then b; optimizer state */
#ifdef ADAM
    double v2[P] = {0};
#endif
    for (int i = 0; i < IN * OUT; i++) p[i] = m->tensors[0].data[i];
    for (int j = 0; j < OUT; j++) p[IN * OUT + j] = m->tensors[1].data[j];

    int bad = 0, off = 0;
    double worst = 0;
    if (*m->learning_rate != LR) {
        printf("FAIL optim/%s/rate: the trainer's rate starts at %g, not the spec's %g\n", name, *m->learning_rate, LR);
        bad = 1;
    }
    for (int t = 1; t <= STEPS; t++) {
        const double lr = t <= 2 ? LR : 0.3 * LR;
        *m->learning_rate = lr;
        uint8_t x[N * IN], y[N];
        for (int i = 0; i < N * IN; i++) x[i] = (uint8_t)(kiln_rng_next(&rng) >> 56);
        for (int i = 0; i < N; i++) y[i] = (uint8_t)(kiln_rng_next(&rng) % OUT);

        /* the gradient, in double */
        double g[P] = {0};
        for (int r = 0; r < N; r++) {
            double z[OUT], max = -1e300, sum = 0;
            for (int j = 0; j < OUT; j++) {
                z[j] = p[IN * OUT + j];
                for (int i = 0; i < IN; i++) z[j] += x[r * IN + i] * (double)(1.0f / 255.0f) * p[i * OUT + j];
                if (z[j] > max) max = z[j];
            }
            for (int j = 0; j < OUT; j++) sum += exp(z[j] - max);
            for (int j = 0; j < OUT; j++) {
                double dz = (exp(z[j] - max) / sum - (j == y[r])) / N;
                for (int i = 0; i < IN; i++) g[i * OUT + j] += x[r * IN + i] * (double)(1.0f / 255.0f) * dz;
                g[IN * OUT + j] += dz;
            }
        }
        /* the update rule */
        for (int k = 0; k < P; k++) {
            double gk = g[k] + WD * p[k];
#ifdef ADAM
            v1[k] = BETA1 * v1[k] + (1 - BETA1) * gk;
            v2[k] = BETA2 * v2[k] + (1 - BETA2) * gk * gk;
            double mhat = v1[k] / (1 - pow(BETA1, t)), vhat = v2[k] / (1 - pow(BETA2, t));
            p[k] -= lr * mhat / (sqrt(vhat) + EPS);
#else
            if (MOMENTUM > 0) {
                v1[k] = MOMENTUM * v1[k] + gk;
                p[k] -= lr * v1[k];
            } else {
                p[k] -= lr * gk;
            }
#endif
        }

        kiln_batch b = { .n = N, .x = x, .labels = y };
        int correct = 0;
        m->train_step(&b, &correct);
        for (int k = 0; k < P; k++) {
            double got = k < IN * OUT ? m->tensors[0].data[k] : m->tensors[1].data[k - IN * OUT];
            double err = fabs(got - p[k]) / fmax(fabs(p[k]), 0.1);
            if (err > worst) worst = err;
            if (err > 1e-5) off++;
        }
    }
    if (off) printf("FAIL optim/%s: %d parameter values off after %d steps (worst relative %.2g)\n", name, off, STEPS, worst);
    else printf("PASS optim/%s (%d steps, worst relative difference %.2g)\n", name, STEPS, worst);
    if (*m->steps != STEPS) { printf("FAIL optim/%s/steps: %llu steps counted\n", name, (unsigned long long)*m->steps); bad = 1; }
    return bad || off ? 1 : 0;
}
