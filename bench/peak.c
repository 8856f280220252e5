/*
 * peak.c: the machine's practical FP32 peak, as the best rate of a large
 * square sgemm through the same OpenBLAS charrnn uses (2 threads by default),
 * and its read bandwidth from working sets that fit L2, L3 and none (DRAM):
 * batch-1 sampling reads every weight once per character, so it is bound by
 * bandwidth, not FLOPs.
 * usage: build/bench/bench_peak [N] [THREADS]
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "charrnn.h"
#include "kernels.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Sum of x[0, n) with 64 partial sums (four AVX-512 or eight AVX2 vectors), so
 * that the adds' latency does not hide the memory's rate. n % 64 == 0. */
static float sum64(const float *x, size_t n)
{
    float part[64] = {0};
    for (size_t i = 0; i < n; i += 64)
#pragma omp simd
        for (int j = 0; j < 64; j++)
            part[j] += x[i + (size_t)j];
    float s = 0;
    for (int j = 0; j < 64; j++)
        s += part[j];
    return s;
}

/* Best read bandwidth (GB/s) summing a buffer of `bytes`, split among all threads. */
static double read_bandwidth(size_t bytes)
{
    size_t n = bytes / sizeof(float);
    float *x = malloc(bytes);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(i % 3);
    int passes = (int)(2e9 / (double)bytes) + 1;
    double best = 0, sink = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
#pragma omp parallel reduction(+ : sink)
        {
            int parts = omp_get_num_threads(), me = omp_get_thread_num();
            size_t chunk = n / (size_t)parts / 64 * 64;
            for (int p = 0; p < passes; p++)
                sink += sum64(x + (size_t)me * chunk, chunk);
        }
        double gbs = (double)bytes * passes / (now() - t0) / 1e9;
        best = gbs > best ? gbs : best;
    }
    free(x);
    if (sink == 42.0) /* keep the sums alive */
        puts("");
    return best;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 4096;
    crnn_set_threads(argc > 2 ? atoi(argv[2]) : 0);
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (long i = 0; i < (long)n * n; i++)
        a[i] = b[i] = c[i] = 1.0f / (float)(1 + i % 7);
    double best = 0;
    for (int r = 0; r < 5; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        crnn_gemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
        double gf = 2.0 * n * n * (double)n / s / 1e9;
        best = gf > best ? gf : best;
    }
    printf("peak: %.1f GFLOP/s (sgemm %d^3, %d threads, %s)\n", best, n, crnn_get_threads(),
           crnn_backend_description());
    free(a), free(b), free(c);
    printf("bandwidth: L2 %.0f GB/s (1 MB), L3 %.0f GB/s (16 MB), DRAM %.0f GB/s (1 GB), "
           "%d threads\n", read_bandwidth((size_t)1 << 20), read_bandwidth((size_t)16 << 20),
           read_bandwidth((size_t)1 << 30), omp_get_max_threads());
    return 0;
}
