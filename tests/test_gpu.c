/*
 * test_gpu.c: the CUDA backend against the CPU reference, on a real GPU:
 * the loss and every gradient of small random models (every cell type) from
 * a carried state; 40 training steps' losses; resume on the GPU, and
 * snapshots crossing between the GPU and the CPU; the generator's streams
 * sampled alike on both; a model too large for the device refused with its
 * sizes. Exits 77 (SKIP) where there is no GPU or no
 * CUDA in the build, after checking that --device cuda is refused then.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gpu.h"
#include "model.h"
#include "rng.h"
#include "testutil.h"

enum { B = 3, T = 5 };

/* ||a - b|| / ||b|| over n floats (0 when both are 0). */
static double relative_error(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

static void fill(float *x, size_t n, crnn_rng *rng, float scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = scale * (2 * crnn_rng_uniform(rng) - 1);
}

/* A named piece of the flat weights. */
typedef struct part {
    const char *name;
    size_t at, n;
} part;

/* One model's loss and gradients, CPU (own cells) against GPU, from a random
 * carried state, with layer widths that differ (E != H). */
static void check_gradients(int cell, int layers)
{
    crnn_error err = {0};
    crnn_model_config mc = {.vocab = 11, .embed = 6, .hidden = 9, .layers = layers, .cell = cell};
    crnn_model m;
    CHECK_OK(crnn_model_init(&m, &mc, &err), err);
    crnn_rng rng;
    crnn_rng_seed(&rng, 17 + (uint64_t)cell);
    crnn_model_randomize(&m, &rng, 1.0f);
    size_t P = m.layout.total, S = crnn_model_state_size(&m, B);
    for (int l = 0; l < layers; l++) /* nonzero biases, the GRU's recurrent one too */
        fill(m.params + m.layout.b[l], (size_t)m.cell->bias_gates * mc.hidden, &rng, 0.5f);
    float *state = malloc(sizeof(float) * S), *zeros = calloc(P, sizeof(float));
    float *g_cpu = calloc(P, sizeof(float)), *g_gpu = calloc(P, sizeof(float));
    fill(state, S, &rng, 0.8f);
    uint32_t in[B * T], tg[B * T];
    for (int i = 0; i < B * T; i++) {
        in[i] = (uint32_t)(crnn_rng_next(&rng) % (uint64_t)mc.vocab);
        tg[i] = (uint32_t)(crnn_rng_next(&rng) % (uint64_t)mc.vocab);
    }
    in[0] = in[1] = in[2]; /* a token at several positions: the embedding's sum */

    crnn_workspace ws;
    CHECK_OK(crnn_workspace_init(&ws, &m, B, T, 0, NULL, NULL, &err), err);
    CHECK_OK(crnn_model_forward(&m, &ws, in, B, T, state), err);
    double cpu_loss = crnn_model_loss(&m, &ws, tg, B * T) / (B * T);
    CHECK_OK(crnn_model_backward(&m, &ws, in, g_cpu), err);
    crnn_workspace_free(&ws);

    crnn_gpu_settings s = {.device = 0, .rows = B, .steps = T, .clip = 0, .seed = 1};
    crnn_gpu_trainer *g = crnn_gpu_trainer_create(&m, &s, &err);
    CHECK(g, "create: %s", err.message);
    if (g) {
        double gpu_loss = NAN;
        CHECK_OK(crnn_gpu_trainer_put(g, m.params, zeros, zeros, state, &err), err);
        CHECK_OK(crnn_gpu_trainer_gradients(g, in, tg, 0, &gpu_loss, g_gpu, &err), err);
        double rel = fabs(gpu_loss - cpu_loss) / cpu_loss;
        fprintf(stderr, "%s x %d: loss CPU %.7f GPU %.7f (relative %.2g)\n",
                crnn_cell_name((crnn_cell_type)cell), layers, cpu_loss, gpu_loss, rel);
        CHECK(rel < 1e-5, "%s: loss differs by %g", crnn_cell_name((crnn_cell_type)cell), rel);
        const crnn_layout *L = &m.layout;
        part parts[3 * CRNN_MAX_LAYERS + 3] = {{"embedding", L->emb, L->wx[0] - L->emb}};
        int k = 1;
        for (int l = 0; l < layers; l++) {
            parts[k++] = (part){"wx", L->wx[l], L->wh[l] - L->wx[l]};
            parts[k++] = (part){"wh", L->wh[l], L->b[l] - L->wh[l]};
            parts[k++] = (part){"bias", L->b[l],
                                            (size_t)m.cell->bias_gates * mc.hidden};
        }
        parts[k++] = (part){"wy", L->wy, L->by - L->wy};
        parts[k++] = (part){"by", L->by, P - L->by};
        for (int i = 0; i < k; i++) {
            double e = relative_error(g_gpu + parts[i].at, g_cpu + parts[i].at, parts[i].n);
            CHECK(e < 1e-4, "%s x %d: gradient of %s (part %d) off by %.3g relative",
                  crnn_cell_name((crnn_cell_type)cell), layers, parts[i].name, i, e);
        }
        /* The weights came back as they went. */
        float *back = malloc(sizeof(float) * P);
        CHECK_OK(crnn_gpu_trainer_get(g, back, NULL, NULL, NULL, &err), err);
        CHECK(!memcmp(back, m.params, sizeof(float) * P), "weights changed on the way");
        free(back);
        crnn_gpu_trainer_free(g);
    }
    free(state);
    free(zeros);
    free(g_cpu);
    free(g_gpu);
    crnn_model_free(&m);
}

static const char *corpus;

static void make_corpus(void)
{
    corpus = temp_path("corpus.txt");
    size_t n = 60000;
    char *text = malloc(n);
    crnn_rng rng;
    crnn_rng_seed(&rng, 5);
    static const char *const words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat.\n", "dog ",
                                        "ran ", "far ", "ço ", "naïve "};
    size_t i = 0;
    while (i < n) {
        const char *w = words[crnn_rng_next(&rng) % 11];
        size_t len = strlen(w);
        if (i + len > n)
            break;
        memcpy(text + i, w, len);
        i += len;
    }
    write_text(corpus, text, i);
    free(text);
}

