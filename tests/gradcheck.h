/*
 * gradcheck.h: the analytic gradients against central finite differences, for
 * any engine: every weight of a small two-layer model (embedding, both
 * recurrent layers, output) and the carried-in hidden and cell state. Shared
 * by test_gradcheck.c (the own cells) and test_engines.c (the others).
 */
#ifndef CRNN_GRADCHECK_H
#define CRNN_GRADCHECK_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine.h"
#include "model.h"
#include "rng.h"

enum { V = 7, E = 3, H = 5, L = 2, B = 2, T = 4 };

static uint32_t inputs[T * B], targets[T * B];

static double loss_at(const crnn_model *m, crnn_workspace *ws, const float *state)
{
    int rc = crnn_model_forward(m, ws, inputs, B, T, state);
    CHECK(rc == CRNN_OK, "the engine's forward failed: %d", rc);
    return crnn_model_loss(m, ws, targets, T * B) / (T * B);
}

/* Relative error with a floor, so tiny gradients are judged absolutely. */
static double rel_error(double a, double b)
{
    return fabs(a - b) / fmax(fabs(a) + fabs(b), 1e-2);
}

static void check_model_gradients(int cell, float dropout, const crnn_engine_ops *engine)
{
    crnn_model m;
    crnn_error err = {0};
    crnn_model_config cfg = {V, E, H, L, cell};
    CHECK_OK(crnn_model_init(&m, &cfg, &err), err);
    crnn_workspace ws;
    CHECK_OK(crnn_workspace_init(&ws, &m, B, T, dropout > 0 ? CRNN_WS_DROPOUT : 0u, engine, NULL,
                                 &err),
             err);
    crnn_rng rng;
    crnn_rng_seed(&rng, 42);
    crnn_model_randomize(&m, &rng, 1.0f);
    crnn_model_draw_dropout(&m, &ws, dropout, &rng, B, 0, B, T); /* one fixed mask */
    /* Larger weights than the default draw, so every gate is exercised away from 0. */
    for (size_t i = 0; i < m.layout.total; i++)
        m.params[i] *= 1.5f;
    for (int i = 0; i < T * B; i++) {
        inputs[i] = (uint32_t)(crnn_rng_next(&rng) % V);
        targets[i] = (uint32_t)(crnn_rng_next(&rng) % V);
    }
    size_t ns = crnn_model_state_size(&m, B);
    float *state = malloc(sizeof(float) * ns);
    for (size_t i = 0; i < ns; i++)
        state[i] = crnn_rng_uniform(&rng) - 0.5f;

    size_t P = m.layout.total;
    float *grads = calloc(P, sizeof(float));
    loss_at(&m, &ws, state);
    int rc = crnn_model_backward(&m, &ws, inputs, grads);
    CHECK(rc == CRNN_OK, "the engine's backward failed: %d", rc);
    float *dstate = malloc(sizeof(float) * ns);
    memcpy(dstate, ws.dstate, sizeof(float) * ns);

    /* ReLU has kinks: a smaller step keeps the differences on one side of them. */
    const float eps = cell == CRNN_CELL_RNN_RELU ? 1e-3f : 1e-2f;
    double worst = 0;
    size_t worst_at = 0;
    for (size_t i = 0; i < P; i++) {
        float keep = m.params[i];
        m.params[i] = keep + eps;
        double lp = loss_at(&m, &ws, state);
        m.params[i] = keep - eps;
        double lm = loss_at(&m, &ws, state);
        m.params[i] = keep;
        double numeric = (lp - lm) / (2 * eps);
        double e = rel_error(numeric, grads[i]);
        if (e > worst) {
            worst = e;
            worst_at = i;
        }
    }
    CHECK(worst < 2e-2, "%s: weight %zu: relative error %.3g", m.cell->name, worst_at, worst);
    fprintf(stderr, "gradcheck %s on %s%s: %zu weights, worst relative error %.3g\n",
            m.cell->name, engine->name, dropout > 0 ? " with dropout" : "", P, worst);

    double worst_state = 0;
    for (size_t i = 0; i < ns; i++) {
        float keep = state[i];
        state[i] = keep + eps;
        double lp = loss_at(&m, &ws, state);
        state[i] = keep - eps;
        double lm = loss_at(&m, &ws, state);
        state[i] = keep;
        worst_state = fmax(worst_state, rel_error((lp - lm) / (2 * eps), dstate[i]));
    }
    CHECK(worst_state < 2e-2, "%s: carried state: relative error %.3g", m.cell->name, worst_state);
    fprintf(stderr, "gradcheck %s: %zu state values, worst relative error %.3g\n", m.cell->name,
            ns, worst_state);

    /* A gradient check that cannot fail proves nothing: a wrong gradient must be caught. */
    grads[m.layout.wh[0] + 3] += 0.05f;
    float keep = m.params[m.layout.wh[0] + 3];
    m.params[m.layout.wh[0] + 3] = keep + eps;
    double lp = loss_at(&m, &ws, state);
    m.params[m.layout.wh[0] + 3] = keep - eps;
    double lm = loss_at(&m, &ws, state);
    m.params[m.layout.wh[0] + 3] = keep;
    CHECK(rel_error((lp - lm) / (2 * eps), grads[m.layout.wh[0] + 3]) > 2e-2,
          "a perturbed gradient went unnoticed");

    free(grads);
    free(state);
    free(dstate);
    crnn_workspace_free(&ws);
    crnn_model_free(&m);
}

#endif
