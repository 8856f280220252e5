/*
 * test_train.c: training as a whole, through the public API: the model learns a
 * source whose entropy rate is known; stopping, saving and resuming gives the
 * same weights and losses bit for bit (across an epoch boundary); a NaN leaves
 * the trainer unchanged; sampling is reproducible, and temperature 0, top-k and
 * top-p draw from the distribution they promise (on a model with known logits).
 */
#include <math.h>
#include <string.h>

#include "charrnn.h"
#include "check.h"
#include "kernels.h"
#include "rng.h"
#include "snapshot.h"
#include "testutil.h"

enum { ALPHA = 4 };

/* How every trainer here computes: the defaults, or the oneDNN engine with
 * its rows in groups (--row-groups N). */
static crnn_compute_options compute;

/* The true source's mean loss over text[from, to), set by make_markov_corpus. */
static double oracle_from, oracle_to, oracle_loss;

/* An order-2 Markov source over 4 letters with skewed transition rows. */
static double make_markov_corpus(const char *path, size_t n)
{
    crnn_rng rng;
    crnn_rng_seed(&rng, 2024);
    double p[ALPHA * ALPHA][ALPHA];
    for (int s = 0; s < ALPHA * ALPHA; s++) {
        double sum = 0;
        for (int k = 0; k < ALPHA; k++) {
            double u = crnn_rng_uniform_double(&rng);
            p[s][k] = u * u * u + 0.02;
            sum += p[s][k];
        }
        for (int k = 0; k < ALPHA; k++)
            p[s][k] /= sum;
    }
    /* Entropy rate: stationary distribution of the pair chain by power iteration. */
    double pi[ALPHA * ALPHA], next[ALPHA * ALPHA];
    for (int s = 0; s < ALPHA * ALPHA; s++)
        pi[s] = 1.0 / (ALPHA * ALPHA);
    for (int it = 0; it < 2000; it++) {
        memset(next, 0, sizeof next);
        for (int s = 0; s < ALPHA * ALPHA; s++)
            for (int k = 0; k < ALPHA; k++)
                next[(s % ALPHA) * ALPHA + k] += pi[s] * p[s][k];
        memcpy(pi, next, sizeof pi);
    }
    double h = 0;
    for (int s = 0; s < ALPHA * ALPHA; s++)
        for (int k = 0; k < ALPHA; k++)
            h -= pi[s] * p[s][k] * log(p[s][k]);
    char *text = malloc(n);
    int a = 0, b = 1;
    double oracle_sum = 0;
    size_t oracle_n = 0;
    for (size_t i = 0; i < n; i++) {
        double u = crnn_rng_uniform_double(&rng), cum = 0;
        int k = ALPHA - 1;
        for (int j = 0; j < ALPHA; j++) {
            cum += p[a * ALPHA + b][j];
            if (u < cum) {
                k = j;
                break;
            }
        }
        text[i] = (char)('a' + k);
        if (i >= oracle_from && i < oracle_to) {
            oracle_sum -= log(p[a * ALPHA + b][k]);
            oracle_n++;
        }
        a = b;
        b = k;
    }
    oracle_loss = oracle_n ? oracle_sum / (double)oracle_n : NAN;
    write_text(path, text, n);
    free(text);
    return h;
}

static void test_learns_entropy_rate(void)
{
    const char *corpus = temp_path("markov.txt");
    oracle_from = 0.90 * 120000; /* the validation split */
    oracle_to = 0.95 * 120000;
    double h = make_markov_corpus(corpus, 120000);
    oracle_from = oracle_to = 0;
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.layers = 1;
    c.hidden = 32;
    c.embed = 8;
    c.batch = 32;
    c.seq = 32;
    c.learning_rate = 1e-2f;
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &compute, &err);
    CHECK(t, "create: %s", err.message);
    if (!t)
        return;
    double loss, val = NAN;
    for (int i = 0; i < 400; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    CHECK_OK(crnn_trainer_evaluate(t, &val, &err), err);
    fprintf(stderr,
            "markov: entropy rate %.4f nats; on the validation text the true source scores %.4f "
            "and the model %.4f (%.1f%% above)\n",
            h, oracle_loss, val, 100 * (val / oracle_loss - 1));
    CHECK(val < 1.10 * h && val < 1.10 * oracle_loss,
          "validation %.4f is not within 10%% of the entropy rate %.4f", val, h);
    CHECK(val > oracle_loss - 0.02, "validation %.4f beats the true source %.4f: a leak?", val,
          oracle_loss);
    /* The sampler carries its state: after a two-letter prime, the most likely
     * next letter of an order-2 source depends on the first letter too, for
     * some second letter (a sampler that forgot its state would see only the
     * last one). */
    const char *snap = temp_path("markov.crnn");
    CHECK_OK(crnn_trainer_save(t, snap, &err), err);
    crnn_sampler *sm = crnn_sampler_open(snap, &err);
    CHECK(sm, "%s", err.message);
    crnn_sample_options o;
    crnn_sample_options_default(&o);
    o.temperature = 0;
    int depends = 0;
    for (int second = 0; sm && second < ALPHA; second++) {
        uint32_t first_choice = 0;
        for (int first = 0; first < ALPHA; first++) {
            char prime[2] = {(char)('a' + first), (char)('a' + second)};
            uint32_t next = 0;
            crnn_sampler_reset(sm);
            CHECK_OK(crnn_sampler_prime(sm, prime, 2, &err), err);
            CHECK_OK(crnn_sampler_next(sm, &o, &next, &err), err);
            if (first == 0)
                first_choice = next;
            depends |= next != first_choice;
        }
    }
    CHECK(depends, "the next letter never depends on the one before last: state not carried");
    crnn_sampler_free(sm);
    crnn_trainer_free(t);
}

