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
    "  --count N             N independent samples, made side by side and printed in order,\n"
    "                        separated by a blank line; sample i uses seed S+i (default 1)\n"
    "  --threads N           compute threads (default: all cores)\n"
    "  --device D            where the model runs: auto (a GPU for --count above 1 when\n"
    "                        one is present and built in; one sample stays on the CPU,\n"
    "                        which answers each character sooner), cpu, cuda or cuda:N\n";

void sample_parse(cli_args *a, sample_options *o)
{
    memset(o, 0, sizeof *o);
    o->length = 1000;
    o->count = 1;
    o->threads = 0;
    o->device = CRNN_DEVICE_AUTO;
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
        } else if (cli_is(a, arg, "--device")) {
            const char *name = cli_value(a, arg);
            crnn_error err = {0};
            if (a->failed)
                ; /* the value is missing: said already */
            else if (crnn_device_parse(name, &o->device) != CRNN_OK)
                cli_error(a, "--device must be auto, cpu, cuda or cuda:N (got '%s')", name);
            else if (crnn_device_check(o->device, &err) != CRNN_OK)
                cli_error(a, "%s", err.message);
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

/* Streams of `charrnn sample --count N`: the first not yet printed is
 * written as it is made; the texts of the ones after it wait in memory until
 * their turn. */
typedef struct pending_text {
    char *text;
    size_t len, cap;
    int ended;
} pending_text;

static int append(pending_text *p, const char *text, size_t len)
{
    if (p->len + len + 1 > p->cap) {
        size_t cap = (p->len + len + 1) * 2;
        char *t = realloc(p->text, cap);
        if (!t)
            return -1;
        p->text = t;
        p->cap = cap;
    }
    memcpy(p->text + p->len, text, len);
    p->len += len;
    return 0;
}

/* Streams each sample's start in one batch at most this wide. */
#define SAMPLE_BATCH 64

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
    crnn_set_threads(so.threads);
    uint64_t seed = so.seed;
    if (!so.have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec;
    }
    long long count = so.count;
    int width = count < SAMPLE_BATCH ? (int)count : SAMPLE_BATCH;
    crnn_error err = {0};
    crnn_generator *g = crnn_generator_open(path, width, &err);
    if (!g)
        cli_fail(&err);
    if (crnn_generator_set_device(g, so.device, &err) != CRNN_OK) {
        crnn_generator_free(g);
        cli_fail(&err);
    }
    crnn_stream_request q;
    crnn_stream_request_default(&q);
    q.prime = so.prime;
    q.prime_len = so.prime ? strlen(so.prime) : 0;
    q.options = so.sampling;
    q.max_chars = (uint64_t)so.length;
    const char *stops[1] = {so.stop};
    q.stop = stops;
    q.n_stop = so.stop ? 1 : 0;
    pending_text *texts = calloc((size_t)count, sizeof *texts);
    crnn_stream_update *updates = calloc((size_t)width, sizeof *updates);
    int rc = 0;
    if (!texts || !updates) {
        fprintf(stderr, "charrnn: error: out of memory\n");
        rc = 1;
        goto out;
    }
    long long added = 0, printing = 0; /* stream i is sample i, seed + i */
    while (printing < count) {
        while (added < count && crnn_generator_running(g) < width) {
            q.seed = seed + (uint64_t)added;
            q.user = &texts[added];
            if (q.prime_len && append(&texts[added], q.prime, q.prime_len) < 0) {
                fprintf(stderr, "charrnn: error: out of memory\n");
                rc = 1;
                goto out;
            }
            if (crnn_generator_add(g, &q, &err) < 0) {
                for (long long i = 0; i <= added; i++)
                    free(texts[i].text);
                free(texts);
                free(updates);
                crnn_generator_free(g);
                cli_fail(&err);
            }
            added++;
        }
        int n;
        if (crnn_generator_step(g, updates, &n, &err) != CRNN_OK) {
            fprintf(stderr, "charrnn: error: %s\n", err.message);
            rc = 1;
            goto out;
        }
        for (int i = 0; i < n; i++) {
            pending_text *p = updates[i].user;
            if (append(p, updates[i].text, updates[i].len) < 0) {
                fprintf(stderr, "charrnn: error: out of memory\n");
                rc = 1;
                goto out;
            }
            if (updates[i].end == CRNN_STREAM_STOP && /* the CLI writes the stop text too */
                append(p, so.stop, strlen(so.stop)) < 0) {
                fprintf(stderr, "charrnn: error: out of memory\n");
                rc = 1;
                goto out;
            }
            p->ended = updates[i].end != CRNN_STREAM_RUNNING;
        }
        /* Print what is ready, in order: the current sample as it grows, and
         * every sample after it whose turn has come. */
        while (printing < count) {
            pending_text *p = &texts[printing];
            if (p->len) {
                fwrite(p->text, 1, p->len, stdout);
                p->len = 0;
            }
            if (!p->ended)
                break;
            free(p->text);
            p->text = NULL;
            printing++;
            if (printing < count)
                fputs("\n\n", stdout); /* samples are separated by a blank line */
        }
        fflush(stdout);
    }
out:
    if (texts)
        for (long long i = 0; i < count; i++)
            free(texts[i].text);
    free(texts);
    free(updates);
    crnn_generator_free(g);
    if (rc)
        return rc;
    fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "charrnn: error: could not write the sample to standard output\n");
        return 1;
    }
    return 0;
}
