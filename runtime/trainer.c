/* trainer.c — kiln_main, the generic part of every generated trainer:
 * command-line flags, data loading, the epoch loop (shuffle, minibatches,
 * evaluation), the d2l-style epoch lines, progress and timings, the metrics
 * CSV, checkpoints, and the two modes that do not train: --eval and
 * --predict.  What is particular to one model (its shapes, its data files or
 * generated data, its class names, a report after training) comes from the
 * kiln_model the generated file hands over.
 *
 * stdout carries exactly one line per epoch, then what the model's report
 * prints, if the generated code gave it one (or, for --eval, one line; for
 * --predict N, N lines); everything else goes to stderr.
 * Exit status: 0 success, 1 runtime error (data, checkpoint, metrics file),
 * 2 bad usage. */
#define _POSIX_C_SOURCE 200809L
#include "kiln_rt.h"
#include "ranks.h"
#include "flags.h"
#include "levenshtein.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

/* The --metrics CSV's header: a classifier's and a regression model's
 * (kiln plot metrics reads both).  Every loss in it, on the epoch line and
 * from --eval is the mean loss per example. */
#define METRICS_CLASSES "epoch,loss,test_loss,train_acc,test_acc,seconds"
#define METRICS_REGRESSION "epoch,train_mse,test_mse,seconds"

/* ---- Flags --------------------------------------------------------------------- */

typedef struct {
    int         epochs;
    int         epochs_set;   /* --epochs given */
    int         threads;      /* 0: OpenMP's default */
    uint64_t    seed;
    int         seed_set;     /* --seed given */
    double      lr;           /* --lr X: the base learning rate; 0: the spec's (or the resumed run's) */
    const char *data, *save, *load, *resume, *metrics, *npz;
    int         eval;
    int         predict;      /* --predict N: N > 0 */
    char      **classify;     /* --classify FILE...: the files, nclassify of them */
    int         nclassify;
    int         quiet, verbose, help;
    int         profile;      /* --profile: time each part of the training step */
} options;

static const char *prog = "kiln";   /* argv[0]'s basename, for messages */
static kiln_ranks ranks = { NULL, 0, 1 };   /* data parallel: this process's rank; one process: 0 of 1 */
static int ranks_agree;   /* data parallel: every rank ends with the same status (a refusal all made) */

/* One line on stderr, "PROG: MESSAGE", with every control character in it
 * escaped (\n, \x1b...): a file name or an error passed on cannot break
 * the line, forge another or drive the terminal. */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
    char msg[2048], line[4 * sizeof msg + 64];
    size_t n = (size_t)snprintf(msg, sizeof msg, "%s: ", prog);
    va_list ap;
    va_start(ap, fmt);
    if (n < sizeof msg) vsnprintf(msg + n, sizeof msg - n, fmt, ap);
    va_end(ap);
    n = 0;
    for (const unsigned char *c = (const unsigned char *)msg; *c; c++) {
        if (*c == '\n') n += (size_t)sprintf(line + n, "\\n");
        else if (*c == '\t') n += (size_t)sprintf(line + n, "\\t");
        else if (*c < 0x20 || *c == 0x7f) n += (size_t)sprintf(line + n, "\\x%02x", *c);
        else line[n++] = (char)*c;
    }
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

/* Parses a decimal integer in [lo, hi]; 0 on success. */
static int parse_int(const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* Any unsigned 64-bit decimal number, digits only. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) return -1;
    *out = (uint64_t)v;
    return 0;
}

