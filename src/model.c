/*
 * model.c: the model read top to bottom: embedding, stacked cells, projection,
 * softmax cross-entropy, and the backward pass in reverse order.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "kernels.h"
#include "lstm_dnnl.h"
#include "model.h"

/* Steps per piece when a workspace with the oneDNN engine runs charrnn's own
 * cell (evaluation shapes): enough rows for a blocked product, few buffers. */
#define PIECE_STEPS 16

/* Sizes beyond these are refused as input errors before anything is allocated. */
#define MAX_DIM (1 << 16)
#define MAX_VOCAB 0x110000

static int state_slots(const crnn_model *model)
{
    return model->cell->has_cell_state ? 2 : 1;
}

int crnn_model_init(crnn_model *model, const crnn_model_config *config, crnn_error *err)
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

size_t crnn_workspace_floats(const crnn_model_config *c, const crnn_cell_ops *cell, int rows,
                             int steps, unsigned flags)
{
    size_t bt = (size_t)rows * steps, bt1 = (size_t)rows * (steps + 1);
    size_t gh = (size_t)cell->gates * c->hidden;
    size_t wide = (size_t)(c->embed > c->hidden ? c->embed : c->hidden);
    size_t per_layer = (size_t)(1 + cell->has_cell_state) * bt1 * c->hidden + bt * gh +
                       (size_t)cell->aux_per_step * bt * c->hidden;
    size_t engine = 0;
    if ((flags & CRNN_WS_ONEDNN) && cell == &crnn_cell_lstm &&
        (engine = crnn_dnnl_lstm_estimate(c->layers, c->embed, c->hidden, rows, steps,
                                          (flags & CRNN_WS_BF16) != 0)) > 0) {
        /* oneDNN keeps the gates and c: h, two slices of c, the pieces' buffers. */
        size_t piece = (size_t)rows * (steps < PIECE_STEPS ? steps : PIECE_STEPS);
        per_layer = bt1 * c->hidden + 2 * (size_t)rows * c->hidden;
        engine = engine / sizeof(float) + piece * gh + (piece + rows) * c->hidden;
    }
    return bt * c->embed + (size_t)c->layers * per_layer + bt * c->vocab + 2 * bt * wide +
           (size_t)cell->backward_buffers * bt * gh + (size_t)rows * gh +
           (size_t)c->layers * 2 * rows * c->hidden + bt * 2 /* row_loss doubles */ + engine;
}

