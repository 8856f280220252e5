/*
 * trainer.c: the GPU trainer of gpu.h. One step, all on the device's stream:
 *
 *   x0 = emb[inputs]                               kernels.cu
 *   y_l = RNN_l(x_l, state_l) for l = 0 .. L-1     cuDNN, one call per layer
 *   (dropout on each y_l, from a hash of the step) kernels.cu
 *   logits = y_top wy; softmax cross-entropy       cuBLAS, kernels.cu
 *   backward of all of it, top down                cuBLAS, cuDNN, kernels.cu
 *   norm, clipping and the optimizer's update      kernels.cu
 *
 * The master weights, gradients and moments are kept in charrnn's flat
 * layout (model.h), so clipping and the optimizer walk one array and the
 * snapshots need no conversion; each step gathers the recurrent weights into
 * cuDNN's weight space and scatters cuDNN's gradients back, through a map
 * built from cudnnGetRNNWeightParams and checked to cover every weight once.
 * The host waits once per step, for the loss and the norm.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "gpu.h"
#include "kernels.h"
#include "model.h"
#include "stack.h"

enum { MAX_ALLOCS = 24 + 3 * CRNN_MAX_LAYERS };

struct crnn_gpu_trainer {
    crnn_model_config config;
    const crnn_cell_ops *cell;
    crnn_layout layout;
    crnn_gpu_settings s;
    int slots;          /* S: 2 (h then c) for the LSTM, else 1 */
    size_t n_params;    /* P */
    int n;              /* N = B*T positions */
    size_t state_n;     /* L*S*B*H */
    int counting;       /* carve() only adds up the bytes */
    uint64_t bytes;     /* what carve() allocated or would allocate */
    uint64_t bytes_weights, bytes_cudnn;
    void *allocs[MAX_ALLOCS];
    int n_allocs;

    cudaStream_t stream;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    crnn_cudnn_stack stack;                           /* the layers' descriptors, weight spaces */
    cudnnRNNDataDescriptor_t xdesc[CRNN_MAX_LAYERS]; /* (T,B,in_l) */
    cudnnRNNDataDescriptor_t ydesc;                   /* (T,B,H) */
    cudnnTensorDescriptor_t hdesc;                    /* (1,B,H), also for c */
    size_t reserve_bytes[CRNN_MAX_LAYERS], workspace_bytes;

    /* device */
    float *params, *grads, *m, *v; /* (P) charrnn's layout */
    float *wspace, *dwspace;       /* (w_n) cuDNN's weight spaces, layer after layer */
    int32_t *wmap;                 /* (w_n) index into params, or -1: a bias cuDNN has and charrnn not */
    float *state, *state_next;     /* (L,S,B,H) carried in, and after the chunk */
    float *x0;                     /* (N,E) */
    float *y[CRNN_MAX_LAYERS];     /* (N,H) each layer's output */
    float *dropped[CRNN_MAX_LAYERS]; /* (N,H) after its dropout (dropout > 0) */
    float *logits;                 /* (N,V), then their gradient */
    float *dh_a, *dh_b;            /* (N,max(E,H)) gradients between layers */
    float *ones;                   /* (N) for the bias's column sums */
    double *row_loss;              /* (N) */
    double *partials;              /* (CRNNK_REDUCE_BLOCKS) */
    double *sums;                  /* (2) loss sum, squared norm */
    uint32_t *ids;                 /* (2N) inputs then targets */
    int32_t *sorted;               /* (V+1+N) positions of each token: offsets then positions */
    int32_t *seq_lengths;          /* (B) all T */
    void *workspace;
    void *reserve[CRNN_MAX_LAYERS];

    /* host, pinned */
    uint32_t *host_ids;            /* (2N) */
    int32_t *host_sorted;          /* (V+1+N) */
    double *host_sums;             /* (2) */
};

/* --------------------------------------------------------------- allocation */