static void usage(const kiln_model *m)
{
    printf("usage: %s [flags]\n"
           "Trains model '%s' (compiled by kiln from %s) and prints one line per epoch.\n\n",
           prog, m->name, m->spec ? m->spec : "its spec");
    printf("  --epochs N     epochs to train (default %d)\n", m->epochs);
    printf("  --threads N    OpenMP threads, 1 to 256 (default: OpenMP's choice, here %d)\n",
           omp_get_max_threads());
    printf("  --seed N       seed for initialization and shuffling, 0 to 2^64-1 "
           "(default %" PRIu64 ";\n"
           "                 with --resume, the saved run's seed, and only that one is accepted)\n",
           m->seed);
    printf("  --lr RATE      the base learning rate, instead of the spec's %g%s, without\n"
           "                 recompiling; --resume goes on with the saved run's unless --lr is given\n",
           m->schedule.lr, m->schedule.kind != KILN_LR_CONSTANT ? " (its schedule keeps its shape)" : "");
    if (m->synthetic.dims)
        printf("  --data DIR     (ignored: this model's data are generated from the seed: %d\n"
               "                 training and %d test examples of y = X·w + b + noise)\n",
               m->synthetic.train, m->synthetic.test);
    else
        printf("  --data DIR     directory with %s, %s, %s, %s\n"
               "                 (each may end in .gz; default %s)\n",
               m->train_images, m->train_labels, m->test_images, m->test_labels, m->data_dir);
    printf("  --save FILE    after every epoch, and on SIGINT/SIGTERM, write the parameters,\n"
           "                 optimizer state and the run's position to FILE (atomically, through\n"
           "                 FILE.tmp); FILE must be new, empty or a checkpoint: anything else\n"
           "                 (another file, a device, FIFO or directory) is refused before\n"
           "                 training starts; a symbolic link is followed (the file it points\n"
           "                 to is replaced, the link stays)\n");
    printf("  --resume FILE  continue the training run saved in FILE (by --save, at the end of\n"
           "                 an epoch or when interrupted) exactly where it stopped: same\n"
           "                 parameters, optimizer state, RNG and shuffle position, seed; --epochs\n"
           "                 is the total to reach; the data and batch size must be the run's\n");
    printf("  --load FILE    start from the checkpoint in FILE instead of initializing\n"
           "                 (a checkpoint of another model is refused)\n");
    if (m->classes)
        printf("  --metrics FILE write a CSV to FILE: a header '" METRICS_CLASSES "'\n"
               "                 and one row per epoch (the mean loss per example on the training\n"
               "                 set, as on the epoch line, and on the test set; seconds of training)\n");
    else
        printf("  --metrics FILE write a CSV to FILE: a header '" METRICS_REGRESSION "'\n"
               "                 and one row per epoch (the mean loss per example on the training\n"
               "                 and test sets, as on the epoch line; seconds of training)\n");
    if (m->classes)
        printf("  --classify FILE...  do not train: for each PNG (8-bit grayscale) or binary PGM image\n"
               "                 of the model's input size, print 'FILE: predicted CLASS (PROBABILITY)';\n"
               "                 pixels as the data set's (0 black, 255 white); give it after the other flags\n");
    printf("  --save-npz FILE  when the run ends (training, --eval or --predict), write the\n"
           "                 parameters and batch norm's running statistics to FILE as NumPy\n"
           "                 arrays, one per tensor under its name (numpy.load(FILE)['linear1.weight'])\n");
    if (m->classes) {
        printf("  --eval         do not train: evaluate the model (usually --load-ed) on the test set\n"
               "                 and print 'test loss X, test acc X', where the loss is the mean\n"
               "                 per-image loss over the test set\n");
        printf("  --predict N    do not train: for the first N test images, in file order, print\n"
               "                 'image I: predicted CLASS (PROBABILITY), true CLASS' (I from 1)\n");
    } else {   /* regression: no classes, one value per example */
        printf("  --eval         do not train: evaluate the model (usually --load-ed) on the test set\n"
               "                 and print 'test loss X', the mean per-example loss over the test set\n");
        printf("  --predict N    do not train: for the first N test examples, in order, print\n"
               "                 'example I: predicted Y, true Y' (I from 1)\n");
    }
    printf("  --quiet        print nothing on stderr except errors\n");
    printf("  --verbose      print the thread count, the memory plan and per-epoch timings on stderr\n");
    printf("  --profile      after training, print on stderr where a training step's time went:\n"
           "                 each kernel's work and the wait after it, ms per step\n");
    printf("  --help         print this help and exit\n\n");
    printf("Flags also take the form --flag=value.  --eval and --predict may be combined\n"
           "(predictions first); they do not train, so they refuse --epochs N above 0 and\n"
           "--metrics.  The batch size is %d, fixed when the trainer was compiled\n"
           "('kiln train SPEC --batch N' rebuilds it with another).\n", m->batch);
}

/* The trainer's flags and their values' placeholders (flags.h). */
#define FLAG_NAME(name, value, what) name,
#define FLAG_VALUE(name, value, what) value,
static const char *const flag_names[] = { KILN_TRAINER_FLAGS(FLAG_NAME) NULL };
static const char *const flag_values[] = { KILN_TRAINER_FLAGS(FLAG_VALUE) NULL };

/* The flag nearest to name, in any case (at most 2 edits, 1 for short
 * names), or NULL. */
static const char *nearest_flag(const char *name)
{
    char lower[64];
    size_t n = 0;
    for (; n < sizeof lower - 1 && name[n]; n++) lower[n] = (char)tolower((unsigned char)name[n]);
    lower[n] = 0;
    const char *best = NULL;
    int bestd = n < 6 ? 2 : 3;
    for (int i = 0; flag_names[i]; i++) {
        int d = kiln_levenshtein(lower, flag_names[i]);
        if (d < bestd) bestd = d, best = flag_names[i];
    }
    return best;
}

/* Index of the flag in flag_names, or -1. */
static int flag_index(const char *name)
{
    for (int i = 0; flag_names[i]; i++)
        if (!strcmp(name, flag_names[i])) return i;
    return !strcmp(name, "-h") ? flag_index("--help") : -1;
}

