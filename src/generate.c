/*
 * generate.c: the batched generator of the public header. Up to capacity
 * streams step together through infer.c, one row each; the carried state is
 * kept packed for the rows running, (L,S,running,H) in the order the streams
 * were added, and repacked when a stream joins or leaves. Each stream has
 * its own random stream, options, prime and stop texts; the text that might
 * be the start of a stop text is held back until it is known not to be.
 * On a GPU (crnn_generator_set_device) the steps run on a GPU scorer
 * (gpu.h) that keeps the state on the device; the host then holds the
 * state only while it repacks the rows, and samples from the logits as on
 * the CPU, so the same seeds draw from the same distributions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "gpu.h"
#include "half.h"
#include "infer.h"
#include "load.h"
#include "sample.h"
#include "utf8.h"

enum { SLOT_FREE, SLOT_RUNNING, SLOT_ENDED /* its last update may still be read */ };

typedef struct slot {
    int state;
    int64_t id;
    void *user;
    uint32_t *prime;        /* (prime_n) tokens fed before the first draw */
    size_t prime_n, prime_pos;
    uint32_t next;          /* the token drawn last, fed by the next step */
    crnn_rng rng;
    crnn_sample_options options;
    uint64_t max_chars, chars;
    char **stop;            /* (n_stop) owned copies, NUL-terminated */
    size_t *stop_len;
    int n_stop;
    size_t stop_max;        /* the longest stop text */
    char *held;             /* (stop_max + 4) text not yet released */
    size_t held_len;
    char *out;              /* (stop_max + 8) text released by the last step */
    size_t out_len;
} slot;

struct crnn_generator {
    crnn_stored_model stored;
    crnn_infer infer;       /* up to capacity rows */
    int capacity, running;
    slot *slots;            /* (capacity) */
    int *row_slot;          /* (capacity) the slot of each row 0 .. running-1 */
    float *state, *spare;   /* (L,S,capacity,H) each: the packed state and a repacking buffer */
    uint32_t *tokens;       /* (capacity) fed by a step */
    int *from;              /* (capacity + 1) repacking: the old row of each new row */
    float *probs;           /* (V) */
    crnn_ranked *order;     /* (V) */
    int64_t next_id;
    crnn_gpu_scorer *gpu;   /* NULL: the steps run on the CPU (infer.c) */
    int failed;             /* the device failed mid-step: its streams' states are lost */
    char device[16];        /* "cpu" or "cuda:N" */
};

static void slot_clear(slot *s)
{
    free(s->prime);
    for (int i = 0; i < s->n_stop; i++)
        free(s->stop[i]);
    free(s->stop);
    free(s->stop_len);
    free(s->held);
    free(s->out);
    memset(s, 0, sizeof *s);
}

/* Frees the slots whose last update has been handed out. */
static void sweep(crnn_generator *g)
{
    for (int i = 0; i < g->capacity; i++)
        if (g->slots[i].state == SLOT_ENDED)
            slot_clear(&g->slots[i]);
}

crnn_generator *crnn_generator_open(const char *path, int max_streams, crnn_error *err)
{
    if (max_streams < 1 || max_streams > 65536) {
        crnn_fail(err, CRNN_ERR_ARG, "a generator runs 1 to 65536 streams (asked for %d)",
                  max_streams);
        return NULL;
    }
    crnn_generator *g = crnn_calloc(1, sizeof *g);
    if (!g) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (crnn_load_stored(path, &g->stored, err) != CRNN_OK)
        goto fail;
    if (crnn_infer_init(&g->infer, &g->stored.config, g->stored.params, g->stored.dtype,
                        max_streams, err) != CRNN_OK)
        goto fail;
    g->capacity = max_streams;
    size_t state = crnn_infer_state_size(&g->infer, max_streams);
    int V = g->stored.config.vocab;
    g->slots = crnn_calloc((size_t)max_streams, sizeof *g->slots);
    g->row_slot = crnn_calloc((size_t)max_streams, sizeof *g->row_slot);
    g->state = crnn_alloc_floats(state);
    g->spare = crnn_alloc_floats(state);
    g->tokens = crnn_calloc((size_t)max_streams, sizeof *g->tokens);
    g->from = crnn_calloc((size_t)max_streams + 1, sizeof *g->from);
    g->probs = crnn_alloc_floats((size_t)V);
    g->order = crnn_calloc((size_t)V, sizeof *g->order);
    if (!g->slots || !g->row_slot || !g->state || !g->spare || !g->tokens || !g->from || !g->probs ||
        !g->order) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for %d sampling streams", max_streams);
        goto fail;
    }
    snprintf(g->device, sizeof g->device, "cpu");
    return g;