int crnn_workspace_init(crnn_workspace *ws, const crnn_model *model, int rows, int steps,
                        unsigned flags, crnn_error *err)
{
    memset(ws, 0, sizeof *ws);
    const crnn_model_config *c = &model->config;
    size_t bt = (size_t)rows * steps, bt1 = (size_t)rows * (steps + 1);
    size_t gh = (size_t)model->cell->gates * c->hidden;
    size_t wide = (size_t)(c->embed > c->hidden ? c->embed : c->hidden);
    ws->max_rows = rows;
    ws->max_steps = steps;
    int with_engine = (flags & CRNN_WS_ONEDNN) && model->cell == &crnn_cell_lstm;
    if (with_engine &&
        !(ws->engine = crnn_dnnl_lstm_create(c->layers, c->embed, c->hidden, rows, steps,
                                             (flags & CRNN_WS_BF16) != 0, err)))
        return err ? err->status : CRNN_ERR_NOMEM;
    size_t piece = (size_t)rows * (steps < PIECE_STEPS ? steps : PIECE_STEPS);
    int ok = (ws->x0 = crnn_alloc_floats(bt * c->embed)) != NULL;
    for (int l = 0; l < c->layers && ok && (flags & CRNN_WS_DROPOUT); l++)
        ok = (ws->mask[l] = crnn_alloc_floats(bt * c->hidden)) &&
             (ws->dropped[l] = crnn_alloc_floats(bt * c->hidden));
    /* Only what the cell uses: the memory of a large model is mostly these. */
    const crnn_cell_ops *cell = model->cell;
    for (int l = 0; l < c->layers && ok; l++) {
        size_t c_slices = with_engine ? 2 * (size_t)rows : bt1;
        ok = (ws->h[l] = crnn_alloc_floats(bt1 * c->hidden)) &&
             (!cell->has_cell_state || (ws->c[l] = crnn_alloc_floats(c_slices * c->hidden))) &&
             (with_engine || (ws->gates[l] = crnn_alloc_floats(bt * gh))) &&
             (!cell->aux_per_step || (ws->aux[l] = crnn_alloc_floats(bt * c->hidden)));
    }
    ok = ok && (!with_engine || ((ws->piece_gates = crnn_alloc_floats(piece * gh)) &&
                                 (ws->piece_c = crnn_alloc_floats((piece + rows) * c->hidden))));
    ok = ok && (ws->logits = crnn_alloc_floats(bt * c->vocab)) &&
         (ws->row_loss = crnn_calloc(bt, sizeof(double))) && (ws->dh_a = crnn_alloc_floats(bt * wide)) &&
         (ws->dh_b = crnn_alloc_floats(bt * wide)) &&
         (cell->backward_buffers < 1 || (ws->dgates = crnn_alloc_floats(bt * gh))) &&
         (cell->backward_buffers < 2 || (ws->dgates2 = crnn_alloc_floats(bt * gh))) &&
         (ws->scratch = crnn_alloc_floats((size_t)rows * gh)) &&
         (ws->dstate = crnn_alloc_floats(crnn_model_state_size(model, rows)));
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
        crnn_free_floats(ws->c[l]);
        crnn_free_floats(ws->gates[l]);
        crnn_free_floats(ws->aux[l]);
        crnn_free_floats(ws->mask[l]);
        crnn_free_floats(ws->dropped[l]);
    }
    crnn_free_floats(ws->logits);
    free(ws->row_loss);
    crnn_free_floats(ws->dh_a);
    crnn_free_floats(ws->dh_b);
    crnn_free_floats(ws->dgates);
    crnn_free_floats(ws->dgates2);
    crnn_free_floats(ws->scratch);
    crnn_free_floats(ws->dstate);
    crnn_free_floats(ws->piece_gates);
    crnn_free_floats(ws->piece_c);
    crnn_dnnl_lstm_free(ws->engine);
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

static crnn_layer_acts layer_acts(const crnn_model *model, crnn_workspace *ws, int l)
{
    const crnn_model_config *c = &model->config;
    return (crnn_layer_acts){
        .rows = ws->rows,
        .steps = ws->steps,
        .in = l == 0 ? c->embed : c->hidden,
        .hidden = c->hidden,
        .scratch = ws->scratch,
        /* layer l reads the outputs h[1..T] of the layer below (after dropout) */
        .x = l == 0 ? ws->x0 : layer_output(model, ws, l - 1),
        .gates = ws->gates[l],
        .h = ws->h[l],
        .c = ws->c[l],
        .aux = ws->aux[l],
    };
}

/* Layer l's forward with charrnn's cell in a workspace whose engine keeps no
 * per-step gates: the chunk in pieces of PIECE_STEPS steps, each starting from
 * the h and c the last one ended with. Leaves c after the last step in c[1]. */
static void forward_in_pieces(const crnn_model *model, crnn_workspace *ws,
                              const crnn_layer_weights *w, crnn_layer_acts *a)
{
    size_t bh = (size_t)a->rows * a->hidden;
    memcpy(ws->piece_c, a->c, sizeof(float) * bh);
    for (int t0 = 0; t0 < a->steps; t0 += PIECE_STEPS) {
        crnn_layer_acts p = *a;
        p.steps = a->steps - t0 < PIECE_STEPS ? a->steps - t0 : PIECE_STEPS;
        p.x = a->x + (size_t)t0 * a->rows * a->in;
        p.h = a->h + (size_t)t0 * bh; /* h[t0] is the state this piece starts from */
        p.c = ws->piece_c;
        p.gates = ws->piece_gates;
        model->cell->forward(w, &p);
        memcpy(ws->piece_c, ws->piece_c + (size_t)p.steps * bh, sizeof(float) * bh);
    }
    memcpy(a->c + bh, ws->piece_c, sizeof(float) * bh);
}

