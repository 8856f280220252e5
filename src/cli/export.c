/*
 * export.c: `charrnn export`: a sample-only model file from a snapshot.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char EXPORT_HELP[] =
    "usage: charrnn export SNAP -o MODEL [--dtype fp32|fp16|bf16]\n"
    "\n"
    "Writes the weights, configuration and vocabulary of a snapshot to MODEL, without\n"
    "the optimizer state, stream positions and hidden state that only training needs.\n"
    "charrnn sample reads MODEL like a snapshot; training cannot resume from it.\n"
    "\n"
    "  -o, --output MODEL   file to write\n"
    "  --dtype TYPE         fp32 (exact, default), fp16 or bf16 (half the size again)\n";

void export_parse(cli_args *a, file_options *o)
{
    memset(o, 0, sizeof *o);
    o->dtype = CRNN_WEIGHTS_F32;
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        } else if (cli_is(a, arg, "-o") || cli_is(a, arg, "--output")) {
            o->output = cli_value(a, "--output");
        } else if (cli_is(a, arg, "--dtype")) {
            static const cli_choice dtypes[] = {
                {"fp32", CRNN_WEIGHTS_F32}, {"fp16", CRNN_WEIGHTS_F16}, {"bf16", CRNN_WEIGHTS_BF16}, {NULL, 0}};
            o->dtype = cli_pick(a, "--dtype", cli_value(a, arg), dtypes, o->dtype);
        } else if (arg[0] != '-' && !o->path) {
            o->path = arg;
        } else {
            cli_unexpected(a, arg);
        }
    }
    if (!a->failed && (!o->path || !o->output))
        cli_error(a, "usage: charrnn export SNAP -o MODEL");
}

int cmd_export(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, "export");
    file_options o;
    export_parse(&a, &o);
    int done = cli_parsed(&a, o.help, EXPORT_HELP);
    if (done >= 0)
        return done;
    const char *path = o.path, *out = o.output;
    crnn_weights_dtype dtype = o.dtype;
    crnn_error err = {0};
    if (crnn_export(path, out, dtype, &err) != CRNN_OK)
        cli_fail(&err);
    return 0;
}
