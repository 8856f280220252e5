/*
 * allreduce.c: the time of one gradient allreduce (crnn_dist_sum_floats over the
 * flat gradient) for the parameter counts of the benchmark models.
 * usage: mpirun -np 2 build/bench/bench_allreduce [FLOATS...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "charrnn.h"
#include "dist.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    crnn_dist_init(&argc, &argv);
    /* 2 x 512 and 3 x 512 LSTMs on tiny-shakespeare (V 65, E 64). */
    size_t sizes[8] = {3318401, 5417601};
    int nsizes = 2;
    if (argc > 1) {
        nsizes = 0;
        for (int i = 1; i < argc && nsizes < 8; i++)
            sizes[nsizes++] = (size_t)atoll(argv[i]);
    }
    for (int s = 0; s < nsizes; s++) {
        float *g = calloc(sizes[s], sizeof *g);
        double t[21];
        for (int r = 0; r < 21; r++) {
            crnn_dist_any(0); /* line the ranks up */
            double t0 = now();
            crnn_dist_sum_floats(g, sizes[s]);
            t[r] = now() - t0;
        }
        qsort(t, 21, sizeof t[0], cmp);
        if (crnn_dist_rank() == 0)
            printf("allreduce of %zu floats (%.1f MB) on %d ranks: median %.2f ms (min %.2f)\n",
                   sizes[s], sizes[s] * 4 / 1e6, crnn_dist_size(), t[10] * 1e3, t[0] * 1e3);
        free(g);
    }
    crnn_dist_finalize();
    return 0;
}
