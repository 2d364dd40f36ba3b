/* levenshtein.h — the edit distance behind every "did you mean" of kiln:
 * the compiler's (compiler/util.c, nearest_name) and the trainer's for its
 * flags (runtime/trainer.c).  Names are short: longer than 63 bytes counts
 * as far from everything. */
#ifndef KILN_LEVENSHTEIN_H
#define KILN_LEVENSHTEIN_H

#include <string.h>

static inline int kiln_levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int row[64];
    for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best) best = row[j] + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

#endif
