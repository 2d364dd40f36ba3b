/* with_signals.c — runs a program with signals blocked or ignored, as a
 * parent can start it (both are inherited across exec):
 *   with_signals block|ignore SIG[,SIG...] PROGRAM [ARGS...]
 * SIG is INT, TERM or ALRM. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: with_signals block|ignore SIG[,SIG...] PROGRAM [ARGS...]\n");
        return 2;
    }
    int block = strcmp(argv[1], "block") == 0;
    sigset_t set;
    sigemptyset(&set);
    for (char *name = strtok(argv[2], ","); name; name = strtok(NULL, ",")) {
        int sig = !strcmp(name, "INT") ? SIGINT : !strcmp(name, "TERM") ? SIGTERM :
                  !strcmp(name, "ALRM") ? SIGALRM : 0;
        if (!sig) {
            fprintf(stderr, "with_signals: unknown signal %s\n", name);
            return 2;
        }
        sigaddset(&set, sig);
        if (!block) signal(sig, SIG_IGN);
    }
    if (block) sigprocmask(SIG_BLOCK, &set, NULL);
    execvp(argv[3], argv + 3);
    perror(argv[3]);
    return 127;
}
