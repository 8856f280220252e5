/*
 * replay.c: runs a fuzz target on the files given (seed corpus and saved
 * regressions) without libFuzzer, so `meson test` checks them with any compiler.
 * Each argument is a directory (every file in it not starting with '.') or a
 * file. It fails (exit 1) when an argument or a file cannot be read, and when
 * no input at all was replayed: a wrong seed path must not pass as a test.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Replays one file: 1 if it was read and run, 0 (with a message) if not. */
static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return 0;
    }
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    uint8_t *buf = n >= 0 ? malloc(n > 0 ? (size_t)n : 1) : NULL;
    size_t got = buf && fseek(f, 0, SEEK_SET) == 0 ? fread(buf, 1, (size_t)n, f) : 0;
    int ok = buf && got == (size_t)n && !ferror(f);
    fclose(f);
    if (ok)
        LLVMFuzzerTestOneInput(buf, got);
    else
        fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    return ok;
}

int main(int argc, char **argv)
{
    int files = 0, failed = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            if (errno != ENOTDIR) {
                fprintf(stderr, "replay: cannot open %s: %s\n", argv[i], strerror(errno));
                failed++;
            } else if (run_file(argv[i])) {
                files++;
            } else {
                failed++;
            }
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            if (run_file(path))
                files++;
            else
                failed++;
        }
        closedir(d);
    }
    fprintf(stderr, "replayed %d inputs\n", files);
    if (files == 0)
        fprintf(stderr, "replay: no input was replayed (usage: replay DIR|FILE...)\n");
    return files == 0 || failed ? 1 : 0;
}
