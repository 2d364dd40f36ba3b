/* error.c — the one funnel for errors a user sees: one line, naming the
 * spec's file and line when there is one, then exit status 1 with any
 * half-written output removed.  Whatever a message quotes (a spec's own
 * error text, a file name) stays on that one line: control characters are
 * written as escapes (\n, \x1b), so a spec cannot forge a second "kiln:"
 * line or drive the terminal.
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

static char *cleanup_path, *cleanup_dir;
static jmp_buf *recover_to;
static char recover_message[1024];
static void (*recover_cleanup)(void *);
static void *recover_cleanup_arg;

void fail_cleanup_file(const char *path) {
    free(cleanup_path);
    cleanup_path = path ? xstrdup(path) : NULL;
}

void fail_cleanup_dir(const char *dir) {
    free(cleanup_dir);
    cleanup_dir = dir ? xstrdup(dir) : NULL;
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

/* The length of the well-formed UTF-8 sequence at s (2 to 4 bytes), or 0:
 * not one, or one that encodes a C1 control character (U+0080–U+009F,
 * which some terminals obey like ESC). */
static int utf8_length(const unsigned char *s) {
    static const unsigned long least[] = { 0, 0, 0xa0, 0x800, 0x10000 };   /* no overlong forms, no C1 */
    int n = s[0] >= 0xf5 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
    unsigned long cp = s[0] & (0x7fu >> n);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;   /* (stops at the terminating NUL too) */
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if (n == 0 || cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return n;
}

int escape_piece(const char *text, char piece[8], int keep_lines) {
    const unsigned char *s = (const unsigned char *)text;
    int n = *s >= 0x80 ? utf8_length(s) : 0;
    memset(piece, 0, 8);
    if (n) memcpy(piece, s, (size_t)n);
    else if (keep_lines && (*s == '\n' || *s == '\t')) piece[0] = (char)*s;
    else if (*s == '\n') strcpy(piece, "\\n");
    else if (*s == '\r') strcpy(piece, "\\r");
    else if (*s == '\t') strcpy(piece, "\\t");
    else if (*s < 0x20 || *s >= 0x7f) snprintf(piece, 8, "\\x%02x", *s);
    else piece[0] = (char)*s;
    return n ? n : 1;
}

/* Copy text into out (cap bytes with the NUL), escaped as escape_piece
 * says.  A line too long for out ends in "...". */
static void escape_line(char *out, size_t cap, const char *text, int truncated) {
    size_t at = 0;
    for (const char *s = text; *s;) {
        char piece[8];
        int n = escape_piece(s, piece, 0);
        size_t len = strlen(piece);
        if (at + len + 4 > cap) { truncated = 1; break; }   /* room for "..." and the NUL */
        memcpy(out + at, piece, len);
        at += len;
        s += n;
    }
    if (truncated && at + 4 <= cap) {
        memcpy(out + at, "...", 3);
        at += 3;
    }
    out[at] = 0;
}

/* The line a failure prints: "file:line: message" (or "kiln: message"),
 * escaped as above, without the newline. */
static void vformat_line(char *out, size_t cap, const Loc *loc, const char *fmt, va_list ap) {
    char raw[4096];
    int n = 0;
    if (loc && loc->file && loc->line > 0) n = snprintf(raw, sizeof raw, "%s:%d: ", loc->file, loc->line);
    else if (loc && loc->file) n = snprintf(raw, sizeof raw, "%s: ", loc->file);
    else n = snprintf(raw, sizeof raw, "kiln: ");
    if (n < 0) n = 0;
    if ((size_t)n < sizeof raw) {
        int m = vsnprintf(raw + n, sizeof raw - (size_t)n, fmt, ap);
        if (m > 0) n += m;
    }
    escape_line(out, cap, raw, (size_t)n >= sizeof raw);
}

void note(const char *fmt, ...) {
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vformat_line(line, sizeof line, NULL, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}

void fail_usage(const char *fmt, ...) {
    char raw[4096];
    static char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    escape_line(line, sizeof line, n < 0 ? "" : raw, n >= (int)sizeof raw);
    fprintf(stderr, "%s\n", line);
    exit(2);
}

void fail_format(char *out, size_t cap, const Loc *loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vformat_line(out, cap, loc, fmt, ap);
    va_end(ap);
}

/* The half-written output goes first: printing may kill kiln (SIGPIPE, when
 * stderr is a pipe whose reader is gone), and nothing may stay behind. */
static void remove_cleanup(void) {
    if (cleanup_path) unlink(cleanup_path);
    if (cleanup_dir) rmdir(cleanup_dir);
}

static _Noreturn void vfail(const Loc *loc, const char *fmt, va_list ap) {
    if (recover_to) {
        /* format first: the message may live in the state the cleanup frees */
        vformat_line(recover_message, sizeof recover_message, loc, fmt, ap);
        remove_cleanup();
        void (*fn)(void *) = recover_cleanup;
        recover_cleanup = NULL;
        if (fn) fn(recover_cleanup_arg);
        longjmp(*recover_to, 1);
    }
    static char line[4096];
    vformat_line(line, sizeof line, loc, fmt, ap);
    remove_cleanup();
    fflush(stdout);
    fprintf(stderr, "%s\n", line);
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
