/*
 * test_gradcheck.c: the analytic gradients against central finite differences:
 * every weight of a small two-layer model (embedding, both LSTM layers, output),
 * and the carried-in hidden and cell state. Also the fast kernels against their
 * plain C references.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "kernels.h"
#include "lstm_dnnl.h"
#include "model.h"
#include "rng.h"

enum { V = 7, E = 3, H = 5, L = 2, B = 2, T = 4 };

static uint32_t inputs[T * B], targets[T * B];

static double loss_at(const crnn_model *m, crnn_workspace *ws, const float *state)
{
    crnn_model_forward(m, ws, inputs, B, T, state);
    return crnn_model_loss(m, ws, targets, T * B) / (T * B);
}

/* Relative error with a floor, so tiny gradients are judged absolutely. */
static double rel_error(double a, double b)
{
    return fabs(a - b) / fmax(fabs(a) + fabs(b), 1e-2);
}

static void check_model_gradients(int cell, float dropout, unsigned engine)
{
    crnn_model m;
    crnn_error err = {0};
    crnn_model_config cfg = {V, E, H, L, cell};
    CHECK_OK(crnn_model_init(&m, &cfg, &err), err);
    crnn_workspace ws;
    CHECK_OK(crnn_workspace_init(&ws, &m, B, T, (dropout > 0 ? CRNN_WS_DROPOUT : 0u) | engine, &err),
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
    crnn_model_backward(&m, &ws, inputs, grads);
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
    fprintf(stderr, "gradcheck %s%s%s: %zu weights, worst relative error %.3g\n", m.cell->name,
            engine ? " on oneDNN" : "", dropout > 0 ? " with dropout" : "", P, worst);
    CHECK(ws.engine_status == CRNN_OK, "the engine failed: %d", ws.engine_status);

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

/* The oneDNN engine against charrnn's own cells on one model: the same logits,
 * weight gradients, state gradients and final state at the workspace's shape,
 * and at a smaller (evaluation) shape, where the engine's workspace runs the
 * own cell over pieces of the chunk. Sizes are odd on purpose. */
static void fill(float *x, size_t n, crnn_rng *rng);

static double rel_max_diff(const float *a, const float *b, size_t n)
{
    double scale = 1e-3;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)b[i]));
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d / scale;
}

