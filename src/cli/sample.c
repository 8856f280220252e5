/*
 * sample.c: `charrnn sample`: prints generated text as it is produced.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Where the shipped model is looked for (meson.build defines both). */
#ifndef CRNN_DATADIR
#define CRNN_DATADIR "/usr/local/share/charrnn"
#endif
#ifndef CRNN_SOURCE_MODELS
#define CRNN_SOURCE_MODELS "models"
#endif

static const char SAMPLE_HELP[] =
    "usage: charrnn sample [SNAP] [options]\n"
    "\n"
    "Generates text from a snapshot (or an exported model), printing it as it is made.\n"
    "Without SNAP it uses the model shipped with charrnn (models/fortunes.crnn, trained\n"
    "on the default corpus), or $CHARRNN_MODEL if set.\n"
    "\n"
    "  -n, --length N        characters to generate (default 1000)\n"
    "  -t, --temperature T   0 = always the most likely character; higher is wilder (default 1)\n"
    "  --top-k K             draw only among the K most likely characters (default: all)\n"
    "  --top-p P             draw only among the most likely characters whose probabilities\n"
    "                        add up to P (default 1: all)\n"
    "  --prime TEXT          text to start from (printed first); without it the model\n"
    "                        starts as after a line break\n"
    "  --seed S              random seed: the same seed gives the same text (default: clock)\n"
    "  --stop TEXT           end a sample as soon as it has written TEXT\n"
    "  --count N             N independent samples, separated by a blank line (default 1)\n"
    "  --threads N           compute threads (default: all cores)\n";

void sample_parse(cli_args *a, sample_options *o)
{
    memset(o, 0, sizeof *o);
    o->length = 1000;
    o->count = 1;
    o->threads = 0;
    crnn_sample_options_default(&o->sampling);
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        } else if (cli_is(a, arg, "-n") || cli_is(a, arg, "--length")) {
            o->length = cli_int(a, cli_value(a, arg), "--length", 0, 1000000000000LL);
        } else if (cli_is(a, arg, "-t") || cli_is(a, arg, "--temperature")) {
            o->sampling.temperature = (float)cli_double(a, cli_value(a, arg), "--temperature", 0, 100);
        } else if (cli_is(a, arg, "--top-k")) {
            o->sampling.top_k = (int)cli_int(a, cli_value(a, arg), "--top-k", 0, 0x110000);
        } else if (cli_is(a, arg, "--top-p")) {
            o->sampling.top_p = (float)cli_double(a, cli_value(a, arg), "--top-p", 1e-6, 1);
        } else if (cli_is(a, arg, "--prime")) {
            o->prime = cli_value(a, arg);
        } else if (cli_is(a, arg, "--seed")) {
            o->seed = cli_u64(a, cli_value(a, arg), "--seed");
            o->have_seed = 1;
        } else if (cli_is(a, arg, "--stop")) {
            o->stop = cli_value(a, arg);
            if (!*o->stop)
                cli_error(a, "--stop needs a non-empty text");
        } else if (cli_is(a, arg, "--count")) {
            o->count = cli_int(a, cli_value(a, arg), "--count", 1, 1000000);
        } else if (cli_is(a, arg, "--threads")) {
            o->threads = (int)cli_int(a, cli_value(a, arg), "--threads", 0, 1024);
        } else if (arg[0] != '-' && !o->path) {
            o->path = arg;
        } else {
            cli_unexpected(a, arg);
        }
    }
}

/* The shipped model: $CHARRNN_MODEL, then models/ beside the build directory
 * of this executable, then the installed data directory, then models/ in the
 * source tree this charrnn was built from (a build directory anywhere else).
 * If none is readable, the installed path, for the message. */
static const char *default_model(char *buf, size_t len)
{
    const char *env = getenv("CHARRNN_MODEL");
    if (env && *env)
        return env;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            snprintf(buf, len, "%s/../models/fortunes.crnn", exe);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    const char *places[] = {CRNN_DATADIR, CRNN_SOURCE_MODELS};
    for (int i = 0; i < 2; i++) {
        snprintf(buf, len, "%s/fortunes.crnn", places[i]);
        if (access(buf, R_OK) == 0)
            return buf;
    }
    snprintf(buf, len, "%s/fortunes.crnn", CRNN_DATADIR);
    return buf;
}

int cmd_sample(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, "sample");
    sample_options so;
    sample_parse(&a, &so);
    int done = cli_parsed(&a, so.help, SAMPLE_HELP);
    if (done >= 0)
        return done;
    char model_buf[4200];
    const char *path = so.path ? so.path : default_model(model_buf, sizeof model_buf);
    const char *prime = so.prime;
    long long length = so.length;
    crnn_sample_options opt = so.sampling;
    uint64_t seed = so.seed;
    int have_seed = so.have_seed, threads = so.threads;
    crnn_set_threads(threads);
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
    }
    crnn_error err = {0};
    crnn_sampler *sm = crnn_sampler_open(path, &err);
    if (!sm)
        cli_fail(&err);
    crnn_sampler_seed(sm, seed);
    size_t stop_len = so.stop ? strlen(so.stop) : 0;
    char *tail = stop_len ? calloc(stop_len + 4, 1) : NULL; /* the last bytes written */
    if (stop_len && !tail) {
        crnn_sampler_free(sm);
        fprintf(stderr, "charrnn: error: out of memory\n");
        return 1;
    }
    for (long long k = 0; k < so.count; k++) {
        if (k > 0) {
            fputs("\n\n", stdout); /* samples are separated by a blank line */
            crnn_sampler_reset(sm);
        }
        if (prime && *prime) {
            if (crnn_sampler_prime(sm, prime, strlen(prime), &err) != CRNN_OK) {
                crnn_sampler_free(sm);
                cli_fail(&err);
            }
            fputs(prime, stdout);
        }
        size_t have = 0;
        for (long long i = 0; i < length; i++) {
            uint32_t cp;
            if (crnn_sampler_next(sm, &opt, &cp, &err) != CRNN_OK) {
                crnn_sampler_free(sm);
                cli_fail(&err);
            }
            char utf8[4];
            int n = crnn_utf8_encode(cp, utf8);
            fwrite(utf8, 1, (size_t)n, stdout);
            if (cp == '\n' || i % 16 == 15)
                fflush(stdout); /* stream the text as it is made */
            if (tail) { /* --stop: end this sample once its text ends with the stop text */
                for (int b = 0; b < n; b++) {
                    if (have == stop_len)
                        memmove(tail, tail + 1, --have);
                    tail[have++] = utf8[b];
                }
                if (have == stop_len && !memcmp(tail, so.stop, stop_len))
                    break;
            }
        }
    }
    free(tail);
    fputc('\n', stdout);
    crnn_sampler_free(sm);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "charrnn: error: could not write the sample to standard output\n");
        return 1;
    }
    return 0;
}
