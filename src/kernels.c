/*
 * kernels.c: CBLAS matrix products and the fused element-wise loops (OpenMP
 * over rows; each output element is computed by one thread, so results do not
 * depend on the thread count).
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "charrnn.h"
#include "kernels.h"

/* Below this many elements a loop runs on one thread: the fork costs more. */
#define PARALLEL_MIN 16384

void crnn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void crnn_gemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                   int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                float av = trans_a ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = trans_b ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                s += (double)av * bv;
            }
            float *cv = &c[(size_t)i * ldc + j];
            *cv = (float)(alpha * s + (beta == 0 ? 0 : beta * *cv));
        }
    }
}

void crnn_vecmat(int m, int n, const float *x, const float *a, float beta, float *y)
{
    cblas_sgemv(CblasRowMajor, CblasTrans, m, n, 1.0f, a, n, x, 1, beta, y, 1);
}

void crnn_fill_rows(float *c, const float *bias, int rows, int n)
{
    for (int r = 0; r < rows; r++)
        memcpy(c + (size_t)r * n, bias, sizeof *c * (size_t)n);
}

void crnn_add_column_sums(float *db, const float *d, int rows, int n)
{
    for (int r = 0; r < rows; r++) {
        const float *row = d + (size_t)r * n;
        for (int j = 0; j < n; j++)
            db[j] += row[j];
    }
}

static inline float sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static inline void lstm_forward_row(int hidden, float *g, const float *c_prev, float *c,
                                    float *tanh_c, float *h)
{
    float *gi = g, *gf = g + hidden, *gg = g + 2 * hidden, *go = g + 3 * hidden;
    for (int j = 0; j < hidden; j++) {
        float i = sigmoidf(gi[j]), f = sigmoidf(gf[j]), cand = tanhf(gg[j]), o = sigmoidf(go[j]);
        float cv = f * c_prev[j] + i * cand;
        float tc = tanhf(cv);
        gi[j] = i;
        gf[j] = f;
        gg[j] = cand;
        go[j] = o;
        c[j] = cv;
        tanh_c[j] = tc;
        h[j] = o * tc;
    }
}

void crnn_lstm_forward_pointwise(int rows, int hidden, float *gates, const float *c_prev,
                                 float *c, float *tanh_c, float *h)
{
#pragma omp parallel for schedule(static) if ((size_t)rows * hidden >= PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * hidden;
        lstm_forward_row(hidden, gates + 4 * o, c_prev + o, c + o, tanh_c + o, h + o);
    }
}

void crnn_lstm_forward_pointwise_ref(int rows, int hidden, float *gates, const float *c_prev,
                                     float *c, float *tanh_c, float *h)
{
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < hidden; j++) {
            float *g = gates + (size_t)r * 4 * hidden;
            size_t o = (size_t)r * hidden + j;
            float i = 1.0f / (1.0f + expf(-g[j]));
            float f = 1.0f / (1.0f + expf(-g[hidden + j]));
            float cand = tanhf(g[2 * hidden + j]);
            float out = 1.0f / (1.0f + expf(-g[3 * hidden + j]));
            c[o] = f * c_prev[o] + i * cand;
            tanh_c[o] = tanhf(c[o]);
            h[o] = out * tanh_c[o];
            g[j] = i;
            g[hidden + j] = f;
            g[2 * hidden + j] = cand;
            g[3 * hidden + j] = out;
        }
    }
}

void crnn_lstm_backward_pointwise(int rows, int hidden, const float *gates, const float *c_prev,
                                  const float *tanh_c, const float *dh, float *dc, float *dgates)
{
#pragma omp parallel for schedule(static) if ((size_t)rows * hidden >= PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * hidden;
        const float *g = gates + 4 * o;
        float *dg = dgates + 4 * o;
        for (int j = 0; j < hidden; j++) {
            float i = g[j], f = g[hidden + j], cand = g[2 * hidden + j], out = g[3 * hidden + j];
            float tc = tanh_c[o + j], dhv = dh[o + j];
            float dcv = dc[o + j] + dhv * out * (1.0f - tc * tc);
            dg[j] = dcv * cand * i * (1.0f - i);
            dg[hidden + j] = dcv * c_prev[o + j] * f * (1.0f - f);
            dg[2 * hidden + j] = dcv * i * (1.0f - cand * cand);
            dg[3 * hidden + j] = dhv * tc * out * (1.0f - out);
            dc[o + j] = dcv * f;
        }
    }
}

double crnn_softmax_xent(int rows, int vocab, float *logits, const uint32_t *targets, float scale,
                         double *row_loss)
{
#pragma omp parallel for schedule(static) if ((size_t)rows * vocab >= PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        float *z = logits + (size_t)r * vocab;
        float max = z[0];
        for (int j = 1; j < vocab; j++)
            max = z[j] > max ? z[j] : max;
        uint32_t t = targets[r];
        double shifted_target = (double)z[t] - max;
        double sum = 0;
        for (int j = 0; j < vocab; j++) {
            z[j] = expf(z[j] - max);
            sum += z[j];
        }
        row_loss[r] = log(sum) - shifted_target; /* -log p(target) */
        float inv = (float)(scale / sum);
        for (int j = 0; j < vocab; j++)
            z[j] *= inv;
        z[t] -= scale;
    }
    double total = 0;
    for (int r = 0; r < rows; r++)
        total += row_loss[r];
    return total;
}

double crnn_sumsq(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)x[i] * x[i];
    return s;
}

void crnn_kernels_set_threads(int threads)
{
    if (threads <= 0)
        threads = omp_get_num_procs();
    omp_set_num_threads(threads);
}

int crnn_kernels_get_threads(void)
{
    return omp_get_max_threads();
}

void crnn_set_threads(int threads)
{
    crnn_kernels_set_threads(threads);
}

int crnn_get_threads(void)
{
    return crnn_kernels_get_threads();
}

const char *crnn_backend_description(void)
{
    static char desc[160];
    snprintf(desc, sizeof desc, "%s", openblas_get_config());
    return desc;
}