static crnn_train_config small_config(int cell)
{
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.cell = (crnn_cell_type)cell;
    c.layers = 2;
    c.hidden = 32;
    c.embed = 16;
    c.batch = 8;
    c.seq = 16;
    return c;
}

static crnn_compute_options on(int device)
{
    crnn_compute_options o;
    crnn_compute_options_default(&o);
    o.device = device;
    o.engine = CRNN_ENGINE_OWN;
    o.cache_dir = "";
    return o;
}

/* Steps `n` steps, losses into out. */
static void run(crnn_trainer *t, int n, double *out)
{
    crnn_error err = {0};
    for (int i = 0; i < n; i++) {
        out[i] = NAN;
        CHECK_OK(crnn_trainer_step(t, &out[i], &err), err);
    }
}

static double worst(const double *a, const double *b, int n)
{
    double w = 0;
    for (int i = 0; i < n; i++)
        w = fmax(w, fabs(a[i] - b[i]) / fabs(b[i]));
    return w;
}

/* 40 steps on the GPU against the CPU; resumed halfway on the GPU (the same
 * losses, bit for bit) and across devices (within the CPU's tolerance). The
 * validation loss halfway, evaluated on the GPU (from its own weights, and
 * from a snapshot's), against the CPU's. */
static void check_training(int cell)
{
    enum { STEPS = 40, HALF = 20 };
    crnn_error err = {0};
    crnn_train_config c = small_config(cell);
    crnn_compute_options cpu = on(CRNN_DEVICE_CPU), gpu = on(0);
    double on_cpu[STEPS], on_gpu[STEPS], resumed[STEPS], crossed[STEPS], back[STEPS];
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &cpu, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    run(t, STEPS, on_cpu);
    crnn_trainer_free(t);

    t = crnn_trainer_create(corpus, &c, &gpu, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    crnn_trainer_status st;
    crnn_trainer_get_status(t, &st);
    CHECK(!strcmp(st.device, "cuda:0"), "trains on %s", st.device);
    fprintf(stderr, "%s on %s\n", crnn_cell_name((crnn_cell_type)cell), st.engine);
    const char *snap = temp_path("half.crnn");
    run(t, HALF, on_gpu);
    CHECK_OK(crnn_trainer_save(t, snap, &err), err);
    double val_gpu = NAN, val_again = NAN, val_cpu = NAN; /* evaluated on the GPU, then the CPU */
    CHECK_OK(crnn_trainer_evaluate(t, &val_gpu, &err), err);
    run(t, STEPS - HALF, on_gpu + HALF);
    crnn_trainer_free(t);
    double w = worst(on_gpu, on_cpu, STEPS);
    fprintf(stderr, "%s: 40 steps, GPU against CPU: worst relative difference %.3g (first %.6f "
            "%.6f, last %.6f %.6f)\n", crnn_cell_name((crnn_cell_type)cell), w, on_gpu[0],
            on_cpu[0], on_gpu[STEPS - 1], on_cpu[STEPS - 1]);
    CHECK(w < 1e-3, "the GPU's losses differ from the CPU's by %.3g", w);

    /* Resumed on the GPU: the same losses. */
    t = crnn_trainer_resume(snap, corpus, &gpu, &err);
    CHECK(t, "%s", err.message);
    if (t) {
        /* Evaluated before a step: from the host's weights, sent up. */
        CHECK_OK(crnn_trainer_evaluate(t, &val_again, &err), err);
        CHECK(val_again == val_gpu, "validation on the GPU %.9g, resumed there %.9g", val_gpu,
              val_again);
        memcpy(resumed, on_gpu, sizeof(double) * HALF);
        run(t, STEPS - HALF, resumed + HALF);
        crnn_trainer_free(t);
        CHECK(!memcmp(resumed, on_gpu, sizeof resumed), "resumed on the GPU: worst %.3g",
              worst(resumed, on_gpu, STEPS));
    }
    /* The GPU's snapshot on the CPU, and a CPU snapshot on the GPU. */
    t = crnn_trainer_resume(snap, corpus, &cpu, &err);
    CHECK(t, "%s", err.message);
    if (t) {
        CHECK_OK(crnn_trainer_evaluate(t, &val_cpu, &err), err);
        fprintf(stderr, "%s: validation %.6f on the GPU, %.6f on the CPU\n",
                crnn_cell_name((crnn_cell_type)cell), val_gpu, val_cpu);
        CHECK(fabs(val_gpu - val_cpu) < 1e-5 * val_cpu, "validation on the GPU %.9g, on the "
              "CPU %.9g", val_gpu, val_cpu);
        memcpy(crossed, on_gpu, sizeof(double) * HALF);
        run(t, STEPS - HALF, crossed + HALF);
        crnn_trainer_free(t);
        CHECK(worst(crossed, on_gpu, STEPS) < 1e-3, "GPU snapshot on the CPU: %.3g",
              worst(crossed, on_gpu, STEPS));
    }
    t = crnn_trainer_create(corpus, &c, &cpu, &err);
    if (t) {
        run(t, HALF, back);
        CHECK_OK(crnn_trainer_save(t, snap, &err), err);
        crnn_trainer_free(t);
        t = crnn_trainer_resume(snap, corpus, &gpu, &err);
        CHECK(t, "%s", err.message);
    }
    if (t) {
        run(t, STEPS - HALF, back + HALF);
        crnn_trainer_free(t);
        CHECK(worst(back, on_cpu, STEPS) < 1e-3, "CPU snapshot on the GPU: %.3g",
              worst(back, on_cpu, STEPS));
    }
}

/* Streams of the generator on the GPU and on the CPU: argmax texts equal,
 * streams of different lengths joining and leaving (the state repacked
 * through the host), a drawn text equal too (the host draws from logits that
 * agree to rounding), an exported 16-bit model widened for the device. */
enum { GEN_STREAMS = 4, GEN_TEXT = 512 };

static void generate_all(const char *model, int device, char texts[][GEN_TEXT])
{
    crnn_error err = {0};
    crnn_generator *g = crnn_generator_open(model, GEN_STREAMS, &err);
    CHECK(g, "%s", err.message);
    if (!g)
        return;
    CHECK_OK(crnn_generator_set_device(g, device, &err), err);
    CHECK(!strcmp(crnn_generator_device(g), device == CRNN_DEVICE_CPU ? "cpu" : "cuda:0"),
          "generates on %s", crnn_generator_device(g));
    static const uint64_t lengths[GEN_STREAMS + 1] = {50, 200, 0, 120, 300};
    size_t len[GEN_STREAMS + 1] = {0};
    int added = 0;
    crnn_stream_update up[GEN_STREAMS];
    for (int steps = 0; steps < 10000; steps++) {
        /* One more stream joins once the first has left. */
        while (added < GEN_STREAMS + 1 && crnn_generator_running(g) < GEN_STREAMS) {
            crnn_stream_request q;
            crnn_stream_request_default(&q);
            q.prime = added % 2 ? "the " : NULL;
            q.prime_len = q.prime ? strlen(q.prime) : 0;
            q.options.temperature = added == 3 ? 1.0f : 0.0f;
            q.seed = 7 + (uint64_t)added;
            q.max_chars = lengths[added];
            q.user = (void *)(intptr_t)added;
            CHECK(crnn_generator_add(g, &q, &err) >= 0, "%s", err.message);
            added++;
        }
        if (!crnn_generator_running(g))
            break;
        int n, rc = crnn_generator_step(g, up, &n, &err);
        CHECK_OK(rc, err);
        if (rc != CRNN_OK)
            break;
        for (int i = 0; i < n; i++) {
            int k = (int)(intptr_t)up[i].user;
            size_t room = GEN_TEXT - 1 - len[k], m = up[i].len < room ? up[i].len : room;
            memcpy(texts[k] + len[k], up[i].text, m);
            len[k] += m;
            texts[k][len[k]] = 0;
        }
    }
    crnn_generator_free(g);
}

static void check_sampling(const char *snap, const char *what)
{
    char cpu[GEN_STREAMS + 1][GEN_TEXT] = {{0}}, gpu[GEN_STREAMS + 1][GEN_TEXT] = {{0}};
    generate_all(snap, CRNN_DEVICE_CPU, cpu);
    generate_all(snap, 0, gpu);
    for (int k = 0; k <= GEN_STREAMS; k++)
        CHECK(!strcmp(cpu[k], gpu[k]), "%s stream %d: the GPU wrote '%.60s', the CPU '%.60s'",
              what, k, gpu[k], cpu[k]);
    fprintf(stderr, "%s: %d streams sampled alike on the GPU and the CPU ('%.40s')\n", what,
            GEN_STREAMS + 1, gpu[1]);
}

/* A model far larger than the device: refused with its sizes, nothing left behind. */
static void check_too_large(void)
{
    crnn_error err = {0};
    crnn_model_config mc = {.vocab = 200, .embed = 64, .hidden = 8192, .layers = 16,
                            .cell = CRNN_CELL_LSTM};
    crnn_model m; /* shaped only: the weights are never allocated */
    CHECK_OK(crnn_model_shape(&m, &mc, &err), err);
    crnn_gpu_settings s = {.device = 0, .rows = 64, .steps = 100};
    crnn_gpu_trainer *g = crnn_gpu_trainer_create(&m, &s, &err);
    CHECK(!g, "a model of %zu weights was accepted", m.layout.total);
    CHECK(err.status == CRNN_ERR_NOMEM && strstr(err.message, "GiB"), "refused with %d: %s",
          (int)err.status, err.message);
    fprintf(stderr, "too large: %s\n", err.message);
    crnn_gpu_trainer_free(g);
}

int main(void)
{
    crnn_error err = {0};
    if (crnn_gpu_count() == 0) {
        /* Where there is none, asking for one is refused (a usage error). */
        CHECK(crnn_device_check(0, &err) == CRNN_ERR_ARG, "cuda:0 accepted without a GPU");
        fprintf(stderr, "test_gpu: %s; skipped\n", err.message);
        return check_failures ? check_result("test_gpu") : 77;
    }
    crnn_gpu_info info;
    CHECK_OK(crnn_gpu_query(0, &info, &err), err);
    char text[256];
    crnn_gpu_describe(&info, text, sizeof text);
    fprintf(stderr, "test_gpu on %s\n", text);
    CHECK(crnn_device_check(info.index + 1000, &err) == CRNN_ERR_ARG, "cuda:1000 accepted");
    static const int cells[] = {CRNN_CELL_LSTM, CRNN_CELL_GRU, CRNN_CELL_RNN_TANH,
                                CRNN_CELL_RNN_RELU};
    for (int i = 0; i < 4; i++) {
        check_gradients(cells[i], 1);
        check_gradients(cells[i], 2);
    }
    make_corpus();
    check_training(CRNN_CELL_LSTM);
    check_training(CRNN_CELL_GRU);
    const char *snap = temp_path("sampling.crnn"), *half = temp_path("sampling-f16.crnn");
    crnn_train_config c = small_config(CRNN_CELL_LSTM);
    crnn_compute_options cpu = on(CRNN_DEVICE_CPU);
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &cpu, &err);
    CHECK(t, "%s", err.message);
    if (t) {
        double losses[60];
        run(t, 60, losses);
        CHECK_OK(crnn_trainer_save(t, snap, &err), err);
        crnn_trainer_free(t);
        check_sampling(snap, "lstm");
        CHECK_OK(crnn_export(snap, half, CRNN_WEIGHTS_F16, &err), err);
        check_sampling(half, "lstm fp16");
    }
    check_too_large();
    return check_result("test_gpu");
}