static crnn_train_config small_config(void)
{
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.layers = 2;
    c.hidden = 24;
    c.embed = 8;
    c.batch = 4;
    c.seq = 16;
    return c;
}

static void compare_snapshots(const char *a, const char *b)
{
    crnn_snapshot x, y;
    crnn_error err = {0};
    CHECK_OK(crnn_snapshot_load(a, &x, &err), err);
    CHECK_OK(crnn_snapshot_load(b, &y, &err), err);
    CHECK(x.step == y.step, "steps %llu and %llu", (unsigned long long)x.step,
          (unsigned long long)y.step);
    CHECK(x.n_params == y.n_params && !memcmp(x.params, y.params, 4 * x.n_params),
          "weights differ");
    CHECK(!memcmp(x.adam_m, y.adam_m, 4 * x.n_params) && !memcmp(x.adam_v, y.adam_v, 4 * x.n_params),
          "optimizer moments differ");
    CHECK(x.n_state == y.n_state && !memcmp(x.state, y.state, 4 * x.n_state), "hidden state differs");
    CHECK(!memcmp(x.cursors, y.cursors, 8 * (size_t)x.n_cursors), "cursors differ");
    CHECK(!memcmp(x.rng, y.rng, sizeof x.rng), "RNG differs");
    crnn_snapshot_free(&x);
    crnn_snapshot_free(&y);
}

static void test_resume_is_exact(void)
{
    const char *corpus = temp_path("resume.txt");
    make_markov_corpus(corpus, 3000); /* about 38 chunks per epoch: 60 steps cross one */
    crnn_train_config c = small_config();
    crnn_error err = {0};
    double straight[60], resumed[60];
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &compute, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    crnn_trainer_status st;
    crnn_trainer_get_status(t, &st);
    CHECK(st.steps_per_epoch < 60, "the run must cross an epoch (%llu steps per epoch)",
          (unsigned long long)st.steps_per_epoch);
    for (int i = 0; i < 60; i++)
        CHECK_OK(crnn_trainer_step(t, &straight[i], &err), err);
    const char *full = temp_path("full.crnn"), *half = temp_path("half.crnn"),
               *again = temp_path("again.crnn");
    CHECK_OK(crnn_trainer_save(t, full, &err), err);
    crnn_trainer_free(t);

    t = crnn_trainer_create(corpus, &c, &compute, &err);
    for (int i = 0; i < 30; i++)
        CHECK_OK(crnn_trainer_step(t, &resumed[i], &err), err);
    double v;
    CHECK_OK(crnn_trainer_evaluate(t, &v, &err), err); /* evaluation must not disturb training */
    CHECK_OK(crnn_trainer_save(t, half, &err), err);
    crnn_trainer_free(t);
    t = crnn_trainer_resume(half, NULL, &compute, &err);
    CHECK(t, "resume: %s", err.message);
    if (!t)
        return;
    for (int i = 30; i < 60; i++)
        CHECK_OK(crnn_trainer_step(t, &resumed[i], &err), err);
    CHECK_OK(crnn_trainer_save(t, again, &err), err);
    crnn_trainer_free(t);
    CHECK(!memcmp(straight, resumed, sizeof straight), "losses differ after resuming");
    compare_snapshots(full, again);

    /* Resuming against a different corpus is refused. */
    const char *other = temp_path("other.txt");
    make_markov_corpus(other, 3001);
    t = crnn_trainer_resume(half, other, &compute, &err);
    CHECK(!t && err.status == CRNN_ERR_DATA && strstr(err.message, "not the corpus"),
          "changed corpus accepted: %s", err.message);
    crnn_trainer_free(t);
}

