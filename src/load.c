/*
 * load.c: builds a model and its vocabulary from a snapshot file (load.h).
 * The snapshot is released before returning: only the weights, copied into
 * the model, and the vocabulary, moved out of it, are kept.
 */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "load.h"
#include "snapshot.h"

int crnn_load_model(const char *path, crnn_model *model, crnn_vocab *vocab,
                    crnn_train_config *config, crnn_error *err)
{
    crnn_snapshot s;
    int rc = crnn_snapshot_load(path, &s, err);
    if (rc != CRNN_OK)
        return rc;
    crnn_model_config mc = {s.vocab_size, s.config.embed, s.config.hidden, s.config.layers,
                            s.config.cell};
    if ((rc = crnn_model_init(model, &mc, err)) != CRNN_OK)
        goto fail;
    if (model->layout.total != s.n_params) {
        rc = crnn_fail(err, CRNN_ERR_FORMAT, "%s is inconsistent: %zu weights for a model that "
                       "has %zu", path, s.n_params, model->layout.total);
        goto fail;
    }
    memcpy(model->params, s.params, sizeof(float) * s.n_params);
    if ((rc = crnn_vocab_adopt(vocab, s.vocab, s.vocab_size, err)) != CRNN_OK)
        goto fail;
    s.vocab = NULL; /* now vocab's */
    if (config)
        *config = s.config;
    crnn_snapshot_free(&s);
    return CRNN_OK;
fail:
    crnn_snapshot_free(&s);
    crnn_model_free(model);
    return rc;
}

int crnn_load_stored(const char *path, crnn_stored_model *m, crnn_error *err)
{
    memset(m, 0, sizeof *m);
    crnn_snapshot s;
    int rc = crnn_snapshot_load_flags(path, CRNN_SNAPSHOT_HALF_AS_IS, &s, err);
    if (rc != CRNN_OK)
        return rc;
    crnn_model shape;
    crnn_model_config mc = {s.vocab_size, s.config.embed, s.config.hidden, s.config.layers,
                            s.config.cell};
    if ((rc = crnn_model_shape(&shape, &mc, err)) != CRNN_OK)
        goto fail;
    if (shape.layout.total != s.n_params) {
        rc = crnn_fail(err, CRNN_ERR_FORMAT, "%s is inconsistent: %zu weights for a model that "
                       "has %zu", path, s.n_params, shape.layout.total);
        goto fail;
    }
    if ((rc = crnn_vocab_adopt(&m->vocab, s.vocab, s.vocab_size, err)) != CRNN_OK)
        goto fail;
    s.vocab = NULL; /* now m's */
    m->config = mc;
    m->n_params = s.n_params;
    if (s.params_half) {
        m->params = s.params_half;
        m->dtype = s.weights_dtype;
        s.params_half = NULL;
    } else {
        m->params = s.params;
        m->dtype = CRNN_WEIGHTS_F32;
        s.params = NULL;
    }
    crnn_snapshot_free(&s);
    return CRNN_OK;
fail:
    crnn_snapshot_free(&s);
    return rc;
}

void crnn_stored_model_free(crnn_stored_model *m)
{
    if (m->dtype == CRNN_WEIGHTS_F32)
        crnn_free_floats(m->params);
    else
        free(m->params);
    crnn_vocab_free(&m->vocab);
    memset(m, 0, sizeof *m);
}