fail:
    crnn_generator_free(g);
    return NULL;
}

void crnn_generator_free(crnn_generator *g)
{
    if (!g)
        return;
    if (g->slots)
        for (int i = 0; i < g->capacity; i++)
            slot_clear(&g->slots[i]);
    free(g->slots);
    free(g->row_slot);
    crnn_free_floats(g->state);
    crnn_free_floats(g->spare);
    free(g->tokens);
    free(g->from);
    crnn_free_floats(g->probs);
    free(g->order);
    crnn_infer_free(&g->infer);
    crnn_gpu_scorer_free(g->gpu);
    crnn_stored_model_free(&g->stored);
    free(g);
}

int crnn_generator_capacity(const crnn_generator *g)
{
    return g->capacity;
}

int crnn_generator_running(const crnn_generator *g)
{
    return g->running;
}

int crnn_generator_vocab_size(const crnn_generator *g)
{
    return g->stored.config.vocab;
}

size_t crnn_generator_weight_bytes(const crnn_generator *g)
{
    return crnn_infer_weight_bytes(&g->infer);
}

void crnn_stream_request_default(crnn_stream_request *r)
{
    memset(r, 0, sizeof *r);
    r->seed = 1;
    crnn_sample_options_default(&r->options);
    r->max_chars = 1000;
}

/* Rebuilds the packed state for new_rows rows: row r of the new state is
 * row from[r] of the old one, or zeros where from[r] < 0. On a GPU the
 * state comes to the host for it and goes back. */
static int repack(crnn_generator *g, const int *from, int new_rows, crnn_error *err)
{
    int H = g->stored.config.hidden, old_rows = g->running;
    if (g->gpu && old_rows > 0) {
        int rc = crnn_gpu_scorer_get_state(g->gpu, g->state, old_rows, err);
        if (rc != CRNN_OK)
            return g->failed = 1, rc;
    }
    size_t blocks = crnn_infer_state_size(&g->infer, 1) / (size_t)H; /* L * S */
    for (size_t b = 0; b < blocks; b++)
        for (int r = 0; r < new_rows; r++) {
            float *dst = g->spare + (b * new_rows + r) * H;
            if (from[r] >= 0)
                memcpy(dst, g->state + (b * old_rows + (size_t)from[r]) * H, sizeof(float) * H);
            else
                memset(dst, 0, sizeof(float) * H);
        }
    if (g->gpu) {
        int rc = crnn_gpu_scorer_put_state(g->gpu, g->spare, new_rows, err);
        if (rc != CRNN_OK)
            return g->failed = 1, rc;
    }
    float *t = g->state;
    g->state = g->spare;
    g->spare = t;
    g->running = new_rows;
    return CRNN_OK;
}

/* The stored weights widened to fp32 where they are 16-bit (a copy the
 * caller frees), or the stored ones themselves. */
static float *weights_f32(const crnn_stored_model *m, int *copied)
{
    *copied = m->dtype != CRNN_WEIGHTS_F32;
    if (!*copied)
        return m->params;
    float *w = crnn_alloc_floats(m->n_params);
    const uint16_t *bits = m->params;
    for (size_t i = 0; w && i < m->n_params; i++)
        w[i] = m->dtype == CRNN_WEIGHTS_F16 ? crnn_f16_to_f32(bits[i]) : crnn_bf16_to_f32(bits[i]);
    return w;
}

/* A generator whose device failed mid-step refuses to go on: the rows'
 * states may no longer match its streams. */
static int refuse_failed(crnn_error *err)
{
    return crnn_fail(err, CRNN_ERR_DEVICE, "the generator's GPU failed earlier; its streams "
                     "cannot go on (open the model again)");
}

