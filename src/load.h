/*
 * load.h: a snapshot's model and vocabulary, ready to run: what the sampler
 * and crnn_evaluate_file start from. The bytes are snapshot.c's and the model
 * is model.c's; this only joins them. Training resumes through the trainer,
 * not through here (it needs the optimizer state and streams as well).
 */
#ifndef CRNN_LOAD_H
#define CRNN_LOAD_H

#include "charrnn.h"
#include "model.h"
#include "vocab.h"

/* Reads and validates the snapshot at path and builds its model (weights
 * copied in), its vocabulary and, if config is not NULL, the configuration it
 * was trained with (for the tokenizer settings). model and vocab must be
 * zeroed or freed. On success the caller frees them (crnn_model_free,
 * crnn_vocab_free); on failure they are left empty, and CRNN_ERR_FORMAT if the
 * weights do not fit the model the snapshot describes. */
int crnn_load_model(const char *path, crnn_model *model, crnn_vocab *vocab,
                    crnn_train_config *config, crnn_error *err);

#endif
