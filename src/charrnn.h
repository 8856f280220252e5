/*
 * charrnn.h: the one public header of libcharrnn, a character-level recurrent
 * language model (train on UTF-8 text, save compressed snapshots, sample).
 *
 * Conventions, for every function below:
 *  - Functions that can fail return CRNN_OK (0) or a negative crnn_status, and
 *    fill the caller's crnn_error (if not NULL) with one human-readable line.
 *    Constructors return NULL on failure and fill the error the same way.
 *  - The library never prints, never exits and never installs signal handlers.
 *  - Objects returned by *_create / *_open / *_resume are owned by the caller and
 *    released with the matching *_free (which accepts NULL).
 *  - Threads: the computation runs on process-wide thread pools (OpenMP, and
 *    OpenBLAS and oneDNN on top of it) whose size crnn_set_threads sets for
 *    every object at once. Call the library from one thread at a time: an
 *    object is not thread-safe, and two objects used at the same time from
 *    two threads would share, and contend for, the same pools. A program
 *    that serves several models drives them from one thread (or runs one
 *    process per model).
 */
#ifndef CHARRNN_H
#define CHARRNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRNN_VERSION_STRING "0.1.0"

typedef enum crnn_status {
    CRNN_OK = 0,
    CRNN_ERR_IO = -1,       /* a file could not be read or written (errno in the message) */
    CRNN_ERR_NOMEM = -2,    /* an allocation failed or would be larger than allowed */
    CRNN_ERR_ARG = -3,      /* an argument or hyperparameter is out of range */
    CRNN_ERR_UTF8 = -4,     /* invalid UTF-8 in a corpus or priming text */
    CRNN_ERR_FORMAT = -5,   /* a snapshot is truncated, corrupted or not a snapshot */
    CRNN_ERR_VERSION = -6,  /* a snapshot needs a newer charrnn */
    CRNN_ERR_DATA = -7,     /* the corpus does not suit the request (too small, changed, ...) */
    CRNN_ERR_NUMERIC = -8,  /* the loss or the gradients became NaN or infinite */
    CRNN_ERR_VOCAB = -9,    /* a character is not in the model's vocabulary */
    CRNN_ERR_NOSPACE = -10, /* the disk is full (ENOSPC, EDQUOT) */
    CRNN_ERR_DEVICE = -11,  /* the GPU failed: a CUDA, cuDNN or cuBLAS call, named in the message */
} crnn_status;

/* One line describing the last failure; filled by the function that failed. */
typedef struct crnn_error {
    crnn_status status;
    char message[512];
} crnn_error;

/* The short name of a status code, such as "io" or "format". */
const char *crnn_status_name(int status);

/* ------------------------------------------------------------------ training */

typedef enum crnn_normalization {
    CRNN_NORMALIZE_NONE = 0, /* learn the text as it is */
    CRNN_NORMALIZE_NFC = 1,
    CRNN_NORMALIZE_NFKC = 2,
} crnn_normalization;

typedef enum crnn_cell_type {
    CRNN_CELL_LSTM = 0,     /* long short-term memory (default) */
    CRNN_CELL_GRU = 1,      /* gated recurrent unit (cuDNN / PyTorch form) */
    CRNN_CELL_RNN_TANH = 2, /* vanilla RNN with tanh */
    CRNN_CELL_RNN_RELU = 3, /* vanilla RNN with ReLU */
} crnn_cell_type;

typedef enum crnn_optimizer {
    CRNN_OPT_ADAM = 0,    /* Adam, betas 0.9 / 0.999 (default) */
    CRNN_OPT_RMSPROP = 1, /* RMSprop, decay 0.95 (as char-rnn) */
    CRNN_OPT_SGD = 2,     /* SGD with momentum 0.9 */
} crnn_optimizer;

typedef enum crnn_schedule {
    CRNN_SCHEDULE_CONSTANT = 0,
    CRNN_SCHEDULE_STEP = 1,   /* times lr_decay every decay_every epochs */
    CRNN_SCHEDULE_COSINE = 2, /* cosine from lr to 0 over schedule_steps (over its last
                                 cooldown_steps when set, lr held until then) */
} crnn_schedule;

/* Everything that defines a training run. Fill it with crnn_train_config_default()
 * and change what you need. Sizes are checked by crnn_trainer_create. */
typedef struct crnn_train_config {
    crnn_cell_type cell; /* the recurrent cell (default LSTM) */
    int layers;          /* L, stacked recurrent layers (default 2) */
    int hidden;          /* H, hidden units per layer (default 128) */
    int embed;           /* E, embedding size (default 64) */
    int batch;           /* B, parallel streams through the corpus (default 50) */
    int seq;             /* T, time steps per chunk (default 50) */
    float learning_rate; /* step size (default 2e-3) */
    crnn_optimizer optimizer;
    crnn_schedule schedule;
    float lr_decay;          /* step schedule: factor (default 0.97) */
    float decay_every;       /* step schedule: epochs between decays (default 1) */
    uint64_t warmup_steps;   /* linear warm-up from 0 over this many steps (0 = none) */
    uint64_t schedule_steps; /* cosine schedule: its length in steps (0: taken at the first
                                step from the run settings' max_iters or max_epochs) */
    float weight_decay;      /* decoupled weight decay (AdamW-style), 0 = off */
    float dropout;           /* dropout between layers and before the output, 0 = off */
    int reset_state;         /* 1: zero the hidden state at every chunk (stateless) */
    float forget_bias;       /* LSTM forget-gate bias at initialisation (default 1) */
    float clip;          /* global gradient-norm clip, 0 = off (default 5) */
    float val_fraction;  /* share of the corpus held out for validation (default 0.05) */
    float test_fraction; /* share held out at the end for a final test (default 0.05) */
    uint64_t seed;       /* initialisation and RNG seed (default 1) */
    int lossy;           /* 1: replace invalid UTF-8 by U+FFFD instead of failing */
    crnn_normalization normalize;
    int max_vocab;       /* 0 = every character; else keep the max_vocab - 1 most
                            frequent and map the rest to U+FFFD (at least 2) */
    uint64_t cooldown_steps; /* cosine schedule: 0 decays from the end of the warm-up;
                                else lr stays until the last cooldown_steps and decays
                                over them (a planned run fixes its length that late) */
} crnn_train_config;

