/*
 * kernels.h: the compute behind the model. Matrix products go through CBLAS;
 * every fused element-wise loop has the same contract as its plain reference,
 * which the tests compare it with. Row-major throughout. Knows nothing of LSTMs'
 * place in a model, vocabularies or files.
 *
 * Dimension legend: N rows (B*T or B), H hidden, V vocabulary.
 */
#ifndef CRNN_KERNELS_H
#define CRNN_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* C (M,N) = alpha * op(A) (M,K) * op(B) (K,N) + beta * C, row-major. */
void crnn_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);
/* The same in plain C loops (the reference the tests check CBLAS against). */
void crnn_gemm_ref(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
                   int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* Every row of c (rows, n) = bias (n). */
void crnn_fill_rows(float *c, const float *bias, int rows, int n);

/* db (n) += column sums of d (rows, n). */
void crnn_add_column_sums(float *db, const float *d, int rows, int n);

/* LSTM gates, one time step for N rows. gates (N,4H) holds the pre-activations
 * in the order input, forget, candidate, output and is overwritten with the
 * activations; c_prev, c, h are (N,H). */
void crnn_lstm_forward_pointwise(int rows, int hidden, float *gates, const float *c_prev,
                                 float *c, float *h);
void crnn_lstm_forward_pointwise_ref(int rows, int hidden, float *gates, const float *c_prev,
                                     float *c, float *h);

/* The same for hidden units j0 .. j1-1 of every row only, on the calling
 * thread (for work split by units); the same arithmetic, element by element.
 * Always the fast loop: generation has no reference mode for it. */
void crnn_lstm_forward_units(int rows, int hidden, int j0, int j1, float *gates,
                             const float *c_prev, float *c, float *h);

/* Backward of the above, in place: gates (N,4H) holds the activations and is
 * overwritten with the pre-activation gradients (so no second (T,B,4H) buffer
 * is needed); tanh(c) is recomputed from c rather than kept. dh (N,H) is the
 * gradient reaching h; dc (N,H) holds the gradient reaching c from the next
 * step and is overwritten with the gradient reaching c_prev. */
void crnn_lstm_backward_pointwise(int rows, int hidden, float *gates, const float *c_prev,
                                  const float *c, const float *dh, float *dc);

/* A target that is read but not scored: its row's loss and gradient are 0
 * (the context a held-out stream reads before its piece: evaluate.c). */
#define CRNN_NO_TARGET UINT32_MAX

/* Softmax cross-entropy over rows of logits (N,V) with targets (N). logits are
 * replaced by scale * (softmax - onehot), the gradient of scale * sum of losses.
 * row_loss (N) receives each row's -log p(target). Returns the sum of losses,
 * accumulated in double in row order (the same for any thread count). A row
 * whose target is CRNN_NO_TARGET counts 0 and gets a zero gradient. */
double crnn_softmax_xent(int rows, int vocab, float *logits, const uint32_t *targets, float scale,
                         double *row_loss);

/* Sum of squares, accumulated in double. */
double crnn_sumsq(const float *x, size_t n);

void crnn_lstm_backward_pointwise_ref(int rows, int hidden, float *gates, const float *c_prev,
                                      const float *c, const float *dh, float *dc);
double crnn_softmax_xent_ref(int rows, int vocab, float *logits, const uint32_t *targets,
                             float scale, double *row_loss);

/* y (rows, n) += x (rows, k) W (k, n), W stored as crnn_weights_dtype (fp32,
 * fp16 or bf16 bits; row stride ldw elements), for generation (wgemm.c).
 * Each output element is one fmaf chain over k in order, so a row's result
 * is the same whatever the other rows, threads or instruction set, and the
 * reference gives the same bits. */
void crnn_wgemm(int rows, int n, int k, const float *x, int ldx, const void *w, int dtype, int ldw,
                float *y, int ldy);
void crnn_wgemm_ref(int rows, int n, int k, const float *x, int ldx, const void *w, int dtype,
                    int ldw, float *y, int ldy);
/* Columns j0 .. j1-1 of the same product, on the calling thread (for work
 * split by the caller); the same bits as crnn_wgemm. */
void crnn_wgemm_cols(int rows, int k, const float *x, int ldx, const void *w, int dtype, int ldw,
                     float *y, int ldy, int j0, int j1);
/* For tests: runs crnn_wgemm's "avx512", "avx2" or "scalar" code from now on
 * (0 if this CPU cannot); NULL goes back to the best the CPU has. */
int crnn_wgemm_use(const char *isa);

/* 1: every function above with a reference runs its reference instead (plain
 * loops, libm's exp and tanh), so that a whole training run can be compared
 * with the fast kernels. For tests; not thread-safe. */
void crnn_kernels_use_reference(int on);
int crnn_kernels_reference(void); /* 1 while the references run */

/* Threads for BLAS and the element-wise loops. */
void crnn_kernels_set_threads(int threads);
int crnn_kernels_get_threads(void);

#endif
