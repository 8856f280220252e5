/*
 * evaluate.h: the loss of a model over a split of text, read by parallel
 * streams with the hidden state carried from chunk to chunk (the way training
 * reads it, but forward only and from a zero state). Used by the trainer's
 * validation and test, and by the evaluator (crnn_evaluator_*).
 */
#ifndef CRNN_EVALUATE_H
#define CRNN_EVALUATE_H

#include "data.h"
#include "model.h"

/* Streams for a split: min(max_streams, length / 2) (0 if the split is too short). */
int crnn_eval_streams(const crnn_split *split, int max_streams);

/* Adds to sums[0] the summed loss (nats) and to sums[1] the characters predicted
 * by streams first .. first+count-1 of `streams` over the split, in chunks of at
 * most `steps` (ws must hold count x steps). state (L,S,count,H) and
 * inputs/targets (steps x count) are scratch. Returns CRNN_OK, CRNN_ERR_FORMAT
 * if an id was out of range (see crnn_stream_chunk), CRNN_ERR_NOMEM, or the
 * engine's failure. Fills no crnn_error: the caller names the cause. */
int crnn_split_loss(const crnn_model *model, crnn_workspace *ws, const crnn_split *split,
                    int streams, int first, int count, int steps, float *state, uint32_t *inputs,
                    uint32_t *targets, double sums[2]);

/* What reading a split takes, for up to `streams` streams of `steps` steps:
 * a forward-only workspace, the carried state and one chunk's ids. Shared
 * by the trainer's evaluation and the evaluator of crnn_evaluate_file. */
typedef struct crnn_eval_buffers {
    int streams, steps;
    crnn_workspace ws;          /* streams x steps, forward only, own cells */
    float *state;               /* (L,S,streams,H) */
    uint32_t *inputs, *targets; /* (steps,streams) */
} crnn_eval_buffers;

/* Allocates b (zeroed first; freed by crnn_eval_buffers_free on failure too). */
int crnn_eval_buffers_init(crnn_eval_buffers *b, const crnn_model *model, int streams, int steps,
                           crnn_error *err);
void crnn_eval_buffers_free(crnn_eval_buffers *b);

/* Called between chunks with the characters predicted so far and in all. */
typedef void (*crnn_split_progress)(void *user, uint64_t done, uint64_t total);

/* The same, each stream reading at most the first per_stream + 1 characters
 * of its piece (0: the whole piece), so that a part of the split, spread over
 * all of it and the same every time, stands for the whole. progress may be
 * NULL. */
int crnn_split_loss_part(const crnn_model *model, crnn_workspace *ws, const crnn_split *split,
                         int streams, int first, int count, int steps, size_t per_stream,
                         float *state, uint32_t *inputs, uint32_t *targets, double sums[2],
                         crnn_split_progress progress, void *user);

#endif