/* Runs layer l forward on the engine when it can, else on charrnn's cell. */
static void layer_forward(const crnn_model *model, crnn_workspace *ws, int l,
                          const crnn_layer_weights *w, crnn_layer_acts *a)
{
    if (!ws->engine) {
        model->cell->forward(w, a);
    } else if (ws->engine_ran) {
        int rc = crnn_dnnl_lstm_forward(ws->engine, l, w, a);
        if (rc != CRNN_OK && ws->engine_status == CRNN_OK)
            ws->engine_status = rc;
    } else {
        forward_in_pieces(model, ws, w, a);
    }
}

void crnn_model_forward(const crnn_model *model, crnn_workspace *ws, const uint32_t *inputs,
                        int rows, int steps, const float *state_in)
{
    const crnn_model_config *c = &model->config;
    size_t bh = (size_t)rows * c->hidden, n = (size_t)rows * steps;
    int slots = state_slots(model);
    ws->rows = rows;
    ws->steps = steps;
    ws->engine_ran = ws->engine && rows == ws->max_rows && steps == ws->max_steps;
    const float *emb = model->params + model->layout.emb;
    for (size_t i = 0; i < n; i++)
        memcpy(ws->x0 + i * c->embed, emb + (size_t)inputs[i] * c->embed, sizeof(float) * c->embed);
    for (int l = 0; l < c->layers; l++) {
        memcpy(ws->h[l], state_in + (size_t)(l * slots) * bh, sizeof(float) * bh);
        if (slots == 2)
            memcpy(ws->c[l], state_in + (size_t)(l * slots + 1) * bh, sizeof(float) * bh);
        crnn_layer_weights w = layer_weights(model, l);
        crnn_layer_acts a = layer_acts(model, ws, l);
        layer_forward(model, ws, l, &w, &a);
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
}

void crnn_model_final_state(const crnn_model *model, const crnn_workspace *ws, float *state_out)
{
    const crnn_model_config *c = &model->config;
    size_t bh = (size_t)ws->rows * c->hidden, last = (size_t)ws->steps * bh;
    size_t c_last = ws->engine ? bh : last; /* the engine's c has two slices */
    int slots = state_slots(model);
    for (int l = 0; l < c->layers; l++) {
        memcpy(state_out + (size_t)(l * slots) * bh, ws->h[l] + last, sizeof(float) * bh);
        if (slots == 2)
            memcpy(state_out + (size_t)(l * slots + 1) * bh, ws->c[l] + c_last,
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

void crnn_model_backward(const crnn_model *model, crnn_workspace *ws, const uint32_t *inputs,
                         float *grads)
{
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
        crnn_layer_acts a = layer_acts(model, ws, l);
        crnn_layer_backward bw = {
            .dh = dh,
            .dgates = ws->dgates,
            .dgates2 = ws->dgates2,
            .dx = dbelow,
            .dh0 = ws->dstate + (size_t)(l * slots) * bh,
            .dc0 = slots == 2 ? ws->dstate + (size_t)(l * slots + 1) * bh : NULL,
        };
        if (!ws->engine) {
            model->cell->backward(&w, &g, &a, &bw);
        } else {
            int rc = ws->engine_ran ? crnn_dnnl_lstm_backward(ws->engine, l, &w, &g, &a, &bw)
                                    : CRNN_ERR_ARG; /* no record of a forward to go back through */
            if (rc != CRNN_OK && ws->engine_status == CRNN_OK)
                ws->engine_status = rc;
        }
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
}
