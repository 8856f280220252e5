/*
 * kernels.c: CBLAS matrix products and the fused element-wise loops (OpenMP
 * over rows; each output element is computed by one thread, so results do not
 * depend on the thread count).
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "charrnn.h"
#include "kernels.h"

/* Below this many elements a loop runs on one thread: the fork costs more. */
#define PARALLEL_MIN 4096

static int use_reference; /* crnn_kernels_use_reference */

void crnn_kernels_use_reference(int on)
{
    use_reference = on;
}

int crnn_kernels_reference(void)
{
    return use_reference;
}

/* Up to this many rows, c += a b streams b once (crnn_wgemm) where sgemm
 * would first copy all of b into its packed layout: at 3 x 512 the recurrent
 * products of 2 to 32 streams ran 1.3 to 4.4 times faster (bench/NOTES.md);
 * at 64 rows the two were even. */
#define GEMM_FEW_ROWS 32

void crnn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc)
{
    if (use_reference) {
        crnn_gemm_ref(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (m == 1 && !trans_a) {
        /* One row (sampling): a matrix-vector product streams B once, where sgemm
         * would first copy all of B into its packed layout. */
        if (trans_b)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, alpha, b, ldb, a, 1, beta, c, 1);
        else
            cblas_sgemv(CblasRowMajor, CblasTrans, k, n, alpha, b, ldb, a, 1, beta, c, 1);
        return;
    }
    if (m <= GEMM_FEW_ROWS && !trans_a && !trans_b && alpha == 1.0f && (beta == 1.0f || beta == 0.0f)) {
        if (beta == 0.0f)
            for (int i = 0; i < m; i++)
                memset(c + (size_t)i * ldc, 0, sizeof(float) * (size_t)n);
        crnn_wgemm(m, n, k, a, lda, b, CRNN_WEIGHTS_F32, ldb, c, ldc);
        return;
    }
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

/* exp(x) for float, branch-free so loops over it vectorize: x = n ln2 + r with
 * |r| <= ln2/2, e^r by a degree-6 polynomial, 2^n put in the exponent bits.
 * Relative error below 2e-7 on [-87, 88]; inputs beyond are clamped (so
 * exp(-1000) is 1.6e-38, not 0: harmless for sigmoid, softmax and tanh). */
static inline float fast_expf(float x)
{
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x; /* a NaN stays NaN */
    /* Round to nearest by adding and removing 1.5 * 2^23 (no libm call, so the
     * loop vectorizes; exact for |x * log2 e| < 2^22). */
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145752f; /* ln2 in two parts, for an exact r */
    r = r - n * 1.42860677e-6f;
    n = n == n ? n : 0.0f; /* NaN: the polynomial carries it; the exponent must be a number */
    float p = 1.38888889e-3f;
    p = p * r + 8.33333333e-3f;
    p = p * r + 4.16666667e-2f;
    p = p * r + 1.66666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline float fast_sigmoidf(float x)
{
    return 1.0f / (1.0f + fast_expf(-x));
}

/* tanh(x) = 1 - 2 / (e^2x + 1): absolute error about 1e-7. */
static inline float fast_tanhf(float x)
{
    return 1.0f - 2.0f / (fast_expf(2.0f * x) + 1.0f);
}

/* One row of the LSTM gates. Compiled for several instruction sets; the loader
 * picks the widest the CPU has (AVX-512, AVX2 or SSE2) by its features. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void lstm_forward_span(int hidden, int count, float *restrict g,
                              const float *restrict c_prev, float *restrict c, float *restrict h)
{
    float *gi = g, *gf = g + hidden, *gg = g + 2 * hidden, *go = g + 3 * hidden;
    for (int j = 0; j < count; j++) {
        float i = fast_sigmoidf(gi[j]), f = fast_sigmoidf(gf[j]), cand = fast_tanhf(gg[j]);
        float o = fast_sigmoidf(go[j]);
        float cv = f * c_prev[j] + i * cand;
        float tc = fast_tanhf(cv);
        gi[j] = i;
        gf[j] = f;
        gg[j] = cand;
        go[j] = o;
        c[j] = cv;
        h[j] = o * tc;
    }
}

void crnn_lstm_forward_pointwise(int rows, int hidden, float *gates, const float *c_prev,
                                 float *c, float *h)
{
    if (use_reference) {
        crnn_lstm_forward_pointwise_ref(rows, hidden, gates, c_prev, c, h);
        return;
    }
#pragma omp parallel for schedule(static) if ((size_t)rows * hidden >= PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * hidden;
        lstm_forward_span(hidden, hidden, gates + 4 * o, c_prev + o, c + o, h + o);
    }
}

void crnn_lstm_forward_units(int rows, int hidden, int j0, int j1, float *gates,
                             const float *c_prev, float *c, float *h)
{
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * hidden + j0;
        lstm_forward_span(hidden, j1 - j0, gates + (size_t)r * 4 * hidden + j0, c_prev + o, c + o,
                          h + o);
    }
}

void crnn_lstm_forward_pointwise_ref(int rows, int hidden, float *gates, const float *c_prev,
                                     float *c, float *h)
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
            h[o] = out * tanhf(c[o]);
            g[j] = i;
            g[hidden + j] = f;
            g[2 * hidden + j] = cand;
            g[3 * hidden + j] = out;
        }
    }
}

/* One row of the LSTM backward gate loop, in place over g; compiled per
 * instruction set as above. tanh(c) is recomputed exactly as the forward did. */
__attribute__((target_clones("avx512f", "avx2", "default")))
static void lstm_backward_row(int hidden, float *restrict g, const float *restrict c_prev,
                              const float *restrict c, const float *restrict dh,
                              float *restrict dc)
{
    for (int j = 0; j < hidden; j++) {
        float i = g[j], f = g[hidden + j], cand = g[2 * hidden + j], out = g[3 * hidden + j];
        float tc = fast_tanhf(c[j]), dhv = dh[j];
        float dcv = dc[j] + dhv * out * (1.0f - tc * tc);
        g[j] = dcv * cand * i * (1.0f - i);
        g[hidden + j] = dcv * c_prev[j] * f * (1.0f - f);
        g[2 * hidden + j] = dcv * i * (1.0f - cand * cand);
        g[3 * hidden + j] = dhv * tc * out * (1.0f - out);
        dc[j] = dcv * f;
    }
}

void crnn_lstm_backward_pointwise(int rows, int hidden, float *gates, const float *c_prev,
                                  const float *c, const float *dh, float *dc)
{
    if (use_reference) {
        crnn_lstm_backward_pointwise_ref(rows, hidden, gates, c_prev, c, dh, dc);
        return;
    }
#pragma omp parallel for schedule(static) if ((size_t)rows * hidden >= PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        size_t o = (size_t)r * hidden;
        lstm_backward_row(hidden, gates + 4 * o, c_prev + o, c + o, dh + o, dc + o);
    }
}

void crnn_lstm_backward_pointwise_ref(int rows, int hidden, float *gates, const float *c_prev,
                                      const float *c, const float *dh, float *dc)
{
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < hidden; j++) {
            float *g = gates + (size_t)r * 4 * hidden;
            size_t o = (size_t)r * hidden + j;
            float i = g[j], f = g[hidden + j], cand = g[2 * hidden + j], out = g[3 * hidden + j];
            float tc = tanhf(c[o]);
            float dcv = dc[o] + dh[o] * out * (1.0f - tc * tc);
            g[j] = dcv * cand * i * (1.0f - i);
            g[hidden + j] = dcv * c_prev[o] * f * (1.0f - f);
            g[2 * hidden + j] = dcv * i * (1.0f - cand * cand);
            g[3 * hidden + j] = dh[o] * tc * out * (1.0f - out);
            dc[o] = dcv * f;
        }
    }
}