/* Allocates bytes on the device into *p, or only counts them. */
static int carve(crnn_gpu_trainer *g, void *p, size_t bytes, crnn_error *err)
{
    bytes = (bytes + 255) & ~(size_t)255;
    g->bytes += bytes;
    if (g->counting)
        return CRNN_OK;
    if (g->n_allocs == MAX_ALLOCS)
        return crnn_fail(err, CRNN_ERR_DEVICE, "too many device buffers (an internal limit)");
    void *q = NULL;
    CUDA_TRY(cudaMalloc(&q, bytes));
    g->allocs[g->n_allocs++] = q;
    memcpy(p, &q, sizeof q);
    return CRNN_OK;
}

#define CARVE(ptr, count)                                                                   \
    do {                                                                                    \
        int rc_ = carve(g, &(ptr), sizeof *(ptr) * (size_t)(count), err);                   \
        if (rc_ != CRNN_OK)                                                                 \
            return rc_;                                                                     \
    } while (0)

static int carve_all(crnn_gpu_trainer *g, crnn_error *err)
{
    const crnn_model_config *c = &g->config;
    size_t P = g->n_params, N = (size_t)g->n;
    int wide = c->embed > c->hidden ? c->embed : c->hidden;
    g->bytes = 0;
    CARVE(g->params, P);
    CARVE(g->grads, P);
    CARVE(g->m, P);
    CARVE(g->v, P);
    CARVE(g->wspace, g->stack.w_n);
    CARVE(g->dwspace, g->stack.w_n);
    CARVE(g->wmap, g->stack.w_n);
    g->bytes_weights = g->bytes;
    CARVE(g->state, g->state_n);
    CARVE(g->state_next, g->state_n);
    CARVE(g->x0, N * c->embed);
    for (int l = 0; l < c->layers; l++) {
        CARVE(g->y[l], N * c->hidden);
        if (g->s.dropout > 0)
            CARVE(g->dropped[l], N * c->hidden);
    }
    CARVE(g->logits, N * c->vocab);
    CARVE(g->dh_a, N * wide);
    CARVE(g->dh_b, N * wide);
    CARVE(g->ones, N);
    CARVE(g->row_loss, N);
    CARVE(g->partials, CRNNK_REDUCE_BLOCKS);
    CARVE(g->sums, 2);
    CARVE(g->ids, 2 * N);
    CARVE(g->sorted, (size_t)c->vocab + 1 + N);
    CARVE(g->seq_lengths, g->s.rows);
    uint64_t before = g->bytes;
    int rc = carve(g, &g->workspace, g->workspace_bytes, err);
    for (int l = 0; l < c->layers && rc == CRNN_OK; l++)
        rc = carve(g, &g->reserve[l], g->reserve_bytes[l], err);
    g->bytes_cudnn = g->bytes - before;
    return rc;
}

/* ------------------------------------------------------------- descriptors */

