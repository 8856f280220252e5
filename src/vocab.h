/*
 * vocab.h: the vocabulary: the sorted set of code points seen in a text (see
 * utf8.h for the decoding), a token being a code point's index in it. Knows
 * nothing of models or files.
 */
#ifndef CRNN_VOCAB_H
#define CRNN_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

#define CRNN_MAX_CODE_POINT 0x10FFFFu

typedef struct crnn_vocab {
    uint32_t *symbols; /* (size) code points, strictly increasing */
    int size;
} crnn_vocab;

#define CRNN_UNKNOWN_CODE_POINT 0xFFFDu

/* The sorted set of distinct code points in text. With max_size > 0 and more
 * distinct code points than that, only the max_size - 1 most frequent are kept
 * (ties: the smaller code point) plus U+FFFD, which stands for all the others;
 * *distinct receives the number of distinct code points in text and *mapped
 * the number of characters that will map to U+FFFD (either may be NULL). */
int crnn_vocab_build(crnn_vocab *vocab, const uint32_t *text, size_t n, int max_size,
                     size_t *distinct, size_t *mapped, crnn_error *err);

/* The same from the number of occurrences of every code point (counts has
 * CRNN_MAX_CODE_POINT + 1 entries). */
int crnn_vocab_from_counts(crnn_vocab *vocab, const uint64_t *counts, int max_size,
                           size_t *distinct, size_t *mapped, crnn_error *err);

/* Takes ownership of symbols (must be strictly increasing, checked). */
int crnn_vocab_adopt(crnn_vocab *vocab, uint32_t *symbols, int size, crnn_error *err);

void crnn_vocab_free(crnn_vocab *vocab);

/* Index of a code point, or -1 if it is not in the vocabulary. */
int crnn_vocab_index(const crnn_vocab *vocab, uint32_t code_point);

/* Maps code points to token ids in place. A code point outside the vocabulary
 * becomes unknown_id if that is >= 0; otherwise the first one is
 * CRNN_ERR_VOCAB, naming it and its position. */
int crnn_vocab_encode(const crnn_vocab *vocab, uint32_t *text, size_t n, int unknown_id,
                      crnn_error *err);


#endif
