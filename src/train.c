/*
 * train.c: the trainer: a corpus, a model, its optimizer and the streams'
 * positions and hidden state, advanced one chunk at a time; evaluation on the
 * held-out splits; saving and resuming through snapshot.c.
 * It does not decide when to stop, evaluate or save: the caller does.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common.h"
#include "corpus.h"
#include "data.h"
#include "dist.h"
#include "plan.h"
#include "engine.h"
#include "evaluate.h"
#include "gpu.h"
#include "model.h"
#include "optim.h"
#include "snapshot.h"
#include "sources.h"
#include "vocab.h"

struct crnn_trainer {
    crnn_train_config config;
    crnn_compute_options compute; /* cache_dir owned (NULL: the default) */
    char **corpus_args; /* (n_corpus_args) the files and directories given */
    size_t n_corpus_args;
    char *corpus_path;  /* for messages and old readers: the arguments joined by ", " */
    struct crnn_snapshot_file *snap_files; /* (corpus.nfiles) for snapshots' SRCS */
    crnn_corpus corpus; /* token ids (mapped from the id cache) and the vocabulary */
    crnn_vocab base;    /* fine-tuning: the vocabulary the corpus's extends; else empty */
    char *origin_path;  /* fine-tuning: the snapshot started from; else NULL */
    uint64_t origin_step;
    crnn_plan plan;     /* how the run was planned for its time (seconds 0: not) */
    int plan_pending;   /* the length is still open: PLAN_IN_WARMUP or PLAN_IN_HOLD */
    int plan_cooldown;  /* the plan chooses the cooldown: fix the length where it starts */
    plan_costs plan_costs;
    double plan_deadline;  /* process 0's CLOCK_MONOTONIC */
    uint64_t plan_bound;   /* at most this many steps (0: no bound) */
    uint64_t plan_from;    /* steps after this one are timed ... */
    uint64_t plan_until;   /* ... up to this one, where the length is fixed */
    double plan_fix_by;    /* ... or at this time, if the steps slowed (process 0's clock) */
    double plan_step_time; /* seconds of the timed steps so far */
    uint64_t plan_timed;
    double plan_early_time; /* ... and of the others from step 2 (for CHARRNN_PLAN_DEBUG) */
    uint64_t plan_early;
    double plan_eval_time; /* periodic evaluations while the length is open */
    uint64_t plan_eval_chars;
    crnn_splits splits;
    uint64_t chunks_per_epoch;

    int rank, ranks;    /* this process among the data-parallel processes */
    int local_batch;    /* streams this rank runs: B / ranks */
    int first_stream;   /* the first of them */

    crnn_model model;
    crnn_workspace ws; /* sized local_batch x T */
    float *grads;      /* (P) */
    crnn_optim opt;
    crnn_rng rng;

    uint64_t step, best_step;
    double last_val, best_val;
    uint64_t last_val_chars; /* characters the last validation read */
    crnn_run_settings run;

    uint64_t *cursors;  /* (B) position of every stream (all ranks keep all) */
    float *state;       /* (L,S,local_batch,H) hidden state carried between chunks */
    crnn_eval_buffers eval; /* this rank's share of the streams, forward only */
    int eval_streams;   /* streams reading a held-out split (all ranks together) */
    crnn_progress_fn progress; /* told how an evaluation advances, or NULL */
    void *progress_user;
    float *full_state;  /* (L,S,B,H) all ranks' state, for snapshots */
    float *gathered;    /* (ranks,L,S,local_batch,H) staging for the gather */
    uint32_t *inputs;   /* (T,local_batch) */
    uint32_t *targets;  /* (T,local_batch) */
    const crnn_engine_ops *engine_ops; /* what trains the recurrent layers on the CPU */
    crnn_gpu_trainer *gpu; /* the whole step on a GPU (gpu.h), or NULL: on the host */
    crnn_gpu_scorer *scorer; /* evaluation there (with gpu), reading from its weights */
    uint32_t *scorer_ids;  /* (2, scorer_steps, eval_streams) its chunks' inputs and targets */
    int scorer_steps;
    char device[16];       /* "cpu" or "cuda:N" */
    int device_stale;      /* the host has weights, moments or state the device lacks */
    int host_stale;        /* the device has weights, moments or state the host lacks */
    int zero_device_state; /* the device's carried state is to be zeroed before the next step */
    char engine[160];      /* ... described */
    char engine_note[400]; /* why auto passed over the engine it prefers, or "" */
};

void crnn_train_config_default(crnn_train_config *c)
{
    memset(c, 0, sizeof *c);
    c->layers = 2;
    c->hidden = 128;
    c->embed = 64;
    c->batch = 50;
    c->seq = 50;
    c->learning_rate = 2e-3f;
    c->lr_decay = 0.97f;
    c->decay_every = 1.0f;
    c->clip = 5.0f;
    c->forget_bias = 1.0f;
    c->val_fraction = 0.05f;
    c->test_fraction = 0.05f;
    c->seed = 1;
}

static int check_config(const crnn_train_config *c, crnn_error *err)
{
    if (c->batch < 1 || c->batch > CRNN_MAX_BATCH)
        return crnn_fail(err, CRNN_ERR_ARG, "batch must be between 1 and %d (got %d)", CRNN_MAX_BATCH,
                         c->batch);
    if (c->seq < 1 || c->seq > CRNN_MAX_SEQ)
        return crnn_fail(err, CRNN_ERR_ARG, "sequence length must be between 1 and %d (got %d)",
                         CRNN_MAX_SEQ, c->seq);
    if (!(c->learning_rate > 0) || !isfinite(c->learning_rate))
        return crnn_fail(err, CRNN_ERR_ARG, "learning rate must be a positive number (got %g)",
                         (double)c->learning_rate);
    if (!(c->clip >= 0) || !isfinite(c->clip))
        return crnn_fail(err, CRNN_ERR_ARG, "clip must be 0 (off) or positive (got %g)",
                         (double)c->clip);
    if (!(c->val_fraction >= 0 && c->val_fraction < 0.5f) ||
        !(c->test_fraction >= 0 && c->test_fraction < 0.5f))
        return crnn_fail(err, CRNN_ERR_ARG,
                         "validation and test fractions must be in [0, 0.5) (got %g and %g)",
                         (double)c->val_fraction, (double)c->test_fraction);
    if (!crnn_cell_for(c->cell))
        return crnn_fail(err, CRNN_ERR_VERSION, "unknown cell type %d: a newer charrnn is needed",
                         (int)c->cell);
    if ((unsigned)c->optimizer > CRNN_OPT_SGD || (unsigned)c->schedule > CRNN_SCHEDULE_COSINE)
        return crnn_fail(err, CRNN_ERR_VERSION, "unknown optimizer or schedule: a newer charrnn "
                         "is needed");
    if (!(c->lr_decay > 0 && c->lr_decay <= 1) || !(c->decay_every > 0))
        return crnn_fail(err, CRNN_ERR_ARG, "the decay factor must be in (0, 1] and its period "
                         "positive (got %g every %g epochs)", (double)c->lr_decay,
                         (double)c->decay_every);
    if (!(c->weight_decay >= 0 && c->weight_decay < 1))
        return crnn_fail(err, CRNN_ERR_ARG, "weight decay must be in [0, 1) (got %g)",
                         (double)c->weight_decay);
    if (!(fabsf(c->forget_bias) <= 10))
        return crnn_fail(err, CRNN_ERR_ARG, "forget bias must be between -10 and 10 (got %g)",
                         (double)c->forget_bias);
    if (!(c->dropout >= 0 && c->dropout < 1))
        return crnn_fail(err, CRNN_ERR_ARG, "dropout must be in [0, 1) (got %g)",
                         (double)c->dropout);
    if (c->max_vocab < 0 || c->max_vocab == 1)
        return crnn_fail(err, CRNN_ERR_ARG, "the vocabulary limit must be 0 (none) or at least 2 "
                         "(got %d)", c->max_vocab);
    if (c->normalize < CRNN_NORMALIZE_NONE || c->normalize > CRNN_NORMALIZE_NFKC)
        return crnn_fail(err, CRNN_ERR_ARG, "unknown normalization %d", (int)c->normalize);
    if (c->layers < 1 || c->layers > CRNN_MAX_LAYERS || c->hidden < 1 || c->embed < 1)
        return crnn_fail(err, CRNN_ERR_ARG,
                         "layers must be 1 to %d and sizes positive (got %d layers, hidden %d, "
                         "embedding %d)",
                         CRNN_MAX_LAYERS, c->layers, c->hidden, c->embed);
    return CRNN_OK;
}

