/* ranks.c — data parallel training, the trainer's side (ranks.h): each
 * rank trains on its share of every minibatch; the generated step sums the
 * gradients (kiln_mpi_sum_gradients), and this file keeps the rest of the
 * run the same on every rank through the model's kiln_dist. */
#include "ranks.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

int ranks_start(kiln_ranks *r, const kiln_model *m, int *argc, char ***argv, const volatile sig_atomic_t *stopping)
{
    *r = (kiln_ranks){ m->dist, 0, 1 };
    if (!r->dist) return 0;
    return r->dist->start(argc, argv, &r->rank, &r->size, stopping);
}

void ranks_end(const kiln_ranks *r, int rc)
{
    if (!r->dist) return;
    if (rc != 0) r->dist->abort(rc);
    r->dist->finish();
}

void ranks_share(const kiln_ranks *r, int n, int *lo, int *hi)
{
    *lo = (int)((long long)n * r->rank / r->size);
    *hi = (int)((long long)n * (r->rank + 1) / r->size);
}

void ranks_sum(const kiln_ranks *r, double *v, int n)
{
    if (r->dist && r->size > 1) r->dist->sum(v, n);
}

void ranks_same_model(const kiln_ranks *r, const kiln_model *m, int state_only)
{
    if (!r->dist || r->size == 1) return;
    for (int t = state_only ? m->ntensors : 0; t < m->ntensors + m->nstate; t++) {
        const kiln_tensor *x = t < m->ntensors ? &m->tensors[t] : &m->state[t - m->ntensors];
        r->dist->broadcast(x->data, x->size * sizeof *x->data);
    }
    if (state_only) return;
    if (m->steps) r->dist->broadcast(m->steps, sizeof *m->steps);
    if (m->dropout_key) r->dist->broadcast(m->dropout_key, sizeof *m->dropout_key);
}

int ranks_differ(const kiln_ranks *r, const kiln_model *m, uint32_t data_crc, uint64_t seed, int epochs)
{
    if (!r->dist || r->size == 1) return -1;
    /* what must agree, as text, and the memory plan (the trainer's build) by its CRC */
    char what[512] = { 0 };
    uLong plan = m->plan ? crc32(0, (const Bytef *)m->plan, (uInt)strlen(m->plan)) : 0;
    snprintf(what, sizeof what, "%s|%d|%d|%d|%d|%d|%zu|%lx|%08x|%llu|%d|%.17g", m->name, m->input_size,
             m->classes, m->batch, m->ntensors, m->nstate, m->arena_bytes, plan, (unsigned)data_crc,
             (unsigned long long)seed, epochs, *m->learning_rate);
    return r->dist->first_different(what, sizeof what);
}
