/* share.c — how a team of threads splits a kiln_gemm product (products.h).
 * Every thread of the team calls in with the same op and computes its own
 * share; which thread computes a micro-tile never changes how, so C is
 * bitwise the same for any thread count.
 *
 * The tiled path (gemm_tiled): each thread owns a rectangle of C (the team
 * splits C into a tm × tn grid) and does, alone:
 *
 *   for each block of its op(B) column slivers (B_BUDGET floats at most)
 *     for pc over k in KC steps         (fixed order: never split across threads)
 *       pack_b: kc × NR slivers of those columns
 *       for ic over its rows in MC steps
 *         pack_a: MR × kc slivers, times alpha (and a_scale: bytes are
 *                 widened here, so the data set stays uint8)
 *         MR × NR micro-tiles, column-sliver-major; after the last k step
 *         the epilogue runs on the tile just stored, while it is in L1
 *
 * Threads share nothing they write and never wait for each other: on
 * this machine a packed B shared between cores costs more (every line
 * crossing between the L2s) than packing it twice.  C is split by columns
 * when its column slivers divide evenly among the threads — a layer's
 * output units then stay with one core from the forward product through
 * the input gradient to the weight update, so its weights and activations
 * never move between caches — and otherwise by the cheaper grid of a small
 * cost model (by rows: every thread packs all of B; by columns: all of A).
 *
 * Inside a training step (kiln_balance_begin), a large product split by
 * columns is shared out while it runs instead: units of a column sliver by
 * a few row slivers, each thread taking its own first and then the rest of
 * a slower thread's (claims.h; on a VM the host often slows one vCPU).
 *
 * The narrow path with A in column panels (gemm_narrow_panels) is split by
 * k instead: each thread sums the panels it wrote, and a fixed tree adds
 * the parts, so the activations stay on their cores. */
#include "products.h"
#include "../claims.h"
#include "../scratch.h"
#include "../team.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The grid --------------------------------------------------------------- */

static double ceil_div_d(double a, double b) { return (double)(long)((a + b - 1) / b); }

/* Rough cost, in multiply-adds, of the busiest thread of a tm × tn grid: its
 * tiles and its packing (A is packed again for every block of nb B slivers).
 * A packed element costs about PACK_U8, PACK_F32 or PACK_B multiply-adds
 * (bytes are cheap to read; B is a large float matrix streaming from L3,
 * so packing it twice costs more than packing A twice; bench/README.md,
 * "Measurements behind the runtime's choices"). */
enum { PACK_U8 = 6, PACK_F32 = 12, PACK_B = 16 };
static double grid_cost(const gemm_job *g, int tm, int tn)
{
    const int MR = g->kd->mr, NR = g->kd->nr;
    double rows = (g->sm + tm - 1) / tm, cols = (g->sn + tn - 1) / tn;
    double blocks = ceil_div_d(cols, g->nb);
    double pack_a = g->A.f ? PACK_F32 : PACK_U8;
    return rows * cols * MR * NR * g->k
           + pack_a * blocks * rows * MR * g->k + PACK_B * cols * NR * g->k;
}

/* The grid for w threads: columns when the column slivers split evenly
 * (output units stay on one core across the products of a step), else the
 * cheapest by grid_cost, rows first on a tie. */
static void choose_grid(gemm_job *g, int w)
{
    g->tm = w;
    g->tn = 1;
    if (w <= 1) return;
    if (g->sn % w == 0) {
        g->tm = 1;
        g->tn = w;
        return;
    }
    double best = 0;
    for (int tm = w; tm >= 1; tm--) {
        if (w % tm) continue;
        double cost = grid_cost(g, tm, w / tm);
        if (tm == w || cost < best) { best = cost; g->tm = tm; g->tn = w / tm; }
    }
}

/* ---- The static path: each thread its rectangle ----------------------------- */

/* One micro-tile: full tiles go straight to C; edge tiles go through a
 * scratch tile and are merged with the kernel's own formula. */
