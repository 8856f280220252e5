/*
 * sample.c (bench_sample): generation speed through the public API. Builds a
 * model of the given shape (untrained: the speed does not depend on the
 * weights), exports it in fp16 and bf16, and times crnn_generator_step with
 * N streams running, for each weight type: chars/s per stream and in all,
 * and the bytes of weights each step reads. bench/sample.sh puts the figures
 * against the machine's bandwidth and sgemm peak.
 *
 * usage: bench_sample CORPUS LAYERS HIDDEN EMBED SECONDS "N1 N2 ..." [THREADS] [REPEATS]
 * (the best of REPEATS timings, default 1); BENCH_DEVICE=cuda[:N] steps the
 * streams on a GPU (crnn_generator_set_device; default the CPU)
 * prints: dtype N chars_per_s weight_bytes matvec_flops_per_char
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "charrnn.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Steps n streams for about `seconds` (after a warm-up); chars/s in all. */
static double rate(const char *model, int n, double seconds)
{
    crnn_error err = {0};
    crnn_generator *g = crnn_generator_open(model, n, &err);
    if (!g) {
        fprintf(stderr, "bench_sample: %s\n", err.message);
        exit(1);
    }
    int device = CRNN_DEVICE_CPU;
    const char *name = getenv("BENCH_DEVICE");
    if (name && crnn_device_parse(name, &device) != CRNN_OK) {
        fprintf(stderr, "bench_sample: BENCH_DEVICE must be cpu, cuda or cuda:N\n");
        exit(2);
    }
    if (crnn_generator_set_device(g, device, &err) != CRNN_OK) {
        fprintf(stderr, "bench_sample: %s\n", err.message);
        exit(1);
    }
    crnn_stream_request q;
    crnn_stream_request_default(&q);
    q.max_chars = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        q.seed = 1 + (uint64_t)i;
        if (crnn_generator_add(g, &q, &err) < 0) {
            fprintf(stderr, "bench_sample: %s\n", err.message);
            exit(1);
        }
    }
    crnn_stream_update *up = calloc((size_t)n, sizeof *up);
    int count;
    for (int i = 0; i < 20; i++)
        if (crnn_generator_step(g, up, &count, &err) != CRNN_OK) {
            fprintf(stderr, "bench_sample: %s\n", err.message);
            exit(1);
        }
    long steps = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 10; i++)
            crnn_generator_step(g, up, &count, &err);
        steps += 10;
        t = now();
    } while (t - t0 < seconds);
    free(up);
    crnn_generator_free(g);
    return (double)steps * n / (t - t0);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: bench_sample CORPUS LAYERS HIDDEN EMBED SECONDS \"N1 N2 ...\"\n");
        return 2;
    }
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.layers = atoi(argv[2]);
    c.hidden = atoi(argv[3]);
    c.embed = atoi(argv[4]);
    c.val_fraction = 0.05;
    c.test_fraction = 0;
    double seconds = atof(argv[5]);
    int repeats = argc > 8 ? atoi(argv[8]) : 1;
    crnn_set_threads(argc > 7 ? atoi(argv[7]) : 0);
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(argv[1], &c, NULL, &err);
    if (!t) {
        fprintf(stderr, "bench_sample: %s\n", err.message);
        return 1;
    }
    char dir[] = "/tmp/bench_sample.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char f32[64], f16[64], bf16[64];
    snprintf(f32, sizeof f32, "%s/m.crnn", dir);
    snprintf(f16, sizeof f16, "%s/m16.crnn", dir);
    snprintf(bf16, sizeof bf16, "%s/mb16.crnn", dir);
    if (crnn_trainer_save(t, f32, &err) != CRNN_OK ||
        crnn_export(f32, f16, CRNN_WEIGHTS_F16, &err) != CRNN_OK ||
        crnn_export(f32, bf16, CRNN_WEIGHTS_BF16, &err) != CRNN_OK) {
        fprintf(stderr, "bench_sample: %s\n", err.message);
        return 1;
    }
    crnn_trainer_status st;
    crnn_trainer_get_status(t, &st);
    int V = st.vocab_size, H = c.hidden, E = c.embed;
    crnn_trainer_free(t);
    /* Weights read per step: every layer's and the output's, not the embedding table. */
    double w = (double)H * V + V;
    for (int l = 0; l < c.layers; l++)
        w += (double)((l ? H : E) + H + 1) * 4 * H;
    const char *names[3] = {"fp32", "fp16", "bf16"};
    const char *paths[3] = {f32, f16, bf16};
    for (int d = 0; d < 3; d++) {
        char list[256];
        snprintf(list, sizeof list, "%s", argv[6]);
        for (char *tok = strtok(list, " "); tok; tok = strtok(NULL, " ")) {
            int n = atoi(tok);
            double r = 0;
            for (int k = 0; k < repeats; k++) {
                double x = rate(paths[d], n, seconds);
                r = x > r ? x : r;
            }
            printf("%s %d %.0f %.0f %.0f\n", names[d], n, r, w * (d ? 2 : 4), 2 * w);
            fflush(stdout);
        }
    }
    remove(f32);
    remove(f16);
    remove(bf16);
    remove(dir);
    return 0;
}
