/*
 * error.c: filling crnn_error, status names, checked allocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"

int crnn_fail(crnn_error *err, int status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = (crnn_status)status;
    }
    return status;
}

const char *crnn_status_name(int status)
{
    switch (status) {
    case CRNN_OK: return "ok";
    case CRNN_ERR_IO: return "io";
    case CRNN_ERR_NOMEM: return "memory";
    case CRNN_ERR_ARG: return "argument";
    case CRNN_ERR_UTF8: return "utf8";
    case CRNN_ERR_FORMAT: return "format";
    case CRNN_ERR_VERSION: return "version";
    case CRNN_ERR_DATA: return "data";
    case CRNN_ERR_NUMERIC: return "numeric";
    case CRNN_ERR_VOCAB: return "vocabulary";
    case CRNN_ERR_NOSPACE: return "disk full";
    case CRNN_ERR_DEVICE: return "device";
    }
    return "unknown";
}

void *crnn_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

float *crnn_alloc_floats(size_t n)
{
    if (n > (SIZE_MAX - 64) / sizeof(float))
        return NULL;
    size_t bytes = (n * sizeof(float) + 31) & ~(size_t)31;
    void *p = NULL;
    if (posix_memalign(&p, 32, bytes ? bytes : 32) != 0)
        return NULL;
    return p;
}

void crnn_free_floats(float *p)
{
    free(p);
}