double crnn_softmax_xent_ref(int rows, int vocab, float *logits, const uint32_t *targets,
                             float scale, double *row_loss)
{
    double total = 0;
    for (int r = 0; r < rows; r++) {
        float *z = logits + (size_t)r * vocab;
        if (targets[r] == CRNN_NO_TARGET) {
            row_loss[r] = 0;
            memset(z, 0, sizeof(float) * (size_t)vocab);
            continue;
        }
        double max = z[0], sum = 0;
        for (int j = 1; j < vocab; j++)
            max = z[j] > max ? z[j] : max;
        for (int j = 0; j < vocab; j++)
            sum += exp((double)z[j] - max);
        row_loss[r] = log(sum) - ((double)z[targets[r]] - max);
        total += row_loss[r];
        for (int j = 0; j < vocab; j++)
            z[j] = (float)(scale * exp((double)z[j] - max) / sum);
        z[targets[r]] -= scale;
    }
    return total;
}

double crnn_softmax_xent(int rows, int vocab, float *logits, const uint32_t *targets, float scale,
                         double *row_loss)
{
    if (use_reference)
        return crnn_softmax_xent_ref(rows, vocab, logits, targets, scale, row_loss);
#pragma omp parallel for schedule(static) if ((size_t)rows * vocab >= PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        float *z = logits + (size_t)r * vocab;
        uint32_t t = targets[r];
        if (t == CRNN_NO_TARGET) {
            row_loss[r] = 0;
            memset(z, 0, sizeof(float) * (size_t)vocab);
            continue;
        }
        float max = z[0];
        for (int j = 1; j < vocab; j++)
            max = z[j] > max ? z[j] : max;
        double shifted_target = (double)z[t] - max;
        double sum = 0;
        for (int j = 0; j < vocab; j++) {
            z[j] = fast_expf(z[j] - max);
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

/* The count last set, for threads other than the one that set it (OpenMP's
 * own setting is per thread: a server's generator threads would not see it). */
static int threads_set;

void crnn_kernels_set_threads(int threads)
{
    if (threads <= 0)
        threads = omp_get_num_procs();
    omp_set_num_threads(threads);
    __atomic_store_n(&threads_set, threads, __ATOMIC_RELAXED);
}

int crnn_kernels_get_threads(void)
{
    int n = __atomic_load_n(&threads_set, __ATOMIC_RELAXED);
    return n > 0 ? n : omp_get_max_threads();
}

void crnn_set_threads(int threads)
{
    crnn_kernels_set_threads(threads);
}

int crnn_get_threads(void)
{
    return crnn_kernels_get_threads();
}
