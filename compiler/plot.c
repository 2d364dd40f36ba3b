/* plot.c — kiln plot: pictures drawn with gnuplot (Debian: gnuplot-nox).
 *
 *   kiln plot activations  relu, sigmoid and tanh and each one's derivative
 *                          over [-8, 8], as the book's MLP chapter draws them;
 *   kiln plot metrics CSV  loss and accuracy per epoch from a trainer's
 *                          --metrics file.
 *
 * The derivatives are not written here: for each activation, kiln builds a
 * one-unit model in C (no Lua) — linear(1) with weight 0 and bias 0, then
 * the activation, the internal loss probe.sum (the plain sum of the outputs,
 * so ∂loss/∂outputs = 1), sgd with lr 1 — runs the whole pipeline on it,
 * emits the trainer's C and builds it with a small harness (HARNESS below).
 * The harness sets the bias to x (the weight is 0, so x is the activation's
 * input), takes f(x) from the emitted forward pass and f'(x) = x − x' from
 * one step of the emitted backward pass and update (x' the bias after it).
 *
 * Everything happens in a temporary directory that is removed on exit; the
 * picture is written atomically (a failed run leaves no half-written PNG). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln.h"
#include "ops/ops.h"

extern char **environ;

static const char plot_help[] =
    "usage: kiln plot activations [-o FILE.png] [--data FILE]\n"
    "       kiln plot metrics FILE.csv [-o FILE.png]\n"
    "\n"
    "Draw a picture with gnuplot (Debian package gnuplot-nox).\n"
    "\n"
    "  activations   relu, sigmoid and tanh and each one's gradient over [-8, 8]\n"
    "                (default activations.png).  The values come from code kiln\n"
    "                emits: for each activation a model linear(1) → activation is\n"
    "                compiled with a loss that sums its outputs and built with a\n"
    "                small harness, which sweeps the bias over 321 points: f is the\n"
    "                emitted forward pass, f' one step of the emitted backward pass\n"
    "                (sgd, lr 1: f' = bias before − bias after).\n"
    "  metrics FILE.csv  train and test loss (and accuracy) per epoch from a trainer's\n"
    "                --metrics file (default metrics.png)\n"
    "\n"
    "  -o FILE.png   where to write the picture\n"
    "  --data FILE   activations: also write the sampled table as text, one line\n"
    "                per point: x relu relu' sigmoid sigmoid' tanh tanh'\n"
    "  -v            show the C compiler's command lines\n"
    "\n"
    "environment: KILN_CC, KILN_CFLAGS, KILN_HOME as for 'kiln build'.\n";

#define SWEEP_LO     (-8.0)
#define SWEEP_HI     8.0
#define SWEEP_POINTS 321   /* steps of 0.05: x = 0 is a sample */

/* ---- errors, the temporary directory, running programs ------------------ */

static char tmpdir[PATH_MAX];
static pid_t tmpdir_owner;   /* forked workers leave the directory to kiln */

_Noreturn static void plot_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn static void plot_fail(const char *fmt, ...) {
    fflush(stdout);
    fprintf(stderr, "kiln plot: ");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

_Noreturn static void plot_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "kiln plot: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "; run 'kiln plot --help'\n");
    exit(2);
}

static void remove_tmpdir(void) {
    if (!tmpdir[0] || getpid() != tmpdir_owner) return;
    DIR *d = opendir(tmpdir);
    if (d) {
        char path[PATH_MAX + 256];
        for (struct dirent *ent; (ent = readdir(d));) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", tmpdir, ent->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(tmpdir);
    tmpdir[0] = 0;
}

static void make_tmpdir(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = "/tmp";
    if (snprintf(tmpdir, sizeof tmpdir, "%s/kiln-plot.XXXXXX", base) >= (int)sizeof tmpdir || !mkdtemp(tmpdir)) {
        int err = errno;
        tmpdir[0] = 0;
        plot_fail("cannot create a temporary directory in %s: %s", base, strerror(err));
    }
    tmpdir_owner = getpid();
    atexit(remove_tmpdir);
}

/* tmpdir/name into buf */
static const char *tmp_path(char buf[PATH_MAX], const char *name) {
    if (snprintf(buf, PATH_MAX, "%s/%s", tmpdir, name) >= PATH_MAX) plot_fail("temporary path too long");
    return buf;
}

static void write_text(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) plot_fail("cannot write %s: %s", path, strerror(errno));
}