/* Handles and descriptors, and the sizes of cuDNN's spaces. */
static int describe(crnn_gpu_trainer *g, crnn_error *err)
{
    const crnn_model_config *c = &g->config;
    int B = g->s.rows, T = g->s.steps, H = c->hidden;
    int opened = crnn_cuda_open(g->s.device, &g->stream, &g->blas, &g->dnn, err);
    if (opened != CRNN_OK)
        return opened;
    CUDNN_TRY(cudnnCreateTensorDescriptor(&g->hdesc));
    int dims[3] = {1, B, H}, strides[3] = {B * H, H, 1};
    CUDNN_TRY(cudnnSetTensorNdDescriptor(g->hdesc, CUDNN_DATA_FLOAT, 3, dims, strides));
    int *lengths = malloc(sizeof *lengths * (size_t)B);
    if (!lengths)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    for (int b = 0; b < B; b++)
        lengths[b] = T;
    cudnnStatus_t st = cudnnCreateRNNDataDescriptor(&g->ydesc);
    if (st == CUDNN_STATUS_SUCCESS)
        st = cudnnSetRNNDataDescriptor(g->ydesc, CUDNN_DATA_FLOAT,
                                       CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, B, H, lengths,
                                       NULL);
    for (int l = 0; l < c->layers && st == CUDNN_STATUS_SUCCESS; l++) {
        int in = l == 0 ? c->embed : H;
        st = cudnnCreateRNNDataDescriptor(&g->xdesc[l]);
        if (st == CUDNN_STATUS_SUCCESS)
            st = cudnnSetRNNDataDescriptor(g->xdesc[l], CUDNN_DATA_FLOAT,
                                           CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, T, B, in,
                                           lengths, NULL);
    }
    free(lengths);
    if (st != CUDNN_STATUS_SUCCESS)
        return crnn_cudnn_fail(err, st, "cudnnSetRNNDataDescriptor");
    int rc = crnn_cudnn_stack_init(&g->stack, g->dnn, c, g->n_params, err);
    if (rc != CRNN_OK)
        return rc;
    g->workspace_bytes = 0;
    for (int l = 0; l < c->layers; l++) {
        size_t work = 0;
        CUDNN_TRY(cudnnGetRNNTempSpaceSizes(g->dnn, g->stack.rnn[l], CUDNN_FWD_MODE_TRAINING,
                                            g->xdesc[l], &work, &g->reserve_bytes[l]));
        if (work > g->workspace_bytes)
            g->workspace_bytes = work;
    }
    return CRNN_OK;
}

/* ------------------------------------------------------------ create, free */

static void release(crnn_gpu_trainer *g)
{
    for (int i = 0; i < g->n_allocs; i++)
        cudaFree(g->allocs[i]);
    g->n_allocs = 0;
    cudaFreeHost(g->host_ids);
    cudaFreeHost(g->host_sorted);
    cudaFreeHost(g->host_sums);
    crnn_cudnn_stack_free(&g->stack);
    for (int l = 0; l < CRNN_MAX_LAYERS; l++)
        if (g->xdesc[l])
            cudnnDestroyRNNDataDescriptor(g->xdesc[l]);
    if (g->ydesc)
        cudnnDestroyRNNDataDescriptor(g->ydesc);
    if (g->hdesc)
        cudnnDestroyTensorDescriptor(g->hdesc);
    crnn_cuda_close(g->stream, g->blas, g->dnn);
}

void crnn_gpu_trainer_free(crnn_gpu_trainer *g)
{
    if (!g)
        return;
    release(g);
    free(g);
}

static int check_settings(const crnn_model *model, const crnn_gpu_settings *s, crnn_error *err)
{
    if (model->layout.total == 0)
        return crnn_fail(err, CRNN_ERR_ARG, "the model has no shape");
    if (s->rows < 1 || s->steps < 1)
        return crnn_fail(err, CRNN_ERR_ARG, "batch and sequence length must be positive");
    if ((int64_t)s->rows * s->steps > (1 << 30))
        return crnn_fail(err, CRNN_ERR_ARG, "batch x sequence length is too large for the GPU "
                         "backend");
    if (s->dropout < 0 || s->dropout >= 1)
        return crnn_fail(err, CRNN_ERR_ARG, "dropout must be in [0, 1)");
    crnn_gpu_info info;
    return crnn_gpu_query(s->device, &info, err);
}

/* The trainer's handles, descriptors and sizes, nothing allocated on the device yet. */
static crnn_gpu_trainer *begin(const crnn_model *model, const crnn_gpu_settings *s,
                               crnn_error *err)
{
    if (check_settings(model, s, err) != CRNN_OK)
        return NULL;
    crnn_gpu_trainer *g = calloc(1, sizeof *g);
    if (!g) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    g->config = model->config;
    g->cell = model->cell;
    g->layout = model->layout;
    g->s = *s;
    g->slots = model->cell->has_cell_state ? 2 : 1;
    g->n_params = model->layout.total;
    g->n = s->rows * s->steps;
    g->state_n = crnn_model_state_size(model, s->rows);
    if (describe(g, err) != CRNN_OK) {
        crnn_gpu_trainer_free(g);
        return NULL;
    }
    return g;
}