static void run_tile(const kernel_desc *kd, int kc, const float *ap, const float *bp,
                     float *c, int ldc, int mr, int nr, float beta)
{
    if (mr == kd->mr && nr == kd->nr) {
        kd->fn(kc, ap, bp, c, ldc, beta);
        return;
    }
    _Alignas(64) float tile[MR_MAX * NR_MAX];
    kd->fn(kc, ap, bp, tile, kd->nr, 0.0f);
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float *cij = c + (size_t)i * ldc + j;
            float acc = tile[i * kd->nr + j];
            *cij = beta == 0.0f ? acc : acc + beta * *cij;
        }
}

/* The k step [pc, pc + kc) of the rectangle of C made of row slivers
 * [r0, r1) and column slivers [s0, s1), whose B is packed at bp (sliver s0
 * first): A packed MC rows at a time into ap, then the micro-tiles; after
 * the last k step, each tile's epilogue while the tile is in L1. */
static void compute_step(const gemm_job *g, int r0, int r1, int s0, int s1, int pc, int kc,
                         const float *bp, float *ap)
{
    const kiln_gemm_op *op = g->op;
    const kernel_desc *kd = g->kd;
    const int MR = kd->mr, NR = kd->nr, ldc = op->ldc;
    const int row_end = r1 * MR < g->m ? r1 * MR : g->m;
    const int last = pc + kc == g->k;
    const float beta = pc == 0 ? op->beta : 1.0f;
    for (int ic = r0 * MR; ic < row_end; ic += MC) {
        int mc = row_end - ic < MC ? row_end - ic : MC;
        int slivers = (mc + MR - 1) / MR;
        for (int a = 0; a < slivers; a++) {
            int mr = mc - a * MR < MR ? mc - a * MR : MR;
            kd->pack_a(&g->A, ic + a * MR, mr, pc, kc, ap + (size_t)a * MR * kc);
        }
        for (int s = s0; s < s1; s++) {
            int j = s * NR, nr = g->n - j < NR ? g->n - j : NR;
            const float *b = bp + (size_t)(s - s0) * NR * kc;
            for (int a = 0; a < slivers; a++) {
                int i = ic + a * MR, mr = mc - a * MR < MR ? mc - a * MR : MR;
                float *c = c_at(op, i, j);
                run_tile(kd, kc, ap + (size_t)a * MR * kc, b, c, ldc, mr, nr, beta);
                if (last && op->epilogue) op->epilogue(op, i, j, mr, nr, c, ldc);
            }
        }
    }
}

/* Thread me of the tm × tn grid computes its rectangle of C: for each block
 * of nb of its B slivers and each k step, it packs that part of B, then its
 * A rows MC at a time, so threads share nothing they write and never wait
 * for each other.  (Sharing packed B across cores costs more than packing
 * it twice: every line would cross between the cores' L2s.) */
static void gemm_packed(const gemm_job *g, int me)
{
    int ti = me / g->tn, tj = me % g->tn;
    int r0 = (int)((long)g->sm * ti / g->tm), r1 = (int)((long)g->sm * (ti + 1) / g->tm);
    int c0 = (int)((long)g->sn * tj / g->tn), c1 = (int)((long)g->sn * (tj + 1) / g->tn);
    if (r0 >= r1 || c0 >= c1) return;
    float *ap = gemm_slot(g->slice), *bp = ap + g->a_size;
    for (int S0 = c0; S0 < c1; S0 += g->nb) {
        int S1 = c1 - S0 < g->nb ? c1 : S0 + g->nb;
        for (int pc = 0; pc < g->k; pc += g->kc) {
            int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
            gemm_pack_b_slivers(g, S0, S1, pc, kc, bp);
            compute_step(g, r0, r1, S0, S1, pc, kc, bp, ap);
        }
    }
}

