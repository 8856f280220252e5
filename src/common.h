/*
 * common.h: helpers shared by the library's modules: error reporting and
 * checked allocation. Internal; not installed.
 */
#ifndef CRNN_COMMON_H
#define CRNN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

#if defined(__GNUC__)
#define CRNN_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define CRNN_PRINTF(a, b)
#endif

/* Fills err (if not NULL) and returns status, so callers can write
 * `return crnn_fail(err, CRNN_ERR_ARG, "...")`. */
int crnn_fail(crnn_error *err, int status, const char *fmt, ...) CRNN_PRINTF(3, 4);

/* Zeroed allocation of n elements of size bytes; NULL on overflow or failure. */
void *crnn_calloc(size_t n, size_t size);

/* 32-byte aligned, uninitialised allocation of n floats (free with crnn_free_floats). */
float *crnn_alloc_floats(size_t n);
void crnn_free_floats(float *p);

#endif