/* Fills o from argv; returns -1 after printing one line on a usage error. */
static int parse_flags(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 && strcmp(arg, "-h") != 0) {
            char dashed[72];   /* -epochs or epochs: the flag with its two dashes */
            snprintf(dashed, sizeof dashed, "--%s", arg + strspn(arg, "-"));
            char *eq = strchr(dashed, '=');
            if (eq) *eq = 0;
            const char *near = flag_index(dashed) >= 0 ? dashed : nearest_flag(dashed);
            if (near && arg[0] == '-')
                say("unexpected argument '%s'; did you mean %s? run %s --help for the flags", arg, near, prog);
            else
                say("unexpected argument '%s'; run %s --help for the flags", arg, prog);
            return -1;
        }
        char name[64];
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
        snprintf(name, sizeof name, "%.*s", (int)(nlen < 63 ? nlen : 63), arg);

        int f = flag_index(name);
        if (f < 0) {
            const char *near = nearest_flag(name);
            if (near) say("unknown flag '%s'; did you mean %s? run %s --help for the list", name, near, prog);
            else say("unknown flag '%s'; run %s --help for the list", name, prog);
            return -1;
        }
        if (!strcmp(name, "--classify")) {   /* every argument after it up to the next flag */
            if (eq) {
                say("--classify takes its files as separate arguments: --classify a.png b.pgm");
                return -1;
            }
            o->classify = argv + i + 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) i++, o->nclassify++;
            if (!o->nclassify) {
                say("--classify needs image files, e.g. --classify shoe.png shirt.pgm");
                return -1;
            }
            continue;
        }
        int is_switch = !flag_values[f][0];
        int is_file = !strcmp(flag_values[f], "FILE");
        if (is_switch) {
            if (eq) {
                say("%s takes no value", name);
                return -1;
            }
            if (!strcmp(name, "--quiet")) o->quiet = 1;
            else if (!strcmp(name, "--verbose")) o->verbose = 1;
            else if (!strcmp(name, "--profile")) o->profile = 1;
            else if (!strcmp(name, "--eval")) o->eval = 1;
            else o->help = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val || !*val) {
            say("%s needs a value, e.g. %s %s", name, name,
                    !strcmp(name, "--metrics") ? "FILE.csv" : is_file || !strcmp(name, "--data") ?
                    flag_values[f] : "5");
            return -1;
        }
        const char *bad = NULL;
        if (!strcmp(name, "--epochs")) {
            _Static_assert(KILN_MAX_EPOCHS == 1000000000, "the message here says 10^9");
            if (parse_int(val, 0, KILN_MAX_EPOCHS, &o->epochs)) bad = "a whole number from 0 to 10^9";
            o->epochs_set = 1;
        } else if (!strcmp(name, "--threads")) {
            _Static_assert(KILN_MAX_THREADS == 256, "the messages here say 256");
            if (parse_int(val, 1, KILN_MAX_THREADS, &o->threads)) bad = "a whole number from 1 to 256";
        } else if (!strcmp(name, "--seed")) {
            if (parse_u64(val, &o->seed)) bad = "a whole number from 0 to 18446744073709551615";
            o->seed_set = 1;
        } else if (!strcmp(name, "--lr")) {
            char *end;
            errno = 0;
            o->lr = strtod(val, &end);
            if (*end || errno || !(o->lr > 0) || o->lr > 1e6) bad = "a number above 0 and at most 1e6";
        } else if (!strcmp(name, "--predict")) {
            if (parse_int(val, 1, 1000000000, &o->predict)) bad = "a whole number, 1 or more";
        } else if (!strcmp(name, "--data")) {
            o->data = val;
        } else if (!strcmp(name, "--save")) {
            o->save = val;
        } else if (!strcmp(name, "--metrics")) {
            o->metrics = val;
        } else if (!strcmp(name, "--save-npz")) {
            o->npz = val;
        } else if (!strcmp(name, "--resume")) {
            o->resume = val;
        } else {
            o->load = val;
        }
        if (bad) {
            say("%s expects %s, got '%s'", name, bad, val);
            return -1;
        }
    }
    if (o->quiet && o->verbose) {
        say("--quiet and --verbose contradict each other; pick one");
        return -1;
    }
    if (o->quiet && o->profile) {
        say("--quiet and --profile contradict each other (the profile is printed on stderr); pick one");
        return -1;
    }
    const char *mode = o->eval ? "--eval" : o->predict ? "--predict" : o->classify ? "--classify" : NULL;
    if (mode && o->profile) {
        say("%s does not train, so there is no training step for --profile to time; drop --profile", mode);
        return -1;
    }
    if (mode && o->lr > 0) {
        say("%s does not train, so --lr makes no sense with it; drop --lr", mode);
        return -1;
    }
    if (mode && o->epochs_set && o->epochs > 0) {
        say("%s does not train, so --epochs %d makes no sense with it; "
                "drop --epochs", mode, o->epochs);
        return -1;
    }
    if (o->resume && (o->load || mode)) {
        say("--resume continues a training run; it does not go with %s",
                o->load ? "--load (use one of them)" : mode);
        return -1;
    }
    if (mode && o->metrics) {
        say("%s does not train, so there are no epochs for --metrics to "
                "record; drop --metrics", mode);
        return -1;
    }
    return 0;
}

/* ---- Progress bar (stderr, only on a terminal) ----------------------------------- */

/* The terminal's progress line (only when stderr is one): the epoch, a bar,
 * examples per second and the time left in the epoch (both from where
 * this epoch started, or resumed, in this process) and the running mean
 * loss per example. */
typedef struct { int on; double last; int epoch; double t0; long done0; } progress;

static void progress_show(progress *p, int epoch, int epochs, long done, long total, double loss_sum)
{
    double now = omp_get_wtime();
    if (!p->on) return;
    if (p->epoch != epoch) p->epoch = epoch, p->t0 = now, p->done0 = done, p->last = 0;
    if (now - p->last < 0.1 && done < total) return;
    p->last = now;
    enum { WIDTH = 20 };
    char bar[WIDTH + 1], rate[32] = "", eta[32] = "", loss[32] = "";
    int fill = (int)(WIDTH * done / total);
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = 0;
    double secs = now - p->t0, per = secs > 0 ? (double)(done - p->done0) / secs : 0;
    if (per > 0 && done > p->done0) {
        long left = (long)((double)(total - done) / per + 0.5);
        snprintf(rate, sizeof rate, "  %.0f ex/s", per);
        snprintf(eta, sizeof eta, "  ETA %ld:%02ld", left / 60, left % 60);
    }
    if (done > 0) snprintf(loss, sizeof loss, "  loss %.4g", loss_sum / (double)done);
    fprintf(stderr, "\repoch %d/%d [%s] %3d%%%s%s%s\033[K", epoch, epochs, bar, (int)(100 * done / total), rate, eta,
            loss);
    fflush(stderr);
}

static void progress_clear(progress *p)
{
    if (p->on) fprintf(stderr, "\r\033[K"), fflush(stderr);
}

/* A loss for the epoch line and --eval: 4 decimals, or %g's form where
 * that would take a screen (a diverging run's 1e25). */
static const char *loss_text(char buf[32], double v, int decimals)
{
    if (fabs(v) < 1e5) snprintf(buf, 32, "%.*f", decimals, v);
    else snprintf(buf, 32, "%.*g", decimals + 1, v);
    return buf;
}

/* ---- Stopping: signals and divergence -------------------------------------------- */