static void check_engine_matches_cells(unsigned precision, double tol, int groups)
{
    enum { EV = 11, EE = 6, EH = 24, EL = 3, EB = 5, ET = 37, SB = 3, ST = 21 };
    crnn_model m;
    crnn_error err = {0};
    crnn_model_config cfg = {EV, EE, EH, EL, CRNN_CELL_LSTM};
    CHECK_OK(crnn_model_init(&m, &cfg, &err), err);
    crnn_rng rng;
    crnn_rng_seed(&rng, 5);
    crnn_model_randomize(&m, &rng, 1.0f);
    crnn_workspace own, dnnl;
    CHECK_OK(crnn_workspace_init(&own, &m, EB, ET, CRNN_WS_DROPOUT, &err), err);
    /* Groups of rows that run side by side, each through strided views of the
     * same buffers (forced here: the engine picks them for small layers). */
    char n[8];
    snprintf(n, sizeof n, "%d", groups);
    setenv("CHARRNN_ONEDNN_GROUPS", n, 1);
    CHECK_OK(crnn_workspace_init(&dnnl, &m, EB, ET, CRNN_WS_DROPOUT | CRNN_WS_ONEDNN | precision, &err), err);
    CHECK(dnnl.engine && !own.engine, "the engine was not built");
    /* The memory estimate asks oneDNN for the same sizes the engine allocates. */
    if (dnnl.engine) {
        CHECK(crnn_dnnl_lstm_groups(dnnl.engine) == groups, "%d groups of rows, not %d",
              crnn_dnnl_lstm_groups(dnnl.engine), groups);
        size_t estimate = crnn_dnnl_lstm_estimate(EL, EE, EH, EB, ET, precision != 0);
        CHECK(estimate > 0 && estimate == crnn_dnnl_lstm_bytes(dnnl.engine),
              "engine estimate %zu bytes, allocated %zu", estimate, crnn_dnnl_lstm_bytes(dnnl.engine));
    }
    unsetenv("CHARRNN_ONEDNN_GROUPS");
    uint32_t in[ET * EB], tg[ET * EB];
    for (int i = 0; i < ET * EB; i++) {
        in[i] = (uint32_t)(crnn_rng_next(&rng) % EV);
        tg[i] = (uint32_t)(crnn_rng_next(&rng) % EV);
    }
    size_t ns = crnn_model_state_size(&m, EB), P = m.layout.total;
    float *state = malloc(sizeof(float) * ns), *out[2], *grads[2];
    fill(state, ns, &rng);
    crnn_workspace *ws[2] = {&own, &dnnl};
    crnn_rng masks[2] = {rng, rng}; /* the same dropout masks for both */
    for (int k = 0; k < 2; k++) {
        out[k] = malloc(sizeof(float) * ns);
        grads[k] = calloc(P, sizeof(float));
        crnn_model_draw_dropout(&m, ws[k], 0.25f, &masks[k], EB, 0, EB, ET);
        crnn_model_forward(&m, ws[k], in, EB, ET, state);
        crnn_model_final_state(&m, ws[k], out[k]);
        crnn_model_loss(&m, ws[k], tg, ET * EB);
    }
    CHECK(rel_max_diff(dnnl.logits, own.logits, (size_t)ET * EB * EV) < tol,
          "oneDNN: gradient of the logits differs by %.3g",
          rel_max_diff(dnnl.logits, own.logits, (size_t)ET * EB * EV));
    CHECK(rel_max_diff(out[1], out[0], ns) < tol, "oneDNN: final state differs by %.3g",
          rel_max_diff(out[1], out[0], ns));
    for (int k = 0; k < 2; k++)
        crnn_model_backward(&m, ws[k], in, grads[k]);
    CHECK(dnnl.engine_status == CRNN_OK, "the engine failed: %d", dnnl.engine_status);
    CHECK(rel_max_diff(grads[1], grads[0], P) < 10 * tol, "oneDNN: weight gradients differ by %.3g",
          rel_max_diff(grads[1], grads[0], P));
    CHECK(rel_max_diff(dnnl.dstate, own.dstate, ns) < 10 * tol,
          "oneDNN: state gradients differ by %.3g", rel_max_diff(dnnl.dstate, own.dstate, ns));
    fprintf(stderr, "oneDNN%s, %d group(s) of rows, vs own cells (3 x 24, B5 T37): weight "
            "gradients within %.2g\n", precision ? " bf16" : "", groups,
            rel_max_diff(grads[1], grads[0], P));
    /* Gradients accumulate (+=), as the cell interface promises: a second
     * backward of the same forward doubles them (oneDNN's record is read-only). */
    crnn_model_backward(&m, &dnnl, in, grads[1]);
    for (size_t i = 0; i < P; i++)
        grads[0][i] *= 2;
    CHECK(rel_max_diff(grads[1], grads[0], P) < 10 * tol, "oneDNN: gradients do not accumulate (%.3g)",
          rel_max_diff(grads[1], grads[0], P));

    /* An evaluation shape: the engine's workspace runs the own cell in pieces. */
    size_t small = crnn_model_state_size(&m, SB);
    for (int k = 0; k < 2; k++) {
        ws[k]->dropout = 0;
        crnn_model_forward(&m, ws[k], in, SB, ST, state);
        crnn_model_final_state(&m, ws[k], out[k]);
    }
    CHECK(rel_max_diff(dnnl.logits, own.logits, (size_t)ST * SB * EV) < 1e-5,
          "pieces: logits differ by %.3g", rel_max_diff(dnnl.logits, own.logits, (size_t)ST * SB * EV));
    CHECK(rel_max_diff(out[1], out[0], small) < 1e-5, "pieces: final state differs");
    /* The engine has no record of that forward: its backward refuses, never guesses. */
    crnn_model_backward(&m, &dnnl, in, grads[1]);
    CHECK(dnnl.engine_status != CRNN_OK, "a backward without the engine's forward went unnoticed");
    for (int k = 0; k < 2; k++) {
        free(out[k]);
        free(grads[k]);
        crnn_workspace_free(ws[k]);
    }
    free(state);
    crnn_model_free(&m);
}

