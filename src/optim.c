/*
 * optim.c: clipping, optimizers and schedules, element by element, so results
 * do not depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "common.h"
#include "kernels.h"
#include "optim.h"

int crnn_optim_init(crnn_optim *opt, crnn_optimizer kind, size_t n)
{
    memset(opt, 0, sizeof *opt);
    opt->kind = kind;
    opt->n = n;
    opt->m = crnn_alloc_floats(n);
    opt->v = crnn_alloc_floats(n);
    if (!opt->m || !opt->v) {
        crnn_optim_free(opt);
        return CRNN_ERR_NOMEM;
    }
    memset(opt->m, 0, sizeof(float) * n);
    memset(opt->v, 0, sizeof(float) * n);
    return CRNN_OK;
}

void crnn_optim_free(crnn_optim *opt)
{
    crnn_free_floats(opt->m);
    crnn_free_floats(opt->v);
    opt->m = opt->v = NULL;
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

/* Adam (Kingma and Ba) with bias correction. */
static void adam(crnn_optim *opt, float *params, const float *g, float lr)
{
    const float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
    double bc1 = 1.0 - pow(b1, (double)opt->step), bc2 = 1.0 - pow(b2, (double)opt->step);
    float step_size = (float)(lr * sqrt(bc2) / bc1);
    float eps_hat = (float)(eps * sqrt(bc2));
    float *m = opt->m, *v = opt->v;
    size_t n = opt->n;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        params[i] -= step_size * m[i] / (sqrtf(v[i]) + eps_hat);
    }
}

/* RMSprop (Tieleman and Hinton) with char-rnn's decay 0.95. */
static void rmsprop(crnn_optim *opt, float *params, const float *g, float lr)
{
    const float alpha = 0.95f, eps = 1e-8f;
    float *v = opt->v;
    size_t n = opt->n;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        v[i] = alpha * v[i] + (1.0f - alpha) * g[i] * g[i];
        params[i] -= lr * g[i] / (sqrtf(v[i]) + eps);
    }
}

/* SGD with (heavy-ball) momentum 0.9. */
static void sgd(crnn_optim *opt, float *params, const float *g, float lr)
{
    const float mu = 0.9f;
    float *m = opt->m;
    size_t n = opt->n;
#pragma omp parallel for schedule(static) if (n >= 65536)
    for (size_t i = 0; i < n; i++) {
        m[i] = mu * m[i] + g[i];
        params[i] -= lr * m[i];
    }
}

void crnn_optim_update(crnn_optim *opt, float *params, const float *g, float lr,
                       float weight_decay)
{
    opt->step++;
    if (weight_decay > 0) {
        float keep = 1.0f - lr * weight_decay;
        for (size_t i = 0; i < opt->n; i++)
            params[i] *= keep;
    }
    switch (opt->kind) {
    case CRNN_OPT_RMSPROP: rmsprop(opt, params, g, lr); break;
    case CRNN_OPT_SGD: sgd(opt, params, g, lr); break;
    default: adam(opt, params, g, lr); break;
    }
}

double crnn_learning_rate(const crnn_train_config *c, uint64_t step, uint64_t steps_per_epoch)
{
    double lr = c->learning_rate;
    if (c->warmup_steps > 0 && step < c->warmup_steps)
        return lr * (double)(step + 1) / (double)c->warmup_steps;
    switch (c->schedule) {
    case CRNN_SCHEDULE_STEP: {
        double epoch = steps_per_epoch ? (double)step / (double)steps_per_epoch : 0;
        double every = c->decay_every > 0 ? c->decay_every : 1;
        return lr * pow(c->lr_decay, floor(epoch / every));
    }
    case CRNN_SCHEDULE_COSINE: {
        /* The decay starts after the warm-up, or cooldown_steps before the end. */
        uint64_t from = c->warmup_steps;
        if (c->cooldown_steps && c->schedule_steps > c->cooldown_steps &&
            c->schedule_steps - c->cooldown_steps > from)
            from = c->schedule_steps - c->cooldown_steps;
        if (step < from)
            return lr;
        uint64_t span = c->schedule_steps > from ? c->schedule_steps - from : 1;
        double f = (double)(step - from) / (double)span;
        return lr * 0.5 * (1.0 + cos(M_PI * (f < 1 ? f : 1)));
    }
    default:
        return lr;
    }
}