/* A fixed-seed run with the fast kernels (OpenBLAS, vectorized gate loops, the
 * fast exp), on charrnn's own cells and on oneDNN's LSTM, follows the loss
 * curve of the plain C references to float tolerance. Batch 16 x 24 and hidden
 * 40 give products big enough to take OpenBLAS's blocked paths and gate loops
 * big enough to run threaded. */
static void test_fast_kernels_match_reference(void)
{
    const char *corpus = temp_path("kernels.txt");
    make_markov_corpus(corpus, 20000);
    crnn_train_config c = small_config();
    c.hidden = 40;
    c.batch = 16;
    c.seq = 24;
    c.dropout = 0.2f;
    enum { STEPS = 40, REF = 0, OWN = 1, ONEDNN = 2, BF16 = 3 };
    static const char *const names[] = {"reference", "own cells", "oneDNN", "oneDNN bf16"};
    static const crnn_engine engines[] = {CRNN_ENGINE_OWN, CRNN_ENGINE_OWN, CRNN_ENGINE_ONEDNN,
                                          CRNN_ENGINE_ONEDNN_BF16};
    double loss[4][STEPS];
    crnn_error err = {0};
    int runs = crnn_engine_check(CRNN_ENGINE_ONEDNN, NULL) != CRNN_OK        ? 2
               : crnn_engine_check(CRNN_ENGINE_ONEDNN_BF16, NULL) != CRNN_OK ? 3
                                                                            : 4;
    if (runs < 4)
        fprintf(stderr, "test_train: no oneDNN bf16 here (no oneDNN, or no AVX512-BF16)\n");
    for (int run = 0; run < runs; run++) {
        crnn_kernels_use_reference(run == REF);
        crnn_compute_options o = compute;
        o.engine = engines[run];
        crnn_trainer *t = crnn_trainer_create(corpus, &c, &o, &err);
        CHECK(t, "%s: %s", names[run], err.message);
        if (!t)
            break;
        for (int i = 0; i < STEPS; i++)
            CHECK_OK(crnn_trainer_step(t, &loss[run][i], &err), err);
        crnn_trainer_free(t);
    }
    crnn_kernels_use_reference(0);
    for (int run = OWN; run < runs; run++) {
        double worst = 0;
        for (int i = 0; i < STEPS; i++)
            worst = fmax(worst, fabs(loss[run][i] - loss[REF][i]) / loss[REF][i]);
        /* bf16 keeps 8 bits of mantissa in the products (measured here: 6e-5). */
        double tolerance = run == BF16 ? 1e-3 : 1e-4;
        CHECK(worst < tolerance, "%s and reference kernels differ by %.3g (relative) over %d steps",
              names[run], worst, STEPS);
        CHECK(memcmp(loss[run], loss[REF], sizeof loss[0]) != 0, "the %s did not run", names[run]);
        fprintf(stderr, "fast kernels: %s within %.2g of the reference over %d steps\n",
                names[run], worst, STEPS);
    }
    if (runs >= 3)
        CHECK(memcmp(loss[OWN], loss[ONEDNN], sizeof loss[0]) != 0, "oneDNN did not run");
    if (runs == 4)
        CHECK(memcmp(loss[ONEDNN], loss[BF16], sizeof loss[0]) != 0, "bf16 did not run");
}

/* Evaluation sees the whole network: the dropout masks of the last training
 * step must not reach it. A trainer that just stepped with dropout evaluates
 * the same as a fresh trainer resumed from its snapshot (which drew none). */