void crnn_train_config_default(crnn_train_config *config);

/* Limits of a configuration: crnn_trainer_create refuses more (CRNN_ERR_ARG). */
#define CRNN_MAX_LAYERS 16   /* layers (L) */
#define CRNN_MAX_BATCH 65536 /* streams (B) */
#define CRNN_MAX_SEQ 65536   /* time steps per chunk (T) */

/* Cell types by name, for command lines and messages.
 * crnn_cell_name: "lstm", "gru", "rnn-tanh" or "rnn-relu"; NULL for a value
 * that is no cell type (so the types are 0, 1, ... up to the first NULL).
 * crnn_cell_title: for people: "LSTM", "GRU", "RNN (tanh)", "RNN (ReLU)";
 * "?" for a value that is no cell type. Both return static strings.
 * crnn_cell_parse: the type crnn_cell_name calls name into *cell; CRNN_ERR_ARG
 * (and *cell unchanged) if no type has that name. */
const char *crnn_cell_name(crnn_cell_type cell);
const char *crnn_cell_title(crnn_cell_type cell);
int crnn_cell_parse(const char *name, crnn_cell_type *cell);

/* Which code runs the recurrent layers. AUTO: oneDNN's LSTM primitives for
 * LSTM layers where this build has them (they measured faster:
 * bench/RESULTS.md), else charrnn's own cells (OpenBLAS products and fused gate
 * loops); AUTO also takes the own cells when oneDNN's would not fit in
 * memory. GRU and vanilla RNN layers, evaluation shapes and sampling run on
 * charrnn's own cells whatever the setting. Every engine computes the same
 * model to float rounding: a snapshot does not record the engine, and a run
 * resumes exactly only on the engine it started with. */
typedef enum crnn_engine {
    CRNN_ENGINE_AUTO = 0,
    CRNN_ENGINE_OWN = 1,
    CRNN_ENGINE_ONEDNN = 2,
    CRNN_ENGINE_ONEDNN_BF16 = 3, /* oneDNN with its matrix products in bf16 (fp32 master
                                    weights, cell state, accumulation and gradients) */
} crnn_engine;

/* How and where a trainer computes: settings of this machine and run, not of
 * the model, so snapshots do not keep them (give them again on resume). Fill
 * with crnn_compute_options_default() and change what you need. */
/* Where a trainer computes (crnn_compute_options.device): a value >= 0 is the
 * CUDA device of that index (cuda:N). */
enum {
    CRNN_DEVICE_AUTO = -2, /* a GPU when one is present and this build has CUDA, else the CPU;
                              under MPI the CPU */
    CRNN_DEVICE_CPU = -1,
};

typedef struct crnn_compute_options {
    crnn_engine engine;    /* the CPU's engine; default AUTO */
    int device;            /* CRNN_DEVICE_AUTO (default), CRNN_DEVICE_CPU or a CUDA device */
    int row_groups;        /* oneDNN engine: groups of rows run side by side, one thread
                              each; 0 = chosen by the layer size (default) */
    uint64_t memory_bytes; /* memory training may plan for; 0 = the machine's (default) */
    const char *cache_dir; /* where the corpus's token id cache lives (see README): NULL =
                              $CHARRNN_CACHE_DIR, else $XDG_CACHE_HOME/charrnn, else
                              ~/.cache/charrnn (default); "" = ids in memory only. Copied. */
} crnn_compute_options;

void crnn_compute_options_default(crnn_compute_options *options);

typedef struct crnn_trainer crnn_trainer;

/* Reads and tokenizes the corpus at corpus_path, builds the vocabulary, splits
 * the text and initialises a model. compute may be NULL (the defaults). An
 * engine this build or CPU cannot run is CRNN_ERR_ARG (crnn_engine_check). */
crnn_trainer *crnn_trainer_create(const char *corpus_path, const crnn_train_config *config,
                                  const crnn_compute_options *compute, crnn_error *err);

/* Reopens a snapshot written by crnn_trainer_save and continues exactly where it
 * stopped. corpus_path may be NULL to use the path recorded in the snapshot;
 * the corpus must be the one the snapshot was trained on (its CRC is checked).
 * compute may be NULL (the defaults). */
crnn_trainer *crnn_trainer_resume(const char *snapshot_path, const char *corpus_path,
                                  const crnn_compute_options *compute, crnn_error *err);

/* Fine-tuning: a new run on corpus_path that starts from the weights of the
 * snapshot or export at init_path. config is the run's, as for
 * crnn_trainer_create, except that its cell, layers, hidden and embedding
 * sizes and normalization must be the init's (CRNN_ERR_ARG naming the one
 * that differs). The vocabulary is the init's, in its order (every old
 * character keeps its token), extended by the characters of the corpus it
 * lacks, with new embedding rows and output weights drawn as a new model's
 * are; config->max_vocab (if not 0) bounds the vocabulary: the old
 * characters all stay, the most frequent new ones fill the room left and the
 * others map to U+FFFD. The
 * optimizer moments, step, schedule, stream positions and hidden state start
 * fresh; the snapshots of the run record where it came from
 * (crnn_snapshot_info's origin). */
crnn_trainer *crnn_trainer_finetune(const char *corpus_path, const char *init_path,
                                    const crnn_train_config *config,
                                    const crnn_compute_options *compute, crnn_error *err);

