/*
 * test_train.c: training as a whole, through the public API: the model learns a
 * source whose entropy rate is known; stopping, saving and resuming gives the
 * same weights and losses bit for bit (across an epoch boundary); a NaN leaves
 * the trainer unchanged; sampling is reproducible and temperature 0 is argmax.
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
    /* Temperature 0 is argmax: top-k 1 at any temperature and seed gives the same text. */
    crnn_sampler *sm = crnn_sampler_open(snap, &err);
    crnn_sampler_seed(sm, 999);
    CHECK_OK(crnn_sampler_prime(sm, "ab", 2, &err), err);
    o.temperature = 1.7f;
    o.top_k = 1;
    char greedy[200];
    for (int i = 0; i < 199; i++) {
        uint32_t cp;
        CHECK_OK(crnn_sampler_next(sm, &o, &cp, &err), err);
        greedy[i] = (char)cp;
    }
    greedy[199] = 0;
    CHECK(!strcmp(greedy, out[3]), "temperature 0 is not argmax");
    crnn_sampler_free(sm);
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
    c.hidden = 60000;
    c.layers = 16;
    t = crnn_trainer_create(corpus, &c, &compute, &err);
    CHECK(!t && err.status != CRNN_OK, "absurd size accepted");
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
    test_sampling();
    test_learns_entropy_rate();
    return check_result("test_train");
}
