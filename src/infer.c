/*
 * infer.c: one generation step for R streams (infer.h): embedding rows,
 * each layer's two products against its stored weights and the cell's
 * element-wise update, then the output projection.
 */
#include <math.h>
#include <omp.h>
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
    inf->bias = crnn_alloc_floats(nbias);
    inf->x = crnn_alloc_floats(R * E);
    inf->gx = crnn_alloc_floats(R * GB * H);
    inf->gh = crnn_alloc_floats(R * G * H);
    inf->h_new = crnn_alloc_floats((size_t)L * R * H);
    inf->c_new = crnn_alloc_floats((size_t)L * R * H);
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

/* Below this many multiply-adds per step, a step runs on one thread: the
 * threads' start and barriers cost more than they save. */
#define INFER_PARALLEL_MIN 50000

/* Units [*u0, *u1) of n for thread t of nt, in whole vectors of 16 where
 * possible, so every thread's columns start on a vector. */
static void units_of(int n, int t, int nt, int *u0, int *u1)
{
    int vectors = (n + 15) / 16;
    *u0 = vectors * t / nt * 16;
    *u1 = vectors * (t + 1) / nt * 16;
    if (*u0 > n)
        *u0 = n;
    if (*u1 > n)
        *u1 = n;
}

/* Layer l's products and cell update for hidden units [u0, u1) of every
 * row: the columns g*H + [u0, u1) of each gate g, so the update of those
 * units needs no other thread's columns. Reads x (rows, in) and the state
 * carried in, writes h_out (and c_out) for those units only. */
static void layer_units(const crnn_infer *inf, int l, int rows, const float *x, int in,
                        const float *h, const float *c, float *h_out, float *c_out, int u0, int u1)
{
    int H = inf->config.hidden, cell = inf->config.cell;
    int G = inf->cell->gates, GB = inf->cell->bias_gates;
    if (u0 >= u1)
        return;
    const float *bias = inf->bias + inf->bias_at[l];
    const void *wx = at(inf, inf->layout.wx[l]), *wh = at(inf, inf->layout.wh[l]);
    float *gx = inf->gx, *gh = inf->gh;
    for (int g = 0; g < G; g++) {
        int j0 = g * H + u0, j1 = g * H + u1;
        for (int r = 0; r < rows; r++)
            memcpy(gx + (size_t)r * GB * H + j0, bias + j0, sizeof(float) * (size_t)(u1 - u0));
        crnn_wgemm_cols(rows, in, x, in, wx, inf->dtype, G * H, gx, GB * H, j0, j1);
        if (cell == CRNN_CELL_GRU) { /* the reset gate scales h Un alone: keep it apart */
            for (int r = 0; r < rows; r++)
                memset(gh + (size_t)r * G * H + j0, 0, sizeof(float) * (size_t)(u1 - u0));
            crnn_wgemm_cols(rows, H, h, H, wh, inf->dtype, G * H, gh, G * H, j0, j1);
        } else {
            crnn_wgemm_cols(rows, H, h, H, wh, inf->dtype, G * H, gx, GB * H, j0, j1);
        }
    }
    if (cell == CRNN_CELL_LSTM) {
        crnn_lstm_forward_units(rows, H, u0, u1, gx, c, c_out, h_out);
    } else if (cell == CRNN_CELL_GRU) {
        const float *bhn = bias + 3 * H;
        for (int r = 0; r < rows; r++) {
            const float *xr = gx + (size_t)r * GB * H, *hr = gh + (size_t)r * G * H;
            for (int j = u0; j < u1; j++) {
                float rg = sigmoidf(xr[j] + hr[j]);
                float zg = sigmoidf(xr[H + j] + hr[H + j]);
                float ng = tanhf(xr[2 * H + j] + rg * (hr[2 * H + j] + bhn[j]));
                size_t o = (size_t)r * H + j;
                h_out[o] = (1.0f - zg) * ng + zg * h[o];
            }
        }
    } else {
        for (int r = 0; r < rows; r++)
            for (int j = u0; j < u1; j++) {
                size_t o = (size_t)r * H + j;
                float pre = gx[o];
                h_out[o] = cell == CRNN_CELL_RNN_RELU ? (pre > 0 ? pre : 0.0f) : tanhf(pre);
            }
    }
}

/* The whole step on thread t of nt; the threads meet once per layer (the
 * next layer reads every unit of this one). On one thread (nt 1, outside any
 * parallel region) the barriers bind to a team of one and cost nothing. */
static void step_on(crnn_infer *inf, const uint32_t *tokens, int rows, float *state, int t, int nt)
{
    const crnn_model_config *c = &inf->config;
    int L = c->layers, H = c->hidden, E = c->embed, V = c->vocab;
    int S = inf->cell->has_cell_state ? 2 : 1;
    size_t bh = (size_t)rows * H;
    if (t == 0)
        for (int r = 0; r < rows; r++)
            for (int e = 0; e < E; e++)
                inf->x[(size_t)r * E + e] =
                    weight(inf, inf->layout.emb + (size_t)tokens[r] * E + e);
#pragma omp barrier
    int u0, u1;
    units_of(H, t, nt, &u0, &u1);
    const float *x = inf->x;
    int in = E;
    for (int l = 0; l < L; l++) {
        const float *h = state + (size_t)l * S * bh, *cs = S == 2 ? h + bh : NULL;
        float *h_out = inf->h_new + (size_t)l * bh;
        float *c_out = S == 2 ? inf->c_new + (size_t)l * bh : NULL;
        layer_units(inf, l, rows, x, in, h, cs, h_out, c_out, u0, u1);
#pragma omp barrier
        x = h_out;
        in = H;
    }
    /* Each thread's units into the carried state (no thread reads it any
     * more in this step), and its columns of the output. */
    if (u0 < u1)
        for (int l = 0; l < L; l++)
            for (int s = 0; s < S; s++)
                for (int r = 0; r < rows; r++) {
                    const float *src = (s ? inf->c_new : inf->h_new) + (size_t)l * bh;
                    memcpy(state + ((size_t)l * S + s) * bh + (size_t)r * H + u0,
                           src + (size_t)r * H + u0, sizeof(float) * (size_t)(u1 - u0));
                }
    int v0, v1;
    units_of(V, t, nt, &v0, &v1);
    if (v0 >= v1)
        return;
    for (int r = 0; r < rows; r++)
        memcpy(inf->logits + (size_t)r * V + v0, inf->bias + inf->by_at + v0,
               sizeof(float) * (size_t)(v1 - v0));
    crnn_wgemm_cols(rows, H, x, H, at(inf, inf->layout.wy), inf->dtype, V, inf->logits, V, v0, v1);
}

void crnn_infer_step(crnn_infer *inf, const uint32_t *tokens, int rows, float *state)
{
    double work = (double)rows * (double)(inf->layout.total - inf->layout.wx[0]);
    int threads = crnn_kernels_get_threads();
    if (work < INFER_PARALLEL_MIN || threads < 2) {
        step_on(inf, tokens, rows, state, 0, 1);
        return;
    }
#pragma omp parallel num_threads(threads)
    step_on(inf, tokens, rows, state, omp_get_thread_num(), omp_get_num_threads());
}
