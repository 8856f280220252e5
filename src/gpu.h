/*
 * gpu.h: the CUDA backend as the trainer sees it. A GPU trainer keeps the
 * whole training step on one device: the weights, their gradients, the
 * optimizer's moments and the hidden state carried between chunks live
 * there; the host sends each chunk's token ids and reads back the loss. The
 * weights come back to the host (crnn_gpu_trainer_get) only for snapshots and
 * evaluation.
 *
 * The device computes the same model as the CPU engines (layouts of
 * model.h, gate order of the cells): the recurrent layers run on cuDNN's RNN
 * API (one call per layer over the whole chunk), the output projection on
 * cuBLAS, the rest (embedding, dropout, softmax cross-entropy, norm,
 * optimizers) in charrnn's kernels (src/cuda/kernels.cu). Dropout masks come
 * from a counter-based hash of (seed, step, layer, position), so a resumed
 * run draws the same masks without any generator state to save. Reductions
 * have a fixed order: the same device and build give bit-identical steps.
 *
 * In a build without CUDA (gpu_absent.c) there is no device: crnn_gpu_count
 * returns 0 and the rest fails with CRNN_ERR_ARG saying so.
 */
#ifndef CRNN_GPU_H
#define CRNN_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

struct crnn_model;

typedef struct crnn_gpu_info {
    int index;
    char name[128];
    uint64_t memory_bytes; /* the device's whole memory */
    uint64_t free_bytes;   /* free when asked */
    int major, minor;      /* compute capability */
    int multiprocessors;
} crnn_gpu_info;

/* 1 if this build has the CUDA backend. */
int crnn_gpu_built(void);

/* Devices this process can use (0 without CUDA in the build, without a
 * driver or without a GPU; never fails). */
int crnn_gpu_count(void);

/* What device `index` is. CRNN_ERR_ARG if there is no such device. */
int crnn_gpu_query(int index, crnn_gpu_info *info, crnn_error *err);

/* "NVIDIA H100 80GB HBM3, 79.1 GiB, cuDNN 9.19.0" for a header line. */
void crnn_gpu_describe(const crnn_gpu_info *info, char *out, size_t size);

typedef struct crnn_gpu_settings {
    int device;          /* the device's index */
    int rows, steps;     /* B, T of every chunk */
    float dropout;       /* between layers and before the output (0: off) */
    float clip;          /* global gradient norm bound (<= 0: none) */
    float weight_decay;  /* decoupled, as crnn_optim_update's */
    crnn_optimizer optimizer;
    uint64_t seed;       /* of the dropout masks */
} crnn_gpu_settings;

typedef struct crnn_gpu_trainer crnn_gpu_trainer;

/* Device bytes a trainer for this model and shape allocates, cuDNN's
 * spaces included (it asks cuDNN, so it needs the device): *bytes. */
int crnn_gpu_trainer_bytes(const struct crnn_model *model, const crnn_gpu_settings *s,
                           uint64_t *bytes, crnn_error *err);

/* A trainer for the model's shape on s->device: allocates everything the
 * step needs (nothing is allocated per step). CRNN_ERR_NOMEM, naming the
 * sizes, when it does not fit in the device's free memory. The weights,
 * moments and state are undefined until crnn_gpu_trainer_put. */
crnn_gpu_trainer *crnn_gpu_trainer_create(const struct crnn_model *model,
                                          const crnn_gpu_settings *s, crnn_error *err);
void crnn_gpu_trainer_free(crnn_gpu_trainer *g);

/* Host to device: the weights (layout.total floats, the model's layout), the
 * optimizer's moments m and v (the same length) and the carried state
 * (L,S,B,H). Waits until the copies are done. */
int crnn_gpu_trainer_put(crnn_gpu_trainer *g, const float *params, const float *m,
                         const float *v, const float *state, crnn_error *err);

/* Device to host, the same arrays; any pointer may be NULL to skip it. */
int crnn_gpu_trainer_get(crnn_gpu_trainer *g, float *params, float *m, float *v, float *state,
                         crnn_error *err);

/* Zeroes the carried state (a stream wrapped, or stateless training). */
int crnn_gpu_trainer_zero_state(crnn_gpu_trainer *g, crnn_error *err);