/* A new run on a corpus of several files and directories, joined in order:
 * corpus_paths[0 .. n-1], each a file, or a directory walked recursively with
 * its entries in byte order of their names, hidden files and directories
 * skipped. Empty files are skipped (the status counts them); a directory
 * with no text files is CRNN_ERR_DATA, invalid UTF-8 CRNN_ERR_UTF8 naming
 * the file. init_path NULL: from scratch (as crnn_trainer_create); else
 * fine-tuning (as crnn_trainer_finetune). The snapshots record every file
 * (path, size, CRC) and a resumed run names the one that changed. */
crnn_trainer *crnn_trainer_create_from(const char *const *corpus_paths, size_t n,
                                       const char *init_path, const crnn_train_config *config,
                                       const crnn_compute_options *compute, crnn_error *err);

/* The size of the text of corpus_paths[0 .. n-1], directories walked as
 * crnn_trainer_create_from walks them (for choosing sizes before training). */
int crnn_corpus_bytes(const char *const *corpus_paths, size_t n, uint64_t *bytes,
                      crnn_error *err);

/* Sizes suited to a corpus of corpus_bytes bytes, for a run that names none
 * (the CLI and the Python package call it when none of layers, hidden,
 * embed, batch, seq and dropout is given): bigger text, bigger model. Sets
 * config's layers, hidden, embed, batch, seq and dropout (under 0.2 MB
 * 2 x 64, embedding 32, batch 16 x 50; under 3 MB 2 x 128, 64, 50 x 50;
 * under 30 MB 2 x 256, 64, 64 x 100, dropout 0.1; else 3 x 512, 64,
 * 64 x 100, dropout 0.2), then halves seq (not below 8) and lowers batch
 * until the training split (what val_fraction and test_fraction, which it
 * reads, leave) holds them. Returns the batch of the corpus's size class:
 * more than config->batch when the corpus was too small for it. */
int crnn_train_config_fit(crnn_train_config *config, uint64_t corpus_bytes);

void crnn_trainer_free(crnn_trainer *trainer);

/* One optimisation step over the next B x T chunk of every stream. On success
 * *loss is the chunk's mean cross-entropy in nats per character. If the loss or
 * the gradients are not finite the step is refused (CRNN_ERR_NUMERIC) and the
 * trainer is left as it was before the call. */
int crnn_trainer_step(crnn_trainer *trainer, double *loss, crnn_error *err);

/* Mean cross-entropy (nats per character) over the validation split, with
 * dropout off; it does not disturb the training state. It reads the part of
 * the split the run settings' eval_chars bound (crnn_trainer_measure tells
 * which), the same part at every call. Also records the value as the
 * trainer's last validation loss (and best, if lower). */
int crnn_trainer_evaluate(crnn_trainer *trainer, double *val_loss, crnn_error *err);

/* The same over the whole test split (held out, never used for selection). */
int crnn_trainer_test(crnn_trainer *trainer, double *test_loss, crnn_error *err);

typedef enum crnn_split_kind {
    CRNN_SPLIT_VALIDATION = 0,
    CRNN_SPLIT_TEST = 1,
} crnn_split_kind;

/* Mean cross-entropy over a held-out split, reading at most about max_chars
 * characters (0: the whole split): the start of each evaluation stream's
 * piece, so the part read is spread over the whole split and the same at
 * every call. *chars_read (may be NULL) receives the characters predicted.
 * Records nothing (crnn_trainer_evaluate keeps the validation curve). */
int crnn_trainer_measure(crnn_trainer *trainer, crnn_split_kind split, uint64_t max_chars,
                         double *loss, uint64_t *chars_read, crnn_error *err);

/* Called during evaluations, between chunks, with the characters this
 * process has read so far and will read in all; progress NULL stops it. */
typedef void (*crnn_progress_fn)(void *user, uint64_t done, uint64_t total);
void crnn_trainer_set_progress(crnn_trainer *trainer, crnn_progress_fn progress, void *user);

/* Writes a snapshot of everything needed to continue exactly: configuration,
 * vocabulary, weights, optimizer moments, step, RNG, cursors, hidden state.
 * The file is written to a temporary name, synced and renamed, so the previous
 * file at path stays intact if anything fails (disk full: CRNN_ERR_NOSPACE). */
int crnn_trainer_save(crnn_trainer *trainer, const char *path, crnn_error *err);

typedef struct crnn_trainer_status {
    uint64_t step;             /* optimisation steps done */
    double epoch;              /* passes over the training split, fractional */
    uint64_t steps_per_epoch;
    double last_val_loss;      /* NAN until the first evaluation */
    double best_val_loss;      /* NAN until the first evaluation */
    uint64_t best_val_step;
    uint64_t last_val_chars;   /* characters the last validation in this process's run read */
    uint64_t train_chars, val_chars, test_chars; /* characters in each split */
    int vocab_size;
    uint64_t distinct_chars;   /* distinct characters in the corpus (before --max-vocab) */
    uint64_t unknown_chars;    /* characters mapped to U+FFFD by max_vocab */
    const char *token_cache;   /* the id file the corpus is read from; NULL: ids in memory */
    int token_cache_reused;    /* 1: it was there already (no tokenizing) */
    const char *token_cache_warning; /* why no id file could be written, or "" */
    double tokenize_seconds;   /* spent reading the corpus (or mapping its id cache) */
    uint64_t corpus_bytes;
    size_t corpus_files;       /* files with text the corpus was read from */
    size_t empty_files;        /* ... and empty ones skipped */
    const char *first_empty_file; /* the first of those, or NULL */
    size_t parameters;         /* number of weights */
    const char *engine;        /* what trains the recurrent layers (crnn_engine_describe),
                                  or the GPU: "cuda:0 NVIDIA H100 ..., 79.1 GiB, cuDNN 9.19.0" */
    const char *device;        /* where the steps run: "cpu" or "cuda:N" */
    const char *engine_note;   /* why auto chose charrnn's own cells, or "" */
    double learning_rate;      /* for the next step, after the schedule */
    crnn_train_config config;
    const uint32_t *vocabulary; /* (vocab_size) code points in token order */
    const char *origin_path;   /* fine-tuning: the snapshot the run started from; else NULL */
    int origin_vocab_size;     /* ... whose vocabulary is tokens 0 .. this - 1 (0: none) */
    int plan_open;             /* a planned run whose length is still open: 1 in its warm-up,
                                  2 until its cooldown starts (the length is fixed then);
                                  0 once fixed, and for runs not planned */
} crnn_trainer_status;

