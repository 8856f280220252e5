/*
 * test_generate.c: the batched generator and what it stands on.
 *   - crnn_wgemm against its reference, bit for bit, for fp32, fp16 and bf16
 *     weights, odd sizes, 1 to 9 rows and both thread counts; 16-bit weights
 *     give the bits of their fp32 widening;
 *   - one stream gives crnn_sampler's text (seed, prime, options), for every
 *     cell type and for exported 16-bit models;
 *   - a stream's text does not depend on the streams stepped with it (added
 *     at other steps, with other primes, lengths, options);
 *   - stop texts are left out, held back while they might be starting, and
 *     end the stream; max_chars; cancel; a full generator; and bad requests
 *     (unknown character, invalid UTF-8, options, empty stop) change nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "charrnn.h"
#include "check.h"
#include "gpu.h"
#include "half.h"
#include "kernels.h"
#include "testutil.h"

static uint64_t lcg = 12345;
static float rnd(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((lcg >> 40) / (double)(1ull << 24)) * 2.0f - 1.0f;
}

static void test_wgemm_isa(void)
{
    const int shapes[][2] = {{1, 1}, {7, 5}, {16, 16}, {33, 17}, {64, 64}, {100, 70}, {257, 40}, {600, 520}};
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int n = shapes[si][0], k = shapes[si][1], ldw = n + 3;
        float *w32 = malloc(sizeof(float) * (size_t)k * ldw);
        uint16_t *w16 = malloc(sizeof(uint16_t) * (size_t)k * ldw);
        float *wide = malloc(sizeof(float) * (size_t)k * ldw);
        size_t ny = (size_t)9 * (n + 1);
        float *x = malloc(sizeof(float) * 9 * k), *y0 = malloc(sizeof(float) * ny);
        float *y1 = malloc(sizeof(float) * ny), *y2 = malloc(sizeof(float) * ny);
        float *start = malloc(sizeof(float) * ny), *one = malloc(sizeof(float) * (n + 1));
        for (int i = 0; i < k * ldw; i++)
            w32[i] = rnd();
        for (int i = 0; i < 9 * k; i++)
            x[i] = rnd();
        for (int dtype = 0; dtype < 3; dtype++) {
            const void *w = w32;
            if (dtype) {
                for (int i = 0; i < k * ldw; i++) {
                    w16[i] = dtype == CRNN_WEIGHTS_F16 ? crnn_f32_to_f16(w32[i])
                                                       : crnn_f32_to_bf16(w32[i]);
                    wide[i] = dtype == CRNN_WEIGHTS_F16 ? crnn_f16_to_f32(w16[i])
                                                        : crnn_bf16_to_f32(w16[i]);
                }
                w = w16;
            }
            for (int rows = 1; rows <= 9; rows++) {
                for (int threads = 1; threads <= 2; threads++) {
                    crnn_set_threads(threads);
                    for (int i = 0; i < rows * (n + 1); i++)
                        start[i] = y0[i] = y1[i] = y2[i] = rnd();
                    crnn_wgemm(rows, n, k, x, k, w, dtype, ldw, y0, n + 1);
                    crnn_wgemm_ref(rows, n, k, x, k, w, dtype, ldw, y1, n + 1);
                    if (dtype)
                        crnn_wgemm_ref(rows, n, k, x, k, wide, 0, ldw, y2, n + 1);
                    CHECK(!memcmp(y0, y1, sizeof(float) * rows * (n + 1)),
                          "wgemm != reference: n %d k %d rows %d dtype %d threads %d", n, k, rows,
                          dtype, threads);
                    if (dtype)
                        CHECK(!memcmp(y0, y2, sizeof(float) * rows * (n + 1)),
                              "16-bit weights differ from their widening: n %d k %d", n, k);
                    /* The last row alone gives the bits it gave among the others. */
                    int r = rows - 1;
                    memcpy(one, start + (size_t)r * (n + 1), sizeof(float) * (n + 1));
                    crnn_wgemm(1, n, k, x + (size_t)r * k, k, w, dtype, ldw, one, n + 1);
                    CHECK(!memcmp(one, y0 + (size_t)r * (n + 1), sizeof(float) * (n + 1)),
                          "a row alone differs from the same row among %d", rows);
                }
            }
        }
        free(w32);
        free(w16);
        free(wide);
        free(x);
        free(y0);
        free(y1);
        free(y2);
        free(start);
        free(one);
    }
    crnn_set_threads(0);
}

