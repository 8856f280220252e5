/*
 * test_trace.c: crnn_evaluator_trace on small models trained here.
 *   - its per-position nats summed equal crnn_evaluator_text's figure on the
 *     same (cut) text, with characters the model never saw left out or read
 *     as U+FFFD, and the trace leaves the evaluator's totals alone;
 *   - its hidden states equal those of a plain forward pass over the whole
 *     text, its cell states the LSTM's own (h = o * tanh(c), the last c equal
 *     to the forward's), its gates in range;
 *   - the top candidates: sorted, summing to at most 1, the character that
 *     came with exp(-nats) where it is among them;
 *   - the cut, an empty text, a GRU (no cell states or gates), bad arguments.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "charrnn.h"
#include "check.h"
#include "load.h"
#include "model.h"
#include "testutil.h"

static char *train(const char *name, int cell, int max_vocab)
{
    const char *corpus = temp_path("trace-corpus.txt");
    char text[60000];
    size_t n = 0;
    for (int i = 1; i <= 300; i++)
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "line %d: \"the (quick) brown fox\" jumps [over] the lazy dog.\n", i);
    write_text(corpus, text, n);
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.cell = cell;
    c.layers = 2;
    c.hidden = 24;
    c.embed = 8;
    c.batch = 4;
    c.seq = 32;
    c.max_vocab = max_vocab;
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, NULL, &err);
    if (!t) {
        fprintf(stderr, "test_trace: cannot train: %s\n", err.message);
        exit(99);
    }
    double loss;
    for (int i = 0; i < 30; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    char *snap = strdup(temp_path(name));
    CHECK_OK(crnn_trainer_save(t, snap, &err), err);
    crnn_trainer_free(t);
    return snap;
}

/* A text of about 1,500 characters (over several chunks of 128) with a few
 * characters the model never saw. */
static size_t make_text(char *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < 30 && n + 80 < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, "%s \"the lazy (dog)\" jumps %d%s\n",
                              i % 7 == 3 ? "Ωmega" : "line", i, i % 5 == 1 ? " é" : "");
    return n;
}