void crnn_trainer_get_status(const crnn_trainer *trainer, crnn_trainer_status *status);

/* Settings of a run that travel in the snapshot so a resumed run keeps them
 * (the CLI stores its stopping rule and cadence here). The library only keeps
 * them; 0 means unset. */
typedef struct crnn_run_settings {
    uint64_t max_iters;
    uint64_t eval_every;
    uint64_t save_every;
    double max_epochs;
    uint64_t patience;   /* stop after this many evaluations without a better validation loss */
    uint64_t eval_chars; /* crnn_trainer_evaluate reads at most this many characters of the
                            validation split; UINT64_MAX: all of it; 0: chosen by
                            crnn_trainer_set_run_settings (or the first evaluation): a
                            quarter of the characters trained between two evaluations
                            (eval_every x batch x seq / 4, eval_every 200 if unset), at
                            least CRNN_EVAL_CHARS_MIN */
} crnn_run_settings;

#define CRNN_EVAL_CHARS_MIN 65536

void crnn_trainer_get_run_settings(const crnn_trainer *trainer, crnn_run_settings *settings);
void crnn_trainer_set_run_settings(crnn_trainer *trainer, const crnn_run_settings *settings);

/* Bytes a model of this configuration and vocabulary size would allocate for
 * training (weights, gradients, moments, activations) on the engine compute
 * selects (NULL: the defaults). Used to refuse absurd sizes before allocating. */
uint64_t crnn_train_memory_estimate(const crnn_train_config *config,
                                    const crnn_compute_options *compute, int vocab_size);

/* ------------------------------------------------------------------ planning */

/* What a caller of crnn_trainer_plan gave explicitly (a plan keeps it) and,
 * in crnn_plan.chosen, what the plan chose. */
enum {
    CRNN_GIVEN_CELL = 1u << 0,
    CRNN_GIVEN_LAYERS = 1u << 1,
    CRNN_GIVEN_HIDDEN = 1u << 2,
    CRNN_GIVEN_EMBED = 1u << 3,
    CRNN_GIVEN_BATCH = 1u << 4,
    CRNN_GIVEN_SEQ = 1u << 5,
    CRNN_GIVEN_LR = 1u << 6,
    CRNN_GIVEN_SCHEDULE = 1u << 7,
    CRNN_GIVEN_WARMUP = 1u << 8,
    CRNN_GIVEN_DROPOUT = 1u << 9,
    CRNN_GIVEN_FORGET_BIAS = 1u << 10,
    CRNN_GIVEN_EVAL_EVERY = 1u << 11, /* crnn_run_settings.eval_every */
    CRNN_GIVEN_WEIGHT_DECAY = 1u << 12,
    CRNN_GIVEN_PRECISION = 1u << 13, /* bf16 or fp32 products (the compute options' engine) */
    CRNN_GIVEN_COOLDOWN = 1u << 14,  /* crnn_train_config.cooldown_steps */
};

/* How a run was planned for its time (crnn_trainer_plan), as its snapshots
 * record it; seconds 0: the run was not planned. */
typedef struct crnn_plan {
    double seconds;                /* the budget: the whole run, reading the corpus, measuring,
                                      evaluations and the final figures included */
    double setup_seconds;          /* spent before the first step: reading, measuring */
    double train_chars_per_second; /* measured on the planned model's first steps */
    double eval_chars_per_second;  /* measured reading the validation split */
    double save_seconds;           /* measured writing one snapshot */
    uint64_t steps;                /* the planned length: the schedule ends there */
    uint64_t final_chars;          /* the final figures read at most this many characters of
                                      each held-out split */
    double epochs;                 /* passes over the training split that makes */
    unsigned chosen;               /* CRNN_GIVEN_* bits of the settings the plan chose */
    char command[1024];            /* the equivalent explicit command line, if the caller
                                      set one (crnn_trainer_set_plan) */
    int bf16;                      /* the plan chose bf16 products (the CPU's oneDNN engine,
                                      where it measured them faster); a resumed run left to
                                      choose its engine keeps them (format 1.4) */
} crnn_plan;

/* A new run (as crnn_trainer_create_from) planned to end within seconds of
 * wall time, of which spent are gone already (reading options, say). The
 * settings in given are kept from config and run; the plan chooses the others
 * (with init_path, the shape is the init's): the model among sizes that
 * suit the corpus and the time, batch, sequence length, learning rate,
 * warm-up, a cosine schedule, dropout and weight decay for the passes
 * planned, the forget-gate bias, run->eval_every and, when compute leaves the
 * engine to choose (AUTO) on a CPU with AVX512-BF16, bf16 products if they
 * measure faster there (plan->bf16; the trainer runs them). It measures the candidates' speed on throwaway
 * trainers (a few steps each, an evaluation and a snapshot written to
 * scratch_path and removed), then sets the schedule's length: run->max_iters,
 * bounded by a max_iters or max_epochs run already holds. When the warm-up
 * (of at least 3 steps) ends, crnn_trainer_step estimates the length again
 * from the speed of the run's own steps (the warm-up's learning rate does not
 * depend on it); a cosine schedule whose cooldown the plan chooses then holds
 * the rate until its last 30% of steps, and where that decay starts (or
 * earlier, once 70% of the time after the warm-up is gone, where the steps
 * slowed) the length is fixed for good from the steps and evaluations since
 * the warm-up (else it is fixed at the warm-up's end). The run settings' max_iters, the
 * config's schedule_steps and cooldown_steps and the plan change then
 * (crnn_trainer_get_plan; the status's plan_open says when). Returns
 * the trainer at step 0 with config, run settings and plan set (the plan
 * travels in its snapshots), *plan filled. Under MPI every process calls
 * it; process 0's measurements decide for all. */