/* Evaluation is forward only and reads wide: EVAL_STREAMS streams in chunks
 * of up to EVAL_STEPS, fewer steps when the vocabulary is large (the logits of
 * a chunk stay within EVAL_LOGITS floats). Measured on the shipped 2 x 128
 * model (2 cores): 128 streams read about as fast as 256 and faster than 32.
 * Each stream but the first reads EVAL_CONTEXT characters before its piece
 * unscored (evaluate.h), fewer streams where pieces would be shorter. */
enum { EVAL_STREAMS = 128, EVAL_STEPS = 16, EVAL_LOGITS = 1 << 22 };

/* On a GPU, longer chunks (fewer calls; the figures do not depend on it). */
enum { GPU_EVAL_STEPS = 128, GPU_EVAL_LOGITS = 1 << 24 };

static int steps_within(int rows, int vocab, int most, size_t logits)
{
    size_t fit = logits / ((size_t)rows * (size_t)vocab);
    return fit >= (size_t)most ? most : fit < 4 ? 4 : (int)fit;
}

static int eval_steps_for(int rows, int vocab)
{
    return steps_within(rows, vocab, EVAL_STEPS, EVAL_LOGITS);
}

void crnn_compute_options_default(crnn_compute_options *o)
{
    memset(o, 0, sizeof *o);
    o->engine = CRNN_ENGINE_AUTO;
    o->device = CRNN_DEVICE_AUTO;
}

static uint64_t memory_estimate(const crnn_train_config *c, int vocab_size,
                                const crnn_engine_ops *engine, const crnn_engine_options *options)
{
    double gh = 4.0 * c->hidden, h = c->hidden, v = vocab_size; /* the LSTM is the largest */
    double params = v * c->embed + h * v + v;
    for (int l = 0; l < c->layers; l++)
        params += ((l == 0 ? c->embed : h) + h + 1) * gh;
    crnn_model_config mc = {vocab_size, c->embed, c->hidden, c->layers, c->cell};
    const crnn_cell_ops *cell = crnn_cell_for(c->cell);
    unsigned flags = c->dropout > 0 ? CRNN_WS_DROPOUT : 0u;
    double ws = (double)crnn_workspace_bytes(&mc, cell ? cell : &crnn_cell_lstm, c->batch, c->seq,
                                             flags, engine, options);
    ws += (double)crnn_workspace_bytes(&mc, cell ? cell : &crnn_cell_lstm, EVAL_STREAMS,
                                       eval_steps_for(EVAL_STREAMS, vocab_size),
                                       CRNN_WS_FORWARD_ONLY, NULL, NULL);
    double bytes = 4.0 * (4 * params + 2.0 * c->layers * 3 * c->batch * h) + ws;
    return bytes > 1.8e19 ? UINT64_MAX : (uint64_t)bytes;
}

uint64_t crnn_train_memory_estimate(const crnn_train_config *c,
                                    const crnn_compute_options *compute, int vocab_size)
{
    crnn_compute_options d;
    if (!compute)
        crnn_compute_options_default(&d), compute = &d;
    crnn_engine_options eo = {.row_groups = compute->row_groups};
    return memory_estimate(c, vocab_size, crnn_engine_for(compute->engine, c->cell), &eo);
}

/* "512 MB" or "1.5 GiB". */
static void format_bytes(char *out, size_t size, uint64_t bytes)
{
    if (bytes < ((uint64_t)1 << 30))
        snprintf(out, size, "%.0f MB", (double)bytes / 1e6);
    else
        snprintf(out, size, "%.1f GiB", (double)bytes / (1 << 30));
}

/* The memory training may plan for: the machine's, unless the options say
 * otherwise (tests of the memory checks on any machine). */
static uint64_t available_memory(const crnn_compute_options *o)
{
    if (o->memory_bytes > 0)
        return o->memory_bytes;
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

/* Keeps the corpus's arguments (and their joined name). */
static int set_corpus_args(crnn_trainer *t, const char *const *paths, size_t n, crnn_error *err)
{
    if (n == 0 || !paths)
        return crnn_fail(err, CRNN_ERR_ARG, "no corpus given");
    size_t joined = 1;
    for (size_t i = 0; i < n; i++)
        joined += strlen(paths[i]) + 2;
    t->corpus_args = crnn_calloc(n, sizeof *t->corpus_args);
    t->corpus_path = malloc(joined);
    if (!t->corpus_args || !t->corpus_path)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    t->corpus_path[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(t->corpus_args[i] = strdup(paths[i])))
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        t->n_corpus_args = i + 1;
        if (i)
            strcat(t->corpus_path, ", ");
        strcat(t->corpus_path, paths[i]);
    }
    return CRNN_OK;
}

/* Tokenizes the corpus (or maps its id cache); lists its files for snapshots. */
static int read_corpus(crnn_trainer *t, crnn_error *err)
{
    char buf[4096];
    const char *dir = t->compute.cache_dir;
    crnn_corpus_options o = {t->config.lossy, t->config.normalize, t->config.max_vocab,
                             dir ? dir : crnn_default_cache_dir(buf, sizeof buf),
                             t->base.size > 0 ? &t->base : NULL};
    int rc = crnn_corpus_open(&t->corpus, (const char *const *)t->corpus_args, t->n_corpus_args,
                              &o, err);
    if (rc != CRNN_OK)
        return rc;
    if (!(t->snap_files = crnn_calloc(t->corpus.nfiles, sizeof *t->snap_files)))
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < t->corpus.nfiles; i++)
        t->snap_files[i] = (struct crnn_snapshot_file){t->corpus.files[i].path,
                                                       t->corpus.files[i].bytes,
                                                       t->corpus.files[i].crc};
    return CRNN_OK;
}

/* Splits the corpus and checks that every split can feed B x T. */
static int prepare_splits(crnn_trainer *t, const char *path, crnn_error *err)
{
    const crnn_train_config *c = &t->config;
    crnn_split_corpus(t->corpus.ids, t->corpus.width, t->corpus.length,
                      (uint32_t)t->corpus.vocab.size, c->val_fraction, c->test_fraction,
                      &t->splits);
    t->chunks_per_epoch = crnn_chunks_per_epoch(&t->splits.train, c->batch, c->seq);
    if (t->chunks_per_epoch == 0) {
        uint64_t need = (uint64_t)c->batch * (uint64_t)(c->seq + 1);
        return crnn_fail(err, CRNN_ERR_DATA,
                         "%s is too small for batch %d x sequence %d: its training split has %zu "
                         "characters but at least %llu are needed; use a smaller --batch or "
                         "--seq, or a larger corpus",
                         path, c->batch, c->seq, t->splits.train.length, (unsigned long long)need);
    }
    if (c->val_fraction > 0 && t->splits.val.length < 2)
        return crnn_fail(err, CRNN_ERR_DATA,
                         "%s is too small for a validation split; use a larger corpus", path);
    return CRNN_OK;
}

/* Allocates model, workspace, optimizer and stream buffers for the config. */
/* Where the steps run: *gpu 1 for the compute options' CUDA device (AUTO:
 * cuda:0 when there is one and one process trains), with the device's
 * description as the trainer's engine. */
