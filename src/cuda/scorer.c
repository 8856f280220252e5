/*
 * scorer.c: the GPU scorer of gpu.h, forward only. For each chunk of up to
 * `rows` streams x `steps` steps:
 *
 *   x0 = emb[inputs]; y_l = RNN_l(x_{l-1}, state_l) (cuDNN, inference mode);
 *   logits = y_top wy (cuBLAS); the summed -log p(target) (kernels.cu)
 *
 * with the state after the chunk carried into the next. It keeps its own
 * copy of the weights (from the host, or from a trainer on the same device
 * without leaving it) and one sum read back per chunk.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "gpu.h"
#include "kernels.h"
#include "model.h"
#include "stack.h"

enum { SCORER_ALLOCS = 16 };

struct crnn_gpu_scorer {
    crnn_model_config config;
    crnn_layout layout;
    int gates, slots;  /* G; S: 2 (h then c) for the LSTM, else 1 */
    int device, rows, steps;
    size_t n_params;

    cudaStream_t stream;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    crnn_cudnn_stack stack;
    cudnnRNNDataDescriptor_t xdesc[CRNN_MAX_LAYERS], ydesc;
    cudnnTensorDescriptor_t hdesc;
    int shape_rows, shape_steps; /* what the data descriptors describe now (0: nothing) */
    size_t workspace_bytes;      /* allocated for rows x steps */
    void *allocs[SCORER_ALLOCS];
    int n_allocs;

    /* device */
    float *params;              /* (P) charrnn's layout */
    float *wspace;              /* (w_n) cuDNN's weight spaces */
    int32_t *wmap;              /* (w_n) */
    float *state, *state_next;  /* (L,S,rows,H) */
    float *x0;                  /* (N,E) */
    float *y[2];                /* (N,H) layer outputs, in turn */
    float *logits;              /* (N,V) */
    double *row_loss, *partials, *sum;
    uint32_t *ids;              /* (2N) inputs then targets */
    int32_t *seq_lengths;       /* (rows) */
    void *workspace;

    /* host, pinned */
    uint32_t *host_ids;         /* (2N) */
    float *host_logits;         /* (rows,V), made by the first sampling step */
    int32_t *host_lengths;      /* (rows) */
    double *host_sum;
};

static int alloc(crnn_gpu_scorer *sc, void *p, size_t bytes, crnn_error *err)
{
    if (sc->n_allocs == SCORER_ALLOCS)
        return crnn_fail(err, CRNN_ERR_DEVICE, "too many device buffers (an internal limit)");
    void *q = NULL;
    CUDA_TRY(cudaMalloc(&q, bytes > 0 ? bytes : 1));
    sc->allocs[sc->n_allocs++] = q;
    memcpy(p, &q, sizeof q);
    return CRNN_OK;
}

#define ALLOC(ptr, count)                                                                   \
    do {                                                                                    \
        int rc_ = alloc(sc, &(ptr), sizeof *(ptr) * (size_t)(count), err);                  \
        if (rc_ != CRNN_OK)                                                                 \
            return rc_;                                                                     \
    } while (0)

void crnn_gpu_scorer_free(crnn_gpu_scorer *sc)
{
    if (!sc)
        return;
    for (int i = 0; i < sc->n_allocs; i++)
        cudaFree(sc->allocs[i]);
    cudaFreeHost(sc->host_ids);
    cudaFreeHost(sc->host_logits);
    cudaFreeHost(sc->host_lengths);
    cudaFreeHost(sc->host_sum);
    crnn_cudnn_stack_free(&sc->stack);
    for (int l = 0; l < CRNN_MAX_LAYERS; l++)
        if (sc->xdesc[l])
            cudnnDestroyRNNDataDescriptor(sc->xdesc[l]);
    if (sc->ydesc)
        cudnnDestroyRNNDataDescriptor(sc->ydesc);
    if (sc->hdesc)
        cudnnDestroyTensorDescriptor(sc->hdesc);
    crnn_cuda_close(sc->stream, sc->blas, sc->dnn);
    free(sc);
}

/* Describes chunks of `rows` streams x `steps` steps to cuDNN (kept while
 * the shape stays the same), and the sequence lengths on the device. */
