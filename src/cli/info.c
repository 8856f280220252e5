/*
 * info.c: `charrnn info`: describes a snapshot after validating all of it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char INFO_HELP[] =
    "usage: charrnn info SNAP [--json]\n"
    "\n"
    "Checks a snapshot completely (checksums, sections) and prints its format version,\n"
    "configuration, vocabulary size, step, losses and sizes.\n"
    "\n"
    "  --json   print the same as one JSON object, for scripts (numbers as numbers,\n"
    "           losses null before the first evaluation)\n";

void info_parse(cli_args *a, file_options *o)
{
    memset(o, 0, sizeof *o);
    const char *arg;
    while (cli_next(a, &arg)) {
        if (cli_is(a, arg, "--help") || cli_is(a, arg, "-h")) {
            o->help = 1;
            return;
        } else if (cli_is(a, arg, "--json")) {
            o->json = 1;
            cli_json_check(a, "--json");
        } else if (arg[0] != '-' && !o->path) {
            o->path = arg;
        } else {
            cli_unexpected(a, arg);
        }
    }
    if (!a->failed && !o->path)
        cli_error(a, "no snapshot given: charrnn info SNAP");
}

static const char *dtype_name(crnn_weights_dtype dtype)
{
    return dtype == CRNN_WEIGHTS_F32 ? "fp32" : dtype == CRNN_WEIGHTS_F16 ? "fp16" : "bf16";
}

/* 1.0 format files did not record the forget-gate bias: info shows the default. */
static int forget_bias_assumed(const crnn_snapshot_info *in)
{
    return in->version_major == 1 && in->version_minor == 0;
}

#ifdef CRNN_HAVE_JANSSON
/* A float setting as the shortest decimal that reads back as it (0.002, not
 * 0.0020000000949949026): the way it was most likely given. */
static json_t *json_float(float value)
{
    char text[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)value);
        if ((float)strtod(text, NULL) == value)
            break;
    }
    return cli_json_number(strtod(text, NULL));
}

/* Everything the text form says, as one object. */
static int print_json(const char *path, const crnn_snapshot_info *in)
{
    const crnn_train_config *c = &in->config;
    char format[32];
    snprintf(format, sizeof format, "%u.%u", in->version_major, in->version_minor);
    json_t *o = json_object();
    cli_json_set(o, "file", cli_json_text(path));
    cli_json_set(o, "format", json_string(format));
    cli_json_set(o, "file_bytes", json_integer((json_int_t)in->file_bytes));
    cli_json_set(o, "payload_bytes", json_integer((json_int_t)in->payload_bytes));
    cli_json_set(o, "resumable", json_boolean(in->resumable));
    cli_json_set(o, "weights", json_string(dtype_name(in->weights_dtype)));
    cli_json_set(o, "cell", json_string(crnn_cell_name(c->cell) ? crnn_cell_name(c->cell) : "?"));
    cli_json_set(o, "layers", json_integer(c->layers));
    cli_json_set(o, "hidden", json_integer(c->hidden));
    cli_json_set(o, "embed", json_integer(c->embed));
    cli_json_set(o, "vocabulary", json_integer(in->vocab_size));
    cli_json_set(o, "parameters", json_integer((json_int_t)in->parameters));
    cli_json_set(o, "batch", json_integer(c->batch));
    cli_json_set(o, "seq", json_integer(c->seq));
    cli_json_set(o, "learning_rate", json_float(c->learning_rate));
    cli_json_set(o, "clip", json_float(c->clip));
    cli_json_set(o, "seed", json_integer((json_int_t)c->seed));
    /* the other cells have no forget gate */
    cli_json_set(o, "forget_bias",
                 c->cell == CRNN_CELL_LSTM ? json_float(c->forget_bias) : json_null());
    cli_json_set(o, "forget_bias_assumed",
                 json_boolean(c->cell == CRNN_CELL_LSTM && forget_bias_assumed(in)));
    cli_json_set(o, "step", json_integer((json_int_t)in->step));
    cli_json_set(o, "validation_loss", cli_json_number(in->last_val_loss));
    cli_json_set(o, "validation_bits", cli_json_number(in->last_val_loss / log(2.0)));
    cli_json_set(o, "best_validation_loss", cli_json_number(in->best_val_loss));
    cli_json_set(o, "corpus", cli_json_text(in->corpus_path));
    cli_json_set(o, "corpus_bytes", json_integer((json_int_t)in->corpus_bytes));
    cli_json_set(o, "corpus_files", json_integer((json_int_t)in->corpus_files));
    cli_json_set(o, "corpus_crc", json_integer((json_int_t)in->corpus_crc));
    if (in->origin_path[0]) { /* fine-tuned */
        json_t *from = json_object();
        cli_json_set(from, "path", cli_json_text(in->origin_path));
        cli_json_set(from, "step", json_integer((json_int_t)in->origin_step));
        cli_json_set(from, "vocab_size", json_integer(in->origin_vocab_size));
        cli_json_set(o, "fine_tuned_from", from);
    } else {
        cli_json_set(o, "fine_tuned_from", json_null());
    }
    return cli_json_print(o);
}
#endif

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
#ifdef CRNN_HAVE_JANSSON
    if (o.json)
        return print_json(path, &in);
#endif
    const crnn_train_config *c = &in.config;
    printf("file:        %s\n", path);
    printf("format:      %u.%u\n", in.version_major, in.version_minor);
    printf("size:        %llu bytes (%llu uncompressed)\n", (unsigned long long)in.file_bytes,
           (unsigned long long)in.payload_bytes);
    if (in.resumable)
        printf("contents:    full snapshot (training can resume from it)\n");
    else
        printf("contents:    weights only, %s (for sampling)\n", dtype_name(in.weights_dtype));
    printf("model:       %d x %d %s, embedding %d, vocabulary %d, %zu weights\n", c->layers,
           c->hidden, crnn_cell_title(c->cell), c->embed, in.vocab_size, in.parameters);
    printf("training:    batch %d x seq %d, lr %g, clip %g, seed %llu", c->batch, c->seq,
           (double)c->learning_rate, (double)c->clip, (unsigned long long)c->seed);
    if (c->cell == CRNN_CELL_LSTM) /* the other cells have no forget gate */
        printf(", forget-gate bias %g%s", (double)c->forget_bias,
               forget_bias_assumed(&in) ? " (assumed: format 1.0 did not record it)" : "");
    printf("\n");
    printf("step:        %llu\n", (unsigned long long)in.step);
    if (!isnan(in.last_val_loss))
        printf("validation:  %.4f nats/char (%.4f bits); best %.4f\n", in.last_val_loss,
               in.last_val_loss / log(2.0), in.best_val_loss);
    char files[40] = "";
    if (in.corpus_files > 1)
        snprintf(files, sizeof files, "%llu files, ", (unsigned long long)in.corpus_files);
    printf("corpus:      %s (%s%llu bytes, CRC %08x)\n", in.corpus_path, files,
           (unsigned long long)in.corpus_bytes, in.corpus_crc);
    if (in.origin_path[0])
        printf("fine-tuned:  from %s at step %llu; its vocabulary of %d, %d characters added\n",
               in.origin_path, (unsigned long long)in.origin_step, in.origin_vocab_size,
               in.vocab_size - in.origin_vocab_size);
    return 0;
}
