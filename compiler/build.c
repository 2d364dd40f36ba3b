/* build.c — files and the C compiler: atomic writes (temporary file, then
 * rename, so no half-written output ever sits at the real path), finding
 * kiln's runtime next to the kiln binary, and running cc on a trainer.
 *
 * An output goes only where a regular file is or may be: a device, FIFO,
 * directory or socket at the path is refused before anything is written
 * (run as root, `-o /dev/null` would otherwise replace the device with a
 * file), and a symbolic link is followed — the file it points to is
 * replaced, the link stays.  Temporaries are created exclusively (O_EXCL,
 * O_NOFOLLOW: a link planted at their name is not followed), and cc writes
 * into a directory of kiln's own (mkdtemp). */
#define _XOPEN_SOURCE 700   /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kiln.h"

#ifndef KILN_TRAINER_CFLAGS
#define KILN_TRAINER_CFLAGS "-O3 -march=native"
#endif

extern char **environ;

static void make_parent_dir(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(dir, 0777);
        *p = '/';
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) fail("cannot create directory %s: %s", dir, strerror(errno));
}

void output_target(const char *path, char *out, size_t n) {
    struct stat st;
    char link[PATH_MAX + 40] = "";   /* "a symbolic link to TARGET, " when it is one */
    if (!*path) fail("cannot write to an empty path; give -o the path of a file");
    if (snprintf(out, n, "%s", path) >= (int)n) fail("cannot write %s: the path is too long", path);
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return;   /* a new file */
        fail("cannot write %s: %s", path, strerror(errno));
    }
    if (S_ISLNK(st.st_mode)) {
        char to[PATH_MAX] = "";
        ssize_t len = readlink(path, to, sizeof to - 1);
        to[len > 0 ? len : 0] = 0;
        snprintf(link, sizeof link, "a symbolic link to %s, ", to);
        if (stat(path, &st) != 0 && errno == ENOENT)
            fail("cannot write %s: it is %swhich does not exist; give -o the path of a file", path, link);
        char *resolved = realpath(path, NULL);
        if (!resolved) fail("cannot write %s: %s", path, strerror(errno));
        int fits = snprintf(out, n, "%s", resolved) < (int)n;
        free(resolved);
        if (!fits) fail("cannot write %s: the path is too long", path);
    }
    if (!S_ISREG(st.st_mode))
        fail("cannot write %s: it is %s%s, not a regular file; give -o the path of a file", path, link,
             file_kind(st.st_mode));
}

/* Rename tmp over the output target, checked once more just before. */
static void replace_target(const char *tmp, const char *path) {
    char real[PATH_MAX];
    output_target(path, real, sizeof real);
    if (rename(tmp, real) != 0) fail("cannot rename %s to %s: %s", tmp, real, strerror(errno));
}

void write_file_atomic(const char *path, const char *data, size_t len) {
    char real[PATH_MAX], tmp[PATH_MAX];
    output_target(path, real, sizeof real);
    make_parent_dir(real);
    int fd = -1;
    for (int i = 0; fd < 0 && i < 100; i++) {
        if (snprintf(tmp, sizeof tmp, "%s.tmp%ld.%d", real, (long)getpid(), i) >= (int)sizeof tmp)
            fail("cannot write %s: the path is too long", path);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) fail("cannot write %s: %s", path, strerror(errno));
    }
    if (fd < 0) fail("cannot write %s: its temporary names are all taken (%s)", path, tmp);
    fail_cleanup_file(tmp);
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("cannot write %s: %s", path, strerror(errno));
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) fail("cannot write %s: %s", path, strerror(errno));
    replace_target(tmp, path);
    fail_cleanup_file(NULL);
}

const char *kiln_home(void) {
    static char home[PATH_MAX];
    if (home[0]) return home;
    const char *env = getenv("KILN_HOME");
    if (env && *env) {
        snprintf(home, sizeof home, "%s", env);
        return home;
    }
    ssize_t n = readlink("/proc/self/exe", home, sizeof home - 1);
    if (n <= 0) fail("cannot find the kiln binary's directory; set KILN_HOME to it");
    home[n] = 0;
    char *slash = strrchr(home, '/');
    if (slash) *slash = 0;
    return home;
}

/* Split s on spaces into argv (appending); s is modified. */
static int split_words(char *s, char **argv, int argc, int max) {
    for (char *w = strtok(s, " \t"); w && argc < max; w = strtok(NULL, " \t")) argv[argc++] = w;
    return argc;
}