static void fill(float *x, size_t n, crnn_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 2 * crnn_rng_uniform(rng) - 1;
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void check_kernels(void)
{
    crnn_rng rng;
    crnn_rng_seed(&rng, 7);
    enum { M = 37, N = 29, K = 41 };
    float a[M * K], b[K * N], c1[M * N], c2[M * N];
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            fill(a, M * K, &rng);
            fill(b, K * N, &rng);
            fill(c1, M * N, &rng);
            memcpy(c2, c1, sizeof c1);
            crnn_gemm(ta, tb, M, N, K, 0.5f, a, ta ? M : K, b, tb ? K : N, 1.0f, c1, N);
            crnn_gemm_ref(ta, tb, M, N, K, 0.5f, a, ta ? M : K, b, tb ? K : N, 1.0f, c2, N);
            CHECK(max_diff(c1, c2, M * N) < 1e-4, "gemm %d %d differs by %g", ta, tb,
                  max_diff(c1, c2, M * N));
        }
    }
    /* One row: the matrix-vector path against the reference. */
    for (int tb = 0; tb < 2; tb++) {
        fill(a, K, &rng);
        fill(b, K * N, &rng);
        fill(c1, N, &rng);
        memcpy(c2, c1, sizeof(float) * N);
        crnn_gemm(0, tb, 1, N, K, 0.5f, a, K, b, tb ? K : N, 1.0f, c1, N);
        crnn_gemm_ref(0, tb, 1, N, K, 0.5f, a, K, b, tb ? K : N, 1.0f, c2, N);
        CHECK(max_diff(c1, c2, N) < 1e-4, "one-row gemm %d differs by %g", tb, max_diff(c1, c2, N));
    }
    /* The fused gate loop against its reference, on enough rows to run threaded. */
    enum { R = 64, HH = 300 };
    float *g1 = malloc(sizeof(float) * R * 4 * HH), *g2 = malloc(sizeof(float) * R * 4 * HH);
    float *cp = malloc(sizeof(float) * R * HH), *out1 = malloc(sizeof(float) * R * HH * 3),
          *out2 = malloc(sizeof(float) * R * HH * 3);
    fill(g1, (size_t)R * 4 * HH, &rng);
    for (int i = 0; i < R * 4 * HH; i++)
        g1[i] *= 4;
    memcpy(g2, g1, sizeof(float) * R * 4 * HH);
    fill(cp, (size_t)R * HH, &rng);
    crnn_lstm_forward_pointwise(R, HH, g1, cp, out1, out1 + R * HH);
    crnn_lstm_forward_pointwise_ref(R, HH, g2, cp, out2, out2 + R * HH);
    CHECK(max_diff(g1, g2, (size_t)R * 4 * HH) < 1e-6, "gate activations differ");
    CHECK(max_diff(out1, out2, (size_t)R * HH * 2) < 1e-6, "c, h differ");
    /* The backward gate loop, from those activations (odd width: 300 is not a
     * multiple of 16, so the vector loops' tails run too). */
    float *dh = malloc(sizeof(float) * R * HH), *dc1 = malloc(sizeof(float) * R * HH),
          *dc2 = malloc(sizeof(float) * R * HH);
    fill(dh, (size_t)R * HH, &rng);
    fill(dc1, (size_t)R * HH, &rng);
    memcpy(dc2, dc1, sizeof(float) * R * HH);
    float *dg1 = malloc(sizeof(float) * R * 4 * HH), *dg2 = malloc(sizeof(float) * R * 4 * HH);
    memcpy(dg1, g2, sizeof(float) * R * 4 * HH); /* in place: activations in, gradients out */
    memcpy(dg2, g2, sizeof(float) * R * 4 * HH);
    crnn_lstm_backward_pointwise(R, HH, dg1, cp, out2, dh, dc1);
    crnn_lstm_backward_pointwise_ref(R, HH, dg2, cp, out2, dh, dc2);
    CHECK(max_diff(dg1, dg2, (size_t)R * 4 * HH) < 1e-6, "gate gradients differ by %g",
          max_diff(dg1, dg2, (size_t)R * 4 * HH));
    CHECK(max_diff(dc1, dc2, (size_t)R * HH) < 1e-6, "cell gradients differ");
    /* Softmax cross-entropy: losses and logit gradients, 67 rows of 83. */
    enum { SR = 67, SV = 83 };
    float *z1 = malloc(sizeof(float) * SR * SV), *z2 = malloc(sizeof(float) * SR * SV);
    uint32_t tg[SR];
    double l1[SR], l2[SR];
    fill(z1, (size_t)SR * SV, &rng);
    for (int i = 0; i < SR * SV; i++)
        z1[i] *= 20;
    memcpy(z2, z1, sizeof(float) * SR * SV);
    for (int r = 0; r < SR; r++)
        tg[r] = (uint32_t)(r * 7 % SV);
    double s1 = crnn_softmax_xent(SR, SV, z1, tg, 0.25f, l1);
    double s2 = crnn_softmax_xent_ref(SR, SV, z2, tg, 0.25f, l2);
    CHECK(fabs(s1 - s2) < 1e-5 * fabs(s2), "softmax loss %.9g vs %.9g", s1, s2);
    CHECK(max_diff(z1, z2, (size_t)SR * SV) < 1e-6, "softmax gradients differ by %g",
          max_diff(z1, z2, (size_t)SR * SV));
    free(dh), free(dc1), free(dc2), free(dg1), free(dg2), free(z1), free(z2);
    free(g1);
    free(g2);
    free(cp);
    free(out1);
    free(out2);
}