int crnn_generator_set_device(crnn_generator *g, int device, crnn_error *err)
{
    if (!g)
        return crnn_fail(err, CRNN_ERR_ARG, "no generator given");
    if (g->failed)
        return refuse_failed(err);
    if (g->running > 0)
        return crnn_fail(err, CRNN_ERR_ARG, "the generator's device changes only while no "
                         "stream runs (%d do)", g->running);
    int automatic = device == CRNN_DEVICE_AUTO;
    if (automatic) /* one stream is latency-bound: the CPU's; batches go to a GPU */
        device = g->capacity > 1 && crnn_gpu_count() > 0 ? 0 : CRNN_DEVICE_CPU;
    crnn_gpu_scorer_free(g->gpu);
    g->gpu = NULL;
    snprintf(g->device, sizeof g->device, "cpu");
    if (device == CRNN_DEVICE_CPU)
        return CRNN_OK;
    crnn_model shape;
    int rc = crnn_model_shape(&shape, &g->stored.config, err), copied = 0;
    if (rc != CRNN_OK)
        return rc;
    float *w = weights_f32(&g->stored, &copied);
    if (!w)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory widening the weights");
    rc = crnn_scorer_on_device(&shape, w, device, automatic, g->capacity, 1, &g->gpu, err);
    if (copied)
        crnn_free_floats(w);
    if (g->gpu)
        crnn_device_name(device, g->device, sizeof g->device);
    return rc;
}

const char *crnn_generator_device(const crnn_generator *g)
{
    return g ? g->device : "cpu";
}

int64_t crnn_generator_add(crnn_generator *g, const crnn_stream_request *q, crnn_error *err)
{
    if (g->failed)
        return refuse_failed(err);
    sweep(g);
    if (g->running >= g->capacity)
        return crnn_fail(err, CRNN_ERR_ARG, "all %d streams of the generator are running",
                         g->capacity);
    int rc = crnn_sample_check(&q->options, err);
    if (rc != CRNN_OK)
        return rc;
    if (q->n_stop < 0 || (q->n_stop > 0 && !q->stop))
        return crnn_fail(err, CRNN_ERR_ARG, "the stop texts are missing");
    for (int i = 0; i < q->n_stop; i++) {
        if (!q->stop[i] || !q->stop[i][0])
            return crnn_fail(err, CRNN_ERR_ARG, "stop text %d is empty", i + 1);
        /* A stop text that is not whole characters could match inside one
         * and cut the text mid-character. */
        uint32_t *cps;
        size_t ncp;
        if (crnn_utf8_decode((const unsigned char *)q->stop[i], strlen(q->stop[i]), "a stop text",
                             0, CRNN_NORMALIZE_NONE, &cps, &ncp, err) != CRNN_OK)
            return CRNN_ERR_UTF8;
        free(cps);
    }
    int free_slot = 0;
    while (g->slots[free_slot].state != SLOT_FREE)
        free_slot++;
    slot *s = &g->slots[free_slot];
    if ((rc = crnn_prime_tokens(&g->stored.vocab, q->prime, q->prime ? q->prime_len : 0,
                                &s->prime, &s->prime_n, err)) != CRNN_OK)
        return rc;
    if (!s->prime_n) { /* start as after a line break */
        if (!(s->prime = malloc(sizeof *s->prime)))
            goto nomem;
        s->prime[0] = crnn_start_token(&g->stored.vocab);
        s->prime_n = 1;
    }
    if (q->n_stop) {
        s->stop = calloc((size_t)q->n_stop, sizeof *s->stop);
        s->stop_len = calloc((size_t)q->n_stop, sizeof *s->stop_len);
        if (!s->stop || !s->stop_len)
            goto nomem;
        s->n_stop = q->n_stop; /* slot_clear frees this many, once the arrays exist */
        for (int i = 0; i < q->n_stop; i++) {
            s->stop_len[i] = strlen(q->stop[i]);
            if (!(s->stop[i] = strdup(q->stop[i])))
                goto nomem;
            if (s->stop_len[i] > s->stop_max)
                s->stop_max = s->stop_len[i];
        }
    }
    s->held = malloc(s->stop_max + 4);
    s->out = malloc(s->stop_max + 8);
    if (!s->held || !s->out)
        goto nomem;
    s->id = g->next_id++;
    s->user = q->user;
    s->options = q->options;
    s->max_chars = q->max_chars;
    crnn_rng_seed(&s->rng, q->seed);
    s->state = SLOT_RUNNING;
    /* The new stream takes the last row, its state zeroed. */
    int *from = g->from;
    for (int r = 0; r < g->running; r++)
        from[r] = r;
    from[g->running] = -1;
    g->row_slot[g->running] = free_slot;
    if ((rc = repack(g, from, g->running + 1, err)) != CRNN_OK) {
        slot_clear(s);
        return rc;
    }
    return s->id;
nomem:
    slot_clear(s);
    return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for a sampling stream");
}

/* Appends n bytes to the stream's held text and moves to out what can no
 * longer be the start of a stop text; 1 if the text now holds a stop text
 * (out then ends just before it). */
