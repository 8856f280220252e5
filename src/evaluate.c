/*
 * evaluate.c: forward-only loss over a split, and the evaluator: a model
 * loaded once that scores any number of text files (crnn_evaluator_*,
 * crnn_evaluate_file). The evaluator reads each file whole, maps its
 * characters to the model's ids (counting the ones the model never saw) and
 * runs crnn_split_loss over it; it knows nothing of directories (sources.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "evaluate.h"
#include "gpu.h"
#include "io.h"
#include "kernels.h"
#include "load.h"
#include "sources.h"
#include "utf8.h"
#include "vocab.h"

crnn_split_reading crnn_split_reading_for(const crnn_split *split, int max_streams, size_t context,
                                          uint64_t max_chars, int steps)
{
    crnn_split_reading r = {.steps = steps};
    if (split->length < 2 || max_streams < 1)
        return r;
    uint64_t predictable = split->length - 1;
    int bounded = max_chars > 0 && max_chars < predictable;
    uint64_t scored = bounded ? max_chars : predictable;
    /* Pieces no shorter than the context, and the context within the split. */
    uint64_t most = scored;
    if (context > 0)
        most = context < predictable ? (predictable - context) / context : 0;
    if (context > 0 && scored / context < most)
        most = scored / context;
    r.streams = most < 2 ? 1 : most < (uint64_t)max_streams ? (int)most : max_streams;
    r.context = r.streams > 1 ? context : 0;
    r.count = r.streams;
    uint64_t piece = (predictable - r.context) / (uint64_t)r.streams;
    uint64_t each = scored / (uint64_t)r.streams;
    if (bounded && each < piece)
        r.per_stream = each > 0 ? (size_t)each : 1;
    return r;
}

int crnn_eval_buffers_init(crnn_eval_buffers *b, const crnn_model *model, int streams, int steps,
                           crnn_error *err)
{
    memset(b, 0, sizeof *b);
    size_t bt = (size_t)streams * (size_t)steps;
    b->state = crnn_alloc_floats(crnn_model_state_size(model, streams));
    b->inputs = crnn_calloc(bt, sizeof *b->inputs);
    b->targets = crnn_calloc(bt, sizeof *b->targets);
    if (!b->state || !b->inputs || !b->targets) {
        crnn_eval_buffers_free(b);
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for evaluating %d streams", streams);
    }
    int rc = crnn_workspace_init(&b->ws, model, streams, steps, CRNN_WS_FORWARD_ONLY, NULL, NULL,
                                 err);
    if (rc != CRNN_OK) {
        crnn_eval_buffers_free(b);
        return rc;
    }
    b->streams = streams;
    b->steps = steps;
    return CRNN_OK;
}

void crnn_eval_buffers_free(crnn_eval_buffers *b)
{
    crnn_workspace_free(&b->ws);
    crnn_free_floats(b->state);
    free(b->inputs);
    free(b->targets);
    memset(b, 0, sizeof *b);
}

/* How a split's chunks are scored: by the host's engine (model, ws, state)
 * or by a GPU scorer (gpu, err). */
typedef struct chunk_scorer {
    const crnn_model *model;
    crnn_workspace *ws;
    float *state;
    crnn_gpu_scorer *gpu;
    crnn_error *err;
} chunk_scorer;

static int scorer_begin(const chunk_scorer *s, int count)
{
    if (s->gpu)
        return crnn_gpu_scorer_zero_state(s->gpu, s->err);
    memset(s->state, 0, sizeof(float) * crnn_model_state_size(s->model, count));
    s->ws->dropout = 0; /* evaluation sees the whole network */
    return CRNN_OK;
}

static int scorer_chunk(const chunk_scorer *s, const uint32_t *inputs, const uint32_t *targets,
                        int count, int n, double *loss)
{
    if (s->gpu)
        return crnn_gpu_scorer_chunk(s->gpu, inputs, targets, count, n, loss, s->err);
    int rc = crnn_model_forward(s->model, s->ws, inputs, count, n, s->state);
    if (rc != CRNN_OK)
        return rc;
    *loss += crnn_model_loss(s->model, s->ws, targets, 1.0);
    crnn_model_final_state(s->model, s->ws, s->state);
    return CRNN_OK;
}

/* One chunk of r: n steps from pos of each of its streams, into inputs and
 * targets (n x count); the targets not scored (the context, and what the
 * first stream reads beyond its first first_scores) become CRNN_NO_TARGET.
 * *scored receives the characters scored. -1 if an id is beyond the split's limit. */