static void format_gib(char *out, size_t size, uint64_t bytes)
{
    snprintf(out, size, "%.2f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
}

int crnn_gpu_trainer_bytes(const crnn_model *model, const crnn_gpu_settings *s, uint64_t *bytes,
                           crnn_error *err)
{
    crnn_gpu_trainer *g = begin(model, s, err);
    if (!g)
        return err ? err->status : CRNN_ERR_DEVICE;
    g->counting = 1;
    int rc = carve_all(g, err);
    *bytes = g->bytes;
    crnn_gpu_trainer_free(g);
    return rc;
}

/* The host's pinned staging, the constant device arrays and the weight map. */
static int prepare(crnn_gpu_trainer *g, crnn_error *err)
{
    size_t N = (size_t)g->n, V = (size_t)g->config.vocab;
    CUDA_TRY(cudaMallocHost((void **)&g->host_ids, sizeof *g->host_ids * 2 * N));
    CUDA_TRY(cudaMallocHost((void **)&g->host_sorted, sizeof *g->host_sorted * (V + 1 + N)));
    CUDA_TRY(cudaMallocHost((void **)&g->host_sums, sizeof *g->host_sums * 2));
    size_t host_n = g->stack.w_n > N ? g->stack.w_n : N;
    int32_t *map = malloc(sizeof *map * (host_n > (size_t)g->s.rows ? host_n : (size_t)g->s.rows));
    if (!map)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    int rc = CRNN_OK;
    float *ones = (float *)map; /* the same host buffer, used in turn */
    for (size_t i = 0; i < N; i++)
        ones[i] = 1.0f;
    cudaError_t e = cudaMemcpy(g->ones, ones, sizeof(float) * N, cudaMemcpyHostToDevice);
    for (int b = 0; b < g->s.rows && e == cudaSuccess; b++)
        map[b] = g->s.steps;
    if (e == cudaSuccess)
        e = cudaMemcpy(g->seq_lengths, map, sizeof *map * (size_t)g->s.rows,
                       cudaMemcpyHostToDevice);
    if (e != cudaSuccess)
        rc = crnn_cuda_fail(err, (int)e, "cudaMemcpy");
    if (rc == CRNN_OK)
        rc = crnn_cudnn_stack_map(&g->stack, g->dnn, &g->config, &g->layout,
                                  g->cell->gates, g->wspace, map, err);
    if (rc == CRNN_OK && (e = cudaMemcpy(g->wmap, map, sizeof *map * g->stack.w_n,
                                         cudaMemcpyHostToDevice)) != cudaSuccess)
        rc = crnn_cuda_fail(err, (int)e, "cudaMemcpy");
    free(map);
    /* The copies above ran on the legacy stream, which does not order the
     * trainer's own (non-blocking) stream: wait for them. (The weight space
     * needs no zeroing: every gather writes all of it.) */
    if (rc == CRNN_OK && (e = cudaDeviceSynchronize()) != cudaSuccess)
        rc = crnn_cuda_fail(err, (int)e, "cudaDeviceSynchronize");
    return rc;
}

crnn_gpu_trainer *crnn_gpu_trainer_create(const crnn_model *model, const crnn_gpu_settings *s,
                                          crnn_error *err)
{
    crnn_gpu_trainer *g = begin(model, s, err);
    if (!g)
        return NULL;
    g->counting = 1;
    int rc = carve_all(g, err);
    crnn_gpu_info info;
    if (rc == CRNN_OK)
        rc = crnn_gpu_query(s->device, &info, err);
    if (rc == CRNN_OK && g->bytes + (64u << 20) > info.free_bytes) {
        char need[32], have[32], w[32], a[32], d[32];
        format_gib(need, sizeof need, g->bytes);
        format_gib(have, sizeof have, info.free_bytes);
        format_gib(w, sizeof w, g->bytes_weights);
        format_gib(d, sizeof d, g->bytes_cudnn);
        format_gib(a, sizeof a, g->bytes - g->bytes_weights - g->bytes_cudnn);
        rc = crnn_fail(err, CRNN_ERR_NOMEM, "this model needs about %s on cuda:%d (weights, "
                       "gradients and moments %s, activations %s, cuDNN's spaces %s) but %s is "
                       "free there; use smaller --hidden, --layers, --batch or --seq",
                       need, s->device, w, a, d, have);
    }
    if (rc == CRNN_OK) {
        g->counting = 0;
        rc = carve_all(g, err);
    }
    if (rc == CRNN_OK)
        rc = prepare(g, err);
    if (rc != CRNN_OK) {
        crnn_gpu_trainer_free(g);
        return NULL;
    }
    return g;
}

/* ------------------------------------------------------------- transfers */

static int finish(crnn_gpu_trainer *g, crnn_error *err)
{
    CUDA_TRY(cudaStreamSynchronize(g->stream));
    return CRNN_OK;
}

int crnn_gpu_trainer_put(crnn_gpu_trainer *g, const float *params, const float *m,
                         const float *v, const float *state, crnn_error *err)
{
    CUDA_TRY(cudaSetDevice(g->s.device)); /* the current device is per thread */
    size_t p = sizeof(float) * g->n_params;
    CUDA_TRY(cudaMemcpyAsync(g->params, params, p, cudaMemcpyHostToDevice, g->stream));
    CUDA_TRY(cudaMemcpyAsync(g->m, m, p, cudaMemcpyHostToDevice, g->stream));
    CUDA_TRY(cudaMemcpyAsync(g->v, v, p, cudaMemcpyHostToDevice, g->stream));
    CUDA_TRY(cudaMemcpyAsync(g->state, state, sizeof(float) * g->state_n, cudaMemcpyHostToDevice,
                             g->stream));
    KERNEL_TRY(crnnk_gather(g->stream, g->params, g->wmap, g->stack.w_n, g->wspace));
    return finish(g, err);
}

int crnn_gpu_trainer_get(crnn_gpu_trainer *g, float *params, float *m, float *v, float *state,
                         crnn_error *err)
{
    CUDA_TRY(cudaSetDevice(g->s.device)); /* the current device is per thread */
    size_t p = sizeof(float) * g->n_params;
    if (params)
        CUDA_TRY(cudaMemcpyAsync(params, g->params, p, cudaMemcpyDeviceToHost, g->stream));
    if (m)
        CUDA_TRY(cudaMemcpyAsync(m, g->m, p, cudaMemcpyDeviceToHost, g->stream));
    if (v)
        CUDA_TRY(cudaMemcpyAsync(v, g->v, p, cudaMemcpyDeviceToHost, g->stream));
    if (state)
        CUDA_TRY(cudaMemcpyAsync(state, g->state, sizeof(float) * g->state_n,
                                 cudaMemcpyDeviceToHost, g->stream));
    return finish(g, err);
}

int crnn_gpu_trainer_zero_state(crnn_gpu_trainer *g, crnn_error *err)
{
    CUDA_TRY(cudaSetDevice(g->s.device)); /* the current device is per thread */
    CUDA_TRY(cudaMemsetAsync(g->state, 0, sizeof(float) * g->state_n, g->stream));
    return CRNN_OK;
}

const float *crnn_gpu_trainer_params(const crnn_gpu_trainer *g)
{
    return g->params;
}

/* Copies the chunk's ids to the device with the positions of every token
 * (a counting sort, ascending), for the embedding's gradient. */
static int send_chunk(crnn_gpu_trainer *g, const uint32_t *inputs, const uint32_t *targets,
                      crnn_error *err)
{
    CUDA_TRY(cudaSetDevice(g->s.device)); /* the current device is per thread */
    int N = g->n, V = g->config.vocab;
    int32_t *offsets = g->host_sorted, *positions = g->host_sorted + V + 1;
    memset(offsets, 0, sizeof *offsets * (size_t)(V + 1));
    for (int i = 0; i < N; i++) {
        if (inputs[i] >= (uint32_t)V || targets[i] >= (uint32_t)V)
            return crnn_fail(err, CRNN_ERR_FORMAT, "a token id is outside the vocabulary");
        offsets[inputs[i] + 1]++;
    }
    for (int v = 0; v < V; v++)
        offsets[v + 1] += offsets[v];
    /* Place each position at its token's next free slot (offsets[v] moves on,
     * then is restored below from the counts' prefix). */
    for (int i = 0; i < N; i++)
        positions[offsets[inputs[i]]++] = i;
    for (int v = V; v > 0; v--)
        offsets[v] = offsets[v - 1];
    offsets[0] = 0;
    memcpy(g->host_ids, inputs, sizeof *inputs * (size_t)N);
    memcpy(g->host_ids + N, targets, sizeof *targets * (size_t)N);
    CUDA_TRY(cudaMemcpyAsync(g->ids, g->host_ids, sizeof *g->ids * 2 * (size_t)N,
                             cudaMemcpyHostToDevice, g->stream));
    CUDA_TRY(cudaMemcpyAsync(g->sorted, g->host_sorted,
                             sizeof *g->sorted * ((size_t)V + 1 + (size_t)N),
                             cudaMemcpyHostToDevice, g->stream));
    return CRNN_OK;
}

/* ------------------------------------------------------------------- step */

static const float *layer_input(const crnn_gpu_trainer *g, int l)
{
    if (l == 0)
        return g->x0;
    return g->s.dropout > 0 ? g->dropped[l - 1] : g->y[l - 1];
}

static float *state_h(const crnn_gpu_trainer *g, float *state, int l)
{
    return state + (size_t)l * g->slots * g->s.rows * g->config.hidden;
}

static float *state_c(const crnn_gpu_trainer *g, float *state, int l)
{
    return g->slots == 2 ? state_h(g, state, l) + (size_t)g->s.rows * g->config.hidden : NULL;
}

static int forward(crnn_gpu_trainer *g, uint64_t step, float scale, crnn_error *err)
{
    const crnn_model_config *c = &g->config;
    const crnn_layout *lay = &g->layout;
    size_t N = (size_t)g->n, NH = N * (size_t)c->hidden;
    KERNEL_TRY(crnnk_embed(g->stream, g->params + lay->emb, g->ids, g->n, c->embed, g->x0));
    for (int l = 0; l < c->layers; l++) {
        CUDNN_TRY(cudnnRNNForward(g->dnn, g->stack.rnn[l], CUDNN_FWD_MODE_TRAINING, g->seq_lengths,
                                  g->xdesc[l], layer_input(g, l), g->ydesc, g->y[l], g->hdesc,
                                  state_h(g, g->state, l), state_h(g, g->state_next, l),
                                  g->hdesc, state_c(g, g->state, l),
                                  state_c(g, g->state_next, l), g->stack.wspace_bytes[l],
                                  g->wspace + g->stack.woff[l], g->workspace_bytes, g->workspace,
                                  g->reserve_bytes[l], g->reserve[l]));
        if (g->s.dropout > 0)
            KERNEL_TRY(crnnk_dropout(g->stream, g->y[l], g->dropped[l], NH,
                                     crnn_dropout_key(g->s.seed, step, l), g->s.dropout));
    }
    const float *top = g->s.dropout > 0 ? g->dropped[c->layers - 1] : g->y[c->layers - 1];
    const float one = 1.0f, zero = 0.0f;
    /* logits (N,V) = top (N,H) wy (H,V): column-major, logits^T = wy^T top^T. */
    CUBLAS_TRY(cublasSgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_N, c->vocab, g->n, c->hidden, &one,
                           g->params + lay->wy, c->vocab, top, c->hidden, &zero, g->logits,
                           c->vocab));
    KERNEL_TRY(crnnk_softmax_xent(g->stream, g->logits, g->params + lay->by, g->ids + N, g->n,
                                  c->vocab, scale, g->row_loss));
    KERNEL_TRY(crnnk_sum(g->stream, g->row_loss, N, g->partials, g->sums));
    return CRNN_OK;
}

