/*
 * peak.c: the machine's practical FP32 peak, as the best rate of a large
 * square sgemm through the same OpenBLAS charrnn uses (2 threads by default).
 * usage: build/bench/bench_peak [N] [THREADS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "charrnn.h"
#include "kernels.h"

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
    return 0;
}