static void test_wgemm(void)
{
    const char *isas[] = {"avx512", "avx2", "scalar"};
    int ran = 0;
    for (int i = 0; i < 3; i++) {
        if (!crnn_wgemm_use(isas[i])) {
            fprintf(stderr, "test_generate: this CPU has no %s: not tested\n", isas[i]);
            continue;
        }
        test_wgemm_isa();
        ran++;
    }
    crnn_wgemm_use(NULL);
    CHECK(ran >= 2, "at least two code paths (scalar and one SIMD) should run");
}

static const char *train(const char *name, int cell, int layers, int hidden)
{
    const char *corpus = temp_path("gen-corpus.txt");
    char text[40000];
    size_t n = 0;
    for (int i = 1; i <= 200; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "line %d: \"the quick brown fox\" jumps (over the lazy dog).\n", i);
    write_text(corpus, text, n);
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.cell = cell;
    c.layers = layers;
    c.hidden = hidden;
    c.embed = 12;
    c.batch = 4;
    c.seq = 16;
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, NULL, &err);
    if (!t) {
        fprintf(stderr, "test_generate: cannot train: %s\n", err.message);
        exit(99);
    }
    double loss;
    for (int i = 0; i < 10; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    char *snap = strdup(temp_path(name));
    CHECK_OK(crnn_trainer_save(t, snap, &err), err);
    crnn_trainer_free(t);
    return snap;
}

/* crnn_sampler's text: n characters after prime (not included), stopped at
 * nothing. */
static size_t sampler_text(const char *model, uint64_t seed, const char *prime,
                           const crnn_sample_options *o, int n, char *out)
{
    crnn_error err = {0};
    crnn_sampler *sm = crnn_sampler_open(model, &err);
    CHECK(sm, "%s", err.message);
    if (!sm)
        return 0;
    crnn_sampler_seed(sm, seed);
    if (prime)
        CHECK_OK(crnn_sampler_prime(sm, prime, strlen(prime), &err), err);
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        uint32_t cp;
        CHECK_OK(crnn_sampler_next(sm, o, &cp, &err), err);
        len += (size_t)crnn_utf8_encode(cp, out + len);
    }
    out[len] = 0;
    crnn_sampler_free(sm);
    return len;
}

typedef struct collected {
    char text[8192];
    size_t len;
    int end, updates_after_end;
    uint64_t chars;
} collected;

/* Steps g until nothing runs, appending each update to the collected of its
 * user pointer. Returns the number of steps. */
static int run_all(crnn_generator *g)
{
    crnn_stream_update up[64];
    int steps = 0, n;
    crnn_error err = {0};
    while (crnn_generator_running(g) > 0 && steps < 100000) {
        CHECK_OK(crnn_generator_step(g, up, &n, &err), err);
        for (int i = 0; i < n; i++) {
            collected *c = up[i].user;
            if (c->end)
                c->updates_after_end++;
            memcpy(c->text + c->len, up[i].text, up[i].len);
            c->len += up[i].len;
            c->text[c->len] = 0;
            c->end = up[i].end;
            c->chars = up[i].chars;
        }
        steps++;
    }
    return steps;
}

