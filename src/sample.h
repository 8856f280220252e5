/*
 * sample.h: what the batch-1 sampler and the batched generator share: the
 * draw of the next character under temperature, top-k and top-p, the check
 * of those options, and the priming text turned into tokens.
 */
#ifndef CRNN_SAMPLE_H
#define CRNN_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"
#include "rng.h"
#include "vocab.h"

/* A token and its weight, for sorting by probability. */
typedef struct crnn_ranked {
    float p;
    uint32_t token;
} crnn_ranked;

/* CRNN_ERR_ARG unless temperature >= 0 (finite), top-k >= 0, 0 < top-p <= 1. */
int crnn_sample_check(const crnn_sample_options *options, crnn_error *err);

/* Draws a token from logits (V) under the options with rng (which it
 * advances once, unless the draw is an argmax). probs (V) and order (V) are
 * scratch. */
uint32_t crnn_sample_draw(const float *logits, int vocab, const crnn_sample_options *options,
                          crnn_rng *rng, float *probs, crnn_ranked *order);

/* Decodes UTF-8 priming text into tokens of vocab (*tokens: malloc'd, n of
 * them; NULL for no text). CRNN_ERR_UTF8, or CRNN_ERR_VOCAB naming the
 * first character the vocabulary lacks. */
int crnn_prime_tokens(const crnn_vocab *vocab, const char *utf8, size_t len, uint32_t **tokens,
                      size_t *n, crnn_error *err);

/* The token a stream starts from when nothing primes it: a line break, or
 * the first symbol of a vocabulary without one. */
uint32_t crnn_start_token(const crnn_vocab *vocab);

#endif
