/*
 * cell.h: the recurrent cell behind the layer interface. A layer runs its cell
 * over T steps for B rows; the model only sees this table, so another cell
 * type (GRU, vanilla RNN) is another table. Knows nothing of vocabularies,
 * losses or files.
 *
 * Weights of one layer (views into the model's flat array):
 *   wx (in, G*H)   input projection
 *   wh (H, G*H)    recurrent projection
 *   b  (G'*H)      bias (G' = bias_gates: the GRU keeps one more H for the
 *                  recurrent candidate bias)
 * where G is the cell's number of gates (4 LSTM, 3 GRU, 1 vanilla RNN).
 */
#ifndef CRNN_CELL_H
#define CRNN_CELL_H

typedef struct crnn_layer_weights {
    const float *wx, *wh, *b;
} crnn_layer_weights;

typedef struct crnn_layer_grads {
    float *wx, *wh, *b; /* accumulated into (+=) */
} crnn_layer_grads;

/* Activations of one layer over a chunk; B rows per step, T steps. */
typedef struct crnn_layer_acts {
    int rows, steps, in, hidden;
    float *scratch; /* (B,G*H) per-step scratch */
    const float *x; /* (T,B,in) input */
    float *gates;   /* (T,B,G*H) gate activations kept for backward */
    float *h;       /* (T+1,B,H): h[0] is the state carried in, h[t+1] the output of step t */
    float *c;       /* (T+1,B,H): cell state, same convention (cells with one) */
    float *aux;     /* (T,B,H): cell-specific (cells with aux_per_step), else NULL */
} crnn_layer_acts;

/* Scratch and outputs of one layer's backward pass. */
typedef struct crnn_layer_backward {
    float *dh;     /* (T,B,H) gradient reaching each output h[t+1]; consumed */
    float *dgates; /* (T,B,G*H) scratch (cells with backward_buffers >= 1) */
    float *dgates2; /* (T,B,G*H) second scratch (backward_buffers 2: cells whose input
                      and recurrent gradients differ, such as the GRU) */
    float *dx;     /* (T,B,in) gradient of the input, written; NULL to skip */
    float *dh0;    /* (B,H) gradient of the carried-in h, written */
    float *dc0;    /* (B,H) gradient of the carried-in c, written (cells with c) */
} crnn_layer_backward;

typedef struct crnn_cell_ops {
    const char *name;
    int gates;          /* G */
    int bias_gates;     /* the bias has bias_gates * H entries (G, or more) */
    int has_cell_state; /* carries c besides h */
    int aux_per_step;   /* 1: needs the (T,B,H) aux buffer */
    int backward_buffers; /* (T,B,G*H) scratch buffers its backward needs (the LSTM's
                             writes its gradients over the gates: none) */
    void (*init_bias)(float *b, int hidden, float keep_bias); /* after the weights are drawn;
                                                          keep_bias: LSTM forget gate */
    void (*forward)(const crnn_layer_weights *w, crnn_layer_acts *a);
    void (*backward)(const crnn_layer_weights *w, crnn_layer_grads *g, crnn_layer_acts *a,
                     crnn_layer_backward *bw);
} crnn_cell_ops;

extern const crnn_cell_ops crnn_cell_lstm;
extern const crnn_cell_ops crnn_cell_gru;
extern const crnn_cell_ops crnn_cell_rnn_tanh;
extern const crnn_cell_ops crnn_cell_rnn_relu;

/* The cell for a CRNN_CELL_* code (see charrnn.h), or NULL. */
const crnn_cell_ops *crnn_cell_for(int code);

#endif