/* Run argv (argv[0] looked up in PATH) with stdout sent to out (if not
 * NULL); its exit status, or 128 + the signal that ended it. */
static int run(char *const *argv, const char *out) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (out) posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    fflush(stdout);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err) plot_fail("cannot run %s: %s", argv[0], strerror(err));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) plot_fail("waiting for %s: %s", argv[0], strerror(errno));
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Is gnuplot an executable file in one of PATH's directories? */
static void need_gnuplot(void) {
    const char *path = getenv("PATH");
    char *dirs = xstrdup(path ? path : "/usr/bin:/bin");
    int found = 0;
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char exe[PATH_MAX];
        snprintf(exe, sizeof exe, "%s/gnuplot", *d ? d : ".");
        found = access(exe, X_OK) == 0;
    }
    free(dirs);
    if (!found) plot_fail("gnuplot is not installed; apt-get install gnuplot-nox");
}

/* s as a gnuplot single-quoted string ('' stands for ') */
static void sb_gnuplot_string(StrBuf *sb, const char *s) {
    sb_printf(sb, "'");
    for (; *s; s++) {
        if (*s == '\'') sb_printf(sb, "''");
        else if ((unsigned char)*s >= 0x20) sb_printf(sb, "%c", *s);
    }
    sb_printf(sb, "'");
}

/* The script's first lines: a PNG terminal (cairo if gnuplot has it) writing
 * to tmpdir/out.png. */
static void script_begin(StrBuf *gp, int width, int height) {
    char out[PATH_MAX];
    sb_printf(gp, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                  "    set terminal pngcairo noenhanced size %d,%d font 'sans,10' linewidth 1.5\n"
                  "} else {\n"
                  "    set terminal png noenhanced size %d,%d\n"
                  "}\n", width, height, width, height);
    sb_printf(gp, "set output ");
    sb_gnuplot_string(gp, tmp_path(out, "out.png"));
    sb_printf(gp, "\n");
}

/* Run gnuplot on the script, then move its picture to out_png. */
static void script_run(StrBuf *gp, const char *out_png) {
    char script[PATH_MAX], png[PATH_MAX];
    write_text(tmp_path(script, "plot.gp"), gp->data, gp->len);
    char *argv[] = { "gnuplot", script, NULL };
    int rc = run(argv, NULL);
    if (rc != 0) plot_fail("gnuplot failed (exit status %d) on the script it was given", rc);
    FILE *f = fopen(tmp_path(png, "out.png"), "rb");
    if (!f) plot_fail("gnuplot wrote no picture");
    size_t len = 0, cap = 1 << 16;
    char *data = xmalloc(cap);
    for (size_t got; (got = fread(data + len, 1, cap - len, f)) > 0;)
        if ((len += got) == cap) data = xrealloc(data, cap *= 2);
    fclose(f);
    if (len < 8 || memcmp(data, "\x89PNG", 4) != 0) plot_fail("gnuplot wrote no PNG picture");
    write_file_atomic(out_png, data, len);
    free(data);
}

/* ---- kiln plot activations ------------------------------------------------ */

/* Appended to '#include "NAME.c"' (the generated trainer, KILN_NO_MAIN):
 * argv[1] points from LO to HI; prints "x f f'" per point. */
static const char harness_body[] =
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "\n"
    "static float *tensor(const char *name)\n"
    "{\n"
    "    for (int t = 0; t < model.ntensors; t++)\n"
    "        if (strcmp(model.tensors[t].name, name) == 0) return model.tensors[t].data;\n"
    "    fprintf(stderr, \"plot harness: the model has no tensor %s\\n\", name);\n"
    "    exit(1);\n"
    "}\n"
    "\n"
    "int main(int argc, char **argv)\n"
    "{\n"
    "    const int points = argc > 1 ? atoi(argv[1]) : 2;\n"
    "    const double lo = argc > 2 ? atof(argv[2]) : -1.0, hi = argc > 3 ? atof(argv[3]) : 1.0;\n"
    "    kiln_rng rng;\n"
    "    kiln_rng_seed(&rng, 0);\n"
    "    model.init(&rng);\n"
    "    float *w = tensor(\"linear1.weight\"), *b = tensor(\"linear1.bias\");\n"
    "    static uint8_t x[1], labels[1];\n"
    "    const kiln_batch batch = { .n = 1, .x = x, .labels = labels };\n"
    "    for (int i = 0; i < points; i++) {\n"
    "        const float at = (float)(lo + (hi - lo) * i / (points > 1 ? points - 1 : 1));\n"
    "        w[0] = 0.0f;  /* the activation's input is the bias alone */\n"
    "        b[0] = at;\n"
    "        int correct = 0;\n"
    "        const float f = forward_loss(&batch, &correct, 0);\n"
    "        model.train_step(&batch, &correct);\n"
    "        const double df = (double)at - (double)b[0];  /* sgd, lr 1: b <- b - df */\n"
    "        printf(\"%.9g %.9g %.9g\\n\", (double)at, (double)f, df);\n"
    "    }\n"
    "    return fflush(stdout) != 0;\n"
    "}\n";

