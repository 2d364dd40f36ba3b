/* main.c — kiln's command line: compile, build, train and graph, each with
 * its own --help.  Every command runs the same pipeline (compile.c); they
 * differ only in what they do with the result. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln.h"
#include "../runtime/flags.h"

static const char usage[] =
    "usage: kiln COMMAND SPEC [options]\n"
    "\n"
    "kiln compiles a neural network written in Lua into a C training program.\n"
    "\n"
    "commands:\n"
    "  compile SPEC [-o FILE.c]     write the trainer's C source (default build/NAME.c)\n"
    "  build SPEC [-o EXE]          compile and build the trainer (default build/NAME)\n"
    "  train SPEC [FLAGS...]        build the trainer if stale, then run it with FLAGS\n"
    "                               (compile, build, train, graph, summary: --batch N\n"
    "                               instead of the spec's batch size; compile, build,\n"
    "                               train, graph: --mpi, a data parallel trainer)\n"
    "  graph SPEC [--dot|--kernels|--plan]  print the graph, its kernels or its memory plan\n"
    "  summary SPEC                 one row per layer: output shape, parameters, FLOPs; the totals\n"
    "  export SPEC --load CKPT [-o FILE.c]  the trained model as standalone C for inference\n"
    "  plot activations|metrics CSV [-o FILE.png]  draw a picture with gnuplot\n"
    "\n"
    "options:\n"
    "  -h, --help                   this help; 'kiln COMMAND --help' for one command\n"
    "  --version                    print kiln's version\n"
    "\n"
    "example:\n"
    "  kiln train models/mlp.lua --epochs 5\n";

static const char compile_help[] =
    "usage: kiln compile SPEC [-o FILE.c]\n"
    "\n"
    "Run SPEC, infer every shape, differentiate, plan memory and write one C file\n"
    "specialized to the model: the trainer's whole source apart from kiln's runtime.\n"
    "\n"
    "  -o FILE.c   where to write it (default build/NAME.c; '-' for stdout); a symbolic\n"
    "              link is followed and the file it points to replaced; a device,\n"
    "              FIFO or directory there is refused\n"
    "  -v, --verbose  print the memory plan (arena size, buffers, lifetimes) on stderr\n"
    "  --batch N   the batch size instead of the spec's (1 to 65536)\n"
    "  --mpi       a data parallel trainer, run with mpirun (default build/NAME_mpi.c)\n";

static const char build_help[] =
    "usage: kiln build SPEC [-o EXE] [-v]\n"
    "\n"
    "Compile SPEC to C (next to EXE, as EXE.c) and build the trainer with the C\n"
    "compiler, linking kiln's runtime, zlib, libm and OpenMP.\n"
    "\n"
    "  -o EXE      the trainer to write (default build/NAME); EXE and EXE.c may be\n"
    "              symbolic links (the files they point to are replaced) but not\n"
    "              devices, FIFOs or directories\n"
    "  -v          show the memory plan and the C compiler's command line\n"
    "  --batch N   the batch size instead of the spec's (1 to 65536)\n"
    "  --mpi       a data parallel trainer (default build/NAME_mpi), built with mpicc\n"
    "              (KILN_MPICC) and Open MPI: mpirun -np N build/NAME_mpi [flags]\n"
    "              trains on N processes, each taking its share of every minibatch\n"
    "\n"
    "environment:\n"
    "  KILN_CC       C compiler (default cc)\n"
    "  KILN_CFLAGS   its flags (default \"" "-O3 -march=native" "\"; use -O3 for a portable binary)\n"
    "  KILN_HOME     directory holding libkiln_rt.a and kiln_rt.h (default: kiln's own)\n";

/* One line of the trainer's flags (runtime/flags.h) for kiln train --help. */
#define TRAIN_FLAG_LINE(name, value, what) "  " name " " value "\t" what "\n"
static const char train_help[] =
    "usage: kiln train SPEC [--batch N] [--mpi [-np N]] [FLAGS...]\n"
    "\n"
    "Build build/NAME from SPEC unless it is up to date, then run it with FLAGS.\n"
    "--batch N builds it with batch N instead of the spec's (a trainer's batch is\n"
    "compiled in); --mpi builds the data parallel trainer build/NAME_mpi and runs\n"
    "it as mpirun -np N (default 2).  The trainer's flags ('kiln train SPEC --help'\n"
    "prints the model's own help, with its defaults):\n";
