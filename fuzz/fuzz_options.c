/*
 * fuzz_options.c: libFuzzer target for the command line option parsers. The
 * first byte picks the subcommand; the rest is split at NUL bytes into argv.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    char *argv[130];
    int argc = 0;
    argv[argc++] = "cmd";
    for (char *p = text; p < text + size && argc < 129;) {
        argv[argc++] = p;
        p += strlen(p) + 1;
    }
    argv[argc] = NULL;
    cli_args a;
    switch (data[0] % 4) {
    case 0: {
        train_options o;
        cli_args_init(&a, argc, argv, "train");
        train_parse(&a, &o);
        break;
    }
    case 1: {
        sample_options o;
        cli_args_init(&a, argc, argv, "sample");
        sample_parse(&a, &o);
        break;
    }
    case 2: {
        file_options o;
        cli_args_init(&a, argc, argv, "info");
        info_parse(&a, &o);
        break;
    }
    default: {
        file_options o;
        cli_args_init(&a, argc, argv, "export");
        export_parse(&a, &o);
        break;
    }
    }
    if (a.failed && !a.message[0])
        abort(); /* every usage error must say what is wrong */
    free(text);
    return 0;
}
