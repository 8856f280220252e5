/*
 * model.c: the model read top to bottom: embedding, stacked recurrent layers
 * (run by an engine, engine.h), dropout between them, projection, softmax
 * cross-entropy, and the backward pass in reverse order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "kernels.h"
#include "model.h"

/* Sizes beyond these are refused as input errors before anything is allocated. */
#define MAX_DIM (1 << 16)
#define MAX_VOCAB 0x110000

static int state_slots(const crnn_model *model)
{
    return model->cell->has_cell_state ? 2 : 1;
}

int crnn_model_shape(crnn_model *model, const crnn_model_config *config, crnn_error *err)
{
    memset(model, 0, sizeof *model);
    const crnn_model_config *c = config;
    if (c->layers < 1 || c->layers > CRNN_MAX_LAYERS)
        return crnn_fail(err, CRNN_ERR_ARG, "layers must be between 1 and %d (got %d)",
                         CRNN_MAX_LAYERS, c->layers);
    if (c->hidden < 1 || c->hidden > MAX_DIM)
        return crnn_fail(err, CRNN_ERR_ARG, "hidden size must be between 1 and %d (got %d)",
                         MAX_DIM, c->hidden);
    if (c->embed < 1 || c->embed > MAX_DIM)
        return crnn_fail(err, CRNN_ERR_ARG, "embedding size must be between 1 and %d (got %d)",
                         MAX_DIM, c->embed);
    if (c->vocab < 1 || c->vocab > MAX_VOCAB)
        return crnn_fail(err, CRNN_ERR_ARG, "vocabulary size %d is out of range", c->vocab);
    model->config = *c;
    model->cell = crnn_cell_for(c->cell);
    if (!model->cell)
        return crnn_fail(err, CRNN_ERR_VERSION, "unknown cell type %d", c->cell);
    size_t gh = (size_t)model->cell->gates * c->hidden, off = 0;
    size_t bias = (size_t)model->cell->bias_gates * c->hidden;
    crnn_layout *lay = &model->layout;
    lay->emb = off;
    off += (size_t)c->vocab * c->embed;
    for (int l = 0; l < c->layers; l++) {
        size_t in = l == 0 ? (size_t)c->embed : (size_t)c->hidden;
        lay->wx[l] = off;
        off += in * gh;
        lay->wh[l] = off;
        off += (size_t)c->hidden * gh;
        lay->b[l] = off;
        off += bias;
    }
    lay->wy = off;
    off += (size_t)c->hidden * c->vocab;
    lay->by = off;
    off += (size_t)c->vocab;
    lay->total = off;
    return CRNN_OK;
}

int crnn_model_init(crnn_model *model, const crnn_model_config *config, crnn_error *err)
{
    int rc = crnn_model_shape(model, config, err);
    if (rc != CRNN_OK)
        return rc;
    size_t off = model->layout.total;
    model->params = crnn_alloc_floats(off);
    if (!model->params)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for %zu weights", off);
    memset(model->params, 0, sizeof(float) * off);
    return CRNN_OK;
}

void crnn_model_free(crnn_model *model)
{
    crnn_free_floats(model->params);
    model->params = NULL;
}

size_t crnn_model_state_size(const crnn_model *model, int rows)
{
    return (size_t)model->config.layers * state_slots(model) * rows * model->config.hidden;
}

static void uniform_fill(float *p, size_t n, float bound, crnn_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (2.0f * crnn_rng_uniform(rng) - 1.0f) * bound;
}

void crnn_model_randomize(crnn_model *model, crnn_rng *rng, float forget_bias)
{
    const crnn_model_config *c = &model->config;
    const crnn_layout *lay = &model->layout;
    size_t gh = (size_t)model->cell->gates * c->hidden;
    /* Embedding rows with unit variance (as PyTorch's N(0,1)): with U(-1,1) the
     * inputs were a third as strong and early training took about twice the
     * steps (bench/RESULTS.md, quality section). */
    uniform_fill(model->params + lay->emb, (size_t)c->vocab * c->embed, 1.7320508f, rng);
    float hb = 1.0f / sqrtf((float)c->hidden);
    for (int l = 0; l < c->layers; l++) {
        size_t in = l == 0 ? (size_t)c->embed : (size_t)c->hidden;
        uniform_fill(model->params + lay->wx[l], in * gh, hb, rng);
        uniform_fill(model->params + lay->wh[l], (size_t)c->hidden * gh, hb, rng);
        model->cell->init_bias(model->params + lay->b[l], c->hidden, forget_bias);
    }
    uniform_fill(model->params + lay->wy, (size_t)c->hidden * c->vocab, hb, rng);
    memset(model->params + lay->by, 0, sizeof(float) * (size_t)c->vocab);
}