static const char train_flags[] = KILN_TRAINER_FLAGS(TRAIN_FLAG_LINE);

/* kiln train --help: the usage, then the flags in two columns. */
static void print_train_help(FILE *f) {
    fputs(train_help, f);
    for (const char *line = train_flags; *line;) {
        const char *tab = strchr(line, '\t'), *end = strchr(line, '\n');
        fprintf(f, "%-18.*s%.*s\n", (int)(tab - line), line, (int)(end - tab - 1), tab + 1);
        line = end + 1;
    }
}

static const char summary_help[] =
    "usage: kiln summary SPEC\n"
    "\n"
    "Print the model as a table, like Keras's model.summary(): one row per layer\n"
    "with its output shape, its parameter count and the FLOPs of its products per\n"
    "example (forward; backward = weight gradient + input gradient, none for an\n"
    "input that is the data; 2 FLOPs per multiply-add; elementwise ops, pooling,\n"
    "batch norm, the loss and the update not counted), then the exact number of\n"
    "parameters, the model's and the optimizer's state, and the arena the trainer\n"
    "holds for one batch's activations and gradients.\n";

static const char export_help[] =
    "usage: kiln export SPEC --load CKPT [-o FILE.c]\n"
    "\n"
    "Write the model of SPEC with the parameters of the checkpoint CKPT (saved by\n"
    "its trainer's --save) as one standalone C file for inference, and its header\n"
    "beside it (FILE.h): the forward pass on one example in evaluation mode\n"
    "(dropout off, batch norm's running statistics), the weights as constant\n"
    "arrays, and one function, int NAME_predict(const float *input, float *out),\n"
    "which fills out with the class probabilities and returns the most probable\n"
    "class (a regression model: its outputs, and 0).  No kiln runtime, no OpenMP:\n"
    "  cc -std=c11 -O2 -c FILE.c && cc app.c FILE.o -lm\n"
    "\n"
    "  --load CKPT  the trained checkpoint (required); another model's is refused\n"
    "  -o FILE.c    where to write (default build/NAME_predict.c; FILE.h beside it)\n";

static const char graph_help[] =
    "usage: kiln graph SPEC [--dot | --kernels | --plan]\n"
    "\n"
    "Print the model's graph after shape inference and autodiff: inputs,\n"
    "parameters, then the forward, loss, backward and update nodes, one per line\n"
    "with the shapes they produce.\n"
    "\n"
    "  --dot       Graphviz instead (kiln graph SPEC --dot | dot -Tpng > g.png)\n"
    "  --kernels   the kernels (training and evaluation) and the graph nodes each fuses\n"
    "  --plan      the memory plan: the arena's size, each buffer's slice and lifetime\n"
    "  --mpi       of the data parallel trainer (kiln build --mpi)\n";

static int wants_help(int argc, char **argv) {
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
    return 0;
}

/* Through fail_usage: an argument's control characters are escaped. */
_Noreturn static void usage_fail(const char *cmd, const char *fmt, const char *arg) {
    char what[1024];
    snprintf(what, sizeof what, fmt, arg);
    fail_usage("kiln %s: %s; run 'kiln %s --help'", cmd, what, cmd);
}

/* Parse "SPEC [-o PATH] [flags]" for compile/build/graph. */
typedef struct { const char *spec, *out, *load; int dot, kernels, plan, verbose, mpi; long batch; } Args;

/* --batch's value (a whole number from 1 to KILN_MAX_BATCH), or a usage error. */
static long batch_arg(const char *cmd, const char *v) {
    char *end;
    errno = 0;
    long b = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || b < 1 || b > KILN_MAX_BATCH)
        usage_fail(cmd, "--batch expects a whole number from 1 to 65536, got '%s'", v ? v : "nothing");
    _Static_assert(KILN_MAX_BATCH == 65536, "the message says 65536");
    return b;
}

