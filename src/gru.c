/*
 * gru.c: the GRU cell (Cho et al.), in the form cuDNN and PyTorch use, with the
 * reset gate applied after the recurrent product:
 *   r = σ(x Wr + h Ur + br)   z = σ(x Wz + h Uz + bz)
 *   n = tanh(x Wn + bn + r ⊙ (h Un + bhn))   h' = (1 - z) ⊙ n + z ⊙ h
 * Gate order r, z, n; the bias is (br, bz, bn, bhn). aux keeps h Un + bhn.
 */
#include <math.h>
#include <string.h>

#include "cell.h"
#include "kernels.h"

static void gru_init_bias(float *b, int hidden, float keep_bias)
{
    (void)keep_bias;
    memset(b, 0, sizeof(float) * 4 * (size_t)hidden);
}

static void gru_forward(const crnn_layer_weights *w, crnn_layer_acts *a)
{
    int rows = a->rows, H = a->hidden, g3 = 3 * H, n = rows * a->steps;
    size_t bh = (size_t)rows * H;
    crnn_fill_rows(a->gates, w->b, n, g3);
    crnn_gemm(0, 0, n, g3, a->in, 1.0f, a->x, a->in, w->wx, g3, 1.0f, a->gates, g3);
    float *hp = a->scratch; /* (B,3H) the recurrent products of one step */
    const float *bhn = w->b + g3;
    for (int t = 0; t < a->steps; t++) {
        float *g = a->gates + (size_t)t * rows * g3;
        const float *hprev = a->h + t * bh;
        float *hnext = a->h + (t + 1) * bh, *hn = a->aux + t * bh;
        crnn_gemm(0, 0, rows, g3, H, 1.0f, hprev, H, w->wh, g3, 0.0f, hp, g3);
        for (int r = 0; r < rows; r++) {
            float *gr = g + (size_t)r * g3, *hr = hp + (size_t)r * g3;
            for (int j = 0; j < H; j++) {
                float rg = 1.0f / (1.0f + expf(-(gr[j] + hr[j])));
                float zg = 1.0f / (1.0f + expf(-(gr[H + j] + hr[H + j])));
                float hnv = hr[2 * H + j] + bhn[j];
                float ng = tanhf(gr[2 * H + j] + rg * hnv);
                size_t o = (size_t)r * H + j;
                gr[j] = rg;
                gr[H + j] = zg;
                gr[2 * H + j] = ng;
                hn[o] = hnv;
                hnext[o] = (1.0f - zg) * ng + zg * hprev[o];
            }
        }
    }
}

static void gru_backward(const crnn_layer_weights *w, crnn_layer_grads *g, crnn_layer_acts *a,
                         crnn_layer_backward *bw)
{
    int rows = a->rows, H = a->hidden, g3 = 3 * H, n = rows * a->steps;
    size_t bh = (size_t)rows * H;
    memset(bw->dh0, 0, sizeof(float) * bh);
    for (int t = a->steps - 1; t >= 0; t--) {
        const float *gt = a->gates + (size_t)t * rows * g3;
        const float *hprev = a->h + t * bh, *hn = a->aux + t * bh;
        float *dh = bw->dh + t * bh;
        float *dx = bw->dgates + (size_t)t * rows * g3;  /* input-side pre-activation grads */
        float *dr = bw->dgates2 + (size_t)t * rows * g3; /* recurrent-side grads */
        for (int r = 0; r < rows; r++) {
            const float *gr = gt + (size_t)r * g3;
            float *dxr = dx + (size_t)r * g3, *drr = dr + (size_t)r * g3;
            for (int j = 0; j < H; j++) {
                size_t o = (size_t)r * H + j;
                float rg = gr[j], zg = gr[H + j], ng = gr[2 * H + j];
                float d = dh[o] + bw->dh0[o];
                float dn = d * (1.0f - zg) * (1.0f - ng * ng);
                float dz = d * (hprev[o] - ng) * zg * (1.0f - zg);
                float drg = dn * hn[o] * rg * (1.0f - rg);
                dxr[j] = drg;
                dxr[H + j] = dz;
                dxr[2 * H + j] = dn;
                drr[j] = drg;
                drr[H + j] = dz;
                drr[2 * H + j] = dn * rg;
                bw->dh0[o] = d * zg; /* the direct path; the product is added below */
            }
        }
        crnn_gemm(0, 1, rows, H, g3, 1.0f, dr, g3, w->wh, g3, 1.0f, bw->dh0, H);
    }
    crnn_gemm(1, 0, H, g3, n, 1.0f, a->h, H, bw->dgates2, g3, 1.0f, g->wh, g3);
    crnn_gemm(1, 0, a->in, g3, n, 1.0f, a->x, a->in, bw->dgates, g3, 1.0f, g->wx, g3);
    crnn_add_column_sums(g->b, bw->dgates, n, g3);
    /* bhn: the n part of the recurrent gradients (stride 3H, offset 2H). */
    for (int r = 0; r < n; r++) {
        const float *row = bw->dgates2 + (size_t)r * g3 + 2 * H;
        for (int j = 0; j < H; j++)
            g->b[g3 + j] += row[j];
    }
    if (bw->dx)
        crnn_gemm(0, 1, n, a->in, g3, 1.0f, bw->dgates, g3, w->wx, g3, 0.0f, bw->dx, a->in);
}

const crnn_cell_ops crnn_cell_gru = {
    .name = "gru",
    .gates = 3,
    .bias_gates = 4,
    .has_cell_state = 0,
    .aux_per_step = 1,
    .backward_buffers = 2,
    .init_bias = gru_init_bias,
    .forward = gru_forward,
    .backward = gru_backward,
};
