/*
 * test_gpu_math.c: the per-element arithmetic the GPU kernels share with the
 * host (src/cuda/elementwise.h), checked on the CPU where there is no GPU:
 * the optimizer updates against optim.c's for every optimizer (weight decay
 * on and off), and the dropout masks: their rate, their scale, and that the
 * step, the layer and the position each change them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cuda/elementwise.h"
#include "optim.h"
#include "rng.h"

enum { N = 4099 };

static void check_updates(void)
{
    static const crnn_optimizer kinds[] = {CRNN_OPT_ADAM, CRNN_OPT_RMSPROP, CRNN_OPT_SGD};
    static const char *const names[] = {"Adam", "RMSprop", "SGD"};
    crnn_rng rng;
    crnn_rng_seed(&rng, 3);
    float *p1 = malloc(sizeof(float) * N), *p2 = malloc(sizeof(float) * N);
    float *m = calloc(N, sizeof(float)), *v = calloc(N, sizeof(float)), *g = malloc(sizeof(float) * N);
    for (int k = 0; k < 3; k++) {
        for (int wd = 0; wd < 2; wd++) {
            crnn_optim opt;
            CHECK(crnn_optim_init(&opt, kinds[k], N) == CRNN_OK, "optim init");
            memset(m, 0, sizeof(float) * N);
            memset(v, 0, sizeof(float) * N);
            for (int i = 0; i < N; i++)
                p1[i] = p2[i] = 2 * crnn_rng_uniform(&rng) - 1;
            float lr = 2e-3f, decay = wd ? 0.1f : 0.0f;
            double worst = 0;
            for (int step = 1; step <= 5; step++) {
                for (int i = 0; i < N; i++)
                    g[i] = (2 * crnn_rng_uniform(&rng) - 1) * (i % 7 == 0 ? 1e-3f : 1.0f);
                crnn_optim_update(&opt, p1, g, lr, decay);
                /* As src/cuda/trainer.c fills the constants. */
                const double b1 = 0.9f, b2 = 0.999f;
                double bc1 = 1.0 - pow(b1, step), bc2 = 1.0 - pow(b2, step);
                crnn_update_consts c = {
                    .kind = (int)kinds[k],
                    .lr = lr,
                    .decay_keep = decay > 0 ? 1.0f - lr * decay : 1.0f,
                    .step_size = (float)(lr * sqrt(bc2) / bc1),
                    .eps_hat = (float)((double)1e-8f * sqrt(bc2)),
                };
                for (int i = 0; i < N; i++)
                    crnn_update_element(&c, g[i], &p2[i], &m[i], &v[i]);
                for (int i = 0; i < N; i++)
                    worst = fmax(worst, fabs((double)p1[i] - p2[i]));
            }
            /* The same operations in the same order: equal but for contraction. */
            CHECK(worst < 1e-6, "%s (decay %g): the element update differs from optim.c by %g",
                  names[k], decay, worst);
            const float *mine = kinds[k] == CRNN_OPT_RMSPROP ? v : m;
            const float *theirs = kinds[k] == CRNN_OPT_RMSPROP ? opt.v : opt.m;
            double dm = 0;
            for (int i = 0; i < N; i++)
                dm = fmax(dm, fabs((double)mine[i] - theirs[i]));
            CHECK(dm < 1e-6, "%s: moments differ by %g", names[k], dm);
            crnn_optim_free(&opt);
        }
    }
    free(p1), free(p2), free(m), free(v), free(g);
}

static void check_dropout(void)
{
    const float p = 0.3f, keep = 1.0f / (1.0f - p);
    enum { M = 200000 };
    uint64_t key = crnn_dropout_key(1, 10, 0);
    int dropped = 0, bad = 0, differ_step = 0, differ_layer = 0, differ_seed = 0;
    uint64_t next_step = crnn_dropout_key(1, 11, 0), next_layer = crnn_dropout_key(1, 10, 1),
             other_seed = crnn_dropout_key(2, 10, 0);
    for (uint64_t k = 0; k < M; k++) {
        float f = crnn_dropout_factor(key, k, p, keep);
        dropped += f == 0.0f;
        bad += f != 0.0f && f != keep;
        differ_step += f != crnn_dropout_factor(next_step, k, p, keep);
        differ_layer += f != crnn_dropout_factor(next_layer, k, p, keep);
        differ_seed += f != crnn_dropout_factor(other_seed, k, p, keep);
    }
    double rate = (double)dropped / M, sd = sqrt(p * (1 - p) / M);
    fprintf(stderr, "dropout 0.3: dropped %.4f of %d\n", rate, M);
    CHECK(fabs(rate - p) < 5 * sd, "dropped %.4f, not %.2f", rate, p);
    CHECK(!bad, "%d factors are neither 0 nor 1/(1-p)", bad);
    /* Independent masks disagree on 2p(1-p) of the elements. */
    double expect = 2 * p * (1 - p) * M;
    CHECK(fabs(differ_step - expect) < 0.05 * expect, "the next step's mask differs on %d", differ_step);
    CHECK(fabs(differ_layer - expect) < 0.05 * expect, "the next layer's mask differs on %d", differ_layer);
    CHECK(fabs(differ_seed - expect) < 0.05 * expect, "another seed's mask differs on %d", differ_seed);
    CHECK(crnn_dropout_factor(key, 5, 0.0f, 1.0f) == 1.0f, "p = 0 dropped something");
}

int main(void)
{
    check_updates();
    check_dropout();
    return check_result("test_gpu_math");
}