static int shape(crnn_gpu_scorer *sc, int rows, int steps, size_t *workspace, crnn_error *err)
{
    if (rows == sc->shape_rows && steps == sc->shape_steps)
        return CRNN_OK;
    sc->shape_rows = sc->shape_steps = 0; /* nothing valid is described until the end */
    const crnn_model_config *c = &sc->config;
    int H = c->hidden;
    for (int b = 0; b < rows; b++)
        sc->host_lengths[b] = steps;
    CUDNN_TRY(cudnnSetRNNDataDescriptor(sc->ydesc, CUDNN_DATA_FLOAT,
                                        CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, steps, rows, H,
                                        sc->host_lengths, NULL));
    size_t most = 0;
    for (int l = 0; l < c->layers; l++) {
        CUDNN_TRY(cudnnSetRNNDataDescriptor(sc->xdesc[l], CUDNN_DATA_FLOAT,
                                            CUDNN_RNN_DATA_LAYOUT_SEQ_MAJOR_UNPACKED, steps, rows,
                                            l == 0 ? c->embed : H, sc->host_lengths, NULL));
        size_t work = 0, reserve = 0;
        CUDNN_TRY(cudnnGetRNNTempSpaceSizes(sc->dnn, sc->stack.rnn[l], CUDNN_FWD_MODE_INFERENCE,
                                            sc->xdesc[l], &work, &reserve));
        if (work > most)
            most = work;
    }
    int dims[3] = {1, rows, H}, strides[3] = {rows * H, H, 1};
    CUDNN_TRY(cudnnSetTensorNdDescriptor(sc->hdesc, CUDNN_DATA_FLOAT, 3, dims, strides));
    if (workspace)
        *workspace = most;
    else if (most > sc->workspace_bytes)
        return crnn_fail(err, CRNN_ERR_DEVICE, "cuDNN asks for more workspace for %d x %d than "
                         "for %d x %d", rows, steps, sc->rows, sc->steps);
    if (sc->seq_lengths) {
        CUDA_TRY(cudaMemcpyAsync(sc->seq_lengths, sc->host_lengths, sizeof(int32_t) * rows,
                                 cudaMemcpyHostToDevice, sc->stream));
        CUDA_TRY(cudaStreamSynchronize(sc->stream)); /* host_lengths may change next time */
    }
    sc->shape_rows = rows;
    sc->shape_steps = steps;
    return CRNN_OK;
}

static int make(crnn_gpu_scorer *sc, crnn_error *err)
{
    const crnn_model_config *c = &sc->config;
    size_t N = (size_t)sc->rows * sc->steps, H = (size_t)c->hidden;
    size_t state_n = (size_t)c->layers * sc->slots * sc->rows * H;
    int opened = crnn_cuda_open(sc->device, &sc->stream, &sc->blas, &sc->dnn, err);
    if (opened != CRNN_OK)
        return opened;
    int rc = crnn_cudnn_stack_init(&sc->stack, sc->dnn, c, sc->n_params, err);
    if (rc != CRNN_OK)
        return rc;
    CUDNN_TRY(cudnnCreateRNNDataDescriptor(&sc->ydesc));
    for (int l = 0; l < c->layers; l++)
        CUDNN_TRY(cudnnCreateRNNDataDescriptor(&sc->xdesc[l]));
    CUDNN_TRY(cudnnCreateTensorDescriptor(&sc->hdesc));
    CUDA_TRY(cudaMallocHost((void **)&sc->host_ids, sizeof *sc->host_ids * 2 * N));
    CUDA_TRY(cudaMallocHost((void **)&sc->host_lengths, sizeof *sc->host_lengths * sc->rows));
    CUDA_TRY(cudaMallocHost((void **)&sc->host_sum, sizeof *sc->host_sum));
    if ((rc = shape(sc, sc->rows, sc->steps, &sc->workspace_bytes, err)) != CRNN_OK)
        return rc;
    ALLOC(sc->params, sc->n_params);
    ALLOC(sc->wspace, sc->stack.w_n);
    ALLOC(sc->wmap, sc->stack.w_n);
    ALLOC(sc->state, state_n);
    ALLOC(sc->state_next, state_n);
    ALLOC(sc->x0, N * c->embed);
    ALLOC(sc->y[0], N * H);
    ALLOC(sc->y[1], N * H);
    ALLOC(sc->logits, N * c->vocab);
    ALLOC(sc->row_loss, N);
    ALLOC(sc->partials, CRNNK_REDUCE_BLOCKS);
    ALLOC(sc->sum, 1);
    ALLOC(sc->ids, 2 * N);
    ALLOC(sc->seq_lengths, sc->rows);
    if (sc->workspace_bytes)
        ALLOC(sc->workspace, sc->workspace_bytes);
    sc->shape_rows = 0; /* sends the lengths now that there is somewhere to send them */
    if ((rc = shape(sc, sc->rows, sc->steps, NULL, err)) != CRNN_OK)
        return rc;
    int32_t *map = malloc(sizeof *map * (sc->stack.w_n > 0 ? sc->stack.w_n : 1));
    if (!map)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    rc = crnn_cudnn_stack_map(&sc->stack, sc->dnn, c, &sc->layout, sc->gates, sc->wspace, map,
                              err);
    cudaError_t e = cudaSuccess;
    if (rc == CRNN_OK)
        e = cudaMemcpy(sc->wmap, map, sizeof *map * sc->stack.w_n, cudaMemcpyHostToDevice);
    free(map);
    if (rc == CRNN_OK && e != cudaSuccess)
        rc = crnn_cuda_fail(err, (int)e, "cudaMemcpy");
    /* That copy ran on the legacy stream, which does not order ours. */
    if (rc == CRNN_OK && (e = cudaDeviceSynchronize()) != cudaSuccess)
        rc = crnn_cuda_fail(err, (int)e, "cudaDeviceSynchronize");
    return rc;
}