/* ---- The balanced path -----------------------------------------------------------
 * In a training step (a bracket opened by kiln_balance_begin), a large product
 * split by columns is cut finer: each thread's column slivers into units of
 * CHUNK row slivers, which it takes in order, and a thread done with its own
 * takes the others' units from their far end (claims.h).  On a VM the host
 * often slows one vCPU for a whole run; the other then does part of its work
 * instead of waiting at the next kiln_sync.  Results do not change: a unit
 * is computed the same way whoever takes it.  Each thread packs all of A,
 * every k step, before its first unit (the static path packs all of A too,
 * one k step at a time), and B a sliver at a time, all k steps, when its
 * next unit lies in another sliver — so a stolen sliver's B is packed twice.
 * Stealing an owner's last unit would cost the thief a B sliver for one
 * unit, so a thief takes it only when it holds that sliver already. */
enum { CHUNK = 8 };                        /* row slivers per unit */
#define BALANCE_MIN_FLOPS (4.0 * 1024.0 * 1024.0)
#define A_ALL_BUDGET ((size_t)256 * 1024)  /* floats of A packed at once */

/* Floats of all of op(A) packed for every k step (layout: k step, then row
 * sliver; each sliver MR × kc, kc floats apart at full size). */
static size_t a_all_size(const gemm_job *g)
{
    size_t ksteps = (size_t)((g->k + g->kc - 1) / g->kc);
    return round16(ksteps * (size_t)g->sm * g->kd->mr * g->kc);
}

static int balanced_fits(const gemm_job *g, int w, int call)
{
    return call >= 0 && w > 1 && g->tm == 1 && g->tn == w &&
           (double)g->m * g->n * g->k >= BALANCE_MIN_FLOPS && a_all_size(g) <= A_ALL_BUDGET &&
           (long)g->sn * ((g->sm + CHUNK - 1) / CHUNK) <= CLAIMS_MAX_UNITS;
}

/* Unit (sliver s, row slivers [a0, a1)), all k steps, with all of A packed
 * at ap and sliver s of B, every k step, at bp. */
static void compute_unit(const gemm_job *g, const float *ap, const float *bp, int s, int a0,
                         int a1)
{
    const kiln_gemm_op *op = g->op;
    const kernel_desc *kd = g->kd;
    const int MR = kd->mr, NR = kd->nr, ldc = op->ldc;
    const int j = s * NR, nr = g->n - j < NR ? g->n - j : NR;
    for (int q = 0, pc = 0; pc < g->k; q++, pc += g->kc) {
        int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
        int last = pc + kc == g->k;
        float beta = pc == 0 ? op->beta : 1.0f;
        const float *b = bp + (size_t)q * NR * g->kc;
        for (int a = a0; a < a1; a++) {
            int i = a * MR, mr = g->m - i < MR ? g->m - i : MR;
            float *c = c_at(op, i, j);
            run_tile(kd, kc, ap + ((size_t)q * g->sm + a) * MR * g->kc, b, c, ldc, mr, nr, beta);
            if (last && op->epilogue) op->epilogue(op, i, j, mr, nr, c, ldc);
        }
    }
}

/* The first unit of thread t's own, of w: units are numbered sliver by
 * sliver, per_sliver to a sliver, and t owns the slivers of the static
 * column split. */
static int first_unit(const gemm_job *g, int t, int w, int per_sliver)
{
    return (int)((long)g->sn * t / w) * per_sliver;
}

