/*
 * cuda_check.h: every CUDA, cuDNN and cuBLAS call of the backend goes through one
 * of these, which turn a failure into a crnn_error naming the call (never an
 * abort). For functions that return a crnn status and have `err` in scope;
 * on failure they jump to the function's `fail` label with rc set, or
 * return, as the macro's name says.
 */
#ifndef CRNN_CUDA_CHECK_H
#define CRNN_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "common.h"

/* CRNN_ERR_NOMEM for the device's out-of-memory, else CRNN_ERR_DEVICE. */
int crnn_cuda_fail(crnn_error *err, int code, const char *call);
int crnn_cudnn_fail(crnn_error *err, cudnnStatus_t code, const char *call);
int crnn_cublas_fail(crnn_error *err, cublasStatus_t code, const char *call);

#define CUDA_TRY(call)                                                                      \
    do {                                                                                    \
        cudaError_t e_ = (call);                                                            \
        if (e_ != cudaSuccess)                                                              \
            return crnn_cuda_fail(err, (int)e_, #call);                                     \
    } while (0)

#define CUDNN_TRY(call)                                                                     \
    do {                                                                                    \
        cudnnStatus_t e_ = (call);                                                          \
        if (e_ != CUDNN_STATUS_SUCCESS)                                                     \
            return crnn_cudnn_fail(err, e_, #call);                                         \
    } while (0)

#define CUBLAS_TRY(call)                                                                    \
    do {                                                                                    \
        cublasStatus_t e_ = (call);                                                         \
        if (e_ != CUBLAS_STATUS_SUCCESS)                                                    \
            return crnn_cublas_fail(err, e_, #call);                                        \
    } while (0)

/* A kernel launcher of kernels.h (its status is a cudaError_t). */
#define KERNEL_TRY(call)                                                                    \
    do {                                                                                    \
        int e_ = (call);                                                                    \
        if (e_ != 0)                                                                        \
            return crnn_cuda_fail(err, e_, #call);                                          \
    } while (0)

#endif
