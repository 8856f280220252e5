/*
 * engine_own.c: the engine of charrnn's own cells (lstm.c, gru.c, rnn.c:
 * OpenBLAS products and fused gate loops), for every cell type and shape. It
 * keeps each layer's gates and cell states over the chunk for the backward
 * pass; the cells themselves know nothing of layers' places in a model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "engine.h"
#include "model.h"

typedef struct own_stack {
    crnn_stack base;
    const crnn_cell_ops *cell;
    int layers, embed, hidden;
    float *c[CRNN_MAX_LAYERS];     /* (T+1,B,H) cell state, c[0] carried in (cells with c) */
    float *gates[CRNN_MAX_LAYERS]; /* (T,B,G*H) gate activations kept for backward */
    float *aux[CRNN_MAX_LAYERS];   /* (T,B,H) cell-specific (cells with aux_per_step) */
    float *dgates, *dgates2;       /* (T,B,G*H) backward scratch (cells that need it) */
    float *scratch;                /* (B,G*H) per-step scratch */
} own_stack;

static int own_usable(int cell)
{
    return crnn_cell_for(cell) != NULL;
}

static void own_describe(char *out, size_t size)
{
    snprintf(out, size, "charrnn's own cells");
}

static size_t own_bytes(const crnn_model_config *c, const crnn_cell_ops *cell, int rows,
                        int steps, const crnn_engine_options *options)
{
    size_t bt = (size_t)rows * steps, bt1 = (size_t)rows * (steps + 1);
    size_t gh = (size_t)cell->gates * c->hidden;
    size_t backward = options && options->forward_only ? 0 : (size_t)cell->backward_buffers;
    size_t per_layer = (size_t)cell->has_cell_state * bt1 * c->hidden + bt * gh +
                       (size_t)cell->aux_per_step * bt * c->hidden;
    return sizeof(float) * ((size_t)c->layers * per_layer +
                            backward * bt * gh + (size_t)rows * gh);
}

static void own_destroy(crnn_stack *stack)
{
    own_stack *s = (own_stack *)stack;
    if (!s)
        return;
    for (int l = 0; l < CRNN_MAX_LAYERS; l++) {
        crnn_free_floats(s->c[l]);
        crnn_free_floats(s->gates[l]);
        crnn_free_floats(s->aux[l]);
    }
    crnn_free_floats(s->dgates);
    crnn_free_floats(s->dgates2);
    crnn_free_floats(s->scratch);
    free(s);
}

static crnn_stack *own_create(const crnn_model *model, int rows, int steps,
                              const crnn_engine_options *options, crnn_error *err)
{
    const crnn_model_config *c = &model->config;
    const crnn_cell_ops *cell = model->cell;
    int backward = options && options->forward_only ? 0 : cell->backward_buffers;
    own_stack *s = crnn_calloc(1, sizeof *s);
    size_t bt = (size_t)rows * steps, bt1 = (size_t)rows * (steps + 1);
    size_t gh = (size_t)cell->gates * c->hidden;
    int ok = s != NULL;
    if (ok) {
        *s = (own_stack){.base = {&crnn_engine_own_ops}, .cell = cell, .layers = c->layers,
                         .embed = c->embed, .hidden = c->hidden};
    }
    /* Only what the cell uses: the memory of a large model is mostly these. */
    for (int l = 0; l < c->layers && ok; l++)
        ok = (!cell->has_cell_state || (s->c[l] = crnn_alloc_floats(bt1 * c->hidden))) &&
             (s->gates[l] = crnn_alloc_floats(bt * gh)) &&
             (!cell->aux_per_step || (s->aux[l] = crnn_alloc_floats(bt * c->hidden)));
    ok = ok && (backward < 1 || (s->dgates = crnn_alloc_floats(bt * gh))) &&
         (backward < 2 || (s->dgates2 = crnn_alloc_floats(bt * gh))) &&
         (s->scratch = crnn_alloc_floats((size_t)rows * gh));
    if (!ok) {
        own_destroy((crnn_stack *)s);
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the activations of %d x %d", rows, steps);
        return NULL;
    }
    return &s->base;
}

static crnn_layer_acts acts_of(own_stack *s, int l, const crnn_layer_io *io)
{
    crnn_layer_acts a = crnn_layer_acts_of(io, l == 0 ? s->embed : s->hidden, s->hidden);
    a.scratch = s->scratch;
    a.gates = s->gates[l];
    a.c = s->c[l];
    a.aux = s->aux[l];
    return a;
}

static int own_forward(crnn_stack *stack, int l, const crnn_layer_weights *w, crnn_layer_io *io)
{
    own_stack *s = (own_stack *)stack;
    size_t bh = (size_t)io->rows * s->hidden;
    crnn_layer_acts a = acts_of(s, l, io);
    if (s->cell->has_cell_state)
        memcpy(s->c[l], io->c0, sizeof(float) * bh);
    s->cell->forward(w, &a);
    if (s->cell->has_cell_state)
        memcpy(io->c_last, s->c[l] + (size_t)io->steps * bh, sizeof(float) * bh);
    return CRNN_OK;
}

static int own_backward(crnn_stack *stack, int l, const crnn_layer_weights *w,
                        crnn_layer_grads *g, crnn_layer_io *io, crnn_layer_grad_io *gio)
{
    own_stack *s = (own_stack *)stack;
    crnn_layer_acts a = acts_of(s, l, io);
    crnn_layer_backward bw = {
        .dh = gio->dh,
        .dgates = s->dgates,
        .dgates2 = s->dgates2,
        .dx = gio->dx,
        .dh0 = gio->dh0,
        .dc0 = gio->dc0,
    };
    s->cell->backward(w, g, &a, &bw);
    return CRNN_OK;
}

const crnn_engine_ops crnn_engine_own_ops = {
    .name = "own",
    .id = CRNN_ENGINE_OWN,
    .auto_choice = 1,
    .usable = own_usable,
    .needs = "nothing",
    .describe = own_describe,
    .bytes = own_bytes,
    .create = own_create,
    .destroy = own_destroy,
    .forward = own_forward,
    .backward = own_backward,
};
