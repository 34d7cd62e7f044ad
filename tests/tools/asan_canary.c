/* tests/tools/asan_canary.c: a program with one deliberate bug per mode, built
 * only by an --enable-asan build. run-tests.sh runs each mode with the
 * workers' ASAN_OPTIONS/UBSAN_OPTIONS and checks its log scan reports it. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/banned.h"

/* Kept out of the compiler's sight so it cannot prove the bugs at build time. */
static volatile size_t canary_extra = 1;
static volatile int canary_big = INT_MAX;
static char *volatile canary_kept;

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    char *p;
    int v;

    if (strcmp(mode, "overflow") == 0) {
        p = malloc(16);
        if (p == NULL) {
            return 2;
        }
        memset(p, 'x', 16);
        canary_kept = p;
        canary_kept[15 + canary_extra] = 'x'; /* one byte past the block */
        printf("%c\n", p[0]);
        free(p);
        return 0;
    }
    if (strcmp(mode, "leak") == 0) {
        canary_kept = malloc(4096);
        if (canary_kept == NULL) {
            return 2;
        }
        canary_kept = NULL; /* the block is now unreachable: LeakSanitizer at exit */
        return 0;
    }
    if (strcmp(mode, "ub") == 0) {
        v = canary_big;
        v += (int)canary_extra; /* signed overflow */
        printf("%d\n", v);
        return 0;
    }
    fprintf(stderr, "usage: asan_canary overflow|leak|ub\n");
    return 2;
}