crnn_gpu_scorer *crnn_gpu_scorer_create(const struct crnn_model *model, int device, int rows,
                                        int steps, crnn_error *err)
{
    if (model->layout.total == 0) {
        crnn_fail(err, CRNN_ERR_ARG, "the model has no shape");
        return NULL;
    }
    if (rows < 1 || steps < 1 || (int64_t)rows * steps > (1 << 30)) {
        crnn_fail(err, CRNN_ERR_ARG, "the GPU scorer needs 1 to 2^30 positions per chunk");
        return NULL;
    }
    crnn_gpu_info info;
    if (crnn_gpu_query(device, &info, err) != CRNN_OK)
        return NULL;
    crnn_gpu_scorer *sc = calloc(1, sizeof *sc);
    if (!sc) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    sc->config = model->config;
    sc->layout = model->layout;
    sc->gates = model->cell->gates;
    sc->slots = model->cell->has_cell_state ? 2 : 1;
    sc->device = device;
    sc->rows = rows;
    sc->steps = steps;
    sc->n_params = model->layout.total;
    if (make(sc, err) != CRNN_OK) {
        crnn_gpu_scorer_free(sc);
        return NULL;
    }
    return sc;
}

static int gather(crnn_gpu_scorer *sc, crnn_error *err)
{
    KERNEL_TRY(crnnk_gather(sc->stream, sc->params, sc->wmap, sc->stack.w_n, sc->wspace));
    CUDA_TRY(cudaStreamSynchronize(sc->stream));
    return CRNN_OK;
}

int crnn_gpu_scorer_put(crnn_gpu_scorer *sc, const float *params, crnn_error *err)
{
    CUDA_TRY(cudaSetDevice(sc->device)); /* the current device is per thread */
    CUDA_TRY(cudaMemcpyAsync(sc->params, params, sizeof(float) * sc->n_params,
                             cudaMemcpyHostToDevice, sc->stream));
    return gather(sc, err);
}

int crnn_gpu_scorer_take(crnn_gpu_scorer *sc, const crnn_gpu_trainer *g, crnn_error *err)
{
    CUDA_TRY(cudaSetDevice(sc->device)); /* the current device is per thread */
    const float *from = crnn_gpu_trainer_params(g);
    CUDA_TRY(cudaMemcpyAsync(sc->params, from, sizeof(float) * sc->n_params,
                             cudaMemcpyDeviceToDevice, sc->stream));
    return gather(sc, err);
}

