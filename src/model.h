/*
 * model.h: embedding -> L stacked recurrent layers -> linear -> softmax, over
 * chunks of B rows x T steps laid out time-major (row t*B + b).
 *
 * All weights live in one flat array carved into named views (the layout), so
 * gradients, optimizer moments, clipping, snapshots and the MPI reduction all
 * walk one buffer of the same shape:
 *   emb (V,E) | per layer l: wx (in_l, G*H), wh (H, G*H), b (G*H) | wy (H,V) | by (V)
 * with in_0 = E and in_l = H above.
 *
 * The carried state is one array (L, S, B, H): S = 2 (h then c) for the LSTM.
 * Knows nothing of files, corpora or optimizers.
 */
#ifndef CRNN_MODEL_H
#define CRNN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cell.h"
#include "charrnn.h"
#include "engine.h"
#include "rng.h"

typedef struct crnn_model_config {
    int vocab, embed, hidden, layers;
    int cell; /* crnn_cell_type */
} crnn_model_config;

typedef struct crnn_layout {
    size_t emb;
    size_t wx[CRNN_MAX_LAYERS], wh[CRNN_MAX_LAYERS], b[CRNN_MAX_LAYERS];
    size_t wy, by;
    size_t total;
} crnn_layout;

typedef struct crnn_model {
    crnn_model_config config;
    const crnn_cell_ops *cell;
    crnn_layout layout;
    float *params; /* (layout.total) owned */
} crnn_model;

/* Buffers for forward and backward over up to B x T (allocated once). What
 * only the engine reads (gates, per-step cell states) the engine keeps. */
typedef struct crnn_workspace {
    int max_rows, max_steps;
    float *x0;                         /* (T,B,E) embedded input */
    float *h[CRNN_MAX_LAYERS];         /* (T+1,B,H): h[0] carried in, h[t+1] output of step t */
    float *c_last;                     /* (L,B,H) cell state after the last step (cells with c) */
    float *logits;                     /* (T,B,V), becomes dlogits after the loss */
    double *row_loss;                  /* (T*B) */
    float *dh_a, *dh_b;                /* (T,B,max(E,H)) ping-pong gradients between layers */
    float dropout;                     /* rate applied by the next forward (0 = off) */
    float *mask[CRNN_MAX_LAYERS];      /* (T,B,H) 0 or 1/(1-p) per output of layer l */
    float *dropped[CRNN_MAX_LAYERS];   /* (T,B,H) output of layer l after its mask */
    float *dstate;                     /* (L,S,B,H) gradient of the carried-in state */
    int rows, steps;                   /* of the last forward */
    crnn_stack *engine;                /* runs the recurrent layers (engine.h) */
} crnn_workspace;

/* crnn_workspace_init flags. */
enum {
    CRNN_WS_DROPOUT = 1,      /* masks for dropout between layers */
    CRNN_WS_FORWARD_ONLY = 2, /* no buffers for backward (evaluation); backward refuses */
};

/* Checks the sizes and fills config, cell and layout; allocates nothing
 * (params stays NULL: nothing to free). */
int crnn_model_shape(crnn_model *model, const crnn_model_config *config, crnn_error *err);

/* Checks the sizes and computes the layout; allocates the weights (zeroed). */
int crnn_model_init(crnn_model *model, const crnn_model_config *config, crnn_error *err);
void crnn_model_free(crnn_model *model);

/* Number of floats in the carried state for B rows: L * S * B * H. */
size_t crnn_model_state_size(const crnn_model *model, int rows);

/* Copies the weights of a model of the same shape whose vocabulary is this
 * one's first `vocab` tokens (params: its layout.total floats): its
 * recurrent layers whole, and the embedding rows, output columns and output
 * biases of its tokens; the rest of this model (the tokens added) stays as it
 * is. CRNN_ERR_ARG if the shapes differ. */
int crnn_model_graft(crnn_model *model, const float *params, size_t n, int vocab);

/* Draws the initial weights: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), cell biases. */
void crnn_model_randomize(crnn_model *model, crnn_rng *rng, float forget_bias);

/* Bytes a workspace for B x T with this engine needs (for memory estimates):
 * the model's buffers and the engine's. */
size_t crnn_workspace_bytes(const crnn_model_config *config, const crnn_cell_ops *cell, int rows,
                            int steps, unsigned flags, const crnn_engine_ops *engine,
                            const crnn_engine_options *options);

/* Allocates the buffers for up to rows x steps and builds the engine that runs
 * the layers (NULL: charrnn's own cells; options may be NULL). */
int crnn_workspace_init(crnn_workspace *ws, const crnn_model *model, int rows, int steps,
                        unsigned flags, const crnn_engine_ops *engine,
                        const crnn_engine_options *options, crnn_error *err);

/* Sets ws->dropout to p and draws the masks for the next forward. Draws for
 * all `total_rows` rows (so every process of a data-parallel run draws the
 * same numbers) and keeps rows first .. first+rows-1. */
void crnn_model_draw_dropout(const crnn_model *model, crnn_workspace *ws, float p, crnn_rng *rng,
                             int total_rows, int first, int rows, int steps);
void crnn_workspace_free(crnn_workspace *ws);

/* Forward over rows x steps tokens (time-major, ids < V) from state_in
 * (L,S,rows,H); leaves logits (steps*rows, V) in ws->logits. CRNN_OK, or the
 * engine's failure. */
int crnn_model_forward(const crnn_model *model, crnn_workspace *ws, const uint32_t *inputs,
                        int rows, int steps, const float *state_in);

/* Copies the state after the last forward step into state_out (L,S,rows,H). */
void crnn_model_final_state(const crnn_model *model, const crnn_workspace *ws, float *state_out);

/* Summed cross-entropy (nats) of the last forward against targets; turns the
 * logits into the gradient of that sum divided by `normalizer` (the number of
 * characters the loss is averaged over: B*T, or the global B*T across ranks). */
double crnn_model_loss(const crnn_model *model, crnn_workspace *ws, const uint32_t *targets,
                       double normalizer);

/* Backward of the last forward and loss: accumulates (+=) into grads (layout.total)
 * and leaves the gradient of the carried-in state in ws->dstate. CRNN_OK, or
 * the engine's failure (oneDNN's needs the last forward to have had the
 * workspace's full shape). */
int crnn_model_backward(const crnn_model *model, crnn_workspace *ws, const uint32_t *inputs,
                         float *grads);

#endif
