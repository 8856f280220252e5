/*
 * optim.h: optimisation on the flat parameter array: global-norm gradient
 * clipping and Adam. Knows nothing of what the parameters mean.
 */
#ifndef CRNN_OPTIM_H
#define CRNN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

typedef struct crnn_adam {
    float beta1, beta2, eps;
    uint64_t step; /* updates done (for bias correction) */
    float *m, *v;  /* (n) first and second moments */
    size_t n;
} crnn_adam;

int crnn_adam_init(crnn_adam *adam, size_t n);
void crnn_adam_free(crnn_adam *adam);

/* Global L2 norm of g (n), in double. */
double crnn_grad_norm(const float *g, size_t n);

/* Scales g so its norm is at most max_norm (no-op when max_norm <= 0).
 * norm is the value crnn_grad_norm returned. */
void crnn_clip_by_norm(float *g, size_t n, double norm, float max_norm);

/* One Adam update of params (n) with gradient g (n). */
void crnn_adam_update(crnn_adam *adam, float *params, const float *g, float lr);

#endif
