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

/* A model's weights as stored in its file, for generation: fp32, or the
 * fp16 / bf16 bits of an exported model, not widened. */
typedef struct crnn_stored_model {
    crnn_model_config config;
    crnn_vocab vocab;
    void *params;     /* (n_params) owned: floats, or uint16_t bits */
    int dtype;        /* crnn_weights_dtype */
    size_t n_params;
} crnn_stored_model;

/* Reads and validates the snapshot at path into *m (zeroed first); the
 * caller frees it with crnn_stored_model_free. On failure *m is empty. */
int crnn_load_stored(const char *path, crnn_stored_model *m, crnn_error *err);
void crnn_stored_model_free(crnn_stored_model *m);

#endif
