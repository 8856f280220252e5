/*
 * optim.c: clipping and Adam (Kingma and Ba, with bias correction), element by
 * element, so results do not depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "common.h"
#include "kernels.h"
#include "optim.h"

int crnn_adam_init(crnn_adam *adam, size_t n)
{
    memset(adam, 0, sizeof *adam);
    adam->beta1 = 0.9f;
    adam->beta2 = 0.999f;
    adam->eps = 1e-8f;
    adam->n = n;
    adam->m = crnn_alloc_floats(n);
    adam->v = crnn_alloc_floats(n);
    if (!adam->m || !adam->v) {
        crnn_adam_free(adam);
        return CRNN_ERR_NOMEM;
    }
    memset(adam->m, 0, sizeof(float) * n);
    memset(adam->v, 0, sizeof(float) * n);
    return CRNN_OK;
}

void crnn_adam_free(crnn_adam *adam)
{
    crnn_free_floats(adam->m);
    crnn_free_floats(adam->v);
    adam->m = adam->v = NULL;
}

double crnn_grad_norm(const float *g, size_t n)
{
    return sqrt(crnn_sumsq(g, n));
}

void crnn_clip_by_norm(float *g, size_t n, double norm, float max_norm)
{
    if (max_norm <= 0 || norm <= max_norm)
        return;
    float scale = (float)(max_norm / norm);
    for (size_t i = 0; i < n; i++)
        g[i] *= scale;
}

void crnn_adam_update(crnn_adam *adam, float *params, const float *g, float lr)
{
    adam->step++;
    float b1 = adam->beta1, b2 = adam->beta2, eps = adam->eps;
    double bc1 = 1.0 - pow(b1, (double)adam->step), bc2 = 1.0 - pow(b2, (double)adam->step);
    float step_size = (float)(lr * sqrt(bc2) / bc1);
    float eps_hat = (float)(eps * sqrt(bc2));
    float *m = adam->m, *v = adam->v;
    size_t n = adam->n;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        params[i] -= step_size * m[i] / (sqrtf(v[i]) + eps_hat);
    }
}
