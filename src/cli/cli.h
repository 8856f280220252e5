/*
 * cli.h: shared pieces of the charrnn command line program, a client of the
 * public header only. Each subcommand parses its arguments into an options
 * struct without side effects (so the parsers can be fuzzed), then runs.
 * Exit status: 0 success, 1 error, 2 usage error, 130 interrupted.
 */
#ifndef CRNN_CLI_H
#define CRNN_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "charrnn.h"

#ifdef CRNN_HAVE_JANSSON
#include <jansson.h>
#endif

enum { EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* Walks argv[1..]: positional arguments and --name VALUE / --name=VALUE options.
 * The first error is kept in message and stops the walk. */
typedef struct cli_args {
    int argc;
    char **argv;
    int i;
    const char *command;
    const char *inline_value; /* the part after '=' of the current option */
    int failed;
    char message[320];
} cli_args;

void cli_args_init(cli_args *a, int argc, char **argv, const char *command);
/* Advances to the next argument; returns 0 at the end or after an error. */
int cli_next(cli_args *a, const char **arg);
/* True if arg names this option (exactly, or before an '='). */
int cli_is(cli_args *a, const char *arg, const char *name);
/* The value of the current option ("" and an error if missing). */
const char *cli_value(cli_args *a, const char *name);
/* Records a usage error (the first one wins). */
void cli_error(cli_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Rejects options we do not know and extra positional arguments. */
void cli_unexpected(cli_args *a, const char *arg);

/* One of a fixed set of words for an option, and what it stands for. */
typedef struct cli_choice {
    const char *word;
    int value;
} cli_choice;

/* The value of the choice whose word is text; otherwise records the error
 * "NAME takes a, b or c, not 'TEXT'" and returns keep. choices ends with
 * {NULL, 0}. */
int cli_pick(cli_args *a, const char *name, const char *text, const cli_choice *choices, int keep);

long long cli_int(cli_args *a, const char *text, const char *name, long long min, long long max);
uint64_t cli_u64(cli_args *a, const char *text, const char *name);
double cli_double(cli_args *a, const char *text, const char *name, double min, double max);
/* A duration in seconds: a bare number is seconds; 90s, 30m, 2h and 1d carry
 * their unit. At most max seconds. */
double cli_duration(cli_args *a, const char *text, const char *name, double max);

/* After parsing: prints the help text (returns 0) or the usage error (returns
 * EXIT_USAGE) if there is one, else returns -1: go on. */
int cli_parsed(const cli_args *a, int help, const char *help_text);
/* Prints a's usage error ("charrnn CMD: message (see: charrnn CMD --help)")
 * and returns EXIT_USAGE. */
int cli_usage_exit(const cli_args *a);
/* Prints the library error ("charrnn: error: ...") and returns 1, the exit
 * status for it. */
int cli_report(const crnn_error *err);
/* The same, then exits with 1. */
_Noreturn void cli_fail(const crnn_error *err);

enum { CLI_MAX_CORPORA = 256 }; /* more: give a directory */

typedef struct train_options {
    crnn_train_config config;
    const char *corpus, *resume, *output;
    const char *init_from; /* --init-from: fine-tune from this snapshot */
    const char *corpora[CLI_MAX_CORPORA]; /* the files and directories to train on */
    int ncorpora;
    uint64_t max_iters, eval_every, save_every, check_every, patience;
    uint64_t eval_chars; /* --eval-chars (0 given: UINT64_MAX, whole splits); 0: not given */
    double max_epochs; /* < 0: not given */
    double max_seconds;
    int threads, quiet, model_option_given, size_option_given, help;
    unsigned given;        /* CRNN_GIVEN_* bits of the options given (a plan keeps them) */
    int no_plan;           /* --no-plan: --time only stops the run */
    const char *cache_dir; /* --cache-dir, or "" for --no-cache; NULL: default */
    int engine;            /* --engine: crnn_engine */
    const char *device;    /* --device as given, or NULL (auto) */
} train_options;

typedef struct sample_options {
    const char *path, *prime, *stop;
    long long length, count;
    crnn_sample_options sampling;
    uint64_t seed;
    int have_seed, threads, help;
    int device; /* --device: CRNN_DEVICE_AUTO unless given */
} sample_options;

typedef struct file_options { /* info and export */
    const char *path, *output;
    crnn_weights_dtype dtype;
    int json; /* info --json */
    int help;
} file_options;

typedef struct eval_options {
    const char *snapshot;
    const char **paths; /* (count) files and directories, pointers into argv; the array is
                           malloc'ed: eval_options_free */
    size_t count;
    int strict, json, help;
    const char *device; /* --device, or NULL: auto */
    int device_index;   /* parsed: CRNN_DEVICE_AUTO, CRNN_DEVICE_CPU or N */
} eval_options;

typedef struct serve_options {
    const char **paths; /* (count) model files, pointers into argv; malloc'ed with names */
    char **names;       /* (count) their API names: file names without the extension */
    int count;
    const char *host, *api_key_file;
    long long port, threads, max_length, max_clients, max_queue, idle_timeout;
    int help;
} serve_options;

/* One line of the training log. */
typedef struct train_log_row {
    uint64_t step;
    double epoch, train_loss, val_loss, best_val_loss, learning_rate, chars_per_second, elapsed;
} train_log_row;

/* Appends a row to the CSV log at path (writing the header first if new). */
int train_log_append(const char *path, const train_log_row *row);
/* Draws the log's curves into an SVG file; why explains a failure. */
int plot_svg(const char *log_path, const char *svg_path, char *why, size_t whylen);
/* path with its ending `from` replaced by `to` (or `to` appended); caller frees. */
char *replace_extension(const char *path, const char *from, const char *to);

void train_parse(cli_args *a, train_options *o);
/* The same, with the options given applied over start instead of the defaults
 * (fine-tuning: over the configuration of the model started from). */
void train_parse_over(cli_args *a, train_options *o, const crnn_train_config *start);
void plot_parse(cli_args *a, file_options *o);
void sample_parse(cli_args *a, sample_options *o);
void info_parse(cli_args *a, file_options *o);
void export_parse(cli_args *a, file_options *o);
void eval_parse(cli_args *a, eval_options *o);
void eval_options_free(eval_options *o);
void serve_parse(cli_args *a, serve_options *o);

typedef struct inspect_options {
    const char *model, *text, *output;
    size_t chars;
    int threads, help;
} inspect_options;
void inspect_parse(cli_args *a, inspect_options *o);
void serve_options_free(serve_options *o);

/* For --json: records a usage error if this build has no JSON library. */
void cli_json_check(cli_args *a, const char *option);

#ifdef CRNN_HAVE_JANSSON
/* Values for JSON output: text that need not be valid UTF-8 (paths; an
 * invalid byte becomes U+FFFD), a number that may be NaN or infinite (null).
 * NULL only when out of memory. */
json_t *cli_json_text(const char *text);
json_t *cli_json_number(double value);
/* Sets a member (value may be NULL: out of memory, remembered for
 * cli_json_print). */
void cli_json_set(json_t *object, const char *key, json_t *value);
/* The same for appending to an array (array may be NULL as well). */
void cli_json_append(json_t *array, json_t *value);
/* 1 if a value could not be made since the start (out of memory). */
int cli_json_failed(void);
/* Writes root as one JSON object and a newline on stdout, then releases it.
 * Returns 0, or 1 after saying why on stderr. */
int cli_json_print(json_t *root);
#endif

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

#endif