static int choose_device(crnn_trainer *t, int *gpu, crnn_error *err)
{
    int d = t->compute.device;
    *gpu = 0;
    snprintf(t->device, sizeof t->device, "cpu");
    /* bf16 products exist on the CPU's oneDNN engine only, so far: auto keeps them there. */
    int bf16 = t->compute.engine == CRNN_ENGINE_ONEDNN_BF16;
    if (d == CRNN_DEVICE_CPU ||
        (d == CRNN_DEVICE_AUTO && (t->ranks > 1 || bf16 || crnn_gpu_count() < 1)))
        return CRNN_OK;
    if (bf16)
        return crnn_fail(err, CRNN_ERR_ARG, "bf16 training on the GPU is not supported yet: "
                         "train in fp32 there (without --bf16), or give --device cpu");
    if (t->ranks > 1)
        return crnn_fail(err, CRNN_ERR_ARG, "training on a GPU under MPI is not supported: "
                         "give mpirun's processes --device cpu, or train in one process");
    crnn_gpu_info info;
    int rc = crnn_gpu_query(d >= 0 ? d : 0, &info, err);
    if (rc != CRNN_OK)
        return rc;
    crnn_gpu_describe(&info, t->engine, sizeof t->engine);
    crnn_device_name(info.index, t->device, sizeof t->device);
    *gpu = 1;
    return CRNN_OK;
}

static int allocate(crnn_trainer *t, crnn_error *err)
{
    const crnn_train_config *c = &t->config;
    t->rank = crnn_dist_rank_internal();
    t->ranks = crnn_dist_size_internal();
    if (c->batch % t->ranks != 0)
        return crnn_fail(err, CRNN_ERR_ARG,
                         "batch %d does not divide among %d processes: use a batch that is a "
                         "multiple of %d (--batch is the total over all processes)",
                         c->batch, t->ranks, t->ranks);
    t->local_batch = c->batch / t->ranks;
    t->first_stream = t->rank * t->local_batch;
    int gpu = 0, rc = choose_device(t, &gpu, err);
    if (rc != CRNN_OK)
        return rc;
    /* The engine: oneDNN's needs more memory than the own cells; left to
     * choose, a trainer takes the next engine that fits rather than refuse. */
    int vocab = t->corpus.vocab.size, automatic = t->compute.engine == CRNN_ENGINE_AUTO;
    crnn_engine_options eo = {.row_groups = t->compute.row_groups};
    const crnn_engine_ops *engine = crnn_engine_for(t->compute.engine, c->cell), *first = engine;
    uint64_t have = available_memory(&t->compute), need = memory_estimate(c, vocab, engine, &eo);
    uint64_t first_need = need;
    for (const crnn_engine_ops *next; !gpu && need > have && automatic &&
                                      (next = crnn_engine_next(engine, c->cell)) != NULL;) {
        engine = next;
        need = memory_estimate(c, vocab, engine, &eo);
    }
    char need_text[32], have_text[32];
    format_bytes(have_text, sizeof have_text, have);
    format_bytes(need_text, sizeof need_text, need);
    if (!gpu && need > have)
        return crnn_fail(err, CRNN_ERR_NOMEM,
                         "this configuration needs about %s of memory for training but the "
                         "machine has %s; use smaller --hidden, --layers, --batch or --seq%s",
                         need_text, have_text,
                         engine != &crnn_engine_own_ops && !automatic
                             ? " (or --engine own: oneDNN's engine needs more)" : "");
    if (engine != first) {
        char first_text[32], first_name[120], name[120];
        format_bytes(first_text, sizeof first_text, first_need);
        first->describe(first_name, sizeof first_name);
        engine->describe(name, sizeof name);
        snprintf(t->engine_note, sizeof t->engine_note,
                 "training on %s: %s would need about %s and the machine has %s", name,
                 first_name, first_text, have_text);
    }
    t->engine_ops = engine;
    if (!gpu)
        engine->describe(t->engine, sizeof t->engine);
    crnn_model_config mc = {t->corpus.vocab.size, c->embed, c->hidden, c->layers, c->cell};
    rc = crnn_model_init(&t->model, &mc, err);
    if (rc != CRNN_OK)
        return rc;
    if (gpu) { /* the step runs there: no host workspace for it */
        crnn_gpu_settings gs = {
            .device = t->compute.device >= 0 ? t->compute.device : 0,
            .rows = t->local_batch,
            .steps = c->seq,
            .dropout = c->dropout,
            .clip = c->clip,
            .weight_decay = c->weight_decay,
            .optimizer = c->optimizer,
            .seed = c->seed,
        };
        if (!(t->gpu = crnn_gpu_trainer_create(&t->model, &gs, err)))
            return err ? err->status : CRNN_ERR_DEVICE;
        t->device_stale = 1;
    } else {
        unsigned flags = c->dropout > 0 ? CRNN_WS_DROPOUT : 0u;
        rc = crnn_workspace_init(&t->ws, &t->model, t->local_batch, c->seq, flags, engine, &eo,
                                 err);
        if (rc != CRNN_OK)
            return rc;
    }
    size_t p = t->model.layout.total, ns = crnn_model_state_size(&t->model, t->local_batch);
    size_t bt = (size_t)t->local_batch * c->seq;
    t->grads = crnn_alloc_floats(p);
    t->state = crnn_alloc_floats(ns);
    t->eval_streams = EVAL_STREAMS;
    int eval_local = (EVAL_STREAMS + t->ranks - 1) / t->ranks; /* the most one rank runs */
    if (gpu) { /* one process: all the streams */
        t->scorer_steps = steps_within(EVAL_STREAMS, vocab, GPU_EVAL_STEPS, GPU_EVAL_LOGITS);
        t->scorer_ids = crnn_calloc(2 * (size_t)EVAL_STREAMS * t->scorer_steps,
                                    sizeof *t->scorer_ids);
        if (!t->scorer_ids)
            return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        t->scorer = crnn_gpu_scorer_create(&t->model, t->compute.device >= 0 ? t->compute.device : 0,
                                           EVAL_STREAMS, t->scorer_steps, err);
        if (!t->scorer)
            return err ? err->status : CRNN_ERR_DEVICE;
    } else {
        rc = crnn_eval_buffers_init(&t->eval, &t->model, eval_local,
                                    eval_steps_for(eval_local, vocab), err);
        if (rc != CRNN_OK)
            return rc;
    }
    t->full_state = crnn_alloc_floats(crnn_model_state_size(&t->model, c->batch));
    t->gathered = crnn_alloc_floats(crnn_model_state_size(&t->model, c->batch));
    t->cursors = crnn_calloc((size_t)c->batch, sizeof *t->cursors);
    t->inputs = crnn_calloc(bt, sizeof *t->inputs);
    t->targets = crnn_calloc(bt, sizeof *t->targets);
    if (!t->grads || !t->state || !t->full_state || !t->gathered || !t->cursors || !t->inputs || !t->targets ||
        crnn_optim_init(&t->opt, c->optimizer, p) != CRNN_OK)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory for the trainer");
    memset(t->state, 0, sizeof(float) * ns);
    return CRNN_OK;
}