static Args parse_args(const char *cmd, int argc, char **argv, int allow_graph_flags) {
    Args a = { 0 };
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "-o") == 0 && !allow_graph_flags) {
            if (i + 1 >= argc) usage_fail(cmd, "%s needs a path", s);
            a.out = argv[++i];
        } else if (strcmp(s, "--load") == 0 && strcmp(cmd, "export") == 0) {
            if (i + 1 >= argc) usage_fail(cmd, "%s needs a checkpoint, e.g. --load mlp.ckpt", s);
            a.load = argv[++i];
        } else if (strcmp(s, "--mpi") == 0 && strcmp(cmd, "export") != 0 && strcmp(cmd, "summary") != 0) {
            a.mpi = 1;
        } else if (strcmp(s, "--batch") == 0) {
            a.batch = batch_arg(cmd, i + 1 < argc ? argv[++i] : NULL);
        } else if (strncmp(s, "--batch=", 8) == 0) {
            a.batch = batch_arg(cmd, s + 8);
        } else if ((strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0) && !allow_graph_flags) {
            a.verbose = 1;
        } else if (strcmp(s, "--dot") == 0 && allow_graph_flags) {
            a.dot = 1;
        } else if (strcmp(s, "--kernels") == 0 && allow_graph_flags) {
            a.kernels = 1;
        } else if (strcmp(s, "--plan") == 0 && allow_graph_flags) {
            a.plan = 1;
        } else if (s[0] == '-' && s[1]) {
            usage_fail(cmd, "unknown option '%s'", s);
        } else if (!a.spec) {
            a.spec = s;
        } else {
            usage_fail(cmd, "unexpected argument '%s' (one spec at a time)", s);
        }
    }
    if (!a.spec) usage_fail(cmd, "%s", "missing the spec, e.g. models/mlp.lua");
    return a;
}

static void print_plan(const Graph *g) {
    StrBuf plan = { 0 };
    dump_plan(&plan, g);
    fputs(plan.data, stderr);
    sb_free(&plan);
}

/* build/NAME (a data parallel trainer: build/NAME_mpi) and ext */
static void default_path(char *buf, size_t n, const Spec *s, const char *ext) {
    snprintf(buf, n, "build/%s%s%s", s->cname, s->mpi ? "_mpi" : "", ext);
}

static int cmd_compile(int argc, char **argv) {
    if (wants_help(argc, argv)) { fputs(compile_help, stdout); return 0; }
    Args a = parse_args("compile", argc, argv, 0);
    int to_stdout = a.out && strcmp(a.out, "-") == 0;
    char path[PATH_MAX];
    if (a.out && !to_stdout) output_target(a.out, path, sizeof path);   /* refused before the work */
    Spec spec;
    Graph g;
    compile_spec(a.spec, a.batch, a.mpi, &spec, &g);
    StrBuf c = { 0 };
    emit_model(&c, &g);
    if (a.verbose) print_plan(&g);
    if (to_stdout) {
        fwrite(c.data, 1, c.len, stdout);
    } else {
        if (a.out) snprintf(path, sizeof path, "%s", a.out);
        else default_path(path, sizeof path, &spec, ".c");
        write_file_atomic(path, c.data, c.len);
        note("wrote %s, the C trainer of %s; kiln build makes the program", path, a.spec);
    }
    sb_free(&c);
    graph_free(&g);
    spec_free(&spec);
    return 0;
}

/* Is path a regular file whose content is exactly data?  (Opened without
 * blocking: a FIFO put there is not waited on.) */