crnn_trainer *crnn_trainer_plan(const char *const *corpus_paths, size_t n, const char *init_path,
                                const crnn_train_config *config, unsigned given,
                                crnn_run_settings *run, const crnn_compute_options *compute,
                                double seconds, double spent, const char *scratch_path,
                                crnn_plan *plan, crnn_error *err);

/* The plan a trainer's snapshots record (crnn_trainer_plan's, or the
 * snapshot's when resumed), and setting it (to add the command line). */
void crnn_trainer_get_plan(const crnn_trainer *trainer, crnn_plan *plan);
void crnn_trainer_set_plan(crnn_trainer *trainer, const crnn_plan *plan);

/* ------------------------------------------------------------------ evaluation */

/* A model loaded once to score any number of UTF-8 texts: the mean
 * cross-entropy of each in nats per character (lower is better), with the
 * tokenizer settings the model was trained with (lossy, normalization), read
 * the way training reads text (up to 32 parallel streams, the hidden state
 * carried from chunk to chunk, from a zero state), so a text gives the same
 * figure whichever files come before it.
 *
 * Characters the model never saw ("unseen": not in its vocabulary) are scored
 * as U+FFFD where the vocabulary has U+FFFD (a model trained with max_vocab,
 * or on lossy text), and otherwise left out of the text: neither predicted nor
 * fed to the model. Either way the report counts them and names the first. */
typedef struct crnn_evaluator crnn_evaluator;

#define CRNN_EVAL_EXAMPLES 8 /* unseen characters a report names */

typedef struct crnn_eval_report {
    double nats_per_char;     /* mean cross-entropy; NAN when characters is 0 */
    double nats;              /* the summed loss: nats_per_char x characters */
    uint64_t characters;      /* characters predicted (each stream's first is not: a text of
                                 fewer than 2 characters to score has none) */
    uint64_t text_characters; /* characters decoded from the text, unseen ones included */
    uint64_t unseen;          /* characters not in the vocabulary, every occurrence */
    int unseen_as_unknown;    /* 1: they are scored as U+FFFD; 0: left out. The model's
                                 (set whether or not there are any) */
    int unseen_distinct;      /* distinct code points among them */
    uint32_t unseen_examples[CRNN_EVAL_EXAMPLES]; /* the first min(unseen_distinct,
                                                     CRNN_EVAL_EXAMPLES) of those, in order of
                                                     first appearance */
} crnn_eval_report;

/* Loads the model of a snapshot (full or exported) for evaluation. NULL on
 * failure: CRNN_ERR_IO (cannot read), CRNN_ERR_FORMAT (not a snapshot, or
 * damaged), CRNN_ERR_VERSION, CRNN_ERR_NOMEM, CRNN_ERR_ARG (path NULL). */
crnn_evaluator *crnn_evaluator_open(const char *snapshot_path, crnn_error *err);

/* Where the evaluator runs its forward passes: CRNN_DEVICE_CPU (the default
 * of crnn_evaluator_open), CRNN_DEVICE_AUTO (a GPU when one is present and
 * this build has CUDA, else the CPU) or a CUDA device's index. The figures
 * agree within float rounding (1e-5 relative) between devices. CRNN_ERR_ARG
 * for a device that does not exist (naming why), CRNN_ERR_DEVICE or
 * CRNN_ERR_NOMEM for one that fails; the evaluator then stays on the CPU.
 * Traces (crnn_evaluator_trace) always run on the CPU. */
int crnn_evaluator_set_device(crnn_evaluator *evaluator, int device, crnn_error *err);

/* "cpu" or "cuda:N": where the evaluator runs now. */
const char *crnn_evaluator_device(const crnn_evaluator *evaluator);

/* Scores the file at text_path and fills *report (the caller's; may be NULL).
 * strict: 1 makes an unseen character an error instead. A text with fewer
 * than 2 characters to score (an empty file) is not an error: CRNN_OK with
 * characters 0 (the caller decides). Returns CRNN_OK, or with *report zeroed
 * (nats_per_char NAN): CRNN_ERR_IO (cannot read, or larger than 4 GiB),
 * CRNN_ERR_UTF8 (invalid UTF-8, naming the file, byte offset, line and column;
 * a model trained lossy reads it as U+FFFD instead), CRNN_ERR_VOCAB (strict:
 * the first unseen character, naming it, the file, line and column),
 * CRNN_ERR_NUMERIC (the loss is not finite), CRNN_ERR_NOMEM, CRNN_ERR_ARG
 * (evaluator or path NULL). Only files scored without error count in the
 * totals. */
int crnn_evaluator_file(crnn_evaluator *evaluator, const char *text_path, int strict,
                        crnn_eval_report *report, crnn_error *err);

/* The same for text in memory: len bytes of UTF-8 at utf8 (NUL bytes are
 * text), scored and counted exactly as a file holding them would be; name
 * stands for the text in messages (NULL: "the text"). CRNN_ERR_ARG if
 * evaluator is NULL, or utf8 is NULL with len > 0. */
int crnn_evaluator_text(crnn_evaluator *evaluator, const char *utf8, size_t len,
                        const char *name, int strict, crnn_eval_report *report,
                        crnn_error *err);

