/* flags.h — the trainer's flags, one line each, in the order --help lists
 * them: the flag, the placeholder of its value ("" for a switch) and what
 * it does, in a few words.  runtime/trainer.c parses with it and suggests
 * the nearest flag for a typo; `kiln train --help` (compiler/main.c) lists
 * it.  A new flag is a line here, a case in trainer.c's parse_flags and its
 * paragraph in the trainer's usage(); tests/t_cli.sh checks that all three
 * agree. */
#ifndef KILN_FLAGS_H
#define KILN_FLAGS_H

#define KILN_TRAINER_FLAGS(X)                                                                       \
    X("--epochs", "N", "epochs to train (the total to reach, with --resume)")                       \
    X("--threads", "N", "OpenMP threads, 1 to 256 (results are the same for any count)")            \
    X("--seed", "N", "seed for initialization and shuffling")                                       \
    X("--lr", "RATE", "base learning rate instead of the spec's (a schedule keeps its shape)")        \
    X("--data", "DIR", "directory with the IDX files (plain or .gz)")                               \
    X("--save", "FILE", "write a checkpoint after every epoch and when stopped")                    \
    X("--resume", "FILE", "continue the run saved in FILE exactly where it stopped")                \
    X("--load", "FILE", "start from a checkpoint's parameters instead of initializing")             \
    X("--metrics", "FILE", "write a CSV with one row per epoch")                                    \
    X("--save-npz", "FILE", "at the end, write the parameters as NumPy arrays (numpy.load)")       \
    X("--eval", "", "do not train: evaluate on the test set")                                       \
    X("--predict", "N", "do not train: print the predictions for the first N test examples")       \
    X("--classify", "FILE...", "do not train: classify PNG or PGM images (the flags' last)")        \
    X("--quiet", "", "print nothing on stderr except errors")                                       \
    X("--verbose", "", "print the thread count, the memory plan and timings on stderr")             \
    X("--profile", "", "after training, print where a step's time went")                            \
    X("--help", "", "print the trainer's help and exit")

#endif
