/* A main() for fuzz targets built without libFuzzer: runs
 * LLVMFuzzerTestOneInput on every file named on the command line (files, or
 * directories whose regular files are read), or in CCP_FUZZ_CORPUS when no
 * argument is given, so `make check` replays the committed corpora. */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/banned.h"

#define REPLAY_MAX_INPUT (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
    unsigned char *data;
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    data = malloc(REPLAY_MAX_INPUT);
    if (data == NULL) {
        fclose(f);
        return 1;
    }
    n = fread(data, 1, REPLAY_MAX_INPUT, f);
    fclose(f);
    LLVMFuzzerTestOneInput(data, n);
    free(data);
    return 0;
}

static int run_path(const char *path, size_t *count)
{
    char sub[4096];
    struct dirent *e;
    struct stat st;
    DIR *d;
    int bad = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: no such corpus %s\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    d = opendir(path);
    if (d == NULL) {
        return 1;
    }
    for (e = readdir(d); e != NULL; e = readdir(d)) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
            (*count)++;
            bad |= run_file(sub);
        }
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int i, bad = 0;

    if (argc < 2) {
#ifdef CCP_FUZZ_CORPUS
        bad = run_path(CCP_FUZZ_CORPUS, &count);
#else
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
#endif
    }
    for (i = 1; i < argc; i++) {
        bad |= run_path(argv[i], &count);
    }
    printf("replayed %zu inputs\n", count);
    if (count == 0) {
        fprintf(stderr, "replay: the corpus is empty\n");
        return 1;
    }
    return bad;
}