static int same_content(const char *path, const StrBuf *data) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return 0;
    int same = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == data->len;
    char *buf = xmalloc(data->len + 1);
    size_t got = 0;
    while (same && got <= data->len) {
        ssize_t n = read(fd, buf + got, data->len + 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    same = same && got == data->len && memcmp(buf, data->data, data->len) == 0;
    free(buf);
    return same;
}

static int newer_or_same(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_mtim.tv_sec > sb.st_mtim.tv_sec ||
           (sa.st_mtim.tv_sec == sb.st_mtim.tv_sec && sa.st_mtim.tv_nsec >= sb.st_mtim.tv_nsec);
}

/* Compile spec into exe (with exe.c beside it); skip cc when exe is newer
 * than an identical C file and the runtime. */
/* Builds the trainer of spec_path into exe (out, or build/NAME); returns 1
 * if it built, 0 if exe was up to date. */
static int build_exe(const char *spec_path, long batch, int mpi, const char *out, int verbose, char *exe, size_t n) {
    char c_path[PATH_MAX], lib[PATH_MAX], real[PATH_MAX];
    if (out) {   /* refused before the work */
        snprintf(c_path, sizeof c_path, "%s.c", out);
        output_target(out, real, sizeof real);
        output_target(c_path, real, sizeof real);
    }
    Spec spec;
    Graph g;
    compile_spec(spec_path, batch, mpi, &spec, &g);
    StrBuf c = { 0 };
    emit_model(&c, &g);
    if (verbose) print_plan(&g);
    if (out) snprintf(exe, n, "%s", out);
    else default_path(exe, n, &spec, "");
    snprintf(c_path, sizeof c_path, "%s.c", exe);
    output_target(exe, real, sizeof real);
    output_target(c_path, real, sizeof real);
    snprintf(lib, sizeof lib, "%s/libkiln_rt.a", kiln_home());
    int fresh = same_content(c_path, &c) && newer_or_same(exe, c_path) && newer_or_same(exe, lib);
    if (!fresh) {
        if (!same_content(c_path, &c)) write_file_atomic(c_path, c.data, c.len);
        build_trainer(c_path, exe, verbose, mpi);
    }
    sb_free(&c);
    graph_free(&g);
    spec_free(&spec);
    return !fresh;
}

static int cmd_build(int argc, char **argv) {
    if (wants_help(argc, argv)) { fputs(build_help, stdout); return 0; }
    Args a = parse_args("build", argc, argv, 0);
    char exe[PATH_MAX];
    if (!build_exe(a.spec, a.batch, a.mpi, a.out, a.verbose, exe, sizeof exe))
        note("%s is up to date with %s", exe, a.spec);
    else if (a.mpi)
        note("built %s (and its source %s.c), the data parallel trainer of %s; run mpirun -np N %s%s", exe, exe,
             a.spec, strchr(exe, '/') ? "" : "./", exe);
    else
        note("built %s (and its source %s.c), the trainer of %s; run %s%s --help", exe, exe, a.spec,
             strchr(exe, '/') ? "" : "./", exe);
    return 0;
}

static int cmd_train(int argc, char **argv) {
    if (argc == 0 || (argv[0][0] == '-' && wants_help(1, argv))) {
        print_train_help(stdout);
        return argc ? 0 : 2;
    }
    const char *spec = argv[0];
    /* --batch, --mpi and -np are kiln's (the trainer is built with them, or run
     * under mpirun); every other flag the trainer's */
    long batch = 0;
    int mpi = 0;
    const char *np = NULL;
    char **targv = xcalloc((size_t)argc + 8, sizeof *targv);
    int targc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0) batch = batch_arg("train", i + 1 < argc ? argv[++i] : NULL);
        else if (strncmp(argv[i], "--batch=", 8) == 0) batch = batch_arg("train", argv[i] + 8);
        else if (strcmp(argv[i], "--mpi") == 0) mpi = 1;
        else if (strcmp(argv[i], "-np") == 0 && i + 1 < argc) np = argv[++i];
        else targv[targc++] = argv[i];
    }
    if (np && !mpi) fail_usage("kiln train: -np %s runs ranks of a data parallel trainer; add --mpi", np);
    char exe[PATH_MAX];
    if (build_exe(spec, batch, mpi, NULL, 0, exe, sizeof exe)) {
        if (batch) note("built %s, the trainer of %s, with batch %ld", exe, spec, batch);
        else note("built %s, the trainer of %s", exe, spec);
    }
    /* the command: the trainer, or mpirun [--allow-run-as-root] -np N and the trainer */
    char **cmd = xcalloc((size_t)targc + 8, sizeof *cmd);
    int c = 0;
    if (mpi) {
        cmd[c++] = "mpirun";
        if (geteuid() == 0) cmd[c++] = "--allow-run-as-root";   /* Open MPI refuses root without it */
        cmd[c++] = "-np";
        cmd[c++] = (char *)(np ? np : "2");
    }
    cmd[c++] = exe;
    for (int i = 0; i < targc; i++) cmd[c++] = targv[i];
    cmd[c] = NULL;
    fflush(stdout);
    execvp(cmd[0], cmd);
    fail("cannot run %s: %s%s", cmd[0], strerror(errno), mpi ? "; install Open MPI (apt-get install openmpi-bin)" : "");
}