static int reading_chunk(const crnn_split *split, const crnn_split_reading *r, size_t piece,
                         size_t first_scores, size_t pos, int n, uint32_t *inputs,
                         uint32_t *targets, uint64_t *scored)
{
    uint32_t largest = 0;
    uint64_t count = 0;
    for (int b = 0; b < r->count; b++) {
        int stream = r->first + b;
        size_t at = (size_t)stream * piece + pos;
        for (int t = 0; t < n; t++) {
            uint32_t x = crnn_id_at(split->ids, split->width, at + (size_t)t);
            uint32_t y = crnn_id_at(split->ids, split->width, at + (size_t)t + 1);
            largest |= x | y;
            size_t at_t = pos + (size_t)t;
            int context = stream > 0 ? at_t < r->context : at_t >= first_scores;
            inputs[(size_t)t * r->count + b] = x;
            targets[(size_t)t * r->count + b] = context ? CRNN_NO_TARGET : y;
            count += !context;
        }
    }
    *scored = count;
    if (largest < split->limit) /* cheap check first (OR of all ids), exact one if it may fail */
        return 0;
    for (int b = 0; b < r->count; b++) {
        size_t at = (size_t)(r->first + b) * piece + pos;
        for (size_t i = at; i <= at + (size_t)n; i++)
            if (crnn_id_at(split->ids, split->width, i) >= split->limit)
                return -1;
    }
    return 0;
}

static int split_loss(const chunk_scorer *s, const crnn_split *split, const crnn_split_reading *r,
                      uint32_t *inputs, uint32_t *targets, double sums[2],
                      crnn_split_progress progress, void *user)
{
    if (r->count <= 0 || r->streams <= 0 || split->length < 2)
        return 0;
    size_t predictable = split->length - 1;
    if (r->context + (size_t)r->streams > predictable)
        return CRNN_ERR_ARG;
    size_t piece = (predictable - r->context) / (size_t)r->streams;
    size_t scored = r->per_stream > 0 && r->per_stream < piece ? r->per_stream : piece;
    size_t reads = scored + r->context;
    /* The first stream scores all it reads where the pieces tile the split,
     * else as many as the others. */
    size_t first_scores = scored < piece ? scored : reads;
    uint64_t total = (uint64_t)r->count * scored + (r->first == 0 ? first_scores - scored : 0);
    uint64_t done = 0;
    int rc = scorer_begin(s, r->count);
    if (rc != CRNN_OK)
        return rc;
    for (size_t pos = 0; pos < reads;) {
        int n = (int)(reads - pos < (size_t)r->steps ? reads - pos : (size_t)r->steps);
        uint64_t chunk_scored;
        if (reading_chunk(split, r, piece, first_scores, pos, n, inputs, targets, &chunk_scored) != 0)
            return CRNN_ERR_FORMAT;
        if ((rc = scorer_chunk(s, inputs, targets, r->count, n, &sums[0])) != CRNN_OK)
            return rc;
        sums[1] += (double)chunk_scored;
        done += chunk_scored;
        pos += (size_t)n;
        if (progress)
            progress(user, done, total);
    }
    return 0;
}

int crnn_split_loss(const crnn_model *model, crnn_workspace *ws, const crnn_split *split,
                    const crnn_split_reading *r, float *state, uint32_t *inputs,
                    uint32_t *targets, double sums[2], crnn_split_progress progress, void *user)
{
    chunk_scorer s = {.model = model, .ws = ws, .state = state};
    return split_loss(&s, split, r, inputs, targets, sums, progress, user);
}

int crnn_split_loss_gpu(crnn_gpu_scorer *gpu, const crnn_split *split,
                        const crnn_split_reading *r, uint32_t *inputs, uint32_t *targets,
                        double sums[2], crnn_split_progress progress, void *user,
                        crnn_error *err)
{
    chunk_scorer s = {.gpu = gpu, .err = err};
    return split_loss(&s, split, r, inputs, targets, sums, progress, user);
}

static int cp_test(const uint64_t *set, uint32_t cp)
{
    return (int)(set[cp / 64] >> (cp % 64) & 1);
}

static void cp_set(uint64_t *set, uint32_t cp)
{
    set[cp / 64] |= (uint64_t)1 << (cp % 64);
}

static void cp_clear(uint64_t *set, uint32_t cp)
{
    set[cp / 64] &= ~((uint64_t)1 << (cp % 64));
}

