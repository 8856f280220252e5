/*
 * infer.h: one step of the model for generation: R streams each take one
 * token and give the logits of their next one. Reads the weights where they
 * are, in fp32, fp16 or bf16 (an exported model is not widened at load), with
 * crnn_wgemm's products, so a stream's result does not depend on the other
 * streams stepped with it. No dropout, no backward, nothing kept per step.
 * The sampler (sample.c) and the batched generator (generate.c) both step
 * through here; training and evaluation go through model.c's engines.
 */
#ifndef CRNN_INFER_H
#define CRNN_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"
#include "model.h"

typedef struct crnn_infer {
    crnn_model_config config;
    const crnn_cell_ops *cell;
    crnn_layout layout;    /* offsets into params, in elements */
    const void *params;    /* (layout.total) weights as crnn_weights_dtype; not owned */
    int dtype;
    float *bias;           /* fp32 copies: each layer's b (bias_gates*H), then by (V) */
    size_t bias_at[CRNN_MAX_LAYERS], by_at;
    int max_rows;
    float *x;              /* (R, E) embedded input of layer 0 */
    float *gx;             /* (R, G'*H) x Wx + b */
    float *gh;             /* (R, G*H) h Wh */
    float *h_new, *c_new;  /* (L, R, H) each layer's output, then copied into the state */
    float *logits;         /* (R, V) after crnn_infer_step */
} crnn_infer;

/* Prepares stepping up to max_rows streams of a model whose weights are
 * params (layout of model.h, element type dtype). params must outlive inf. */
int crnn_infer_init(crnn_infer *inf, const crnn_model_config *config, const void *params,
                    int dtype, int max_rows, crnn_error *err);
void crnn_infer_free(crnn_infer *inf);

/* Floats of carried state for R streams: (L, S, R, H), as model.h's. */
size_t crnn_infer_state_size(const crnn_infer *inf, int rows);

/* Feeds tokens (rows of them, < V) to the streams whose state is `state`
 * (L,S,rows,H), updated in place; leaves the logits in inf->logits (rows, V). */
void crnn_infer_step(crnn_infer *inf, const uint32_t *tokens, int rows, float *state);

/* Bytes of the weights as stored. */
size_t crnn_infer_weight_bytes(const crnn_infer *inf);

#endif