static const char *const activation_names[] = { "relu", "sigmoid", "tanh" };
#define NACT 3

static char plot_spec_file[] = "<kiln plot>";

/* The probe model for one activation: x (1) → linear(1), weight and bias
 * zeros → act → probe.sum, sgd { lr = 1 }, batch 1. */
static void probe_spec(Spec *s, Apply apps[2], char *name, size_t namelen, const char *act) {
    const OpDef *fn = op_find(act);   /* the activation by its DSL name */
    if (!fn || fn->kind != OP_LAYER) fail("internal error: kiln plot: no activation %s", act);
    Loc loc = { plot_spec_file, 0 };
    Init zero = { &op_zeros, 0, 0, loc };
    /* the ops' attributes: static, as the Spec is, for one probe at a time */
    static LinearAttr linear;
    static ActivationAttr activation;
    static OptimAttr sgd;
    static DataAttr data;
    linear = (LinearAttr){ .units = 1, .bias = 1, .init = zero, .bias_init = zero };
    activation = (ActivationAttr){ 0 };
    sgd = (OptimAttr){ 0 };
    sgd.lr.lr = 1.0;
    data = (DataAttr){ 0 };
    memset(s, 0, sizeof *s);
    snprintf(name, namelen, "kiln plot %s", act);
    s->file = plot_spec_file;
    s->name = name;
    snprintf(s->cname, sizeof s->cname, "probe_%s", act);
    s->input_rank = 1;
    s->input[0] = 1;
    s->classes = 1;
    s->batch = 1;
    s->epochs = 1;
    s->loc = loc;
    apps[0] = (Apply){ .layer = { .op = &op_linear, .loc = loc, .index = 0, .attr = &linear }, .in = { -1 }, .nin = 1 };
    snprintf(apps[0].layer.label, sizeof apps[0].layer.label, "linear1");
    apps[1] = (Apply){ .layer = { .op = fn, .loc = loc, .index = 1, .attr = &activation }, .in = { 0 }, .nin = 1 };
    snprintf(apps[1].layer.label, sizeof apps[1].layer.label, "%s1", act);
    s->apps = apps;
    s->napps = 2;
    s->loss = (Layer){ .op = &op_probe_sum, .loc = loc };
    snprintf(s->loss.label, sizeof s->loss.label, "%s", op_probe_sum.name);
    s->optimizer = (Layer){ .op = &op_sgd, .loc = loc, .attr = &sgd };
    snprintf(s->optimizer.label, sizeof s->optimizer.label, "%s", op_sgd.name);
    s->data = (Layer){ .op = &op_fashion_mnist, .loc = loc, .attr = &data };   /* never read: the harness makes its batch */
    Call c = { NULL, 0, op_fashion_mnist.name, loc, &op_fashion_mnist };
    op_fashion_mnist.parse(&c, &s->data);
}

/* Compile, build and run the probe for one activation: its table of
 * "x f f'" lines goes to tmpdir/probe_ACT.dat. */
