/*
 * kernels.cu: the device kernels of kernels.h. Plain CUDA C++, one kernel
 * per job; the arithmetic of each element is in elementwise.h, shared with
 * the host tests. No atomics: each output element has one owner thread, and
 * reductions run in two passes over a fixed grid.
 */
#include <math.h>

#include "kernels.h"

namespace {

const int THREADS = 256;

int blocks_for(size_t n, int threads)
{
    size_t b = (n + (size_t)threads - 1) / (size_t)threads;
    return b > 65535u * 16u ? 65535 * 16 : (int)(b ? b : 1);
}

int launched()
{
    return (int)cudaGetLastError();
}

__global__ void embed_kernel(const float *emb, const uint32_t *ids, int n, int embed, float *x)
{
    size_t total = (size_t)n * embed;
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < total;
         k += (size_t)gridDim.x * blockDim.x) {
        size_t i = k / embed, j = k % embed;
        x[k] = emb[(size_t)ids[i] * embed + j];
    }
}

/* One block per token; thread j owns column j (and j + blockDim.x, ...). */
__global__ void embed_grad_kernel(const float *dx, const int32_t *offsets, const int32_t *positions,
                                  int embed, float *demb)
{
    int v = blockIdx.x;
    int first = offsets[v], last = offsets[v + 1];
    for (int j = threadIdx.x; j < embed; j += blockDim.x) {
        float s = 0.0f;
        for (int q = first; q < last; q++)
            s += dx[(size_t)positions[q] * embed + j];
        demb[(size_t)v * embed + j] = s;
    }
}

__global__ void dropout_kernel(const float *in, float *out, size_t n, uint64_t key, float p,
                               float keep)
{
    for (size_t k = blockIdx.x * (size_t)blockDim.x + threadIdx.x; k < n;
         k += (size_t)gridDim.x * blockDim.x)
        out[k] = in[k] * crnn_dropout_factor(key, k, p, keep);
}

__device__ float warp_max(float x)
{
    for (int o = 16; o > 0; o >>= 1)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ double warp_sum(double x)
{
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

/* One warp per row: the bias, the max, the sum of exponentials (double), the
 * row's loss and its gradient. */
__global__ void softmax_xent_kernel(float *logits, const float *bias, const uint32_t *targets,
                                    int rows, int vocab, float scale, double *row_loss)
{
    int warps = blockDim.x / 32, lane = threadIdx.x % 32;
    int r = blockIdx.x * warps + threadIdx.x / 32;
    if (r >= rows)
        return;
    float *z = logits + (size_t)r * vocab;
    uint32_t t = targets[r];
    if (t == CRNNK_NO_TARGET) { /* read, not scored */
        if (lane == 0)
            row_loss[r] = 0;
        for (int j = lane; j < vocab; j += 32)
            z[j] = 0.0f;
        return;
    }
    float max = -INFINITY;
    for (int j = lane; j < vocab; j += 32) {
        float x = z[j] + bias[j];
        z[j] = x;
        max = fmaxf(max, x);
    }
    max = warp_max(max);
    double sum = 0;
    for (int j = lane; j < vocab; j += 32)
        sum += (double)expf(z[j] - max);
    sum = warp_sum(sum);
    if (lane == 0)
        row_loss[r] = log(sum) - ((double)z[t] - max);
    if (scale == 0.0f)
        return;
    __syncwarp();
    float inv = (float)(scale / sum);
    for (int j = lane; j < vocab; j += 32) {
        float g = expf(z[j] - max) * inv;
        z[j] = (uint32_t)j == t ? g - scale : g;
    }
}

/* Block tree of THREADS doubles in shared memory: the same order every run. */
__device__ double block_sum(double x)
{
    __shared__ double s[THREADS];
    s[threadIdx.x] = x;
    __syncthreads();
    for (int o = THREADS / 2; o > 0; o >>= 1) {
        if ((int)threadIdx.x < o)
            s[threadIdx.x] += s[threadIdx.x + o];
        __syncthreads();
    }
    return s[0];
}

template <bool SQUARE, typename T>
__global__ void partial_sums_kernel(const T *x, size_t n, double *partials)
{
    double a = 0;
    for (size_t k = blockIdx.x * (size_t)THREADS + threadIdx.x; k < n;
         k += (size_t)gridDim.x * THREADS) {
        double v = (double)x[k];
        a += SQUARE ? v * v : v;
    }
    double s = block_sum(a);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = s;
}

__global__ void final_sum_kernel(const double *partials, int n, double *out)
{
    double a = 0;
    for (int k = threadIdx.x; k < n; k += THREADS)
        a += partials[k];
    double s = block_sum(a);
    if (threadIdx.x == 0)
        *out = s;
}

__global__ void gather_kernel(const float *src, const int32_t *map, size_t n, float *dst)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dst[i] = map[i] >= 0 ? src[map[i]] : 0.0f;
}

__global__ void scatter_kernel(const float *src, const int32_t *map, size_t n, float *dst)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        if (map[i] >= 0)
            dst[map[i]] = src[i];
}

