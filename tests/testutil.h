/*
 * testutil.h: helpers for tests that need corpora and temporary files.
 */
#ifndef CRNN_TESTUTIL_H
#define CRNN_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char temp_dir_made[256];

static inline int temp_remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* At exit the temporary directory goes, whatever the test left in it (kept
 * when CRNN_KEEP_TEMP is set, for looking into a failure). */
static inline void temp_remove_dir(void)
{
    if (temp_dir_made[0] && !getenv("CRNN_KEEP_TEMP"))
        nftw(temp_dir_made, temp_remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh temporary directory path plus name, in a static buffer per call slot. */
static inline const char *temp_path(const char *name)
{
    static char dir[256], paths[8][512];
    static int slot;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/crnn-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(99);
        }
        snprintf(temp_dir_made, sizeof temp_dir_made, "%s", dir);
        atexit(temp_remove_dir);
    }
    char *p = paths[slot++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    return p;
}

static inline void write_text(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(99);
    }
}

static inline unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

#endif
