/*
 * optim.h: optimisation on the flat parameter array: global-norm gradient
 * clipping, the optimizers (Adam, RMSprop, SGD with momentum), decoupled
 * weight decay and learning-rate schedules. Knows nothing of what the
 * parameters mean.
 */
#ifndef CRNN_OPTIM_H
#define CRNN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

typedef struct crnn_optim {
    crnn_optimizer kind;
    uint64_t step; /* updates done (Adam's bias correction) */
    float *m, *v;  /* (n) first and second moments (SGD: m is the velocity) */
    size_t n;
} crnn_optim;

int crnn_optim_init(crnn_optim *opt, crnn_optimizer kind, size_t n);
void crnn_optim_free(crnn_optim *opt);

/* Global L2 norm of g (n), in double. */
double crnn_grad_norm(const float *g, size_t n);

/* Scales g so its norm is at most max_norm (no-op when max_norm <= 0).
 * norm is the value crnn_grad_norm returned. */
void crnn_clip_by_norm(float *g, size_t n, double norm, float max_norm);

/* One update of params (n) with gradient g (n), step size lr, and decoupled
 * weight decay (params shrink by lr * weight_decay first; 0 = off). */
void crnn_optim_update(crnn_optim *opt, float *params, const float *g, float lr,
                       float weight_decay);

/* The learning rate at `step` (0-based) under the config's schedule;
 * steps_per_epoch converts epochs to steps. */
double crnn_learning_rate(const crnn_train_config *c, uint64_t step, uint64_t steps_per_epoch);

#endif