/* What a model makes of a text, position by position (crnn_evaluator_trace). */
typedef struct crnn_trace {
    size_t length;              /* characters traced: the text, cut after max_chars */
    uint64_t text_characters;   /* characters in the whole text */
    uint32_t *code_points;      /* (length) the text */
    int32_t *token;             /* (length) the token read for each character (U+FFFD's for
                                   one the model never saw), -1 where it was left out */
    double *nats;               /* (length) -ln p of each character given those before it;
                                   NAN where nothing was predicted (the first, left out) */
    int top_k;                  /* candidates kept per position */
    uint32_t *top_code_points;  /* (length, top_k) the most likely characters at each
                                   position, most likely first (zeros where not predicted) */
    float *top_probs;           /* (length, top_k) their probabilities */
    int layers, hidden;
    float *h;                   /* (length, layers, hidden) each layer's hidden state after
                                   reading each character (CRNN_TRACE_STATES), else NULL */
    float *c;                   /* (length, layers, hidden) the LSTM's cell state, the same
                                   way (LSTM and CRNN_TRACE_STATES), else NULL */
    float *gates;               /* (length, layers, 4, hidden) the LSTM's gate activations
                                   (input, forget, candidate, output) at the step reading each
                                   character (LSTM and CRNN_TRACE_GATES), else NULL. c and the
                                   gates are recomputed from the layer's inputs and h with
                                   libm's exp and tanh: they agree with the engine's own to
                                   about 1e-6 (h = o tanh(c) to that precision) */
    crnn_eval_report report;    /* the text's figures: crnn_evaluator_text's on the cut text */
} crnn_trace;

enum {
    CRNN_TRACE_STATES = 1, /* keep h (and c) per position */
    CRNN_TRACE_GATES = 2,  /* keep the LSTM's gate activations per position */
};
#define CRNN_TRACE_MAX_TOP 64

/* Reads len bytes of UTF-8 (cut after max_chars characters; 0: no cut) the
 * way crnn_evaluator_text does, as one stream, and keeps per position the
 * probability of the character that came, the top_k (0 .. CRNN_TRACE_MAX_TOP)
 * most likely candidates and, with flags, each layer's states. Its nats summed
 * over the predicted positions are report.nats, which is crnn_evaluator_text's
 * figure for the cut text (for texts of up to 32767 characters, which the
 * evaluator also reads as one stream). Characters the model never saw are
 * handled as crnn_evaluator_text does without strict. Memory: length x layers
 * x hidden floats per state kept. The trace does not count in the
 * evaluator's totals. *trace is freed with crnn_trace_free. Errors as
 * crnn_evaluator_text, and CRNN_ERR_ARG for top_k out of range. */
int crnn_evaluator_trace(crnn_evaluator *evaluator, const char *utf8, size_t len,
                         const char *name, size_t max_chars, int top_k, unsigned flags,
                         crnn_trace **trace, crnn_error *err);
void crnn_trace_free(crnn_trace *trace);

/* A weight matrix of the evaluator's model, for reports. values point into
 * the evaluator (valid until it is freed); a bias is one row. */
typedef struct crnn_weight_matrix {
    char name[48];       /* "embedding", "layer 1 input", "layer 1 recurrent", "layer 1 bias",
                            "output", "output bias" */
    int rows, cols;
    const float *values; /* (rows, cols) */
} crnn_weight_matrix;

/* Fills up to max matrices, in the order of the weights; returns how many
 * the model has (1 + 3 x layers + 2). */
int crnn_evaluator_matrices(const crnn_evaluator *evaluator, crnn_weight_matrix *out, int max);

/* The model's vocabulary: *size code points in token order (valid until the
 * evaluator is freed). */
const uint32_t *crnn_evaluator_vocabulary(const crnn_evaluator *evaluator, int *size);

/* Called by crnn_evaluator_paths after each file it scored: the file's path
 * and report (valid during the call only) and the caller's pointer. */
typedef void (*crnn_eval_each)(void *user, const char *path, const crnn_eval_report *report);

/* Scores every file that paths[0 .. n-1] name, in order: a file as given; a
 * directory stands for the regular files under it, walked recursively in
 * byte order of their names (strcmp), names beginning with '.' (hidden files
 * and directories) skipped, symbolic links followed, each directory once.
 * The whole list is made before the first file is read. Calls each (may be
 * NULL) after every file, those with characters 0 (empty or too short)
 * included; crnn_evaluator_total then has the totals. Returns CRNN_OK (even if
 * no file had characters to score: the caller decides), or stops at the first
 * failure: CRNN_ERR_IO (a path is missing, a directory cannot be read),
 * CRNN_ERR_DATA (a directory holds no text files, or more than 4,000,000
 * files), CRNN_ERR_ARG (n is 0), or crnn_evaluator_file's failure. */
int crnn_evaluator_paths(crnn_evaluator *evaluator, const char *const *paths, size_t n,
                         int strict, crnn_eval_each each, void *user, crnn_error *err);

/* The same figures over every file crnn_evaluator_file has scored so far
 * without error: characters, nats, text_characters and unseen summed,
 * nats_per_char their character-weighted mean (NAN if none), and the distinct
 * unseen characters of all of them. */
void crnn_evaluator_total(const crnn_evaluator *evaluator, crnn_eval_report *total);

void crnn_evaluator_free(crnn_evaluator *evaluator);

/* One file in one call: opens the snapshot, scores text_path, frees. A
 * character the model never saw is scored as U+FFFD where the vocabulary has
 * it, and is otherwise CRNN_ERR_VOCAB (never left out: use the evaluator to
 * allow that). A text of fewer than 2 characters is CRNN_ERR_DATA.
 * *characters (may be NULL) receives the number of characters predicted. */
int crnn_evaluate_file(const char *snapshot_path, const char *text_path, double *nats_per_char,
                       uint64_t *characters, crnn_error *err);

/* ------------------------------------------------------------------ snapshots */

typedef enum crnn_weights_dtype {
    CRNN_WEIGHTS_F32 = 0,  /* IEEE binary32, exact */
    CRNN_WEIGHTS_F16 = 1,  /* IEEE binary16: half the size, about 3 decimal digits */
    CRNN_WEIGHTS_BF16 = 2, /* bfloat16: half the size, fp32's range, about 2 digits */
} crnn_weights_dtype;

