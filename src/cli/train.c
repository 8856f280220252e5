/*
 * train.c: `charrnn train`: parses options, drives the trainer (when to
 * evaluate, save and stop), shows progress and handles Ctrl-C by saving.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

static const char TRAIN_HELP[] =
    "usage: charrnn train CORPUS... -o SNAP [options]\n"
    "       charrnn train --resume SNAP [--corpus CORPUS] [-o SNAP] [stopping options]\n"
    "       charrnn train CORPUS --init-from SNAP -o SNAP [options]   (fine-tuning)\n"
    "\n"
    "Trains a character-level LSTM on UTF-8 text: files and directories (walked in\n"
    "name order, hidden ones skipped), joined in order. A snapshot is written at\n"
    "every evaluation, at the end and on Ctrl-C; the best by validation loss is kept\n"
    "next to it as NAME.best.crnn. Any snapshot can be resumed exactly.\n"
    "\n"
    "Model:\n"
    "  --cell TYPE        lstm (default), gru or rnn (vanilla)\n"
    "  --activation F     tanh (default) or relu, for --cell rnn\n"
    "  --layers L         stacked recurrent layers (default 2)\n"
    "  --hidden H         hidden units per layer (default 128)\n"
    "  --embed E          embedding size (default 64)\n"
    "Training:\n"
    "  --batch B          parallel streams through the corpus (default 50)\n"
    "  --seq T            time steps per chunk, truncated BPTT (default 50)\n"
    "  --lr X             learning rate (default 0.002)\n"
    "  --optimizer NAME   adam (default), rmsprop or sgd (with momentum 0.9)\n"
    "  --schedule NAME    constant (default), step or cosine (to 0 at the end of the run)\n"
    "  --lr-decay F       step schedule: multiply the rate by F (default 0.97) ...\n"
    "  --decay-every E    ... every E epochs (default 1)\n"
    "  --warmup N         raise the rate linearly over the first N steps\n"
    "  --cooldown N       cosine schedule: hold the rate, then decay it over the last N steps\n"
    "  --weight-decay X   decoupled weight decay (AdamW-style), default 0\n"
    "  --dropout P        dropout between layers and before the output (default 0)\n"
    "  --reset-state      stateless training: zero the hidden state at every chunk\n"
    "  --forget-bias F    LSTM forget-gate bias at initialisation (default 1)\n"
    "  --clip X           clip the gradient's global norm to X, 0 = off (default 5)\n"
    "  --seed S           random seed (default 1)\n"
    "  --val-fraction F   share of the text held out for validation (default 0.05)\n"
    "  --test-fraction F  share held out at the end for the final test (default 0.05)\n"
    "  --threads N        compute threads (default: all cores)\n"
    "  --engine E         what trains LSTM layers: auto (oneDNN where built in), onednn,\n"
    "                     onednn-bf16 or own (charrnn's cells)\n"
    "  --bf16             --engine onednn-bf16: matrix products in bf16 (AVX512-BF16\n"
    "                     CPUs), fp32 weights and accumulation\n"
    "  --fp32             keep the products in fp32 (a run planned with --time takes bf16\n"
    "                     where this CPU measures them faster): --engine onednn, or own\n"
    "                     in a build without oneDNN\n"
    "  --device D         where the steps run: auto (a GPU when one is present and built\n"
    "                     in, default), cpu, cuda or cuda:N\n"
    "Corpus:\n"
    "  --lossy            replace invalid UTF-8 with U+FFFD instead of stopping\n"
    "  --normalize FORM   nfc or nfkc Unicode normalization (default: none)\n"
    "  --max-vocab N      keep the N-1 most frequent characters; map the rest to U+FFFD\n"
    "  --cache-dir DIR    where the corpus's token ids are cached (default\n"
    "                     $CHARRNN_CACHE_DIR, else ~/.cache/charrnn)\n"
    "  --no-cache         tokenize into memory, write no id file\n"
    "Fine-tuning:\n"
    "  --init-from SNAP   start from the weights of SNAP (a snapshot or an export): its\n"
    "                     shape, tokenizer and training options, unless given; its\n"
    "                     vocabulary extended by CORPUS's new characters; a fresh\n"
    "                     optimizer, schedule and step\n"
    "Stopping and saving (a resumed run keeps these unless given again):\n"
    "  --max-iters N      stop at step N, counted from the start of training\n"
    "  --epochs N         stop after N passes over the training split (default 10)\n"
    "  --time T           plan the run for T (seconds, or 90s, 30m, 2h): the whole command,\n"
    "                     evaluations included, ends within it. The options not given\n"
    "                     are chosen (model, batch, seq, lr, cosine schedule held until\n"
    "                     its last 30%, dropout, weight decay, bf16 products where faster)\n"
    "                     after measuring this machine's speed; the plan is printed as\n"
    "                     the equivalent command line. On resume, T bounds that run.\n"
    "  --no-plan          with --time: choose nothing; the time only stops the run\n"
    "  --eval-every N     validation loss and snapshot every N steps (default 200)\n"
    "  --eval-chars N     validation reads at most N characters, the same part every\n"
    "                     time (default: a quarter of the characters trained between\n"
    "                     evaluations, at least 65536); 0 = the whole split\n"
    "  --save-every N     also write a snapshot every N steps\n"
    "  --patience N       stop after N evaluations without a better validation loss\n"
    "  -o, --output SNAP  snapshot to write (default model.crnn)\n"
    "  -q, --quiet        print only the final summary\n"
    "Several processes (mpirun -np N charrnn train ...; --batch is the total, N must divide it):\n"
    "  --check-replicas K compare a checksum of the weights across processes every K steps\n"
    "\n"
    "Exit status: 0 done, 1 error, 2 usage error, 130 interrupted (snapshot saved).\n";

static volatile sig_atomic_t interrupted;
static volatile sig_atomic_t training; /* the loop runs: a signal stops it after its step */

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* "model.crnn" -> "model.best.crnn"; other names get ".best" appended. */
static char *best_path_for(const char *path)
{
    size_t n = strlen(path);
    char *out = malloc(n + 8);
    if (!out)
        return NULL;
    const char *ext = n > 5 && !strcmp(path + n - 5, ".crnn") ? path + n - 5 : NULL;
    if (ext)
        snprintf(out, n + 8, "%.*s.best.crnn", (int)(ext - path), path);
    else
        snprintf(out, n + 8, "%s.best", path);
    return out;
}

