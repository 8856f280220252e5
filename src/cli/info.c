/*
 * info.c: `charrnn info`: describes a snapshot after validating all of it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char INFO_HELP[] =
    "usage: charrnn info SNAP\n"
    "\n"
    "Checks a snapshot completely (checksums, sections) and prints its format version,\n"
    "configuration, vocabulary size, step, losses and sizes.\n";

void info_parse(cli_args *a, file_options *o)
{
    memset(o, 0, sizeof *o);
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        } else if (arg[0] != '-' && !o->path) {
            o->path = arg;
        } else {
            cli_unexpected(a, arg);
        }
    }
    if (!a->failed && !o->path)
        cli_error(a, "no snapshot given: charrnn info SNAP");
}

int cmd_info(int argc, char **argv)
{
    cli_args a;
    cli_args_init(&a, argc, argv, "info");
    file_options o;
    info_parse(&a, &o);
    int done = cli_parsed(&a, o.help, INFO_HELP);
    if (done >= 0)
        return done;
    const char *path = o.path;
    crnn_snapshot_info in;
    crnn_error err = {0};
    if (crnn_snapshot_read_info(path, &in, &err) != CRNN_OK)
        cli_fail(&err);
    const crnn_train_config *c = &in.config;
    printf("file:        %s\n", path);
    printf("format:      %u.%u\n", in.version_major, in.version_minor);
    printf("size:        %llu bytes (%llu uncompressed)\n", (unsigned long long)in.file_bytes,
           (unsigned long long)in.payload_bytes);
    printf("contents:    %s\n", in.resumable ? "full snapshot (training can resume from it)"
                                              : in.weights_dtype == CRNN_WEIGHTS_F32
                                                  ? "weights only, fp32 (for sampling)"
                                              : in.weights_dtype == CRNN_WEIGHTS_F16
                                                  ? "weights only, fp16 (for sampling)"
                                                  : "weights only, bf16 (for sampling)");
    printf("model:       %d x %d %s, embedding %d, vocabulary %d, %zu weights\n", c->layers,
           c->hidden, crnn_cell_title(c->cell), c->embed, in.vocab_size, in.parameters);
    printf("training:    batch %d x seq %d, lr %g, clip %g, seed %llu", c->batch, c->seq,
           (double)c->learning_rate, (double)c->clip, (unsigned long long)c->seed);
    if (c->cell == CRNN_CELL_LSTM) /* the other cells have no forget gate */
        printf(", forget-gate bias %g%s", (double)c->forget_bias,
               in.version_major == 1 && in.version_minor == 0
                   ? " (assumed: format 1.0 did not record it)" : "");
    printf("\n");
    printf("step:        %llu\n", (unsigned long long)in.step);
    if (!isnan(in.last_val_loss))
        printf("validation:  %.4f nats/char (%.4f bits); best %.4f\n", in.last_val_loss,
               in.last_val_loss / log(2.0), in.best_val_loss);
    printf("corpus:      %s (%llu bytes, CRC %08x)\n", in.corpus_path,
           (unsigned long long)in.corpus_bytes, in.corpus_crc);
    if (in.origin_path[0])
        printf("fine-tuned:  from %s at step %llu; its vocabulary of %d, %d characters added\n",
               in.origin_path, (unsigned long long)in.origin_step, in.origin_vocab_size,
               in.vocab_size - in.origin_vocab_size);
    return 0;
}