/* SIGINT/SIGTERM ask the run to stop after the current step, save and exit.
 * A second one ends the process at once, by that signal, whatever it is
 * doing: waiting for a step to finish must never make a run unkillable. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
    if (stop_signal) {
        static const char now[] = ": a second stop signal; ending now, without saving\n";
        ssize_t ignored = write(STDERR_FILENO, prog, strlen(prog));
        ignored = write(STDERR_FILENO, now, sizeof now - 1);
        (void)ignored;
        signal(sig, SIG_DFL);
        raise(sig);   /* delivered as the handler returns: the default action ends the process */
        return;
    }
    stop_signal = sig;
}

/* Data parallel: a signal one rank caught stops every rank at the same
 * place (the others take SIGTERM as theirs): each calls this at the same
 * points of the run. */
static void stop_together(void)
{
    double caught = stop_signal != 0;
    ranks_sum(&ranks, &caught, 1);
    if (caught > 0 && !stop_signal) stop_signal = SIGTERM;
}

/* Installs the handler, and unblocks both signals in case the trainer was
 * started with them blocked (a blocked mask is inherited across exec). */
static void catch_stop_signals(void)
{
    stop_signal = 0;   /* a host calling kiln_main again (the fuzzer) starts afresh */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGINT);
    sigaddset(&both, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &both, NULL);
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)";
}

/* ---- Training -------------------------------------------------------------------- */

/* Rows order[0..n) of d as the batch of the next call of a step function:
 * each thread of the step copies them for itself (kiln_fill_batch).  The
 * call is a bracket of its own, in which the team's large products share
 * out their work as they go (kiln_balance_begin; run() ends the last). */
static kiln_batch gather(const kiln_dataset *d, const uint32_t *order, int n)
{
    kiln_balance_begin();
    return (kiln_batch){ .n = n, .from = d, .idx = order };
}

/* One evaluation pass over the rows order[0..count) of d in batches.
 * Returns the sum of the per-example losses (each batch's mean loss times
 * its rows, so that over the pass / count it is the mean loss per example,
 * whatever the batches' sizes); adds correct rows to *correct. */
static double run_pass(const kiln_model *m, const kiln_dataset *d, const uint32_t *order, long *correct)
{
    int lo, hi;   /* data parallel: each rank evaluates its share of the rows, then the sums are added */
    ranks_share(&ranks, d->count, &lo, &hi);
    double sums[2] = { 0, 0 };   /* loss, correct rows */
    for (int start = lo; start < hi; start += m->batch) {
        int n = hi - start < m->batch ? hi - start : m->batch;
        kiln_batch b = gather(d, order + start, n);
        int ok = 0;
        sums[0] += m->eval_batch(&b, &ok) * n;
        sums[1] += ok;
    }
    ranks_sum(&ranks, sums, 2);
    *correct += (long)sums[1];
    return sums[0];
}

/* The name of class k (from the model's class_names, e.g. "Trouser"), or its
 * number when the model has none. */
static const char *class_name(const kiln_model *m, int k, char *buf, size_t len)
{
    if (m->class_names)
        for (int i = 0; m->class_names[i]; i++)
            if (i == k) return m->class_names[i];
    snprintf(buf, len, "%d", k);
    return buf;
}

