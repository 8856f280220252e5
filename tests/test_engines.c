/*
 * test_engines.c: every engine of the table other than charrnn's own cells
 * (oneDNN fp32 and bf16 in builds with oneDNN): its gradients against finite
 * differences, and against the own cells on one model at the workspace's
 * shape (logits, final state, weight and state gradients, += accumulation)
 * and at a smaller evaluation shape; a backward with no forward to go back
 * through is refused. Sizes are odd on purpose. Exits 77 (skipped) in a build
 * or on a CPU with no other engine.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine.h"
#include "gradcheck.h"
#include "model.h"
#include "rng.h"
#ifdef CRNN_HAVE_DNNL
#include "lstm_dnnl.h"
#endif

static void fill(float *x, size_t n, crnn_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 2 * crnn_rng_uniform(rng) - 1;
}

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

static void check_engine_matches_cells(const crnn_engine_ops *engine, double tol, int groups)
{
    enum { EV = 11, EE = 6, EH = 24, EL = 3, EB = 5, ET = 37, SB = 3, ST = 21 };
    crnn_model m;
    crnn_error err = {0};
    crnn_model_config cfg = {EV, EE, EH, EL, CRNN_CELL_LSTM};
    CHECK_OK(crnn_model_init(&m, &cfg, &err), err);
    crnn_rng rng;
    crnn_rng_seed(&rng, 5);
    crnn_model_randomize(&m, &rng, 1.0f);
    crnn_workspace own, other;
    /* Groups of rows that run side by side, each through strided views of the
     * same buffers (forced here: oneDNN's engine picks them for small layers). */
    crnn_engine_options options = {.row_groups = groups};
    CHECK_OK(crnn_workspace_init(&own, &m, EB, ET, CRNN_WS_DROPOUT, NULL, NULL, &err), err);
    CHECK_OK(crnn_workspace_init(&other, &m, EB, ET, CRNN_WS_DROPOUT, engine, &options, &err), err);
    CHECK(other.engine && other.engine->ops == engine && own.engine->ops == &crnn_engine_own_ops,
          "the engines were not built");
    uint32_t in[ET * EB], tg[ET * EB];
    for (int i = 0; i < ET * EB; i++) {
        in[i] = (uint32_t)(crnn_rng_next(&rng) % EV);
        tg[i] = (uint32_t)(crnn_rng_next(&rng) % EV);
    }
    size_t ns = crnn_model_state_size(&m, EB), P = m.layout.total;
    float *state = malloc(sizeof(float) * ns), *out[2], *grads[2];
    fill(state, ns, &rng);
    crnn_workspace *ws[2] = {&own, &other};
    crnn_rng masks[2] = {rng, rng}; /* the same dropout masks for both */
    for (int k = 0; k < 2; k++) {
        out[k] = malloc(sizeof(float) * ns);
        grads[k] = calloc(P, sizeof(float));
        crnn_model_draw_dropout(&m, ws[k], 0.25f, &masks[k], EB, 0, EB, ET);
        CHECK(crnn_model_forward(&m, ws[k], in, EB, ET, state) == CRNN_OK, "forward failed");
        crnn_model_final_state(&m, ws[k], out[k]);
        crnn_model_loss(&m, ws[k], tg, ET * EB);
    }
    CHECK(rel_max_diff(other.logits, own.logits, (size_t)ET * EB * EV) < tol,
          "%s: gradient of the logits differs by %.3g", engine->name,
          rel_max_diff(other.logits, own.logits, (size_t)ET * EB * EV));
    CHECK(rel_max_diff(out[1], out[0], ns) < tol, "%s: final state differs by %.3g",
          engine->name, rel_max_diff(out[1], out[0], ns));
    for (int k = 0; k < 2; k++)
        CHECK(crnn_model_backward(&m, ws[k], in, grads[k]) == CRNN_OK, "backward failed");
    CHECK(rel_max_diff(grads[1], grads[0], P) < 10 * tol, "%s: weight gradients differ by %.3g",
          engine->name, rel_max_diff(grads[1], grads[0], P));
    CHECK(rel_max_diff(other.dstate, own.dstate, ns) < 10 * tol,
          "%s: state gradients differ by %.3g", engine->name,
          rel_max_diff(other.dstate, own.dstate, ns));
    fprintf(stderr, "%s, %d group(s) of rows, vs own cells (3 x 24, B5 T37): weight gradients "
            "within %.2g\n", engine->name, groups, rel_max_diff(grads[1], grads[0], P));
    /* Gradients accumulate (+=), as the interface promises: a second backward
     * of the same forward doubles them (the engine's record is read-only). */
    CHECK(crnn_model_backward(&m, &other, in, grads[1]) == CRNN_OK, "second backward failed");
    for (size_t i = 0; i < P; i++)
        grads[0][i] *= 2;
    CHECK(rel_max_diff(grads[1], grads[0], P) < 10 * tol, "%s: gradients do not accumulate (%.3g)",
          engine->name, rel_max_diff(grads[1], grads[0], P));

    /* An evaluation shape, smaller than the workspace's. */
    size_t small = crnn_model_state_size(&m, SB);
    for (int k = 0; k < 2; k++) {
        ws[k]->dropout = 0;
        CHECK(crnn_model_forward(&m, ws[k], in, SB, ST, state) == CRNN_OK, "forward failed");
        crnn_model_final_state(&m, ws[k], out[k]);
    }
    CHECK(rel_max_diff(other.logits, own.logits, (size_t)ST * SB * EV) < 1e-5,
          "%s, evaluation shape: logits differ by %.3g", engine->name,
          rel_max_diff(other.logits, own.logits, (size_t)ST * SB * EV));
    CHECK(rel_max_diff(out[1], out[0], small) < 1e-5, "%s, evaluation shape: final state differs",
          engine->name);
    /* oneDNN's engine has no record of that forward: its backward refuses, never guesses. */
    if (engine->id == CRNN_ENGINE_ONEDNN || engine->id == CRNN_ENGINE_ONEDNN_BF16)
        CHECK(crnn_model_backward(&m, &other, in, grads[1]) != CRNN_OK,
              "%s: a backward without the engine's forward went unnoticed", engine->name);
    for (int k = 0; k < 2; k++) {
        free(out[k]);
        free(grads[k]);
        crnn_workspace_free(ws[k]);
    }
    free(state);
    crnn_model_free(&m);
}