/* A trainer with nothing but its compute options (checked, cache_dir copied). */
static crnn_trainer *new_trainer(const crnn_compute_options *compute, crnn_error *err)
{
    crnn_compute_options o;
    if (!compute)
        crnn_compute_options_default(&o), compute = &o;
    if (crnn_engine_check(compute->engine, err) != CRNN_OK ||
        crnn_device_check(compute->device, err) != CRNN_OK)
        return NULL;
    if (compute->row_groups < 0) {
        crnn_fail(err, CRNN_ERR_ARG, "row groups must be 0 (chosen) or positive (got %d)",
                  compute->row_groups);
        return NULL;
    }
    crnn_trainer *t = crnn_calloc(1, sizeof *t);
    if (!t) {
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    t->compute = *compute;
    t->last_val = t->best_val = NAN;
    if (compute->cache_dir && !(t->compute.cache_dir = strdup(compute->cache_dir))) {
        free(t);
        crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
        return NULL;
    }
    return t;
}

/* Fine-tuning keeps the model's shape and its tokenizer's normalization. */
static int check_same_shape(const crnn_train_config *c, const crnn_train_config *from,
                            const char *path, crnn_error *err)
{
    const char *field = c->cell != from->cell       ? "cell type"
                        : c->layers != from->layers ? "number of layers"
                        : c->hidden != from->hidden ? "hidden size"
                        : c->embed != from->embed   ? "embedding size"
                        : c->normalize != from->normalize ? "Unicode normalization"
                                                          : NULL;
    if (!field)
        return CRNN_OK;
    return crnn_fail(err, CRNN_ERR_ARG, "the %s differs from that of %s: fine-tuning keeps the "
                     "shape and the tokenizer of the model it starts from", field, path);
}

/* A new run on the corpus of paths[0 .. n-1]; with init (read from
 * init_path), from its weights and with its vocabulary extended by the
 * corpus's new characters. */
static crnn_trainer *create_local(const char *const *paths, size_t n,
                                  const crnn_train_config *config, const crnn_snapshot *init,
                                  const char *init_path, const crnn_compute_options *compute,
                                  crnn_error *err)
{
    if (!paths || n == 0 || !config) {
        crnn_fail(err, CRNN_ERR_ARG, "no corpus given");
        return NULL;
    }
    if (check_config(config, err) != CRNN_OK ||
        (init && check_same_shape(config, &init->config, init_path, err) != CRNN_OK))
        return NULL;
    crnn_trainer *t = new_trainer(compute, err);
    if (!t)
        return NULL;
    t->config = *config;
    if (init) {
        uint32_t *symbols = malloc(sizeof *symbols * (size_t)init->vocab_size);
        if (!symbols || !(t->origin_path = strdup(init_path))) {
            free(symbols);
            crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(symbols, init->vocab, sizeof *symbols * (size_t)init->vocab_size);
        if (crnn_vocab_adopt(&t->base, symbols, init->vocab_size, err) != CRNN_OK) {
            free(symbols);
            goto fail;
        }
        t->origin_step = init->step;
    }
    if (set_corpus_args(t, paths, n, err) != CRNN_OK || read_corpus(t, err) != CRNN_OK ||
        prepare_splits(t, t->corpus_path, err) != CRNN_OK || allocate(t, err) != CRNN_OK)
        goto fail;
    crnn_rng_seed(&t->rng, config->seed);
    crnn_model_randomize(&t->model, &t->rng, config->forget_bias);
    if (init && crnn_model_graft(&t->model, init->params, init->n_params, init->vocab_size) != 0) {
        crnn_fail(err, CRNN_ERR_FORMAT, "%s is inconsistent: its weights do not fit its "
                  "configuration", init_path);
        goto fail;
    }
    return t;
fail:
    crnn_trainer_free(t);
    return NULL;
}

static crnn_trainer *create_from_local(const char *const *paths, size_t n, const char *init_path,
                                       const crnn_train_config *config,
                                       const crnn_compute_options *compute, crnn_error *err)
{
    crnn_snapshot init;
    if (!init_path)
        return create_local(paths, n, config, NULL, NULL, compute, err);
    if (crnn_snapshot_load(init_path, &init, err) != CRNN_OK)
        return NULL;
    crnn_trainer *t = create_local(paths, n, config, &init, init_path, compute, err);
    crnn_snapshot_free(&init);
    return t;
}

void crnn_trainer_free(crnn_trainer *t)
{
    if (!t)
        return;
    free((char *)t->compute.cache_dir);
    for (size_t i = 0; i < t->n_corpus_args; i++)
        free(t->corpus_args[i]);
    free(t->corpus_args);
    free(t->corpus_path);
    free(t->snap_files);
    free(t->origin_path);
    crnn_vocab_free(&t->base);
    crnn_corpus_close(&t->corpus);
    crnn_model_free(&t->model);
    crnn_workspace_free(&t->ws);
    crnn_gpu_scorer_free(t->scorer);
    free(t->scorer_ids);
    crnn_gpu_trainer_free(t->gpu);
    crnn_free_floats(t->grads);
    crnn_optim_free(&t->opt);
    free(t->cursors);
    crnn_free_floats(t->state);
    crnn_eval_buffers_free(&t->eval);
    crnn_free_floats(t->full_state);
    crnn_free_floats(t->gathered);
    free(t->inputs);
    free(t->targets);
    free(t);
}

static int damaged_ids(const crnn_trainer *t, crnn_error *err)
{
    return crnn_fail(err, CRNN_ERR_FORMAT,
                     "the token ids of %s hold a value beyond the vocabulary: the id cache %s is "
                     "damaged; delete it and start again",
                     t->corpus_path, t->corpus.cache_path ? t->corpus.cache_path : "(in memory)");
}

/* during: "in step 12; nothing was updated", "evaluating the validation split". */
static int engine_failed(const crnn_trainer *t, int status, const char *during, crnn_error *err)
{
    return crnn_fail(err, status, "the engine %s failed %s (train with --engine own to avoid it)",
                     t->engine_ops->name, during);
}

static int step_failed(const crnn_trainer *t, int status, crnn_error *err)
{
    char during[64];
    snprintf(during, sizeof during, "in step %llu; nothing was updated",
             (unsigned long long)t->step + 1);
    return engine_failed(t, status, during, err);
}

/* The cosine's length is fixed at the first step, from the run's limit. */
static int fix_schedule(crnn_trainer *t, crnn_error *err)
{
    if (t->config.schedule != CRNN_SCHEDULE_COSINE || t->config.schedule_steps != 0)
        return CRNN_OK;
    uint64_t horizon = t->run.max_iters;
    if (!horizon && t->run.max_epochs > 0)
        horizon = (uint64_t)ceil(t->run.max_epochs * (double)t->chunks_per_epoch);
    if (horizon <= t->config.warmup_steps)
        return crnn_fail(err, CRNN_ERR_ARG, "a cosine schedule needs a length in steps longer "
                         "than the warm-up: give --max-iters or --epochs");
    t->config.schedule_steps = horizon;
    return CRNN_OK;
}

static int not_finite(const crnn_trainer *t, const char *what, double value, crnn_error *err)
{
    return crnn_fail(err, CRNN_ERR_NUMERIC,
                     "the %s became %s at step %llu; nothing was updated (try a smaller --lr or "
                     "--clip)",
                     what, isnan(value) ? "NaN" : "infinite", (unsigned long long)t->step + 1);
}

/* The computation of one step on the host, for the chunk in inputs/targets:
 * forward, loss, backward, the gradients summed over the ranks, clipping and
 * the optimizer's update. Until the update nothing is changed, so a refused
 * step (a non-finite loss or gradient, an engine's failure) leaves the
 * trainer as it was. An engine that keeps the step on a device would replace
 * this function, reading the same chunk and writing the same loss. */
static int host_step(crnn_trainer *t, crnn_rng *rng, double *loss, crnn_error *err)
{
    const crnn_train_config *c = &t->config;
    int B = c->batch, T = c->seq, local = t->local_batch;
    double normalizer = (double)B * T;
    crnn_model_draw_dropout(&t->model, &t->ws, c->dropout, rng, B, t->first_stream, local, T);
    int rc = crnn_model_forward(&t->model, &t->ws, t->inputs, local, T, t->state);
    if (rc != CRNN_OK)
        return step_failed(t, rc, err);
    double sum = crnn_model_loss(&t->model, &t->ws, t->targets, normalizer);
    crnn_dist_sum_doubles(&sum, 1); /* every rank sees the same loss, NaN included */
    *loss = sum / normalizer;
    if (!isfinite(*loss))
        return not_finite(t, "training loss", *loss, err);
    size_t p = t->model.layout.total;
    memset(t->grads, 0, sizeof(float) * p);
    if ((rc = crnn_model_backward(&t->model, &t->ws, t->inputs, t->grads)) != CRNN_OK)
        return step_failed(t, rc, err);
    crnn_dist_sum_floats(t->grads, p); /* the global mean gradient on every rank */
    double norm = crnn_grad_norm(t->grads, p);
    if (!isfinite(norm))
        return not_finite(t, "gradients", norm, err);
    crnn_clip_by_norm(t->grads, p, norm, c->clip);
    double lr = crnn_learning_rate(c, t->step, t->chunks_per_epoch);
    crnn_optim_update(&t->opt, t->model.params, t->grads, (float)lr, c->weight_decay);
    return CRNN_OK;
}

/* host_step's counterpart on a GPU (gpu.h): the same chunk, loss and
 * refusals; the device keeps the weights, moments and state, and the host's
 * copies are refreshed (sync_host) only when something reads them. */
static int device_step(crnn_trainer *t, double *loss, crnn_error *err)
{
    int rc = CRNN_OK;
    if (t->device_stale) {
        rc = crnn_gpu_trainer_put(t->gpu, t->model.params, t->opt.m, t->opt.v, t->state, err);
        if (rc != CRNN_OK)
            return rc;
        t->device_stale = 0;
        t->zero_device_state = 0; /* the state just sent is the one to use */
    }
    if (t->zero_device_state || t->config.reset_state) {
        if ((rc = crnn_gpu_trainer_zero_state(t->gpu, err)) != CRNN_OK)
            return rc;
        t->zero_device_state = 0;
    }
    double lr = crnn_learning_rate(&t->config, t->step, t->chunks_per_epoch), norm = NAN;
    rc = crnn_gpu_trainer_step(t->gpu, t->inputs, t->targets, t->step, t->opt.step + 1, (float)lr,
                               loss, &norm, err);
    if (rc == CRNN_ERR_NUMERIC)
        return isfinite(*loss) ? not_finite(t, "gradients", norm, err)
                               : not_finite(t, "training loss", *loss, err);
    if (rc != CRNN_OK)
        return rc;
    t->opt.step++;
    t->host_stale = 1;
    return CRNN_OK;
}

/* Brings the host's weights, moments and state up to date with the device's. */
static int sync_host(crnn_trainer *t, crnn_error *err)
{
    if (!t->gpu || !t->host_stale)
        return CRNN_OK;
    /* A wrap zeroed the host's state: the device's follows before it is read back. */
    if (t->zero_device_state) {
        int zeroed = crnn_gpu_trainer_zero_state(t->gpu, err);
        if (zeroed != CRNN_OK)
            return zeroed;
        t->zero_device_state = 0;
    }
    int rc = crnn_gpu_trainer_get(t->gpu, t->model.params, t->opt.m, t->opt.v, t->state, err);
    if (rc == CRNN_OK)
        t->host_stale = 0;
    return rc;
}

/* After an update: carry the state, advance the streams, wrap at the end of
 * an epoch. */
static void commit_step(crnn_trainer *t)
{
    int B = t->config.batch, T = t->config.seq;
    if (!t->gpu) /* the device carries its own */
        crnn_model_final_state(&t->model, &t->ws, t->state);
    size_t len = crnn_stream_length(&t->splits.train, B);
    int wrap = 0;
    for (int b = 0; b < B; b++) {
        t->cursors[b] += (uint64_t)T;
        wrap |= t->cursors[b] + (uint64_t)T + 1 > len;
    }
    if (wrap) {
        /* The text does not continue across the wrap: start from a zero state. */
        memset(t->cursors, 0, sizeof *t->cursors * (size_t)B);
        memset(t->state, 0, sizeof(float) * crnn_model_state_size(&t->model, t->local_batch));
        t->zero_device_state = 1;
    }
    t->step++;
    if (t->step % 1024 == 0)
        crnn_corpus_trim(&t->corpus);
}

enum { PLAN_IN_WARMUP = 1, PLAN_IN_HOLD = 2 };

/* Time the steps after from up to until (the second half of the stretch). */
static void plan_time_stretch(crnn_trainer *t, uint64_t from, uint64_t until)
{
    t->plan_from = from + (until - from) / 2;
    t->plan_until = until;
    t->plan_step_time = t->plan_early_time = 0;
    t->plan_timed = t->plan_early = 0;
}

void crnn_trainer_fix_after_warmup(crnn_trainer *t, const plan_costs *k, double deadline,
                                   uint64_t bound, int cooldown)
{
    t->plan_pending = t->config.warmup_steps >= 3 ? PLAN_IN_WARMUP : 0;
    t->plan_cooldown = cooldown;
    t->plan_costs = *k;
    t->plan_deadline = deadline;
    t->plan_bound = bound;
    t->plan_eval_time = 0;
    t->plan_eval_chars = 0;
    plan_time_stretch(t, 1, t->config.warmup_steps);
}

/* Sets the planned length to total steps, the last cooldown of them decaying. */
static void plan_set_length(crnn_trainer *t, const plan_costs *k, uint64_t total,
                            uint64_t cooldown, uint64_t eval_chars)
{
    if (t->config.schedule == CRNN_SCHEDULE_COSINE) {
        t->config.schedule_steps = total;
        t->config.cooldown_steps = cooldown;
    }
    t->run.max_iters = total;
    t->plan.steps = total;
    t->plan.train_chars_per_second = (double)k->chars_per_step / k->step_seconds;
    t->plan.eval_chars_per_second = k->eval_chars_per_second;
    t->plan.epochs = t->chunks_per_epoch ? (double)total / (double)t->chunks_per_epoch : 0;
    t->plan.final_chars = plan_final_chars(k, total, t->run.eval_chars ? t->run.eval_chars
                                                                       : eval_chars);
}

/* Whether a hold ran so much slower than foreseen that the decay must start
 * now to keep its share of the time left (asked every PLAN_LATE_EVERY steps,
 * of all processes together: process 0's clock decides). */
#define PLAN_LATE_EVERY 8
static int plan_late(crnn_trainer *t)
{
    if (t->plan_pending != PLAN_IN_HOLD || t->step % PLAN_LATE_EVERY != 0)
        return 0;
    double late = t->rank == 0 && plan_now() >= t->plan_fix_by;
    crnn_dist_sum_doubles(&late, 1);
    return late > 0;
}

/* A planned run's step while its length is open. At the end of the warm-up
 * the steps that fit by now are estimated from the speed of its second half
 * (timing all its steps, 30-minute runs ended 1.5 to 5 minutes early). With a
 * cooldown the rate then holds, and where the decay starts the length is
 * fixed for good from the second half of the hold, the evaluations' own
 * speed and the time left: a VM's speed wanders by 10-20% from minute to
 * minute, and the 20 s of a warm-up foretold 30 minutes badly. Where the
 * hold runs so slowly that 70% of the time left after the warm-up is gone
 * first, the decay starts there instead (a run stopped by its time before
 * the decay would end at the peak rate). */
static void plan_after_step(crnn_trainer *t, double seconds)
{
    if (t->step > t->plan_from) {
        t->plan_step_time += seconds;
        t->plan_timed++;
    } else if (t->step >= 2) {
        t->plan_early_time += seconds;
        t->plan_early++;
    }
    if (t->step < t->plan_until && !plan_late(t))
        return;
    double left = (t->plan_deadline - plan_now()) * (1 - PLAN_MARGIN);
    double step = t->plan_timed  ? t->plan_step_time / (double)t->plan_timed
                  : t->plan_early ? t->plan_early_time / (double)t->plan_early
                                  : t->plan_costs.step_seconds;
    double eval = t->plan_eval_time > 0 ? (double)t->plan_eval_chars / t->plan_eval_time : 0;
    if (t->rank != 0) /* process 0's clock decides */
        left = 0, step = 0, eval = 0;
    double both[3] = {left, step, eval};
    crnn_dist_sum_doubles(both, 3);
    if (getenv("CHARRNN_PLAN_DEBUG") && t->rank == 0)
        fprintf(stderr, "plan: at step %llu: steps %.4f s each (%.4f s before step %llu), "
                "evaluations %.0f c/s, %.1f s left\n", (unsigned long long)t->step, step,
                t->plan_early ? t->plan_early_time / (double)t->plan_early : 0,
                (unsigned long long)t->plan_from + 1, both[2], both[0]);
    plan_costs k = t->plan_costs;
    k.step_seconds = both[1];
    if (both[2] > 0)
        k.eval_chars_per_second = both[2];
    int fixing = t->plan_pending == PLAN_IN_HOLD;
    if (fixing) { /* the run's own cadence and part from here on */
        k.eval_every = t->run.eval_every;
        k.eval_chars = t->run.eval_chars;
    }
    uint64_t every = 0, chars = 0;
    uint64_t total = t->step + plan_steps(&k, both[0], &every, &chars);
    if (t->plan_bound && total > t->plan_bound)
        total = t->plan_bound;
    if (total <= t->step)
        total = t->step + 1;
    uint64_t cooldown = fixing ? total - t->step
                        : t->plan_cooldown ? plan_cooldown(total, t->config.warmup_steps) : 0;
    plan_set_length(t, &k, total, cooldown, chars);
    if (!fixing && cooldown) { /* hold the rate, fix the length where the decay starts */
        t->plan_pending = PLAN_IN_HOLD;
        plan_time_stretch(t, t->step, total - cooldown);
        t->plan_fix_by = plan_now() + (1 - PLAN_COOLDOWN_SHARE) * both[0];
        return;
    }
    t->plan_pending = 0;
}

int crnn_trainer_step(crnn_trainer *t, double *loss, crnn_error *err)
{
    int rc = fix_schedule(t, err);
    if (rc != CRNN_OK)
        return rc;
    const crnn_train_config *c = &t->config;
    double damaged = crnn_stream_chunk(&t->splits.train, c->batch, t->first_stream,
                                       t->local_batch, c->seq, t->cursors, t->inputs,
                                       t->targets) != 0;
    crnn_dist_sum_doubles(&damaged, 1);
    if (damaged > 0)
        return damaged_ids(t, err);
    if (c->reset_state) /* stateless training: every chunk starts from zero */
        memset(t->state, 0, sizeof(float) * crnn_model_state_size(&t->model, t->local_batch));
    /* The RNG is only advanced once the step commits, so a refused step changes nothing. */
    crnn_rng rng = t->rng;
    double l = NAN, began = t->plan_pending ? plan_now() : 0;
    if ((rc = t->gpu ? device_step(t, &l, err) : host_step(t, &rng, &l, err)) != CRNN_OK)
        return rc;
    t->rng = rng;
    commit_step(t);
    if (t->plan_pending)
        plan_after_step(t, plan_now() - began);
    if (loss)
        *loss = l;
    return CRNN_OK;
}

/* The characters periodic validation reads: the run's setting, or by default
 * a quarter of the characters trained between two evaluations, at least
 * CRNN_EVAL_CHARS_MIN (forward only and wide, that keeps evaluating to about a
 * tenth of the time: bench/RESULTS.md). Fixed at the first evaluation of a
 * run and kept in its snapshots, so every point of its curve reads the same
 * part. */
static uint64_t periodic_eval_chars(crnn_trainer *t)
{
    if (t->run.eval_chars == 0) {
        uint64_t every = t->run.eval_every ? t->run.eval_every : 200;
        uint64_t chars = every * (uint64_t)t->config.batch * (uint64_t)t->config.seq / 4;
        t->run.eval_chars = chars > CRNN_EVAL_CHARS_MIN ? chars : CRNN_EVAL_CHARS_MIN;
    }
    return t->run.eval_chars;
}

static void report_progress(void *user, uint64_t done, uint64_t total)
{
    const crnn_trainer *t = user;
    t->progress(t->progress_user, done, total);
}

/* Mean loss over a split read by up to eval_streams streams with context
 * (divided among the ranks), each scoring the start of its piece when
 * max_chars bounds the characters scored. Touches only the evaluation buffers, never the training
 * state. *read receives the characters predicted (may be NULL). */
static int evaluate_split(crnn_trainer *t, const crnn_split *split, const char *what,
                          uint64_t max_chars, double *mean, uint64_t *read, crnn_error *err)
{
    crnn_split_reading r = crnn_split_reading_for(split, t->eval_streams, EVAL_CONTEXT, max_chars,
                                                  t->scorer ? t->scorer_steps : t->eval.steps);
    if (r.streams < 1)
        return crnn_fail(err, CRNN_ERR_DATA, "there is no %s split (it is empty)", what);
    r.first = (int)((int64_t)r.streams * t->rank / t->ranks);
    r.count = (int)((int64_t)r.streams * (t->rank + 1) / t->ranks) - r.first;
    double sums[3] = {0, 0, 0}; /* loss, characters, damaged */
    crnn_split_progress progress = t->progress ? report_progress : NULL;
    int rc;
    if (t->scorer) { /* on the GPU, from the newest weights: the host's after a resume */
        rc = t->device_stale ? crnn_gpu_scorer_put(t->scorer, t->model.params, err)
                             : crnn_gpu_scorer_take(t->scorer, t->gpu, err);
        if (rc == CRNN_OK)
            rc = crnn_split_loss_gpu(t->scorer, split, &r, t->scorer_ids,
                                     t->scorer_ids + (size_t)EVAL_STREAMS * t->scorer_steps,
                                     sums, progress, t, err);
        if (rc != CRNN_OK && rc != CRNN_ERR_FORMAT && rc != CRNN_ERR_NOMEM)
            return rc; /* a device's failure, named in err */
    } else {
        crnn_eval_buffers *b = &t->eval;
        rc = crnn_split_loss(&t->model, &b->ws, split, &r, b->state, b->inputs, b->targets, sums,
                             progress, t);
    }
    sums[2] = rc != CRNN_OK;
    crnn_dist_sum_doubles(sums, 3);
    crnn_corpus_trim(&t->corpus); /* the split just read need not stay resident */
    if (rc == CRNN_ERR_FORMAT)
        return damaged_ids(t, err);
    if (rc == CRNN_ERR_NOMEM)
        return crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
    if (rc != CRNN_OK) {
        char during[64];
        snprintf(during, sizeof during, "evaluating the %s split", what);
        return engine_failed(t, rc, during, err);
    }
    if (sums[2] > 0)
        return crnn_fail(err, CRNN_ERR_IO, "another process could not evaluate the %s split "
                         "(see its message)", what);
    *mean = sums[0] / sums[1];
    if (read)
        *read = (uint64_t)sums[1];
    if (!isfinite(*mean))
        return crnn_fail(err, CRNN_ERR_NUMERIC, "the %s loss is not finite", what);
    return CRNN_OK;
}

int crnn_trainer_evaluate(crnn_trainer *t, double *val_loss, crnn_error *err)
{
    double v = NAN, began = plan_now();
    uint64_t read = 0;
    int rc = evaluate_split(t, &t->splits.val, "validation", periodic_eval_chars(t), &v, &read,
                            err);
    if (rc != CRNN_OK)
        return rc;
    if (t->plan_pending) { /* what the rest of a planned run's evaluations will cost */
        t->plan_eval_time += plan_now() - began;
        t->plan_eval_chars += read;
    }
    t->last_val = v;
    t->last_val_chars = read;
    if (isnan(t->best_val) || v < t->best_val) {
        t->best_val = v;
        t->best_step = t->step;
    }
    if (val_loss)
        *val_loss = v;
    return CRNN_OK;
}

int crnn_trainer_measure(crnn_trainer *t, crnn_split_kind which, uint64_t max_chars,
                         double *loss, uint64_t *chars_read, crnn_error *err)
{
    if (which != CRNN_SPLIT_VALIDATION && which != CRNN_SPLIT_TEST)
        return crnn_fail(err, CRNN_ERR_ARG, "no split %d (validation or test)", (int)which);
    const crnn_split *split = which == CRNN_SPLIT_TEST ? &t->splits.test : &t->splits.val;
    return evaluate_split(t, split, which == CRNN_SPLIT_TEST ? "test" : "validation", max_chars,
                          loss, chars_read, err);
}

int crnn_trainer_test(crnn_trainer *t, double *test_loss, crnn_error *err)
{
    return crnn_trainer_measure(t, CRNN_SPLIT_TEST, 0, test_loss, NULL, err);
}

void crnn_trainer_set_progress(crnn_trainer *t, crnn_progress_fn progress, void *user)
{
    t->progress = progress;
    t->progress_user = user;
}

static void fill_snapshot(const crnn_trainer *t, crnn_snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->config = t->config;
    s->vocab = t->corpus.vocab.symbols;
    s->vocab_size = t->corpus.vocab.size;
    s->corpus_path = t->corpus_path;
    if (t->n_corpus_args > 1 || t->corpus.nfiles > 1 || t->corpus.empty_files > 0) {
        s->corpus_args = t->corpus_args;
        s->n_corpus_args = (uint32_t)t->n_corpus_args;
        s->corpus_files = t->snap_files;
        s->n_corpus_files = (uint32_t)t->corpus.nfiles;
    }
    s->corpus_bytes = t->corpus.file_bytes;
    s->corpus_crc = t->corpus.file_crc;
    s->origin_path = t->origin_path;
    s->origin_step = t->origin_step;
    s->origin_vocab = t->base.size;
    s->plan = t->plan;
    s->step = t->step;
    s->adam_step = t->opt.step;
    s->best_step = t->best_step;
    s->last_val_loss = t->last_val;
    s->best_val_loss = t->best_val;
    memcpy(s->rng, t->rng.s, sizeof s->rng);
    s->run = t->run;
    s->params = t->model.params;
    s->n_params = t->model.layout.total;
    s->adam_m = t->opt.m;
    s->adam_v = t->opt.v;
    s->cursors = t->cursors;
    s->n_cursors = t->config.batch;
    s->state = t->full_state;
    s->n_state = crnn_model_state_size(&t->model, t->config.batch);
}

/* Copies between this rank's state (L,S,local,H) and the full (L,S,B,H) one;
 * gathered is (ranks,L,S,local,H) in rank order. */
static void assemble_state(const crnn_trainer *t, const float *gathered, float *full)
{
    size_t block = (size_t)t->local_batch * t->config.hidden;
    size_t slots = crnn_model_state_size(&t->model, 1) / (size_t)t->config.hidden;
    for (int r = 0; r < t->ranks; r++)
        for (size_t ls = 0; ls < slots; ls++)
            memcpy(full + (ls * t->ranks + (size_t)r) * block,
                   gathered + ((size_t)r * slots + ls) * block, sizeof(float) * block);
}

static void take_local_state(crnn_trainer *t, const float *full)
{
    size_t block = (size_t)t->local_batch * t->config.hidden;
    size_t slots = crnn_model_state_size(&t->model, 1) / (size_t)t->config.hidden;
    for (size_t ls = 0; ls < slots; ls++)
        memcpy(t->state + ls * block, full + (ls * t->ranks + (size_t)t->rank) * block,
               sizeof(float) * block);
}

int crnn_trainer_save(crnn_trainer *t, const char *path, crnn_error *err)
{
    int synced = sync_host(t, err);
    if (synced != CRNN_OK)
        return synced;
    /* Collective: every rank's streams go into the one file rank 0 writes. */
    crnn_dist_gather_floats(t->state, crnn_model_state_size(&t->model, t->local_batch),
                            t->gathered);
    int rc = CRNN_OK;
    if (t->rank == 0) {
        assemble_state(t, t->gathered, t->full_state);
        crnn_snapshot s;
        fill_snapshot(t, &s);
        rc = crnn_snapshot_save(path, &s, err);
    }
    if (crnn_dist_any_internal(rc != CRNN_OK) && rc == CRNN_OK)
        rc = crnn_fail(err, CRNN_ERR_IO, "rank 0 could not write %s", path);
    return rc;
}

int crnn_trainer_check_replicas(crnn_trainer *t, crnn_error *err)
{
    int synced = sync_host(t, err);
    if (synced != CRNN_OK)
        return synced;
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    const unsigned char *p = (const unsigned char *)t->model.params;
    size_t n = t->model.layout.total * sizeof(float);
    for (size_t off = 0; off < n;) {
        uInt chunk = n - off > (1u << 30) ? (1u << 30) : (uInt)(n - off);
        crc = (uint32_t)crc32(crc, p + off, chunk);
        off += chunk;
    }
    if (!crnn_dist_all_equal_u32(crc))
        return crnn_fail(err, CRNN_ERR_NUMERIC,
                         "the weights differ between processes at step %llu (rank %d has CRC "
                         "%08x): the replicas drifted apart",
                         (unsigned long long)t->step, t->rank, crc);
    return CRNN_OK;
}

/* Checks that a loaded snapshot's arrays fit its configuration. */
static int check_resumable(const crnn_snapshot *s, const crnn_trainer *t, const char *path,
                           crnn_error *err)
{
    size_t ns = crnn_model_state_size(&t->model, t->config.batch);
    if (s->n_params != t->model.layout.total)
        return crnn_fail(err, CRNN_ERR_FORMAT,
                         "%s is inconsistent: %zu weights for a model that has %zu", path,
                         s->n_params, t->model.layout.total);
    if (s->n_cursors != t->config.batch || s->n_state != ns)
        return crnn_fail(err, CRNN_ERR_FORMAT,
                         "%s is inconsistent: its streams do not match its batch size", path);
    size_t len = crnn_stream_length(&t->splits.train, t->config.batch);
    for (int b = 0; b < s->n_cursors; b++)
        if (s->cursors[b] + (uint64_t)t->config.seq + 1 > len)
            return crnn_fail(err, CRNN_ERR_FORMAT, "%s is inconsistent: a stream cursor is past "
                             "the end of the training split", path);
    return CRNN_OK;
}

/* A resumed run reads the files it was trained on: the snapshot's list
 * (SRCS, for several files) against the corpus read now, the first
 * difference named. Older snapshots and one-file corpora are checked by
 * their size and CRC alone (resume_local). */
static int same_sources(const crnn_snapshot *s, const crnn_trainer *t, const char *snapshot_path,
                        crnn_error *err)
{
    if (!s->n_corpus_files)
        return CRNN_OK;
    const crnn_corpus *c = &t->corpus;
    for (size_t i = 0; i < c->nfiles && i < s->n_corpus_files; i++) {
        const struct crnn_snapshot_file *was = &s->corpus_files[i];
        const crnn_corpus_file *now = &c->files[i];
        if (strcmp(was->path, now->path) != 0)
            return crnn_fail(err, CRNN_ERR_DATA, "the corpus's files changed since %s was "
                             "written: file %zu is %s, it was %s", snapshot_path, i + 1,
                             now->path, was->path);
        if (was->bytes != now->bytes || was->crc != now->crc)
            return crnn_fail(err, CRNN_ERR_DATA, "%s changed since %s was written (%llu bytes, "
                             "CRC %08x; it was %llu bytes, CRC %08x)", now->path, snapshot_path,
                             (unsigned long long)now->bytes, now->crc,
                             (unsigned long long)was->bytes, was->crc);
    }
    if (c->nfiles != s->n_corpus_files)
        return crnn_fail(err, CRNN_ERR_DATA, "the corpus has %zu files with text where %s was "
                         "trained on %u (%s %s)", c->nfiles, snapshot_path, s->n_corpus_files,
                         c->nfiles > s->n_corpus_files ? "new:" : "missing:",
                         c->nfiles > s->n_corpus_files ? c->files[s->n_corpus_files].path
                                                       : s->corpus_files[c->nfiles].path);
    return CRNN_OK;
}

static crnn_trainer *resume_local(const char *snapshot_path, const char *corpus_path,
                                  const crnn_compute_options *compute, crnn_error *err)
{
    crnn_snapshot s;
    if (crnn_snapshot_load(snapshot_path, &s, err) != CRNN_OK)
        return NULL;
    crnn_trainer *t = NULL;
    if (!s.adam_m || !s.adam_v || !s.cursors || !s.state || !s.has_progress) {
        crnn_fail(err, CRNN_ERR_FORMAT,
                  "%s holds weights only (an export): it can be sampled from, but training "
                  "cannot resume from it; resume from the full snapshot instead",
                  snapshot_path);
        goto fail;
    }
    if (check_config(&s.config, err) != CRNN_OK || !(t = new_trainer(compute, err)))
        goto fail;
    t->config = s.config;
    /* The corpus given now, or the one recorded: its arguments (SRCS), or the
     * one path of older snapshots. */
    const char *one = corpus_path ? corpus_path : s.corpus_path;
    const char *const *args = corpus_path || !s.n_corpus_args ? &one
                                                              : (const char *const *)s.corpus_args;
    size_t nargs = corpus_path || !s.n_corpus_args ? 1 : s.n_corpus_args;
    if (!args[0] || !*args[0]) {
        crnn_fail(err, CRNN_ERR_ARG, "%s does not record its corpus; give it with --corpus",
                  snapshot_path);
        goto fail;
    }
    if (s.origin_path) { /* a fine-tuned run: its vocabulary extends its origin's */
        uint32_t *symbols = malloc(sizeof *symbols * (size_t)s.origin_vocab);
        if (!symbols || !(t->origin_path = strdup(s.origin_path))) {
            free(symbols);
            crnn_fail(err, CRNN_ERR_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(symbols, s.vocab, sizeof *symbols * (size_t)s.origin_vocab);
        if (crnn_vocab_adopt(&t->base, symbols, s.origin_vocab, err) != CRNN_OK) {
            free(symbols);
            goto fail;
        }
        t->origin_step = s.origin_step;
    }
    t->plan = s.plan;
    /* A run the plan put on bf16 products continues on them when the engine
     * is left to choose and this CPU has them (else in fp32: it continues
     * correctly, though not bit for bit). */
    if (s.plan.bf16 && t->compute.engine == CRNN_ENGINE_AUTO && s.config.cell == CRNN_CELL_LSTM &&
        crnn_engine_check(CRNN_ENGINE_ONEDNN_BF16, NULL) == CRNN_OK)
        t->compute.engine = CRNN_ENGINE_ONEDNN_BF16;
    if (set_corpus_args(t, args, nargs, err) != CRNN_OK || read_corpus(t, err) != CRNN_OK ||
        same_sources(&s, t, snapshot_path, err) != CRNN_OK)
        goto fail;
    const char *path = t->corpus_path;
    if (t->corpus.file_bytes != s.corpus_bytes || t->corpus.file_crc != s.corpus_crc) {
        crnn_fail(err, CRNN_ERR_DATA,
                  "%s is not the corpus %s was trained on (%llu bytes, CRC %08x; the snapshot "
                  "expects %llu bytes, CRC %08x)",
                  path, snapshot_path, (unsigned long long)t->corpus.file_bytes, t->corpus.file_crc,
                  (unsigned long long)s.corpus_bytes, s.corpus_crc);
        goto fail;
    }
    /* The same text and options give the same vocabulary, unless the Unicode
     * tables of utf8proc changed what normalization does. */
    if (s.vocab_size != t->corpus.vocab.size ||
        memcmp(s.vocab, t->corpus.vocab.symbols, sizeof(uint32_t) * (size_t)s.vocab_size) != 0) {
        crnn_fail(err, CRNN_ERR_DATA,
                  "%s gives a different vocabulary (%d characters) from the one %s was trained "
                  "with (%d characters)%s",
                  path, t->corpus.vocab.size, snapshot_path, s.vocab_size,
                  s.config.normalize ? ": this utf8proc normalizes differently" : "");
        goto fail;
    }
    if (prepare_splits(t, path, err) != CRNN_OK || allocate(t, err) != CRNN_OK ||
        check_resumable(&s, t, snapshot_path, err) != CRNN_OK)
        goto fail;
    size_t p = t->model.layout.total;
    memcpy(t->model.params, s.params, sizeof(float) * p);
    memcpy(t->opt.m, s.adam_m, sizeof(float) * p);
    memcpy(t->opt.v, s.adam_v, sizeof(float) * p);
    t->opt.step = s.adam_step;
    memcpy(t->cursors, s.cursors, sizeof(uint64_t) * (size_t)s.n_cursors);
    take_local_state(t, s.state);
    memcpy(t->rng.s, s.rng, sizeof s.rng);
    t->step = s.step;
    t->best_step = s.best_step;
    t->last_val = s.last_val_loss;
    t->best_val = s.best_val_loss;
    t->run = s.run;
    crnn_snapshot_free(&s);
    return t;
fail:
    crnn_snapshot_free(&s);
    crnn_trainer_free(t);
    return NULL;
}

/* Start-up is collective: if any rank failed, all fail (no rank waits forever
 * in a collective the failed one never reaches). */
static crnn_trainer *all_or_none(crnn_trainer *t, crnn_error *err)
{
    if (crnn_dist_any_internal(t == NULL)) {
        if (t) {
            crnn_trainer_free(t);
            crnn_fail(err, CRNN_ERR_IO, "another process could not start (see its message)");
        }
        return NULL;
    }
    return t;
}

crnn_trainer *crnn_trainer_create(const char *corpus_path, const crnn_train_config *config,
                                  const crnn_compute_options *compute, crnn_error *err)
{
    return crnn_trainer_create_from(&corpus_path, corpus_path ? 1 : 0, NULL, config, compute, err);
}

crnn_trainer *crnn_trainer_finetune(const char *corpus_path, const char *init_path,
                                    const crnn_train_config *config,
                                    const crnn_compute_options *compute, crnn_error *err)
{
    if (!init_path) {
        crnn_fail(err, CRNN_ERR_ARG, "no snapshot to start from given");
        return all_or_none(NULL, err);
    }
    return crnn_trainer_create_from(&corpus_path, corpus_path ? 1 : 0, init_path, config,
                                    compute, err);
}

crnn_trainer *crnn_trainer_create_from(const char *const *corpus_paths, size_t n,
                                       const char *init_path, const crnn_train_config *config,
                                       const crnn_compute_options *compute, crnn_error *err)
{
    return all_or_none(create_from_local(corpus_paths, n, init_path, config, compute, err), err);
}

crnn_trainer *crnn_trainer_resume(const char *snapshot_path, const char *corpus_path,
                                  const crnn_compute_options *compute, crnn_error *err)
{
    return all_or_none(resume_local(snapshot_path, corpus_path, compute, err), err);
}

void crnn_trainer_get_status(const crnn_trainer *t, crnn_trainer_status *st)
{
    memset(st, 0, sizeof *st);
    st->step = t->step;
    st->steps_per_epoch = t->chunks_per_epoch;
    st->epoch = t->chunks_per_epoch ? (double)t->step / (double)t->chunks_per_epoch : 0;
    st->last_val_loss = t->last_val;
    st->best_val_loss = t->best_val;
    st->best_val_step = t->best_step;
    st->last_val_chars = t->last_val_chars;
    st->train_chars = t->splits.train.length;
    st->val_chars = t->splits.val.length;
    st->test_chars = t->splits.test.length;
    st->vocab_size = t->corpus.vocab.size;
    st->distinct_chars = t->corpus.distinct;
    st->unknown_chars = t->corpus.unknown;
    st->token_cache = t->corpus.cache_path;
    st->token_cache_reused = t->corpus.cache_reused;
    st->token_cache_warning = t->corpus.cache_warning;
    st->engine = t->engine;
    st->device = t->device;
    st->engine_note = t->engine_note;
    st->tokenize_seconds = t->corpus.seconds;
    st->corpus_bytes = t->corpus.file_bytes;
    st->corpus_files = t->corpus.nfiles;
    st->empty_files = t->corpus.empty_files;
    st->first_empty_file = t->corpus.first_empty;
    st->parameters = t->model.layout.total;
    st->learning_rate = crnn_learning_rate(&t->config, t->step, t->chunks_per_epoch);
    st->plan_open = t->plan_pending;
    st->config = t->config;
    st->vocabulary = t->corpus.vocab.symbols;
    st->origin_vocab_size = t->base.size;
    st->origin_path = t->origin_path;
}

int crnn_corpus_bytes(const char *const *corpus_paths, size_t n, uint64_t *bytes,
                      crnn_error *err)
{
    crnn_sources src;
    int rc = crnn_sources_expand(corpus_paths, n, &src, err);
    if (rc == CRNN_OK)
        *bytes = src.bytes;
    crnn_sources_free(&src);
    return rc;
}

void crnn_trainer_get_run_settings(const crnn_trainer *t, crnn_run_settings *settings)
{
    *settings = t->run;
}

void crnn_trainer_set_run_settings(crnn_trainer *t, const crnn_run_settings *settings)
{
    t->run = *settings;
    periodic_eval_chars(t); /* chosen now, from this cadence, if not given */
}

void crnn_trainer_get_plan(const crnn_trainer *t, crnn_plan *plan)
{
    *plan = t->plan;
}

void crnn_trainer_set_plan(crnn_trainer *t, const crnn_plan *plan)
{
    t->plan = *plan;
    t->plan.command[sizeof t->plan.command - 1] = 0;
}
