/* error.c — the one funnel for errors a user sees: one line, naming the
 * spec's file and line when there is one, then exit status 1 with any
 * half-written output removed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln.h"

static char *cleanup_path;

void fail_cleanup_file(const char *path) {
    free(cleanup_path);
    cleanup_path = path ? xstrdup(path) : NULL;
}

static _Noreturn void vfail(const Loc *loc, const char *fmt, va_list ap) {
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
    vfail(loc, fmt, ap);
}

void fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(NULL, fmt, ap);
}

void fail_message(const char *msg) {
    Loc raw = { NULL, -1 };
    fail_at(&raw, "%s", msg);
}
