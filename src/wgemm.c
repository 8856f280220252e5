/*
 * wgemm.c: y += x W against a weight matrix stored in fp32, fp16 or bf16,
 * for generation, where few rows (one to a few dozen streams) meet large
 * weights: W is streamed once per tile of rows and 16-bit weights are widened
 * in registers, never copied to fp32.
 *
 * Every output element is one fused multiply-add chain over k in order,
 * starting from y's value, on whatever instruction set, tile or thread: so
 * a row's result does not depend on how many rows are computed with it, and
 * the reference (plain fmaf loops) gives the same bits. Not for training
 * (sgemm packs both operands and is faster when rows are many).
 */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "charrnn.h"
#include "half.h"
#include "kernels.h"

/* Below this many multiply-adds a product runs on one thread. */
#define WGEMM_PARALLEL_MIN (1 << 18)
/* 16-bit weights of one row are prefetched this many rows of W ahead. */
#define WGEMM_AHEAD 4
/* Up to this many rows, AVX2 streams W in its own order (see stream256). */
#define WGEMM_STREAM_ROWS 4

static inline float weight_at(const void *w, int dtype, size_t i)
{
    switch (dtype) {
    case CRNN_WEIGHTS_F16:
        return crnn_f16_to_f32(((const uint16_t *)w)[i]);
    case CRNN_WEIGHTS_BF16:
        return crnn_bf16_to_f32(((const uint16_t *)w)[i]);
    default:
        return ((const float *)w)[i];
    }
}

/* Columns [j0, j1) of y (rows, ldy) += x (rows, ldx) W (k, ldw), plain fmaf. */
static void wgemm_scalar(int rows, int k, const float *x, int ldx, const void *w, int dtype,
                         int ldw, float *y, int ldy, int j0, int j1)
{
    for (int r = 0; r < rows; r++) {
        for (int j = j0; j < j1; j++) {
            float s = y[(size_t)r * ldy + j];
            for (int p = 0; p < k; p++)
                s = fmaf(x[(size_t)r * ldx + p], weight_at(w, dtype, (size_t)p * ldw + j), s);
            y[(size_t)r * ldy + j] = s;
        }
    }
}

void crnn_wgemm_ref(int rows, int n, int k, const float *x, int ldx, const void *w, int dtype,
                    int ldw, float *y, int ldy)
{
    wgemm_scalar(rows, k, x, ldx, w, dtype, ldw, y, ldy, 0, n);
}

/* ---------------------------------------------------------------- AVX-512 */

#define V512 16 /* floats per vector */

__attribute__((target("avx512f,avx512bw,avx512vl,fma"), always_inline)) static inline __m512
load16_512(const void *w, int dtype, size_t i, __mmask16 m)
{
    if (dtype == CRNN_WEIGHTS_F32)
        return _mm512_maskz_loadu_ps(m, (const float *)w + i);
    __m256i h = _mm256_maskz_loadu_epi16(m, (const uint16_t *)w + i);
    if (dtype == CRNN_WEIGHTS_F16)
        return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* R rows x C vectors of columns from column j (masks for the last vector),
 * for weights of type DT: one function per type, so that the loop has one
 * path and the accumulators stay in registers (with the type a run-time
 * value, GCC kept them on the stack, storing all 16 at every k). */
#define WGEMM_TILE_512(R, C, DT)                                                                  \
    __attribute__((target("avx512f,avx512bw,avx512vl,fma"))) static void                        \
        tile512_##R##_##C##_##DT(int k, const float *x, int ldx, const void *w, int ldw,         \
                                 float *y, int ldy, int j, __mmask16 last)                        \
    {                                                                                             \
        __m512 acc[R][C];                                                                         \
        __mmask16 m[C];                                                                           \
        _Pragma("GCC unroll 16") for (int c = 0; c < C; c++)                                      \
            m[c] = c == C - 1 ? last : (__mmask16)0xFFFF;                                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                      \
            _Pragma("GCC unroll 16") for (int c = 0; c < C; c++)                                  \
                acc[r][c] = _mm512_maskz_loadu_ps(m[c], y + (size_t)r * ldy + j + c * V512);     \
        for (int p = 0; p < k; p++) {                                                             \
            __m512 wv[C];                                                                         \
            if (R == 1 && p + WGEMM_AHEAD < k) /* a line is 1 vector of fp32, 2 of 16-bit */   \
                _Pragma("GCC unroll 16") for (int c = 0; c < C; c += DT ? 2 : 1)                  \
                    _mm_prefetch((const char *)w + (DT ? 2 : 4) * ((size_t)(p + WGEMM_AHEAD) * ldw \
                                                                   + j + (size_t)c * V512),        \
                                 _MM_HINT_T0);                                                    \
            _Pragma("GCC unroll 16") for (int c = 0; c < C; c++)                                  \
                wv[c] = load16_512(w, DT, (size_t)p * ldw + j + c * V512, m[c]);                 \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                \
                __m512 xb = _mm512_set1_ps(x[(size_t)r * ldx + p]);                               \
                _Pragma("GCC unroll 16") for (int c = 0; c < C; c++)                              \
                    acc[r][c] = _mm512_fmadd_ps(xb, wv[c], acc[r][c]);                            \
            }                                                                                     \
        }                                                                                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                      \
            _Pragma("GCC unroll 16") for (int c = 0; c < C; c++)                                  \
                _mm512_mask_storeu_ps(y + (size_t)r * ldy + j + c * V512, m[c], acc[r][c]);      \
    }