static void sweep(const char *act, int verbose) {
    Spec s;
    Apply apps[2];
    char name[64];
    probe_spec(&s, apps, name, sizeof name, act);
    Graph g;
    compile_graph(&s, &g);
    StrBuf c = { 0 };
    emit_model(&c, &g);
    graph_free(&g);

    char model_c[PATH_MAX], harness_c[PATH_MAX], exe[PATH_MAX], dat[PATH_MAX], file[96];
    snprintf(file, sizeof file, "%s.c", s.cname);
    write_text(tmp_path(model_c, file), c.data, c.len);
    sb_free(&c);
    StrBuf h = { 0 };
    sb_printf(&h, "/* kiln plot's harness for %s: f and f' from the emitted trainer */\n", act);
    sb_printf(&h, "#define KILN_NO_MAIN\n#include \"%s\"\n\n%s", file, harness_body);
    snprintf(file, sizeof file, "%s_harness.c", s.cname);
    write_text(tmp_path(harness_c, file), h.data, h.len);
    sb_free(&h);

    snprintf(file, sizeof file, "%s_harness", s.cname);
    tmp_path(exe, file);
    const char *sources[] = { harness_c };
    build_program(sources, 1, exe, verbose, 0);

    char points[32], lo[32], hi[32];
    snprintf(points, sizeof points, "%d", SWEEP_POINTS);
    snprintf(lo, sizeof lo, "%.17g", SWEEP_LO);
    snprintf(hi, sizeof hi, "%.17g", SWEEP_HI);
    snprintf(file, sizeof file, "%s.dat", s.cname);
    char *argv[] = { exe, points, lo, hi, NULL };
    int rc = run(argv, tmp_path(dat, file));
    if (rc != 0) plot_fail("the %s harness failed (exit status %d)", act, rc);
}

/* Read what sweep(act) wrote. */
static void read_sweep(const char *act, double *xs, double *f, double *df) {
    char dat[PATH_MAX], file[96];
    snprintf(file, sizeof file, "probe_%s.dat", act);
    FILE *in = fopen(tmp_path(dat, file), "r");
    if (!in) plot_fail("cannot read %s: %s", dat, strerror(errno));
    int n = 0;
    double x, y, dy;
    while (n < SWEEP_POINTS && fscanf(in, "%lf %lf %lf", &x, &y, &dy) == 3) {
        if (!isfinite(y) || !isfinite(dy)) plot_fail("the %s harness printed %g %g at x = %g", act, y, dy, x);
        xs[n] = x;
        f[n] = y;
        df[n++] = dy;
    }
    fclose(in);
    if (n != SWEEP_POINTS) plot_fail("the %s harness printed %d of %d points", act, n, SWEEP_POINTS);
}

static void plot_activations(const char *out, const char *data_out, int verbose) {
    need_gnuplot();
    make_tmpdir();
    static double xs[NACT][SWEEP_POINTS], f[NACT][SWEEP_POINTS], df[NACT][SWEEP_POINTS];
    /* the three builds run side by side, one process each; a worker that
     * fails has said why, so kiln only exits */
    pid_t pids[NACT];
    fflush(stdout);
    fflush(stderr);
    for (int a = 0; a < NACT; a++) {
        pids[a] = fork();
        if (pids[a] < 0) plot_fail("cannot fork: %s", strerror(errno));
        if (pids[a] == 0) {
            sweep(activation_names[a], verbose);
            exit(0);
        }
    }
    int failed = 0;
    for (int a = 0; a < NACT; a++) {
        int status;
        while (waitpid(pids[a], &status, 0) < 0)
            if (errno != EINTR) plot_fail("waiting for a worker: %s", strerror(errno));
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    if (failed) exit(1);
    for (int a = 0; a < NACT; a++) read_sweep(activation_names[a], xs[a], f[a], df[a]);

    StrBuf table = { 0 };
    sb_printf(&table, "# kiln plot activations: f from kiln's emitted forward pass, f' from its emitted backward pass\n");
    sb_printf(&table, "# x relu relu' sigmoid sigmoid' tanh tanh'\n");
    for (int i = 0; i < SWEEP_POINTS; i++) {
        sb_printf(&table, "%.9g", xs[0][i]);
        for (int a = 0; a < NACT; a++) sb_printf(&table, " %.9g %.9g", f[a][i], df[a][i]);
        sb_printf(&table, "\n");
    }
    char dat[PATH_MAX];
    write_text(tmp_path(dat, "activations.dat"), table.data, table.len);
    if (data_out) write_file_atomic(data_out, table.data, table.len);
    sb_free(&table);

    StrBuf gp = { 0 };
    script_begin(&gp, 1200, 640);
    sb_printf(&gp, "set multiplot layout 2,3 title \"Activation functions (top) and their gradients (bottom), "
                   "computed by the code kiln emits\"\n");
    sb_printf(&gp, "set grid\nunset key\nset xrange [%g:%g]\nset xtics 2\nset xlabel 'x'\n", SWEEP_LO, SWEEP_HI);
    sb_printf(&gp, "set offsets graph 0, graph 0, graph 0.05, graph 0.05\n");
    for (int row = 0; row < 2; row++)
        for (int a = 0; a < NACT; a++) {
            if (row == 0) sb_printf(&gp, "set title '%s(x)'\n", activation_names[a]);
            else sb_printf(&gp, "set title 'grad of %s'\n", activation_names[a]);
            sb_printf(&gp, "plot ");
            sb_gnuplot_string(&gp, dat);
            sb_printf(&gp, " using 1:%d with lines lw 2 lc rgb '%s'\n", 2 + 2 * a + row,
                      row == 0 ? "#1f77b4" : "#d62728");
        }
    sb_printf(&gp, "unset multiplot\n");
    script_run(&gp, out);
    sb_free(&gp);
}

/* ---- kiln plot metrics ---------------------------------------------------- */

/* The CSVs a trainer's --metrics writes: a classifier's, a regression
 * model's, and a classifier's from kilns before the test loss was written
 * (its loss still plots; there is no test loss to draw). */
#define METRICS_CLASSES "epoch,loss,test_loss,train_acc,test_acc,seconds"
#define METRICS_REGRESSION "epoch,train_mse,test_mse,seconds"
#define METRICS_OLD "epoch,loss,train_acc,test_acc,seconds"
enum { MAX_COLUMNS = 6 };

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
}

