/*
 * stack.c: the cuDNN descriptors of the recurrent layers and the map of
 * their weight spaces onto charrnn's layout (stack.h).
 */
#include <stdlib.h>
#include <string.h>

#include "stack.h"

int crnn_cuda_open(int device, cudaStream_t *stream, cublasHandle_t *blas, cudnnHandle_t *dnn,
                   crnn_error *err)
{
    CUDA_TRY(cudaSetDevice(device));
    CUDA_TRY(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking));
    CUBLAS_TRY(cublasCreate(blas));
    CUBLAS_TRY(cublasSetStream(*blas, *stream));
    CUBLAS_TRY(cublasSetMathMode(*blas, CUBLAS_DEFAULT_MATH)); /* fp32: no TF32 */
    CUDNN_TRY(cudnnCreate(dnn));
    CUDNN_TRY(cudnnSetStream(*dnn, *stream));
    return CRNN_OK;
}

void crnn_cuda_close(cudaStream_t stream, cublasHandle_t blas, cudnnHandle_t dnn)
{
    if (dnn)
        cudnnDestroy(dnn);
    if (blas)
        cublasDestroy(blas);
    if (stream)
        cudaStreamDestroy(stream);
}

static cudnnRNNMode_t cudnn_mode(int cell)
{
    switch (cell) {
    case CRNN_CELL_GRU: return CUDNN_GRU;
    case CRNN_CELL_RNN_TANH: return CUDNN_RNN_TANH;
    case CRNN_CELL_RNN_RELU: return CUDNN_RNN_RELU;
    default: return CUDNN_LSTM;
    }
}

int crnn_cudnn_stack_init(crnn_cudnn_stack *k, cudnnHandle_t dnn, const crnn_model_config *c,
                          size_t weights, crnn_error *err)
{
    memset(k, 0, sizeof *k);
    if (weights > (size_t)INT32_MAX)
        return crnn_fail(err, CRNN_ERR_ARG, "the model is too large for the GPU backend (more "
                         "than 2^31 weights)");
    CUDNN_TRY(cudnnCreateDropoutDescriptor(&k->no_dropout));
    CUDNN_TRY(cudnnSetDropoutDescriptor(k->no_dropout, dnn, 0.0f, NULL, 0, 0));
    CUDNN_TRY(cudnnCreateTensorDescriptor(&k->mdesc));
    CUDNN_TRY(cudnnCreateTensorDescriptor(&k->bdesc));
    int H = c->hidden;
    for (int l = 0; l < c->layers; l++) {
        int in = l == 0 ? c->embed : H;
        CUDNN_TRY(cudnnCreateRNNDescriptor(&k->rnn[l]));
        k->layers = l + 1;
        /* FMA math: fp32 products without TF32. Double bias: the GRU's
         * candidate has a recurrent bias; the others' stay zero. Padded I/O:
         * cuDNN permits the unpacked (T,B,vector) layouts only with it (all
         * sequences of a chunk have its full length, so nothing is padded). */
        CUDNN_TRY(cudnnSetRNNDescriptor_v8(k->rnn[l], CUDNN_RNN_ALGO_STANDARD, cudnn_mode(c->cell),
                                           CUDNN_RNN_DOUBLE_BIAS, CUDNN_UNIDIRECTIONAL,
                                           CUDNN_LINEAR_INPUT, CUDNN_DATA_FLOAT, CUDNN_DATA_FLOAT,
                                           CUDNN_FMA_MATH, in, H, H, 1, k->no_dropout,
                                           CUDNN_RNN_PADDED_IO_ENABLED));
        CUDNN_TRY(cudnnGetRNNWeightSpaceSize(dnn, k->rnn[l], &k->wspace_bytes[l]));
        k->woff[l] = k->w_n;
        k->w_n += (k->wspace_bytes[l] / sizeof(float) + 63) / 64 * 64;
    }
    if (k->w_n > (size_t)INT32_MAX)
        return crnn_fail(err, CRNN_ERR_ARG, "the model is too large for the GPU backend (more "
                         "than 2^31 weights)");
    return CRNN_OK;
}

void crnn_cudnn_stack_free(crnn_cudnn_stack *k)
{
    for (int l = 0; l < k->layers; l++)
        if (k->rnn[l])
            cudnnDestroyRNNDescriptor(k->rnn[l]);
    if (k->mdesc)
        cudnnDestroyTensorDescriptor(k->mdesc);
    if (k->bdesc)
        cudnnDestroyTensorDescriptor(k->bdesc);
    if (k->no_dropout)
        cudnnDestroyDropoutDescriptor(k->no_dropout);
    memset(k, 0, sizeof *k);
}

