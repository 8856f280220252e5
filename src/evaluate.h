/*
 * evaluate.h: the loss of a model over a split of text, read by parallel
 * streams with the hidden state carried from chunk to chunk (the way training
 * reads it, but forward only and from a zero state). Used by the trainer's
 * validation and test, and by the evaluator (crnn_evaluator_*).
 */
#ifndef CRNN_EVALUATE_H
#define CRNN_EVALUATE_H

#include "charrnn.h"
#include "data.h"
#include "model.h"
#include "vocab.h"

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

/* The same on a GPU scorer (gpu.h), for up to its rows and steps; inputs
 * and targets (steps x count, host) are scratch. CRNN_ERR_FORMAT for an id
 * out of range and CRNN_ERR_NOMEM for the host's memory may leave err
 * unfilled; any other failure fills it. */
struct crnn_gpu_scorer;
int crnn_split_loss_gpu(struct crnn_gpu_scorer *gpu, const crnn_split *split, int streams,
                        int first, int count, int steps, size_t per_stream, uint32_t *inputs,
                        uint32_t *targets, double sums[2], crnn_split_progress progress,
                        void *user, crnn_error *err);

/* ---------------------------------------------------------------- the evaluator
 * (crnn_evaluator_* of the public header, and the trace of trace.c, which
 * reads a text exactly as the evaluator does). */

enum {
    TEXT_EVAL_STREAMS = 32,        /* at most this many parallel streams per text */
    TEXT_EVAL_STEPS = 128,         /* time steps per forward */
    TEXT_EVAL_PIECE_MIN = 16384,   /* a text is split in pieces of at least this many characters */
};

/* A set of code points: one bit each. */
#define CP_WORDS ((CRNN_MAX_CODE_POINT + 1) / 64)

struct crnn_evaluator {
    crnn_model model;
    crnn_vocab vocab;
    crnn_train_config config; /* the tokenizer settings (lossy, normalize) */
    int unknown;              /* id of U+FFFD, or -1: unseen characters are left out */
    /* Buffers for `streams` streams, remade when a text needs another number. */
    crnn_eval_buffers buf;    /* streams x TEXT_EVAL_STEPS */
    /* On a GPU (crnn_evaluator_set_device): its scorer for TEXT_EVAL_STREAMS x
     * TEXT_EVAL_STEPS with the model's weights, and the chunks' ids. */
    struct crnn_gpu_scorer *scorer;
    uint32_t *scorer_ids;     /* (2, TEXT_EVAL_STEPS, TEXT_EVAL_STREAMS) */
    char device[16];          /* "cpu" or "cuda:N" */
    /* Unseen characters: those of the current file (bits, and the list in
     * order of appearance, by which the bits are cleared again), and those
     * of every file scored so far. */
    uint64_t *file_seen;      /* (CP_WORDS) */
    uint32_t *file_list;      /* (file_list_cap) */
    size_t file_list_cap;
    uint64_t *total_seen;     /* (CP_WORDS) */
    crnn_eval_report total;   /* nats_per_char is filled when asked */
};

/* What to do with a character the vocabulary lacks. */
enum unseen_policy {
    UNSEEN_TOLERATE,   /* as U+FFFD if the vocabulary has it, else left out */
    UNSEEN_AS_UNKNOWN, /* as U+FFFD if the vocabulary has it, else an error */
    UNSEEN_REFUSE,     /* always an error */
};

/* Streams the evaluator reads a text of n tokens with: one per piece of at
 * least TEXT_EVAL_PIECE_MIN characters, at most TEXT_EVAL_STREAMS, so a short text is
 * read as one stream, every character after the first predicted from all
 * those before it; 0 if there is nothing to predict (n < 2). */
int crnn_evaluator_streams(size_t n);

/* Maps text[0, *n) to ids in place, dropping what is left out (*n shrinks),
 * counting unseen characters into r; token_of (n, may be NULL) receives
 * each character's id or -1 where it was left out. */
int crnn_evaluator_encode(crnn_evaluator *ev, const char *path, uint32_t *text, size_t *n,
                          enum unseen_policy policy, int32_t *token_of, crnn_eval_report *r,
                          crnn_error *err);

/* ev->buf for `streams` streams (kept while the number stays the same). */
int crnn_evaluator_buffers(crnn_evaluator *ev, int streams, crnn_error *err);

/* Ends a text: adds it to the totals if scored, and clears its set of
 * unseen characters either way. */
void crnn_evaluator_end_text(crnn_evaluator *ev, const crnn_eval_report *r, int scored);

#endif
