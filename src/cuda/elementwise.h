/*
 * elementwise.h: the per-element arithmetic of the device kernels (dropout
 * masks, optimizer updates), written once for the device and the host: the
 * kernels in kernels.cu call these, and tests/gpu_math.c checks them on the
 * CPU against optim.c and the dropout rate without needing a GPU.
 */
#ifndef CRNN_CUDA_ELEMENTWISE_H
#define CRNN_CUDA_ELEMENTWISE_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define CRNN_HD static __host__ __device__ __forceinline__
#else
#define CRNN_HD static inline
#endif

/* splitmix64's finaliser: a bijection of 64 bits that mixes every bit. */
CRNN_HD uint64_t crnn_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* The key of one layer's masks in one step (computed once per launch). */
CRNN_HD uint64_t crnn_dropout_key(uint64_t seed, uint64_t step, int layer)
{
    return crnn_mix64(seed ^ crnn_mix64(step * 64u + (uint64_t)layer));
}

/* The factor of element k of a layer's output: 0 with probability p, else
 * 1/(1-p) (keep), from a uniform of 24 bits. */
CRNN_HD float crnn_dropout_factor(uint64_t key, uint64_t k, float p, float keep)
{
    float u = (float)(crnn_mix64(key ^ k) >> 40) * (1.0f / 16777216.0f);
    return u < p ? 0.0f : keep;
}

/* Constants of one update, computed on the host as optim.c computes them. */
typedef struct crnn_update_consts {
    int kind;          /* crnn_optimizer */
    float lr;
    float decay_keep;  /* 1 - lr * weight_decay (1: no decay) */
    float step_size;   /* Adam: lr * sqrt(1 - b2^t) / (1 - b1^t) */
    float eps_hat;     /* Adam: eps * sqrt(1 - b2^t) */
} crnn_update_consts;

/* One element's update with gradient g (already clipped), in optim.c's order
 * of operations. */
CRNN_HD void crnn_update_element(const crnn_update_consts *c, float g, float *p, float *m, float *v)
{
    float x = *p;
    if (c->decay_keep != 1.0f)
        x *= c->decay_keep;
    if (c->kind == 1) { /* CRNN_OPT_RMSPROP */
        const float alpha = 0.95f, eps = 1e-8f;
        *v = alpha * *v + (1.0f - alpha) * g * g;
        x -= c->lr * g / (sqrtf(*v) + eps);
    } else if (c->kind == 2) { /* CRNN_OPT_SGD */
        *m = 0.9f * *m + g;
        x -= c->lr * *m;
    } else { /* Adam */
        const float b1 = 0.9f, b2 = 0.999f;
        *m = b1 * *m + (1.0f - b1) * g;
        *v = b2 * *v + (1.0f - b2) * g * g;
        x -= c->step_size * *m / (sqrtf(*v) + c->eps_hat);
    }
    *p = x;
}

#endif