/* A path as an argument of cc: one that starts with '-' (kiln build -o -x
 * makes the C file "-x.c") would be read as an option, so it gets "./". */
static char *path_arg(const char *path) {
    StrBuf sb = { 0 };
    sb_printf(&sb, "%s%s", path[0] == '-' ? "./" : "", path);
    return sb.data;
}

/* cc [flags] -std=c11 -fopenmp -I<home> SOURCES... libkiln_rt.a -lz -lm -o exe,
 * with the compiler and flags kiln builds trainers with (mpi: mpicc, and
 * libkiln_mpi.a before the runtime).  cc writes into a new directory
 * beside exe (mkdtemp), then the result is renamed to exe. */
int build_program(const char *const *sources, int nsources, const char *exe, int verbose, int mpi) {
    const char *home = kiln_home();
    char lib[PATH_MAX], mpilib[PATH_MAX], inc[PATH_MAX], real[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/libkiln_rt.a", home);
    snprintf(mpilib, sizeof mpilib, "%s/libkiln_mpi.a", home);
    snprintf(inc, sizeof inc, "-I%s", home);
    struct stat st;
    if (stat(lib, &st) != 0) fail("kiln's runtime is missing (%s); run ./build.sh to build it", lib);
    if (mpi && stat(mpilib, &st) != 0)
        fail("kiln's MPI runtime is missing (%s); install Open MPI (apt-get install openmpi-bin libopenmpi-dev) "
             "and run ./build.sh again", mpilib);
    output_target(exe, real, sizeof real);
    const char *slash = strrchr(real, '/');
    if (snprintf(dir, sizeof dir, "%.*s.kiln-XXXXXX", slash ? (int)(slash - real + 1) : 0, real) >= (int)sizeof dir ||
        snprintf(tmp, sizeof tmp, "%s/%s", dir, slash ? slash + 1 : real) >= (int)sizeof tmp)
        fail("cannot write %s: the path is too long", exe);
    make_parent_dir(real);
    if (!mkdtemp(dir)) fail("cannot create a temporary directory beside %s: %s", exe, strerror(errno));
    memcpy(tmp, dir, strlen(dir));   /* the name mkdtemp chose */
    fail_cleanup_dir(dir);
    fail_cleanup_file(tmp);

    const char *cc = getenv(mpi ? "KILN_MPICC" : "KILN_CC");
    const char *env_flags = getenv("KILN_CFLAGS");
    char *flags = xstrdup(env_flags ? env_flags : KILN_TRAINER_CFLAGS);
    char *ccs = xstrdup(cc && *cc ? cc : mpi ? "mpicc" : "cc");
    char *argv[112], *owned[12];
    int nowned = 0;
    int argc = split_words(ccs, argv, 0, 8);
    argc = split_words(flags, argv, argc, 80);
    argv[argc++] = "-std=c11";
    argv[argc++] = "-fopenmp";
    argv[argc++] = inc;
    if (nsources < 1 || nsources > 8) fail("internal error: build_program with %d sources", nsources);
    for (int i = 0; i < nsources; i++) argv[argc++] = owned[nowned++] = path_arg(sources[i]);
    const char *c_file = sources[nsources - 1];
    if (mpi) argv[argc++] = owned[nowned++] = path_arg(mpilib);
    argv[argc++] = owned[nowned++] = path_arg(lib);
    argv[argc++] = "-lz";
    argv[argc++] = "-lm";
    argv[argc++] = "-o";
    argv[argc++] = owned[nowned++] = path_arg(tmp);
    argv[argc] = NULL;

    if (verbose) {
        for (int i = 0; i < argc; i++) fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
        fputc('\n', stderr);
    }
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (err)
        fail("cannot run the C compiler '%s': %s; %s", argv[0], strerror(err),
             mpi ? "install Open MPI (apt-get install libopenmpi-dev) or set KILN_MPICC" : "install gcc or set KILN_CC");
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) fail("waiting for %s: %s", argv[0], strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("the C compiler failed on %s (%s exited with status %d)", c_file, argv[0],
             WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    replace_target(tmp, exe);
    rmdir(dir);
    fail_cleanup_file(NULL);
    fail_cleanup_dir(NULL);
    for (int i = 0; i < nowned; i++) free(owned[i]);
    free(flags);
    free(ccs);
    return 0;
}

int build_trainer(const char *c_file, const char *exe, int verbose, int mpi) {
    return build_program(&c_file, 1, exe, verbose, mpi);
}
