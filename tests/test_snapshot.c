/*
 * test_snapshot.c: the snapshot format: a round trip keeps every field (the
 * configuration compared field by field with the one trained); a file of the
 * previous format version still reads; every truncation and thousands of
 * random byte flips are rejected with an error (no crash, nothing accepted
 * silently); a newer format version is refused with a message naming the
 * version; garbage and foreign files are refused.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <zlib.h>

#include "charrnn.h"
#include "check.h"
#include "rng.h"
#include "snapshot.h"
#include "testutil.h"

/* Every field of crnn_train_config, in the order of charrnn.h, with a value
 * that is valid for training and differs from both 0 and the default, so that
 * a field the snapshot does not write (it reads back as 0, or as its
 * default), or reads into the wrong place, fails the comparisons below.
 *
 * To extend it: when crnn_train_config gains a field, this file stops
 * compiling (the initializer of train_config must name every field:
 * -Wmissing-field-initializers is an error here). Add X(field, value) at the
 * field's place in charrnn.h's order, with a value unlike 0 and the default;
 * the comparisons pick it up. If the test then fails, the snapshot does not
 * keep the field: append it to CONF in snapshot.c (see "Versions" in
 * docs/snapshot-format.md). */
#define CONFIG_FIELDS(X)                                                                      \
    X(cell, CRNN_CELL_GRU)                                                                    \
    X(layers, 1)                                                                              \
    X(hidden, 8)                                                                              \
    X(embed, 4)                                                                               \
    X(batch, 4)                                                                               \
    X(seq, 8)                                                                                 \
    X(learning_rate, 0.01f)                                                                   \
    X(optimizer, CRNN_OPT_RMSPROP)                                                            \
    X(schedule, CRNN_SCHEDULE_STEP)                                                           \
    X(lr_decay, 0.5f)                                                                         \
    X(decay_every, 2.5f)                                                                      \
    X(warmup_steps, 2)                                                                        \
    X(schedule_steps, 77)                                                                     \
    X(weight_decay, 0.01f)                                                                    \
    X(dropout, 0.1f)                                                                          \
    X(reset_state, 1)                                                                         \
    X(forget_bias, 0.75f)                                                                     \
    X(clip, 2.5f)                                                                             \
    X(val_fraction, 0.1f)                                                                     \
    X(test_fraction, 0.07f)                                                                   \
    X(seed, 12345)                                                                            \
    X(lossy, 1)                                                                               \
    X(normalize, CRNN_NORMALIZE_NFC)                                                          \
    X(max_vocab, 20)                                                                          \
    X(cooldown_steps, 345)

#pragma GCC diagnostic push
#pragma GCC diagnostic error "-Wmissing-field-initializers"
#define CONFIG_VALUE(field, value) value,
static const crnn_train_config train_config = {CONFIG_FIELDS(CONFIG_VALUE)};
#pragma GCC diagnostic pop

/* The list itself: in charrnn.h's order (so the initializer above puts each
 * value in its field), and every value unlike 0 and the default. */
static void test_config_list(void)
{
#define CONFIG_NAME(field, value) #field,
#define CONFIG_OFFSET(field, value) offsetof(crnn_train_config, field),
#define CONFIG_SIZE(field, value) sizeof train_config.field,
    static const char *const names[] = {CONFIG_FIELDS(CONFIG_NAME)};
    static const size_t offsets[] = {CONFIG_FIELDS(CONFIG_OFFSET)};
    static const size_t sizes[] = {CONFIG_FIELDS(CONFIG_SIZE)};
    static const unsigned char zero[16];
    crnn_train_config def;
    crnn_train_config_default(&def);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const unsigned char *mine = (const unsigned char *)&train_config + offsets[i];
        CHECK(i == 0 || offsets[i] > offsets[i - 1], "CONFIG_FIELDS: %s is not in charrnn.h's order",
              names[i]);
        CHECK(memcmp(mine, zero, sizes[i]) != 0, "CONFIG_FIELDS: %s must not be 0", names[i]);
        CHECK(memcmp(mine, (const unsigned char *)&def + offsets[i], sizes[i]) != 0,
              "CONFIG_FIELDS: %s must not be its default", names[i]);
    }
}

