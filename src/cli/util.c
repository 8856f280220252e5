/*
 * util.c: argument walking, number parsing and error reporting for the
 * subcommands. Parsing records errors in cli_args; it never prints or exits.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_args_init(cli_args *a, int argc, char **argv, const char *command)
{
    memset(a, 0, sizeof *a);
    a->argc = argc;
    a->argv = argv;
    a->command = command;
}

int cli_next(cli_args *a, const char **arg)
{
    a->inline_value = NULL;
    if (a->failed || ++a->i >= a->argc)
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

void cli_error(cli_args *a, const char *fmt, ...)
{
    if (a->failed)
        return;
    a->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
}

const char *cli_value(cli_args *a, const char *name)
{
    if (a->inline_value)
        return a->inline_value;
    if (a->i + 1 >= a->argc) {
        cli_error(a, "%s needs a value", name);
        return "";
    }
    return a->argv[++a->i];
}

int cli_pick(cli_args *a, const char *name, const char *text, const cli_choice *choices, int keep)
{
    char list[200] = "";
    size_t used = 0;
    for (int i = 0; choices[i].word; i++) {
        if (!strcmp(text, choices[i].word))
            return choices[i].value;
        const char *sep = i == 0 ? "" : choices[i + 1].word ? ", " : " or ";
        int n = snprintf(list + used, sizeof list - used, "%s%s", sep, choices[i].word);
        if (n > 0 && (size_t)n < sizeof list - used)
            used += (size_t)n;
    }
    cli_error(a, "%s takes %s, not '%.100s'", name, list, text);
    return keep;
}

void cli_unexpected(cli_args *a, const char *arg)
{
    if (arg[0] == '-' && arg[1])
        cli_error(a, "unknown option '%.200s'", arg);
    else
        cli_error(a, "unexpected argument '%.200s'", arg);
}

long long cli_int(cli_args *a, const char *text, const char *name, long long min, long long max)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end) {
        cli_error(a, "%s expects a whole number, not '%.100s'", name, text);
        return min;
    }
    if (v < min || v > max) {
        cli_error(a, "%s must be between %lld and %lld (got %lld)", name, min, max, v);
        return min;
    }
    return v;
}

uint64_t cli_u64(cli_args *a, const char *text, const char *name)
{
    char *end;
    errno = 0;
    if (text[0] == '-') {
        cli_error(a, "%s must not be negative (got %.100s)", name, text);
        return 0;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end) {
        cli_error(a, "%s expects a whole number, not '%.100s'", name, text);
        return 0;
    }
    return v;
}

double cli_double(cli_args *a, const char *text, const char *name, double min, double max)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v)) {
        cli_error(a, "%s expects a number, not '%.100s'", name, text);
        return min;
    }
    if (v < min || v > max) {
        cli_error(a, "%s must be between %g and %g (got %g)", name, min, max, v);
        return min;
    }
    return v;
}

double cli_duration(cli_args *a, const char *text, const char *name, double max)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double unit = !strcmp(end, "") || !strcmp(end, "s") ? 1
                  : !strcmp(end, "m")                   ? 60
                  : !strcmp(end, "h")                   ? 3600
                  : !strcmp(end, "d")                   ? 86400
                                                        : 0;
    if (errno || end == text || !unit || !isfinite(v) || v < 0) {
        cli_error(a, "%s takes a duration: seconds, or a number with s, m, h or d "
                     "(90, 90s, 30m, 1.5h), not '%.100s'", name, text);
        return 0;
    }
    if (v * unit > max) {
        cli_error(a, "%s must be at most %g seconds (got %.100s)", name, max, text);
        return 0;
    }
    return v * unit;
}

int cli_parsed(const cli_args *a, int help, const char *help_text)
{
    if (help) {
        fputs(help_text, stdout);
        return 0;
    }
    return a->failed ? cli_usage_exit(a) : -1;
}

int cli_usage_exit(const cli_args *a)
{
    fprintf(stderr, "charrnn %s: %s (see: charrnn %s --help)\n", a->command, a->message,
            a->command);
    return EXIT_USAGE;
}

int cli_report(const crnn_error *err)
{
    fprintf(stderr, "charrnn: error: %s\n", err->message);
    return 1;
}

void cli_fail(const crnn_error *err)
{
    exit(cli_report(err));
}

void cli_json_check(cli_args *a, const char *option)
{
#ifdef CRNN_HAVE_JANSSON
    (void)a, (void)option;
#else
    cli_error(a, "%s needs JSON support, which this charrnn was built without (install "
              "libjansson-dev and build again)", option);
#endif
}

#ifdef CRNN_HAVE_JANSSON
static int json_failed; /* a value could not be made or set: out of memory */

json_t *cli_json_text(const char *text)
{
    json_t *j = json_string(text);
    if (j)
        return j;
    /* Not valid UTF-8: keep the valid sequences (jansson judges each one),
     * write U+FFFD for each other byte. */
    size_t n = strlen(text), k = 0;
    char *clean = malloc(3 * n + 1);
    if (!clean)
        return NULL;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)text[i];
        size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        json_t *piece = len && i + len <= n ? json_stringn(text + i, len) : NULL;
        if (piece) {
            json_decref(piece);
            memcpy(clean + k, text + i, len);
            k += len;
            i += len;
        } else {
            memcpy(clean + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    j = json_stringn(clean, k);
    free(clean);
    return j;
}

json_t *cli_json_number(double value)
{
    return isfinite(value) ? json_real(value) : json_null();
}

void cli_json_set(json_t *object, const char *key, json_t *value)
{
    if (!object || !value) {
        json_decref(value);
        json_failed = 1;
    } else if (json_object_set_new(object, key, value) != 0) { /* it released value */
        json_failed = 1;
    }
}

void cli_json_append(json_t *array, json_t *value)
{
    if (!array || !value) {
        json_decref(value);
        json_failed = 1;
    } else if (json_array_append_new(array, value) != 0) {
        json_failed = 1;
    }
}

int cli_json_failed(void)
{
    return json_failed;
}

int cli_json_print(json_t *root)
{
    int rc = 0;
    if (!root || json_failed) {
        fprintf(stderr, "charrnn: error: out of memory writing the JSON output\n");
        rc = 1;
    } else if (json_dumpf(root, stdout, JSON_INDENT(2)) != 0 || fputc('\n', stdout) == EOF ||
               fflush(stdout) != 0) {
        fprintf(stderr, "charrnn: error: cannot write the JSON output: %s\n", strerror(errno));
        rc = 1;
    }
    json_decref(root);
    return rc;
}
#endif