crnn_evaluator *crnn_evaluator_open(const char *snapshot_path, crnn_error *err)
{
    if (!snapshot_path) {
        crnn_fail(err, CRNN_ERR_ARG, "no snapshot given");
        return NULL;
    }
    crnn_evaluator *ev = crnn_calloc(1, sizeof *ev);
    if (!ev) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    if (crnn_load_model(snapshot_path, &ev->model, &ev->vocab, &ev->config, err) != CRNN_OK)
        goto fail;
    ev->unknown = crnn_vocab_index(&ev->vocab, CRNN_UNKNOWN_CODE_POINT);
    ev->file_seen = crnn_calloc(CP_WORDS, sizeof *ev->file_seen);
    ev->total_seen = crnn_calloc(CP_WORDS, sizeof *ev->total_seen);
    if (!ev->file_seen || !ev->total_seen) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        goto fail;
    }
    ev->total.unseen_as_unknown = ev->unknown >= 0;
    snprintf(ev->device, sizeof ev->device, "cpu");
    return ev;
fail:
    crnn_evaluator_free(ev);
    return NULL;
}

void crnn_evaluator_free(crnn_evaluator *ev)
{
    if (!ev)
        return;
    crnn_model_free(&ev->model);
    crnn_vocab_free(&ev->vocab);
    crnn_eval_buffers_free(&ev->buf);
    crnn_gpu_scorer_free(ev->scorer);
    free(ev->scorer_ids);
    free(ev->file_seen);
    free(ev->file_list);
    free(ev->total_seen);
    free(ev);
}

int crnn_evaluator_set_device(crnn_evaluator *ev, int device, crnn_error *err)
{
    if (!ev)
        return crnn_fail(err, CRNN_ERR_ARG, "no evaluator given");
    int automatic = device == CRNN_DEVICE_AUTO;
    if (automatic)
        device = crnn_gpu_count() > 0 ? 0 : CRNN_DEVICE_CPU;
    crnn_gpu_scorer_free(ev->scorer);
    ev->scorer = NULL;
    snprintf(ev->device, sizeof ev->device, "cpu");
    if (device == CRNN_DEVICE_CPU)
        return CRNN_OK;
    if (!ev->scorer_ids) {
        ev->scorer_ids = crnn_calloc(2 * (size_t)TEXT_EVAL_STREAMS * TEXT_EVAL_STEPS,
                                     sizeof *ev->scorer_ids);
        if (!ev->scorer_ids)
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    }
    crnn_gpu_scorer *sc;
    int rc = crnn_scorer_on_device(&ev->model, ev->model.params, device, automatic,
                                   TEXT_EVAL_STREAMS, TEXT_EVAL_STEPS, &sc, err);
    if (!sc)
        return rc;
    ev->scorer = sc;
    crnn_device_name(device, ev->device, sizeof ev->device);
    return CRNN_OK;
}

const char *crnn_evaluator_device(const crnn_evaluator *ev)
{
    return ev ? ev->device : "cpu";
}

crnn_split_reading crnn_evaluator_reading(const crnn_split *split)
{
    size_t pieces = split->length / TEXT_EVAL_PIECE_MIN;
    int streams = pieces < 1 ? 1 : pieces > TEXT_EVAL_STREAMS ? TEXT_EVAL_STREAMS : (int)pieces;
    return crnn_split_reading_for(split, streams, EVAL_CONTEXT, 0, TEXT_EVAL_STEPS);
}

/* Buffers for `streams` streams (kept while the number stays the same: a text
 * is read with the same shapes whether it comes first or later). */
int crnn_evaluator_buffers(crnn_evaluator *ev, int streams, crnn_error *err)
{
    if (ev->buf.streams == streams)
        return CRNN_OK;
    crnn_eval_buffers_free(&ev->buf);
    return crnn_eval_buffers_init(&ev->buf, &ev->model, streams, TEXT_EVAL_STEPS, err);
}

/* Maps text[0, *n) to ids in place, dropping what is left out (*n shrinks),
 * and counts the unseen characters into r (their distinct code points into
 * ev->file_seen and ev->file_list). */
