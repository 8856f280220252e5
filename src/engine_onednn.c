/*
 * engine_onednn.c: the oneDNN engines (fp32, and bf16 products) behind the
 * engine table: LSTM layers on oneDNN's primitives (lstm_dnnl.c) for the
 * shape they were built for (training chunks), and charrnn's own LSTM cell
 * over pieces of the chunk for any smaller shape (evaluation), so one
 * workspace serves both. Built only with oneDNN.
 *
 * oneDNN keeps the gates and the cell states over the chunk in its own
 * workspace; this engine keeps, per layer, only c[0] (carried in) and c[1]
 * (after the last step) as the primitives read and write them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "engine.h"
#include "kernels.h"
#include "lstm_dnnl.h"
#include "model.h"

/* Steps per piece when charrnn's own cell runs a smaller shape: enough rows
 * for a blocked product, few buffers. */
#define PIECE_STEPS 16

typedef struct onednn_stack {
    crnn_stack base;
    crnn_dnnl_lstm *lstm;
    const crnn_cell_ops *cell; /* the LSTM, for the pieces */
    int layers, embed, hidden, rows, steps;
    float *c[CRNN_MAX_LAYERS]; /* (2,B,H) c carried in, c after the last step */
    float *piece_gates;        /* (P,B,4H) */
    float *piece_c;            /* (P+1,B,H) */
    float *scratch;            /* (B,4H) */
    int ran_full;              /* the last forward ran on oneDNN (the backward needs it) */
} onednn_stack;

static int usable(int cell, int bf16)
{
    /* The references the tests compare whole runs with are charrnn's own loops. */
    if (cell != CRNN_CELL_LSTM || crnn_kernels_reference())
        return 0;
    __builtin_cpu_init();
    /* Without AVX512-BF16, oneDNN would emulate bf16, slower than fp32. */
    return !bf16 || __builtin_cpu_supports("avx512bf16");
}

static int usable_f32(int cell)
{
    return usable(cell, 0);
}

static int usable_bf16(int cell)
{
    return usable(cell, 1);
}

static void describe_f32(char *out, size_t size)
{
    snprintf(out, size, "%s", crnn_dnnl_description());
}

static void describe_bf16(char *out, size_t size)
{
    snprintf(out, size, "%s, products in bf16", crnn_dnnl_description());
}

static size_t piece_rows(int rows, int steps)
{
    return (size_t)rows * (steps < PIECE_STEPS ? steps : PIECE_STEPS);
}

static size_t bytes_of(const crnn_model_config *c, int rows, int steps,
                       const crnn_engine_options *o, int bf16)
{
    size_t lstm = crnn_dnnl_lstm_estimate(c->layers, c->embed, c->hidden, rows, steps, bf16,
                                          o ? o->row_groups : 0);
    if (lstm == 0)
        return 0;
    size_t piece = piece_rows(rows, steps), bh = (size_t)rows * c->hidden, gh = 4 * (size_t)c->hidden;
    return lstm + sizeof(float) * ((size_t)c->layers * 2 * bh + piece * gh +
                                   (piece + rows) * c->hidden + (size_t)rows * gh);
}

static size_t bytes_f32(const crnn_model_config *c, const crnn_cell_ops *cell, int rows,
                        int steps, const crnn_engine_options *o)
{
    (void)cell;
    return bytes_of(c, rows, steps, o, 0);
}

static size_t bytes_bf16(const crnn_model_config *c, const crnn_cell_ops *cell, int rows,
                         int steps, const crnn_engine_options *o)
{
    (void)cell;
    return bytes_of(c, rows, steps, o, 1);
}

static void destroy(crnn_stack *stack)
{
    onednn_stack *s = (onednn_stack *)stack;
    if (!s)
        return;
    crnn_dnnl_lstm_free(s->lstm);
    for (int l = 0; l < CRNN_MAX_LAYERS; l++)
        crnn_free_floats(s->c[l]);
    crnn_free_floats(s->piece_gates);
    crnn_free_floats(s->piece_c);
    crnn_free_floats(s->scratch);
    free(s);
}

static crnn_stack *create(const crnn_model *model, int rows, int steps,
                          const crnn_engine_options *o, int bf16, crnn_error *err)
{
    const crnn_model_config *c = &model->config;
    onednn_stack *s = crnn_calloc(1, sizeof *s);
    if (!s) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the oneDNN engine");
        return NULL;
    }
    const crnn_engine_ops *ops = bf16 ? &crnn_engine_onednn_bf16_ops : &crnn_engine_onednn_ops;
    *s = (onednn_stack){.base = {ops}, .cell = model->cell, .layers = c->layers,
                        .embed = c->embed, .hidden = c->hidden, .rows = rows, .steps = steps};
    if (!(s->lstm = crnn_dnnl_lstm_create(c->layers, c->embed, c->hidden, rows, steps, bf16,
                                          o ? o->row_groups : 0, err))) {
        destroy(&s->base);
        return NULL;
    }
    size_t piece = piece_rows(rows, steps), bh = (size_t)rows * c->hidden, gh = 4 * (size_t)c->hidden;
    int ok = 1;
    for (int l = 0; l < c->layers && ok; l++)
        ok = (s->c[l] = crnn_alloc_floats(2 * bh)) != NULL;
    if (!ok || !(s->piece_gates = crnn_alloc_floats(piece * gh)) ||
        !(s->piece_c = crnn_alloc_floats((piece + rows) * c->hidden)) ||
        !(s->scratch = crnn_alloc_floats((size_t)rows * gh))) {
        destroy(&s->base);
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the activations of %d x %d", rows, steps);
        return NULL;
    }
    return &s->base;
}