typedef struct crnn_snapshot_info {
    unsigned version_major, version_minor;
    uint64_t file_bytes, payload_bytes;
    crnn_train_config config;
    int vocab_size;
    size_t parameters;
    uint64_t step;
    double last_val_loss, best_val_loss;
    char corpus_path[512];        /* the files and directories trained on, joined by ", " */
    uint64_t corpus_files;        /* the files with text read from them */
    uint64_t corpus_bytes;
    uint32_t corpus_crc;
    int resumable;                /* holds optimizer state, cursors and hidden state */
    crnn_weights_dtype weights_dtype;
    char origin_path[512];        /* fine-tuned from this snapshot; "" if trained from scratch */
    uint64_t origin_step;         /* ... at its step */
    int origin_vocab_size;        /* ... whose vocabulary is this one's first tokens */
    crnn_plan plan;               /* how the run was planned for its time (seconds 0: not) */
} crnn_snapshot_info;

/* Writes a sample-only model from a snapshot: configuration, vocabulary and
 * weights (rounded to nearest even for F16 / BF16), no optimizer state, stream
 * positions or hidden state. The sampler loads it like a snapshot; training
 * cannot resume from it. F16 fails (CRNN_ERR_ARG) if a weight is beyond the
 * fp16 range (65504). Written atomically like a snapshot. */
int crnn_export(const char *snapshot_path, const char *out_path, crnn_weights_dtype dtype,
                crnn_error *err);

/* Reads and fully validates a snapshot, and describes it. */
int crnn_snapshot_read_info(const char *path, crnn_snapshot_info *info, crnn_error *err);

/* ------------------------------------------------------------------ sampling */

typedef struct crnn_sampler crnn_sampler;

/* Loads the model of a snapshot for generation (batch 1), state zeroed. */
crnn_sampler *crnn_sampler_open(const char *snapshot_path, crnn_error *err);
void crnn_sampler_free(crnn_sampler *sampler);

/* The random stream used by crnn_sampler_next; the same seed gives the same text. */
void crnn_sampler_seed(crnn_sampler *sampler, uint64_t seed);

/* Feeds UTF-8 text through the model (priming). A character outside the
 * vocabulary is CRNN_ERR_VOCAB, naming it; invalid UTF-8 is CRNN_ERR_UTF8. */
int crnn_sampler_prime(crnn_sampler *sampler, const char *utf8, size_t len, crnn_error *err);

typedef struct crnn_sample_options {
    float temperature; /* 0 = always the most likely character (default 1) */
    int top_k;         /* keep the k most likely characters, 0 = all */
    float top_p;       /* keep the smallest set whose probability reaches p, 1 = all */
} crnn_sample_options;

void crnn_sample_options_default(crnn_sample_options *options);

/* Draws the next character (a Unicode code point), feeds it back into the model
 * and returns it through *code_point. */
int crnn_sampler_next(crnn_sampler *sampler, const crnn_sample_options *options,
                      uint32_t *code_point, crnn_error *err);

/* Zeroes the hidden state, for an independent sample. */
void crnn_sampler_reset(crnn_sampler *sampler);

/* ------------------------------------------------------------------ batched generation */

/* A generator steps up to max_streams independent samples together: each step
 * is one forward pass of the model for every stream running (one matrix
 * product per layer for all of them), after which each stream draws its next
 * character with its own random stream and options. Streams join between
 * steps and leave as soon as they are done (continuous batching); rows of
 * streams that have left cost nothing. Weights exported in fp16 or bf16 are
 * read as they are (half the bytes per character).
 *
 * A stream's text is exactly what crnn_sampler would write with the same
 * seed, prime and options. Not thread-safe: one thread owns a generator
 * (different generators may run side by side). */
typedef struct crnn_generator crnn_generator;

/* Loads a snapshot (or an exported model) for up to max_streams streams
 * (1 .. 65536). NULL with err set. */
crnn_generator *crnn_generator_open(const char *snapshot_path, int max_streams, crnn_error *err);
void crnn_generator_free(crnn_generator *generator);

int crnn_generator_capacity(const crnn_generator *generator); /* max_streams */
int crnn_generator_running(const crnn_generator *generator);  /* streams not yet finished */
int crnn_generator_vocab_size(const crnn_generator *generator);
/* Bytes the model's weights take as the generator reads them. */
size_t crnn_generator_weight_bytes(const crnn_generator *generator);

/* Where the generator steps its streams: CRNN_DEVICE_CPU (the default of
 * crnn_generator_open), CRNN_DEVICE_AUTO (a GPU when one is present, this
 * build has CUDA and the generator runs more than one stream: one stream is
 * bound by each step's latency, which the CPU serves better) or a CUDA
 * device's index. Only while no stream runs. Sampling is the same on both
 * (the host draws from the logits); the logits agree within float rounding,
 * so a sample can part from the CPU's where two characters are nearly tied.
 * CRNN_ERR_ARG for a device that does not exist or while streams run,
 * CRNN_ERR_DEVICE or CRNN_ERR_NOMEM for one that fails (the generator then
 * stays on the CPU). */
int crnn_generator_set_device(crnn_generator *generator, int device, crnn_error *err);

/* "cpu" or "cuda:N": where the generator steps now. */
const char *crnn_generator_device(const crnn_generator *generator);

/* What one stream is asked for. */
typedef struct crnn_stream_request {
    const char *prime;         /* UTF-8 text to start from, not repeated in the output;
                                  NULL or "": start as after a line break */
    size_t prime_len;
    uint64_t seed;             /* the stream's random seed */
    crnn_sample_options options;
    uint64_t max_chars;        /* characters to generate at most (the prime not counted) */
    const char *const *stop;   /* stop texts (n_stop of them, each non-empty): the stream ends
                                  where its text first contains one, which is left out */
    int n_stop;
    void *user;                /* handed back with the stream's updates */
} crnn_stream_request;

/* No prime, seed 1, default options, 1000 characters, no stop texts. */
void crnn_stream_request_default(crnn_stream_request *request);

/* Why a stream ended (0 while it runs). */
typedef enum crnn_stream_end {
    CRNN_STREAM_RUNNING = 0,
    CRNN_STREAM_LENGTH = 1, /* it wrote max_chars characters */
    CRNN_STREAM_STOP = 2,   /* it wrote one of its stop texts */
} crnn_stream_end;