static int cmd_export(int argc, char **argv) {
    if (wants_help(argc, argv)) { fputs(export_help, stdout); return 0; }
    Args a = parse_args("export", argc, argv, 0);
    if (!a.load)
        fail_usage("kiln export: needs --load CKPT, the trained checkpoint (a trainer's --save FILE writes one); "
                   "run 'kiln export --help'");
    if (a.batch) fail_usage("kiln export: --batch is not an option here; the exported code takes one example");
    if (a.out && (strlen(a.out) < 3 || strcmp(a.out + strlen(a.out) - 2, ".c") != 0))
        fail_usage("kiln export: -o %s must end in .c (the header is written beside it, as .h)", a.out);
    Spec spec;
    Graph g;
    compile_spec(a.spec, 0, 0, &spec, &g);
    char c_path[PATH_MAX], h_path[PATH_MAX], real[PATH_MAX];
    if (a.out) snprintf(c_path, sizeof c_path, "%s", a.out);
    else snprintf(c_path, sizeof c_path, "build/%s_predict.c", spec.cname);
    snprintf(h_path, sizeof h_path, "%.*sh", (int)strlen(c_path) - 1, c_path);
    output_target(c_path, real, sizeof real);
    output_target(h_path, real, sizeof real);
    char base[PATH_MAX];   /* the file name without its directory and .c */
    const char *slash = strrchr(c_path, '/');
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : c_path);
    base[strlen(base) - 2] = 0;
    StrBuf c = { 0 }, h = { 0 };
    export_model(&c, &h, &g, a.load, base);
    write_file_atomic(h_path, h.data, h.len);
    write_file_atomic(c_path, c.data, c.len);
    note("wrote %s and %s: %s's forward pass with the parameters of %s; cc -std=c11 -c %s", c_path, h_path,
         a.spec, a.load, c_path);
    sb_free(&c);
    sb_free(&h);
    graph_free(&g);
    spec_free(&spec);
    return 0;
}

static int cmd_graph(int argc, char **argv) {
    if (wants_help(argc, argv)) { fputs(graph_help, stdout); return 0; }
    Args a = parse_args("graph", argc, argv, 1);
    if (a.dot + a.kernels + a.plan > 1)
        fail_usage("kiln graph: %s and %s are different views; give one (run 'kiln graph --help')",
                   a.dot ? "--dot" : "--kernels", a.plan ? "--plan" : "--kernels");
    Spec spec;
    Graph g;
    compile_spec(a.spec, a.batch, a.mpi, &spec, &g);
    StrBuf out = { 0 };
    if (a.dot) dump_dot(&out, &g);
    else if (a.kernels) dump_kernels(&out, &g);
    else if (a.plan) dump_plan(&out, &g);
    else dump_graph(&out, &g);
    fwrite(out.data, 1, out.len, stdout);
    sb_free(&out);
    graph_free(&g);
    spec_free(&spec);
    return 0;
}

static int cmd_summary(int argc, char **argv) {
    if (wants_help(argc, argv)) { fputs(summary_help, stdout); return 0; }
    Args a = parse_args("summary", argc, argv, 0);
    if (a.out) fail_usage("kiln summary: -o is not an option here; the table goes to stdout");
    Spec spec;
    Graph g;
    compile_spec(a.spec, a.batch, a.mpi, &spec, &g);
    StrBuf out = { 0 };
    dump_summary(&out, &g);
    fwrite(out.data, 1, out.len, stdout);
    sb_free(&out);
    graph_free(&g);
    spec_free(&spec);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fputs(usage, stderr); return 2; }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) { printf("kiln %s\n", KILN_VERSION); return 0; }
    if (strcmp(cmd, "compile") == 0) return cmd_compile(argc - 2, argv + 2);
    if (strcmp(cmd, "build") == 0) return cmd_build(argc - 2, argv + 2);
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "graph") == 0) return cmd_graph(argc - 2, argv + 2);
    if (strcmp(cmd, "summary") == 0) return cmd_summary(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0) return cmd_export(argc - 2, argv + 2);
    if (strcmp(cmd, "plot") == 0) return cmd_plot(argc - 2, argv + 2);
    static const char *const cmds[] = { "compile", "build", "train", "graph", "summary", "export", "plot", NULL };
    const char *near = nearest_name(cmd, cmds);
    if (near) fail_usage("kiln: unknown command '%s'; did you mean '%s'? run 'kiln --help'", cmd, near);
    fail_usage("kiln: unknown command '%s'; run 'kiln --help' for the list", cmd);
}
