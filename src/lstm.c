/*
 * lstm.c: the LSTM cell over a chunk of T steps for B rows: one large product
 * for the input projection of all steps, one recurrent product per step, and
 * the fused gate loops of kernels.c. Gate order: input, forget, candidate,
 * output. The backward pass writes the gate gradients over the gates and
 * recomputes tanh(c): per layer, only h, c and the gates are kept (T x B x 6H
 * floats). Does not know where its input comes from or where its output goes.
 */
#include <string.h>

#include "cell.h"
#include "kernels.h"

static void lstm_init_bias(float *b, int hidden, float forget_bias)
{
    for (int j = 0; j < 4 * hidden; j++)
        b[j] = 0.0f;
    for (int j = hidden; j < 2 * hidden; j++)
        b[j] = forget_bias; /* 1 by default: gradients flow through time from the start */
}

static void lstm_forward(const crnn_layer_weights *w, crnn_layer_acts *a)
{
    int rows = a->rows, hidden = a->hidden, g4 = 4 * hidden, n = a->rows * a->steps;
    size_t bh = (size_t)rows * hidden;
    crnn_fill_rows(a->gates, w->b, n, g4);
    crnn_gemm(0, 0, n, g4, a->in, 1.0f, a->x, a->in, w->wx, g4, 1.0f, a->gates, g4);
    for (int t = 0; t < a->steps; t++) {
        float *gates = a->gates + (size_t)t * rows * g4;
        crnn_gemm(0, 0, rows, g4, hidden, 1.0f, a->h + t * bh, hidden, w->wh, g4, 1.0f, gates, g4);
        crnn_lstm_forward_pointwise(rows, hidden, gates, a->c + t * bh, a->c + (t + 1) * bh,
                                    a->h + (t + 1) * bh);
    }
}

static void lstm_backward(const crnn_layer_weights *w, crnn_layer_grads *g, crnn_layer_acts *a,
                          crnn_layer_backward *bw)
{
    int rows = a->rows, hidden = a->hidden, g4 = 4 * hidden, n = a->rows * a->steps;
    size_t bh = (size_t)rows * hidden;
    /* Nothing flows back into the chunk from beyond its last step (truncated BPTT). */
    memset(bw->dc0, 0, sizeof(float) * bh);
    memset(bw->dh0, 0, sizeof(float) * bh);
    for (int t = a->steps - 1; t >= 0; t--) {
        float *dh = bw->dh + t * bh;
        for (size_t k = 0; k < bh; k++)
            dh[k] += bw->dh0[k]; /* the recurrent gradient from step t+1 */
        /* The gates of step t become their gradients (the activations are not needed again). */
        float *dgates = a->gates + (size_t)t * rows * g4;
        crnn_lstm_backward_pointwise(rows, hidden, dgates, a->c + t * bh, a->c + (t + 1) * bh, dh,
                                     bw->dc0);
        /* dh0 becomes the gradient reaching h[t], the output of step t-1. */
        crnn_gemm(0, 1, rows, hidden, g4, 1.0f, dgates, g4, w->wh, g4, 0.0f, bw->dh0, hidden);
    }
    /* Weight gradients for all steps at once: h[0..T-1] and x are contiguous. */
    const float *dgates = a->gates;
    crnn_gemm(1, 0, hidden, g4, n, 1.0f, a->h, hidden, dgates, g4, 1.0f, g->wh, g4);
    crnn_gemm(1, 0, a->in, g4, n, 1.0f, a->x, a->in, dgates, g4, 1.0f, g->wx, g4);
    crnn_add_column_sums(g->b, dgates, n, g4);
    if (bw->dx)
        crnn_gemm(0, 1, n, a->in, g4, 1.0f, dgates, g4, w->wx, g4, 0.0f, bw->dx, a->in);
}

const crnn_cell_ops crnn_cell_lstm = {
    .name = "lstm",
    .gates = 4,
    .bias_gates = 4,
    .has_cell_state = 1,
    .aux_per_step = 0,
    .backward_buffers = 0,
    .init_bias = lstm_init_bias,
    .forward = lstm_forward,
    .backward = lstm_backward,
};
