/*
 * test_evaluate.c: the evaluator (crnn_evaluator_*, crnn_evaluate_file) on two
 * small models trained here, one without U+FFFD in its vocabulary and one
 * with it (max_vocab): characters the model never saw left out (the same
 * figure as the text without them) or scored as U+FFFD (the same figure as
 * the text with U+FFFD written in), counted and named in order; strict
 * refusing them with line and column; crnn_evaluate_file as before; a text's
 * figure independent of the files before it; totals as character-weighted
 * means with the distinct unseen characters of all files; empty and short
 * files; directories through crnn_evaluator_paths; and the errors.
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "charrnn.h"
#include "check.h"
#include "testutil.h"

enum { INSERTS = 11 };

/* The unseen characters put into the text, in order: 10 distinct (α repeats). */
static const uint32_t greek[INSERTS] = {0x3B1, 0x3B2, 0x3B3, 0x3B4, 0x3B5, 0x3B6,
                                        0x3B7, 0x3B8, 0x3B9, 0x3BA, 0x3B1};

static char clean[4096];         /* ASCII text the first model knows every character of */
static size_t clean_len;
static size_t first_line, first_column; /* where the first insertion lands */

/* clean with one character after every 37th byte from byte 60: greek[k]
 * (replacement 0) or U+FFFD (replacement 1). */
static size_t dirty_text(char *out, int replacement)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < clean_len; i++) {
        if (k < INSERTS && i == 60 + 37 * k) {
            n += (size_t)crnn_utf8_encode(replacement ? 0xFFFD : greek[k], out + n);
            k++;
        }
        out[n++] = clean[i];
    }
    return n;
}

static const char *train(const char *name, int max_vocab)
{
    const char *corpus = temp_path("corpus.txt");
    char text[40000];
    size_t n = 0;
    for (int i = 1; i <= 300; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "line %d: the quick brown fox jumps "
                              "over the lazy dog; pack my box with five jugs.\n", i);
    write_text(corpus, text, n);
    crnn_train_config c;
    crnn_train_config_default(&c);
    c.layers = 1;
    c.hidden = 16;
    c.embed = 8;
    c.batch = 4;
    c.seq = 16;
    c.max_vocab = max_vocab;
    crnn_error err = {0};
    crnn_trainer *t = crnn_trainer_create(corpus, &c, NULL, &err);
    if (!t) {
        fprintf(stderr, "test_evaluate: cannot train: %s\n", err.message);
        exit(99);
    }
    double loss;
    for (int i = 0; i < 5; i++)
        CHECK_OK(crnn_trainer_step(t, &loss, &err), err);
    static char paths[2][512];
    char *snap = paths[max_vocab > 0];
    snprintf(snap, sizeof paths[0], "%s", temp_path(name));
    CHECK_OK(crnn_trainer_save(t, snap, &err), err);
    crnn_trainer_free(t);
    return snap;
}

/* Writes text to a new file named name; returns its path (a copy, freed by
 * the caller). */
static char *put(const char *name, const char *text, size_t len)
{
    char *path = strdup(temp_path(name));
    write_text(path, text, len);
    return path;
}

static crnn_eval_report score(crnn_evaluator *ev, const char *path, int strict)
{
    crnn_eval_report r;
    crnn_error err = {0};
    CHECK_OK(crnn_evaluator_file(ev, path, strict, &r, &err), err);
    return r;
}

typedef struct seen {
    int calls;
    char paths[8][512];
    crnn_eval_report reports[8];
} seen;

static void collect(void *user, const char *path, const crnn_eval_report *r)
{
    seen *s = user;
    if (s->calls < 8) {
        snprintf(s->paths[s->calls], sizeof s->paths[0], "%s", path);
        s->reports[s->calls] = *r;
    }
    s->calls++;
}

