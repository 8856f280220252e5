/*
 * trace.c: crnn_evaluator_trace, the evaluator's reading of a text kept
 * position by position: the probability of each character that came, the
 * most likely candidates, and each layer's states. It reads the text exactly
 * as the evaluator does (the same tokens, one stream, the same chunks through
 * the same forward-only workspace), so its sum is the evaluator's figure.
 * The LSTM's cell states and gates are not kept by the engines: they are
 * recomputed here from each layer's inputs and hidden states with the
 * layer's weights. Knows nothing of reports or HTML (the CLI's inspect).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "evaluate.h"
#include "kernels.h"
#include "utf8.h"

void crnn_trace_free(crnn_trace *t)
{
    if (!t)
        return;
    free(t->code_points);
    free(t->token);
    free(t->nats);
    free(t->top_code_points);
    free(t->top_probs);
    free(t->h);
    free(t->c);
    free(t->gates);
    free(t);
}

/* The top_k most likely tokens of logits z (V) and their probabilities. */
static void top_of(const float *z, int V, int k, const crnn_vocab *vocab, uint32_t *cps,
                   float *probs)
{
    float max = z[0];
    for (int j = 1; j < V; j++)
        if (z[j] > max)
            max = z[j];
    double total = 0;
    for (int j = 0; j < V; j++)
        total += exp((double)z[j] - max);
    int best[CRNN_TRACE_MAX_TOP], have = 0;
    for (int j = 0; j < V; j++) { /* insertion into the k best so far, ties to the lower id */
        int at = have;
        while (at > 0 && z[best[at - 1]] < z[j])
            at--;
        if (at >= k)
            continue;
        if (have < k)
            have++;
        memmove(best + at + 1, best + at, sizeof *best * (size_t)(have - 1 - at));
        best[at] = j;
    }
    for (int r = 0; r < have; r++) {
        cps[r] = vocab->symbols[best[r]];
        probs[r] = (float)(exp((double)z[best[r]] - max) / total);
    }
}

static float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* The LSTM layer l's gates and cell states over the last forward's n steps
 * (1 row), recomputed from its inputs and hidden states; c_carry (H) holds
 * the cell state before the chunk and after it on return. pre (n, 4H) is
 * scratch. Step s's cell state and gates go to row orig[s] of the trace
 * (where it keeps them). */
static void lstm_recompute(const crnn_model *m, const crnn_workspace *ws, int l, int n,
                           float *c_carry, float *pre, const size_t *orig, crnn_trace *t)
{
    int H = m->config.hidden, E = m->config.embed, L = m->config.layers;
    int in = l == 0 ? E : H;
    const float *x = l == 0 ? ws->x0 : ws->h[l - 1] + H; /* (n, in): layer l-1's outputs */
    const float *hp = ws->h[l];                           /* (n, H): h before each step */
    const float *p = m->params;
    crnn_fill_rows(pre, p + m->layout.b[l], n, 4 * H);
    crnn_gemm(0, 0, n, 4 * H, in, 1.0f, x, in, p + m->layout.wx[l], 4 * H, 1.0f, pre, 4 * H);
    crnn_gemm(0, 0, n, 4 * H, H, 1.0f, hp, H, p + m->layout.wh[l], 4 * H, 1.0f, pre, 4 * H);
    for (int s = 0; s < n; s++) {
        float *g = pre + (size_t)s * 4 * H;
        size_t row = orig[s];
        for (int j = 0; j < H; j++) {
            float i = sigmoid(g[j]), f = sigmoid(g[H + j]), cand = tanhf(g[2 * H + j]);
            float o = sigmoid(g[3 * H + j]);
            c_carry[j] = f * c_carry[j] + i * cand;
            g[j] = i;
            g[H + j] = f;
            g[2 * H + j] = cand;
            g[3 * H + j] = o;
        }
        if (t->c)
            memcpy(t->c + (row * L + l) * H, c_carry, sizeof(float) * H);
        if (t->gates)
            memcpy(t->gates + (row * L + l) * 4 * H, g, sizeof(float) * 4 * H);
    }
}

/* Runs the forward of inputs (n tokens) and keeps what reading them did:
 * rows orig[0 .. n-1] of the trace get the states after each step. */
static int read_chunk(crnn_evaluator *ev, const uint32_t *inputs, int n, const size_t *orig,
                      float *c_carry, float *pre, crnn_trace *t)
{
    crnn_model *m = &ev->model;
    crnn_workspace *ws = &ev->buf.ws;
    int rc = crnn_model_forward(m, ws, inputs, 1, n, ev->buf.state);
    if (rc != CRNN_OK)
        return rc;
    int L = m->config.layers, H = m->config.hidden;
    for (int l = 0; l < L; l++) {
        if (t->h)
            for (int s = 0; s < n; s++)
                memcpy(t->h + (orig[s] * L + l) * H, ws->h[l] + (size_t)(s + 1) * H,
                       sizeof(float) * H);
        if (t->c || t->gates)
            lstm_recompute(m, ws, l, n, c_carry + (size_t)l * H, pre, orig, t);
    }
    return CRNN_OK;
}