static void test_evaluation_without_dropout(void)
{
    const char *corpus = temp_path("dropout.txt");
    make_markov_corpus(corpus, 3000);
    crnn_train_config c = small_config();
    c.dropout = 0.5f;
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &compute, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    double loss, live = NAN, resumed = NAN;
    for (int i = 0; i < 3; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    const char *snap = temp_path("dropout.crnn");
    CHECK_OK(crnn_trainer_save(t, snap, &err), err);
    CHECK_OK(crnn_trainer_evaluate(t, &live, &err), err);
    crnn_trainer_free(t);
    t = crnn_trainer_resume(snap, NULL, &compute, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    CHECK_OK(crnn_trainer_evaluate(t, &resumed, &err), err);
    CHECK(live == resumed, "evaluation after a dropout step %.9g, after resuming %.9g", live,
          resumed);
    crnn_trainer_free(t);
}

/* Periodic validation reads a bounded part of the split, the same part at
 * every call (so a curve compares like with like); the whole split is read
 * when asked; the default bound follows the work between evaluations. */
static void test_evaluation_part(void)
{
    const char *corpus = temp_path("part.txt");
    make_markov_corpus(corpus, 200000); /* a validation split of 10000 characters */
    crnn_train_config c = small_config();
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &compute, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    crnn_run_settings run = {.eval_every = 10};
    crnn_trainer_set_run_settings(t, &run);
    crnn_trainer_get_run_settings(t, &run);
    uint64_t chosen = 10u * 4 * 16 / 4;
    CHECK(run.eval_chars == (chosen > CRNN_EVAL_CHARS_MIN ? chosen : CRNN_EVAL_CHARS_MIN),
          "the default part: %llu characters", (unsigned long long)run.eval_chars);
    run.eval_chars = 2000;
    crnn_trainer_set_run_settings(t, &run);
    double loss, first = NAN, again = NAN, part = NAN, whole = NAN, all = NAN;
    for (int i = 0; i < 5; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    crnn_trainer_status st;
    uint64_t part_read = 0, whole_read = 0;
    CHECK_OK(crnn_trainer_evaluate(t, &first, &err), err);
    crnn_trainer_get_status(t, &st);
    CHECK(st.last_val_chars > 1500 && st.last_val_chars <= 2000,
          "validation with eval_chars 2000 read %llu characters",
          (unsigned long long)st.last_val_chars);
    CHECK_OK(crnn_trainer_evaluate(t, &again, &err), err);
    CHECK(first == again, "the part read changed between two evaluations: %.9g, %.9g", first, again);
    CHECK_OK(crnn_trainer_measure(t, CRNN_SPLIT_VALIDATION, 2000, &part, &part_read, &err), err);
    CHECK(part == first && part_read == st.last_val_chars,
          "measuring the same bound read another part: %.9g over %llu, %.9g over %llu", part,
          (unsigned long long)part_read, first, (unsigned long long)st.last_val_chars);
    CHECK_OK(crnn_trainer_measure(t, CRNN_SPLIT_VALIDATION, 0, &whole, &whole_read, &err), err);
    CHECK(whole_read > st.val_chars - 200 && whole_read < st.val_chars,
          "the whole validation split of %llu characters read as %llu",
          (unsigned long long)st.val_chars, (unsigned long long)whole_read);
    run.eval_chars = UINT64_MAX;
    crnn_trainer_set_run_settings(t, &run);
    CHECK_OK(crnn_trainer_evaluate(t, &all, &err), err);
    crnn_trainer_get_status(t, &st);
    CHECK(all == whole && st.last_val_chars == whole_read,
          "eval_chars UINT64_MAX: %.9g over %llu, the whole split %.9g over %llu", all,
          (unsigned long long)st.last_val_chars, whole, (unsigned long long)whole_read);
    double test = NAN;
    uint64_t test_read = 0;
    CHECK_OK(crnn_trainer_measure(t, CRNN_SPLIT_TEST, 3000, &test, &test_read, &err), err);
    CHECK(test_read > 2000 && test_read <= 3000 && isfinite(test), "the test split's part: %llu",
          (unsigned long long)test_read);
    CHECK(crnn_trainer_measure(t, (crnn_split_kind)7, 0, &test, NULL, &err) == CRNN_ERR_ARG,
          "an unknown split was measured");
    crnn_trainer_free(t);
}

/* Validation loss after `steps` steps of a trainer (freed). */
static double loss_after(crnn_trainer *t, int steps)
{
    crnn_error err = {0};
    double loss, val = NAN;
    for (int i = 0; i < steps; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    CHECK_OK(crnn_trainer_evaluate(t, &val, &err), err);
    crnn_trainer_free(t);
    return val;
}

/* Fine-tuning: a model trained on one text, fine-tuned on another that has
 * characters the first lacked, keeps every old character's id, gains the new
 * ones, and after K steps is ahead of the same K steps from scratch; the run
 * records where it came from, resumes, and refuses another shape. */
static void test_finetune(void)
{
    const char *old_text = temp_path("old.txt"), *new_text = temp_path("new.txt");
    make_markov_corpus(old_text, 40000);
    size_t n;
    unsigned char *text = read_all(old_text, &n);
    make_markov_corpus(new_text, 60000); /* the same source, read further */
    unsigned char *more = read_all(new_text, &n);
    for (size_t i = 0; i < n; i += 37) /* and two characters the old text never had */
        more[i] = i % 2 ? 'x' : 'y';
    write_text(new_text, (const char *)more, n);
    free(more);
    free(text);
    crnn_train_config c = small_config();
    c.batch = 8;
    c.learning_rate = 1e-2f;
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(old_text, &c, &compute, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    double loss;
    for (int i = 0; i < 150; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    const char *old_snap = temp_path("old.crnn");
    CHECK_OK(crnn_trainer_save(t, old_snap, &err), err);
    crnn_trainer_free(t);

    crnn_trainer *tuned = crnn_trainer_finetune(new_text, old_snap, &c, &compute, &err);
    CHECK(tuned, "finetune: %s", err.message);
    if (!tuned)
        return;
    crnn_trainer_status st;
    crnn_trainer_get_status(tuned, &st);
    CHECK(st.vocab_size == ALPHA + 2 && st.origin_vocab_size == ALPHA,
          "vocabulary %d (from %d), expected %d + 2", st.vocab_size, st.origin_vocab_size, ALPHA);
    for (int i = 0; i < ALPHA; i++)
        CHECK(st.vocabulary[i] == (uint32_t)('a' + i), "the old token %d is now U+%04X", i,
              st.vocabulary[i]);
    CHECK(st.vocab_size == ALPHA + 2 && st.vocabulary[ALPHA] == 'x' && st.vocabulary[ALPHA + 1] == 'y',
          "the new characters did not follow the old ones");
    const char *tuned_snap = temp_path("tuned.crnn");
    CHECK_OK(crnn_trainer_save(tuned, tuned_snap, &err), err);
    double from_old = loss_after(tuned, 20);
    crnn_trainer *scratch = crnn_trainer_create(new_text, &c, &compute, &err);
    CHECK(scratch, "%s", err.message);
    double from_scratch = scratch ? loss_after(scratch, 20) : NAN;
    fprintf(stderr, "finetune: validation after 20 steps: %.4f fine-tuned, %.4f from scratch\n",
            from_old, from_scratch);
    CHECK(from_old < from_scratch - 0.05, "fine-tuning (%.4f) is not ahead of training from "
          "scratch (%.4f)", from_old, from_scratch);

    crnn_snapshot_info info;
    CHECK_OK(crnn_snapshot_read_info(tuned_snap, &info, &err), err);
    CHECK(!strcmp(info.origin_path, old_snap) && info.origin_step == 150 &&
              info.origin_vocab_size == ALPHA && info.vocab_size == ALPHA + 2,
          "the origin recorded: '%s' at %llu, vocabulary %d", info.origin_path,
          (unsigned long long)info.origin_step, info.origin_vocab_size);
    crnn_trainer *resumed = crnn_trainer_resume(tuned_snap, NULL, &compute, &err);
    CHECK(resumed, "resuming a fine-tuned run: %s", err.message);
    if (resumed) {
        crnn_trainer_get_status(resumed, &st);
        CHECK(st.origin_vocab_size == ALPHA && st.vocabulary[ALPHA] == 'x' && st.step == 0,
              "the resumed run lost its origin");
        crnn_trainer_free(resumed);
    }
    crnn_sampler *sm = crnn_sampler_open(tuned_snap, &err);
    CHECK(sm && crnn_sampler_prime(sm, "abxy", 4, &err) == CRNN_OK, "sampling: %s", err.message);
    crnn_sampler_free(sm);

    crnn_train_config wider = c;
    wider.hidden = c.hidden + 1;
    CHECK(!crnn_trainer_finetune(new_text, old_snap, &wider, &compute, &err) &&
              err.status == CRNN_ERR_ARG && strstr(err.message, "hidden size"),
          "another hidden size: %s", err.message);
    CHECK(!crnn_trainer_finetune(new_text, new_text, &c, &compute, &err) &&
              err.status == CRNN_ERR_FORMAT && strstr(err.message, new_text),
          "a text as the model to start from: %s", err.message);
}

static void test_nan_leaves_trainer_unchanged(void)
{
    const char *corpus = temp_path("nan.txt");
    make_markov_corpus(corpus, 3000);
    crnn_train_config c = small_config();
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &compute, &err);
    double loss;
    for (int i = 0; i < 5; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    const char *good = temp_path("good.crnn"), *poisoned = temp_path("poisoned.crnn"),
               *after = temp_path("after.crnn");
    CHECK_OK(crnn_trainer_save(t, good, &err), err);
    crnn_trainer_free(t);
    /* Poison one output bias: every logit row gets a NaN. */
    crnn_snapshot s;
    CHECK_OK(crnn_snapshot_load(good, &s, &err), err);
    s.params[s.n_params - 1] = NAN;
    CHECK_OK(crnn_snapshot_save(poisoned, &s, &err), err);
    crnn_snapshot_free(&s);
    t = crnn_trainer_resume(poisoned, NULL, &compute, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    int rc = crnn_trainer_step(t, &loss, &err);
    CHECK(rc == CRNN_ERR_NUMERIC && strstr(err.message, "NaN"), "NaN not caught: %d %s", rc,
          err.message);
    CHECK_OK(crnn_trainer_save(t, after, &err), err);
    crnn_trainer_free(t);
    compare_snapshots(poisoned, after);
}

static void test_sampling(void)
{
    const char *corpus = temp_path("sample.txt");
    make_markov_corpus(corpus, 3000);
    crnn_train_config c = small_config();
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &compute, &err);
    double loss;
    for (int i = 0; i < 20; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    const char *snap = temp_path("s.crnn");
    CHECK_OK(crnn_trainer_save(t, snap, &err), err);
    crnn_trainer_free(t);

    crnn_sample_options o;
    crnn_sample_options_default(&o);
    char out[4][200];
    uint64_t seeds[4] = {5, 5, 6, 5};
    float temps[4] = {1, 1, 1, 0};
    for (int r = 0; r < 4; r++) {
        crnn_sampler *sm = crnn_sampler_open(snap, &err);
        CHECK(sm, "%s", err.message);
        if (!sm)
            return;
        crnn_sampler_seed(sm, seeds[r]);
        CHECK_OK(crnn_sampler_prime(sm, "ab", 2, &err), err);
        o.temperature = temps[r];
        for (int i = 0; i < 199; i++) {
            uint32_t cp;
            CHECK_OK(crnn_sampler_next(sm, &o, &cp, &err), err);
            out[r][i] = (char)cp;
        }
        out[r][199] = 0;
        CHECK(crnn_sampler_prime(sm, "az", 2, &err) == CRNN_ERR_VOCAB && strstr(err.message, "'z'"),
              "unknown priming character: %s", err.message);
        crnn_sampler_free(sm);
    }
    CHECK(!strcmp(out[0], out[1]), "the same seed gave different text");
    CHECK(strcmp(out[0], out[2]), "different seeds gave the same text");
    /* Other routes to the most likely character (top-k 1, which returns early,
     * and top-p near 0, which sorts) at any temperature and seed give the text
     * of temperature 0. That argmax is the right character is checked against
     * a model with known logits in test_sampling_distribution. */
    for (int route = 0; route < 2; route++) {
        crnn_sampler *sm = crnn_sampler_open(snap, &err);
        CHECK(sm, "%s", err.message);
        if (!sm)
            return;
        crnn_sampler_seed(sm, 999 + (uint64_t)route);
        CHECK_OK(crnn_sampler_prime(sm, "ab", 2, &err), err);
        crnn_sample_options_default(&o);
        o.temperature = route ? 0.6f : 1.7f;
        if (route)
            o.top_p = 1e-6f;
        else
            o.top_k = 1;
        char greedy[200];
        for (int i = 0; i < 199; i++) {
            uint32_t cp;
            CHECK_OK(crnn_sampler_next(sm, &o, &cp, &err), err);
            greedy[i] = (char)cp;
        }
        greedy[199] = 0;
        CHECK(!strcmp(greedy, out[3]), "%s does not give temperature 0's text",
              route ? "top-p 1e-6" : "top-k 1");
        crnn_sampler_free(sm);
    }
}

/* A model whose next-character distribution is known exactly: every weight 0
 * except the output bias, so the logits are that bias at every step whatever
 * the input and state (model.h: logits = h Wy + by). Over the letters a..h the
 * probabilities are P_KNOWN, in an order unlike their ranks so that sorting
 * matters; the running sums by rank are .30 .50 .65 .77 .87 .94 .98 1, none
 * near the top-p values used below. */
enum { KNOWN_V = 8 };
static const double P_KNOWN[KNOWN_V] = {0.07, 0.30, 0.02, 0.15, 0.20, 0.04, 0.12, 0.10};

static const char *known_model(const char *base, const double *p, const char *name)
{
    crnn_error err = {0};
    crnn_snapshot s;
    const char *path = temp_path(name);
    CHECK_OK(crnn_snapshot_load(base, &s, &err), err);
    CHECK(s.vocab_size == KNOWN_V && s.vocab[0] == 'a' && s.vocab[KNOWN_V - 1] == 'h',
          "the letters corpus has %d symbols", s.vocab_size);
    memset(s.params, 0, sizeof(float) * s.n_params);
    for (int j = 0; j < KNOWN_V; j++)
        s.params[s.n_params - KNOWN_V + (size_t)j] = (float)log(p[j]);
    CHECK_OK(crnn_snapshot_save(path, &s, &err), err);
    crnn_snapshot_free(&s);
    return path;
}

/* Draws 4000 characters with options o from the model: a letter whose want[j]
 * is 0 must never come out, every other one with a frequency close to want[j]
 * (within 4.5 standard deviations of a binomial count, plus a little for float
 * rounding). The seed is fixed: the outcome is the same at every run. */
static void expect_frequencies(const char *model, const crnn_sample_options *o, uint64_t seed,
                               const double *want, const char *what)
{
    enum { N = 4000 };
    crnn_error err = {0};
    crnn_sampler *sm = crnn_sampler_open(model, &err);
    CHECK(sm, "%s", err.message);
    if (!sm)
        return;
    crnn_sampler_seed(sm, seed);
    int count[KNOWN_V] = {0};
    for (int i = 0; i < N; i++) {
        uint32_t cp;
        CHECK_OK(crnn_sampler_next(sm, o, &cp, &err), err);
        if (cp >= 'a' && cp < 'a' + KNOWN_V)
            count[cp - 'a']++;
        else
            CHECK(0, "%s: drew U+%04X, not a letter of the model", what, (unsigned)cp);
    }
    crnn_sampler_free(sm);
    for (int j = 0; j < KNOWN_V; j++) {
        double f = (double)count[j] / N;
        if (want[j] == 0) {
            CHECK(count[j] == 0, "%s: '%c' came out %d times; it must never", what, 'a' + j,
                  count[j]);
        } else {
            double tol = 4.5 * sqrt(want[j] * (1 - want[j]) / N) + 1e-3;
            CHECK(fabs(f - want[j]) <= tol, "%s: '%c' came out at %.4f, expected %.4f +- %.4f",
                  what, 'a' + j, f, want[j], tol);
        }
    }
}

/* The expected distribution when only the tokens whose probability is at
 * least `floor` are kept, at temperature t: p^(1/t) renormalized. */
static void kept_distribution(const double *p, double floor, double t, double *out)
{
    double total = 0;
    for (int j = 0; j < KNOWN_V; j++) {
        out[j] = p[j] >= floor ? pow(p[j], 1 / t) : 0;
        total += out[j];
    }
    for (int j = 0; j < KNOWN_V; j++)
        out[j] /= total;
}

static void test_sampling_distribution(void)
{
    const char *corpus = temp_path("letters.txt");
    char text[3000];
    crnn_rng rng;
    crnn_rng_seed(&rng, 77);
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + crnn_rng_next(&rng) % KNOWN_V);
    write_text(corpus, text, sizeof text);
    crnn_train_config c = small_config();
    c.layers = 1;
    c.hidden = 4;
    c.embed = 2;
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &compute, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        return;
    char base[512]; /* temp_path's buffers are reused after a few calls */
    snprintf(base, sizeof base, "%s", temp_path("letters.crnn"));
    CHECK_OK(crnn_trainer_save(t, base, &err), err);
    crnn_trainer_free(t);

    /* Argmax, with the most likely letter first, inside and last (the test
     * finds it from P_KNOWN), by temperature 0, top-k 1 and top-p near 0. */
    static const int shifts[3] = {7, 0, 2}; /* 'b' moves to a, b, d */
    for (int k = 0; k < 3; k++) {
        double p[KNOWN_V];
        int best = 0;
        for (int j = 0; j < KNOWN_V; j++)
            p[j] = P_KNOWN[(j + shifts[k]) % KNOWN_V];
        for (int j = 1; j < KNOWN_V; j++)
            if (p[j] > p[best])
                best = j;
        char name[32];
        snprintf(name, sizeof name, "argmax%d.crnn", k);
        const char *model = known_model(base, p, name);
        double want[KNOWN_V] = {0};
        want[best] = 1;
        crnn_sample_options o;
        crnn_sample_options_default(&o);
        o.temperature = 0;
        snprintf(name, sizeof name, "temperature 0 (%c)", 'a' + best);
        expect_frequencies(model, &o, 3, want, name);
        o.temperature = 1.5f;
        o.top_k = 1;
        expect_frequencies(model, &o, 4, want, "top-k 1");
        o.top_k = 0;
        o.top_p = 1e-4f;
        expect_frequencies(model, &o, 5, want, "top-p 1e-4");
    }

    const char *model = known_model(base, P_KNOWN, "known.crnn");
    crnn_sample_options o;
    crnn_sample_options_default(&o);
    double want[KNOWN_V];
    /* Plain sampling: every letter at its probability; top-p 1 keeps all. */
    kept_distribution(P_KNOWN, 0, 1, want);
    expect_frequencies(model, &o, 11, want, "temperature 1");
    /* Temperature 2 flattens: p^(1/2), renormalized. */
    o.temperature = 2;
    kept_distribution(P_KNOWN, 0, 2, want);
    expect_frequencies(model, &o, 12, want, "temperature 2");
    o.temperature = 1;
    /* Top-k: the k most likely only, in proportion. */
    o.top_k = 3; /* b .30, e .20, d .15 */
    kept_distribution(P_KNOWN, 0.15, 1, want);
    expect_frequencies(model, &o, 13, want, "top-k 3");
    o.top_k = 7; /* all but c .02 */
    kept_distribution(P_KNOWN, 0.03, 1, want);
    expect_frequencies(model, &o, 14, want, "top-k 7");
    o.top_k = KNOWN_V;
    kept_distribution(P_KNOWN, 0, 1, want);
    expect_frequencies(model, &o, 15, want, "top-k V");
    o.top_k = 3;
    o.temperature = 2;
    kept_distribution(P_KNOWN, 0.15, 2, want);
    expect_frequencies(model, &o, 16, want, "top-k 3 at temperature 2");
    o.temperature = 1;
    o.top_k = 0;
    /* Top-p: the smallest set of the most likely whose probability reaches p. */
    o.top_p = 0.6f; /* .30 + .20 + .15 = .65 >= .6 */
    kept_distribution(P_KNOWN, 0.15, 1, want);
    expect_frequencies(model, &o, 17, want, "top-p 0.6");
    o.top_p = 0.45f; /* .30 + .20 */
    kept_distribution(P_KNOWN, 0.20, 1, want);
    expect_frequencies(model, &o, 18, want, "top-p 0.45");
    o.top_p = 0.9f; /* up to .94: all but f .04 and c .02 */
    kept_distribution(P_KNOWN, 0.05, 1, want);
    expect_frequencies(model, &o, 19, want, "top-p 0.9");
    o.top_p = 1;
    kept_distribution(P_KNOWN, 0, 1, want);
    expect_frequencies(model, &o, 20, want, "top-p 1");
    /* Both: the smaller set wins. */
    o.top_p = 0.9f;
    o.top_k = 2;
    kept_distribution(P_KNOWN, 0.20, 1, want);
    expect_frequencies(model, &o, 21, want, "top-k 2 with top-p 0.9");
    o.top_p = 0.6f;
    o.top_k = 5;
    kept_distribution(P_KNOWN, 0.15, 1, want);
    expect_frequencies(model, &o, 22, want, "top-p 0.6 with top-k 5");
}

static void test_bad_config(void)
{
    const char *corpus = temp_path("tiny.txt");
    write_text(corpus, "abcabcabc", 9);
    crnn_train_config c;
    crnn_train_config_default(&c);
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, &compute, &err);
    CHECK(!t && err.status == CRNN_ERR_DATA && strstr(err.message, "--batch"),
          "tiny corpus: %s", err.message);
    const char *empty = temp_path("empty.txt");
    write_text(empty, "", 0);
    t = crnn_trainer_create(empty, &c, &compute, &err);
    CHECK(!t && err.status == CRNN_ERR_DATA && strstr(err.message, "empty"), "empty: %s",
          err.message);
    t = crnn_trainer_create(temp_path("missing.txt"), &c, &compute, &err);
    CHECK(!t && err.status == CRNN_ERR_IO, "missing: %s", err.message);
    /* An absurd size on a corpus that fits the batch, so that the data checks
     * pass and the memory estimate is what refuses it (16 x 60000 is about 7 TB
     * of weights and moments), before anything that size is allocated. */
    const char *fits = temp_path("fits.txt");
    make_markov_corpus(fits, 3000);
    c = small_config();
    t = crnn_trainer_create(fits, &c, &compute, &err);
    CHECK(t, "the small configuration must fit this corpus: %s", err.message);
    crnn_trainer_free(t);
    c.hidden = 60000;
    c.layers = 16;
    t = crnn_trainer_create(fits, &c, &compute, &err);
    CHECK(!t && err.status == CRNN_ERR_NOMEM && strstr(err.message, "needs about") &&
              strstr(err.message, "--hidden"),
          "absurd size: status %d: %s", err.status, err.message);
    crnn_trainer_free(t);
    c = small_config();
    c.batch = 0;
    t = crnn_trainer_create(corpus, &c, &compute, &err);
    CHECK(!t && err.status == CRNN_ERR_ARG, "batch 0: %s", err.message);
}

int main(int argc, char **argv)
{
    crnn_compute_options_default(&compute);
    if (argc == 3 && !strcmp(argv[1], "--row-groups")) {
        if (crnn_engine_check(CRNN_ENGINE_ONEDNN, NULL) != CRNN_OK) {
            fprintf(stderr, "test_train: no oneDNN engine in this build: skipped\n");
            return 77;
        }
        compute.engine = CRNN_ENGINE_ONEDNN;
        compute.row_groups = atoi(argv[2]);
    }
    crnn_set_threads(2);
    test_bad_config();
    test_resume_is_exact();
    test_fast_kernels_match_reference();
    test_nan_leaves_trainer_unchanged();
    test_evaluation_without_dropout();
    test_evaluation_part();
    test_finetune();
    test_sampling();
    test_sampling_distribution();
    test_learns_entropy_rate();
    return check_result("test_train");
}