static void gemm_balanced(const gemm_job *g, int me, int w, int call)
{
    const int MR = g->kd->mr, NR = g->kd->nr;
    const int per_sliver = (g->sm + CHUNK - 1) / CHUNK;   /* units */
    const size_t a_all = a_all_size(g);
    const int ksteps = (g->k + g->kc - 1) / g->kc;
    float *ap = gemm_slot(a_all + round16((size_t)ksteps * NR * g->kc)), *bp = ap + a_all;
    for (int q = 0, pc = 0; pc < g->k; q++, pc += g->kc) {
        int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
        for (int a = 0; a < g->sm; a++) {
            int mr = g->m - a * MR < MR ? g->m - a * MR : MR;
            g->kd->pack_a(&g->A, a * MR, mr, pc, kc, ap + ((size_t)q * g->sm + a) * MR * g->kc);
        }
    }
    int have = -1;   /* the sliver of B packed at bp */
    for (;;) {
        int u = claims_take_own(call, me, first_unit(g, me, w, per_sliver),
                                first_unit(g, me + 1, w, per_sliver));
        for (int v = 1; u < 0 && v < w; v++) {   /* then the others', from their far end */
            int t = (me + v) % w;
            u = claims_steal(call, t, first_unit(g, t, w, per_sliver),
                             first_unit(g, t + 1, w, per_sliver), 2, have * per_sliver,
                             (have + 1) * per_sliver);
        }
        if (u < 0) return;
        int s = u / per_sliver, r = u % per_sliver;
        if (s != have) {
            for (int q = 0, pc = 0; pc < g->k; q++, pc += g->kc) {
                int kc = g->k - pc < g->kc ? g->k - pc : g->kc;
                gemm_pack_b_slivers(g, s, s + 1, pc, kc, bp + (size_t)q * NR * g->kc);
            }
            have = s;
        }
        int a1 = (r + 1) * CHUNK < g->sm ? (r + 1) * CHUNK : g->sm;
        compute_unit(g, ap, bp, s, r * CHUNK, a1);
    }
}

/* ---- The tiled path: blocking, then the static or the balanced split -------- */

/* A small float A that every thread of a column split reads whole (such as
 * the output gradient of a layer with few outputs): its rows were written by
 * several cores, and each line another core holds costs a round trip
 * between them.  Asking for all its lines at once lets those trips overlap
 * instead of coming one by one as the packer reaches them. */
enum { SMALL_A_BYTES = 64 * 1024 };
static void prefetch_small_a(const kiln_gemm_op *op)
{
    if (!op->a || op->a_panel_stride) return;
    size_t rows = op->transa ? (size_t)op->k : (size_t)op->m;
    size_t cols = op->transa ? (size_t)op->m : (size_t)op->k;
    size_t bytes = ((rows - 1) * (size_t)op->lda + cols) * sizeof(float);
    if (bytes > SMALL_A_BYTES) return;
    const char *p = (const char *)op->a;
    for (size_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, 0, 3);
}

/* The job's blocking is a pure function of op and the kernel; w threads
 * (at most one per micro-tile) split it by the grid, or by claims inside a
 * training step. */
void gemm_tiled(const kiln_gemm_op *op, const kernel_desc *kd, int me, int w, int call)
{
    const int m = op->m, n = op->n, k = op->k;
    int ksteps = (k + KC - 1) / KC;
    gemm_job g = {0};
    g.op = op;
    g.kd = kd;
    g.A.f = op->a;
    g.A.u8 = op->a ? NULL : op->a_u8;
    g.A.lda = (size_t)op->lda;
    g.A.trans = op->transa != KILN_NOTRANS;
    g.A.scale = op->a ? op->alpha : op->alpha * op->a_scale;
    g.A.pstride = op->a_panel_stride;
    g.m = m; g.n = n; g.k = k;
    g.kc = (k + ksteps - 1) / ksteps;
    g.sm = (m + kd->mr - 1) / kd->mr;
    g.sn = (n + kd->nr - 1) / kd->nr;
    size_t per_sliver = (size_t)kd->nr * g.kc;   /* one k step of one B sliver */
    g.nb = B_BUDGET / per_sliver > 1 ? (int)(B_BUDGET / per_sliver) : 1;
    if (g.nb > g.sn) g.nb = g.sn;
    if (w > g.sm * g.sn) w = g.sm * g.sn;
    if (me >= w) return;
    choose_grid(&g, w);
    if (balanced_fits(&g, w, call)) {
        gemm_balanced(&g, me, w, call);
        return;
    }
    g.a_size = round16((size_t)MC * g.kc);
    g.slice = g.a_size + round16((size_t)g.nb * per_sliver);
    if (g.tn > 1) prefetch_small_a(op);
    gemm_packed(&g, me);
}

