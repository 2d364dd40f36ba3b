/* fuzz_spec.c — libFuzzer harness for kiln's front end and whole pipeline:
 * the input bytes are a spec, written to a file (spec_load reads a path),
 * then spec_load → graph → shape → autodiff → fuse → plan (compile_spec)
 * → emit_model into memory.  kiln's error funnel is told to longjmp back
 * here (fail_recover) instead of exiting, so a refused spec is an ordinary
 * outcome; a crash, a sanitizer report or a leak is a finding.
 * Built and run by ./build.sh fuzz; KILN_FUZZ_VERBOSE=1 prints each refusal. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kiln.h"

static char spec_file[4096];
static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    snprintf(spec_file, sizeof spec_file, "%s/kiln-fuzz-%ld.lua", dir, (long)getpid());
    verbose = getenv("KILN_FUZZ_VERBOSE") != NULL;
    return 0;
}

static void remove_spec_file(void) { unlink(spec_file); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int registered;
    if (!registered) { atexit(remove_spec_file); registered = 1; }
    FILE *f = fopen(spec_file, "wb");
    if (!f) { perror(spec_file); abort(); }
    if (size && fwrite(data, 1, size, f) != size) { perror(spec_file); abort(); }
    if (fclose(f) != 0) { perror(spec_file); abort(); }

    /* static: their values must survive the longjmp */
    static Spec spec;
    static Graph g;
    static StrBuf c;
    memset(&spec, 0, sizeof spec);
    memset(&g, 0, sizeof g);
    memset(&c, 0, sizeof c);
    jmp_buf jb;
    if (setjmp(jb) == 0) {
        fail_recover(&jb);
        compile_spec(spec_file, 0, 0, &spec, &g);
        emit_model(&c, &g);
        if (c.len == 0 || !strstr(c.data, "int main")) {
            fprintf(stderr, "fuzz_spec: emit_model wrote no trainer\n");
            abort();
        }
    } else if (verbose) {
        fprintf(stderr, "refused: %s\n", fail_last_message());
    }
    fail_recover(NULL);
    sb_free(&c);
    graph_free(&g);
    spec_free(&spec);
    return 0;
}