int crnn_model_graft(crnn_model *model, const float *params, size_t n, int vocab)
{
    const crnn_model_config *c = &model->config;
    crnn_model_config old = *c;
    old.vocab = vocab;
    crnn_model src;
    crnn_error ignored;
    if (vocab < 1 || vocab > c->vocab || crnn_model_init(&src, &old, &ignored) != CRNN_OK)
        return CRNN_ERR_ARG;
    int fits = src.layout.total == n;
    const crnn_layout *to = &model->layout, from_layout = src.layout, *from = &from_layout;
    crnn_model_free(&src); /* only its layout was needed */
    if (!fits)
        return CRNN_ERR_ARG;
    size_t e = (size_t)c->embed, h = (size_t)c->hidden, v = (size_t)c->vocab;
    memcpy(model->params + to->emb, params + from->emb, sizeof(float) * (size_t)vocab * e);
    /* The recurrent layers are contiguous from wx[0] to wy in both layouts. */
    memcpy(model->params + to->wx[0], params + from->wx[0],
           sizeof(float) * (from->wy - from->wx[0]));
    for (size_t row = 0; row < h; row++) /* wy (H,V): the old tokens' columns */
        memcpy(model->params + to->wy + row * v, params + from->wy + row * (size_t)vocab,
               sizeof(float) * (size_t)vocab);
    memcpy(model->params + to->by, params + from->by, sizeof(float) * (size_t)vocab);
    return CRNN_OK;
}

/* Floats of the model's own buffers for B x T (the engine's come on top). */
static size_t model_floats(const crnn_model_config *c, const crnn_cell_ops *cell, int rows,
                           int steps, unsigned flags)
{
    size_t bt = (size_t)rows * steps, bt1 = (size_t)rows * (steps + 1);
    size_t wide = (size_t)(c->embed > c->hidden ? c->embed : c->hidden);
    size_t bh = (size_t)rows * c->hidden, slots = 1 + (size_t)cell->has_cell_state;
    size_t masks = (flags & CRNN_WS_DROPOUT) ? 2 * bt * c->hidden : 0;
    size_t backward = (flags & CRNN_WS_FORWARD_ONLY) ? 0 : 2 * bt * wide + (size_t)c->layers * slots * bh;
    return bt * c->embed + (size_t)c->layers * (bt1 * c->hidden + masks) +
           (size_t)cell->has_cell_state * c->layers * bh + bt * c->vocab + backward +
           bt * 2 /* row_loss doubles */;
}

/* The engine's options for a workspace of these flags. */
static crnn_engine_options engine_options(const crnn_engine_options *options, unsigned flags)
{
    crnn_engine_options o = {0};
    if (options)
        o = *options;
    o.forward_only = (flags & CRNN_WS_FORWARD_ONLY) != 0;
    return o;
}

size_t crnn_workspace_bytes(const crnn_model_config *c, const crnn_cell_ops *cell, int rows,
                            int steps, unsigned flags, const crnn_engine_ops *engine,
                            const crnn_engine_options *options)
{
    if (!engine)
        engine = &crnn_engine_own_ops;
    crnn_engine_options o = engine_options(options, flags);
    return sizeof(float) * model_floats(c, cell, rows, steps, flags) +
           engine->bytes(c, cell, rows, steps, &o);
}

int crnn_workspace_init(crnn_workspace *ws, const crnn_model *model, int rows, int steps,
                        unsigned flags, const crnn_engine_ops *engine,
                        const crnn_engine_options *options, crnn_error *err)
{
    memset(ws, 0, sizeof *ws);
    const crnn_model_config *c = &model->config;
    size_t bt = (size_t)rows * steps, bt1 = (size_t)rows * (steps + 1);
    size_t wide = (size_t)(c->embed > c->hidden ? c->embed : c->hidden);
    ws->max_rows = rows;
    ws->max_steps = steps;
    if (!engine)
        engine = &crnn_engine_own_ops;
    crnn_engine_options o = engine_options(options, flags);
    if (!(ws->engine = engine->create(model, rows, steps, &o, err)))
        return err ? err->status : CRNN_ERR_NOMEM;
    int ok = (ws->x0 = crnn_alloc_floats(bt * c->embed)) != NULL;
    for (int l = 0; l < c->layers && ok; l++)
        ok = (ws->h[l] = crnn_alloc_floats(bt1 * c->hidden)) &&
             (!(flags & CRNN_WS_DROPOUT) || ((ws->mask[l] = crnn_alloc_floats(bt * c->hidden)) &&
                                            (ws->dropped[l] = crnn_alloc_floats(bt * c->hidden))));
    ok = ok &&
         (!model->cell->has_cell_state ||
          (ws->c_last = crnn_alloc_floats((size_t)c->layers * rows * c->hidden))) &&
         (ws->logits = crnn_alloc_floats(bt * c->vocab)) &&
         (ws->row_loss = crnn_calloc(bt, sizeof(double))) &&
         ((flags & CRNN_WS_FORWARD_ONLY) ||
          ((ws->dh_a = crnn_alloc_floats(bt * wide)) && (ws->dh_b = crnn_alloc_floats(bt * wide)) &&
           (ws->dstate = crnn_alloc_floats(crnn_model_state_size(model, rows)))));
    if (!ok) {
        crnn_workspace_free(ws);
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the activations of %d x %d", rows,
                         steps);
    }
    return CRNN_OK;
}

