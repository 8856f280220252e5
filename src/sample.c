/*
 * sample.c: drawing the next character (temperature, top-k, top-p, an
 * explicit RNG), priming text, and the batch-1 sampler of the public header.
 * The model's step is infer.c's; batched generation is generate.c's. Never
 * writes anything.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "infer.h"
#include "load.h"
#include "sample.h"
#include "utf8.h"

/* ---------------------------------------------------------------- drawing */

int crnn_sample_check(const crnn_sample_options *o, crnn_error *err)
{
    if (!(o->temperature >= 0) || !isfinite(o->temperature) || o->top_k < 0 ||
        !(o->top_p > 0 && o->top_p <= 1))
        return crnn_fail(err, CRNN_ERR_ARG,
                         "sampling options out of range: temperature >= 0, top-k >= 0, "
                         "0 < top-p <= 1");
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
    const crnn_ranked *x = a, *y = b;
    if (isnan(x->p) != isnan(y->p)) /* NaN (logits gone bad) last: a total order still */
        return isnan(x->p) ? 1 : -1;
    if (x->p != y->p && !isnan(x->p))
        return x->p < y->p ? 1 : -1;
    return x->token < y->token ? -1 : x->token > y->token;
}

uint32_t crnn_sample_draw(const float *z, int V, const crnn_sample_options *o, crnn_rng *rng,
                          float *probs, crnn_ranked *order)
{
    int best = 0;
    for (int j = 1; j < V; j++)
        if (z[j] > z[best])
            best = j;
    /* A temperature so small that 1/T overflows is the argmax too (else
     * 0 * inf would make the probabilities NaN). */
    if (o->temperature <= 0 || o->top_k == 1 || !isfinite(1.0f / o->temperature))
        return (uint32_t)best;
    float inv_t = 1.0f / o->temperature, max = z[best];
    double total = 0;
    for (int j = 0; j < V; j++) {
        probs[j] = expf((z[j] - max) * inv_t);
        total += probs[j];
    }
    int keep = V;
    if ((o->top_k > 0 && o->top_k < V) || o->top_p < 1.0f) {
        for (int j = 0; j < V; j++)
            order[j] = (crnn_ranked){probs[j], (uint32_t)j};
        qsort(order, (size_t)V, sizeof *order, by_probability);
        if (o->top_k > 0 && o->top_k < keep)
            keep = o->top_k;
        if (o->top_p < 1.0f) {
            double cum = 0;
            for (int r = 0; r < keep; r++) {
                cum += order[r].p / total;
                if (cum >= o->top_p) {
                    keep = r + 1;
                    break;
                }
            }
        }
        total = 0;
        for (int r = 0; r < keep; r++)
            total += order[r].p;
        double u = crnn_rng_uniform_double(rng) * total, cum = 0;
        for (int r = 0; r < keep; r++) {
            cum += order[r].p;
            if (u < cum)
                return order[r].token;
        }
        return order[keep - 1].token;
    }
    double u = crnn_rng_uniform_double(rng) * total, cum = 0;
    for (int j = 0; j < V; j++) {
        cum += probs[j];
        if (u < cum)
            return (uint32_t)j;
    }
    return (uint32_t)best;
}

int crnn_prime_tokens(const crnn_vocab *vocab, const char *utf8, size_t len, uint32_t **tokens,
                      size_t *count, crnn_error *err)
{
    *tokens = NULL;
    *count = 0;
    if (!utf8 || !len)
        return CRNN_OK;
    uint32_t *cps;
    size_t n;
    int rc = crnn_utf8_decode((const unsigned char *)utf8, len, "the priming text", 0,
                              CRNN_NORMALIZE_NONE, &cps, &n, err);
    if (rc != CRNN_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        int id = crnn_vocab_index(vocab, cps[i]);
        if (id < 0) {
            char what[48];
            crnn_describe_code_point(cps[i], what, sizeof what);
            free(cps);
            return crnn_fail(err, CRNN_ERR_VOCAB,
                             "the priming text has %s (character %zu), which the model never saw "
                             "in training; its vocabulary has %d characters",
                             what, i + 1, vocab->size);
        }
        cps[i] = (uint32_t)id; /* in place: code points become tokens */
    }
    *tokens = cps;
    *count = n;
    return CRNN_OK;
}

uint32_t crnn_start_token(const crnn_vocab *vocab)
{
    int nl = crnn_vocab_index(vocab, '\n');
    return (uint32_t)(nl >= 0 ? nl : 0);
}

/* ---------------------------------------------------------------- batch 1 */

struct crnn_sampler {
    crnn_stored_model stored;
    crnn_infer infer;      /* 1 row */
    float *state;          /* (L,S,1,H) */
    crnn_rng rng;
    int have_logits;       /* infer.logits holds the distribution of the next character */
    float *probs;          /* (V) */
    crnn_ranked *order;    /* (V) */
};

crnn_sampler *crnn_sampler_open(const char *path, crnn_error *err)
{
    crnn_sampler *sm = crnn_calloc(1, sizeof *sm);
    if (!sm) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (crnn_load_stored(path, &sm->stored, err) != CRNN_OK)
        goto fail;
    if (crnn_infer_init(&sm->infer, &sm->stored.config, sm->stored.params, sm->stored.dtype, 1,
                        err) != CRNN_OK)
        goto fail;
    int V = sm->stored.config.vocab;
    sm->state = crnn_alloc_floats(crnn_infer_state_size(&sm->infer, 1));
    sm->probs = crnn_alloc_floats((size_t)V);
    sm->order = crnn_calloc((size_t)V, sizeof *sm->order);
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
    crnn_infer_free(&sm->infer);
    crnn_stored_model_free(&sm->stored);
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
    memset(sm->state, 0, sizeof(float) * crnn_infer_state_size(&sm->infer, 1));
    sm->have_logits = 0;
}

/* Feeds one token: afterwards infer.logits is the distribution of the next one. */
static void feed(crnn_sampler *sm, uint32_t token)
{
    crnn_infer_step(&sm->infer, &token, 1, sm->state);
    sm->have_logits = 1;
}

int crnn_sampler_prime(crnn_sampler *sm, const char *utf8, size_t len, crnn_error *err)
{
    uint32_t *tokens;
    size_t n;
    /* Every character is checked before any is fed, so a failure changes nothing. */
    int rc = crnn_prime_tokens(&sm->stored.vocab, utf8, len, &tokens, &n, err);
    if (rc != CRNN_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        feed(sm, tokens[i]);
    free(tokens);
    return CRNN_OK;
}

int crnn_sampler_next(crnn_sampler *sm, const crnn_sample_options *options, uint32_t *code_point,
                      crnn_error *err)
{
    crnn_sample_options defaults;
    if (!options) {
        crnn_sample_options_default(&defaults);
        options = &defaults;
    }
    int rc = crnn_sample_check(options, err);
    if (rc != CRNN_OK)
        return rc;
    if (!sm->have_logits) /* nothing primed: start as after a line break */
        feed(sm, crnn_start_token(&sm->stored.vocab));
    uint32_t token = crnn_sample_draw(sm->infer.logits, sm->stored.config.vocab, options, &sm->rng,
                                      sm->probs, sm->order);
    feed(sm, token);
    *code_point = sm->stored.vocab.symbols[token];
    return CRNN_OK;
}