/* "v1,v2,...,vk" → 1 if k finite numbers */
static int parse_row(const char *line, double *v, int k) {
    const char *p = line;
    for (int i = 0; i < k; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(p, &end);
        if (end == p || errno == ERANGE || !isfinite(v[i])) return 0;
        p = end;
        if (i < k - 1) {
            if (*p != ',') return 0;
            p++;
        }
    }
    return *p == 0;
}

/* One curve of a panel: the CSV's column (1-based in the data file), its key. */
typedef struct { int column; const char *title; } Curve;

/* A panel of lines over the epochs: its title, y label, where its key
 * goes (loss falls: top right; accuracy rises: bottom right) and its
 * curves (up to 2). */
static void plot_panel(StrBuf *gp, const char *dat, const char *title, const char *ylabel, const char *key,
                       const Curve *c, int n) {
    static const char *const look[] = { "pt 7 ps 0.6 lc rgb '#1f77b4'", "pt 5 ps 0.6 lc rgb '#d62728'" };
    sb_printf(gp, "set title '%s'\nset ylabel '%s'\nset key %s\nplot ", title, ylabel, key);
    for (int i = 0; i < n; i++) {
        if (i) sb_printf(gp, ", \\\n     ");
        sb_gnuplot_string(gp, dat);
        sb_printf(gp, " using 1:%d title '%s' with linespoints lw 2 %s", c[i].column, c[i].title, look[i]);
    }
    sb_printf(gp, "\n");
}

