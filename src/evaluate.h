/*
 * evaluate.h: the loss of a model over a split of text, read by parallel
 * streams with the hidden state carried from chunk to chunk (the way training
 * reads it, but forward only, each stream warmed up on the text before its
 * piece). Used by the trainer's validation and test, and by the evaluator
 * (crnn_evaluator_*).
 */
#ifndef CRNN_EVALUATE_H
#define CRNN_EVALUATE_H

#include "charrnn.h"
#include "data.h"
#include "model.h"
#include "vocab.h"

/* How a split is read: `streams` streams in lockstep, each scoring one piece
 * of it in order. Every stream but the first first reads the `context`
 * characters before its piece without scoring them, so that it scores from
 * the state a continuous reading would have there rather than from zero (a
 * zero state costs the first few hundred characters of a piece dearly:
 * bench/RESULTS.md); the first starts where the split does. Read whole, the
 * pieces are contiguous and cover the split but for fewer than `streams`
 * characters at its end (the first stream scores its context's length
 * more); bounded by per_stream, every stream scores as many. */
typedef struct crnn_split_reading {
    int streams;       /* all the streams (all ranks together) */
    int first, count;  /* the streams this call reads: first .. first+count-1 */
    int steps;         /* characters per forward, at most the workspace's */
    size_t per_stream; /* characters each stream scores at most (0: its whole piece), so
                        * that a part of the split, spread over all of it and the same
                        * every time, stands for the whole */
    size_t context;    /* characters each stream but the first reads unscored first */
} crnn_split_reading;

/* The context every held-out reading gives its streams (the trainer's
 * validation and test, and the evaluator's). On a 3 x 512 LSTM over
 * tiny-shakespeare's validation split in 128 streams: 1.3525 nats/char from
 * zero states, 1.3382 with 16 characters of context, 1.3341 with 32, 1.3330
 * with 64 and 1.3332 with 128, against 1.3330 read as one stream. */
enum { EVAL_CONTEXT = 128 };

/* The reading of a split by up to max_streams streams with up to `context`
 * characters of context, scoring up to max_chars characters (0: all):
 * fewer streams where pieces would be shorter than the context, so that the
 * unscored reading stays within the scored one. streams 0: the split is too
 * short to predict anything. */
crnn_split_reading crnn_split_reading_for(const crnn_split *split, int max_streams, size_t context,
                                          uint64_t max_chars, int steps);

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

/* Called between chunks with the characters scored so far and in all. */
typedef void (*crnn_split_progress)(void *user, uint64_t done, uint64_t total);

/* Adds to sums[0] the summed loss (nats) and to sums[1] the characters scored
 * by streams r->first .. of r over the split, in chunks of r->steps (ws must
 * hold r->count x r->steps). state (L,S,count,H) and inputs/targets
 * (steps x count) are scratch. progress may be NULL. Returns CRNN_OK,
 * CRNN_ERR_FORMAT if an id was out of range (as crnn_stream_chunk),
 * CRNN_ERR_NOMEM, or the engine's failure. Fills no crnn_error: the caller
 * names the cause. */
int crnn_split_loss(const crnn_model *model, crnn_workspace *ws, const crnn_split *split,
                    const crnn_split_reading *r, float *state, uint32_t *inputs,
                    uint32_t *targets, double sums[2], crnn_split_progress progress, void *user);

/* The same on a GPU scorer (gpu.h), for up to its rows and steps; inputs
 * and targets (steps x count, host) are scratch. CRNN_ERR_FORMAT for an id
 * out of range and CRNN_ERR_NOMEM for the host's memory may leave err
 * unfilled; any other failure fills it. */
struct crnn_gpu_scorer;
int crnn_split_loss_gpu(struct crnn_gpu_scorer *gpu, const crnn_split *split,
                        const crnn_split_reading *r, uint32_t *inputs, uint32_t *targets,
                        double sums[2], crnn_split_progress progress, void *user,
                        crnn_error *err);

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

/* How the evaluator reads a text (as a split): one stream per piece of at
 * least TEXT_EVAL_PIECE_MIN characters, at most TEXT_EVAL_STREAMS, each but
 * the first with EVAL_CONTEXT characters of context; so a short text (all
 * that charrnn inspect reads) is read as one stream, every character after
 * the first predicted from all those before it. */
crnn_split_reading crnn_evaluator_reading(const crnn_split *split);

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