/* The most probable of a row of class probabilities. */
static int best_class(const float *p, int classes)
{
    int best = 0;
    for (int k = 1; k < classes; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

/* Without --load, --eval, --predict and --classify use the parameters the
 * seed initializes, and say so. */
static void init_unless_loaded(const kiln_model *m, const options *o)
{
    if (o->load) return;
    kiln_rng rng;
    kiln_rng_seed(&rng, o->seed);
    m->init(&rng);
    if (!o->quiet) say("no --load given: using the initial parameters (seed %" PRIu64 ")", o->seed);
}

/* --classify FILE...: each image's predicted class and probability, one
 * line per file in the order given.  The images must be grayscale and hold
 * the model's input size (28×28 for Fashion-MNIST's); they are scaled as
 * the data set's bytes are. */
static int classify(const kiln_model *m, const options *o)
{
    int n = o->nclassify, rc = 0;
    if (!m->classes || !m->predict || m->synthetic.dims) {
        say("--classify is for models that classify images; this one %s",
            m->classes ? "has no predict function (rebuild it)" : "predicts values (a regression)");
        return 2;
    }
    uint8_t *pixels = malloc((size_t)n * (size_t)m->input_size);
    uint8_t *labels = calloc((size_t)n, 1);
    uint32_t *order = malloc((size_t)n * sizeof *order);
    float *probs = malloc((size_t)m->batch * (size_t)m->classes * sizeof *probs);
    if (!pixels || !labels || !order || !probs) {
        say("out of memory for %d images", n);
        rc = 1;
    }
    int side = 0;   /* a square input's side, for the message */
    while ((side + 1) * (side + 1) <= m->input_size) side++;
    for (int i = 0; i < n && rc == 0; i++) {
        kiln_image img;
        char err[1200];
        order[i] = (uint32_t)i;
        if (kiln_image_load(o->classify[i], &img, err, sizeof err) != 0) {
            say("%s", err);
            rc = 1;
        } else if ((long)img.w * img.h != m->input_size || (side * side == m->input_size && img.w != side)) {
            if (side * side == m->input_size)
                say("%s is %d×%d; this model takes %d×%d grayscale images (resize it)", o->classify[i], img.w, img.h,
                    side, side);
            else
                say("%s has %ld pixels; this model takes images of %d", o->classify[i], (long)img.w * img.h, m->input_size);
            rc = 1;
        } else {
            memcpy(pixels + (size_t)i * (size_t)m->input_size, img.pixels, (size_t)m->input_size);
        }
        free(img.pixels);
    }
    if (rc == 0) {
        init_unless_loaded(m, o);
        kiln_dataset d = { .count = n, .sample_size = m->input_size, .images = pixels, .labels = labels };
        for (int start = 0; start < n; start += m->batch) {
            int rows = n - start < m->batch ? n - start : m->batch;
            kiln_batch b = gather(&d, order + start, rows);
            m->predict(&b, probs);
            for (int i = 0; i < rows; i++) {
                const float *p = probs + (size_t)i * m->classes;
                int best = best_class(p, m->classes);
                char a[16];
                printf("%s: predicted %s (%.2f)\n", o->classify[start + i], class_name(m, best, a, sizeof a), p[best]);
            }
        }
        kiln_balance_end();
        fflush(stdout);
    }
    free(pixels), free(labels), free(order), free(probs);
    return rc;
}

/* --predict N: one line per image for the first n test images. */
static int predict(const kiln_model *m, const kiln_dataset *te, const uint32_t *order, int n)
{
    if (!m->predict) {
        say("this trainer was generated without a predict function; rebuild "
                "it with a newer kiln");
        return 1;
    }
    float *probs = malloc((size_t)m->batch * (size_t)(m->classes ? m->classes : 1) * sizeof *probs);
    if (!probs) {
        say("out of memory for the predictions");
        return 1;
    }
    for (int start = 0; start < n; start += m->batch) {
        int rows = n - start < m->batch ? n - start : m->batch;
        kiln_batch b = gather(te, order + start, rows);
        m->predict(&b, probs);
        for (int i = 0; i < rows && m->classes == 0; i++)   /* regression: the value itself */
            printf("example %d: predicted %.4f, true %.4f\n", start + i + 1, probs[i],
                   te->targets[order[start + i]]);
        for (int i = 0; i < rows && m->classes > 0; i++) {
            const float *p = probs + (size_t)i * m->classes;
            int best = best_class(p, m->classes);
            char a[16], t[16];
            printf("image %d: predicted %s (%.2f), true %s\n", start + i + 1,
                   class_name(m, best, a, sizeof a), p[best],
                   class_name(m, te->labels[order[start + i]], t, sizeof t));
        }
    }
    fflush(stdout);
    free(probs);
    return 0;
}

/* Writes a metrics row or the header; flushed, so a run cut short keeps its
 * rows.  Returns 0, or 1 after printing one line. */
static int metrics_write(FILE *f, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int metrics_write(FILE *f, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (fflush(f) != 0 || ferror(f)) {
        say("cannot write metrics file %s: %s", path, strerror(errno));
        return 1;
    }
    return 0;
}

/* Saves the run to path; prints one line and returns 1 on failure. */
static int save_run(const kiln_model *m, const char *path, const kiln_progress *at)
{
    char err[1024];
    if (ranks.rank != 0) return 0;   /* data parallel: rank 0 saves what every rank holds */
    if (kiln_checkpoint_save_run(m, path, at, err, sizeof err) != 0) {
        say("%s", err);
        return 1;
    }
    return 0;
}

/* One training epoch from at->step on (the minibatches before it were done
 * by a run this one resumes), updating *at after every step.  Returns 0
 * when the epoch is done, 3 if the loss stopped being finite (saying so in
 * why), or the signal number that asked the run to stop. */
static int train_epoch(const kiln_model *m, const kiln_dataset *tr, const uint32_t *perm,
                       kiln_progress *at, long *correct, double *loss, progress *pr, int epochs,
                       char *why, size_t whylen)
{
    int nsteps = (tr->count + m->batch - 1) / m->batch;
    for (int step = (int)at->step; step < nsteps; step++) {
        int start = step * m->batch;
        int n = tr->count - start < m->batch ? tr->count - start : m->batch;
        int lo, hi;   /* data parallel: this rank's rows of the minibatch (all of them alone) */
        ranks_share(&ranks, n, &lo, &hi);
        kiln_batch b = gather(tr, perm + start + lo, hi - lo);
        b.total = n;
        int ok = 0;
        double sums[3];   /* the batch's mean loss times its rows, its correct rows (over the ranks); a signal */
        sums[0] = (double)m->train_step(&b, &ok) * (hi - lo);
        sums[1] = ok;
        sums[2] = stop_signal != 0;
        ranks_sum(&ranks, sums, 3);
        if (sums[2] > 0 && !stop_signal) stop_signal = SIGTERM;   /* another rank's: stop here too */
        if (!isfinite(sums[0])) {
            snprintf(why, whylen, "the loss became %s at epoch %u, step %d of %d",
                     isnan(sums[0]) ? "NaN" : "infinite", at->epoch, step + 1, nsteps);
            return 3;
        }
        at->step = (uint32_t)step + 1;
        at->loss_sum += sums[0];
        at->correct += (uint64_t)sums[1];
        progress_show(pr, (int)at->epoch, epochs, start + n, tr->count, at->loss_sum);
        if (stop_signal) return stop_signal;
    }
    *loss = at->loss_sum;
    *correct = (long)at->correct;
    return 0;
}

/* The name the run is saved under when it is stopped without --save:
 * NAME-interrupted.ckpt in the working directory, NAME made of safe
 * characters only (kiln's file name for the model, never the spec's raw
 * name, which could hold '/' or '..'). */
static const char *interrupted_path(const kiln_model *m, char *buf, size_t len)
{
    snprintf(buf, len, "%s-interrupted.ckpt", m->file_name ? m->file_name : "model");
    return buf;
}

/* A run that diverged: what happened, and where its last good state is,
 * in one line. */
static void report_divergence(const options *o, const char *why, int saved_epoch)
{
    const char *stopping = "stopping (a smaller learning rate usually helps)";
    if (saved_epoch)
        say("%s; %s; the last good checkpoint, after epoch %d, is %s", why, stopping,
            saved_epoch, o->save);
    else if (!o->save)
        say("%s; %s; no checkpoint was kept (--save FILE keeps one per epoch)", why, stopping);
    else
        say("%s; %s; %s was not written: no epoch finished", why, stopping, o->save);
}

/* --eval and --predict: no training; --save writes the model as loaded. */
static int run_without_training(const kiln_model *m, const options *o, kiln_dataset *te,
                                const kiln_progress *at)
{
    init_unless_loaded(m, o);
    uint32_t *order = malloc((size_t)te->count * sizeof *order);
    if (!order) {
        say("out of memory for the test set's order");
        return 1;
    }
    for (int i = 0; i < te->count; i++) order[i] = (uint32_t)i;
    int rc = 0;
    if (o->predict) rc = predict(m, te, order, o->predict);
    if (rc == 0 && o->eval) {
        long ok = 0;
        double loss = run_pass(m, te, order, &ok);
        char lt[32];
        if (m->classes) printf("test loss %s, test acc %.3f\n", loss_text(lt, loss / te->count, 4), (double)ok / te->count);
        else printf("test loss %s\n", loss_text(lt, loss / te->count, 6));
        fflush(stdout);
    }
    if (rc == 0 && o->save) rc = save_run(m, o->save, at);
    kiln_balance_end();
    free(order);
    return rc;
}

/* Trains from at (a resumed run's position, or nothing) to o->epochs; every
 * checkpoint records the training set's identity, data_crc. */
static int run(const kiln_model *m, const options *o, kiln_dataset *tr, kiln_dataset *te,
               kiln_progress at, uint32_t data_crc)
{
    kiln_rng rng;
    kiln_rng_seed(&rng, o->seed);
    if (o->resume) memcpy(rng.s, at.rng, sizeof rng.s);
    else if (!o->load) m->init(&rng);
    ranks_same_model(&ranks, m, 0);   /* data parallel: rank 0's start on every rank */
    if (o->resume && (long)at.epoch > o->epochs) {   /* nothing left to train: say so */
        if (!o->quiet)
            say("the run in %s has trained %u epoch%s already, as many as --epochs %d asks for; "
                "give a larger --epochs to train on", o->resume, at.epoch - 1, at.epoch == 2 ? "" : "s", o->epochs);
        return 0;
    }
    /* the base learning rate: --lr, else the resumed run's, else the spec's */
    double base = o->lr > 0 ? o->lr : o->resume && at.lr > 0 ? at.lr : m->schedule.lr;
    if (o->verbose && o->lr > 0 && o->resume && at.lr > 0 && at.lr != o->lr)
        say("--lr %g replaces the base rate %g the run in %s was trained with", o->lr, at.lr, o->resume);
    /* what every checkpoint of this run records besides its position */
    const kiln_progress run_of = { .seed = o->seed, .train_count = (uint32_t)tr->count,
                                   .batch = (uint32_t)m->batch, .data_crc = data_crc, .lr = base };

    uint32_t *perm = malloc((size_t)tr->count * sizeof *perm);
    uint32_t *order = malloc((size_t)te->count * sizeof *order);
    FILE *metrics = NULL;
    int rc = 0, saved_epoch = 0;
    double trained = 0;   /* seconds in train_epoch, for --profile */
    if (!perm || !order) {
        say("out of memory for the training buffers");
        rc = 1;
        goto done;
    }
    for (int i = 0; i < te->count; i++) order[i] = (uint32_t)i;

    if (o->metrics && ranks.rank == 0) {
        metrics = fopen(o->metrics, o->resume ? "a" : "w");
        if (!metrics) {
            say("cannot write metrics file %s: %s", o->metrics, strerror(errno));
            rc = 1;
            goto done;
        }
        if (!o->resume && (rc = metrics_write(metrics, o->metrics, "%s\n",
                                              m->classes ? METRICS_CLASSES : METRICS_REGRESSION)))
            goto done;
    }
    progress pr = { .on = isatty(STDERR_FILENO) && !o->quiet };
    if (o->profile && kiln_profile_enable(m->nparts) != 0) {
        say("out of memory for --profile's timings");
        rc = 1;
        goto done;
    }
    int first = o->resume ? (int)at.epoch : 1;
    for (int epoch = first; epoch <= o->epochs; epoch++) {
        double t0 = omp_get_wtime(), waited0 = ranks.dist ? ranks.dist->waited() : 0;
        if (!o->resume || epoch != first) {   /* a resumed epoch keeps its saved position */
            at = run_of;
            at.epoch = (uint32_t)epoch;
            memcpy(at.rng, rng.s, sizeof at.rng);
        }
        at.lr = base;   /* a resumed run may go on with another --lr */
        *m->learning_rate = kiln_lr_at(&m->schedule, base, epoch);
        for (int i = 0; i < tr->count; i++) perm[i] = (uint32_t)i;
        kiln_shuffle(perm, (size_t)tr->count, &rng);
        long train_ok = 0, test_ok = 0;
        int regression = m->classes == 0;
        double loss = 0;
        char why[300];
        int stop = train_epoch(m, tr, perm, &at, &train_ok, &loss, &pr, o->epochs, why, sizeof why);
        trained += omp_get_wtime() - t0;
        progress_clear(&pr);
        /* a weight can become NaN while the loss stays finite (a ReLU turns
         * NaN into 0): checked once an epoch, and before any save */
        const char *nonfinite;
        if (stop != 3 && !kiln_model_finite(m, &nonfinite)) {
            snprintf(why, sizeof why, "the weights became NaN or infinite in epoch %d, by step "
                     "%u (%s), though the loss stayed finite", epoch, (unsigned)at.step, nonfinite);
            stop = 3;
        }
        if (stop == 3) {
            ranks_agree = 1;   /* data parallel: every rank sums the same losses and holds the same weights */
            if (ranks.rank == 0) report_divergence(o, why, saved_epoch);
            rc = 3;
            goto done;
        }
        if (stop) {
            char fallback[300];
            const char *path = o->save ? o->save : interrupted_path(m, fallback, sizeof fallback);
            if (save_run(m, path, &at) == 0 && ranks.rank == 0)
                say("%s at epoch %u after step %u; saved %s; continue with --resume %s",
                    signal_name(stop), at.epoch, at.step, path, path);
            rc = 128 + stop;
            goto done;
        }
        double t1 = omp_get_wtime();
        ranks_same_model(&ranks, m, 1);   /* data parallel: rank 0's running statistics, as PyTorch's DDP */
        double test_loss = run_pass(m, te, order, &test_ok);
        double t2 = omp_get_wtime();
        double train_acc = (double)train_ok / tr->count, test_acc = (double)test_ok / te->count;
        if (regression)   /* as the book prints it: the whole training set's loss after the epoch */
            loss = run_pass(m, tr, perm, &train_ok);
        stop_together();
        int in_evaluation = stop_signal;   /* later ones stop the next epoch's first step */
        char lt[32], tt[32], rate[40] = "";   /* a scheduled rate is shown with the epoch it was used in */
        if (m->schedule.kind != KILN_LR_CONSTANT) snprintf(rate, sizeof rate, ", lr %g", *m->learning_rate);
        if (ranks.rank > 0)
            ;   /* data parallel: rank 0 prints */
        else if (regression)
            printf("epoch %d, loss %s, test loss %s%s\n", epoch, loss_text(lt, loss / tr->count, 6),
                   loss_text(tt, test_loss / te->count, 6), rate);
        else
            printf("epoch %d, loss %s, train acc %.3f, test acc %.3f%s\n", epoch,
                   loss_text(lt, loss / tr->count, 4), train_acc, test_acc, rate);
        fflush(stdout);
        if (o->verbose && ranks.dist)   /* data parallel: and how long rank 0 waited for the others' gradients */
            fprintf(stderr, "epoch %d: lr %.9g, train %.3f s (waiting for gradients %.3f s), test %.3f s\n", epoch,
                    *m->learning_rate, t1 - t0, ranks.dist->waited() - waited0, t2 - t1);
        else if (o->verbose)
            fprintf(stderr, "epoch %d: lr %.9g, train %.3f s, test %.3f s\n", epoch, *m->learning_rate, t1 - t0,
                    t2 - t1);
        if (metrics && regression &&
            (rc = metrics_write(metrics, o->metrics, "%d,%.6g,%.6g,%.3f\n", epoch, loss / tr->count,
                                test_loss / te->count, t1 - t0)))
            goto done;
        if (metrics && !regression &&
            (rc = metrics_write(metrics, o->metrics, "%d,%.6g,%.6g,%.4f,%.4f,%.3f\n", epoch, loss / tr->count,
                                test_loss / te->count, train_acc, test_acc, t1 - t0)))
            goto done;
        /* the epoch is done: the next one starts from here */
        at = run_of;
        at.epoch = (uint32_t)epoch + 1;
        memcpy(at.rng, rng.s, sizeof at.rng);
        if (o->save) {
            if ((rc = save_run(m, o->save, &at))) goto done;
            saved_epoch = epoch;
        }
        if (in_evaluation) {   /* the epoch is complete: stop after it */
            char fallback[300];
            const char *path = o->save ? o->save : interrupted_path(m, fallback, sizeof fallback);
            if ((o->save || save_run(m, path, &at) == 0) && ranks.rank == 0) {
                if (epoch == o->epochs)
                    say("%s while evaluating epoch %d, the last; the run is complete; saved %s",
                        signal_name(in_evaluation), epoch, path);
                else
                    say("%s while evaluating epoch %d, which is complete; saved %s; continue "
                        "with --resume %s", signal_name(in_evaluation), epoch, path, path);
            }
            rc = 128 + in_evaluation;
            goto done;
        }
    }
    if (m->report && ranks.rank == 0) {   /* the model's own lines, after the epoch lines (kiln_rt.h) */
        m->report();
        fflush(stdout);
    }
    if (o->save && first > o->epochs && (rc = save_run(m, o->save, &at))) goto done;   /* nothing trained */
    if (o->save && !o->quiet) fprintf(stderr, "saved %s\n", o->save);
    if (metrics) {
        int bad = fclose(metrics) != 0;
        metrics = NULL;
        if (bad) {
            say("cannot write metrics file %s: %s", o->metrics, strerror(errno));
            rc = 1;
            goto done;
        }
    }
    stop_together();
    if (stop_signal) {   /* it came after the last evaluation: nothing was lost */
        if (ranks.rank == 0) say("%s after the last epoch; the run is complete", signal_name(stop_signal));
        rc = 128 + stop_signal;
    }

done:
    if (o->profile) kiln_profile_report(m->parts, trained);
    kiln_balance_end();
    if (metrics) fclose(metrics);
    free(perm), free(order);
    return rc;
}

/* Sets the team size: --threads, or OpenMP's choice up to the runtime's
 * limit.  0, or 2 after one line when OMP_NUM_THREADS asks for more. */
static int set_threads(const options *o)
{
    if (o->threads > 0) {
        omp_set_num_threads(o->threads);
        return 0;
    }
    if (omp_get_max_threads() <= KILN_MAX_THREADS) return 0;
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && *env) {
        say("OMP_NUM_THREADS=%s asks for %d threads, more than this trainer's limit of %d; "
            "set it lower or pass --threads N", env, omp_get_max_threads(), KILN_MAX_THREADS);
        return 2;
    }
    omp_set_num_threads(KILN_MAX_THREADS);   /* a machine with more cores: use the most we can */
    return 0;
}

/* --load or --resume: the checkpoint into the model, the run's position into
 * *at.  For --resume, o->seed becomes the run's own (a different --seed is
 * refused: the data a seed generates and the shuffle's stream are the
 * run's).  Returns 0, or the exit status after one line. */
static int load_checkpoint(const kiln_model *m, options *o, kiln_progress *at)
{
    const char *path = o->resume ? o->resume : o->load;
    char err[1024];
    if (kiln_checkpoint_load_run(m, path, at, err, sizeof err) != 0) {
        say("%s", err);
        return 1;
    }
    if (!o->resume) return 0;
    if (at->epoch == 0) {
        say("checkpoint %s records no training run to resume; start from it with --load "
            "instead", path);
        return 1;
    }
    if (o->seed_set && o->seed != at->seed) {
        say("--seed %" PRIu64 " differs from seed %" PRIu64 " of the run saved in %s; --resume "
            "continues that run with its own seed; drop --seed", o->seed, at->seed, path);
        return 2;
    }
    o->seed = at->seed;
    return 0;
}

static int trainer_main(int argc, char **argv, const kiln_model *m)
{
    options o = {.epochs = m->epochs, .seed = m->seed, .data = m->data_dir};
    if (parse_flags(argc, argv, &o) != 0) return 2;
    if (ranks.rank > 0) {   /* data parallel: rank 0 alone prints, and alone does what does not train */
        o.quiet = 1, o.verbose = 0, o.profile = 0;
        if (o.help || o.eval || o.predict || o.classify) return 0;
    }
    if (o.eval || o.predict || o.classify) ranks.size = 1;   /* rank 0 alone: it shares no rows */
    if (o.help) { usage(m); return 0; }
    if (m->schedule.kind == KILN_LR_COSINE && o.lr > 0 && o.lr < m->schedule.min_lr) {
        say("--lr %g is below the schedule's min_lr %g, where its cosine ends; give --lr %g or more", o.lr,
            m->schedule.min_lr, m->schedule.min_lr);
        return 2;
    }
    int rc = set_threads(&o);
    if (rc) return rc;
    int training = !(o.eval || o.predict || o.classify);
    if (training) catch_stop_signals();   /* before any thread starts: they inherit the mask */
    if (o.verbose) {
        say("model '%s', %d thread%s, batch %d, arena %.1f KiB", m->name,
            omp_get_max_threads(), omp_get_max_threads() == 1 ? "" : "s", m->batch,
            m->arena_bytes / 1024.0);
        if (m->plan) fputs(m->plan, stderr);
    }

    /* everything that can be refused is, before the data is read */
    kiln_progress at = {0};
    char err[1024];
    if ((o.resume || o.load) && (rc = load_checkpoint(m, &o, &at))) return rc;
    if (o.classify) return classify(m, &o);   /* the user's images: no data set to read */
    if (o.save && kiln_checkpoint_check_target(o.save, err, sizeof err) != 0) {
        say("%s", err);
        return 1;
    }

    /* --eval and --predict need only the test set */
    kiln_dataset tr = {0}, te = {0};
    if (m->synthetic.dims) {   /* generated from the seed, not read from files */
        kiln_rng data_rng;
        kiln_rng_seed(&data_rng, o.seed ^ 0x5EEDDA7A5EEDDA7Aull);
        kiln_synthetic_make(&tr, &m->synthetic, m->synthetic.train, &data_rng);
        kiln_synthetic_make(&te, &m->synthetic, m->synthetic.test, &data_rng);
    } else if (training && kiln_dataset_load(&tr, o.data, m->train_images, m->train_labels,
                                      m->input_size, m->classes, err, sizeof err) != 0) {
        say("%s", err);
        return 1;
    }
    if (!m->synthetic.dims && kiln_dataset_load(&te, o.data, m->test_images, m->test_labels,
                                                m->input_size, m->classes, err, sizeof err) != 0) {
        say("%s", err);
        kiln_dataset_free(&tr);
        return 1;
    }
    if (o.predict > te.count) {
        if (m->synthetic.dims)
            say("--predict %d asks for more examples than the %d of the generated test set",
                o.predict, te.count);
        else
            say("--predict %d asks for more images than the %d of the test set in %s", o.predict,
                te.count, o.data);
        rc = 2;
    } else if (!training) {
        rc = run_without_training(m, &o, &te, &at);
    } else {
        uint32_t crc = kiln_dataset_crc(&tr);
        int other = ranks_differ(&ranks, m, crc, o.seed, o.epochs);
        if (other >= 0) {
            ranks_agree = 1;
            if (ranks.rank == 0)
                say("rank %d does not run what rank 0 runs (the trainer, its flags or its data differ); "
                    "start every rank with the same trainer, flags and data", other);
            rc = 1;
        } else if (o.resume && kiln_checkpoint_check_run(m, o.resume, &at, tr.count, crc, err,
                                                         sizeof err) != 0) {
            say("%s", err);
            rc = 1;
        } else {
            rc = run(m, &o, &tr, &te, at, crc);
        }
    }
    if (rc == 0 && o.npz && ranks.rank == 0 && kiln_npz_save(m, o.npz, err, sizeof err) != 0) {
        say("%s", err);
        rc = 1;
    }
    kiln_dataset_free(&tr);
    kiln_dataset_free(&te);
    return rc;
}

int kiln_main(int argc, char **argv, const kiln_model *m)
{
    static char name[128];
    if (argc > 0 && argv[0] && *argv[0]) {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }
    if (ranks_start(&ranks, m, &argc, &argv, &stop_signal) != 0) {
        say("cannot start MPI; run the trainer with mpirun -np N");
        return 1;
    }
    if (ranks.rank > 0) {   /* its messages say which rank they come from */
        snprintf(name, sizeof name, "%s (rank %d)", prog, ranks.rank);
        prog = name;
    }
    int rc = trainer_main(argc, argv, m);
    /* every rank stops together on a signal (stop_together); any other
     * failure may be this rank's alone, and the others must not wait for it */
    ranks_end(&ranks, rc == 0 || rc >= 128 || ranks_agree ? 0 : rc);
    return rc;
}