static void format_duration(double s, char *out, size_t len)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(out, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(out, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(out, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(out, len, "%lds", t);
}

typedef struct run_limits {
    uint64_t max_iters;
    double max_epochs;
    double max_seconds;
} run_limits;

/* Fraction of the run done, by whichever limit is nearest. */
static double progress_fraction(const crnn_trainer_status *st, const run_limits *lim,
                                uint64_t start_step, double elapsed)
{
    double f = 0;
    if (lim->max_iters > start_step)
        f = fmax(f, (double)(st->step - start_step) / (double)(lim->max_iters - start_step));
    if (lim->max_epochs > 0)
        f = fmax(f, st->epoch / lim->max_epochs);
    if (lim->max_seconds > 0)
        f = fmax(f, elapsed / lim->max_seconds);
    return f;
}

/* One progress line. On a terminal it is redrawn in place and starts with a bar
 * of the run's progress (done fraction by whichever limit is nearest). */
static void print_progress(const crnn_trainer_status *st, double train_loss, double rate,
                           double elapsed, double left, double done, int final_line, int tty)
{
    char el[32], lf[32], val[48], bar[40] = "";
    format_duration(elapsed, el, sizeof el);
    format_duration(left, lf, sizeof lf);
    if (isnan(st->last_val_loss))
        snprintf(val, sizeof val, "val -");
    else
        snprintf(val, sizeof val, "val %.4f (best %.4f)", st->last_val_loss, st->best_val_loss);
    if (tty && !final_line) {
        int width = 20, full = (int)(fmin(fmax(done, 0), 1) * width + 0.5);
        bar[0] = '[';
        for (int i = 0; i < width; i++)
            bar[1 + i] = i < full ? '#' : '-';
        snprintf(bar + 1 + width, sizeof bar - 1 - (size_t)width, "] %3.0f%% ",
                 100 * fmin(fmax(done, 0), 1));
    }
    fprintf(stderr, "%s%sstep %llu | epoch %.2f | train %.4f | %s | %.1fk chars/s | %s elapsed, "
                    "%s left%s",
            tty ? "\r\033[K" : "", bar, (unsigned long long)st->step, st->epoch, train_loss, val,
            rate / 1000.0, el, lf, final_line || !tty ? "\n" : "");
    fflush(stderr);
}

/* Writes a snapshot; 1 if it was written. A failed periodic save (disk full,
 * directory not writable) is a warning: training goes on, the previous file
 * stays intact and the next save tries again. A failed final or interrupt
 * save (fatal) is an error: the caller ends the run with status 1. */
static int save_snapshot(crnn_trainer *t, const char *path, const char *what, int fatal)
{
    crnn_error err = {0};
    if (crnn_trainer_save(t, path, &err) == CRNN_OK)
        return 1;
    if (crnn_dist_rank() != 0) /* rank 0 writes and reports */
        return 0;
    if (fatal) {
        fprintf(stderr, "charrnn: error: could not write the %s snapshot: %s\n", what, err.message);
        fprintf(stderr, "charrnn: any previous %s is unchanged\n", path);
        return 0;
    }
    fprintf(stderr,
            "charrnn: warning: could not write the %s snapshot: %s; training goes on, any "
            "previous %s is unchanged, the next save tries again\n",
            what, err.message, path);
    return 0;
}

/* --cell's words are the library's cell names up to a '-': "rnn-tanh" and
 * "rnn-relu" are both --cell rnn (the first of them), told apart by
 * --activation. */
enum { CELL_WORDS = 8 };

static void cell_choices(cli_choice choices[CELL_WORDS + 1], char words[CELL_WORDS][16])
{
    int n = 0;
    for (int c = 0; n < CELL_WORDS && crnn_cell_name((crnn_cell_type)c); c++) {
        const char *name = crnn_cell_name((crnn_cell_type)c);
        snprintf(words[n], sizeof words[n], "%.*s", (int)strcspn(name, "-"), name);
        int seen = 0;
        for (int k = 0; k < n; k++)
            seen |= !strcmp(words[k], words[n]);
        if (!seen) {
            choices[n] = (cli_choice){words[n], c};
            n++;
        }
    }
    choices[n] = (cli_choice){NULL, 0};
}

/* The cell of --cell WORD --activation F is the one named WORD-F; 0 if there
 * is none (the cell has no choice of activation). */
static int with_activation(crnn_train_config *cfg, const char *activation)
{
    const char *name = crnn_cell_name(cfg->cell);
    if (!name)
        return 0;
    char full[40];
    snprintf(full, sizeof full, "%.*s-%s", (int)strcspn(name, "-"), name, activation);
    return crnn_cell_parse(full, &cfg->cell) == CRNN_OK;
}

/* Options that define the model and its training, which a resumed run keeps:
 * 1 if arg is one (and its value is parsed), else 0. */
static int model_option(cli_args *a, const char *arg, train_options *o, const cli_choice *cells,
                        const char **activation)
{
    crnn_train_config *cfg = &o->config;
    if (cli_is(a, arg, "--cell")) {
        /* rnn with --activation relu becomes the cell rnn-relu after parsing */
        cfg->cell = (crnn_cell_type)cli_pick(a, "--cell", cli_value(a, arg), cells, cfg->cell);
        o->given |= CRNN_GIVEN_CELL;
    } else if (cli_is(a, arg, "--activation")) {
        static const cli_choice activations[] = {{"tanh", 0}, {"relu", 1}, {NULL, 0}};
        int relu = cli_pick(a, "--activation", cli_value(a, arg), activations, 0);
        *activation = activations[relu].word;
    } else if (cli_is(a, arg, "--layers")) {
        cfg->layers = (int)cli_int(a, cli_value(a, arg), "--layers", 1, CRNN_MAX_LAYERS);
        o->given |= CRNN_GIVEN_LAYERS;
        o->size_option_given = 1;
    } else if (cli_is(a, arg, "--hidden")) {
        cfg->hidden = (int)cli_int(a, cli_value(a, arg), "--hidden", 1, 65536);
        o->given |= CRNN_GIVEN_HIDDEN;
        o->size_option_given = 1;
    } else if (cli_is(a, arg, "--embed")) {
        cfg->embed = (int)cli_int(a, cli_value(a, arg), "--embed", 1, 65536);
        o->given |= CRNN_GIVEN_EMBED;
        o->size_option_given = 1;
    } else if (cli_is(a, arg, "--batch")) {
        cfg->batch = (int)cli_int(a, cli_value(a, arg), "--batch", 1, CRNN_MAX_BATCH);
        o->given |= CRNN_GIVEN_BATCH;
        o->size_option_given = 1;
    } else if (cli_is(a, arg, "--seq")) {
        cfg->seq = (int)cli_int(a, cli_value(a, arg), "--seq", 1, CRNN_MAX_SEQ);
        o->given |= CRNN_GIVEN_SEQ;
        o->size_option_given = 1;
    } else if (cli_is(a, arg, "--lr")) {
        cfg->learning_rate = (float)cli_double(a, cli_value(a, arg), "--lr", 1e-12, 3e38);
        o->given |= CRNN_GIVEN_LR;
    } else if (cli_is(a, arg, "--clip")) {
        cfg->clip = (float)cli_double(a, cli_value(a, arg), "--clip", 0, 1e30);
    } else if (cli_is(a, arg, "--seed")) {
        cfg->seed = cli_u64(a, cli_value(a, arg), "--seed");
    } else if (cli_is(a, arg, "--val-fraction")) {
        cfg->val_fraction = (float)cli_double(a, cli_value(a, arg), "--val-fraction", 0, 0.49);
    } else if (cli_is(a, arg, "--test-fraction")) {
        cfg->test_fraction = (float)cli_double(a, cli_value(a, arg), "--test-fraction", 0, 0.49);
    } else if (cli_is(a, arg, "--lossy")) {
        cfg->lossy = 1;
    } else if (cli_is(a, arg, "--normalize")) {
        static const cli_choice forms[] = {{"nfc", CRNN_NORMALIZE_NFC},
                                           {"nfkc", CRNN_NORMALIZE_NFKC},
                                           {"none", CRNN_NORMALIZE_NONE},
                                           {NULL, 0}};
        cfg->normalize = (crnn_normalization)cli_pick(a, "--normalize", cli_value(a, arg), forms,
                                                      cfg->normalize);
    } else if (cli_is(a, arg, "--optimizer")) {
        static const cli_choice optimizers[] = {
            {"adam", CRNN_OPT_ADAM}, {"rmsprop", CRNN_OPT_RMSPROP}, {"sgd", CRNN_OPT_SGD}, {NULL, 0}};
        cfg->optimizer = (crnn_optimizer)cli_pick(a, "--optimizer", cli_value(a, arg), optimizers,
                                                  cfg->optimizer);
    } else if (cli_is(a, arg, "--schedule")) {
        static const cli_choice schedules[] = {{"constant", CRNN_SCHEDULE_CONSTANT},
                                               {"step", CRNN_SCHEDULE_STEP},
                                               {"cosine", CRNN_SCHEDULE_COSINE},
                                               {NULL, 0}};
        cfg->schedule = (crnn_schedule)cli_pick(a, "--schedule", cli_value(a, arg), schedules,
                                                cfg->schedule);
        o->given |= CRNN_GIVEN_SCHEDULE;
    } else if (cli_is(a, arg, "--lr-decay")) {
        cfg->lr_decay = (float)cli_double(a, cli_value(a, arg), "--lr-decay", 1e-6, 1);
    } else if (cli_is(a, arg, "--decay-every")) {
        cfg->decay_every = (float)cli_double(a, cli_value(a, arg), "--decay-every", 1e-6, 1e9);
    } else if (cli_is(a, arg, "--warmup")) {
        cfg->warmup_steps = cli_u64(a, cli_value(a, arg), "--warmup");
        o->given |= CRNN_GIVEN_WARMUP;
    } else if (cli_is(a, arg, "--cooldown")) {
        cfg->cooldown_steps = cli_u64(a, cli_value(a, arg), "--cooldown");
        o->given |= CRNN_GIVEN_COOLDOWN;
    } else if (cli_is(a, arg, "--weight-decay")) {
        cfg->weight_decay = (float)cli_double(a, cli_value(a, arg), "--weight-decay", 0, 0.99);
        o->given |= CRNN_GIVEN_WEIGHT_DECAY;
    } else if (cli_is(a, arg, "--dropout")) {
        cfg->dropout = (float)cli_double(a, cli_value(a, arg), "--dropout", 0, 0.95);
        o->given |= CRNN_GIVEN_DROPOUT;
        o->size_option_given = 1;
    } else if (cli_is(a, arg, "--forget-bias")) {
        cfg->forget_bias = (float)cli_double(a, cli_value(a, arg), "--forget-bias", -10, 10);
        o->given |= CRNN_GIVEN_FORGET_BIAS;
    } else if (cli_is(a, arg, "--reset-state")) {
        cfg->reset_state = 1;
    } else if (cli_is(a, arg, "--max-vocab")) {
        cfg->max_vocab = (int)cli_int(a, cli_value(a, arg), "--max-vocab", 2, 0x110000);
    } else {
        return 0;
    }
    return 1;
}

/* The others: files, corpus, machine, stopping and saving; anything else is
 * a usage error. */
static void run_option(cli_args *a, const char *arg, train_options *o)
{
    if (cli_is(a, arg, "-o") || cli_is(a, arg, "--output")) {
        o->output = cli_value(a, "--output");
    } else if (cli_is(a, arg, "--resume")) {
        o->resume = cli_value(a, "--resume");
    } else if (cli_is(a, arg, "--init-from")) {
        o->init_from = cli_value(a, "--init-from");
    } else if (cli_is(a, arg, "--corpus")) {
        o->corpus = cli_value(a, "--corpus");
    } else if (cli_is(a, arg, "--cache-dir")) {
        o->cache_dir = cli_value(a, "--cache-dir");
    } else if (cli_is(a, arg, "--no-cache")) {
        o->cache_dir = "";
    } else if (cli_is(a, arg, "--engine")) {
        static const cli_choice engines[] = {{"auto", CRNN_ENGINE_AUTO},
                                             {"onednn", CRNN_ENGINE_ONEDNN},
                                             {"onednn-bf16", CRNN_ENGINE_ONEDNN_BF16},
                                             {"own", CRNN_ENGINE_OWN},
                                             {NULL, 0}};
        o->engine = cli_pick(a, "--engine", cli_value(a, arg), engines, o->engine);
    } else if (cli_is(a, arg, "--bf16")) {
        o->engine = CRNN_ENGINE_ONEDNN_BF16;
    } else if (cli_is(a, arg, "--fp32")) {
        o->engine = crnn_engine_check(CRNN_ENGINE_ONEDNN, NULL) == CRNN_OK ? CRNN_ENGINE_ONEDNN
                                                                           : CRNN_ENGINE_OWN;
    } else if (cli_is(a, arg, "--device")) {
        o->device = cli_value(a, arg);
    } else if (cli_is(a, arg, "--threads")) {
        o->threads = (int)cli_int(a, cli_value(a, arg), "--threads", 0, 1024);
    } else if (cli_is(a, arg, "--max-iters")) {
        o->max_iters = cli_u64(a, cli_value(a, arg), "--max-iters");
    } else if (cli_is(a, arg, "--epochs")) {
        o->max_epochs = cli_double(a, cli_value(a, arg), "--epochs", 0, 1e9);
    } else if (cli_is(a, arg, "--time")) {
        o->max_seconds = cli_duration(a, cli_value(a, arg), "--time", 1e9);
    } else if (cli_is(a, arg, "--eval-every")) {
        o->eval_every = (uint64_t)cli_int(a, cli_value(a, arg), "--eval-every", 1, 1000000000);
        o->given |= CRNN_GIVEN_EVAL_EVERY;
    } else if (cli_is(a, arg, "--no-plan")) {
        o->no_plan = 1;
    } else if (cli_is(a, arg, "--eval-chars")) {
        o->eval_chars = cli_u64(a, cli_value(a, arg), "--eval-chars");
        if (o->eval_chars == 0)
            o->eval_chars = UINT64_MAX;
    } else if (cli_is(a, arg, "--save-every")) {
        o->save_every = (uint64_t)cli_int(a, cli_value(a, arg), "--save-every", 1, 1000000000);
    } else if (cli_is(a, arg, "--patience")) {
        o->patience = (uint64_t)cli_int(a, cli_value(a, arg), "--patience", 1, 1000000000);
    } else if (cli_is(a, arg, "--check-replicas")) {
        o->check_every = (uint64_t)cli_int(a, cli_value(a, arg), "--check-replicas", 1,
                                           1000000000);
    } else if (cli_is(a, arg, "-q") || cli_is(a, arg, "--quiet")) {
        o->quiet = 1;
    } else if (arg[0] != '-' && o->ncorpora < CLI_MAX_CORPORA) {
        o->corpora[o->ncorpora++] = arg;
        if (!o->corpus)
            o->corpus = arg;
    } else if (arg[0] != '-') {
        cli_error(a, "more than %d corpus paths: put the files in a directory and give it",
                  CLI_MAX_CORPORA);
    } else {
        cli_unexpected(a, arg);
    }
}

void train_parse(cli_args *a, train_options *o)
{
    crnn_train_config defaults;
    crnn_train_config_default(&defaults);
    train_parse_over(a, o, &defaults);
}

void train_parse_over(cli_args *a, train_options *o, const crnn_train_config *start)
{
    memset(o, 0, sizeof *o);
    o->config = *start;
    o->max_epochs = -1;
    const char *activation = NULL; /* --activation's word */
    char words[CELL_WORDS][16];
    cli_choice cells[CELL_WORDS + 1];
    cell_choices(cells, words);
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        }
        if (model_option(a, arg, o, cells, &activation))
            o->model_option_given = 1;
        else
            run_option(a, arg, o);
    }
    if (a->failed)
        return;
    if (activation && !with_activation(&o->config, activation))
        cli_error(a, "--activation applies to --cell rnn only (LSTM and GRU gates are fixed)");
    else if (!o->resume && !o->corpus)
        cli_error(a, "no corpus given: charrnn train CORPUS... -o SNAP");
    else if (o->resume && o->ncorpora > 1)
        cli_error(a, "a resumed run reads the corpus its snapshot records: give one path (or "
                     "--corpus PATH) only if it moved");
    else if (o->resume && o->model_option_given)
        cli_error(a, "a resumed run keeps its model and training options; only --corpus, -o and "
                     "the stopping and saving options can be given with --resume");
    else if (o->resume && o->init_from)
        cli_error(a, "--init-from starts a new run from a model's weights and --resume continues "
                     "a run: give one of them");
    else if ((o->given & CRNN_GIVEN_COOLDOWN) && o->config.schedule != CRNN_SCHEDULE_COSINE &&
             (o->given & CRNN_GIVEN_SCHEDULE || !(o->max_seconds > 0) || o->no_plan))
        cli_error(a, "--cooldown shapes a cosine schedule: give --schedule cosine (or --time, "
                     "whose plan takes one)");
}

