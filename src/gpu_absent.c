/*
 * gpu_absent.c: gpu.h in a build without CUDA (meson setup -Dcuda=disabled,
 * or no CUDA toolkit found): no device, and every request for one is refused
 * with a message that says how to get one.
 */
#include <stdio.h>

#include "common.h"
#include "gpu.h"

static int not_built(crnn_error *err)
{
    return crnn_fail(err, CRNN_ERR_ARG, "this charrnn was built without CUDA (install the CUDA "
                     "toolkit with cuDNN and cuBLAS, then rebuild with meson setup -Dcuda=enabled)");
}

int crnn_gpu_built(void)
{
    return 0;
}

int crnn_gpu_count(void)
{
    return 0;
}

int crnn_gpu_query(int index, crnn_gpu_info *info, crnn_error *err)
{
    (void)index;
    (void)info;
    return not_built(err);
}

void crnn_gpu_describe(const crnn_gpu_info *info, char *out, size_t size)
{
    (void)info;
    snprintf(out, size, "no GPU");
}

int crnn_gpu_trainer_bytes(const struct crnn_model *model, const crnn_gpu_settings *s,
                           uint64_t *bytes, crnn_error *err)
{
    (void)model;
    (void)s;
    *bytes = 0;
    return not_built(err);
}

crnn_gpu_trainer *crnn_gpu_trainer_create(const struct crnn_model *model,
                                          const crnn_gpu_settings *s, crnn_error *err)
{
    (void)model;
    (void)s;
    not_built(err);
    return NULL;
}

void crnn_gpu_trainer_free(crnn_gpu_trainer *g)
{
    (void)g;
}

int crnn_gpu_trainer_put(crnn_gpu_trainer *g, const float *params, const float *m,
                         const float *v, const float *state, crnn_error *err)
{
    (void)g, (void)params, (void)m, (void)v, (void)state;
    return not_built(err);
}

int crnn_gpu_trainer_get(crnn_gpu_trainer *g, float *params, float *m, float *v, float *state,
                         crnn_error *err)
{
    (void)g, (void)params, (void)m, (void)v, (void)state;
    return not_built(err);
}

int crnn_gpu_trainer_zero_state(crnn_gpu_trainer *g, crnn_error *err)
{
    (void)g;
    return not_built(err);
}

int crnn_gpu_trainer_gradients(crnn_gpu_trainer *g, const uint32_t *inputs,
                               const uint32_t *targets, uint64_t step, double *loss,
                               float *grads, crnn_error *err)
{
    (void)g, (void)inputs, (void)targets, (void)step, (void)loss, (void)grads;
    return not_built(err);
}

int crnn_gpu_trainer_step(crnn_gpu_trainer *g, const uint32_t *inputs, const uint32_t *targets,
                          uint64_t step, uint64_t update, float lr, double *loss, double *norm,
                          crnn_error *err)
{
    (void)g, (void)inputs, (void)targets, (void)step, (void)update, (void)lr, (void)loss,
        (void)norm;
    return not_built(err);
}

const float *crnn_gpu_trainer_params(const crnn_gpu_trainer *g)
{
    (void)g;
    return NULL;
}

crnn_gpu_scorer *crnn_gpu_scorer_create(const struct crnn_model *model, int device, int rows,
                                        int steps, crnn_error *err)
{
    (void)model, (void)device, (void)rows, (void)steps;
    not_built(err);
    return NULL;
}

void crnn_gpu_scorer_free(crnn_gpu_scorer *sc)
{
    (void)sc;
}

int crnn_gpu_scorer_put(crnn_gpu_scorer *sc, const float *params, crnn_error *err)
{
    (void)sc, (void)params;
    return not_built(err);
}

int crnn_gpu_scorer_take(crnn_gpu_scorer *sc, const crnn_gpu_trainer *g, crnn_error *err)
{
    (void)sc, (void)g;
    return not_built(err);
}

int crnn_gpu_scorer_zero_state(crnn_gpu_scorer *sc, crnn_error *err)
{
    (void)sc;
    return not_built(err);
}

int crnn_gpu_scorer_chunk(crnn_gpu_scorer *sc, const uint32_t *inputs, const uint32_t *targets,
                          int rows, int steps, double *loss, crnn_error *err)
{
    (void)sc, (void)inputs, (void)targets, (void)rows, (void)steps, (void)loss;
    return not_built(err);
}

int crnn_gpu_scorer_logits(crnn_gpu_scorer *sc, const uint32_t *tokens, int rows, float *logits,
                           crnn_error *err)
{
    (void)sc, (void)tokens, (void)rows, (void)logits;
    return not_built(err);
}

int crnn_gpu_scorer_get_state(crnn_gpu_scorer *sc, float *state, int rows, crnn_error *err)
{
    (void)sc, (void)state, (void)rows;
    return not_built(err);
}

int crnn_gpu_scorer_put_state(crnn_gpu_scorer *sc, const float *state, int rows,
                              crnn_error *err)
{
    (void)sc, (void)state, (void)rows;
    return not_built(err);
}
