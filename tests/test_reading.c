/*
 * test_reading.c: how a held-out split is read (evaluate.h's
 * crnn_split_reading): streams in lockstep, each but the first reading some
 * context unscored before its piece.
 *   - crnn_split_reading_for: pieces no shorter than the context, the context
 *     within the split, a bound on the characters scored kept;
 *   - the characters scored tile the split: on a model without memory (a
 *     vanilla RNN whose recurrent weights are zero, so that a position's loss
 *     depends on its own input and target alone), every reading, split among
 *     "ranks" or not, bounded or not, sums exactly the losses of the
 *     positions it should have scored, each once, and counts them;
 *   - the context is read: on an LSTM, each stream scores what one stream
 *     reading from the start of its context scores after it;
 *   - softmax cross-entropy scores CRNN_NO_TARGET rows as 0 with a zero row.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "evaluate.h"
#include "kernels.h"
#include "model.h"
#include "rng.h"

enum { VOCAB = 13, LENGTH = 6007, STEPS = 16, MAX_STREAMS = 9 };

static unsigned char ids[LENGTH];

/* The loss of reading r over split, and the characters it scored. */
static double read_split(const crnn_model *m, const crnn_split *split, const crnn_split_reading *r,
                         double *chars)
{
    crnn_eval_buffers b;
    crnn_error err = {0};
    CHECK_OK(crnn_eval_buffers_init(&b, m, r->count > 0 ? r->count : 1, r->steps, &err), err);
    double sums[2] = {0, 0};
    int rc = crnn_split_loss(m, &b.ws, split, r, b.state, b.inputs, b.targets, sums, NULL, NULL);
    CHECK(rc == CRNN_OK, "crnn_split_loss: %d", rc);
    crnn_eval_buffers_free(&b);
    *chars = sums[1];
    return sums[0];
}

/* The summed loss of predicting positions [from, to) one stream at a time. */
static double span_loss(const crnn_model *m, size_t from, size_t to)
{
    crnn_split part = {ids + from, 1, to - from + 1, VOCAB};
    crnn_split_reading one = {.streams = 1, .count = 1, .steps = STEPS};
    double chars;
    double loss = read_split(m, &part, &one, &chars);
    CHECK(chars == (double)(to - from), "span [%zu, %zu): %g scored", from, to, chars);
    return loss;
}

/* What r should score, position by position, summed from spans. */
static double expected_loss(const crnn_model *m, const crnn_split *split,
                            const crnn_split_reading *r, double *chars)
{
    size_t piece = (split->length - 1 - r->context) / (size_t)r->streams;
    size_t scored = r->per_stream > 0 && r->per_stream < piece ? r->per_stream : piece;
    double loss = 0;
    *chars = 0;
    for (int s = r->first; s < r->first + r->count; s++) {
        size_t from = s == 0 ? 0 : (size_t)s * piece + r->context;
        size_t to = (size_t)s * piece + r->context + scored;
        if (s == 0 && scored < piece)
            to = scored;
        loss += span_loss(m, from, to);
        *chars += (double)(to - from);
    }
    return loss;
}

static void check_plans(void)
{
    const size_t lengths[] = {0, 1, 2, 3, 10, 130, 257, 300, 1000, LENGTH};
    const size_t contexts[] = {0, 1, 7, 128};
    const uint64_t bounds[] = {0, 1, 50, 1000, 100000};
    for (size_t a = 0; a < sizeof lengths / sizeof *lengths; a++)
        for (size_t c = 0; c < sizeof contexts / sizeof *contexts; c++)
            for (size_t d = 0; d < sizeof bounds / sizeof *bounds; d++) {
                crnn_split split = {ids, 1, lengths[a], VOCAB};
                crnn_split_reading r =
                    crnn_split_reading_for(&split, MAX_STREAMS, contexts[c], bounds[d], STEPS);
                size_t n = lengths[a];
                if (n < 2) {
                    CHECK(r.streams == 0, "length %zu: %d streams", n, r.streams);
                    continue;
                }
                size_t predictable = n - 1;
                CHECK(r.streams >= 1 && r.streams <= MAX_STREAMS && r.first == 0 &&
                          r.count == r.streams && r.steps == STEPS,
                      "length %zu: %d streams", n, r.streams);
                CHECK(r.context + (size_t)r.streams <= predictable,
                      "length %zu context %zu: %d streams, context %zu", n, contexts[c],
                      r.streams, r.context);
                CHECK(r.streams == 1 ? r.context == 0 : r.context == contexts[c],
                      "length %zu: context %zu of %zu with %d streams", n, r.context,
                      contexts[c], r.streams);
                size_t piece = (predictable - r.context) / (size_t)r.streams;
                CHECK(r.streams == 1 || piece >= r.context, "length %zu: pieces of %zu, context %zu",
                      n, piece, r.context);
                int bounded = bounds[d] > 0 && bounds[d] < predictable;
                CHECK(!bounded || r.per_stream > 0, "length %zu bound %llu: not bounded", n,
                      (unsigned long long)bounds[d]);
                if (bounded)
                    CHECK((uint64_t)r.per_stream * (uint64_t)r.streams <= bounds[d] ||
                              r.per_stream == 1,
                          "length %zu bound %llu: %d x %zu", n, (unsigned long long)bounds[d],
                          r.streams, r.per_stream);
                else
                    CHECK(r.per_stream == 0, "length %zu: bounded by %zu", n, r.per_stream);
            }
}