/* With no size given, sizes suited to the corpus (the library's rule), and
 * what was picked. A corpus too small for the batch gets fewer streams, with
 * a notice. */
static void pick_sizes(const train_options *o, crnn_train_config *c, int quiet)
{
    uint64_t bytes;
    if (crnn_corpus_bytes(o->corpora, (size_t)o->ncorpora, &bytes, NULL) != CRNN_OK)
        return; /* the trainer reports the problem */
    int wanted = crnn_train_config_fit(c, bytes);
    if (quiet)
        return;
    if (c->batch < wanted)
        fprintf(stderr, "charrnn: notice: the corpus is small: %d streams instead of %d\n",
                c->batch, wanted);
    fprintf(stderr,
            "charrnn: picked %d x %d, embedding %d, batch %d x %d%s for a %.2f MB corpus "
            "(--layers, --hidden, --embed, --batch, --seq and --dropout choose)\n",
            c->layers, c->hidden, c->embed, c->batch, c->seq,
            c->dropout > 0 ? (c->dropout < 0.15f ? ", dropout 0.1" : ", dropout 0.2") : "",
            (double)bytes / 1e6);
}

/* One run of `charrnn train`: the trainer and what the command keeps around
 * it. Released by train_run_free, the one way out of cmd_train. */
typedef struct train_run {
    crnn_trainer *t;
    const char *output;   /* the snapshot written at every save */
    char *best_path;      /* NAME.best.crnn (owned) */
    char *log_path;       /* NAME.csv (owned) */
    char *svg_path;       /* NAME.svg (owned) */
    crnn_run_settings rs; /* stopping rule and cadence, as the trainer keeps them */
    run_limits lim;
    uint64_t check_every; /* --check-replicas */
    int leader;           /* rank 0: the only process that talks */
    int quiet, tty;
    uint64_t start_step;
    double command_start; /* now_seconds() as the command began: --time counts from here */
    double start;         /* now_seconds() as the loop began */
    crnn_plan plan;       /* the run's plan (seconds 0: none) */
    int plan_open;        /* a new plan whose length is still open (the status's plan_open) */
    const train_options *opts;
    double eval_seconds;  /* validation in this run: time spent ... */
    uint64_t eval_read;   /* ... and characters read */
    double rate;          /* characters per second in this run */
    double smooth;        /* training loss, exponentially smoothed */
    int saved_at_step;    /* the last step ended with a snapshot */
    const char *eval_what; /* the split being evaluated, for its progress line */
    double eval_start, eval_drawn; /* when that began, and its line was last drawn */
} train_run;