/* Every field of got against the configuration trained, by name. */
static void compare_config(const char *what, const crnn_train_config *got)
{
#define CONFIG_COMPARE(field, value)                                                          \
    CHECK(!memcmp(&got->field, &train_config.field, sizeof got->field),                        \
          "%s: the configuration's %s is not the one trained", what, #field);
    CONFIG_FIELDS(CONFIG_COMPARE)
}

static char corpus_path[512]; /* temp_path's buffers are reused after a few calls */

static void make_snapshot(const char *path)
{
    snprintf(corpus_path, sizeof corpus_path, "%s", temp_path("corpus.txt"));
    char text[4000];
    for (int i = 0; i < 4000; i++)
        text[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
    write_text(corpus_path, text, sizeof text);
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus_path, &train_config, NULL, &err);
    CHECK(t, "%s", err.message);
    if (!t)
        exit(1);
    crnn_run_settings run = {.max_iters = 9, .eval_every = 2, .save_every = 3, .max_epochs = 4.5,
                             .patience = 5, .eval_chars = 4321};
    crnn_trainer_set_run_settings(t, &run);
    double loss;
    for (int i = 0; i < 3; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    CHECK_OK(crnn_trainer_evaluate(t, &loss, &err), err);
    CHECK_OK(crnn_trainer_save(t, path, &err), err);
    crnn_trainer_free(t);
}

static void test_round_trip(const char *path)
{
    crnn_snapshot s, r;
    crnn_error err = {0};
    CHECK_OK(crnn_snapshot_load(path, &s, &err), err);
    CHECK(s.version_major == CRNN_FORMAT_MAJOR && s.version_minor == CRNN_FORMAT_MINOR &&
              s.step == 3 && s.vocab_size == 20 && s.n_cursors == 4 && s.has_progress,
          "fields after loading");
    /* The configuration, decoded three ways: the snapshot, its description and
     * a trainer resumed from it. */
    compare_config("crnn_snapshot_load", &s.config);
    CHECK(s.run.max_iters == 9 && s.run.eval_every == 2 && s.run.save_every == 3 &&
              s.run.max_epochs == 4.5 && s.run.patience == 5 && s.run.eval_chars == 4321,
          "the run settings after loading (eval_chars %llu)", (unsigned long long)s.run.eval_chars);
    crnn_snapshot_info info;
    CHECK_OK(crnn_snapshot_read_info(path, &info, &err), err);
    compare_config("crnn_snapshot_read_info", &info.config);
    crnn_trainer *t = crnn_trainer_resume(path, corpus_path, NULL, &err);
    CHECK(t, "resume: %s", err.message);
    if (t) {
        crnn_trainer_status st;
        crnn_trainer_get_status(t, &st);
        compare_config("crnn_trainer_resume", &st.config);
        crnn_trainer_free(t);
    }
    const char *copy = temp_path("copy.crnn");
    CHECK_OK(crnn_snapshot_save(copy, &s, &err), err);
    CHECK_OK(crnn_snapshot_load(copy, &r, &err), err);
    compare_config("a saved copy", &r.config);
    CHECK(r.n_params == s.n_params && !memcmp(r.params, s.params, 4 * s.n_params) &&
              !memcmp(r.adam_v, s.adam_v, 4 * s.n_params) &&
              !memcmp(r.vocab, s.vocab, 4 * (size_t)s.vocab_size) &&
              !memcmp(r.state, s.state, 4 * s.n_state) && r.best_val_loss == s.best_val_loss &&
              !strcmp(r.corpus_path, s.corpus_path) && r.corpus_crc == s.corpus_crc,
          "round trip changed a field");
    size_t a, b;
    unsigned char *x = read_all(path, &a), *y = read_all(copy, &b);
    CHECK(a == b && !memcmp(x, y, a), "saving a loaded snapshot is not byte-identical");
    free(x);
    free(y);
    crnn_snapshot_free(&s);
    crnn_snapshot_free(&r);
}

/* A snapshot written by charrnn 0.1.0 in format 1.0, before the forget-gate
 * bias was recorded (tests/data/README.md): it still loads, describes, samples
 * and resumes, with the bias at its default; a file that claims 1.1 without
 * the field is refused, not read as 1.0. */
static void test_older_version(void)
{
    const char *old = TEST_DATA_DIR "/snapshot-1.0.crnn";
    const char *old_corpus = TEST_DATA_DIR "/snapshot-1.0-corpus.txt";
    crnn_snapshot s;
    crnn_error err = {0};
    CHECK_OK(crnn_snapshot_load(old, &s, &err), err);
    CHECK(s.version_major == 1 && s.version_minor == 0, "the fixture is format %u.%u",
          s.version_major, s.version_minor);
    const crnn_train_config *c = &s.config;
    CHECK(c->forget_bias == 1.0f, "format 1.0: forget bias %g, expected the default 1",
          (double)c->forget_bias);
    CHECK(c->cell == CRNN_CELL_LSTM && c->layers == 1 && c->hidden == 6 && c->embed == 3 &&
              c->batch == 2 && c->seq == 5 && c->learning_rate == 0.01f && c->seed == 42 &&
              c->reset_state == 0 && s.step == 3,
          "format 1.0: the configuration as written (hidden %d, seed %llu)", c->hidden,
          (unsigned long long)c->seed);
    crnn_snapshot_free(&s);
    crnn_snapshot_info info;
    CHECK_OK(crnn_snapshot_read_info(old, &info, &err), err);
    CHECK(info.version_minor == 0 && info.config.forget_bias == 1.0f, "format 1.0: info");
    crnn_sampler *sm = crnn_sampler_open(old, &err);
    CHECK(sm, "format 1.0: sampling: %s", err.message);
    crnn_sampler_free(sm);
    crnn_trainer *t = crnn_trainer_resume(old, old_corpus, NULL, &err);
    CHECK(t, "format 1.0: resume: %s", err.message);
    if (t) {
        double loss;
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
        const char *again = temp_path("from-1.0.crnn");
        CHECK_OK(crnn_trainer_save(t, again, &err), err);
        crnn_trainer_free(t);
        CHECK_OK(crnn_snapshot_load(again, &s, &err), err);
        CHECK(s.version_minor == CRNN_FORMAT_MINOR && s.config.forget_bias == 1.0f && s.step == 4,
              "a snapshot resumed from format 1.0 and saved: %u.%u, forget bias %g, step %llu",
              s.version_major, s.version_minor, (double)s.config.forget_bias,
              (unsigned long long)s.step);
        crnn_snapshot_free(&s);
    }
    /* The same bytes labelled 1.1: CONF lacks the bias, which 1.1 requires. */
    size_t len;
    unsigned char *bytes = read_all(old, &len);
    CHECK(bytes, "cannot read %s", old);
    if (!bytes)
        return;
    bytes[10] = 1;
    uint32_t crc = (uint32_t)crc32(0L, bytes, 44);
    for (int i = 0; i < 4; i++)
        bytes[44 + i] = (unsigned char)(crc >> (8 * i));
    int rc = crnn_snapshot_parse(bytes, len, "relabelled.crnn", &s, &err);
    CHECK(rc == CRNN_ERR_FORMAT && strstr(err.message, "shorter than its fields"),
          "a 1.1 file without the forget-gate bias: %d %s", rc, err.message);
    free(bytes);
}

static void test_corruption(const char *path)
{
    size_t len;
    unsigned char *bytes = read_all(path, &len);
    crnn_error err = {0};
    crnn_snapshot s;
    int accepted = 0;
    for (size_t cut = 0; cut < len; cut++) {
        if (crnn_snapshot_parse(bytes, cut, "t", &s, &err) == CRNN_OK) {
            accepted++;
            crnn_snapshot_free(&s);
        }
    }
    CHECK(accepted == 0, "%d truncations accepted", accepted);
    fprintf(stderr, "snapshot: %zu truncations rejected\n", len);

    crnn_rng rng;
    crnn_rng_seed(&rng, 99);
    unsigned char *copy = malloc(len);
    int flips = 10000;
    accepted = 0;
    for (int i = 0; i < flips; i++) {
        memcpy(copy, bytes, len);
        size_t at = (size_t)(crnn_rng_next(&rng) % len);
        unsigned char x = (unsigned char)(1 + crnn_rng_next(&rng) % 255);
        copy[at] ^= x;
        if (crnn_snapshot_parse(copy, len, "t", &s, &err) == CRNN_OK) {
            accepted++;
            crnn_snapshot_free(&s);
        } else {
            CHECK(err.status == CRNN_ERR_FORMAT || err.status == CRNN_ERR_VERSION,
                  "flip at %zu gave status %d", at, err.status);
        }
    }
    CHECK(accepted == 0, "%d of %d byte flips accepted", accepted, flips);
    fprintf(stderr, "snapshot: %d random byte flips rejected\n", flips);

    /* The reader checks in the documented order: a flip in the compressed
     * bytes (after the 48-byte header) is caught by their CRC, before
     * anything is inflated, and named as such. */
    int tried = 0, named = 0;
    for (size_t at = 48; at < len; at += 37, tried++) {
        memcpy(copy, bytes, len);
        copy[at] ^= 0x10;
        if (crnn_snapshot_parse(copy, len, "t", &s, &err) == CRNN_OK)
            crnn_snapshot_free(&s);
        else if (strstr(err.message, "checksum mismatch in the compressed data"))
            named++;
    }
    CHECK(tried > 0 && named == tried, "%d of %d flips in the compressed bytes were not caught by "
          "their checksum: %s", tried - named, tried, err.message);

    /* A newer major version with a valid header checksum is refused by name. */
    memcpy(copy, bytes, len);
    copy[8] = 2;
    copy[10] = 0;
    uint32_t crc = (uint32_t)crc32(0L, copy, 44);
    for (int i = 0; i < 4; i++)
        copy[44 + i] = (unsigned char)(crc >> (8 * i));
    int rc = crnn_snapshot_parse(copy, len, "new.crnn", &s, &err);
    CHECK(rc == CRNN_ERR_VERSION && strstr(err.message, "format 2.0") &&
              strstr(err.message, "newer charrnn"),
          "newer version: %s", err.message);
    /* Foreign files. */
    rc = crnn_snapshot_parse((const unsigned char *)"hello world, not a snapshot at all", 34,
                             "x.txt", &s, &err);
    CHECK(rc == CRNN_ERR_FORMAT && strstr(err.message, "not a charrnn snapshot"), "foreign: %s",
          err.message);
    rc = crnn_snapshot_load(temp_path("does-not-exist"), &s, &err);
    CHECK(rc == CRNN_ERR_IO, "missing file: %d", rc);
    free(copy);
    free(bytes);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

/* Rebuilds a snapshot's bytes with one more section appended to its payload,
 * as a newer minor version of the format might write. */
static unsigned char *with_extra_section(const unsigned char *file, size_t len, const char *tag,
                                         uint32_t flags, size_t *outlen)
{
    uint64_t plen = 0;
    for (int i = 0; i < 8; i++)
        plen |= (uint64_t)file[20 + i] << (8 * i);
    uLongf got = (uLongf)plen;
    unsigned char *payload = malloc(plen + 20);
    if (uncompress(payload, &got, file + 48, (uLong)(len - 48)) != Z_OK)
        return NULL;
    memcpy(payload + plen, tag, 4);
    put32(payload + plen + 4, flags);
    put64(payload + plen + 8, 4);
    put32(payload + plen + 16, 0xC0FFEE);
    plen += 20;
    uLongf zlen = compressBound((uLong)plen);
    unsigned char *out = malloc(48 + zlen);
    compress(out + 48, &zlen, payload, (uLong)plen);
    memcpy(out, file, 48);
    put32(out + 16, (uint32_t)(file[16] | file[17] << 8) + 1);
    put64(out + 20, plen);
    put64(out + 28, zlen);
    put32(out + 36, (uint32_t)crc32(0L, out + 48, (uInt)zlen));
    put32(out + 40, (uint32_t)crc32(0L, payload, (uInt)plen));
    put32(out + 44, (uint32_t)crc32(0L, out, 44));
    free(payload);
    *outlen = 48 + zlen;
    return out;
}

static void test_forward_compatibility(const char *path)
{
    size_t len, n;
    unsigned char *bytes = read_all(path, &len);
    crnn_snapshot s;
    crnn_error err = {0};
    unsigned char *newer = with_extra_section(bytes, len, "ZZZZ", 0, &n);
    CHECK(newer && crnn_snapshot_parse(newer, n, "newer.crnn", &s, &err) == CRNN_OK,
          "an unknown optional section was not skipped: %s", err.message);
    crnn_snapshot_free(&s);
    free(newer);
    newer = with_extra_section(bytes, len, "ZZZZ", 1, &n);
    int rc = crnn_snapshot_parse(newer, n, "newer.crnn", &s, &err);
    CHECK(rc == CRNN_ERR_VERSION && strstr(err.message, "ZZZZ") && strstr(err.message, "newer"),
          "an unknown required section: %d %s", rc, err.message);
    free(newer);
    free(bytes);
}

/* A run's plan (PLAN, format 1.3) survives saving, describing and resuming;
 * a damaged one is refused; a snapshot without one reads as unplanned. */
static void test_plan_section(const char *path)
{
    crnn_snapshot s, r;
    crnn_error err = {0};
    CHECK_OK(crnn_snapshot_load(path, &s, &err), err);
    CHECK(s.plan.seconds == 0, "a snapshot without a plan reads as planned");
    crnn_plan plan = {1800, 6.5, 12345.5, 40000, 0.75, 4123, 65536, 20.6, CRNN_GIVEN_LAYERS | CRNN_GIVEN_LR,
                      "charrnn train 'a b.txt' -o m.crnn --max-iters 4123", 1};
    s.plan = plan;
    const char *copy = temp_path("planned.crnn");
    CHECK_OK(crnn_snapshot_save(copy, &s, &err), err);
    CHECK_OK(crnn_snapshot_load(copy, &r, &err), err);
    CHECK(!memcmp(&r.plan, &plan, sizeof plan), "the plan changed in a round trip");
    crnn_snapshot_info info;
    CHECK_OK(crnn_snapshot_read_info(copy, &info, &err), err);
    CHECK(!memcmp(&info.plan, &plan, sizeof plan), "crnn_snapshot_read_info's plan differs");
    crnn_trainer *t = crnn_trainer_resume(copy, corpus_path, NULL, &err);
    CHECK(t, "resume: %s", err.message);
    if (t) {
        crnn_plan got;
        crnn_trainer_get_plan(t, &got);
        CHECK(!memcmp(&got, &plan, sizeof plan), "a resumed trainer's plan differs");
        crnn_trainer_free(t);
    }
    crnn_snapshot_free(&r);
    /* A plan section too short for its fields, or with a command longer than
     * it holds, is damage. */
    size_t len, n;
    unsigned char *bytes = read_all(path, &len);
    unsigned char *bad = with_extra_section(bytes, len, "PLAN", 0, &n);
    int rc = crnn_snapshot_parse(bad, n, "bad-plan.crnn", &r, &err);
    CHECK(rc == CRNN_ERR_FORMAT && strstr(err.message, "plan"), "a short plan section: %d %s", rc,
          err.message);
    free(bad);
    free(bytes);
    crnn_snapshot_free(&s);
}

/* A planned run written in format 1.3, before PLAN recorded bf16
 * (tests/data/README.md): its plan reads as fp32 and it resumes; with the
 * plan's bf16 flag set, a run left to choose its engine resumes on bf16
 * products where this CPU has them, and one given an engine keeps it. */
static void test_planned_1_3(void)
{
    const char *old = TEST_DATA_DIR "/snapshot-1.3-planned.crnn";
    const char *old_corpus = TEST_DATA_DIR "/snapshot-1.0-corpus.txt";
    crnn_snapshot s;
    crnn_error err = {0};
    CHECK_OK(crnn_snapshot_load(old, &s, &err), err);
    CHECK(s.version_minor == 3 && s.plan.seconds == 4 && s.plan.steps == 470 && !s.plan.bf16 &&
              strstr(s.plan.command, "--max-iters 470"),
          "format 1.3's plan: %u.%u, %g s, %llu steps, bf16 %d", s.version_major, s.version_minor,
          s.plan.seconds, (unsigned long long)s.plan.steps, s.plan.bf16);
    int has_bf16 = crnn_engine_check(CRNN_ENGINE_ONEDNN_BF16, NULL) == CRNN_OK;
    for (int flag = 0; flag < 2; flag++) {
        s.plan.bf16 = flag;
        const char *copy = temp_path("planned-bf16.crnn");
        CHECK_OK(crnn_snapshot_save(copy, &s, &err), err);
        for (int given = 0; given < 2; given++) {
            crnn_compute_options o;
            crnn_compute_options_default(&o);
            if (given)
                o.engine = CRNN_ENGINE_OWN;
            crnn_trainer *t = crnn_trainer_resume(copy, old_corpus, &o, &err);
            CHECK(t, "resuming a planned run: %s", err.message);
            if (!t)
                continue;
            crnn_trainer_status st;
            crnn_trainer_get_status(t, &st);
            int bf16 = strstr(st.engine, "products in bf16") != NULL;
            CHECK(bf16 == (flag && !given && has_bf16),
                  "plan bf16 %d, engine given %d, the CPU has bf16 %d: resumed on %s", flag, given,
                  has_bf16, st.engine);
            double loss;
            CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
            crnn_plan got;
            crnn_trainer_get_plan(t, &got);
            CHECK(got.bf16 == flag && got.steps == 470, "the resumed plan: bf16 %d", got.bf16);
            crnn_trainer_free(t);
        }
    }
    crnn_snapshot_free(&s);
}

/* Format 1.4 (before CONF recorded the cooldown): a planned cosine run reads
 * as one decaying from the end of its warm-up, and resumes on that schedule. */
static void test_planned_1_4(void)
{
    const char *old = TEST_DATA_DIR "/snapshot-1.4-planned.crnn";
    const char *old_corpus = TEST_DATA_DIR "/snapshot-1.0-corpus.txt";
    crnn_snapshot s;
    crnn_error err = {0};
    CHECK_OK(crnn_snapshot_load(old, &s, &err), err);
    CHECK(s.version_minor == 4 && s.plan.steps == 113 && s.plan.bf16 == 1 &&
              s.config.schedule == CRNN_SCHEDULE_COSINE && s.config.schedule_steps == 113 &&
              s.config.cooldown_steps == 0 && s.step == 12,
          "format 1.4: %u.%u, %llu steps planned, bf16 %d, cooldown %llu, at step %llu",
          s.version_major, s.version_minor, (unsigned long long)s.plan.steps, s.plan.bf16,
          (unsigned long long)s.config.cooldown_steps, (unsigned long long)s.step);
    crnn_snapshot_free(&s);
    crnn_compute_options o;
    crnn_compute_options_default(&o);
    o.engine = CRNN_ENGINE_OWN;
    crnn_trainer *t = crnn_trainer_resume(old, old_corpus, &o, &err);
    CHECK(t, "resuming format 1.4: %s", err.message);
    if (!t)
        return;
    crnn_trainer_status st;
    crnn_trainer_get_status(t, &st);
    /* Step 12 of a cosine over 113 with a warm-up of 3: decaying already. */
    double want = 0.002 * 0.5 * (1 + cos(M_PI * (12.0 - 3) / (113 - 3)));
    CHECK(fabs(st.learning_rate - want) < 1e-9 && st.plan_open == 0,
          "format 1.4 resumed at rate %.9g, want %.9g (plan open %d)", st.learning_rate, want,
          st.plan_open);
    double loss;
    CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    crnn_trainer_free(t);
}

/* The seeds of fuzz/fuzz_snapshot.c must be valid snapshots of this format
 * (byte 0 even: a whole file; odd: 4 bytes of section count and a payload
 * that the target frames with the current version), or fuzzing starts from
 * inputs the reader refuses at once. After a format change, write them again
 * from a small snapshot: the file with a 0 byte in front, and a 1 byte, the
 * header's section count and the inflated payload. */
static void test_fuzz_seeds(void)
{
    static const char *const seeds[] = {"full", "export16", "payload_full", "payload_export"};
    for (int i = 0; i < 4; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/../../fuzz/seeds/snapshot/%s", TEST_DATA_DIR, seeds[i]);
        size_t len;
        unsigned char *seed = read_all(path, &len);
        CHECK(seed && len > 5, "cannot read the fuzz seed %s", path);
        if (!seed || len <= 5) {
            free(seed);
            continue;
        }
        unsigned char *file = seed + 1;
        size_t flen = len - 1;
        unsigned char *framed = NULL;
        if (seed[0] & 1) {
            size_t plen = len - 5;
            uLongf zlen = compressBound((uLong)plen);
            framed = malloc(48 + zlen);
            compress(framed + 48, &zlen, seed + 5, (uLong)plen);
            memcpy(framed, "CHARRNN\x1A", 8);
            put32(framed + 8, CRNN_FORMAT_MAJOR | CRNN_FORMAT_MINOR << 16);
            put32(framed + 12, 0);
            memcpy(framed + 16, seed + 1, 4);
            put64(framed + 20, plen);
            put64(framed + 28, zlen);
            put32(framed + 36, (uint32_t)crc32(0L, framed + 48, (uInt)zlen));
            put32(framed + 40, (uint32_t)crc32(0L, seed + 5, (uInt)plen));
            put32(framed + 44, (uint32_t)crc32(0L, framed, 44));
            file = framed;
            flen = 48 + zlen;
        }
        crnn_snapshot s;
        crnn_error err = {0};
        int rc = crnn_snapshot_parse(file, flen, seeds[i], &s, &err);
        CHECK(rc == CRNN_OK, "the fuzz seed %s is refused: %s", seeds[i], err.message);
        if (rc == CRNN_OK)
            crnn_snapshot_free(&s);
        free(framed);
        free(seed);
    }
}

static void test_export(const char *path)
{
    crnn_error err = {0};
    crnn_snapshot full, ex;
    CHECK_OK(crnn_snapshot_load(path, &full, &err), err);
    const char *names[3] = {"e32.crnn", "e16.crnn", "eb16.crnn"};
    double tolerance[3] = {0, 1.0 / 1024, 1.0 / 128};
    for (int d = 0; d < 3; d++) {
        const char *out = temp_path(names[d]);
        CHECK_OK(crnn_export(path, out, (crnn_weights_dtype)d, &err), err);
        CHECK_OK(crnn_snapshot_load(out, &ex, &err), err);
        CHECK(ex.weights_dtype == d && !ex.adam_m && !ex.cursors && !ex.state, "export %d contents", d);
        double worst = 0;
        for (size_t i = 0; i < full.n_params; i++) {
            double rel = fabs(ex.params[i] - full.params[i]) / fmax(fabs(full.params[i]), 1e-4);
            worst = fmax(worst, rel);
        }
        CHECK(worst <= tolerance[d], "export %d: relative rounding error %g", d, worst);
        crnn_snapshot_free(&ex);
        crnn_snapshot_info info;
        CHECK_OK(crnn_snapshot_read_info(out, &info, &err), err);
        CHECK(!info.resumable && info.weights_dtype == (crnn_weights_dtype)d, "info of export %d", d);
        crnn_trainer *t = crnn_trainer_resume(out, NULL, NULL, &err);
        CHECK(!t && strstr(err.message, "weights only"), "resumed from an export: %s", err.message);
        crnn_sampler *sm = crnn_sampler_open(out, &err);
        CHECK(sm, "sampling an export: %s", err.message);
        crnn_sampler_free(sm);
    }
    /* fp16 refuses weights beyond its range rather than writing infinities. */
    full.params[0] = 70000.0f;
    const char *big = temp_path("big.crnn");
    CHECK_OK(crnn_snapshot_save(big, &full, &err), err);
    int rc = crnn_export(big, temp_path("big16.crnn"), CRNN_WEIGHTS_F16, &err);
    CHECK(rc == CRNN_ERR_ARG && strstr(err.message, "bf16"), "fp16 overflow: %s", err.message);
    CHECK_OK(crnn_export(big, temp_path("bigb16.crnn"), CRNN_WEIGHTS_BF16, &err), err);
    crnn_snapshot_free(&full);
}

int main(void)
{
    static char path[512]; /* temp_path's buffers are reused */
    snprintf(path, sizeof path, "%s", temp_path("snap.crnn"));
    test_config_list();
    make_snapshot(path);
    test_round_trip(path);
    test_older_version();
    test_fuzz_seeds();
    test_corruption(path);
    test_forward_compatibility(path);
    test_plan_section(path);
    test_planned_1_3();
    test_planned_1_4();
    test_export(path);
    return check_result("test_snapshot");
}
