/*
 * util.c: argument parsing and error reporting for the subcommands.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_next(cli_args *a, const char **arg)
{
    a->inline_value = NULL;
    if (++a->i >= a->argc)
        return 0;
    *arg = a->argv[a->i];
    return 1;
}

int cli_is(cli_args *a, const char *arg, const char *name)
{
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == 0)
        return 1;
    if (arg[n] == '=' && name[1] == '-') {
        a->inline_value = arg + n + 1;
        return 1;
    }
    return 0;
}

const char *cli_value(cli_args *a, const char *name)
{
    if (a->inline_value)
        return a->inline_value;
    if (a->i + 1 >= a->argc)
        cli_usage_error(a->command, "%s needs a value", name);
    return a->argv[++a->i];
}

long long cli_int(const char *text, const char *name, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end)
        cli_usage_error(NULL, "%s expects a whole number, not '%s'", name, text);
    if (v < min || v > max)
        cli_usage_error(NULL, "%s must be between %lld and %lld (got %lld)", name, min, max, v);
    return v;
}

uint64_t cli_u64(const char *text, const char *name)
{
    char *end;
    errno = 0;
    if (text[0] == '-')
        cli_usage_error(NULL, "%s must not be negative (got %s)", name, text);
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end)
        cli_usage_error(NULL, "%s expects a whole number, not '%s'", name, text);
    return v;
}

double cli_double(const char *text, const char *name, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v))
        cli_usage_error(NULL, "%s expects a number, not '%s'", name, text);
    if (v < min || v > max)
        cli_usage_error(NULL, "%s must be between %g and %g (got %g)", name, min, max, v);
    return v;
}

const char *cli_command_name;

void cli_usage_error(const char *command, const char *fmt, ...)
{
    if (!command)
        command = cli_command_name;
    va_list ap;
    fprintf(stderr, "charrnn%s%s: ", command ? " " : "", command ? command : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see: charrnn %s%s--help)\n", command ? command : "", command ? " " : "");
    exit(EXIT_USAGE);
}

void cli_fail(const crnn_error *err)
{
    fprintf(stderr, "charrnn: error: %s\n", err->message);
    exit(1);
}
