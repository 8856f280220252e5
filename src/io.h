/*
 * io.h: whole-file reading and crash-safe whole-file writing (temporary file,
 * fsync, rename, fsync of the directory). Knows nothing of formats.
 */
#ifndef CRNN_IO_H
#define CRNN_IO_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

/* Reads the whole file into a new buffer (one extra NUL byte after the data).
 * Files larger than max_bytes are refused. The caller frees *data. */
int crnn_read_file(const char *path, uint64_t max_bytes, unsigned char **data, size_t *len,
                   crnn_error *err);

/* Writes a file atomically, piece by piece: open a temporary file beside path,
 * write (and overwrite at offsets, for headers known last), then commit (sync,
 * rename, sync the directory) or abort (remove it). The old file at path stays
 * intact unless the new one was completely written and synced. Disk full is
 * CRNN_ERR_NOSPACE. A failed write leaves f to be aborted. */
typedef struct crnn_atomic_file {
    const char *path;
    char *tmp;
    int fd;
} crnn_atomic_file;

int crnn_atomic_open(crnn_atomic_file *f, const char *path, crnn_error *err);
int crnn_atomic_write(crnn_atomic_file *f, const void *data, size_t n, crnn_error *err);
int crnn_atomic_pwrite(crnn_atomic_file *f, const void *data, size_t n, uint64_t offset,
                       crnn_error *err);
int crnn_atomic_commit(crnn_atomic_file *f, crnn_error *err);
void crnn_atomic_abort(crnn_atomic_file *f);

#endif
