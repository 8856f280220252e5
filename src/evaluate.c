/*
 * evaluate.c: forward-only loss over a split, and crnn_evaluate_file.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "evaluate.h"
#include "io.h"
#include "load.h"
#include "utf8.h"
#include "vocab.h"

int crnn_eval_streams(const crnn_split *split, int max_streams)
{
    size_t half = split->length / 2;
    return (int)(half < (size_t)max_streams ? half : (size_t)max_streams);
}

int crnn_split_loss(const crnn_model *model, crnn_workspace *ws, const crnn_split *split,
                    int streams, int first, int count, int steps, float *state, uint32_t *inputs,
                    uint32_t *targets, double sums[2])
{
    return crnn_split_loss_part(model, ws, split, streams, first, count, steps, 0, state, inputs,
                                targets, sums, NULL, NULL);
}

int crnn_split_loss_part(const crnn_model *model, crnn_workspace *ws, const crnn_split *split,
                         int streams, int first, int count, int steps, size_t per_stream,
                         float *state, uint32_t *inputs, uint32_t *targets, double sums[2],
                         crnn_split_progress progress, void *user)
{
    if (count <= 0 || streams <= 0)
        return 0;
    size_t len = split->length / (size_t)streams;
    if (per_stream > 0 && per_stream + 1 < len)
        len = per_stream + 1;
    uint64_t total = (uint64_t)count * (len > 0 ? len - 1 : 0);
    memset(state, 0, sizeof(float) * crnn_model_state_size(model, count));
    ws->dropout = 0; /* evaluation sees the whole network */
    uint64_t *cur = crnn_calloc((size_t)streams, sizeof *cur);
    if (!cur)
        return CRNN_ERR_NOMEM;
    for (size_t pos = 0; pos + 1 < len;) {
        int n = (int)(len - 1 - pos < (size_t)steps ? len - 1 - pos : (size_t)steps);
        for (int b = 0; b < streams; b++)
            cur[b] = pos;
        if (crnn_stream_chunk(split, streams, first, count, n, cur, inputs, targets) != 0) {
            free(cur);
            return CRNN_ERR_FORMAT;
        }
        int rc = crnn_model_forward(model, ws, inputs, count, n, state);
        if (rc != CRNN_OK) {
            free(cur);
            return rc;
        }
        sums[0] += crnn_model_loss(model, ws, targets, 1.0);
        sums[1] += (double)count * n;
        crnn_model_final_state(model, ws, state);
        pos += (size_t)n;
        if (progress)
            progress(user, (uint64_t)count * pos, total);
    }
    free(cur);
    return 0;
}

int crnn_evaluate_file(const char *snapshot_path, const char *text_path, double *nats_per_char,
                       uint64_t *characters, crnn_error *err)
{
    enum { STREAMS = 32, STEPS = 128 };
    crnn_model model = {0};
    crnn_workspace ws = {0};
    crnn_vocab vocab = {0};
    crnn_train_config config;
    uint32_t *text = NULL, *inputs = NULL, *targets = NULL;
    float *state = NULL;
    unsigned char *bytes = NULL;
    size_t len = 0, n = 0;
    int rc = crnn_load_model(snapshot_path, &model, &vocab, &config, err);
    if (rc != CRNN_OK)
        return rc;
    if ((rc = crnn_read_file(text_path, (uint64_t)1 << 32, &bytes, &len, err)) != CRNN_OK)
        goto done;
    rc = crnn_utf8_decode(bytes, len, text_path, config.lossy, config.normalize, &text, &n,
                          err);
    if (rc != CRNN_OK)
        goto done;
    int unknown = config.max_vocab > 0 ? crnn_vocab_index(&vocab, CRNN_UNKNOWN_CODE_POINT) : -1;
    if ((rc = crnn_vocab_encode(&vocab, text, n, unknown, err)) != CRNN_OK)
        goto done;
    crnn_split split = {(const unsigned char *)text, 4, n, (uint32_t)vocab.size};
    int streams = crnn_eval_streams(&split, STREAMS);
    if (streams < 1) {
        rc = crnn_fail(err, CRNN_ERR_DATA, "%s is too short to evaluate (at least 2 characters)",
                       text_path);
        goto done;
    }
    state = crnn_alloc_floats(crnn_model_state_size(&model, streams));
    inputs = crnn_calloc((size_t)streams * STEPS, sizeof *inputs);
    targets = crnn_calloc((size_t)streams * STEPS, sizeof *targets);
    if (!state || !inputs || !targets) {
        rc = crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((rc = crnn_workspace_init(&ws, &model, streams, STEPS, 0, NULL, NULL, err)) != CRNN_OK)
        goto done;
    double sums[2] = {0, 0};
    int bad = crnn_split_loss(&model, &ws, &split, streams, 0, streams, STEPS, state, inputs,
                              targets, sums);
    if (bad == -1) { /* the ids were encoded against this vocabulary just above */
        rc = crnn_fail(err, CRNN_ERR_DATA, "the token ids of %s are damaged: one is beyond the "
                       "model's vocabulary of %d characters", text_path, vocab.size);
        goto done;
    }
    if (bad != 0) {
        rc = crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        goto done;
    }
    *nats_per_char = sums[0] / sums[1];
    if (characters)
        *characters = (uint64_t)sums[1];
    rc = isfinite(*nats_per_char) ? CRNN_OK
                                  : crnn_fail(err, CRNN_ERR_NUMERIC, "the loss is not finite");
done:
    crnn_model_free(&model);
    crnn_workspace_free(&ws);
    crnn_vocab_free(&vocab);
    free(bytes);
    free(text);
    free(inputs);
    free(targets);
    crnn_free_floats(state);
    return rc;
}