static int release(slot *s, const char *bytes, size_t n)
{
    memcpy(s->held + s->held_len, bytes, n);
    s->held_len += n;
    size_t cut = s->held_len; /* held[0:cut] is released */
    int stopped = 0;
    for (int i = 0; i < s->n_stop; i++) {
        size_t L = s->stop_len[i];
        for (size_t k = 0; k + L <= s->held_len && k < cut; k++)
            if (!memcmp(s->held + k, s->stop[i], L)) {
                cut = k;
                stopped = 1;
                break;
            }
    }
    if (!stopped) { /* keep the longest tail that a stop text begins with */
        for (size_t k = 0; k < s->held_len; k++) {
            size_t tail = s->held_len - k;
            int begins = 0;
            for (int i = 0; i < s->n_stop && !begins; i++)
                begins = tail < s->stop_len[i] && !memcmp(s->held + k, s->stop[i], tail);
            if (begins) {
                cut = k;
                break;
            }
        }
    }
    memcpy(s->out + s->out_len, s->held, cut);
    s->out_len += cut;
    memmove(s->held, s->held + cut, s->held_len - cut);
    s->held_len -= cut;
    return stopped;
}

int crnn_generator_step(crnn_generator *g, crnn_stream_update *updates, int *count,
                        crnn_error *err)
{
    *count = 0;
    if (g->failed)
        return refuse_failed(err);
    sweep(g);
    int rows = g->running, V = g->stored.config.vocab;
    if (!rows)
        return CRNN_OK;
    for (int r = 0; r < rows; r++) {
        slot *s = &g->slots[g->row_slot[r]];
        g->tokens[r] = s->prime_pos < s->prime_n ? s->prime[s->prime_pos] : s->next;
    }
    if (g->gpu) {
        int rc = crnn_gpu_scorer_logits(g->gpu, g->tokens, rows, g->infer.logits, err);
        if (rc != CRNN_OK)
            return g->failed = 1, rc; /* the device's state may have moved on */
    } else {
        crnn_infer_step(&g->infer, g->tokens, rows, g->state);
    }
    for (int r = 0; r < rows; r++) {
        slot *s = &g->slots[g->row_slot[r]];
        s->prime_pos += s->prime_pos < s->prime_n;
    }
    int *from = g->from, kept = 0;
    for (int r = 0; r < rows; r++) {
        slot *s = &g->slots[g->row_slot[r]];
        s->out_len = 0;
        int end = CRNN_STREAM_RUNNING;
        if (s->prime_pos < s->prime_n) {
            /* still reading its prime: nothing to draw yet */
        } else if (s->chars >= s->max_chars) {
            end = CRNN_STREAM_LENGTH; /* max_chars 0 */
        } else {
            uint32_t token = crnn_sample_draw(g->infer.logits + (size_t)r * V, V, &s->options,
                                              &s->rng, g->probs, g->order);
            s->next = token;
            s->chars++;
            char utf8[4];
            int n = crnn_utf8_encode(g->stored.vocab.symbols[token], utf8);
            if (release(s, utf8, (size_t)n)) {
                end = CRNN_STREAM_STOP;
            } else if (s->chars >= s->max_chars) {
                memcpy(s->out + s->out_len, s->held, s->held_len); /* no stop can follow */
                s->out_len += s->held_len;
                s->held_len = 0;
                end = CRNN_STREAM_LENGTH;
            }
        }
        if (s->out_len || end)
            updates[(*count)++] = (crnn_stream_update){
                s->id, s->user, s->out, s->out_len, s->chars, end};
        if (end) {
            s->state = SLOT_ENDED;
        } else {
            g->row_slot[kept] = g->row_slot[r];
            from[kept++] = r;
        }
    }
    if (kept < rows)
        return repack(g, from, kept, err);
    return CRNN_OK;
}

int crnn_generator_cancel(crnn_generator *g, int64_t id)
{
    int row = -1;
    for (int r = 0; r < g->running; r++)
        if (g->slots[g->row_slot[r]].id == id)
            row = r;
    if (row < 0)
        return 0;
    slot_clear(&g->slots[g->row_slot[row]]);
    int *from = g->from, kept = 0;
    for (int r = 0; r < g->running; r++)
        if (r != row) {
            g->row_slot[kept] = g->row_slot[r];
            from[kept++] = r;
        }
    if (repack(g, from, kept, NULL) != CRNN_OK) /* on a GPU that failed: later calls say so */
        g->running = kept;
    return 1;
}