static crnn_stack *create_f32(const crnn_model *model, int rows, int steps,
                              const crnn_engine_options *o, crnn_error *err)
{
    return create(model, rows, steps, o, 0, err);
}

static crnn_stack *create_bf16(const crnn_model *model, int rows, int steps,
                               const crnn_engine_options *o, crnn_error *err)
{
    return create(model, rows, steps, o, 1, err);
}

/* oneDNN keeps the gates: a.gates is set only for the pieces. */
static crnn_layer_acts acts_of(onednn_stack *s, int l, const crnn_layer_io *io)
{
    crnn_layer_acts a = crnn_layer_acts_of(io, l == 0 ? s->embed : s->hidden, s->hidden);
    a.scratch = s->scratch;
    a.c = s->c[l];
    return a;
}

/* Layer l with charrnn's cell, in pieces of PIECE_STEPS steps, each starting
 * from the h and c the last one ended with. */
static void forward_in_pieces(onednn_stack *s, const crnn_layer_weights *w, crnn_layer_acts *a,
                              const crnn_layer_io *io)
{
    size_t bh = (size_t)a->rows * a->hidden;
    memcpy(s->piece_c, io->c0, sizeof(float) * bh);
    for (int t0 = 0; t0 < a->steps; t0 += PIECE_STEPS) {
        crnn_layer_acts p = *a;
        p.steps = a->steps - t0 < PIECE_STEPS ? a->steps - t0 : PIECE_STEPS;
        p.x = a->x + (size_t)t0 * a->rows * a->in;
        p.h = a->h + (size_t)t0 * bh; /* h[t0] is the state this piece starts from */
        p.c = s->piece_c;
        p.gates = s->piece_gates;
        s->cell->forward(w, &p);
        memcpy(s->piece_c, s->piece_c + (size_t)p.steps * bh, sizeof(float) * bh);
    }
    memcpy(io->c_last, s->piece_c, sizeof(float) * bh);
}

static int forward(crnn_stack *stack, int l, const crnn_layer_weights *w, crnn_layer_io *io)
{
    onednn_stack *s = (onednn_stack *)stack;
    crnn_layer_acts a = acts_of(s, l, io);
    s->ran_full = io->rows == s->rows && io->steps == s->steps;
    if (!s->ran_full) {
        forward_in_pieces(s, w, &a, io);
        return CRNN_OK;
    }
    size_t bh = (size_t)io->rows * s->hidden;
    memcpy(s->c[l], io->c0, sizeof(float) * bh);
    int rc = crnn_dnnl_lstm_forward(s->lstm, l, w, &a);
    memcpy(io->c_last, s->c[l] + bh, sizeof(float) * bh);
    return rc;
}

static int backward(crnn_stack *stack, int l, const crnn_layer_weights *w, crnn_layer_grads *g,
                    crnn_layer_io *io, crnn_layer_grad_io *gio)
{
    onednn_stack *s = (onednn_stack *)stack;
    if (!s->ran_full)
        return CRNN_ERR_ARG; /* no record of a forward to go back through */
    crnn_layer_acts a = acts_of(s, l, io);
    crnn_layer_backward bw = {.dh = gio->dh, .dx = gio->dx, .dh0 = gio->dh0, .dc0 = gio->dc0};
    return crnn_dnnl_lstm_backward(s->lstm, l, w, g, &a, &bw);
}

const crnn_engine_ops crnn_engine_onednn_ops = {
    .name = "onednn",
    .id = CRNN_ENGINE_ONEDNN,
    .auto_choice = 1,
    .usable = usable_f32,
    .needs = "a CPU oneDNN supports",
    .describe = describe_f32,
    .bytes = bytes_f32,
    .create = create_f32,
    .destroy = destroy,
    .forward = forward,
    .backward = backward,
};

/* bf16 halves the products' traffic but rounds: never taken by auto. */
const crnn_engine_ops crnn_engine_onednn_bf16_ops = {
    .name = "onednn-bf16",
    .id = CRNN_ENGINE_ONEDNN_BF16,
    .auto_choice = 0,
    .usable = usable_bf16,
    .needs = "AVX512-BF16 (this CPU would emulate bf16, slower than fp32); train without --bf16",
    .describe = describe_bf16,
    .bytes = bytes_bf16,
    .create = create_bf16,
    .destroy = destroy,
    .forward = forward,
    .backward = backward,
};