static void train_run_free(train_run *r)
{
    free(r->best_path);
    free(r->log_path);
    free(r->svg_path);
    crnn_trainer_free(r->t);
}

/* How the run computes: the thread count (process-wide), the options, and two
 * variables for benchmarks and tests (README): CHARRNN_ONEDNN_GROUPS=N runs
 * oneDNN's rows in N groups side by side, CHARRNN_MEMORY_BYTES=N plans for N
 * bytes of memory. Returns 0, or the exit status after saying why. */
static int compute_settings(const train_options *o, crnn_compute_options *compute)
{
    crnn_set_threads(o->threads);
    crnn_compute_options_default(compute);
    compute->engine = (crnn_engine)o->engine;
    compute->cache_dir = o->cache_dir;
    const char *groups = getenv("CHARRNN_ONEDNN_GROUPS"), *memory = getenv("CHARRNN_MEMORY_BYTES");
    if (groups && atoi(groups) > 0)
        compute->row_groups = atoi(groups);
    if (memory && strtoull(memory, NULL, 10) > 0)
        compute->memory_bytes = strtoull(memory, NULL, 10);
    if (o->device && crnn_device_parse(o->device, &compute->device) != CRNN_OK) {
        fprintf(stderr, "charrnn: --device must be auto, cpu, cuda or cuda:N (got '%s')\n",
                o->device);
        return EXIT_USAGE;
    }
    crnn_error err = {0};
    if (crnn_engine_check(compute->engine, &err) == CRNN_OK &&
        crnn_device_check(compute->device, &err) == CRNN_OK)
        return 0;
    fprintf(stderr, "charrnn: %s\n", err.message);
    return EXIT_USAGE;
}

/* Fine-tuning: the options given apply over the configuration of the model
 * started from (its shape, tokenizer and training options; a fresh schedule;
 * no vocabulary limit unless given), parsed again from the command line. A
 * size option that contradicts the model's shape is a usage error naming it.
 * Returns 0, or the exit status after saying why. */
static int finetune_options(int argc, char **argv, train_options *o)
{
    crnn_snapshot_info in;
    crnn_error err = {0};
    if (crnn_snapshot_read_info(o->init_from, &in, &err) != CRNN_OK)
        return cli_report(&err);
    crnn_train_config start = in.config;
    start.schedule_steps = 0;
    start.max_vocab = 0;
    int quiet = o->quiet;
    cli_args a;
    cli_args_init(&a, argc, argv, "train");
    train_parse_over(&a, o, &start); /* parsed once already: it succeeds */
    o->quiet = quiet;
    const crnn_train_config *c = &o->config, *m = &in.config;
    const char *option = c->cell != m->cell           ? "--cell"
                         : c->layers != m->layers     ? "--layers"
                         : c->hidden != m->hidden     ? "--hidden"
                         : c->embed != m->embed       ? "--embed"
                         : c->normalize != m->normalize ? "--normalize"
                                                        : NULL;
    if (option) {
        static const char *const forms[] = {"none", "nfc", "nfkc"};
        char given[48];
        int value = option[2] == 'l' ? c->layers : option[2] == 'h' ? c->hidden : c->embed;
        if (option[2] == 'c')
            snprintf(given, sizeof given, "%s", crnn_cell_name(c->cell));
        else if (option[2] == 'n')
            snprintf(given, sizeof given, "%s", forms[c->normalize % 3]);
        else
            snprintf(given, sizeof given, "%d", value);
        fprintf(stderr,
                "charrnn: %s %s contradicts %s, a %d x %d %s with embedding %d%s: fine-tuning "
                "keeps the shape and the tokenizer of the model it starts from (leave %s out)\n",
                option, given, o->init_from, m->layers, m->hidden, crnn_cell_title(m->cell),
                m->embed, m->normalize ? (m->normalize == CRNN_NORMALIZE_NFC ? ", NFC" : ", NFKC")
                                       : "", option);
        return EXIT_USAGE;
    }
    o->size_option_given = 1; /* the sizes are the model's: none to pick */
    return 0;
}

/* Appends word to out (at *len of size), quoted for a POSIX shell if it
 * needs to be. */