/* The gradient of the mean loss into grads (all of it written) and its
 * squared norm into sums[1]. */
static int backward(crnn_gpu_trainer *g, uint64_t step, crnn_error *err)
{
    const crnn_model_config *c = &g->config;
    const crnn_layout *lay = &g->layout;
    size_t NH = (size_t)g->n * (size_t)c->hidden;
    int L = c->layers;
    const float *top = g->s.dropout > 0 ? g->dropped[L - 1] : g->y[L - 1];
    const float one = 1.0f, zero = 0.0f;
    /* dwy (H,V) = top^T dlogits; dby = column sums; dtop (N,H) = dlogits wy^T. */
    CUBLAS_TRY(cublasSgemm(g->blas, CUBLAS_OP_N, CUBLAS_OP_T, c->vocab, c->hidden, g->n, &one,
                           g->logits, c->vocab, top, c->hidden, &zero, g->grads + lay->wy,
                           c->vocab));
    CUBLAS_TRY(cublasSgemv(g->blas, CUBLAS_OP_N, c->vocab, g->n, &one, g->logits, c->vocab,
                           g->ones, 1, &zero, g->grads + lay->by, 1));
    float *dh = g->dh_a, *dbelow = g->dh_b;
    CUBLAS_TRY(cublasSgemm(g->blas, CUBLAS_OP_T, CUBLAS_OP_N, c->hidden, g->n, c->vocab, &one,
                           g->params + lay->wy, c->vocab, g->logits, c->vocab, &zero, dh,
                           c->hidden));
    if (g->s.dropout > 0)
        KERNEL_TRY(crnnk_dropout(g->stream, dh, dh, NH, crnn_dropout_key(g->s.seed, step, L - 1),
                                 g->s.dropout));
    for (int l = L - 1; l >= 0; l--) {
        /* Nothing flows in from beyond the chunk (dhy, dcy NULL), and the
         * carried-in state's gradient is not needed (dhx, dcx NULL). */
        CUDNN_TRY(cudnnRNNBackwardData_v8(g->dnn, g->stack.rnn[l], g->seq_lengths, g->ydesc, g->y[l], dh,
                                          g->xdesc[l], dbelow, g->hdesc, state_h(g, g->state, l),
                                          NULL, NULL, g->hdesc, state_c(g, g->state, l), NULL,
                                          NULL, g->stack.wspace_bytes[l], g->wspace + g->stack.woff[l],
                                          g->workspace_bytes, g->workspace, g->reserve_bytes[l],
                                          g->reserve[l]));
        CUDNN_TRY(cudnnRNNBackwardWeights_v8(g->dnn, g->stack.rnn[l], CUDNN_WGRAD_MODE_SET,
                                             g->seq_lengths, g->xdesc[l], layer_input(g, l),
                                             g->hdesc, state_h(g, g->state, l), g->ydesc, g->y[l],
                                             g->stack.wspace_bytes[l], g->dwspace + g->stack.woff[l],
                                             g->workspace_bytes, g->workspace,
                                             g->reserve_bytes[l], g->reserve[l]));
        if (l > 0 && g->s.dropout > 0)
            KERNEL_TRY(crnnk_dropout(g->stream, dbelow, dbelow, NH,
                                     crnn_dropout_key(g->s.seed, step, l - 1), g->s.dropout));
        float *t = dh;
        dh = dbelow;
        dbelow = t;
    }
    /* dh: the gradient of the embedded input (N,E). */
    KERNEL_TRY(crnnk_embed_grad(g->stream, dh, g->sorted, g->sorted + c->vocab + 1, c->vocab,
                                c->embed, g->grads + lay->emb));
    KERNEL_TRY(crnnk_scatter(g->stream, g->dwspace, g->wmap, g->stack.w_n, g->grads));
    KERNEL_TRY(crnnk_sumsq(g->stream, g->grads, g->n_params, g->partials, g->sums + 1));
    return CRNN_OK;
}