#define WGEMM_TILES_512(DT)                                                                       \
    WGEMM_TILE_512(4, 4, DT)                                                                      \
    WGEMM_TILE_512(3, 4, DT)                                                                      \
    WGEMM_TILE_512(2, 4, DT)                                                                      \
    WGEMM_TILE_512(1, 4, DT)                                                                      \
    WGEMM_TILE_512(4, 1, DT)                                                                      \
    WGEMM_TILE_512(3, 1, DT)                                                                      \
    WGEMM_TILE_512(2, 1, DT)                                                                      \
    WGEMM_TILE_512(1, 1, DT)                                                                      \
    WGEMM_TILE_512(1, 16, DT)                                                                     \
    WGEMM_TILE_512(2, 8, DT)
WGEMM_TILES_512(0)
WGEMM_TILES_512(1)
WGEMM_TILES_512(2)

typedef void (*tile512_fn)(int, const float *, int, const void *, int, float *, int, int,
                           __mmask16);
/* Per weight type: [rows] tiles 4 vectors wide, 1 vector wide, and the wide ones. */
static const struct tiles512 {
    tile512_fn wide[5], one[5], row1_16, row2_8;
} tiles512[3] = {
#define TILES_OF(DT)                                                                              \
    {{0, tile512_1_4_##DT, tile512_2_4_##DT, tile512_3_4_##DT, tile512_4_4_##DT},                 \
     {0, tile512_1_1_##DT, tile512_2_1_##DT, tile512_3_1_##DT, tile512_4_1_##DT},                 \
     tile512_1_16_##DT, tile512_2_8_##DT}
    TILES_OF(0), TILES_OF(1), TILES_OF(2)
#undef TILES_OF
};

/* Columns [j0, j1) in register tiles: one row 256 columns wide, two rows
 * 128 wide, more 4 rows by 64 columns; then single vectors, the last one
 * masked. Wide tiles read W in runs of 1 KB or 512 bytes per k: a narrow
 * tile walking down W's columns touches a new page at every k, which the
 * prefetchers follow badly (one row ran at 61k chars/s with W streamed row
 * by row through L1, 105k with the wide tile: bench/NOTES.md). */
static void wgemm_avx512(int rows, int k, const float *x, int ldx, const void *w, int dtype,
                         int ldw, float *y, int ldy, int j0, int j1)
{
    const struct tiles512 *t = &tiles512[dtype];
    int j = j0;
    if (rows == 1) { /* one row: its 256 outputs in registers, W read 1 KB at a time */
        for (; j + 16 * V512 <= j1; j += 16 * V512)
            t->row1_16(k, x, ldx, w, ldw, y, ldy, j, 0xFFFF);
    } else if (rows == 2) {
        for (; j + 8 * V512 <= j1; j += 8 * V512)
            t->row2_8(k, x, ldx, w, ldw, y, ldy, j, 0xFFFF);
    }
    for (; j + 4 * V512 <= j1; j += 4 * V512)
        for (int r = 0; r < rows; r += 4) {
            int rr = rows - r < 4 ? rows - r : 4;
            t->wide[rr](k, x + (size_t)r * ldx, ldx, w, ldw, y + (size_t)r * ldy, ldy, j, 0xFFFF);
        }
    for (; j < j1; j += V512) {
        int width = j1 - j < V512 ? j1 - j : V512;
        __mmask16 m = (__mmask16)((1u << width) - 1);
        for (int r = 0; r < rows; r += 4) {
            int rr = rows - r < 4 ? rows - r : 4;
            t->one[rr](k, x + (size_t)r * ldx, ldx, w, ldw, y + (size_t)r * ldy, ldy, j, m);
        }
    }
}

/* ---------------------------------------------------------------- AVX2 */

#define V256 8

__attribute__((target("avx2,f16c,fma"), always_inline)) static inline __m256
load8_256(const void *w, int dtype, size_t i)
{
    if (dtype == CRNN_WEIGHTS_F32)
        return _mm256_loadu_ps((const float *)w + i);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (dtype == CRNN_WEIGHTS_F16)
        return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

#define WGEMM_TILE_256(R)                                                                         \
    __attribute__((target("avx2,f16c,fma"))) static void tile256_##R(                            \
        int k, const float *x, int ldx, const void *w, int dtype, int ldw, float *y, int ldy,    \
        int j)                                                                                    \
    {                                                                                             \
        __m256 acc[R][4];                                                                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                                               \
            _Pragma("GCC unroll 16") for (int c = 0; c < 4; c++)                                                           \
                acc[r][c] = _mm256_loadu_ps(y + (size_t)r * ldy + j + c * V256);                 \
        for (int p = 0; p < k; p++) {                                                             \
            __m256 wv[4];                                                                         \
            _Pragma("GCC unroll 16") for (int c = 0; c < 4; c++)                                                           \
                wv[c] = load8_256(w, dtype, (size_t)p * ldw + j + c * V256);                     \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                                         \
                __m256 xb = _mm256_set1_ps(x[(size_t)r * ldx + p]);                               \
                _Pragma("GCC unroll 16") for (int c = 0; c < 4; c++)                                                       \
                    acc[r][c] = _mm256_fmadd_ps(xb, wv[c], acc[r][c]);                            \
            }                                                                                     \
        }                                                                                         \
        _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                                               \
            _Pragma("GCC unroll 16") for (int c = 0; c < 4; c++)                                                           \
                _mm256_storeu_ps(y + (size_t)r * ldy + j + c * V256, acc[r][c]);                 \
    }
WGEMM_TILE_256(2)
WGEMM_TILE_256(1)

#define WGEMM_STREAM_256(R)                                                                       \
    __attribute__((target("avx2,f16c,fma"))) static void stream256_##R(                          \
        int k, const float *x, int ldx, const void *w, int dtype, int ldw, float *y, int ldy,    \
        int j0, int j1)                                                                           \
    {                                                                                             \
        for (int p = 0; p < k; p++) {                                                             \
            __m256 xb[R];                                                                         \
            _Pragma("GCC unroll 16") for (int r = 0; r < R; r++)                                                           \
                xb[r] = _mm256_set1_ps(x[(size_t)r * ldx + p]);                                   \
            for (int j = j0; j < j1; j += V256) {                                                 \
                __m256 wv = load8_256(w, dtype, (size_t)p * ldw + j);                             \
                _Pragma("GCC unroll 16") for (int r = 0; r < R; r++) {                                                     \
                    float *yr = y + (size_t)r * ldy + j;                                          \
                    _mm256_storeu_ps(yr, _mm256_fmadd_ps(xb[r], wv, _mm256_loadu_ps(yr)));        \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }
WGEMM_STREAM_256(1)
WGEMM_STREAM_256(2)
WGEMM_STREAM_256(3)
WGEMM_STREAM_256(4)

typedef void (*stream_fn)(int, const float *, int, const void *, int, int, float *, int, int, int);
static const stream_fn streams256[5] = {0, stream256_1, stream256_2, stream256_3, stream256_4};

/* Up to 4 rows streamed, more in tiles of 32 columns two rows at a time; the
 * columns left over (not a whole vector) in plain fmaf, the same arithmetic. */
static void wgemm_avx2(int rows, int k, const float *x, int ldx, const void *w, int dtype,
                       int ldw, float *y, int ldy, int j0, int j1)
{
    if (rows <= WGEMM_STREAM_ROWS) {
        int whole = j0 + (j1 - j0) / V256 * V256;
        if (whole > j0)
            streams256[rows](k, x, ldx, w, dtype, ldw, y, ldy, j0, whole);
        if (whole < j1)
            wgemm_scalar(rows, k, x, ldx, w, dtype, ldw, y, ldy, whole, j1);
        return;
    }
    int j = j0;
    for (; j + 4 * V256 <= j1; j += 4 * V256)
        for (int r = 0; r < rows; r += 2) {
            if (rows - r >= 2)
                tile256_2(k, x + (size_t)r * ldx, ldx, w, dtype, ldw, y + (size_t)r * ldy, ldy, j);
            else
                tile256_1(k, x + (size_t)r * ldx, ldx, w, dtype, ldw, y + (size_t)r * ldy, ldy, j);
        }
    if (j < j1)
        wgemm_scalar(rows, k, x, ldx, w, dtype, ldw, y, ldy, j, j1);
}

/* ---------------------------------------------------------------- dispatch */

typedef void (*wgemm_fn)(int, int, const float *, int, const void *, int, int, float *, int, int,
                         int);

static wgemm_fn chosen;

static int supports(const char *isa)
{
    __builtin_cpu_init();
    if (!strcmp(isa, "avx512"))
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("fma");
    if (!strcmp(isa, "avx2"))
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    return !strcmp(isa, "scalar");
}

int crnn_wgemm_use(const char *isa)
{
    if (!isa) {
        __atomic_store_n(&chosen, NULL, __ATOMIC_RELEASE);
        return 1;
    }
    if (!supports(isa))
        return 0;
    __atomic_store_n(&chosen,
                     !strcmp(isa, "avx512") ? wgemm_avx512
                     : !strcmp(isa, "avx2") ? wgemm_avx2
                                            : wgemm_scalar,
                     __ATOMIC_RELEASE);
    return 1;
}

/* Called from every thread of a step: an atomic load and store, so threads
 * racing to the first choice each store the same value without a data race. */
static wgemm_fn pick(void)
{
    wgemm_fn fn = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!fn) {
        fn = supports("avx512") ? wgemm_avx512 : supports("avx2") ? wgemm_avx2 : wgemm_scalar;
        __atomic_store_n(&chosen, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

void crnn_wgemm(int rows, int n, int k, const float *x, int ldx, const void *w, int dtype, int ldw,
                float *y, int ldy)
{
    if (crnn_kernels_reference()) {
        crnn_wgemm_ref(rows, n, k, x, ldx, w, dtype, ldw, y, ldy);
        return;
    }
    wgemm_fn fn = pick();
    /* Columns are split between threads in blocks of 64 (a 4-vector tile);
     * how a block is tiled does not change its results. */
    int blocks = (n + 63) / 64, threads = crnn_kernels_get_threads();
    if ((double)rows * n * k < WGEMM_PARALLEL_MIN || threads < 2 || blocks < 2) {
        fn(rows, k, x, ldx, w, dtype, ldw, y, ldy, 0, n);
        return;
    }
    if (threads > blocks)
        threads = blocks;
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int b0 = (int)((long)blocks * t / nt), b1 = (int)((long)blocks * (t + 1) / nt);
        int j0 = b0 * 64, j1 = b1 * 64 < n ? b1 * 64 : n;
        if (j0 < j1)
            fn(rows, k, x, ldx, w, dtype, ldw, y, ldy, j0, j1);
    }
}

void crnn_wgemm_cols(int rows, int k, const float *x, int ldx, const void *w, int dtype, int ldw,
                     float *y, int ldy, int j0, int j1)
{
    if (crnn_kernels_reference())
        wgemm_scalar(rows, k, x, ldx, w, dtype, ldw, y, ldy, j0, j1);
    else if (j0 < j1)
        pick()(rows, k, x, ldx, w, dtype, ldw, y, ldy, j0, j1);
}
