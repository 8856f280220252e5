/*
 * test_optim.c: the optimizers, clipping and schedules against textbook
 * formulas written here in double: Adam with bias correction (Kingma and Ba,
 * Algorithm 1), RMSprop (decay 0.95), SGD with momentum 0.9, decoupled weight
 * decay, global-norm clipping, and the constant, step, cosine and warm-up
 * learning rates at chosen steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "optim.h"
#include "rng.h"

enum { N = 1000, STEPS = 7 };

/* Worst relative difference between float and double arrays (floor 1e-3). */
static double worst(const float *a, const double *b, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++)
        w = fmax(w, fabs(a[i] - b[i]) / fmax(fabs(b[i]), 1e-3));
    return w;
}

static void check_optimizer(crnn_optimizer kind, float weight_decay)
{
    static const char *const names[] = {"Adam", "RMSprop", "SGD"};
    crnn_optim opt;
    CHECK(crnn_optim_init(&opt, kind, N) == CRNN_OK, "init");
    float *p = malloc(sizeof(float) * N), *g = malloc(sizeof(float) * N);
    double *rp = malloc(sizeof(double) * N), *rm = calloc(N, sizeof(double)),
           *rv = calloc(N, sizeof(double));
    crnn_rng rng;
    crnn_rng_seed(&rng, 11);
    for (int i = 0; i < N; i++)
        rp[i] = p[i] = 2 * crnn_rng_uniform(&rng) - 1;
    const double lr = 0.01;
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++)
            g[i] = (2 * crnn_rng_uniform(&rng) - 1) * (i % 7 == 0 ? 10.0f : 0.1f);
        crnn_optim_update(&opt, p, g, (float)lr, weight_decay);
        for (int i = 0; i < N; i++) {
            rp[i] *= 1 - lr * weight_decay; /* decoupled: before the step, by lr */
            if (kind == CRNN_OPT_ADAM) {
                rm[i] = 0.9 * rm[i] + 0.1 * g[i];
                rv[i] = 0.999 * rv[i] + 0.001 * g[i] * g[i];
                double mhat = rm[i] / (1 - pow(0.9, t)), vhat = rv[i] / (1 - pow(0.999, t));
                rp[i] -= lr * mhat / (sqrt(vhat) + 1e-8);
            } else if (kind == CRNN_OPT_RMSPROP) {
                rv[i] = 0.95 * rv[i] + 0.05 * g[i] * g[i];
                rp[i] -= lr * g[i] / (sqrt(rv[i]) + 1e-8);
            } else {
                rm[i] = 0.9 * rm[i] + g[i];
                rp[i] -= lr * rm[i];
            }
        }
    }
    double w = worst(p, rp, N);
    CHECK(w < 1e-4, "%s (weight decay %g): %d steps differ from the formula by %.3g", names[kind],
          (double)weight_decay, STEPS, w);
    CHECK(opt.step == STEPS, "%s counted %llu steps", names[kind], (unsigned long long)opt.step);
    free(p), free(g), free(rp), free(rm), free(rv);
    crnn_optim_free(&opt);
}

static void check_clipping(void)
{
    float g[N], keep[N];
    crnn_rng rng;
    crnn_rng_seed(&rng, 3);
    for (int i = 0; i < N; i++)
        keep[i] = g[i] = 2 * crnn_rng_uniform(&rng) - 1;
    double norm = crnn_grad_norm(g, N), sum = 0;
    for (int i = 0; i < N; i++)
        sum += (double)g[i] * g[i];
    CHECK(fabs(norm - sqrt(sum)) < 1e-9 * norm, "norm %.9g, expected %.9g", norm, sqrt(sum));
    crnn_clip_by_norm(g, N, norm, 2.0f);
    double clipped = crnn_grad_norm(g, N);
    CHECK(fabs(clipped - 2.0) < 1e-5, "clipped to norm %.7g, not 2", clipped);
    for (int i = 0; i < N; i++)
        CHECK(fabs(g[i] - keep[i] * 2.0 / norm) < 1e-6, "direction changed at %d", i);
    memcpy(g, keep, sizeof g);
    crnn_clip_by_norm(g, N, norm, (float)(norm * 2)); /* under the limit: untouched */
    crnn_clip_by_norm(g, N, norm, 0);                 /* 0: off */
    CHECK(!memcmp(g, keep, sizeof g), "a gradient under the limit was changed");
}

static void check_schedules(void)
{
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.learning_rate = 0.1f;
    CHECK(fabs(crnn_learning_rate(&c, 12345, 100) - 0.1) < 1e-7, "constant");
    c.schedule = CRNN_SCHEDULE_STEP;
    c.lr_decay = 0.5f;
    c.decay_every = 2;
    CHECK(fabs(crnn_learning_rate(&c, 399, 100) - 0.05) < 1e-7, "step: epoch 3.99");
    CHECK(fabs(crnn_learning_rate(&c, 400, 100) - 0.025) < 1e-7, "step: epoch 4");
    c.schedule = CRNN_SCHEDULE_COSINE;
    c.schedule_steps = 110;
    c.warmup_steps = 10;
    CHECK(fabs(crnn_learning_rate(&c, 0, 100) - 0.01) < 1e-7, "warm-up: first step");
    CHECK(fabs(crnn_learning_rate(&c, 9, 100) - 0.1) < 1e-7, "warm-up: last step");
    CHECK(fabs(crnn_learning_rate(&c, 10, 100) - 0.1) < 1e-7, "cosine: start");
    CHECK(fabs(crnn_learning_rate(&c, 60, 100) - 0.05) < 1e-7, "cosine: middle");
    CHECK(fabs(crnn_learning_rate(&c, 35, 100) - 0.05 * (1 + cos(M_PI / 4))) < 1e-7,
          "cosine: a quarter");
    CHECK(crnn_learning_rate(&c, 110, 100) < 1e-9 && crnn_learning_rate(&c, 500, 100) < 1e-9,
          "cosine: the end and after");
    /* A cooldown of 40: the rate holds to step 70, then the cosine runs over 40. */
    c.cooldown_steps = 40;
    CHECK(fabs(crnn_learning_rate(&c, 9, 100) - 0.1) < 1e-7, "cooldown: warm-up unchanged");
    CHECK(fabs(crnn_learning_rate(&c, 35, 100) - 0.1) < 1e-7 &&
              fabs(crnn_learning_rate(&c, 70, 100) - 0.1) < 1e-7,
          "cooldown: held until it starts");
    CHECK(fabs(crnn_learning_rate(&c, 90, 100) - 0.05) < 1e-7, "cooldown: its middle");
    CHECK(fabs(crnn_learning_rate(&c, 80, 100) - 0.05 * (1 + cos(M_PI / 4))) < 1e-7,
          "cooldown: a quarter of it");
    CHECK(crnn_learning_rate(&c, 110, 100) < 1e-9, "cooldown: the end");
    /* One longer than the steps after the warm-up decays from the warm-up's end. */
    c.cooldown_steps = 200;
    CHECK(fabs(crnn_learning_rate(&c, 60, 100) - 0.05) < 1e-7, "cooldown: longer than the run");
}

int main(void)
{
    for (int kind = CRNN_OPT_ADAM; kind <= CRNN_OPT_SGD; kind++) {
        check_optimizer((crnn_optimizer)kind, 0);
        check_optimizer((crnn_optimizer)kind, 0.1f);
    }
    check_clipping();
    check_schedules();
    return check_result("test_optim");
}