/* Reads the two sums back: the mean loss and the norm. */
static int read_sums(crnn_gpu_trainer *g, double *loss, double *norm, crnn_error *err)
{
    CUDA_TRY(cudaMemcpyAsync(g->host_sums, g->sums, sizeof(double) * 2, cudaMemcpyDeviceToHost,
                             g->stream));
    int rc = finish(g, err);
    if (rc != CRNN_OK)
        return rc;
    *loss = g->host_sums[0] / (double)g->n;
    if (norm)
        *norm = sqrt(g->host_sums[1]);
    return CRNN_OK;
}

int crnn_gpu_trainer_gradients(crnn_gpu_trainer *g, const uint32_t *inputs,
                               const uint32_t *targets, uint64_t step, double *loss,
                               float *grads, crnn_error *err)
{
    int rc = send_chunk(g, inputs, targets, err);
    if (rc == CRNN_OK)
        rc = forward(g, step, (float)(1.0 / g->n), err);
    if (rc == CRNN_OK)
        rc = backward(g, step, err);
    if (rc == CRNN_OK && grads) {
        cudaError_t e = cudaMemcpyAsync(grads, g->grads, sizeof(float) * g->n_params,
                                        cudaMemcpyDeviceToHost, g->stream);
        if (e != cudaSuccess)
            rc = crnn_cuda_fail(err, (int)e, "cudaMemcpyAsync");
    }
    double l = NAN;
    if (rc == CRNN_OK)
        rc = read_sums(g, &l, NULL, err);
    if (loss)
        *loss = l;
    return rc;
}