#if KILN_X86
/* ---- The narrow path with A in column panels along k: a fixed sum tree -------
 * C (m × n, n ≤ 16) = alpha·A·B + beta·C with A's k columns in panels: a
 * hidden layer's panels feeding a layer with few outputs (a classifier's
 * last, over its classes).  Each panel's part of the sum is a leaf (leaves
 * of 4 panels measured slower at 2 threads), and the P leaves are added in
 * a fixed binary tree (each range [lo, hi) split at its middle).  Thread t
 * of w takes the panels [P·t/w, P·(t+1)/w) — the columns the split of the
 * layer before gave it, so the activations it reads are the ones it wrote —
 * and sums them for all rows, keeping each tree node that lies wholly in
 * its range.  After a kiln_sync each thread
 * finishes the tree for its own blocks of rows from the nodes the threads
 * kept.  The tree does not depend on w, so C is bitwise the same for any
 * thread count, and only a few KB of partial sums change cores instead of
 * the activations.  Node memory: at most 2·depth kept nodes and depth
 * temporaries at once, plus the sum.
 *
 * The kept nodes live in memory of their own, two sets a thread, used in
 * turn by the parity of the team's barrier count (kiln_sync_round, the same
 * on every thread between two kiln_syncs): a thread through one product may
 * start the next while the others still read its nodes of this one, and
 * cannot reach a third before they have passed the second's kiln_sync. */
enum { TREE_KEPT_MAX = 64 };
typedef struct { int lo, hi; const float *sum; } tree_node;
static struct {
    tree_node node[TREE_KEPT_MAX];
    int n;
} tree_kept[2][MAX_TEAM];
static kiln_scratch tree_memory[2][MAX_TEAM];

typedef struct {
    const kiln_gemm_op *op;
    int set;                /* which of the two sets of kept nodes */
    float *bp;              /* all of op(B), packed k × 16 */
    float *scratch;         /* this thread's: a last partial block's rows */
    float *next;            /* this thread's free node memory */
    size_t node_floats;     /* m × 16 */
} tree_job;

static float *tree_buffer(tree_job *t)
{
    float *b = t->next;
    t->next += t->node_floats;
    return b;
}

/* dst (m × 16) = the sum of panels [lo, hi), by the tree. */
static void tree_sum(tree_job *t, int lo, int hi, float *dst)
{
    const kiln_gemm_op *op = t->op;
    if (hi - lo == 1) {   /* a leaf: one panel's columns of A, row-major with ld KILN_PANEL */
        int p0 = lo * KILN_PANEL, kc = op->k - p0 < KILN_PANEL ? op->k - p0 : KILN_PANEL;
        kiln_gemm_op leaf = {.m = op->m, .n = op->n, .k = kc, .alpha = 1.0f,
                             .a = op->a + (size_t)lo * op->a_panel_stride, .lda = KILN_PANEL,
                             .c = dst, .ldc = NARROW_N};
        gemm_narrow_rows(&leaf, 0, (op->m + NARROW_MR - 1) / NARROW_MR, t->bp + (size_t)p0 * NARROW_N,
                    t->scratch);
        return;
    }
    int mid = (lo + hi) / 2;
    float *right = tree_buffer(t);
    tree_sum(t, lo, mid, dst);
    tree_sum(t, mid, hi, right);
    for (size_t i = 0; i < t->node_floats; i++) dst[i] += right[i];
    t->next = right;   /* free it again */
}

/* Keep the nodes of [lo, hi) that lie wholly in [a, b) (the largest ones). */
static void tree_keep(tree_job *t, int me, int lo, int hi, int a, int b)
{
    if (hi <= a || b <= lo) return;
    if (a <= lo && hi <= b) {
        float *sum = tree_buffer(t);
        tree_sum(t, lo, hi, sum);
        if (tree_kept[t->set][me].n == TREE_KEPT_MAX) {
            fprintf(stderr, "kiln: kiln_gemm: more than %d partial sums per thread\n", TREE_KEPT_MAX);
            exit(1);
        }
        tree_kept[t->set][me].node[tree_kept[t->set][me].n++] = (tree_node){lo, hi, sum};
        return;
    }
    int mid = (lo + hi) / 2;
    tree_keep(t, me, lo, mid, a, b);
    tree_keep(t, me, mid, hi, a, b);
}