static void test_lstm(const char *model, int with_unknown)
{
    crnn_error err = {0};
    char text[4096];
    size_t len = make_text(text, sizeof text);
    crnn_evaluator *ev = crnn_evaluator_open(model, &err);
    CHECK(ev, "%s", err.message);
    if (!ev)
        return;
    crnn_trace *t = NULL;
    CHECK_OK(crnn_evaluator_trace(ev, text, len, "text", 0, 5,
                                  CRNN_TRACE_STATES | CRNN_TRACE_GATES, &t, &err), err);
    if (!t) {
        crnn_evaluator_free(ev);
        return;
    }
    crnn_eval_report total;
    crnn_evaluator_total(ev, &total);
    CHECK(total.characters == 0, "the trace counted in the totals");
    crnn_eval_report r;
    CHECK_OK(crnn_evaluator_text(ev, text, len, "text", 0, &r, &err), err);
    double sum = 0;
    size_t predicted = 0, left_out = 0;
    for (size_t i = 0; i < t->length; i++) {
        if (!isnan(t->nats[i])) {
            sum += t->nats[i];
            predicted++;
        }
        left_out += t->token[i] < 0;
    }
    CHECK(fabs(sum - r.nats) <= 1e-9 * r.nats && predicted == r.characters &&
              t->report.nats == r.nats && t->report.characters == r.characters,
          "trace %.12f over %zu against eval %.12f over %llu", sum, predicted, r.nats,
          (unsigned long long)r.characters);
    CHECK(t->report.unseen == r.unseen && r.unseen > 0, "unseen %llu vs %llu",
          (unsigned long long)t->report.unseen, (unsigned long long)r.unseen);
    CHECK(with_unknown ? left_out == 0 : left_out == r.unseen, "left out %zu (unknown %d)",
          left_out, with_unknown);
    /* Top candidates. */
    int in_top = 0;
    for (size_t i = 0; i < t->length; i++) {
        if (isnan(t->nats[i]))
            continue;
        const float *p = t->top_probs + i * 5;
        const uint32_t *cp = t->top_code_points + i * 5;
        double s = 0;
        for (int k = 0; k < 5; k++) {
            s += p[k];
            if (k)
                CHECK(p[k] <= p[k - 1], "top not sorted at %zu", i);
        }
        CHECK(s <= 1.0 + 1e-5 && p[0] > 0, "top probabilities at %zu sum to %f", i, s);
        uint32_t came = t->token[i] >= 0 && t->code_points[i] != 0xFFFD ? t->code_points[i] : 0;
        for (int k = 0; k < 5; k++)
            if (came && cp[k] == t->code_points[i]) {
                in_top++;
                CHECK(fabs(p[k] - exp(-t->nats[i])) < 1e-5, "p %f vs exp(-nats) %f at %zu",
                      p[k], exp(-t->nats[i]), i);
            }
    }
    CHECK(in_top > (int)predicted / 4, "the character that came is rarely in the top 5 (%d)",
          in_top);
    /* States against a plain forward over the whole text, as one chunk. */
    crnn_model m = {0};
    crnn_vocab v = {0};
    CHECK_OK(crnn_load_model(model, &m, &v, NULL, &err), err);
    int L = m.config.layers, H = m.config.hidden;
    uint32_t *ids = malloc(sizeof *ids * t->length);
    size_t *at = malloc(sizeof *at * t->length);
    int n = 0;
    for (size_t i = 0; i < t->length; i++)
        if (t->token[i] >= 0) {
            at[n] = i;
            ids[n++] = (uint32_t)t->token[i];
        }
    crnn_workspace ws;
    CHECK_OK(crnn_workspace_init(&ws, &m, 1, n, CRNN_WS_FORWARD_ONLY, NULL, NULL, &err), err);
    float *state = calloc(crnn_model_state_size(&m, 1), sizeof *state);
    CHECK_OK(crnn_model_forward(&m, &ws, ids, 1, n, state), err);
    double worst_h = 0, worst_hc = 0;
    for (int s = 0; s < n; s++)
        for (int l = 0; l < L; l++)
            for (int j = 0; j < H; j++) {
                size_t o = (at[s] * (size_t)L + l) * H + j;
                double d = fabs(t->h[o] - ws.h[l][(size_t)(s + 1) * H + j]);
                worst_h = d > worst_h ? d : worst_h;
                const float *g = t->gates + (at[s] * (size_t)L + l) * 4 * H;
                CHECK(g[j] >= 0 && g[j] <= 1 && g[H + j] >= 0 && g[H + j] <= 1 &&
                          fabsf(g[2 * H + j]) <= 1 && g[3 * H + j] >= 0 && g[3 * H + j] <= 1,
                      "gate out of range at %d", s);
                double hc = fabs(t->h[o] - g[3 * H + j] * tanh(t->c[o]));
                worst_hc = hc > worst_hc ? hc : worst_hc;
            }
    CHECK(worst_h < 1e-5, "h differs from a plain forward by %g", worst_h);
    CHECK(worst_hc < 1e-5, "h != o tanh(c) by %g", worst_hc);
    double worst_c = 0;
    for (int l = 0; l < L; l++)
        for (int j = 0; j < H; j++) {
            double d = fabs(t->c[(at[n - 1] * (size_t)L + l) * H + j] - ws.c_last[(size_t)l * H + j]);
            worst_c = d > worst_c ? d : worst_c;
        }
    CHECK(worst_c < 1e-5, "the last c differs from the forward's by %g", worst_c);
    /* A left-out character keeps the states before it. */
    for (size_t i = 1; i < t->length; i++)
        if (t->token[i] < 0)
            CHECK(!memcmp(t->h + i * L * H, t->h + (i - 1) * L * H, sizeof(float) * L * H),
                  "left-out character %zu changed the state", i);
    free(state);
    free(ids);
    free(at);
    crnn_workspace_free(&ws);
    crnn_model_free(&m);
    crnn_vocab_free(&v);
    crnn_trace_free(t);

    /* The cut: the figure of the first 200 characters. */
    CHECK_OK(crnn_evaluator_trace(ev, text, len, "text", 200, 0, 0, &t, &err), err);
    if (t) {
        size_t bytes = 0;
        for (size_t i = 0; i < 200; i++) { /* the byte length of 200 characters */
            unsigned char b = (unsigned char)text[bytes];
            bytes += b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        }
        CHECK_OK(crnn_evaluator_text(ev, text, bytes, "cut", 0, &r, &err), err);
        CHECK(t->length == 200 && t->text_characters > 200 && t->report.nats == r.nats &&
                  !t->h && !t->c && !t->gates,
              "cut: %zu of %llu, %f vs %f", t->length, (unsigned long long)t->text_characters,
              t->report.nats, r.nats);
        crnn_trace_free(t);
    }
    /* Empty text: nothing predicted, not an error. Bad arguments. */
    CHECK_OK(crnn_evaluator_trace(ev, "", 0, "empty", 0, 3, CRNN_TRACE_STATES, &t, &err), err);
    CHECK(t && t->length == 0 && t->report.characters == 0, "empty text");
    crnn_trace_free(t);
    CHECK(crnn_evaluator_trace(ev, "ab", 2, NULL, 0, CRNN_TRACE_MAX_TOP + 1, 0, &t, &err) ==
                  CRNN_ERR_ARG && !t,
          "top_k too large");
    CHECK(crnn_evaluator_trace(ev, "a\xff", 2, "bad", 0, 3, 0, &t, &err) == CRNN_ERR_UTF8 && !t,
          "invalid UTF-8: %s", err.message);
    crnn_evaluator_free(ev);
}

static void test_gru(const char *model)
{
    crnn_error err = {0};
    crnn_evaluator *ev = crnn_evaluator_open(model, &err);
    CHECK(ev, "%s", err.message);
    if (!ev)
        return;
    char text[4096];
    size_t len = make_text(text, sizeof text);
    crnn_trace *t = NULL;
    CHECK_OK(crnn_evaluator_trace(ev, text, len, "text", 0, 3,
                                  CRNN_TRACE_STATES | CRNN_TRACE_GATES, &t, &err), err);
    crnn_eval_report r;
    CHECK_OK(crnn_evaluator_text(ev, text, len, "text", 0, &r, &err), err);
    CHECK(t && t->h && !t->c && !t->gates && t->report.nats == r.nats, "gru trace");
    crnn_trace_free(t);
    crnn_evaluator_free(ev);
}

int main(void)
{
    char *lstm = train("trace-lstm.crnn", CRNN_CELL_LSTM, 0);
    char *unknown = train("trace-unknown.crnn", CRNN_CELL_LSTM, 30); /* has U+FFFD */
    char *gru = train("trace-gru.crnn", CRNN_CELL_GRU, 0);
    test_lstm(lstm, 0);
    test_lstm(unknown, 1);
    test_gru(gru);
    free(lstm);
    free(unknown);
    free(gru);
    return check_result("test_trace");
}
