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
 * Without oneDNN at build time (meson -Donednn=disabled, or no libdnnl-dev)
 * crnn_dnnl_available() is 0 and charrnn's own cells train.
 */
#ifndef CRNN_LSTM_DNNL_H
#define CRNN_LSTM_DNNL_H

#include "cell.h"
#include "charrnn.h"

typedef struct crnn_dnnl_lstm crnn_dnnl_lstm;

/* 1 if LSTM training is to run on oneDNN (available, not turned off by
 * crnn_set_engine; backend.c). */
int crnn_onednn_selected(void);
int crnn_onednn_bf16(void); /* ... with its products in bf16 */
int crnn_engine_is_auto(void); /* CRNN_ENGINE_AUTO: the trainer may fall back */

#ifdef CRNN_HAVE_DNNL
/* 1 if this build has oneDNN. */
int crnn_dnnl_available(void);

/* "oneDNN 2.6.3 (avx512_core_bf16)": the version and the instruction set its
 * kernels run with; "" without oneDNN. */
const char *crnn_dnnl_description(void);

/* Builds the primitives and buffers for `layers` LSTM layers (embed -> hidden,
 * then hidden -> hidden) over rows x steps. bf16: the matrix products read
 * bf16 copies of the weights, inputs and h (oneDNN's bf16 training: the cell
 * state, bias, gradients and charrnn's own buffers stay f32). NULL with err set (CRNN_ERR_NOMEM,
 * or CRNN_ERR_INTERNAL when oneDNN refuses the shape). */
crnn_dnnl_lstm *crnn_dnnl_lstm_create(int layers, int embed, int hidden, int rows, int steps,
                                      int bf16, crnn_error *err);
void crnn_dnnl_lstm_free(crnn_dnnl_lstm *e);

/* Groups of rows the engine runs side by side, one thread each (1: one group
 * that oneDNN threads itself; more for small layers, see lstm_dnnl.c). */
int crnn_dnnl_lstm_groups(const crnn_dnnl_lstm *e);

/* Bytes the engine allocated (oneDNN workspaces, weights, scratchpad). */
size_t crnn_dnnl_lstm_bytes(const crnn_dnnl_lstm *e);

/* Bytes crnn_dnnl_lstm_create would allocate for this shape, from oneDNN's
 * own descriptors, allocating nothing; 0 if oneDNN refuses the shape. */
size_t crnn_dnnl_lstm_estimate(int layers, int embed, int hidden, int rows, int steps, int bf16);

/* Layer l forward over the chunk: a->x (T,B,in), a->h[0], a->c[0] in; writes
 * a->h[1..T] and a->c[1] (the cell state after step T). a->rows and a->steps
 * must be the shape the engine was built for. CRNN_OK or CRNN_ERR_INTERNAL. */
int crnn_dnnl_lstm_forward(crnn_dnnl_lstm *e, int l, const crnn_layer_weights *w,
                           crnn_layer_acts *a);

/* Layer l backward of its last forward: bw->dh (T,B,H) in; accumulates (+=)
 * into g; writes bw->dx (T,B,in, required), bw->dh0, bw->dc0. Nothing flows
 * in from beyond the chunk (truncated BPTT). CRNN_OK or CRNN_ERR_INTERNAL. */
int crnn_dnnl_lstm_backward(crnn_dnnl_lstm *e, int l, const crnn_layer_weights *w,
                            crnn_layer_grads *g, crnn_layer_acts *a, crnn_layer_backward *bw);

#else /* built without oneDNN: never selected, so only these are reached */
static inline int crnn_dnnl_available(void)
{
    return 0;
}
static inline const char *crnn_dnnl_description(void)
{
    return "";
}
static inline crnn_dnnl_lstm *crnn_dnnl_lstm_create(int layers, int embed, int hidden, int rows,
                                                    int steps, int bf16, crnn_error *err)
{
    (void)layers, (void)embed, (void)hidden, (void)rows, (void)steps, (void)bf16;
    if (err)
        err->status = CRNN_ERR_ARG;
    return NULL;
}
static inline void crnn_dnnl_lstm_free(crnn_dnnl_lstm *e)
{
    (void)e;
}
static inline int crnn_dnnl_lstm_groups(const crnn_dnnl_lstm *e)
{
    (void)e;
    return 0;
}
static inline size_t crnn_dnnl_lstm_estimate(int layers, int embed, int hidden, int rows,
                                             int steps, int bf16)
{
    (void)layers, (void)embed, (void)hidden, (void)rows, (void)steps, (void)bf16;
    return 0;
}
static inline int crnn_dnnl_lstm_forward(crnn_dnnl_lstm *e, int l, const crnn_layer_weights *w,
                                         crnn_layer_acts *a)
{
    (void)e, (void)l, (void)w, (void)a;
    return CRNN_ERR_ARG;
}
static inline int crnn_dnnl_lstm_backward(crnn_dnnl_lstm *e, int l, const crnn_layer_weights *w,
                                          crnn_layer_grads *g, crnn_layer_acts *a,
                                          crnn_layer_backward *bw)
{
    (void)e, (void)l, (void)w, (void)g, (void)a, (void)bw;
    return CRNN_ERR_ARG;
}
#endif

#endif