int crnn_gpu_scorer_zero_state(crnn_gpu_scorer *sc, crnn_error *err)
{
    CUDA_TRY(cudaSetDevice(sc->device)); /* the current device is per thread */
    size_t n = (size_t)sc->config.layers * sc->slots * sc->rows * sc->config.hidden;
    CUDA_TRY(cudaMemsetAsync(sc->state, 0, sizeof(float) * n, sc->stream));
    return CRNN_OK;
}

/* Layer l's h (and c) within a state of `rows` streams. */
static float *state_h(const crnn_gpu_scorer *sc, float *state, int rows, int l)
{
    return state + (size_t)l * sc->slots * rows * sc->config.hidden;
}

static float *state_c(const crnn_gpu_scorer *sc, float *state, int rows, int l)
{
    return sc->slots == 2 ? state_h(sc, state, rows, l) + (size_t)rows * sc->config.hidden
                          : NULL;
}

/* The forward of one chunk already described (shape) whose ids are in
 * sc->ids: logits (n,V) without the bias, the state after it in state_next. */
static int forward(crnn_gpu_scorer *sc, int rows, int n, crnn_error *err)
{
    const crnn_model_config *c = &sc->config;
    KERNEL_TRY(crnnk_embed(sc->stream, sc->params + sc->layout.emb, sc->ids, n, c->embed, sc->x0));
    const float *in = sc->x0;
    for (int l = 0; l < c->layers; l++) {
        float *out = sc->y[l % 2];
        CUDNN_TRY(cudnnRNNForward(sc->dnn, sc->stack.rnn[l], CUDNN_FWD_MODE_INFERENCE,
                                  sc->seq_lengths, sc->xdesc[l], in, sc->ydesc, out, sc->hdesc,
                                  state_h(sc, sc->state, rows, l),
                                  state_h(sc, sc->state_next, rows, l), sc->hdesc,
                                  state_c(sc, sc->state, rows, l),
                                  state_c(sc, sc->state_next, rows, l),
                                  sc->stack.wspace_bytes[l], sc->wspace + sc->stack.woff[l],
                                  sc->workspace_bytes, sc->workspace, 0, NULL));
        in = out;
    }
    const float one = 1.0f, zero = 0.0f;
    /* logits (n,V) = top (n,H) wy (H,V), column-major as in the trainer. */
    CUBLAS_TRY(cublasSgemm(sc->blas, CUBLAS_OP_N, CUBLAS_OP_N, c->vocab, n, c->hidden, &one,
                           sc->params + sc->layout.wy, c->vocab, in, c->hidden, &zero,
                           sc->logits, c->vocab));
    return CRNN_OK;
}

/* The state after the chunk just run is carried into the next. */
static void carry(crnn_gpu_scorer *sc)
{
    float *t = sc->state;
    sc->state = sc->state_next;
    sc->state_next = t;
}

int crnn_gpu_scorer_chunk(crnn_gpu_scorer *sc, const uint32_t *inputs, const uint32_t *targets,
                          int rows, int steps, double *loss, crnn_error *err)
{
    if (rows < 1 || rows > sc->rows || steps < 1 || steps > sc->steps)
        return crnn_fail(err, CRNN_ERR_ARG, "a chunk of %d x %d does not fit the scorer's %d x %d",
                         rows, steps, sc->rows, sc->steps);
    CUDA_TRY(cudaSetDevice(sc->device));
    int n = rows * steps, V = sc->config.vocab;
    for (int i = 0; i < n; i++)
        if (inputs[i] >= (uint32_t)V ||
            (targets[i] >= (uint32_t)V && targets[i] != CRNNK_NO_TARGET))
            return crnn_fail(err, CRNN_ERR_FORMAT, "a token id is outside the vocabulary");
    int rc = shape(sc, rows, steps, NULL, err);
    if (rc != CRNN_OK)
        return rc;
    memcpy(sc->host_ids, inputs, sizeof *inputs * (size_t)n);
    memcpy(sc->host_ids + n, targets, sizeof *targets * (size_t)n);
    CUDA_TRY(cudaMemcpyAsync(sc->ids, sc->host_ids, sizeof *sc->ids * 2 * (size_t)n,
                             cudaMemcpyHostToDevice, sc->stream));
    if ((rc = forward(sc, rows, n, err)) != CRNN_OK)
        return rc;
    KERNEL_TRY(crnnk_softmax_xent(sc->stream, sc->logits, sc->params + sc->layout.by,
                                  sc->ids + n, n, V, 0.0f, sc->row_loss));
    KERNEL_TRY(crnnk_sum(sc->stream, sc->row_loss, (size_t)n, sc->partials, sc->sum));
    CUDA_TRY(cudaMemcpyAsync(sc->host_sum, sc->sum, sizeof(double), cudaMemcpyDeviceToHost,
                             sc->stream));
    CUDA_TRY(cudaStreamSynchronize(sc->stream));
    carry(sc);
    *loss += *sc->host_sum;
    return CRNN_OK;
}