__global__ void update_kernel(crnn_update_consts c, float clip, const double *loss,
                              const double *sumsq, float *params, const float *grads, float *m,
                              float *v, size_t n)
{
    double norm = sqrt(*sumsq);
    if (!isfinite(*loss) || !isfinite(norm))
        return; /* the host reports it; nothing changes */
    float scale = clip > 0 && norm > clip ? (float)(clip / norm) : 1.0f;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = scale == 1.0f ? grads[i] : grads[i] * scale;
        crnn_update_element(&c, g, params + i, m + i, v + i);
    }
}

} // namespace

extern "C" {

int crnnk_embed(cudaStream_t s, const float *emb, const uint32_t *ids, int n, int embed, float *x)
{
    embed_kernel<<<blocks_for((size_t)n * embed, THREADS), THREADS, 0, s>>>(emb, ids, n, embed, x);
    return launched();
}

int crnnk_embed_grad(cudaStream_t s, const float *dx, const int32_t *offsets,
                     const int32_t *positions, int vocab, int embed, float *demb)
{
    int threads = embed < 32 ? 32 : embed > 1024 ? 1024 : (embed + 31) / 32 * 32;
    embed_grad_kernel<<<vocab, threads, 0, s>>>(dx, offsets, positions, embed, demb);
    return launched();
}

int crnnk_dropout(cudaStream_t s, const float *in, float *out, size_t n, uint64_t key, float p)
{
    dropout_kernel<<<blocks_for(n, THREADS), THREADS, 0, s>>>(in, out, n, key, p,
                                                              1.0f / (1.0f - p));
    return launched();
}

int crnnk_softmax_xent(cudaStream_t s, float *logits, const float *bias, const uint32_t *targets,
                       int rows, int vocab, float scale, double *row_loss)
{
    int warps = THREADS / 32;
    softmax_xent_kernel<<<(rows + warps - 1) / warps, THREADS, 0, s>>>(logits, bias, targets, rows,
                                                                      vocab, scale, row_loss);
    return launched();
}

__global__ void add_bias_kernel(float *logits, const float *bias, size_t n, int vocab)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        logits[i] += bias[i % (size_t)vocab];
}

int crnnk_add_bias(cudaStream_t s, float *logits, const float *bias, int rows, int vocab)
{
    size_t n = (size_t)rows * vocab;
    add_bias_kernel<<<blocks_for(n, THREADS), THREADS, 0, s>>>(logits, bias, n, vocab);
    return launched();
}

int crnnk_sum(cudaStream_t s, const double *x, size_t n, double *partials, double *out)
{
    partial_sums_kernel<false, double><<<CRNNK_REDUCE_BLOCKS, THREADS, 0, s>>>(x, n, partials);
    final_sum_kernel<<<1, THREADS, 0, s>>>(partials, CRNNK_REDUCE_BLOCKS, out);
    return launched();
}

int crnnk_sumsq(cudaStream_t s, const float *x, size_t n, double *partials, double *out)
{
    partial_sums_kernel<true, float><<<CRNNK_REDUCE_BLOCKS, THREADS, 0, s>>>(x, n, partials);
    final_sum_kernel<<<1, THREADS, 0, s>>>(partials, CRNNK_REDUCE_BLOCKS, out);
    return launched();
}

int crnnk_gather(cudaStream_t s, const float *src, const int32_t *map, size_t n, float *dst)
{
    gather_kernel<<<blocks_for(n, THREADS), THREADS, 0, s>>>(src, map, n, dst);
    return launched();
}

int crnnk_scatter(cudaStream_t s, const float *src, const int32_t *map, size_t n, float *dst)
{
    scatter_kernel<<<blocks_for(n, THREADS), THREADS, 0, s>>>(src, map, n, dst);
    return launched();
}

int crnnk_update(cudaStream_t s, const crnn_update_consts *c, float clip, const double *loss,
                 const double *sumsq, float *params, const float *grads, float *m, float *v,
                 size_t n)
{
    update_kernel<<<blocks_for(n, THREADS), THREADS, 0, s>>>(*c, clip, loss, sumsq, params, grads,
                                                            m, v, n);
    return launched();
}

} // extern "C"
