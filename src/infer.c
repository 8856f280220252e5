/*
 * infer.c: one generation step for R streams (infer.h): embedding rows,
 * each layer's two products against its stored weights and the cell's
 * element-wise update, then the output projection.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "half.h"
#include "infer.h"
#include "kernels.h"

static float weight(const crnn_infer *inf, size_t i)
{
    if (inf->dtype == CRNN_WEIGHTS_F16)
        return crnn_f16_to_f32(((const uint16_t *)inf->params)[i]);
    if (inf->dtype == CRNN_WEIGHTS_BF16)
        return crnn_bf16_to_f32(((const uint16_t *)inf->params)[i]);
    return ((const float *)inf->params)[i];
}

/* The address of element i of the weights. */
static const void *at(const crnn_infer *inf, size_t i)
{
    size_t size = inf->dtype == CRNN_WEIGHTS_F32 ? sizeof(float) : sizeof(uint16_t);
    return (const char *)inf->params + i * size;
}

int crnn_infer_init(crnn_infer *inf, const crnn_model_config *config, const void *params,
                    int dtype, int max_rows, crnn_error *err)
{
    memset(inf, 0, sizeof *inf);
    crnn_model m;
    int rc = crnn_model_shape(&m, config, err); /* the layout is model.c's */
    if (rc != CRNN_OK)
        return rc;
    inf->config = *config;
    inf->cell = m.cell;
    inf->layout = m.layout;
    inf->params = params;
    inf->dtype = dtype;
    inf->max_rows = max_rows;
    int L = config->layers, H = config->hidden, E = config->embed, V = config->vocab;
    int G = inf->cell->gates, GB = inf->cell->bias_gates;
    size_t nbias = (size_t)L * GB * H + (size_t)V, R = (size_t)max_rows;
    int width = E > H ? E : H;
    inf->bias = crnn_alloc_floats(nbias);
    inf->x = crnn_alloc_floats(R * width);
    inf->gx = crnn_alloc_floats(R * GB * H);
    inf->gh = crnn_alloc_floats(R * G * H);
    inf->h_new = crnn_alloc_floats(R * H);
    inf->c_new = crnn_alloc_floats(R * H);
    inf->logits = crnn_alloc_floats(R * V);
    if (!inf->bias || !inf->x || !inf->gx || !inf->gh || !inf->h_new || !inf->c_new ||
        !inf->logits) {
        crnn_infer_free(inf);
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for %d sampling streams", max_rows);
    }
    size_t o = 0;
    for (int l = 0; l < L; l++) {
        inf->bias_at[l] = o;
        for (int j = 0; j < GB * H; j++)
            inf->bias[o++] = weight(inf, inf->layout.b[l] + (size_t)j);
    }
    inf->by_at = o;
    for (int j = 0; j < V; j++)
        inf->bias[o++] = weight(inf, inf->layout.by + (size_t)j);
    return CRNN_OK;
}

void crnn_infer_free(crnn_infer *inf)
{
    crnn_free_floats(inf->bias);
    crnn_free_floats(inf->x);
    crnn_free_floats(inf->gx);
    crnn_free_floats(inf->gh);
    crnn_free_floats(inf->h_new);
    crnn_free_floats(inf->c_new);
    crnn_free_floats(inf->logits);
    memset(inf, 0, sizeof *inf);
}

size_t crnn_infer_state_size(const crnn_infer *inf, int rows)
{
    return (size_t)inf->config.layers * (inf->cell->has_cell_state ? 2 : 1) * rows *
           inf->config.hidden;
}

size_t crnn_infer_weight_bytes(const crnn_infer *inf)
{
    return inf->layout.total * (inf->dtype == CRNN_WEIGHTS_F32 ? sizeof(float) : sizeof(uint16_t));
}

static float sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* The cell's update into h_new (and c_new) from gx: x Wx + b + h Wh, or for
 * the GRU x Wx + b (rows of 4H) with gh = h Wh apart, since its reset gate
 * scales the recurrent candidate only. */
static void cell_update(const crnn_infer *inf, int l, int rows, const float *h, const float *c)
{
    int H = inf->config.hidden, cell = inf->config.cell;
    const float *gx = inf->gx, *gh = inf->gh;
    if (cell == CRNN_CELL_LSTM) {
        crnn_lstm_forward_pointwise(rows, H, inf->gx, c, inf->c_new, inf->h_new);
    } else if (cell == CRNN_CELL_GRU) {
        const float *bhn = inf->bias + inf->bias_at[l] + 3 * H;
        for (int r = 0; r < rows; r++) {
            const float *xr = gx + (size_t)r * 4 * H, *hr = gh + (size_t)r * 3 * H;
            for (int j = 0; j < H; j++) {
                float rg = sigmoidf(xr[j] + hr[j]);
                float zg = sigmoidf(xr[H + j] + hr[H + j]);
                float ng = tanhf(xr[2 * H + j] + rg * (hr[2 * H + j] + bhn[j]));
                size_t o = (size_t)r * H + j;
                inf->h_new[o] = (1.0f - zg) * ng + zg * h[o];
            }
        }
    } else {
        size_t n = (size_t)rows * H;
        for (size_t k = 0; k < n; k++) {
            float pre = gx[k];
            inf->h_new[k] = cell == CRNN_CELL_RNN_RELU ? (pre > 0 ? pre : 0.0f) : tanhf(pre);
        }
    }
}

void crnn_infer_step(crnn_infer *inf, const uint32_t *tokens, int rows, float *state)
{
    const crnn_model_config *c = &inf->config;
    int L = c->layers, H = c->hidden, E = c->embed, V = c->vocab;
    int G = inf->cell->gates, GB = inf->cell->bias_gates, S = inf->cell->has_cell_state ? 2 : 1;
    size_t bh = (size_t)rows * H;
    for (int r = 0; r < rows; r++)
        for (int e = 0; e < E; e++)
            inf->x[(size_t)r * E + e] = weight(inf, inf->layout.emb + (size_t)tokens[r] * E + e);
    const float *x = inf->x;
    int in = E;
    for (int l = 0; l < L; l++) {
        float *h = state + (size_t)l * S * bh, *cs = S == 2 ? h + bh : NULL;
        crnn_fill_rows(inf->gx, inf->bias + inf->bias_at[l], rows, GB * H);
        crnn_wgemm(rows, G * H, in, x, in, at(inf, inf->layout.wx[l]), inf->dtype, G * H, inf->gx,
                   GB * H);
        if (c->cell == CRNN_CELL_GRU) {
            memset(inf->gh, 0, sizeof(float) * bh * G);
            crnn_wgemm(rows, G * H, H, h, H, at(inf, inf->layout.wh[l]), inf->dtype, G * H,
                       inf->gh, G * H);
        } else {
            crnn_wgemm(rows, G * H, H, h, H, at(inf, inf->layout.wh[l]), inf->dtype, G * H,
                       inf->gx, GB * H);
        }
        cell_update(inf, l, rows, h, cs);
        memcpy(h, inf->h_new, sizeof(float) * bh);
        if (cs)
            memcpy(cs, inf->c_new, sizeof(float) * bh);
        x = h;
        in = H;
    }
    crnn_fill_rows(inf->logits, inf->bias + inf->by_at, rows, V);
    crnn_wgemm(rows, V, H, x, H, at(inf, inf->layout.wy), inf->dtype, V, inf->logits, V);
}
