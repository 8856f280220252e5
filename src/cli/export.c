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

int cmd_export(int argc, char **argv)
{
    cli_args a = {argc, argv, 0, "export", NULL};
    const char *path = NULL, *out = NULL, *arg;
    crnn_weights_dtype dtype = CRNN_WEIGHTS_F32;
    while (cli_next(&a, &arg)) {
        if (cli_is(&a, arg, "--help") || cli_is(&a, arg, "-h")) {
            fputs(EXPORT_HELP, stdout);
            return 0;
        } else if (cli_is(&a, arg, "-o") || cli_is(&a, arg, "--output")) {
            out = cli_value(&a, "--output");
        } else if (cli_is(&a, arg, "--dtype")) {
            const char *v = cli_value(&a, arg);
            if (!strcmp(v, "fp32"))
                dtype = CRNN_WEIGHTS_F32;
            else if (!strcmp(v, "fp16"))
                dtype = CRNN_WEIGHTS_F16;
            else if (!strcmp(v, "bf16"))
                dtype = CRNN_WEIGHTS_BF16;
            else
                cli_usage_error(NULL, "--dtype takes fp32, fp16 or bf16, not '%s'", v);
        } else if (arg[0] == '-' && arg[1]) {
            cli_usage_error(NULL, "unknown option '%s'", arg);
        } else if (!path) {
            path = arg;
        } else {
            cli_usage_error(NULL, "unexpected argument '%s'", arg);
        }
    }
    if (!path || !out)
        cli_usage_error(NULL, "usage: charrnn export SNAP -o MODEL");
    crnn_error err = {0};
    if (crnn_export(path, out, dtype, &err) != CRNN_OK)
        cli_fail(&err);
    return 0;
}