int main(void)
{
    for (int i = 1; i <= 20; i++)
        clean_len += (size_t)snprintf(clean + clean_len, sizeof clean - clean_len,
                                      "line %d: the lazy dog jumps over the quick fox.\n", i);
    first_line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < 60; i++)
        if (clean[i] == '\n') {
            first_line++;
            line_start = i + 1;
        }
    first_column = 60 - line_start + 1;

    const char *plain = train("plain.crnn", 0);
    const char *fffd = train("fffd.crnn", 12);
    char dirty[8192], replaced[8192];
    size_t dirty_len = dirty_text(dirty, 0), replaced_len = dirty_text(replaced, 1);
    char *clean_path = put("clean.txt", clean, clean_len);
    char *dirty_path = put("dirty.txt", dirty, dirty_len);
    char *replaced_path = put("replaced.txt", replaced, replaced_len);
    char *empty_path = put("empty.txt", "", 0);
    char *one_path = put("one.txt", "a", 1);
    char *short_path = put("short.txt", "the dog.\n", 9);
    char *bad_path = put("bad.txt", "ok\n\xc3\x28", 5);
    crnn_error err = {0};

    /* The model without U+FFFD: unseen characters are left out. */
    double nats;
    uint64_t chars;
    CHECK_OK(crnn_evaluate_file(plain, clean_path, &nats, &chars, &err), err);
    crnn_evaluator *ev = crnn_evaluator_open(plain, &err);
    CHECK(ev, "open: %s", err.message);
    if (!ev)
        return check_result("test_evaluate");
    crnn_eval_report c = score(ev, clean_path, 1);
    CHECK(c.nats_per_char == nats && c.characters == chars,
          "the evaluator gives %.17g over %llu characters, crnn_evaluate_file %.17g over %llu",
          c.nats_per_char, (unsigned long long)c.characters, nats, (unsigned long long)chars);
    CHECK(c.characters > 800 && c.unseen == 0 && c.unseen_as_unknown == 0 &&
              c.text_characters == clean_len && fabs(c.nats - nats * (double)chars) < 1e-9 * c.nats,
          "clean report: %llu characters, %llu unseen, as unknown %d", (unsigned long long)c.characters,
          (unsigned long long)c.unseen, c.unseen_as_unknown);
    crnn_eval_report d = score(ev, dirty_path, 0);
    CHECK(d.nats_per_char == c.nats_per_char && d.characters == c.characters,
          "left out: %.17g over %llu characters; the text without them: %.17g over %llu",
          d.nats_per_char, (unsigned long long)d.characters, c.nats_per_char,
          (unsigned long long)c.characters);
    CHECK(d.unseen == INSERTS && d.unseen_distinct == 10 && d.unseen_as_unknown == 0 &&
              d.text_characters == clean_len + INSERTS,
          "dirty report: %llu unseen, %d distinct, as unknown %d, %llu in the text",
          (unsigned long long)d.unseen, d.unseen_distinct, d.unseen_as_unknown,
          (unsigned long long)d.text_characters);
    for (int k = 0; k < CRNN_EVAL_EXAMPLES; k++)
        CHECK(d.unseen_examples[k] == greek[k], "example %d is U+%04X, expected U+%04X", k,
              d.unseen_examples[k], greek[k]);
    /* strict: the first unseen character, named with its place. */
    crnn_eval_report r;
    int rc = crnn_evaluator_file(ev, dirty_path, 1, &r, &err);
    char want[200];
    snprintf(want, sizeof want, "%s: character 'α' (U+03B1) at line %zu, column %zu is not in the "
             "model's vocabulary", dirty_path, first_line, first_column);
    CHECK(rc == CRNN_ERR_VOCAB && strstr(err.message, want), "strict: %d '%s', expected '%s'", rc,
          err.message, want);
    CHECK(r.characters == 0 && r.unseen == 0 && isnan(r.nats_per_char), "a failed file's report "
          "is not zeroed");
    /* The failure counts nowhere and leaves nothing behind: the next file has
     * all its distinct unseen characters. */
    crnn_eval_report again = score(ev, dirty_path, 0);
    CHECK(again.unseen_distinct == 10, "after a strict failure: %d distinct", again.unseen_distinct);
    /* crnn_evaluate_file never leaves characters out: as before, an error. */
    rc = crnn_evaluate_file(plain, dirty_path, &nats, &chars, &err);
    CHECK(rc == CRNN_ERR_VOCAB && strstr(err.message, "'α' (U+03B1)"), "crnn_evaluate_file on "
          "unseen characters: %d '%s'", rc, err.message);

    /* Totals: clean, dirty, dirty again (the strict failure not counted). */
    crnn_eval_report t;
    crnn_evaluator_total(ev, &t);
    double sum = c.nats + d.nats + again.nats;
    uint64_t n = c.characters + d.characters + again.characters;
    CHECK(t.characters == n && t.nats == sum && t.nats_per_char == sum / (double)n,
          "total %.17g over %llu, expected %.17g over %llu", t.nats_per_char,
          (unsigned long long)t.characters, sum / (double)n, (unsigned long long)n);
    CHECK(t.unseen == 2 * INSERTS && t.unseen_distinct == 10 &&
              t.text_characters == 3 * clean_len + 2 * INSERTS,
          "total: %llu unseen, %d distinct", (unsigned long long)t.unseen, t.unseen_distinct);
    /* Distinct over all files: two known and one new. */
    char more[64];
    size_t more_len = 0;
    uint32_t extra[] = {'x', 0x3B2, 0x3BA, 0x2603}; /* one character left: none scored */
    for (int k = 0; k < 4; k++)
        more_len += (size_t)crnn_utf8_encode(extra[k], more + more_len);
    char *more_path = put("more.txt", more, more_len);
    crnn_eval_report m = score(ev, more_path, 0);
    CHECK(m.unseen == 3 && m.unseen_distinct == 3 && m.unseen_examples[0] == 0x3B2 &&
              m.unseen_examples[2] == 0x2603 && m.characters == 0 && m.text_characters == 4,
          "more.txt: %llu unseen, %d distinct, %llu characters", (unsigned long long)m.unseen,
          m.unseen_distinct, (unsigned long long)m.characters);
    crnn_evaluator_total(ev, &t);
    CHECK(t.unseen_distinct == 11 && t.unseen_examples[7] == greek[7],
          "total distinct %d", t.unseen_distinct);

    /* Empty and short files: not errors for the evaluator. */
    crnn_eval_report e = score(ev, empty_path, 1);
    CHECK(e.characters == 0 && e.text_characters == 0 && isnan(e.nats_per_char) && e.nats == 0,
          "empty: %llu characters", (unsigned long long)e.characters);
    e = score(ev, one_path, 1);
    CHECK(e.characters == 0 && e.text_characters == 1, "one character: %llu characters scored",
          (unsigned long long)e.characters);
    rc = crnn_evaluate_file(plain, empty_path, &nats, &chars, &err);
    CHECK(rc == CRNN_ERR_DATA && strstr(err.message, "too short"), "crnn_evaluate_file on an "
          "empty file: %d '%s'", rc, err.message);
    rc = crnn_evaluator_file(ev, bad_path, 0, &r, &err);
    CHECK(rc == CRNN_ERR_UTF8 && strstr(err.message, "bad.txt: invalid UTF-8 at byte 3 (line 2, "
          "column 1)"), "invalid UTF-8: %d '%s'", rc, err.message);
    rc = crnn_evaluator_file(ev, temp_path("missing.txt"), 0, &r, &err);
    CHECK(rc == CRNN_ERR_IO && strstr(err.message, "missing.txt"), "missing: %d '%s'", rc,
          err.message);
    CHECK(crnn_evaluator_file(NULL, clean_path, 0, &r, &err) == CRNN_ERR_ARG, "no evaluator");
    crnn_evaluator_free(ev);

    /* A text's figure does not depend on the files before it (a short text
     * reads with fewer streams). */
    ev = crnn_evaluator_open(plain, &err);
    CHECK(ev, "open: %s", err.message);
    if (ev) {
        crnn_eval_report s = score(ev, short_path, 0);
        CHECK(s.characters > 0 && s.characters < 9, "short: %llu characters",
              (unsigned long long)s.characters);
        crnn_eval_report c2 = score(ev, clean_path, 0);
        CHECK(c2.nats_per_char == c.nats_per_char, "after a short file: %.17g, alone %.17g",
              c2.nats_per_char, c.nats_per_char);
        /* Text in memory scores as the same bytes in a file (the Python
         * package's evaluate), named as the caller says in messages. */
        crnn_eval_report mc, md;
        CHECK_OK(crnn_evaluator_text(ev, clean, clean_len, NULL, 0, &mc, &err), err);
        CHECK_OK(crnn_evaluator_text(ev, dirty, dirty_len, "mine", 0, &md, &err), err);
        CHECK(mc.nats_per_char == c.nats_per_char && mc.characters == c.characters &&
                  md.nats_per_char == d.nats_per_char && md.unseen == d.unseen,
              "in memory: %.17g and %.17g, from files %.17g and %.17g", mc.nats_per_char,
              md.nats_per_char, c.nats_per_char, d.nats_per_char);
        rc = crnn_evaluator_text(ev, dirty, dirty_len, NULL, 1, &r, &err);
        CHECK(rc == CRNN_ERR_VOCAB && strstr(err.message, "the text: character 'α' (U+03B1)"),
              "strict in memory: %d '%s'", rc, err.message);
        rc = crnn_evaluator_text(ev, "ok\n\xc3\x28", 5, "mine", 0, &r, &err);
        CHECK(rc == CRNN_ERR_UTF8 && strstr(err.message, "mine: invalid UTF-8"),
              "invalid in memory: %d '%s'", rc, err.message);
        CHECK(crnn_evaluator_text(ev, NULL, 3, NULL, 0, &r, &err) == CRNN_ERR_ARG &&
                  crnn_evaluator_text(NULL, "ab", 2, NULL, 0, &r, &err) == CRNN_ERR_ARG,
              "NULL text or evaluator accepted");
        CHECK_OK(crnn_evaluator_text(ev, NULL, 0, NULL, 0, &r, &err), err);
        CHECK(r.characters == 0 && isnan(r.nats_per_char), "empty text: %llu characters",
              (unsigned long long)r.characters);
        crnn_evaluator_free(ev);
    }

    /* The model with U+FFFD: unseen characters are scored as U+FFFD. */
    ev = crnn_evaluator_open(fffd, &err);
    CHECK(ev, "open: %s", err.message);
    if (ev) {
        crnn_eval_report fd = score(ev, dirty_path, 0), fr = score(ev, replaced_path, 0);
        CHECK(fd.nats_per_char == fr.nats_per_char && fd.characters == fr.characters,
              "as U+FFFD: %.17g over %llu characters; with U+FFFD written: %.17g over %llu",
              fd.nats_per_char, (unsigned long long)fd.characters, fr.nats_per_char,
              (unsigned long long)fr.characters);
        CHECK(fd.unseen_as_unknown == 1 && fd.unseen == fr.unseen + INSERTS &&
                  fd.characters > c.characters,
              "as U+FFFD: as unknown %d, %llu unseen (%llu with U+FFFD written)",
              fd.unseen_as_unknown, (unsigned long long)fd.unseen,
              (unsigned long long)fr.unseen);
        CHECK_OK(crnn_evaluate_file(fffd, dirty_path, &nats, &chars, &err), err);
        CHECK(nats == fd.nats_per_char, "crnn_evaluate_file %.17g, the evaluator %.17g", nats,
              fd.nats_per_char);
        rc = crnn_evaluator_file(ev, dirty_path, 1, &r, &err);
        CHECK(rc == CRNN_ERR_VOCAB, "strict with U+FFFD in the vocabulary: %d", rc);
        crnn_evaluator_free(ev);
    }

    /* Files and directories. */
    ev = crnn_evaluator_open(plain, &err);
    CHECK(ev, "open: %s", err.message);
    if (ev) {
        char dir[600], sub[620], a[640], b[640], hidden[640];
        snprintf(dir, sizeof dir, "%s", temp_path("texts"));
        snprintf(sub, sizeof sub, "%s/sub", dir);
        snprintf(a, sizeof a, "%s/sub/a.txt", dir);
        snprintf(b, sizeof b, "%s/b.txt", dir);
        snprintf(hidden, sizeof hidden, "%s/.hidden.txt", dir);
        CHECK(mkdir(dir, 0755) == 0 && mkdir(sub, 0755) == 0, "mkdir");
        write_text(a, clean, clean_len);
        write_text(b, "", 0);
        write_text(hidden, "\xff", 1); /* invalid: read, it would fail */
        seen s = {0};
        const char *args[] = {dirty_path, dir};
        CHECK_OK(crnn_evaluator_paths(ev, args, 2, 0, collect, &s, &err), err);
        CHECK(s.calls == 3 && !strcmp(s.paths[0], dirty_path) && !strcmp(s.paths[1], b) &&
                  !strcmp(s.paths[2], a),
              "%d calls: %s, %s, %s", s.calls, s.paths[0], s.paths[1], s.paths[2]);
        CHECK(s.reports[0].nats_per_char == d.nats_per_char && s.reports[1].characters == 0 &&
                  s.reports[2].nats_per_char == c.nats_per_char,
              "the reports of crnn_evaluator_paths differ from crnn_evaluator_file's");
        crnn_evaluator_total(ev, &t);
        CHECK(t.characters == d.characters + c.characters, "paths total: %llu characters",
              (unsigned long long)t.characters);
        /* The list is made first: a missing path fails before any file is read. */
        seen none = {0};
        const char *missing[] = {clean_path, temp_path("nowhere")};
        rc = crnn_evaluator_paths(ev, missing, 2, 0, collect, &none, &err);
        CHECK(rc == CRNN_ERR_IO && strstr(err.message, "nowhere") && none.calls == 0,
              "missing path: %d '%s', %d files read", rc, err.message, none.calls);
        /* The first failing file stops the walk. */
        seen stop = {0};
        const char *failing[] = {clean_path, bad_path, clean_path};
        rc = crnn_evaluator_paths(ev, failing, 3, 0, collect, &stop, &err);
        CHECK(rc == CRNN_ERR_UTF8 && stop.calls == 1, "a failing file: %d, %d files", rc,
              stop.calls);
        crnn_evaluator_free(ev);
    }

    /* Not a snapshot. */
    ev = crnn_evaluator_open(clean_path, &err);
    CHECK(!ev && err.status == CRNN_ERR_FORMAT && strstr(err.message, "clean.txt"),
          "a text as snapshot: '%s'", err.message);
    crnn_evaluator_free(ev);
    crnn_evaluator_free(NULL);

    free(clean_path);
    free(dirty_path);
    free(replaced_path);
    free(empty_path);
    free(one_path);
    free(short_path);
    free(bad_path);
    free(more_path);
    return check_result("test_evaluate");
}
