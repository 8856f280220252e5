/*
 * eval.c: `charrnn eval`: a model's loss on any text file.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char EVAL_HELP[] =
    "usage: charrnn eval SNAP FILE\n"
    "\n"
    "Prints the model's cross-entropy on FILE in nats and bits per character (lower\n"
    "is better), reading it the way training reads text.\n";

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, "eval");
    const char *snap = NULL, *file = NULL, *arg;
    while (cli_next(&a, &arg)) {
        if (cli_is(&a, arg, "--help") || cli_is(&a, arg, "-h")) {
            fputs(EVAL_HELP, stdout);
            return 0;
        } else if (arg[0] != '-' && !snap) {
            snap = arg;
        } else if (arg[0] != '-' && !file) {
            file = arg;
        } else {
            cli_unexpected(&a, arg);
        }
    }
    if (!a.failed && (!snap || !file))
        cli_error(&a, "usage: charrnn eval SNAP FILE");
    if (a.failed)
        return cli_usage_exit(&a);
    crnn_set_threads(0);
    double nats;
    uint64_t chars;
    crnn_error err = {0};
    if (crnn_evaluate_file(snap, file, &nats, &chars, &err) != CRNN_OK)
        cli_fail(&err);
    printf("%s: %.4f nats/char, %.4f bits/char over %llu characters\n", file, nats,
           nats / log(2.0), (unsigned long long)chars);
    return 0;
}