int crnn_gpu_trainer_step(crnn_gpu_trainer *g, const uint32_t *inputs, const uint32_t *targets,
                          uint64_t step, uint64_t update, float lr, double *loss, double *norm,
                          crnn_error *err)
{
    int rc = send_chunk(g, inputs, targets, err);
    if (rc == CRNN_OK)
        rc = forward(g, step, (float)(1.0 / g->n), err);
    if (rc == CRNN_OK)
        rc = backward(g, step, err);
    if (rc != CRNN_OK)
        return rc;
    /* optim.c's constants, in double as there. */
    const double b1 = 0.9f, b2 = 0.999f; /* optim.c's floats, widened */
    double bc1 = 1.0 - pow(b1, (double)update), bc2 = 1.0 - pow(b2, (double)update);
    crnn_update_consts k = {
        .kind = (int)g->s.optimizer,
        .lr = lr,
        .decay_keep = g->s.weight_decay > 0 ? 1.0f - lr * g->s.weight_decay : 1.0f,
        .step_size = (float)(lr * sqrt(bc2) / bc1),
        .eps_hat = (float)((double)1e-8f * sqrt(bc2)),
    };
    KERNEL_TRY(crnnk_update(g->stream, &k, g->s.clip, g->sums, g->sums + 1, g->params, g->grads,
                            g->m, g->v, g->n_params));
    KERNEL_TRY(crnnk_gather(g->stream, g->params, g->wmap, g->stack.w_n, g->wspace));
    double l = NAN, n = NAN;
    rc = read_sums(g, &l, &n, err);
    if (loss)
        *loss = l;
    if (norm)
        *norm = n;
    if (rc != CRNN_OK)
        return rc;
    if (!isfinite(l) || !isfinite(n))
        return crnn_fail(err, CRNN_ERR_NUMERIC, "the %s became %s on the GPU; nothing was "
                         "updated", isfinite(l) ? "gradients" : "training loss",
                         isnan(isfinite(l) ? n : l) ? "NaN" : "infinite");
    float *t = g->state; /* the state after this chunk is carried into the next */
    g->state = g->state_next;
    g->state_next = t;
    return CRNN_OK;
}