int main(void)
{
    crnn_set_threads(2);
    check_kernels();
    for (int cell = CRNN_CELL_LSTM; cell <= CRNN_CELL_RNN_RELU; cell++)
        check_model_gradients(cell, 0, 0);
    check_model_gradients(CRNN_CELL_LSTM, 0.3f, 0);
    check_model_gradients(CRNN_CELL_GRU, 0.3f, 0);
    if (crnn_dnnl_available()) {
        check_model_gradients(CRNN_CELL_LSTM, 0, CRNN_WS_ONEDNN);
        check_model_gradients(CRNN_CELL_LSTM, 0.3f, CRNN_WS_ONEDNN);
        check_engine_matches_cells(0, 1e-5, 1);
        check_engine_matches_cells(0, 1e-5, 2);
        check_engine_matches_cells(0, 1e-5, 3);
        /* bf16 products: 8 bits of mantissa (measured: 9e-4 on the gradients). */
        if (crnn_set_engine(CRNN_ENGINE_ONEDNN_BF16) == CRNN_OK) {
            check_engine_matches_cells(CRNN_WS_BF16, 3e-3, 1);
            check_engine_matches_cells(CRNN_WS_BF16, 3e-3, 2);
            crnn_set_engine(CRNN_ENGINE_AUTO);
        }
    } else {
        fprintf(stderr, "test_gradcheck: built without oneDNN: its engine is not checked\n");
    }
    return check_result("test_gradcheck");
}
