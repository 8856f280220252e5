/*
 * export.c: what the public API does with a snapshot file outside training:
 * describe it (crnn_snapshot_read_info) and write a weights-only copy
 * (crnn_export). Both go through snapshot.c; this file never touches bytes.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "snapshot.h"

int crnn_snapshot_read_info(const char *path, crnn_snapshot_info *info, crnn_error *err)
{
    memset(info, 0, sizeof *info);
    crnn_snapshot s;
    int rc = crnn_snapshot_load(path, &s, err);
    if (rc != CRNN_OK)
        return rc;
    info->version_major = s.version_major;
    info->version_minor = s.version_minor;
    info->file_bytes = s.file_bytes;
    info->payload_bytes = s.payload_bytes;
    info->config = s.config;
    info->vocab_size = s.vocab_size;
    info->parameters = s.n_params;
    info->step = s.step;
    info->last_val_loss = s.last_val_loss;
    info->best_val_loss = s.best_val_loss;
    snprintf(info->corpus_path, sizeof info->corpus_path, "%s", s.corpus_path ? s.corpus_path : "");
    info->corpus_bytes = s.corpus_bytes;
    info->corpus_files = s.n_corpus_files ? s.n_corpus_files : 1;
    info->corpus_crc = s.corpus_crc;
    info->resumable = s.adam_m && s.adam_v && s.cursors && s.state && s.has_progress;
    info->weights_dtype = (crnn_weights_dtype)s.weights_dtype;
    info->plan = s.plan;
    if (s.origin_path) {
        snprintf(info->origin_path, sizeof info->origin_path, "%s", s.origin_path);
        info->origin_step = s.origin_step;
        info->origin_vocab_size = s.origin_vocab;
    }
    crnn_snapshot_free(&s);
    return CRNN_OK;
}

int crnn_export(const char *snapshot_path, const char *out_path, crnn_weights_dtype dtype,
                crnn_error *err)
{
    if (dtype < CRNN_WEIGHTS_F32 || dtype > CRNN_WEIGHTS_BF16)
        return crnn_fail(err, CRNN_ERR_ARG, "unknown weight type %d", (int)dtype);
    crnn_snapshot s;
    int rc = crnn_snapshot_load(snapshot_path, &s, err);
    if (rc != CRNN_OK)
        return rc;
    if (dtype == CRNN_WEIGHTS_F16) {
        for (size_t i = 0; i < s.n_params; i++) {
            float w = s.params[i];
            if (!(fabsf(w) <= 65504.0f)) {
                crnn_snapshot_free(&s);
                return crnn_fail(err, CRNN_ERR_ARG,
                                 "weight %zu (%g) is beyond the fp16 range; export as bf16 or "
                                 "fp32 instead",
                                 i, (double)w);
            }
        }
    }
    /* Weights only: drop what only training needs (the struct still owns them). */
    crnn_snapshot out = s;
    out.adam_m = out.adam_v = NULL;
    out.cursors = NULL;
    out.n_cursors = 0;
    out.state = NULL;
    out.n_state = 0;
    out.weights_dtype = dtype;
    rc = crnn_snapshot_save(out_path, &out, err);
    crnn_snapshot_free(&s);
    return rc;
}