int crnn_evaluator_trace(crnn_evaluator *ev, const char *utf8, size_t len, const char *name,
                         size_t max_chars, int top_k, unsigned flags, crnn_trace **out,
                         crnn_error *err)
{
    *out = NULL;
    if (!ev || (!utf8 && len))
        return crnn_fail(err, CRNN_ERR_ARG, "no evaluator or no text given");
    if (top_k < 0 || top_k > CRNN_TRACE_MAX_TOP)
        return crnn_fail(err, CRNN_ERR_ARG, "top_k must be between 0 and %d (got %d)",
                         CRNN_TRACE_MAX_TOP, top_k);
    name = name ? name : "the text";
    crnn_model *m = &ev->model;
    int L = m->config.layers, H = m->config.hidden, V = m->config.vocab;
    int lstm = m->config.cell == CRNN_CELL_LSTM;
    uint32_t *cps = NULL, *ids = NULL;
    size_t n_text = 0, *orig = NULL;
    float *c_carry = NULL, *pre = NULL;
    crnn_trace *t = crnn_calloc(1, sizeof *t);
    if (!t)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    crnn_eval_report *r = &t->report;
    r->nats_per_char = NAN;
    r->unseen_as_unknown = ev->unknown >= 0;
    int rc = crnn_utf8_decode((const unsigned char *)(utf8 ? utf8 : ""), len, name,
                              ev->config.lossy, ev->config.normalize, &cps, &n_text, err);
    if (rc != CRNN_OK)
        goto fail;
    size_t n = max_chars && n_text > max_chars ? max_chars : n_text;
    t->length = n;
    t->text_characters = n_text;
    t->top_k = top_k;
    t->layers = L;
    t->hidden = H;
    size_t states = n * (size_t)L * (size_t)H;
    t->code_points = malloc(sizeof *t->code_points * (n ? n : 1));
    t->token = malloc(sizeof *t->token * (n ? n : 1));
    t->nats = malloc(sizeof *t->nats * (n ? n : 1));
    ids = malloc(sizeof *ids * (n ? n : 1));
    orig = malloc(sizeof *orig * (n ? n : 1));
    t->top_code_points = calloc(n * (size_t)top_k + 1, sizeof *t->top_code_points);
    t->top_probs = calloc(n * (size_t)top_k + 1, sizeof *t->top_probs);
    if (flags & CRNN_TRACE_STATES) {
        t->h = calloc(states + 1, sizeof *t->h);
        if (lstm)
            t->c = calloc(states + 1, sizeof *t->c);
    }
    if ((flags & CRNN_TRACE_GATES) && lstm)
        t->gates = calloc(4 * states + 1, sizeof *t->gates);
    c_carry = crnn_calloc((size_t)L * H, sizeof *c_carry);
    pre = crnn_alloc_floats((size_t)TEXT_EVAL_STEPS * 4 * H);
    if (!t->code_points || !t->token || !t->nats || !ids || !orig || !t->top_code_points ||
        !t->top_probs || ((flags & CRNN_TRACE_STATES) && (!t->h || (lstm && !t->c))) ||
        ((flags & CRNN_TRACE_GATES) && lstm && !t->gates) || !c_carry || !pre) {
        rc = crnn_fail(err, CRNN_ERR_NOMEM, "out of memory tracing %zu characters of %s", n,
                       name);
        goto fail;
    }
    memcpy(t->code_points, cps, sizeof *cps * n);
    memcpy(ids, cps, sizeof *cps * n);
    size_t k_ids = n;
    r->text_characters = n;
    rc = crnn_evaluator_encode(ev, name, ids, &k_ids, UNSEEN_TOLERATE, t->token, r, err);
    crnn_evaluator_end_text(ev, r, 0); /* the trace does not count in the totals */
    if (rc != CRNN_OK)
        goto fail;
    for (size_t i = 0, k = 0; i < n; i++) {
        t->nats[i] = NAN;
        if (t->token[i] >= 0)
            orig[k++] = i;
    }
    if (k_ids >= 1) {
        if ((rc = crnn_evaluator_buffers(ev, 1, err)) != CRNN_OK)
            goto fail;
        memset(ev->buf.state, 0, sizeof(float) * crnn_model_state_size(m, 1));
        ev->buf.ws.dropout = 0;
        /* The evaluator's reading: chunks of TEXT_EVAL_STEPS, inputs ids[pos ..],
         * targets one further on. */
        double nats = 0;
        for (size_t pos = 0; pos + 1 < k_ids;) {
            int steps = (int)(k_ids - 1 - pos < TEXT_EVAL_STEPS ? k_ids - 1 - pos : TEXT_EVAL_STEPS);
            uint32_t *inputs = ev->buf.inputs, *targets = ev->buf.targets;
            for (int s = 0; s < steps; s++) {
                inputs[s] = ids[pos + s];
                targets[s] = ids[pos + s + 1];
            }
            if ((rc = read_chunk(ev, inputs, steps, orig + pos, c_carry, pre, t)) != CRNN_OK) {
                crnn_fail(err, rc, "the model could not run on %s (%s)", name,
                          crnn_status_name(rc));
                goto fail;
            }
            for (int s = 0; s < steps && top_k > 0; s++) {
                size_t row = orig[pos + s + 1];
                top_of(ev->buf.ws.logits + (size_t)s * V, V, top_k, &ev->vocab,
                       t->top_code_points + row * top_k, t->top_probs + row * top_k);
            }
            /* The loss as the evaluator sums it (it turns the logits into gradients). */
            nats += crnn_model_loss(m, &ev->buf.ws, targets, 1.0);
            for (int s = 0; s < steps; s++)
                t->nats[orig[pos + s + 1]] = ev->buf.ws.row_loss[s];
            crnn_model_final_state(m, &ev->buf.ws, ev->buf.state);
            pos += (size_t)steps;
        }
        /* The last character is read only for its states: nothing follows it. */
        if (flags & (CRNN_TRACE_STATES | CRNN_TRACE_GATES)) {
            uint32_t last = ids[k_ids - 1];
            if ((rc = read_chunk(ev, &last, 1, orig + k_ids - 1, c_carry, pre, t)) != CRNN_OK) {
                crnn_fail(err, rc, "the model could not run on %s (%s)", name,
                          crnn_status_name(rc));
                goto fail;
            }
        }
        if (k_ids >= 2) {
            if (!isfinite(nats)) {
                rc = crnn_fail(err, CRNN_ERR_NUMERIC, "%s: the loss is not finite", name);
                goto fail;
            }
            r->nats = nats;
            r->characters = k_ids - 1;
            r->nats_per_char = nats / (double)(k_ids - 1);
        }
    }
    /* A character left out changed nothing: its states are those before it. */
    size_t row = (size_t)L * H;
    for (size_t i = 0; i < n; i++)
        if (t->token[i] < 0 && i > 0) {
            if (t->h)
                memcpy(t->h + i * row, t->h + (i - 1) * row, sizeof(float) * row);
            if (t->c)
                memcpy(t->c + i * row, t->c + (i - 1) * row, sizeof(float) * row);
            if (t->gates)
                memcpy(t->gates + 4 * i * row, t->gates + 4 * (i - 1) * row,
                       sizeof(float) * 4 * row);
        }
    free(cps);
    free(ids);
    free(orig);
    free(c_carry);
    crnn_free_floats(pre);
    *out = t;
    return CRNN_OK;
fail:
    free(cps);
    free(ids);
    free(orig);
    free(c_carry);
    crnn_free_floats(pre);
    crnn_trace_free(t);
    return rc;
}