int crnn_gpu_scorer_logits(crnn_gpu_scorer *sc, const uint32_t *tokens, int rows, float *logits,
                           crnn_error *err)
{
    if (rows < 1 || rows > sc->rows)
        return crnn_fail(err, CRNN_ERR_ARG, "%d streams do not fit the scorer's %d", rows,
                         sc->rows);
    CUDA_TRY(cudaSetDevice(sc->device));
    int V = sc->config.vocab;
    for (int i = 0; i < rows; i++)
        if (tokens[i] >= (uint32_t)V)
            return crnn_fail(err, CRNN_ERR_FORMAT, "a token id is outside the vocabulary");
    if (!sc->host_logits)
        CUDA_TRY(cudaMallocHost((void **)&sc->host_logits,
                                sizeof *sc->host_logits * (size_t)sc->rows * V));
    int rc = shape(sc, rows, 1, NULL, err);
    if (rc != CRNN_OK)
        return rc;
    memcpy(sc->host_ids, tokens, sizeof *tokens * (size_t)rows);
    CUDA_TRY(cudaMemcpyAsync(sc->ids, sc->host_ids, sizeof *sc->ids * (size_t)rows,
                             cudaMemcpyHostToDevice, sc->stream));
    if ((rc = forward(sc, rows, rows, err)) != CRNN_OK)
        return rc;
    KERNEL_TRY(crnnk_add_bias(sc->stream, sc->logits, sc->params + sc->layout.by, rows, V));
    CUDA_TRY(cudaMemcpyAsync(sc->host_logits, sc->logits, sizeof(float) * (size_t)rows * V,
                             cudaMemcpyDeviceToHost, sc->stream));
    CUDA_TRY(cudaStreamSynchronize(sc->stream));
    carry(sc);
    memcpy(logits, sc->host_logits, sizeof(float) * (size_t)rows * V);
    return CRNN_OK;
}

static size_t state_floats(const crnn_gpu_scorer *sc, int rows)
{
    return (size_t)sc->config.layers * sc->slots * rows * sc->config.hidden;
}

int crnn_gpu_scorer_get_state(crnn_gpu_scorer *sc, float *state, int rows, crnn_error *err)
{
    if (rows < 0 || rows > sc->rows)
        return crnn_fail(err, CRNN_ERR_ARG, "%d streams do not fit the scorer's %d", rows,
                         sc->rows);
    CUDA_TRY(cudaSetDevice(sc->device));
    CUDA_TRY(cudaMemcpyAsync(state, sc->state, sizeof(float) * state_floats(sc, rows),
                             cudaMemcpyDeviceToHost, sc->stream));
    CUDA_TRY(cudaStreamSynchronize(sc->stream));
    return CRNN_OK;
}

int crnn_gpu_scorer_put_state(crnn_gpu_scorer *sc, const float *state, int rows,
                              crnn_error *err)
{
    if (rows < 0 || rows > sc->rows)
        return crnn_fail(err, CRNN_ERR_ARG, "%d streams do not fit the scorer's %d", rows,
                         sc->rows);
    CUDA_TRY(cudaSetDevice(sc->device));
    CUDA_TRY(cudaMemcpyAsync(sc->state, state, sizeof(float) * state_floats(sc, rows),
                             cudaMemcpyHostToDevice, sc->stream));
    CUDA_TRY(cudaStreamSynchronize(sc->stream)); /* the host's buffer may change next */
    return CRNN_OK;
}