/* Where one cuDNN matrix or bias lies in the weight space of layer l, in
 * floats from the start of all spaces, with the number of its elements. */
static int weight_params(const crnn_cudnn_stack *k, cudnnHandle_t dnn, const float *wspace,
                         int l, int id, size_t *m_off, size_t *m_count, size_t *b_off,
                         size_t *b_count, crnn_error *err)
{
    const float *base = wspace + k->woff[l];
    void *maddr = NULL, *baddr = NULL;
    CUDNN_TRY(cudnnGetRNNWeightParams(dnn, k->rnn[l], 0, k->wspace_bytes[l], base, id, k->mdesc,
                                      &maddr, k->bdesc, &baddr));
    cudnnDataType_t type;
    int nb = 0, dims[3] = {0, 0, 0}, strides[3];
    *m_count = *b_count = 0;
    if (maddr) {
        CUDNN_TRY(cudnnGetTensorNdDescriptor(k->mdesc, 3, &type, &nb, dims, strides));
        *m_off = k->woff[l] + (size_t)((const float *)maddr - base);
        *m_count = (size_t)dims[0] * dims[1] * dims[2];
    }
    if (baddr) {
        CUDNN_TRY(cudnnGetTensorNdDescriptor(k->bdesc, 3, &type, &nb, dims, strides));
        *b_off = k->woff[l] + (size_t)((const float *)baddr - base);
        *b_count = (size_t)dims[0] * dims[1] * dims[2];
    }
    return CRNN_OK;
}

static int layout_mismatch(crnn_error *err, int l, const char *what)
{
    return crnn_fail(err, CRNN_ERR_DEVICE, "cuDNN's weight layout of layer %d is not the one "
                     "charrnn expects (%s); this cuDNN version is not supported", l + 1, what);
}

/* Matrices are (H, in) row-major per gate, in charrnn's gate order (cuDNN's
 * and charrnn's agree: LSTM i f g o, GRU r z n). */
int crnn_cudnn_stack_map(const crnn_cudnn_stack *k, cudnnHandle_t dnn, const crnn_model_config *c,
                         const crnn_layout *lay, int gates, const float *wspace, int32_t *map,
                         crnn_error *err)
{
    int H = c->hidden, G = gates;
    size_t GH = (size_t)G * H;
    for (size_t i = 0; i < k->w_n; i++)
        map[i] = -1;
    for (int l = 0; l < c->layers; l++) {
        int in = l == 0 ? c->embed : H;
        for (int id = 0; id < 2 * G; id++) {
            size_t mo = 0, mn = 0, bo = 0, bn = 0;
            int rc = weight_params(k, dnn, wspace, l, id, &mo, &mn, &bo, &bn, err);
            if (rc != CRNN_OK)
                return rc;
            int recurrent = id >= G, gate = id % G, cols = recurrent ? H : in;
            if (mn != (size_t)H * cols || bn != (size_t)H)
                return layout_mismatch(err, l, "matrix or bias size");
            if (mo + mn > k->w_n || bo + bn > k->w_n)
                return layout_mismatch(err, l, "outside the weight space");
            size_t src = recurrent ? lay->wh[l] : lay->wx[l];
            for (int j = 0; j < H; j++)
                for (int q = 0; q < cols; q++)
                    map[mo + (size_t)j * cols + q] =
                        (int32_t)(src + (size_t)q * GH + (size_t)gate * H + j);
            /* Input biases are charrnn's b; of the recurrent ones only the
             * GRU's candidate (bhn, after charrnn's 3H) is a weight. */
            long bias = -1;
            if (!recurrent)
                bias = (long)(lay->b[l] + (size_t)gate * H);
            else if (c->cell == CRNN_CELL_GRU && gate == 2)
                bias = (long)(lay->b[l] + 3 * (size_t)H);
            for (int j = 0; j < H; j++)
                map[bo + j] = bias < 0 ? -1 : (int32_t)(bias + j);
        }
    }
    /* Every weight of the recurrent layers once, and nothing else. */
    size_t first = lay->wx[0], last = lay->wy; /* the layers lie between */
    unsigned char *seen = calloc(last - first, 1);
    if (!seen)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    int bad = 0;
    for (size_t i = 0; i < k->w_n && !bad; i++)
        if (map[i] >= 0) {
            size_t q = (size_t)map[i];
            bad = q < first || q >= last || seen[q - first]++;
        }
    for (size_t q = 0; q < last - first && !bad; q++)
        bad = !seen[q];
    free(seen);
    return bad ? layout_mismatch(err, 0, "a weight missing or mapped twice") : CRNN_OK;
}
