/*
 * engine.h: the one interface behind which the recurrent stack runs. An
 * engine runs a model's layers forward and backward over chunks of B rows x
 * T steps; model.c calls it layer by layer through this table and knows no
 * engine by name. Every engine computes the same model on the same weights
 * (layouts of model.h, gate order of the cells), so snapshots do not record
 * which one trained them.
 *
 * The engines (engine.c lists them, in the order auto prefers them):
 *   onednn, onednn-bf16  oneDNN's LSTM primitives (engine_onednn.c), LSTM only
 *   own                  charrnn's cells: OpenBLAS products, fused gate loops
 *                        (engine_own.c), every cell type
 * Adding one is a file that fills a crnn_engine_ops and a line in engine.c.
 *
 * Ownership: the model's workspace keeps what the model reads (the layers'
 * outputs h, the state after the last step); an engine keeps what only it
 * reads (gates and cell states for its backward, primitives, scratch), all
 * allocated by create: nothing is allocated per step.
 *
 * An engine that keeps the whole training step on another device (a GPU:
 * weights, optimizer moments and hidden state resident there) adds a step
 * operation beside these; the trainer's host_step (train.c) is the one place
 * that would call it, and the weights come back to the host only for
 * snapshots and evaluation reports.
 */
#ifndef CRNN_ENGINE_H
#define CRNN_ENGINE_H

#include <stddef.h>

#include "cell.h"
#include "charrnn.h"

struct crnn_model;
struct crnn_model_config;

/* Layer l's sequences for one forward and its backward (B rows, T steps). */
typedef struct crnn_layer_io {
    int rows, steps;
    const float *x; /* (T,B,in) input */
    float *h;       /* (T+1,B,H): h[0] carried in (read), h[1..T] written by forward */
    const float *c0; /* (B,H) cell state carried in (cells with one), else NULL */
    float *c_last;  /* (B,H) cell state after step T, written (cells with one), else NULL */
} crnn_layer_io;

/* The gradients one layer's backward reads and writes. */
typedef struct crnn_layer_grad_io {
    float *dh;  /* (T,B,H) gradient reaching each output h[t+1]; consumed (overwritten) */
    float *dx;  /* (T,B,in) gradient of the input, written */
    float *dh0; /* (B,H) gradient of the carried-in h, written */
    float *dc0; /* (B,H) gradient of the carried-in c, written (cells with c), else NULL */
} crnn_layer_grad_io;

/* The cell interface's view (cell.h) of layer io with input width `in`: the
 * fields every engine fills alike; the engine adds its own buffers (gates,
 * c, aux, scratch). */
static inline crnn_layer_acts crnn_layer_acts_of(const crnn_layer_io *io, int in, int hidden)
{
    return (crnn_layer_acts){
        .rows = io->rows, .steps = io->steps, .in = in, .hidden = hidden, .x = io->x, .h = io->h};
}

/* Settings an engine may use; zero means "choose". */
typedef struct crnn_engine_options {
    int row_groups;   /* oneDNN: groups of rows run side by side, one thread each */
    int forward_only; /* no backward will be asked for: skip its buffers */
} crnn_engine_options;

/* An engine's state for one workspace; engines embed it as their first member. */
typedef struct crnn_stack {
    const struct crnn_engine_ops *ops;
} crnn_stack;

typedef struct crnn_engine_ops {
    const char *name;  /* the word --engine takes */
    crnn_engine id;
    int auto_choice;   /* 1: CRNN_ENGINE_AUTO may take it */
    /* 1 if this build and CPU can run it for layers of this cell type. */
    int (*usable)(int cell);
    /* What it needs of the CPU, for the message when it cannot run here. */
    const char *needs;
    /* One line for people: "oneDNN 2.6.3 (avx512_core_amx), products in bf16". */
    void (*describe)(char *out, size_t size);
    /* Bytes create allocates for this model and shape; 0 if it cannot run it. */
    size_t (*bytes)(const struct crnn_model_config *config, const crnn_cell_ops *cell, int rows,
                    int steps, const crnn_engine_options *options);
    /* Builds the engine for up to rows x steps. NULL with err set. */
    crnn_stack *(*create)(const struct crnn_model *model, int rows, int steps,
                          const crnn_engine_options *options, crnn_error *err);
    void (*destroy)(crnn_stack *stack);
    /* Layer l forward over io->rows x io->steps (at most the created shape). */
    int (*forward)(crnn_stack *stack, int l, const crnn_layer_weights *w, crnn_layer_io *io);
    /* Layer l backward of the last forward (which had the created shape):
     * accumulates (+=) into g. Nothing flows in from beyond the chunk. */
    int (*backward)(crnn_stack *stack, int l, const crnn_layer_weights *w, crnn_layer_grads *g,
                    crnn_layer_io *io, crnn_layer_grad_io *gio);
} crnn_engine_ops;

extern const crnn_engine_ops crnn_engine_own_ops;
extern const crnn_engine_ops crnn_engine_onednn_ops;      /* builds with oneDNN only */
extern const crnn_engine_ops crnn_engine_onednn_bf16_ops; /* builds with oneDNN only */

/* The engine of a setting (AUTO: the first usable in order of preference)
 * for layers of this cell type; charrnn's own cells where the one named
 * cannot run them. Never NULL for a valid setting. */
const crnn_engine_ops *crnn_engine_for(crnn_engine setting, int cell);

/* The next engine AUTO would take after `after` for this cell, or NULL. */
const crnn_engine_ops *crnn_engine_next(const crnn_engine_ops *after, int cell);

#endif