static void test_matches_sampler(const char *model, const char *what)
{
    crnn_error err = {0};
    struct {
        const char *prime;
        float t;
        int k;
        float p;
        int n;
    } cases[] = {{NULL, 1.0f, 0, 1.0f, 120},  {"line 1", 0.8f, 0, 1.0f, 80},
                 {"the ", 0.0f, 0, 1.0f, 60}, {"\"", 1.2f, 5, 1.0f, 90},
                 {"(", 1.0f, 0, 0.7f, 100},   {"l", 1.0f, 3, 0.9f, 30}};
    int ncases = (int)(sizeof cases / sizeof cases[0]);
    collected *got = calloc((size_t)ncases, sizeof *got);
    crnn_generator *g = crnn_generator_open(model, 4, &err);
    CHECK(g, "%s: %s", what, err.message);
    if (!g) {
        free(got);
        return;
    }
    CHECK(crnn_generator_capacity(g) == 4, "capacity");
    /* More cases than slots: the later ones join as earlier ones leave, at
     * steps where the others are mid-stream. */
    int added = 0;
    crnn_stream_update up[4];
    while (added < ncases || crnn_generator_running(g) > 0) {
        while (added < ncases && crnn_generator_running(g) < 4) {
            crnn_stream_request q;
            crnn_stream_request_default(&q);
            q.prime = cases[added].prime;
            q.prime_len = q.prime ? strlen(q.prime) : 0;
            q.seed = 100 + (uint64_t)added;
            q.options.temperature = cases[added].t;
            q.options.top_k = cases[added].k;
            q.options.top_p = cases[added].p;
            q.max_chars = (uint64_t)cases[added].n;
            q.user = &got[added];
            CHECK(crnn_generator_add(g, &q, &err) >= 0, "%s: add: %s", what, err.message);
            added++;
        }
        int n;
        CHECK_OK(crnn_generator_step(g, up, &n, &err), err);
        for (int i = 0; i < n; i++) {
            collected *c = up[i].user;
            memcpy(c->text + c->len, up[i].text, up[i].len);
            c->len += up[i].len;
            c->end = up[i].end;
            c->chars = up[i].chars;
        }
    }
    for (int i = 0; i < ncases; i++) {
        char want[8192];
        crnn_sample_options o = {cases[i].t, cases[i].k, cases[i].p};
        size_t len = sampler_text(model, 100 + (uint64_t)i, cases[i].prime, &o, cases[i].n, want);
        CHECK(got[i].len == len && !memcmp(got[i].text, want, len),
              "%s: stream %d differs from the sampler:\n  got  '%.*s'\n  want '%s'", what, i,
              (int)got[i].len, got[i].text, want);
        CHECK(got[i].end == CRNN_STREAM_LENGTH && got[i].chars == (uint64_t)cases[i].n,
              "%s: stream %d ended %d after %llu", what, i, got[i].end,
              (unsigned long long)got[i].chars);
    }
    crnn_generator_free(g);
    free(got);
}

/* The first occurrence of any stop in text, or len. */
static size_t first_stop(const char *text, size_t len, const char *const *stop, int n)
{
    size_t best = len;
    for (int i = 0; i < n; i++) {
        const char *at = strstr(text, stop[i]);
        if (at && (size_t)(at - text) < best)
            best = (size_t)(at - text);
    }
    return best;
}

static void test_stops(const char *model)
{
    crnn_error err = {0};
    crnn_sample_options o;
    crnn_sample_options_default(&o);
    int tried = 0, stopped = 0;
    for (uint64_t seed = 1; seed <= 12; seed++) {
        char full[8192];
        size_t len = sampler_text(model, seed, "li", &o, 300, full);
        /* Stops taken from the text itself (so some occur), spanning several
         * characters, one that is a prefix of another, and one that never occurs. */
        const char *stops[3] = {"ne 1", "e 1", "zzzz"};
        char mine[8];
        memcpy(mine, full + 40 + seed, 3);
        mine[3] = 0;
        stops[2] = seed % 2 ? mine : "zzzz";
        size_t cut = first_stop(full, len, stops, 3);
        crnn_generator *g = crnn_generator_open(model, 2, &err);
        CHECK(g, "%s", err.message);
        if (!g)
            return;
        collected c = {0};
        crnn_stream_request q;
        crnn_stream_request_default(&q);
        q.prime = "li";
        q.prime_len = 2;
        q.seed = seed;
        q.max_chars = 300;
        q.stop = stops;
        q.n_stop = 3;
        q.user = &c;
        CHECK(crnn_generator_add(g, &q, &err) >= 0, "%s", err.message);
        run_all(g);
        tried++;
        if (cut < len) {
            stopped++;
            CHECK(c.end == CRNN_STREAM_STOP, "seed %llu: should stop at byte %zu",
                  (unsigned long long)seed, cut);
        } else {
            CHECK(c.end == CRNN_STREAM_LENGTH, "seed %llu: should run to its length",
                  (unsigned long long)seed);
        }
        CHECK(c.len == cut && !memcmp(c.text, full, cut),
              "seed %llu: text before the stop:\n  got  '%.*s'\n  want '%.*s'",
              (unsigned long long)seed, (int)c.len, c.text, (int)cut, full);
        CHECK(c.updates_after_end == 0, "updates after the end");
        crnn_generator_free(g);
    }
    CHECK(stopped > 0 && stopped < tried, "the stop cases should include both outcomes (%d of %d)",
          stopped, tried);
}