#ifdef CRNN_HAVE_DNNL
/* oneDNN's LSTM module itself: the groups asked for, and the memory estimate
 * (read from oneDNN's descriptors) equal to what it allocates. */
static void check_dnnl_module(int bf16, int groups)
{
    crnn_error err = {0};
    crnn_dnnl_lstm *e = crnn_dnnl_lstm_create(3, 6, 24, 5, 37, bf16, groups, &err);
    CHECK(e, "oneDNN LSTM not built: %s", err.message);
    if (!e)
        return;
    CHECK(crnn_dnnl_lstm_groups(e) == groups, "%d groups of rows, not %d",
          crnn_dnnl_lstm_groups(e), groups);
    size_t estimate = crnn_dnnl_lstm_estimate(3, 6, 24, 5, 37, bf16, groups);
    CHECK(estimate > 0 && estimate == crnn_dnnl_lstm_bytes(e), "estimate %zu bytes, allocated %zu",
          estimate, crnn_dnnl_lstm_bytes(e));
    crnn_dnnl_lstm_free(e);
}
#endif

int main(void)
{
    crnn_set_threads(2);
    static const struct {
        crnn_engine id;
        double tol; /* bf16 products: 8 bits of mantissa (measured: 9e-4 on the gradients) */
    } engines[] = {{CRNN_ENGINE_ONEDNN, 1e-5}, {CRNN_ENGINE_ONEDNN_BF16, 3e-3}};
    int tested = 0;
    for (size_t i = 0; i < sizeof engines / sizeof *engines; i++) {
        const crnn_engine_ops *e = crnn_engine_for(engines[i].id, CRNN_CELL_LSTM);
        if (e == &crnn_engine_own_ops) {
            fprintf(stderr, "test_engines: %s cannot run here\n", crnn_engine_name(engines[i].id));
            continue;
        }
        tested++;
        if (engines[i].id == CRNN_ENGINE_ONEDNN) {
            check_model_gradients(CRNN_CELL_LSTM, 0, e);
            check_model_gradients(CRNN_CELL_LSTM, 0.3f, e);
        }
        for (int groups = 1; groups <= 3; groups++)
            check_engine_matches_cells(e, engines[i].tol, groups);
#ifdef CRNN_HAVE_DNNL
        check_dnnl_module(engines[i].id == CRNN_ENGINE_ONEDNN_BF16, 2);
#endif
    }
    /* An engine that cannot run a cell type is never chosen for it. */
    CHECK(crnn_engine_for(CRNN_ENGINE_ONEDNN, CRNN_CELL_GRU) == &crnn_engine_own_ops,
          "a GRU would run on oneDNN's LSTM");
    CHECK(crnn_engine_for(CRNN_ENGINE_AUTO, CRNN_CELL_RNN_TANH) == &crnn_engine_own_ops,
          "auto chose an engine that cannot run the vanilla RNN");
    if (!tested) {
        fprintf(stderr, "test_engines: no engine besides the own cells in this build: skipped\n");
        return check_failures ? check_result("test_engines") : 77;
    }
    return check_result("test_engines");
}