void crnn_workspace_free(crnn_workspace *ws)
{
    crnn_free_floats(ws->x0);
    for (int l = 0; l < CRNN_MAX_LAYERS; l++) {
        crnn_free_floats(ws->h[l]);
        crnn_free_floats(ws->mask[l]);
        crnn_free_floats(ws->dropped[l]);
    }
    crnn_free_floats(ws->c_last);
    crnn_free_floats(ws->logits);
    free(ws->row_loss);
    crnn_free_floats(ws->dh_a);
    crnn_free_floats(ws->dh_b);
    crnn_free_floats(ws->dstate);
    if (ws->engine)
        ws->engine->ops->destroy(ws->engine);
    memset(ws, 0, sizeof *ws);
}

static crnn_layer_weights layer_weights(const crnn_model *model, int l)
{
    const crnn_layout *lay = &model->layout;
    return (crnn_layer_weights){model->params + lay->wx[l], model->params + lay->wh[l],
                                model->params + lay->b[l]};
}

/* The output of layer l as the next layer (or the projection) sees it. */
static const float *layer_output(const crnn_model *model, const crnn_workspace *ws, int l)
{
    return ws->dropout > 0 ? ws->dropped[l] : ws->h[l] + (size_t)ws->rows * model->config.hidden;
}

void crnn_model_draw_dropout(const crnn_model *model, crnn_workspace *ws, float p, crnn_rng *rng,
                             int total_rows, int first, int rows, int steps)
{
    ws->dropout = ws->mask[0] ? p : 0;
    if (ws->dropout <= 0)
        return;
    int H = model->config.hidden;
    float keep = 1.0f / (1.0f - p);
    for (int l = 0; l < model->config.layers; l++) {
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < total_rows; b++) {
                float *m = ws->mask[l] + ((size_t)t * rows + (size_t)(b - first)) * H;
                int mine = b >= first && b < first + rows;
                for (int j = 0; j < H; j++) {
                    float u = crnn_rng_uniform(rng);
                    if (mine)
                        m[j] = u < p ? 0.0f : keep;
                }
            }
        }
    }
}

/* Layer l's sequences: it reads the outputs h[1..T] of the layer below (after
 * dropout); state_in (L,S,B,H) is the state carried in, NULL in the backward
 * pass (which reads only x and h). */
static crnn_layer_io layer_io(const crnn_model *model, crnn_workspace *ws, int l,
                              const float *state_in)
{
    size_t bh = (size_t)ws->rows * model->config.hidden;
    int with_c = model->cell->has_cell_state;
    return (crnn_layer_io){
        .rows = ws->rows,
        .steps = ws->steps,
        .x = l == 0 ? ws->x0 : layer_output(model, ws, l - 1),
        .h = ws->h[l],
        .c0 = with_c && state_in ? state_in + (size_t)(l * 2 + 1) * bh : NULL,
        .c_last = with_c ? ws->c_last + (size_t)l * bh : NULL,
    };
}