/* Adds a stream; it starts with the next step. Returns its id (>= 0, never
 * reused by this generator) or: CRNN_ERR_ARG (options out of range, an empty
 * stop text, every slot taken: check crnn_generator_running first),
 * CRNN_ERR_UTF8 (invalid prime or stop text), CRNN_ERR_VOCAB (the prime has a
 * character the model never saw, named in the message). The request's
 * strings are copied. On failure no stream is added (the last updates of
 * ended streams are released either way, as by any call). */
int64_t crnn_generator_add(crnn_generator *generator, const crnn_stream_request *request,
                           crnn_error *err);

/* What one step did for one stream. */
typedef struct crnn_stream_update {
    int64_t id;
    void *user;
    const char *text; /* UTF-8 the stream has made final in this step (possibly none while a
                         stop text might be starting); valid until the next call on the
                         generator */
    size_t len;
    uint64_t chars;   /* characters generated so far */
    int end;          /* crnn_stream_end: not RUNNING in the stream's last update */
} crnn_stream_update;

/* Advances every running stream by one character: a stream still reading
 * its prime takes the prime's next character; the others draw one. Fills
 * updates (room for crnn_generator_capacity entries) with one entry per
 * stream that made text or ended, in the order the streams were added, and
 * *count with their number. A stream that ended is gone after this call.
 * CRNN_OK, or the engine's failure. */
int crnn_generator_step(crnn_generator *generator, crnn_stream_update *updates, int *count,
                        crnn_error *err);

/* Ends a stream at once (its client went away): 1 if it was running, 0 if no
 * stream has that id. Its slot is free for the next add. */
int crnn_generator_cancel(crnn_generator *generator, int64_t id);

/* Describes a code point for people: 'a' (U+0061), or U+000A for controls;
 * writes at most outlen bytes, NUL included (24 are always enough). */
void crnn_describe_code_point(uint32_t cp, char *out, size_t outlen);

/* Encodes one code point as UTF-8 into out (4 bytes room); returns its length. */
int crnn_utf8_encode(uint32_t code_point, char out[4]);

/* ------------------------------------------------------------------ processes */

/* Data-parallel training over MPI. In a program started by mpirun, call
 * crnn_dist_init before anything else and crnn_dist_finalize at the end; every
 * trainer then spreads its B streams over the ranks (B must divide), sums the
 * gradients with MPI_Allreduce and keeps identical weights on every rank. Only
 * rank 0 should write snapshots (crnn_trainer_save does nothing elsewhere, but
 * every rank must call it: it gathers the streams' state). Without MPI (or
 * without mpirun) there is one rank and these are no-ops. */
int crnn_dist_init(int *argc, char ***argv);
void crnn_dist_finalize(void);
int crnn_dist_rank(void);
int crnn_dist_size(void);
/* 1 if this charrnn was built with MPI. */
int crnn_dist_have_mpi(void);
/* Collective: 1 on every rank if any rank passes a non-zero flag. */
int crnn_dist_any(int flag);
/* Ends every rank of the job at once (after a fatal error on one rank). */
void crnn_dist_abort(int code);

/* Collective: compares a checksum of the weights across ranks; CRNN_ERR_NUMERIC
 * naming the step if they differ (they must not: every rank applies the same
 * update to the same weights). */
int crnn_trainer_check_replicas(crnn_trainer *trainer, crnn_error *err);

/* ------------------------------------------------------------------ machine */

/* Threads used by the matrix products and element-wise loops (0 = all cores):
 * process-wide, for every object (see the conventions at the top). */
void crnn_set_threads(int threads);
int crnn_get_threads(void);

/* The word for an engine setting ("auto", "own", "onednn", "onednn-bf16"),
 * NULL for an unknown value; and the setting of a word (CRNN_ERR_ARG for an
 * unknown one). */
const char *crnn_engine_name(crnn_engine engine);
int crnn_engine_parse(const char *name, crnn_engine *engine);

/* CRNN_OK if this build and CPU can run the engine (AUTO and OWN always);
 * CRNN_ERR_ARG saying why not: a build without oneDNN, or bf16 on a CPU
 * without AVX512-BF16 (oneDNN would emulate it, slower than fp32). */
int crnn_engine_check(crnn_engine engine, crnn_error *err);

/* What trainers with this setting train LSTM layers on, for people: "oneDNN
 * 2.6.3 (avx512_core_bf16)", with ", products in bf16", or "charrnn's own
 * cells". A trainer's own choice is in its status (AUTO falls back to the own
 * cells when oneDNN's engine would not fit in memory). */
void crnn_engine_describe(crnn_engine engine, char *out, size_t size);

/* The device setting of a word: "auto", "cpu", "cuda" (cuda:0) or "cuda:N";
 * CRNN_ERR_ARG for another. */
int crnn_device_parse(const char *name, int *device);

/* The word for a device setting into out ("auto", "cpu", "cuda:0"). */
void crnn_device_name(int device, char *out, size_t size);

/* CRNN_OK if the setting can run here (AUTO and CPU always); CRNN_ERR_ARG
 * saying why not: a build without CUDA, no GPU, or no device of that index. */
int crnn_device_check(int device, crnn_error *err);

/* Number of CUDA devices this process can use (0 in a build without CUDA). */
int crnn_device_count(void);

/* A short description of the compute back end: the BLAS and its kernels and
 * the gate loops. */
const char *crnn_backend_description(void);

/* 1 if OpenBLAS runs kernels weaker than this CPU supports (it fell back to
 * generic ones for a CPU it does not know, or a preset OPENBLAS_CORETYPE holds
 * it back), with the OPENBLAS_CORETYPE value that fixes it in core. OpenBLAS
 * reads that variable when it loads: only a new process can use it. */
int crnn_blas_better_core(char *core, size_t size);

#ifdef __cplusplus
}
#endif
#endif
