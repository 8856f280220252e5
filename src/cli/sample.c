/*
 * sample.c: `charrnn sample`: prints generated text as it is produced.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char SAMPLE_HELP[] =
    "usage: charrnn sample SNAP [options]\n"
    "\n"
    "Generates text from a snapshot (or an exported model), printing it as it is made.\n"
    "\n"
    "  -n, --length N        characters to generate (default 1000)\n"
    "  -t, --temperature T   0 = always the most likely character; higher is wilder (default 1)\n"
    "  --top-k K             draw only among the K most likely characters (default: all)\n"
    "  --top-p P             draw only among the most likely characters whose probabilities\n"
    "                        add up to P (default 1: all)\n"
    "  --prime TEXT          text to start from (printed first); without it the model\n"
    "                        starts as after a line break\n"
    "  --seed S              random seed: the same seed gives the same text (default: clock)\n"
    "  --threads N           compute threads (default 1)\n";

int cmd_sample(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, "sample", NULL};
    const char *path = NULL, *prime = NULL, *arg;
    long long length = 1000;
    crnn_sample_options opt;
    crnn_sample_options_default(&opt);
    uint64_t seed = 0;
    int have_seed = 0, threads = 1;
    while (cli_next(&a, &arg)) {
        if (cli_is(&a, arg, "--help") || cli_is(&a, arg, "-h")) {
            fputs(SAMPLE_HELP, stdout);
            return 0;
        } else if (cli_is(&a, arg, "-n") || cli_is(&a, arg, "--length")) {
            length = cli_int(cli_value(&a, arg), "--length", 0, 1000000000000LL);
        } else if (cli_is(&a, arg, "-t") || cli_is(&a, arg, "--temperature")) {
            opt.temperature = (float)cli_double(cli_value(&a, arg), "--temperature", 0, 100);
        } else if (cli_is(&a, arg, "--top-k")) {
            opt.top_k = (int)cli_int(cli_value(&a, arg), "--top-k", 0, 0x110000);
        } else if (cli_is(&a, arg, "--top-p")) {
            opt.top_p = (float)cli_double(cli_value(&a, arg), "--top-p", 1e-6, 1);
        } else if (cli_is(&a, arg, "--prime")) {
            prime = cli_value(&a, arg);
        } else if (cli_is(&a, arg, "--seed")) {
            seed = cli_u64(cli_value(&a, arg), "--seed");
            have_seed = 1;
        } else if (cli_is(&a, arg, "--threads")) {
            threads = (int)cli_int(cli_value(&a, arg), "--threads", 0, 1024);
        } else if (arg[0] == '-' && arg[1]) {
            cli_usage_error(NULL, "unknown option '%s'", arg);
        } else if (!path) {
            path = arg;
        } else {
            cli_usage_error(NULL, "unexpected argument '%s'", arg);
        }
    }
    if (!path)
        cli_usage_error(NULL, "no snapshot given: charrnn sample SNAP");
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
    if (prime && *prime) {
        if (crnn_sampler_prime(sm, prime, strlen(prime), &err) != CRNN_OK) {
            crnn_sampler_free(sm);
            cli_fail(&err);
        }
        fputs(prime, stdout);
    }
    for (long long i = 0; i < length; i++) {
        uint32_t cp;
        if (crnn_sampler_next(sm, &opt, &cp, &err) != CRNN_OK) {
            crnn_sampler_free(sm);
            cli_fail(&err);
        }
        char utf8[4];
        fwrite(utf8, 1, (size_t)crnn_utf8_encode(cp, utf8), stdout);
        if (cp == '\n' || i % 16 == 15)
            fflush(stdout); /* stream the text as it is made */
    }
    fputc('\n', stdout);
    crnn_sampler_free(sm);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "charrnn: error: could not write the sample to standard output\n");
        return 1;
    }
    return 0;
}