static void test_requests(const char *model)
{
    crnn_error err = {0};
    crnn_generator *g = crnn_generator_open(model, 2, &err);
    CHECK(g, "%s", err.message);
    if (!g)
        return;
    crnn_stream_request q;
    crnn_stream_request_default(&q);
    collected a = {0}, b = {0}, z = {0};
    /* Bad requests change nothing. */
    q.prime = "line Ω";
    q.prime_len = strlen(q.prime);
    CHECK(crnn_generator_add(g, &q, &err) == CRNN_ERR_VOCAB && strstr(err.message, "U+03A9"),
          "unknown character: %s", err.message);
    q.prime = "\xff";
    q.prime_len = 1;
    CHECK(crnn_generator_add(g, &q, &err) == CRNN_ERR_UTF8, "invalid UTF-8: %s", err.message);
    q.prime = NULL;
    q.prime_len = 0;
    q.options.top_p = 0;
    CHECK(crnn_generator_add(g, &q, &err) == CRNN_ERR_ARG, "top-p 0: %s", err.message);
    q.options.top_p = 1;
    const char *empty[1] = {""};
    q.stop = empty;
    q.n_stop = 1;
    CHECK(crnn_generator_add(g, &q, &err) == CRNN_ERR_ARG, "empty stop: %s", err.message);
    const char *half[1] = {"\xA9"}; /* a continuation byte alone: not whole characters */
    q.stop = half;
    CHECK(crnn_generator_add(g, &q, &err) == CRNN_ERR_UTF8, "stop text not UTF-8: %s",
          err.message);
    q.stop = NULL;
    q.n_stop = 0;
    CHECK(crnn_generator_running(g) == 0, "a bad request left a stream behind");
    /* Two slots: a third add is refused until one leaves; cancel frees one. */
    q.max_chars = 50;
    q.user = &a;
    int64_t ia = crnn_generator_add(g, &q, &err);
    q.user = &b;
    int64_t ib = crnn_generator_add(g, &q, &err);
    CHECK(ia >= 0 && ib > ia, "ids %lld %lld", (long long)ia, (long long)ib);
    q.user = &z;
    CHECK(crnn_generator_add(g, &q, &err) == CRNN_ERR_ARG && strstr(err.message, "running"),
          "a full generator: %s", err.message);
    CHECK(crnn_generator_cancel(g, ia) == 1 && crnn_generator_cancel(g, ia) == 0, "cancel");
    CHECK(crnn_generator_running(g) == 1, "running after cancel");
    q.max_chars = 0; /* ends at once with no text */
    int64_t iz = crnn_generator_add(g, &q, &err);
    CHECK(iz > ib, "add after cancel: %s", err.message);
    run_all(g);
    CHECK(a.len == 0 && a.end == 0, "a cancelled stream got updates");
    CHECK(b.end == CRNN_STREAM_LENGTH && b.chars == 50, "b ended %d after %llu", b.end,
          (unsigned long long)b.chars);
    CHECK(z.end == CRNN_STREAM_LENGTH && z.len == 0 && z.chars == 0, "max_chars 0");
    crnn_generator_free(g);
    /* A temperature so small that 1/T overflows draws the argmax, with top-k too. */
    crnn_sample_options argmax = {0.0f, 0, 1.0f}, tiny = {1e-39f, 5, 0.9f};
    char a0[512], a1[512];
    size_t l0 = sampler_text(model, 3, "li", &argmax, 80, a0);
    size_t l1 = sampler_text(model, 4, "li", &tiny, 80, a1);
    CHECK(l0 == l1 && !memcmp(a0, a1, l0), "temperature 1e-39 is not the argmax:\n  %s\n  %s", a0,
          a1);
    CHECK(!crnn_generator_open(model, 0, &err) && err.status == CRNN_ERR_ARG, "0 streams");
    CHECK(!crnn_generator_open(temp_path("no-such.crnn"), 1, &err) && err.status == CRNN_ERR_IO,
          "missing file: %s", err.message);
}

/* The same texts on one thread and on two (a model big enough for a step
 * to be split between threads by hidden units and output columns). */
static void test_threads(const char *model)
{
    char text[2][4][2048];
    for (int threads = 1; threads <= 2; threads++) {
        crnn_set_threads(threads);
        crnn_error err = {0};
        crnn_generator *g = crnn_generator_open(model, 4, &err);
        CHECK(g, "%s", err.message);
        if (!g)
            return;
        collected c[4];
        memset(c, 0, sizeof c);
        for (int i = 0; i < 4; i++) {
            crnn_stream_request q;
            crnn_stream_request_default(&q);
            q.seed = 7 + (uint64_t)i;
            q.max_chars = 200 + 50 * (uint64_t)i;
            q.user = &c[i];
            CHECK(crnn_generator_add(g, &q, &err) >= 0, "%s", err.message);
        }
        run_all(g);
        for (int i = 0; i < 4; i++)
            memcpy(text[threads - 1][i], c[i].text, c[i].len + 1);
        crnn_generator_free(g);
    }
    crnn_set_threads(0);
    for (int i = 0; i < 4; i++)
        CHECK(!strcmp(text[0][i], text[1][i]), "stream %d differs between 1 and 2 threads", i);
}

