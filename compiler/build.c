/* build.c — files and the C compiler: atomic writes (temporary file, then
 * rename, so no half-written output ever sits at the real path), finding
 * kiln's runtime next to the kiln binary, and running cc on a trainer. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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

void write_file_atomic(const char *path, const char *data, size_t len) {
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= (int)sizeof tmp) fail("path too long: %s", path);
    make_parent_dir(path);
    FILE *f = fopen(tmp, "wb");
    if (!f) fail("cannot write %s: %s", path, strerror(errno));
    fail_cleanup_file(tmp);
    if (fwrite(data, 1, len, f) != len || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        fail("cannot write %s: %s", path, strerror(errno));
    }
    if (fclose(f) != 0) fail("cannot write %s: %s", path, strerror(errno));
    if (rename(tmp, path) != 0) fail("cannot rename %s to %s: %s", tmp, path, strerror(errno));
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

/* cc [flags] -std=c11 -fopenmp -I<home> SOURCES... libkiln_rt.a -lz -lm -o exe,
 * with the compiler and flags kiln builds trainers with; sources may hold
 * other arguments too (e.g. -DNAME). */
int build_program(const char *const *sources, int nsources, const char *exe, int verbose) {
    const char *home = kiln_home();
    char lib[PATH_MAX], inc[PATH_MAX], tmp[PATH_MAX];
    snprintf(lib, sizeof lib, "%s/libkiln_rt.a", home);
    snprintf(inc, sizeof inc, "-I%s", home);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", exe, (long)getpid());
    struct stat st;
    if (stat(lib, &st) != 0) fail("kiln's runtime is missing (%s); run ./build.sh to build it", lib);

    const char *cc = getenv("KILN_CC");
    const char *env_flags = getenv("KILN_CFLAGS");
    char *flags = xstrdup(env_flags ? env_flags : KILN_TRAINER_CFLAGS);
    char *ccs = xstrdup(cc && *cc ? cc : "cc");
    char *argv[112];
    int argc = split_words(ccs, argv, 0, 8);
    argc = split_words(flags, argv, argc, 80);
    argv[argc++] = "-std=c11";
    argv[argc++] = "-fopenmp";
    argv[argc++] = inc;
    if (nsources < 1 || nsources > 8) fail("internal error: build_program with %d sources", nsources);
    for (int i = 0; i < nsources; i++) argv[argc++] = (char *)sources[i];
    const char *c_file = sources[nsources - 1];
    argv[argc++] = lib;
    argv[argc++] = "-lz";
    argv[argc++] = "-lm";
    argv[argc++] = "-o";
    argv[argc++] = tmp;
    argv[argc] = NULL;

    if (verbose) {
        for (int i = 0; i < argc; i++) fprintf(stderr, "%s%s", i ? " " : "", argv[i]);
        fputc('\n', stderr);
    }
    make_parent_dir(exe);
    fail_cleanup_file(tmp);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
    if (err) fail("cannot run the C compiler '%s': %s; install gcc or set KILN_CC", argv[0], strerror(err));
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) fail("waiting for %s: %s", argv[0], strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("the C compiler failed on %s (%s exited with status %d)", c_file, argv[0],
             WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    if (rename(tmp, exe) != 0) fail("cannot rename %s to %s: %s", tmp, exe, strerror(errno));
    fail_cleanup_file(NULL);
    free(flags);
    free(ccs);
    return 0;
}

int build_trainer(const char *c_file, const char *exe, int verbose) {
    return build_program(&c_file, 1, exe, verbose);
}
