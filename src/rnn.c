/*
 * rnn.c: the vanilla (Elman) RNN cell, h' = act(x W + h U + b), with tanh or
 * ReLU.
 */
#include <string.h>
#include <math.h>

#include "cell.h"
#include "kernels.h"

static void rnn_init_bias(float *b, int hidden, float keep_bias)
{
    (void)keep_bias;
    memset(b, 0, sizeof(float) * (size_t)hidden);
}

static void rnn_forward(const crnn_layer_weights *w, crnn_layer_acts *a, int relu)
{
    int rows = a->rows, H = a->hidden, n = rows * a->steps;
    size_t bh = (size_t)rows * H;
    crnn_fill_rows(a->gates, w->b, n, H);
    crnn_gemm(0, 0, n, H, a->in, 1.0f, a->x, a->in, w->wx, H, 1.0f, a->gates, H);
    for (int t = 0; t < a->steps; t++) {
        float *pre = a->gates + t * bh, *h = a->h + (t + 1) * bh;
        crnn_gemm(0, 0, rows, H, H, 1.0f, a->h + t * bh, H, w->wh, H, 1.0f, pre, H);
        for (size_t k = 0; k < bh; k++)
            h[k] = relu ? (pre[k] > 0 ? pre[k] : 0.0f) : tanhf(pre[k]);
    }
}

static void rnn_backward(const crnn_layer_weights *w, crnn_layer_grads *g, crnn_layer_acts *a,
                         crnn_layer_backward *bw, int relu)
{
    int rows = a->rows, H = a->hidden, n = rows * a->steps;
    size_t bh = (size_t)rows * H;
    memset(bw->dh0, 0, sizeof(float) * bh);
    for (int t = a->steps - 1; t >= 0; t--) {
        const float *h = a->h + (t + 1) * bh;
        float *dh = bw->dh + t * bh, *dpre = bw->dgates + t * bh;
        for (size_t k = 0; k < bh; k++) {
            float d = dh[k] + bw->dh0[k];
            dpre[k] = relu ? (h[k] > 0 ? d : 0.0f) : d * (1.0f - h[k] * h[k]);
        }
        crnn_gemm(0, 1, rows, H, H, 1.0f, dpre, H, w->wh, H, 0.0f, bw->dh0, H);
    }
    crnn_gemm(1, 0, H, H, n, 1.0f, a->h, H, bw->dgates, H, 1.0f, g->wh, H);
    crnn_gemm(1, 0, a->in, H, n, 1.0f, a->x, a->in, bw->dgates, H, 1.0f, g->wx, H);
    crnn_add_column_sums(g->b, bw->dgates, n, H);
    if (bw->dx)
        crnn_gemm(0, 1, n, a->in, H, 1.0f, bw->dgates, H, w->wx, H, 0.0f, bw->dx, a->in);
}

static void tanh_forward(const crnn_layer_weights *w, crnn_layer_acts *a) { rnn_forward(w, a, 0); }
static void relu_forward(const crnn_layer_weights *w, crnn_layer_acts *a) { rnn_forward(w, a, 1); }

static void tanh_backward(const crnn_layer_weights *w, crnn_layer_grads *g, crnn_layer_acts *a,
                          crnn_layer_backward *bw)
{
    rnn_backward(w, g, a, bw, 0);
}

static void relu_backward(const crnn_layer_weights *w, crnn_layer_grads *g, crnn_layer_acts *a,
                          crnn_layer_backward *bw)
{
    rnn_backward(w, g, a, bw, 1);
}

const crnn_cell_ops crnn_cell_rnn_tanh = {
    .name = "rnn-tanh",
    .gates = 1,
    .bias_gates = 1,
    .has_cell_state = 0,
    .aux_per_step = 0,
    .backward_buffers = 1,
    .init_bias = rnn_init_bias,
    .forward = tanh_forward,
    .backward = tanh_backward,
};

const crnn_cell_ops crnn_cell_rnn_relu = {
    .name = "rnn-relu",
    .gates = 1,
    .bias_gates = 1,
    .has_cell_state = 0,
    .aux_per_step = 0,
    .backward_buffers = 1,
    .init_bias = rnn_init_bias,
    .forward = relu_forward,
    .backward = relu_backward,
};
