/*
 * device.c: which GPUs there are, what they are, and the error messages of
 * cuda_check.h. Does not allocate on a device or run anything there.
 */
#include <stdio.h>
#include <string.h>

#include "cuda_check.h"
#include "gpu.h"

int crnn_cuda_fail(crnn_error *err, int code, const char *call)
{
    cudaGetLastError(); /* clear a sticky launch error, so the next call reports its own */
    int status = code == cudaErrorMemoryAllocation ? CRNN_ERR_NOMEM : CRNN_ERR_DEVICE;
    return crnn_fail(err, status, "CUDA: %s failed: %s (%s)", call,
                     cudaGetErrorString((cudaError_t)code), cudaGetErrorName((cudaError_t)code));
}

int crnn_cudnn_fail(crnn_error *err, cudnnStatus_t code, const char *call)
{
    int status = code == CUDNN_STATUS_ALLOC_FAILED ? CRNN_ERR_NOMEM : CRNN_ERR_DEVICE;
    return crnn_fail(err, status, "cuDNN: %s failed: %s", call, cudnnGetErrorString(code));
}

int crnn_cublas_fail(crnn_error *err, cublasStatus_t code, const char *call)
{
    int status = code == CUBLAS_STATUS_ALLOC_FAILED ? CRNN_ERR_NOMEM : CRNN_ERR_DEVICE;
    return crnn_fail(err, status, "cuBLAS: %s failed: %s", call, cublasGetStatusString(code));
}

int crnn_gpu_built(void)
{
    return 1;
}

int crnn_gpu_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) { /* no driver, or no device */
        cudaGetLastError();
        return 0;
    }
    return n;
}

int crnn_gpu_query(int index, crnn_gpu_info *info, crnn_error *err)
{
    int n = crnn_gpu_count();
    if (index < 0 || index >= n)
        return n == 0 ? crnn_fail(err, CRNN_ERR_ARG, "there is no usable GPU here (CUDA sees "
                                  "none: no device, or no driver)")
                      : crnn_fail(err, CRNN_ERR_ARG, "there is no GPU cuda:%d (CUDA sees %d: "
                                  "cuda:0 to cuda:%d)", index, n, n - 1);
    struct cudaDeviceProp p;
    CUDA_TRY(cudaGetDeviceProperties(&p, index));
    memset(info, 0, sizeof *info);
    info->index = index;
    snprintf(info->name, sizeof info->name, "%.*s", (int)sizeof info->name - 1, p.name);
    info->memory_bytes = p.totalGlobalMem;
    info->major = p.major;
    info->minor = p.minor;
    info->multiprocessors = p.multiProcessorCount;
    size_t free_bytes = 0, total = 0;
    CUDA_TRY(cudaSetDevice(index));
    CUDA_TRY(cudaMemGetInfo(&free_bytes, &total));
    info->free_bytes = free_bytes;
    return CRNN_OK;
}

void crnn_gpu_describe(const crnn_gpu_info *info, char *out, size_t size)
{
    size_t v = cudnnGetVersion();
    snprintf(out, size, "cuda:%d %s, %.1f GiB, cuDNN %zu.%zu.%zu", info->index, info->name,
             (double)info->memory_bytes / (1024.0 * 1024.0 * 1024.0), v / 10000,
             (v / 100) % 100, v % 100);
}
