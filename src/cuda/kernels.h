/*
 * kernels.h: charrnn's own device kernels (kernels.cu), launched on a stream;
 * cuDNN runs the recurrent layers and cuBLAS the products, these do the rest
 * of the step. Shapes: N = T*B positions (time-major), E embedding, H hidden,
 * V vocabulary. Every reduction has a fixed order (no atomics), so a step is
 * bit-identical on the same device and build. Each returns cudaGetLastError()
 * of its launch as an int (0: launched).
 */
#ifndef CRNN_CUDA_KERNELS_H
#define CRNN_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime.h>

#include "elementwise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks of the first pass of a reduction (partials holds this many doubles). */
enum { CRNNK_REDUCE_BLOCKS = 256 };

/* x (N,E) = emb[ids[i]] (V,E). */
int crnnk_embed(cudaStream_t s, const float *emb, const uint32_t *ids, int n, int embed, float *x);

/* demb (V,E) = the sum, for every token v, of dx's rows at the positions of v:
 * positions[offsets[v] .. offsets[v+1]) (ascending), each row summed by the
 * thread that owns it; rows of absent tokens become 0. */
int crnnk_embed_grad(cudaStream_t s, const float *dx, const int32_t *offsets,
                     const int32_t *positions, int vocab, int embed, float *demb);

/* out (n) = in * the dropout factor of each element (crnn_dropout_factor with
 * key); in == out is allowed. */
int crnnk_dropout(cudaStream_t s, const float *in, float *out, size_t n, uint64_t key, float p);

/* A target read but not scored: CRNN_NO_TARGET of the host's kernels.h. */
#define CRNNK_NO_TARGET 0xFFFFFFFFu

/* Adds the bias (V) to logits (rows,V), then writes each row's -log p(target)
 * into row_loss and, if scale != 0, turns the row into the gradient of the
 * loss times scale (softmax minus one-hot). A row whose target is
 * CRNNK_NO_TARGET gets loss 0 and a zero row. */
int crnnk_softmax_xent(cudaStream_t s, float *logits, const float *bias, const uint32_t *targets,
                       int rows, int vocab, float scale, double *row_loss);

/* logits (rows,V) += bias (V) on every row. */
int crnnk_add_bias(cudaStream_t s, float *logits, const float *bias, int rows, int vocab);

/* *out = the sum of x (n) in double; partials: CRNNK_REDUCE_BLOCKS doubles. */
int crnnk_sum(cudaStream_t s, const double *x, size_t n, double *partials, double *out);

/* *out = the sum of squares of x (n) in double. */
int crnnk_sumsq(cudaStream_t s, const float *x, size_t n, double *partials, double *out);

/* dst[i] = map[i] >= 0 ? src[map[i]] : 0 for i < n (charrnn's layout into
 * cuDNN's weight space). */
int crnnk_gather(cudaStream_t s, const float *src, const int32_t *map, size_t n, float *dst);

/* dst[map[i]] = src[i] where map[i] >= 0 (cuDNN's gradients into charrnn's
 * layout; map is one to one). */
int crnnk_scatter(cudaStream_t s, const float *src, const int32_t *map, size_t n, float *dst);

/* The optimizer's update of n elements, if *loss and *sumsq are finite (else
 * nothing changes): gradients scaled by clip / sqrt(*sumsq) where the norm
 * exceeds clip (> 0), then crnn_update_element. */
int crnnk_update(cudaStream_t s, const crnn_update_consts *c, float clip, const double *loss,
                 const double *sumsq, float *params, const float *grads, float *m, float *v,
                 size_t n);

#ifdef __cplusplus
}
#endif

#endif