static void append_word(char *out, size_t size, size_t *len, const char *word)
{
    int plain = word[0] != 0;
    for (const char *c = word; *c; c++)
        plain &= (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                 strchr("._/-+,:@=%", *c) != NULL;
    char buf[1200];
    size_t n = 0;
    if (plain) {
        n = (size_t)snprintf(buf, sizeof buf, " %s", word);
    } else {
        buf[n++] = ' ';
        buf[n++] = '\'';
        for (const char *c = word; *c && n + 6 < sizeof buf; c++) {
            if (*c == '\'') {
                memcpy(buf + n, "'\\''", 4);
                n += 4;
            } else {
                buf[n++] = *c;
            }
        }
        buf[n++] = '\'';
        buf[n] = 0;
    }
    if (*len + n < size) {
        memcpy(out + *len, buf, n + 1);
        *len += n;
    }
}

static void append_option(char *out, size_t size, size_t *len, const char *option,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void append_option(char *out, size_t size, size_t *len, const char *option,
                          const char *fmt, ...)
{
    append_word(out, size, len, option);
    if (!fmt)
        return;
    char value[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    append_word(out, size, len, value);
}

/* The explicit command line that trains the same run as a planned one, step
 * for step: every option the plan chose or was given, and the planned step
 * count in place of --time. */
static void equivalent_command(const train_options *o, const crnn_trainer_status *st,
                               const crnn_run_settings *rs, int bf16, const char *output,
                               char *out, size_t size)
{
    const crnn_train_config *c = &st->config;
    crnn_train_config d;
    crnn_train_config_default(&d);
    size_t len = 0;
    out[0] = 0;
    append_word(out, size, &len, "charrnn");
    append_word(out, size, &len, "train");
    for (int i = 0; i < o->ncorpora; i++)
        append_word(out, size, &len, o->corpora[i]);
    append_option(out, size, &len, "-o", "%s", output);
    if (o->init_from)
        append_option(out, size, &len, "--init-from", "%s", o->init_from);
    char cell[40];
    snprintf(cell, sizeof cell, "%s", crnn_cell_name(c->cell));
    char *dash = strchr(cell, '-');
    if (dash)
        *dash = 0;
    if (c->cell != d.cell)
        append_option(out, size, &len, "--cell", "%s", cell);
    if (c->cell == CRNN_CELL_RNN_RELU)
        append_option(out, size, &len, "--activation", "relu");
    append_option(out, size, &len, "--layers", "%d", c->layers);
    append_option(out, size, &len, "--hidden", "%d", c->hidden);
    append_option(out, size, &len, "--embed", "%d", c->embed);
    append_option(out, size, &len, "--batch", "%d", c->batch);
    append_option(out, size, &len, "--seq", "%d", c->seq);
    append_option(out, size, &len, "--lr", "%g", (double)c->learning_rate);
    static const char *const optimizers[] = {"adam", "rmsprop", "sgd"};
    static const char *const schedules[] = {"constant", "step", "cosine"};
    if (c->optimizer != d.optimizer)
        append_option(out, size, &len, "--optimizer", "%s", optimizers[c->optimizer % 3]);
    append_option(out, size, &len, "--schedule", "%s", schedules[c->schedule % 3]);
    if (c->schedule == CRNN_SCHEDULE_STEP && c->lr_decay != d.lr_decay)
        append_option(out, size, &len, "--lr-decay", "%g", (double)c->lr_decay);
    if (c->schedule == CRNN_SCHEDULE_STEP && c->decay_every != d.decay_every)
        append_option(out, size, &len, "--decay-every", "%g", (double)c->decay_every);
    if (c->warmup_steps)
        append_option(out, size, &len, "--warmup", "%llu", (unsigned long long)c->warmup_steps);
    if (c->schedule == CRNN_SCHEDULE_COSINE && c->cooldown_steps)
        append_option(out, size, &len, "--cooldown", "%llu", (unsigned long long)c->cooldown_steps);
    if (c->weight_decay != d.weight_decay)
        append_option(out, size, &len, "--weight-decay", "%g", (double)c->weight_decay);
    append_option(out, size, &len, "--dropout", "%g", (double)c->dropout);
    if (c->reset_state)
        append_option(out, size, &len, "--reset-state", NULL);
    if (c->cell == CRNN_CELL_LSTM)
        append_option(out, size, &len, "--forget-bias", "%g", (double)c->forget_bias);
    if (c->clip != d.clip)
        append_option(out, size, &len, "--clip", "%g", (double)c->clip);
    if (c->seed != d.seed)
        append_option(out, size, &len, "--seed", "%llu", (unsigned long long)c->seed);
    if (c->val_fraction != d.val_fraction)
        append_option(out, size, &len, "--val-fraction", "%g", (double)c->val_fraction);
    if (c->test_fraction != d.test_fraction)
        append_option(out, size, &len, "--test-fraction", "%g", (double)c->test_fraction);
    if (c->lossy)
        append_option(out, size, &len, "--lossy", NULL);
    if (c->normalize)
        append_option(out, size, &len, "--normalize", "%s",
                      c->normalize == CRNN_NORMALIZE_NFC ? "nfc" : "nfkc");
    if (c->max_vocab)
        append_option(out, size, &len, "--max-vocab", "%d", c->max_vocab);
    append_option(out, size, &len, "--max-iters", "%llu", (unsigned long long)rs->max_iters);
    append_option(out, size, &len, "--eval-every", "%llu", (unsigned long long)rs->eval_every);
    if (rs->eval_chars && rs->eval_chars != UINT64_MAX && rs->eval_chars < st->val_chars)
        append_option(out, size, &len, "--eval-chars", "%llu", (unsigned long long)rs->eval_chars);
    else if (rs->eval_chars == UINT64_MAX)
        append_option(out, size, &len, "--eval-chars", "0");
    if (rs->save_every)
        append_option(out, size, &len, "--save-every", "%llu", (unsigned long long)rs->save_every);
    if (rs->patience)
        append_option(out, size, &len, "--patience", "%llu", (unsigned long long)rs->patience);
    static const char *const engines[] = {"auto", "own", "onednn", "onednn-bf16"};
    if (o->engine)
        append_option(out, size, &len, "--engine", "%s", engines[o->engine % 4]);
    else if (bf16)
        append_option(out, size, &len, "--bf16", NULL);
    if (o->device)
        append_option(out, size, &len, "--device", "%s", o->device);
    if (o->threads)
        append_option(out, size, &len, "--threads", "%d", o->threads);
    if (o->cache_dir)
        append_option(out, size, &len, o->cache_dir[0] ? "--cache-dir" : "--no-cache",
                      o->cache_dir[0] ? "%s" : NULL, o->cache_dir);
    memmove(out, out + 1, strlen(out)); /* the first word's space */
}

/* A new run planned for --time (crnn_trainer_plan): the options given are
 * kept, the rest chosen after measuring. Returns 0, or the exit status after
 * saying why. */
static int plan_setup(train_run *r, const train_options *o, const crnn_compute_options *compute)
{
    crnn_run_settings *rs = &r->rs;
    memset(rs, 0, sizeof *rs);
    rs->max_iters = o->max_iters;
    rs->max_epochs = o->max_epochs > 0 ? o->max_epochs : 0;
    rs->eval_every = o->eval_every;
    rs->save_every = o->save_every;
    rs->patience = o->patience;
    rs->eval_chars = o->eval_chars;
    unsigned given = o->given;
    if (o->init_from) /* the shape is the model's */
        given |= CRNN_GIVEN_CELL | CRNN_GIVEN_LAYERS | CRNN_GIVEN_HIDDEN | CRNN_GIVEN_EMBED;
    char dur[32];
    format_duration(o->max_seconds, dur, sizeof dur);
    if (!r->quiet)
        fprintf(stderr, "charrnn: planning a run of %s: measuring this machine on the candidate "
                        "models' first steps (--no-plan: none)\n",
                dur);
    size_t n = strlen(r->output);
    char *scratch = malloc(n + 16);
    if (!scratch) {
        fprintf(stderr, "charrnn: error: out of memory\n");
        return 1;
    }
    snprintf(scratch, n + 16, "%s.plan-probe", r->output);
    crnn_error err = {0};
    r->t = crnn_trainer_plan(o->corpora, (size_t)o->ncorpora, o->init_from, &o->config, given, rs,
                             compute, o->max_seconds, now_seconds() - r->command_start, scratch,
                             &r->plan, &err);
    free(scratch);
    if (!r->t)
        return cli_report(&err);
    crnn_trainer_status st;
    crnn_trainer_get_status(r->t, &st);
    equivalent_command(o, &st, rs, r->plan.bf16, r->output, r->plan.command,
                       sizeof r->plan.command);
    crnn_trainer_set_plan(r->t, &r->plan);
    r->plan_open = st.plan_open;
    return 0;
}

/* Creates or resumes the trainer, names the files the run writes and settles
 * its stopping rule: settings given now win, otherwise a resumed run keeps its
 * own. A new run with --time is planned (plan_setup). Returns 0, or the exit
 * status after saying why. */
static int train_setup(train_run *r, const train_options *o,
                       const crnn_compute_options *compute)
{
    r->output = o->output ? o->output : o->resume ? o->resume : "model.crnn";
    r->best_path = best_path_for(r->output);
    r->log_path = replace_extension(r->output, ".crnn", ".csv");
    r->svg_path = replace_extension(r->output, ".crnn", ".svg");
    if (!r->best_path || !r->log_path || !r->svg_path) {
        fprintf(stderr, "charrnn: error: out of memory\n");
        return 1;
    }
    crnn_run_settings *rs = &r->rs;
    if (!o->resume && o->max_seconds > 0 && !o->no_plan) {
        int rc = plan_setup(r, o, compute);
        if (rc != 0)
            return rc;
        r->lim = (run_limits){rs->max_iters, rs->max_epochs, o->max_seconds};
        r->check_every = o->check_every;
        return 0;
    }
    crnn_train_config cfg = o->config;
    if (!o->resume && !o->size_option_given)
        pick_sizes(o, &cfg, r->quiet);
    crnn_error err = {0};
    r->t = o->resume ? crnn_trainer_resume(o->resume, o->corpus, compute, &err)
                     : crnn_trainer_create_from(o->corpora, (size_t)o->ncorpora, o->init_from,
                                                &cfg, compute, &err);
    if (!r->t)
        return cli_report(&err);
    crnn_trainer_get_plan(r->t, &r->plan);
    crnn_trainer_get_run_settings(r->t, rs);
    if (!o->resume) {
        rs->eval_every = 200;
        rs->max_epochs = o->max_iters || o->max_seconds > 0 ? 0 : 10;
    }
    if (o->max_iters)
        rs->max_iters = o->max_iters;
    if (o->max_epochs >= 0)
        rs->max_epochs = o->max_epochs;
    if (o->eval_every)
        rs->eval_every = o->eval_every;
    if (o->save_every)
        rs->save_every = o->save_every;
    if (o->patience)
        rs->patience = o->patience;
    if (o->eval_chars)
        rs->eval_chars = o->eval_chars;
    crnn_trainer_set_run_settings(r->t, rs);
    crnn_trainer_get_run_settings(r->t, rs); /* with the part validation reads chosen */
    r->lim = (run_limits){rs->max_iters, rs->max_epochs, o->max_seconds};
    r->check_every = o->check_every;
    return 0;
}

/* Fine-tuning: the model started from and the characters its vocabulary
 * gained (the first few named). */
static void print_origin(const crnn_trainer_status *st)
{
    int added = st->vocab_size - st->origin_vocab_size;
    fprintf(stderr, "charrnn: fine-tuning %s: its vocabulary of %d characters", st->origin_path,
            st->origin_vocab_size);
    if (added == 0) {
        fprintf(stderr, " covers the corpus\n");
        return;
    }
    fprintf(stderr, ", %d added:", added);
    for (int i = 0; i < added && i < 8; i++) {
        char what[32];
        crnn_describe_code_point(st->vocabulary[st->origin_vocab_size + i], what, sizeof what);
        fprintf(stderr, "%s %s", i ? "," : "", what);
    }
    fprintf(stderr, "%s\n", added > 8 ? ", ..." : "");
}

/* What the plan chose and measured, and the command line that trains the
 * same run without planning; on resume, where the plan ends. */
static void print_plan(const train_run *r, const crnn_trainer_status *st, int resumed)
{
    const crnn_plan *p = &r->plan;
    const crnn_train_config *c = &st->config;
    char budget[32], setup[32];
    format_duration(p->seconds, budget, sizeof budget);
    format_duration(p->setup_seconds, setup, sizeof setup);
    if (resumed) {
        fprintf(stderr, "charrnn: a run planned for %s: its schedule ends at step %llu\n", budget,
                (unsigned long long)p->steps);
        return;
    }
    fprintf(stderr,
            "charrnn: plan for %s: %d x %d %s, batch %d x %d, dropout %g, weight decay %g, lr "
            "%g, %s%s over %llu steps (%.1f epochs); measured %.1fk chars/s training, %.1fk "
            "evaluating, %.2f s a snapshot; set up in %s\n",
            budget, c->layers, c->hidden, crnn_cell_title(c->cell), c->batch, c->seq,
            (double)c->dropout, (double)c->weight_decay, (double)c->learning_rate,
            p->bf16 ? "bf16 products (measured faster here; --fp32 keeps fp32), " : "",
            c->schedule == CRNN_SCHEDULE_COSINE ? "cosine" : "the schedule given",
            (unsigned long long)p->steps, p->epochs, p->train_chars_per_second / 1000,
            p->eval_chars_per_second / 1000, p->save_seconds, setup);
    if (r->plan_open && c->cooldown_steps)
        fprintf(stderr, "charrnn: the rate holds after the %llu warm-up steps until the last "
                        "%.0f%% decay; the length is fixed where they start, from the steps' own "
                        "speed\n",
                (unsigned long long)c->warmup_steps,
                100.0 * (double)c->cooldown_steps / (double)c->schedule_steps);
    else if (r->plan_open)
        fprintf(stderr, "charrnn: the length is fixed again after the %llu warm-up steps, from "
                        "their speed\n",
                (unsigned long long)c->warmup_steps);
    else
        fprintf(stderr, "charrnn: the same run without planning: %s\n", p->command);
}

/* A new planned run's length changed (after the warm-up, and where its
 * cooldown starts): the run's limit, the equivalent command line once the
 * length is fixed, and (unless quiet) what changed. */
static void plan_moved(train_run *r, const crnn_trainer_status *st)
{
    int was = r->plan_open;
    r->plan_open = st->plan_open;
    crnn_trainer_get_plan(r->t, &r->plan);
    crnn_trainer_get_run_settings(r->t, &r->rs);
    r->lim.max_iters = r->rs.max_iters;
    equivalent_command(r->opts, st, &r->rs, r->plan.bf16, r->output, r->plan.command,
                       sizeof r->plan.command);
    crnn_trainer_set_plan(r->t, &r->plan);
    if (r->quiet)
        return;
    const crnn_train_config *c = &st->config;
    const char *schedule = c->schedule == CRNN_SCHEDULE_COSINE ? "cosine" : "the schedule given";
    if (st->plan_open)
        fprintf(stderr, "%scharrnn: after the warm-up at %.1fk chars/s: %s over %llu steps (%.1f "
                        "epochs) so far; the rate holds until step %llu, where the length is "
                        "fixed\n",
                r->tty ? "\r\033[K" : "", r->plan.train_chars_per_second / 1000, schedule,
                (unsigned long long)r->plan.steps, r->plan.epochs,
                (unsigned long long)(c->schedule_steps - c->cooldown_steps));
    else if (was == 2)
        fprintf(stderr, "%scharrnn: at step %llu, at %.1fk chars/s since the warm-up: the rate "
                        "decays over %llu steps, to step %llu (%.1f epochs)\n",
                r->tty ? "\r\033[K" : "", (unsigned long long)st->step,
                r->plan.train_chars_per_second / 1000, (unsigned long long)c->cooldown_steps,
                (unsigned long long)r->plan.steps, r->plan.epochs);
    else
        fprintf(stderr, "%scharrnn: after the warm-up at %.1fk chars/s: %s over %llu steps (%.1f "
                        "epochs)\n",
                r->tty ? "\r\033[K" : "", r->plan.train_chars_per_second / 1000, schedule,
                (unsigned long long)r->plan.steps, r->plan.epochs);
    if (!st->plan_open)
        fprintf(stderr, "charrnn: the same run without planning: %s\n", r->plan.command);
}

/* Warnings about the corpus (rank 0), then, unless quiet, what is trained on
 * what: splits, tokenizing, the model, the machine. */
static void print_header(const train_run *r, const train_options *o)
{
    crnn_trainer_status st;
    crnn_trainer_get_status(r->t, &st);
    if (st.token_cache_warning && st.token_cache_warning[0] && r->leader)
        fprintf(stderr, "charrnn: warning: no token cache (%s); the ids are kept in memory\n",
                st.token_cache_warning);
    if (st.unknown_chars > 0 && r->leader)
        fprintf(stderr,
                "charrnn: notice: the corpus has %llu distinct characters; with --max-vocab %d "
                "the rarest are mapped to U+FFFD (%llu characters, %.3f%% of the text)\n",
                (unsigned long long)st.distinct_chars, st.config.max_vocab,
                (unsigned long long)st.unknown_chars,
                100.0 * (double)st.unknown_chars /
                    (double)(st.train_chars + st.val_chars + st.test_chars));
    if (st.empty_files > 0 && r->leader)
        fprintf(stderr, "charrnn: notice: skipped %zu empty file%s (%s%s)\n", st.empty_files,
                st.empty_files > 1 ? "s" : "", st.first_empty_file,
                st.empty_files > 1 ? ", ..." : "");
    if (r->quiet)
        return;
    const crnn_train_config *c = &st.config;
    char files[64] = "";
    if (st.corpus_files > 1 || o->ncorpora > 1)
        snprintf(files, sizeof files, " (%zu files)", st.corpus_files);
    fprintf(stderr, "charrnn: %s %s%s%s: %llu train / %llu val / %llu test characters, "
                    "vocabulary %d\n",
            o->resume ? "resuming" : "training on", o->resume ? o->resume : o->corpus,
            !o->resume && o->ncorpora > 1 ? " and more" : "", files,
            (unsigned long long)st.train_chars, (unsigned long long)st.val_chars,
            (unsigned long long)st.test_chars, st.vocab_size);
    if (st.origin_path)
        print_origin(&st);
    if (r->rs.eval_chars < st.val_chars)
        fprintf(stderr, "charrnn: each validation reads the same part, at most %llu of its %llu "
                        "characters (--eval-chars; 0 reads them all)\n",
                (unsigned long long)r->rs.eval_chars, (unsigned long long)st.val_chars);
    if (getenv("CHARRNN_BLAS_RESTART"))
        fprintf(stderr, "charrnn: notice: %s\n", getenv("CHARRNN_BLAS_RESTART"));
    double mb = (double)st.corpus_bytes / 1e6;
    if (st.token_cache && st.token_cache_reused)
        fprintf(stderr, "charrnn: token ids read from %s in %.2f s\n", st.token_cache,
                st.tokenize_seconds);
    else
        fprintf(stderr, "charrnn: tokenized %.1f MB in %.2f s (%.0f MB/s)%s%s\n", mb,
                st.tokenize_seconds, mb / (st.tokenize_seconds > 0 ? st.tokenize_seconds : 1),
                st.token_cache ? ", ids cached in " : "", st.token_cache ? st.token_cache : "");
    fprintf(stderr,
            "charrnn: %d x %d %s, embedding %d, %zu weights; batch %d x seq %d, lr %g; "
            "%llu steps per epoch; %d threads; %s; layers on %s\n",
            c->layers, c->hidden, crnn_cell_title(c->cell), c->embed, st.parameters, c->batch,
            c->seq, (double)c->learning_rate, (unsigned long long)st.steps_per_epoch,
            crnn_get_threads(), crnn_backend_description(), st.engine);
    if (st.engine_note[0])
        fprintf(stderr, "charrnn: notice: %s\n", st.engine_note);
    if (r->plan.seconds > 0)
        print_plan(r, &st, o->resume != NULL);
    if (crnn_dist_size() > 1)
        fprintf(stderr, "charrnn: %d processes, %d streams each\n", crnn_dist_size(),
                c->batch / crnn_dist_size());
}

/* A long evaluation's progress, on a terminal: after its first second,
 * redrawn in place of the progress line four times a second. */
static void show_eval_progress(void *user, uint64_t done, uint64_t total)
{
    train_run *r = user;
    double now = now_seconds();
    if (r->quiet || !r->tty || total == 0 || now - r->eval_start < 1 || now - r->eval_drawn < 0.25)
        return;
    r->eval_drawn = now;
    char el[32];
    format_duration(now - r->eval_start, el, sizeof el);
    fprintf(stderr, "\r\033[Kevaluating the %s split: %3.0f%%, %s", r->eval_what,
            100.0 * (double)done / (double)total, el);
    fflush(stderr);
}

/* The periodic validation loss (the part --eval-chars reads). */
static int validate(train_run *r, crnn_error *err)
{
    r->eval_what = "validation";
    r->eval_start = now_seconds();
    int rc = crnn_trainer_evaluate(r->t, NULL, err);
    crnn_trainer_status st;
    crnn_trainer_get_status(r->t, &st);
    r->eval_seconds += now_seconds() - r->eval_start;
    r->eval_read += st.last_val_chars;
    return rc;
}

/* A whole held-out split, up to max_chars (0: all of it). */
static int measure(train_run *r, crnn_split_kind split, uint64_t max_chars, double *loss,
                   uint64_t *read, crnn_error *err)
{
    r->eval_what = split == CRNN_SPLIT_TEST ? "test" : "validation";
    r->eval_start = now_seconds();
    return crnn_trainer_measure(r->t, split, max_chars, loss, read, err);
}

static void *watch_signals(void *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (!training) /* still setting up: nothing to save yet */
            _exit(128 + sig);
        interrupted = 1;
    }
    return NULL;
}

/* Ctrl-C and SIGTERM set `interrupted`; the loop saves and stops. They are
 * blocked here, before the run starts its threads (OpenMP's, oneDNN's), which
 * inherit the block, and taken by a thread of their own: a handler run on a
 * compute thread interrupted oneDNN's kernels, and about one interrupted run
 * in four then aborted in free() with a corrupted heap. The handler stays for
 * threads started earlier (Open MPI's). */
static void watch_for_signals(void)
{
    static sigset_t set;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_t watcher;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 &&
        pthread_create(&watcher, NULL, watch_signals, &set) == 0)
        pthread_detach(watcher);
    else /* no watcher: the handler takes them, as before */
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static uint64_t final_eval_chars(const train_run *r, const crnn_trainer_status *st);

/* Seconds the end of the run will take (the final figures, a snapshot), by
 * the speeds this run or its plan measured; 0 before any was. */
static double final_seconds(const train_run *r, const crnn_trainer_status *st)
{
    double cps = r->eval_seconds > 0 && r->eval_read > 0 ? (double)r->eval_read / r->eval_seconds
                                                          : r->plan.eval_chars_per_second;
    if (!(cps > 0))
        return 0;
    uint64_t bound = final_eval_chars(r, st);
    double val = (double)(bound && bound < st->val_chars ? bound : st->val_chars);
    double test = (double)(bound && bound < st->test_chars ? bound : st->test_chars);
    double periodic = 0; /* unless this step evaluated: a validation, the latest and best */
    if (!(r->rs.eval_every && st->step % r->rs.eval_every == 0))
        periodic = (double)(r->rs.eval_chars < st->val_chars ? r->rs.eval_chars : st->val_chars);
    if (r->rs.eval_chars >= st->val_chars) /* the last periodic one read it whole: kept */
        val = 0;
    return (val + test + periodic) / cps + 3 * r->plan.save_seconds;
}

/* 1 if this process would stop now: a step or epoch limit, the time (the
 * whole command's, with what the end will take; after a first step), or
 * early stopping (too many evaluations since the best one), which it
 * announces. */
static int reached_limit(const train_run *r, const crnn_trainer_status *st)
{
    const run_limits *lim = &r->lim;
    double used = now_seconds() - r->command_start;
    int limit = (lim->max_iters && st->step >= lim->max_iters) ||
                (lim->max_epochs > 0 && st->epoch >= lim->max_epochs - 1e-9) ||
                (lim->max_seconds > 0 && st->step > r->start_step &&
                 used + final_seconds(r, st) >= lim->max_seconds);
    const crnn_run_settings *rs = &r->rs;
    if (rs->patience && rs->eval_every && !isnan(st->best_val_loss) &&
        (st->step - st->best_val_step) / rs->eval_every >= rs->patience) {
        if (r->leader && !r->quiet)
            fprintf(stderr, "%scharrnn: no better validation loss for %llu evaluations: "
                            "stopping early (best %.4f at step %llu)\n",
                    r->tty ? "\r\033[K" : "", (unsigned long long)rs->patience,
                    st->best_val_loss, (unsigned long long)st->best_val_step);
        limit = 1;
    }
    return limit;
}

/* A row of the loss log (rank 0 only calls it). */
static void append_log(const train_run *r, const crnn_trainer_status *st)
{
    train_log_row row = {st->step, st->epoch, r->smooth, st->last_val_loss, st->best_val_loss,
                         st->learning_rate, r->rate, now_seconds() - r->start};
    if (train_log_append(r->log_path, &row) != 0)
        fprintf(stderr, "charrnn: warning: could not append to the log %s\n", r->log_path);
}

/* At an evaluation step: the validation loss, a log row, the latest snapshot
 * and the best one if this is it. Returns 1 if the latest snapshot was
 * written, 0 if not, -1 if evaluation failed (said). */
static int evaluate_and_save(train_run *r, crnn_trainer_status *st)
{
    crnn_error err = {0};
    int evaluated = st->val_chars >= 2; /* --val-fraction 0: nothing to evaluate */
    if (evaluated && validate(r, &err) != CRNN_OK) {
        cli_report(&err);
        return -1;
    }
    crnn_trainer_get_status(r->t, st);
    if (r->leader && evaluated)
        append_log(r, st);
    int saved = save_snapshot(r->t, r->output, "latest", 0);
    if (evaluated && st->best_val_step == st->step)
        save_snapshot(r->t, r->best_path, "best", 0);
    return saved;
}

/* Saves on Ctrl-C and says how to continue; the exit status. */
static int stop_interrupted(const train_run *r, uint64_t step)
{
    if (!save_snapshot(r->t, r->output, "interrupted run's", 1))
        return 1;
    if (r->tty && !r->quiet)
        fputc('\n', stderr);
    if (r->leader)
        fprintf(stderr,
                "charrnn: interrupted at step %llu; snapshot saved to %s; continue with: "
                "charrnn train --resume %s\n",
                (unsigned long long)step, r->output, r->output);
    return EXIT_INTERRUPTED;
}

/* Steps until a limit, early stopping or a signal; evaluates, logs, saves and
 * shows progress on the way. Every process must stop at the same step: the
 * clocks and signals of one rank decide for all. Returns -1 when a limit ends
 * the run (train_finish follows), else the exit status. */
static int train_loop(train_run *r)
{
    crnn_trainer_status st;
    crnn_trainer_get_status(r->t, &st);
    crnn_error err = {0};
    r->start_step = st.step;
    r->start = now_seconds();
    r->rate = 0;
    r->smooth = NAN;
    double last_draw = 0, loss = NAN;
    double chars_per_step = (double)st.config.batch * st.config.seq;
    for (;;) {
        crnn_trainer_get_status(r->t, &st);
        if (crnn_dist_any(reached_limit(r, &st)))
            return -1;
        if (crnn_dist_any(interrupted))
            return stop_interrupted(r, st.step);
        if (crnn_trainer_step(r->t, &loss, &err) != CRNN_OK) {
            if (r->tty && !r->quiet)
                fputc('\n', stderr);
            if (r->leader) {
                fprintf(stderr, "charrnn: error: %s\n", err.message);
                fprintf(stderr, "charrnn: the last good snapshot is %s (if one was written)\n",
                        r->output);
            }
            return 1;
        }
        r->smooth = isnan(r->smooth) ? loss : 0.95 * r->smooth + 0.05 * loss;
        crnn_trainer_get_status(r->t, &st);
        if (r->plan_open && st.plan_open != r->plan_open)
            plan_moved(r, &st);
        double elapsed = now_seconds() - r->start, used = now_seconds() - r->command_start;
        r->rate = elapsed > 0 ? (double)(st.step - r->start_step) * chars_per_step / elapsed : 0;
        if (r->check_every && st.step % r->check_every == 0 &&
            crnn_trainer_check_replicas(r->t, &err) != CRNN_OK) {
            fprintf(stderr, "charrnn: error: %s\n", err.message);
            crnn_dist_abort(1);
            return 1;
        }
        int eval_now = r->rs.eval_every && st.step % r->rs.eval_every == 0;
        if (eval_now) {
            if ((r->saved_at_step = evaluate_and_save(r, &st)) < 0)
                return 1;
        } else if (r->rs.save_every && st.step % r->rs.save_every == 0) {
            r->saved_at_step = save_snapshot(r->t, r->output, "latest", 0);
        } else {
            r->saved_at_step = 0;
        }
        double f = progress_fraction(&st, &r->lim, r->start_step, used);
        double left = f > 0 ? used * (1 - f) / f : NAN;
        if (!r->quiet && (eval_now || (r->tty && now_seconds() - last_draw > 0.25))) {
            print_progress(&st, r->smooth, r->rate, elapsed, left, f, eval_now, r->tty);
            last_draw = now_seconds();
        }
    }
}

/* The final figures: the held-out splits read whole, up to a bound. */
typedef struct final_figures {
    double val, test;             /* nats per character; NAN: no such split */
    uint64_t val_read, test_read; /* characters predicted */
    uint64_t bound;               /* the most either may read; 0: no bound */
} final_figures;

/* The bound of the final figures: twice what periodic validation reads, or a
 * tenth of the characters trained, whichever is more (so they stay a small
 * share of the run: forward only and wide, evaluating a character costs a
 * fraction of training on it); 0 (whole splits) with --eval-chars 0. */
static uint64_t final_eval_chars(const train_run *r, const crnn_trainer_status *st)
{
    if (r->plan.seconds > 0 && r->plan.final_chars) /* the plan's, within its time */
        return r->plan.final_chars;
    uint64_t periodic = r->rs.eval_chars;
    if (periodic == UINT64_MAX)
        return 0;
    uint64_t trained = st->step * (uint64_t)st->config.batch * (uint64_t)st->config.seq / 10;
    uint64_t twice = periodic > UINT64_MAX / 2 ? UINT64_MAX : 2 * periodic;
    return trained > twice ? trained : twice;
}

/* "125000 of 2500000 characters" or "all 52000 characters". */
static void format_read(char *out, size_t size, uint64_t read, uint64_t split, int whole)
{
    if (whole)
        snprintf(out, size, "all %llu characters", (unsigned long long)split);
    else
        snprintf(out, size, "%llu of %llu characters", (unsigned long long)read,
                 (unsigned long long)split);
}

/* The closing lines (rank 0): curves drawn from the log, losses, files. */
static void print_summary(const train_run *r, const crnn_trainer_status *st,
                          const final_figures *f)
{
    char el[32];
    format_duration(now_seconds() - r->start, el, sizeof el);
    char val[700] = "no validation split", tst[160] = "", part[80] = "", read[80];
    int whole_val = r->rs.eval_chars >= st->val_chars;
    if (!whole_val)
        snprintf(part, sizeof part, " on its part of %llu characters",
                 (unsigned long long)st->last_val_chars);
    if (!isnan(st->last_val_loss))
        snprintf(val, sizeof val,
                 "validation %.4f nats/char (%.4f bits)%s, best %.4f at step %llu (%s)",
                 st->last_val_loss, st->last_val_loss / log(2.0), part, st->best_val_loss,
                 (unsigned long long)st->best_val_step, r->best_path);
    if (!isnan(f->val) && !whole_val) {
        size_t n = strlen(val);
        format_read(read, sizeof read, f->val_read, st->val_chars,
                    f->bound == 0 || f->bound >= st->val_chars);
        snprintf(val + n, sizeof val - n, "; whole split %.4f over %s", f->val, read);
    }
    if (!isnan(f->test)) {
        format_read(read, sizeof read, f->test_read, st->test_chars,
                    f->bound == 0 || f->bound >= st->test_chars);
        snprintf(tst, sizeof tst, "; test %.4f nats/char over %s", f->test, read);
    }
    char why[600];
    int plotted = plot_svg(r->log_path, r->svg_path, why, sizeof why) == 0;
    if (!plotted)
        fprintf(stderr, "charrnn: no loss curves: %s\n", why);
    fprintf(stderr, "charrnn: done at step %llu (epoch %.2f) in %s, %.1fk chars/s; %s%s\n",
            (unsigned long long)st->step, st->epoch, el, r->rate / 1000.0, val, tst);
    if (plotted)
        fprintf(stderr, "charrnn: snapshot %s; loss log %s, curves %s\n", r->output,
                r->log_path, r->svg_path);
    else /* no validation split, so no log either */
        fprintf(stderr, "charrnn: snapshot %s\n", r->output);
}

/* The end of a run that reached its limit: a final evaluation and snapshot
 * unless the last step had them, the test loss and the summary. Returns the
 * exit status. */
static int train_finish(train_run *r)
{
    crnn_trainer_status st;
    crnn_error err = {0};
    crnn_trainer_get_status(r->t, &st);
    if (!r->saved_at_step || (isnan(st.last_val_loss) && st.val_chars >= 2)) {
        if (st.val_chars >= 2) {
            if (validate(r, &err) != CRNN_OK)
                return cli_report(&err);
            crnn_trainer_get_status(r->t, &st);
            if (r->leader)
                append_log(r, &st);
            if (st.best_val_step == st.step)
                save_snapshot(r->t, r->best_path, "best", 0);
        }
        if (!save_snapshot(r->t, r->output, "final", 1))
            return 1;
    }
    if (getenv("CHARRNN_PLAN_DEBUG"))
        fprintf(stderr, "plan: loop ended at %.2f s, final estimate %.2f s, eval %.0f c/s\n",
                now_seconds() - r->command_start, final_seconds(r, &st),
                r->eval_seconds > 0 ? r->eval_read / r->eval_seconds : 0);
    final_figures f = {NAN, NAN, 0, 0, final_eval_chars(r, &st)};
    if (st.val_chars >= 2 && r->rs.eval_chars >= st.val_chars) { /* read whole just now */
        f.val = st.last_val_loss;
        f.val_read = st.last_val_chars;
    } else if (st.val_chars >= 2 &&
               measure(r, CRNN_SPLIT_VALIDATION, f.bound, &f.val, &f.val_read, &err) != CRNN_OK) {
        return cli_report(&err);
    }
    if (st.test_chars >= 2 &&
        measure(r, CRNN_SPLIT_TEST, f.bound, &f.test, &f.test_read, &err) != CRNN_OK)
        return cli_report(&err);
    if (r->tty && !r->quiet)
        fputs("\r\033[K", stderr);
    if (getenv("CHARRNN_PLAN_DEBUG"))
        fprintf(stderr, "plan: final figures done at %.2f s\n", now_seconds() - r->command_start);
    if (r->leader)
        print_summary(r, &st, &f);
    return 0;
}

int cmd_train(int argc, char **argv)
{
    double command_start = now_seconds();
    cli_args a;
    cli_args_init(&a, argc, argv, "train");
    train_options o;
    train_parse(&a, &o);
    int rc = cli_parsed(&a, o.help, TRAIN_HELP);
    if (rc >= 0)
        return rc;
    if (o.init_from && (rc = finetune_options(argc, argv, &o)) != 0)
        return rc;
    watch_for_signals(); /* before any thread starts */
    crnn_compute_options compute;
    if ((rc = compute_settings(&o, &compute)) != 0)
        return rc;
    train_run r = {0};
    r.command_start = command_start;
    r.opts = &o;
    r.leader = crnn_dist_rank() == 0;
    r.quiet = o.quiet || !r.leader;
    r.tty = isatty(STDERR_FILENO);
    if ((rc = train_setup(&r, &o, &compute)) == 0) {
        print_header(&r, &o);
        crnn_trainer_set_progress(r.t, show_eval_progress, &r);
        training = 1;
        rc = train_loop(&r);
        if (rc < 0)
            rc = train_finish(&r);
    }
    train_run_free(&r);
    return rc;
}