int crnn_evaluator_matrices(const crnn_evaluator *ev, crnn_weight_matrix *out, int max)
{
    const crnn_model *m = &ev->model;
    const crnn_model_config *c = &m->config;
    int GH = m->cell->gates * c->hidden, count = 0;
    crnn_weight_matrix all[2 + 3 * CRNN_MAX_LAYERS + 2];
    all[count++] = (crnn_weight_matrix){"embedding", c->vocab, c->embed, m->params + m->layout.emb};
    for (int l = 0; l < c->layers; l++) {
        crnn_weight_matrix *w = &all[count++];
        *w = (crnn_weight_matrix){"", l ? c->hidden : c->embed, GH, m->params + m->layout.wx[l]};
        snprintf(w->name, sizeof w->name, "layer %d input", l + 1);
        w = &all[count++];
        *w = (crnn_weight_matrix){"", c->hidden, GH, m->params + m->layout.wh[l]};
        snprintf(w->name, sizeof w->name, "layer %d recurrent", l + 1);
        w = &all[count++];
        *w = (crnn_weight_matrix){"", 1, m->cell->bias_gates * c->hidden, m->params + m->layout.b[l]};
        snprintf(w->name, sizeof w->name, "layer %d bias", l + 1);
    }
    all[count++] = (crnn_weight_matrix){"output", c->hidden, c->vocab, m->params + m->layout.wy};
    all[count++] = (crnn_weight_matrix){"output bias", 1, c->vocab, m->params + m->layout.by};
    for (int i = 0; i < count && i < max; i++)
        out[i] = all[i];
    return count;
}

const uint32_t *crnn_evaluator_vocabulary(const crnn_evaluator *ev, int *size)
{
    *size = ev->vocab.size;
    return ev->vocab.symbols;
}