int crnn_evaluator_encode(crnn_evaluator *ev, const char *path, uint32_t *text, size_t *n,
                          enum unseen_policy policy, int32_t *token_of, crnn_eval_report *r,
                          crnn_error *err)
{
    size_t kept = 0, line = 1, column = 1, distinct = 0;
    uint32_t last_cp = UINT32_MAX;
    int last_id = -1;
    int rc = CRNN_OK;
    for (size_t i = 0; i < *n; i++) {
        uint32_t cp = text[i];
        int id = cp == last_cp ? last_id : crnn_vocab_index(&ev->vocab, cp);
        last_cp = cp;
        last_id = id;
        if (id < 0) {
            if (policy == UNSEEN_REFUSE || (policy == UNSEEN_AS_UNKNOWN && ev->unknown < 0)) {
                char what[48];
                crnn_describe_code_point(cp, what, sizeof what);
                rc = crnn_fail(err, CRNN_ERR_VOCAB, "%s: character %s at line %zu, column %zu "
                               "is not in the model's vocabulary", path, what, line, column);
                break;
            }
            r->unseen++;
            if (cp <= CRNN_MAX_CODE_POINT && !cp_test(ev->file_seen, cp)) {
                if (distinct == ev->file_list_cap) {
                    size_t cap = distinct ? 2 * distinct : 64;
                    uint32_t *bigger = realloc(ev->file_list, cap * sizeof *bigger);
                    if (!bigger) {
                        rc = crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
                        break;
                    }
                    ev->file_list = bigger;
                    ev->file_list_cap = cap;
                }
                cp_set(ev->file_seen, cp);
                ev->file_list[distinct++] = cp;
            }
            id = ev->unknown;
        }
        if (cp == '\n') {
            line++;
            column = 1;
        } else {
            column++;
        }
        if (token_of)
            token_of[i] = id;
        if (id >= 0)
            text[kept++] = (uint32_t)id;
    }
    r->unseen_distinct = (int)distinct;
    for (size_t k = 0; k < distinct && k < CRNN_EVAL_EXAMPLES; k++)
        r->unseen_examples[k] = ev->file_list[k];
    *n = kept;
    return rc;
}

/* Adds a scored file to the totals, and clears the file's set of unseen
 * characters either way. */
void crnn_evaluator_end_text(crnn_evaluator *ev, const crnn_eval_report *r, int scored)
{
    crnn_eval_report *t = &ev->total;
    for (int k = 0; k < r->unseen_distinct; k++) {
        uint32_t cp = ev->file_list[k];
        cp_clear(ev->file_seen, cp);
        if (!scored || cp_test(ev->total_seen, cp))
            continue;
        cp_set(ev->total_seen, cp);
        if (t->unseen_distinct < CRNN_EVAL_EXAMPLES)
            t->unseen_examples[t->unseen_distinct] = cp;
        t->unseen_distinct++;
    }
    if (!scored)
        return;
    t->nats += r->nats;
    t->characters += r->characters;
    t->text_characters += r->text_characters;
    t->unseen += r->unseen;
}

/* Scores len bytes of UTF-8 at bytes; path names them in messages. */
static int evaluate_bytes(crnn_evaluator *ev, const unsigned char *bytes, size_t len,
                          const char *path, enum unseen_policy policy, crnn_eval_report *r,
                          crnn_error *err)
{
    memset(r, 0, sizeof *r);
    r->nats_per_char = NAN;
    r->unseen_as_unknown = ev->unknown >= 0;
    uint32_t *text = NULL;
    size_t n = 0;
    int rc = crnn_utf8_decode(bytes, len, path, ev->config.lossy, ev->config.normalize, &text, &n,
                              err);
    if (rc != CRNN_OK)
        return rc;
    r->text_characters = n;
    rc = crnn_evaluator_encode(ev, path, text, &n, policy, NULL, r, err);
    crnn_split split = {(const unsigned char *)text, 4, n, (uint32_t)ev->vocab.size};
    crnn_split_reading reading = crnn_evaluator_reading(&split);
    if (rc != CRNN_OK || reading.streams < 1) /* nothing to predict; not an error */
        goto done;
    double sums[2] = {0, 0};
    int bad;
    if (ev->scorer) {
        bad = crnn_split_loss_gpu(ev->scorer, &split, &reading, ev->scorer_ids,
                                  ev->scorer_ids + (size_t)TEXT_EVAL_STREAMS * TEXT_EVAL_STEPS,
                                  sums, NULL, NULL, err);
        if (bad != CRNN_OK && bad != CRNN_ERR_FORMAT && bad != CRNN_ERR_NOMEM) {
            rc = bad; /* the device's failure, named in err */
            goto done;
        }
    } else {
        if ((rc = crnn_evaluator_buffers(ev, reading.streams, err)) != CRNN_OK)
            goto done;
        bad = crnn_split_loss(&ev->model, &ev->buf.ws, &split, &reading, ev->buf.state,
                              ev->buf.inputs, ev->buf.targets, sums, NULL, NULL);
    }
    if (bad == CRNN_ERR_FORMAT) { /* the ids were encoded against this vocabulary just above */
        rc = crnn_fail(err, CRNN_ERR_DATA, "the token ids of %s are damaged: one is beyond the "
                       "model's vocabulary of %d characters", path, ev->vocab.size);
        goto done;
    }
    if (bad != CRNN_OK) {
        rc = bad == CRNN_ERR_NOMEM
                 ? crnn_fail(err, bad, "out of memory evaluating %s", path)
                 : crnn_fail(err, bad, "the model could not run on %s (%s)", path,
                             crnn_status_name(bad));
        goto done;
    }
    if (!isfinite(sums[0])) {
        rc = crnn_fail(err, CRNN_ERR_NUMERIC, "%s: the loss is not finite", path);
        goto done;
    }
    r->nats = sums[0];
    r->characters = (uint64_t)sums[1];
    r->nats_per_char = sums[0] / sums[1];
done:
    free(text);
    crnn_evaluator_end_text(ev, r, rc == CRNN_OK);
    if (rc != CRNN_OK) {
        int keep = r->unseen_as_unknown;
        memset(r, 0, sizeof *r);
        r->nats_per_char = NAN;
        r->unseen_as_unknown = keep;
    }
    return rc;
}