/* Where the generator steps: the CPU by default and when asked; a GPU that
 * is not there refused (the GPU itself is test_gpu's); never while streams
 * run. */
static void test_device(const char *model)
{
    crnn_error err = {0};
    crnn_generator *g = crnn_generator_open(model, 2, &err);
    CHECK(g, "%s", err.message);
    if (!g)
        return;
    CHECK(!strcmp(crnn_generator_device(g), "cpu"), "opens on %s", crnn_generator_device(g));
    CHECK_OK(crnn_generator_set_device(g, CRNN_DEVICE_CPU, &err), err);
    CHECK(crnn_generator_set_device(NULL, CRNN_DEVICE_CPU, &err) == CRNN_ERR_ARG, "no generator");
    if (crnn_gpu_count() == 0) {
        CHECK_OK(crnn_generator_set_device(g, CRNN_DEVICE_AUTO, &err), err);
        CHECK(!strcmp(crnn_generator_device(g), "cpu"), "auto without a GPU: %s",
              crnn_generator_device(g));
        CHECK(crnn_generator_set_device(g, 0, &err) == CRNN_ERR_ARG, "cuda:0 without a GPU");
        CHECK(!strcmp(crnn_generator_device(g), "cpu"), "after a refusal: %s",
              crnn_generator_device(g));
    }
    crnn_stream_request q;
    crnn_stream_request_default(&q);
    collected c = {0};
    q.user = &c;
    q.max_chars = 20;
    CHECK(crnn_generator_add(g, &q, &err) >= 0, "%s", err.message);
    CHECK(crnn_generator_set_device(g, CRNN_DEVICE_CPU, &err) == CRNN_ERR_ARG &&
              strstr(err.message, "no stream runs"),
          "changed while a stream runs: %s", err.message);
    run_all(g);
    CHECK(c.end == CRNN_STREAM_LENGTH && c.chars == 20, "the stream after the refusals: %llu",
          (unsigned long long)c.chars);
    crnn_generator_free(g);
}

int main(void)
{
    test_wgemm();
    const char *lstm = train("gen-lstm.crnn", CRNN_CELL_LSTM, 2, 40);
    const char *gru = train("gen-gru.crnn", CRNN_CELL_GRU, 2, 24);
    const char *rnn = train("gen-rnn.crnn", CRNN_CELL_RNN_TANH, 1, 20);
    test_matches_sampler(lstm, "lstm");
    test_matches_sampler(gru, "gru");
    test_matches_sampler(rnn, "rnn");
    crnn_error err = {0};
    const char *f16 = temp_path("gen-lstm-f16.crnn");
    CHECK_OK(crnn_export(lstm, f16, CRNN_WEIGHTS_F16, &err), err);
    test_matches_sampler(f16, "lstm fp16");
    const char *bf16 = temp_path("gen-lstm-bf16.crnn");
    CHECK_OK(crnn_export(lstm, bf16, CRNN_WEIGHTS_BF16, &err), err);
    test_matches_sampler(bf16, "lstm bf16");
    crnn_generator *g = crnn_generator_open(bf16, 1, &err);
    crnn_generator *g32 = crnn_generator_open(lstm, 1, &err);
    CHECK(g && g32 && crnn_generator_weight_bytes(g) * 2 == crnn_generator_weight_bytes(g32),
          "16-bit weights are kept at 16 bits");
    crnn_generator_free(g);
    crnn_generator_free(g32);
    const char *wide = train("gen-wide.crnn", CRNN_CELL_LSTM, 2, 88);
    test_threads(wide);
    test_matches_sampler(wide, "lstm 2x88");
    const char *wide_gru = train("gen-wide-gru.crnn", CRNN_CELL_GRU, 2, 88);
    test_threads(wide_gru);
    test_stops(lstm);
    test_requests(lstm);
    test_device(lstm);
    free((char *)lstm);
    free((char *)gru);
    free((char *)rnn);
    free((char *)wide);
    free((char *)wide_gru);
    return check_result("test_generate");
}
