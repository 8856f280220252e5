/*
 * data.h: the tokenized corpus, its contiguous train / validation / test
 * splits, and B streams walking a split in chunks of T steps (truncated BPTT).
 * Stream b reads the b-th of B equal contiguous pieces of the split; its cursor
 * advances by T per chunk and wraps to 0 (a new epoch) when less than T+1
 * tokens remain. Knows nothing of models or files.
 */
#ifndef CRNN_DATA_H
#define CRNN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

typedef struct crnn_split {
    const unsigned char *ids; /* (length) view into the corpus, `width` bytes per id */
    int width;                /* 1, 2 or 4 */
    size_t length;
    uint32_t limit;           /* ids must be below this (the vocabulary size) */
} crnn_split;

/* Token i of ids stored `width` bytes each. */
static inline uint32_t crnn_id_at(const unsigned char *ids, int width, size_t i)
{
    if (width == 1)
        return ids[i];
    if (width == 2)
        return ((const uint16_t *)(const void *)ids)[i];
    return ((const uint32_t *)(const void *)ids)[i];
}

typedef struct crnn_splits {
    crnn_split train, val, test;
} crnn_splits;

/* Cuts n tokens into train | val | test with the given fractions. Each
 * non-zero fraction yields at least 2 tokens when the text allows. */
void crnn_split_corpus(const unsigned char *ids, int width, size_t n, uint32_t limit,
                       double val_fraction, double test_fraction, crnn_splits *splits);

/* Length of each stream's piece of a split for B streams. */
size_t crnn_stream_length(const crnn_split *split, int streams);

/* Chunks of T steps per epoch for B streams (0 if the split is too small). */
uint64_t crnn_chunks_per_epoch(const crnn_split *split, int streams, int steps);

/* Fills inputs and targets (T,count) time-major with the chunks of streams
 * first .. first+count-1 of `streams`, each at its cursor (cursors indexed by
 * stream). The caller checked that the chunks fit. Returns 0, or -1 if an id
 * is not below the split's limit (a damaged id file). */
int crnn_stream_chunk(const crnn_split *split, int streams, int first, int count, int steps,
                       const uint64_t *cursors, uint32_t *inputs, uint32_t *targets);

#endif