int crnn_model_forward(const crnn_model *model, crnn_workspace *ws, const uint32_t *inputs,
                       int rows, int steps, const float *state_in)
{
    const crnn_model_config *c = &model->config;
    size_t bh = (size_t)rows * c->hidden, n = (size_t)rows * steps;
    int slots = state_slots(model);
    ws->rows = rows;
    ws->steps = steps;
    const float *emb = model->params + model->layout.emb;
    for (size_t i = 0; i < n; i++)
        memcpy(ws->x0 + i * c->embed, emb + (size_t)inputs[i] * c->embed, sizeof(float) * c->embed);
    for (int l = 0; l < c->layers; l++) {
        memcpy(ws->h[l], state_in + (size_t)(l * slots) * bh, sizeof(float) * bh);
        crnn_layer_weights w = layer_weights(model, l);
        crnn_layer_io io = layer_io(model, ws, l, state_in);
        int rc = ws->engine->ops->forward(ws->engine, l, &w, &io);
        if (rc != CRNN_OK)
            return rc;
        if (ws->dropout > 0) {
            const float *out = ws->h[l] + bh;
            for (size_t k = 0; k < n * c->hidden; k++)
                ws->dropped[l][k] = out[k] * ws->mask[l][k];
        }
    }
    const float *top = layer_output(model, ws, c->layers - 1); /* (T,B,H) */
    crnn_fill_rows(ws->logits, model->params + model->layout.by, (int)n, c->vocab);
    crnn_gemm(0, 0, (int)n, c->vocab, c->hidden, 1.0f, top, c->hidden,
              model->params + model->layout.wy, c->vocab, 1.0f, ws->logits, c->vocab);
    return CRNN_OK;
}

void crnn_model_final_state(const crnn_model *model, const crnn_workspace *ws, float *state_out)
{
    const crnn_model_config *c = &model->config;
    size_t bh = (size_t)ws->rows * c->hidden, last = (size_t)ws->steps * bh;
    int slots = state_slots(model);
    for (int l = 0; l < c->layers; l++) {
        memcpy(state_out + (size_t)(l * slots) * bh, ws->h[l] + last, sizeof(float) * bh);
        if (slots == 2)
            memcpy(state_out + (size_t)(l * slots + 1) * bh, ws->c_last + (size_t)l * bh,
                   sizeof(float) * bh);
    }
}

double crnn_model_loss(const crnn_model *model, crnn_workspace *ws, const uint32_t *targets,
                       double normalizer)
{
    int n = ws->rows * ws->steps;
    return crnn_softmax_xent(n, model->config.vocab, ws->logits, targets,
                             (float)(1.0 / normalizer), ws->row_loss);
}

int crnn_model_backward(const crnn_model *model, crnn_workspace *ws, const uint32_t *inputs,
                        float *grads)
{
    if (!ws->dh_a) /* a forward-only workspace */
        return CRNN_ERR_ARG;
    const crnn_model_config *c = &model->config;
    const crnn_layout *lay = &model->layout;
    int rows = ws->rows, n = ws->rows * ws->steps, slots = state_slots(model);
    size_t bh = (size_t)rows * c->hidden;
    /* Output projection: logits = top @ wy + by. */
    const float *top = layer_output(model, ws, c->layers - 1);
    size_t nh = (size_t)n * c->hidden;
    crnn_gemm(1, 0, c->hidden, c->vocab, n, 1.0f, top, c->hidden, ws->logits, c->vocab, 1.0f,
              grads + lay->wy, c->vocab);
    crnn_add_column_sums(grads + lay->by, ws->logits, n, c->vocab);
    float *dh = ws->dh_a, *dbelow = ws->dh_b;
    crnn_gemm(0, 1, n, c->hidden, c->vocab, 1.0f, ws->logits, c->vocab, model->params + lay->wy,
              c->vocab, 0.0f, dh, c->hidden);
    if (ws->dropout > 0)
        for (size_t k = 0; k < nh; k++)
            dh[k] *= ws->mask[c->layers - 1][k];
    /* Layers from the top down; each writes the gradient of its input for the one below. */
    for (int l = c->layers - 1; l >= 0; l--) {
        crnn_layer_weights w = layer_weights(model, l);
        crnn_layer_grads g = {grads + lay->wx[l], grads + lay->wh[l], grads + lay->b[l]};
        crnn_layer_io io = layer_io(model, ws, l, NULL);
        crnn_layer_grad_io gio = {
            .dh = dh,
            .dx = dbelow,
            .dh0 = ws->dstate + (size_t)(l * slots) * bh,
            .dc0 = slots == 2 ? ws->dstate + (size_t)(l * slots + 1) * bh : NULL,
        };
        int rc = ws->engine->ops->backward(ws->engine, l, &w, &g, &io, &gio);
        if (rc != CRNN_OK)
            return rc;
        if (ws->dropout > 0 && l > 0)
            for (size_t k = 0; k < nh; k++)
                dbelow[k] *= ws->mask[l - 1][k];
        float *t = dh;
        dh = dbelow;
        dbelow = t;
    }
    /* dh now holds the gradient of the embedded input (T,B,E). */
    float *demb = grads + lay->emb;
    for (int i = 0; i < n; i++) {
        float *row = demb + (size_t)inputs[i] * c->embed;
        const float *d = dh + (size_t)i * c->embed;
        for (int j = 0; j < c->embed; j++)
            row[j] += d[j];
    }
    return CRNN_OK;
}
