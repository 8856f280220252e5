/*
 * test_gradcheck.c: the analytic gradients of charrnn's own cells (every cell
 * type, with and without dropout) against central finite differences
 * (gradcheck.h); and the fast kernels against their plain C references. The
 * other engines are checked in test_engines.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gradcheck.h"
#include "kernels.h"
#include "model.h"
#include "rng.h"

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
        check_model_gradients(cell, 0, &crnn_engine_own_ops);
    check_model_gradients(CRNN_CELL_LSTM, 0.3f, &crnn_engine_own_ops);
    check_model_gradients(CRNN_CELL_GRU, 0.3f, &crnn_engine_own_ops);
    /* The other engines: test_engines. */
    return check_result("test_gradcheck");
}