int main(void)
{
    crnn_rng rng;
    crnn_rng_seed(&rng, 11);
    for (size_t i = 0; i < LENGTH; i++)
        ids[i] = (unsigned char)(crnn_rng_next(&rng) % VOCAB);
    check_plans();

    /* Without memory: exact sums of the right positions. */
    crnn_model m;
    crnn_error err = {0};
    crnn_model_config flat = {VOCAB, 5, 12, 2, CRNN_CELL_RNN_TANH};
    CHECK_OK(crnn_model_init(&m, &flat, &err), err);
    crnn_model_randomize(&m, &rng, 1.0f);
    for (int l = 0; l < flat.layers; l++)
        memset(m.params + m.layout.wh[l], 0, sizeof(float) * 12 * 12);
    crnn_split split = {ids, 1, LENGTH, VOCAB};
    const struct {
        int max_streams;
        size_t context;
        uint64_t bound;
    } cases[] = {{7, 50, 0}, {7, 50, 2000}, {4, 0, 0}, {9, 128, 0}, {3, 1000, 0}, {1, 64, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        crnn_split_reading r = crnn_split_reading_for(&split, cases[c].max_streams,
                                                      cases[c].context, cases[c].bound, STEPS);
        double chars, want_chars, loss = read_split(&m, &split, &r, &chars);
        double want = expected_loss(&m, &split, &r, &want_chars);
        CHECK(chars == want_chars && fabs(loss - want) <= 1e-9 * want,
              "case %zu (%d streams, context %zu, %zu each): %.12g over %g, want %.12g over %g",
              c, r.streams, r.context, r.per_stream, loss, chars, want, want_chars);
        if (cases[c].bound == 0)
            CHECK(chars > (double)(LENGTH - 1 - r.streams), "case %zu: %g of %d scored", c, chars,
                  LENGTH - 1);
        /* Split among three "ranks", the parts sum to the whole. */
        double part_loss = 0, part_chars = 0;
        for (int rank = 0; rank < 3; rank++) {
            crnn_split_reading p = r;
            p.first = r.streams * rank / 3;
            p.count = r.streams * (rank + 1) / 3 - p.first;
            if (p.count == 0)
                continue;
            double pc;
            part_loss += read_split(&m, &split, &p, &pc);
            part_chars += pc;
        }
        CHECK(part_chars == chars && fabs(part_loss - loss) <= 1e-9 * loss,
              "case %zu by ranks: %.12g over %g, whole %.12g over %g", c, part_loss, part_chars,
              loss, chars);
    }
    crnn_model_free(&m);

    /* With memory: each stream but the first scores its piece from the state
     * its context left, which one stream reading from the context's start
     * has too (up to the rounding of products of other shapes). */
    crnn_model_config lstm = {VOCAB, 5, 24, 2, CRNN_CELL_LSTM};
    CHECK_OK(crnn_model_init(&m, &lstm, &err), err);
    crnn_model_randomize(&m, &rng, 2.0f);
    crnn_split_reading warm = crnn_split_reading_for(&split, 8, 128, 0, STEPS);
    size_t piece = (LENGTH - 1 - warm.context) / (size_t)warm.streams;
    double chars, with_context = read_split(&m, &split, &warm, &chars);
    double want = span_loss(&m, 0, piece + warm.context), from_zero = want;
    for (int st = 1; st < warm.streams; st++) {
        size_t at = (size_t)st * piece;
        want += span_loss(&m, at, at + warm.context + piece) - span_loss(&m, at, at + warm.context);
        from_zero += span_loss(&m, at + warm.context, at + warm.context + piece);
    }
    CHECK(warm.streams == 8 && fabs(with_context - want) <= 1e-7 * want,
          "%d streams with context: %.12g, read alone %.12g", warm.streams, with_context, want);
    CHECK(fabs(from_zero - want) > 1e-5 * want, "zero states cost nothing here (%.12g, %.12g): "
          "the test cannot see the context", from_zero, want);
    crnn_model_free(&m);

    /* The kernel's part: a row not scored. */
    float logits[2 * 4] = {1, 2, 3, 4, 4, 3, 2, 1};
    uint32_t targets[2] = {CRNN_NO_TARGET, 0};
    double row_loss[2] = {-1, -1};
    double total = crnn_softmax_xent(2, 4, logits, targets, 1.0f, row_loss);
    CHECK(row_loss[0] == 0 && total == row_loss[1] && row_loss[1] > 0, "rows %g %g, total %g",
          row_loss[0], row_loss[1], total);
    CHECK(logits[0] == 0 && logits[1] == 0 && logits[2] == 0 && logits[3] == 0,
          "a row not scored has a gradient");
    return check_result("test_reading");
}
