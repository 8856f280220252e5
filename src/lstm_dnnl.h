/*
 * lstm_dnnl.h: the training engine of the LSTM stack on oneDNN's LSTM
 * primitives (forward-training and backward), chosen because it measured
 * faster than charrnn's own cells (bench/engines.cpp, bench/NOTES.md). It
 * runs the same layers with the same weights, gate order (input, forget,
 * candidate, output) and layout (in, 4H) as lstm.c, so snapshots do not know
 * which engine trained them.
 *
 * One engine serves one training workspace: the primitives are built for its
 * B x T shape and every buffer (oneDNN's workspace, reordered weights, the
 * scratchpad) is allocated when it is created: nothing is allocated per step.
 * The states stay in charrnn's buffers (crnn_layer_acts): h (T+1,B,H) as
 * usual, but of c only c[0] (carried in) and c[1] (after the last step); the
 * gates live in oneDNN's workspace, so acts->gates is unused.
 *
 * Built only with oneDNN (meson finds libdnnl-dev); engine_onednn.c puts it
 * behind the engine table.
 */
#ifndef CRNN_LSTM_DNNL_H
#define CRNN_LSTM_DNNL_H

#include "cell.h"
#include "charrnn.h"

typedef struct crnn_dnnl_lstm crnn_dnnl_lstm;

/* "oneDNN 2.6.3 (avx512_core_bf16)": the version and the instruction set its
 * kernels run with. */
const char *crnn_dnnl_description(void);

/* Builds the primitives and buffers for `layers` LSTM layers (embed -> hidden,
 * then hidden -> hidden) over rows x steps. bf16: the matrix products read
 * bf16 copies of the weights, inputs and h (oneDNN's bf16 training: the cell
 * state, bias, gradients and charrnn's own buffers stay f32). groups: groups
 * of rows run side by side, one thread each (0: chosen by the layer size,
 * see lstm_dnnl.c). NULL with err set (CRNN_ERR_NOMEM, or CRNN_ERR_ARG when
 * oneDNN refuses the shape). */
crnn_dnnl_lstm *crnn_dnnl_lstm_create(int layers, int embed, int hidden, int rows, int steps,
                                      int bf16, int groups, crnn_error *err);
void crnn_dnnl_lstm_free(crnn_dnnl_lstm *e);

/* Groups of rows the engine runs side by side, one thread each. */
int crnn_dnnl_lstm_groups(const crnn_dnnl_lstm *e);

/* Bytes the engine allocated (oneDNN workspaces, weights, scratchpad). */
size_t crnn_dnnl_lstm_bytes(const crnn_dnnl_lstm *e);

/* Bytes crnn_dnnl_lstm_create would allocate for this shape, from oneDNN's
 * own descriptors, allocating nothing; 0 if oneDNN refuses the shape. */
size_t crnn_dnnl_lstm_estimate(int layers, int embed, int hidden, int rows, int steps, int bf16,
                               int groups);

/* Layer l forward over the chunk: a->x (T,B,in), a->h[0], a->c[0] in; writes
 * a->h[1..T] and a->c[1] (the cell state after step T). a->rows and a->steps
 * must be the shape the engine was built for. CRNN_OK or CRNN_ERR_ARG. */
int crnn_dnnl_lstm_forward(crnn_dnnl_lstm *e, int l, const crnn_layer_weights *w,
                           crnn_layer_acts *a);

/* Layer l backward of its last forward: bw->dh (T,B,H) in; accumulates (+=)
 * into g; writes bw->dx (T,B,in, required), bw->dh0, bw->dc0. Nothing flows
 * in from beyond the chunk (truncated BPTT). CRNN_OK or CRNN_ERR_ARG. */
int crnn_dnnl_lstm_backward(crnn_dnnl_lstm *e, int l, const crnn_layer_weights *w,
                            crnn_layer_grads *g, crnn_layer_acts *a, crnn_layer_backward *bw);

#endif
