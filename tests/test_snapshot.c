/*
 * test_snapshot.c: the snapshot format: a round trip keeps every field; every
 * truncation and thousands of random byte flips are rejected with an error (no
 * crash, nothing accepted silently); a newer format version is refused with a
 * message naming the version; garbage and foreign files are refused.
 */
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "charrnn.h"
#include "check.h"
#include "rng.h"
#include "snapshot.h"
#include "testutil.h"

static void make_snapshot(const char *path)
{
    const char *corpus = temp_path("corpus.txt");
    char text[4000];
    for (int i = 0; i < 4000; i++)
        text[i] = "the quick brown fox jumps over the lazy dog\n"[i % 44];
    write_text(corpus, text, sizeof text);
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.layers = 1;
    c.hidden = 8;
    c.embed = 4;
    c.batch = 4;
    c.seq = 8;
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, NULL, &err);
    CHECK(t, "%s", err.message);
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
    CHECK(s.version_major == CRNN_FORMAT_MAJOR && s.step == 3 && s.config.hidden == 8 &&
              s.vocab_size > 20 && s.n_cursors == 4 && s.has_progress,
          "fields after loading");
    const char *copy = temp_path("copy.crnn");
    CHECK_OK(crnn_snapshot_save(copy, &s, &err), err);
    CHECK_OK(crnn_snapshot_load(copy, &r, &err), err);
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

    /* A newer major version with a valid header checksum is refused by name. */
    memcpy(copy, bytes, len);
    copy[8] = 2;
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
    const char *path = temp_path("snap.crnn");
    make_snapshot(path);
    test_round_trip(path);
    test_corruption(path);
    test_forward_compatibility(path);
    test_export(path);
    return check_result("test_snapshot");
}
