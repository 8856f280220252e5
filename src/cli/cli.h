/*
 * cli.h: shared pieces of the charrnn command line program, a client of the
 * public header only. Exit status: 0 success, 1 error, 2 usage error,
 * 130 interrupted (snapshot saved).
 */
#ifndef CRNN_CLI_H
#define CRNN_CLI_H

#include <stdint.h>

#include "charrnn.h"

enum { EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* Walks argv: positional arguments and --name VALUE / --name=VALUE options. */
typedef struct cli_args {
    int argc;
    char **argv;
    int i;
    const char *command;
    const char *inline_value; /* the part after '=' of the current option */
} cli_args;

/* Advances to the next argument; returns 0 at the end. */
int cli_next(cli_args *a, const char **arg);
/* True if arg names this option (exactly, or before an '='). */
int cli_is(cli_args *a, const char *arg, const char *name);
/* The value of the current option (usage error if missing). */
const char *cli_value(cli_args *a, const char *name);

long long cli_int(const char *text, const char *name, long long min, long long max);
uint64_t cli_u64(const char *text, const char *name);
double cli_double(const char *text, const char *name, double min, double max);

/* The subcommand being run, for messages. */
extern const char *cli_command_name;

/* Prints "charrnn CMD: message" plus a pointer to --help and exits with 2. */
_Noreturn void cli_usage_error(const char *command, const char *fmt, ...);
/* Prints the library error with a hint and exits with 1. */
_Noreturn void cli_fail(const crnn_error *err);

int cmd_train(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
