/* error.c — the one funnel for errors a user sees: one line, naming the
 * spec's file and line when there is one, then exit status 1 with any
 * half-written output removed.
 *
 * Recovery (for an in-process host such as the fuzzer, tests/fuzz/): after
 * fail_recover(&jb), a failure does not print or exit; it keeps the line in
 * a buffer (fail_last_message), removes the half-written output as usual,
 * runs the cleanup a pass registered with fail_on_recover (spec.c closes its
 * Lua state that way), and longjmps to jb.  kiln itself never sets it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln.h"

static char *cleanup_path;
static jmp_buf *recover_to;
static char recover_message[1024];
static void (*recover_cleanup)(void *);
static void *recover_cleanup_arg;

void fail_cleanup_file(const char *path) {
    free(cleanup_path);
    cleanup_path = path ? xstrdup(path) : NULL;
}

void fail_recover(jmp_buf *jb) {
    recover_to = jb;
    recover_message[0] = 0;
}

int fail_recovering(void) { return recover_to != NULL; }

const char *fail_last_message(void) { return recover_message; }

void fail_on_recover(void (*fn)(void *), void *arg) {
    recover_cleanup = fn;
    recover_cleanup_arg = arg;
}

static _Noreturn void vfail(const Loc *loc, const char *fmt, va_list ap) {
    if (recover_to) {
        /* format first: the message may live in the state the cleanup frees */
        size_t n = 0, cap = sizeof recover_message;
        if (loc && loc->file && loc->line > 0) n = (size_t)snprintf(recover_message, cap, "%s:%d: ", loc->file, loc->line);
        else if (loc && loc->file) n = (size_t)snprintf(recover_message, cap, "%s: ", loc->file);
        else if (!(loc && loc->line < 0)) n = (size_t)snprintf(recover_message, cap, "kiln: ");
        if (n < cap) vsnprintf(recover_message + n, cap - n, fmt, ap);
        if (cleanup_path) unlink(cleanup_path);
        void (*fn)(void *) = recover_cleanup;
        recover_cleanup = NULL;
        if (fn) fn(recover_cleanup_arg);
        longjmp(*recover_to, 1);
    }
    fflush(stdout);
    if (loc && loc->file && loc->line > 0)
        fprintf(stderr, "%s:%d: ", loc->file, loc->line);
    else if (loc && loc->file)
        fprintf(stderr, "%s: ", loc->file);
    else if (loc && loc->line < 0)
        ;   /* the message names its place itself (a Lua error) */
    else
        fprintf(stderr, "kiln: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    if (cleanup_path) unlink(cleanup_path);
    exit(1);
}

void fail_at(const Loc *loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(loc, fmt, ap);   /* does not return; va_end for cppcheck, which cannot see longjmp is noreturn */
    va_end(ap);
}

void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(NULL, fmt, ap);   /* does not return */
    va_end(ap);
}

void fail_message(const char *msg) {
    Loc raw = { NULL, -1 };
    fail_at(&raw, "%s", msg);
}