static const float *tree_find(int set, int w, int lo, int hi)
{
    for (int t = 0; t < w; t++)
        for (int i = 0; i < tree_kept[set][t].n; i++)
            if (tree_kept[set][t].node[i].lo == lo && tree_kept[set][t].node[i].hi == hi)
                return tree_kept[set][t].node[i].sum;
    return NULL;
}

/* out[i·16 + j] for rows [r0, r1) = node [lo, hi), from the kept nodes. */
static void tree_finish(tree_job *t, int w, int lo, int hi, int r0, int r1, float *out)
{
    const float *kept = tree_find(t->set, w, lo, hi);
    size_t a = (size_t)r0 * NARROW_N, b = (size_t)r1 * NARROW_N;
    if (kept) {
        memcpy(out + a, kept + a, (b - a) * sizeof *out);
        return;
    }
    if (hi - lo == 1) {   /* every panel lies in some thread's range: cannot happen */
        fprintf(stderr, "kiln: internal error: kiln_gemm: no thread summed panel %d\n", lo);
        exit(1);
    }
    int mid = (lo + hi) / 2;
    float *right = tree_buffer(t);
    tree_finish(t, w, lo, mid, r0, r1, out);
    tree_finish(t, w, mid, hi, r0, r1, right);
    for (size_t i = a; i < b; i++) out[i] += right[i];
    t->next = right;
}

void gemm_narrow_panels(const kiln_gemm_op *op, int me, int nthreads)
{
    const int m = op->m, n = op->n, k = op->k;
    const int panels = (k + KILN_PANEL - 1) / KILN_PANEL;
    int w = nthreads < panels ? nthreads : panels;
    if (w > MAX_TEAM) w = MAX_TEAM;
    const int set = (int)(kiln_sync_round() & 1);
    tree_job t = {op, set, NULL, NULL, NULL, round16((size_t)m * NARROW_N)};
    int depth = 1;
    while ((1 << depth) < panels) depth++;
    size_t packed = round16((size_t)k * NARROW_N), rows = round16((size_t)k * NARROW_MR);
    if (me < w) {
        t.bp = gemm_slot(packed + rows), t.scratch = t.bp + packed;
        t.next = kiln_scratch_room(&tree_memory[set][me],
                                   (size_t)(3 * depth + 4) * t.node_floats * sizeof(float),
                                   "GEMM partial sums");
        gemm_pack_b_narrow(op, t.bp);
        tree_kept[set][me].n = 0;
        tree_keep(&t, me, 0, panels, (int)((long)panels * me / w), (int)((long)panels * (me + 1) / w));
    }
    kiln_sync();   /* every kept node is written */
    if (me >= w) return;
    int blocks = (m + NARROW_MR - 1) / NARROW_MR;
    int r0 = (int)((long)blocks * me / w) * NARROW_MR, r1 = (int)((long)blocks * (me + 1) / w) * NARROW_MR;
    if (r1 > m) r1 = m;
    float *sum = tree_buffer(&t);
    tree_finish(&t, w, 0, panels, r0, r1, sum);
    for (int i = r0; i < r1; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c_at(op, i, j), v = op->alpha * sum[(size_t)i * NARROW_N + j];
            *cij = op->beta == 0.0f ? v : v + op->beta * *cij;
        }
    if (op->epilogue)
        for (int i = r0; i < r1; i += NARROW_MR) {
            int mr = r1 - i < NARROW_MR ? r1 - i : NARROW_MR;
            op->epilogue(op, i, 0, mr, n, c_at(op, i, 0), op->ldc);
        }
}
#endif