static int evaluate(crnn_evaluator *ev, const char *path, enum unseen_policy policy,
                    crnn_eval_report *r, crnn_error *err)
{
    unsigned char *bytes = NULL;
    size_t len = 0;
    int rc = crnn_read_file(path, (uint64_t)1 << 32, &bytes, &len, err);
    if (rc != CRNN_OK) {
        memset(r, 0, sizeof *r);
        r->nats_per_char = NAN;
        r->unseen_as_unknown = ev->unknown >= 0;
        return rc;
    }
    rc = evaluate_bytes(ev, bytes, len, path, policy, r, err);
    free(bytes);
    return rc;
}

int crnn_evaluator_text(crnn_evaluator *ev, const char *utf8, size_t len, const char *name,
                        int strict, crnn_eval_report *report, crnn_error *err)
{
    crnn_eval_report scratch;
    if (!report)
        report = &scratch;
    if (!ev || (!utf8 && len)) {
        memset(report, 0, sizeof *report);
        report->nats_per_char = NAN;
        return crnn_fail(err, CRNN_ERR_ARG, "no evaluator or no text given");
    }
    return evaluate_bytes(ev, (const unsigned char *)(utf8 ? utf8 : ""), len,
                          name ? name : "the text", strict ? UNSEEN_REFUSE : UNSEEN_TOLERATE,
                          report, err);
}

int crnn_evaluator_file(crnn_evaluator *ev, const char *text_path, int strict,
                        crnn_eval_report *report, crnn_error *err)
{
    crnn_eval_report scratch;
    if (!report)
        report = &scratch;
    if (!ev || !text_path) {
        memset(report, 0, sizeof *report);
        report->nats_per_char = NAN;
        return crnn_fail(err, CRNN_ERR_ARG, "no evaluator or no file given");
    }
    return evaluate(ev, text_path, strict ? UNSEEN_REFUSE : UNSEEN_TOLERATE, report, err);
}

int crnn_evaluator_paths(crnn_evaluator *ev, const char *const *paths, size_t n, int strict,
                         crnn_eval_each each, void *user, crnn_error *err)
{
    if (!ev)
        return crnn_fail(err, CRNN_ERR_ARG, "no evaluator given");
    crnn_sources files;
    int rc = crnn_sources_expand(paths, n, &files, err);
    for (size_t i = 0; rc == CRNN_OK && i < files.count; i++) {
        crnn_eval_report r;
        rc = crnn_evaluator_file(ev, files.files[i].path, strict, &r, err);
        if (rc == CRNN_OK && each)
            each(user, files.files[i].path, &r);
    }
    crnn_sources_free(&files);
    return rc;
}

void crnn_evaluator_total(const crnn_evaluator *ev, crnn_eval_report *total)
{
    *total = ev->total;
    total->nats_per_char = total->characters ? total->nats / (double)total->characters : NAN;
}

int crnn_evaluate_file(const char *snapshot_path, const char *text_path, double *nats_per_char,
                       uint64_t *characters, crnn_error *err)
{
    crnn_error local;
    if (!err)
        err = &local; /* for the status of a failed open */
    crnn_evaluator *ev = crnn_evaluator_open(snapshot_path, err);
    if (!ev)
        return err->status;
    crnn_eval_report r;
    int rc = text_path ? evaluate(ev, text_path, UNSEEN_AS_UNKNOWN, &r, err)
                       : crnn_fail(err, CRNN_ERR_ARG, "no file given");
    if (rc == CRNN_OK && r.characters == 0)
        rc = crnn_fail(err, CRNN_ERR_DATA, "%s is too short to evaluate (at least 2 characters)",
                       text_path);
    if (rc == CRNN_OK) {
        *nats_per_char = r.nats_per_char;
        if (characters)
            *characters = r.characters;
    }
    crnn_evaluator_free(ev);
    return rc;
}
