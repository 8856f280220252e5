/*
 * sample.c: generation, one character at a time (batch 1): the model's
 * forward step, temperature, top-k and top-p, an explicit RNG. The sampler
 * reads its model through load.c and never writes anything.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "load.h"
#include "model.h"
#include "utf8.h"
#include "vocab.h"

struct ranked {
    float p;
    uint32_t token;
};

struct crnn_sampler {
    crnn_model model;
    crnn_vocab vocab;
    crnn_workspace ws; /* 1 x 1 */
    float *state;      /* (L,S,1,H) */
    crnn_rng rng;
    int have_logits;   /* ws.logits holds the distribution of the next character */
    float *probs;      /* (V) */
    struct ranked *order; /* (V) tokens sorted by probability, for top-k / top-p */
};

crnn_sampler *crnn_sampler_open(const char *path, crnn_error *err)
{
    crnn_sampler *sm = crnn_calloc(1, sizeof *sm);
    if (!sm) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (crnn_load_model(path, &sm->model, &sm->vocab, NULL, err) != CRNN_OK)
        goto fail;
    if (crnn_workspace_init(&sm->ws, &sm->model, 1, 1, 0, NULL, NULL, err) != CRNN_OK)
        goto fail;
    sm->state = crnn_alloc_floats(crnn_model_state_size(&sm->model, 1));
    sm->probs = crnn_alloc_floats((size_t)sm->vocab.size);
    sm->order = crnn_calloc((size_t)sm->vocab.size, sizeof *sm->order);
    if (!sm->state || !sm->probs || !sm->order) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    crnn_sampler_reset(sm);
    crnn_sampler_seed(sm, 1);
    return sm;
fail:
    crnn_sampler_free(sm);
    return NULL;
}

void crnn_sampler_free(crnn_sampler *sm)
{
    if (!sm)
        return;
    crnn_model_free(&sm->model);
    crnn_vocab_free(&sm->vocab);
    crnn_workspace_free(&sm->ws);
    crnn_free_floats(sm->state);
    crnn_free_floats(sm->probs);
    free(sm->order);
    free(sm);
}

void crnn_sampler_seed(crnn_sampler *sm, uint64_t seed)
{
    crnn_rng_seed(&sm->rng, seed);
}

void crnn_sampler_reset(crnn_sampler *sm)
{
    memset(sm->state, 0, sizeof(float) * crnn_model_state_size(&sm->model, 1));
    sm->have_logits = 0;
}

/* Feeds one token: afterwards ws.logits is the distribution of the next one. */
static void feed(crnn_sampler *sm, uint32_t token)
{
    crnn_model_forward(&sm->model, &sm->ws, &token, 1, 1, sm->state);
    crnn_model_final_state(&sm->model, &sm->ws, sm->state);
    sm->have_logits = 1;
}

int crnn_sampler_prime(crnn_sampler *sm, const char *utf8, size_t len, crnn_error *err)
{
    uint32_t *cps;
    size_t n;
    int rc = crnn_utf8_decode((const unsigned char *)utf8, len, "the priming text", 0,
                              CRNN_NORMALIZE_NONE, &cps, &n, err);
    if (rc != CRNN_OK)
        return rc;
    /* Check every character before feeding any, so a failure changes nothing. */
    for (size_t i = 0; i < n; i++) {
        if (crnn_vocab_index(&sm->vocab, cps[i]) < 0) {
            char what[48];
            crnn_describe_code_point(cps[i], what, sizeof what);
            free(cps);
            return crnn_fail(err, CRNN_ERR_VOCAB,
                             "the priming text has %s (character %zu), which the model never saw "
                             "in training; its vocabulary has %d characters",
                             what, i + 1, sm->vocab.size);
        }
    }
    for (size_t i = 0; i < n; i++)
        feed(sm, (uint32_t)crnn_vocab_index(&sm->vocab, cps[i]));
    free(cps);
    return CRNN_OK;
}

void crnn_sample_options_default(crnn_sample_options *o)
{
    o->temperature = 1.0f;
    o->top_k = 0;
    o->top_p = 1.0f;
}

/* Most probable first; ties by token so the order is total. */
static int by_probability(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->p != y->p)
        return x->p < y->p ? 1 : -1;
    return x->token < y->token ? -1 : 1;
}

/* Draws a token from the logits under the options. */
static uint32_t draw(crnn_sampler *sm, const crnn_sample_options *o)
{
    int V = sm->model.config.vocab;
    const float *z = sm->ws.logits;
    int best = 0;
    for (int j = 1; j < V; j++)
        if (z[j] > z[best])
            best = j;
    if (o->temperature <= 0 || o->top_k == 1)
        return (uint32_t)best;
    float inv_t = 1.0f / o->temperature, max = z[best];
    double total = 0;
    for (int j = 0; j < V; j++) {
        sm->probs[j] = expf((z[j] - max) * inv_t);
        total += sm->probs[j];
    }
    int keep = V;
    if ((o->top_k > 0 && o->top_k < V) || o->top_p < 1.0f) {
        for (int j = 0; j < V; j++)
            sm->order[j] = (struct ranked){sm->probs[j], (uint32_t)j};
        qsort(sm->order, (size_t)V, sizeof *sm->order, by_probability);
        if (o->top_k > 0 && o->top_k < keep)
            keep = o->top_k;
        if (o->top_p < 1.0f) {
            double cum = 0;
            for (int r = 0; r < keep; r++) {
                cum += sm->order[r].p / total;
                if (cum >= o->top_p) {
                    keep = r + 1;
                    break;
                }
            }
        }
        total = 0;
        for (int r = 0; r < keep; r++)
            total += sm->order[r].p;
        double u = crnn_rng_uniform_double(&sm->rng) * total, cum = 0;
        for (int r = 0; r < keep; r++) {
            cum += sm->order[r].p;
            if (u < cum)
                return sm->order[r].token;
        }
        return sm->order[keep - 1].token;
    }
    double u = crnn_rng_uniform_double(&sm->rng) * total, cum = 0;
    for (int j = 0; j < V; j++) {
        cum += sm->probs[j];
        if (u < cum)
            return (uint32_t)j;
    }
    return (uint32_t)best;
}

int crnn_sampler_next(crnn_sampler *sm, const crnn_sample_options *options, uint32_t *code_point,
                      crnn_error *err)
{
    crnn_sample_options defaults;
    if (!options) {
        crnn_sample_options_default(&defaults);
        options = &defaults;
    }
    if (!(options->temperature >= 0) || !isfinite(options->temperature) || options->top_k < 0 ||
        !(options->top_p > 0 && options->top_p <= 1))
        return crnn_fail(err, CRNN_ERR_ARG,
                         "sampling options out of range: temperature >= 0, top-k >= 0, "
                         "0 < top-p <= 1");
    if (!sm->have_logits) {
        /* Nothing primed: start as after a line break (or the first symbol). */
        int nl = crnn_vocab_index(&sm->vocab, '\n');
        feed(sm, (uint32_t)(nl >= 0 ? nl : 0));
    }
    uint32_t token = draw(sm, options);
    feed(sm, token);
    *code_point = sm->vocab.symbols[token];
    return CRNN_OK;
}