static void plot_metrics(const char *csv, const char *out) {
    /* opened without blocking and checked: a FIFO is refused, not waited on */
    int fd = open(csv, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) plot_fail("cannot read %s: %s", csv, strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        plot_fail("cannot read %s: it is %s, not a file; give the CSV a trainer's --metrics wrote",
                  csv, file_kind(st.st_mode));
    }
    FILE *f = fdopen(fd, "r");
    if (!f) plot_fail("cannot read %s: %s", csv, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int header = getline(&line, &cap, f) >= 0;
    if (header) chomp(line);
    enum { CLASSES, REGRESSION, OLD, NONE } kind = NONE;
    static const char *const headers[] = { METRICS_CLASSES, METRICS_REGRESSION, METRICS_OLD };
    for (int k = CLASSES; header && k < NONE; k++)
        if (strcmp(line, headers[k]) == 0) kind = k;
    if (kind == NONE)
        plot_fail("%s is not a metrics CSV: its first line should be '" METRICS_CLASSES "' (or '" METRICS_REGRESSION
                  "' for a regression model), as a trainer's --metrics FILE writes", csv);
    int ncol = 1;
    for (const char *c = headers[kind]; *c; c++) ncol += *c == ',';
    StrBuf rows = { 0 };
    int n = 0, lineno = 1;
    double last_epoch = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        chomp(line);
        if (!line[0]) continue;
        double v[MAX_COLUMNS];
        if (!parse_row(line, v, ncol))
            plot_fail("%s:%d: expected %d numbers (%s), got '%.60s'", csv, lineno, ncol, headers[kind], line);
        for (int i = 0; i < ncol; i++) sb_printf(&rows, "%s%.9g", i ? " " : "", v[i]);
        sb_printf(&rows, "\n");
        last_epoch = v[0];
        n++;
    }
    free(line);
    fclose(f);
    if (n == 0) plot_fail("%s has no epochs, only its header", csv);

    need_gnuplot();
    make_tmpdir();
    char dat[PATH_MAX];
    write_text(tmp_path(dat, "metrics.dat"), rows.data, rows.len);
    sb_free(&rows);

    const char *base = strrchr(csv, '/');
    base = base ? base + 1 : csv;
    int regression = kind == REGRESSION;
    StrBuf title = { 0 };
    sb_printf(&title, "Training curves: %s (%d epoch%s)", base, n, n == 1 ? "" : "s");
    StrBuf gp = { 0 };
    script_begin(&gp, regression ? 560 : 1000, 420);
    sb_printf(&gp, "set multiplot layout 1,%d title ", regression ? 1 : 2);
    sb_gnuplot_string(&gp, title.data);
    sb_printf(&gp, "\nset grid\nset xlabel 'epoch'\n");
    double span = last_epoch > 1 ? last_epoch : 1;
    sb_printf(&gp, "set xtics %g\n", fmax(1.0, ceil(span / 10.0)));
    if (n == 1)   /* one point: give gnuplot ranges that are not empty */
        sb_printf(&gp, "set xrange [%.9g:%.9g]\nset yrange [0:*]\n", last_epoch - 1, last_epoch + 1);
    else
        sb_printf(&gp, "set offsets 0.3, 0.3, graph 0.05, graph 0.05\n");   /* x: in epochs */
    if (regression) {
        plot_panel(&gp, dat, "loss", "mean squared error per example", "top right",
                   (const Curve[]){ { 2, "train" }, { 3, "test" } }, 2);
    } else {
        if (kind == CLASSES)
            plot_panel(&gp, dat, "loss", "mean loss per example", "top right", (const Curve[]){ { 2, "train" }, { 3, "test" } }, 2);
        else
            plot_panel(&gp, dat, "loss", "loss", "top right", (const Curve[]){ { 2, "train" } }, 1);
        int acc = kind == CLASSES ? 4 : 3;
        plot_panel(&gp, dat, "accuracy", "accuracy", "bottom right",
                   (const Curve[]){ { acc, "train acc" }, { acc + 1, "test acc" } }, 2);
    }
    sb_printf(&gp, "unset multiplot\n");
    sb_free(&title);
    script_run(&gp, out);
    sb_free(&gp);
}

/* ---- the command ---------------------------------------------------------- */

int cmd_plot(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) { fputs(plot_help, stdout); return 0; }
    if (argc == 0) { fputs(plot_help, stderr); return 2; }
    static const char *const pictures[] = { "activations", "metrics", NULL };
    const char *what = argv[0];
    if (strcmp(what, pictures[0]) != 0 && strcmp(what, pictures[1]) != 0) {
        const char *near = nearest_name(what, pictures);
        if (near) {
            fprintf(stderr, "kiln plot: unknown picture '%s'; did you mean '%s'? run 'kiln plot --help'\n", what, near);
            return 2;
        }
        plot_usage("unknown picture '%s' (activations or metrics)", what);
    }
    int metrics = strcmp(what, "metrics") == 0;
    const char *out = NULL, *data = NULL, *csv = NULL;
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-o") == 0 || (strcmp(s, "--data") == 0 && !metrics)) {
            if (i + 1 >= argc) plot_usage("%s needs a path", s);
            if (s[1] == 'o') out = argv[++i];
            else data = argv[++i];
        } else if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) {
            verbose = 1;
        } else if (s[0] == '-' && s[1]) {
            plot_usage("unknown option '%s'", s);
        } else if (metrics && !csv) {
            csv = s;
        } else {
            plot_usage("unexpected argument '%s'", s);
        }
    }
    if (metrics && !csv) plot_usage("%s", "metrics needs the CSV a trainer's --metrics FILE wrote");
    if (!out) out = metrics ? "metrics.png" : "activations.png";
    char target[PATH_MAX];   /* the outputs are checked before the work: a device or FIFO is refused */
    output_target(out, target, sizeof target);
    if (data) output_target(data, target, sizeof target);
    if (metrics) {
        plot_metrics(csv, out);
    } else {
        plot_activations(out, data, verbose);
    }
    return 0;
}
