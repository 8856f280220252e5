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

/* Writes the concatenation of the parts to path atomically: the old file at
 * path stays intact unless the new one was completely written and synced. */
int crnn_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes,
                           int nparts, crnn_error *err);

#endif
