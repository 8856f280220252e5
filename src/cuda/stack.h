/*
 * stack.h: the recurrent layers as cuDNN sees them, shared by the GPU
 * trainer and the GPU scorer: one RNN descriptor per layer (fp32 with FMA
 * math, so no TF32; double bias; no dropout inside cuDNN, charrnn's own runs
 * between the calls), the layers' weight spaces laid end to end in one
 * buffer, and the map from that buffer to charrnn's flat layout (model.h).
 */
#ifndef CRNN_CUDA_STACK_H
#define CRNN_CUDA_STACK_H

#include <stddef.h>
#include <stdint.h>

#include "cuda_check.h"
#include "model.h"

/* A stream of its own on `device` (non-blocking), with cuBLAS in fp32
 * without TF32 and cuDNN on it: what the trainer and the scorer each run
 * on. crnn_cuda_close takes what was made (NULLs are skipped). */
int crnn_cuda_open(int device, cudaStream_t *stream, cublasHandle_t *blas, cudnnHandle_t *dnn,
                   crnn_error *err);
void crnn_cuda_close(cudaStream_t stream, cublasHandle_t blas, cudnnHandle_t dnn);

typedef struct crnn_cudnn_stack {
    int layers;
    cudnnDropoutDescriptor_t no_dropout;
    cudnnRNNDescriptor_t rnn[CRNN_MAX_LAYERS];
    cudnnTensorDescriptor_t mdesc, bdesc; /* for cudnnGetRNNWeightParams */
    size_t wspace_bytes[CRNN_MAX_LAYERS]; /* each layer's weight space */
    size_t woff[CRNN_MAX_LAYERS];         /* where it starts, in floats (256-byte aligned) */
    size_t w_n;                           /* floats of all of them */
} crnn_cudnn_stack;

/* The descriptors of c's layers and the sizes of their weight spaces;
 * weights: the model's (layout.total), refused beyond 2^31 (the map's
 * indices are 32-bit). On failure what was made is left for
 * crnn_cudnn_stack_free. */
int crnn_cudnn_stack_init(crnn_cudnn_stack *k, cudnnHandle_t dnn, const crnn_model_config *c,
                          size_t weights, crnn_error *err);
void crnn_cudnn_stack_free(crnn_cudnn_stack *k);

/* Fills map (k->w_n, host) with the index in charrnn's layout of every
 * element of the weight spaces, or -1 for a bias cuDNN has and charrnn not;
 * checks that every recurrent weight of the layout appears exactly once
 * (gates: the cell's G).
 * wspace is the device buffer of k->w_n floats the spaces lie in (cuDNN
 * only computes addresses within it). */
int crnn_cudnn_stack_map(const crnn_cudnn_stack *k, cudnnHandle_t dnn, const crnn_model_config *c,
                         const crnn_layout *lay, int gates, const float *wspace, int32_t *map,
                         crnn_error *err);

#endif