/* One chunk's forward, loss and backward, without an update: the mean loss
 * (nats per character) in *loss and, if grads is not NULL, the gradient
 * (layout.total floats) copied back. inputs and targets are (T,B) token ids;
 * step numbers the dropout masks. The carried state is read, not advanced. */
int crnn_gpu_trainer_gradients(crnn_gpu_trainer *g, const uint32_t *inputs,
                               const uint32_t *targets, uint64_t step, double *loss,
                               float *grads, crnn_error *err);

/* One training step: forward, loss, backward, the global norm, clipping and
 * the optimizer's update with learning rate lr; `update` is the optimizer's
 * update count after this one (Adam's bias correction). The state after the
 * chunk becomes the carried state. A loss or norm that is not finite leaves
 * everything as it was and returns CRNN_ERR_NUMERIC (*loss and *norm say
 * which). */
int crnn_gpu_trainer_step(crnn_gpu_trainer *g, const uint32_t *inputs, const uint32_t *targets,
                          uint64_t step, uint64_t update, float lr, double *loss, double *norm,
                          crnn_error *err);

/* The trainer's weights on its device (charrnn's layout), for a scorer on
 * the same device; current whenever no call on the trainer is running. */
const float *crnn_gpu_trainer_params(const crnn_gpu_trainer *g);

/* ------------------------------------------------------------- the scorer
 * Forward only, for evaluation: the summed loss of chunks of up to rows x
 * steps positions, read from a carried state (the way evaluate.c reads a
 * split on the CPU), in cuDNN's inference mode, without dropout; and for
 * sampling, the logits of one step. */
typedef struct crnn_gpu_scorer crnn_gpu_scorer;

/* A scorer for the model's shape on `device`, with its own copy of the
 * weights (undefined until put or take). */
crnn_gpu_scorer *crnn_gpu_scorer_create(const struct crnn_model *model, int device, int rows,
                                        int steps, crnn_error *err);
void crnn_gpu_scorer_free(crnn_gpu_scorer *sc);

/* The weights from the host (layout.total floats), or from a trainer of the
 * same model on the same device, without leaving it. */
int crnn_gpu_scorer_put(crnn_gpu_scorer *sc, const float *params, crnn_error *err);
int crnn_gpu_scorer_take(crnn_gpu_scorer *sc, const crnn_gpu_trainer *g, crnn_error *err);

/* Zeroes the carried state (the start of a split). */
int crnn_gpu_scorer_zero_state(crnn_gpu_scorer *sc, crnn_error *err);

/* Adds to *loss the summed -log p(targets) (nats) of one chunk: inputs and
 * targets (steps, rows) token ids, rows and steps within the scorer's; the
 * state advances past the chunk. The number of rows stays the same from
 * one zero_state to the next. */
int crnn_gpu_scorer_chunk(crnn_gpu_scorer *sc, const uint32_t *inputs, const uint32_t *targets,
                          int rows, int steps, double *loss, crnn_error *err);

/* A scorer on `device` for rows x steps holding params (device.c): *out,
 * or NULL and the failure; with automatic, a failure leaves *out NULL and
 * returns CRNN_OK (the caller stays on the CPU). */
int crnn_scorer_on_device(const struct crnn_model *model, const float *params, int device,
                          int automatic, int rows, int steps, crnn_gpu_scorer **out,
                          crnn_error *err);

/* Sampling (generate.c): one step of `rows` streams (within the scorer's),
 * each fed one token; the logits of their next tokens (rows, V), bias
 * added, into the host's logits. The state advances one step. */
int crnn_gpu_scorer_logits(crnn_gpu_scorer *sc, const uint32_t *tokens, int rows, float *logits,
                           crnn_error *err);

/* The carried state of `rows` streams, (L,S,rows,H) as model.h's, to and
 * from the host (a generator repacks its rows there when streams join or
 * leave). */
int crnn_gpu_scorer_get_state(crnn_gpu_scorer *sc, float *state, int rows, crnn_error *err);
int crnn_gpu_scorer_put_state(crnn_gpu_scorer *sc, const float *state, int rows,
                              crnn_error *err);

#endif
